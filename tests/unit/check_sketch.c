/*
 * check_sketch: the count-min frequency sketch (src/sketch.c). Exact counts for a few keys,
 * saturation at 15, halving (explicit and after a sample), the doorkeeper, the count-min
 * guarantee of never underestimating, the ordering of a popular key above rare ones, and the
 * keyed hash.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sketch.h"
#include "util.h"

static uint64_t
h(const struct sketch *s, const char *key)
{
	return sketch_hash(s, key, strlen(key));
}

START_TEST(test_counts)
{
	struct sketch *s = sketch_create(1024, 42, false);
	uint64_t a = h(s, "a"), b = h(s, "b"), c = h(s, "c");

	ck_assert_uint_eq(sketch_estimate(s, a), 0);
	for (int i = 0; i < 3; i++)
		sketch_add(s, a);
	sketch_add(s, b);
	ck_assert_uint_eq(sketch_estimate(s, a), 3);
	ck_assert_uint_eq(sketch_estimate(s, b), 1);
	ck_assert_uint_eq(sketch_estimate(s, c), 0);
	sketch_destroy(s);
}
END_TEST

START_TEST(test_saturation)
{
	struct sketch *s = sketch_create(1024, 42, false);
	uint64_t a = h(s, "hot");

	for (int i = 0; i < 40; i++)
		sketch_add(s, a);
	ck_assert_uint_eq(sketch_estimate(s, a), 15);
	sketch_destroy(s);
}
END_TEST

START_TEST(test_halving)
{
	struct sketch *s = sketch_create(16, 7, false);
	uint64_t a = h(s, "a"), b = h(s, "b");
	uint64_t sample = sketch_sample_size(s), n = 0;

	ck_assert_uint_eq(sample, 160); /* ten additions per word of sixteen counters */
	for (int i = 0; i < 15; i++, n++)
		sketch_add(s, a);
	for (int i = 0; i < 5; i++, n++)
		sketch_add(s, b);
	ck_assert_uint_eq(sketch_halvings(s), 0);
	sketch_halve(s);
	ck_assert_uint_eq(sketch_halvings(s), 1);
	ck_assert_uint_eq(sketch_estimate(s, a), 7);
	ck_assert_uint_eq(sketch_estimate(s, b), 2);
	/* the sample counter was halved too (20 -> 10): 150 more additions end the sample */
	for (uint64_t i = 0; i < sample - 11; i++)
		sketch_add(s, h(s, "filler"));
	ck_assert_uint_eq(sketch_halvings(s), 1);
	sketch_add(s, h(s, "filler"));
	ck_assert_uint_eq(sketch_halvings(s), 2);
	ck_assert_uint_le(sketch_estimate(s, a), 3);
	sketch_destroy(s);
}
END_TEST

START_TEST(test_doorkeeper)
{
	struct sketch *s = sketch_create(1024, 9, true);
	uint64_t a = h(s, "a");

	ck_assert_uint_eq(sketch_estimate(s, a), 0);
	sketch_add(s, a); /* absorbed by the doorkeeper */
	ck_assert_uint_eq(sketch_estimate(s, a), 1);
	sketch_add(s, a);
	sketch_add(s, a);
	ck_assert_uint_eq(sketch_estimate(s, a), 3); /* two in the counters, one at the door */
	for (int i = 0; i < 30; i++)
		sketch_add(s, a);
	ck_assert_uint_eq(sketch_estimate(s, a), SKETCH_MAX_ESTIMATE);
	sketch_halve(s); /* counters 15 -> 7, doorkeeper cleared */
	ck_assert_uint_eq(sketch_estimate(s, a), 7);
	sketch_destroy(s);
}
END_TEST

/* Never under the true count (capped at 15), with many keys sharing few counters. */
START_TEST(test_never_under)
{
	enum { KEYS = 600 };
	struct sketch *s = sketch_create(64, 1234, false);
	unsigned count[KEYS] = {0};
	uint64_t r = 88172645463325252u, over = 0;
	char key[32];

	for (int i = 0; i < 600; i++) { /* below the sample of 640: no halving */
		unsigned k;

		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		k = (unsigned)(r % KEYS) / (1 + (unsigned)(r >> 60)); /* skewed */
		snprintf(key, sizeof(key), "key-%u", k);
		sketch_add(s, h(s, key));
		count[k]++;
	}
	ck_assert_uint_eq(sketch_halvings(s), 0);
	for (unsigned k = 0; k < KEYS; k++) {
		unsigned want = count[k] < 15 ? count[k] : 15, got;

		snprintf(key, sizeof(key), "key-%u", k);
		got = sketch_estimate(s, h(s, key));
		ck_assert_uint_ge(got, want);
		over += got - want;
	}
	/* conservative update keeps the total overestimate small */
	ck_assert_uint_lt(over, KEYS);
	sketch_destroy(s);
}
END_TEST

/* A key requested often stands above keys seen once, whatever the noise. */
START_TEST(test_popular_above_rare)
{
	struct sketch *s = sketch_create(256, 5, true);
	uint64_t hot = h(s, "hot");
	char key[32];
	unsigned max_rare = 0;

	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "rare-%d", i);
		sketch_add(s, h(s, key));
		if (i % 10 == 0)
			sketch_add(s, hot);
	}
	for (int i = 900; i < 1000; i++) {
		unsigned e;

		snprintf(key, sizeof(key), "rare-%d", i);
		e = sketch_estimate(s, h(s, key));
		if (e > max_rare)
			max_rare = e;
	}
	ck_assert_uint_gt(sketch_estimate(s, hot), max_rare);
	sketch_destroy(s);
}
END_TEST

START_TEST(test_keyed_hash)
{
	struct sketch *s1 = sketch_create(16, 1, false), *s2 = sketch_create(16, 2, false);
	struct sketch *s1b = sketch_create(1024, 1, true);

	ck_assert_uint_eq(h(s1, "/products/1"), h(s1b, "/products/1"));
	ck_assert_uint_ne(h(s1, "/products/1"), h(s2, "/products/1"));
	ck_assert_uint_ne(h(s1, "/products/1"), h(s1, "/products/2"));
	sketch_destroy(s1);
	sketch_destroy(s2);
	sketch_destroy(s1b);
	sketch_destroy(NULL);
}
END_TEST

static Suite *
sketch_suite(void)
{
	Suite *s = suite_create("sketch");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_counts);
	tcase_add_test(tc, test_saturation);
	tcase_add_test(tc, test_halving);
	tcase_add_test(tc, test_doorkeeper);
	tcase_add_test(tc, test_never_under);
	tcase_add_test(tc, test_popular_above_rare);
	tcase_add_test(tc, test_keyed_hash);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sketch_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
