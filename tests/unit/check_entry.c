/* Unit tests of entry: derived freshness, ages, 304 refresh, reference counts. */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bodyfile.h"
#include "entry.h"
#include "util.h"

static const struct rfc9111_settings settings = {.default_ttl = 0};

/* An entry received at t=1000 (request sent at t=998) with the given headers. */
static struct entry *
make(const char *const *hdrs, const char *body)
{
	struct http_headers h = {0};

	for (size_t i = 0; hdrs && hdrs[i]; i += 2)
		http_headers_add(&h, hdrs[i], hdrs[i + 1]);
	return entry_new("GET host /p", NULL, 200, &h, body ? xstrdup(body) : NULL,
	                 body ? strlen(body) : 0, 998, 1000, &settings);
}

/* Byte i of e's body (which must have one). */
static char
body_at(const struct entry *e, size_t i)
{
	const char *b = entry_body(e);

	if (b == NULL)
		ck_abort_msg("no body");
	return b == NULL ? 0 : b[i];
}

START_TEST(test_max_age_freshness)
{
	const char *h[] = {"Cache-Control", "max-age=60", "Date", "Thu, 01 Jan 1970 00:16:40 GMT",
	                   NULL};
	struct entry *e = make(h, "body");

	ck_assert_int_eq(entry_date_value(e), 1000);
	ck_assert_int_eq(e->lifetime, 60);
	/* apparent age 0, response delay 2: corrected initial age 2 */
	ck_assert_int_eq(e->corrected_initial_age, 2);
	ck_assert_int_eq(entry_expires_at(e), 1058);
	ck_assert_int_eq(entry_age(e, 1010), 12);
	ck_assert_int_eq(entry_ttl(e, 1010), 48);
	ck_assert(entry_is_fresh(e, 1057));
	ck_assert(!entry_is_fresh(e, 1058));
	ck_assert(!entry_has_validator(e));
	ck_assert_int_eq(entry_keep_until(e), entry_expires_at(e));
	entry_unref(e);
}
END_TEST

START_TEST(test_age_header_counts)
{
	const char *h[] = {"Cache-Control", "max-age=60", "Age", "100", NULL};
	struct entry *e = make(h, NULL);

	ck_assert_int_ge(e->corrected_initial_age, 100);
	ck_assert(!entry_is_fresh(e, 1000));
	entry_unref(e);
}
END_TEST

START_TEST(test_validators_keep_forever)
{
	const char *h[] = {"ETag", "\"x\"", "Last-Modified", "Thu, 01 Jan 1970 00:00:01 GMT", NULL};
	struct entry *e = make(h, "b");

	ck_assert_str_eq(entry_etag(e), "\"x\"");
	ck_assert_str_eq(entry_last_modified(e), "Thu, 01 Jan 1970 00:00:01 GMT");
	ck_assert(entry_has_validator(e));
	ck_assert_int_eq(e->lifetime, 0);
	ck_assert(entry_keep_until(e) == ENTRY_KEEP_FOREVER);
	entry_unref(e);
}
END_TEST

START_TEST(test_refresh_merges_and_keeps_body)
{
	const char *h[] = {"Cache-Control", "max-age=10", "ETag",         "\"x\"",      "Age", "50",
	                   "X-Old",         "1",          "Content-Type", "text/plain", NULL};
	struct entry *e = make(h, "stored body");
	struct http_headers nm = {0};

	http_headers_add(&nm, "Cache-Control", "max-age=300");
	http_headers_add(&nm, "X-New", "2");
	http_headers_add(&nm, "Content-Length", "0");
	struct entry *f = entry_refresh(e, &nm, 2000, 2001, &settings);

	ck_assert_int_eq(f->body_len, strlen("stored body"));
	ck_assert_ptr_ne(entry_body(f), entry_body(e)); /* the new entry has its own copy */
	ck_assert_int_eq(memcmp(entry_body(f), "stored body", f->body_len), 0);
	ck_assert_str_eq(entry_get(f, "Cache-Control"), "max-age=300");
	ck_assert_str_eq(entry_get(f, "X-New"), "2");
	ck_assert_str_eq(entry_get(f, "X-Old"), "1");
	ck_assert_ptr_null(entry_get(f, "Age")); /* old Age dropped */
	ck_assert_ptr_nonnull(entry_get(f, "Date"));
	ck_assert_int_eq(f->lifetime, 300);
	ck_assert(entry_is_fresh(f, 2100));
	/* the original is unchanged */
	ck_assert_str_eq(entry_get(e, "Cache-Control"), "max-age=10");
	ck_assert_int_eq(http_headers_count(&nm, "X-New"), 1);
	http_headers_clear(&nm);
	entry_unref(e);
	entry_unref(f);
}
END_TEST

START_TEST(test_refcount)
{
	struct entry *e = make(NULL, "x");

	ck_assert_uint_eq(atomic_load(&e->refs), 1);
	ck_assert_ptr_eq(entry_ref(e), e);
	ck_assert_uint_eq(atomic_load(&e->refs), 2);
	entry_unref(e);
	ck_assert_uint_eq(atomic_load(&e->refs), 1);
	ck_assert_int_eq(body_at(e, 0), 'x'); /* still valid */
	entry_unref(e);
	entry_unref(NULL);
}
END_TEST

/* A stored entry keeps its keys and headers in few allocations, and its validators point
 * into the packed headers. */
START_TEST(test_compact_layout)
{
	static const char *const hdrs[] = {
	        "ETag",       "\"v1\"",        "Cache-Control",
	        "max-age=60", "Last-Modified", "Sun, 22 Nov 2026 00:00:00 GMT",
	        NULL};
	struct http_headers h = {0};
	struct entry *e;

	for (size_t i = 0; hdrs[i]; i += 2)
		http_headers_add(&h, hdrs[i], hdrs[i + 1]);
	e = entry_new("GET host /p", "accept=x", 200, &h, xstrdup("body"), 4, 998, 1000, &settings);
	ck_assert_uint_eq(h.n, 0); /* taken */
	ck_assert(!e->body_owned); /* copied into the block (the buffer given was freed) */
	ck_assert_mem_eq(entry_body(e), "body", 4);
	ck_assert_str_eq(e->key, "GET host /p");
	ck_assert_ptr_eq(e->key, (char *)e + offsetof(struct entry, key));
	ck_assert_str_eq(entry_vary_key(e), "accept=x");
	/* the fields follow the keys, packed: a code byte for a common name (ETag,
	 * Cache-Control, Last-Modified), then the value */
	ck_assert_uint_eq(e->fields_off, offsetof(struct entry, key) + 12 + 9);
	ck_assert_uint_eq(e->fields_len, (1 + 5) + (1 + 11) + (1 + 30));
	ck_assert_uint_eq(entry_nfields(e), 3);
	ck_assert_ptr_eq(entry_body(e), (char *)e + e->fields_off + e->fields_len);
	ck_assert_uint_eq(entry_size(e), e->fields_off + e->fields_len + 4);
	ck_assert_str_eq(entry_etag(e), "\"v1\"");
	ck_assert_ptr_eq(entry_etag(e), (char *)e + e->fields_off + 1);
	ck_assert_str_eq(entry_last_modified(e), "Sun, 22 Nov 2026 00:00:00 GMT");
	ck_assert_int_eq(e->lifetime, 60);
	entry_unref(e);

	/* a large body keeps the buffer it came in, and a 304 refresh copies it */
	char *big = xcalloc(1, 100000);
	big[99999] = 'z';
	e = entry_new("k", NULL, 200, &h, big, 100000, 1, 1, &settings);
	ck_assert(e->body_owned);
	ck_assert_ptr_eq(entry_body(e), big);
	ck_assert_int_eq(entry_body_fd(e), -1);
	ck_assert_uint_eq(entry_size(e), e->fields_off + e->fields_len + sizeof(char *));
	struct http_headers nm = {0};
	http_headers_add(&nm, "ETag", "\"v2\"");
	struct entry *r = entry_refresh(e, &nm, 2, 2, &settings);
	ck_assert(r->body_owned);
	ck_assert_ptr_ne(entry_body(r), big);
	ck_assert_int_eq(body_at(r, 99999), 'z');
	ck_assert_str_eq(entry_etag(r), "\"v2\"");
	entry_unref(e);
	entry_unref(r);
	http_headers_clear(&nm);
}
END_TEST

/*
 * The packed fields read back as the list they were made from: names as received (common
 * ones by their code, others and other spellings as bytes), values, order and duplicates;
 * entry_get, entry_count, entry_join and entry_headers answer as http_headers_* on the list.
 */
START_TEST(test_packed_fields)
{
	static const char *const cases[][13] = {
	        {NULL},
	        {"Date", "Thu, 01 Jan 1970 00:16:40 GMT", "Cache-Control", "max-age=60",
	         "Content-Type", "text/plain", NULL},
	        {"date", "lower case: not the common spelling", "DATE", "", "X-A", "1", NULL},
	        {"Vary", "a", "X-Long-Name-Of-A-Field", "v", "vary", "b", "Vary", "", NULL},
	        {"Set-Cookie", "a=1", "Set-Cookie", "b=2", "ETag", "\"e\"", "Server", "s",
	         "Accept-Ranges", "bytes", "Content-Encoding", "gzip", NULL},
	};
	static const char *const probes[] = {
	        "Date", "date",         "Vary", "X-A",  "Set-Cookie", "ETag",
	        "etag", "Content-Type", "None", "DATE", "Server",     "x-long-name-of-a-field"};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_headers h = {0}, copy = {0}, lent = {0};
		const char *name, *value;
		size_t pos = 0, n = 0;
		struct entry *e;

		for (size_t j = 0; cases[i][j] != NULL; j += 2)
			http_headers_add(&h, cases[i][j], cases[i][j + 1]);
		http_headers_copy(&copy, &h);
		e = entry_new("k", NULL, 200, &h, xstrdup("body"), 4, 998, 1000, &settings);
		ck_assert_uint_eq(entry_nfields(e), copy.n);
		while (entry_field_next(e, &pos, &name, &value)) {
			ck_assert_uint_lt(n, copy.n);
			ck_assert_str_eq(name, copy.v[n].name);
			ck_assert_str_eq(value, copy.v[n].value);
			ck_assert_str_eq(entry_field_at(e, n, &value), copy.v[n].name);
			ck_assert_str_eq(value, copy.v[n].value);
			n++;
		}
		ck_assert_uint_eq(n, copy.n);
		ck_assert_uint_eq(pos, e->fields_len);
		ck_assert_ptr_eq(entry_body(e), (char *)e + e->fields_off + e->fields_len);
		ck_assert_mem_eq(entry_body(e), "body", 4);
		entry_headers(e, &lent);
		ck_assert_uint_eq(lent.n, copy.n);
		for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
			const char *want = http_headers_get(&copy, probes[k]);
			char *j1 = http_headers_join(&copy, probes[k]),
			     *j2 = entry_join(e, probes[k]);

			if (want == NULL)
				ck_assert_ptr_null(entry_get(e, probes[k]));
			else
				ck_assert_str_eq(entry_get(e, probes[k]), want);
			ck_assert_uint_eq(entry_count(e, probes[k]),
			                  http_headers_count(&copy, probes[k]));
			ck_assert_uint_eq(http_headers_count(&lent, probes[k]),
			                  http_headers_count(&copy, probes[k]));
			ck_assert((j1 == NULL) == (j2 == NULL));
			if (j1 != NULL)
				ck_assert_str_eq(j1, j2);
			free(j1);
			free(j2);
		}
		http_headers_clear(&lent);
		http_headers_clear(&copy);
		entry_unref(e);
	}
}
END_TEST

/* Bodies at or over the threshold go to sealed memory files, within the budget of files. */
START_TEST(test_body_file)
{
	struct http_headers h = {0}, nm = {0};
	struct entry *e, *r, *small, *over;
	char *big = xmalloc(100000);

	for (size_t i = 0; i < 100000; i++)
		big[i] = (char)('a' + i % 23);
	bodyfile_configure(32768, 2);
	e = entry_new("k", NULL, 200, &(struct http_headers){0}, big, 100000, 1, 1, &settings);
	ck_assert_int_ge(entry_body_fd(e), 0);
	ck_assert(!e->body_owned);
	/* the block ends with the mapping's address, then the descriptor */
	ck_assert_uint_eq(entry_size(e),
	                  e->fields_off + e->fields_len + sizeof(char *) + sizeof(int));
	ck_assert_int_eq(body_at(e, 0), 'a');
	ck_assert_int_eq(body_at(e, 99999), (char)('a' + 99999 % 23));
	ck_assert_uint_eq(bodyfile_open_count(), 1);
	/* sealed: the bytes handed to sockets can never change */
	ck_assert_int_eq(pwrite(entry_body_fd(e), "x", 1, 0), -1);
	ck_assert_int_eq(ftruncate(entry_body_fd(e), 10), -1);
	char c;
	ck_assert_int_eq(pread(entry_body_fd(e), &c, 1, 99999), 1);
	ck_assert_int_eq(c, body_at(e, 99999));

	/* a 304 refresh gets a file of its own, the second and last of the budget */
	http_headers_add(&nm, "ETag", "\"v2\"");
	r = entry_refresh(e, &nm, 2, 2, &settings);
	ck_assert_int_ge(entry_body_fd(r), 0);
	ck_assert_int_ne(entry_body_fd(r), entry_body_fd(e));
	ck_assert(memcmp(entry_body(r), entry_body(e), 100000) == 0);
	ck_assert_uint_eq(bodyfile_open_count(), 2);

	/* over the budget: ordinary memory, counted; under the threshold: in the block */
	over = entry_refresh(e, &nm, 3, 3, &settings);
	ck_assert_int_eq(entry_body_fd(over), -1);
	ck_assert(over->body_owned);
	ck_assert(memcmp(entry_body(over), entry_body(e), 100000) == 0);
	ck_assert_uint_eq(bodyfile_refused(), 1);
	small = entry_new("s", NULL, 200, &h, xstrdup("abc"), 3, 1, 1, &settings);
	ck_assert_int_eq(entry_body_fd(small), -1);
	ck_assert_uint_eq(bodyfile_refused(), 1);

	/* the last reference closes the file */
	entry_unref(e);
	ck_assert_uint_eq(bodyfile_open_count(), 1);
	entry_unref(r);
	entry_unref(over);
	entry_unref(small);
	ck_assert_uint_eq(bodyfile_open_count(), 0);
	http_headers_clear(&nm);
	bodyfile_configure(0, 0); /* off again (the suite may run without forking) */
}
END_TEST

/*
 * A stored response keeps its response directives (struct cc_response) and nothing of the
 * request-only ones: each row's Cache-Control, parsed alone, gives the same response
 * directives as the stored entry's, byte for byte.
 */
START_TEST(test_response_directives_kept)
{
	static const char *const values[] = {
	        "max-age=60",
	        "s-maxage=30, public",
	        "no-cache, must-revalidate",
	        "private, proxy-revalidate, no-transform",
	        "stale-while-revalidate=5, stale-if-error=7, immutable",
	        "no-store, must-understand",
	        "no-cache=\"set-cookie\", private=\"x-a\"",
	        "max-age=abc",
	        "max-age=10, max-stale=5, min-fresh=3, only-if-cached",
	        "x-extension",
	};

	/* 4 delta directives of 5 bytes (packed) and 12 flags: no hole; the key follows the last
	 * member of struct entry without padding */
	ck_assert_uint_eq(sizeof(struct cc_delta), 5);
	ck_assert_uint_eq(sizeof(struct cc_response), 32);
	ck_assert_uint_le(offsetof(struct entry, key), 97);
	ck_assert_uint_le(sizeof(struct entry), 104);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct http_headers h = {0};
		struct cache_control want;
		struct entry *e;

		cachecontrol_parse(values[i], &want);
		http_headers_add(&h, "Cache-Control", values[i]);
		e = entry_new("k", NULL, 200, &h, NULL, 0, 998, 1000, &settings);
		ck_assert_msg(memcmp(&e->cc, &want.resp, sizeof(e->cc)) == 0, "%s", values[i]);
		ck_assert_int_eq(e->cc.max_age.state, want.max_age.state);
		ck_assert_int_eq(e->cc.no_cache, want.no_cache);
		ck_assert(e->cc.any);
		entry_unref(e);
	}
}
END_TEST

START_TEST(test_default_ttl)
{
	struct rfc9111_settings s = {.default_ttl = 30};
	struct http_headers h = {0};
	struct entry *e = entry_new("k", NULL, 200, &h, NULL, 0, 1000, 1000, &s);

	ck_assert_int_eq(e->lifetime, 30);
	ck_assert_int_eq(h.n, 0);
	entry_unref(e);
}
END_TEST

/* Counts the variants a spec lists and returns the value of the i-th. */
static const char *
spec_item(const struct entry *spec, size_t want, size_t *count)
{
	const char *v = NULL;
	size_t n = 0;

	const char *name, *value;

	for (size_t pos = 0; entry_field_next(spec, &pos, &name, &value);) {
		if (strcmp(name, ENTRY_SPEC_VARIANT) != 0)
			continue;
		if (n == want)
			v = value;
		n++;
	}
	*count = n;
	return v;
}

START_TEST(test_spec_add)
{
	size_t n;
	struct entry *a = entry_spec_add(NULL, "GET h /v", "accept", "id1", "00000000000000aa",
	                                 "\"e1\"", 100, &settings);

	ck_assert(a->vary_spec);
	ck_assert_str_eq(entry_spec_id(a), "id1");
	ck_assert(entry_spec_same(a, "accept"));
	ck_assert(!entry_spec_same(a, "accept, accept-language"));
	ck_assert_int_eq(entry_keep_until(a), ENTRY_KEEP_FOREVER);
	ck_assert(entry_is_fresh(a, INT32_MAX / 2)); /* never stale, never served either */
	ck_assert_str_eq(spec_item(a, 0, &n), "00000000000000aa \"e1\"");

	/* same id: the old variants are kept, a re-listed one moves last with its new ETag */
	struct entry *b = entry_spec_add(a, "GET h /v", "accept", "id1", "00000000000000bb", NULL,
	                                 101, &settings);
	struct entry *c = entry_spec_add(b, "GET h /v", "accept", "id1", "00000000000000aa",
	                                 "\"e2\"", 102, &settings);
	ck_assert_str_eq(spec_item(c, 0, &n), "00000000000000bb");
	ck_assert_str_eq(spec_item(c, 1, &n), "00000000000000aa \"e2\"");
	ck_assert_int_eq(n, 2);

	/* another id (or other names): the old list is not reachable, not kept */
	struct entry *d = entry_spec_add(c, "GET h /v", "accept", "id2", "00000000000000cc", NULL,
	                                 103, &settings);
	spec_item(d, 0, &n);
	ck_assert_int_eq(n, 1);

	/* at most ENTRY_SPEC_MAX: the oldest go */
	struct entry *e = entry_ref(d);
	for (int i = 0; i < ENTRY_SPEC_MAX + 5; i++) {
		char hash[17];
		snprintf(hash, sizeof(hash), "%016x", i);
		struct entry *next =
		        entry_spec_add(e, "GET h /v", "accept", "id2", hash, NULL, 104, &settings);
		entry_unref(e);
		e = next;
	}
	ck_assert_str_eq(spec_item(e, ENTRY_SPEC_MAX - 1, &n), "0000000000000024");
	ck_assert_int_eq(n, ENTRY_SPEC_MAX);
	entry_unref(a);
	entry_unref(b);
	entry_unref(c);
	entry_unref(d);
	entry_unref(e);
}
END_TEST

START_TEST(test_stale_windows_keep)
{
	const char *swr[] = {"Cache-Control", "max-age=60, stale-while-revalidate=600", NULL};
	const char *mr[] = {"Cache-Control", "max-age=60, must-revalidate, stale-if-error=600",
	                    NULL};
	struct entry *e = make(swr, NULL);

	ck_assert_int_eq(entry_keep_until(e), entry_expires_at(e) + 600);
	entry_unref(e);
	e = make(mr, NULL);
	ck_assert_int_eq(entry_keep_until(e),
	                 entry_expires_at(e)); /* never served stale: useless then */
	entry_unref(e);
}
END_TEST

START_TEST(test_targeted_fields)
{
	struct rfc9111_settings s = {.targeted = "Tc-CC", .heuristic_max = 86400};
	struct http_headers h = {0};

	http_headers_add(&h, "Cache-Control", "no-store");
	http_headers_add(&h, "Expires", "Thu, 01 Jan 1970 01:00:00 GMT");
	http_headers_add(&h, "CDN-Cache-Control", "max-age=50");
	http_headers_add(&h, "tc-cc", "max-age=70");
	http_headers_add(&h, "X-Other", "1");
	struct entry *e = entry_new("k", NULL, 200, &h, NULL, 0, 1000, 1000, &s);
	ck_assert_str_eq(entry_targeted(e), "tc-cc"); /* as the response spells it */
	ck_assert_int_eq(e->lifetime, 70);
	ck_assert(!e->cc.no_store);
	ck_assert(entry_hides(e, "CDN-Cache-Control"));
	ck_assert(entry_hides(e, "TC-CC"));
	ck_assert(!entry_hides(e, "Cache-Control"));
	ck_assert(!entry_hides(e, "X-Other"));
	entry_unref(e);

	/* a heuristic when Last-Modified is there and nothing explicit */
	http_headers_add(&h, "Date", "Thu, 01 Jan 1970 00:16:40 GMT");          /* 1000 */
	http_headers_add(&h, "Last-Modified", "Thu, 01 Jan 1970 00:00:00 GMT"); /* 0 */
	e = entry_new("k", NULL, 200, &h, NULL, 0, 1000, 1000, &s);
	ck_assert_int_eq(e->lifetime, 100);
	ck_assert(!entry_hides(e, "CDN-Cache-Control"));
	entry_unref(e);
}
END_TEST

/* Which Content-Length fields a stored entry keeps: only those that tell more than its body. */
START_TEST(test_framing_dropped)
{
	static const struct {
		const char *cl[2]; /* Content-Length values (NULL: fewer) */
		const char *body;  /* NULL: none stored (a HEAD's or a streamed response's) */
		bool kept;
	} cases[] = {
	        {{"4", NULL}, "body", false},  /* equals the body: regenerated when sent */
	        {{"5", NULL}, "body", true},   /* says something else: kept */
	        {{"04", NULL}, "body", true},  /* not the canonical spelling: kept as received */
	        {{"4 ", NULL}, "body", true},  /* idem */
	        {{"4", "4"}, "body", true},    /* a list of values: kept */
	        {{"1024", NULL}, NULL, true},  /* no body here (HEAD, streamed): kept */
	        {{"0", NULL}, NULL, true},     /* no body stored: kept */
	        {{NULL, NULL}, "body", false}, /* none: nothing to keep */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_headers h = {0};
		struct entry *e, *r, *w;

		http_headers_add(&h, "Date", "Thu, 01 Jan 1970 00:16:40 GMT");
		for (size_t j = 0; j < 2 && cases[i].cl[j] != NULL; j++)
			http_headers_add(&h, "Content-Length", cases[i].cl[j]);
		http_headers_add(&h, "Cache-Control", "max-age=60");
		e = entry_new("k", NULL, 200, &h, cases[i].body ? xstrdup(cases[i].body) : NULL,
		              cases[i].body ? strlen(cases[i].body) : 0, 998, 1000, &settings);
		ck_assert_msg((entry_get(e, "Content-Length") != NULL) == cases[i].kept, "case %zu",
		              i);
		/* the other fields stay, in order, and the freshness is the same */
		const char *value;
		ck_assert_str_eq(entry_field_at(e, 0, &value), "Date");
		ck_assert_str_eq(entry_field_at(e, entry_nfields(e) - 1, &value), "Cache-Control");
		ck_assert_str_eq(value, "max-age=60");
		ck_assert_int_eq(e->lifetime, 60);
		/* a 304 refresh and a copy without a field keep what the entry kept */
		r = entry_refresh(e, &h, 1000, 1001, &settings);
		w = entry_without(e, (const char *const[]){"X-None"}, 1, &settings);
		ck_assert_uint_eq(entry_nfields(r), entry_nfields(e));
		ck_assert_uint_eq(entry_nfields(w), entry_nfields(e));
		entry_unref(e);
		entry_unref(r);
		entry_unref(w);
	}
}
END_TEST

/* Ages and lifetimes beyond 2^31 seconds saturate (RFC 9111 section 1.2.2). */
START_TEST(test_saturated_times)
{
	const char *h[] = {"Cache-Control", "max-age=99999999999", "Age", "99999999999", NULL};
	const char *g[] = {"Cache-Control", "max-age=2147483647", NULL};
	struct entry *e = make(h, "x"), *f = make(g, "x");

	ck_assert_int_eq(e->lifetime, INT32_MAX);
	ck_assert_int_eq(e->corrected_initial_age, INT32_MAX);
	ck_assert(!entry_is_fresh(e, 1000)); /* as old as it may be fresh */
	ck_assert_int_eq(f->lifetime, INT32_MAX);
	ck_assert(entry_is_fresh(f, 1000 + 86400 * 365));
	ck_assert_int_eq(entry_expires_at(f), (int64_t)998 + INT32_MAX); /* 2 s corrected age */
	ck_assert_int_eq(entry_request_time(f), 998); /* kept as a 32-bit delay before 1000 */
	entry_unref(e);
	entry_unref(f);

	/* a request sent 2^40 s before its response: the delay saturates (RFC 9111 1.2.2) */
	struct http_headers none = {0};
	e = entry_new("k", NULL, 200, &none, NULL, 0, 1000 - (INT64_C(1) << 40), 1000, &settings);
	ck_assert_int_eq(entry_request_time(e), (int64_t)1000 - INT32_MAX);
	ck_assert_int_eq(e->corrected_initial_age, INT32_MAX);
	entry_unref(e);
}
END_TEST

/* The block's size: the struct, the keys, the packed fields and a small body, no more. */
START_TEST(test_block_size)
{
	const char *h[] = {"Cache-Control", "max-age=60", "Content-Length", "4", NULL};
	struct entry *e = make(h, "body"), *big;
	struct http_headers none = {0};
	char *body = xcalloc(1, 100000);

	ck_assert_uint_eq(entry_nfields(e), 1);
	ck_assert_uint_eq(entry_size(e), (size_t)(entry_body(e) + 4 - (char *)e));
	/* Cache-Control is common: its code byte, then "max-age=60" */
	ck_assert_uint_eq(entry_size(e),
	                  offsetof(struct entry, key) + strlen("GET host /p") + 1 + 1 + 11 + 4);
	big = entry_new("k", NULL, 200, &none, body, 100000, 1, 1, &settings);
	ck_assert(big->body_owned);
	ck_assert_uint_lt(entry_size(big), 1000); /* the body is not in the block */
	entry_unref(e);
	entry_unref(big);
}
END_TEST

/* The validators and the targeted field are found by index: as http_headers_get finds them. */
START_TEST(test_field_indices)
{
	static const char *const cases[][9] = {
	        /* fields (name, value, ...), NULL-terminated */
	        {"etag", "\"a\"", "ETag", "\"b\"", NULL},
	        {"X-1", "1", "Last-Modified", "Thu, 01 Jan 1970 00:00:01 GMT", "ETag", "\"c\"",
	         NULL},
	        {"X-1", "1", "X-2", "2", NULL},
	        {"CDN-Cache-Control", "max-age=5", "cdn-cache-control", "max-age=6", "etag",
	         "\"d\"", NULL},
	};
	static const struct rfc9111_settings s = {.heuristic_max = 86400};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_headers h = {0}, copy = {0};
		struct entry *e, *w;

		for (size_t j = 0; cases[i][j] != NULL; j += 2)
			http_headers_add(&h, cases[i][j], cases[i][j + 1]);
		http_headers_copy(&copy, &h);
		e = entry_new("k", NULL, 200, &h, xstrdup("b"), 1, 998, 1000, &s);
		ck_assert_ptr_eq(entry_etag(e),
		                 http_headers_get(&copy, "ETag") ? entry_get(e, "ETag") : NULL);
		ck_assert_ptr_eq(entry_last_modified(e), entry_get(e, "Last-Modified"));
		if (http_headers_get(&copy, "ETag") != NULL)
			ck_assert_str_eq(entry_etag(e), http_headers_get(&copy, "ETag"));
		ck_assert(entry_has_validator(e) ==
		          (http_headers_get(&copy, "ETag") != NULL ||
		           http_headers_get(&copy, "Last-Modified") != NULL));
		/* a copy without the first field finds them at their new places */
		const char *first_value;
		w = entry_without(e, (const char *const[]){entry_field_at(e, 0, &first_value)}, 1,
		                  &s);
		ck_assert_ptr_eq(entry_etag(w), entry_get(w, "ETag"));
		ck_assert_ptr_eq(entry_last_modified(w), entry_get(w, "Last-Modified"));
		if (i == 3) {
			ck_assert_str_eq(entry_targeted(e),
			                 "CDN-Cache-Control"); /* the first one */
			ck_assert_int_ge(e->lifetime, 5);      /* from the targeted fields */
			ck_assert_ptr_null(entry_targeted(w)); /* both CDN fields were removed */
		} else {
			ck_assert_ptr_null(entry_targeted(e));
		}
		http_headers_clear(&copy);
		entry_unref(e);
		entry_unref(w);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("entry");
	TCase *tc = tcase_create("entry");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_max_age_freshness);
	tcase_add_test(tc, test_age_header_counts);
	tcase_add_test(tc, test_validators_keep_forever);
	tcase_add_test(tc, test_refresh_merges_and_keeps_body);
	tcase_add_test(tc, test_refcount);
	tcase_add_test(tc, test_compact_layout);
	tcase_add_test(tc, test_packed_fields);
	tcase_add_test(tc, test_response_directives_kept);
	tcase_add_test(tc, test_default_ttl);
	tcase_add_test(tc, test_body_file);
	tcase_add_test(tc, test_spec_add);
	tcase_add_test(tc, test_stale_windows_keep);
	tcase_add_test(tc, test_targeted_fields);
	tcase_add_test(tc, test_framing_dropped);
	tcase_add_test(tc, test_saturated_times);
	tcase_add_test(tc, test_block_size);
	tcase_add_test(tc, test_field_indices);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
