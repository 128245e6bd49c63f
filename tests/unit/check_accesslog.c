/*
 * check_accesslog: the access log's pure parts. The cache status word of every Cache-Status
 * value the proxy writes (table-driven); the line format (Combined Log Format, escapes, "-"
 * for missing values, cut long fields, IPv6 clients); and that tiercache-replay's reader
 * (trace_parse_access_line) reads the URL and size back from a formatted line. The writer
 * thread, the ring and reopening are tested against the real binary (t_accesslog.sh).
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog.h"
#include "trace.h"

START_TEST(test_cache_status)
{
	static const struct {
		const char *cs;
		const char *word;
	} cases[] = {
	        {"tiercache; hit; ttl=10", "HIT"},
	        {"tiercache; hit; ttl=10; detail=memcached", "HIT_MEMCACHED"},
	        {"tiercache; hit; ttl=10; detail=memcached-fallback", "HIT_MEMCACHED"},
	        {"tiercache; fwd=miss; fwd-status=200; stored; ttl=10", "MISS"},
	        {"tiercache; fwd=uri-miss; fwd-status=200; stored; ttl=10", "MISS"},
	        {"tiercache; fwd=vary-miss; fwd-status=200; stored; ttl=10", "MISS"},
	        {"tiercache; fwd=vary-miss; fwd-status=304; stored; ttl=10", "MISS"},
	        {"tiercache; fwd=request; fwd-status=200; stored; ttl=10", "PASS"},
	        {"tiercache; fwd=miss; fwd-status=200; detail=no-store", "MISS"},
	        {"tiercache; fwd=miss; fwd-status=200; collapsed=?0", "MISS"},
	        {"tiercache; fwd=miss; fwd-status=200; collapsed; ttl=9", "COLLAPSED"},
	        {"tiercache; fwd=stale; fwd-status=304; stored; ttl=10", "REVALIDATED"},
	        {"tiercache; fwd=stale; fwd-status=200; stored", "STALE"},
	        {"tiercache; fwd=method; fwd-status=201", "PASS"},
	        {"tiercache; fwd=request; fwd-status=200", "PASS"},
	        {"tiercache; fwd=miss; detail=origin-timeout", "ERROR"},
	        {"tiercache; fwd=miss; detail=origin-unreachable; collapsed", "ERROR"},
	        {"tiercache; fwd=method; detail=shutdown", "ERROR"},
	        /* our member is the last one: an upstream cache's members come first */
	        {"OtherCache; hit, tiercache; fwd=miss; fwd-status=200", "MISS"},
	        {"tiercache; hit, tiercache; fwd=stale; fwd-status=304", "REVALIDATED"},
	        {"tiercachex; hit", "-"},
	        {"OtherCache; hit", "-"},
	        {"", "-"},
	        {NULL, "-"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(strcmp(accesslog_cache_status(cases[i].cs), cases[i].word) == 0,
		              "'%s': got %s, expected %s", cases[i].cs ? cases[i].cs : "(null)",
		              accesslog_cache_status(cases[i].cs), cases[i].word);
}
END_TEST

/* A client address 127.0.0.1 (or ::1 with v6). */
static struct sockaddr_storage
client(bool v6)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	return ss;
}

START_TEST(test_format)
{
	struct sockaddr_storage ss = client(false);
	struct accesslog_entry e = {
	        .client = (struct sockaddr *)&ss,
	        .when = 1795342800, /* 2026-11-22 10:20:00 UTC */
	        .method = "GET",
	        .target = "/a?b=1",
	        .version = "HTTP/1.1",
	        .status = 200,
	        .bytes = 512,
	        .referer = "http://r/",
	        .user_agent = "curl/7.88.1",
	        .cache_status = "tiercache; hit; ttl=3",
	        .origin_ms = -1,
	};
	char line[4096];
	size_t n = accesslog_format(line, sizeof(line), &e);

	ck_assert_str_eq(line, "127.0.0.1 - - [22/Nov/2026:10:20:00 +0000] \"GET /a?b=1 HTTP/1.1\" "
	                       "200 512 \"http://r/\" \"curl/7.88.1\" HIT -\n");
	ck_assert_uint_eq(n, strlen(line));

	/* no body, no referer or user agent, an origin time, an IPv6 client, HTTP/1.0 */
	ss = client(true);
	e.bytes = 0;
	e.referer = NULL;
	e.user_agent = NULL;
	e.version = "HTTP/1.0";
	e.method = "HEAD";
	e.cache_status = "tiercache; fwd=miss; fwd-status=200; stored; ttl=60";
	e.origin_ms = 42;
	accesslog_format(line, sizeof(line), &e);
	ck_assert_str_eq(line, "::1 - - [22/Nov/2026:10:20:00 +0000] \"HEAD /a?b=1 HTTP/1.0\" "
	                       "200 - \"-\" \"-\" MISS 42\n");

	/* quotes, backslashes and bytes outside printable ASCII are escaped everywhere */
	e.target = "/q\"\\";
	e.user_agent = "a\"b\\c\x01\xff";
	e.referer = "tab\there";
	e.cache_status = NULL;
	e.status = 502;
	accesslog_format(line, sizeof(line), &e);
	ck_assert_str_eq(line,
	                 "::1 - - [22/Nov/2026:10:20:00 +0000] \"HEAD /q\\x22\\x5c HTTP/1.0\" "
	                 "502 - \"tab\\x09here\" \"a\\x22b\\x5cc\\x01\\xff\" - 42\n");
}
END_TEST

START_TEST(test_long_fields)
{
	struct sockaddr_storage ss = client(false);
	char *target = malloc(20001), *ua = malloc(20001), line[4096];
	struct accesslog_entry e = {
	        .client = (struct sockaddr *)&ss,
	        .method = "GET",
	        .status = 200,
	        .bytes = 7,
	        .origin_ms = 3,
	};

	memset(target, 'x', 20000);
	target[0] = '/';
	target[20000] = '\0';
	memset(ua, '"', 20000); /* each escapes to 4 bytes */
	ua[20000] = '\0';
	e.target = target;
	e.user_agent = ua;
	e.referer = ua;
	size_t n = accesslog_format(line, sizeof(line), &e);
	ck_assert_uint_lt(n, sizeof(line));
	ck_assert_uint_eq(strlen(line), n);
	ck_assert_int_eq(line[n - 1], '\n');
	ck_assert_ptr_null(memchr(line, '\n', n - 1));
	/* cut fields, but the line keeps all its fields, to the end */
	const char *tail = " - 3\n";
	ck_assert_str_eq(line + n - strlen(tail), tail);

	/* the replay reader takes the URL and size back */
	const char *url;
	size_t url_len;
	uint64_t size;
	ck_assert(trace_parse_access_line(line, n - 1, &url, &url_len, &size));
	ck_assert_uint_eq(size, 7);
	ck_assert_int_eq(url[0], '/');
	free(target);
	free(ua);
}
END_TEST

START_TEST(test_replay_reads_it)
{
	static const struct {
		const char *method, *target;
		uint64_t bytes;
		bool read; /* tiercache-replay takes GET and HEAD lines only */
	} cases[] = {
	        {"GET", "/a?x=1", 10, true}, {"HEAD", "/a?x=1", 0, true},
	        {"GET", "/q\"s", 3, true},   {"POST", "/p", 5, false},
	        {"PURGE", "/a", 0, false},   {"GET", "/big", 123456789, true},
	};
	struct sockaddr_storage ss = client(true);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct accesslog_entry e = {
		        .client = (struct sockaddr *)&ss,
		        .when = 0,
		        .method = cases[i].method,
		        .target = cases[i].target,
		        .status = 200,
		        .bytes = cases[i].bytes,
		        .user_agent = "ua with spaces",
		        .cache_status = "tiercache; hit",
		        .origin_ms = -1,
		};
		char line[4096];
		size_t n = accesslog_format(line, sizeof(line), &e);
		const char *url;
		size_t url_len;
		uint64_t size;
		bool read = trace_parse_access_line(line, n - 1, &url, &url_len, &size);

		ck_assert_msg(read == cases[i].read, "case %zu: %s", i, line);
		if (!read)
			continue;
		ck_assert_uint_eq(size, cases[i].bytes);
		if (strchr(cases[i].target, '"') == NULL)
			ck_assert_int_eq(strncmp(url, cases[i].target, url_len), 0);
		ck_assert_uint_eq(url_len, strchr(cases[i].target, '"') ? strlen("/q\\x22s")
		                                                        : strlen(cases[i].target));
	}
}
END_TEST

static Suite *
accesslog_suite(void)
{
	Suite *s = suite_create("accesslog");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_cache_status);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_long_fields);
	tcase_add_test(tc, test_replay_reads_it);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(accesslog_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
