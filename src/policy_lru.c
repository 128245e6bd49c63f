/*
 * policy_lru: least recently used. The nodes form one doubly linked list through
 * node->prev/next, most recently used at the head; an insert or a hit moves a node to the
 * head, the victim is the tail. Every operation is O(1) and allocates nothing. Called only
 * with the local tier's mutex held (policy.h); owns only its two list ends.
 */
#include <stdlib.h>

#include "policy.h"
#include "util.h"

struct lru_state {
	struct local_node *head; /* most recently used */
	struct local_node *tail; /* least recently used: the next victim */
};

static void *
lru_create(void)
{
	return xcalloc(1, sizeof(struct lru_state));
}

static void
lru_destroy(void *state)
{
	free(state);
}

static void
lru_push_head(struct lru_state *s, struct local_node *n)
{
	n->prev = NULL;
	n->next = s->head;
	if (s->head != NULL)
		s->head->prev = n;
	else
		s->tail = n;
	s->head = n;
}

static void
lru_unlink(struct lru_state *s, struct local_node *n)
{
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		s->head = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		s->tail = n->prev;
	n->prev = NULL;
	n->next = NULL;
}

static void
lru_inserted(void *state, struct local_node *n)
{
	lru_push_head(state, n);
}

static void
lru_touched(void *state, struct local_node *n)
{
	struct lru_state *s = state;

	if (s->head == n)
		return;
	lru_unlink(s, n);
	lru_push_head(s, n);
}

static void
lru_removed(void *state, struct local_node *n)
{
	lru_unlink(state, n);
}

static struct local_node *
lru_victim(void *state)
{
	const struct lru_state *s = state;

	return s->tail;
}

const struct policy_ops policy_lru = {
        .name = "lru",
        .create = lru_create,
        .destroy = lru_destroy,
        .inserted = lru_inserted,
        .touched = lru_touched,
        .removed = lru_removed,
        .victim = lru_victim,
};
