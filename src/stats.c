/*
 * stats: the process-wide counters of stats.h, one relaxed atomic each. Increments from any
 * thread are exact; there is no lock. The start time is set once by stats_init before any
 * thread starts.
 */
#include <stdatomic.h>

#include "histogram.h"
#include "stats.h"
#include "util.h"

static _Atomic uint64_t stats_counters[STAT_N];
static int64_t stats_started;

/* Records the start time (for uptime) and zeroes every counter and latency histogram. */
void
stats_init(void)
{
	for (int i = 0; i < STAT_N; i++)
		atomic_store(&stats_counters[i], 0);
	histogram_reset();
	stats_started = util_monotonic_ms();
}

/* Adds n to a counter. */
void
stats_add(enum stats_counter c, uint64_t n)
{
	TC_ASSERT(c < STAT_N);
	atomic_fetch_add_explicit(&stats_counters[c], n, memory_order_relaxed);
}

/* Adds 1 to a counter. */
void
stats_inc(enum stats_counter c)
{
	stats_add(c, 1);
}

/* Current value of a counter. */
uint64_t
stats_get(enum stats_counter c)
{
	TC_ASSERT(c < STAT_N);
	return atomic_load_explicit(&stats_counters[c], memory_order_relaxed);
}

/* Seconds since stats_init. */
int64_t
stats_uptime(void)
{
	return (util_monotonic_ms() - stats_started) / 1000;
}
