/*
 * check_acl: the allow list. Parsing (separators, bare addresses, prefixes, precise causes for
 * bad input) and matching (IPv4, IPv6, IPv4-mapped IPv6 clients, prefix boundaries).
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "acl.h"

/* A socket address for a literal IPv4 or IPv6 address. */
static struct sockaddr_storage
addr(const char *s)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(s, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(4321);
		ck_assert_int_eq(inet_pton(AF_INET6, s, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(4321);
		ck_assert_int_eq(inet_pton(AF_INET, s, &sin->sin_addr), 1);
	}
	return ss;
}

/* Whether list (which must parse) allows client. */
static bool
allows(const char *list, const char *client)
{
	char *cause = NULL;
	struct acl *a = acl_parse(list, &cause);
	struct sockaddr_storage ss = addr(client);
	bool ok;

	ck_assert_msg(a != NULL, "'%s' did not parse: %s", list, cause);
	ok = acl_allows(a, (const struct sockaddr *)&ss);
	acl_destroy(a);
	return ok;
}

/* The cause acl_parse gives for list (which must be rejected). */
static char *
cause_of(const char *list)
{
	char *cause = NULL;
	struct acl *a = acl_parse(list, &cause);

	ck_assert_msg(a == NULL, "'%s' was accepted", list);
	ck_assert_ptr_nonnull(cause);
	return cause;
}

#define ck_assert_cause(list, text)                                                                \
	do {                                                                                       \
		char *c_ = cause_of(list);                                                         \
		ck_assert_msg(strstr(c_, text) != NULL, "cause for '%s' is '%s', wanted '%s'",     \
		              list, c_, text);                                                     \
		free(c_);                                                                          \
	} while (0)

START_TEST(test_ipv4)
{
	ck_assert(allows("10.1.2.0/24", "10.1.2.0"));
	ck_assert(allows("10.1.2.0/24", "10.1.2.255"));
	ck_assert(!allows("10.1.2.0/24", "10.1.3.0"));
	ck_assert(!allows("10.1.2.0/24", "10.1.1.255"));
	ck_assert(allows("192.168.0.0/16", "192.168.200.7"));
	ck_assert(!allows("192.168.0.0/16", "192.169.0.1"));
	/* a prefix that does not end on a byte boundary */
	ck_assert(allows("172.16.0.0/12", "172.31.255.255"));
	ck_assert(!allows("172.16.0.0/12", "172.32.0.0"));
	ck_assert(!allows("172.16.0.0/12", "172.15.255.255"));
	/* an IPv4 rule never matches an IPv6 client that is not IPv4-mapped */
	ck_assert(!allows("0.0.0.0/0", "::1"));
}
END_TEST

START_TEST(test_ipv6)
{
	ck_assert(allows("::1/128", "::1"));
	ck_assert(!allows("::1/128", "::2"));
	ck_assert(allows("2001:db8::/32", "2001:db8:ffff::1"));
	ck_assert(!allows("2001:db8::/32", "2001:db9::1"));
	ck_assert(allows("fe80::/10", "febf::1"));
	ck_assert(!allows("fe80::/10", "fec0::1"));
	ck_assert(!allows("::/0", "127.0.0.1"));
	ck_assert(allows("::/0", "2001:db8::1"));
}
END_TEST

START_TEST(test_v4_mapped)
{
	/* an IPv4 client seen on a dual-stack socket */
	ck_assert(allows("127.0.0.1/32", "::ffff:127.0.0.1"));
	ck_assert(allows("10.0.0.0/8", "::ffff:10.200.3.4"));
	ck_assert(!allows("10.0.0.0/8", "::ffff:11.0.0.1"));
	ck_assert(!allows("::1/128", "::ffff:127.0.0.1"));
	/* a rule written as IPv4-mapped IPv6 serves IPv4 clients of both kinds */
	ck_assert(allows("::ffff:10.0.0.0/104", "10.1.2.3"));
	ck_assert(allows("::ffff:10.0.0.0/104", "::ffff:10.1.2.3"));
	ck_assert(!allows("::ffff:10.0.0.0/104", "11.1.2.3"));
	ck_assert(allows("::ffff:192.0.2.1", "192.0.2.1"));
}
END_TEST

START_TEST(test_prefix_boundaries)
{
	ck_assert(allows("0.0.0.0/0", "0.0.0.0"));
	ck_assert(allows("0.0.0.0/0", "255.255.255.255"));
	ck_assert(allows("1.2.3.4/32", "1.2.3.4"));
	ck_assert(!allows("1.2.3.4/32", "1.2.3.5"));
	ck_assert(!allows("1.2.3.4/32", "1.2.3.3"));
	ck_assert(allows("::/0", "::"));
	ck_assert(allows("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	ck_assert(allows("2001:db8::5/128", "2001:db8::5"));
	ck_assert(!allows("2001:db8::5/128", "2001:db8::4"));
	ck_assert(!allows("2001:db8::5/128", "2001:db8::5:0"));
	ck_assert(allows("10.0.0.0/31", "10.0.0.1"));
	ck_assert(!allows("10.0.0.0/31", "10.0.0.2"));
	ck_assert(allows("2001:db8::/127", "2001:db8::1"));
	ck_assert(!allows("2001:db8::/127", "2001:db8::2"));
}
END_TEST

START_TEST(test_bare_addresses_and_lists)
{
	const char *list = "192.0.2.7, 2001:db8::7 198.51.100.0/24,203.0.113.9";

	ck_assert(allows("192.0.2.7", "192.0.2.7"));
	ck_assert(!allows("192.0.2.7", "192.0.2.8"));
	ck_assert(!allows("192.0.2.7", "192.0.2.6"));
	ck_assert(allows("2001:db8::7", "2001:db8::7"));
	ck_assert(!allows("2001:db8::7", "2001:db8::8"));
	/* commas, blanks, or both separate elements; a list matches any of them */
	ck_assert(allows(list, "192.0.2.7"));
	ck_assert(allows(list, "2001:db8::7"));
	ck_assert(allows(list, "198.51.100.200"));
	ck_assert(allows(list, "203.0.113.9"));
	ck_assert(!allows(list, "203.0.113.10"));
	ck_assert(!allows(list, "192.0.2.8"));
	ck_assert(allows("  127.0.0.1/32 ,\t::1/128  ", "::1"));
}
END_TEST

START_TEST(test_long_list)
{
	char list[8192] = "";
	size_t n = 0;

	for (int i = 0; i < 250; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s10.%d.%d.0/24", i ? ", " : "",
		                      i / 16, i % 16);
	ck_assert_uint_gt(n, 1000);
	ck_assert(allows(list, "10.0.0.1"));
	ck_assert(allows(list, "10.15.9.200"));
	ck_assert(!allows(list, "10.15.10.1"));
}
END_TEST

START_TEST(test_bad_input)
{
	ck_assert_cause("10.0.0.0/33",
	                "'10.0.0.0/33': the prefix length must be a number from 0 to 32");
	ck_assert_cause("::/129", "'::/129': the prefix length must be a number from 0 to 128");
	ck_assert_cause("10.0.0.0/", "'10.0.0.0/': the prefix length must be a number");
	ck_assert_cause("10.0.0.0/-1", "'10.0.0.0/-1': the prefix length must be a number");
	ck_assert_cause("10.0.0.0/8x", "'10.0.0.0/8x': the prefix length must be a number");
	ck_assert_cause("300.1.1.1", "'300.1.1.1': not an IPv4 or IPv6 address");
	ck_assert_cause("abc", "'abc': not an IPv4 or IPv6 address");
	ck_assert_cause("1.2.3", "'1.2.3': not an IPv4 or IPv6 address");
	ck_assert_cause("abc/8", "'abc/8': not an IPv4 or IPv6 address");
	ck_assert_cause("127.0.0.1/32, ::1/128, nope", "'nope': not an IPv4 or IPv6 address");
	ck_assert_cause("10.0.0.1/8", "'10.0.0.1/8': the address has bits set after the /8 prefix "
	                              "(did you mean 10.0.0.0/8?)");
	ck_assert_cause("2001:db8::1/32", "did you mean 2001:db8::/32?");
	/* empty elements */
	ck_assert_cause("", "the list is empty");
	ck_assert_cause("  ", "the list is empty");
	ck_assert_cause("127.0.0.1,,::1", "element 2 is empty");
	ck_assert_cause("127.0.0.1, , ::1", "element 2 is empty");
	ck_assert_cause(",127.0.0.1", "element 1 is empty");
	ck_assert_cause("127.0.0.1,", "element 2 is empty");
	ck_assert_cause("127.0.0.1 ::1 ,", "element 3 is empty");
}
END_TEST

START_TEST(test_cause_optional_and_null)
{
	struct sockaddr_storage ss = addr("127.0.0.1");
	struct sockaddr_storage un;

	/* a NULL cause pointer is allowed */
	ck_assert_ptr_null(acl_parse("nope", NULL));
	ck_assert_ptr_null(acl_parse(NULL, NULL));
	ck_assert(!acl_allows(NULL, (const struct sockaddr *)&ss));
	/* a family that is neither IPv4 nor IPv6 never matches */
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	struct acl *a = acl_parse("0.0.0.0/0 ::/0", NULL);
	ck_assert_ptr_nonnull(a);
	ck_assert(!acl_allows(a, (const struct sockaddr *)&un));
	ck_assert(acl_allows(a, (const struct sockaddr *)&ss));
	acl_destroy(a);
	acl_destroy(NULL);
}
END_TEST

static Suite *
acl_suite(void)
{
	Suite *s = suite_create("acl");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_ipv4);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_v4_mapped);
	tcase_add_test(tc, test_prefix_boundaries);
	tcase_add_test(tc, test_bare_addresses_and_lists);
	tcase_add_test(tc, test_long_list);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_cause_optional_and_null);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(acl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
