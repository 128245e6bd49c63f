/* check_collapse: leaders, waiters in arrival order, hit-for-pass marks and their expiry. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "collapse.h"

START_TEST(test_collapse_leader_waiters)
{
	struct collapse *c = collapse_create();
	struct collapse_link l, w1, w2, w3, other;
	bool pass = true;

	ck_assert_int_eq(collapse_join(c, "k", &l, true, 100, &pass), COLLAPSE_LEADER);
	ck_assert(!pass);
	ck_assert_int_eq(collapse_join(c, "k", &w1, true, 100, &pass), COLLAPSE_WAITER);
	ck_assert_int_eq(collapse_join(c, "k", &w2, false, 100, &pass), COLLAPSE_WAITER);
	ck_assert_int_eq(collapse_join(c, "k", &w3, true, 101, &pass), COLLAPSE_WAITER);
	/* another key leads on its own */
	ck_assert_int_eq(collapse_join(c, "k2", &other, true, 100, &pass), COLLAPSE_LEADER);
	ck_assert_uint_eq(collapse_size(c), 2);

	struct collapse_link *got = collapse_finish(c, "k", &l, 0, 102);
	ck_assert_ptr_eq(got, &w1);
	ck_assert_ptr_eq(w1.next, &w2);
	ck_assert_ptr_eq(w2.next, &w3);
	ck_assert_ptr_null(w3.next);
	ck_assert_uint_eq(collapse_size(c), 1);
	ck_assert_ptr_null(collapse_finish(c, "k2", &other, 0, 102));
	ck_assert_uint_eq(collapse_size(c), 0);

	/* the key is free again: the next request leads */
	ck_assert_int_eq(collapse_join(c, "k", &w1, true, 103, &pass), COLLAPSE_LEADER);
	ck_assert_ptr_null(collapse_finish(c, "k", &w1, 0, 103));
	collapse_destroy(c);
}
END_TEST

START_TEST(test_collapse_may_not_lead)
{
	struct collapse *c = collapse_create();
	struct collapse_link a, b;
	bool pass = true;

	/* nothing in flight and may not lead: alone, not a pass, nothing recorded */
	ck_assert_int_eq(collapse_join(c, "k", &a, false, 100, &pass), COLLAPSE_ALONE);
	ck_assert(!pass);
	ck_assert_uint_eq(collapse_size(c), 0);
	ck_assert_int_eq(collapse_join(c, "k", &b, true, 100, &pass), COLLAPSE_LEADER);
	ck_assert_ptr_null(collapse_finish(c, "k", &b, 0, 100));
	collapse_destroy(c);
}
END_TEST

START_TEST(test_collapse_hit_for_pass)
{
	struct collapse *c = collapse_create();
	struct collapse_link l, w, a, b;
	bool pass = false;

	ck_assert_int_eq(collapse_join(c, "k", &l, true, 100, &pass), COLLAPSE_LEADER);
	ck_assert_int_eq(collapse_join(c, "k", &w, true, 100, &pass), COLLAPSE_WAITER);
	/* not storable: the waiter is handed back, the key is marked until 110 */
	ck_assert_ptr_eq(collapse_finish(c, "k", &l, 110, 100), &w);
	ck_assert_ptr_null(w.next);
	ck_assert_uint_eq(collapse_size(c), 1);

	ck_assert_int_eq(collapse_join(c, "k", &a, true, 100, &pass), COLLAPSE_ALONE);
	ck_assert(pass);
	ck_assert_int_eq(collapse_join(c, "k", &b, true, 109, &pass), COLLAPSE_ALONE);
	ck_assert(pass);
	/* expired at 110: the next request leads again, reusing the record */
	ck_assert_int_eq(collapse_join(c, "k", &a, true, 110, &pass), COLLAPSE_LEADER);
	ck_assert(!pass);
	ck_assert_uint_eq(collapse_size(c), 1);
	ck_assert_int_eq(collapse_join(c, "k", &b, true, 110, &pass), COLLAPSE_WAITER);
	/* stored this time: no mark, the record goes */
	ck_assert_ptr_eq(collapse_finish(c, "k", &a, 0, 111), &b);
	ck_assert_uint_eq(collapse_size(c), 0);
	ck_assert_int_eq(collapse_join(c, "k", &b, true, 111, &pass), COLLAPSE_LEADER);
	ck_assert(!pass);
	ck_assert_ptr_null(collapse_finish(c, "k", &b, 0, 111));
	collapse_destroy(c);
}
END_TEST

START_TEST(test_collapse_try_lead)
{
	struct collapse *c = collapse_create();
	struct collapse_link bg, bg2, w, l;
	bool pass = false;

	/* a free key: the background request leads, others wait for it */
	ck_assert(collapse_try_lead(c, "k", &bg, 100));
	ck_assert(!collapse_try_lead(c, "k", &bg2, 100)); /* one at a time, and never queued */
	ck_assert_int_eq(collapse_join(c, "k", &w, true, 100, &pass), COLLAPSE_WAITER);
	ck_assert_ptr_eq(collapse_finish(c, "k", &bg, 0, 101), &w);
	ck_assert_ptr_null(w.next);
	ck_assert_uint_eq(collapse_size(c), 0);

	/* a fetch in flight: no background revalidation starts */
	ck_assert_int_eq(collapse_join(c, "k", &l, true, 100, &pass), COLLAPSE_LEADER);
	ck_assert(!collapse_try_lead(c, "k", &bg, 100));
	/* hit-for-pass until 110: none either; after it, the expired mark is reused */
	ck_assert_ptr_null(collapse_finish(c, "k", &l, 110, 100));
	ck_assert(!collapse_try_lead(c, "k", &bg, 109));
	ck_assert(collapse_try_lead(c, "k", &bg, 110));
	ck_assert_uint_eq(collapse_size(c), 1);
	ck_assert_ptr_null(collapse_finish(c, "k", &bg, 0, 111));
	ck_assert_uint_eq(collapse_size(c), 0);
	collapse_destroy(c);
}
END_TEST

START_TEST(test_collapse_sweep)
{
	struct collapse *c = collapse_create();
	struct collapse_link l;
	char key[32];
	bool pass;

	/* 100 keys marked until 110 */
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "old%d", i);
		ck_assert_int_eq(collapse_join(c, key, &l, true, 100, &pass), COLLAPSE_LEADER);
		collapse_finish(c, key, &l, 110, 100);
	}
	ck_assert_uint_eq(collapse_size(c), 100); /* none expired yet: none swept */
	/* later marks sweep the expired ones of keys nobody asked for again */
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "new%d", i);
		ck_assert_int_eq(collapse_join(c, key, &l, true, 200, &pass), COLLAPSE_LEADER);
		collapse_finish(c, key, &l, 210, 200);
	}
	ck_assert_uint_eq(collapse_size(c), 200); /* without the sweep: 300 */
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "new%d", i);
		ck_assert_int_eq(collapse_join(c, key, &l, true, 205, &pass), COLLAPSE_ALONE);
		ck_assert(pass);
	}
	collapse_destroy(c);
}
END_TEST

static Suite *
collapse_suite(void)
{
	Suite *s = suite_create("collapse");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_collapse_leader_waiters);
	tcase_add_test(tc, test_collapse_may_not_lead);
	tcase_add_test(tc, test_collapse_hit_for_pass);
	tcase_add_test(tc, test_collapse_sweep);
	tcase_add_test(tc, test_collapse_try_lead);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(collapse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
