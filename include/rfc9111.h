/*
 * rfc9111: the HTTP caching rules as pure functions of (request, stored response, now):
 * whether a response may be stored by a shared cache, its freshness lifetime, its age
 * (RFC 9111 section 4.2.3), the header update of a 304 (section 4.3.4) and the evaluation of
 * a client's conditional request against a stored response (RFC 9110 section 13).
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
	int64_t default_ttl; /* lifetime of a response without freshness information (seconds) */
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
                      const struct http_headers *resp, const struct cache_control *resp_cc,
                      const char **why);

/*
 * Freshness lifetime in seconds (section 4.2.1): s-maxage, else max-age, else Expires - Date,
 * else settings->default_ttl. An invalid Expires means already stale (0).
 */
int64_t rfc9111_freshness_lifetime(const struct http_headers *resp,
                                   const struct cache_control *resp_cc, int64_t date_value,
                                   const struct rfc9111_settings *settings);

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
