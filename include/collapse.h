/*
 * collapse: collapsed forwarding. A table from cache key to the one request in flight for it
 * (the leader) and the requests that wait for its answer (the waiters), plus the keys marked
 * hit-for-pass (their last answer could not be stored, so requests for them stop waiting on
 * each other until the mark expires). The module only keeps the bookkeeping: it never answers,
 * never touches a request beyond its link, and takes the clock as a parameter.
 */
#ifndef TIERCACHE_COLLAPSE_H
#define TIERCACHE_COLLAPSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long a key whose answer could not be stored stops collapsing (seconds). */
#define COLLAPSE_PASS_SECONDS 10

/* Embedded in each request that may lead or wait: the waiters of a key, in arrival order. */
struct collapse_link {
	struct collapse_link *next;
};

enum collapse_role {
	COLLAPSE_ALONE,  /* go on uncollapsed (the key is hit-for-pass, or the request may not lead)
	                  */
	COLLAPSE_LEADER, /* nothing in flight for the key: fetch it, then call collapse_finish */
	COLLAPSE_WAITER, /* queued behind the leader: its collapse_finish hands the link back */
};

struct collapse;

/* An empty table. */
struct collapse *collapse_create(void);

/* Frees the table (NULL is ignored); no request may be in flight or waiting. */
void collapse_destroy(struct collapse *c);

/*
 * Joins the requests for key at time now: a waiter when a leader is in flight, alone when the
 * key is marked hit-for-pass, else the leader when may_lead (a request that cannot use a
 * shared answer never leads), alone otherwise. *pass is set when the mark was the reason.
 */
enum collapse_role collapse_join(struct collapse *c, const char *key, struct collapse_link *me,
                                 bool may_lead, int64_t now, bool *pass);

/*
 * Makes me the leader of key when nothing is in flight for it and it is not marked
 * hit-for-pass (a background revalidation: it never waits). False otherwise (me is not queued).
 */
bool collapse_try_lead(struct collapse *c, const char *key, struct collapse_link *me, int64_t now);

/*
 * The leader of key (me) has its answer: returns the waiters (a list through next, in arrival
 * order, NULL when none), which no longer belong to the table. With pass_until > now, the key is
 * marked hit-for-pass until then.
 */
struct collapse_link *collapse_finish(struct collapse *c, const char *key,
                                      const struct collapse_link *me, int64_t pass_until,
                                      int64_t now);

/* Keys in the table (in flight or marked, expired marks included until swept). */
size_t collapse_size(struct collapse *c);

#endif
