/*
 * proxy: the story of a request, the only module that knows the order of the tiers. For GET
 * and HEAD: key, local tier lookup, serve if fresh (or 304 the client's conditional), else the
 * shared tier (memcached, on a worker thread), else revalidate or fetch from the origin, store,
 * answer. Other methods pass through to the origin and invalidate on success; PURGE removes a
 * URL, or everything, from both tiers. A request that must wait is suspended by the caller and
 * finished on a worker or the fetch thread, which calls r->resume when r->reply is ready.
 */
#ifndef TIERCACHE_PROXY_H
#define TIERCACHE_PROXY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "collapse.h"
#include "config.h"
#include "entry.h"
#include "http.h"
#include "local.h"
#include "origin.h"
#include "shared.h"
#include "util.h"
#include "worker.h"

/* An answer for the client. */
struct proxy_reply {
	int status;
	/* When set, the body and the stored headers come from this entry (reference owned). */
	struct entry *entry;
	/* Headers sent after the entry's (or alone, without entry). */
	struct http_headers headers;
	/* The body when entry is NULL (owned). */
	char *body;
	size_t body_len;
	/* With entry (its headers; no body): the body arrives through this pipe from the origin
	 * (reference owned); sent with the entry's Content-Length when it has one. */
	struct stream *stream;
	/* A 206 from the entry: only range_len bytes of its body from range_first are sent. */
	bool ranged;
	size_t range_first;
	size_t range_len;
	/*
	 * A plain hit: the entry's status and headers plus Age, Via and Cache-Status that depend
	 * on the entry and the second `at` alone. headers is left empty: the server may reuse a
	 * response built for the same entry and second, or calls proxy_reply_plain_headers.
	 */
	bool plain_hit;
	int64_t at;
};

enum proxy_outcome {
	PROXY_REPLIED,   /* r->reply is ready now */
	PROXY_SUSPENDED, /* r->resume(r) will be called from another thread with r->reply ready */
};

struct proxy_request {
	/* set by the server before proxy_handle */
	char *method;
	char *target; /* request target as received: path?query */
	struct http_headers headers;
	struct buf body;
	struct sockaddr_storage client;
	void (*resume)(struct proxy_request *r);
	void *server_data;
	/* drops one of holds; the last frees r (and what contains it) */
	void (*drop)(struct proxy_request *r);
	/* the server's hold (1, set by the server), plus one taken by the proxy while an origin
	 * fetch streams into the reply: r outlives its connection until the fetch ends */
	atomic_int holds;
	/* the configuration this request runs with, from start to end (proxy_config when the
	 * server leaves it NULL; a request the proxy makes itself, e.g. a background
	 * revalidation, takes the one of the request that started it); borrowed */
	const struct config *cfg;
	uint64_t start_ns; /* histogram_now_ns() when the request began (for its latency) */

	/* the answer */
	struct proxy_reply reply;

	/* private to proxy.c while the request waits */
	struct proxy *proxy;
	char *key;
	char *vary_key;
	struct entry *stale; /* the stored entry being revalidated */
	struct entry *grace; /* a stale entry without validators, for stale-if-error */
	struct origin_fetch fetch;
	bool fetching;
	struct worker_job job; /* a memcached step (lookup, invalidation, purge) on a worker */
	bool purged_local;     /* an invalidation or PURGE removed something from the local tier */
	uint64_t epoch;        /* the proxy's purge epoch when the lookup began */
	struct collapse_link collapse; /* with the other requests for key (collapse.h) */
	bool collapse_leader;          /* others wait for this request's answer */
	uint8_t collapsed;    /* 1: answered from a leader's answer, 2: released to go on its own */
	uint8_t latency_path; /* enum histogram_path + 1 of the reply; 0: not recorded */
	struct entry *spec;   /* the URL's vary spec (entry.h), when its responses carry Vary */
	char *vkey;           /* the key of the variant r selects under spec */
	char *ckey;           /* the key r leads collapsed requests for, when not key (a variant) */
	bool conditional;     /* the origin request carried validators of stored responses */
	bool unconditional;   /* a 304 selected nothing: fetching again without validators */
	bool was_stale;       /* ... and it was a revalidation of r->stale (now dropped) */
	bool fwd_request;     /* a usable response was stored but the request asked to validate */
	struct entry *post_entry; /* a POST's answer stored for GETs, to write to memcached */
	char *inval[2];  /* Location, Content-Location keys invalidated with key (or NULL) */
	bool range_pass; /* a GET for several ranges, passed to the origin unstored */
};

struct proxy;

/*
 * Creates the proxy over its tiers (borrowed; they must outlive it). shared (the memcached
 * tier) may be NULL; with it, the proxy starts a worker pool for memcached operations, reads
 * the namespace generation once, and watches it (a change empties the local tier).
 */
struct proxy *proxy_create(const struct config *cfg, struct local *local, struct origin *origin,
                           struct shared *shared);

/*
 * Stops the proxy's background work: the generation watch, and the worker pool (queued lookups
 * and purges still finish, queued memcached writes are dropped). Call after origin_stop and
 * before the server stops, so that no request stays suspended. Safe to call twice.
 */
void proxy_stop(struct proxy *p);

/* Stops the proxy if needed and frees it. */
void proxy_destroy(struct proxy *p);

/*
 * The configuration new requests run with: the startup one, or the newest a reload gave to
 * proxy_reconfigure. Borrowed: every config given to the proxy must outlive it.
 */
const struct config *proxy_config(struct proxy *p);

/*
 * Makes cfg the configuration of requests that start from now on (SIGHUP); requests already
 * running keep theirs. cfg is borrowed and must outlive the proxy (and every request).
 */
void proxy_reconfigure(struct proxy *p, const struct config *cfg);

/* Handles a complete request (headers and body received). */
enum proxy_outcome proxy_handle(struct proxy *p, struct proxy_request *r);

/* Frees everything r holds (the request fields, the reply, private state). */
void proxy_request_release(struct proxy_request *r);

/* The server queued r's reply: records its latency (hits, misses, revalidations only). */
void proxy_reply_queued(struct proxy_request *r);

/* Adds the headers of a plain hit (r->reply.plain_hit) to r->reply.headers. */
void proxy_reply_plain_headers(struct proxy_request *r);

/* Sets r->reply to a short plain-text answer (status and one line of text). */
void proxy_reply_text(struct proxy_request *r, int status, const char *text);

#endif
