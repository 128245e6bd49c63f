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
 *
 * Hits are applied to the policy in batches: a hit takes the mutex for the table lookup and
 * the entry's reference only, and records the node it found in its thread's buffer of
 * touches (struct local_touches, one per thread and tier, linked in l->touches; read and
 * written only under the mutex, so any thread holding it may apply every buffer). A buffer is
 * applied to the policy when it is full (by its own thread, LOCAL_TOUCHES hits at a time) and
 * all of them are before anything else reaches the policy: an insert (before its victims are
 * chosen), a removal, an expiry, clear, info and destroy. So a node named in a buffer is always
 * linked (no node is unlinked while a buffer names it), no hit is lost, and one thread's hits
 * reach the policy in the order they happened and before its own next insert or removal: a
 * single thread sees exactly the policy of one touch per hit. What the batches save: the
 * policy's writes on a hit (list links, region sizes, sketch and shadows, shared by every
 * server thread) are made by one thread at a time, many in a row, instead of moving their
 * cache lines between the cores on every hit; and the mutex is held for a lookup only, so the
 * other threads wait on it less often (and for less time when the holder is preempted).
 */
#include <pthread.h>
#include <stdatomic.h>
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

/* Hits recorded in one thread's buffer before they are applied to the policy. */
#define LOCAL_TOUCHES 64

/*
 * One thread's hits on one tier not yet applied to the policy: the nodes found, in order.
 * Guarded by the tier's mutex (any holder may apply it); owned and freed by the tier.
 */
struct local_touches {
	struct local_touches *next; /* in local->touches */
	uint64_t thread;            /* local_thread_id of the thread that records here */
	unsigned n;
	struct local_node *node[LOCAL_TOUCHES];
};

struct local {
	pthread_mutex_t mutex;
	uint64_t id;                   /* unique in the process: names the tier in thread caches */
	struct local_touches *touches; /* every thread's buffer (under the mutex) */
	struct local_node *table;      /* uthash head */
	const struct policy_ops *ops;
	void *policy; /* the policy's state */
	uint64_t max_bytes;
	uint64_t max_entries;
	uint64_t bytes;
	uint64_t entries;
	uint64_t evictions;
	uint64_t expirations;
};

/* Ids of tiers and of threads (never reused, so a thread's cache is checked without a read). */
static atomic_uint_fast64_t local_ids = 1;
static _Thread_local uint64_t local_thread_id;
static _Thread_local uint64_t local_cached_tier;             /* the id of the tier cached */
static _Thread_local struct local_touches *local_cached_buf; /* this thread's buffer there */

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

/* Applies one buffer's hits to the policy, in the order they happened (lock held). */
static void
local_apply(struct local *l, struct local_touches *t)
{
	for (unsigned i = 0; i < t->n; i++)
		l->ops->touched(l->policy, t->node[i]);
	t->n = 0;
}

/* Applies every thread's recorded hits (lock held): before anything else reaches the policy. */
static void
local_apply_all(struct local *l)
{
	for (struct local_touches *t = l->touches; t != NULL; t = t->next)
		if (t->n > 0)
			local_apply(l, t);
}

/* This thread's buffer of hits on l (lock held): created on its first hit on l. */
static struct local_touches *
local_thread_touches(struct local *l)
{
	struct local_touches *t;

	if (local_cached_tier == l->id)
		return local_cached_buf;
	if (local_thread_id == 0)
		local_thread_id = atomic_fetch_add(&local_ids, 1);
	for (t = l->touches; t != NULL; t = t->next)
		if (t->thread == local_thread_id)
			break;
	if (t == NULL) {
		/* once per thread and tier: a small allocation, nothing freed */
		t = xcalloc(1, sizeof(*t));
		t->thread = local_thread_id;
		t->next = l->touches;
		l->touches = t;
	}
	local_cached_tier = l->id;
	local_cached_buf = t;
	return t;
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
	l->id = atomic_fetch_add(&local_ids, 1);
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
	local_apply_all(l);
	HASH_ITER(hh, l->table, n, tmp)
	{
		local_unlink(l, n, &dead);
	}
	l->ops->destroy(l->policy);
	pthread_mutex_destroy(&l->mutex);
	for (struct local_touches *t = l->touches, *next; t != NULL; t = next) {
		next = t->next;
		free(t);
	}
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
			local_apply_all(l); /* no buffer may name a node once it is unlinked */
			local_unlink(l, n, &dead);
			l->expirations++;
		} else {
			struct local_touches *t = local_thread_touches(l);

			/* the policy learns of the hit with the buffer's others (see the top) */
			t->node[t->n++] = n;
			if (t->n == LOCAL_TOUCHES)
				local_apply(l, t);
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
	local_apply_all(l); /* the victims are chosen knowing every hit */
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
	if (n != NULL) {
		local_apply_all(l);
		local_unlink(l, n, &dead);
	}
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
	/* the recorded hits name nodes of the old table: its policy goes with them */
	for (struct local_touches *t = l->touches; t != NULL; t = t->next)
		t->n = 0;
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
	local_apply_all(l); /* the regions as every hit so far left them */
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
