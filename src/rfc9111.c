/*
 * rfc9111: the HTTP caching rules of a shared cache as pure functions of (request, stored
 * response, now): storability (RFC 9111 sections 3 and 3.5), freshness lifetime (4.2.1),
 * age (4.2.3), the header update of a 304 (4.3.4), and the evaluation of a client's
 * If-None-Match / If-Modified-Since, If-Match / If-Unmodified-Since (412), Range and If-Range
 * against a stored response (RFC 9110 sections 13 and 14).
 *
 * No I/O, no locks, no clock, no global state: callers pass the times. Every time value is
 * in whole seconds since the epoch; arithmetic on them saturates instead of overflowing.
 *
 * Choices, where the RFCs leave room:
 * - Status codes this cache "understands" (RFC 9111 section 3, for must-understand): 200,
 *   203, 204, 300, 301, 308, 404, 405, 410, 414 and 501, the heuristically cacheable codes
 *   whose caching needs nothing beyond storing the whole response. 206 is never stored (no
 *   range support yet: "partial") and 304 is not a storable response ("status"). A response
 *   with must-understand and an understood status ignores no-store (section 5.2.2.3).
 * - Multiple or invalid Expires, or an invalid max-age / s-maxage, mean already stale (0).
 * - Age: a list-based value uses its first member; an invalid value is ignored (section 5.1);
 *   values above 2^31 saturate there.
 * - If-None-Match needs a stored ETag to match, even "*" (without one the full response is
 *   sent, which is always correct); entity-tags compare weakly, "W/" is case-sensitive.
 * - If-Modified-Since is ignored unless it is one valid HTTP-date (a single field line); it is
 *   not compared with the current time (no clock here).
 * - Heuristic freshness: 10% of Date - Last-Modified (section 4.2.2's suggestion), capped by
 *   the operator's heuristic_max, for the heuristically cacheable statuses and for public.
 * - Stale answers: must-revalidate, proxy-revalidate, s-maxage (which implies
 *   proxy-revalidate) and no-cache forbid them all (max-stale, stale-while-revalidate,
 *   stale-if-error). A request's max-age and min-fresh are checked before any of them; its
 *   max-age=0 (or an invalid max-age or min-fresh) always asks for validation. Windows are
 *   half-open like freshness: stale-while-revalidate=N serves while staleness < N;
 *   max-stale=N accepts staleness <= N (its wording: "by no more than").
 * - A stored response without validators is kept past its freshness only for its
 *   stale-while-revalidate or stale-if-error window, or the operator's max_stale_keep, the
 *   longest; a request's max-stale can use it within those (or any time when it has a
 *   validator, as such a response is kept until evicted).
 * - stale-if-error: the response's value, else the operator's default when it has none; a
 *   request's value widens it (RFC 5861 section 4 lets either side ask).
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rfc9111.h"
#include "util.h"

static const char rfc9111_why_method[] = "method";
static const char rfc9111_why_no_store[] = "no-store";
static const char rfc9111_why_private[] = "private";
static const char rfc9111_why_authorization[] = "authorization";
static const char rfc9111_why_status[] = "status";
static const char rfc9111_why_partial[] = "partial";
static const char rfc9111_why_must_understand[] = "must-understand";

static int64_t
rfc9111_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t
rfc9111_sub(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t
rfc9111_max0(int64_t v)
{
	return v < 0 ? 0 : v;
}

/* ------------------------------------------------------------------------- storability */

/* Heuristically cacheable status codes (RFC 9110 section 15.1). */
static bool
rfc9111_heuristic_status(int status)
{
	switch (status) {
	case 200:
	case 203:
	case 204:
	case 206:
	case 300:
	case 301:
	case 308:
	case 404:
	case 405:
	case 410:
	case 414:
	case 501:
		return true;
	default:
		return false;
	}
}

/* Status codes whose caching requirements this cache implements (see the top comment). */
static bool
rfc9111_understood_status(int status)
{
	return status != 206 && rfc9111_heuristic_status(status);
}

static bool
rfc9111_fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return false;
}

/*
 * True when a shared cache may store this response to the request. When false and why is
 * not NULL, *why names the reason (a static string such as "no-store").
 */
bool
rfc9111_storable(const struct rfc9111_request *req, int status, const struct http_headers *resp,
                 const struct cc_response *resp_cc, const char **why)
{
	bool understood = rfc9111_understood_status(status);

	if (!req->is_get)
		return rfc9111_fail(why, rfc9111_why_method);
	if (req->cc.no_store)
		return rfc9111_fail(why, rfc9111_why_no_store);
	if (status < 200 || status > 599 || status == 304)
		return rfc9111_fail(why, rfc9111_why_status);
	if (status == 206)
		return rfc9111_fail(why, rfc9111_why_partial);
	if (resp_cc->must_understand && !understood)
		return rfc9111_fail(why, rfc9111_why_must_understand);
	if (resp_cc->no_store && !(resp_cc->must_understand && understood))
		return rfc9111_fail(why, rfc9111_why_no_store);
	if (resp_cc->private_)
		return rfc9111_fail(why, rfc9111_why_private);
	if (req->has_authorization && !resp_cc->public_ && !resp_cc->must_revalidate &&
	    resp_cc->s_maxage.state != CC_SET)
		return rfc9111_fail(why, rfc9111_why_authorization);
	if (resp_cc->public_ || resp_cc->max_age.state != CC_ABSENT ||
	    resp_cc->s_maxage.state != CC_ABSENT || http_headers_get(resp, "Expires") != NULL)
		return true;
	if (rfc9111_heuristic_status(status))
		return true;
	return rfc9111_fail(why, rfc9111_why_status);
}

/* ------------------------------------------------------------------------- freshness */

/*
 * Freshness lifetime in seconds (section 4.2.1): s-maxage, else max-age, else Expires - Date,
 * else settings->default_ttl. An invalid Expires means already stale (0).
 */
int64_t
rfc9111_freshness_lifetime(int status, const struct http_headers *resp,
                           const struct cc_response *resp_cc, bool targeted, int64_t date_value,
                           const struct rfc9111_settings *settings)
{
	int64_t expires, date, lm;

	if (resp_cc->s_maxage.state == CC_SET)
		return rfc9111_max0(resp_cc->s_maxage.value);
	if (resp_cc->s_maxage.state == CC_INVALID)
		return 0;
	if (resp_cc->max_age.state == CC_SET)
		return rfc9111_max0(resp_cc->max_age.value);
	if (resp_cc->max_age.state == CC_INVALID)
		return 0;

	size_t n_expires = targeted ? 0 : http_headers_count(resp, "Expires");
	if (n_expires > 1)
		return 0;
	if (n_expires == 1) {
		if (!http_date_parse(http_headers_get(resp, "Expires"), &expires))
			return 0; /* invalid, e.g. "0": already expired (section 5.3) */
		const char *d = http_headers_get(resp, "Date");
		if (d == NULL || !http_date_parse(d, &date))
			date = date_value;
		return rfc9111_max0(rfc9111_sub(expires, date));
	}

	/* heuristic freshness (section 4.2.2) */
	const char *last_modified = http_headers_get(resp, "Last-Modified");
	if (settings != NULL && settings->heuristic_max > 0 && last_modified != NULL &&
	    (rfc9111_heuristic_status(status) || resp_cc->public_) &&
	    http_headers_count(resp, "Last-Modified") == 1 && http_date_parse(last_modified, &lm) &&
	    lm < date_value) {
		int64_t h = rfc9111_sub(date_value, lm) / 10;
		return h < settings->heuristic_max ? h : settings->heuristic_max;
	}
	return settings != NULL ? rfc9111_max0(settings->default_ttl) : 0;
}

/* The name of the first field of resp called name, as resp spells it (lives with resp). */
static const char *
rfc9111_field_name(const struct http_headers *resp, const char *name)
{
	for (size_t j = 0; j < resp->n; j++)
		if (strcasecmp(resp->v[j].name, name) == 0)
			return resp->v[j].name;
	TC_ASSERT(!"a field that was found is there");
	return NULL;
}

/*
 * The directives of resp for this cache: a valid targeted field (the configured one, then
 * CDN-Cache-Control), else a Surrogate-Control (the older field for surrogates, with
 * Cache-Control syntax) that says max-age or no-store, else Cache-Control.
 */
const char *
rfc9111_response_cc(const struct http_headers *resp, const struct rfc9111_settings *settings,
                    struct cache_control *cc)
{
	const char *names[2] = {settings != NULL ? settings->targeted : NULL,
	                        RFC9111_CDN_CACHE_CONTROL};

	for (size_t i = 0; i < 2; i++) {
		if (names[i] == NULL || names[i][0] == '\0' ||
		    http_headers_get(resp, names[i]) == NULL)
			continue;
		char *v = http_headers_join(resp, names[i]);
		bool ok = cachecontrol_parse_targeted(v, cc);
		free(v);
		if (!ok)
			continue;
		return rfc9111_field_name(resp, names[i]);
	}
	if (http_headers_get(resp, RFC9111_SURROGATE_CONTROL) != NULL) {
		char *v = http_headers_join(resp, RFC9111_SURROGATE_CONTROL);
		cachecontrol_parse(v, cc);
		free(v);
		/* its other directives (content="ESI/1.0"...) say nothing about freshness */
		if (cc->max_age.state != CC_ABSENT || cc->no_store)
			return rfc9111_field_name(resp, RFC9111_SURROGATE_CONTROL);
	}
	char *v = http_headers_join(resp, "Cache-Control");
	cachecontrol_parse(v, cc);
	free(v);
	return NULL;
}

/* True when the response's directives forbid serving it stale (must-revalidate, ...). */
bool
rfc9111_stale_forbidden(const struct cc_response *resp_cc)
{
	return resp_cc->must_revalidate || resp_cc->proxy_revalidate || resp_cc->no_cache ||
	       resp_cc->s_maxage.state != CC_ABSENT;
}

/* The response's own stale-if-error window, else the operator's default (0: none). */
static int64_t
rfc9111_error_window(const struct cc_response *resp_cc, const struct rfc9111_settings *settings)
{
	if (resp_cc->stale_if_error.state == CC_SET)
		return resp_cc->stale_if_error.value;
	if (resp_cc->stale_if_error.state == CC_INVALID)
		return 0;
	return settings != NULL ? rfc9111_max0(settings->stale_if_error) : 0;
}

/* Seconds past its freshness that a stored response without validators stays useful. */
int64_t
rfc9111_stale_window(const struct cc_response *resp_cc, const struct rfc9111_settings *settings)
{
	int64_t w = settings != NULL ? rfc9111_max0(settings->max_stale_keep) : 0;
	int64_t e = rfc9111_error_window(resp_cc, settings);

	if (rfc9111_stale_forbidden(resp_cc))
		return 0;
	if (resp_cc->stale_while_revalidate.state == CC_SET &&
	    resp_cc->stale_while_revalidate.value > w)
		w = resp_cc->stale_while_revalidate.value;
	return e > w ? e : w;
}

/* What a stored response may do for a request (see rfc9111.h). */
enum rfc9111_use
rfc9111_use(const struct cache_control *req_cc, bool pragma_no_cache,
            const struct cc_response *resp_cc, int64_t lifetime, int64_t age)
{
	int64_t ttl = rfc9111_sub(lifetime, age);
	int64_t staleness = rfc9111_sub(age, lifetime);

	if (resp_cc->no_cache || req_cc->no_cache || req_cc->no_cache_fields ||
	    (!req_cc->any && pragma_no_cache))
		return RFC9111_VALIDATE;
	if (req_cc->max_age.state == CC_INVALID ||
	    (req_cc->max_age.state == CC_SET &&
	     (req_cc->max_age.value == 0 || age > req_cc->max_age.value)))
		return RFC9111_VALIDATE;
	if (req_cc->min_fresh.state == CC_INVALID ||
	    (req_cc->min_fresh.state == CC_SET && ttl < req_cc->min_fresh.value))
		return RFC9111_VALIDATE;
	if (ttl > 0)
		return RFC9111_FRESH;
	if (rfc9111_stale_forbidden(resp_cc))
		return RFC9111_VALIDATE;
	if (req_cc->max_stale.state == CC_SET && staleness <= req_cc->max_stale.value)
		return RFC9111_STALE;
	if (resp_cc->stale_while_revalidate.state == CC_SET &&
	    staleness < resp_cc->stale_while_revalidate.value)
		return RFC9111_SWR;
	return RFC9111_VALIDATE;
}

/* True when the stored response may answer instead of an origin failure or 5xx. */
bool
rfc9111_serve_on_error(const struct cache_control *req_cc, const struct cc_response *resp_cc,
                       int64_t lifetime, int64_t age, const struct rfc9111_settings *settings)
{
	int64_t staleness = rfc9111_max0(rfc9111_sub(age, lifetime));
	int64_t window = rfc9111_error_window(resp_cc, settings);

	if (rfc9111_stale_forbidden(resp_cc))
		return false;
	if (req_cc != NULL && req_cc->stale_if_error.state == CC_SET &&
	    req_cc->stale_if_error.value > window)
		window = req_cc->stale_if_error.value;
	return staleness < window;
}

/* ------------------------------------------------------------------------- age */

/* The Age value (section 5.1): first member of a list, digits only, saturated; else 0. */
static int64_t
rfc9111_age_value(const char *age_header)
{
	const char *pos = age_header, *e;
	size_t n;
	int64_t v = 0;

	if (!http_list_next(&pos, &e, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i] < '0' || e[i] > '9')
			return 0;
		if (v < CC_DELTA_MAX)
			v = v * 10 + (e[i] - '0');
	}
	return v > CC_DELTA_MAX ? CC_DELTA_MAX : v;
}

/*
 * Corrected initial age (section 4.2.3) from the Age header value (may be NULL), the Date
 * value and the local request and response times.
 */
int64_t
rfc9111_corrected_initial_age(const char *age_header, int64_t date_value, int64_t request_time,
                              int64_t response_time)
{
	int64_t age_value = rfc9111_age_value(age_header);
	int64_t apparent_age = rfc9111_max0(rfc9111_sub(response_time, date_value));
	int64_t response_delay = rfc9111_max0(rfc9111_sub(response_time, request_time));
	int64_t corrected_age_value = rfc9111_add(age_value, response_delay);

	return apparent_age > corrected_age_value ? apparent_age : corrected_age_value;
}

/* Current age of a stored response at now (section 4.2.3); a clock going back adds nothing. */
int64_t
rfc9111_current_age(int64_t corrected_initial_age, int64_t response_time, int64_t now)
{
	int64_t resident_time = rfc9111_max0(rfc9111_sub(now, response_time));

	return rfc9111_max0(rfc9111_add(rfc9111_max0(corrected_initial_age), resident_time));
}

/* ------------------------------------------------------------------------- 304 merge */

/* Fields a 304 never updates: framing of the stored body (plus hop-by-hop ones). */
static const char *const rfc9111_merge_kept[] = {
        "Content-Length",
        "Content-Encoding",
        "Content-Range",
        "Transfer-Encoding",
};

static bool
rfc9111_updatable(const char *name, const char *conn)
{
	for (size_t i = 0; i < TC_ARRAY_LEN(rfc9111_merge_kept); i++)
		if (strcasecmp(name, rfc9111_merge_kept[i]) == 0)
			return false;
	return !http_is_hop_by_hop(name, conn);
}

/*
 * Builds the headers of a stored response refreshed by a 304 (section 4.3.4) into *out
 * (empty on entry): the fields of the 304 replace the stored fields of the same name (in the
 * place of the first), others are appended; Content-Length, Content-Encoding, Content-Range,
 * Transfer-Encoding and hop-by-hop fields of the 304 are ignored.
 */
void
rfc9111_merge_304(const struct http_headers *stored, const struct http_headers *not_modified,
                  struct http_headers *out)
{
	char *conn = http_headers_join(not_modified, "Connection");

	TC_ASSERT(out->n == 0);
	for (size_t i = 0; i < stored->n; i++) {
		const char *name = stored->v[i].name;

		if (!rfc9111_updatable(name, conn) ||
		    http_headers_get(not_modified, name) == NULL) {
			http_headers_add(out, name, stored->v[i].value);
			continue;
		}
		/* replaced: emit the 304's fields at the first stored one, drop the others */
		bool first = true;
		for (size_t j = 0; j < i && first; j++)
			if (strcasecmp(stored->v[j].name, name) == 0)
				first = false;
		if (!first)
			continue;
		for (size_t k = 0; k < not_modified->n; k++)
			if (strcasecmp(not_modified->v[k].name, name) == 0)
				http_headers_add(out, not_modified->v[k].name,
				                 not_modified->v[k].value);
	}
	for (size_t k = 0; k < not_modified->n; k++) {
		const char *name = not_modified->v[k].name;

		if (rfc9111_updatable(name, conn) && http_headers_get(stored, name) == NULL)
			http_headers_add(out, name, not_modified->v[k].value);
	}
	free(conn);
}

/* ------------------------------------------------------------------------- conditionals */

static bool
rfc9111_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* etagc (RFC 9110 section 8.8.3): %x21 / %x23-7E / obs-text. */
static bool
rfc9111_is_etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

/*
 * Reads one entity-tag at *p: optional "W/" then a quoted opaque-tag (no escapes). Sets
 * *opaque / *len to the tag between the quotes and advances *p past it.
 */
static bool
rfc9111_etag_read(const char **p, const char **opaque, size_t *len)
{
	const char *s = *p;

	if (s[0] == 'W' && s[1] == '/')
		s += 2;
	if (*s != '"')
		return false;
	s++;
	*opaque = s;
	while (rfc9111_is_etagc((unsigned char)*s))
		s++;
	if (*s != '"')
		return false;
	*len = (size_t)(s - *opaque);
	*p = s + 1;
	return true;
}

/*
 * Compares etag with a list value ("*" or entity-tags, as If-None-Match and If-Match carry):
 * weakly (RFC 9110 8.8.3.2), or strongly, when neither tag may be weak. Without a usable
 * etag only "*" matches (a stored representation exists). A malformed list matches nothing.
 */
static bool
rfc9111_etag_list_matches(const char *list, const char *etag, bool strong)
{
	const char *p = etag, *want = NULL, *got;
	size_t want_len = 0, got_len;
	bool etag_ok = etag != NULL && !(strong && etag[0] == 'W' && etag[1] == '/');

	if (list == NULL)
		return false;
	if (etag_ok) {
		while (rfc9111_is_ows(*p))
			p++;
		etag_ok = rfc9111_etag_read(&p, &want, &want_len);
		while (etag_ok && rfc9111_is_ows(*p))
			p++;
		etag_ok = etag_ok && *p == '\0';
	}
	p = list;
	for (;;) {
		while (*p == ',' || rfc9111_is_ows(*p))
			p++;
		if (*p == '\0')
			return false;
		if (*p == '*') {
			p++;
			return *p == '\0' || *p == ',' || rfc9111_is_ows(*p);
		}
		bool weak = p[0] == 'W' && p[1] == '/';
		if (!rfc9111_etag_read(&p, &got, &got_len))
			return false; /* malformed list: stop, no match */
		if (etag_ok && !(strong && weak) && got_len == want_len &&
		    memcmp(got, want, got_len) == 0)
			return true;
		while (rfc9111_is_ows(*p))
			p++;
		if (*p != '\0' && *p != ',')
			return false; /* entity-tags must be separated by commas */
	}
}

/* Weak comparison of an If-None-Match value ("*" or a list of entity-tags) with etag. */
bool
rfc9111_etag_matches(const char *if_none_match, const char *etag)
{
	return rfc9111_etag_list_matches(if_none_match, etag, false);
}

/*
 * True when the client's conditional headers (If-None-Match, else If-Modified-Since) say
 * that its copy is current, so a 304 can be sent instead of the stored response.
 */
bool
rfc9111_client_not_modified(const struct http_headers *req, const char *etag,
                            const char *last_modified)
{
	char *inm = http_headers_join(req, "If-None-Match");
	int64_t ims, lm;

	if (inm != NULL) {
		bool match = rfc9111_etag_matches(inm, etag);
		free(inm);
		return match;
	}
	if (http_headers_count(req, "If-Modified-Since") != 1 || last_modified == NULL)
		return false;
	if (!http_date_parse(http_headers_get(req, "If-Modified-Since"), &ims) ||
	    !http_date_parse(last_modified, &lm))
		return false;
	return lm <= ims;
}

/* ------------------------------------------------ preconditions and ranges (RFC 9110) */

/* Strong comparison of an If-Match value ("*" or a list of entity-tags) with etag. */
bool
rfc9111_etag_matches_strong(const char *if_match, const char *etag)
{
	return rfc9111_etag_list_matches(if_match, etag, true);
}

/*
 * True when the client's If-Match (else If-Unmodified-Since) fails against a stored 2xx
 * response with these validators (RFC 9110 sections 13.1.1, 13.1.4 and 13.2.2).
 */
bool
rfc9111_precondition_failed(const struct http_headers *req, int status, const char *etag,
                            const char *last_modified)
{
	char *im;
	int64_t ius, lm;

	if (status < 200 || status > 299)
		return false; /* 13.2.1: preconditions only apply to a 2xx answer */
	im = http_headers_join(req, "If-Match");
	if (im != NULL) {
		bool match = rfc9111_etag_matches_strong(im, etag);
		free(im);
		return !match;
	}
	if (http_headers_count(req, "If-Unmodified-Since") != 1)
		return false;
	if (!http_date_parse(http_headers_get(req, "If-Unmodified-Since"), &ius))
		return false; /* an invalid date is ignored */
	if (last_modified == NULL || !http_date_parse(last_modified, &lm))
		return true; /* no modification date to compare: cannot be shown unmodified */
	return lm > ius;
}

/* Parses a decimal run of digits into *v (false on overflow or no digit). */
static bool
rfc9111_range_num(const char **p, int64_t *v)
{
	const char *s = *p;
	int64_t n = 0;

	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		if (n > (INT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (*s++ - '0');
	}
	*p = s;
	*v = n;
	return true;
}

/*
 * Evaluates a Range header value against a representation of len bytes (RFC 9110 section
 * 14.1.2): one byte range sets [*first, *last] (clipped to the representation).
 */
enum rfc9111_range
rfc9111_range_parse(const char *range, int64_t len, int64_t *first, int64_t *last)
{
	const char *p = range;
	int64_t a = -1, b = -1;

	if (range == NULL || strncasecmp(p, "bytes", 5) != 0)
		return RFC9111_RANGE_NONE; /* absent, or another unit: ignored */
	p += 5;
	while (rfc9111_is_ows(*p))
		p++;
	if (*p++ != '=')
		return RFC9111_RANGE_NONE;
	while (rfc9111_is_ows(*p))
		p++;
	if (*p == '-') {
		p++;
		if (!rfc9111_range_num(&p, &b))
			return RFC9111_RANGE_NONE;
	} else {
		if (!rfc9111_range_num(&p, &a) || *p++ != '-')
			return RFC9111_RANGE_NONE;
		if (*p >= '0' && *p <= '9' && !rfc9111_range_num(&p, &b))
			return RFC9111_RANGE_NONE;
		if (b >= 0 && b < a)
			return RFC9111_RANGE_NONE; /* invalid range: the whole field is ignored */
	}
	while (rfc9111_is_ows(*p))
		p++;
	if (*p == ',') {
		/* a set of ranges: valid syntax or not, the origin decides */
		while (*p == ',' || rfc9111_is_ows(*p))
			p++;
		if (*p != '\0')
			return RFC9111_RANGE_MULTI;
	}
	if (*p != '\0')
		return RFC9111_RANGE_NONE;
	if (a < 0) { /* suffix: the last b bytes */
		if (b == 0 || len == 0)
			return RFC9111_RANGE_UNSATISFIABLE;
		*first = b >= len ? 0 : len - b;
		*last = len - 1;
		return RFC9111_RANGE_ONE;
	}
	if (a >= len)
		return RFC9111_RANGE_UNSATISFIABLE;
	*first = a;
	*last = b < 0 || b >= len ? len - 1 : b;
	return RFC9111_RANGE_ONE;
}

/*
 * True when the client's If-Range (absent: true) lets a Range apply to the stored response
 * (RFC 9110 section 13.1.5): a strong entity-tag equal to the stored one, or an HTTP-date
 * equal to the stored Last-Modified.
 */
bool
rfc9111_if_range_ok(const struct http_headers *req, const char *etag, const char *last_modified)
{
	const char *v = http_headers_get(req, "If-Range");
	int64_t when, lm;

	if (v == NULL)
		return true;
	if (http_headers_count(req, "If-Range") != 1)
		return false;
	while (rfc9111_is_ows(*v))
		v++;
	if (*v == '"' || (v[0] == 'W' && v[1] == '/'))
		return v[0] == '"' && etag != NULL && rfc9111_etag_matches_strong(v, etag);
	if (!http_date_parse(v, &when) || last_modified == NULL ||
	    !http_date_parse(last_modified, &lm))
		return false;
	return when == lm;
}
