/*
 * check_local: the local tier (src/local.c) and its eviction policies (src/policy*.c).
 * Eviction order per policy (with ties), byte and entry bounds, replacement, keep_until
 * expiry, reference counts of entries that leave the table while held, counters, a
 * randomized comparison of each policy with a naive model, and a multi-threaded run whose
 * final state is checked against a recount and the entries' reference counts.
 * The clock is a parameter: nothing sleeps.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "http.h"
#include "local.h"
#include "policy.h"
#include "util.h"

#define T0  INT64_C(1000000) /* response time of the test entries */
#define BIG (UINT64_C(1) << 30)

static const char *const policy_cases[] = {"lru", "lfu", "ttl"};

/* A deterministic pseudo-random sequence (xorshift64*). */
static uint64_t
rnd(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64_C(2685821657736338717);
}

/* The expected body byte i of an entry stored under key. */
static char
body_byte(const char *key, size_t i)
{
	return key[i % strlen(key)] ^ (char)(i & 0x1f);
}

static bool
body_ok(const struct entry *e)
{
	for (size_t i = 0; i < e->body_len; i++) {
		if (entry_body(e)[i] != body_byte(e->key, i))
			return false;
	}
	return true;
}

/*
 * A 200 entry for key with a body of body_len bytes, received at response_time, fresh for
 * ttl seconds (default_ttl, no freshness headers); with an ETag when validator is set.
 */
static struct entry *
mk_at(const char *key, size_t body_len, int64_t ttl, int64_t response_time, bool validator)
{
	struct http_headers h = {0};
	struct rfc9111_settings settings = {.default_ttl = ttl};
	char *body = NULL;

	if (body_len > 0) {
		body = xmalloc(body_len);
		for (size_t i = 0; i < body_len; i++)
			body[i] = body_byte(key, i);
	}
	if (validator)
		http_headers_add(&h, "ETag", "\"v1\"");
	return entry_new(key, NULL, 200, &h, body, body_len, response_time, response_time,
	                 &settings);
}

static struct entry *
mk(const char *key, size_t body_len, int64_t ttl)
{
	return mk_at(key, body_len, ttl, T0, false);
}

/* Inserts a new entry and drops the caller's reference; returns local_insert's answer. */
static bool
put(struct local *l, const char *key, size_t body_len, int64_t ttl)
{
	struct entry *e = mk(key, body_len, ttl);
	bool ok = local_insert(l, e, T0);

	entry_unref(e);
	return ok;
}

/* True when key is stored (a lookup: counts as a use for the policy). */
static bool
has(struct local *l, const char *key)
{
	struct entry *e = local_lookup(l, key, T0);

	entry_unref(e);
	return e != NULL;
}

static unsigned
refs(struct entry *e)
{
	return atomic_load(&e->refs);
}

static struct local_info
info(struct local *l)
{
	struct local_info i;

	local_info(l, &i);
	return i;
}

/* ------------------------------------------------------------------ policy table */

START_TEST(test_policy_find)
{
	ck_assert_ptr_eq(policy_find("lru"), &policy_lru);
	ck_assert_ptr_eq(policy_find("lfu"), &policy_lfu);
	ck_assert_ptr_eq(policy_find("ttl"), &policy_ttl);
	ck_assert_ptr_null(policy_find("LRU2"));
	ck_assert_ptr_null(policy_find(""));
	ck_assert_ptr_null(policy_find("lr"));
	ck_assert_ptr_null(policy_find(NULL));
	ck_assert_str_eq(policy_names(), "lru|lfu|ttl|tinylfu");
	ck_assert_ptr_null(local_create("nope", BIG, 10));

	struct local *l = local_create("lfu", 12345, 67);

	ck_assert_ptr_nonnull(l);
	struct local_info i = info(l);

	ck_assert_str_eq(i.policy, "lfu");
	ck_assert_uint_eq(i.max_bytes, 12345);
	ck_assert_uint_eq(i.max_entries, 67);
	ck_assert_uint_eq(i.entries, 0);
	ck_assert_uint_eq(i.bytes, 0);
	ck_assert_uint_eq(i.evictions, 0);
	ck_assert_uint_eq(i.expirations, 0);
	local_destroy(l);
}
END_TEST

/* ------------------------------------------------------------------ eviction order */

START_TEST(test_lru_order)
{
	struct local *l = local_create("lru", BIG, 3);

	ck_assert(put(l, "a", 10, 60));
	ck_assert(put(l, "b", 10, 60));
	ck_assert(put(l, "c", 10, 60));
	ck_assert_uint_eq(info(l).evictions, 0);
	ck_assert(put(l, "d", 10, 60)); /* a is the least recently used */
	ck_assert_uint_eq(info(l).evictions, 1);
	ck_assert_uint_eq(info(l).entries, 3);
	ck_assert(!has(l, "a"));
	ck_assert(has(l, "b") && has(l, "c") && has(l, "d"));
	/* the lookups made b, c, d recent in that order: b goes next */
	ck_assert(put(l, "e", 10, 60));
	ck_assert(!has(l, "b"));
	ck_assert(has(l, "c") && has(l, "d") && has(l, "e"));
	local_destroy(l);
}
END_TEST

START_TEST(test_lru_hit_protects)
{
	struct local *l = local_create("lru", BIG, 3);

	put(l, "a", 10, 60);
	put(l, "b", 10, 60);
	put(l, "c", 10, 60);
	ck_assert(has(l, "a")); /* a hit: a becomes the most recent */
	put(l, "d", 10, 60);
	ck_assert(!has(l, "b"));
	ck_assert(has(l, "a") && has(l, "c") && has(l, "d"));
	local_destroy(l);
}
END_TEST

START_TEST(test_lfu_order)
{
	struct local *l = local_create("lfu", BIG, 3);

	put(l, "a", 10, 60);
	put(l, "b", 10, 60);
	put(l, "c", 10, 60);
	has(l, "a");
	has(l, "a"); /* a: 3 uses */
	has(l, "b"); /* b: 2 uses, c: 1 use (more recent than a and b's inserts) */
	put(l, "d", 10, 60);
	ck_assert_uint_eq(info(l).evictions, 1);
	/* c went first; d (1 use) is the least frequently used now */
	put(l, "e", 10, 60);
	ck_assert_uint_eq(info(l).evictions, 2);
	ck_assert(has(l, "e"));
	ck_assert(has(l, "a"));
	ck_assert(has(l, "b"));
	ck_assert_uint_eq(info(l).entries, 3);
	/* c and d are gone (looked up last: a lookup of a missing key changes nothing) */
	ck_assert(!has(l, "c"));
	ck_assert(!has(l, "d"));
	local_destroy(l);
}
END_TEST

START_TEST(test_lfu_tie_by_recency)
{
	struct local *l = local_create("lfu", BIG, 3);

	/* all at frequency 1: the least recently inserted goes */
	put(l, "a", 10, 60);
	put(l, "b", 10, 60);
	put(l, "c", 10, 60);
	put(l, "d", 10, 60);
	ck_assert(!has(l, "a"));
	local_destroy(l);

	/* all at frequency 2: the least recently used of them goes, not the oldest insert */
	l = local_create("lfu", BIG, 3);
	put(l, "a", 10, 60);
	put(l, "b", 10, 60);
	put(l, "c", 10, 60);
	has(l, "c");
	has(l, "a");
	has(l, "b");
	put(l, "d", 10, 60); /* d (freq 1) is not a candidate yet: c, a, b are all at 2 */
	ck_assert_uint_eq(info(l).evictions, 1);
	ck_assert(has(l, "a")); /* a: 3 */
	ck_assert(has(l, "b")); /* b: 3 */
	ck_assert(has(l, "d")); /* d: 2 */
	ck_assert(!has(l, "c"));
	local_destroy(l);
}
END_TEST

START_TEST(test_lfu_survives_scan)
{
	char key[32];
	struct local *l = local_create("lfu", BIG, 4);

	put(l, "hot1", 10, 60);
	put(l, "hot2", 10, 60);
	for (int i = 0; i < 3; i++) {
		ck_assert(has(l, "hot1"));
		ck_assert(has(l, "hot2"));
	}
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "scan%d", i);
		ck_assert(put(l, key, 10, 60));
	}
	ck_assert_uint_eq(info(l).evictions, 98);
	ck_assert_uint_eq(info(l).entries, 4);
	ck_assert(has(l, "hot1"));
	ck_assert(has(l, "hot2"));
	ck_assert(has(l, "scan99"));
	ck_assert(!has(l, "scan0"));
	local_destroy(l);

	/* the same pattern under lru loses the hot keys: the test tells the policies apart */
	l = local_create("lru", BIG, 4);
	put(l, "hot1", 10, 60);
	put(l, "hot2", 10, 60);
	has(l, "hot1");
	has(l, "hot2");
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "scan%d", i);
		put(l, key, 10, 60);
	}
	ck_assert(!has(l, "hot1"));
	ck_assert(!has(l, "hot2"));
	local_destroy(l);
}
END_TEST

START_TEST(test_ttl_order)
{
	struct local *l = local_create("ttl", BIG, 3);
	struct http_headers h = {0};
	struct rfc9111_settings s5 = {.default_ttl = 5};
	struct entry *e;

	/* a: fresh for 30 s through Cache-Control (the default of 5 s would make it go first) */
	http_headers_add(&h, "Cache-Control", "max-age=30");
	e = entry_new("a", NULL, 200, &h, NULL, 0, T0, T0, &s5);
	ck_assert_int_eq(entry_expires_at(e), T0 + 30);
	ck_assert(local_insert(l, e, T0));
	entry_unref(e);
	put(l, "b", 10, 10);
	/* c: received 15 s later with 20 s: expires at T0 + 35, after a */
	e = mk_at("c", 10, 20, T0 + 15, false);
	ck_assert(local_insert(l, e, T0 + 15));
	entry_unref(e);

	put(l, "d", 10, 40); /* b expires first */
	ck_assert_uint_eq(info(l).evictions, 1);
	put(l, "e", 10, 33); /* then a (T0 + 30) */
	ck_assert_uint_eq(info(l).evictions, 2);
	put(l, "f", 10, 50); /* then e (T0 + 33), before c (T0 + 35) */
	ck_assert_uint_eq(info(l).evictions, 3);
	ck_assert(!has(l, "a"));
	ck_assert(!has(l, "b"));
	ck_assert(!has(l, "e"));
	ck_assert(has(l, "c") && has(l, "d") && has(l, "f"));
	local_destroy(l);
}
END_TEST

START_TEST(test_ttl_tie_and_hits)
{
	struct local *l = local_create("ttl", BIG, 2);

	put(l, "a", 10, 10);
	put(l, "b", 10, 10);
	ck_assert(has(l, "a"));
	ck_assert(has(l, "a")); /* hits change nothing under ttl */
	put(l, "c", 10, 10);    /* same expiry: the older insertion (a) goes */
	ck_assert(!has(l, "a"));
	put(l, "d", 10, 10); /* then b */
	ck_assert(!has(l, "b"));
	ck_assert(has(l, "c") && has(l, "d"));
	/* a replacement is a new insertion: c (re-stored) now goes after d */
	put(l, "c", 20, 10);
	put(l, "e", 10, 10);
	ck_assert(!has(l, "d"));
	ck_assert(has(l, "c") && has(l, "e"));
	local_destroy(l);
}
END_TEST

/* ------------------------------------------------------------------ byte bound */

START_TEST(test_byte_limit)
{
	struct entry *a = mk("a", 100, 60), *b = mk("b", 200, 60), *c = mk("c", 300, 60),
	             *d = mk("d", 250, 60), *s;
	size_t ca = local_charge(a), cb = local_charge(b), cc = local_charge(c),
	       cd = local_charge(d);
	struct local *l = local_create("lru", ca + cb + cc, 100);

	ck_assert_uint_eq(cb - ca, 100); /* the body is charged byte for byte */
	ck_assert(local_insert(l, a, T0));
	ck_assert(local_insert(l, b, T0));
	ck_assert(local_insert(l, c, T0));
	ck_assert_uint_eq(info(l).bytes, ca + cb + cc);
	ck_assert_uint_eq(info(l).evictions, 0);
	/* d is bigger than a: a and b must both go before it fits */
	ck_assert(local_insert(l, d, T0));
	ck_assert_uint_eq(info(l).evictions, 2);
	ck_assert_uint_eq(info(l).entries, 2);
	ck_assert_uint_eq(info(l).bytes, cc + cd);
	ck_assert_uint_eq(refs(a), 1);
	ck_assert_uint_eq(refs(b), 1);
	ck_assert_uint_eq(refs(c), 2);
	ck_assert_uint_eq(refs(d), 2);
	ck_assert(!has(l, "a") && !has(l, "b"));
	ck_assert(has(l, "c") && has(l, "d"));
	/* a small one fits in what is left (ca + cb - cd) without evicting */
	s = mk("s", 40, 60);
	ck_assert_uint_le(local_charge(s), ca + cb - cd);
	ck_assert(local_insert(l, s, T0));
	ck_assert_uint_eq(info(l).evictions, 2);
	ck_assert_uint_eq(info(l).entries, 3);
	ck_assert_uint_eq(info(l).bytes, cc + cd + local_charge(s));
	entry_unref(s);
	entry_unref(a);
	entry_unref(b);
	entry_unref(c);
	entry_unref(d);
	local_destroy(l);
}
END_TEST

START_TEST(test_too_large)
{
	struct entry *a = mk("a", 100, 60), *b = mk("b", 100, 60);
	size_t ca = local_charge(a), cb = local_charge(b);
	struct local *l = local_create("lru", ca + cb, 100);
	struct entry *big = mk("big", ca + cb, 60), *exact, *probe;

	ck_assert(local_insert(l, a, T0));
	ck_assert(local_insert(l, b, T0));
	ck_assert_uint_gt(local_charge(big), ca + cb);
	ck_assert(!local_insert(l, big, T0));
	ck_assert_uint_eq(refs(big), 1); /* the tier kept no reference */
	ck_assert_uint_eq(info(l).evictions, 0);
	ck_assert_uint_eq(info(l).entries, 2);
	ck_assert_uint_eq(info(l).bytes, ca + cb);
	ck_assert(has(l, "a") && has(l, "b"));
	ck_assert(!has(l, "big"));

	/* exactly max_bytes fits, after evicting everything else */
	probe = mk("e", 0, 60);
	exact = mk("e", ca + cb - local_charge(probe), 60);
	entry_unref(probe);
	ck_assert_uint_eq(local_charge(exact), ca + cb);
	ck_assert(local_insert(l, exact, T0));
	ck_assert_uint_eq(info(l).evictions, 2);
	ck_assert_uint_eq(info(l).bytes, ca + cb);
	ck_assert_uint_eq(info(l).entries, 1);
	entry_unref(a);
	entry_unref(b);
	entry_unref(big);
	entry_unref(exact);
	local_destroy(l);

	/* a tier of no entries stores nothing */
	l = local_create("lru", BIG, 0);
	ck_assert(!put(l, "a", 1, 60));
	ck_assert_uint_eq(info(l).entries, 0);
	local_destroy(l);
}
END_TEST

/* ------------------------------------------------------------------ replacement */

START_TEST(test_replace)
{
	struct local *l = local_create("lru", BIG, 2);
	struct entry *k1 = mk("k", 100, 60), *k2 = mk("k", 300, 60), *other = mk("other", 7, 60);
	struct entry *got;

	ck_assert(local_insert(l, k1, T0));
	ck_assert_uint_eq(info(l).bytes, local_charge(k1));
	ck_assert(local_insert(l, k2, T0));
	ck_assert_uint_eq(info(l).entries, 1);
	ck_assert_uint_eq(info(l).bytes, local_charge(k2));
	ck_assert_uint_eq(info(l).evictions, 0);
	ck_assert_uint_eq(refs(k1), 1); /* the table let go of the old one */
	got = local_lookup(l, "k", T0);
	ck_assert_ptr_eq(got, k2);
	ck_assert_uint_eq(got->body_len, 300);
	entry_unref(got);

	/* replacing in a full tier evicts nobody else */
	ck_assert(local_insert(l, other, T0));
	ck_assert_uint_eq(info(l).entries, 2);
	ck_assert(local_insert(l, k1, T0));
	ck_assert_uint_eq(info(l).evictions, 0);
	ck_assert_uint_eq(info(l).entries, 2);
	ck_assert_uint_eq(info(l).bytes, local_charge(k1) + local_charge(other));
	ck_assert_uint_eq(refs(k2), 1);
	ck_assert(has(l, "other"));
	/* storing the very entry that is stored keeps one table reference */
	ck_assert(local_insert(l, k1, T0));
	ck_assert_uint_eq(refs(k1), 2);
	ck_assert_uint_eq(info(l).entries, 2);
	entry_unref(k1);
	entry_unref(k2);
	entry_unref(other);
	local_destroy(l);
}
END_TEST

/* ------------------------------------------------------------------ keep_until */

START_TEST(test_expiry)
{
	struct local *l = local_create("lru", BIG, 10);
	struct entry *v = mk_at("v", 10, 10, T0, true), *got;

	ck_assert(put(l, "a", 10, 10)); /* keep_until = T0 + 10 */
	ck_assert(local_insert(l, v, T0));
	entry_unref(v);
	got = local_lookup(l, "a", T0 + 9);
	ck_assert_ptr_nonnull(got);
	entry_unref(got);
	ck_assert_uint_eq(info(l).expirations, 0);
	ck_assert_ptr_null(local_lookup(l, "a", T0 + 10));
	ck_assert_uint_eq(info(l).expirations, 1);
	ck_assert_uint_eq(info(l).evictions, 0);
	ck_assert_uint_eq(info(l).entries, 1);
	/* gone, not just hidden: a later lookup at an earlier clock finds nothing either */
	ck_assert_ptr_null(local_lookup(l, "a", T0));
	ck_assert_uint_eq(info(l).expirations, 1);

	/* with a validator the entry is kept (stale) for revalidation */
	got = local_lookup(l, "v", T0 + 1000000);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(entry_keep_until(got), ENTRY_KEEP_FOREVER);
	ck_assert_int_eq(entry_expires_at(got), T0 + 10);
	entry_unref(got);
	ck_assert_uint_eq(info(l).expirations, 1);
	local_destroy(l);
}
END_TEST

/* ------------------------------------------------------------------ references */

enum leave { LEAVE_EVICT, LEAVE_REMOVE, LEAVE_REPLACE, LEAVE_CLEAR, LEAVE_EXPIRE, LEAVE_DESTROY };

START_TEST(test_ref_outlives_table)
{
	enum leave how = (enum leave)_i;
	struct local *l = local_create(policy_cases[_i % 3], BIG, 1);
	struct entry *e = mk("a", 4000, 10), *held;

	ck_assert(local_insert(l, e, T0));
	ck_assert_uint_eq(refs(e), 2);
	held = local_lookup(l, "a", T0);
	ck_assert_ptr_eq(held, e);
	ck_assert_uint_eq(refs(e), 3);
	entry_unref(e); /* the creator lets go: the table and the reader remain */
	ck_assert_uint_eq(refs(held), 2);

	switch (how) {
	case LEAVE_EVICT:
		ck_assert(put(l, "b", 10, 60));
		ck_assert_uint_eq(info(l).evictions, 1);
		break;
	case LEAVE_REMOVE:
		ck_assert(local_remove(l, "a"));
		ck_assert(!local_remove(l, "a"));
		break;
	case LEAVE_REPLACE:
		ck_assert(put(l, "a", 10, 60));
		break;
	case LEAVE_CLEAR:
		local_clear(l);
		break;
	case LEAVE_EXPIRE:
		ck_assert_ptr_null(local_lookup(l, "a", T0 + 10));
		break;
	case LEAVE_DESTROY:
		local_destroy(l);
		l = NULL;
		break;
	}
	/* the table's reference is gone, the reader's one keeps the entry whole */
	ck_assert_uint_eq(refs(held), 1);
	ck_assert_str_eq(held->key, "a");
	ck_assert_uint_eq(held->body_len, 4000);
	ck_assert(body_ok(held));
	entry_unref(held);
	local_destroy(l);
}
END_TEST

/* ------------------------------------------------------------------ counters, clear */

START_TEST(test_info_remove_clear)
{
	struct local *l = local_create("ttl", BIG, 3);
	struct entry *held[4];
	const char *keys[4] = {"a", "b", "c", "d"};
	uint64_t sum = 0;

	for (int i = 0; i < 4; i++) {
		held[i] = mk(keys[i], 10 * (size_t)i, 60 + i);
		ck_assert(local_insert(l, held[i], T0));
		if (i > 0)
			sum += local_charge(held[i]);
	}
	ck_assert_uint_eq(info(l).entries, 3);
	ck_assert_uint_eq(info(l).bytes, sum);
	ck_assert_uint_eq(info(l).evictions, 1);
	ck_assert(local_remove(l, "b"));
	ck_assert(!local_remove(l, "b"));
	ck_assert(!local_remove(l, "zzz"));
	ck_assert_uint_eq(info(l).entries, 2);
	ck_assert_uint_eq(info(l).bytes, sum - local_charge(held[1]));
	ck_assert_uint_eq(info(l).evictions, 1); /* a removal is not an eviction */

	local_clear(l);
	ck_assert_uint_eq(info(l).entries, 0);
	ck_assert_uint_eq(info(l).bytes, 0);
	ck_assert_uint_eq(info(l).evictions, 1); /* counters survive a clear */
	for (int i = 0; i < 4; i++) {
		ck_assert_uint_eq(refs(held[i]), 1);
		ck_assert_ptr_null(local_lookup(l, keys[i], T0));
	}
	/* the tier works again after a clear, policy included */
	for (int i = 0; i < 4; i++)
		ck_assert(local_insert(l, held[i], T0));
	ck_assert_uint_eq(info(l).entries, 3);
	ck_assert_uint_eq(info(l).evictions, 2);
	ck_assert_uint_eq(refs(held[0]), 1); /* a expired first (T0 + 60) */
	local_clear(l);
	local_clear(l); /* clearing an empty tier is fine */
	for (int i = 0; i < 4; i++)
		entry_unref(held[i]);
	local_destroy(l);
}
END_TEST

START_TEST(test_many_keys)
{
	enum { N = 20000 };
	char key[48];
	struct local *l = local_create(policy_cases[_i], BIG, N);

	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "GET|example.com|/items/%d?x=%d", i, i * 7);
		ck_assert(put(l, key, (size_t)i % 7, 60 + i % 13));
	}
	ck_assert_uint_eq(info(l).entries, N);
	ck_assert_uint_eq(info(l).evictions, 0);
	for (int i = 0; i < N; i++) {
		struct entry *e;

		snprintf(key, sizeof(key), "GET|example.com|/items/%d?x=%d", i, i * 7);
		e = local_lookup(l, key, T0);
		ck_assert_ptr_nonnull(e);
		ck_assert_str_eq(e->key, key);
		entry_unref(e);
	}
	for (int i = 0; i < N; i += 2) {
		snprintf(key, sizeof(key), "GET|example.com|/items/%d?x=%d", i, i * 7);
		ck_assert(local_remove(l, key));
	}
	ck_assert_uint_eq(info(l).entries, N / 2);
	ck_assert(!has(l, "GET|example.com|/items/0?x=0"));
	ck_assert(has(l, "GET|example.com|/items/1?x=7"));
	local_destroy(l);
}
END_TEST

/*
 * The hash table against a model: random inserts, replacements, removals, lookups and clears
 * over a key space that crosses uthash's bucket doublings (from 32 buckets, at chains of 10)
 * many times; every key is then looked up. Keys share long prefixes and differ in their last bytes.
 */
START_TEST(test_table_model)
{
	enum { KEYS = 1500, OPS = 20000 };
	static bool model[KEYS];
	uint64_t r = 42, count = 0;
	char key[64];
	struct local *l = local_create("lru", BIG, KEYS);

	memset(model, 0, sizeof(model));
	for (int op = 0; op < OPS; op++) {
		unsigned k = (unsigned)(rnd(&r) % KEYS), what = (unsigned)(rnd(&r) % 10);

		snprintf(key, sizeof(key), "GET 127.0.0.1:8080 /items/%u?x=%u", k, k % 3);
		if (what < 5) { /* insert or replace */
			ck_assert(put(l, key, k % 5, 60));
			count += !model[k];
			model[k] = true;
		} else if (what < 7) {
			ck_assert(local_remove(l, key) == model[k]);
			count -= model[k];
			model[k] = false;
		} else if (what < 9 || op % 5000 != 0) {
			ck_assert(has(l, key) == model[k]);
		} else {
			local_clear(l);
			memset(model, 0, sizeof(model));
			count = 0;
		}
		ck_assert_uint_eq(info(l).entries, count);
	}
	for (unsigned k = 0; k < KEYS; k++) {
		struct entry *e;

		snprintf(key, sizeof(key), "GET 127.0.0.1:8080 /items/%u?x=%u", k, k % 3);
		e = local_lookup(l, key, T0);
		ck_assert_msg((e != NULL) == model[k], "key %u", k);
		if (e != NULL) {
			ck_assert_str_eq(e->key, key);
			ck_assert(body_ok(e));
		}
		entry_unref(e);
		key[strlen(key) - 1] ^= 0x40; /* a near miss is never found */
		ck_assert(!has(l, key));
	}
	local_destroy(l);
}
END_TEST

/* The charge is what the entry costs: its block, a body kept apart, and the node. */
START_TEST(test_charge_is_block)
{
	struct entry *a = mk("a", 100, 60), *longer = mk("a-much-longer-key-0123456789", 100, 60),
	             *big = mk("b", 100000, 60);

	/* a node is uthash's handle, the entry, the policy links and the charge: no copy of
	 * the key or expires_at (112 bytes of heap on LP64) */
	ck_assert_uint_le(sizeof(struct local_node), sizeof(UT_hash_handle) + 6 * sizeof(void *));
	ck_assert_uint_ge(local_charge(a), entry_size(a) + sizeof(struct local_node));
	ck_assert_uint_le(local_charge(a), entry_size(a) + sizeof(struct local_node) + 32);
	/* a longer key costs its bytes (the block is padded to 8) */
	ck_assert_uint_ge(local_charge(longer) - local_charge(a), strlen(longer->key) - 1 - 7);
	ck_assert_uint_le(local_charge(longer) - local_charge(a), strlen(longer->key) - 1 + 7);
	ck_assert(big->body_owned); /* a big body is charged byte for byte too */
	ck_assert_uint_eq(local_charge(big) - entry_size(big),
	                  local_charge(a) - entry_size(a) + 100000);
	entry_unref(a);
	entry_unref(longer);
	entry_unref(big);
}
END_TEST

/* An entry charged 4 GiB or more is refused even when max_bytes would take it. */
START_TEST(test_charge_over_32_bits)
{
	struct entry *e = mk("huge", 20000, 60), *small = mk("small", 10, 60);
	struct local *l = local_create("lru", UINT64_C(16) << 30, 10);
	size_t real = e->body_len;

	ck_assert(e->body_owned);
	e->body_len = (size_t)(UINT64_C(5) << 30); /* as if 5 GiB: only the charge reads it */
	ck_assert(!local_insert(l, e, T0));
	e->body_len = real;
	ck_assert(local_insert(l, e, T0));
	ck_assert(local_insert(l, small, T0));
	ck_assert_uint_eq(info(l).bytes, local_charge(e) + local_charge(small));
	local_destroy(l);
	entry_unref(e);
	entry_unref(small);
}
END_TEST

/* ------------------------------------------------------------------ policies vs a model */

struct model_node {
	struct local_node n;
	struct entry *e; /* n.entry: only entry_expires_at is read (ttl) */
	bool live;
	uint64_t last_use; /* logical time of the insert or last hit */
	uint64_t freq;     /* uses, the insert included */
	uint64_t seq;      /* insertion order */
};

/* The node the policy should name: a plain scan over the live nodes. */
static struct local_node *
model_victim(const char *policy, struct model_node *m, size_t n)
{
	struct model_node *best = NULL;

	for (size_t i = 0; i < n; i++) {
		struct model_node *c = &m[i];
		bool better;

		if (!c->live)
			continue;
		if (best == NULL)
			better = true;
		else if (strcmp(policy, "lru") == 0)
			better = c->last_use < best->last_use;
		else if (strcmp(policy, "lfu") == 0)
			better = c->freq < best->freq ||
			         (c->freq == best->freq && c->last_use < best->last_use);
		else
			better = entry_expires_at(c->e) < entry_expires_at(best->e) ||
			         (entry_expires_at(c->e) == entry_expires_at(best->e) &&
			          c->seq < best->seq);
		if (better)
			best = c;
	}
	return best ? &best->n : NULL;
}

START_TEST(test_policy_model)
{
	enum { NODES = 97, STEPS = 200000 };
	const char *name = policy_cases[_i];
	const struct policy_ops *ops = policy_find(name);
	struct model_node *m = xcalloc(NODES, sizeof(*m));
	void *state = ops->create();
	uint64_t r = 0x9e3779b97f4a7c15u + (uint64_t)_i, clock = 0, seq = 0;
	unsigned victims = 0;

	for (size_t i = 0; i < NODES; i++)
		m[i].e = xcalloc(1, sizeof(struct entry));
	ck_assert_ptr_null(ops->victim(state));
	for (int step = 0; step < STEPS; step++) {
		size_t i = rnd(&r) % NODES;
		struct model_node *c = &m[i];
		struct local_node *want, *got;

		switch (rnd(&r) % 5) {
		case 0:
		case 1:
			if (c->live)
				break;
			struct entry *e = c->e;
			memset(c, 0, sizeof(*c));
			memset(e, 0, sizeof(*e));
			c->e = e;
			c->n.entry = e;
			e->response_time = (int64_t)(rnd(&r) % 16); /* plenty of ties */
			c->live = true;
			c->last_use = ++clock;
			c->freq = 1;
			c->seq = ++seq;
			ops->inserted(state, &c->n);
			break;
		case 2:
			if (!c->live)
				break;
			ops->touched(state, &c->n);
			c->last_use = ++clock;
			c->freq++;
			break;
		case 3:
			if (!c->live)
				break;
			ops->removed(state, &c->n);
			c->live = false;
			break;
		default:
			want = model_victim(name, m, NODES);
			got = ops->victim(state);
			ck_assert_ptr_eq(got, want);
			if (got != NULL) {
				ops->removed(state, got);
				((struct model_node *)(void *)got)->live = false;
				victims++;
			}
			break;
		}
	}
	ck_assert_uint_gt(victims, 1000);
	/* drain: every victim in model order, then none */
	for (;;) {
		struct local_node *want = model_victim(name, m, NODES), *got = ops->victim(state);

		ck_assert_ptr_eq(got, want);
		if (got == NULL)
			break;
		ops->removed(state, got);
		((struct model_node *)(void *)got)->live = false;
	}
	/* destroy with nodes still linked is allowed (the tier frees its nodes itself) */
	ops->inserted(state, &m[0].n);
	ops->destroy(state);
	for (size_t i = 0; i < NODES; i++)
		free(m[i].e);
	free(m);
}
END_TEST

/* ------------------------------------------------------------------ threads */

enum { THREADS = 8, ITERS = 20000, KEYS = 48 };

struct made {
	struct entry *e;
	int key;
};

struct worker {
	pthread_t tid;
	struct local *l;
	uint64_t seed;
	struct made *made; /* every entry this thread created, with one reference kept */
	size_t n_made;
	unsigned bad; /* lookups that returned a wrong or damaged entry */
};

static void
key_name(char *buf, size_t size, int k)
{
	snprintf(buf, size, "GET|h|/k/%d", k);
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	char key[32];
	const int64_t now = T0;

	for (int it = 0; it < ITERS; it++) {
		uint64_t x = rnd(&w->seed);
		int k = (int)(x % KEYS);
		struct entry *e;
		struct local_info i;

		key_name(key, sizeof(key), k);
		switch ((x >> 8) % 10) {
		case 0:
		case 1:
		case 2:
		case 3:
			/* keep_until from now - 2 to now + 5: some expire on lookup */
			e = mk_at(key, (x >> 16) % 300, (int64_t)((x >> 32) % 8), now - 2,
			          (x >> 40) % 4 == 0);
			local_insert(w->l, e, now);
			w->made[w->n_made++] = (struct made){e, k};
			break;
		case 4:
		case 5:
		case 6:
		case 7:
			e = local_lookup(w->l, key, now);
			if (e != NULL &&
			    (strcmp(e->key, key) != 0 || !body_ok(e) || entry_keep_until(e) <= now))
				w->bad++;
			entry_unref(e);
			break;
		case 8:
			local_remove(w->l, key);
			break;
		default:
			local_info(w->l, &i);
			if (i.entries > i.max_entries || i.bytes > i.max_bytes)
				w->bad++;
			break;
		}
	}
	return NULL;
}

START_TEST(test_threads)
{
	struct entry *probe = mk("GET|h|/k/10", 150, 60);
	/* room for about 20 average entries: the byte bound and the entry bound both bite */
	struct local *l = local_create(policy_cases[_i], 20 * local_charge(probe), 32);
	struct worker *w = xcalloc(THREADS, sizeof(*w));
	struct entry *found[KEYS];
	uint64_t count = 0, bytes = 0;
	struct local_info i;
	char key[32];

	entry_unref(probe);
	for (int t = 0; t < THREADS; t++) {
		w[t].l = l;
		w[t].seed = 0x1234567u * (uint64_t)(t + 1) + (uint64_t)_i;
		w[t].made = xcalloc(ITERS, sizeof(*w[t].made));
		ck_assert_int_eq(pthread_create(&w[t].tid, NULL, worker_run, &w[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		ck_assert_int_eq(pthread_join(w[t].tid, NULL), 0);
		ck_assert_uint_eq(w[t].bad, 0);
	}

	/* recount: what lookups find (expired ones are dropped now) is exactly what info says */
	for (int k = 0; k < KEYS; k++) {
		key_name(key, sizeof(key), k);
		found[k] = local_lookup(l, key, T0);
		if (found[k] != NULL) {
			count++;
			bytes += local_charge(found[k]);
		}
	}
	local_info(l, &i);
	ck_assert_uint_eq(i.entries, count);
	ck_assert_uint_eq(i.bytes, bytes);
	ck_assert_uint_gt(i.evictions, 0);
	ck_assert_uint_gt(i.expirations, 0);
	ck_assert_uint_gt(count, 0);

	/* references: ours + the table's + the recount's for stored entries, ours alone else */
	for (int t = 0; t < THREADS; t++) {
		for (size_t j = 0; j < w[t].n_made; j++) {
			struct made *md = &w[t].made[j];

			ck_assert_uint_eq(refs(md->e), found[md->key] == md->e ? 3 : 1);
		}
	}
	for (int k = 0; k < KEYS; k++)
		entry_unref(found[k]);
	local_clear(l);
	for (int t = 0; t < THREADS; t++) {
		for (size_t j = 0; j < w[t].n_made; j++) {
			ck_assert_uint_eq(refs(w[t].made[j].e), 1);
			entry_unref(w[t].made[j].e);
		}
		free(w[t].made);
	}
	free(w);
	local_destroy(l);
}
END_TEST

/* A reader thread: looks key up n times, then exits (its hits are left in its buffer). */
struct reader {
	struct local *l;
	const char *key;
	int n;
	int found;
};

static void *
reader_run(void *arg)
{
	struct reader *r = arg;

	for (int i = 0; i < r->n; i++)
		r->found += has(r->l, r->key);
	return NULL;
}

/* Hits on one thread, recorded in its buffer, reach the policy before another thread's insert
 * chooses a victim, and before info: whatever the count (below, at and beyond a batch). */
START_TEST(test_other_thread_hits)
{
	static const int counts[] = {1, 63, 64, 65, 200};
	struct local *l = local_create(_i < 5 ? "lru" : "tinylfu", BIG, 3);
	struct reader r = {.l = l, .key = "a", .n = counts[_i % 5]};
	pthread_t t;

	put(l, "a", 10, 60);
	put(l, "b", 10, 60);
	put(l, "c", 10, 60);
	ck_assert_int_eq(pthread_create(&t, NULL, reader_run, &r), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(r.found, r.n);
	if (_i < 5) {
		/* lru: a, hit last, is the most recent: b goes */
		put(l, "d", 10, 60);
		ck_assert(!has(l, "b"));
		ck_assert(has(l, "a") && has(l, "c") && has(l, "d"));
	} else {
		/* tinylfu: a went from the window to probation as b and c arrived; a hit there
		 * earns protection, and info shows it */
		struct local_info i = info(l);

		ck_assert(i.has_regions);
		ck_assert_uint_eq(i.regions.protected_entries, 1);
	}
	local_destroy(l);
}
END_TEST

/*
 * A policy that is LRU, except that while the gate is shut its touched callback stops and
 * waits for it to open: the tier's policy lock stays held meanwhile. It counts the touches.
 */
static struct {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	bool shut;
	bool inside; /* a touch is waiting at the gate */
	int touches;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, 0};

static void
gate_touched(void *state, struct local_node *n)
{
	pthread_mutex_lock(&gate.mutex);
	gate.touches++;
	if (gate.shut) {
		gate.inside = true;
		pthread_cond_broadcast(&gate.cond);
		while (gate.shut)
			pthread_cond_wait(&gate.cond, &gate.mutex);
		gate.inside = false;
	}
	pthread_mutex_unlock(&gate.mutex);
	policy_lru.touched(state, n);
}

static void
gate_set(bool shut)
{
	pthread_mutex_lock(&gate.mutex);
	gate.shut = shut;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.mutex);
}

/* Waits up to 10 s for cond() under gate.mutex; false when it never held. */
static bool
gate_wait(bool (*cond)(void))
{
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&gate.mutex);
	while (!(ok = cond()) && pthread_cond_timedwait(&gate.cond, &gate.mutex, &until) == 0)
		;
	ok = cond();
	pthread_mutex_unlock(&gate.mutex);
	return ok;
}

static bool
gate_is_inside(void)
{
	return gate.inside;
}

static _Atomic bool readers_done;

static bool
gate_readers_done(void)
{
	return atomic_load(&readers_done);
}

static void *
gate_reader_run(void *arg)
{
	struct reader *r = arg;

	reader_run(r);
	pthread_mutex_lock(&gate.mutex);
	atomic_store(&readers_done, true);
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.mutex);
	return NULL;
}

/*
 * Lookups never wait for the policy: while one thread is inside the policy applying its hits
 * (held there by the gate), another thread's lookups all complete (200 of them: it records
 * them, and its tries to apply them find the policy busy and leave them waiting). Once the
 * gate opens, every hit of both threads reaches the policy: none is lost.
 */
START_TEST(test_lookups_pass_busy_policy)
{
	struct policy_ops ops = policy_lru;
	struct local *l;
	struct reader applier, other;
	pthread_t ta, to;
	bool passed;

	ops.touched = gate_touched;
	l = local_create_ops(&ops, BIG, 10);
	ck_assert_ptr_nonnull(l);
	put(l, "a", 10, 60);
	put(l, "b", 10, 60);
	gate.touches = 0;
	gate_set(true);
	/* 64 hits: the 64th applies the thread's ring, and stops at the gate on the first */
	applier = (struct reader){.l = l, .key = "a", .n = 64};
	ck_assert_int_eq(pthread_create(&ta, NULL, reader_run, &applier), 0);
	ck_assert_msg(gate_wait(gate_is_inside), "the applying thread never reached the policy");

	atomic_store(&readers_done, false);
	other = (struct reader){.l = l, .key = "b", .n = 200};
	ck_assert_int_eq(pthread_create(&to, NULL, gate_reader_run, &other), 0);
	passed = gate_wait(gate_readers_done);
	gate_set(false); /* open in any case, so that both threads end */
	ck_assert_int_eq(pthread_join(ta, NULL), 0);
	ck_assert_int_eq(pthread_join(to, NULL), 0);
	ck_assert_msg(passed, "lookups waited for a thread inside the policy");
	ck_assert_int_eq(applier.found, 64);
	ck_assert_int_eq(other.found, 200);

	/* info applies what still waits: every hit was counted once */
	info(l);
	ck_assert_int_eq(gate.touches, 264);
	local_destroy(l);
}
END_TEST

static Suite *
local_suite(void)
{
	Suite *s = suite_create("local");
	TCase *tc = tcase_create("core");
	TCase *tp = tcase_create("policies");
	TCase *tt = tcase_create("threads");

	tcase_add_test(tc, test_policy_find);
	tcase_add_test(tc, test_lru_order);
	tcase_add_test(tc, test_lru_hit_protects);
	tcase_add_test(tc, test_lfu_order);
	tcase_add_test(tc, test_lfu_tie_by_recency);
	tcase_add_test(tc, test_lfu_survives_scan);
	tcase_add_test(tc, test_ttl_order);
	tcase_add_test(tc, test_ttl_tie_and_hits);
	tcase_add_test(tc, test_byte_limit);
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_replace);
	tcase_add_test(tc, test_expiry);
	tcase_add_loop_test(tc, test_ref_outlives_table, LEAVE_EVICT, LEAVE_DESTROY + 1);
	tcase_add_test(tc, test_info_remove_clear);
	tcase_add_loop_test(tc, test_many_keys, 0, 3);
	tcase_add_test(tc, test_table_model);
	tcase_add_test(tc, test_charge_is_block);
	tcase_add_test(tc, test_charge_over_32_bits);
	suite_add_tcase(s, tc);

	tcase_set_timeout(tp, 60);
	tcase_add_loop_test(tp, test_policy_model, 0, 3);
	suite_add_tcase(s, tp);

	tcase_set_timeout(tt, 120);
	tcase_add_loop_test(tt, test_threads, 0, 3);
	tcase_add_loop_test(tt, test_other_thread_hits, 0, 10);
	tcase_add_test(tt, test_lookups_pass_busy_policy);
	suite_add_tcase(s, tt);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(local_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
