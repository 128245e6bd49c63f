/*
 * check_histogram: the latency histograms and their Prometheus formatting. Bucket bounds (the
 * R10 series from 10 µs to 10 s), which bucket a duration falls in (table-driven, with the
 * edges), quantile estimates against hand-computed values, exact counts under concurrent
 * recording from many threads, and the number and label formats of /metrics.
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "metrics.h"

START_TEST(test_bounds)
{
	static const struct {
		unsigned i;
		uint64_t ns;
	} cases[] = {
	        {0, 10000},        {1, 12500},      {4, 25000},       {5, 31500},
	        {9, 80000},        {10, 100000},    {20, 1000000},    {27, 5000000},
	        {30, 10000000},    {44, 250000000}, {50, 1000000000}, {59, 8000000000},
	        {60, 10000000000},
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		ck_assert_uint_eq(histogram_bound_ns(cases[k].i), cases[k].ns);
	for (unsigned i = 1; i < HISTOGRAM_NBOUNDS; i++)
		ck_assert_uint_gt(histogram_bound_ns(i), histogram_bound_ns(i - 1));
}
END_TEST

START_TEST(test_bucket_of)
{
	static const struct {
		uint64_t ns;
		unsigned bucket;
	} cases[] = {
	        {0, 0},
	        {1, 0},
	        {10000, 0}, /* a bound belongs to its own bucket (le) */
	        {10001, 1},
	        {12500, 1},
	        {12501, 2},
	        {99999, 10},
	        {100000, 10},
	        {1000000000, 50}, /* 1 s */
	        {1000000001, 51},
	        {10000000000, 60}, /* 10 s */
	        {10000000001, 61}, /* past the last bound */
	        {UINT64_MAX, 61},
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		ck_assert_msg(histogram_bucket(cases[k].ns) == cases[k].bucket,
		              "%llu ns: bucket %u, expected %u", (unsigned long long)cases[k].ns,
		              histogram_bucket(cases[k].ns), cases[k].bucket);
}
END_TEST

START_TEST(test_record_and_read)
{
	struct histogram_snapshot s;

	histogram_reset();
	histogram_record(HISTOGRAM_HIT, 5000);
	histogram_record(HISTOGRAM_HIT, 20000);
	histogram_record(HISTOGRAM_MISS, 2000000);
	histogram_read(HISTOGRAM_HIT, &s);
	ck_assert_uint_eq(s.count, 2);
	ck_assert_uint_eq(s.sum_ns, 25000);
	ck_assert_uint_eq(s.buckets[0], 1);
	ck_assert_uint_eq(s.buckets[3], 1);
	histogram_read(HISTOGRAM_MISS, &s);
	ck_assert_uint_eq(s.count, 1);
	histogram_read(HISTOGRAM_REVALIDATED, &s);
	ck_assert_uint_eq(s.count, 0);
	histogram_reset();
	histogram_read(HISTOGRAM_HIT, &s);
	ck_assert_uint_eq(s.count, 0);
	ck_assert_uint_eq(s.sum_ns, 0);
}
END_TEST

static bool
near(double a, double b)
{
	return fabs(a - b) <= 1e-12 + 1e-9 * fabs(b);
}

START_TEST(test_quantiles)
{
	struct histogram_snapshot s = {0};
	double v = -1;

	ck_assert(!histogram_quantile(&s, 0.5, &v)); /* empty */

	/* 100 samples in the bucket (10 µs, 12.5 µs]: the median is halfway through it */
	s.buckets[1] = 100;
	s.count = 100;
	ck_assert(histogram_quantile(&s, 0.5, &v));
	ck_assert_msg(near(v, 11.25e-6), "p50 %g", v);
	ck_assert(histogram_quantile(&s, 0.99, &v));
	ck_assert_msg(near(v, (10 + 2.5 * 0.99) * 1e-6), "p99 %g", v);
	ck_assert(histogram_quantile(&s, 1.0, &v));
	ck_assert_msg(near(v, 12.5e-6), "p100 %g", v);

	/* 90 in the first bucket [0, 10 µs], 10 in (1 ms, 1.25 ms] */
	memset(&s, 0, sizeof(s));
	s.buckets[0] = 90;
	s.buckets[21] = 10;
	s.count = 100;
	ck_assert(histogram_quantile(&s, 0.5, &v));
	ck_assert_msg(near(v, 10e-6 * 50 / 90), "p50 %g", v);
	ck_assert(histogram_quantile(&s, 0.9, &v));
	ck_assert_msg(near(v, 10e-6), "p90 %g", v);
	ck_assert(histogram_quantile(&s, 0.99, &v));
	ck_assert_msg(near(v, 1e-3 + 0.25e-3 * 0.9), "p99 %g", v);

	/* beyond the last bound: reported as 10 s */
	memset(&s, 0, sizeof(s));
	s.buckets[HISTOGRAM_NBUCKETS - 1] = 3;
	s.count = 3;
	ck_assert(histogram_quantile(&s, 0.5, &v));
	ck_assert_msg(near(v, 10.0), "slow p50 %g", v);
}
END_TEST

#define THREADS    8
#define PER_THREAD 20000

static void *
recorder(void *arg)
{
	uintptr_t t = (uintptr_t)arg;

	for (unsigned i = 0; i < PER_THREAD; i++)
		histogram_record((enum histogram_path)(i % HISTOGRAM_NPATHS),
		                 (uint64_t)(t * 1000 + i % 7) * 1000);
	return NULL;
}

START_TEST(test_concurrent_exact)
{
	pthread_t th[THREADS];
	uint64_t total = 0;

	histogram_reset();
	for (uintptr_t t = 0; t < THREADS; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, recorder, (void *)t), 0);
	for (unsigned t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	for (unsigned p = 0; p < HISTOGRAM_NPATHS; p++) {
		struct histogram_snapshot s;
		uint64_t in_buckets = 0;

		histogram_read((enum histogram_path)p, &s);
		for (unsigned b = 0; b < HISTOGRAM_NBUCKETS; b++)
			in_buckets += s.buckets[b];
		ck_assert_uint_eq(in_buckets, s.count);
		total += s.count;
	}
	ck_assert_uint_eq(total, (uint64_t)THREADS * PER_THREAD);
}
END_TEST

START_TEST(test_path_names)
{
	ck_assert_str_eq(histogram_path_name(HISTOGRAM_HIT), "hit");
	ck_assert_str_eq(histogram_path_name(HISTOGRAM_MISS), "miss");
	ck_assert_str_eq(histogram_path_name(HISTOGRAM_REVALIDATED), "revalidated");
}
END_TEST

START_TEST(test_metrics_formats)
{
	static const struct {
		double v;
		const char *text;
	} secs[] = {
	        {0.00001, "0.00001"}, {0.000025, "0.000025"}, {0.5, "0.5"},
	        {1.0, "1"},           {10.0, "10"},           {0.0, "0"},
	        {123.456, "123.456"}, {INFINITY, "+Inf"},
	};
	static const struct {
		const char *in, *out;
	} labels[] = {
	        {"127.0.0.1:11211", "\"127.0.0.1:11211\""},
	        {"[::1]:11211", "\"[::1]:11211\""},
	        {"a\"b", "\"a\\\"b\""},
	        {"a\\b", "\"a\\\\b\""},
	        {"a\nb", "\"a\\nb\""},
	        {"", "\"\""},
	};

	for (size_t k = 0; k < sizeof(secs) / sizeof(secs[0]); k++) {
		struct buf b = {0};
		metrics_seconds(&b, secs[k].v);
		ck_assert_str_eq(b.data, secs[k].text);
		buf_free(&b);
	}
	for (size_t k = 0; k < sizeof(labels) / sizeof(labels[0]); k++) {
		struct buf b = {0};
		metrics_label_value(&b, labels[k].in);
		ck_assert_str_eq(b.data, labels[k].out);
		buf_free(&b);
	}
}
END_TEST

static Suite *
histogram_suite(void)
{
	Suite *s = suite_create("histogram");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_bounds);
	tcase_add_test(tc, test_bucket_of);
	tcase_add_test(tc, test_record_and_read);
	tcase_add_test(tc, test_quantiles);
	tcase_add_test(tc, test_concurrent_exact);
	tcase_add_test(tc, test_path_names);
	tcase_add_test(tc, test_metrics_formats);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(histogram_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
