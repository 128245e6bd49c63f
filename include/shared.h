/*
 * shared: tier 2, a memcached cluster shared by every tiercache of a fleet, through
 * libmemcached (binary protocol, ketama consistent hashing). During a migration a second
 * cluster, fallback_servers, is read after servers misses; records found there are served and
 * copied into servers (warm_from_fallback); writes go to servers only; deletes and purges go to
 * both. A record is a versioned binary record (record.h) stored under
 * key_prefix + namespace generation + ":" + XXH3-128 of the cache key (hex); purge-all bumps the
 * generation (incr) so every key of every proxy changes at once.
 *
 * Every operation blocks (each memcached round trip is bounded by [memcached] timeout_ms) and
 * must run on a worker thread, never on a libmicrohttpd thread. Any thread may call any
 * function: handles come from a per-cluster libmemcachedutil pool and are used by one thread at
 * a time; the health of each server (up/down, backoff) is shared by all handles, so a failed
 * server costs one timeout per retry period instead of one per handle or per request. A failure
 * of memcached is never an error for the caller: it is a miss (or a write not done), counted.
 * shared.c knows nothing of the local tier or of HTTP requests.
 */
#ifndef TIERCACHE_SHARED_H
#define TIERCACHE_SHARED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "entry.h"
#include "util.h"

/* Room for any memcached key built by shared (the prefix is at most 64 bytes). */
#define SHARED_KEY_MAX 128

/* Backoff of a failed server: the first retry after this, doubling up to SHARED_BACKOFF_MAX_MS. */
#define SHARED_BACKOFF_MIN_MS 100
#define SHARED_BACKOFF_MAX_MS 5000

/* Attempts of a gets + cas update before it is given up (a lost race is retried). */
#define SHARED_CAS_ATTEMPTS 5

/* An entry with validators stays in memcached this long after it turns stale, at least. */
#define SHARED_GRACE_MIN 3600

/*
 * The health of one server, shared by every handle (a circuit breaker). While down, operations
 * are refused until retry_at_ms; then exactly one operation may try (a probe): success makes
 * the server up again, failure doubles the wait (capped). An answer counts only when no failure
 * was recorded since its operation began (its epoch): a reply that was already on its way when
 * another operation timed out says nothing about the server now.
 */
struct shared_health {
	atomic_bool down;
	atomic_bool probing;
	atomic_uint failures;             /* consecutive failures */
	atomic_uint epoch;                /* failures ever recorded (wraps) */
	atomic_int_least64_t retry_at_ms; /* monotonic ms: no attempt before, while down */
};

/* May an operation go to the server at now_ms? (true for one probe once a backoff ends) */
bool shared_health_admit(struct shared_health *h, int64_t now_ms);

/* The epoch to pass to shared_health_ok: read when an operation begins. */
unsigned shared_health_epoch(struct shared_health *h);

/*
 * The server answered an operation begun at epoch: it is up, unless a failure was recorded
 * since (then nothing changes). Returns true when it was down and is up now.
 */
bool shared_health_ok(struct shared_health *h, unsigned epoch);

/* The server failed (error or timeout) at now_ms; returns the backoff in ms before a retry. */
int64_t shared_health_failed(struct shared_health *h, int64_t now_ms);

/* Which cluster a record came from. */
enum shared_source {
	SHARED_NONE,
	SHARED_SERVERS,  /* [memcached] servers */
	SHARED_FALLBACK, /* [memcached] fallback_servers */
};

/* What became of a write. */
enum shared_store_result {
	SHARED_STORED,       /* the record is in memcached */
	SHARED_NOT_NEWER,    /* memcached holds a record as new or newer: kept (a conflict) */
	SHARED_CONFLICT,     /* lost the CAS race SHARED_CAS_ATTEMPTS times: given up */
	SHARED_TOO_LARGE,    /* bigger than max_item_bytes: not stored */
	SHARED_NOT_STORABLE, /* useless already (stale without validators) */
	SHARED_UNAVAILABLE,  /* its server is down or the generation is unknown: not tried */
	SHARED_FAILED,       /* memcached failed (error or timeout) */
};

struct shared;

/* Creates the tier for cfg's [memcached] servers (not connected yet); NULL when there are none. */
struct shared *shared_create(const struct config *cfg);

/* Stops the watch thread if it runs and frees the tier (NULL is ignored). */
void shared_destroy(struct shared *s);

/*
 * Looks key (a cache key) up: servers, then fallback_servers. Returns a new entry, or NULL on
 * a miss (nothing stored, a rejected record, a server down or failing); *from tells where.
 */
struct entry *shared_lookup(struct shared *s, const char *key, enum shared_source *from);

/*
 * After a fallback hit: copies e into servers (add: never replaces what is there) when
 * warm_from_fallback is on. Returns true when copied.
 */
bool shared_warm(struct shared *s, const struct entry *e, int64_t now);

/*
 * Writes e (under e->key) to servers. With update false (a new response after a miss) it adds
 * the record, falling back to an update when one appeared meanwhile. An update (a 304 refresh,
 * or a 200 that replaces a stale entry) is gets + cas: it never replaces a record whose
 * response is as new or newer (response time, then response_ms), and a lost race is retried
 * with backoff, then given up.
 */
enum shared_store_result shared_store(struct shared *s, const struct entry *e, bool update,
                                      int64_t now);

/* Deletes key (a cache key) from servers and fallback_servers; true when a record was there. */
bool shared_delete(struct shared *s, const char *key);

/*
 * Invalidates everything for every proxy: bumps the namespace generation of both clusters
 * (incr, created when missing). False when servers could not be reached.
 */
bool shared_purge_all(struct shared *s);

/*
 * Reads the namespace generations (creating a missing one). Returns true when a generation
 * that was known has changed (another proxy purged everything, or memcached lost its data).
 */
bool shared_refresh(struct shared *s);

/* The current generation of servers (0 while unknown). */
uint64_t shared_generation(struct shared *s);

/*
 * Starts a thread that calls shared_refresh every interval_ms and changed(arg) when it returns
 * true. At most one watch per tier; shared_unwatch (or shared_destroy) stops it.
 */
void shared_watch(struct shared *s, unsigned interval_ms, void (*changed)(void *arg), void *arg);

/* Stops the watch thread (nothing when none runs). */
void shared_unwatch(struct shared *s);

/*
 * Memcached expiry, in seconds from now, for e at now: what stays useful of it (its freshness
 * left, plus a grace of max(lifetime, SHARED_GRACE_MIN) when it has validators), at most ttl
 * and at least 1; 0 when nothing of it is useful (never 0 for "forever").
 */
int64_t shared_expiry(int64_t ttl, const struct entry *e, int64_t now);

/*
 * Builds in out the memcached key of cache_key in a cluster (fallback: true for
 * fallback_servers) under its current generation. False while the generation is unknown.
 */
bool shared_key(struct shared *s, bool fallback, const char *cache_key, char out[SHARED_KEY_MAX]);

/* The address ("host:port") of the server of servers that a memcached key maps to. */
const char *shared_locate(struct shared *s, const char *mkey);

/* The tier's counters (all 0 for a NULL tier), for /metrics and /healthz. */
struct shared_counts {
	uint64_t hits, misses, stores, store_skipped_too_large, cas_retries, cas_conflicts, errors,
	        timeouts, decode_rejected, generation;
	uint64_t fallback_hits, fallback_misses, fallback_errors, fallback_warmed;
};

/* One server's state and counters. */
struct shared_server_info {
	const char *address; /* "host:port", valid while the tier lives */
	bool fallback;       /* in fallback_servers */
	bool down;           /* the circuit breaker is open */
	unsigned failures;   /* consecutive failures */
	uint64_t hits, misses, errors;
};

/*
 * Probes each server that is down and whose backoff has ended with one read of a key of its
 * own (its circuit breaker records the outcome), so that a server without traffic is seen to
 * come back. Blocks up to timeout_ms per probed server: call it on a worker thread. Returns the
 * servers probed (0 for NULL).
 */
unsigned shared_probe_down(struct shared *s);

/* Reads the tier's counters into *out (zeroes for NULL). */
void shared_counts(struct shared *s, struct shared_counts *out);

/* Servers of both clusters (servers first); 0 for NULL. */
size_t shared_nservers(struct shared *s);

/* Reads server i (< shared_nservers) into *out. */
void shared_server_info(struct shared *s, size_t i, struct shared_server_info *out);

/* Appends the /stats "memcached" object (the tier's counters; enabled false for NULL). */
void shared_stats_json(struct shared *s, struct buf *out);

/*
 * Appends a JSON description of what each cluster holds for cache_key (memcached key, server,
 * whether a record is there, how it decodes, its status, times, headers and body size).
 */
void shared_inspect(struct shared *s, const char *cache_key, struct buf *out);

/* Tests only: hook called by shared_store between the gets and the cas of an update. */
void shared_set_cas_hook(struct shared *s, void (*hook)(void *arg), void *arg);

#endif
