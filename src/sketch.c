/*
 * sketch: count-min frequency sketch with 4-bit counters (see sketch.h). The table is an
 * array of 64-bit words, a power of two of them, each holding sixteen 4-bit counters. Row r
 * (0..3) of a key is the counter at nibble 4r + (0..3) of one word chosen by a mix of the key's
 * hash with r: the four rows share the words but never a counter, and one table lookup per row
 * costs one cache line. An addition raises only the counters that hold the smallest value of
 * the four (conservative update), which keeps the estimate of rare keys close to their count.
 *
 * Aging: after sample_size additions every counter is halved with one shift and mask per
 * word, and the doorkeeper (when present) is cleared.
 *
 * No locks, no allocation after sketch_create; the owner serialises calls.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "sketch.h"
#include "util.h"

#define SKETCH_MIN_WORDS   16
#define SKETCH_MAX_WORDS   (UINT64_C(1) << 22)
#define SKETCH_ROWS        4
#define SKETCH_COUNTER_MAX 15u
/* additions per counted slot before the counters are halved */
#define SKETCH_SAMPLE_FACTOR 10

struct sketch {
	uint64_t *table;    /* words of sixteen 4-bit counters */
	uint64_t mask;      /* number of words - 1 */
	uint64_t *door;     /* doorkeeper bits (64 per word of table), NULL without */
	uint64_t door_mask; /* number of doorkeeper bits - 1 */
	uint64_t seed;
	uint64_t additions; /* since the last halving */
	uint64_t sample_size;
	uint64_t halvings;
};

/* A 64-bit finaliser (splitmix64's): spreads every input bit over the output. */
static uint64_t
sketch_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

/* Word index and bit shift of row r's counter of the key of hash h. */
static void
sketch_slot(const struct sketch *s, uint64_t h, unsigned r, uint64_t *word, unsigned *shift)
{
	uint64_t x = sketch_mix(h + (uint64_t)(r + 1) * UINT64_C(0x9e3779b97f4a7c15));

	*word = x & s->mask;
	*shift = ((r << 2) | (unsigned)(x >> 62)) << 2;
}

/* The two doorkeeper bit numbers of the key of hash h. */
static void
sketch_door_bits(const struct sketch *s, uint64_t h, uint64_t bits[2])
{
	uint64_t x = sketch_mix(h ^ UINT64_C(0x6a09e667f3bcc909));

	bits[0] = x & s->door_mask;
	bits[1] = (x >> 32 | x << 32) & s->door_mask;
}

/* Creates a sketch for about capacity entries, hashing with seed, with an optional doorkeeper. */
struct sketch *
sketch_create(uint64_t capacity, uint64_t seed, bool doorkeeper)
{
	struct sketch *s = xcalloc(1, sizeof(*s));
	uint64_t words = SKETCH_MIN_WORDS;

	while (words < capacity && words < SKETCH_MAX_WORDS)
		words <<= 1;
	s->table = xcalloc(words, sizeof(uint64_t));
	s->mask = words - 1;
	if (doorkeeper) {
		s->door = xcalloc(words, sizeof(uint64_t));
		s->door_mask = words * 64 - 1;
	}
	s->seed = seed;
	s->sample_size = SKETCH_SAMPLE_FACTOR * words;
	return s;
}

/* Frees the sketch (NULL is ignored). */
void
sketch_destroy(struct sketch *s)
{
	if (s == NULL)
		return;
	free(s->table);
	free(s->door);
	free(s);
}

/* The keyed hash of a key of len bytes. */
uint64_t
sketch_hash(const struct sketch *s, const void *key, size_t len)
{
	return XXH3_64bits_withSeed(key, len, s->seed);
}

/* Sets the doorkeeper bits of h; true when they were all set already. */
static bool
sketch_door_admit(struct sketch *s, uint64_t h)
{
	uint64_t bits[2];
	bool seen = true;

	sketch_door_bits(s, h, bits);
	for (int i = 0; i < 2; i++) {
		uint64_t *w = &s->door[bits[i] >> 6];
		uint64_t m = UINT64_C(1) << (bits[i] & 63);

		if ((*w & m) == 0) {
			seen = false;
			*w |= m;
		}
	}
	return seen;
}

/* True when the doorkeeper has seen h since it was last cleared. */
static bool
sketch_door_contains(const struct sketch *s, uint64_t h)
{
	uint64_t bits[2];

	sketch_door_bits(s, h, bits);
	for (int i = 0; i < 2; i++) {
		if ((s->door[bits[i] >> 6] & (UINT64_C(1) << (bits[i] & 63))) == 0)
			return false;
	}
	return true;
}

/* Counts one occurrence of the key of hash h; halves every counter at the end of a sample. */
void
sketch_add(struct sketch *s, uint64_t h)
{
	uint64_t word[SKETCH_ROWS];
	unsigned shift[SKETCH_ROWS], value[SKETCH_ROWS], min = SKETCH_COUNTER_MAX;

	if (s->door == NULL || sketch_door_admit(s, h)) {
		for (unsigned r = 0; r < SKETCH_ROWS; r++) {
			sketch_slot(s, h, r, &word[r], &shift[r]);
			value[r] = (unsigned)(s->table[word[r]] >> shift[r]) & 0xf;
			if (value[r] < min)
				min = value[r];
		}
		if (min < SKETCH_COUNTER_MAX) {
			for (unsigned r = 0; r < SKETCH_ROWS; r++) {
				if (value[r] == min)
					s->table[word[r]] += UINT64_C(1) << shift[r];
			}
		}
	}
	if (++s->additions >= s->sample_size)
		sketch_halve(s);
}

/* Estimated recent occurrences of the key of hash h (0 to SKETCH_MAX_ESTIMATE). */
unsigned
sketch_estimate(const struct sketch *s, uint64_t h)
{
	unsigned min = SKETCH_COUNTER_MAX;

	for (unsigned r = 0; r < SKETCH_ROWS; r++) {
		uint64_t word;
		unsigned shift, value;

		sketch_slot(s, h, r, &word, &shift);
		value = (unsigned)(s->table[word] >> shift) & 0xf;
		if (value < min)
			min = value;
	}
	if (s->door != NULL && sketch_door_contains(s, h))
		min++;
	return min;
}

/* Halves every counter and clears the doorkeeper. */
void
sketch_halve(struct sketch *s)
{
	for (uint64_t i = 0; i <= s->mask; i++)
		s->table[i] = (s->table[i] >> 1) & UINT64_C(0x7777777777777777);
	if (s->door != NULL)
		memset(s->door, 0, (s->mask + 1) * sizeof(uint64_t));
	s->additions /= 2;
	s->halvings++;
}

/* Additions per sample: after this many, the counters are halved. */
uint64_t
sketch_sample_size(const struct sketch *s)
{
	return s->sample_size;
}

/* How many times the counters have been halved. */
uint64_t
sketch_halvings(const struct sketch *s)
{
	return s->halvings;
}
