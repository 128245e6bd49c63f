/*
 * entry: construction, derived freshness and reference counting of stored responses.
 * An entry is immutable after entry_new/entry_refresh return, so any thread may read it
 * without a lock while it holds a reference. refs is atomic; the thread that drops the last
 * reference frees the entry (never under a lock: callers unref after unlocking).
 *
 * Layout: an entry is one allocation holding the struct, its keys, its fields (packed, see
 * below) and a body of up to 16 KiB; a larger body keeps its own buffer:
 * [struct entry][key NUL][vary_key NUL][fields][body, or a memory file's descriptor].
 * The fields are packed one after the other, each a lead byte, then the name and value as
 * NUL-terminated strings: a lead byte of 0 is followed by the name as received; any other is
 * the code of one of the common names (http_common_code: "Date", "Cache-Control"...) and the
 * value follows at once. No pointer or offset is kept per field (a field of a 1 KiB response
 * costs its bytes and 2 to 3 more): entry_field_next walks them, entry_get finds the first of
 * a name by that walk (a stored response has few fields, read on misses and on the hits that
 * build a response), and entry_headers lends them as a struct http_headers to the rules that
 * read one.
 * Stored responses are what fills memory, so this is where the bytes per entry are decided
 * (malloc's per-allocation overhead and the holes left between small allocations were a
 * third of the payload for 1 KiB responses). What else keeps an entry small: references to
 * fields are 16-bit indices (entry_etag and friends), derived times that fit are 32 bits and
 * those that follow from others are computed (entry_expires_at, entry_keep_until,
 * entry_request_time, entry_date_value), only the response directives are kept (struct
 * cc_response: 32 bytes, not the 43 of a parsed request's), the key is a flexible array
 * member that starts right after the last flag and the vary key follows it (no pointers, no
 * padding), the block's size and the body's place follow from the lengths (entry_size,
 * entry_body), a Content-Length equal to the stored body is not kept (the server frames the
 * body itself), and the packed fields name common fields by a one-byte code.
 * A body of at least [local] body_file_min_bytes goes to a sealed memory file instead
 * (bodyfile.h: body is its read-only mapping, entry_body_fd the descriptor hits are sent
 * from with sendfile), released with the last reference.
 */
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bodyfile.h"
#include "entry.h"
#include "util.h"

/* v saturated to the int32_t range (RFC 9111 section 1.2.2: 2^31 or the greatest value). */
static int32_t
entry_sat32(int64_t v)
{
	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* Number of e's stored fields. */
size_t
entry_nfields(const struct entry *e)
{
	size_t pos = 0, n = 0;
	const char *name, *value;

	while (entry_field_next(e, &pos, &name, &value))
		n++;
	return n;
}

/* The field at index i (< entry_nfields(e)): its name, and its value in *value. */
const char *
entry_field_at(const struct entry *e, size_t i, const char **value)
{
	size_t pos = 0;
	const char *name = NULL;

	for (size_t k = 0; k <= i; k++) {
		bool found = entry_field_next(e, &pos, &name, value);
		TC_ASSERT(found);
	}
	return name;
}

/* The value of e's first field called name, or NULL. */
const char *
entry_get(const struct entry *e, const char *name)
{
	size_t pos = 0;
	const char *n, *v;

	while (entry_field_next(e, &pos, &n, &v))
		if (http_name_eq(n, name))
			return v;
	return NULL;
}

/* Number of e's fields called name. */
size_t
entry_count(const struct entry *e, const char *name)
{
	size_t pos = 0, count = 0;
	const char *n, *v;

	while (entry_field_next(e, &pos, &n, &v))
		count += http_name_eq(n, name);
	return count;
}

/* Joins e's fields called name with ", " into a new string (NULL when there is none). */
char *
entry_join(const struct entry *e, const char *name)
{
	struct http_headers h = {0};
	char *joined;

	entry_headers(e, &h);
	joined = http_headers_join(&h, name);
	http_headers_clear(&h);
	return joined;
}

/* Fills *out with e's fields, borrowed from e. */
void
entry_headers(const struct entry *e, struct http_headers *out)
{
	size_t pos = 0;
	const char *n, *v;

	TC_ASSERT(out->n == 0);
	while (entry_field_next(e, &pos, &n, &v))
		http_headers_add_borrowed(out, n, v);
}

/* Bytes the fields of h take packed (see the top). */
static size_t
entry_fields_size(const struct http_headers *h)
{
	size_t bytes = 0;

	for (size_t i = 0; i < h->n; i++)
		bytes += 1 + (http_common_code(h->v[i].name) ? 0 : strlen(h->v[i].name) + 1) +
		         strlen(h->v[i].value) + 1;
	return bytes;
}

/* Packs the fields of h at p (entry_fields_size(h) bytes). */
static void
entry_fields_pack(const struct http_headers *h, char *p)
{
	for (size_t i = 0; i < h->n; i++) {
		unsigned code = http_common_code(h->v[i].name);
		size_t vl = strlen(h->v[i].value) + 1;

		*p++ = (char)code;
		if (code == 0) {
			size_t nl = strlen(h->v[i].name) + 1;
			p = (char *)memcpy(p, h->v[i].name, nl) + nl;
		}
		p = (char *)memcpy(p, h->v[i].value, vl) + vl;
	}
}

/*
 * 1 + the index of the first field of h called name (0 when there is none; a field past
 * 65,534 fields, which no origin's header limits allow, counts as absent).
 */
static uint16_t
entry_field_index(const struct http_headers *h, const char *name)
{
	for (size_t i = 0; i < h->n && i < UINT16_MAX - 1; i++)
		if (http_name_eq(h->v[i].name, name))
			return (uint16_t)(i + 1);
	return 0;
}

/* RFC 9111's date_value of fields received at response_time. */
static int64_t
entry_date_of(const char *date, int64_t response_time)
{
	int64_t t;

	return date != NULL && http_date_parse(date, &t) ? t : response_time;
}

/* The Date of e: its Date field, else the time it was received. */
int64_t
entry_date_value(const struct entry *e)
{
	return entry_date_of(entry_get(e, "Date"), e->response_time);
}

/* Computes the derived fields of e from its fields (h, the list e was packed from) and times. */
static void
entry_derive(struct entry *e, const struct http_headers *h, const struct rfc9111_settings *settings)
{
	struct cache_control cc;
	const char *targeted = rfc9111_response_cc(h, settings, &cc);
	int64_t date_value = entry_date_of(http_headers_get(h, "Date"), e->response_time), window;
	size_t nh = 0;

	for (size_t i = 0; i < h->n && i < UINT16_MAX - 1; i++) {
		const char *name = h->v[i].name;
		bool seen = nh == 1 && strcasecmp(h->v[e->hidden[0] - 1].name, name) == 0;
		if (name == targeted)
			e->targeted_field = (uint16_t)(i + 1);
		if (nh < 2 && !seen &&
		    (strcasecmp(name, RFC9111_CDN_CACHE_CONTROL) == 0 ||
		     (settings != NULL && settings->targeted != NULL &&
		      strcasecmp(name, settings->targeted) == 0)))
			e->hidden[nh++] = (uint16_t)(i + 1);
	}
	TC_ASSERT(targeted == NULL || e->targeted_field != 0 || h->n >= UINT16_MAX - 1);
	e->cc = cc.resp; /* the request-only directives a response may name mean nothing here */
	e->corrected_initial_age = entry_sat32(rfc9111_corrected_initial_age(
	        http_headers_get(h, "Age"), date_value, entry_request_time(e), e->response_time));
	e->lifetime = entry_sat32(rfc9111_freshness_lifetime(e->status, h, &e->cc, targeted != NULL,
	                                                     date_value, settings));
	e->etag_field = entry_field_index(h, "ETag");
	e->last_modified_field = entry_field_index(h, "Last-Modified");
	/* a window of INT32_MAX seconds or more (68 years) is for ever */
	window = entry_has_validator(e) ? INT32_MAX : rfc9111_stale_window(&e->cc, settings);
	e->keep_for = window >= INT32_MAX ? INT32_MAX : (int32_t)window;
}

/*
 * Removes the one Content-Length of headers when it is exactly body_len in decimal: it only
 * frames the body stored with it, and the server frames what it sends itself. Any other
 * Content-Length (a HEAD's or a streamed response's, which has no body here, or a list of
 * values) stays, as it tells something the body does not.
 */
static void
entry_drop_framing(struct http_headers *headers, size_t body_len)
{
	const char *cl = http_headers_get(headers, "Content-Length");
	char digits[24];

	if (cl == NULL || body_len == 0 || http_headers_count(headers, "Content-Length") != 1)
		return;
	snprintf(digits, sizeof(digits), "%zu", body_len);
	if (strcmp(cl, digits) == 0)
		http_headers_remove(headers, "Content-Length");
}

/*
 * The one constructor. The entry is one block: the struct, the keys, the packed fields and a
 * small body ([struct entry][key][vary_key][fields][body]). body is copied when small
 * and owned_body (the same bytes, or NULL) freed; a large body goes to a memory file when
 * bodyfile takes it (then the block ends with the file's descriptor instead of a body, read
 * by entry_body_fd, and owned_body is freed), else it is kept: owned_body, or a copy of body
 * when owned_body is NULL.
 */
static struct entry *
entry_create(const char *key, const char *vary_key, int status, struct http_headers *headers,
             const char *body, size_t body_len, char *owned_body, int64_t request_time,
             int64_t response_time, const struct rfc9111_settings *settings)
{
	size_t klen = strlen(key) + 1, vlen = vary_key ? strlen(vary_key) + 1 : 0;
	size_t hoff = offsetof(struct entry, key) + klen + vlen;
	size_t hlen;
	bool inline_body = body_len <= ENTRY_INLINE_BODY_MAX;
	struct bodyfile file = {-1, NULL};
	size_t tail; /* after the headers: the inline body, or a file's descriptor */
	char *block;
	struct entry *e;

	entry_drop_framing(headers, body_len);
	hlen = entry_fields_size(headers);
	TC_ASSERT(hoff + hlen + ENTRY_INLINE_BODY_MAX < UINT32_MAX);
	if (!inline_body)
		bodyfile_create(owned_body != NULL ? owned_body : body, body_len, &file);
	/* the inline body, or the address of the body kept apart (and the file's descriptor) */
	tail = inline_body ? body_len : sizeof(char *) + (file.fd >= 0 ? sizeof(file.fd) : 0);
	block = xmalloc(hoff + hlen + tail);
	e = (struct entry *)(void *)block;
	memset(e, 0, offsetof(struct entry, key));
	atomic_init(&e->refs, 1);
	memcpy(e->key, key, klen);
	if (vary_key != NULL)
		memcpy(e->key + klen, vary_key, vlen);
	e->has_vary = vary_key != NULL;
	TC_ASSERT(status >= 0 && status <= UINT16_MAX); /* HTTP: three digits */
	e->status = (uint16_t)status;
	entry_fields_pack(headers, block + hoff);
	e->fields_off = (uint32_t)hoff;
	e->fields_len = (uint32_t)hlen;
	e->body_len = body_len;
	if (inline_body) {
		if (body_len != 0)
			memcpy(block + hoff + hlen, body, body_len); /* entry_body */
		free(owned_body);
	} else {
		char *apart;

		if (file.fd >= 0) {
			apart = file.map;
			memcpy(block + hoff + hlen + sizeof(char *), &file.fd,
			       sizeof(file.fd)); /* entry_body_fd */
			free(owned_body);
		} else if (owned_body != NULL) {
			apart = owned_body;
			e->body_owned = true;
		} else {
			apart = memcpy(xmalloc(body_len), body, body_len);
			e->body_owned = true;
		}
		memcpy(block + hoff + hlen, &apart, sizeof(apart)); /* entry_body */
	}
	e->response_time = response_time;
	e->request_delay = entry_sat32(response_time - request_time);
	entry_derive(e, headers, settings);
	http_headers_clear(headers);
	return e;
}

/* Creates an entry with one reference, taking ownership of *headers' fields and of body. */
struct entry *
entry_new(const char *key, const char *vary_key, int status, struct http_headers *headers,
          char *body, size_t body_len, int64_t request_time, int64_t response_time,
          const struct rfc9111_settings *settings)
{
	return entry_create(key, vary_key, status, headers, body, body_len, body, request_time,
	                    response_time, settings);
}

/* Creates the entry that replaces e after a 304 (RFC 9111 section 4.3.4). */
struct entry *
entry_refresh(const struct entry *e, const struct http_headers *not_modified, int64_t request_time,
              int64_t response_time, const struct rfc9111_settings *settings)
{
	struct http_headers stored = {0}, merged = {0};

	entry_headers(e, &stored);
	rfc9111_merge_304(&stored, not_modified, &merged);
	http_headers_clear(&stored);
	/* The stored Age and Date described the old exchange: keep them only when the 304
	 * brings new ones (a 304 without Date gets the time it was received, RFC 9110 6.6.1). */
	if (http_headers_get(not_modified, "Age") == NULL)
		http_headers_remove(&merged, "Age");
	if (http_headers_get(not_modified, "Date") == NULL) {
		char date[30];
		http_date_format(response_time, date);
		http_headers_set(&merged, "Date", date);
	}
	return entry_create(e->key, entry_vary_key(e), e->status, &merged, entry_body(e),
	                    e->body_len, NULL, request_time, response_time, settings);
}

/* A copy of e (not yet published, one reference) without the fields called names[0..n). */
struct entry *
entry_without(const struct entry *e, const char *const *names, size_t n,
              const struct rfc9111_settings *settings)
{
	struct http_headers h = {0};
	struct entry *c;

	entry_headers(e, &h);
	for (size_t i = 0; i < n; i++)
		http_headers_remove(&h, names[i]);
	c = entry_create(e->key, entry_vary_key(e), e->status, &h, entry_body(e), e->body_len, NULL,
	                 entry_request_time(e), e->response_time, settings);
	c->response_ms = e->response_ms;
	return c;
}

/* Takes another reference; returns e. */
struct entry *
entry_ref(struct entry *e)
{
	unsigned old = atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);

	TC_ASSERT(old > 0);
	return e;
}

/* Drops a reference (NULL is ignored); frees the entry when it was the last. */
void
entry_unref(struct entry *e)
{
	if (e == NULL)
		return;
	unsigned old = atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel);
	TC_ASSERT(old > 0);
	if (old != 1)
		return;
	if (e->body_owned)
		free((void *)(uintptr_t)entry_body(e));
	if (entry_body_fd(e) >= 0)
		bodyfile_release(
		        &(struct bodyfile){entry_body_fd(e), (char *)(uintptr_t)entry_body(e)},
		        e->body_len);
	free(e);
}

/* Current age at now, in seconds. */
int64_t
entry_age(const struct entry *e, int64_t now)
{
	return rfc9111_current_age(e->corrected_initial_age, e->response_time, now);
}

/* Remaining freshness at now in seconds (negative once stale). */
int64_t
entry_ttl(const struct entry *e, int64_t now)
{
	return e->lifetime - entry_age(e, now);
}

/* True while the entry is fresh at now. */
bool
entry_is_fresh(const struct entry *e, int64_t now)
{
	return entry_ttl(e, now) > 0;
}

/* True when the entry has a validator (ETag or Last-Modified) to revalidate it with. */
bool
entry_has_validator(const struct entry *e)
{
	return e->etag_field != 0 || e->last_modified_field != 0;
}

/* True when a's response arrived after b's (response_time, then response_ms). */
bool
entry_is_newer(const struct entry *a, const struct entry *b)
{
	if (a->response_time != b->response_time)
		return a->response_time > b->response_time;
	return a->response_ms > b->response_ms;
}

/* Makes e (not yet published) a vary spec: never served, kept until evicted or removed. */
void
entry_mark_spec(struct entry *e)
{
	e->vary_spec = true;
	e->lifetime = INT32_MAX;
	e->keep_for = INT32_MAX; /* and entry_expires_at is for ever */
}

/* True when spec is a vary spec for the same Vary names. */
bool
entry_spec_same(const struct entry *spec, const char *names)
{
	const char *v;

	if (spec == NULL || !spec->vary_spec || names == NULL)
		return false;
	v = entry_get(spec, "Vary");
	return v != NULL && strcmp(v, names) == 0 && entry_get(spec, ENTRY_SPEC_ID) != NULL;
}

/* New vary spec for key with id, listing the variant hash (with its etag) last. */
struct entry *
entry_spec_add(const struct entry *old, const char *key, const char *names, const char *id,
               const char *hash, const char *etag, int64_t now,
               const struct rfc9111_settings *settings)
{
	struct http_headers h = {0};
	size_t hl = strlen(hash), listed = 0, skip, pos = 0;
	const char *name, *value;
	struct entry *e;

	http_headers_add(&h, "Vary", names);
	http_headers_add(&h, ENTRY_SPEC_ID, id);
	if (entry_spec_same(old, names) && strcmp(entry_get(old, ENTRY_SPEC_ID), id) == 0)
		listed = entry_count(old, ENTRY_SPEC_VARIANT);
	else
		old = NULL; /* another id: its variants are not reachable under this one */
	/* the oldest go first when the list is full */
	skip = listed + 1 > ENTRY_SPEC_MAX ? listed + 1 - ENTRY_SPEC_MAX : 0;
	while (old != NULL && entry_field_next(old, &pos, &name, &value)) {
		if (strcasecmp(name, ENTRY_SPEC_VARIANT) != 0)
			continue;
		if (strncmp(value, hash, hl) == 0 && (value[hl] == ' ' || value[hl] == '\0'))
			continue; /* listed again below, with its new etag */
		if (skip > 0) {
			skip--;
			continue;
		}
		http_headers_add(&h, ENTRY_SPEC_VARIANT, value);
	}
	char *item = xasprintf("%s%s%s", hash, etag != NULL ? " " : "", etag != NULL ? etag : "");
	http_headers_add(&h, ENTRY_SPEC_VARIANT, item);
	free(item);
	e = entry_new(key, NULL, 200, &h, NULL, 0, now, now, settings);
	entry_mark_spec(e);
	return e;
}

/* The id of a vary spec (NULL for another entry). */
const char *
entry_spec_id(const struct entry *spec)
{
	return spec != NULL && spec->vary_spec ? entry_get(spec, ENTRY_SPEC_ID) : NULL;
}

/* True when the stored field name is one that is not forwarded to clients (RFC 9213). */
bool
entry_hides(const struct entry *e, const char *name)
{
	const char *value;

	for (size_t i = 0; i < 2 && e->hidden[i] != 0; i++)
		if (strcasecmp(entry_field_at(e, e->hidden[i] - 1u, &value), name) == 0)
			return true;
	return false;
}
