/*
 * rfc9111: the HTTP caching rules as pure functions of (request, stored response, now):
 * whether a response may be stored by a shared cache, its freshness lifetime, its age
 * (RFC 9111 section 4.2.3), the header update of a 304 (section 4.3.4) and the evaluation of
 * a client's conditional and range requests against a stored response (RFC 9110 sections 13
 * and 14).
 * No I/O, no locks, no clock: callers pass "now".
 */
#ifndef TIERCACHE_RFC9111_H
#define TIERCACHE_RFC9111_H

#include <stdbool.h>
#include <stdint.h>

#include "cachecontrol.h"
#include "http.h"

/* Operator settings that the rules depend on. */
struct rfc9111_settings {
	int64_t default_ttl;    /* lifetime of a response without freshness information (seconds) */
	int64_t heuristic_max;  /* cap of heuristic freshness (section 4.2.2); 0: no heuristic */
	int64_t stale_if_error; /* error grace when the response has no stale-if-error */
	const char *targeted;   /* targeted field read before CDN-Cache-Control; NULL: none */
	int64_t max_stale_keep; /* seconds a stale response is kept for max-stale requests */
};

/* The field RFC 9213 targets at every CDN cache (and so at this one). */
#define RFC9111_CDN_CACHE_CONTROL "CDN-Cache-Control"
/* The Edge Architecture's field for surrogates: read after the targeted fields (forwarded). */
#define RFC9111_SURROGATE_CONTROL "Surrogate-Control"

/* What a stored response may do for a request (rfc9111_use). */
enum rfc9111_use {
	RFC9111_FRESH,    /* fresh enough for the request: serve it */
	RFC9111_STALE,    /* stale, but within the request's max-stale: serve it */
	RFC9111_SWR,      /* stale within stale-while-revalidate: serve it, revalidate behind */
	RFC9111_VALIDATE, /* it must be validated (or replaced) by the origin first */
};

/* What the rules need to know about the request that caused a response. */
struct rfc9111_request {
	bool is_get;            /* GET (HEAD responses never fill the cache) */
	bool has_authorization; /* the request carried Authorization */
	struct cache_control cc;
};

/*
 * True when a shared cache may store this response to the request. When false and why is
 * not NULL, *why names the reason (a static string such as "no-store").
 */
bool rfc9111_storable(const struct rfc9111_request *req, int status,
                      const struct http_headers *resp, const struct cc_response *resp_cc,
                      const char **why);

/*
 * The directives that govern this cache's handling of resp into *cc (RFC 9213 section 2.1):
 * the first valid targeted field (settings->targeted, then CDN-Cache-Control), else
 * Cache-Control. Returns the name of the targeted field used (as spelled in resp, pointing
 * into it), or NULL for Cache-Control.
 */
const char *rfc9111_response_cc(const struct http_headers *resp,
                                const struct rfc9111_settings *settings, struct cache_control *cc);

/*
 * Freshness lifetime in seconds (section 4.2.1): s-maxage, else max-age, else Expires - Date
 * (not when the directives came from a targeted field), else the heuristic (section 4.2.2:
 * 10% of Date - Last-Modified, at most settings->heuristic_max, for heuristically cacheable
 * statuses or public), else settings->default_ttl. An invalid Expires means already stale.
 */
int64_t rfc9111_freshness_lifetime(int status, const struct http_headers *resp,
                                   const struct cc_response *resp_cc, bool targeted,
                                   int64_t date_value, const struct rfc9111_settings *settings);

/* True when the response's directives forbid serving it stale (must-revalidate, ...). */
bool rfc9111_stale_forbidden(const struct cc_response *resp_cc);

/*
 * Seconds past the end of its freshness during which a stored response without validators
 * stays useful (the longest of stale-while-revalidate, stale-if-error or its default, and
 * settings->max_stale_keep for requests with max-stale); 0 when it may never be served stale.
 */
int64_t rfc9111_stale_window(const struct cc_response *resp_cc,
                             const struct rfc9111_settings *settings);

/*
 * What a stored response of the given lifetime and current age may do for a request with
 * directives req_cc (pragma_no_cache: the request had Pragma: no-cache): sections 4.2, 4.2.4,
 * 5.2.1 and RFC 5861 section 3.
 */
enum rfc9111_use rfc9111_use(const struct cache_control *req_cc, bool pragma_no_cache,
                             const struct cc_response *resp_cc, int64_t lifetime, int64_t age);

/*
 * True when the stored response may answer instead of an origin failure or a 500, 502, 503
 * or 504 (RFC 5861 section 4): within the response's stale-if-error (else settings'
 * default), or the request's, unless stale answers are forbidden.
 */
bool rfc9111_serve_on_error(const struct cache_control *req_cc, const struct cc_response *resp_cc,
                            int64_t lifetime, int64_t age, const struct rfc9111_settings *settings);

/*
 * Corrected initial age (section 4.2.3) from the Age header value (may be NULL), the Date
 * value and the local request and response times.
 */
int64_t rfc9111_corrected_initial_age(const char *age_header, int64_t date_value,
                                      int64_t request_time, int64_t response_time);

/* Current age of a stored response at now (section 4.2.3). */
int64_t rfc9111_current_age(int64_t corrected_initial_age, int64_t response_time, int64_t now);

/*
 * Builds the headers of a stored response refreshed by a 304 (section 4.3.4) into *out
 * (empty on entry): every field of the 304 replaces the stored fields of that name, except the
 * fields that describe the stored body's framing (Content-Length, Content-Encoding,
 * Content-Range, Transfer-Encoding) and hop-by-hop fields, which are kept as stored.
 */
void rfc9111_merge_304(const struct http_headers *stored, const struct http_headers *not_modified,
                       struct http_headers *out);

/* Weak comparison of an If-None-Match value ("*" or a list of entity-tags) with etag. */
bool rfc9111_etag_matches(const char *if_none_match, const char *etag);

/*
 * True when the client's conditional headers (If-None-Match, else If-Modified-Since) say
 * that its copy is current, so a 304 can be sent instead of the stored response.
 */
bool rfc9111_client_not_modified(const struct http_headers *req, const char *etag,
                                 const char *last_modified);

/* Strong comparison of an If-Match value ("*" or a list of entity-tags) with etag. */
bool rfc9111_etag_matches_strong(const char *if_match, const char *etag);

/*
 * True when the client's If-Match (else If-Unmodified-Since) fails against a stored response
 * of this status and validators (RFC 9110 13.2.2): the answer is 412. Only 2xx are evaluated.
 */
bool rfc9111_precondition_failed(const struct http_headers *req, int status, const char *etag,
                                 const char *last_modified);

/* What a Range header asks of a stored representation (RFC 9110 section 14.1.2). */
enum rfc9111_range {
	RFC9111_RANGE_NONE,          /* absent, another unit or invalid: the full response */
	RFC9111_RANGE_ONE,           /* one satisfiable byte range */
	RFC9111_RANGE_MULTI,         /* several ranges: left to the origin */
	RFC9111_RANGE_UNSATISFIABLE, /* 416 */
};

/*
 * Evaluates a Range value (may be NULL) against a representation of len bytes; on
 * RFC9111_RANGE_ONE, [*first, *last] is the byte range, clipped to the representation.
 */
enum rfc9111_range rfc9111_range_parse(const char *range, int64_t len, int64_t *first,
                                       int64_t *last);

/*
 * True when the client's If-Range (absent: true) lets a Range apply to the stored response:
 * a strong entity-tag equal to the stored ETag, or a date equal to Last-Modified (13.1.5).
 */
bool rfc9111_if_range_ok(const struct http_headers *req, const char *etag,
                         const char *last_modified);

#endif
