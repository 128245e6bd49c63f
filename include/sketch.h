/*
 * sketch: a count-min frequency sketch with 4-bit counters, the popularity estimate behind the
 * tinylfu admission filter (policy_tinylfu.c). Four counters per key, one in each of four rows,
 * packed sixteen to a 64-bit word; an addition increments only the smallest of the four
 * (conservative update) and saturates at 15. After a sample of additions (ten per counted slot
 * of the cache) every counter is halved, so old popularity fades. An optional doorkeeper (a
 * Bloom filter, cleared at each halving) absorbs the first occurrence of each key so that keys
 * seen once do not use counters.
 *
 * Keys are hashed with XXH3 keyed by a seed chosen by the owner (a secret per process in the
 * tier), so that chosen keys cannot be made to collide. No locks: the owner serialises access
 * (the local tier calls its policy under its mutex). Memory is allocated once by
 * sketch_create; nothing allocates or frees afterwards.
 */
#ifndef TIERCACHE_SKETCH_H
#define TIERCACHE_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest value sketch_estimate returns (15, plus 1 for the doorkeeper). */
#define SKETCH_MAX_ESTIMATE 16

struct sketch;

/*
 * Creates a sketch for a cache of about capacity entries (clamped to [16, 2^24]), hashing
 * with seed; with a doorkeeper when doorkeeper is set.
 */
struct sketch *sketch_create(uint64_t capacity, uint64_t seed, bool doorkeeper);

/* Frees the sketch (NULL is ignored). */
void sketch_destroy(struct sketch *s);

/* The keyed hash of a key of len bytes, to pass to sketch_add and sketch_estimate. */
uint64_t sketch_hash(const struct sketch *s, const void *key, size_t len);

/* Counts one occurrence of the key of hash h; halves every counter at the end of a sample. */
void sketch_add(struct sketch *s, uint64_t h);

/* Estimated occurrences of the key of hash h in the recent past (0 to SKETCH_MAX_ESTIMATE). */
unsigned sketch_estimate(const struct sketch *s, uint64_t h);

/* Halves every counter and clears the doorkeeper (done by sketch_add after each sample). */
void sketch_halve(struct sketch *s);

/* Additions per sample: after this many, the counters are halved. */
uint64_t sketch_sample_size(const struct sketch *s);

/* How many times the counters have been halved. */
uint64_t sketch_halvings(const struct sketch *s);

#endif
