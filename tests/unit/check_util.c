/* Unit tests of util: buffers, JSON strings, number and size parsing. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

START_TEST(test_buf_grows_and_terminates)
{
	struct buf b = {0};

	for (int i = 0; i < 1000; i++)
		buf_puts(&b, "ab");
	ck_assert_uint_eq(b.len, 2000);
	ck_assert_int_eq(b.data[2000], '\0');
	buf_printf(&b, "%d-%s", 42, "x");
	ck_assert_str_eq(b.data + 2000, "42-x");
	size_t len;
	char *p = buf_steal(&b, &len);
	ck_assert_uint_eq(len, 2004);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	free(p);
}
END_TEST

START_TEST(test_json_string_escapes)
{
	struct buf b = {0};

	buf_json_string(&b, "a\"b\\c\n\x01");
	ck_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
	buf_free(&b);
}
END_TEST

static const struct {
	const char *in;
	bool ok;
	uint64_t value;
} size_cases[] = {
        {"0", true, 0},
        {"512", true, 512},
        {"1K", true, 1024},
        {"64m", true, UINT64_C(64) << 20},
        {"2G", true, UINT64_C(2) << 30},
        {"", false, 0},
        {"K", false, 0},
        {"-1", false, 0},
        {"1.5M", false, 0},
        {"1KB", false, 0},
        {" 1K", false, 0},
        {"99999999999999999999", false, 0},
        {"18014398509481984K", false, 0}, /* 2^54 K overflows 64 bits */
};

START_TEST(test_parse_size)
{
	uint64_t v = 0;

	ck_assert_msg(util_parse_size(size_cases[_i].in, &v) == size_cases[_i].ok, "case '%s'",
	              size_cases[_i].in);
	if (size_cases[_i].ok)
		ck_assert_msg(v == size_cases[_i].value, "case '%s'", size_cases[_i].in);
}
END_TEST

START_TEST(test_parse_u64_bounds)
{
	uint64_t v;

	ck_assert(util_parse_u64("1024", 1024, &v) && v == 1024);
	ck_assert(!util_parse_u64("1025", 1024, &v));
	ck_assert(util_parse_u64("18446744073709551615", UINT64_MAX, &v) && v == UINT64_MAX);
	ck_assert(!util_parse_u64("18446744073709551616", UINT64_MAX, &v));
	ck_assert(!util_parse_u64("+1", 10, &v));
	ck_assert(!util_parse_u64(NULL, 10, &v));
}
END_TEST

START_TEST(test_strncaseeq)
{
	ck_assert(util_strncaseeq("max-age", "MAX-AGE", 7));
	ck_assert(!util_strncaseeq("max-age", "MAX-AG", 6));
	ck_assert(!util_strncaseeq("max", "max-age", 7));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_buf_grows_and_terminates);
	tcase_add_test(tc, test_json_string_escapes);
	tcase_add_loop_test(tc, test_parse_size, 0, TC_ARRAY_LEN(size_cases));
	tcase_add_test(tc, test_parse_u64_bounds);
	tcase_add_test(tc, test_strncaseeq);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
