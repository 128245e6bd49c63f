/*
 * admin: the /stats JSON document, the choice between it and the HTML page, and the /healthz
 * document. Reads the counters (relaxed atomics), the latency histograms (lock-free), a
 * snapshot of the local tier (taken under the tier's own lock by local_info), the memcached
 * tier's counters and server states (relaxed atomics), the origin's health (atomics) and the
 * config; holds no lock itself and keeps no state.
 */
#include "tcconfig.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin.h"
#include "bodyfile.h"
#include "histogram.h"
#include "stats.h"

/* The quantiles of each path in /stats. */
static const struct {
	double q;
	const char *name;
} admin_quantiles[] = {{0.5, "p50_ms"}, {0.9, "p90_ms"}, {0.99, "p99_ms"}};

/* The "latency" object: per path, the count and the estimated quantiles in milliseconds. */
static void
admin_latency_json(struct buf *out)
{
	buf_puts(out, " \"latency\": {");
	for (unsigned p = 0; p < HISTOGRAM_NPATHS; p++) {
		struct histogram_snapshot s;

		histogram_read((enum histogram_path)p, &s);
		buf_printf(out, "%s\"%s\": {\"count\": %" PRIu64, p ? ", " : "",
		           histogram_path_name((enum histogram_path)p), s.count);
		for (size_t i = 0; i < TC_ARRAY_LEN(admin_quantiles); i++) {
			double sec;
			if (histogram_quantile(&s, admin_quantiles[i].q, &sec))
				buf_printf(out, ", \"%s\": %.3f", admin_quantiles[i].name,
				           sec * 1e3);
			else
				buf_printf(out, ", \"%s\": null", admin_quantiles[i].name);
		}
		buf_puts(out, "}");
	}
	buf_puts(out, "},\n");
}

/* The regions and admissions of the tinylfu policy, inside the "local" object. */
static void
admin_tinylfu_json(struct buf *out, const struct local_policy_info *r)
{
	buf_printf(out,
	           ",\n           \"tinylfu\": {\"window_entries\": %" PRIu64
	           ", \"window_bytes\": %" PRIu64 ", \"probation_entries\": %" PRIu64
	           ", \"probation_bytes\": %" PRIu64 ", \"protected_entries\": %" PRIu64
	           ", \"protected_bytes\": %" PRIu64 ", \"window_target\": %.4f"
	           ", \"admissions_accepted\": %" PRIu64 ", \"admissions_rejected\": %" PRIu64
	           ", \"adaptations\": %" PRIu64 "}",
	           r->window_entries, r->window_bytes, r->probation_entries, r->probation_bytes,
	           r->protected_entries, r->protected_bytes, r->window_target, r->admitted,
	           r->rejected, r->adaptations);
}

/* Appends the /stats JSON document to out (shared is the memcached tier, NULL when off). */
void
admin_stats_json(struct buf *out, const struct config *cfg, struct local *local,
                 struct shared *shared)
{
	struct local_info li;
	uint64_t hits = stats_get(STAT_local_hits);
	uint64_t misses = stats_get(STAT_local_misses);

	(void)cfg;
	local_info(local, &li);
	buf_puts(out, "{\"version\": ");
	buf_json_string(out, PACKAGE_VERSION);
	buf_printf(out, ", \"uptime_s\": %" PRId64 ",\n", stats_uptime());
	buf_printf(out,
	           " \"requests\": {\"total\": %" PRIu64 ", \"get\": %" PRIu64
	           ", \"head\": %" PRIu64 ", \"other\": %" PRIu64 "},\n",
	           stats_get(STAT_requests_total), stats_get(STAT_requests_get),
	           stats_get(STAT_requests_head), stats_get(STAT_requests_other));
	buf_puts(out, " \"local\": {\"policy\": ");
	buf_json_string(out, li.policy);
	buf_printf(out,
	           ", \"entries\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"max_entries\": %" PRIu64
	           ", \"max_bytes\": %" PRIu64 ",\n           \"hits\": %" PRIu64
	           ", \"misses\": %" PRIu64 ", \"hit_ratio\": %.4f, \"evictions\": %" PRIu64
	           ", \"expirations\": %" PRIu64 ", \"client_not_modified\": %" PRIu64
	           ", \"invalidations\": %" PRIu64 ", \"responses_reused\": %" PRIu64
	           ", \"responses_kept\": %" PRIu64,
	           li.entries, li.bytes, li.max_entries, li.max_bytes, hits, misses,
	           hits + misses ? (double)hits / (double)(hits + misses) : 0.0, li.evictions,
	           li.expirations, stats_get(STAT_client_not_modified),
	           stats_get(STAT_invalidations), stats_get(STAT_hit_responses_reused),
	           stats_get(STAT_hit_responses_kept));
	buf_printf(out,
	           ",\n           \"body_files\": %" PRIu64 ", \"body_files_refused\": %" PRIu64
	           ", \"responses_from_files\": %" PRIu64,
	           bodyfile_open_count(), bodyfile_refused(), stats_get(STAT_responses_from_files));
	if (li.has_regions)
		admin_tinylfu_json(out, &li.regions);
	buf_puts(out, "},\n");
	buf_printf(out,
	           " \"origin\": {\"requests\": %" PRIu64 ", \"errors\": %" PRIu64
	           ", \"timeouts\": %" PRIu64 ", \"revalidations\": %" PRIu64
	           ", \"not_modified\": %" PRIu64 ", \"bytes_in\": %" PRIu64
	           ",\n            \"streams\": %" PRIu64 ", \"streams_cut\": %" PRIu64
	           ", \"streams_abandoned\": %" PRIu64 "},\n",
	           stats_get(STAT_origin_requests), stats_get(STAT_origin_errors),
	           stats_get(STAT_origin_timeouts), stats_get(STAT_origin_revalidations),
	           stats_get(STAT_origin_not_modified), stats_get(STAT_origin_bytes_in),
	           stats_get(STAT_origin_streams), stats_get(STAT_origin_streams_cut),
	           stats_get(STAT_origin_streams_abandoned));
	buf_printf(out,
	           " \"collapse\": {\"waiters\": %" PRIu64 ", \"hit_for_pass\": %" PRIu64 "},\n",
	           stats_get(STAT_collapsed_waiters), stats_get(STAT_hit_for_pass));
	buf_printf(out,
	           " \"stale\": {\"served\": %" PRIu64 ", \"if_error\": %" PRIu64
	           ", \"background_revalidations\": %" PRIu64
	           ", \"only_if_cached_misses\": %" PRIu64 "},\n",
	           stats_get(STAT_stale_served), stats_get(STAT_stale_if_error),
	           stats_get(STAT_background_revalidations), stats_get(STAT_only_if_cached_misses));
	admin_latency_json(out);
	buf_printf(out,
	           " \"access_log\": {\"lines\": %" PRIu64 ", \"dropped\": %" PRIu64
	           "}, \"config\": {\"reloads\": %" PRIu64 ", \"reload_errors\": %" PRIu64 "},\n",
	           stats_get(STAT_access_log_lines), stats_get(STAT_access_log_dropped),
	           stats_get(STAT_config_reloads), stats_get(STAT_config_reload_errors));
	buf_puts(out, " \"memcached\": ");
	shared_stats_json(shared, out);
	buf_puts(out, "}\n");
}

/* Skips blanks (SP, HTAB). */
static const char *
admin_skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * The q that Accept gives type ("text/html"): that of the most specific media range that
 * matches it (type/subtype, then type/any, then any/any), 0 when none does. Parameters other
 * than q are ignored; a malformed q counts as 0.
 */
static double
admin_accept_q(const char *accept, const char *type)
{
	const char *slash = strchr(type, '/');
	size_t major = (size_t)(slash - type);
	int best = 0;
	double q_best = 0.0;
	const char *p = accept;

	while (*p != '\0') {
		p = admin_skip_ows(p);
		size_t n = strcspn(p, ",;");
		size_t len = n;
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		int spec = 0;
		if (len == 3 && memcmp(p, "*/*", 3) == 0)
			spec = 1;
		else if (len == major + 2 && strncasecmp(p, type, major + 1) == 0 &&
		         p[major + 1] == '*')
			spec = 2;
		else if (len == strlen(type) && strncasecmp(p, type, len) == 0)
			spec = 3;
		p += n;
		double q = 1.0;
		while (*p == ';') {
			p = admin_skip_ows(p + 1);
			size_t plen = strcspn(p, ",;");
			if (plen >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
				char *end;
				q = strtod(p + 2, &end);
				if (admin_skip_ows(end) != p + plen || q < 0.0 || q > 1.0)
					q = 0.0;
			}
			p += plen;
		}
		if (spec > best) {
			best = spec;
			q_best = q;
		}
		if (*p == ',')
			p++;
	}
	return q_best;
}

/* True when /stats should answer with the HTML page (see admin.h). */
bool
admin_wants_html(const char *accept, const char *query)
{
	for (const char *p = query; p != NULL && *p != '\0';) {
		size_t n = strcspn(p, "&");
		if (n == 11 && memcmp(p, "format=html", 11) == 0)
			return true;
		if (n == 11 && memcmp(p, "format=json", 11) == 0)
			return false;
		p += n;
		if (*p == '&')
			p++;
	}
	if (accept == NULL)
		return false;
	return admin_accept_q(accept, "text/html") > admin_accept_q(accept, "application/json");
}

/* Wall-clock milliseconds. */
static int64_t
admin_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "name": ms, "name_age_s": seconds (both null for 0: never). */
static void
admin_when_json(struct buf *out, const char *name, int64_t ms, int64_t now_ms)
{
	if (ms == 0)
		buf_printf(out, ", \"%s_ms\": null, \"%s_age_s\": null", name, name);
	else
		buf_printf(out, ", \"%s_ms\": %" PRId64 ", \"%s_age_s\": %" PRId64, name, ms, name,
		           (now_ms - ms) / 1000);
}

/* Appends the /healthz JSON document and returns its status (see admin.h). */
int
admin_health_json(struct buf *out, struct local *local, struct shared *shared,
                  struct origin *origin, bool addresses)
{
	static const char *const states[] = {[ORIGIN_STATE_UNKNOWN] = "unknown",
	                                     [ORIGIN_STATE_UP] = "up",
	                                     [ORIGIN_STATE_DOWN] = "down"};
	struct origin_health h;
	struct local_info li;
	size_t n = shared_nservers(shared), up = 0;
	int64_t now_ms = admin_wall_ms();
	struct buf servers = {0};

	origin_health(origin, &h);
	local_info(local, &li);
	for (size_t i = 0; i < n; i++) {
		struct shared_server_info si;
		shared_server_info(shared, i, &si);
		up += !si.down;
		buf_puts(&servers, i ? ", {" : "{");
		if (addresses) {
			buf_puts(&servers, "\"address\": ");
			buf_json_string(&servers, si.address);
			buf_puts(&servers, ", ");
		}
		buf_printf(&servers,
		           "\"cluster\": \"%s\", \"state\": \"%s\", \"consecutive_failures\": %u}",
		           si.fallback ? "fallback" : "servers", si.down ? "down" : "up",
		           si.failures);
	}
	bool origin_down = h.state == ORIGIN_STATE_DOWN;
	bool can_serve = li.entries > 0 || up > 0;
	const char *status = origin_down && !can_serve ? "unavailable"
	                     : origin_down || up < n   ? "degraded"
	                                               : "ok";
	buf_printf(out, "{\"status\": \"%s\",\n \"origin\": {\"state\": \"%s\"", status,
	           states[h.state]);
	admin_when_json(out, "last_answer", h.last_ok_ms, now_ms);
	admin_when_json(out, "last_failure", h.last_failure_ms, now_ms);
	buf_puts(out, ", \"last_error\": ");
	if (h.last_failure_ms != 0)
		buf_json_string(out, origin_error_name(h.last_error));
	else
		buf_puts(out, "null");
	buf_printf(out, ", \"consecutive_failures\": %u},\n", h.failures);
	buf_printf(out, " \"local\": {\"entries\": %" PRIu64 "},\n", li.entries);
	buf_printf(out,
	           " \"memcached\": {\"enabled\": %s, \"servers_up\": %zu, \"servers_down\": %zu, "
	           "\"servers\": [%s]}}\n",
	           shared != NULL ? "true" : "false", up, n - up, servers.data ? servers.data : "");
	buf_free(&servers);
	return origin_down && !can_serve ? 503 : 200;
}
