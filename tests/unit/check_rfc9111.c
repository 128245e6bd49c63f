/*
 * check_rfc9111: the caching rules. Table-driven: storability matrix, freshness lifetime,
 * ages, 304 merge, entity-tag matching and client conditionals. Header sets are written as
 * "Name: value" lines separated by '\n'; each case has a name that failures print.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rfc9111.h"

/* Fills h from "Name: value\nName: value" (NULL or "" gives an empty list). */
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
		while (*v == ' ')
			v++;
		http_headers_addn(h, p, (size_t)(colon - p), v, (size_t)(end - v));
		p = nl ? nl + 1 : end;
	}
}

/* Renders h back as "Name: value\n..." lines (caller frees). */
static char *
headers_to(const struct http_headers *h)
{
	size_t len = 1;
	char *s, *q;

	for (size_t i = 0; i < h->n; i++)
		len += strlen(h->v[i].name) + strlen(h->v[i].value) + 3;
	s = q = malloc(len);
	for (size_t i = 0; i < h->n; i++)
		q += sprintf(q, "%s%s: %s", i ? "\n" : "", h->v[i].name, h->v[i].value);
	*q = '\0';
	return s;
}

static void
cc_of(const struct http_headers *h, struct cache_control *cc)
{
	char *v = http_headers_join(h, "Cache-Control");

	cachecontrol_parse(v, cc);
	free(v);
}

/* ------------------------------------------------------------------------- storable */

#define EXP "Expires: Sun, 06 Nov 1994 08:49:37 GMT"

static const struct {
	const char *name;
	bool is_get;
	bool auth;
	const char *req_cc;
	int status;
	const char *resp;
	bool ok;
	const char *why;
} store_cases[] = {
        {"plain 200", true, false, NULL, 200, "", true, NULL},
        {"200 max-age", true, false, NULL, 200, "Cache-Control: max-age=60", true, NULL},
        {"HEAD", false, false, NULL, 200, "Cache-Control: max-age=60", false, "method"},
        {"request no-store", true, false, "no-store", 200, "Cache-Control: max-age=60", false,
         "no-store"},
        {"request no-cache is fine", true, false, "no-cache", 200, "", true, NULL},
        {"response no-store", true, false, NULL, 200, "Cache-Control: no-store", false, "no-store"},
        {"no-store on 2nd line", true, false, NULL, 200,
         "Cache-Control: max-age=60\nCache-Control: no-store", false, "no-store"},
        {"no-store with public", true, false, NULL, 200, "Cache-Control: public, no-store", false,
         "no-store"},
        {"private", true, false, NULL, 200, "Cache-Control: private, max-age=60", false, "private"},
        {"private=field (only the field is not stored)", true, false, NULL, 200,
         "Cache-Control: private=\"Set-Cookie\", max-age=60", true, NULL},
        {"private=field and private", true, false, NULL, 200,
         "Cache-Control: private=\"a\", private, max-age=60", false, "private"},
        {"response no-cache storable", true, false, NULL, 200, "Cache-Control: no-cache", true,
         NULL},
        /* Authorization (section 3.5) */
        {"auth plain", true, true, NULL, 200, "", false, "authorization"},
        {"auth max-age", true, true, NULL, 200, "Cache-Control: max-age=60", false,
         "authorization"},
        {"auth public", true, true, NULL, 200, "Cache-Control: public", true, NULL},
        {"auth s-maxage", true, true, NULL, 200, "Cache-Control: s-maxage=60", true, NULL},
        {"auth bad s-maxage", true, true, NULL, 200, "Cache-Control: s-maxage=x", false,
         "authorization"},
        {"auth must-revalidate", true, true, NULL, 200, "Cache-Control: must-revalidate, max-age=5",
         true, NULL},
        {"auth proxy-revalidate", true, true, NULL, 200, "Cache-Control: proxy-revalidate", false,
         "authorization"},
        {"auth public private", true, true, NULL, 200, "Cache-Control: public, private", false,
         "private"},
        /* status codes */
        {"100", true, false, NULL, 100, "Cache-Control: max-age=60", false, "status"},
        {"199", true, false, NULL, 199, "", false, "status"},
        {"600", true, false, NULL, 600, "Cache-Control: max-age=60", false, "status"},
        {"0", true, false, NULL, 0, "", false, "status"},
        {"206", true, false, NULL, 206, "Cache-Control: max-age=60", false, "partial"},
        {"206 plain", true, false, NULL, 206, "", false, "partial"},
        {"304", true, false, NULL, 304, "Cache-Control: max-age=60", false, "status"},
        {"203", true, false, NULL, 203, "", true, NULL},
        {"204", true, false, NULL, 204, "", true, NULL},
        {"300", true, false, NULL, 300, "", true, NULL},
        {"301", true, false, NULL, 301, "", true, NULL},
        {"308", true, false, NULL, 308, "", true, NULL},
        {"404", true, false, NULL, 404, "", true, NULL},
        {"405", true, false, NULL, 405, "", true, NULL},
        {"410", true, false, NULL, 410, "", true, NULL},
        {"414", true, false, NULL, 414, "", true, NULL},
        {"501", true, false, NULL, 501, "", true, NULL},
        {"201 plain", true, false, NULL, 201, "", false, "status"},
        {"302 plain", true, false, NULL, 302, "", false, "status"},
        {"307 plain", true, false, NULL, 307, "", false, "status"},
        {"403 plain", true, false, NULL, 403, "", false, "status"},
        {"500 plain", true, false, NULL, 500, "", false, "status"},
        {"503 plain", true, false, NULL, 503, "", false, "status"},
        {"302 max-age", true, false, NULL, 302, "Cache-Control: max-age=60", true, NULL},
        {"500 s-maxage", true, false, NULL, 500, "Cache-Control: s-maxage=5", true, NULL},
        {"503 Expires", true, false, NULL, 503, EXP, true, NULL},
        {"403 public", true, false, NULL, 403, "Cache-Control: public", true, NULL},
        {"500 invalid Expires", true, false, NULL, 500, "Expires: 0", true, NULL},
        {"500 no-cache only", true, false, NULL, 500, "Cache-Control: no-cache", false, "status"},
        {"500 extension only", true, false, NULL, 500, "Cache-Control: community=x", false,
         "status"},
        /* must-understand (section 5.2.2.3) */
        {"must-understand 200", true, false, NULL, 200, "Cache-Control: must-understand", true,
         NULL},
        {"must-understand no-store 200", true, false, NULL, 200,
         "Cache-Control: must-understand, no-store", true, NULL},
        {"must-understand no-store 404", true, false, NULL, 404,
         "Cache-Control: no-store, must-understand, max-age=5", true, NULL},
        {"must-understand no-store 302", true, false, NULL, 302,
         "Cache-Control: must-understand, no-store, max-age=5", false, "must-understand"},
        {"must-understand 500 max-age", true, false, NULL, 500,
         "Cache-Control: must-understand, max-age=5", false, "must-understand"},
        {"must-understand 206", true, false, NULL, 206, "Cache-Control: must-understand", false,
         "partial"},
        {"must-understand private", true, false, NULL, 200,
         "Cache-Control: must-understand, private", false, "private"},
        {"request no-store beats must-understand", true, false, "no-store", 200,
         "Cache-Control: must-understand, no-store", false, "no-store"},
        /* Vary: * is the caller's business */
        {"vary star", true, false, NULL, 200, "Vary: *\nCache-Control: max-age=5", true, NULL},
};

START_TEST(test_storable)
{
	for (size_t i = 0; i < sizeof(store_cases) / sizeof(store_cases[0]); i++) {
		struct rfc9111_request rq = {0};
		struct http_headers h = {0};
		struct cache_control cc;
		const char *why = NULL;

		rq.is_get = store_cases[i].is_get;
		rq.has_authorization = store_cases[i].auth;
		cachecontrol_parse(store_cases[i].req_cc, &rq.cc);
		headers_from(&h, store_cases[i].resp);
		cc_of(&h, &cc);
		bool ok = rfc9111_storable(&rq, store_cases[i].status, &h, &cc.resp, &why);
		ck_assert_msg(ok == store_cases[i].ok, "case \"%s\": storable=%d (why %s)",
		              store_cases[i].name, ok, why ? why : "-");
		if (!ok)
			ck_assert_msg(why != NULL && strcmp(why, store_cases[i].why) == 0,
			              "case \"%s\": why \"%s\", want \"%s\"", store_cases[i].name,
			              why ? why : "(null)", store_cases[i].why);
		/* why may be NULL */
		ck_assert(rfc9111_storable(&rq, store_cases[i].status, &h, &cc.resp, NULL) == ok);
		http_headers_clear(&h);
	}
}
END_TEST

/* ------------------------------------------------------------------------- lifetime */

#define D0    "Sun, 06 Nov 1994 08:49:37 GMT" /* 784111777 */
#define D0_T  INT64_C(784111777)
#define D100  "Sun, 06 Nov 1994 08:51:17 GMT" /* D0 + 100 */
#define DM100 "Sun, 06 Nov 1994 08:47:57 GMT" /* D0 - 100 */

static const struct {
	const char *name;
	const char *resp;
	int64_t date_value;
	int64_t default_ttl;
	int64_t want;
} life_cases[] = {
        {"nothing: default", "", D0_T, 300, 300},
        {"nothing: default 0", "", D0_T, 0, 0},
        {"negative default", "", D0_T, -5, 0},
        {"max-age", "Cache-Control: max-age=60", D0_T, 300, 60},
        {"max-age 0", "Cache-Control: max-age=0", D0_T, 300, 0},
        {"s-maxage first", "Cache-Control: max-age=60, s-maxage=10", D0_T, 300, 10},
        {"s-maxage larger", "Cache-Control: s-maxage=600, max-age=60", D0_T, 300, 600},
        {"max-age over Expires", "Cache-Control: max-age=60\nDate: " D0 "\nExpires: " D100, D0_T,
         300, 60},
        {"s-maxage over Expires", "Cache-Control: s-maxage=7\nExpires: " D100, D0_T, 300, 7},
        {"invalid s-maxage stale", "Cache-Control: s-maxage=x, max-age=60", D0_T, 300, 0},
        {"invalid max-age stale", "Cache-Control: max-age=1.5\nExpires: " D100, D0_T, 300, 0},
        {"duplicate max-age stale", "Cache-Control: max-age=5\nCache-Control: max-age=6", D0_T, 300,
         0},
        {"saturated max-age", "Cache-Control: max-age=99999999999", D0_T, 300, CC_DELTA_MAX},
        {"max-stale is not freshness", "Cache-Control: max-stale=50", D0_T, 300, 300},
        /* Expires - Date */
        {"Expires - Date", "Date: " D0 "\nExpires: " D100, 0, 300, 100},
        {"Expires - date_value", "Expires: " D100, D0_T, 300, 100},
        {"Expires - date_value 2", "Expires: " D100, D0_T + 40, 300, 60},
        {"Date header beats date_value", "Date: " D0 "\nExpires: " D100, D0_T - 1000, 300, 100},
        {"invalid Date: date_value", "Date: yesterday\nExpires: " D100, D0_T + 30, 300, 70},
        {"Expires in the past", "Date: " D0 "\nExpires: " DM100, 0, 300, 0},
        {"Expires equals Date", "Date: " D0 "\nExpires: " D0, 0, 300, 0},
        {"Expires 0", "Date: " D0 "\nExpires: 0", 0, 300, 0},
        {"Expires -1", "Expires: -1", D0_T, 300, 0},
        {"Expires empty", "Expires: ", D0_T, 300, 0},
        {"Expires junk", "Expires: " D100 " x", D0_T, 300, 0},
        {"Expires RFC 850", "Date: " D0 "\nExpires: Sunday, 06-Nov-94 08:51:17 GMT", 0, 300, 100},
        {"Expires asctime", "Date: " D0 "\nExpires: Sun Nov  6 08:51:17 1994", 0, 300, 100},
        {"two Expires", "Date: " D0 "\nExpires: " D100 "\nExpires: " D100, 0, 300, 0},
        {"expires lower-case name", "date: " D0 "\nexpires: " D100, 0, 300, 100},
        {"no-cache keeps lifetime", "Cache-Control: no-cache, max-age=30", D0_T, 300, 30},
};

START_TEST(test_lifetime)
{
	for (size_t i = 0; i < sizeof(life_cases) / sizeof(life_cases[0]); i++) {
		struct rfc9111_settings st = {.default_ttl = life_cases[i].default_ttl};
		struct http_headers h = {0};
		struct cache_control cc;

		headers_from(&h, life_cases[i].resp);
		cc_of(&h, &cc);
		int64_t got = rfc9111_freshness_lifetime(200, &h, &cc.resp, false,
		                                         life_cases[i].date_value, &st);
		ck_assert_msg(got == life_cases[i].want, "case \"%s\": lifetime %lld, want %lld",
		              life_cases[i].name, (long long)got, (long long)life_cases[i].want);
		http_headers_clear(&h);
	}
}
END_TEST

/* ------------------------------------------------------------------------- heuristic */

#define DM1000 "Sun, 06 Nov 1994 08:32:57 GMT" /* D0 - 1000 */

static const struct {
	const char *name;
	int status;
	const char *resp;
	bool targeted;
	int64_t cap;
	int64_t want;
} heur_cases[] = {
        {"10% of Date - Last-Modified", 200, "Last-Modified: " DM1000, false, 86400, 100},
        {"capped", 200, "Last-Modified: " DM1000, false, 30, 30},
        {"cap 0: no heuristic", 200, "Last-Modified: " DM1000, false, 0, 0},
        {"no Last-Modified", 200, "", false, 86400, 0},
        {"Last-Modified after Date", 200, "Last-Modified: " D100, false, 86400, 0},
        {"Last-Modified invalid", 200, "Last-Modified: yesterday", false, 86400, 0},
        {"two Last-Modified", 200, "Last-Modified: " DM1000 "\nLast-Modified: " DM100, false, 86400,
         0},
        {"203", 203, "Last-Modified: " DM1000, false, 86400, 100},
        {"204", 204, "Last-Modified: " DM1000, false, 86400, 100},
        {"300", 300, "Last-Modified: " DM1000, false, 86400, 100},
        {"301", 301, "Last-Modified: " DM1000, false, 86400, 100},
        {"308", 308, "Last-Modified: " DM1000, false, 86400, 100},
        {"404", 404, "Last-Modified: " DM1000, false, 86400, 100},
        {"405", 405, "Last-Modified: " DM1000, false, 86400, 100},
        {"410", 410, "Last-Modified: " DM1000, false, 86400, 100},
        {"414", 414, "Last-Modified: " DM1000, false, 86400, 100},
        {"501", 501, "Last-Modified: " DM1000, false, 86400, 100},
        {"302: not heuristic", 302, "Last-Modified: " DM1000, false, 86400, 0},
        {"500: not heuristic", 500, "Last-Modified: " DM1000, false, 86400, 0},
        {"403 public: heuristic", 403, "Cache-Control: public\nLast-Modified: " DM1000, false,
         86400, 100},
        {"explicit max-age wins", 200, "Cache-Control: max-age=7\nLast-Modified: " DM1000, false,
         86400, 7},
        {"Expires wins", 200, "Expires: " D100 "\nLast-Modified: " DM1000, false, 86400, 100},
        {"targeted: Expires ignored", 200, "Expires: " D100, true, 86400, 0},
        {"targeted: Expires ignored, heuristic", 200, "Expires: " D100 "\nLast-Modified: " DM1000,
         true, 50, 50},
};

START_TEST(test_heuristic)
{
	for (size_t i = 0; i < sizeof(heur_cases) / sizeof(heur_cases[0]); i++) {
		struct rfc9111_settings st = {.heuristic_max = heur_cases[i].cap};
		struct http_headers h = {0};
		struct cache_control cc;

		headers_from(&h, heur_cases[i].resp);
		cc_of(&h, &cc);
		int64_t got = rfc9111_freshness_lifetime(heur_cases[i].status, &h, &cc.resp,
		                                         heur_cases[i].targeted, D0_T, &st);
		ck_assert_msg(got == heur_cases[i].want, "case \"%s\": lifetime %lld, want %lld",
		              heur_cases[i].name, (long long)got, (long long)heur_cases[i].want);
		http_headers_clear(&h);
	}
}
END_TEST

/* ------------------------------------------------------------------------- targeted fields */

static const struct {
	const char *name;
	const char *targeted; /* settings->targeted */
	const char *resp;
	const char *want_field; /* NULL: Cache-Control */
	int64_t want_max_age;   /* -1: not set */
	bool want_no_store;
} tgt_cases[] = {
        {"Cache-Control only", "Tiercache-Cache-Control", "Cache-Control: max-age=5", NULL, 5,
         false},
        {"CDN-Cache-Control wins", "Tiercache-Cache-Control",
         "Cache-Control: no-store\nCDN-Cache-Control: max-age=60", "CDN-Cache-Control", 60, false},
        {"our field before CDN-Cache-Control", "Tiercache-Cache-Control",
         "CDN-Cache-Control: max-age=60\nTiercache-Cache-Control: max-age=9",
         "Tiercache-Cache-Control", 9, false},
        {"invalid ours: CDN-Cache-Control", "Tiercache-Cache-Control",
         "CDN-Cache-Control: max-age=60\nTiercache-Cache-Control: max-age=9,", "CDN-Cache-Control",
         60, false},
        {"invalid CDN: Cache-Control", "Tiercache-Cache-Control",
         "Cache-Control: max-age=5\nCDN-Cache-Control: Max-Age=60", NULL, 5, false},
        {"empty CDN: Cache-Control", "Tiercache-Cache-Control",
         "Cache-Control: max-age=5\nCDN-Cache-Control: ", NULL, 5, false},
        {"CDN no-store", "Tiercache-Cache-Control",
         "Cache-Control: max-age=5\nCDN-Cache-Control: no-store", "CDN-Cache-Control", -1, true},
        {"no configured field", NULL, "Tiercache-Cache-Control: max-age=9", NULL, -1, false},
        {"field name case-insensitive", "Tiercache-Cache-Control", "cdn-cache-control: max-age=60",
         "CDN-Cache-Control", 60, false},
        {"Surrogate-Control max-age over Cache-Control", "Tiercache-Cache-Control",
         "Cache-Control: max-age=3600\nSurrogate-Control: max-age=1", "Surrogate-Control", 1,
         false},
        {"Surrogate-Control in any case", NULL, "Surrogate-Control: foobar, MaX-aGe=3600",
         "Surrogate-Control", 3600, false},
        {"Surrogate-Control no-store", NULL,
         "Cache-Control: max-age=10000\nSurrogate-Control: no-store", "Surrogate-Control", -1,
         true},
        {"Surrogate-Control without max-age or no-store: Cache-Control", NULL,
         "Cache-Control: max-age=5\nSurrogate-Control: content=\"ESI/1.0\"", NULL, 5, false},
        {"CDN-Cache-Control before Surrogate-Control", NULL,
         "CDN-Cache-Control: max-age=60\nSurrogate-Control: max-age=1", "CDN-Cache-Control", 60,
         false},
        {"two lines joined", "Tiercache-Cache-Control",
         "CDN-Cache-Control: max-age=60\nCDN-Cache-Control: no-store", "CDN-Cache-Control", 60,
         true},
};

START_TEST(test_response_cc)
{
	for (size_t i = 0; i < sizeof(tgt_cases) / sizeof(tgt_cases[0]); i++) {
		struct rfc9111_settings st = {.targeted = tgt_cases[i].targeted};
		struct http_headers h = {0};
		struct cache_control cc;

		headers_from(&h, tgt_cases[i].resp);
		const char *got = rfc9111_response_cc(&h, &st, &cc);
		ck_assert_msg(
		        (got == NULL) == (tgt_cases[i].want_field == NULL) &&
		                (got == NULL || strcasecmp(got, tgt_cases[i].want_field) == 0),
		        "case \"%s\": field %s", tgt_cases[i].name, got ? got : "(null)");
		if (tgt_cases[i].want_max_age < 0)
			ck_assert_msg(cc.max_age.state != CC_SET, "case \"%s\": max-age set",
			              tgt_cases[i].name);
		else
			ck_assert_msg(cc.max_age.state == CC_SET &&
			                      cc.max_age.value == tgt_cases[i].want_max_age,
			              "case \"%s\": max-age", tgt_cases[i].name);
		ck_assert_msg(cc.no_store == tgt_cases[i].want_no_store, "case \"%s\": no-store",
		              tgt_cases[i].name);
		http_headers_clear(&h);
	}
}
END_TEST

/* ------------------------------------------------------------------------- use */

#define V RFC9111_VALIDATE
#define F RFC9111_FRESH
#define S RFC9111_STALE
#define W RFC9111_SWR

static const struct {
	const char *name;
	const char *req_cc;
	bool pragma;
	const char *resp_cc;
	int64_t lifetime, age;
	enum rfc9111_use want;
} use_cases[] = {
        {"fresh", NULL, false, "max-age=60", 60, 10, F},
        {"stale", NULL, false, "max-age=60", 60, 60, V},
        {"just stale", NULL, false, "max-age=60", 60, 61, V},
        {"response no-cache", NULL, false, "no-cache, max-age=60", 60, 0, V},
        {"request no-cache", "no-cache", false, "max-age=60", 60, 0, V},
        {"Pragma no-cache", NULL, true, "max-age=60", 60, 0, V},
        {"Pragma ignored with Cache-Control", "max-stale=0", true, "max-age=60", 60, 0, F},
        {"request max-age=0", "max-age=0", false, "max-age=60", 60, 0, V},
        {"request max-age over age", "max-age=20", false, "max-age=60", 60, 10, F},
        {"request max-age equal age", "max-age=10", false, "max-age=60", 60, 10, F},
        {"request max-age under age", "max-age=5", false, "max-age=60", 60, 10, V},
        {"request max-age invalid", "max-age=x", false, "max-age=60", 60, 10, V},
        {"min-fresh met", "min-fresh=20", false, "max-age=60", 60, 10, F},
        {"min-fresh exact", "min-fresh=50", false, "max-age=60", 60, 10, F},
        {"min-fresh unmet", "min-fresh=51", false, "max-age=60", 60, 10, V},
        {"min-fresh invalid", "min-fresh=-1", false, "max-age=60", 60, 10, V},
        {"max-stale value", "max-stale=10", false, "max-age=60", 60, 70, S},
        {"max-stale too little", "max-stale=10", false, "max-age=60", 60, 71, V},
        {"max-stale no value", "max-stale", false, "max-age=60", 60, 100000, S},
        {"max-stale with max-age", "max-stale, max-age=65", false, "max-age=60", 60, 70, V},
        {"max-stale and must-revalidate", "max-stale", false, "max-age=60, must-revalidate", 60, 70,
         V},
        {"max-stale and proxy-revalidate", "max-stale", false, "max-age=60, proxy-revalidate", 60,
         70, V},
        {"max-stale and s-maxage", "max-stale", false, "s-maxage=60", 60, 70, V},
        {"max-stale and no-cache", "max-stale", false, "no-cache", 60, 70, V},
        {"swr", NULL, false, "max-age=60, stale-while-revalidate=30", 60, 70, W},
        {"swr edge", NULL, false, "max-age=60, stale-while-revalidate=30", 60, 89, W},
        {"swr over", NULL, false, "max-age=60, stale-while-revalidate=30", 60, 90, V},
        {"swr invalid", NULL, false, "max-age=60, stale-while-revalidate=x", 60, 70, V},
        {"swr fresh", NULL, false, "max-age=60, stale-while-revalidate=30", 60, 10, F},
        {"swr and must-revalidate", NULL, false,
         "max-age=60, stale-while-revalidate=30, must-revalidate", 60, 70, V},
        {"swr and s-maxage", NULL, false, "s-maxage=60, stale-while-revalidate=30", 60, 70, V},
        {"swr and request no-cache", "no-cache", false, "max-age=60, stale-while-revalidate=30", 60,
         70, V},
        {"swr and request max-age", "max-age=5", false, "max-age=60, stale-while-revalidate=30", 60,
         70, V},
        {"max-stale before swr", "max-stale=100", false, "max-age=60, stale-while-revalidate=5", 60,
         70, S},
};

START_TEST(test_use)
{
	for (size_t i = 0; i < sizeof(use_cases) / sizeof(use_cases[0]); i++) {
		struct cache_control req, resp;

		cachecontrol_parse(use_cases[i].req_cc, &req);
		cachecontrol_parse(use_cases[i].resp_cc, &resp);
		enum rfc9111_use got = rfc9111_use(&req, use_cases[i].pragma, &resp.resp,
		                                   use_cases[i].lifetime, use_cases[i].age);
		ck_assert_msg(got == use_cases[i].want, "case \"%s\": %d, want %d",
		              use_cases[i].name, (int)got, (int)use_cases[i].want);
	}
}
END_TEST

/* ------------------------------------------------------------------------- stale-if-error */

static const struct {
	const char *name;
	const char *req_cc;
	const char *resp_cc;
	int64_t default_sie;
	int64_t lifetime, age;
	bool want;
	int64_t want_window; /* rfc9111_stale_window */
} sie_cases[] = {
        {"nothing", NULL, "max-age=60", 0, 60, 70, false, 0},
        {"response window", NULL, "max-age=60, stale-if-error=100", 0, 60, 70, true, 100},
        {"response window over", NULL, "max-age=60, stale-if-error=10", 0, 60, 70, false, 10},
        {"response window edge", NULL, "max-age=60, stale-if-error=10", 0, 60, 69, true, 10},
        {"fresh and error", NULL, "max-age=60, stale-if-error=10", 0, 60, 10, true, 10},
        {"default grace", NULL, "max-age=60", 300, 60, 70, true, 300},
        {"response beats default", NULL, "max-age=60, stale-if-error=5", 300, 60, 70, false, 5},
        {"invalid response value", NULL, "max-age=60, stale-if-error=x", 300, 60, 70, false, 0},
        {"request window", "stale-if-error=100", "max-age=60", 0, 60, 70, true, 0},
        {"request window too small", "stale-if-error=5", "max-age=60", 0, 60, 70, false, 0},
        {"must-revalidate", NULL, "max-age=60, must-revalidate, stale-if-error=100", 300, 60, 70,
         false, 0},
        {"proxy-revalidate", NULL, "max-age=60, proxy-revalidate, stale-if-error=100", 0, 60, 70,
         false, 0},
        {"s-maxage", NULL, "s-maxage=60, stale-if-error=100", 0, 60, 70, false, 0},
        {"no-cache", "stale-if-error=100", "no-cache, stale-if-error=100", 0, 60, 70, false, 0},
        {"swr keeps longer", NULL, "max-age=60, stale-while-revalidate=500", 0, 60, 70, false, 500},
};

START_TEST(test_serve_on_error)
{
	for (size_t i = 0; i < sizeof(sie_cases) / sizeof(sie_cases[0]); i++) {
		struct rfc9111_settings st = {.stale_if_error = sie_cases[i].default_sie};
		struct cache_control req, resp;

		cachecontrol_parse(sie_cases[i].req_cc, &req);
		cachecontrol_parse(sie_cases[i].resp_cc, &resp);
		bool got = rfc9111_serve_on_error(&req, &resp.resp, sie_cases[i].lifetime,
		                                  sie_cases[i].age, &st);
		ck_assert_msg(got == sie_cases[i].want, "case \"%s\": %d", sie_cases[i].name, got);
		int64_t w = rfc9111_stale_window(&resp.resp, &st);
		ck_assert_msg(w == sie_cases[i].want_window, "case \"%s\": window %lld, want %lld",
		              sie_cases[i].name, (long long)w, (long long)sie_cases[i].want_window);
		/* max_stale_keep lengthens the window of what may be served stale at all */
		st.max_stale_keep = 60;
		int64_t want = rfc9111_stale_forbidden(&resp.resp) ? 0
		               : sie_cases[i].want_window > 60     ? sie_cases[i].want_window
		                                                   : 60;
		w = rfc9111_stale_window(&resp.resp, &st);
		ck_assert_msg(w == want, "case \"%s\": window with max_stale_keep %lld, want %lld",
		              sie_cases[i].name, (long long)w, (long long)want);
	}
}
END_TEST

/* ------------------------------------------------------------------------- ages */

static const struct {
	const char *name;
	const char *age;
	int64_t date_value, request_time, response_time;
	int64_t want;
} cia_cases[] = {
        {"all equal", NULL, 1000, 1000, 1000, 0},
        {"apparent age", NULL, 900, 1000, 1000, 100},
        {"response delay", NULL, 1000, 995, 1000, 5},
        {"apparent beats delay", NULL, 900, 995, 1000, 100},
        {"Date in the future", NULL, 1100, 1000, 1000, 0},
        {"Date in the future, delay", NULL, 1100, 997, 1000, 3},
        {"Age", "30", 1000, 1000, 1000, 30},
        {"Age plus delay", "30", 1000, 990, 1000, 40},
        {"Age plus delay beats apparent", "30", 980, 990, 1000, 40},
        {"apparent beats Age plus delay", "30", 900, 990, 1000, 100},
        {"Age 0", "0", 1000, 1000, 1000, 0},
        {"Age with spaces", "  12 ", 1000, 1000, 1000, 12},
        {"Age list: first", "5, 10", 1000, 1000, 1000, 5},
        {"Age list: first even if smaller", "10,500", 1000, 1000, 1000, 10},
        {"Age list: empty elements skipped", ", 7", 1000, 1000, 1000, 7},
        {"Age invalid", "abc", 1000, 998, 1000, 2},
        {"Age negative", "-5", 1000, 1000, 1000, 0},
        {"Age fraction", "1.5", 1000, 1000, 1000, 0},
        {"Age first member invalid", "x, 10", 1000, 1000, 1000, 0},
        {"Age empty", "", 1000, 1000, 1000, 0},
        {"Age huge", "99999999999999999999999", 1000, 1000, 1000, CC_DELTA_MAX},
        {"Age 2^31", "2147483648", 1000, 1000, 1000, CC_DELTA_MAX},
        {"Age 2^31-1", "2147483647", 1000, 1000, 1000, INT64_C(2147483647)},
        {"Age huge plus delay", "99999999999", 1000, 990, 1000, CC_DELTA_MAX + 10},
        {"response before request", "3", 1000, 1010, 1000, 3},
        {"extreme Date", NULL, INT64_MIN, 0, 1000, INT64_MAX},
};

START_TEST(test_corrected_initial_age)
{
	for (size_t i = 0; i < sizeof(cia_cases) / sizeof(cia_cases[0]); i++) {
		int64_t got = rfc9111_corrected_initial_age(
		        cia_cases[i].age, cia_cases[i].date_value, cia_cases[i].request_time,
		        cia_cases[i].response_time);
		ck_assert_msg(got == cia_cases[i].want, "case \"%s\": %lld, want %lld",
		              cia_cases[i].name, (long long)got, (long long)cia_cases[i].want);
	}
}
END_TEST

static const struct {
	const char *name;
	int64_t cia, response_time, now;
	int64_t want;
} age_cases[] = {
        {"just received", 0, 1000, 1000, 0},           {"resident", 0, 1000, 1060, 60},
        {"initial plus resident", 25, 1000, 1060, 85}, {"initial only", 25, 1000, 1000, 25},
        {"clock went back", 25, 1000, 990, 25},        {"negative initial", -50, 1000, 1010, 10},
        {"saturates", INT64_MAX, 0, 1000, INT64_MAX},
};

START_TEST(test_current_age)
{
	for (size_t i = 0; i < sizeof(age_cases) / sizeof(age_cases[0]); i++) {
		int64_t got = rfc9111_current_age(age_cases[i].cia, age_cases[i].response_time,
		                                  age_cases[i].now);
		ck_assert_msg(got == age_cases[i].want, "case \"%s\": %lld, want %lld",
		              age_cases[i].name, (long long)got, (long long)age_cases[i].want);
		ck_assert_msg(got >= 0, "case \"%s\": negative", age_cases[i].name);
	}
}
END_TEST

/* ------------------------------------------------------------------------- 304 merge */

static const struct {
	const char *name;
	const char *stored;
	const char *nm;
	const char *want;
} merge_cases[] = {
        {"empty 304", "Content-Type: text/html\nETag: \"1\"", "",
         "Content-Type: text/html\nETag: \"1\""},
        {"replace in place", "Date: a\nETag: \"1\"\nCache-Control: max-age=5",
         "Cache-Control: max-age=60", "Date: a\nETag: \"1\"\nCache-Control: max-age=60"},
        {"case-insensitive replace", "Cache-Control: max-age=5", "cache-control: max-age=60",
         "cache-control: max-age=60"},
        {"all stored of the name replaced", "X: 1\nY: y\nX: 2", "X: 3", "X: 3\nY: y"},
        {"several 304 values kept in order", "X: 1\nY: y", "X: a\nX: b", "X: a\nX: b\nY: y"},
        {"added when missing", "Content-Type: text/html", "Expires: e\nX-New: n",
         "Content-Type: text/html\nExpires: e\nX-New: n"},
        {"Content-Length kept", "Content-Length: 1234\nETag: \"1\"",
         "Content-Length: 0\nETag: \"2\"", "Content-Length: 1234\nETag: \"2\""},
        {"Content-Length not added", "ETag: \"1\"", "Content-Length: 0", "ETag: \"1\""},
        {"Content-Encoding kept", "Content-Encoding: gzip", "Content-Encoding: br",
         "Content-Encoding: gzip"},
        {"Content-Range kept", "Content-Range: bytes 0-1/2", "Content-Range: bytes 0-0/9",
         "Content-Range: bytes 0-1/2"},
        {"Transfer-Encoding ignored", "Date: a", "Transfer-Encoding: chunked\nDate: b", "Date: b"},
        {"hop-by-hop ignored", "Date: a",
         "Connection: close, X-Hop\nKeep-Alive: timeout=5\nX-Hop: 1\nProxy-Foo: 2\nTE: "
         "trailers\nUpgrade: h2c\nTrailer: X\nDate: b",
         "Date: b"},
        {"Connection-named stored field kept", "X-Hop: old", "Connection: X-Hop\nX-Hop: new",
         "X-Hop: old"},
        {"validators and freshness updated",
         "Content-Type: text/plain\nETag: W/\"1\"\nLast-Modified: x\nAge: 30\nContent-Length: 3",
         "ETag: W/\"2\"\nAge: 0\nLast-Modified: y\nCache-Control: max-age=9",
         "Content-Type: text/plain\nETag: W/\"2\"\nLast-Modified: y\nAge: 0\nContent-Length: "
         "3\nCache-Control: max-age=9"},
        {"empty value replaces", "X: 1", "X: ", "X: "},
        {"both empty", "", "", ""},
};

START_TEST(test_merge_304)
{
	for (size_t i = 0; i < sizeof(merge_cases) / sizeof(merge_cases[0]); i++) {
		struct http_headers st = {0}, nm = {0}, out = {0};

		headers_from(&st, merge_cases[i].stored);
		headers_from(&nm, merge_cases[i].nm);
		rfc9111_merge_304(&st, &nm, &out);
		char *got = headers_to(&out);
		ck_assert_msg(strcmp(got, merge_cases[i].want) == 0, "case \"%s\":\n%s\nwant:\n%s",
		              merge_cases[i].name, got, merge_cases[i].want);
		free(got);
		http_headers_clear(&st);
		http_headers_clear(&nm);
		http_headers_clear(&out);
	}
}
END_TEST

/* ------------------------------------------------------------------------- conditionals */

static const struct {
	const char *inm;
	const char *etag;
	bool match;
} etag_cases[] = {
        {"\"abc\"", "\"abc\"", true},
        {"\"abc\"", "\"abd\"", false},
        {"\"abc\"", "\"ABC\"", false},
        {"W/\"abc\"", "\"abc\"", true},
        {"\"abc\"", "W/\"abc\"", true},
        {"W/\"abc\"", "W/\"abc\"", true},
        {"w/\"abc\"", "\"abc\"", false},
        {"\"a\", \"b\", \"c\"", "\"b\"", true},
        {"\"a\",\"b\",\"c\"", "\"c\"", true},
        {"  \"a\" ,  W/\"b\"  ", "\"b\"", true},
        {"\"a\", \"b\"", "\"d\"", false},
        {",, \"x\",", "\"x\"", true},
        {"*", "\"anything\"", true},
        {"*", "W/\"w\"", true},
        {" * ", "\"x\"", true},
        {"*", NULL, true}, /* RFC 9110 13.1.2: "*" matches any stored representation */
        {"\"abc\"", NULL, false},
        {NULL, "\"abc\"", false},
        {"", "\"abc\"", false},
        {"abc", "abc", false},        /* entity-tags are quoted */
        {"\"abc\"", "abc", false},    /* stored ETag malformed */
        {"\"a,b\"", "\"a,b\"", true}, /* commas inside a tag */
        {"\"a,b\"", "\"a\"", false},
        {"\"\"", "\"\"", true}, /* empty opaque tag */
        {"\"\"", "\"x\"", false},
        {"\"a\" \"b\"", "\"b\"", false},  /* missing comma: malformed */
        {"junk, \"b\"", "\"b\"", false},  /* malformed before: stop */
        {"\"a\\\"", "\"a\\\"", true},     /* backslash is an ordinary etagc */
        {"\"abc", "\"abc\"", false},      /* unterminated */
        {"\"abc\"", "  \"abc\"  ", true}, /* spaces around the stored ETag */
        {"\"abc\"x", "\"abc\"", true},    /* matched before the junk was seen */
        {"\"xyz\"x, \"abc\"", "\"abc\"", false},
};

START_TEST(test_etag_matches)
{
	for (size_t i = 0; i < sizeof(etag_cases) / sizeof(etag_cases[0]); i++)
		ck_assert_msg(rfc9111_etag_matches(etag_cases[i].inm, etag_cases[i].etag) ==
		                      etag_cases[i].match,
		              "case %zu: If-None-Match %s vs ETag %s: want %d", i,
		              etag_cases[i].inm ? etag_cases[i].inm : "(null)",
		              etag_cases[i].etag ? etag_cases[i].etag : "(null)",
		              etag_cases[i].match);
}
END_TEST

static const struct {
	const char *name;
	const char *req;
	const char *etag;
	const char *lm;
	bool nm;
} cond_cases[] = {
        {"no conditionals", "Accept: */*", "\"1\"", D0, false},
        {"INM match", "If-None-Match: \"1\"", "\"1\"", NULL, true},
        {"INM weak match", "If-None-Match: W/\"1\"", "\"1\"", NULL, true},
        {"INM no match", "If-None-Match: \"2\"", "\"1\"", NULL, false},
        {"INM star", "If-None-Match: *", "\"1\"", NULL, true},
        {"INM star without stored etag", "If-None-Match: *", NULL, D0, true},
        {"INM tag without stored etag", "If-None-Match: \"1\"", NULL, D0, false},
        {"INM on two lines", "If-None-Match: \"a\"\nIf-None-Match: \"1\"", "\"1\"", NULL, true},
        {"INM decides over IMS (no match)", "If-None-Match: \"2\"\nIf-Modified-Since: " D100,
         "\"1\"", D0, false},
        {"INM decides over IMS (match)", "If-None-Match: \"1\"\nIf-Modified-Since: " DM100, "\"1\"",
         D0, true},
        {"INM malformed, IMS ignored", "If-None-Match: x\nIf-Modified-Since: " D100, "\"1\"", D0,
         false},
        {"IMS equal", "If-Modified-Since: " D0, NULL, D0, true},
        {"IMS later", "If-Modified-Since: " D100, "\"1\"", D0, true},
        {"IMS earlier", "If-Modified-Since: " DM100, NULL, D0, false},
        {"IMS other form", "If-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT", NULL, D0, true},
        {"IMS invalid", "If-Modified-Since: yesterday", NULL, D0, false},
        {"IMS 0", "If-Modified-Since: 0", NULL, D0, false},
        {"IMS two lines", "If-Modified-Since: " D100 "\nIf-Modified-Since: " D100, NULL, D0, false},
        {"Last-Modified invalid", "If-Modified-Since: " D100, NULL, "garbage", false},
        {"no Last-Modified", "If-Modified-Since: " D100, "\"1\"", NULL, false},
        {"IMS name case", "if-modified-since: " D0, NULL, D0, true},
        {"If-Unmodified-Since ignored", "If-Unmodified-Since: " D100, NULL, D0, false},
};

START_TEST(test_client_not_modified)
{
	for (size_t i = 0; i < sizeof(cond_cases) / sizeof(cond_cases[0]); i++) {
		struct http_headers h = {0};

		headers_from(&h, cond_cases[i].req);
		bool got = rfc9111_client_not_modified(&h, cond_cases[i].etag, cond_cases[i].lm);
		ck_assert_msg(got == cond_cases[i].nm, "case \"%s\": got %d", cond_cases[i].name,
		              got);
		http_headers_clear(&h);
	}
}
END_TEST

static const struct {
	const char *name;
	const char *req;
	int status;
	const char *etag;
	const char *lm;
	bool failed;
} pre_cases[] = {
        {"no preconditions", "Accept: */*", 200, "\"1\"", D0, false},
        {"IM match", "If-Match: \"1\"", 200, "\"1\"", NULL, false},
        {"IM list match", "If-Match: \"0\", \"1\"", 200, "\"1\"", NULL, false},
        {"IM two lines", "If-Match: \"0\"\nIf-Match: \"1\"", 200, "\"1\"", NULL, false},
        {"IM no match", "If-Match: \"2\"", 200, "\"1\"", NULL, true},
        {"IM weak stored never matches", "If-Match: \"1\"", 200, "W/\"1\"", NULL, true},
        {"IM weak tag never matches", "If-Match: W/\"1\"", 200, "\"1\"", NULL, true},
        {"IM star", "If-Match: *", 200, NULL, NULL, false},
        {"IM without stored etag", "If-Match: \"1\"", 200, NULL, D0, true},
        {"IM malformed", "If-Match: 1", 200, "\"1\"", NULL, true},
        {"IM on a 404", "If-Match: \"2\"", 404, "\"1\"", NULL, false},
        {"IM decides over IUS", "If-Match: \"1\"\nIf-Unmodified-Since: " DM100, 200, "\"1\"", D0,
         false},
        {"IUS later", "If-Unmodified-Since: " D100, 200, NULL, D0, false},
        {"IUS equal", "If-Unmodified-Since: " D0, 200, NULL, D0, false},
        {"IUS earlier", "If-Unmodified-Since: " DM100, 200, NULL, D0, true},
        {"IUS without Last-Modified", "If-Unmodified-Since: " D100, 200, "\"1\"", NULL, true},
        {"IUS invalid date ignored", "If-Unmodified-Since: soon", 200, NULL, D0, false},
        {"IUS twice ignored", "If-Unmodified-Since: " DM100 "\nIf-Unmodified-Since: " DM100, 200,
         NULL, D0, false},
        {"IUS on a 301", "If-Unmodified-Since: " DM100, 301, NULL, D0, false},
};

START_TEST(test_precondition_failed)
{
	for (size_t i = 0; i < sizeof(pre_cases) / sizeof(pre_cases[0]); i++) {
		struct http_headers h = {0};

		headers_from(&h, pre_cases[i].req);
		bool got = rfc9111_precondition_failed(&h, pre_cases[i].status, pre_cases[i].etag,
		                                       pre_cases[i].lm);
		ck_assert_msg(got == pre_cases[i].failed, "case \"%s\": got %d", pre_cases[i].name,
		              got);
		http_headers_clear(&h);
	}
}
END_TEST

static const struct {
	const char *range;
	int64_t len;
	enum rfc9111_range want;
	int64_t first, last;
} range_cases[] = {
        {NULL, 10, RFC9111_RANGE_NONE, 0, 0},
        {"bytes=0-4", 10, RFC9111_RANGE_ONE, 0, 4},
        {"bytes=2-", 10, RFC9111_RANGE_ONE, 2, 9},
        {"bytes=-3", 10, RFC9111_RANGE_ONE, 7, 9},
        {"bytes=-30", 10, RFC9111_RANGE_ONE, 0, 9},
        {"bytes=5-100", 10, RFC9111_RANGE_ONE, 5, 9},
        {"bytes=9-9", 10, RFC9111_RANGE_ONE, 9, 9},
        {"BYTES = 1-2 ", 10, RFC9111_RANGE_ONE, 1, 2},
        {"bytes=1-2,", 10, RFC9111_RANGE_ONE, 1, 2},
        {"bytes=10-", 10, RFC9111_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=10-20", 10, RFC9111_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-0", 10, RFC9111_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-5", 0, RFC9111_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=0-1,3-4", 10, RFC9111_RANGE_MULTI, 0, 0},
        {"bytes=-1, 0-0", 10, RFC9111_RANGE_MULTI, 0, 0},
        {"bytes=4-2", 10, RFC9111_RANGE_NONE, 0, 0},
        {"bytes=a-2", 10, RFC9111_RANGE_NONE, 0, 0},
        {"bytes=1-2x", 10, RFC9111_RANGE_NONE, 0, 0},
        {"bytes=-", 10, RFC9111_RANGE_NONE, 0, 0},
        {"bytes 0-1", 10, RFC9111_RANGE_NONE, 0, 0},
        {"items=0-1", 10, RFC9111_RANGE_NONE, 0, 0},
        {"bytes=99999999999999999999-", 10, RFC9111_RANGE_NONE, 0, 0},
        {"", 10, RFC9111_RANGE_NONE, 0, 0},
};

START_TEST(test_range_parse)
{
	for (size_t i = 0; i < sizeof(range_cases) / sizeof(range_cases[0]); i++) {
		int64_t first = -1, last = -1;
		enum rfc9111_range got = rfc9111_range_parse(range_cases[i].range,
		                                             range_cases[i].len, &first, &last);
		ck_assert_msg(got == range_cases[i].want, "case %zu (%s): got %d", i,
		              range_cases[i].range ? range_cases[i].range : "(null)", (int)got);
		if (got == RFC9111_RANGE_ONE)
			ck_assert_msg(first == range_cases[i].first && last == range_cases[i].last,
			              "case %zu (%s): got %lld-%lld", i, range_cases[i].range,
			              (long long)first, (long long)last);
	}
}
END_TEST

static const struct {
	const char *name;
	const char *req;
	const char *etag;
	const char *lm;
	bool ok;
} if_range_cases[] = {
        {"absent", "Range: bytes=0-1", "\"1\"", D0, true},
        {"strong etag equal", "If-Range: \"1\"", "\"1\"", D0, true},
        {"strong etag differs", "If-Range: \"2\"", "\"1\"", D0, false},
        {"weak tag never", "If-Range: W/\"1\"", "W/\"1\"", D0, false},
        {"stored weak", "If-Range: \"1\"", "W/\"1\"", D0, false},
        {"date equal", "If-Range: " D0, "\"1\"", D0, true},
        {"date later", "If-Range: " D100, NULL, D0, false},
        {"date without Last-Modified", "If-Range: " D0, "\"1\"", NULL, false},
        {"garbage", "If-Range: soon", "\"1\"", D0, false},
        {"twice", "If-Range: \"1\"\nIf-Range: \"1\"", "\"1\"", D0, false},
};

START_TEST(test_if_range_ok)
{
	for (size_t i = 0; i < sizeof(if_range_cases) / sizeof(if_range_cases[0]); i++) {
		struct http_headers h = {0};

		headers_from(&h, if_range_cases[i].req);
		bool got = rfc9111_if_range_ok(&h, if_range_cases[i].etag, if_range_cases[i].lm);
		ck_assert_msg(got == if_range_cases[i].ok, "case \"%s\": got %d",
		              if_range_cases[i].name, got);
		http_headers_clear(&h);
	}
}
END_TEST

static Suite *
rfc9111_suite(void)
{
	Suite *s = suite_create("rfc9111");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_storable);
	tcase_add_test(tc, test_lifetime);
	tcase_add_test(tc, test_heuristic);
	tcase_add_test(tc, test_response_cc);
	tcase_add_test(tc, test_use);
	tcase_add_test(tc, test_serve_on_error);
	tcase_add_test(tc, test_corrected_initial_age);
	tcase_add_test(tc, test_current_age);
	tcase_add_test(tc, test_merge_304);
	tcase_add_test(tc, test_etag_matches);
	tcase_add_test(tc, test_client_not_modified);
	tcase_add_test(tc, test_precondition_failed);
	tcase_add_test(tc, test_range_parse);
	tcase_add_test(tc, test_if_range_ok);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(rfc9111_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
