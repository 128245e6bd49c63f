/*
 * histogram: lock-free latency histograms (see histogram.h). Each recording thread counts in a
 * block of its own (created on its first record, pushed on a lock-free list, kept until exit
 * so that a thread that ended still counts), as stats.c does: only the owning thread writes a
 * block, so a record is two plain loads and stores (relaxed atomics: a reader never sees a
 * torn value) and no cache line is shared between serving threads. A read sums the blocks.
 */
#include <stdatomic.h>
#include <time.h>

#include "histogram.h"
#include "util.h"

/* One thread's histograms. */
struct histogram_block {
	_Atomic uint64_t buckets[HISTOGRAM_NPATHS][HISTOGRAM_NBUCKETS];
	_Atomic uint64_t sum_ns[HISTOGRAM_NPATHS];
	struct histogram_block *next; /* set before the block is published, never changed */
};

static _Atomic(struct histogram_block *) histogram_blocks;
static _Thread_local struct histogram_block *histogram_mine;

/* One decade of the R10 series (1, 1.25, ... 8) times m/100 nanoseconds. */
#define HISTOGRAM_DECADE(m)                                                                        \
	100 * (m), 125 * (m), 160 * (m), 200 * (m), 250 * (m), 315 * (m), 400 * (m), 500 * (m),    \
	        630 * (m), 800 * (m)

/* The upper bounds in nanoseconds: 10 µs, 12.5 µs, ... 8 s, then 10 s. */
static const uint64_t histogram_bounds[HISTOGRAM_NBOUNDS] = {
        HISTOGRAM_DECADE(UINT64_C(100)),
        HISTOGRAM_DECADE(UINT64_C(1000)),
        HISTOGRAM_DECADE(UINT64_C(10000)),
        HISTOGRAM_DECADE(UINT64_C(100000)),
        HISTOGRAM_DECADE(UINT64_C(1000000)),
        HISTOGRAM_DECADE(UINT64_C(10000000)),
        UINT64_C(10000000000),
};

static const char *const histogram_path_names[HISTOGRAM_NPATHS] = {
        [HISTOGRAM_HIT] = "hit",
        [HISTOGRAM_MISS] = "miss",
        [HISTOGRAM_REVALIDATED] = "revalidated",
};

/* Upper bound of bucket i in nanoseconds (i < HISTOGRAM_NBOUNDS). */
uint64_t
histogram_bound_ns(unsigned i)
{
	TC_ASSERT(i < HISTOGRAM_NBOUNDS);
	return histogram_bounds[i];
}

/* The bucket a duration of ns nanoseconds falls in (bound >= ns; the last one past 10 s). */
unsigned
histogram_bucket(uint64_t ns)
{
	unsigned lo = 0, hi = HISTOGRAM_NBOUNDS; /* the answer is in [lo, hi] */

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (ns <= histogram_bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Name of a path ("hit", "miss", "revalidated"). */
const char *
histogram_path_name(enum histogram_path p)
{
	TC_ASSERT(p < HISTOGRAM_NPATHS);
	return histogram_path_names[p];
}

/* The calling thread's block (created and published on its first record). */
static struct histogram_block *
histogram_block_of_thread(void)
{
	struct histogram_block *b = histogram_mine;

	if (b != NULL)
		return b;
	b = xcalloc(1, sizeof(*b));
	b->next = atomic_load_explicit(&histogram_blocks, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(&histogram_blocks, &b->next, b,
	                                              memory_order_release, memory_order_relaxed))
		;
	histogram_mine = b;
	return b;
}

/* Adds n to a counter only this thread writes. */
static void
histogram_bump(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

/* Records one request of path p that took ns nanoseconds (any thread, lock-free). */
void
histogram_record(enum histogram_path p, uint64_t ns)
{
	struct histogram_block *b = histogram_block_of_thread();

	TC_ASSERT(p < HISTOGRAM_NPATHS);
	histogram_bump(&b->buckets[p][histogram_bucket(ns)], 1);
	histogram_bump(&b->sum_ns[p], ns);
}

/* Reads path p's histogram into *out. */
void
histogram_read(enum histogram_path p, struct histogram_snapshot *out)
{
	TC_ASSERT(p < HISTOGRAM_NPATHS);
	*out = (struct histogram_snapshot){0};
	for (struct histogram_block *b =
	             atomic_load_explicit(&histogram_blocks, memory_order_acquire);
	     b != NULL; b = b->next) {
		for (unsigned i = 0; i < HISTOGRAM_NBUCKETS; i++) {
			uint64_t n = atomic_load_explicit(&b->buckets[p][i], memory_order_relaxed);
			out->buckets[i] += n;
			out->count += n;
		}
		out->sum_ns += atomic_load_explicit(&b->sum_ns[p], memory_order_relaxed);
	}
}

/* Zeroes every histogram (at start, before the threads record, and in tests). */
void
histogram_reset(void)
{
	for (struct histogram_block *b = atomic_load(&histogram_blocks); b != NULL; b = b->next) {
		for (unsigned p = 0; p < HISTOGRAM_NPATHS; p++) {
			for (unsigned i = 0; i < HISTOGRAM_NBUCKETS; i++)
				atomic_store(&b->buckets[p][i], 0);
			atomic_store(&b->sum_ns[p], 0);
		}
	}
}

/* Estimates the q quantile of s in seconds; false when s is empty. */
bool
histogram_quantile(const struct histogram_snapshot *s, double q, double *seconds)
{
	double rank = q * (double)s->count;
	uint64_t below = 0;

	if (s->count == 0)
		return false;
	for (unsigned b = 0; b < HISTOGRAM_NBOUNDS; b++) {
		if (s->buckets[b] > 0 && (double)(below + s->buckets[b]) >= rank) {
			double lo = b == 0 ? 0.0 : (double)histogram_bound_ns(b - 1);
			double hi = (double)histogram_bound_ns(b);
			double in = (rank - (double)below) / (double)s->buckets[b];
			if (in < 0.0)
				in = 0.0;
			*seconds = (lo + (hi - lo) * in) / 1e9;
			return true;
		}
		below += s->buckets[b];
	}
	*seconds = (double)histogram_bound_ns(HISTOGRAM_NBOUNDS - 1) / 1e9;
	return true;
}

/* Nanoseconds of a monotonic clock (for durations). */
uint64_t
histogram_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
