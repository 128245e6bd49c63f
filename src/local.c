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
 * Locking: two locks, always taken in this order. The table lock (a read-write lock, writers
 * first) guards the table, the sizes and the counters: a lookup takes it shared, everything
 * that changes the table (insert, removal, expiry, clear) exclusively. The policy lock (a
 * mutex) guards the policy's state (the policy is only called with it held): whatever changes
 * the table takes it as well, and a thread applying its recorded hits takes it alone. Nothing
 * is freed and no entry is unreferenced under them: removed nodes are unlinked under both,
 * chained through node->next (free once the policy has let go of the node) and released after
 * the unlock. What allocates or frees under them is bounded and internal: uthash's bucket
 * array (grown by doubling, freed when the table empties) and the policies' own small
 * structures (policy_lfu.c, policy_ttl.c). A lookup reads the node's hh and entry only; the
 * policy writes only its own fields (policy.h), so the two may run side by side.
 *
 * References: the table holds one reference per node; a lookup hands out a new one, so an
 * entry evicted, replaced or purged while someone sends it stays valid until they drop it.
 *
 * Hits are applied to the policy in batches: a hit takes the table lock shared for the lookup
 * and the entry's reference only, and appends the node it found to its thread's ring of
 * touches (struct local_touches, one per thread and tier, linked in l->touches): only that
 * thread appends (tail), and whoever holds the policy lock applies (head), so lookups never
 * wait for each other or for the policy. A thread applies its own ring once LOCAL_TOUCHES
 * hits wait and the policy lock is free (trylock: a busy lock leaves them for its next hit),
 * and waits for the lock only when LOCAL_RING hits wait. Every ring is applied before anything
 * else reaches the policy: an insert (before its victims are chosen), a removal, an expiry,
 * clear and destroy, all under both locks (so no ring is being appended to meanwhile), and
 * info (the table lock shared: lookups go on, and their hits wait for the next apply).
 * So a node named in a ring is always linked (no node is unlinked while a ring names it, and
 * an unlinked node is found by no later lookup), no hit is lost, and one thread's hits reach
 * the policy in the order they happened and before its own next insert or removal: a single
 * thread sees exactly the policy of one touch per hit. What this saves: the policy's writes
 * on a hit (list links, region sizes, sketch and shadows, shared by every server thread) are
 * made by one thread at a time, many in a row, instead of moving their cache lines between
 * the cores on every hit; and a server thread never sleeps on a lock for a hit (a thread that
 * slept there waited for the holder's next time slice, milliseconds when it was preempted:
 * the 99th percentile of hits at 50 connections showed it), unless an insert or removal holds
 * the table.
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

/*
 * Hits a thread lets wait before it tries to apply them to the policy (when the policy lock
 * is free), and at most (then it waits for that lock).
 */
#define LOCAL_TOUCHES 64
#define LOCAL_RING    256

/*
 * One thread's hits on one tier not yet applied to the policy: the nodes found, in order, in
 * a ring. Only its own thread appends (table lock shared: tail); whoever holds the policy lock
 * applies (head). Owned and freed by the tier.
 */
struct local_touches {
	struct local_touches *next; /* in local->touches (set once, before it is published) */
	uint64_t thread;            /* local_thread_id of the thread that records here */
	_Atomic uint32_t tail;      /* hits recorded: written by the owner only */
	_Atomic uint32_t head;      /* hits applied: written under the policy lock only */
	struct local_node *node[LOCAL_RING];
};

struct local {
	pthread_rwlock_t table_lock; /* the table, the sizes and the counters */
	pthread_mutex_t policy_lock; /* the policy's state and the rings' heads */
	uint64_t id;                 /* unique in the process: names the tier in thread caches */
	/* every thread's ring: a new one is put in front under the table lock (exclusive) and
	 * published with a release store, for appliers that hold the policy lock only */
	_Atomic(struct local_touches *) touches;
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

/* Ids of tiers and of threads (never reused, so a thread's cache is checked without a read). */
static atomic_uint_fast64_t local_ids = 1;
static _Thread_local uint64_t local_thread_id;
static _Thread_local uint64_t local_cached_tier;             /* the id of the tier cached */
static _Thread_local struct local_touches *local_cached_buf; /* this thread's buffer there */

/* Takes both locks (the table's exclusively): to change the table, and the policy with it. */
static void
local_lock(struct local *l)
{
	int rc = pthread_rwlock_wrlock(&l->table_lock);

	TC_ASSERT(rc == 0);
	rc = pthread_mutex_lock(&l->policy_lock);
	TC_ASSERT(rc == 0);
}

/* Releases what local_lock took. */
static void
local_unlock(struct local *l)
{
	int rc = pthread_mutex_unlock(&l->policy_lock);

	TC_ASSERT(rc == 0);
	rc = pthread_rwlock_unlock(&l->table_lock);
	TC_ASSERT(rc == 0);
}

/* Takes the table lock shared: to read the table (a lookup) and append to one's own ring. */
static void
local_lock_shared(struct local *l)
{
	int rc = pthread_rwlock_rdlock(&l->table_lock);

	TC_ASSERT(rc == 0);
}

/* Releases the table lock alone (taken shared, or exclusively for a new ring). */
static void
local_unlock_table(struct local *l)
{
	int rc = pthread_rwlock_unlock(&l->table_lock);

	TC_ASSERT(rc == 0);
}

/* The node stored under key (len bytes, hash hv), or NULL (table lock held, shared or not). */
static struct local_node *
local_find(struct local *l, const char *key, size_t len, unsigned hv)
{
	struct local_node *n;

	HASH_FIND_BYHASHVALUE(hh, l->table, key, len, hv, n);
	return n;
}

/*
 * Applies one ring's hits to the policy, in the order they happened (policy lock held). The
 * nodes it names are linked: unlinking takes both locks and applies every ring first, and
 * after that no lookup finds the node.
 */
static void
local_apply(struct local *l, struct local_touches *t)
{
	uint32_t head = atomic_load_explicit(&t->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&t->tail, memory_order_acquire);

	for (; head != tail; head++)
		l->ops->touched(l->policy, t->node[head % LOCAL_RING]);
	/* the owner may reuse the slots once it sees the new head */
	atomic_store_explicit(&t->head, head, memory_order_release);
}

/* Applies every thread's recorded hits (policy lock held): before anything else reaches the
 * policy. */
static void
local_apply_all(struct local *l)
{
	for (struct local_touches *t = atomic_load_explicit(&l->touches, memory_order_acquire);
	     t != NULL; t = t->next)
		local_apply(l, t);
}

/*
 * The ring of this thread on l, or NULL (no lock needed: rings are only ever put in front,
 * each fully set before it is published, and freed with the tier).
 */
static struct local_touches *
local_touches_find(struct local *l)
{
	struct local_touches *t;

	for (t = atomic_load_explicit(&l->touches, memory_order_acquire);
	     t != NULL && t->thread != local_thread_id; t = t->next)
		;
	return t;
}

/* This thread's ring on l (no lock held): created on its first hit on l. */
static struct local_touches *
local_thread_touches(struct local *l)
{
	struct local_touches *t;

	if (local_cached_tier == l->id)
		return local_cached_buf;
	if (local_thread_id == 0)
		local_thread_id = atomic_fetch_add(&local_ids, 1);
	t = local_touches_find(l);
	if (t == NULL) {
		/* once per thread and tier: a small allocation, nothing freed */
		t = xcalloc(1, sizeof(*t));
		t->thread = local_thread_id;
		/* not the policy lock: a thread's first hit does not wait for the policy either */
		int rc = pthread_rwlock_wrlock(&l->table_lock);
		TC_ASSERT(rc == 0);
		t->next = atomic_load_explicit(&l->touches, memory_order_relaxed);
		atomic_store_explicit(&l->touches, t, memory_order_release);
		local_unlock_table(l);
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

	return ops != NULL ? local_create_ops(ops, max_bytes, max_entries) : NULL;
}

/* Creates a tier with the policy ops (one of policy.h's, or a test's own). */
struct local *
local_create_ops(const struct policy_ops *ops, uint64_t max_bytes, uint64_t max_entries)
{
	pthread_rwlockattr_t attr;
	struct local *l;
	int rc;

	l = xcalloc(1, sizeof(*l));
	l->id = atomic_fetch_add(&local_ids, 1);
	/* writers first: with many server threads a steady stream of lookups would otherwise
	 * keep an insert (a miss being stored) waiting */
	rc = pthread_rwlockattr_init(&attr);
	TC_ASSERT(rc == 0);
	rc = pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	TC_ASSERT(rc == 0);
	rc = pthread_rwlock_init(&l->table_lock, &attr);
	TC_ASSERT(rc == 0);
	pthread_rwlockattr_destroy(&attr);
	rc = pthread_mutex_init(&l->policy_lock, NULL);
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
	pthread_rwlock_destroy(&l->table_lock);
	pthread_mutex_destroy(&l->policy_lock);
	for (struct local_touches *t = atomic_load(&l->touches), *next; t != NULL; t = next) {
		next = t->next;
		free(t);
	}
	free(l);
	local_release(dead);
}

/* Applies this thread's ring t: when the policy lock is free, or always once it is full. */
static void
local_apply_own(struct local *l, struct local_touches *t, uint32_t waiting)
{
	if (waiting >= LOCAL_RING) {
		int rc = pthread_mutex_lock(&l->policy_lock);
		TC_ASSERT(rc == 0);
	} else if (pthread_mutex_trylock(&l->policy_lock) != 0) {
		return; /* busy (an insert, another ring): the hits wait for the next try */
	}
	local_apply(l, t);
	pthread_mutex_unlock(&l->policy_lock);
}

/*
 * Looks key up: a new reference, or NULL (an entry past keep_until is removed). Takes only the
 * table lock, shared: lookups never wait for one another, nor for the policy, and the hit goes
 * to this thread's own ring.
 */
struct entry *
local_lookup(struct local *l, const char *key, int64_t now)
{
	struct local_touches *t = local_thread_touches(l);
	struct local_node *n, *dead = NULL;
	struct entry *e = NULL;
	size_t len = strlen(key);
	unsigned hv = util_table_hash(key, len);
	uint32_t waiting = 0;
	bool expired = false;

	local_lock_shared(l);
	n = local_find(l, key, len, hv);
	if (n != NULL && entry_keep_until(n->entry) > now) {
		/* the policy learns of the hit with the ring's others (see the top); the ring
		 * always has room: it is applied before it fills */
		uint32_t tail = atomic_load_explicit(&t->tail, memory_order_relaxed);
		t->node[tail % LOCAL_RING] = n;
		atomic_store_explicit(&t->tail, tail + 1, memory_order_release);
		waiting = tail + 1 - atomic_load_explicit(&t->head, memory_order_acquire);
		e = entry_ref(n->entry);
	} else if (n != NULL) {
		expired = true;
	}
	local_unlock_table(l);
	if (waiting >= LOCAL_TOUCHES)
		local_apply_own(l, t, waiting);
	if (!expired)
		return e;

	local_lock(l);
	/* looked up again: it may have been replaced or removed meanwhile */
	n = local_find(l, key, len, hv);
	if (n != NULL && entry_keep_until(n->entry) <= now) {
		local_apply_all(l); /* no ring may name a node once it is unlinked */
		local_unlink(l, n, &dead);
		l->expirations++;
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
	for (struct local_touches *t = atomic_load_explicit(&l->touches, memory_order_relaxed);
	     t != NULL; t = t->next)
		atomic_store_explicit(&t->head,
		                      atomic_load_explicit(&t->tail, memory_order_relaxed),
		                      memory_order_release);
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
	/* reads only: the table shared (lookups go on), the policy for the rings and regions */
	local_lock_shared(l);
	int rc = pthread_mutex_lock(&l->policy_lock);
	TC_ASSERT(rc == 0);
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
	local_unlock(l); /* the policy lock, then the table lock */
}

/* Bytes charged for storing e (its block, a body kept apart, and bookkeeping). */
size_t
local_charge(const struct entry *e)
{
	/* a body kept apart: its own allocation, or its memory file (bodyfile.h) */
	return LOCAL_FIXED_CHARGE + entry_size(e) +
	       (e->body_owned || entry_body_fd(e) >= 0 ? e->body_len : 0);
}
