/*
 * zipf: prints a deterministic Zipf-distributed request trace, one key (a decimal object
 * number) a line, for the hit-ratio benchmark (hitratio.sh).
 *
 *   zipf ALPHA OBJECTS REQUESTS [SEED]
 *
 * Object k (1..OBJECTS) is requested with probability proportional to 1 / k^ALPHA; samples come
 * from the inverse of the cumulative distribution (a binary search) driven by a seeded
 * xorshift64* generator, so the same arguments always give the same trace on any machine.
 * The printed key is a fixed permutation of the rank, so that popular keys are not also the
 * smallest numbers.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t zipf_state;

/* xorshift64*: the next pseudo-random 64-bit number. */
static uint64_t
zipf_next(void)
{
	uint64_t x = zipf_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	zipf_state = x;
	return x * UINT64_C(2685821657736338717);
}

int
main(int argc, char **argv)
{
	double alpha, *cdf, total = 0;
	uint64_t objects, requests;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: zipf ALPHA OBJECTS REQUESTS [SEED]\n");
		return 2;
	}
	alpha = strtod(argv[1], NULL);
	objects = strtoull(argv[2], NULL, 10);
	requests = strtoull(argv[3], NULL, 10);
	zipf_state = argc == 5 ? strtoull(argv[4], NULL, 10) : 1;
	if (zipf_state == 0)
		zipf_state = 1;
	if (objects == 0 || alpha < 0) {
		fprintf(stderr, "zipf: OBJECTS must be positive and ALPHA not negative\n");
		return 2;
	}
	cdf = malloc(objects * sizeof(*cdf));
	if (cdf == NULL)
		return 1;
	for (uint64_t k = 0; k < objects; k++) {
		total += 1.0 / pow((double)(k + 1), alpha);
		cdf[k] = total;
	}
	for (uint64_t i = 0; i < requests; i++) {
		double u = (double)(zipf_next() >> 11) * 0x1.0p-53 * total;
		uint64_t lo = 0, hi = objects - 1;

		while (lo < hi) {
			uint64_t mid = lo + (hi - lo) / 2;

			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		/* an odd multiplier is a permutation modulo 2^32 */
		printf("%" PRIu64 "\n", (lo * UINT64_C(2654435761)) & UINT64_C(0xffffffff));
	}
	free(cdf);
	return 0;
}
