/*
 * policy_lfu: least frequently used, in O(1) per operation. Nodes are grouped in frequency
 * buckets kept in a doubly linked list in ascending order of frequency; each bucket holds a
 * doubly linked list of its nodes (node->prev/next), most recently used first, and
 * node->group points to the node's bucket. An insert puts a node at the head of the bucket of
 * frequency 1; a hit moves it to the head of the bucket of frequency + 1 (the next bucket, or
 * a new one created right after its own). The victim is the tail (least recently used node)
 * of the lowest bucket, so ties of frequency are broken by recency.
 *
 * Called only with the local tier's mutex held (policy.h). The buckets are owned by this
 * policy: they are allocated and freed inside the callbacks (a small fixed-size block, no
 * I/O), which is the one exception to "no free under the lock"; one emptied bucket is kept as
 * a spare so that the usual move of a node from bucket f to a new bucket f + 1 costs no
 * malloc/free pair.
 */
#include <stdlib.h>

#include "policy.h"
#include "util.h"

struct lfu_bucket {
	uint64_t freq;
	struct lfu_bucket *prev; /* lower frequency */
	struct lfu_bucket *next; /* higher frequency */
	struct local_node *head; /* most recently used */
	struct local_node *tail; /* least recently used */
};

struct lfu_state {
	struct lfu_bucket *lowest; /* the bucket of the lowest frequency, NULL when empty */
	struct lfu_bucket *spare;  /* one unused bucket kept for reuse, or NULL */
};

static void *
lfu_create(void)
{
	return xcalloc(1, sizeof(struct lfu_state));
}

/* Frees every bucket; nodes still linked are the tier's to free. */
static void
lfu_destroy(void *state)
{
	struct lfu_state *s = state;
	struct lfu_bucket *b = s->lowest;

	while (b != NULL) {
		struct lfu_bucket *next = b->next;

		free(b);
		b = next;
	}
	free(s->spare);
	free(s);
}

/* A new empty bucket of frequency freq linked right after prev (at the front when NULL). */
static struct lfu_bucket *
lfu_bucket_new(struct lfu_state *s, struct lfu_bucket *prev, uint64_t freq)
{
	struct lfu_bucket *b = s->spare;

	if (b != NULL)
		s->spare = NULL;
	else
		b = xmalloc(sizeof(*b));
	b->freq = freq;
	b->head = NULL;
	b->tail = NULL;
	b->prev = prev;
	if (prev != NULL) {
		b->next = prev->next;
		prev->next = b;
	} else {
		b->next = s->lowest;
		s->lowest = b;
	}
	if (b->next != NULL)
		b->next->prev = b;
	return b;
}

/* Unlinks the empty bucket b and keeps it as the spare or frees it. */
static void
lfu_bucket_drop(struct lfu_state *s, struct lfu_bucket *b)
{
	TC_ASSERT(b->head == NULL && b->tail == NULL);
	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		s->lowest = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	if (s->spare == NULL)
		s->spare = b;
	else
		free(b);
}

static void
lfu_push_head(struct lfu_bucket *b, struct local_node *n)
{
	n->group = b;
	n->prev = NULL;
	n->next = b->head;
	if (b->head != NULL)
		b->head->prev = n;
	else
		b->tail = n;
	b->head = n;
}

/* Unlinks n from its bucket; the bucket may be left empty. */
static struct lfu_bucket *
lfu_unlink(struct local_node *n)
{
	struct lfu_bucket *b = n->group;

	TC_ASSERT(b != NULL);
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		b->head = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		b->tail = n->prev;
	n->prev = NULL;
	n->next = NULL;
	n->group = NULL;
	return b;
}

static void
lfu_inserted(void *state, struct local_node *n)
{
	struct lfu_state *s = state;
	struct lfu_bucket *b = s->lowest;

	if (b == NULL || b->freq != 1)
		b = lfu_bucket_new(s, NULL, 1);
	lfu_push_head(b, n);
}

static void
lfu_touched(void *state, struct local_node *n)
{
	struct lfu_state *s = state;
	struct lfu_bucket *b = n->group;
	struct lfu_bucket *up = b->next;

	if (b->freq == UINT64_MAX) {
		/* saturated: stays in its bucket, still becomes its most recent node */
		lfu_unlink(n);
		lfu_push_head(b, n);
		return;
	}
	if (up == NULL || up->freq != b->freq + 1)
		up = lfu_bucket_new(s, b, b->freq + 1);
	lfu_unlink(n);
	lfu_push_head(up, n);
	if (b->head == NULL)
		lfu_bucket_drop(s, b);
}

static void
lfu_removed(void *state, struct local_node *n)
{
	struct lfu_bucket *b = lfu_unlink(n);

	if (b->head == NULL)
		lfu_bucket_drop(state, b);
}

static struct local_node *
lfu_victim(void *state)
{
	const struct lfu_state *s = state;

	return s->lowest != NULL ? s->lowest->tail : NULL;
}

const struct policy_ops policy_lfu = {
        .name = "lfu",
        .create = lfu_create,
        .destroy = lfu_destroy,
        .inserted = lfu_inserted,
        .touched = lfu_touched,
        .removed = lfu_removed,
        .victim = lfu_victim,
};
