/*
 * histogram: lock-free latency histograms (see histogram.h). Owns the process-wide counters:
 * HISTOGRAM_NPATHS paths x HISTOGRAM_STRIPES stripes, each stripe a cache-line-aligned array
 * of relaxed atomics. A thread takes a stripe the first time it records (a thread-local index
 * handed out round robin), so threads rarely share a cache line. No lock, no allocation.
 */
#include <stdatomic.h>
#include <time.h>

#include "histogram.h"
#include "util.h"

/* Stripes of counters per path (threads beyond it share stripes, still exactly). */
#define HISTOGRAM_STRIPES 16

struct histogram_stripe {
	_Alignas(64) _Atomic uint64_t buckets[HISTOGRAM_NBUCKETS];
	_Atomic uint64_t sum_ns;
};

static struct histogram_stripe histogram_stripes[HISTOGRAM_NPATHS][HISTOGRAM_STRIPES];
static atomic_uint histogram_next_stripe;
static _Thread_local unsigned histogram_my_stripe; /* stripe + 1; 0 until the first record */

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

/* Records one request of path p that took ns nanoseconds (any thread, lock-free). */
void
histogram_record(enum histogram_path p, uint64_t ns)
{
	struct histogram_stripe *s;

	TC_ASSERT(p < HISTOGRAM_NPATHS);
	if (histogram_my_stripe == 0)
		histogram_my_stripe =
		        atomic_fetch_add(&histogram_next_stripe, 1) % HISTOGRAM_STRIPES + 1;
	s = &histogram_stripes[p][histogram_my_stripe - 1];
	atomic_fetch_add_explicit(&s->buckets[histogram_bucket(ns)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_ns, ns, memory_order_relaxed);
}

/* Reads path p's histogram into *out. */
void
histogram_read(enum histogram_path p, struct histogram_snapshot *out)
{
	TC_ASSERT(p < HISTOGRAM_NPATHS);
	*out = (struct histogram_snapshot){0};
	for (unsigned s = 0; s < HISTOGRAM_STRIPES; s++) {
		struct histogram_stripe *st = &histogram_stripes[p][s];
		for (unsigned b = 0; b < HISTOGRAM_NBUCKETS; b++) {
			uint64_t n = atomic_load_explicit(&st->buckets[b], memory_order_relaxed);
			out->buckets[b] += n;
			out->count += n;
		}
		out->sum_ns += atomic_load_explicit(&st->sum_ns, memory_order_relaxed);
	}
}

/* Zeroes every histogram (at start, and in tests). */
void
histogram_reset(void)
{
	for (unsigned p = 0; p < HISTOGRAM_NPATHS; p++)
		for (unsigned s = 0; s < HISTOGRAM_STRIPES; s++) {
			for (unsigned b = 0; b < HISTOGRAM_NBUCKETS; b++)
				atomic_store(&histogram_stripes[p][s].buckets[b], 0);
			atomic_store(&histogram_stripes[p][s].sum_ns, 0);
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
