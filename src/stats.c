/*
 * stats: the process-wide counters of stats.h. Each thread counts in a block of its own
 * (created on its first count, pushed on a lock-free list, kept until exit so that the
 * counts of a thread that ended still add up); a read sums the blocks. Only the owning thread
 * writes a block, so an increment is a plain load and store (relaxed atomics: a reader
 * never sees a torn value) with no cache line shared between serving threads: counting a hit
 * costs what a local add costs. Reads are exact up to the increments in flight. The start
 * time is set once by stats_init before any thread starts.
 */
#include <stdatomic.h>

#include "histogram.h"
#include "stats.h"
#include "util.h"

/* One thread's counters. */
struct stats_block {
	_Atomic uint64_t v[STAT_N];
	struct stats_block *next; /* set before the block is published, never changed */
};

static _Atomic(struct stats_block *) stats_blocks;
static _Thread_local struct stats_block *stats_mine;
static int64_t stats_started;

/* The calling thread's block (created and published on its first count). */
static struct stats_block *
stats_block_of_thread(void)
{
	struct stats_block *b = stats_mine;

	if (b != NULL)
		return b;
	b = xcalloc(1, sizeof(*b));
	b->next = atomic_load_explicit(&stats_blocks, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(&stats_blocks, &b->next, b,
	                                              memory_order_release, memory_order_relaxed))
		;
	stats_mine = b;
	return b;
}

/* Records the start time (for uptime) and zeroes every counter and latency histogram. */
void
stats_init(void)
{
	for (struct stats_block *b = atomic_load(&stats_blocks); b != NULL; b = b->next)
		for (int i = 0; i < STAT_N; i++)
			atomic_store(&b->v[i], 0);
	histogram_reset();
	stats_started = util_monotonic_ms();
}

/* Adds n to a counter. */
void
stats_add(enum stats_counter c, uint64_t n)
{
	struct stats_block *b = stats_block_of_thread();

	TC_ASSERT(c < STAT_N);
	atomic_store_explicit(&b->v[c], atomic_load_explicit(&b->v[c], memory_order_relaxed) + n,
	                      memory_order_relaxed);
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
	uint64_t sum = 0;

	TC_ASSERT(c < STAT_N);
	for (struct stats_block *b = atomic_load_explicit(&stats_blocks, memory_order_acquire);
	     b != NULL; b = b->next)
		sum += atomic_load_explicit(&b->v[c], memory_order_relaxed);
	return sum;
}

/* Seconds since stats_init. */
int64_t
stats_uptime(void)
{
	return (util_monotonic_ms() - stats_started) / 1000;
}
