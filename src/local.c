/*
 * local: tier 1, the in-process cache. A uthash table from primary key to struct local_node
 * (policy.h); the handle's key points to entry->key, so the key is stored once. The table
 * hashes with XXH3 keyed by a secret seed drawn once per process from getrandom(2), so that
 * chosen URLs cannot pile up in one bucket. The hash is computed before taking the lock and
 * handed to uthash (HASH_FIND_BYHASHVALUE, HASH_ADD_KEYPTR_BYHASHVALUE); uthash keeps it in
 * the handle, so growing does not hash again and a lookup compares keys only on a full hash
 * match. Each node owns one reference to its entry. What uthash costs per entry: its 56-byte
 * handle in the node and about 4 to 8 bytes of bucket array (16-byte buckets, grown when a
 * chain reaches 10 nodes).
 *
 * Locking: one mutex guards the table, the sizes, the counters and the policy state (the
 * policy is only called with it held). Nothing is freed and no entry is unreferenced under
 * it: removed nodes are unlinked under the lock, chained through node->next (free once the
 * policy has let go of the node) and released after the unlock. What allocates or frees
 * under the lock is bounded and internal: uthash's bucket array (grown by doubling, freed
 * when the table empties) and the policies' own small structures (policy_lfu.c,
 * policy_ttl.c).
 *
 * References: the table holds one reference per node; a lookup hands out a new one, so an
 * entry evicted, replaced or purged while someone sends it stays valid until they drop it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Allocation in uthash aborts on exhaustion like every other allocation. */
#define uthash_malloc(sz)                    xmalloc(sz)
#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = util_table_hash((keyptr), (keylen)))
#include <uthash.h>

#include "local.h"
#include "policy.h"

/*
 * Bookkeeping bytes per entry beyond its own block (entry_size) and a body kept apart: the
 * node (it embeds uthash's 56-byte handle), and 24 bytes for its share of uthash's bucket
 * array (4 to 8 bytes) and the allocator's headers (8 to 16 bytes a block, two blocks).
 */
#define LOCAL_FIXED_CHARGE (sizeof(struct local_node) + 24)

struct local {
	pthread_mutex_t mutex;
	struct local_node *table; /* uthash head */
	const struct policy_ops *ops;
	void *policy; /* the policy's state */
	uint64_t max_bytes;
	uint64_t max_entries;
	uint64_t bytes;
	uint64_t entries;
	uint64_t evictions;
	uint64_t expirations;
};

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

/* The node stored under key (len bytes, hash hv), or NULL (lock held). */
static struct local_node *
local_find(struct local *l, const char *key, size_t len, unsigned hv)
{
	struct local_node *n;

	HASH_FIND_BYHASHVALUE(hh, l->table, key, len, hv, n);
	return n;
}

/* Takes n out of the table and the policy (lock held); chains it on *dead for release. */
static void
local_unlink(struct local *l, struct local_node *n, struct local_node **dead)
{
	l->ops->removed(l->policy, n);
	HASH_DELETE(hh, l->table, n);
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
	struct local_node *n, *tmp, *dead = NULL;

	if (l == NULL)
		return;
	HASH_ITER(hh, l->table, n, tmp)
	{
		local_unlink(l, n, &dead);
	}
	l->ops->destroy(l->policy);
	pthread_mutex_destroy(&l->mutex);
	free(l);
	local_release(dead);
}

/* Looks key up: a new reference, or NULL (an entry past keep_until is removed). */
struct entry *
local_lookup(struct local *l, const char *key, int64_t now)
{
	struct local_node *n, *dead = NULL;
	struct entry *e = NULL;
	size_t len = strlen(key);
	unsigned hv = util_table_hash(key, len);

	local_lock(l);
	n = local_find(l, key, len, hv);
	if (n != NULL) {
		if (entry_keep_until(n->entry) <= now) {
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
	size_t len;
	unsigned hv;

	(void)now;
	if (charge > l->max_bytes || charge > UINT32_MAX || l->max_entries == 0)
		return false;
	n = xcalloc(1, sizeof(*n));
	n->entry = entry_ref(e);
	n->charge = (uint32_t)charge;
	len = strlen(e->key);
	hv = util_table_hash(e->key, len);

	local_lock(l);
	old = local_find(l, e->key, len, hv);
	if (old != NULL)
		local_unlink(l, old, &dead);
	/* bytes <= max_bytes and entries <= max_entries always hold: no overflow */
	while (charge > l->max_bytes - l->bytes || l->entries >= l->max_entries) {
		struct local_node *victim = l->ops->victim(l->policy);

		TC_ASSERT(victim != NULL);
		local_unlink(l, victim, &dead);
		l->evictions++;
	}
	HASH_ADD_KEYPTR_BYHASHVALUE(hh, l->table, e->key, len, hv, n);
	l->ops->inserted(l->policy, n);
	l->entries++;
	l->bytes += charge;
	local_unlock(l);

	local_release(dead);
	return true;
}

/* Removes key; true when something was stored under it. */
bool
local_remove(struct local *l, const char *key)
{
	struct local_node *n, *dead = NULL;
	size_t len = strlen(key);
	unsigned hv = util_table_hash(key, len);

	local_lock(l);
	n = local_find(l, key, len, hv);
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
	struct local_node *old, *n, *tmp, *dead = NULL;

	if (l->ops->limits != NULL)
		l->ops->limits(fresh, l->max_bytes, l->max_entries);

	local_lock(l);
	old = l->table;
	old_policy = l->policy;
	l->table = NULL;
	l->policy = fresh;
	l->entries = 0;
	l->bytes = 0;
	local_unlock(l);

	/* the old table is private now: take it apart without the lock */
	HASH_ITER(hh, old, n, tmp)
	{
		HASH_DELETE(hh, old, n);
		n->next = dead;
		dead = n;
	}
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
	/* a body kept apart: its own allocation, or its memory file (bodyfile.h) */
	return LOCAL_FIXED_CHARGE + entry_size(e) +
	       (e->body_owned || entry_body_fd(e) >= 0 ? e->body_len : 0);
}
