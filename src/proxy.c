/*
 * proxy: the story of one request, top to bottom. The only module that knows the order of
 * the tiers: the local tier, then memcached (servers, then fallback_servers), then the origin.
 * It runs first on a libmicrohttpd thread (proxy_handle), which only does what cannot block:
 * the local lookup. A request that needs memcached is suspended and continues on a worker
 * thread (proxy_shared_lookup); one that needs the origin continues on the fetch thread
 * (proxy_fetched); whichever finishes it calls r->resume last and never touches r again.
 * A memcached hit is promoted into the local tier. Writes to memcached (a new response, a 304
 * refresh, a replacement) are queued as background jobs only after the client's reply has
 * been handed over; they hold their own entry reference. Invalidations (a successful unsafe
 * method, PURGE) remove from memcached before the client hears back, so that a read that
 * follows sees the change.
 *
 * It holds no lock of its own: the tiers lock themselves, and a request is touched by one
 * thread at a time (the handoffs through the worker and origin queues order the accesses).
 * References: r->stale, r->spec and r->reply.entry each own one; a background write owns one.
 * Configuration: a request runs with r->cfg, taken once when it starts (proxy_config: one
 * atomic load of the newest config a reload published with proxy_reconfigure); configs are
 * borrowed and outlive every request (main keeps them all until exit).
 *
 * Variants (entry.h, key.h): the URL's key holds either its response or its vary spec; the
 * lookups (proxy_local_find, proxy_shared_find) follow a spec to the variant the request
 * selects, and a new variant is stored with a new version of the spec. Conditionals: the
 * client's validators, preconditions and Range are evaluated here against the stored (or just
 * fetched) response (proxy_answer); the origin gets the stored validators, of every variant
 * for a GET, and a 304 is used only for the stored response it names (proxy_select_304).
 *
 * Collapsed forwarding (collapse.h): a GET or HEAD that misses the local tier joins the other
 * requests for its key before the memcached step, so one memcached lookup and one origin
 * request serve them all. The first GET leads; the others wait suspended. The leader, once its
 * answer is ready (a memcached hit, or the origin's answer stored), answers each waiter from the
 * entry when its Vary headers select it (else the waiter collapses again with the others of
 * its variant, under the variant's key, r->ckey, or goes to the origin itself), and then
 * resumes them; an unstorable answer releases the waiters to the origin each and marks the key
 * hit-for-pass for COLLAPSE_PASS_SECONDS; an origin failure (502/504) is given to the waiters
 * too (they would have waited as long again for the same failing origin). Requests with
 * Authorization, no-store, or a request for validation (no-cache, max-age=0, Pragma) neither
 * lead nor wait: their answer may not be shared, or they asked for the origin's own answer.
 *
 * Streaming: a GET's answer whose body is larger than anything a tier may store is not kept
 * whole (origin.h): once its headers are known (proxy_streaming, fetch thread) the reply is
 * built with the origin's stream, waiters are released and the key marked hit-for-pass, a
 * stale entry is dropped, and the client is resumed while the body is still arriving. The
 * fetch lives in r, so the proxy takes a hold on r (r->holds) that the end of the transfer
 * drops (proxy_streamed): r outlives its connection when the client leaves first. Other
 * methods stream the same way (proxy_pass_streaming), after their invalidation.
 *
 * Stale responses (rfc9111_use, rfc9111_serve_on_error): a stored response may answer while
 * stale when the request's max-stale accepts it, or within its stale-while-revalidate window;
 * the latter starts a background revalidation, a proxy_request of its own (heap-allocated,
 * owned by itself, freed by its resume callback) that leads the key's collapse, so at most one
 * runs per key and none while a fetch for the key is in flight; its answer is stored like any
 * other. When the origin fails or answers 500/502/503/504, the stale entry the request held
 * (r->stale, or r->grace when it had no validator to revalidate with) answers instead if
 * stale-if-error (the response's, the request's, or [local] stale_if_error) allows it; the
 * waiters of a collapse do the same with their own stale entries. only-if-cached requests are
 * answered from a tier or 504, never from the origin, and never collapse.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <strings.h>
#include <time.h>

#include "acl.h"
#include "admin.h"
#include "collapse.h"
#include "histogram.h"
#include "key.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "rfc9111.h"
#include "stats.h"

#define PROXY_VIA "1.1 tiercache"
/* At most this many field names are left out of a stored copy (the rest are kept). */
#define PROXY_OMIT_MAX 32

/* Background memcached writes that may wait at once; more are dropped (logged). */
#define PROXY_MAX_WRITES 10000

/* How often the namespace generation is read (purge-all is seen within a second). */
#define PROXY_WATCH_MS 250

/* Cache-Status detail of a response not stored because everything was purged meanwhile. */
static const char proxy_why_purged[] = "purged";

/* The header of a PURGE that invalidates everything, and its one value. */
#define PROXY_PURGE_HEADER "Tiercache-Purge"

struct proxy {
	const struct config *cfg;            /* the startup config: what cannot change */
	_Atomic(const struct config *) live; /* the newest config (SIGHUP): new requests take it */
	struct local *local;
	struct origin *origin;
	struct shared *shared;     /* NULL: no memcached tier */
	struct worker *worker;     /* runs the memcached steps (with shared) */
	struct collapse *collapse; /* the keys in flight and those marked hit-for-pass */
	struct rfc9111_settings settings;
	/* bumped by every purge of everything (ours, or a new namespace generation seen): a
	 * response fetched before it is not stored after it */
	atomic_uint_least64_t epoch;
	/* /healthz's probe of memcached servers that are down: one at a time, one a second */
	atomic_bool mc_probing;
	atomic_int_least64_t mc_probe_ms;
};

/* A probe of the memcached servers that are down (a background job). */
struct proxy_mc_probe {
	struct worker_job job; /* first: the worker hands this pointer back */
	struct proxy *p;
};

/* A memcached write or delete that runs after the client has its answer. */
struct proxy_write {
	struct worker_job job; /* first: the worker hands this pointer back */
	struct proxy *p;
	struct entry *e; /* to store (reference owned), or NULL to delete key */
	bool update;     /* gets + cas: the write replaces or refreshes a stored response */
	char *key;
	char **more; /* further keys to delete (owned, nmore of them) */
	size_t nmore;
};

/* r->collapsed: how a request that waited for another was answered. */
enum {
	PROXY_COLLAPSED = 1, /* from the leader's answer */
	PROXY_RELEASED = 2,  /* it went to the origin itself */
};

/* How a response was produced, for Cache-Status (RFC 9211). */
enum proxy_fwd {
	FWD_NONE,    /* served from the cache */
	FWD_MISS,    /* nothing was stored for the URL */
	FWD_VARY,    /* the URL has responses, none for this request's Vary headers */
	FWD_STALE,   /* a stale entry was revalidated */
	FWD_REQUEST, /* the request asked not to use the cache */
	FWD_METHOD,  /* the method is not served from a cache */
};

static const char *const proxy_fwd_names[] = {
        [FWD_MISS] = "uri-miss",   [FWD_VARY] = "vary-miss", [FWD_STALE] = "stale",
        [FWD_REQUEST] = "request", [FWD_METHOD] = "method",
};

static enum proxy_outcome proxy_lookup(struct proxy *p, struct proxy_request *r);
static enum proxy_outcome proxy_pass(struct proxy *p, struct proxy_request *r);
static enum proxy_outcome proxy_purge(struct proxy *p, struct proxy_request *r);
static void proxy_go_origin(struct proxy *p, struct proxy_request *r);
static void proxy_shared_lookup(struct worker_job *job, bool cancelled);
static void proxy_shared_invalidate(struct worker_job *job, bool cancelled);
static void proxy_fetch(struct proxy *p, struct proxy_request *r, const char *method);
static void proxy_fetched(struct origin_fetch *f);
static void proxy_passed(struct origin_fetch *f);
static void proxy_streaming(struct origin_fetch *f);
static bool proxy_may_stream(const struct origin_fetch *f);
static size_t proxy_stream_over(const struct proxy *p, const struct proxy_request *r);
static void proxy_streamed(struct origin_fetch *f);
static void proxy_pass_streaming(struct origin_fetch *f);
static void proxy_collapse_finish(struct proxy *p, struct proxy_request *r, struct entry *e,
                                  const struct origin_fetch *err, int fwd_status, bool pass);
static bool proxy_may_collapse(const struct proxy_request *r);
static enum proxy_fwd proxy_fwd_of(const struct proxy_request *r);
static bool proxy_select_304(struct proxy *p, struct proxy_request *r,
                             const struct origin_fetch *f);
static struct proxy_write *proxy_head_update(struct proxy *p, struct proxy_request *r,
                                             const struct entry *head);
static bool proxy_answer_stored(struct proxy_request *r, struct entry *e, enum rfc9111_use use,
                                const char *detail);
static void proxy_revalidate_behind(struct proxy *p, const struct proxy_request *r,
                                    struct entry *e);
static bool proxy_serve_stale_on_error(struct proxy *p, struct proxy_request *r, int fwd_status);
static bool proxy_only_if_cached(const struct proxy_request *r);
static void proxy_reply_only_if_cached(struct proxy_request *r);

/* The request that contains job (every job of a request is its r->job). */
static struct proxy_request *
proxy_of_job(struct worker_job *job)
{
	return (struct proxy_request *)(void *)((char *)job - offsetof(struct proxy_request, job));
}

/* The watch saw a new namespace generation: everything stored locally is from the old one. */
static void
proxy_namespace_changed(void *arg)
{
	struct proxy *p = arg;

	atomic_fetch_add(&p->epoch, 1);
	local_clear(p->local);
	log_info("memcached namespace generation changed: local tier emptied");
}

/* Creates the proxy over its tiers (borrowed; they must outlive it). */
struct proxy *
proxy_create(const struct config *cfg, struct local *local, struct origin *origin,
             struct shared *shared)
{
	struct proxy *p = xcalloc(1, sizeof(*p));

	p->cfg = cfg;
	atomic_init(&p->live, cfg);
	p->local = local;
	p->origin = origin;
	p->shared = shared;
	p->settings.default_ttl = cfg->local_default_ttl;
	p->settings.heuristic_max = cfg->local_heuristic_max;
	p->settings.stale_if_error = cfg->local_stale_if_error;
	p->settings.targeted = cfg->http_targeted_cc;
	p->settings.max_stale_keep = cfg->local_max_stale_keep;
	p->collapse = collapse_create();
	if (shared != NULL) {
		/* memcached operations block for up to timeout_ms: enough threads that a slow
		 * server does not hold up the others */
		unsigned n = 2 * util_ncpus();
		n = n < 4 ? 4 : n > 64 ? 64 : n;
		p->worker = worker_create(n, PROXY_MAX_WRITES);
		shared_refresh(shared);
		shared_watch(shared, PROXY_WATCH_MS, proxy_namespace_changed, p);
	}
	return p;
}

/* The configuration new requests run with (borrowed: configs live until the proxy is freed). */
const struct config *
proxy_config(struct proxy *p)
{
	return atomic_load_explicit(&p->live, memory_order_acquire);
}

/* Makes cfg (borrowed; it must outlive the proxy) the configuration of new requests. */
void
proxy_reconfigure(struct proxy *p, const struct config *cfg)
{
	atomic_store_explicit(&p->live, cfg, memory_order_release);
}

/* Stops the generation watch and the worker pool (queued lookups and purges finish). */
void
proxy_stop(struct proxy *p)
{
	if (p->shared != NULL)
		shared_unwatch(p->shared);
	if (p->worker != NULL)
		worker_stop(p->worker);
}

/* Stops the proxy if needed and frees it. */
void
proxy_destroy(struct proxy *p)
{
	if (p == NULL)
		return;
	proxy_stop(p);
	worker_destroy(p->worker);
	collapse_destroy(p->collapse);
	free(p);
}

static bool
proxy_is_method(const struct proxy_request *r, const char *m)
{
	return strcmp(r->method, m) == 0;
}

/* True when the target's path (before any query) is path. */
static bool
proxy_target_is(const char *target, const char *path)
{
	size_t n = strlen(path);

	return strncmp(target, path, n) == 0 && (target[n] == '\0' || target[n] == '?');
}

/* The server queued r's reply: records its latency (hits, misses, revalidations only). */
void
proxy_reply_queued(struct proxy_request *r)
{
	if (r->latency_path != 0)
		histogram_record((enum histogram_path)(r->latency_path - 1),
		                 histogram_now_ns() - r->start_ns);
}

/* Sets r->reply to a short plain-text answer (status and one line of text). */
void
proxy_reply_text(struct proxy_request *r, int status, const char *text)
{
	r->reply.status = status;
	r->reply.body = xasprintf("%s\n", text);
	r->reply.body_len = strlen(r->reply.body);
	http_headers_set(&r->reply.headers, "Content-Type", "text/plain; charset=utf-8");
}

/*
 * Sets the list-valued field name of dst to the values it has in src followed by our member
 * (Via, Cache-Status: each hop appends itself), built in one buffer.
 */
static void
proxy_list_append(struct http_headers *dst, const struct http_headers *src, const char *name,
                  const char *member)
{
	struct buf v = {0};

	for (size_t i = 0; i < src->n; i++) {
		if (!http_name_eq(src->v[i].name, name) || src->v[i].value[0] == '\0')
			continue;
		buf_puts(&v, src->v[i].value);
		buf_append(&v, ", ", 2);
	}
	buf_puts(&v, member);
	http_headers_set(dst, name, v.data);
	buf_free(&v);
}

/* proxy_list_append with the fields of a stored response as the source. */
static void
proxy_entry_list_append(struct http_headers *dst, const struct entry *src, const char *name,
                        const char *member)
{
	struct buf v = {0};
	const char *n, *value;

	for (size_t pos = 0; entry_field_next(src, &pos, &n, &value);) {
		if (!http_name_eq(n, name) || value[0] == '\0')
			continue;
		buf_puts(&v, value);
		buf_append(&v, ", ", 2);
	}
	buf_puts(&v, member);
	http_headers_set(dst, name, v.data);
	buf_free(&v);
}

/* Adds Age, Via and Cache-Status of an answer from entry e at now to r->reply.headers. */
static void
proxy_reply_entry_headers(struct proxy_request *r, const struct entry *e, enum proxy_fwd fwd,
                          int fwd_status, bool stored, const char *detail, int64_t now)
{
	struct buf cs = {0};
	bool reused = r->collapsed == PROXY_COLLAPSED;

	if (fwd == FWD_NONE || fwd == FWD_STALE || stored || reused) {
		char age[24];
		snprintf(age, sizeof(age), "%lld", (long long)entry_age(e, now));
		http_headers_set(&r->reply.headers, "Age", age);
	}
	proxy_entry_list_append(&r->reply.headers, e, "Via", PROXY_VIA);
	buf_puts(&cs, "tiercache");
	if (fwd == FWD_NONE)
		buf_puts(&cs, "; hit");
	else
		buf_printf(&cs, "; fwd=%s", proxy_fwd_names[fwd]);
	if (fwd != FWD_NONE && fwd_status != 0)
		buf_printf(&cs, "; fwd-status=%d", fwd_status);
	if (stored && fwd != FWD_NONE)
		buf_puts(&cs, "; stored");
	if (r->collapsed != 0)
		buf_puts(&cs, reused ? "; collapsed" : "; collapsed=?0");
	if (fwd == FWD_NONE || stored || reused)
		buf_printf(&cs, "; ttl=%lld", (long long)entry_ttl(e, now));
	if (detail)
		buf_printf(&cs, "; detail=%s", detail);
	proxy_entry_list_append(&r->reply.headers, e, "Cache-Status", cs.data);
	buf_free(&cs);
}

/*
 * Answers from entry e (a new reference is taken). Responses that come from the cache carry
 * Age; every response carries Via and Cache-Status (with ttl when the entry is stored).
 * A plain hit (the stored status, nothing about this request in the headers) is only marked:
 * its headers are a function of the entry and the second alone, so the server may send a
 * response it already built for both, and asks proxy_reply_plain_headers only otherwise.
 * Whatever makes a hit's headers depend on more than that must not leave it plain.
 */
static void
proxy_reply_entry(struct proxy_request *r, struct entry *e, int status, enum proxy_fwd fwd,
                  int fwd_status, bool stored, const char *detail)
{
	int64_t now = util_now();

	enum histogram_path path = fwd == FWD_NONE    ? HISTOGRAM_HIT
	                           : fwd == FWD_STALE ? HISTOGRAM_REVALIDATED
	                                              : HISTOGRAM_MISS;
	r->latency_path = fwd == FWD_METHOD ? 0 : (uint8_t)(1 + path);
	r->reply.status = status;
	r->reply.entry = entry_ref(e);
	r->reply.at = now;
	if (fwd == FWD_NONE && status == e->status && r->collapsed == 0 && detail == NULL) {
		r->reply.plain_hit = true;
		return;
	}
	proxy_reply_entry_headers(r, e, fwd, fwd_status, stored, detail, now);
}

/* Adds the headers of a plain hit (r->reply.plain_hit) to r->reply.headers. */
void
proxy_reply_plain_headers(struct proxy_request *r)
{
	TC_ASSERT(r->reply.plain_hit && r->reply.entry != NULL);
	proxy_reply_entry_headers(r, r->reply.entry, FWD_NONE, 0, true, NULL, r->reply.at);
}

/*
 * Answers an origin failure: 504 for a timeout, or when r holds a stale response that may not
 * be served without revalidation (must-revalidate, proxy-revalidate, s-maxage: RFC 9111
 * section 5.2.2.2 asks for 504); 502 for anything else.
 */
static void
proxy_reply_origin_error(struct proxy_request *r, const struct origin_fetch *f)
{
	const struct entry *s = r->stale != NULL ? r->stale : r->grace;
	bool timeout =
	        f->error == ORIGIN_TIMEOUT || (s != NULL && f->error != ORIGIN_SHUTDOWN &&
	                                       (s->cc.must_revalidate || s->cc.proxy_revalidate ||
	                                        s->cc.s_maxage.state != CC_ABSENT));
	char *text =
	        xasprintf("%s: origin %s (%s)", timeout ? "504 Gateway Timeout" : "502 Bad Gateway",
	                  origin_error_name(f->error), f->error_text ? f->error_text : "");
	const char *detail = f->error == ORIGIN_TIMEOUT     ? "origin-timeout"
	                     : f->error == ORIGIN_SHUTDOWN  ? "shutdown"
	                     : f->error == ORIGIN_TRUNCATED ? "origin-truncated"
	                     : f->error == ORIGIN_INVALID   ? "origin-invalid"
	                                                    : "origin-unreachable";
	char *cs = xasprintf(
	        "tiercache; fwd=%s; detail=%s%s",
	        proxy_is_method(r, "GET") || proxy_is_method(r, "HEAD") ? "miss" : "method", detail,
	        r->collapsed == PROXY_COLLAPSED  ? "; collapsed"
	        : r->collapsed == PROXY_RELEASED ? "; collapsed=?0"
	                                         : "");

	proxy_reply_text(r, timeout ? 504 : 502, text);
	if (proxy_is_method(r, "GET") || proxy_is_method(r, "HEAD"))
		r->latency_path = 1 + (r->stale != NULL ? HISTOGRAM_REVALIDATED : HISTOGRAM_MISS);
	http_headers_set(&r->reply.headers, "Via", PROXY_VIA);
	http_headers_set(&r->reply.headers, "Cache-Status", cs);
	free(text);
	free(cs);
}

/* Probes the memcached servers that are down (worker thread); a cancelled job only ends. */
static void
proxy_mc_probe_run(struct worker_job *job, bool cancelled)
{
	struct proxy_mc_probe *pr = (struct proxy_mc_probe *)job;
	struct proxy *p = pr->p;

	if (!cancelled)
		shared_probe_down(p->shared);
	free(pr);
	atomic_store(&p->mc_probing, false);
}

/*
 * /healthz was asked: when a memcached server is down, queues one probe of the servers that
 * are down (at most one at a time and one a second), so that a server without traffic is seen
 * to come back. Never waits.
 */
static void
proxy_mc_probe(struct proxy *p)
{
	int64_t now = util_monotonic_ms();
	bool down = false, idle = false;

	for (size_t i = 0; p->shared != NULL && i < shared_nservers(p->shared) && !down; i++) {
		struct shared_server_info si;
		shared_server_info(p->shared, i, &si);
		down = si.down;
	}
	if (!down || now - atomic_load(&p->mc_probe_ms) < 1000 ||
	    !atomic_compare_exchange_strong(&p->mc_probing, &idle, true))
		return;
	atomic_store(&p->mc_probe_ms, now);
	struct proxy_mc_probe *pr = xcalloc(1, sizeof(*pr));
	pr->p = p;
	pr->job.fn = proxy_mc_probe_run;
	if (!worker_submit(p->worker, &pr->job, WORKER_BACKGROUND))
		proxy_mc_probe_run(&pr->job, true);
}

/* The administrative endpoints of [stats] (path, metrics_path, health_path). */
enum proxy_admin_kind { ADMIN_STATS, ADMIN_METRICS, ADMIN_HEALTH };

/*
 * Serves an administrative endpoint: /stats (JSON, or the HTML page for a browser) and
 * /metrics to allowed clients only; /healthz to everyone (a load balancer checks it from
 * wherever it runs), with memcached addresses only for allowed clients.
 */
static enum proxy_outcome
proxy_admin(struct proxy *p, struct proxy_request *r, enum proxy_admin_kind kind)
{
	struct buf doc = {0};
	bool allowed = acl_allows(r->cfg->stats_allow_acl, (const struct sockaddr *)&r->client);
	const char *type = "application/json";

	if (!allowed && kind != ADMIN_HEALTH) {
		proxy_reply_text(r, 403, "403 Forbidden: this address may not read statistics");
		return PROXY_REPLIED;
	}
	if (!proxy_is_method(r, "GET") && !proxy_is_method(r, "HEAD")) {
		proxy_reply_text(r, 405, "405 Method Not Allowed: use GET");
		http_headers_set(&r->reply.headers, "Allow", "GET, HEAD");
		return PROXY_REPLIED;
	}
	r->reply.status = 200;
	if (kind == ADMIN_METRICS) {
		metrics_write(&doc, p->local, p->shared, p->origin);
		type = METRICS_CONTENT_TYPE;
	} else if (kind == ADMIN_HEALTH) {
		r->reply.status = admin_health_json(&doc, p->local, p->shared, p->origin, allowed);
		/* refreshes missing, bad or old evidence for the next check, without waiting */
		origin_probe(p->origin);
		proxy_mc_probe(p);
	} else {
		const char *q = strchr(r->target, '?');
		if (admin_wants_html(http_headers_get(&r->headers, "Accept"), q ? q + 1 : NULL)) {
			buf_puts(&doc, admin_stats_page);
			type = "text/html; charset=utf-8";
		} else {
			admin_stats_json(&doc, r->cfg, p->local, p->shared);
		}
		http_headers_set(&r->reply.headers, "Vary", "Accept");
	}
	r->reply.body = buf_steal(&doc, &r->reply.body_len);
	http_headers_set(&r->reply.headers, "Content-Type", type);
	http_headers_set(&r->reply.headers, "Cache-Control", "no-store");
	return PROXY_REPLIED;
}

/* Handles a complete request (headers and body received). */
enum proxy_outcome
proxy_handle(struct proxy *p, struct proxy_request *r)
{
	r->proxy = p;
	if (r->cfg == NULL)
		r->cfg = proxy_config(p);
	if (proxy_target_is(r->target, r->cfg->stats_path))
		return proxy_admin(p, r, ADMIN_STATS);
	if (proxy_target_is(r->target, r->cfg->stats_metrics_path))
		return proxy_admin(p, r, ADMIN_METRICS);
	if (proxy_target_is(r->target, r->cfg->stats_health_path))
		return proxy_admin(p, r, ADMIN_HEALTH);
	if (proxy_is_method(r, "PURGE"))
		return proxy_purge(p, r);

	stats_inc(STAT_requests_total);
	if (proxy_is_method(r, "GET")) {
		stats_inc(STAT_requests_get);
		return proxy_lookup(p, r);
	}
	if (proxy_is_method(r, "HEAD")) {
		stats_inc(STAT_requests_head);
		return proxy_lookup(p, r);
	}
	stats_inc(STAT_requests_other);
	return proxy_pass(p, r);
}

/* True when the request forbids answering from the cache without validation. */
static bool
proxy_request_wants_validation(const struct proxy_request *r, const struct cache_control *cc)
{
	if (cc->no_cache || cc->no_cache_fields || /* a request's no-cache takes no argument */
	    (cc->max_age.state == CC_SET && cc->max_age.value == 0))
		return true;
	if (!cc->any) {
		char *pragma = http_headers_join(&r->headers, "Pragma");
		bool no_cache = http_list_has_token(pragma, "no-cache");
		free(pragma);
		return no_cache;
	}
	return false;
}

static void
proxy_request_cc(const struct proxy_request *r, struct cache_control *cc)
{
	char *v = http_headers_join(&r->headers, "Cache-Control");

	cachecontrol_parse(v, cc);
	free(v);
}

/* What stored entry e may do for r now (RFC 9111 section 4, RFC 5861): see rfc9111_use. */
static enum rfc9111_use
proxy_use(const struct proxy_request *r, const struct entry *e, int64_t now)
{
	struct cache_control req_cc;
	bool pragma = false;

	proxy_request_cc(r, &req_cc);
	if (!req_cc.any) {
		char *v = http_headers_join(&r->headers, "Pragma");
		pragma = http_list_has_token(v, "no-cache");
		free(v);
	}
	return rfc9111_use(&req_cc, pragma, &e->cc, e->lifetime, entry_age(e, now));
}

/* True when stored entry e is the variant r selects (its Vary headers match). */
static bool
proxy_variant_ok(const struct proxy_request *r, const struct entry *e)
{
	bool never = false, same;
	char *vk;

	if (entry_vary_key(e) == NULL)
		return true;
	char *vary = entry_join(e, "Vary");
	vk = key_vary(vary, &r->headers, &never);
	free(vary);
	same = !never && vk != NULL && strcmp(vk, entry_vary_key(e)) == 0;
	free(vk);
	return same;
}

/* The key of the variant of spec that r selects (a new string), or NULL. */
static char *
proxy_variant_key(const struct proxy_request *r, const struct entry *spec)
{
	const char *id = entry_spec_id(spec);
	char hash[KEY_HASH_LEN + 1];
	char *vk, *k = NULL;

	if (id == NULL)
		return NULL;
	vk = key_vary(entry_get(spec, "Vary"), &r->headers, NULL);
	if (vk != NULL) {
		key_variant_hash(vk, hash);
		k = key_variant(r->key, id, hash);
	}
	free(vk);
	return k;
}

/* Makes spec (a new reference is taken) r's vary spec; r->vkey is the variant r selects. */
static void
proxy_set_spec(struct proxy_request *r, struct entry *spec)
{
	entry_ref(spec);
	entry_unref(r->spec);
	r->spec = spec;
	free(r->vkey);
	r->vkey = proxy_variant_key(r, spec);
}

/*
 * Looks r up in the local tier: the response stored under its primary key, or, when that is
 * the URL's vary spec, the variant r's headers select. A new reference, or NULL.
 */
static struct entry *
proxy_local_find(struct proxy *p, struct proxy_request *r, int64_t now)
{
	struct entry *e = local_lookup(p->local, r->key, now);

	if (e != NULL && e->vary_spec) {
		proxy_set_spec(r, e);
		entry_unref(e);
		e = r->vkey != NULL ? local_lookup(p->local, r->vkey, now) : NULL;
	}
	if (e != NULL && (e->vary_spec || !proxy_variant_ok(r, e))) {
		entry_unref(e); /* a spec is never a response, wherever it is found */
		e = NULL;
	}
	return e;
}

/* The variant keys a vary spec lists, for primary (*n of them; free each and the array). */
static char **
proxy_spec_keys(const struct entry *spec, const char *primary, size_t *n)
{
	const char *id = entry_spec_id(spec);
	char **keys = NULL;

	*n = 0;
	if (id == NULL)
		return NULL;
	keys = xcalloc(ENTRY_SPEC_MAX, sizeof(keys[0]));
	/* a spec from memcached is untrusted: no more than a spec can list */
	const char *name, *value;
	for (size_t pos = 0; *n < ENTRY_SPEC_MAX && entry_field_next(spec, &pos, &name, &value);) {
		char hash[KEY_HASH_LEN + 1];
		if (strcasecmp(name, ENTRY_SPEC_VARIANT) != 0 || strlen(value) < KEY_HASH_LEN)
			continue;
		memcpy(hash, value, KEY_HASH_LEN);
		hash[KEY_HASH_LEN] = '\0';
		keys[(*n)++] = key_variant(primary, id, hash);
	}
	return keys;
}

static void
proxy_keys_free(char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

/*
 * Removes a URL from the local tier: the response under its primary key, or its vary spec and
 * every variant the spec lists. True when something was stored.
 */
static bool
proxy_local_remove_url(struct proxy *p, const char *key)
{
	struct entry *e = local_lookup(p->local, key, util_now());
	bool found = local_remove(p->local, key);
	size_t n = 0;
	char **keys = proxy_spec_keys(e, key, &n);

	for (size_t i = 0; i < n; i++)
		local_remove(p->local, keys[i]);
	proxy_keys_free(keys, n);
	entry_unref(e);
	return found;
}

/*
 * Removes a URL from memcached: its record, or its vary spec and every variant it lists (from
 * the local tier too: the memcached spec may list variants the local one has not seen).
 */
static bool
proxy_shared_remove_url(struct proxy *p, const char *key)
{
	enum shared_source from = SHARED_NONE;
	struct entry *e = shared_lookup(p->shared, key, &from);
	size_t n = 0;
	char **keys = proxy_spec_keys(e, key, &n);

	for (size_t i = 0; i < n; i++) {
		shared_delete(p->shared, keys[i]);
		local_remove(p->local, keys[i]);
	}
	proxy_keys_free(keys, n);
	entry_unref(e);
	return shared_delete(p->shared, key);
}

/* True when the client's own validators match e, so 304 replaces e's 2xx (RFC 9110 13.2.1). */
static bool
proxy_not_modified(const struct proxy_request *r, const struct entry *e)
{
	/* without Last-Modified, If-Modified-Since is compared with the stored Date (RFC 9111
	 * section 4.3.2) */
	const char *lm =
	        entry_last_modified(e) != NULL ? entry_last_modified(e) : entry_get(e, "Date");

	return e->status >= 200 && e->status < 300 &&
	       rfc9111_client_not_modified(&r->headers, entry_etag(e), lm);
}

/* True when r has a field that can change the answer from a stored response: If-*, Range. */
static bool
proxy_has_conditionals(const struct proxy_request *r)
{
	for (size_t i = 0; i < r->headers.n; i++) {
		const char *n = r->headers.v[i].name;
		if ((n[0] == 'I' || n[0] == 'i') && strncasecmp(n, "If-", 3) == 0)
			return true;
		if ((n[0] == 'R' || n[0] == 'r') && strcasecmp(n, "Range") == 0)
			return true;
	}
	return false;
}

/*
 * Answers r from entry e as RFC 9110 section 13.2.2 orders the client's conditionals: a
 * failed If-Match / If-Unmodified-Since is 412; a matching If-None-Match / If-Modified-Since
 * is 304 (only when may_304); then a single byte Range of a GET on a 200 (If-Range allowing)
 * is 206 from the stored body, or 416 when unsatisfiable. Otherwise e's own status.
 */
static void
proxy_answer(struct proxy_request *r, struct entry *e, enum proxy_fwd fwd, int fwd_status,
             bool stored, const char *detail, bool may_304)
{
	int64_t first = 0, last = 0;
	enum rfc9111_range range = RFC9111_RANGE_NONE;

	if (!proxy_has_conditionals(r)) { /* the common case: one pass over the fields */
		proxy_reply_entry(r, e, e->status, fwd, fwd_status, stored, detail);
		return;
	}
	if (rfc9111_precondition_failed(&r->headers, e->status, entry_etag(e),
	                                entry_last_modified(e))) {
		proxy_reply_entry(r, e, 412, fwd, fwd_status, stored, detail);
		entry_unref(r->reply.entry);
		r->reply.entry = NULL;
		http_headers_remove(&r->reply.headers, "Age");
		proxy_reply_text(r, 412,
		                 "412 Precondition Failed: the stored response does not "
		                 "match If-Match / If-Unmodified-Since");
		if (entry_etag(e) != NULL)
			http_headers_set(&r->reply.headers, "ETag", entry_etag(e));
		return;
	}
	if (may_304 && proxy_not_modified(r, e)) {
		stats_inc(STAT_client_not_modified);
		proxy_reply_entry(r, e, 304, fwd, fwd_status, stored, detail);
		return;
	}
	if (e->status == 200 && proxy_is_method(r, "GET") &&
	    rfc9111_if_range_ok(&r->headers, entry_etag(e), entry_last_modified(e)))
		range = rfc9111_range_parse(http_headers_get(&r->headers, "Range"),
		                            (int64_t)e->body_len, &first, &last);
	if (range == RFC9111_RANGE_ONE) {
		char cr[80];
		proxy_reply_entry(r, e, 206, fwd, fwd_status, stored, detail);
		r->reply.ranged = true;
		r->reply.range_first = (size_t)first;
		r->reply.range_len = (size_t)(last - first + 1);
		snprintf(cr, sizeof(cr), "bytes %lld-%lld/%zu", (long long)first, (long long)last,
		         e->body_len);
		http_headers_set(&r->reply.headers, "Content-Range", cr);
	} else if (range == RFC9111_RANGE_UNSATISFIABLE) {
		char cr[40];
		proxy_reply_entry(r, e, 416, fwd, fwd_status, stored, detail);
		entry_unref(r->reply.entry);
		r->reply.entry = NULL;
		proxy_reply_text(r, 416, "416 Range Not Satisfiable");
		snprintf(cr, sizeof(cr), "bytes */%zu", e->body_len);
		http_headers_set(&r->reply.headers, "Content-Range", cr);
	} else {
		proxy_reply_entry(r, e, e->status, fwd, fwd_status, stored, detail);
	}
}

/* Answers r from stored entry e (a hit), evaluating the client's conditionals and Range. */
static void
proxy_serve_hit(struct proxy_request *r, struct entry *e, const char *detail)
{
	proxy_answer(r, e, FWD_NONE, 0, true, detail, true);
}

/* The request that contains link (a waiter's r->collapse). */
static struct proxy_request *
proxy_of_link(struct collapse_link *link)
{
	return (struct proxy_request *)(void *)((char *)link -
	                                        offsetof(struct proxy_request, collapse));
}

/* True when r may lead or wait for a shared answer (see the comment at the top). */
static bool
proxy_may_collapse(const struct proxy_request *r)
{
	struct cache_control cc;

	if (http_headers_get(&r->headers, "Authorization") != NULL)
		return false;
	proxy_request_cc(r, &cc);
	return !cc.no_store && !cc.only_if_cached && !proxy_request_wants_validation(r, &cc);
}

/*
 * A waiter w released because the leader's answer is another variant of the URL collapses
 * again, with the other waiters for its own variant (the URL's vary spec, just stored, names
 * it): the first leads (it goes to the origin), the others wait for it. False when w goes on
 * alone (no spec, not a GET, or the variant's key is hit-for-pass): the caller sends it on.
 */
static bool
proxy_recollapse(struct proxy *p, struct proxy_request *w, int64_t now)
{
	struct entry *spec = local_lookup(p->local, w->key, now);
	bool pass = false;

	if (spec != NULL && spec->vary_spec)
		proxy_set_spec(w, spec);
	entry_unref(spec);
	if (w->vkey == NULL || !proxy_is_method(w, "GET"))
		return false;
	switch (collapse_join(p->collapse, w->vkey, &w->collapse, true, now, &pass)) {
	case COLLAPSE_WAITER:
		stats_inc(STAT_collapsed_waiters);
		return true; /* w belongs to that variant's leader now */
	case COLLAPSE_LEADER:
		w->collapse_leader = true;
		free(w->ckey);
		w->ckey = xstrdup(w->vkey);
		return false;
	case COLLAPSE_ALONE:
		break;
	}
	return false;
}

/*
 * The leader r has its answer (call before its resume; nothing when r does not lead): each
 * waiter gets the origin failure err when there is one, else e (NULL: nothing to share) when
 * it selects that variant, with fwd_status (0: not from the origin); a waiter that gets
 * neither goes to the origin itself. pass marks the key hit-for-pass.
 */
static void
proxy_collapse_finish(struct proxy *p, struct proxy_request *r, struct entry *e,
                      const struct origin_fetch *err, int fwd_status, bool pass)
{
	int64_t now = util_now();
	struct collapse_link *l;

	if (!r->collapse_leader)
		return;
	r->collapse_leader = false;
	l = collapse_finish(p->collapse, r->ckey != NULL ? r->ckey : r->key, &r->collapse,
	                    pass ? now + COLLAPSE_PASS_SECONDS : 0, now);
	while (l != NULL) {
		struct proxy_request *w = proxy_of_link(l);
		l = l->next; /* w may be gone once it is resumed */
		if (err != NULL) {
			w->collapsed = PROXY_COLLAPSED;
			if (!proxy_serve_stale_on_error(p, w, 0))
				proxy_reply_origin_error(w, err);
			w->resume(w);
		} else if (e != NULL && proxy_variant_ok(w, e)) {
			enum proxy_fwd fwd = proxy_fwd_of(w);
			w->collapsed = PROXY_COLLAPSED;
			proxy_answer(w, e, fwd, fwd_status, false, NULL, true);
			w->resume(w);
		} else {
			w->collapsed = PROXY_RELEASED;
			if (e == NULL || !proxy_recollapse(p, w, now))
				proxy_go_origin(p, w);
		}
	}
}

/* True when r asks for several byte ranges (left to the origin, RFC 9110 14.2). */
static bool
proxy_multi_range(const struct proxy_request *r)
{
	int64_t first, last;

	return rfc9111_range_parse(http_headers_get(&r->headers, "Range"), INT64_MAX, &first,
	                           &last) == RFC9111_RANGE_MULTI;
}

/* True when r carries only-if-cached: it is answered from a stored response or 504. */
static bool
proxy_only_if_cached(const struct proxy_request *r)
{
	struct cache_control cc;

	proxy_request_cc(r, &cc);
	return cc.only_if_cached;
}

/* The 504 of only-if-cached when nothing usable is stored (RFC 9111 section 5.2.1.7). */
static void
proxy_reply_only_if_cached(struct proxy_request *r)
{
	stats_inc(STAT_only_if_cached_misses);
	proxy_reply_text(r, 504,
	                 "504 Gateway Timeout: only-if-cached, and no usable response is stored");
	http_headers_set(&r->reply.headers, "Via", PROXY_VIA);
	http_headers_set(&r->reply.headers, "Cache-Status", "tiercache; detail=only-if-cached");
}

/* The origin statuses a stale response may stand in for (RFC 5861 section 4). */
static bool
proxy_error_status(int status)
{
	return status == 500 || status == 502 || status == 503 || status == 504;
}

/* The end of a background revalidation: nobody waits for its reply. */
static void
proxy_behind_done(struct proxy_request *b)
{
	proxy_request_release(b);
	free(b);
}

/*
 * Starts the background revalidation of stale entry e that r was just served from
 * (stale-while-revalidate): a request of its own, GET with r's end-to-end fields but none of
 * its cache directives or preconditions, that leads the collapse of the key, so one runs per
 * key at a time (none starts while any fetch for the key is in flight). Its answer is stored
 * as any other; its reply goes nowhere.
 */
static void
proxy_revalidate_behind(struct proxy *p, const struct proxy_request *r, struct entry *e)
{
	struct proxy_request *b = xcalloc(1, sizeof(*b));

	b->proxy = p;
	b->cfg = r->cfg; /* the configuration of the request that started it */
	b->method = xstrdup("GET");
	b->target = xstrdup(r->target);
	b->key = xstrdup(r->key);
	b->resume = proxy_behind_done;
	b->epoch = atomic_load(&p->epoch);
	for (size_t i = 0; i < r->headers.n; i++) {
		const char *n = r->headers.v[i].name;
		if (strcasecmp(n, "Cache-Control") == 0 || strcasecmp(n, "Pragma") == 0 ||
		    strncasecmp(n, "If-", 3) == 0 || strcasecmp(n, "Range") == 0)
			continue;
		http_headers_add(&b->headers, n, r->headers.v[i].value);
	}
	if (!collapse_try_lead(p->collapse, b->key, &b->collapse, util_now())) {
		proxy_behind_done(b); /* one is in flight already */
		return;
	}
	b->collapse_leader = true;
	b->stale = entry_ref(e);
	stats_inc(STAT_background_revalidations);
	proxy_go_origin(p, b);
}

/*
 * Answers r from stored entry e, which use says may serve it: fresh, or stale within the
 * request's max-stale or within stale-while-revalidate. detail names the tier for a fresh
 * answer (NULL: the local one). True when e needs a background revalidation: the caller
 * starts it (proxy_revalidate_behind) once r no longer leads its key.
 */
static bool
proxy_answer_stored(struct proxy_request *r, struct entry *e, enum rfc9111_use use,
                    const char *detail)
{
	switch (use) {
	case RFC9111_FRESH:
		proxy_serve_hit(r, e, detail);
		return false;
	case RFC9111_STALE:
		stats_inc(STAT_stale_served);
		proxy_serve_hit(r, e, "max-stale");
		return false;
	case RFC9111_SWR:
		stats_inc(STAT_stale_served);
		proxy_serve_hit(r, e, "stale-while-revalidate");
		return true;
	case RFC9111_VALIDATE:
		break;
	}
	TC_ASSERT(!"a stored response that needs validation is not served");
	return false;
}

/*
 * When the origin failed (fwd_status 0) or answered 500, 502, 503 or 504, answers r from its
 * stale entry if stale-if-error allows it (RFC 5861 section 4); false when it does not.
 */
static bool
proxy_serve_stale_on_error(struct proxy *p, struct proxy_request *r, int fwd_status)
{
	struct entry *s = r->stale != NULL ? r->stale : r->grace;
	struct cache_control req_cc;
	int64_t now = util_now();

	if (s == NULL || !proxy_variant_ok(r, s))
		return false;
	proxy_request_cc(r, &req_cc);
	if (!rfc9111_serve_on_error(&req_cc, &s->cc, s->lifetime, entry_age(s, now), &p->settings))
		return false;
	if (r->resume != proxy_behind_done) {
		stats_inc(STAT_stale_served);
		stats_inc(STAT_stale_if_error);
	}
	if (proxy_not_modified(r, s)) {
		stats_inc(STAT_client_not_modified);
		proxy_reply_entry(r, s, 304, FWD_STALE, fwd_status, false, "stale-if-error");
	} else {
		proxy_reply_entry(r, s, s->status, FWD_STALE, fwd_status, false, "stale-if-error");
	}
	return true;
}

/* GET and HEAD: the local tier, then memcached (on a worker thread), then the origin. */
static enum proxy_outcome
proxy_lookup(struct proxy *p, struct proxy_request *r)
{
	int64_t now = util_now();
	struct entry *e;

	if (proxy_is_method(r, "GET") && proxy_multi_range(r)) {
		r->range_pass = true; /* the origin answers it; nothing is stored */
		return proxy_pass(p, r);
	}
	r->epoch = atomic_load(&p->epoch);
	r->key = key_build(http_headers_get(&r->headers, "Host"), r->target);
	e = proxy_local_find(p, r, now);
	enum rfc9111_use use = e != NULL ? proxy_use(r, e, now) : RFC9111_VALIDATE;
	if (use != RFC9111_VALIDATE) {
		stats_inc(STAT_local_hits);
		if (proxy_answer_stored(r, e, use, NULL))
			proxy_revalidate_behind(p, r, e);
		entry_unref(e);
		return PROXY_REPLIED;
	}
	stats_inc(STAT_local_misses);
	r->fwd_request = e != NULL && !e->cc.no_cache && entry_is_fresh(e, now);
	if (p->shared == NULL && proxy_only_if_cached(r)) {
		entry_unref(e);
		proxy_reply_only_if_cached(r);
		return PROXY_REPLIED;
	}

	/* kept to revalidate with, unless memcached has something newer */
	r->stale = e;
	if (proxy_may_collapse(r)) {
		bool pass = false;
		switch (collapse_join(p->collapse, r->key, &r->collapse, proxy_is_method(r, "GET"),
		                      now, &pass)) {
		case COLLAPSE_WAITER:
			/* r belongs to the leader now: not touched again here */
			stats_inc(STAT_collapsed_waiters);
			return PROXY_SUSPENDED;
		case COLLAPSE_LEADER:
			r->collapse_leader = true;
			/* a fetch for the key that ended between the lookup and the join stored its
			 * answer: that serves this request and the ones that joined meanwhile */
			e = proxy_local_find(p, r, now);
			if (e != NULL && (use = proxy_use(r, e, now)) != RFC9111_VALIDATE) {
				bool behind = proxy_answer_stored(r, e, use, NULL);
				proxy_collapse_finish(p, r, e, NULL, 0, false);
				if (behind)
					proxy_revalidate_behind(p, r, e);
				entry_unref(e);
				return PROXY_REPLIED;
			}
			entry_unref(e);
			break;
		case COLLAPSE_ALONE:
			if (pass)
				stats_inc(STAT_hit_for_pass);
			break;
		}
	}
	if (p->shared != NULL) {
		r->job.fn = proxy_shared_lookup;
		if (worker_submit(p->worker, &r->job, WORKER_URGENT))
			return PROXY_SUSPENDED;
	}
	proxy_go_origin(p, r);
	return PROXY_SUSPENDED;
}

/* Puts an entry found in memcached for r into the local tier too (when it fits). */
static void
proxy_promote(struct proxy *p, struct proxy_request *r, struct entry *e, int64_t now)
{
	if (e->body_len <= r->cfg->local_max_object_bytes && atomic_load(&p->epoch) == r->epoch)
		local_insert(p->local, e, now);
}

/*
 * Looks r up in memcached (worker thread): the record under its primary key, or, when that is
 * the URL's vary spec, the variant r selects (a spec newer than the local one is adopted and
 * promoted: the fleet converges on the newest); with no record there, the variant of the
 * local spec.
 */
static struct entry *
proxy_shared_find(struct proxy *p, struct proxy_request *r, enum shared_source *from)
{
	struct entry *e = shared_lookup(p->shared, r->key, from);

	if (e != NULL && e->vary_spec) {
		if (r->spec == NULL || entry_is_newer(e, r->spec)) {
			proxy_set_spec(r, e);
			proxy_promote(p, r, e, util_now());
		}
		entry_unref(e);
		e = NULL;
	} else if (e != NULL && r->spec != NULL && entry_is_newer(r->spec, e)) {
		entry_unref(e); /* a response from before the URL's responses varied */
		e = NULL;
	}
	if (e == NULL && r->vkey != NULL)
		e = shared_lookup(p->shared, r->vkey, from);
	if (e != NULL && e->vary_spec) {
		entry_unref(e); /* a spec under a variant key: never a response */
		e = NULL;
	}
	return e;
}

/*
 * The memcached step of a GET or HEAD that missed the local tier (worker thread). A usable
 * record is served and promoted; a stale one newer than the local copy is what the origin
 * revalidates; otherwise the origin is asked. A record from fallback_servers is copied into
 * servers after the request has been handed on.
 */
static void
proxy_shared_lookup(struct worker_job *job, bool cancelled)
{
	struct proxy_request *r = proxy_of_job(job);
	struct proxy *p = r->proxy;
	enum shared_source from = SHARED_NONE;
	struct entry *e = NULL, *warm = NULL;
	int64_t now;

	(void)cancelled; /* an urgent job is never cancelled */
	if (util_monotonic_ms() - job->queued_ms <= (int64_t)r->cfg->mc_timeout_ms)
		e = proxy_shared_find(p, r, &from);
	else
		log_debug("memcached lookup skipped: waited %lld ms for a worker",
		          (long long)(util_monotonic_ms() - job->queued_ms));
	if (e != NULL && !proxy_variant_ok(r, e)) {
		entry_unref(e);
		e = NULL;
	}
	now = util_now();
	if (e != NULL && from == SHARED_FALLBACK)
		warm = entry_ref(e);
	enum rfc9111_use use = e != NULL ? proxy_use(r, e, now) : RFC9111_VALIDATE;
	if (use != RFC9111_VALIDATE) {
		proxy_promote(p, r, e, now);
		bool behind = proxy_answer_stored(
		        r, e, use, from == SHARED_FALLBACK ? "memcached-fallback" : "memcached");
		proxy_collapse_finish(p, r, e, NULL, 0, false);
		if (behind)
			proxy_revalidate_behind(p, r, e);
		entry_unref(e);
		r->resume(r);
	} else if (proxy_only_if_cached(r)) {
		entry_unref(e);
		proxy_reply_only_if_cached(r);
		r->resume(r);
	} else {
		if (e != NULL && (entry_has_validator(e) || r->stale == NULL) &&
		    (r->stale == NULL || entry_is_newer(e, r->stale))) {
			entry_unref(r->stale);
			r->stale = e; /* without a validator, kept for stale-if-error only */
			e = NULL;
		}
		entry_unref(e);
		proxy_go_origin(p, r);
	}
	/* r may be gone now */
	if (warm != NULL) {
		shared_warm(p->shared, warm, now);
		entry_unref(warm);
	}
}

/*
 * Every tier missed: revalidates r->stale with the origin when it has a validator, else
 * fetches (HEAD fills nothing: it goes to the origin as HEAD; GET fetches to store).
 */
static void
proxy_go_origin(struct proxy *p, struct proxy_request *r)
{
	if (r->stale != NULL && entry_has_validator(r->stale)) {
		stats_inc(STAT_origin_revalidations);
		proxy_fetch(p, r, "GET");
		return;
	}
	if (r->stale != NULL) {
		/* nothing to revalidate with: kept only to answer an origin failure */
		entry_unref(r->grace);
		r->grace = r->stale;
		r->stale = NULL;
	}
	proxy_fetch(p, r, r->method);
}

/*
 * True for the request fields the proxy evaluates itself against the response it fetches
 * (the client's validators, preconditions and Range: the full response is fetched to fill
 * the cache, and the range is cut from it).
 */
static bool
proxy_evaluated_here(const char *name)
{
	static const char *const names[] = {"If-None-Match", "If-Modified-Since",
	                                    "If-Match",      "If-Unmodified-Since",
	                                    "Range",         "If-Range"};

	for (size_t i = 0; i < TC_ARRAY_LEN(names); i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	return false;
}

/*
 * Adds the validators of what is stored for r's URL to its origin request h (RFC 9111
 * 4.3.1): If-None-Match with the ETag of r->stale and, for a GET, those of every other variant
 * the URL's vary spec lists (the origin may answer 304 naming one of them), and
 * If-Modified-Since with r->stale's Last-Modified. Sets r->conditional when it added any.
 */
static void
proxy_add_validators(struct proxy_request *r, struct http_headers *h, bool all_variants)
{
	struct buf inm = {0};
	const char *own = r->stale != NULL ? entry_etag(r->stale) : NULL;

	if (own != NULL)
		buf_puts(&inm, own);
	const char *name, *value;
	for (size_t pos = 0, listed = 0; all_variants && r->spec != NULL &&
	                                 listed < ENTRY_SPEC_MAX &&
	                                 entry_field_next(r->spec, &pos, &name, &value);) {
		const char *etag = value + KEY_HASH_LEN + 1;
		if (strcasecmp(name, ENTRY_SPEC_VARIANT) != 0 || strlen(value) <= KEY_HASH_LEN + 1)
			continue;
		listed++;
		/* only entity-tags (the spec may come from memcached: untrusted) */
		if ((etag[0] != '"' && strncmp(etag, "W/\"", 3) != 0) ||
		    (own != NULL && strcmp(etag, own) == 0))
			continue;
		if (inm.len > 0)
			buf_append(&inm, ", ", 2);
		buf_puts(&inm, etag);
	}
	if (inm.len > 0) {
		http_headers_add(h, "If-None-Match", inm.data);
		r->conditional = true;
	}
	buf_free(&inm);
	if (r->stale != NULL && entry_last_modified(r->stale) != NULL) {
		http_headers_add(h, "If-Modified-Since", entry_last_modified(r->stale));
		r->conditional = true;
	}
}

/*
 * Sends r to the origin to fill or revalidate the cache: the client's end-to-end fields,
 * without its own validators (the proxy answers those itself), with the stored validators
 * of r->stale when there is one, and Via.
 */
static void
proxy_fetch(struct proxy *p, struct proxy_request *r, const char *method)
{
	struct origin_fetch *f = &r->fetch;

	f->method = method;
	f->target = r->target;
	for (size_t i = 0; i < r->headers.n; i++) {
		const struct http_header *h = &r->headers.v[i];
		if (proxy_evaluated_here(h->name))
			continue;
		http_headers_add(&f->headers, h->name, h->value);
	}
	r->conditional = false;
	if (!r->unconditional)
		proxy_add_validators(r, &f->headers, strcmp(method, "GET") == 0);
	proxy_list_append(&f->headers, &r->headers, "Via", PROXY_VIA);
	f->done = proxy_fetched;
	f->arg = r;
	/* larger than any tier may store: streamed through, not kept whole (a background
	 * revalidation has no client to stream to) */
	f->stream_over = 0;
	if (r->drop != NULL) {
		f->stream_over = proxy_stream_over(p, r);
	}
	f->streaming = proxy_streaming;
	f->may_stream = proxy_may_stream;
	r->fetching = true;
	origin_submit(p->origin, f);
}

/* Wall-clock milliseconds: when a response arrived, finer than its response_time. */
static int64_t
proxy_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Turns the origin's answer into an entry (taking its headers and body). */
static struct entry *
proxy_entry_from(struct proxy *p, struct origin_fetch *f, const char *key, const char *vary_key,
                 bool keep_length)
{
	size_t len = 0;
	char *body = buf_steal(&f->resp_body, &len);
	struct entry *e;

	/* the buffer grew by doubling: give back what the body does not use before storing */
	if (body != NULL)
		body = xrealloc(body, len ? len : 1);
	if (!keep_length)
		http_headers_remove(&f->resp_headers, "Content-Length");
	e = entry_new(key, vary_key, f->status, &f->resp_headers, body, len, f->request_time,
	              f->response_time, &p->settings);
	e->response_ms = proxy_wall_ms(); /* not published yet */
	return e;
}

/* A memcached write of e (a new reference is taken) or, with e NULL, a delete of key. */
static struct proxy_write *
proxy_write_new(struct proxy *p, struct entry *e, bool update, const char *key)
{
	struct proxy_write *w = xcalloc(1, sizeof(*w));

	w->p = p;
	w->e = e != NULL ? entry_ref(e) : NULL;
	w->update = update;
	w->key = e == NULL ? xstrdup(key) : NULL;
	return w;
}

/* Runs a memcached write (worker thread); a cancelled one only releases what it holds. */
static void
proxy_write_run(struct worker_job *job, bool cancelled)
{
	struct proxy_write *w = (struct proxy_write *)job;

	if (!cancelled && w->e != NULL)
		shared_store(w->p->shared, w->e, w->update, util_now());
	else if (!cancelled && w->key != NULL)
		shared_delete(w->p->shared, w->key);
	for (size_t i = 0; !cancelled && i < w->nmore; i++)
		shared_delete(w->p->shared, w->more[i]);
	entry_unref(w->e);
	free(w->key);
	proxy_keys_free(w->more, w->nmore);
	free(w);
}

/* Queues a memcached write (NULL is ignored); the client already has its answer. */
static void
proxy_write_submit(struct proxy *p, struct proxy_write *w)
{
	if (w == NULL)
		return;
	w->job.fn = proxy_write_run;
	if (!worker_submit(p->worker, &w->job, WORKER_BACKGROUND)) {
		log_debug("memcached write of %s dropped: too many waiting, or stopping",
		          w->e     ? w->e->key
		          : w->key ? w->key
		                   : w->more[0]);
		proxy_write_run(&w->job, true);
	}
}

/* Field names a stored copy leaves out (Set-Cookie and those no-cache / private list). */
struct proxy_omit {
	char *names[PROXY_OMIT_MAX];
	size_t n;
	bool overflow; /* more names than fit: the response is not stored at all */
};

static void
proxy_omit_add(const char *name, size_t len, void *arg)
{
	struct proxy_omit *o = arg;

	if (o->n < PROXY_OMIT_MAX)
		o->names[o->n++] = xstrndup(name, len);
	else
		o->overflow = true;
}

/*
 * The copy of e that may be stored (a new reference): e itself, or e without its Set-Cookie
 * fields (a cookie goes only to the client whose request brought it, never to another one
 * from either tier) and without the fields a qualified no-cache="..." or private="..."
 * names (RFC 9111 5.2.2.4, 5.2.2.7: those may not be stored, the rest may be reused).
 * NULL when more fields are listed than it can leave out: then nothing is stored.
 */
static struct entry *
proxy_storable_copy(struct proxy *p, struct entry *e)
{
	struct proxy_omit o = {.n = 0};
	struct entry *c = NULL;

	if (entry_get(e, "Set-Cookie") != NULL)
		o.names[o.n++] = xstrdup("Set-Cookie");
	if (entry_targeted(e) == NULL && (e->cc.no_cache_fields || e->cc.private_fields)) {
		char *cc = entry_join(e, "Cache-Control");
		cachecontrol_listed_fields(cc, proxy_omit_add, &o);
		free(cc);
	}
	if (o.n == 0)
		return entry_ref(e);
	if (!o.overflow)
		c = entry_without(e, (const char *const *)o.names, o.n, &p->settings);
	for (size_t i = 0; i < o.n; i++)
		free(o.names[i]);
	return c;
}

/* rfc9111_storable for the response stored in e (its fields lent as a list). */
static bool
proxy_storable(const struct rfc9111_request *rq, const struct entry *e, const char **why)
{
	struct http_headers fields = {0};
	bool ok;

	entry_headers(e, &fields);
	ok = rfc9111_storable(rq, e->status, &fields, &e->cc, why);
	http_headers_clear(&fields);
	return ok;
}
/*
 * Decides whether e may be stored for r, and stores it (or its copy without Set-Cookie) in the
 * local tier; with memcached, *w gets the write to queue once the client has its answer (a
 * storable response goes to memcached even when it is too large for the local tier). Returns
 * true when stored locally; *kept then gets a reference to what was stored (what other clients
 * may be answered with).
 */
static bool
proxy_store(struct proxy *p, struct proxy_request *r, struct entry *e, const char **why,
            struct proxy_write **w, struct entry **kept)
{
	struct rfc9111_request rq = {0};
	int64_t now = util_now();
	struct entry *s;

	*kept = NULL;
	rq.is_get = proxy_is_method(r, "GET") || r->stale != NULL;
	rq.has_authorization = http_headers_get(&r->headers, "Authorization") != NULL;
	proxy_request_cc(r, &rq.cc);
	if (!proxy_storable(&rq, e, why))
		return false;
	if (entry_keep_until(e) <= now) {
		*why = "stale-without-validator";
		return false;
	}
	if (atomic_load(&p->epoch) != r->epoch) {
		*why = proxy_why_purged; /* everything was purged while it was fetched */
		return false;
	}
	s = proxy_storable_copy(p, e);
	if (s == NULL) {
		*why = "private"; /* too many fields that may not be stored */
		return false;
	}
	if (p->shared != NULL)
		*w = proxy_write_new(p, s, r->stale != NULL, NULL);
	if (s->body_len > r->cfg->local_max_object_bytes || !local_insert(p->local, s, now)) {
		entry_unref(s);
		*why = "too-large";
		return false;
	}
	*kept = s;
	return true;
}

/* The size beyond which an answer for r is streamed: larger than any tier may store. */
static size_t
proxy_stream_over(const struct proxy *p, const struct proxy_request *r)
{
	uint64_t over = r->cfg->local_max_object_bytes;

	if (p->shared != NULL && r->cfg->mc_max_item_bytes > over)
		over = r->cfg->mc_max_item_bytes;
	return over > SIZE_MAX ? SIZE_MAX : (size_t)over;
}

/*
 * False when a too-large answer must be kept whole after all: a 5xx that a stale entry may
 * replace (stale-if-error is decided once the answer has ended).
 */
static bool
proxy_may_stream(const struct origin_fetch *f)
{
	const struct proxy_request *r = f->arg;

	return !(proxy_error_status(f->status) && (r->stale != NULL || r->grace != NULL));
}

/*
 * The origin's answer to a GET is too large to store: the client gets it as it arrives (fetch
 * thread, while the body is being received; see the top of the file).
 */
static void
proxy_streaming(struct origin_fetch *f)
{
	struct proxy_request *r = f->arg;
	struct proxy *p = r->proxy;
	struct proxy_write *w = NULL;
	struct entry *e = proxy_entry_from(p, f, r->key, NULL, true);

	stats_inc(STAT_origin_streams);
	if (r->stale != NULL) {
		local_remove(p->local, r->stale->key); /* the stored response was replaced */
		if (p->shared != NULL)
			w = proxy_write_new(p, NULL, false, r->stale->key);
	}
	r->reply.stream = stream_ref(f->stream);
	/* the client's conditionals and Range are not evaluated on a body that is not kept: it
	 * gets the origin's answer whole */
	proxy_reply_entry(r, e, e->status, proxy_fwd_of(r), f->status, false, "too-large");
	proxy_collapse_finish(p, r, NULL, NULL, f->status, true);
	entry_unref(e);
	atomic_fetch_add(&r->holds, 1); /* dropped by proxy_streamed */
	r->resume(r);
	proxy_write_submit(p, w);
}

/* A streamed answer's transfer ended (fetch thread): the stream says how to the client. */
static void
proxy_streamed(struct origin_fetch *f)
{
	struct proxy_request *r = f->arg;

	r->fetching = false;
	origin_fetch_release(f);
	r->drop(r);
}

/* True when a 304's ETag names the stored one: weak comparison, or the same bytes. */
static bool
proxy_same_etag(const char *got, const char *stored)
{
	return stored != NULL && (strcmp(got, stored) == 0 || rfc9111_etag_matches(got, stored));
}

/*
 * Which stored response a 304 to r's conditional request selects (RFC 9111 4.3.4): the one
 * whose ETag it names (r->stale, or another variant of the URL listed in r->spec, found in the
 * local tier), or, without an ETag in the 304, r->stale unless its Last-Modified differs.
 * True with r->stale set to the selected response; false when none is selected.
 */
static bool
proxy_select_304(struct proxy *p, struct proxy_request *r, const struct origin_fetch *f)
{
	const char *etag = http_headers_get(&f->resp_headers, "ETag");
	const char *lm = http_headers_get(&f->resp_headers, "Last-Modified");
	size_t n = 0;
	char **keys;
	bool found = false;

	if (etag == NULL)
		return r->stale != NULL && (lm == NULL || entry_last_modified(r->stale) == NULL ||
		                            strcmp(lm, entry_last_modified(r->stale)) == 0);
	if (r->stale != NULL && proxy_same_etag(etag, entry_etag(r->stale)))
		return true;
	keys = proxy_spec_keys(r->spec, r->key, &n);
	for (size_t i = 0; i < n && !found; i++) {
		struct entry *e = local_lookup(p->local, keys[i], util_now());
		if (e != NULL && !e->vary_spec && proxy_same_etag(etag, entry_etag(e))) {
			entry_unref(r->stale);
			r->stale = e;
			found = true;
		} else {
			entry_unref(e);
		}
	}
	proxy_keys_free(keys, n);
	return found;
}

/*
 * A 200 to a HEAD the proxy sent (RFC 9111 4.3.5): the stored GET response r selects is
 * refreshed with head's fields when their validators (and Content-Length, when head has one)
 * agree, else it is removed (it may be stale). Returns the memcached write to queue, or NULL.
 */
static struct proxy_write *
proxy_head_update(struct proxy *p, struct proxy_request *r, const struct entry *head)
{
	int64_t now = util_now();
	struct entry *stored, *fresh;
	const char *cl = entry_get(head, "Content-Length");
	uint64_t len;
	bool same;
	struct proxy_write *w = NULL;

	if (head->status != 200 || (stored = proxy_local_find(p, r, now)) == NULL)
		return NULL;
	same = stored->status == 200 &&
	       (entry_etag(head) == NULL || (entry_etag(stored) != NULL &&
	                                     strcmp(entry_etag(head), entry_etag(stored)) == 0)) &&
	       (entry_last_modified(head) == NULL ||
	        (entry_last_modified(stored) != NULL &&
	         strcmp(entry_last_modified(head), entry_last_modified(stored)) == 0)) &&
	       (cl == NULL || (util_parse_u64(cl, UINT64_MAX, &len) && len == stored->body_len));
	if (!same) {
		local_remove(p->local, stored->key);
		if (p->shared != NULL)
			w = proxy_write_new(p, NULL, false, stored->key);
		entry_unref(stored);
		return w;
	}
	struct http_headers head_fields = {0};
	entry_headers(head, &head_fields);
	fresh = entry_refresh(stored, &head_fields, entry_request_time(head), head->response_time,
	                      &p->settings);
	http_headers_clear(&head_fields);
	fresh->response_ms = proxy_wall_ms(); /* not published yet */
	if (entry_get(fresh, "Set-Cookie") != NULL) {
		static const char *const cookie[] = {"Set-Cookie"};
		struct entry *c = entry_without(fresh, cookie, 1, &p->settings);
		entry_unref(fresh);
		fresh = c;
	}
	if (atomic_load(&p->epoch) == r->epoch && entry_keep_until(fresh) > now) {
		local_insert(p->local, fresh, now);
		if (p->shared != NULL)
			w = proxy_write_new(p, fresh, true, NULL);
	}
	entry_unref(fresh);
	entry_unref(stored);
	return w;
}

/* How r's answer came from the origin, for Cache-Status. */
static enum proxy_fwd
proxy_fwd_of(const struct proxy_request *r)
{
	if (r->fwd_request)
		return FWD_REQUEST;
	if (r->stale != NULL || r->was_stale)
		return FWD_STALE;
	return r->spec != NULL ? FWD_VARY : FWD_MISS; /* variants stored, none for r: vary-miss */
}

/*
 * The vary spec a new variant of r's URL joins: cur (what the local tier holds under the URL's
 * key now), else r->spec, when it is for the same Vary names (a new reference), or NULL.
 */
static struct entry *
proxy_spec_base(struct proxy_request *r, struct entry *cur, const char *names)
{
	if (entry_spec_same(cur, names))
		return entry_ref(cur);
	return entry_spec_same(r->spec, names) ? entry_ref(r->spec) : NULL;
}

/*
 * A response was stored for r's URL under another vary spec than old (or under the URL's key
 * itself): the variants old lists are out of reach, so they leave the local tier now rather
 * than when evicted; returns the memcached deletes of them to queue (NULL: none).
 */
static struct proxy_write *
proxy_drop_old_variants(struct proxy *p, struct proxy_request *r, const struct entry *old,
                        const char *new_id)
{
	const char *id = entry_spec_id(old);
	struct proxy_write *w;
	size_t n = 0;
	char **keys;

	if (id == NULL || (new_id != NULL && strcmp(id, new_id) == 0))
		return NULL;
	keys = proxy_spec_keys(old, r->key, &n);
	for (size_t i = 0; i < n; i++)
		local_remove(p->local, keys[i]);
	if (p->shared == NULL || n == 0) {
		proxy_keys_free(keys, n);
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->p = p;
	w->more = keys;
	w->nmore = n;
	return w;
}

/*
 * A variant e of r's URL was stored: the vary spec (base's variants, with id, and e's hash and
 * ETag last) goes into the local tier; returns its memcached write (NULL without memcached).
 */
static struct proxy_write *
proxy_store_spec(struct proxy *p, struct proxy_request *r, const struct entry *base,
                 const char *names, const char *id, const char *hash, const struct entry *e)
{
	int64_t now = util_now();
	struct entry *spec =
	        entry_spec_add(base, r->key, names, id, hash, entry_etag(e), now, &p->settings);
	struct proxy_write *w = NULL;

	spec->response_ms = proxy_wall_ms(); /* not published yet */
	if (atomic_load(&p->epoch) == r->epoch)
		local_insert(p->local, spec, now);
	if (p->shared != NULL)
		w = proxy_write_new(p, spec, true, NULL);
	entry_unref(spec);
	return w;
}

/* The origin answered a GET or HEAD (fetch thread). */
static void
proxy_fetched(struct origin_fetch *f)
{
	struct proxy_request *r = f->arg;
	struct proxy *p = r->proxy;
	enum proxy_fwd fwd = proxy_fwd_of(r);
	struct proxy_write *w = NULL, *w_spec = NULL, *w_drop = NULL;
	struct entry *e;

	if (f->stream != NULL) {
		proxy_streamed(f);
		return;
	}
	r->fetching = false;
	if (f->error != ORIGIN_OK) {
		if (!proxy_serve_stale_on_error(p, r, 0))
			proxy_reply_origin_error(r, f);
		proxy_collapse_finish(p, r, NULL, f, 0, false);
	} else if (proxy_error_status(f->status) && proxy_serve_stale_on_error(p, r, f->status)) {
		/* the stored response answers instead of the origin's 5xx (RFC 5861 section 4) */
		proxy_collapse_finish(p, r, r->reply.entry, NULL, f->status, false);
	} else if (r->conditional && f->status == 304 && !proxy_select_304(p, r, f)) {
		/* RFC 9111 4.3.4: a 304 that names no stored response is not used: ask again,
		 * without validators (r stays suspended; f is submitted again) */
		origin_fetch_release(f);
		http_headers_clear(&f->headers);
		r->was_stale = r->stale != NULL;
		entry_unref(r->stale);
		r->stale = NULL;
		r->unconditional = true;
		proxy_fetch(p, r, r->method);
		return;
	} else if (r->conditional && f->status == 304) {
		/* still current: the stored body (r->stale, the response the 304 selected) with the
		 * refreshed headers */
		stats_inc(STAT_origin_not_modified);
		e = entry_refresh(r->stale, &f->resp_headers, f->request_time, f->response_time,
		                  &p->settings);
		e->response_ms = proxy_wall_ms(); /* not published yet */
		const char *why = NULL;
		struct entry *kept = NULL;
		bool stored = proxy_store(p, r, e, &why, &w, &kept);
		if (!stored && why != proxy_why_purged) {
			local_remove(p->local, r->stale->key);
			if (w == NULL && p->shared != NULL)
				w = proxy_write_new(p, NULL, false, r->stale->key);
		}
		proxy_answer(r, e, fwd, 304, stored, stored ? NULL : why, true);
		proxy_collapse_finish(p, r, kept, NULL, 304, !stored && why != proxy_why_purged);
		entry_unref(kept);
		entry_unref(e);
	} else {
		bool is_head = proxy_is_method(r, "HEAD") && r->stale == NULL;
		bool never = false;
		char *vary = http_headers_join(&f->resp_headers, "Vary");
		char *vk = key_vary(vary, &r->headers, &never);
		char *names = key_vary_names(vary, NULL);
		struct entry *base = NULL, *cur = NULL, *kept = NULL;
		char id[KEY_HASH_LEN + 1], hash[KEY_HASH_LEN + 1];
		char *vkey = NULL;
		const char *why = NULL;
		bool stored = false;

		if (!is_head && !never)
			cur = local_lookup(p->local, r->key, util_now());
		if (vk != NULL && names != NULL && !is_head && !never) {
			/* a variant: under the URL's vary spec (a new one when none has these
			 * names) */
			base = proxy_spec_base(r, cur, names);
			if (base != NULL)
				snprintf(id, sizeof(id), "%s", entry_spec_id(base));
			else
				snprintf(id, sizeof(id), "%016llx",
				         (unsigned long long)util_random_seed());
			key_variant_hash(vk, hash);
			vkey = key_variant(r->key, id, hash);
		}
		e = proxy_entry_from(p, f, vkey != NULL ? vkey : r->key, vk, is_head);
		free(vary);
		free(vk);
		if (is_head) {
			why = "head";
			w = proxy_head_update(p, r, e);
		} else if (never)
			why = "vary-star";
		else
			stored = proxy_store(p, r, e, &why, &w, &kept);
		if (vkey != NULL && (stored || w != NULL))
			w_spec = proxy_store_spec(p, r, base, names, id, hash, e);
		if (stored || w != NULL)
			w_drop = proxy_drop_old_variants(p, r, cur, vkey != NULL ? id : NULL);
		entry_unref(cur);
		entry_unref(base);
		free(names);
		free(vkey);
		if (!stored && r->stale != NULL && why != proxy_why_purged) {
			/* the stored response was replaced */
			local_remove(p->local, r->stale->key);
			if (w == NULL && p->shared != NULL) /* ... everywhere */
				w = proxy_write_new(p, NULL, false, r->stale->key);
		}
		proxy_answer(r, e, fwd, f->status, stored, stored ? NULL : why, stored);
		proxy_collapse_finish(p, r, kept, NULL, f->status,
		                      !stored && why != proxy_why_purged);
		entry_unref(kept);
		entry_unref(e);
	}
	origin_fetch_release(f);
	r->resume(r);
	/* r may be gone now; the writes hold what they need */
	proxy_write_submit(p, w_spec);
	proxy_write_submit(p, w);
	proxy_write_submit(p, w_drop);
}

/* Every other method: to the origin unchanged; success invalidates the URL's stored response. */
static enum proxy_outcome
proxy_pass(struct proxy *p, struct proxy_request *r)
{
	struct origin_fetch *f = &r->fetch;

	r->epoch = atomic_load(&p->epoch);
	f->method = r->method;
	f->target = r->target;
	http_headers_copy(&f->headers, &r->headers);
	proxy_list_append(&f->headers, &r->headers, "Via", PROXY_VIA);
	f->body = r->body.data;
	f->body_len = r->body.len;
	f->done = proxy_passed;
	f->arg = r;
	/* an answer larger than any tier may store is streamed, as for GET */
	f->stream_over = proxy_stream_over(p, r);
	f->streaming = proxy_pass_streaming;
	r->fetching = true;
	origin_submit(p->origin, f);
	return PROXY_SUSPENDED;
}

/* True for a method that is not safe (RFC 9110 9.2.1): everything but GET, HEAD, OPTIONS, TRACE. */
static bool
proxy_is_unsafe(const struct proxy_request *r)
{
	return !proxy_is_method(r, "GET") && !proxy_is_method(r, "HEAD") &&
	       !proxy_is_method(r, "OPTIONS") && !proxy_is_method(r, "TRACE");
}

/*
 * After a successful unsafe method (RFC 9111 section 4.4): removes the target URI from the
 * local tier, and the URIs of the answer's Location and Content-Location when they are on
 * the same origin; r->key and r->inval get their keys for the memcached deletes.
 */
static void
proxy_invalidate_local(struct proxy *p, struct proxy_request *r, const struct http_headers *resp)
{
	static const char *const fields[] = {"Location", "Content-Location"};
	const char *host = http_headers_get(&r->headers, "Host");
	size_t removed = 0;

	r->key = key_build(host, r->target);
	removed += proxy_local_remove_url(p, r->key);
	for (size_t i = 0; i < TC_ARRAY_LEN(fields); i++) {
		char *target = key_resolve(host, r->target, http_headers_get(resp, fields[i]));
		if (target == NULL)
			continue;
		r->inval[i] = key_build(host, target);
		free(target);
		removed += proxy_local_remove_url(p, r->inval[i]);
	}
	r->purged_local = removed > 0;
	for (size_t i = 0; i < removed; i++)
		stats_inc(STAT_invalidations);
}

/*
 * A POST answered with explicit freshness and a Content-Location naming its own URL carries a
 * response for a GET of that URL (RFC 9110 9.3.3): e is stored for it, in the local tier now
 * and, with memcached, after the invalidation's deletes (r->post_entry). True when stored.
 */
static bool
proxy_store_post(struct proxy *p, struct proxy_request *r, struct entry *e)
{
	struct rfc9111_request rq = {0};
	const char *why = NULL;
	int64_t now = util_now();

	if (!proxy_is_method(r, "POST") || r->inval[1] == NULL ||
	    strcmp(r->inval[1], r->key) != 0 || e->status < 200 || e->status > 299)
		return false;
	if (e->cc.s_maxage.state != CC_SET && e->cc.max_age.state != CC_SET &&
	    entry_get(e, "Expires") == NULL)
		return false; /* only explicit freshness says it is meant for GETs */
	if (entry_get(e, "Vary") != NULL || entry_get(e, "Set-Cookie") != NULL)
		return false;
	rq.is_get = true;
	rq.has_authorization = http_headers_get(&r->headers, "Authorization") != NULL;
	proxy_request_cc(r, &rq.cc);
	if (!proxy_storable(&rq, e, &why) || entry_keep_until(e) <= now ||
	    atomic_load(&p->epoch) != r->epoch || e->body_len > r->cfg->local_max_object_bytes ||
	    !local_insert(p->local, e, now))
		return false;
	if (p->shared != NULL)
		r->post_entry = entry_ref(e);
	return true;
}

/* Hands r's reply over; after an invalidation, once the memcached copies are gone too (a read
 * that follows must not find them). */
static void
proxy_pass_answer(struct proxy *p, struct proxy_request *r, bool invalidate)
{
	if (invalidate && p->shared != NULL) {
		r->job.fn = proxy_shared_invalidate;
		if (worker_submit(p->worker, &r->job, WORKER_URGENT))
			return;
	}
	r->resume(r);
}

/* The answer to another method is too large to store: streamed, after its invalidation (fetch
 * thread). */
static void
proxy_pass_streaming(struct origin_fetch *f)
{
	struct proxy_request *r = f->arg;
	struct proxy *p = r->proxy;
	bool invalidate = false;
	struct entry *e;

	if (f->status >= 200 && f->status < 400 && proxy_is_unsafe(r)) {
		invalidate = true;
		proxy_invalidate_local(p, r, &f->resp_headers);
	}
	e = proxy_entry_from(p, f, r->key ? r->key : r->target, NULL, true);
	stats_inc(STAT_origin_streams);
	r->reply.stream = stream_ref(f->stream);
	proxy_reply_entry(r, e, e->status, r->range_pass ? FWD_REQUEST : FWD_METHOD, e->status,
	                  false, r->range_pass ? "multi-range" : NULL);
	entry_unref(e);
	atomic_fetch_add(&r->holds, 1); /* dropped by proxy_streamed */
	proxy_pass_answer(p, r, invalidate);
}

/* The origin answered an unsafe or unknown method (fetch thread). */
static void
proxy_passed(struct origin_fetch *f)
{
	struct proxy_request *r = f->arg;
	struct proxy *p = r->proxy;

	bool invalidate = false;

	if (f->stream != NULL) {
		proxy_streamed(f);
		return;
	}
	r->fetching = false;
	if (f->error != ORIGIN_OK) {
		proxy_reply_origin_error(r, f);
	} else {
		if (f->status >= 200 && f->status < 400 && proxy_is_unsafe(r)) {
			invalidate = true;
			proxy_invalidate_local(p, r, &f->resp_headers);
		}
		struct entry *e = proxy_entry_from(p, f, r->key ? r->key : r->target, NULL, false);
		bool stored = invalidate && proxy_store_post(p, r, e);
		proxy_reply_entry(r, e, e->status, r->range_pass ? FWD_REQUEST : FWD_METHOD,
		                  e->status, stored, r->range_pass ? "multi-range" : NULL);
		entry_unref(e);
	}
	origin_fetch_release(f);
	proxy_pass_answer(p, r, invalidate);
}

/* Deletes an invalidated URL from memcached, then answers (worker thread). */
static void
proxy_shared_invalidate(struct worker_job *job, bool cancelled)
{
	struct proxy_request *r = proxy_of_job(job);

	(void)cancelled;
	if (proxy_shared_remove_url(r->proxy, r->key) && !r->purged_local)
		stats_inc(STAT_invalidations);
	for (size_t i = 0; i < TC_ARRAY_LEN(r->inval); i++)
		if (r->inval[i] != NULL && proxy_shared_remove_url(r->proxy, r->inval[i]) &&
		    !r->purged_local)
			stats_inc(STAT_invalidations);
	if (r->post_entry != NULL) /* a POST's answer stored for GETs (proxy_store_post) */
		proxy_write_submit(r->proxy, proxy_write_new(r->proxy, r->post_entry, false, NULL));
	r->resume(r);
}

/* The answer to a PURGE of one URL: 200 when something was stored, 404 otherwise. */
static void
proxy_reply_purged(struct proxy_request *r, bool found)
{
	if (found)
		proxy_reply_text(r, 200, "200 OK: purged");
	else
		proxy_reply_text(r, 404, "404 Not Found: nothing was stored for this URL");
	http_headers_set(&r->reply.headers, "Cache-Control", "no-store");
}

/* PURGE of one URL, memcached part (worker thread). */
static void
proxy_shared_purge(struct worker_job *job, bool cancelled)
{
	struct proxy_request *r = proxy_of_job(job);
	bool deleted = proxy_shared_remove_url(r->proxy, r->key);

	(void)cancelled;
	proxy_reply_purged(r, r->purged_local || deleted);
	r->resume(r);
}

/* PURGE of everything, memcached part (worker thread): a new namespace generation. */
static void
proxy_shared_purge_all(struct worker_job *job, bool cancelled)
{
	struct proxy_request *r = proxy_of_job(job);
	struct proxy *p = r->proxy;
	bool ok = shared_purge_all(p->shared);

	(void)cancelled;
	/* again: anything promoted meanwhile came from the old generation */
	atomic_fetch_add(&p->epoch, 1);
	local_clear(p->local);
	if (ok) {
		char *text = xasprintf("200 OK: purged everything (namespace generation %llu)",
		                       (unsigned long long)shared_generation(p->shared));
		proxy_reply_text(r, 200, text);
		free(text);
	} else {
		proxy_reply_text(r, 502,
		                 "502 Bad Gateway: memcached could not be reached to purge "
		                 "everything (the local tier was emptied)");
	}
	http_headers_set(&r->reply.headers, "Cache-Control", "no-store");
	r->resume(r);
}

/*
 * PURGE (from [stats] allow addresses): the URL (all its variants) from the local tier and
 * memcached; with "Tiercache-Purge: all", everything, for every proxy of the fleet.
 */
static enum proxy_outcome
proxy_purge(struct proxy *p, struct proxy_request *r)
{
	const char *scope = http_headers_get(&r->headers, PROXY_PURGE_HEADER);

	if (!acl_allows(r->cfg->stats_allow_acl, (const struct sockaddr *)&r->client)) {
		proxy_reply_text(r, 403, "403 Forbidden: this address may not purge");
		return PROXY_REPLIED;
	}
	if (scope != NULL && strcasecmp(scope, "all") != 0) {
		proxy_reply_text(r, 400,
		                 "400 Bad Request: " PROXY_PURGE_HEADER " takes one value, all");
		return PROXY_REPLIED;
	}
	if (scope != NULL) {
		atomic_fetch_add(&p->epoch, 1);
		local_clear(p->local);
		if (p->shared != NULL) {
			r->job.fn = proxy_shared_purge_all;
			if (worker_submit(p->worker, &r->job, WORKER_URGENT))
				return PROXY_SUSPENDED;
			proxy_reply_text(r, 503, "503 Service Unavailable: stopping");
			return PROXY_REPLIED;
		}
		proxy_reply_text(r, 200, "200 OK: purged everything");
		http_headers_set(&r->reply.headers, "Cache-Control", "no-store");
		return PROXY_REPLIED;
	}
	r->key = key_build(http_headers_get(&r->headers, "Host"), r->target);
	r->purged_local = proxy_local_remove_url(p, r->key);
	if (p->shared != NULL) {
		r->job.fn = proxy_shared_purge;
		if (worker_submit(p->worker, &r->job, WORKER_URGENT))
			return PROXY_SUSPENDED;
	}
	proxy_reply_purged(r, r->purged_local);
	return PROXY_REPLIED;
}

/* Frees everything r holds (the request fields, the reply, private state). */
void
proxy_request_release(struct proxy_request *r)
{
	TC_ASSERT(!r->fetching);
	free(r->method);
	free(r->target);
	http_headers_clear(&r->headers);
	buf_free(&r->body);
	entry_unref(r->reply.entry);
	stream_unref(r->reply.stream);
	http_headers_clear(&r->reply.headers);
	free(r->reply.body);
	free(r->key);
	entry_unref(r->spec);
	entry_unref(r->post_entry);
	free(r->vkey);
	free(r->ckey);
	free(r->inval[0]);
	free(r->inval[1]);
	free(r->vary_key);
	entry_unref(r->stale);
	entry_unref(r->grace);
	http_headers_clear(&r->fetch.headers);
	origin_fetch_release(&r->fetch);
	memset(r, 0, sizeof(*r));
}
