/*
 * collapse: collapsed forwarding bookkeeping. A uthash table from cache key to struct
 * collapse_rec: the leader's link while a request for the key is in flight, its waiters (a
 * singly linked list with a tail pointer, so they are answered in arrival order), and the time
 * until which the key is hit-for-pass. A record with no leader is only a mark; an expired mark
 * is reused by the next leader, or swept when marks pile up. collapse_try_lead makes a leader
 * only when the key is free (a background revalidation never waits behind another fetch).
 *
 * Locking: one mutex guards the table and every record. Nothing is freed under it (removed
 * records are collected and freed after unlocking) and it never calls out. The links belong to
 * the requests; the table only strings them together between join and finish.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define uthash_malloc(sz)                    xmalloc(sz)
#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = util_table_hash((keyptr), (keylen)))
#include <uthash.h>

#include "collapse.h"

struct collapse_rec {
	UT_hash_handle hh;
	char *key;
	struct collapse_link *leader; /* NULL: only a hit-for-pass mark */
	struct collapse_link *head;   /* waiters, oldest first */
	struct collapse_link *tail;
	int64_t pass_until; /* hit-for-pass until then (seconds) */
};

struct collapse {
	pthread_mutex_t mutex;
	struct collapse_rec *table;
	size_t marks;      /* records that are only marks */
	size_t sweep_from; /* sweep the expired marks when marks reaches it */
};

/* Marks below which expired ones are left for the next leader to reuse. */
#define COLLAPSE_SWEEP_MIN 64

/* An empty table. */
struct collapse *
collapse_create(void)
{
	struct collapse *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->mutex, NULL);
	c->sweep_from = COLLAPSE_SWEEP_MIN;
	return c;
}

static void
collapse_rec_free(struct collapse_rec *rec)
{
	free(rec->key);
	free(rec);
}

/* Frees the table (NULL is ignored); no request may be in flight or waiting. */
void
collapse_destroy(struct collapse *c)
{
	struct collapse_rec *rec, *tmp;

	if (c == NULL)
		return;
	HASH_ITER(hh, c->table, rec, tmp)
	{
		TC_ASSERT(rec->leader == NULL);
		HASH_DEL(c->table, rec);
		collapse_rec_free(rec);
	}
	pthread_mutex_destroy(&c->mutex);
	free(c);
}

/* Joins the requests for key at time now (see collapse.h for the roles). */
enum collapse_role
collapse_join(struct collapse *c, const char *key, struct collapse_link *me, bool may_lead,
              int64_t now, bool *pass)
{
	struct collapse_rec *rec;
	enum collapse_role role = COLLAPSE_ALONE;
	size_t len = strlen(key);

	*pass = false;
	me->next = NULL;
	pthread_mutex_lock(&c->mutex);
	HASH_FIND(hh, c->table, key, len, rec);
	if (rec != NULL && rec->leader != NULL) {
		if (rec->tail != NULL)
			rec->tail->next = me;
		else
			rec->head = me;
		rec->tail = me;
		role = COLLAPSE_WAITER;
	} else if (rec != NULL && rec->pass_until > now) {
		*pass = true;
	} else if (may_lead) {
		if (rec == NULL) {
			rec = xcalloc(1, sizeof(*rec));
			rec->key = xstrdup(key);
			HASH_ADD_KEYPTR(hh, c->table, rec->key, len, rec);
		} else {
			c->marks--; /* an expired mark becomes the record of the new leader */
		}
		rec->leader = me;
		rec->head = rec->tail = NULL;
		rec->pass_until = 0;
		role = COLLAPSE_LEADER;
	}
	pthread_mutex_unlock(&c->mutex);
	return role;
}

/* Makes me the leader of key when nothing is in flight and no mark holds; never queues me. */
bool
collapse_try_lead(struct collapse *c, const char *key, struct collapse_link *me, int64_t now)
{
	struct collapse_rec *rec;
	bool lead = false;
	size_t len = strlen(key);

	me->next = NULL;
	pthread_mutex_lock(&c->mutex);
	HASH_FIND(hh, c->table, key, len, rec);
	if (rec == NULL) {
		rec = xcalloc(1, sizeof(*rec));
		rec->key = xstrdup(key);
		HASH_ADD_KEYPTR(hh, c->table, rec->key, len, rec);
		lead = true;
	} else if (rec->leader == NULL && rec->pass_until <= now) {
		c->marks--; /* an expired mark becomes the record of the new leader */
		lead = true;
	}
	if (lead) {
		rec->leader = me;
		rec->head = rec->tail = NULL;
		rec->pass_until = 0;
	}
	pthread_mutex_unlock(&c->mutex);
	return lead;
}

/* The leader of key (me) has its answer: its waiters, in arrival order; marks the key. */
struct collapse_link *
collapse_finish(struct collapse *c, const char *key, const struct collapse_link *me,
                int64_t pass_until, int64_t now)
{
	struct collapse_rec *rec, *tmp, *gone = NULL;
	struct collapse_link *waiters;

	pthread_mutex_lock(&c->mutex);
	HASH_FIND(hh, c->table, key, strlen(key), rec);
	TC_ASSERT(rec != NULL && rec->leader == me);
	waiters = rec->head;
	rec->leader = NULL;
	rec->head = rec->tail = NULL;
	if (pass_until > now) {
		rec->pass_until = pass_until;
		if (++c->marks >= c->sweep_from) {
			/* expired marks of keys nobody asked for again: collected, freed below */
			HASH_ITER(hh, c->table, rec, tmp)
			{
				if (rec->leader == NULL && rec->pass_until <= now) {
					HASH_DEL(c->table, rec);
					c->marks--;
					rec->hh.next = gone;
					gone = rec;
				}
			}
			c->sweep_from = 2 * c->marks > COLLAPSE_SWEEP_MIN ? 2 * c->marks
			                                                  : COLLAPSE_SWEEP_MIN;
		}
	} else {
		HASH_DEL(c->table, rec);
		rec->hh.next = NULL;
		gone = rec;
	}
	pthread_mutex_unlock(&c->mutex);
	while (gone != NULL) {
		rec = gone;
		gone = rec->hh.next;
		collapse_rec_free(rec);
	}
	return waiters;
}

/* Keys in the table (in flight or marked, expired marks included until swept). */
size_t
collapse_size(struct collapse *c)
{
	size_t n;

	pthread_mutex_lock(&c->mutex);
	n = HASH_COUNT(c->table);
	pthread_mutex_unlock(&c->mutex);
	return n;
}
