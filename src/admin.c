/*
 * admin: the /stats JSON document. Reads the counters (relaxed atomics), a snapshot of the
 * local tier (taken under the tier's own lock by local_info), the memcached tier's counters
 * (shared_stats_json, relaxed atomics) and the config; holds no lock itself and keeps no state.
 */
#include "tcconfig.h"

#include <inttypes.h>

#include "admin.h"
#include "stats.h"

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
	           ", \"invalidations\": %" PRIu64 ", \"responses_reused\": %" PRIu64,
	           li.entries, li.bytes, li.max_entries, li.max_bytes, hits, misses,
	           hits + misses ? (double)hits / (double)(hits + misses) : 0.0, li.evictions,
	           li.expirations, stats_get(STAT_client_not_modified),
	           stats_get(STAT_invalidations), stats_get(STAT_hit_responses_reused));
	if (li.has_regions)
		admin_tinylfu_json(out, &li.regions);
	buf_puts(out, "},\n");
	buf_printf(out,
	           " \"origin\": {\"requests\": %" PRIu64 ", \"errors\": %" PRIu64
	           ", \"timeouts\": %" PRIu64 ", \"revalidations\": %" PRIu64
	           ", \"not_modified\": %" PRIu64 ", \"bytes_in\": %" PRIu64 "},\n",
	           stats_get(STAT_origin_requests), stats_get(STAT_origin_errors),
	           stats_get(STAT_origin_timeouts), stats_get(STAT_origin_revalidations),
	           stats_get(STAT_origin_not_modified), stats_get(STAT_origin_bytes_in));
	buf_printf(out,
	           " \"collapse\": {\"waiters\": %" PRIu64 ", \"hit_for_pass\": %" PRIu64 "},\n",
	           stats_get(STAT_collapsed_waiters), stats_get(STAT_hit_for_pass));
	buf_puts(out, " \"memcached\": ");
	shared_stats_json(shared, out);
	buf_puts(out, "}\n");
}
