/*
 * policy_ttl: the entry closest to the end of its freshness lifetime goes first. A binary
 * min-heap (an array) ordered by entry_expires_at(node->entry) (copied into the slot at insert),
 * ties broken by insertion order (an insertion sequence number kept in the heap slot, so the
 * order is deterministic); each
 * node's heap_index is its slot and is kept up to date on every move. Insert and remove are
 * O(log n), the victim (the root) O(1). A hit changes nothing.
 *
 * Called only with the local tier's mutex held (policy.h). The heap array is owned by this
 * policy and grows by doubling inside inserted (an allocation under the lock, never a free
 * but for realloc's move); it is freed by destroy.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "policy.h"
#include "util.h"

struct ttl_slot {
	int64_t expires_at;
	uint64_t seq; /* insertion order, for ties */
	struct local_node *node;
};

struct ttl_state {
	struct ttl_slot *v;
	size_t n;
	size_t cap;
	uint64_t next_seq;
};

static void *
ttl_create(void)
{
	return xcalloc(1, sizeof(struct ttl_state));
}

static void
ttl_destroy(void *state)
{
	struct ttl_state *s = state;

	free(s->v);
	free(s);
}

/* True when slot a must leave before slot b. */
static bool
ttl_before(const struct ttl_slot *a, const struct ttl_slot *b)
{
	if (a->expires_at != b->expires_at)
		return a->expires_at < b->expires_at;
	return a->seq < b->seq;
}

static void
ttl_place(struct ttl_state *s, size_t i, struct ttl_slot slot)
{
	s->v[i] = slot;
	slot.node->heap_index = i;
}

/* Moves the slot at i towards the root until its parent goes first. */
static void
ttl_sift_up(struct ttl_state *s, size_t i)
{
	struct ttl_slot slot = s->v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!ttl_before(&slot, &s->v[parent]))
			break;
		ttl_place(s, i, s->v[parent]);
		i = parent;
	}
	ttl_place(s, i, slot);
}

/* Moves the slot at i towards the leaves until it goes before both children. */
static void
ttl_sift_down(struct ttl_state *s, size_t i)
{
	struct ttl_slot slot = s->v[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= s->n)
			break;
		if (child + 1 < s->n && ttl_before(&s->v[child + 1], &s->v[child]))
			child++;
		if (!ttl_before(&s->v[child], &slot))
			break;
		ttl_place(s, i, s->v[child]);
		i = child;
	}
	ttl_place(s, i, slot);
}

static void
ttl_inserted(void *state, struct local_node *n)
{
	struct ttl_state *s = state;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n] = (struct ttl_slot){
	        .expires_at = entry_expires_at(n->entry), .seq = s->next_seq++, .node = n};
	n->heap_index = s->n;
	s->n++;
	ttl_sift_up(s, s->n - 1);
}

static void
ttl_touched(void *state, struct local_node *n)
{
	(void)state;
	(void)n;
}

static void
ttl_removed(void *state, struct local_node *n)
{
	struct ttl_state *s = state;
	size_t i = n->heap_index;

	TC_ASSERT(i < s->n && s->v[i].node == n);
	s->n--;
	if (i != s->n) {
		ttl_place(s, i, s->v[s->n]);
		if (i > 0 && ttl_before(&s->v[i], &s->v[(i - 1) / 2]))
			ttl_sift_up(s, i);
		else
			ttl_sift_down(s, i);
	}
	n->heap_index = SIZE_MAX;
}

static struct local_node *
ttl_victim(void *state)
{
	const struct ttl_state *s = state;

	return s->n > 0 ? s->v[0].node : NULL;
}

const struct policy_ops policy_ttl = {
        .name = "ttl",
        .create = ttl_create,
        .destroy = ttl_destroy,
        .inserted = ttl_inserted,
        .touched = ttl_touched,
        .removed = ttl_removed,
        .victim = ttl_victim,
};
