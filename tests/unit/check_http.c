/*
 * check_http: the header list, hop-by-hop rules, HTTP-date parsing and formatting and
 * comma-list iteration. Table-driven: every case carries a name that failures print.
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* ------------------------------------------------------------------------- header list */

START_TEST(test_headers_add_get_count)
{
	struct http_headers h = {0};

	ck_assert_ptr_null(http_headers_get(&h, "Accept"));
	ck_assert_uint_eq(http_headers_count(&h, "Accept"), 0);
	http_headers_add(&h, "Accept", "text/html");
	http_headers_add(&h, "Host", "example.com");
	http_headers_add(&h, "accept", "application/json");
	http_headers_addn(&h, "X-Longer-Name", 5, "valueXYZ", 5);
	ck_assert_uint_eq(h.n, 4);
	ck_assert_str_eq(http_headers_get(&h, "ACCEPT"), "text/html");
	ck_assert_uint_eq(http_headers_count(&h, "Accept"), 2);
	ck_assert_uint_eq(http_headers_count(&h, "host"), 1);
	ck_assert_str_eq(h.v[2].name, "accept"); /* names kept as given */
	ck_assert_str_eq(h.v[3].name, "X-Lon");
	ck_assert_str_eq(h.v[3].value, "value");
	ck_assert_str_eq(http_headers_get(&h, "x-lon"), "value");
	ck_assert_ptr_null(http_headers_get(&h, "Accep"));
	ck_assert_ptr_null(http_headers_get(&h, "Accept-Language"));
	http_headers_clear(&h);
	ck_assert_uint_eq(h.n, 0);
	ck_assert_ptr_null(h.v);
}
END_TEST

/*
 * Names match in any case, and only then: the first bytes are compared folded before the full
 * comparison (http.c), and folding merges a few non-letters ('@' and '`', '[' and '{'), which
 * must still not match.
 */
START_TEST(test_headers_name_case)
{
	static const struct {
		const char *stored, *asked;
		bool same;
	} cases[] = {
	        {"Cache-Control", "cache-control", true},
	        {"cache-control", "CACHE-CONTROL", true},
	        {"ETag", "etag", true},
	        {"X", "x", true},
	        {"Cache-Control", "Pragma", false},
	        {"Cache-Control", "Cache-Controls", false},
	        {"Cache-Control", "Cache-Contro", false},
	        {"@x", "`x", false},
	        {"[x", "{x", false},
	        {"]", "}", false},
	        {"^a", "~a", false},
	        {"1-A", "1-a", true},
	        {"1-A", "\x11-A", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_headers h = {0};
		char *joined;

		http_headers_add(&h, cases[i].stored, "v");
		ck_assert_msg((http_headers_get(&h, cases[i].asked) != NULL) == cases[i].same,
		              "get: %s vs %s", cases[i].stored, cases[i].asked);
		ck_assert_msg(http_headers_count(&h, cases[i].asked) == (cases[i].same ? 1u : 0u),
		              "count: %s vs %s", cases[i].stored, cases[i].asked);
		joined = http_headers_join(&h, cases[i].asked);
		ck_assert_msg((joined != NULL) == cases[i].same, "join: %s vs %s", cases[i].stored,
		              cases[i].asked);
		free(joined);
		ck_assert_msg(http_headers_remove(&h, cases[i].asked) == (cases[i].same ? 1u : 0u),
		              "remove: %s vs %s", cases[i].stored, cases[i].asked);
		http_headers_clear(&h);
	}
}
END_TEST

START_TEST(test_headers_join)
{
	struct http_headers h = {0};
	char *s;

	ck_assert_ptr_null(http_headers_join(&h, "Vary"));
	http_headers_add(&h, "Vary", "Accept");
	http_headers_add(&h, "Other", "x");
	http_headers_add(&h, "VARY", "Accept-Encoding, Origin");
	http_headers_add(&h, "Empty", "");
	s = http_headers_join(&h, "vary");
	ck_assert_str_eq(s, "Accept, Accept-Encoding, Origin");
	free(s);
	s = http_headers_join(&h, "Other");
	ck_assert_str_eq(s, "x");
	free(s);
	s = http_headers_join(&h, "Empty");
	ck_assert_ptr_nonnull(s); /* present but empty is not absent */
	ck_assert_str_eq(s, "");
	free(s);
	ck_assert_ptr_null(http_headers_join(&h, "Missing"));
	http_headers_clear(&h);
}
END_TEST

START_TEST(test_headers_remove_set)
{
	struct http_headers h = {0};

	http_headers_add(&h, "A", "1");
	http_headers_add(&h, "B", "2");
	http_headers_add(&h, "a", "3");
	http_headers_add(&h, "C", "4");
	http_headers_add(&h, "A", "5");
	ck_assert_uint_eq(http_headers_remove(&h, "missing"), 0);
	ck_assert_uint_eq(http_headers_remove(&h, "a"), 3);
	ck_assert_uint_eq(h.n, 2);
	ck_assert_str_eq(h.v[0].name, "B");
	ck_assert_str_eq(h.v[1].name, "C");

	http_headers_add(&h, "D", "x");
	http_headers_add(&h, "c", "y");
	http_headers_set(&h, "C", "z"); /* replaces both C fields, keeps the first position */
	ck_assert_uint_eq(h.n, 3);
	ck_assert_uint_eq(http_headers_count(&h, "c"), 1);
	ck_assert_str_eq(h.v[1].name, "C");
	ck_assert_str_eq(h.v[1].value, "z");
	ck_assert_str_eq(h.v[2].name, "D");
	http_headers_set(&h, "New", "n"); /* absent: appended */
	ck_assert_uint_eq(h.n, 4);
	ck_assert_str_eq(h.v[3].name, "New");
	ck_assert_str_eq(http_headers_get(&h, "new"), "n");
	http_headers_clear(&h);
}
END_TEST

START_TEST(test_headers_copy_size)
{
	struct http_headers a = {0}, b = {0};

	ck_assert_uint_eq(http_headers_size(&a), 0);
	http_headers_add(&a, "Ab", "cde");
	http_headers_add(&a, "X", "");
	ck_assert_uint_eq(http_headers_size(&a), (2 + 1 + 3 + 1) + (1 + 1 + 0 + 1));
	http_headers_copy(&b, &a);
	ck_assert_uint_eq(b.n, 2);
	ck_assert_ptr_ne(b.v[0].name, a.v[0].name); /* deep copy */
	ck_assert_str_eq(b.v[0].name, "Ab");
	ck_assert_str_eq(b.v[0].value, "cde");
	ck_assert_str_eq(b.v[1].name, "X");
	http_headers_clear(&a);
	ck_assert_str_eq(b.v[0].value, "cde");
	http_headers_clear(&b);
}
END_TEST

/* A packed list reads like the original, and every change works on a private copy. */
START_TEST(test_headers_pack)
{
	struct http_headers a = {0}, b = {0};

	http_headers_pack(&a); /* empty: nothing to do */
	ck_assert(!a.packed);
	http_headers_add(&a, "ETag", "\"x\"");
	http_headers_add(&a, "Vary", "a");
	http_headers_add(&a, "vary", "b");
	http_headers_add(&a, "Empty", "");
	size_t size = http_headers_size(&a);
	http_headers_pack(&a);
	ck_assert(a.packed);
	ck_assert_uint_eq(a.n, 4);
	ck_assert_uint_eq(http_headers_size(&a), size);
	ck_assert_str_eq(http_headers_get(&a, "etag"), "\"x\"");
	ck_assert_str_eq(http_headers_get(&a, "EMPTY"), "");
	/* one block: the strings follow the array, except the common names (shared constants) */
	ck_assert_ptr_eq(a.v[0].name, http_common_name("ETag"));
	ck_assert_ptr_eq(a.v[0].value, (char *)(a.v + 4));
	ck_assert_ptr_eq(a.v[1].name, http_common_name("Vary"));
	ck_assert_ptr_eq(a.v[1].value, a.v[0].value + 4);
	ck_assert_ptr_eq(a.v[2].name, a.v[1].value + 2); /* "vary": not the exact spelling */
	ck_assert_str_eq(a.v[2].name, "vary");
	ck_assert_ptr_eq(a.v[2].value, a.v[2].name + 5);
	ck_assert_ptr_eq(a.v[3].name, a.v[2].value + 2);
	ck_assert_ptr_eq(a.v[3].value, a.v[3].name + 6);
	http_headers_copy(&b, &a);
	ck_assert(!b.packed);
	ck_assert_uint_eq(http_headers_remove(&a, "X-None"), 0); /* no change: stays packed */
	ck_assert(a.packed);
	ck_assert_uint_eq(http_headers_remove(&a, "VARY"), 2);
	ck_assert(!a.packed);
	ck_assert_uint_eq(a.n, 2);
	http_headers_pack(&a);
	http_headers_set(&a, "ETag", "\"y\"");
	ck_assert(!a.packed);
	ck_assert_str_eq(http_headers_get(&a, "ETag"), "\"y\"");
	http_headers_pack(&a);
	http_headers_add(&a, "Age", "1");
	ck_assert_uint_eq(a.n, 3);
	ck_assert_str_eq(a.v[1].name, "Empty");
	ck_assert_str_eq(a.v[2].value, "1");
	http_headers_pack(&a);
	http_headers_clear(&a); /* frees the one block (valgrind and ASan check) */
	ck_assert(!a.packed);
	ck_assert_uint_eq(a.n, 0);
	ck_assert_str_eq(http_headers_get(&b, "Vary"), "a");
	http_headers_clear(&b);
}
END_TEST

/* Borrowed strings are read in place, and copied (never written) when the list changes. */
/* Common names: exact spelling only, and a packed list holds no copy of them. */
START_TEST(test_headers_common_names)
{
	static const struct {
		const char *name;
		bool common;
	} cases[] = {
	        {"Date", true},          {"Content-Type", true},
	        {"Cache-Control", true}, {"Content-Length", true},
	        {"ETag", true},          {"Last-Modified", true},
	        {"date", false},         {"DATE", false},
	        {"Etag", false},         {"X-Date", false},
	        {"Dat", false},          {"", false},
	        {"Connection", false},   {"Cache-Control ", false},
	};
	struct http_headers common = {0}, other = {0};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *c = http_common_name(cases[i].name);
		ck_assert_msg((c != NULL) == cases[i].common, "%s", cases[i].name);
		if (c != NULL) {
			ck_assert_str_eq(c, cases[i].name);
			ck_assert_ptr_eq(c, http_common_name(cases[i].name)); /* one constant */
		}
		/* the one-byte code of packed forms: below 32, and back to the same constant */
		unsigned code = http_common_code(cases[i].name);
		ck_assert((code != 0) == cases[i].common);
		ck_assert_uint_lt(code, 32);
		ck_assert_ptr_eq(http_common_name_of(code), c);
	}
	ck_assert_ptr_null(http_common_name_of(0));
	ck_assert_ptr_null(http_common_name_of(31));
	for (unsigned code = 1; http_common_name_of(code) != NULL; code++)
		ck_assert_uint_eq(http_common_code(http_common_name_of(code)), code);
	/* the same fields, spelled so that none is common: the names cost their bytes */
	http_headers_add(&common, "Date", "Sun, 22 Nov 2026 00:00:00 GMT");
	http_headers_add(&common, "Cache-Control", "max-age=60");
	http_headers_add(&common, "Content-Type", "text/plain");
	http_headers_add(&other, "date", "Sun, 22 Nov 2026 00:00:00 GMT");
	http_headers_add(&other, "cache-control", "max-age=60");
	http_headers_add(&other, "content-type", "text/plain");
	ck_assert_uint_eq(http_headers_packed_size(&common) % 8, 0);
	ck_assert_uint_le(http_headers_packed_size(&common) + 5 + 14 + 13 - 7,
	                  http_headers_packed_size(&other));
	http_headers_pack(&common);
	http_headers_pack(&other);
	ck_assert_str_eq(http_headers_get(&common, "CACHE-CONTROL"), "max-age=60");
	ck_assert_str_eq(http_headers_get(&other, "Content-Type"), "text/plain");
	ck_assert_str_eq(common.v[0].name, "Date");
	/* a change copies every string: the list then owns its names */
	http_headers_set(&common, "Date", "Mon, 23 Nov 2026 00:00:00 GMT");
	ck_assert(!common.packed);
	ck_assert_ptr_ne(common.v[1].name, http_common_name("Cache-Control"));
	ck_assert_str_eq(common.v[1].name, "Cache-Control");
	http_headers_clear(&common);
	http_headers_clear(&other);
}
END_TEST

START_TEST(test_headers_borrowed)
{
	char name[] = "Host", value[] = "example.com";
	struct http_headers a = {0};

	http_headers_add_borrowed(&a, name, value);
	http_headers_add_borrowed(&a, "Accept", "*/*");
	ck_assert(a.packed && !a.borrowed);
	ck_assert_ptr_eq(http_headers_get(&a, "host"), value); /* no copy */
	http_headers_set(&a, "Accept", "text/html");
	ck_assert(!a.packed);
	ck_assert_ptr_ne(a.v[0].value, value);  /* copied before the change */
	ck_assert_str_eq(value, "example.com"); /* and the original is untouched */
	ck_assert_str_eq(http_headers_get(&a, "Accept"), "text/html");
	http_headers_clear(&a);

	http_headers_add_borrowed(&a, name, value);
	http_headers_clear(&a); /* frees the array only (ASan and valgrind check) */
	ck_assert_str_eq(name, "Host");
}
END_TEST

/* ------------------------------------------------------------------------- hop-by-hop */

static const struct {
	const char *name;
	const char *conn;
	bool hop;
} hop_cases[] = {
        {"Connection", NULL, true},
        {"connection", NULL, true},
        {"Keep-Alive", NULL, true},
        {"TE", NULL, true},
        {"te", NULL, true},
        {"Trailer", NULL, true},
        {"Transfer-Encoding", NULL, true},
        {"Upgrade", NULL, true},
        {"Proxy-Authorization", NULL, true},
        {"Proxy-Authenticate", NULL, true},
        {"Proxy-Connection", NULL, true},
        {"proxy-foo", NULL, true},
        {"Proxy", NULL, false},
        {"Proxyfoo", NULL, false},
        {"Content-Type", NULL, false},
        {"Content-Length", NULL, false},
        {"Authorization", NULL, false},
        {"Trailers", NULL, false},
        {"Cache-Control", NULL, false},
        {"X-Foo", "close, X-Foo", true},
        {"x-foo", "close,X-FOO ", true},
        {"X-Foo", "close, X-Foo-Bar", false},
        {"X-Foo", "X-Fo", false},
        {"X-Bar", "keep-alive, , x-bar", true},
        {"X-Bar", "", false},
        {"Close", "close", true},
};

START_TEST(test_hop_by_hop)
{
	for (size_t i = 0; i < sizeof(hop_cases) / sizeof(hop_cases[0]); i++)
		ck_assert_msg(http_is_hop_by_hop(hop_cases[i].name, hop_cases[i].conn) ==
		                      hop_cases[i].hop,
		              "case %zu: %s with Connection %s: expected %d", i, hop_cases[i].name,
		              hop_cases[i].conn ? hop_cases[i].conn : "(none)", hop_cases[i].hop);
}
END_TEST

/* ------------------------------------------------------------------------- HTTP-date */

#define T1994 INT64_C(784111777) /* Sun, 06 Nov 1994 08:49:37 GMT */

static const struct {
	const char *in;
	bool ok;
	int64_t t;
} date_cases[] = {
        /* the three forms of RFC 9110 section 5.6.7 */
        {"Sun, 06 Nov 1994 08:49:37 GMT", true, T1994},
        {"Sunday, 06-Nov-94 08:49:37 GMT", true, T1994},
        {"Sun Nov  6 08:49:37 1994", true, T1994},
        {"Sun Nov 06 08:49:37 1994", true, T1994},
        /* epoch and surroundings */
        {"Thu, 01 Jan 1970 00:00:00 GMT", true, 0},
        {"Wed, 31 Dec 1969 23:59:59 GMT", true, -1},
        {"Thu, 01 Jan 1970 00:00:01 GMT", true, 1},
        {"Sat, 01 Jan 2000 00:00:00 GMT", true, INT64_C(946684800)},
        {"Tue, 19 Jan 2038 03:14:08 GMT", true, INT64_C(2147483648)},
        {"Fri, 31 Dec 9999 23:59:59 GMT", true, INT64_C(253402300799)},
        {"Fri, 31 Dec 9999 23:59:60 GMT", false, 0}, /* would be the year 10000 */
        /* leap years */
        {"Thu, 29 Feb 2024 12:00:00 GMT", true, INT64_C(1709208000)},
        {"Tue, 29 Feb 2000 00:00:00 GMT", true, INT64_C(951782400)},
        {"Thu, 29 Feb 2100 00:00:00 GMT", false, 0},
        {"Wed, 29 Feb 2023 00:00:00 GMT", false, 0},
        {"Mon, 30 Feb 2024 00:00:00 GMT", false, 0},
        {"Thu, 31 Apr 2024 00:00:00 GMT", false, 0},
        {"Wed, 00 Jan 2024 00:00:00 GMT", false, 0},
        {"Wed, 32 Jan 2024 00:00:00 GMT", false, 0},
        /* times */
        {"Sun, 06 Nov 1994 24:00:00 GMT", false, 0},
        {"Sun, 06 Nov 1994 23:60:00 GMT", false, 0},
        {"Sun, 06 Nov 1994 23:59:61 GMT", false, 0},
        {"Sat, 31 Dec 2016 23:59:60 GMT", true, INT64_C(1483228800)}, /* leap second */
        {"Sun, 06 Nov 1994 8:49:37 GMT", false, 0},
        {"Sun, 06 Nov 1994 08:49 GMT", false, 0},
        /* zone, names and case */
        {"Sun, 06 Nov 1994 08:49:37", false, 0},
        {"Sun, 06 Nov 1994 08:49:37 UTC", false, 0},
        {"Sun, 06 Nov 1994 08:49:37 +0000", false, 0},
        /* names in any case (RFC 9111 section 4.2: a cache matches case-insensitively) */
        {"Sun, 06 Nov 1994 08:49:37 gmt", true, T1994},
        {"Sun, 06 nov 1994 08:49:37 GMT", true, T1994},
        {"sun, 06 Nov 1994 08:49:37 GMT", true, T1994},
        {"SUN, 06 NOV 1994 08:49:37 GMT", true, T1994},
        {"Sun, 06 Nov 1994 08:49:37 gMT", true, T1994},
        {"SUNDAY, 06-NOV-94 08:49:37 GMT", true, T1994},
        {"Sun, 06 Nob 1994 08:49:37 GMT", false, 0},
        {"Sux, 06 Nov 1994 08:49:37 GMT", false, 0},
        {"Mon, 06 Nov 1994 08:49:37 GMT", true, T1994}, /* weekday not checked against date */
        {"Sunday, 06 Nov 1994 08:49:37 GMT", false, 0}, /* long name in IMF form */
        {"Sun, 06-Nov-94 08:49:37 GMT", false, 0},      /* short name in RFC 850 form */
        {"Sunday Nov  6 08:49:37 1994", false, 0},      /* long name in asctime form */
        {"Sun,06 Nov 1994 08:49:37 GMT", false, 0},
        {"Sun, 6 Nov 1994 08:49:37 GMT", false, 0},
        {"Sun, 06 Nov 94 08:49:37 GMT", false, 0},
        {"Sun,  06 Nov 1994 08:49:37 GMT", false, 0},
        /* RFC 850 two-digit years: 00-69 => 20xx, 70-99 => 19xx */
        {"Thursday, 01-Jan-70 00:00:00 GMT", true, 0},
        {"Friday, 31-Dec-99 23:59:59 GMT", true, INT64_C(946684799)},
        {"Saturday, 01-Jan-00 00:00:00 GMT", true, INT64_C(946684800)},
        {"Sunday, 31-Dec-69 00:00:00 GMT", true, INT64_C(3155673600)},
        {"Sunday, 06-Nov-1994 08:49:37 GMT", false, 0},
        {"Sunday, 06-Nov-94 08:49:37", false, 0},
        /* asctime details */
        {"Sun Nov 6 08:49:37 1994", false, 0},
        {"Sun Nov  6 08:49:37 94", false, 0},
        {"Sun Nov  6 08:49:37 1994 GMT", false, 0},
        {"Sun Feb 30 08:49:37 1994", false, 0},
        /* whitespace and junk */
        {"  Sun, 06 Nov 1994 08:49:37 GMT\t", true, T1994},
        {"Sun, 06 Nov 1994 08:49:37 GMTx", false, 0},
        {"Sun, 06 Nov 1994 08:49:37 GMT x", false, 0},
        {"Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT", false, 0},
        {"Sun, 06 Nov 1994 08:49:37 G", false, 0},
        {"Sun, 06 Nov 1994", false, 0},
        {"", false, 0},
        {"0", false, 0},
        {"-1", false, 0},
        {"784111777", false, 0},
        {"Sun, 0x Nov 1994 08:49:37 GMT", false, 0},
        {"Sun, 06 Nov 19a4 08:49:37 GMT", false, 0},
        {"Sun, 06 Nov 1994 08:49:3", false, 0},
};

START_TEST(test_date_parse)
{
	for (size_t i = 0; i < sizeof(date_cases) / sizeof(date_cases[0]); i++) {
		int64_t t = 12345;
		bool ok = http_date_parse(date_cases[i].in, &t);
		ck_assert_msg(ok == date_cases[i].ok, "case %zu \"%s\": parse returned %d", i,
		              date_cases[i].in, ok);
		if (ok)
			ck_assert_msg(t == date_cases[i].t, "case %zu \"%s\": got %lld want %lld",
			              i, date_cases[i].in, (long long)t,
			              (long long)date_cases[i].t);
	}
	int64_t t;
	ck_assert(!http_date_parse(NULL, &t));
}
END_TEST

static const struct {
	int64_t t;
	const char *out;
} format_cases[] = {
        {T1994, "Sun, 06 Nov 1994 08:49:37 GMT"},
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {-1, "Wed, 31 Dec 1969 23:59:59 GMT"},
        {INT64_C(951782400), "Tue, 29 Feb 2000 00:00:00 GMT"},
        {INT64_C(2147483648), "Tue, 19 Jan 2038 03:14:08 GMT"},
        {INT64_C(1700000000), "Tue, 14 Nov 2023 22:13:20 GMT"},
        {INT64_C(253402300799), "Fri, 31 Dec 9999 23:59:59 GMT"},
        {INT64_MAX, "Fri, 31 Dec 9999 23:59:59 GMT"}, /* clamped to four-digit years */
        {INT64_C(-62167219200), "Sat, 01 Jan 0000 00:00:00 GMT"},
        {INT64_MIN, "Sat, 01 Jan 0000 00:00:00 GMT"},
};

START_TEST(test_date_format)
{
	for (size_t i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		char out[30];
		int64_t back;

		memset(out, 'Z', sizeof(out));
		http_date_format(format_cases[i].t, out);
		ck_assert_msg(strcmp(out, format_cases[i].out) == 0, "case %zu: got \"%s\"", i,
		              out);
		ck_assert_msg(strlen(out) == 29, "case %zu: length %zu", i, strlen(out));
		/* round trip */
		ck_assert_msg(http_date_parse(out, &back), "case %zu: output does not parse", i);
		if (format_cases[i].t >= INT64_C(-62167219200) &&
		    format_cases[i].t <= INT64_C(253402300799))
			ck_assert_msg(back == format_cases[i].t, "case %zu: round trip %lld", i,
			              (long long)back);
	}
}
END_TEST

START_TEST(test_date_round_trip_sweep)
{
	/* every ~3 days over 1900..2200 plus odd seconds: format then parse gives t back */
	for (int64_t t = INT64_C(-2208988800); t < INT64_C(7258118400); t += 259201 + 17) {
		char out[30];
		int64_t back = 0;

		http_date_format(t, out);
		ck_assert_msg(http_date_parse(out, &back) && back == t, "t=%lld \"%s\"",
		              (long long)t, out);
	}
}
END_TEST

/* ------------------------------------------------------------------------- lists */

static const struct {
	const char *in;
	const char *elems[6]; /* expected elements, NULL-terminated */
} list_cases[] = {
        {"", {NULL}},
        {"   ", {NULL}},
        {",", {NULL}},
        {" , ,, \t,", {NULL}},
        {"a", {"a", NULL}},
        {"a,b", {"a", "b", NULL}},
        {" a , b ", {"a", "b", NULL}},
        {"a,,b", {"a", "b", NULL}},
        {",a,", {"a", NULL}},
        {"a b, c", {"a b", "c", NULL}},
        {"\ta\t,\tb", {"a", "b", NULL}},
        {"no-cache=\"a, b\", max-age=5", {"no-cache=\"a, b\"", "max-age=5", NULL}},
        {"\"x,y\",z", {"\"x,y\"", "z", NULL}},
        {"\"a\\\",b\", c", {"\"a\\\",b\"", "c", NULL}}, /* escaped quote stays inside */
        {"\"a\\\\\", c", {"\"a\\\\\"", "c", NULL}},     /* escaped backslash ends quote */
        /* an unterminated quote ends at the next comma: a joined later line survives */
        {"x=\"unterminated, y", {"x=\"unterminated", "y", NULL}},
        {"a=\"b\\, private", {"a=\"b\\", "private", NULL}},
        {"a=\"q\" \"r, s", {"a=\"q\" \"r", "s", NULL}},
        {"W/\"1\", \"2\"", {"W/\"1\"", "\"2\"", NULL}},
        {"a, \"\", b", {"a", "\"\"", "b", NULL}},
};

START_TEST(test_list_next)
{
	for (size_t i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++) {
		const char *pos = list_cases[i].in, *e;
		size_t n, k = 0;

		while (http_list_next(&pos, &e, &n)) {
			ck_assert_msg(list_cases[i].elems[k] != NULL,
			              "case %zu \"%s\": extra element \"%.*s\"", i,
			              list_cases[i].in, (int)n, e);
			ck_assert_msg(strlen(list_cases[i].elems[k]) == n &&
			                      memcmp(list_cases[i].elems[k], e, n) == 0,
			              "case %zu \"%s\": element %zu is \"%.*s\", want \"%s\"", i,
			              list_cases[i].in, k, (int)n, e, list_cases[i].elems[k]);
			k++;
		}
		ck_assert_msg(list_cases[i].elems[k] == NULL, "case %zu \"%s\": missing \"%s\"", i,
		              list_cases[i].in, list_cases[i].elems[k]);
		/* at the end the iterator stays at the end */
		ck_assert_msg(!http_list_next(&pos, &e, &n), "case %zu: not finished", i);
	}
	const char *pos = NULL, *e;
	size_t n;
	ck_assert(!http_list_next(&pos, &e, &n));
}
END_TEST

static const struct {
	const char *list;
	const char *token;
	bool has;
} has_cases[] = {
        {NULL, "close", false},
        {"", "close", false},
        {"close", "close", true},
        {"Close", "close", true},
        {"keep-alive, Upgrade", "upgrade", true},
        {"keep-alive,upgrade", "Upgrade", true},
        {"closed", "close", false},
        {"clos", "close", false},
        {"x, close ,y", "close", true},
        {"\"close\"", "close", false},
        {"a=\"b, close\"", "close", false},
        {"gzip, br", "gzip", true},
        {"gzip;q=1", "gzip", false},
};

START_TEST(test_list_has_token)
{
	for (size_t i = 0; i < sizeof(has_cases) / sizeof(has_cases[0]); i++)
		ck_assert_msg(http_list_has_token(has_cases[i].list, has_cases[i].token) ==
		                      has_cases[i].has,
		              "case %zu: \"%s\" has \"%s\"", i,
		              has_cases[i].list ? has_cases[i].list : "(null)", has_cases[i].token);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_headers_add_get_count);
	tcase_add_test(tc, test_headers_name_case);
	tcase_add_test(tc, test_headers_join);
	tcase_add_test(tc, test_headers_remove_set);
	tcase_add_test(tc, test_headers_copy_size);
	tcase_add_test(tc, test_headers_pack);
	tcase_add_test(tc, test_headers_common_names);
	tcase_add_test(tc, test_headers_borrowed);
	tcase_add_test(tc, test_hop_by_hop);
	tcase_add_test(tc, test_date_parse);
	tcase_add_test(tc, test_date_format);
	tcase_add_test(tc, test_date_round_trip_sweep);
	tcase_add_test(tc, test_list_next);
	tcase_add_test(tc, test_list_has_token);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
