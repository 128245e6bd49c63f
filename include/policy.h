/*
 * policy: the interface between the local tier and its eviction policies (policy_lru.c,
 * policy_lfu.c, policy_ttl.c, policy_tinylfu.c). A policy orders the nodes of one local tier;
 * it is called only with that tier's policy lock held, never frees a node and never touches the
 * hash table, nor changes a node's hh or entry (lookups read those meanwhile, local.c). Each node
 * carries link fields that the policy in use may use as it likes.
 */
#ifndef TIERCACHE_POLICY_H
#define TIERCACHE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "entry.h"
#include "local.h"

/*
 * One stored entry in the local tier. Owned by local.c; policies only link it. 104 bytes
 * (112 of heap): uthash's handle is more than half of it. What a policy needs of the entry
 * it reads through the handle (hh.key, hh.keylen: entry->key, set before inserted) or the
 * entry (entry->expires_at) instead of a copy here.
 */
struct local_node {
	UT_hash_handle hh;   /* local.c: the table (keyed by entry->key, hashed before the lock) */
	struct entry *entry; /* one reference owned by the node */
	/* policy links */
	struct local_node *prev;
	struct local_node *next;
	void *group; /* lfu: the frequency bucket; tinylfu: the list */
	union {
		size_t heap_index; /* ttl: position in the heap */
		uint64_t hash;     /* tinylfu: the key's hash for the frequency sketch */
	};
	uint32_t charge; /* local_charge(entry): an entry of 4 GiB or more is never stored */
};

struct policy_ops {
	const char *name;
	/* new empty state */
	void *(*create)(void);
	/* frees the state (the nodes are freed by the tier) */
	void (*destroy)(void *state);
	/* a node was added */
	void (*inserted)(void *state, struct local_node *n);
	/* a node was read by a lookup */
	void (*touched)(void *state, struct local_node *n);
	/* a node is being removed (eviction, replacement, purge, expiry) */
	void (*removed)(void *state, struct local_node *n);
	/*
	 * the node to evict next, or NULL when there is none; it stays linked (the tier removes
	 * it right away). A policy with an admission filter may reorder nodes here.
	 */
	struct local_node *(*victim)(void *state);
	/* optional (NULL when unused): the tier's bounds, given once right after create */
	void (*limits)(void *state, uint64_t max_bytes, uint64_t max_entries);
	/* optional: fills *out with the policy's regions and admission counters */
	void (*info)(void *state, struct local_policy_info *out);
};

extern const struct policy_ops policy_lru;
extern const struct policy_ops policy_lfu;
extern const struct policy_ops policy_ttl;
extern const struct policy_ops policy_tinylfu;

/* The policy called name ("lru", "lfu", "ttl", "tinylfu"), or NULL. */
const struct policy_ops *policy_find(const char *name);

/* The known policy names, separated by '|' (for messages and help). */
const char *policy_names(void);

/*
 * The seed of the policies' keyed hashes and random choices: a secret drawn once per process,
 * unless policy_set_seed fixed it.
 */
uint64_t policy_seed(void);

/* Fixes the seed for the policies created from now on (reproducible replays and tests). */
void policy_set_seed(uint64_t seed);

#endif
