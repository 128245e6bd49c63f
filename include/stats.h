/*
 * stats: the process-wide counters, declared once in an X-macro. Each counter is a relaxed
 * atomic, so increments from any thread are exact and a read is a consistent value of that
 * one counter. Gauges (sizes of the tiers) live with their tiers, not here.
 */
#ifndef TIERCACHE_STATS_H
#define TIERCACHE_STATS_H

#include <stdint.h>

#define STATS_COUNTERS(X)                                                                          \
	X(requests_total)                                                                          \
	X(requests_get)                                                                            \
	X(requests_head)                                                                           \
	X(requests_other)                                                                          \
	X(local_hits)                                                                              \
	X(local_misses)                                                                            \
	X(client_not_modified)                                                                     \
	X(hit_responses_reused)                                                                    \
	X(hit_responses_kept)                                                                      \
	X(responses_from_files)                                                                    \
	X(invalidations)                                                                           \
	X(origin_requests)                                                                         \
	X(origin_errors)                                                                           \
	X(origin_timeouts)                                                                         \
	X(origin_revalidations)                                                                    \
	X(origin_not_modified)                                                                     \
	X(origin_bytes_in)                                                                         \
	X(origin_streams)                                                                          \
	X(origin_streams_cut)                                                                      \
	X(origin_streams_abandoned)                                                                \
	X(collapsed_waiters)                                                                       \
	X(hit_for_pass)                                                                            \
	X(stale_served)                                                                            \
	X(stale_if_error)                                                                          \
	X(background_revalidations)                                                                \
	X(only_if_cached_misses)                                                                   \
	X(access_log_lines)                                                                        \
	X(access_log_dropped)                                                                      \
	X(config_reloads)                                                                          \
	X(config_reload_errors)

enum stats_counter {
#define STATS_ENUM(name) STAT_##name,
	STATS_COUNTERS(STATS_ENUM)
#undef STATS_ENUM
	        STAT_N
};

/* Records the start time (for uptime) and zeroes every counter. */
void stats_init(void);

/* Adds n to a counter. */
void stats_add(enum stats_counter c, uint64_t n);

/* Adds 1 to a counter. */
void stats_inc(enum stats_counter c);

/* Current value of a counter. */
uint64_t stats_get(enum stats_counter c);

/* Seconds since stats_init. */
int64_t stats_uptime(void);

#endif
