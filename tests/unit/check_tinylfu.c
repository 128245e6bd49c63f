/*
 * check_tinylfu: the adaptive W-TinyLFU policy (src/policy_tinylfu.c), driven through its
 * policy_ops on nodes of the test's own and through a real local tier. Window and segmented
 * LRU moves, admission (a popular candidate wins, a one-hit wonder loses, equal popular keys
 * win at random rarely), adaptation of the window to recency-heavy and frequency-heavy
 * traffic, both bounds of the tier with entries of mixed sizes, the hit ratio against LRU, and
 * threads sharing one tier (sizes and regions add up, every entry's references balance).
 * Seeds are fixed with policy_set_seed, so every run is the same.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "local.h"
#include "policy.h"
#include "util.h"

#define BIG (UINT64_C(1) << 40)
#define T0  INT64_C(1000000)

static const struct policy_ops *ops;

/* A node of the test, keyed name, charged charge bytes. */
struct tnode {
	struct local_node n;
	char key[24];
};

static void
tnode_init(struct tnode *t, const char *key, size_t charge)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->key, sizeof(t->key), "%s", key);
	t->n.hh.key = t->key; /* as local.c's table sets it before inserted */
	t->n.hh.keylen = (unsigned)strlen(t->key);
	t->n.charge = charge;
}

static void *
mkstate(uint64_t max_bytes, uint64_t max_entries)
{
	void *s;

	policy_set_seed(12345);
	ops = policy_find("tinylfu");
	ck_assert_ptr_nonnull(ops);
	s = ops->create();
	ops->limits(s, max_bytes, max_entries);
	return s;
}

static struct local_policy_info
info(void *s)
{
	struct local_policy_info i;

	memset(&i, 0, sizeof(i));
	ops->info(s, &i);
	return i;
}

/* Counts key once more in the sketch: inserted then removed (no node stays). */
static void
bump(void *s, const char *key, int times)
{
	for (int i = 0; i < times; i++) {
		struct tnode t;

		tnode_init(&t, key, 1);
		ops->inserted(s, &t.n);
		ops->removed(s, &t.n);
	}
}

/* Evicts like the tier does: asks for a victim and removes it. */
static struct local_node *
evict(void *s)
{
	struct local_node *v = ops->victim(s);

	ck_assert_ptr_nonnull(v);
	ops->removed(s, v);
	return v;
}

START_TEST(test_registered)
{
	ck_assert_ptr_eq(policy_find("tinylfu"), &policy_tinylfu);
	ck_assert_ptr_nonnull(strstr(policy_names(), "|tinylfu"));
	ck_assert_ptr_nonnull(policy_tinylfu.limits);
	ck_assert_ptr_nonnull(policy_tinylfu.info);
}
END_TEST

/* New nodes enter the window; its overflow fills probation; a probation hit is protected. */
START_TEST(test_regions)
{
	void *s = mkstate(BIG, 10);
	struct tnode t[10];
	struct local_policy_info i;

	ck_assert_ptr_null(ops->victim(s));
	tnode_init(&t[0], "k0", 100);
	ops->inserted(s, &t[0].n);
	i = info(s);
	/* the window's share is 1% of 10 entries: one node is already over it */
	ck_assert_double_eq_tol(i.window_target, 0.01, 1e-9);
	ck_assert_uint_eq(i.window_entries + i.probation_entries, 1);
	for (int k = 1; k < 10; k++) {
		char key[8];

		snprintf(key, sizeof(key), "k%d", k);
		tnode_init(&t[k], key, 100);
		ops->inserted(s, &t[k].n);
	}
	i = info(s);
	ck_assert_uint_eq(i.window_entries + i.probation_entries + i.protected_entries, 10);
	ck_assert_uint_eq(i.window_bytes + i.probation_bytes + i.protected_bytes, 1000);
	ck_assert_uint_eq(i.protected_entries, 0);
	ck_assert_uint_ge(i.probation_entries, 8); /* at most one node over the window's share */
	ck_assert_ptr_eq(t[9].n.group, t[9].n.group);

	/* hits on probation nodes protect them, up to 80% of the main region (7 nodes) */
	for (int k = 0; k < 9; k++)
		ops->touched(s, &t[k].n);
	i = info(s);
	ck_assert_uint_eq(i.protected_entries, 7);
	ck_assert_uint_eq(i.window_entries + i.probation_entries, 3);
	/* the least recently protected were demoted to probation: k0 and k1 */
	ck_assert_ptr_eq(t[0].n.group, t[1].n.group);
	ck_assert_ptr_ne(t[0].n.group, t[8].n.group);
	ck_assert_ptr_eq(t[2].n.group, t[8].n.group);

	/* removal unlinks from whichever list */
	for (int k = 0; k < 10; k++)
		ops->removed(s, &t[k].n);
	i = info(s);
	ck_assert_uint_eq(i.window_entries + i.probation_entries + i.protected_entries, 0);
	ck_assert_uint_eq(i.window_bytes + i.probation_bytes + i.protected_bytes, 0);
	ck_assert_ptr_null(ops->victim(s));
	ops->destroy(s);
}
END_TEST

/* A one-hit wonder loses to the main region's victim; a popular candidate wins. */
START_TEST(test_admission)
{
	void *s = mkstate(BIG, 4);
	struct tnode t[4], cold, hot;
	struct local_policy_info i;
	struct local_node *v;

	for (int k = 0; k < 4; k++) {
		char key[8];

		snprintf(key, sizeof(key), "m%d", k);
		tnode_init(&t[k], key, 1);
		bump(s, key, 2); /* seen twice before */
		ops->inserted(s, &t[k].n);
	}
	/* the tier is full; m3 waits in the window, over its 1% share, and loses a tie */
	v = evict(s);
	ck_assert_ptr_eq(v, &t[3].n);
	i = info(s);
	ck_assert_uint_eq(i.rejected, 1);
	/* a new key arrives: seen once, it loses against a main node seen three times */
	tnode_init(&cold, "cold", 1);
	ops->inserted(s, &cold.n);
	v = evict(s);
	ck_assert_ptr_eq(v, &cold.n);
	i = info(s);
	ck_assert_uint_eq(i.rejected, 2);
	ck_assert_uint_eq(i.admitted, 0);

	tnode_init(&hot, "hot", 1);
	bump(s, "hot", 6);
	ops->inserted(s, &hot.n);
	v = ops->victim(s); /* hot (seen seven times) wins */
	ck_assert_ptr_ne(v, &hot.n);
	ops->removed(s, v);
	i = info(s);
	ck_assert_uint_eq(i.admitted, 1);
	ck_assert_uint_eq(i.rejected, 2);
	ck_assert_uint_eq(i.window_entries, 0);
	ck_assert_uint_eq(i.probation_entries + i.protected_entries, 3);
	ops->destroy(s);
}
END_TEST

/*
 * Against a main victim just as popular, a popular candidate still wins now and then at
 * random (so an attacker cannot keep new keys out by keeping a victim's count high), and a
 * rare one never does.
 */
START_TEST(test_admission_random)
{
	/* two nodes of 1 MB fill the tier; its sketch (for about 8000 entries) is not halved
	 * during the test, so the two keys stay equally popular once both counts saturate */
	void *s = mkstate(2000000, 100000);
	struct tnode a, b, *in_main = &a, *arriving = &b;
	unsigned admitted = 0;

	tnode_init(&a, "a", 1000000);
	tnode_init(&b, "b", 1000000);
	ops->inserted(s, &a.n);
	for (int trial = 0; trial < 2560; trial++) {
		struct local_node *v;

		ops->touched(s, &in_main->n);
		ops->inserted(s, &arriving->n);
		v = evict(s);
		if (v == &in_main->n) {
			/* the arriving key was admitted: the roles swap */
			struct tnode *tmp = in_main;

			admitted++;
			in_main = arriving;
			arriving = tmp;
		} else {
			ck_assert_ptr_eq(v, &arriving->n);
		}
	}
	ck_assert_uint_ge(admitted, 5); /* about 2560 / 128 */
	ck_assert_uint_le(admitted, 45);
	ops->removed(s, &in_main->n);
	ops->destroy(s);
}
END_TEST

/* A tier of tinylfu replaying keys; returns the hits. */
static uint64_t
replay(const char *policy, uint64_t max_bytes, uint64_t max_entries, const unsigned *keys, size_t n,
       const size_t *sizes, struct local_info *out)
{
	const struct rfc9111_settings st = {.default_ttl = 1000000000};
	struct local *l;
	uint64_t hits = 0;
	char key[32];

	policy_set_seed(777);
	l = local_create(policy, max_bytes, max_entries);
	ck_assert_ptr_nonnull(l);
	for (size_t i = 0; i < n; i++) {
		struct http_headers hd = {0};
		struct entry *e;
		size_t len = sizes ? sizes[keys[i] % 64] : 0;

		snprintf(key, sizeof(key), "/k/%u", keys[i]);
		e = local_lookup(l, key, T0 + (int64_t)i);
		if (e != NULL) {
			hits++;
			entry_unref(e);
			continue;
		}
		e = entry_new(key, NULL, 200, &hd, len ? xcalloc(1, len) : NULL, len, T0, T0, &st);
		local_insert(l, e, T0 + (int64_t)i);
		entry_unref(e);
		if (out != NULL && i % 97 == 0) {
			struct local_info li;
			local_info(l, &li);
			ck_assert_uint_le(li.entries, max_entries);
			ck_assert_uint_le(li.bytes, max_bytes);
			ck_assert_uint_eq(li.regions.window_entries + li.regions.probation_entries +
			                          li.regions.protected_entries,
			                  li.entries);
			ck_assert_uint_eq(li.regions.window_bytes + li.regions.probation_bytes +
			                          li.regions.protected_bytes,
			                  li.bytes);
		}
	}
	if (out != NULL)
		local_info(l, out);
	local_destroy(l);
	return hits;
}

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * UINT64_C(2685821657736338717);
}

/* A skewed key: small numbers far more often (about Zipf-like), out of 20000. */
static unsigned
skewed(void)
{
	double u = (double)(rnd() >> 11) / 9007199254740992.0;

	return (unsigned)(20000.0 * u * u * u * u);
}

/* Popular keys mixed with one-time keys: the window stays small, and beats LRU. */
START_TEST(test_adapts_to_frequency)
{
	enum { N = 60000 };
	unsigned *keys = xmalloc(N * sizeof(*keys));
	struct local_info li;
	uint64_t lru, tlfu;

	rng_state = 99;
	for (unsigned i = 0; i < N; i++)
		keys[i] = (i % 2) ? skewed() : 100000 + i; /* half one-hit wonders */
	lru = replay("lru", BIG, 200, keys, N, NULL, NULL);
	tlfu = replay("tinylfu", BIG, 200, keys, N, NULL, &li);
	ck_assert_str_eq(li.policy, "tinylfu");
	ck_assert(li.has_regions);
	ck_assert_double_le(li.regions.window_target, 0.25);
	ck_assert_uint_gt(li.regions.rejected, li.regions.admitted);
	ck_assert_uint_gt(tlfu, lru + lru / 5);
	free(keys);
}
END_TEST

/*
 * Keys that are requested a few times in a burst and then never again: only recency helps,
 * the window grows to most of the tier and the hit ratio stays close to LRU's.
 */
START_TEST(test_adapts_to_recency)
{
	enum { N = 60000 };
	unsigned *keys = xmalloc(N * sizeof(*keys));
	struct local_info li;
	uint64_t lru, tlfu;
	unsigned next = 0;

	rng_state = 5;
	for (unsigned i = 0; i < N; i++) {
		/* a new key every 4 requests on average; repeats from the last ~30 keys */
		if (i == 0 || rnd() % 4 == 0)
			next++;
		keys[i] = next - (unsigned)(rnd() % (next < 30 ? next : 30));
	}
	lru = replay("lru", BIG, 40, keys, N, NULL, NULL);
	tlfu = replay("tinylfu", BIG, 40, keys, N, NULL, &li);
	ck_assert_double_ge(li.regions.window_target, 0.45);
	ck_assert_uint_gt(li.regions.adaptations, 0);
	ck_assert_uint_ge(tlfu + N / 50, lru); /* within 2 points of LRU */
	free(keys);
}
END_TEST

/* Mixed sizes in a byte-bounded tier: both bounds hold and the regions add up. */
START_TEST(test_bounds_mixed_sizes)
{
	enum { N = 30000 };
	unsigned *keys = xmalloc(N * sizeof(*keys));
	size_t sizes[64];
	struct local_info li;

	rng_state = 17;
	for (int i = 0; i < 64; i++)
		sizes[i] = (size_t)(rnd() % 20000);
	for (unsigned i = 0; i < N; i++)
		keys[i] = skewed() / 10;
	replay("tinylfu", 256 * 1024, 1000000, keys, N, sizes, &li);
	ck_assert_uint_le(li.bytes, 256 * 1024);
	ck_assert_uint_gt(li.entries, 10);
	replay("tinylfu", BIG, 50, keys, N, sizes, &li);
	ck_assert_uint_eq(li.entries, 50);
	free(keys);
}
END_TEST

/* local_clear starts the policy afresh; lru has no regions. */
START_TEST(test_clear_and_info)
{
	const struct rfc9111_settings st = {.default_ttl = 100};
	struct local *l = local_create("tinylfu", BIG, 10);
	struct local_info li;

	for (int i = 0; i < 20; i++) {
		struct http_headers hd = {0};
		char key[16];
		struct entry *e;

		snprintf(key, sizeof(key), "/%d", i);
		e = entry_new(key, NULL, 200, &hd, NULL, 0, T0, T0, &st);
		ck_assert(local_insert(l, e, T0));
		entry_unref(e);
	}
	local_info(l, &li);
	ck_assert_uint_eq(li.entries, 10);
	ck_assert_uint_eq(li.evictions, 10);
	ck_assert_uint_eq(li.regions.admitted + li.regions.rejected, 10);
	local_clear(l);
	local_info(l, &li);
	ck_assert_uint_eq(li.entries, 0);
	ck_assert_uint_eq(li.regions.window_entries + li.regions.probation_entries, 0);
	ck_assert_uint_eq(li.regions.admitted + li.regions.rejected, 0);
	local_destroy(l);

	l = local_create("lru", BIG, 10);
	local_info(l, &li);
	ck_assert(!li.has_regions);
	ck_assert_uint_eq(li.regions.window_entries, 0);
	local_destroy(l);
}
END_TEST

struct worker_arg {
	struct local *l;
	unsigned seed;
	uint64_t hits;
};

/* Lookups and inserts of skewed keys from one thread. */
static void *
worker(void *p)
{
	const struct rfc9111_settings st = {.default_ttl = 1000000};
	struct worker_arg *a = p;
	uint64_t r = a->seed * UINT64_C(0x9e3779b97f4a7c15) + 1;

	for (int i = 0; i < 40000; i++) {
		struct http_headers hd = {0};
		struct entry *e;
		double u;
		char key[32];

		r ^= r >> 12;
		r ^= r << 25;
		r ^= r >> 27;
		u = (double)((r * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0;
		snprintf(key, sizeof(key), "/t/%u", (unsigned)(5000.0 * u * u * u));
		e = local_lookup(a->l, key, T0);
		if (e != NULL) {
			a->hits++;
			entry_unref(e);
			continue;
		}
		e = entry_new(key, NULL, 200, &hd, NULL, 0, T0, T0, &st);
		local_insert(a->l, e, T0);
		entry_unref(e);
	}
	return NULL;
}

START_TEST(test_threads)
{
	enum { THREADS = 4 };
	struct local *l = local_create("tinylfu", 300 * 1024, 1000);
	struct worker_arg args[THREADS];
	pthread_t tids[THREADS];
	struct local_info li;

	for (unsigned t = 0; t < THREADS; t++) {
		args[t] = (struct worker_arg){.l = l, .seed = t + 1};
		ck_assert_int_eq(pthread_create(&tids[t], NULL, worker, &args[t]), 0);
	}
	for (unsigned t = 0; t < THREADS; t++) {
		ck_assert_int_eq(pthread_join(tids[t], NULL), 0);
		ck_assert_uint_gt(args[t].hits, 10000);
	}
	local_info(l, &li);
	ck_assert_uint_le(li.entries, 1000);
	ck_assert_uint_le(li.bytes, 300 * 1024);
	ck_assert_uint_eq(li.regions.window_entries + li.regions.probation_entries +
	                          li.regions.protected_entries,
	                  li.entries);
	ck_assert_uint_eq(li.regions.window_bytes + li.regions.probation_bytes +
	                          li.regions.protected_bytes,
	                  li.bytes);
	/* every stored entry is still referenced by the tier alone */
	for (unsigned k = 0; k < 5000; k++) {
		char key[32];
		struct entry *e;

		snprintf(key, sizeof(key), "/t/%u", k);
		e = local_lookup(l, key, T0);
		if (e == NULL)
			continue;
		ck_assert_uint_eq(atomic_load(&e->refs), 2);
		entry_unref(e);
	}
	local_destroy(l);
}
END_TEST

static Suite *
tinylfu_suite(void)
{
	Suite *s = suite_create("tinylfu");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_registered);
	tcase_add_test(tc, test_regions);
	tcase_add_test(tc, test_admission);
	tcase_add_test(tc, test_admission_random);
	tcase_add_test(tc, test_adapts_to_frequency);
	tcase_add_test(tc, test_adapts_to_recency);
	tcase_add_test(tc, test_bounds_mixed_sizes);
	tcase_add_test(tc, test_clear_and_info);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(tinylfu_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
