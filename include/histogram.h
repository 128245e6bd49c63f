/*
 * histogram: the latency histograms of the three paths of a cached request (hit, miss,
 * revalidated), with fixed log-spaced buckets. Process-wide, lock-free: a recording thread adds
 * to its own block of counters (written by it alone), and a read sums the blocks. The buckets are
 * the R10 series (10 per decade, each about 1.26 times the last: 1, 1.25, 1.6, 2, 2.5, 3.15, 4,
 * 5, 6.3, 8) from 10 µs to 10 s, and a last bucket for anything slower. Quantiles are estimated
 * inside a bucket by linear interpolation, as Prometheus's histogram_quantile does.
 */
#ifndef TIERCACHE_HISTOGRAM_H
#define TIERCACHE_HISTOGRAM_H

#include <stdbool.h>
#include <stdint.h>

/* The paths of a GET or HEAD whose latency is recorded. */
enum histogram_path {
	HISTOGRAM_HIT,         /* answered from the local tier or memcached */
	HISTOGRAM_MISS,        /* fetched from the origin (or its failure answered) */
	HISTOGRAM_REVALIDATED, /* a stored response revalidated with the origin */
	HISTOGRAM_NPATHS,
};

/* Finite upper bounds (10 per decade from 10 µs to 10 s); one more bucket counts the rest. */
#define HISTOGRAM_NBOUNDS  61
#define HISTOGRAM_NBUCKETS (HISTOGRAM_NBOUNDS + 1)

/* A consistent-enough copy of one path's histogram (each counter read once). */
struct histogram_snapshot {
	uint64_t buckets[HISTOGRAM_NBUCKETS]; /* per bucket, not cumulative */
	uint64_t count;
	uint64_t sum_ns;
};

/* Upper bound of bucket i in nanoseconds (i < HISTOGRAM_NBOUNDS). */
uint64_t histogram_bound_ns(unsigned i);

/* The bucket a duration of ns nanoseconds falls in (bound >= ns; the last one past 10 s). */
unsigned histogram_bucket(uint64_t ns);

/* Name of a path ("hit", "miss", "revalidated"). */
const char *histogram_path_name(enum histogram_path p);

/* Records one request of path p that took ns nanoseconds (any thread, lock-free). */
void histogram_record(enum histogram_path p, uint64_t ns);

/* Reads path p's histogram into *out. */
void histogram_read(enum histogram_path p, struct histogram_snapshot *out);

/* Zeroes every histogram (at start, before the threads record, and in tests). */
void histogram_reset(void);

/*
 * Estimates the q quantile (0 < q <= 1) of s in seconds: the bucket holding rank q * count, and
 * linear interpolation inside it (its lower bound is the previous bucket's upper bound, 0 for
 * the first); a rank in the last bucket gives its lower bound, 10 s. False when s is empty.
 */
bool histogram_quantile(const struct histogram_snapshot *s, double q, double *seconds);

/* Nanoseconds of a monotonic clock (for durations). */
uint64_t histogram_now_ns(void);

#endif
