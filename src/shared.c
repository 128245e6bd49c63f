/*
 * shared: the memcached tier. Owns, per cluster (servers, and fallback_servers during a
 * migration), a configured libmemcached handle, a libmemcachedutil pool of its clones, the
 * health of each server (struct shared_health, atomics) and the namespace generation; plus the
 * tier's counters (relaxed atomics) and the optional watch thread that polls the generations.
 *
 * Handles: every operation pops a handle from its cluster's pool and pushes it back when done,
 * so a handle is used by one thread at a time. libmemcached's own dead-server logic is switched
 * off (no auto-ejection, which would move keys between servers, and failure limits so high that
 * a handle never parks a server): the shared health decides, before an operation, whether the
 * server of its key may be tried. A key whose server is down is a miss (or a write not done).
 *
 * Keys: key_prefix, the generation in decimal, ':', then the 128-bit XXH3 hash of the cache key
 * in hex; the record inside carries the full cache key, and a record of another key is a miss.
 * The generation lives under key_prefix + "gen" (an ASCII number, as incr wants). A missing
 * generation is created with the current Unix time in milliseconds, so that after memcached
 * loses its data (restart, flush_all) the generation jumps forward, never back to a value whose
 * keys might still exist on another server.
 *
 * Reads: a lookup is one plain get (binary GETK: one packet each way); only a write reads with
 * the CAS value (mget, then fetch_result, then cas).
 *
 * Locks: none besides the pools' own and the watch thread's mutex (guards only its stop flag).
 * Nothing here blocks longer than the memcached timeouts allow.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmemcached/memcached.h>
#include <libmemcached/util.h>
#include <xxhash.h>

#include "log.h"
#include "record.h"
#include "shared.h"

/* Keys tried to find each server's probe key (shared_find_probe_keys). */
#define SHARED_PROBE_TRIES 100000

/* Handles a pool holds at most (clones are made when needed). */
#define SHARED_POOL_MAX 128

/* Bytes memcached needs around a value besides the key (item header, CAS, suffix). */
#define SHARED_ITEM_OVERHEAD 64

typedef _Atomic uint64_t shared_counter;

struct shared_server {
	char *host;
	unsigned port;
	unsigned weight;
	char *address;   /* "host:port", "[v6]:port" */
	char *probe_key; /* a key that ketama maps to this server (health probes); NULL: none */
	struct shared_health health;
	shared_counter hits, misses, errors;
};

struct shared_cluster {
	const char *name; /* "servers" or "fallback_servers", for logs */
	struct shared_server *servers;
	size_t n;
	memcached_st *master;
	memcached_pool_st *pool;
	_Atomic uint64_t generation;
	atomic_bool gen_known;
	shared_counter hits, misses, errors, warmed;
};

struct shared {
	struct shared_cluster cl[2]; /* [0] servers, [1] fallback_servers (n == 0: none) */
	bool warm;
	int64_t ttl;
	unsigned timeout_ms;
	char *prefix;
	uint64_t max_item_bytes;
	struct rfc9111_settings settings;

	shared_counter hits, misses, stores, store_skipped_too_large, cas_retries, cas_conflicts,
	        errors, timeouts, decode_rejected;

	void (*cas_hook)(void *arg);
	void *cas_hook_arg;

	/* the watch thread */
	bool watching;
	pthread_t watch_thread;
	pthread_mutex_t watch_lock;
	pthread_cond_t watch_wake;
	bool watch_stop;
	unsigned watch_interval_ms;
	void (*watch_changed)(void *arg);
	void *watch_arg;
};

static void
shared_count(shared_counter *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static uint64_t
shared_read(shared_counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* ------------------------------------------------------------------------------ health */

/* May an operation go to the server at now_ms? (true for one probe once a backoff ends) */
bool
shared_health_admit(struct shared_health *h, int64_t now_ms)
{
	bool expected = false;

	if (!atomic_load(&h->down))
		return true;
	if (now_ms < atomic_load(&h->retry_at_ms))
		return false;
	return atomic_compare_exchange_strong(&h->probing, &expected, true);
}

/* The epoch to pass to shared_health_ok: read when an operation begins. */
unsigned
shared_health_epoch(struct shared_health *h)
{
	return atomic_load(&h->epoch);
}

/* The server answered an operation begun at epoch: up unless a failure came since. */
bool
shared_health_ok(struct shared_health *h, unsigned epoch)
{
	if (atomic_load(&h->epoch) != epoch)
		return false; /* stale news: a later operation failed */
	atomic_store(&h->failures, 0);
	bool was_down = atomic_exchange(&h->down, false);
	atomic_store(&h->probing, false);
	return was_down;
}

/* The server failed at now_ms; returns the backoff in ms before a retry. */
int64_t
shared_health_failed(struct shared_health *h, int64_t now_ms)
{
	unsigned f = atomic_fetch_add(&h->failures, 1) + 1;
	int64_t backoff = SHARED_BACKOFF_MIN_MS;

	for (unsigned i = 1; i < f && backoff < SHARED_BACKOFF_MAX_MS; i++)
		backoff *= 2;
	if (backoff > SHARED_BACKOFF_MAX_MS)
		backoff = SHARED_BACKOFF_MAX_MS;
	atomic_store(&h->retry_at_ms, now_ms + backoff);
	atomic_fetch_add(&h->epoch, 1);
	atomic_store(&h->down, true);
	atomic_store(&h->probing, false);
	return backoff;
}

/* ------------------------------------------------------------------------------ setup */

static void
shared_behavior(memcached_st *m, memcached_behavior_t b, uint64_t v)
{
	memcached_return_t rc = memcached_behavior_set(m, b, v);

	if (rc != MEMCACHED_SUCCESS)
		log_warn("memcached: behavior %d: %s", (int)b, memcached_strerror(m, rc));
}

/*
 * Gives each server of c a probe key: the first key_prefix + "probe:" + N that ketama maps to
 * it (a server with a tiny share of the ring may get none within SHARED_PROBE_TRIES). The
 * placement is asked of a handle of the pool, as every operation does (the master handle's
 * own answers differ from its clones').
 */
static void
shared_find_probe_keys(struct shared *s, struct shared_cluster *c)
{
	struct timespec none = {0, 0};
	memcached_return_t rc;
	memcached_st *m = memcached_pool_fetch(c->pool, &none, &rc);
	char key[SHARED_KEY_MAX];
	size_t found = 0;

	if (m == NULL) {
		log_warn("memcached: %s: no handle to place probe keys: %s", c->name,
		         memcached_strerror(NULL, rc));
		return;
	}
	for (unsigned k = 0; k < SHARED_PROBE_TRIES && found < c->n; k++) {
		int n = snprintf(key, sizeof(key), "%sprobe:%u", s->prefix, k);
		uint32_t idx = memcached_generate_hash(m, key, (size_t)n);
		if (idx < c->n && c->servers[idx].probe_key == NULL) {
			c->servers[idx].probe_key = xstrdup(key);
			found++;
		}
	}
	memcached_pool_release(c->pool, m);
}

/* Configures cluster c over its servers; false when libmemcached refuses them. */
static bool
shared_cluster_init(struct shared *s, struct shared_cluster *c, const char *name,
                    const struct config_servers *list)
{
	c->name = name;
	c->n = list->n;
	if (c->n == 0)
		return true;
	c->servers = xcalloc(c->n, sizeof(*c->servers));
	c->master = memcached_create(NULL);
	TC_ASSERT(c->master != NULL);
	/* the binary protocol (and CAS values), ketama over weighted servers (MD5, as other
	 * ketama clients), the timeouts of [memcached] timeout_ms, and none of the library's own
	 * dead-server handling: our shared health decides, and keys never move on a failure */
	shared_behavior(c->master, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
	shared_behavior(c->master, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
	shared_behavior(c->master, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
	shared_behavior(c->master, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
	shared_behavior(c->master, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
	shared_behavior(c->master, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, s->timeout_ms);
	shared_behavior(c->master, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, s->timeout_ms);
	shared_behavior(c->master, MEMCACHED_BEHAVIOR_SND_TIMEOUT, (uint64_t)s->timeout_ms * 1000);
	shared_behavior(c->master, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, (uint64_t)s->timeout_ms * 1000);
	shared_behavior(c->master, MEMCACHED_BEHAVIOR_AUTO_EJECT_HOSTS, 0);
	shared_behavior(c->master, MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 0);
	shared_behavior(c->master, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 0);
	shared_behavior(c->master, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, UINT32_MAX);
	shared_behavior(c->master, MEMCACHED_BEHAVIOR_SERVER_TIMEOUT_LIMIT, UINT32_MAX);
	for (size_t i = 0; i < c->n; i++) {
		struct shared_server *srv = &c->servers[i];
		const struct config_server *cs = &list->v[i];

		srv->host = xstrdup(cs->host);
		srv->port = cs->port;
		srv->weight = cs->weight;
		srv->address = strchr(cs->host, ':') != NULL
		                       ? xasprintf("[%s]:%u", cs->host, cs->port)
		                       : xasprintf("%s:%u", cs->host, cs->port);
		memcached_return_t rc = memcached_server_add_with_weight(
		        c->master, cs->host, (in_port_t)cs->port, cs->weight);
		if (rc != MEMCACHED_SUCCESS) {
			log_error("memcached: %s %s: %s", name, srv->address,
			          memcached_strerror(c->master, rc));
			return false;
		}
	}
	/* the server index that the hash gives is the position in our list */
	TC_ASSERT(memcached_server_count(c->master) == c->n);
	for (size_t i = 0; i < c->n; i++) {
		const memcached_instance_st *in =
		        memcached_server_instance_by_position(c->master, (uint32_t)i);
		TC_ASSERT(in != NULL && memcached_server_port(in) == c->servers[i].port &&
		          strcmp(memcached_server_name(in), c->servers[i].host) == 0);
	}
	c->pool = memcached_pool_create(c->master, 1, SHARED_POOL_MAX);
	TC_ASSERT(c->pool != NULL);
	shared_find_probe_keys(s, c);
	return true;
}

static void
shared_cluster_free(struct shared_cluster *c)
{
	if (c->pool != NULL)
		memcached_pool_destroy(c->pool);
	if (c->master != NULL)
		memcached_free(c->master);
	for (size_t i = 0; i < c->n; i++) {
		free(c->servers[i].host);
		free(c->servers[i].address);
		free(c->servers[i].probe_key);
	}
	free(c->servers);
}

/* Creates the tier for cfg's [memcached] servers; NULL when there are none. */
struct shared *
shared_create(const struct config *cfg)
{
	if (cfg->mc_server_list.n == 0)
		return NULL;

	struct shared *s = xcalloc(1, sizeof(*s));

	s->warm = cfg->mc_warm_from_fallback;
	s->ttl = cfg->mc_ttl;
	s->timeout_ms = cfg->mc_timeout_ms;
	s->prefix = xstrdup(cfg->mc_key_prefix ? cfg->mc_key_prefix : "");
	s->max_item_bytes = cfg->mc_max_item_bytes;
	s->settings.default_ttl = cfg->local_default_ttl;
	s->settings.heuristic_max = cfg->local_heuristic_max;
	s->settings.stale_if_error = cfg->local_stale_if_error;
	s->settings.targeted = cfg->http_targeted_cc;
	s->settings.max_stale_keep = cfg->local_max_stale_keep;
	pthread_mutex_init(&s->watch_lock, NULL);
	pthread_cond_init(&s->watch_wake, NULL);
	if (!shared_cluster_init(s, &s->cl[0], "servers", &cfg->mc_server_list) ||
	    !shared_cluster_init(s, &s->cl[1], "fallback_servers", &cfg->mc_fallback_list)) {
		shared_destroy(s);
		return NULL;
	}
	return s;
}

/* Stops the watch thread if it runs and frees the tier (NULL is ignored). */
void
shared_destroy(struct shared *s)
{
	if (s == NULL)
		return;
	shared_unwatch(s);
	shared_cluster_free(&s->cl[0]);
	shared_cluster_free(&s->cl[1]);
	pthread_cond_destroy(&s->watch_wake);
	pthread_mutex_destroy(&s->watch_lock);
	free(s->prefix);
	free(s);
}

/* Tests only: hook called by shared_store between the gets and the cas of an update. */
void
shared_set_cas_hook(struct shared *s, void (*hook)(void *arg), void *arg)
{
	s->cas_hook = hook;
	s->cas_hook_arg = arg;
}

/* ------------------------------------------------------------------------------ operations */

/* How a memcached operation went, for the health of its server and the counters. */
enum shared_outcome {
	OUT_ANSWERED, /* the server answered (whatever the answer) */
	OUT_FAILED,   /* connection or protocol error: the server is marked down */
	OUT_TIMEOUT,  /* no answer in time: the server is marked down */
};

static enum shared_outcome
shared_classify(memcached_return_t rc)
{
	switch (rc) {
	case MEMCACHED_SUCCESS:
	case MEMCACHED_NOTFOUND:
	case MEMCACHED_NOTSTORED:
	case MEMCACHED_DATA_EXISTS:
	case MEMCACHED_STORED:
	case MEMCACHED_DELETED:
	case MEMCACHED_END:
	case MEMCACHED_BUFFERED:
	case MEMCACHED_E2BIG:
	case MEMCACHED_SERVER_MEMORY_ALLOCATION_FAILURE:
		return OUT_ANSWERED;
	case MEMCACHED_TIMEOUT:
		return OUT_TIMEOUT;
	default:
		return OUT_FAILED;
	}
}

/* One operation on one key: its cluster, handle, key and server. */
struct shared_op {
	struct shared *s;
	struct shared_cluster *c;
	memcached_st *m;
	const char *key;
	size_t klen;
	struct shared_server *srv;
	unsigned epoch; /* of the server's health when the operation began */
};

/* A handle of c's pool (waiting at most timeout_ms); NULL when none came. */
static memcached_st *
shared_pop(struct shared *s, struct shared_cluster *c)
{
	struct timespec wait = {(time_t)(s->timeout_ms / 1000),
	                        (long)(s->timeout_ms % 1000) * 1000000};
	memcached_return_t rc;
	memcached_st *m = memcached_pool_fetch(c->pool, &wait, &rc);

	if (m == NULL) {
		log_debug("memcached: no free handle for %s: %s", c->name,
		          memcached_strerror(NULL, rc));
		shared_count(&s->errors);
		shared_count(&c->errors);
	}
	return m;
}

/*
 * Starts an operation on key in c: takes a handle and finds the key's server. False (nothing
 * to release) when no handle came or the server is down and not due for a retry.
 */
static bool
shared_op_begin(struct shared_op *op, struct shared *s, struct shared_cluster *c, const char *key)
{
	op->s = s;
	op->c = c;
	op->key = key;
	op->klen = strlen(key);
	op->m = shared_pop(s, c);
	if (op->m == NULL)
		return false;
	uint32_t idx = memcached_generate_hash(op->m, key, op->klen);
	TC_ASSERT(idx < c->n);
	op->srv = &c->servers[idx];
	if (!shared_health_admit(&op->srv->health, util_monotonic_ms())) {
		memcached_pool_release(c->pool, op->m);
		op->m = NULL;
		return false;
	}
	op->epoch = shared_health_epoch(&op->srv->health);
	return true;
}

/* Records what rc says about the server; returns the outcome. */
static enum shared_outcome
shared_op_result(struct shared_op *op, memcached_return_t rc, const char *what)
{
	enum shared_outcome out = shared_classify(rc);

	if (out == OUT_ANSWERED) {
		if (shared_health_ok(&op->srv->health, op->epoch))
			log_info("memcached: %s %s is up again", op->c->name, op->srv->address);
		if (rc == MEMCACHED_E2BIG || rc == MEMCACHED_SERVER_MEMORY_ALLOCATION_FAILURE) {
			shared_count(&op->s->errors);
			shared_count(&op->c->errors);
			shared_count(&op->srv->errors);
		}
		return out;
	}
	shared_count(out == OUT_TIMEOUT ? &op->s->timeouts : &op->s->errors);
	shared_count(&op->c->errors);
	shared_count(&op->srv->errors);
	bool was_down = atomic_load(&op->srv->health.down);
	int64_t backoff = shared_health_failed(&op->srv->health, util_monotonic_ms());
	if (!was_down)
		log_warn("memcached: %s %s is down (%s: %s); retried in %" PRId64 " ms",
		         op->c->name, op->srv->address, what, memcached_strerror(op->m, rc),
		         backoff);
	else
		log_debug("memcached: %s %s still down (%s: %s); retried in %" PRId64 " ms",
		          op->c->name, op->srv->address, what, memcached_strerror(op->m, rc),
		          backoff);
	return out;
}

static void
shared_op_end(struct shared_op *op)
{
	if (op->m != NULL)
		memcached_pool_release(op->c->pool, op->m);
	op->m = NULL;
}

/* What a read found. */
enum shared_read {
	READ_FOUND,
	READ_NOTFOUND,
	READ_FAILED,
};

/* Reads op's key with its CAS value; on READ_FOUND *value (to free), *len and *cas are set. */
static enum shared_read
shared_op_gets(struct shared_op *op, char **value, size_t *len, uint64_t *cas)
{
	const char *keys[1] = {op->key};
	size_t lens[1] = {op->klen};
	memcached_return_t rc = memcached_mget(op->m, keys, lens, 1);
	memcached_result_st *res;
	enum shared_read got = READ_NOTFOUND;

	*value = NULL;
	if (shared_op_result(op, rc, "get") != OUT_ANSWERED)
		return READ_FAILED;
	while ((res = memcached_fetch_result(op->m, NULL, &rc)) != NULL) {
		if (got == READ_NOTFOUND) {
			*len = memcached_result_length(res);
			*value = xmalloc(*len + 1);
			if (*len > 0) /* an empty value has no buffer */
				memcpy(*value, memcached_result_value(res), *len);
			(*value)[*len] = '\0';
			*cas = memcached_result_cas(res);
			got = READ_FOUND;
		}
		memcached_result_free(res);
	}
	if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND && rc != MEMCACHED_SUCCESS &&
	    shared_op_result(op, rc, "get") != OUT_ANSWERED) {
		free(*value);
		*value = NULL;
		return READ_FAILED;
	}
	return got;
}

/*
 * Reads op's key without its CAS value: the lookup of every shared-tier hit. memcached_get
 * sends one binary GETK and reads its one answer (hit or miss), where memcached_mget sends
 * GETKQ and NOOP in two writes and reads two answers (memcached sometimes sends them in two
 * packets: one more wake-up and poll for the caller). The value is libmemcached's malloc'd
 * copy, handed on as is. On READ_FOUND *value (to free, NULL when empty) and *len are set.
 */
static enum shared_read
shared_op_get(struct shared_op *op, char **value, size_t *len)
{
	uint32_t flags = 0;
	memcached_return_t rc = MEMCACHED_FAILURE;

	*len = 0;
	*value = memcached_get(op->m, op->key, op->klen, len, &flags, &rc);
	if (shared_op_result(op, rc, "get") != OUT_ANSWERED) {
		free(*value);
		*value = NULL;
		return READ_FAILED;
	}
	if (rc != MEMCACHED_SUCCESS) {
		free(*value);
		*value = NULL;
		return READ_NOTFOUND;
	}
	if (*value == NULL)
		*len = 0;
	return READ_FOUND;
}

/* Builds the memcached key of cache_key in cluster c under generation gen. */
static void
shared_make_key(const struct shared *s, uint64_t gen, const char *cache_key,
                char out[SHARED_KEY_MAX])
{
	XXH128_hash_t h = XXH3_128bits(cache_key, strlen(cache_key));
	int n = snprintf(out, SHARED_KEY_MAX, "%s%" PRIu64 ":%016" PRIx64 "%016" PRIx64, s->prefix,
	                 gen, (uint64_t)h.high64, (uint64_t)h.low64);

	TC_ASSERT(n > 0 && n < SHARED_KEY_MAX);
}

/* Builds the memcached key of cache_key in a cluster; false while its generation is unknown. */
bool
shared_key(struct shared *s, bool fallback, const char *cache_key, char out[SHARED_KEY_MAX])
{
	struct shared_cluster *c = &s->cl[fallback ? 1 : 0];

	if (c->n == 0 || !atomic_load(&c->gen_known))
		return false;
	shared_make_key(s, atomic_load(&c->generation), cache_key, out);
	return true;
}

/* The address of the server of servers that a memcached key maps to. */
const char *
shared_locate(struct shared *s, const char *mkey)
{
	memcached_st *m = shared_pop(s, &s->cl[0]);
	const char *addr = NULL;

	if (m != NULL) {
		uint32_t idx = memcached_generate_hash(m, mkey, strlen(mkey));
		TC_ASSERT(idx < s->cl[0].n);
		addr = s->cl[0].servers[idx].address;
		memcached_pool_release(s->cl[0].pool, m);
	}
	return addr;
}

/* Looks cache_key up in cluster c; a new entry or NULL. Counts per cluster and server. */
static struct entry *
shared_lookup_in(struct shared *s, struct shared_cluster *c, const char *key)
{
	char mkey[SHARED_KEY_MAX];
	struct shared_op op;
	struct entry *e = NULL;
	char *value;
	size_t len = 0;

	if (!shared_key(s, c == &s->cl[1], key, mkey) || !shared_op_begin(&op, s, c, mkey)) {
		if (c->n > 0)
			shared_count(&c->misses);
		return NULL;
	}
	switch (shared_op_get(&op, &value, &len)) {
	case READ_FOUND: {
		enum record_status st = record_decode(value, len, key, &s->settings, &e);
		if (st != RECORD_OK) {
			shared_count(&s->decode_rejected);
			log_info("memcached: %s: record of %s rejected (%s)", op.srv->address, mkey,
			         record_status_name(st));
		}
		free(value);
		break;
	}
	case READ_NOTFOUND:
	case READ_FAILED:
		break;
	}
	shared_count(e != NULL ? &c->hits : &c->misses);
	shared_count(e != NULL ? &op.srv->hits : &op.srv->misses);
	shared_op_end(&op);
	return e;
}

/* Looks key up: servers, then fallback_servers. */
struct entry *
shared_lookup(struct shared *s, const char *key, enum shared_source *from)
{
	struct entry *e = shared_lookup_in(s, &s->cl[0], key);

	*from = SHARED_SERVERS;
	if (e == NULL && s->cl[1].n > 0) {
		e = shared_lookup_in(s, &s->cl[1], key);
		*from = SHARED_FALLBACK;
	}
	if (e == NULL)
		*from = SHARED_NONE;
	shared_count(e != NULL ? &s->hits : &s->misses);
	return e;
}

/* Memcached expiry in seconds from now for e (1..ttl), 0 when nothing of it is useful. */
int64_t
shared_expiry(int64_t ttl, const struct entry *e, int64_t now)
{
	int64_t fresh = entry_ttl(e, now), useful;

	TC_ASSERT(ttl > 0);
	if (fresh >= ttl)
		return ttl;
	if (entry_has_validator(e)) {
		int64_t grace = e->lifetime > SHARED_GRACE_MIN ? e->lifetime : SHARED_GRACE_MIN;
		if (grace >= ttl)
			return ttl;
		useful = (fresh > 0 ? fresh : 0) + grace;
	} else {
		useful = entry_keep_until(e) - now; /* its freshness and any stale window */
	}
	if (useful <= 0)
		return 0;
	return useful < ttl ? useful : ttl;
}

static void
shared_backoff_sleep(unsigned attempt)
{
	/* 1, 2, 4, 8 ms, with a little jitter so that two racing proxies drift apart */
	long us = 1000L << (attempt < 4 ? attempt : 4);
	struct timespec ts = {0, (us + (long)(util_monotonic_ms() % 7) * 100) * 1000};

	nanosleep(&ts, NULL);
}

/* The record of e, or false (counted) when it is too large or useless. */
static enum shared_store_result
shared_prepare(struct shared *s, const struct entry *e, int64_t now, struct buf *rec,
               int64_t *expiry)
{
	*expiry = shared_expiry(s->ttl, e, now);
	if (*expiry <= 0)
		return SHARED_NOT_STORABLE;
	if (record_size(e) + SHARED_KEY_MAX + SHARED_ITEM_OVERHEAD > s->max_item_bytes) {
		shared_count(&s->store_skipped_too_large);
		return SHARED_TOO_LARGE;
	}
	record_encode(e, rec);
	return SHARED_STORED;
}

/* Writes rec (the record of e) under op's key: add or gets + cas (see shared_store). */
static enum shared_store_result
shared_write(struct shared_op *op, const struct entry *e, const struct buf *rec, int64_t expiry,
             bool update)
{
	struct shared *s = op->s;
	memcached_return_t rc;

	if (!update) {
		rc = memcached_add(op->m, op->key, op->klen, rec->data, rec->len, (time_t)expiry,
		                   0);
		if (shared_op_result(op, rc, "add") != OUT_ANSWERED)
			return SHARED_FAILED;
		if (rc == MEMCACHED_SUCCESS)
			return SHARED_STORED;
		if (rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_DATA_EXISTS)
			return SHARED_FAILED; /* too big for the server, out of memory */
		/* someone stored it meanwhile: the newer of the two must win */
	}
	for (unsigned attempt = 0; attempt < SHARED_CAS_ATTEMPTS; attempt++) {
		char *value;
		size_t len = 0;
		uint64_t cas = 0;

		if (attempt > 0) {
			shared_count(&s->cas_retries);
			shared_backoff_sleep(attempt - 1);
		}
		switch (shared_op_gets(op, &value, &len, &cas)) {
		case READ_FAILED:
			return SHARED_FAILED;
		case READ_NOTFOUND:
			rc = memcached_add(op->m, op->key, op->klen, rec->data, rec->len,
			                   (time_t)expiry, 0);
			if (shared_op_result(op, rc, "add") != OUT_ANSWERED)
				return SHARED_FAILED;
			if (rc == MEMCACHED_SUCCESS)
				return SHARED_STORED;
			if (rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_DATA_EXISTS)
				return SHARED_FAILED;
			continue; /* added by someone else in between: compare again */
		case READ_FOUND:
			break;
		}
		struct entry *old = NULL;
		enum record_status st = record_decode(value, len, e->key, &s->settings, &old);
		free(value);
		/* a record that is not a valid one of this key is replaced (we own the key) */
		if (st == RECORD_OK && !entry_is_newer(e, old)) {
			entry_unref(old);
			return SHARED_NOT_NEWER;
		}
		entry_unref(old);
		if (s->cas_hook != NULL)
			s->cas_hook(s->cas_hook_arg);
		rc = memcached_cas(op->m, op->key, op->klen, rec->data, rec->len, (time_t)expiry, 0,
		                   cas);
		if (shared_op_result(op, rc, "cas") != OUT_ANSWERED)
			return SHARED_FAILED;
		if (rc == MEMCACHED_SUCCESS)
			return SHARED_STORED;
		if (rc != MEMCACHED_DATA_EXISTS && rc != MEMCACHED_NOTFOUND)
			return SHARED_FAILED;
		/* lost the race: someone changed (or deleted) it since our gets */
	}
	return SHARED_CONFLICT;
}

/* Writes e to servers (add, or gets + cas for an update; see shared.h). */
enum shared_store_result
shared_store(struct shared *s, const struct entry *e, bool update, int64_t now)
{
	char mkey[SHARED_KEY_MAX];
	struct buf rec = {0};
	struct shared_op op;
	int64_t expiry;
	enum shared_store_result r = shared_prepare(s, e, now, &rec, &expiry);

	if (r != SHARED_STORED)
		return r;
	if (!shared_key(s, false, e->key, mkey) || !shared_op_begin(&op, s, &s->cl[0], mkey)) {
		buf_free(&rec);
		return SHARED_UNAVAILABLE;
	}
	r = shared_write(&op, e, &rec, expiry, update);
	shared_op_end(&op);
	buf_free(&rec);
	if (r == SHARED_STORED)
		shared_count(&s->stores);
	else if (r == SHARED_NOT_NEWER || r == SHARED_CONFLICT)
		shared_count(&s->cas_conflicts);
	return r;
}

/* After a fallback hit: copies e into servers when warm_from_fallback is on. */
bool
shared_warm(struct shared *s, const struct entry *e, int64_t now)
{
	char mkey[SHARED_KEY_MAX];
	struct buf rec = {0};
	struct shared_op op;
	int64_t expiry;
	bool done = false;

	if (!s->warm || s->cl[1].n == 0 ||
	    shared_prepare(s, e, now, &rec, &expiry) != SHARED_STORED)
		return false;
	if (shared_key(s, false, e->key, mkey) && shared_op_begin(&op, s, &s->cl[0], mkey)) {
		memcached_return_t rc =
		        memcached_add(op.m, mkey, op.klen, rec.data, rec.len, (time_t)expiry, 0);
		done = shared_op_result(&op, rc, "add") == OUT_ANSWERED && rc == MEMCACHED_SUCCESS;
		shared_op_end(&op);
	}
	buf_free(&rec);
	if (done)
		shared_count(&s->cl[1].warmed);
	return done;
}

/* Deletes key from servers and fallback_servers; true when a record was there. */
bool
shared_delete(struct shared *s, const char *key)
{
	bool deleted = false;

	for (int i = 0; i < 2; i++) {
		struct shared_cluster *c = &s->cl[i];
		char mkey[SHARED_KEY_MAX];
		struct shared_op op;

		if (!shared_key(s, i == 1, key, mkey) || !shared_op_begin(&op, s, c, mkey))
			continue;
		memcached_return_t rc = memcached_delete(op.m, mkey, op.klen, 0);
		if (shared_op_result(&op, rc, "delete") == OUT_ANSWERED && rc == MEMCACHED_SUCCESS)
			deleted = true;
		shared_op_end(&op);
	}
	return deleted;
}

/* ------------------------------------------------------------------------------ generations */

/* Wall-clock milliseconds: the first value of a generation that memcached did not have. */
static uint64_t
shared_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sets c's generation; true when a known generation changed. */
static bool
shared_set_generation(struct shared_cluster *c, uint64_t gen)
{
	bool known = atomic_exchange(&c->gen_known, true);
	uint64_t old = atomic_exchange(&c->generation, gen);

	if (known && old != gen) {
		log_info("memcached: %s namespace generation %" PRIu64 " -> %" PRIu64, c->name, old,
		         gen);
		return true;
	}
	return false;
}

/*
 * The generation to start from when c's generation key is missing (new cluster, restart,
 * flush_all): the wall clock in ms, or one past the generation known here when purges ran it
 * ahead of the clock, so a lost key never brings back an old namespace.
 */
static uint64_t
shared_fresh_generation(struct shared_cluster *c)
{
	uint64_t gen = shared_wall_ms();

	if (atomic_load(&c->gen_known) && atomic_load(&c->generation) >= gen)
		gen = atomic_load(&c->generation) + 1;
	return gen;
}

/* Reads (or creates) c's generation; true when a known generation changed. */
static bool
shared_refresh_cluster(struct shared *s, struct shared_cluster *c)
{
	char gkey[SHARED_KEY_MAX];
	struct shared_op op;
	bool changed = false;

	snprintf(gkey, sizeof(gkey), "%sgen", s->prefix);
	if (c->n == 0 || !shared_op_begin(&op, s, c, gkey))
		return false;
	for (int attempt = 0; attempt < 2; attempt++) {
		char *value;
		size_t len = 0;
		uint64_t cas, gen;

		enum shared_read r = shared_op_gets(&op, &value, &len, &cas);
		if (r == READ_FAILED)
			break;
		if (r == READ_FOUND) {
			bool ok = len > 0 && len < 21 && util_parse_u64(value, UINT64_MAX, &gen);
			if (!ok)
				log_warn("memcached: %s: %s holds no number", c->name, gkey);
			else
				changed = shared_set_generation(c, gen);
			free(value);
			break;
		}
		/* missing (new cluster, restart, flush_all): start from the clock */
		char num[24];
		int n = snprintf(num, sizeof(num), "%" PRIu64, shared_fresh_generation(c));
		memcached_return_t rc = memcached_add(op.m, gkey, op.klen, num, (size_t)n, 0, 0);
		if (shared_op_result(&op, rc, "add") != OUT_ANSWERED)
			break;
		if (rc == MEMCACHED_SUCCESS) {
			TC_ASSERT(util_parse_u64(num, UINT64_MAX, &gen));
			changed = shared_set_generation(c, gen);
			break;
		}
		/* another proxy created it first: read theirs */
	}
	shared_op_end(&op);
	return changed;
}

/* Reads the namespace generations; true when a known one changed. */
bool
shared_refresh(struct shared *s)
{
	bool a = shared_refresh_cluster(s, &s->cl[0]);
	bool b = shared_refresh_cluster(s, &s->cl[1]);

	return a || b;
}

/* The current generation of servers (0 while unknown). */
uint64_t
shared_generation(struct shared *s)
{
	return atomic_load(&s->cl[0].gen_known) ? atomic_load(&s->cl[0].generation) : 0;
}

/* Bumps the namespace generation of both clusters; false when servers failed. */
bool
shared_purge_all(struct shared *s)
{
	char gkey[SHARED_KEY_MAX];
	bool ok = false;

	snprintf(gkey, sizeof(gkey), "%sgen", s->prefix);
	for (int i = 0; i < 2; i++) {
		struct shared_cluster *c = &s->cl[i];
		struct shared_op op;
		uint64_t value = 0;

		if (c->n == 0 || !shared_op_begin(&op, s, c, gkey))
			continue;
		memcached_return_t rc = memcached_increment_with_initial(
		        op.m, gkey, op.klen, 1, shared_fresh_generation(c), 0, &value);
		if (shared_op_result(&op, rc, "incr") == OUT_ANSWERED && rc == MEMCACHED_SUCCESS) {
			shared_set_generation(c, value);
			log_info("memcached: %s: everything purged, namespace generation %" PRIu64,
			         c->name, value);
			if (i == 0)
				ok = true;
		} else if (rc != MEMCACHED_SUCCESS) {
			log_warn("memcached: %s: purge failed: %s", c->name,
			         memcached_strerror(op.m, rc));
		}
		shared_op_end(&op);
	}
	return ok;
}

static void *
shared_watch_thread(void *arg)
{
	struct shared *s = arg;

	pthread_mutex_lock(&s->watch_lock);
	while (!s->watch_stop) {
		pthread_mutex_unlock(&s->watch_lock);
		if (shared_refresh(s) && s->watch_changed != NULL)
			s->watch_changed(s->watch_arg);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(s->watch_interval_ms % 1000) * 1000000;
		until.tv_sec += (time_t)(s->watch_interval_ms / 1000 +
		                         (unsigned)(until.tv_nsec / 1000000000));
		until.tv_nsec %= 1000000000;
		pthread_mutex_lock(&s->watch_lock);
		if (!s->watch_stop)
			pthread_cond_timedwait(&s->watch_wake, &s->watch_lock, &until);
	}
	pthread_mutex_unlock(&s->watch_lock);
	return NULL;
}

/* Starts the thread that polls the generations every interval_ms. */
void
shared_watch(struct shared *s, unsigned interval_ms, void (*changed)(void *arg), void *arg)
{
	TC_ASSERT(!s->watching);
	s->watch_interval_ms = interval_ms;
	s->watch_changed = changed;
	s->watch_arg = arg;
	s->watch_stop = false;
	int rc = pthread_create(&s->watch_thread, NULL, shared_watch_thread, s);
	if (rc != 0) {
		log_error("memcached: cannot start the generation watch: %s", strerror(rc));
		return;
	}
	s->watching = true;
}

/* Stops the watch thread (nothing when none runs). */
void
shared_unwatch(struct shared *s)
{
	if (!s->watching)
		return;
	pthread_mutex_lock(&s->watch_lock);
	s->watch_stop = true;
	pthread_cond_broadcast(&s->watch_wake);
	pthread_mutex_unlock(&s->watch_lock);
	pthread_join(s->watch_thread, NULL);
	s->watching = false;
}

/* ------------------------------------------------------------------------------ reports */

static void
shared_servers_json(struct buf *out, struct shared_cluster *c)
{
	buf_puts(out, "[");
	for (size_t i = 0; c != NULL && i < c->n; i++) {
		struct shared_server *srv = &c->servers[i];

		buf_puts(out, i ? ", {\"address\": " : "{\"address\": ");
		buf_json_string(out, srv->address);
		buf_printf(out,
		           ", \"state\": \"%s\", \"hits\": %" PRIu64 ", \"misses\": %" PRIu64
		           ", \"errors\": %" PRIu64 "}",
		           atomic_load(&srv->health.down) ? "down" : "up", shared_read(&srv->hits),
		           shared_read(&srv->misses), shared_read(&srv->errors));
	}
	buf_puts(out, "]");
}

/* Appends the /stats "memcached" object (enabled false for NULL). */
void
shared_stats_json(struct shared *s, struct buf *out)
{
	struct shared_cluster *fb = s != NULL ? &s->cl[1] : NULL;

	buf_printf(out, "{\"enabled\": %s", s != NULL ? "true" : "false");
#define SHARED_FIELD(name)                                                                         \
	buf_printf(out, ", \"" #name "\": %" PRIu64, s ? shared_read(&s->name) : 0)
	SHARED_FIELD(hits);
	SHARED_FIELD(misses);
	SHARED_FIELD(stores);
	SHARED_FIELD(store_skipped_too_large);
	SHARED_FIELD(cas_retries);
	SHARED_FIELD(cas_conflicts);
	SHARED_FIELD(errors);
	SHARED_FIELD(timeouts);
	SHARED_FIELD(decode_rejected);
#undef SHARED_FIELD
	buf_printf(out, ",\n   \"namespace_generation\": %" PRIu64 ",\n   \"servers\": ",
	           s != NULL ? shared_generation(s) : 0);
	shared_servers_json(out, s != NULL ? &s->cl[0] : NULL);
	buf_puts(out, ",\n   \"fallback\": {\"servers\": ");
	shared_servers_json(out, fb);
	buf_printf(out,
	           ", \"hits\": %" PRIu64 ", \"misses\": %" PRIu64 ", \"errors\": %" PRIu64
	           ", \"warmed\": %" PRIu64 "}}",
	           fb ? shared_read(&fb->hits) : 0, fb ? shared_read(&fb->misses) : 0,
	           fb ? shared_read(&fb->errors) : 0, fb ? shared_read(&fb->warmed) : 0);
}

/* Probes each server that is down and due for a retry with one read (blocking). */
unsigned
shared_probe_down(struct shared *s)
{
	unsigned probed = 0;

	for (int ci = 0; s != NULL && ci < 2; ci++) {
		struct shared_cluster *c = &s->cl[ci];
		for (size_t i = 0; i < c->n; i++) {
			struct shared_server *srv = &c->servers[i];
			struct shared_op op;
			char *value = NULL;
			size_t len = 0;
			uint64_t cas;

			/* shared_op_begin admits the op only when the backoff has ended, and to
			 * one prober at a time */
			if (srv->probe_key == NULL || !atomic_load(&srv->health.down) ||
			    !shared_op_begin(&op, s, c, srv->probe_key))
				continue;
			TC_ASSERT(op.srv == srv); /* every handle places keys alike */
			if (shared_op_gets(&op, &value, &len, &cas) == READ_FOUND)
				free(value);
			shared_op_end(&op);
			probed++;
		}
	}
	return probed;
}

/* Reads the tier's counters into *out (zeroes for NULL). */
void
shared_counts(struct shared *s, struct shared_counts *out)
{
	*out = (struct shared_counts){0};
	if (s == NULL)
		return;
	out->hits = shared_read(&s->hits);
	out->misses = shared_read(&s->misses);
	out->stores = shared_read(&s->stores);
	out->store_skipped_too_large = shared_read(&s->store_skipped_too_large);
	out->cas_retries = shared_read(&s->cas_retries);
	out->cas_conflicts = shared_read(&s->cas_conflicts);
	out->errors = shared_read(&s->errors);
	out->timeouts = shared_read(&s->timeouts);
	out->decode_rejected = shared_read(&s->decode_rejected);
	out->generation = shared_generation(s);
	out->fallback_hits = shared_read(&s->cl[1].hits);
	out->fallback_misses = shared_read(&s->cl[1].misses);
	out->fallback_errors = shared_read(&s->cl[1].errors);
	out->fallback_warmed = shared_read(&s->cl[1].warmed);
}

/* Servers of both clusters (servers first); 0 for NULL. */
size_t
shared_nservers(struct shared *s)
{
	return s != NULL ? s->cl[0].n + s->cl[1].n : 0;
}

/* Reads server i (< shared_nservers) into *out. */
void
shared_server_info(struct shared *s, size_t i, struct shared_server_info *out)
{
	bool fb = i >= s->cl[0].n;
	struct shared_server *srv = fb ? &s->cl[1].servers[i - s->cl[0].n] : &s->cl[0].servers[i];

	TC_ASSERT(i < shared_nservers(s));
	out->address = srv->address;
	out->fallback = fb;
	out->down = atomic_load(&srv->health.down);
	out->failures = atomic_load(&srv->health.failures);
	out->hits = shared_read(&srv->hits);
	out->misses = shared_read(&srv->misses);
	out->errors = shared_read(&srv->errors);
}

/* Appends what cluster c holds for cache_key, as a JSON object. */
static void
shared_inspect_cluster(struct shared *s, struct shared_cluster *c, const char *cache_key,
                       struct buf *out)
{
	char mkey[SHARED_KEY_MAX];
	struct shared_op op;
	char *value;
	size_t len = 0;
	uint64_t cas;

	if (!shared_key(s, c == &s->cl[1], cache_key, mkey)) {
		buf_puts(out, "{\"error\": \"namespace generation unknown\"}");
		return;
	}
	buf_puts(out, "{\"key\": ");
	buf_json_string(out, mkey);
	if (!shared_op_begin(&op, s, c, mkey)) {
		buf_puts(out, ", \"error\": \"server down\"}");
		return;
	}
	buf_puts(out, ", \"server\": ");
	buf_json_string(out, op.srv->address);
	enum shared_read r = shared_op_gets(&op, &value, &len, &cas);
	shared_op_end(&op);
	if (r == READ_FAILED) {
		buf_puts(out, ", \"error\": \"memcached failed\"}");
		return;
	}
	buf_printf(out, ", \"found\": %s", r == READ_FOUND ? "true" : "false");
	if (r != READ_FOUND) {
		buf_puts(out, "}");
		return;
	}
	struct entry *e = NULL;
	enum record_status st = record_decode(value, len, cache_key, &s->settings, &e);
	buf_printf(out, ", \"bytes\": %zu, \"decode\": \"%s\"", len, record_status_name(st));
	free(value);
	if (e != NULL) {
		int64_t now = util_now();
		buf_printf(out,
		           ", \"status\": %d, \"request_time\": %" PRId64
		           ", \"response_time\": %" PRId64 ", \"age\": %" PRId64
		           ", \"ttl\": %" PRId64 ", \"body_bytes\": %zu",
		           e->status, entry_request_time(e), e->response_time, entry_age(e, now),
		           entry_ttl(e, now), e->body_len);
		buf_puts(out, ", \"vary_key\": ");
		if (entry_vary_key(e) != NULL)
			buf_json_string(out, entry_vary_key(e));
		else
			buf_puts(out, "null");
		buf_puts(out, ", \"headers\": [");
		const char *fname, *fvalue;
		for (size_t pos = 0, i = 0; entry_field_next(e, &pos, &fname, &fvalue); i++) {
			buf_puts(out, i ? ", [" : "[");
			buf_json_string(out, fname);
			buf_puts(out, ", ");
			buf_json_string(out, fvalue);
			buf_puts(out, "]");
		}
		buf_puts(out, "]");
		entry_unref(e);
	}
	buf_puts(out, "}");
}

/* Appends a JSON description of what each cluster holds for cache_key. */
void
shared_inspect(struct shared *s, const char *cache_key, struct buf *out)
{
	buf_puts(out, "{\"cache_key\": ");
	buf_json_string(out, cache_key);
	buf_puts(out, ", \"servers\": ");
	shared_inspect_cluster(s, &s->cl[0], cache_key, out);
	if (s->cl[1].n > 0) {
		buf_puts(out, ", \"fallback_servers\": ");
		shared_inspect_cluster(s, &s->cl[1], cache_key, out);
	}
	buf_puts(out, "}\n");
}
