/* Unit tests of stats: per-thread counters summed exactly, across threads that ended. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>

#include "stats.h"

#define THREADS    8
#define PER_THREAD 100000

static void *
count(void *arg)
{
	(void)arg;
	for (int i = 0; i < PER_THREAD; i++) {
		stats_inc(STAT_local_hits);
		stats_add(STAT_origin_bytes_in, 3);
	}
	return NULL;
}

START_TEST(test_threads_sum_exactly)
{
	pthread_t t[THREADS];

	stats_init();
	stats_inc(STAT_local_hits); /* this thread's block */
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, count, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	/* the threads have ended: their counts still add up */
	ck_assert_uint_eq(stats_get(STAT_local_hits), 1 + (uint64_t)THREADS * PER_THREAD);
	ck_assert_uint_eq(stats_get(STAT_origin_bytes_in), 3 * (uint64_t)THREADS * PER_THREAD);
	ck_assert_uint_eq(stats_get(STAT_local_misses), 0);
	stats_init(); /* zeroes every thread's block */
	ck_assert_uint_eq(stats_get(STAT_local_hits), 0);
	ck_assert_uint_eq(stats_get(STAT_origin_bytes_in), 0);
	stats_inc(STAT_local_hits);
	ck_assert_uint_eq(stats_get(STAT_local_hits), 1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_threads_sum_exactly);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
