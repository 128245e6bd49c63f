/*
 * check_trace: traces for tiercache-replay (src/trace.c). Reading key traces (line endings,
 * blank lines, keys with spaces), parsing access log lines (methods, sizes, malformed lines),
 * distinct keys, and replays whose hit counts are worked out by hand.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"
#include "util.h"

/* Reads text as a trace of the given format. */
static void
read_text(const char *text, enum trace_format format, struct trace *t)
{
	FILE *f = fmemopen((void *)(uintptr_t)text, strlen(text), "r");

	ck_assert_ptr_nonnull(f);
	ck_assert(trace_read(f, format, t));
	fclose(f);
}

START_TEST(test_read_keys)
{
	struct trace t;

	read_text("a\r\nb c\n\nlast without newline", TRACE_KEYS, &t);
	ck_assert_uint_eq(t.n, 3);
	ck_assert_str_eq(trace_key(&t, 0), "a");
	ck_assert_str_eq(trace_key(&t, 1), "b c");
	ck_assert_str_eq(trace_key(&t, 2), "last without newline");
	ck_assert_uint_eq(t.skipped, 1);
	ck_assert_ptr_null(t.sizes);
	trace_free(&t);

	read_text("", TRACE_KEYS, &t);
	ck_assert_uint_eq(t.n, 0);
	ck_assert_uint_eq(trace_distinct(&t), 0);
	trace_free(&t);
}
END_TEST

START_TEST(test_parse_access_line)
{
	static const struct {
		const char *line;
		bool ok;
		const char *url;
		uint64_t size;
	} cases[] = {
	        {"1.2.3.4 - - [22/Nov/2026:10:00:00 +0000] \"GET /a?x=1 HTTP/1.1\" 200 512", true,
	         "/a?x=1", 512},
	        {"::1 - u [d] \"HEAD /b HTTP/1.1\" 200 - \"-\" \"curl\"", true, "/b", 0},
	        {"h - - [d] \"GET /c HTTP/1.0\" 304 0 \"ref\" \"ua\"", true, "/c", 0},
	        {"h - - [d] \"GET /old\" 200 10", true, "/old", 10},
	        {"h - - [d] \"POST /a HTTP/1.1\" 200 5", false, NULL, 0},
	        {"h - - [d] \"GETX /a HTTP/1.1\" 200 5", false, NULL, 0},
	        {"h - - [d] \"GET  HTTP/1.1\" 200 5", false, NULL, 0},
	        {"h - - [d] \"GET http://h/x HTTP/1.1\" 200 5", true, "http://h/x", 5},
	        {"h - - [d] \"GET /a HTTP/1.1\" 2000 5", false, NULL, 0},
	        {"h - - [d] \"GET /a HTTP/1.1\" 200 5x", false, NULL, 0},
	        {"h - - [d] \"GET /a HTTP/1.1\" 200", false, NULL, 0},
	        {"h - - [d] \"GET /a HTTP/1.1 200 5", false, NULL, 0},
	        {"no request here", false, NULL, 0},
	        {"h - - [d] \"GET /a HTTP/1.1\" 200 99999999999999999999999", false, NULL, 0},
	};

	for (size_t i = 0; i < TC_ARRAY_LEN(cases); i++) {
		const char *url = NULL;
		size_t len = 0;
		uint64_t size = 77;
		bool ok = trace_parse_access_line(cases[i].line, strlen(cases[i].line), &url, &len,
		                                  &size);

		ck_assert_msg(ok == cases[i].ok, "case %zu: %s", i, cases[i].line);
		if (!ok)
			continue;
		ck_assert_uint_eq(len, strlen(cases[i].url));
		ck_assert_int_eq(memcmp(url, cases[i].url, len), 0);
		ck_assert_uint_eq(size, cases[i].size);
	}
}
END_TEST

START_TEST(test_read_access_log)
{
	struct trace t;

	read_text("h - - [d] \"GET /a HTTP/1.1\" 200 100\n"
	          "h - - [d] \"POST /a HTTP/1.1\" 200 1\n"
	          "garbage\n"
	          "h - - [d] \"HEAD /b HTTP/1.1\" 200 -\n",
	          TRACE_ACCESS_LOG, &t);
	ck_assert_uint_eq(t.n, 2);
	ck_assert_str_eq(trace_key(&t, 0), "/a");
	ck_assert_str_eq(trace_key(&t, 1), "/b");
	ck_assert_ptr_nonnull(t.sizes);
	ck_assert_uint_eq(t.sizes[0], 100);
	ck_assert_uint_eq(t.sizes[1], 0);
	ck_assert_uint_eq(t.skipped, 2);
	trace_free(&t);
}
END_TEST

/*
 * a b c a b d a e b a, worked out by hand:
 *  lru, 3 entries: hits at requests 4 (a), 5 (b), 7 (a), 10 (a) = 4
 *  lfu, 3 entries: d evicts c (count 1, least recent), e evicts d; hits 4, 5, 7, 9, 10 = 5
 *  ttl, 3 entries: first in, first out (same lifetime): hits 4, 5, 10 = 3
 *  lru, 2 entries: every request a miss
 *  any policy, 5 entries: everything fits: 10 - 5 distinct = 5
 */
START_TEST(test_replay_by_hand)
{
	static const struct {
		const char *policy;
		uint64_t entries, hits;
	} cases[] = {
	        {"lru", 3, 4}, {"lfu", 3, 5}, {"ttl", 3, 3},     {"lru", 2, 0}, {"lru", 5, 5},
	        {"lfu", 5, 5}, {"ttl", 5, 5}, {"tinylfu", 5, 5}, {"lru", 1, 0}, {"tinylfu", 1, 0},
	};
	struct trace t;
	struct trace_result r;

	read_text("a\nb\nc\na\nb\nd\na\ne\nb\na\n", TRACE_KEYS, &t);
	ck_assert_uint_eq(trace_distinct(&t), 5);
	for (size_t i = 0; i < TC_ARRAY_LEN(cases); i++) {
		ck_assert(
		        trace_replay(&t, cases[i].policy, UINT64_MAX, cases[i].entries, false, &r));
		ck_assert_uint_eq(r.requests, 10);
		ck_assert_msg(r.hits == cases[i].hits, "%s %llu: %llu hits", cases[i].policy,
		              (unsigned long long)cases[i].entries, (unsigned long long)r.hits);
	}
	ck_assert(!trace_replay(&t, "fifo", UINT64_MAX, 3, false, &r));
	trace_free(&t);
}
END_TEST

/* With sizes, a byte bound that holds one 60000-byte response at a time gets no hits. */
START_TEST(test_replay_sizes)
{
	struct trace t;
	struct trace_result r;

	read_text("h - - [d] \"GET /a HTTP/1.1\" 200 60000\n"
	          "h - - [d] \"GET /b HTTP/1.1\" 200 60000\n"
	          "h - - [d] \"GET /a HTTP/1.1\" 200 60000\n"
	          "h - - [d] \"GET /b HTTP/1.1\" 200 60000\n"
	          "h - - [d] \"GET /huge HTTP/1.1\" 200 9000000\n",
	          TRACE_ACCESS_LOG, &t);
	ck_assert(trace_replay(&t, "lru", 100000, UINT64_MAX, true, &r));
	ck_assert_uint_eq(r.hits, 0);
	ck_assert(trace_replay(&t, "lru", 200000, UINT64_MAX, true, &r));
	ck_assert_uint_eq(r.hits, 2);
	ck_assert(trace_replay(&t, "lru", 100000, UINT64_MAX, false, &r)); /* sizes ignored */
	ck_assert_uint_eq(r.hits, 2);
	ck_assert_uint_eq(r.requests, 5);
	trace_free(&t);
}
END_TEST

static Suite *
trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_read_keys);
	tcase_add_test(tc, test_parse_access_line);
	tcase_add_test(tc, test_read_access_log);
	tcase_add_test(tc, test_replay_by_hand);
	tcase_add_test(tc, test_replay_sizes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(trace_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
