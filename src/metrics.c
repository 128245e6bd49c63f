/*
 * metrics: the Prometheus text exposition (format 0.0.4) of every /stats counter and of the
 * latency histograms. Each family is written whole (HELP, TYPE, then its samples) so that the
 * samples of one family are contiguous, as the format requires. Counters end in _total, sizes
 * are in bytes and durations in seconds (Prometheus's base units). Reads the counters (relaxed
 * atomics), a snapshot of the local tier (taken under its own lock by local_info), the memcached
 * tier's counters and the origin's health; holds no lock and keeps no state.
 */
#include "tcconfig.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "bodyfile.h"
#include "histogram.h"
#include "metrics.h"
#include "stats.h"

/* Appends v as a Prometheus label value (backslash, double quote and newline escaped). */
void
metrics_label_value(struct buf *out, const char *v)
{
	buf_puts(out, "\"");
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '\\')
			buf_puts(out, "\\\\");
		else if (*p == '"')
			buf_puts(out, "\\\"");
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else
			buf_append(out, p, 1);
	}
	buf_puts(out, "\"");
}

/* Appends seconds as a Prometheus float ("0.00025", "10", "+Inf" for infinity). */
void
metrics_seconds(struct buf *out, double seconds)
{
	char tmp[64];
	size_t n;

	if (isinf(seconds)) {
		buf_puts(out, "+Inf");
		return;
	}
	snprintf(tmp, sizeof(tmp), "%.9f", seconds);
	n = strlen(tmp);
	while (n > 0 && tmp[n - 1] == '0')
		tmp[--n] = '\0';
	if (n > 0 && tmp[n - 1] == '.')
		tmp[--n] = '\0';
	buf_puts(out, tmp);
}

/* The HELP and TYPE lines of a family. */
static void
metrics_family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one sample without labels. */
static void
metrics_one(struct buf *out, const char *name, const char *type, const char *help, uint64_t v)
{
	metrics_family(out, name, type, help);
	buf_printf(out, "%s %" PRIu64 "\n", name, v);
}

/* A process-wide counter of stats.h, as a family of one sample. */
struct metrics_counter {
	const char *name;
	const char *help;
	enum stats_counter stat;
};

/* The counters the local tier's section adds beside the tier's own numbers. */
static const struct metrics_counter metrics_local_counters[] = {
        {"tiercache_client_not_modified_total",
         "304 answers sent to clients whose validators matched.", STAT_client_not_modified},
        {"tiercache_invalidations_total", "Stored responses removed by a successful unsafe method.",
         STAT_invalidations},
        {"tiercache_local_responses_reused_total",
         "Hits answered with the response already built for the same stored response "
         "within the same second.",
         STAT_hit_responses_reused},
        {"tiercache_local_responses_kept_total",
         "Hit responses kept for reuse (from an entry's second hit on).", STAT_hit_responses_kept},
        {"tiercache_local_responses_from_files_total",
         "Responses built to send a stored body from its memory file (sendfile).",
         STAT_responses_from_files},
};

/* The origin's counters. */
static const struct metrics_counter metrics_origin_counters[] = {
        {"tiercache_origin_requests_total",
         "Requests sent to the origin (fetches, revalidations, pass-through).",
         STAT_origin_requests},
        {"tiercache_origin_errors_total",
         "Origin requests that failed (refused, reset, invalid, truncated).", STAT_origin_errors},
        {"tiercache_origin_timeouts_total", "Origin requests that timed out.",
         STAT_origin_timeouts},
        {"tiercache_origin_revalidations_total",
         "Conditional requests sent to revalidate a stored response.", STAT_origin_revalidations},
        {"tiercache_origin_not_modified_total", "Revalidations answered 304.",
         STAT_origin_not_modified},
        {"tiercache_origin_received_bytes_total",
         "Bytes received from the origin (headers and bodies).", STAT_origin_bytes_in},
        {"tiercache_origin_streams_total",
         "Answers too large to store, streamed to the client as they arrived.",
         STAT_origin_streams},
        {"tiercache_origin_streams_cut_total",
         "Streamed answers cut because the origin failed midway.", STAT_origin_streams_cut},
        {"tiercache_origin_streams_abandoned_total",
         "Streamed answers whose client left midway (the origin transfer stopped).",
         STAT_origin_streams_abandoned},
};

/* Everything else the proxy counts (collapsing, stale answers, access log, reloads). */
static const struct metrics_counter metrics_process_counters[] = {
        {"tiercache_collapse_waiters_total",
         "GET/HEAD misses that waited for the same key's request in flight.",
         STAT_collapsed_waiters},
        {"tiercache_collapse_hit_for_pass_total",
         "Misses that did not wait because their key is marked hit-for-pass.", STAT_hit_for_pass},
        {"tiercache_stale_served_total",
         "Stale responses served (max-stale, stale-while-revalidate, stale-if-error).",
         STAT_stale_served},
        {"tiercache_stale_if_error_total",
         "Stale responses served instead of an origin failure or 5xx.", STAT_stale_if_error},
        {"tiercache_stale_background_revalidations_total",
         "Background revalidations started by stale-while-revalidate.",
         STAT_background_revalidations},
        {"tiercache_only_if_cached_misses_total",
         "504 answers to only-if-cached requests that found nothing usable.",
         STAT_only_if_cached_misses},
        {"tiercache_access_log_lines_total", "Lines queued for the access log.",
         STAT_access_log_lines},
        {"tiercache_access_log_dropped_total",
         "Access log lines dropped because its ring was full.", STAT_access_log_dropped},
        {"tiercache_config_reloads_total", "Configuration reloads (SIGHUP) applied.",
         STAT_config_reloads},
        {"tiercache_config_reload_errors_total",
         "Configuration reloads (SIGHUP) rejected; the running configuration stayed.",
         STAT_config_reload_errors},
};

/* Writes each counter of table t (n of them) as a counter family of one sample. */
static void
metrics_counters(struct buf *out, const struct metrics_counter *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		metrics_one(out, t[i].name, "counter", t[i].help, stats_get(t[i].stat));
}

/* A sample with one label. */
static void
metrics_labelled(struct buf *out, const char *name, const char *label, const char *value,
                 uint64_t v)
{
	buf_printf(out, "%s{%s=", name, label);
	metrics_label_value(out, value);
	buf_printf(out, "} %" PRIu64 "\n", v);
}

/* The latency histograms: one family, labelled by path. */
static void
metrics_histograms(struct buf *out)
{
	static const char name[] = "tiercache_request_duration_seconds";

	metrics_family(out, name, "histogram",
	               "Time from a GET or HEAD's arrival to its answer being queued, by path "
	               "(hit: from the local tier or memcached; miss: from the origin; "
	               "revalidated: a stored response revalidated with the origin).");
	for (unsigned p = 0; p < HISTOGRAM_NPATHS; p++) {
		struct histogram_snapshot s;
		const char *path = histogram_path_name((enum histogram_path)p);
		uint64_t cum = 0;

		histogram_read((enum histogram_path)p, &s);
		for (unsigned b = 0; b < HISTOGRAM_NBOUNDS; b++) {
			cum += s.buckets[b];
			/* 1, 2.5 and 5 of each decade: enough for dashboards; /stats's quantiles
			 * use all the buckets */
			unsigned m = b % 10;
			if (m != 0 && m != 4 && m != 7)
				continue;
			buf_printf(out, "%s_bucket{path=\"%s\",le=\"", name, path);
			metrics_seconds(out, (double)histogram_bound_ns(b) / 1e9);
			buf_printf(out, "\"} %" PRIu64 "\n", cum);
		}
		buf_printf(out, "%s_bucket{path=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", name, path,
		           s.count);
		buf_printf(out, "%s_sum{path=\"%s\"} ", name, path);
		metrics_seconds(out, (double)s.sum_ns / 1e9);
		buf_printf(out, "\n%s_count{path=\"%s\"} %" PRIu64 "\n", name, path, s.count);
	}
}

/* The local tier's figures, and the tinylfu regions. */
static void
metrics_local(struct buf *out, const struct local_info *li, const struct shared_counts *mc,
              bool mc_on)
{
	metrics_family(out, "tiercache_cache_hits_total", "counter",
	               "GET/HEAD answered from a tier without asking the origin.");
	metrics_labelled(out, "tiercache_cache_hits_total", "tier", "local",
	                 stats_get(STAT_local_hits));
	if (mc_on)
		metrics_labelled(out, "tiercache_cache_hits_total", "tier", "memcached", mc->hits);
	metrics_family(out, "tiercache_cache_misses_total", "counter",
	               "GET/HEAD that a tier could not answer (local: went on to memcached or the "
	               "origin; memcached: found no usable record).");
	metrics_labelled(out, "tiercache_cache_misses_total", "tier", "local",
	                 stats_get(STAT_local_misses));
	if (mc_on)
		metrics_labelled(out, "tiercache_cache_misses_total", "tier", "memcached",
		                 mc->misses);
	metrics_family(out, "tiercache_cache_entries", "gauge", "Responses held now.");
	metrics_labelled(out, "tiercache_cache_entries", "tier", "local", li->entries);
	metrics_family(out, "tiercache_cache_size_bytes", "gauge",
	               "Bytes charged for the responses held now.");
	metrics_labelled(out, "tiercache_cache_size_bytes", "tier", "local", li->bytes);
	metrics_family(out, "tiercache_cache_max_entries", "gauge",
	               "Most responses the tier may hold ([local] max_entries).");
	metrics_labelled(out, "tiercache_cache_max_entries", "tier", "local", li->max_entries);
	metrics_family(out, "tiercache_cache_max_size_bytes", "gauge",
	               "Most bytes the tier may hold ([local] max_bytes).");
	metrics_labelled(out, "tiercache_cache_max_size_bytes", "tier", "local", li->max_bytes);
	metrics_family(out, "tiercache_local_policy_info", "gauge",
	               "The eviction policy of the local tier, in the policy label (always 1).");
	metrics_labelled(out, "tiercache_local_policy_info", "policy", li->policy, 1);
	metrics_one(out, "tiercache_local_evictions_total", "counter",
	            "Responses removed from the local tier to make room.", li->evictions);
	metrics_one(out, "tiercache_local_expirations_total", "counter",
	            "Stale responses without a validator removed from the local tier when found.",
	            li->expirations);
	metrics_counters(out, metrics_local_counters, TC_ARRAY_LEN(metrics_local_counters));
	metrics_one(out, "tiercache_local_body_files", "gauge",
	            "Stored bodies kept in memory files now (one open file each).",
	            bodyfile_open_count());
	metrics_one(out, "tiercache_local_body_files_refused_total", "counter",
	            "Bodies large enough for a memory file kept in ordinary memory instead "
	            "([local] max_body_files reached, or no file could be made).",
	            bodyfile_refused());
	if (!li->has_regions)
		return;
	const struct local_policy_info *r = &li->regions;
	metrics_family(out, "tiercache_tinylfu_region_entries", "gauge",
	               "Entries of each region of the tinylfu policy.");
	metrics_labelled(out, "tiercache_tinylfu_region_entries", "region", "window",
	                 r->window_entries);
	metrics_labelled(out, "tiercache_tinylfu_region_entries", "region", "probation",
	                 r->probation_entries);
	metrics_labelled(out, "tiercache_tinylfu_region_entries", "region", "protected",
	                 r->protected_entries);
	metrics_family(out, "tiercache_tinylfu_region_size_bytes", "gauge",
	               "Bytes of each region of the tinylfu policy.");
	metrics_labelled(out, "tiercache_tinylfu_region_size_bytes", "region", "window",
	                 r->window_bytes);
	metrics_labelled(out, "tiercache_tinylfu_region_size_bytes", "region", "probation",
	                 r->probation_bytes);
	metrics_labelled(out, "tiercache_tinylfu_region_size_bytes", "region", "protected",
	                 r->protected_bytes);
	metrics_family(out, "tiercache_tinylfu_window_target_ratio", "gauge",
	               "Share of the capacity the tinylfu window aims at (0 to 1).");
	buf_printf(out, "tiercache_tinylfu_window_target_ratio %.4f\n", r->window_target);
	metrics_family(out, "tiercache_tinylfu_admissions_total", "counter",
	               "Window victims admitted over (accepted) or refused for (rejected) the main "
	               "region's victim.");
	metrics_labelled(out, "tiercache_tinylfu_admissions_total", "result", "accepted",
	                 r->admitted);
	metrics_labelled(out, "tiercache_tinylfu_admissions_total", "result", "rejected",
	                 r->rejected);
	metrics_one(out, "tiercache_tinylfu_adaptations_total", "counter",
	            "Times the tinylfu window target moved.", r->adaptations);
}

/* The origin's counters and health. */
static void
metrics_origin(struct buf *out, struct origin *origin)
{
	metrics_counters(out, metrics_origin_counters, TC_ARRAY_LEN(metrics_origin_counters));
	if (origin == NULL)
		return;
	struct origin_health h;
	origin_health(origin, &h);
	metrics_one(out, "tiercache_origin_up", "gauge",
	            "1 when the latest exchange with the origin got an answer (or none was made "
	            "yet), 0 when it failed.",
	            h.state != ORIGIN_STATE_DOWN);
	metrics_one(out, "tiercache_origin_probes_total", "counter",
	            "Health probes sent to the origin by /healthz (not in requests).", h.probes);
}

/* The memcached tier: counters, then each server. */
static void
metrics_memcached(struct buf *out, struct shared *shared, const struct shared_counts *c)
{
	size_t n = shared_nservers(shared);

	metrics_one(out, "tiercache_memcached_enabled", "gauge",
	            "1 when [memcached] servers is set (the shared tier is on).", shared != NULL);
	metrics_one(out, "tiercache_memcached_stores_total", "counter",
	            "Responses written to memcached (added, or replaced through cas).", c->stores);
	metrics_one(out, "tiercache_memcached_store_skipped_too_large_total", "counter",
	            "Responses over max_item_bytes, not written.", c->store_skipped_too_large);
	metrics_one(out, "tiercache_memcached_cas_retries_total", "counter",
	            "Updates retried after losing a race with another writer.", c->cas_retries);
	metrics_one(out, "tiercache_memcached_cas_conflicts_total", "counter",
	            "Updates not applied (memcached held a response as new or newer, or the race "
	            "was lost too often).",
	            c->cas_conflicts);
	metrics_one(out, "tiercache_memcached_errors_total", "counter",
	            "Failed memcached operations, both clusters.", c->errors);
	metrics_one(out, "tiercache_memcached_timeouts_total", "counter",
	            "Memcached operations without an answer within timeout_ms, both clusters.",
	            c->timeouts);
	metrics_one(out, "tiercache_memcached_decode_rejected_total", "counter",
	            "Records rejected when read (another key, another version, truncated, "
	            "changed).",
	            c->decode_rejected);
	metrics_one(out, "tiercache_memcached_namespace_generation", "gauge",
	            "The current namespace generation of servers (moves on a purge of "
	            "everything).",
	            c->generation);
	metrics_one(out, "tiercache_memcached_fallback_hits_total", "counter",
	            "Lookups answered by fallback_servers after servers missed.", c->fallback_hits);
	metrics_one(out, "tiercache_memcached_fallback_misses_total", "counter",
	            "Lookups in fallback_servers that found nothing usable.", c->fallback_misses);
	metrics_one(out, "tiercache_memcached_fallback_errors_total", "counter",
	            "Failures of fallback_servers.", c->fallback_errors);
	metrics_one(out, "tiercache_memcached_fallback_warmed_total", "counter",
	            "Records copied from fallback_servers into servers.", c->fallback_warmed);
	if (n == 0)
		return;

	static const struct {
		const char *name, *type, *help;
	} fams[] = {
	        {"tiercache_memcached_server_up", "gauge",
	         "1 while the server is up, 0 while its circuit breaker has it down."},
	        {"tiercache_memcached_server_hits_total", "counter",
	         "Lookups the server answered with a usable record."},
	        {"tiercache_memcached_server_misses_total", "counter",
	         "Lookups of the server that found nothing usable (or it was down)."},
	        {"tiercache_memcached_server_errors_total", "counter",
	         "Failed operations of the server (errors and timeouts)."},
	};
	for (size_t f = 0; f < TC_ARRAY_LEN(fams); f++) {
		metrics_family(out, fams[f].name, fams[f].type, fams[f].help);
		for (size_t i = 0; i < n; i++) {
			struct shared_server_info si;
			uint64_t v;

			shared_server_info(shared, i, &si);
			v = f == 0 ? !si.down : f == 1 ? si.hits : f == 2 ? si.misses : si.errors;
			buf_printf(out, "%s{cluster=\"%s\",server=", fams[f].name,
			           si.fallback ? "fallback" : "servers");
			metrics_label_value(out, si.address);
			buf_printf(out, "} %" PRIu64 "\n", v);
		}
	}
}

/* Appends the exposition to out (shared: NULL without memcached; origin: NULL in tests). */
void
metrics_write(struct buf *out, struct local *local, struct shared *shared, struct origin *origin)
{
	struct local_info li;
	struct shared_counts mc;

	local_info(local, &li);
	shared_counts(shared, &mc);
	metrics_family(out, "tiercache_build_info", "gauge",
	               "The tiercache version, in the version label (always 1).");
	metrics_labelled(out, "tiercache_build_info", "version", PACKAGE_VERSION, 1);
	metrics_one(out, "tiercache_uptime_seconds", "gauge", "Seconds since tiercache started.",
	            (uint64_t)stats_uptime());
	metrics_family(out, "tiercache_requests_total", "counter",
	               "Client requests (besides the administrative paths), by method.");
	metrics_labelled(out, "tiercache_requests_total", "method", "GET",
	                 stats_get(STAT_requests_get));
	metrics_labelled(out, "tiercache_requests_total", "method", "HEAD",
	                 stats_get(STAT_requests_head));
	metrics_labelled(out, "tiercache_requests_total", "method", "other",
	                 stats_get(STAT_requests_other));
	metrics_local(out, &li, &mc, shared != NULL);
	metrics_origin(out, origin);
	metrics_counters(out, metrics_process_counters, TC_ARRAY_LEN(metrics_process_counters));
	metrics_memcached(out, shared, &mc);
	metrics_histograms(out);
}
