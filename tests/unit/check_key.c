/*
 * check_key: primary keys (method class, host case, target untouched) and Vary keys
 * (normalization of names and values, "Vary: *", absent versus empty headers).
 * Table-driven; request headers are written as "Name: value" lines separated by '\n'.
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"

static void
headers_from(struct http_headers *h, const char *lines)
{
	const char *p = lines;

	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl : p + strlen(p);
		const char *colon = memchr(p, ':', (size_t)(end - p));
		ck_assert_msg(colon != NULL, "bad test header line in \"%s\"", lines);
		const char *v = colon + 1;
		if (*v == ' ')
			v++; /* one separator space; the rest of the value is kept as written */
		http_headers_addn(h, p, (size_t)(colon - p), v, (size_t)(end - v));
		p = nl ? nl + 1 : end;
	}
}

/* ------------------------------------------------------------------------- key_build */

static const struct {
	const char *host;
	const char *target;
	const char *want;
} build_cases[] = {
        {"example.com", "/", "GET example.com /"},
        {"Example.COM", "/a", "GET example.com /a"},
        {"EXAMPLE.com:8080", "/x?y=1", "GET example.com:8080 /x?y=1"},
        {NULL, "/a", "GET  /a"},
        {"", "/a", "GET  /a"},
        {"h", "/A/B?Q=Z", "GET h /A/B?Q=Z"},         /* target case kept */
        {"h", "/a/../b", "GET h /a/../b"},           /* no dot-segment removal */
        {"h", "/a%2Fb?x=%41", "GET h /a%2Fb?x=%41"}, /* no percent decoding */
        {"h", "/a?b=1&a=2", "GET h /a?b=1&a=2"},     /* no query sorting */
        {"h", "/a?", "GET h /a?"},                   /* empty query kept */
        {"h", "//double//slash", "GET h //double//slash"},
        {"h", "http://other/x", "GET h http://other/x"},
        {"h", NULL, "GET h "},
};

START_TEST(test_key_build)
{
	for (size_t i = 0; i < sizeof(build_cases) / sizeof(build_cases[0]); i++) {
		char *k = key_build(build_cases[i].host, build_cases[i].target);
		ck_assert_msg(strcmp(k, build_cases[i].want) == 0, "case %zu: \"%s\", want \"%s\"",
		              i, k, build_cases[i].want);
		free(k);
	}
}
END_TEST

START_TEST(test_key_build_distinct)
{
	/* keys that must differ */
	static const char *pairs[][4] = {
	        {"a.com", "/x", "b.com", "/x"},     {"a.com", "/x", "a.com", "/X"},
	        {"a.com", "/x?1", "a.com", "/x?2"}, {"a.com", "/x", "a.com", "/x?"},
	        {"a.com", "/x", "a.com", "/x/"},    {"a.com:80", "/x", "a.com", "/x"},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char *a = key_build(pairs[i][0], pairs[i][1]);
		char *b = key_build(pairs[i][2], pairs[i][3]);
		ck_assert_msg(strcmp(a, b) != 0, "pair %zu: both \"%s\"", i, a);
		free(a);
		free(b);
	}
}
END_TEST

/* ------------------------------------------------------------------------- key_vary */

#define ABSENT "\x01"

static const struct {
	const char *name;
	const char *vary;
	const char *req;
	const char *want; /* NULL: no key */
	bool never;
} vary_cases[] = {
        {"no Vary", NULL, "Accept: x", NULL, false},
        {"empty Vary", "", "Accept: x", NULL, false},
        {"commas only", " , ,", "Accept: x", NULL, false},
        {"star", "*", "Accept: x", NULL, true},
        {"star in list", "Accept, *", "Accept: x", NULL, true},
        {"star first", "*, Accept", "", NULL, true},
        {"malformed name", "Accept Language", "", NULL, true},
        {"malformed quoted", "\"Accept\"", "", NULL, true},
        {"one header", "Accept", "Accept: text/html", "accept=text/html", false},
        {"name case", "ACCEPT", "accept: text/html", "accept=text/html", false},
        {"absent", "Accept", "Host: h", "accept=" ABSENT, false},
        {"empty", "Accept", "Accept: ", "accept=", false},
        {"blank", "Accept", "Accept:    ", "accept=", false},
        {"sorted", "Accept-Language, Accept", "Accept: a\nAccept-Language: en",
         "accept=a\naccept-language=en", false},
        {"sorted, other spelling", "accept-language,accept", "Accept: a\nAccept-Language: en",
         "accept=a\naccept-language=en", false},
        {"deduplicated", "Accept, accept, ACCEPT", "Accept: a", "accept=a", false},
        {"two lines of Vary joined", "Origin, Accept-Encoding, origin",
         "Origin: https://x\nAccept-Encoding: gzip", "accept-encoding=gzip\norigin=https://x",
         false},
        {"values trimmed", "Accept", "Accept:   text/html  ", "accept=text/html", false},
        {"spaces around commas", "X-List", "X-List: gzip ,  br,deflate", "x-list=gzip,br,deflate",
         false},
        {"tabs around commas", "X-List", "X-List: \tgzip\t,\tbr\t", "x-list=gzip,br", false},
        {"negotiation field sorted", "Accept-Encoding", "Accept-Encoding: gzip ,  BR,deflate",
         "accept-encoding=br,deflate,gzip", false},
        {"Accept sorted, case kept", "Accept", "Accept: text/html;level=1 , Image/PNG",
         "accept=Image/PNG,text/html;level=1", false},
        {"inner spaces kept", "User-Agent", "User-Agent: Mozilla/5.0 (X11;  Linux)",
         "user-agent=Mozilla/5.0 (X11;  Linux)", false},
        {"quoted kept", "X", "X: a, \"b , c\" , d", "x=a,\"b , c\",d", false},
        {"quoted escape", "X", "X: \"a\\\" , b\" , c", "x=\"a\\x5c\" , b\",c", false},
        {"several lines joined", "X", "X: text/html\nHost: h\nX: application/json",
         "x=text/html,application/json", false},
        {"several lines, one empty", "X", "X: a\nX: ", "x=a,", false},
        {"several Accept lines, one empty", "Accept", "Accept: a\nAccept: ", "accept=a", false},
        {"mixed absent and present", "Cookie, Accept", "Accept: a", "accept=a\ncookie=" ABSENT,
         false},
};

START_TEST(test_key_vary)
{
	for (size_t i = 0; i < sizeof(vary_cases) / sizeof(vary_cases[0]); i++) {
		struct http_headers h = {0};
		bool never = !vary_cases[i].never; /* must be written */
		char *k;

		headers_from(&h, vary_cases[i].req);
		k = key_vary(vary_cases[i].vary, &h, &never);
		ck_assert_msg(never == vary_cases[i].never, "case \"%s\": never=%d",
		              vary_cases[i].name, never);
		if (vary_cases[i].want == NULL)
			ck_assert_msg(k == NULL, "case \"%s\": key \"%s\", want none",
			              vary_cases[i].name, k);
		else
			ck_assert_msg(k != NULL && strcmp(k, vary_cases[i].want) == 0,
			              "case \"%s\": key \"%s\", want \"%s\"", vary_cases[i].name,
			              k ? k : "(null)", vary_cases[i].want);
		free(k);
		/* never may be NULL */
		k = key_vary(vary_cases[i].vary, &h, NULL);
		free(k);
		http_headers_clear(&h);
	}
}
END_TEST

START_TEST(test_key_vary_escapes)
{
	struct http_headers h = {0};
	bool never = true;
	char *k;

	http_headers_add(&h, "X",
	                 "a\x01"
	                 "b\nc\\d\x7f");
	http_headers_add(&h, "Y", "\x01");
	k = key_vary("x, y", &h, &never);
	ck_assert(!never);
	ck_assert_str_eq(k, "x=a\\x01b\\x0ac\\x5cd\\x7f\ny=\\x01");
	/* a value of 0x01 is not confused with an absent header */
	free(k);
	http_headers_clear(&h);
	k = key_vary("x, y", &h, &never);
	ck_assert_str_eq(k, "x=" ABSENT "\ny=" ABSENT);
	free(k);
}
END_TEST

/* Pairs of requests that must (or must not) select the same variant under one Vary. */
static const struct {
	const char *name;
	const char *vary_a;
	const char *req_a;
	const char *vary_b;
	const char *req_b;
	bool same;
} pair_cases[] = {
        {"name order", "Accept, Accept-Language", "Accept: a\nAccept-Language: b",
         "accept-language,accept", "Accept-Language: b\nAccept: a", true},
        {"header name case", "Accept", "ACCEPT: a", "accept", "accept: a", true},
        {"list whitespace", "Accept-Encoding", "Accept-Encoding: gzip, br", "Accept-Encoding",
         "Accept-Encoding: gzip,br", true},
        {"one line or two", "Accept-Encoding", "Accept-Encoding: gzip, br", "Accept-Encoding",
         "Accept-Encoding: gzip\nAccept-Encoding: br", true},
        {"value case matters", "Accept", "Accept: A", "Accept", "Accept: a", false},
        {"value order matters", "X-Order", "X-Order: a, b", "X-Order", "X-Order: b, a", false},
        /* RFC 9111 4.1: order carries no meaning in the content-negotiation fields */
        {"Accept-Encoding order", "Accept-Encoding", "Accept-Encoding: gzip, br", "Accept-Encoding",
         "Accept-Encoding: br, gzip", true},
        {"Accept-Language order and case", "Accept-Language", "Accept-Language: en, de",
         "Accept-Language", "Accept-Language: DE,EN", true},
        {"Accept-Language qvalue spacing", "Accept-Language", "Accept-Language: en;q=0.5, de",
         "Accept-Language", "Accept-Language: de, en ; q=0.5", true},
        {"Accept-Language qvalues differ", "Accept-Language", "Accept-Language: en;q=0.5, de",
         "Accept-Language", "Accept-Language: en, de;q=0.5", false},
        {"Accept order", "Accept", "Accept: text/html, application/json", "Accept",
         "Accept: application/json,text/html", true},
        {"Accept-Charset case", "Accept-Charset", "Accept-Charset: UTF-8", "Accept-Charset",
         "Accept-Charset: utf-8", true},
        {"Accept quoted parameter kept", "Accept", "Accept: a/b;p=\"X Y\"", "Accept",
         "Accept: a/b;p=\"XY\"", false},
        {"Accept-Language empty elements", "Accept-Language", "Accept-Language: en,,de",
         "Accept-Language", "Accept-Language: de, en", true},
        {"absent vs empty", "Accept", "", "Accept", "Accept: ", false},
        {"absent vs present", "Accept", "", "Accept", "Accept: */*", false},
        {"unrelated headers ignored", "Accept", "Accept: a\nCookie: 1", "Accept",
         "Accept: a\nCookie: 2", true},
        {"no value shift between names", "A, B", "A: x=1", "A, B", "B: 1\nA: x", false},
};

START_TEST(test_key_vary_pairs)
{
	for (size_t i = 0; i < sizeof(pair_cases) / sizeof(pair_cases[0]); i++) {
		struct http_headers ha = {0}, hb = {0};
		bool na, nb;

		headers_from(&ha, pair_cases[i].req_a);
		headers_from(&hb, pair_cases[i].req_b);
		char *a = key_vary(pair_cases[i].vary_a, &ha, &na);
		char *b = key_vary(pair_cases[i].vary_b, &hb, &nb);
		ck_assert_msg(a != NULL && b != NULL && !na && !nb, "case \"%s\": no key",
		              pair_cases[i].name);
		ck_assert_msg((strcmp(a, b) == 0) == pair_cases[i].same,
		              "case \"%s\": \"%s\" vs \"%s\"", pair_cases[i].name, a, b);
		free(a);
		free(b);
		http_headers_clear(&ha);
		http_headers_clear(&hb);
	}
}
END_TEST

/* ------------------------------------------------------------------------- key_resolve */

static const struct {
	const char *host;
	const char *base;
	const char *uri;
	const char *want; /* NULL: another origin or malformed */
} resolve_cases[] = {
        {"h", "/a/b", "/x", "/x"},
        {"h", "/a/b", "/x?q=1", "/x?q=1"},
        {"h", "/a/b", "c", "/a/c"},
        {"h", "/a/b?z", "c?d", "/a/c?d"},
        {"h", "/a/b", "../c", "/c"},
        {"h", "/a/b", "./c/./d", "/a/c/d"},
        {"h", "/a/b", "../../../c", "/c"},
        {"h", "/a/b", "?q", "/a/b?q"},
        {"h", "/a/b?old", "", "/a/b?old"},
        {"h", "/a/b", "#frag", "/a/b"},
        {"h", "/a/b", "/x#frag", "/x"},
        {"h", "/a/b", "http://h/y", "/y"},
        {"h", "/a/b", "HTTP://H/y", "/y"},
        {"h", "/a/b", "http://h:80/y", "/y"},
        {"h:80", "/a/b", "http://h/y", "/y"},
        {"h", "/a/b", "http://h", "/"},
        {"h", "/a/b", "http://h?q", "/?q"},
        {"h", "/a/b", "//h/z", "/z"},
        {"h:8080", "/a", "http://h:8080/y", "/y"},
        {"h", "/a/b", "http://h/a/../y", "/y"},
        {"h", "/a/b", "http://other/y", NULL},
        {"h", "/a/b", "http://h:8080/y", NULL},
        {"h:8080", "/a", "http://h/y", NULL},
        {"h", "/a/b", "https://h/y", "/y"}, /* keys leave the scheme out */
        {"h", "/a/b", "HTTPS://h:443/y", "/y"},
        {"h", "/a/b", "https://h:80/y", NULL},
        {"h", "/a/b", "ftp://h/y", NULL},
        {"h", "/a/b", "mailto:x@h", NULL},
        {"h", "/a/b", "//other/z", NULL},
        {"h", "/a/b", "/with space", NULL},
        {NULL, "/a/b", "http://h/y", NULL},
        {NULL, "/a/b", "/y", "/y"},
        {"h", "/a/b", "x:y/z", NULL}, /* a scheme "x" */
        {"h", "/a/b", "./x:y", "/a/x:y"},
};

START_TEST(test_key_resolve)
{
	for (size_t i = 0; i < sizeof(resolve_cases) / sizeof(resolve_cases[0]); i++) {
		char *got = key_resolve(resolve_cases[i].host, resolve_cases[i].base,
		                        resolve_cases[i].uri);
		if (resolve_cases[i].want == NULL)
			ck_assert_msg(got == NULL, "case %zu (%s): got \"%s\", want NULL", i,
			              resolve_cases[i].uri, got);
		else
			ck_assert_msg(got != NULL && strcmp(got, resolve_cases[i].want) == 0,
			              "case %zu (%s): got \"%s\", want \"%s\"", i,
			              resolve_cases[i].uri, got ? got : "(null)",
			              resolve_cases[i].want);
		free(got);
	}
}
END_TEST

static Suite *
key_suite(void)
{
	Suite *s = suite_create("key");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_key_build);
	tcase_add_test(tc, test_key_build_distinct);
	tcase_add_test(tc, test_key_vary);
	tcase_add_test(tc, test_key_vary_escapes);
	tcase_add_test(tc, test_key_vary_pairs);
	tcase_add_test(tc, test_key_resolve);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(key_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
