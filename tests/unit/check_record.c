/*
 * check_record: the memcached record of an entry. Round trips (every field, derived freshness
 * and the age that keeps counting), and untrusted input: foreign data, other versions, every
 * truncation, every changed byte, hand-made records with a valid checksum but a bad field, a
 * record of another key, and a seeded random mutation run that re-signs the mutated bytes so
 * that the field checks (not only the checksum) are exercised.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "record.h"

static const struct rfc9111_settings settings = {.default_ttl = 0};

#define KEY "GET api.example /products?id=1"

/* An entry with validators, freshness, Age, a Vary key and a binary body. */
static struct entry *
sample(void)
{
	struct http_headers h = {0};
	static const char body[] = "{\"a\":1}\0\xff\x01 tail";
	char *b = xmalloc(sizeof(body) - 1);

	memcpy(b, body, sizeof(body) - 1);
	http_headers_add(&h, "Content-Type", "application/json");
	http_headers_add(&h, "Cache-Control", "max-age=60, must-revalidate");
	http_headers_add(&h, "ETag", "\"v7\"");
	http_headers_add(&h, "Last-Modified", "Thu, 01 Jan 1970 00:00:10 GMT");
	http_headers_add(&h, "Date", "Thu, 01 Jan 1970 00:16:39 GMT");
	http_headers_add(&h, "Age", "5");
	http_headers_add(&h, "Vary", "Accept");
	http_headers_add(&h, "X-Empty", "");
	http_headers_add(&h, "X-Dup", "1");
	http_headers_add(&h, "X-Dup", "2");
	struct entry *e = entry_new(KEY, "accept=application/json", 200, &h, b, sizeof(body) - 1,
	                            997, 1000, &settings);
	e->response_ms = 1000123;
	return e;
}

static char *
encode(const struct entry *e, size_t *len)
{
	struct buf b = {0};

	record_encode(e, &b);
	return buf_steal(&b, len);
}

static void
assert_same(const struct entry *a, const struct entry *b)
{
	ck_assert_str_eq(a->key, b->key);
	if (entry_vary_key(a) == NULL)
		ck_assert_ptr_null(entry_vary_key(b));
	else
		ck_assert_str_eq(entry_vary_key(a), entry_vary_key(b));
	ck_assert_int_eq(a->status, b->status);
	ck_assert_uint_eq(entry_nfields(a), entry_nfields(b));
	for (size_t i = 0; i < entry_nfields(a); i++) {
		const char *av, *bv;
		ck_assert_str_eq(entry_field_at(a, i, &av), entry_field_at(b, i, &bv));
		ck_assert_str_eq(av, bv);
	}
	ck_assert_uint_eq(a->body_len, b->body_len);
	if (a->body_len > 0)
		ck_assert(memcmp(entry_body(a), entry_body(b), a->body_len) == 0);
	ck_assert_int_eq(entry_request_time(a), entry_request_time(b));
	ck_assert_int_eq(a->response_time, b->response_time);
	ck_assert_int_eq(a->response_ms, b->response_ms);
	ck_assert_int_eq(entry_date_value(a), entry_date_value(b));
	ck_assert_int_eq(a->corrected_initial_age, b->corrected_initial_age);
	ck_assert_int_eq(a->lifetime, b->lifetime);
	ck_assert_int_eq(entry_expires_at(a), entry_expires_at(b));
	ck_assert_int_eq(entry_keep_until(a), entry_keep_until(b));
	ck_assert_int_eq(a->cc.must_revalidate, b->cc.must_revalidate);
	ck_assert_int_eq(entry_has_validator(a), entry_has_validator(b));
}

START_TEST(test_round_trip)
{
	struct entry *e = sample(), *d = NULL;
	size_t len;
	char *rec = encode(e, &len);

	ck_assert_uint_eq(len, record_size(e));
	ck_assert_int_eq(record_decode(rec, len, KEY, &settings, &d), RECORD_OK);
	ck_assert_ptr_nonnull(d);
	assert_same(e, d);
	ck_assert_str_eq(entry_etag(d), "\"v7\"");
	ck_assert_str_eq(entry_last_modified(d), "Thu, 01 Jan 1970 00:00:10 GMT");
	/* the age keeps counting from the original exchange: Age 5 + 3 s of delay, then time */
	ck_assert_int_eq(entry_age(d, 1000), entry_age(e, 1000));
	ck_assert_int_eq(entry_age(d, 1030), 38);
	ck_assert_int_eq(entry_ttl(d, 1030), 22);
	ck_assert(!entry_is_fresh(d, 1052));
	ck_assert_uint_eq(atomic_load(&d->refs), 1);
	/* re-encoding the decoded entry gives the same bytes */
	size_t len2;
	char *rec2 = encode(d, &len2);
	ck_assert_uint_eq(len, len2);
	ck_assert(memcmp(rec, rec2, len) == 0);
	free(rec2);
	entry_unref(d);
	/* without an expected key any valid record decodes */
	ck_assert_int_eq(record_decode(rec, len, NULL, &settings, &d), RECORD_OK);
	entry_unref(d);
	free(rec);
	entry_unref(e);
}
END_TEST

START_TEST(test_minimal_entry)
{
	struct http_headers h = {0};
	struct entry *e = entry_new("k", NULL, 404, &h, NULL, 0, 5, 5, &settings), *d = NULL;
	size_t len;
	char *rec = encode(e, &len);

	ck_assert_uint_eq(len, RECORD_OVERHEAD + 1);
	ck_assert_int_eq(record_decode(rec, len, "k", &settings, &d), RECORD_OK);
	assert_same(e, d);
	ck_assert_ptr_null(entry_vary_key(d));
	ck_assert_uint_eq(entry_nfields(d), 0);
	entry_unref(d);
	free(rec);
	entry_unref(e);
}
END_TEST

START_TEST(test_settings_of_the_reader)
{
	/* heuristic freshness is the reader's rule: the record keeps the inputs, not the result */
	struct http_headers h = {0};
	struct rfc9111_settings ten = {.default_ttl = 10};
	struct entry *e = entry_new("k", NULL, 200, &h, NULL, 0, 100, 100, &settings), *d = NULL;
	size_t len;
	char *rec = encode(e, &len);

	ck_assert_int_eq(e->lifetime, 0);
	ck_assert_int_eq(record_decode(rec, len, "k", &ten, &d), RECORD_OK);
	ck_assert_int_eq(d->lifetime, 10);
	entry_unref(d);
	free(rec);
	entry_unref(e);
}
END_TEST

START_TEST(test_spec_round_trip)
{
	/* a vary spec keeps its flag through memcached; it is never a response */
	struct entry *e = entry_spec_add(NULL, "k", "accept", "0123456789abcdef",
	                                 "00000000000000aa", "\"x\"", 100, &settings);
	struct entry *d = NULL;
	size_t len;
	char *rec = encode(e, &len);

	ck_assert_int_eq(record_decode(rec, len, "k", &settings, &d), RECORD_OK);
	ck_assert(d->vary_spec);
	ck_assert_int_eq(entry_keep_until(d), ENTRY_KEEP_FOREVER);
	ck_assert_str_eq(entry_spec_id(d), "0123456789abcdef");
	entry_unref(d);
	free(rec);

	struct entry *plain =
	        entry_new("k", NULL, 200, &(struct http_headers){0}, NULL, 0, 100, 100, &settings);
	rec = encode(plain, &len);
	ck_assert_int_eq(record_decode(rec, len, "k", &settings, &d), RECORD_OK);
	ck_assert(!d->vary_spec);
	entry_unref(d);
	free(rec);
	entry_unref(plain);
	entry_unref(e);
}
END_TEST

START_TEST(test_other_key)
{
	struct entry *e = sample(), *d = (struct entry *)1;
	size_t len;
	char *rec = encode(e, &len);

	ck_assert_int_eq(record_decode(rec, len, "GET api.example /products?id=2", &settings, &d),
	                 RECORD_OTHER_KEY);
	ck_assert_ptr_null(d);
	/* a prefix or an extension of the key is another key too */
	ck_assert_int_eq(record_decode(rec, len, "GET api.example /products?id=", &settings, &d),
	                 RECORD_OTHER_KEY);
	ck_assert_int_eq(record_decode(rec, len, KEY "0", &settings, &d), RECORD_OTHER_KEY);
	free(rec);
	entry_unref(e);
}
END_TEST

START_TEST(test_foreign_data)
{
	struct entry *d = (struct entry *)1;
	static const char *const junk[] = {"", "T", "TCR", "hello world", "TCRX\x01", "12345"};

	for (size_t i = 0; i < TC_ARRAY_LEN(junk); i++) {
		ck_assert_int_eq(record_decode(junk[i], strlen(junk[i]), NULL, &settings, &d),
		                 RECORD_BAD_MAGIC);
		ck_assert_ptr_null(d);
	}
	ck_assert_int_eq(record_decode("TCRE", 4, NULL, &settings, &d), RECORD_TRUNCATED);
	ck_assert_int_eq(record_decode("TCRE\x01", 5, NULL, &settings, &d), RECORD_TRUNCATED);
}
END_TEST

START_TEST(test_other_version)
{
	struct entry *e = sample(), *d = NULL;
	size_t len;
	char *rec = encode(e, &len);

	rec[4] = 2;
	ck_assert_int_eq(record_decode(rec, len, KEY, &settings, &d), RECORD_BAD_VERSION);
	rec[4] = 0;
	ck_assert_int_eq(record_decode(rec, len, KEY, &settings, &d), RECORD_BAD_VERSION);
	ck_assert_ptr_null(d);
	free(rec);
	entry_unref(e);
}
END_TEST

START_TEST(test_every_truncation)
{
	struct entry *e = sample(), *d = NULL;
	size_t len;
	char *rec = encode(e, &len);

	for (size_t n = 0; n < len; n++) {
		/* a copy of exactly n bytes, so that a read past them is caught by sanitizers */
		char *cut = xmalloc(n ? n : 1);
		memcpy(cut, rec, n);
		enum record_status st = record_decode(cut, n, KEY, &settings, &d);
		ck_assert_msg(st != RECORD_OK, "a record cut to %zu bytes was accepted", n);
		ck_assert_ptr_null(d);
		if (n < 4)
			ck_assert_int_eq(st, RECORD_BAD_MAGIC);
		else if (n < RECORD_OVERHEAD)
			ck_assert_int_eq(st, RECORD_TRUNCATED);
		else
			ck_assert_int_eq(st, RECORD_BAD_CHECKSUM);
		free(cut);
	}
	/* bytes after the end are no record either */
	char *longer = xmalloc(len + 1);
	memcpy(longer, rec, len);
	longer[len] = 0;
	ck_assert_int_ne(record_decode(longer, len + 1, KEY, &settings, &d), RECORD_OK);
	free(longer);
	free(rec);
	entry_unref(e);
}
END_TEST

START_TEST(test_every_changed_byte)
{
	struct entry *e = sample(), *d = NULL;
	size_t len;
	char *rec = encode(e, &len);

	for (size_t i = 0; i < len; i++) {
		static const unsigned char flips[] = {0x01, 0x80, 0xff};
		for (size_t f = 0; f < sizeof(flips); f++) {
			rec[i] = (char)(rec[i] ^ flips[f]);
			ck_assert_msg(record_decode(rec, len, KEY, &settings, &d) != RECORD_OK,
			              "byte %zu ^ 0x%02x was accepted", i, flips[f]);
			ck_assert_ptr_null(d);
			rec[i] = (char)(rec[i] ^ flips[f]);
		}
	}
	ck_assert_int_eq(record_decode(rec, len, KEY, &settings, &d), RECORD_OK);
	entry_unref(d);
	free(rec);
	entry_unref(e);
}
END_TEST

/* A hand-made record: fields written one by one, then signed with a valid checksum. */
struct forge {
	struct buf b;
};

static void
forge_u8(struct forge *f, unsigned v)
{
	unsigned char c = (unsigned char)v;
	buf_append(&f->b, &c, 1);
}

static void
forge_u16(struct forge *f, unsigned v)
{
	forge_u8(f, v >> 8);
	forge_u8(f, v & 0xff);
}

static void
forge_u32(struct forge *f, uint32_t v)
{
	for (int i = 3; i >= 0; i--)
		forge_u8(f, (v >> (8 * i)) & 0xff);
}

static void
forge_u64(struct forge *f, uint64_t v)
{
	for (int i = 7; i >= 0; i--)
		forge_u8(f, (unsigned)(v >> (8 * i)) & 0xff);
}

static void
forge_str(struct forge *f, const char *s, size_t n)
{
	forge_u32(f, (uint32_t)n);
	buf_append(&f->b, s, n);
}

/* Which field of the standard forged record to spoil. */
enum spoil {
	SPOIL_NONE,
	SPOIL_FLAGS,
	SPOIL_STATUS_LOW,
	SPOIL_STATUS_HIGH,
	SPOIL_TIMES_ORDER,
	SPOIL_TIME_NEGATIVE,
	SPOIL_MS_NEGATIVE,
	SPOIL_KEY_EMPTY,
	SPOIL_KEY_NUL,
	SPOIL_KEY_LENGTH,
	SPOIL_VARY_NUL,
	SPOIL_VARY_LENGTH,
	SPOIL_HEADER_COUNT,
	SPOIL_HEADER_NAME_EMPTY,
	SPOIL_HEADER_NAME_SPACE,
	SPOIL_HEADER_NAME_COLON,
	SPOIL_HEADER_VALUE_CRLF,
	SPOIL_HEADER_VALUE_NUL,
	SPOIL_HEADER_VALUE_LENGTH,
	SPOIL_BODY_LENGTH_LONG,
	SPOIL_BODY_LENGTH_SHORT,
	SPOIL_TRAILING,
	SPOIL_N,
};

/* A signed record for key "k" (2 headers, body "hello") with one field spoiled. */
static char *
forged(enum spoil s, size_t *len)
{
	struct forge f = {{0}};

	buf_append(&f.b, "TCRE\x01", 5);
	forge_u8(&f, s == SPOIL_FLAGS ? 2 : 0); /* 1 is RECORD_FLAG_SPEC */
	forge_u16(&f, s == SPOIL_STATUS_LOW ? 99 : s == SPOIL_STATUS_HIGH ? 1000 : 200);
	forge_u64(&f, s == SPOIL_TIMES_ORDER ? 11 : 9);
	forge_u64(&f, s == SPOIL_TIME_NEGATIVE ? UINT64_C(0x8000000000000000) : 10);
	forge_u64(&f, s == SPOIL_MS_NEGATIVE ? UINT64_C(0xffffffffffffffff) : 10001);
	if (s == SPOIL_KEY_EMPTY)
		forge_str(&f, "", 0);
	else if (s == SPOIL_KEY_NUL)
		forge_str(&f, "k\0", 2);
	else if (s == SPOIL_KEY_LENGTH)
		forge_u32(&f, 1000);
	else
		forge_str(&f, "k", 1);
	if (s == SPOIL_VARY_NUL)
		forge_str(&f, "a=\0", 3);
	else if (s == SPOIL_VARY_LENGTH)
		forge_u32(&f, 0xfffffffe);
	else
		forge_str(&f, "accept=x", 8);
	forge_u32(&f, s == SPOIL_HEADER_COUNT ? 0x10000000 : 2);
	forge_u16(&f, 4);
	buf_append(&f.b, "ETag", 4);
	forge_str(&f, "\"1\"", 3);
	if (s == SPOIL_HEADER_NAME_EMPTY) {
		forge_u16(&f, 0);
	} else {
		const char *name = s == SPOIL_HEADER_NAME_SPACE   ? "X Y"
		                   : s == SPOIL_HEADER_NAME_COLON ? "X:Y"
		                                                  : "X-Y";
		forge_u16(&f, 3);
		buf_append(&f.b, name, 3);
	}
	if (s == SPOIL_HEADER_VALUE_CRLF)
		forge_str(&f, "a\r\nSet-Cookie: x=1", 18);
	else if (s == SPOIL_HEADER_VALUE_NUL)
		forge_str(&f, "a\0b", 3);
	else if (s == SPOIL_HEADER_VALUE_LENGTH)
		forge_u32(&f, 0xffffffff);
	else
		forge_str(&f, "z", 1);
	if (s == SPOIL_BODY_LENGTH_LONG)
		forge_u32(&f, 6);
	else if (s == SPOIL_BODY_LENGTH_SHORT)
		forge_u32(&f, 4);
	else
		forge_u32(&f, 5);
	buf_append(&f.b, "hello", 5);
	if (s == SPOIL_TRAILING)
		buf_append(&f.b, "!", 1);
	forge_u64(&f, XXH3_64bits(f.b.data, f.b.len));
	return buf_steal(&f.b, len);
}

START_TEST(test_forged_fields)
{
	struct entry *d = NULL;
	size_t len;
	char *rec = forged(SPOIL_NONE, &len);

	/* the forge itself makes a valid record */
	ck_assert_int_eq(record_decode(rec, len, "k", &settings, &d), RECORD_OK);
	ck_assert_int_eq(d->status, 200);
	ck_assert_int_eq(d->response_ms, 10001);
	ck_assert_str_eq(entry_vary_key(d), "accept=x");
	ck_assert_str_eq(entry_get(d, "X-Y"), "z");
	ck_assert_uint_eq(d->body_len, 5);
	entry_unref(d);
	free(rec);
	for (int s = SPOIL_NONE + 1; s < SPOIL_N; s++) {
		rec = forged((enum spoil)s, &len);
		enum record_status st = record_decode(rec, len, "k", &settings, &d);
		ck_assert_msg(st == RECORD_CORRUPT, "spoil %d: status %s", s,
		              record_status_name(st));
		ck_assert_ptr_null(d);
		free(rec);
	}
}
END_TEST

/* A small deterministic generator (xorshift64*), so that a failure can be replayed. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

START_TEST(test_random_mutations)
{
	struct entry *e = sample();
	size_t len;
	char *rec = encode(e, &len);
	uint64_t seed = UINT64_C(0x9e3779b97f4a7c15);
	unsigned accepted = 0, rejected = 0;

	for (int iter = 0; iter < 20000; iter++) {
		size_t n = len;
		char *m = xmalloc(len + 16);

		memcpy(m, rec, len);
		int edits = 1 + (int)(rnd(&seed) % 4);
		for (int k = 0; k < edits; k++) {
			uint64_t r = rnd(&seed);
			size_t at = (size_t)(r >> 8) % (n - 8);
			switch (r % 3) {
			case 0: /* a random byte (often a length field) */
				m[at] = (char)(rnd(&seed) & 0xff);
				break;
			case 1: /* a small change of a byte */
				m[at] = (char)(m[at] + 1);
				break;
			default: /* drop a byte before the checksum */
				memmove(m + at, m + at + 1, n - at - 1);
				n--;
				break;
			}
			if (n < RECORD_OVERHEAD)
				break;
		}
		/* sign the result, so that only the field checks stand between it and an entry */
		if (n >= RECORD_OVERHEAD) {
			uint64_t sum = XXH3_64bits(m, n - 8);
			for (int i = 0; i < 8; i++)
				m[n - 8 + (size_t)i] = (char)(sum >> (56 - 8 * i));
		}
		struct entry *d = NULL;
		enum record_status st = record_decode(m, n, NULL, &settings, &d);
		if (st == RECORD_OK) {
			/* whatever was accepted is a consistent entry that encodes to the same
			 * bytes */
			size_t l2;
			char *again = encode(d, &l2);
			ck_assert_uint_eq(l2, n);
			ck_assert(memcmp(again, m, n) == 0);
			ck_assert(d->status >= 100 && d->status <= 999);
			ck_assert(entry_request_time(d) <= d->response_time);
			const char *name, *value;
			for (size_t pos = 0; entry_field_next(d, &pos, &name, &value);)
				ck_assert(strpbrk(value, "\r\n") == NULL);
			free(again);
			entry_unref(d);
			accepted++;
		} else {
			ck_assert_ptr_null(d);
			rejected++;
		}
		free(m);
	}
	/* both outcomes happen, so the run explores past the first checks */
	ck_assert_uint_gt(accepted, 0);
	ck_assert_uint_gt(rejected, 1000);
	free(rec);
	entry_unref(e);
}
END_TEST

START_TEST(test_status_names)
{
	ck_assert_str_eq(record_status_name(RECORD_OK), "ok");
	ck_assert_str_eq(record_status_name(RECORD_OTHER_KEY), "other-key");
	ck_assert_str_eq(record_status_name(RECORD_BAD_CHECKSUM), "bad-checksum");
	ck_assert_str_eq(record_status_name((enum record_status)99), "unknown");
}
END_TEST

static Suite *
record_suite(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_minimal_entry);
	tcase_add_test(tc, test_settings_of_the_reader);
	tcase_add_test(tc, test_other_key);
	tcase_add_test(tc, test_spec_round_trip);
	tcase_add_test(tc, test_foreign_data);
	tcase_add_test(tc, test_other_version);
	tcase_add_test(tc, test_every_truncation);
	tcase_add_test(tc, test_every_changed_byte);
	tcase_add_test(tc, test_forged_fields);
	tcase_add_test(tc, test_random_mutations);
	tcase_add_test(tc, test_status_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(record_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
