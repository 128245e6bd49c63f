/*
 * origin: the fetch side. One thread runs a libcurl multi handle (persistent, reused
 * connections to the origin, bounded by [origin] max_connections) and performs the fetches
 * submitted from any thread. A fetch is owned by its submitter; the origin only borrows it
 * between origin_submit and the call of its done callback, which runs on the fetch thread.
 * The outcomes of the exchanges make the origin's health (origin_health), which /healthz shows
 * and refreshes with a probe when it is missing, bad or old (origin_probe).
 */
#ifndef TIERCACHE_ORIGIN_H
#define TIERCACHE_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "util.h"

enum origin_error {
	ORIGIN_OK = 0,
	ORIGIN_CONNECT,   /* refused, unreachable, reset before an answer */
	ORIGIN_TIMEOUT,   /* connect or total timeout */
	ORIGIN_INVALID,   /* not a valid HTTP answer */
	ORIGIN_TRUNCATED, /* the body ended before its announced end */
	ORIGIN_SHUTDOWN,  /* the proxy is stopping */
};

struct origin_fetch;
typedef void origin_done_fn(struct origin_fetch *f);

struct origin_fetch {
	/* set by the submitter */
	const char *method;
	const char *target;          /* path and query, as received from the client */
	struct http_headers headers; /* request headers to send (end-to-end only) */
	const char *body;
	size_t body_len;
	origin_done_fn *done;
	void *arg;

	/* set by the origin before done is called */
	enum origin_error error;
	const char *error_text; /* static text describing error */
	int status;
	struct http_headers resp_headers; /* end-to-end response headers */
	struct buf resp_body;
	int64_t request_time;  /* local clock, seconds */
	int64_t response_time; /* local clock, seconds */
	int64_t elapsed_ms;    /* from submit to done, added up over the fetches made with f */

	/* private to origin.c */
	int64_t submitted_ms; /* monotonic */
	bool probe;           /* a health probe (origin_probe): not counted as a request */
	bool header_end;      /* the blank line that ends the (final) header section was seen */
	const char *invalid;  /* why the answer is not valid HTTP (the transfer was aborted) */
	void *easy;
	void *slist;
	struct origin_fetch *next;
	struct origin_fetch *prev;
	struct origin *origin;
};

struct origin;

/* Starts the fetch thread for the configured origin; NULL with *cause on failure. */
struct origin *origin_create(const struct config *cfg, char **cause);

/* Completes every pending fetch with ORIGIN_SHUTDOWN and stops the thread; later fetches fail at
 * once. */
void origin_stop(struct origin *o);

/* Stops the origin if needed and frees it. */
void origin_destroy(struct origin *o);

/* Queues f (borrowed until f->done runs on the fetch thread). */
void origin_submit(struct origin *o, struct origin_fetch *f);

/* Frees what the origin put in f (response headers and body, curl state). */
void origin_fetch_release(struct origin_fetch *f);

/* What the latest exchanges with the origin say about it. */
enum origin_state {
	ORIGIN_STATE_UNKNOWN, /* nothing asked yet */
	ORIGIN_STATE_UP,      /* the latest exchange got an answer (any HTTP status) */
	ORIGIN_STATE_DOWN, /* the latest exchange failed (connect, timeout, invalid, truncated) */
};

/* Re-check an origin whose latest evidence is older than this (origin_probe). */
#define ORIGIN_HEALTH_FRESH_MS 10000

/* At most one probe per this many milliseconds. */
#define ORIGIN_PROBE_INTERVAL_MS 1000

/* The origin's health, from the outcomes of real fetches and probes. */
struct origin_health {
	enum origin_state state;
	int64_t last_ok_ms;           /* Unix time in ms of the latest answer (0: none) */
	int64_t last_failure_ms;      /* Unix time in ms of the latest failure (0: none) */
	enum origin_error last_error; /* of the latest failure */
	unsigned failures;            /* consecutive failures since the latest answer */
	uint64_t probes;              /* probes sent */
};

/* Reads the origin's health (any thread, lock-free). */
void origin_health(struct origin *o, struct origin_health *out);

/*
 * Refreshes the evidence without waiting: when the origin is down, unknown, or last heard of
 * more than ORIGIN_HEALTH_FRESH_MS ago, sends one HEAD of the base URL on the fetch thread
 * (one at a time, at most one per ORIGIN_PROBE_INTERVAL_MS). Any thread; true when sent.
 */
bool origin_probe(struct origin *o);

/* Text of an error ("connect", "timeout", ...). */
const char *origin_error_name(enum origin_error e);

#endif
