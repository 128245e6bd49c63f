/*
 * check_cachecontrol: Cache-Control parsing. Each case gives an input and the whole expected
 * struct cache_control; every field is compared and a failure names the case and the field.
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cachecontrol.h"

#define SET(v)                                                                                     \
	{                                                                                          \
		CC_SET, (v)                                                                        \
	}
#define INVALID                                                                                    \
	{                                                                                          \
		CC_INVALID, 0                                                                      \
	}
#define BIG CC_DELTA_MAX

static const struct {
	const char *in;
	struct cache_control want;
} cc_cases[] = {
        /* nothing */
        {NULL, {.any = false}},
        {"", {.any = false}},
        {" , ,", {.any = false}},
        /* each boolean directive */
        {"no-store", {.no_store = true, .any = true}},
        {"no-cache", {.no_cache = true, .any = true}},
        {"no-transform", {.no_transform = true, .any = true}},
        {"public", {.public_ = true, .any = true}},
        {"private", {.private_ = true, .any = true}},
        {"must-revalidate", {.must_revalidate = true, .any = true}},
        {"proxy-revalidate", {.proxy_revalidate = true, .any = true}},
        {"must-understand", {.must_understand = true, .any = true}},
        {"immutable", {.immutable = true, .any = true}},
        {"only-if-cached", {.only_if_cached = true, .any = true}},
        /* each delta-seconds directive */
        {"max-age=60", {.max_age = SET(60), .any = true}},
        {"s-maxage=0", {.s_maxage = SET(0), .any = true}},
        {"stale-while-revalidate=30", {.stale_while_revalidate = SET(30), .any = true}},
        {"stale-if-error=86400", {.stale_if_error = SET(86400), .any = true}},
        {"max-stale=5", {.max_stale = SET(5), .any = true}},
        {"max-stale", {.max_stale = SET(BIG), .any = true}},
        {"min-fresh=10", {.min_fresh = SET(10), .any = true}},
        /* names are case-insensitive */
        {"NO-STORE", {.no_store = true, .any = true}},
        {"Max-Age=7", {.max_age = SET(7), .any = true}},
        {"S-MaxAge=8", {.s_maxage = SET(8), .any = true}},
        {"Public, Must-Revalidate", {.public_ = true, .must_revalidate = true, .any = true}},
        /* quoting */
        {"max-age=\"60\"", {.max_age = SET(60), .any = true}},
        {"max-age=\"6\\0\"", {.max_age = SET(60), .any = true}},
        {"max-age=\"\"", {.max_age = INVALID, .any = true}},
        {"max-age=\"6 0\"", {.max_age = INVALID, .any = true}},
        {"max-age=\"60", {.max_age = INVALID, .any = true}},
        {"max-age=\"60\"x", {.max_age = INVALID, .any = true}},
        /* qualified no-cache / private (a field list): only those fields are restricted */
        {"no-cache=\"Set-Cookie\"", {.no_cache_fields = true, .any = true}},
        {"no-cache=\"Set-Cookie, Set-Cookie2\", max-age=5",
         {.no_cache_fields = true, .max_age = SET(5), .any = true}},
        {"private=\"x\"", {.private_fields = true, .any = true}},
        {"private=\"a, \\\"b\", public", {.private_ = true, .public_ = true, .any = true}},
        {"no-cache=Set-Cookie", {.no_cache_fields = true, .any = true}},
        {"No-Cache=\"a\", no-cache", {.no_cache = true, .no_cache_fields = true, .any = true}},
        /* ... with a malformed argument they are the unqualified directive (conservative) */
        {"no-cache=\"a", {.no_cache = true, .any = true}},
        /* ... and so with members that are not field names (found by fuzz_cachecontrol: an
         * unterminated quote swallowing a second copy of the field must not weaken it) */
        {"no-cache=\", x, no-cache=\"", {.no_cache = true, .any = true}},
        {"no-cache=\"a=b\"", {.no_cache = true, .any = true}},
        {"private=\"a\xff\"", {.private_ = true, .any = true}},
        {"no-cache=", {.no_cache = true, .any = true}},
        {"private=a b", {.private_ = true, .any = true}},
        {"private=\"a\"x", {.private_ = true, .any = true}},
        /* malformed delta-seconds */
        {"max-age", {.max_age = INVALID, .any = true}},
        {"max-age=", {.max_age = INVALID, .any = true}},
        {"max-age=-1", {.max_age = INVALID, .any = true}},
        {"max-age=+5", {.max_age = INVALID, .any = true}},
        {"max-age=1.5", {.max_age = INVALID, .any = true}},
        {"max-age=5s", {.max_age = INVALID, .any = true}},
        {"max-age=0x10", {.max_age = INVALID, .any = true}},
        {"max-age=5;x", {.max_age = INVALID, .any = true}},
        {"max-age 5", {.max_age = INVALID, .any = true}},
        {"max-age=5 6", {.max_age = INVALID, .any = true}},
        {"s-maxage=abc, max-age=10", {.s_maxage = INVALID, .max_age = SET(10), .any = true}},
        {"min-fresh", {.min_fresh = INVALID, .any = true}},
        {"max-stale=", {.max_stale = INVALID, .any = true}},
        {"max-stale=x", {.max_stale = INVALID, .any = true}},
        /* leading zeros and saturation at 2^31 */
        {"max-age=007", {.max_age = SET(7), .any = true}},
        {"max-age=2147483647", {.max_age = SET(2147483647), .any = true}},
        {"max-age=2147483648", {.max_age = SET(BIG), .any = true}},
        {"max-age=2147483649", {.max_age = SET(BIG), .any = true}},
        {"max-age=99999999999999999999999999999", {.max_age = SET(BIG), .any = true}},
        {"s-maxage=\"99999999999999999999\"", {.s_maxage = SET(BIG), .any = true}},
        /* duplicates */
        {"max-age=5, max-age=5", {.max_age = SET(5), .any = true}},
        {"max-age=5, max-age=6", {.max_age = INVALID, .any = true}},
        {"max-age=5, max-age=05", {.max_age = SET(5), .any = true}},
        {"max-age=5, max-age=x, max-age=5", {.max_age = INVALID, .any = true}},
        {"max-age=x, max-age=5", {.max_age = INVALID, .any = true}},
        {"max-age=3000000000, max-age=4000000000", {.max_age = SET(BIG), .any = true}},
        {"max-stale, max-stale=5", {.max_stale = INVALID, .any = true}},
        {"max-stale, max-stale", {.max_stale = SET(BIG), .any = true}},
        {"no-store, no-store", {.no_store = true, .any = true}},
        /* joined lines (the caller joins several Cache-Control lines with ", ") */
        {"max-age=60, public", {.max_age = SET(60), .public_ = true, .any = true}},
        {"private, max-age=0, no-cache",
         {.private_ = true, .max_age = SET(0), .no_cache = true, .any = true}},
        /* arguments on directives that take none */
        {"no-store=1", {.no_store = true, .any = true}},
        {"must-revalidate=\"yes\"", {.must_revalidate = true, .any = true}},
        {"no-store junk", {.no_store = true, .any = true}},
        {"public=yes", {.any = true}},
        {"immutable=1", {.any = true}},
        {"must-understand=1", {.any = true}},
        {"only-if-cached x", {.any = true}},
        {"public;x", {.any = true}},
        /* unknown extensions and garbage */
        {"community=\"UCI\"", {.any = true}},
        {"x-ext, max-age=3", {.max_age = SET(3), .any = true}},
        {"no-storex", {.any = true}},
        {"max-ages=5", {.any = true}},
        {"=5", {.any = false}},
        {"\"quoted\"", {.any = false}},
        {"max-age=5, =, public", {.max_age = SET(5), .public_ = true, .any = true}},
        /* odd whitespace and commas */
        {"  max-age=60  ", {.max_age = SET(60), .any = true}},
        {",,max-age=60,,no-cache,,", {.max_age = SET(60), .no_cache = true, .any = true}},
        {"\tpublic\t,\tmax-age=1", {.public_ = true, .max_age = SET(1), .any = true}},
        /* no whitespace around "=" in the grammar: the value is malformed */
        {"max-age = 60", {.max_age = INVALID, .any = true}},
        {"max-age =100", {.max_age = INVALID, .any = true}},
        {"max-age= 100", {.max_age = INVALID, .any = true}},
        {"max-age=\t60", {.max_age = INVALID, .any = true}},
        {"s-maxage =60, max-age=5", {.s_maxage = INVALID, .max_age = SET(5), .any = true}},
        {"public =1", {.any = true}},
        {"public , , private", {.public_ = true, .private_ = true, .any = true}},
        {"public private", {.any = true}}, /* one malformed element "public private" */
        {"no-cache no-store", {.no_cache = true, .any = true}},
};

static const char *
state_name(enum cc_state s)
{
	return s == CC_ABSENT ? "absent" : s == CC_SET ? "set" : "invalid";
}

static void
check_delta(size_t i, const char *in, const char *field, struct cc_delta got, struct cc_delta want)
{
	ck_assert_msg(got.state == want.state, "case %zu \"%s\": %s is %s, want %s", i,
	              in ? in : "(null)", field, state_name(got.state), state_name(want.state));
	if (want.state == CC_SET)
		ck_assert_msg(got.value == want.value, "case %zu \"%s\": %s = %lld, want %lld", i,
		              in ? in : "(null)", field, (long long)got.value,
		              (long long)want.value);
}

#define CHECK_BOOL(f)                                                                              \
	ck_assert_msg(got.f == want->f, "case %zu \"%s\": " #f " is %d, want %d", i,               \
	              in ? in : "(null)", got.f, want->f)
#define CHECK_DELTA(f) check_delta(i, in, #f, got.f, want->f)

START_TEST(test_parse_table)
{
	for (size_t i = 0; i < sizeof(cc_cases) / sizeof(cc_cases[0]); i++) {
		const char *in = cc_cases[i].in;
		const struct cache_control *want = &cc_cases[i].want;
		struct cache_control got;

		memset(&got, 0x5a, sizeof(got)); /* the parser must zero it */
		cachecontrol_parse(in, &got);
		CHECK_BOOL(no_store);
		CHECK_BOOL(no_cache);
		CHECK_BOOL(no_transform);
		CHECK_DELTA(max_age);
		CHECK_BOOL(public_);
		CHECK_BOOL(private_);
		CHECK_BOOL(must_revalidate);
		CHECK_BOOL(proxy_revalidate);
		CHECK_BOOL(must_understand);
		CHECK_BOOL(immutable);
		CHECK_DELTA(s_maxage);
		CHECK_DELTA(stale_while_revalidate);
		CHECK_DELTA(stale_if_error);
		CHECK_DELTA(max_stale);
		CHECK_DELTA(min_fresh);
		CHECK_BOOL(only_if_cached);
		CHECK_BOOL(any);
	}
}
END_TEST

static void
listed_append(const char *name, size_t len, void *arg)
{
	char *out = arg;

	if (out[0] != '\0')
		strcat(out, "|");
	strncat(out, name, len);
}

/* The fields a qualified no-cache / private names, in order. */
static const struct {
	const char *value;
	const char *names;
} listed_cases[] = {
        {NULL, ""},
        {"max-age=60, no-cache, private", ""},
        {"no-cache=\"a\"", "a"},
        {"no-cache=\"a, b\", max-age=5", "a|b"},
        {"NO-CACHE=\" a ,,b \"", "a|b"},
        {"private=x-secret, no-cache=\"set-cookie\"", "x-secret|set-cookie"},
        {"extension=\"no-cache=a\", max-age=1", ""},
        {"no-cache=\"a", ""},
        {"private=a b", ""},
        {"no-store=\"a\"", ""},
};

START_TEST(test_listed_fields)
{
	char out[128] = "";

	cachecontrol_listed_fields(listed_cases[_i].value, listed_append, out);
	ck_assert_msg(strcmp(out, listed_cases[_i].names) == 0, "%s: got '%s', want '%s'",
	              listed_cases[_i].value ? listed_cases[_i].value : "(null)", out,
	              listed_cases[_i].names);
}
END_TEST

START_TEST(test_everything_at_once)
{
	struct cache_control cc;

	cachecontrol_parse("no-store, no-cache, no-transform, max-age=1, public, private, "
	                   "must-revalidate, proxy-revalidate, must-understand, immutable, "
	                   "s-maxage=2, stale-while-revalidate=3, stale-if-error=4, max-stale=5, "
	                   "min-fresh=6, only-if-cached",
	                   &cc);
	ck_assert(cc.no_store && cc.no_cache && cc.no_transform && cc.public_ && cc.private_);
	ck_assert(cc.must_revalidate && cc.proxy_revalidate && cc.must_understand);
	ck_assert(cc.immutable && cc.only_if_cached && cc.any);
	ck_assert_int_eq(cc.max_age.value, 1);
	ck_assert_int_eq(cc.s_maxage.value, 2);
	ck_assert_int_eq(cc.stale_while_revalidate.value, 3);
	ck_assert_int_eq(cc.stale_if_error.value, 4);
	ck_assert_int_eq(cc.max_stale.value, 5);
	ck_assert_int_eq(cc.min_fresh.value, 6);
}
END_TEST

/* ------------------------------------------------------------- targeted fields (RFC 9213) */

static const struct {
	const char *in;
	bool valid;
	struct cache_control want;
} tgt_cases[] = {
        {NULL, false, {.any = false}},
        {"", false, {.any = false}},
        {"   ", false, {.any = false}},
        {"max-age=60", true, {.max_age = SET(60), .any = true}},
        {"max-age=60, no-store", true, {.max_age = SET(60), .no_store = true, .any = true}},
        {"s-maxage=5,public", true, {.s_maxage = SET(5), .public_ = true, .any = true}},
        {"no-store=?1", true, {.no_store = true, .any = true}},
        {"no-store=?0", true, {.any = true}},
        {"public=?0", true, {.any = true}},
        {"public=1", true, {.any = true}},
        {"private=(\"set-cookie\")", true, {.private_ = true, .any = true}},
        {"no-cache=(\"a\" \"b\"), max-age=1",
         true,
         {.no_cache = true, .max_age = SET(1), .any = true}},
        {"max-age=60;x=1", true, {.max_age = SET(60), .any = true}},
        {"no-store;a;b=\"c\"", true, {.no_store = true, .any = true}},
        {"max-age=10, max-age=20", true, {.max_age = SET(20), .any = true}},
        {"max-age=999999999999999", true, {.max_age = SET(BIG), .any = true}},
        {"stale-while-revalidate=30, stale-if-error=60",
         true,
         {.stale_while_revalidate = SET(30), .stale_if_error = SET(60), .any = true}},
        {"max-age=-1", true, {.max_age = INVALID, .any = true}},
        {"max-age=1.5", true, {.max_age = INVALID, .any = true}},
        {"max-age=\"60\"", true, {.max_age = INVALID, .any = true}},
        {"max-age=abc", true, {.max_age = INVALID, .any = true}},
        {"max-age=?1", true, {.max_age = INVALID, .any = true}},
        {"foo=:aGk=:, max-age=3", true, {.max_age = SET(3), .any = true}},
        {"community=\"x\"", true, {.any = true}},
        /* invalid dictionaries: the whole field is ignored */
        {"Max-Age=60", false, {.any = false}},
        {"max-age=60,", false, {.any = false}},
        {",max-age=60", false, {.any = false}},
        {"max-age=60 no-store", false, {.any = false}},
        {"max-age=1000000000000000", false, {.any = false}},
        {"max-age=\"60", false, {.any = false}},
        {"max-age=", false, {.any = false}},
        {"no-store, max-age=(1", false, {.any = false}},
        {"max-age=60;", false, {.any = false}},
        {"max-age=1.2345", false, {.any = false}},
        {"no-store=?2", false, {.any = false}},
        {"1max-age=5", false, {.any = false}},
};

START_TEST(test_targeted_table)
{
	for (size_t i = 0; i < sizeof(tgt_cases) / sizeof(tgt_cases[0]); i++) {
		const char *in = tgt_cases[i].in;
		const struct cache_control *want = &tgt_cases[i].want;
		struct cache_control got;

		memset(&got, 0x5a, sizeof(got));
		bool valid = cachecontrol_parse_targeted(in, &got);
		ck_assert_msg(valid == tgt_cases[i].valid, "case %zu \"%s\": valid %d", i,
		              in ? in : "(null)", valid);
		CHECK_BOOL(no_store);
		CHECK_BOOL(no_cache);
		CHECK_DELTA(max_age);
		CHECK_BOOL(public_);
		CHECK_BOOL(private_);
		CHECK_DELTA(s_maxage);
		CHECK_DELTA(stale_while_revalidate);
		CHECK_DELTA(stale_if_error);
		CHECK_BOOL(any);
	}
}
END_TEST

static Suite *
cachecontrol_suite(void)
{
	Suite *s = suite_create("cachecontrol");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_parse_table);
	tcase_add_test(tc, test_everything_at_once);
	tcase_add_loop_test(tc, test_listed_fields, 0,
	                    (int)(sizeof(listed_cases) / sizeof(listed_cases[0])));
	tcase_add_test(tc, test_targeted_table);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cachecontrol_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
