/*
 * local: tier 1, the in-process cache. A uthash table (keyed with a per-process secret seed)
 * from primary key to node; each node holds one reference to its entry. Bounded in bytes and
 * in entries; when an insert would exceed either bound the policy (policy.h) names victims.
 * A read-write lock guards the table (lookups share it) and a mutex the policy state (hits
 * reach the policy in batches, local.c). Nothing is freed under them: removed entries are
 * collected and unreferenced after the unlock. A lookup returns a new reference, so an entry
 * evicted while someone sends it stays valid until they drop it.
 */
#ifndef TIERCACHE_LOCAL_H
#define TIERCACHE_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "entry.h"

struct local;
struct policy_ops;

/*
 * The regions and admission counters of a policy with an admission window (tinylfu): a
 * window (LRU) in front of a main region split into probation and protected segments.
 */
struct local_policy_info {
	uint64_t window_entries;
	uint64_t window_bytes;
	uint64_t probation_entries;
	uint64_t probation_bytes;
	uint64_t protected_entries;
	uint64_t protected_bytes;
	double window_target; /* the window's share of the capacity now aimed at, 0 to 1 */
	uint64_t admitted;    /* window victims admitted over the main region's victim */
	uint64_t rejected;    /* window victims evicted because the main victim was more popular */
	uint64_t adaptations; /* times the window target changed */
};

/* A consistent snapshot of the tier's size and counters. */
struct local_info {
	const char *policy;
	uint64_t entries;
	uint64_t bytes;
	uint64_t max_entries;
	uint64_t max_bytes;
	uint64_t evictions;   /* removed to make room */
	uint64_t expirations; /* removed because past keep_until */
	bool has_regions;     /* the policy filled regions (tinylfu); all zero otherwise */
	struct local_policy_info regions;
};

/* Creates a tier with the named policy; NULL when the policy is unknown. */
struct local *local_create(const char *policy, uint64_t max_bytes, uint64_t max_entries);

/* Creates a tier with the policy ops (one of policy.h's, or a test's own). */
struct local *local_create_ops(const struct policy_ops *ops, uint64_t max_bytes,
                               uint64_t max_entries);

/* Frees the tier and drops every reference it holds. */
void local_destroy(struct local *l);

/*
 * Looks key up. Returns a new reference to the stored entry (fresh or stale), or NULL.
 * An entry past its keep_until is removed (counted as an expiration) and not returned.
 * A hit counts as a use for the policy.
 */
struct entry *local_lookup(struct local *l, const char *key, int64_t now);

/*
 * Stores e under e->key, replacing any entry with that key, evicting others as needed.
 * The tier takes its own reference (the caller keeps its). False when e can never fit
 * (its charge exceeds max_bytes, or is 4 GiB or more: a node counts it in 32 bits).
 */
bool local_insert(struct local *l, struct entry *e, int64_t now);

/* Removes key; true when something was stored under it. */
bool local_remove(struct local *l, const char *key);

/* Removes everything. */
void local_clear(struct local *l);

/* Fills *out with the current sizes and counters. */
void local_info(struct local *l, struct local_info *out);

/* Bytes charged for storing e (key, headers, body and bookkeeping). */
size_t local_charge(const struct entry *e);

#endif
