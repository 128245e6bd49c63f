/*
 * local: tier 1, the in-process cache. A hash table from primary key to struct local_node
 * (policy.h); node->key points to entry->key, so the key is stored once. The table is a
 * power-of-two array of bucket chains threaded through node->chain (8 bytes a node, plus 8
 * a bucket at a load of at most one node per bucket: uthash's handle was 56 and its buckets
 * 16, for every stored entry). It hashes with XXH3 keyed by a secret seed drawn once per
 * process from getrandom(2), so that chosen URLs cannot pile up in one bucket; each node
 * keeps its hash, so a lookup compares keys only on a full hash match and growing does not
 * hash again. Each node owns one reference to its entry.
 *
 * Locking: one mutex guards the table, the sizes, the counters and the policy state (the
 * policy is only called with it held). Nothing is freed and no entry is unreferenced under
 * it: removed nodes are unlinked under the lock, chained through node->next (free once the
 * policy has let go of the node) and released after the unlock. What allocates or frees
 * under the lock is bounded and internal: the bucket array (doubled when the nodes outnumber
 * the buckets; the old array is freed after the unlock) and the policies' own small
 * structures (policy_lfu.c, policy_ttl.c).
 *
 * References: the table holds one reference per node; a lookup hands out a new one, so an
 * entry evicted, replaced or purged while someone sends it stays valid until they drop it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "util.h"

static uint64_t local_seed;
static pthread_once_t local_seed_once = PTHREAD_ONCE_INIT;

/* The keyed hash of the table (read-only after local_seed_init). */
static uint32_t
local_hash(const char *key)
{
	return (uint32_t)XXH3_64bits_withSeed(key, strlen(key), local_seed);
}

#include "local.h"
#include "policy.h"

/* Buckets of a new table (a power of two). */
#define LOCAL_MIN_BUCKETS 64

/*
 * Bookkeeping bytes per entry beyond its own block (entry->size) and a body kept apart: the
 * node, and 24 bytes for its share of the bucket array (8 to 16 bytes) and the allocator's
 * headers (8 to 16 bytes a block, two blocks).
 */
#define LOCAL_FIXED_CHARGE (sizeof(struct local_node) + 24)

struct local {
	pthread_mutex_t mutex;
	struct local_node **buckets; /* nbuckets chains (NULL until the first insert) */
	size_t nbuckets;             /* a power of two, or 0 */
	const struct policy_ops *ops;
	void *policy; /* the policy's state */
	uint64_t max_bytes;
	uint64_t max_entries;
	uint64_t bytes;
	uint64_t entries;
	uint64_t evictions;
	uint64_t expirations;
};

/* Draws the hash seed once per process. */
static void
local_seed_init(void)
{
	local_seed = util_random_seed();
}

static void
local_lock(struct local *l)
{
	int rc = pthread_mutex_lock(&l->mutex);

	TC_ASSERT(rc == 0);
}

static void
local_unlock(struct local *l)
{
	int rc = pthread_mutex_unlock(&l->mutex);

	TC_ASSERT(rc == 0);
}

/* The node stored under key (whose hash is hv), or NULL (lock held). */
static struct local_node *
local_find(const struct local *l, const char *key, uint32_t hv)
{
	struct local_node *n;

	if (l->nbuckets == 0)
		return NULL;
	for (n = l->buckets[hv & (l->nbuckets - 1)]; n != NULL; n = n->chain)
		if (n->hashv == hv && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

/*
 * Adds n to the buckets (lock held; its key is not there). When the nodes would outnumber
 * the buckets the array doubles; the old one is returned for the caller to free after the
 * unlock (NULL when it did not grow).
 */
static struct local_node **
local_link(struct local *l, struct local_node *n)
{
	struct local_node **old = NULL;

	if (l->entries + 1 > l->nbuckets) {
		size_t nb = l->nbuckets ? l->nbuckets * 2 : LOCAL_MIN_BUCKETS;
		struct local_node **b = xcalloc(nb, sizeof(*b));

		for (size_t i = 0; i < l->nbuckets; i++) {
			struct local_node *m = l->buckets[i], *next;
			for (; m != NULL; m = next) {
				next = m->chain;
				m->chain = b[m->hashv & (nb - 1)];
				b[m->hashv & (nb - 1)] = m;
			}
		}
		old = l->buckets;
		l->buckets = b;
		l->nbuckets = nb;
	}
	n->chain = l->buckets[n->hashv & (l->nbuckets - 1)];
	l->buckets[n->hashv & (l->nbuckets - 1)] = n;
	return old;
}

/* Takes n out of its bucket (lock held; n is in the table). */
static void
local_unchain(struct local *l, struct local_node *n)
{
	struct local_node **p = &l->buckets[n->hashv & (l->nbuckets - 1)];

	while (*p != n) {
		TC_ASSERT(*p != NULL);
		p = &(*p)->chain;
	}
	*p = n->chain;
	n->chain = NULL;
}

/* Takes n out of the table and the policy (lock held); chains it on *dead for release. */
static void
local_unlink(struct local *l, struct local_node *n, struct local_node **dead)
{
	l->ops->removed(l->policy, n);
	local_unchain(l, n);
	TC_ASSERT(l->entries > 0 && l->bytes >= n->charge);
	l->entries--;
	l->bytes -= n->charge;
	n->prev = NULL;
	n->next = *dead;
	*dead = n;
}

/* Drops the references and frees the nodes chained on dead (lock not held). */
static void
local_release(struct local_node *dead)
{
	while (dead != NULL) {
		struct local_node *next = dead->next;

		entry_unref(dead->entry);
		free(dead);
		dead = next;
	}
}

/* Creates a tier with the named policy; NULL when the policy is unknown. */
struct local *
local_create(const char *policy, uint64_t max_bytes, uint64_t max_entries)
{
	const struct policy_ops *ops = policy_find(policy);
	struct local *l;
	int rc;

	if (ops == NULL)
		return NULL;
	pthread_once(&local_seed_once, local_seed_init);
	l = xcalloc(1, sizeof(*l));
	rc = pthread_mutex_init(&l->mutex, NULL);
	TC_ASSERT(rc == 0);
	l->ops = ops;
	l->policy = ops->create();
	if (ops->limits != NULL)
		ops->limits(l->policy, max_bytes, max_entries);
	l->max_bytes = max_bytes;
	l->max_entries = max_entries;
	return l;
}

/* Frees the tier and drops every reference it holds. */
void
local_destroy(struct local *l)
{
	struct local_node *dead = NULL;

	if (l == NULL)
		return;
	for (size_t i = 0; i < l->nbuckets; i++)
		while (l->buckets[i] != NULL)
			local_unlink(l, l->buckets[i], &dead);
	l->ops->destroy(l->policy);
	pthread_mutex_destroy(&l->mutex);
	free(l->buckets);
	free(l);
	local_release(dead);
}

/* Looks key up: a new reference, or NULL (an entry past keep_until is removed). */
struct entry *
local_lookup(struct local *l, const char *key, int64_t now)
{
	struct local_node *n, *dead = NULL;
	struct entry *e = NULL;
	uint32_t hv = local_hash(key);

	local_lock(l);
	n = local_find(l, key, hv);
	if (n != NULL) {
		if (n->entry->keep_until <= now) {
			local_unlink(l, n, &dead);
			l->expirations++;
		} else {
			l->ops->touched(l->policy, n);
			e = entry_ref(n->entry);
		}
	}
	local_unlock(l);
	local_release(dead);
	return e;
}

/* Stores e under e->key (the tier takes its own reference); false when it can never fit. */
bool
local_insert(struct local *l, struct entry *e, int64_t now)
{
	size_t charge = local_charge(e);
	struct local_node *n, *old, *dead = NULL;
	struct local_node **old_buckets;

	(void)now;
	TC_ASSERT(e->key != NULL);
	if (charge > l->max_bytes || charge > UINT32_MAX || l->max_entries == 0)
		return false;
	n = xcalloc(1, sizeof(*n));
	n->entry = entry_ref(e);
	n->key = e->key;
	n->charge = (uint32_t)charge;
	n->expires_at = e->expires_at;
	n->hashv = local_hash(n->key);

	local_lock(l);
	old = local_find(l, n->key, n->hashv);
	if (old != NULL)
		local_unlink(l, old, &dead);
	/* bytes <= max_bytes and entries <= max_entries always hold: no overflow */
	while (charge > l->max_bytes - l->bytes || l->entries >= l->max_entries) {
		struct local_node *victim = l->ops->victim(l->policy);

		TC_ASSERT(victim != NULL);
		local_unlink(l, victim, &dead);
		l->evictions++;
	}
	old_buckets = local_link(l, n);
	l->ops->inserted(l->policy, n);
	l->entries++;
	l->bytes += charge;
	local_unlock(l);

	free(old_buckets);
	local_release(dead);
	return true;
}

/* Removes key; true when something was stored under it. */
bool
local_remove(struct local *l, const char *key)
{
	struct local_node *n, *dead = NULL;
	uint32_t hv = local_hash(key);

	local_lock(l);
	n = local_find(l, key, hv);
	if (n != NULL)
		local_unlink(l, n, &dead);
	local_unlock(l);
	local_release(dead);
	return n != NULL;
}

/* Removes everything: the table and policy state are swapped for empty ones under the lock. */
void
local_clear(struct local *l)
{
	void *fresh = l->ops->create();
	void *old_policy;
	struct local_node **old, *n, *dead = NULL;
	size_t nold;

	if (l->ops->limits != NULL)
		l->ops->limits(fresh, l->max_bytes, l->max_entries);

	local_lock(l);
	old = l->buckets;
	nold = l->nbuckets;
	old_policy = l->policy;
	l->buckets = NULL;
	l->nbuckets = 0;
	l->policy = fresh;
	l->entries = 0;
	l->bytes = 0;
	local_unlock(l);

	/* the old table is private now: take it apart without the lock */
	for (size_t i = 0; i < nold; i++) {
		while ((n = old[i]) != NULL) {
			old[i] = n->chain;
			n->next = dead;
			dead = n;
		}
	}
	free(old);
	l->ops->destroy(old_policy);
	local_release(dead);
}

/* Fills *out with the current sizes and counters. */
void
local_info(struct local *l, struct local_info *out)
{
	local_lock(l);
	out->policy = l->ops->name;
	out->entries = l->entries;
	out->bytes = l->bytes;
	out->max_entries = l->max_entries;
	out->max_bytes = l->max_bytes;
	out->evictions = l->evictions;
	out->expirations = l->expirations;
	out->has_regions = l->ops->info != NULL;
	memset(&out->regions, 0, sizeof(out->regions));
	if (l->ops->info != NULL)
		l->ops->info(l->policy, &out->regions);
	local_unlock(l);
}

/* Bytes charged for storing e (its block, a body kept apart, and bookkeeping). */
size_t
local_charge(const struct entry *e)
{
	return LOCAL_FIXED_CHARGE + e->size + (e->body_owned ? e->body_len : 0);
}
