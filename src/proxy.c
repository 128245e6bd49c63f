/*
 * proxy: the story of one request, top to bottom. The only module that knows the order of
 * the tiers (local tier, then the origin). It runs first on a libmicrohttpd thread
 * (proxy_handle) and, for a request that must wait for the origin, finishes on the fetch
 * thread (proxy_fetched) before calling r->resume. It holds no lock of its own: the tiers lock
 * themselves, and a request is touched by one thread at a time (the handoff through the
 * origin's queue orders the accesses). References: r->stale and r->reply.entry each own one.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl.h"
#include "admin.h"
#include "key.h"
#include "log.h"
#include "proxy.h"
#include "rfc9111.h"
#include "stats.h"

#define PROXY_VIA "1.1 tiercache"

struct proxy {
	const struct config *cfg;
	struct local *local;
	struct origin *origin;
	struct rfc9111_settings settings;
};

/* How a response was produced, for Cache-Status (RFC 9211). */
enum proxy_fwd {
	FWD_NONE,    /* served from the cache */
	FWD_MISS,    /* nothing usable was stored */
	FWD_STALE,   /* a stale entry was revalidated */
	FWD_REQUEST, /* the request asked not to use the cache */
	FWD_METHOD,  /* the method is not served from a cache */
};

static const char *const proxy_fwd_names[] = {
        [FWD_MISS] = "miss",
        [FWD_STALE] = "stale",
        [FWD_REQUEST] = "request",
        [FWD_METHOD] = "method",
};

static enum proxy_outcome proxy_lookup(struct proxy *p, struct proxy_request *r);
static enum proxy_outcome proxy_pass(struct proxy *p, struct proxy_request *r);
static void proxy_fetch(struct proxy *p, struct proxy_request *r, const char *method);
static void proxy_fetched(struct origin_fetch *f);
static void proxy_passed(struct origin_fetch *f);

/* Creates the proxy over its tiers (borrowed; they must outlive it). */
struct proxy *
proxy_create(const struct config *cfg, struct local *local, struct origin *origin)
{
	struct proxy *p = xcalloc(1, sizeof(*p));

	p->cfg = cfg;
	p->local = local;
	p->origin = origin;
	p->settings.default_ttl = cfg->local_default_ttl;
	return p;
}

/* Frees the proxy. */
void
proxy_destroy(struct proxy *p)
{
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

/* Sets r->reply to a short plain-text answer (status and one line of text). */
void
proxy_reply_text(struct proxy_request *r, int status, const char *text)
{
	r->reply.status = status;
	r->reply.body = xasprintf("%s\n", text);
	r->reply.body_len = strlen(r->reply.body);
	http_headers_set(&r->reply.headers, "Content-Type", "text/plain; charset=utf-8");
}

/* Appends our member to a list-valued field that may already be in the stored headers. */
static void
proxy_reply_append(struct proxy_request *r, const struct http_headers *stored, const char *name,
                   const char *member)
{
	char *prior = stored ? http_headers_join(stored, name) : NULL;

	if (prior != NULL && prior[0] != '\0') {
		char *v = xasprintf("%s, %s", prior, member);
		http_headers_set(&r->reply.headers, name, v);
		free(v);
	} else {
		http_headers_set(&r->reply.headers, name, member);
	}
	free(prior);
}

/*
 * Answers from entry e (a new reference is taken). Responses that come from the cache carry
 * Age; every response carries Via and Cache-Status (with ttl when the entry is stored).
 */
static void
proxy_reply_entry(struct proxy_request *r, struct entry *e, int status, enum proxy_fwd fwd,
                  int fwd_status, bool stored, const char *detail)
{
	int64_t now = util_now();
	struct buf cs = {0};

	r->reply.status = status;
	r->reply.entry = entry_ref(e);
	if (fwd == FWD_NONE || fwd == FWD_STALE || stored) {
		char age[24];
		snprintf(age, sizeof(age), "%lld", (long long)entry_age(e, now));
		http_headers_set(&r->reply.headers, "Age", age);
	}
	proxy_reply_append(r, &e->headers, "Via", PROXY_VIA);
	buf_puts(&cs, "tiercache");
	if (fwd == FWD_NONE)
		buf_puts(&cs, "; hit");
	else
		buf_printf(&cs, "; fwd=%s; fwd-status=%d", proxy_fwd_names[fwd], fwd_status);
	if (stored && fwd != FWD_NONE)
		buf_puts(&cs, "; stored");
	if (fwd == FWD_NONE || stored)
		buf_printf(&cs, "; ttl=%lld", (long long)entry_ttl(e, now));
	if (detail)
		buf_printf(&cs, "; detail=%s", detail);
	proxy_reply_append(r, &e->headers, "Cache-Status", cs.data);
	buf_free(&cs);
}

/* Answers an origin failure: 504 for a timeout, 502 for anything else. */
static void
proxy_reply_origin_error(struct proxy_request *r, const struct origin_fetch *f)
{
	bool timeout = f->error == ORIGIN_TIMEOUT;
	char *text =
	        xasprintf("%s: origin %s (%s)", timeout ? "504 Gateway Timeout" : "502 Bad Gateway",
	                  origin_error_name(f->error), f->error_text ? f->error_text : "");
	const char *detail = f->error == ORIGIN_TIMEOUT     ? "origin-timeout"
	                     : f->error == ORIGIN_SHUTDOWN  ? "shutdown"
	                     : f->error == ORIGIN_TRUNCATED ? "origin-truncated"
	                     : f->error == ORIGIN_INVALID   ? "origin-invalid"
	                                                    : "origin-unreachable";
	char *cs = xasprintf("tiercache; fwd=%s; detail=%s",
	                     proxy_is_method(r, "GET") || proxy_is_method(r, "HEAD") ? "miss"
	                                                                             : "method",
	                     detail);

	proxy_reply_text(r, timeout ? 504 : 502, text);
	http_headers_set(&r->reply.headers, "Via", PROXY_VIA);
	http_headers_set(&r->reply.headers, "Cache-Status", cs);
	free(text);
	free(cs);
}

/* Serves the administrative endpoint ([stats] path) to allowed clients only. */
static enum proxy_outcome
proxy_admin(struct proxy *p, struct proxy_request *r)
{
	struct buf json = {0};

	if (!acl_allows(p->cfg->stats_allow_acl, (const struct sockaddr *)&r->client)) {
		proxy_reply_text(r, 403, "403 Forbidden: this address may not read statistics");
		return PROXY_REPLIED;
	}
	if (!proxy_is_method(r, "GET") && !proxy_is_method(r, "HEAD")) {
		proxy_reply_text(r, 405, "405 Method Not Allowed: use GET");
		http_headers_set(&r->reply.headers, "Allow", "GET, HEAD");
		return PROXY_REPLIED;
	}
	admin_stats_json(&json, p->cfg, p->local);
	r->reply.status = 200;
	r->reply.body = buf_steal(&json, &r->reply.body_len);
	http_headers_set(&r->reply.headers, "Content-Type", "application/json");
	http_headers_set(&r->reply.headers, "Cache-Control", "no-store");
	return PROXY_REPLIED;
}

/* Handles a complete request (headers and body received). */
enum proxy_outcome
proxy_handle(struct proxy *p, struct proxy_request *r)
{
	r->proxy = p;
	if (proxy_target_is(r->target, p->cfg->stats_path))
		return proxy_admin(p, r);

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
	if (cc->no_cache || (cc->max_age.state == CC_SET && cc->max_age.value == 0))
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

/* True when the client's own validators match e, so 304 replaces e's 2xx (RFC 9110 13.2.1). */
static bool
proxy_not_modified(const struct proxy_request *r, const struct entry *e)
{
	return e->status >= 200 && e->status < 300 &&
	       rfc9111_client_not_modified(&r->headers, e->etag, e->last_modified);
}

/* GET and HEAD: the local tier, then the origin. */
static enum proxy_outcome
proxy_lookup(struct proxy *p, struct proxy_request *r)
{
	int64_t now = util_now();
	struct cache_control req_cc;
	struct entry *e;

	proxy_request_cc(r, &req_cc);
	r->key = key_build(http_headers_get(&r->headers, "Host"), r->target);
	e = local_lookup(p->local, r->key, now);
	if (e != NULL && e->vary_key != NULL) {
		/* the stored variant must match this request's selecting headers */
		bool never = false;
		char *vk = key_vary(http_headers_get(&e->headers, "Vary"), &r->headers, &never);
		bool same = !never && vk != NULL && strcmp(vk, e->vary_key) == 0;
		free(vk);
		if (!same) {
			entry_unref(e);
			e = NULL;
		}
	}

	bool validate = proxy_request_wants_validation(r, &req_cc);
	if (e != NULL && !validate && !e->cc.no_cache && entry_is_fresh(e, now)) {
		stats_inc(STAT_local_hits);
		if (proxy_not_modified(r, e)) {
			stats_inc(STAT_client_not_modified);
			proxy_reply_entry(r, e, 304, FWD_NONE, 0, true, NULL);
		} else {
			proxy_reply_entry(r, e, e->status, FWD_NONE, 0, true, NULL);
		}
		entry_unref(e);
		return PROXY_REPLIED;
	}
	stats_inc(STAT_local_misses);

	if (e != NULL && entry_has_validator(e)) {
		/* stale (or to be validated): ask the origin whether it is still current */
		r->stale = e;
		stats_inc(STAT_origin_revalidations);
		proxy_fetch(p, r, "GET");
		return PROXY_SUSPENDED;
	}
	entry_unref(e);
	/* HEAD fills nothing: it goes to the origin as HEAD; GET fetches to store */
	proxy_fetch(p, r, r->method);
	return PROXY_SUSPENDED;
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
		if (strcasecmp(h->name, "If-None-Match") == 0 ||
		    strcasecmp(h->name, "If-Modified-Since") == 0)
			continue;
		http_headers_add(&f->headers, h->name, h->value);
	}
	if (r->stale != NULL) {
		if (r->stale->etag)
			http_headers_add(&f->headers, "If-None-Match", r->stale->etag);
		if (r->stale->last_modified)
			http_headers_add(&f->headers, "If-Modified-Since", r->stale->last_modified);
	}
	proxy_reply_append(r, &r->headers, "Via", PROXY_VIA);
	http_headers_set(&f->headers, "Via", http_headers_get(&r->reply.headers, "Via"));
	http_headers_remove(&r->reply.headers, "Via");
	f->done = proxy_fetched;
	f->arg = r;
	r->fetching = true;
	origin_submit(p->origin, f);
}

/* Turns the origin's answer into an entry (taking its headers and body). */
static struct entry *
proxy_entry_from(struct proxy *p, struct proxy_request *r, struct origin_fetch *f,
                 const char *vary_key, bool keep_length)
{
	size_t len = 0;
	char *body = buf_steal(&f->resp_body, &len);

	if (!keep_length)
		http_headers_remove(&f->resp_headers, "Content-Length");
	return entry_new(r->key ? r->key : r->target, vary_key, f->status, &f->resp_headers, body,
	                 len, f->request_time, f->response_time, &p->settings);
}

/* Decides whether e may be stored for r, and stores it. Returns true when stored. */
static bool
proxy_store(struct proxy *p, struct proxy_request *r, struct entry *e, const char **why)
{
	struct rfc9111_request rq = {0};
	int64_t now = util_now();

	rq.is_get = proxy_is_method(r, "GET") || r->stale != NULL;
	rq.has_authorization = http_headers_get(&r->headers, "Authorization") != NULL;
	proxy_request_cc(r, &rq.cc);
	if (!rfc9111_storable(&rq, e->status, &e->headers, &e->cc, why))
		return false;
	if (http_headers_get(&e->headers, "Set-Cookie") != NULL) {
		*why = "set-cookie";
		return false;
	}
	if (e->body_len > p->cfg->local_max_object_bytes) {
		*why = "too-large";
		return false;
	}
	if (e->keep_until <= now) {
		*why = "stale-without-validator";
		return false;
	}
	if (!local_insert(p->local, e, now)) {
		*why = "too-large";
		return false;
	}
	return true;
}

/* The origin answered a GET or HEAD (fetch thread). */
static void
proxy_fetched(struct origin_fetch *f)
{
	struct proxy_request *r = f->arg;
	struct proxy *p = r->proxy;
	enum proxy_fwd fwd = r->stale ? FWD_STALE : FWD_MISS;
	struct entry *e;

	r->fetching = false;
	if (f->error != ORIGIN_OK) {
		proxy_reply_origin_error(r, f);
	} else if (r->stale != NULL && f->status == 304) {
		/* still current: the stored body with the refreshed headers */
		stats_inc(STAT_origin_not_modified);
		e = entry_refresh(r->stale, &f->resp_headers, f->request_time, f->response_time,
		                  &p->settings);
		const char *why = NULL;
		bool stored = proxy_store(p, r, e, &why);
		if (!stored)
			local_remove(p->local, r->key);
		int status = e->status;
		if (proxy_not_modified(r, e)) {
			stats_inc(STAT_client_not_modified);
			status = 304;
		}
		proxy_reply_entry(r, e, status, FWD_STALE, 304, stored, stored ? NULL : why);
		entry_unref(e);
	} else {
		bool is_head = proxy_is_method(r, "HEAD") && r->stale == NULL;
		bool never = false;
		char *vk =
		        key_vary(http_headers_get(&f->resp_headers, "Vary"), &r->headers, &never);
		const char *why = NULL;
		bool stored = false;

		e = proxy_entry_from(p, r, f, vk, is_head);
		free(vk);
		if (is_head)
			why = "head";
		else if (never)
			why = "vary-star";
		else
			stored = proxy_store(p, r, e, &why);
		if (!stored && r->stale != NULL)
			local_remove(p->local, r->key); /* the stored response was replaced */
		int status = e->status;
		if (stored && proxy_not_modified(r, e)) {
			stats_inc(STAT_client_not_modified);
			status = 304;
		}
		proxy_reply_entry(r, e, status, fwd, f->status, stored, stored ? NULL : why);
		entry_unref(e);
	}
	origin_fetch_release(f);
	r->resume(r);
}

/* Every other method: to the origin unchanged; success invalidates the URL's stored response. */
static enum proxy_outcome
proxy_pass(struct proxy *p, struct proxy_request *r)
{
	struct origin_fetch *f = &r->fetch;

	f->method = r->method;
	f->target = r->target;
	http_headers_copy(&f->headers, &r->headers);
	proxy_reply_append(r, &r->headers, "Via", PROXY_VIA);
	http_headers_set(&f->headers, "Via", http_headers_get(&r->reply.headers, "Via"));
	http_headers_remove(&r->reply.headers, "Via");
	f->body = r->body.data;
	f->body_len = r->body.len;
	f->done = proxy_passed;
	f->arg = r;
	r->fetching = true;
	origin_submit(p->origin, f);
	return PROXY_SUSPENDED;
}

/* The origin answered an unsafe or unknown method (fetch thread). */
static void
proxy_passed(struct origin_fetch *f)
{
	struct proxy_request *r = f->arg;
	struct proxy *p = r->proxy;

	r->fetching = false;
	if (f->error != ORIGIN_OK) {
		proxy_reply_origin_error(r, f);
	} else {
		if (f->status >= 200 && f->status < 400) {
			char *key = key_build(http_headers_get(&r->headers, "Host"), r->target);
			if (local_remove(p->local, key))
				stats_inc(STAT_invalidations);
			free(key);
		}
		struct entry *e = proxy_entry_from(p, r, f, NULL, false);
		proxy_reply_entry(r, e, e->status, FWD_METHOD, e->status, false, NULL);
		entry_unref(e);
	}
	origin_fetch_release(f);
	r->resume(r);
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
	http_headers_clear(&r->reply.headers);
	free(r->reply.body);
	free(r->key);
	free(r->vary_key);
	entry_unref(r->stale);
	http_headers_clear(&r->fetch.headers);
	origin_fetch_release(&r->fetch);
	memset(r, 0, sizeof(*r));
}
