/*
 * record: encoding and decoding of the memcached record of an entry. Layout (integers are
 * big-endian, lengths count bytes):
 *
 *   magic "TCRE" | version u8 (1) | flags u8 (0, or RECORD_FLAG_SPEC: a vary spec) | status u16
 *   request_time i64 (at most INT32_MAX s before response_time) | response_time i64
 *   response_ms i64 (0 = unknown)
 *   key_len u32 | key | vary_len u32 (0xffffffff = no Vary key) | vary_key
 *   header count u32 | per header: name_len u16, name, value_len u32, value
 *   body_len u32 | body
 *   checksum u64: XXH3-64 of every byte before it
 *
 * The decoder reads through a cursor that refuses to step past the end; the checksum is checked
 * before any field is believed, and then every field is validated anyway (a well-formed record
 * written by something else must not become a response that tiercache would never produce: the
 * status is 100..999, header names are tokens, values hold no CR, LF or NUL, the key and the
 * Vary key hold no NUL, the request time is not after the response time). Nothing is allocated
 * for a field before its length has been checked against the bytes that are left, so a record
 * can never make the decoder allocate more than its own size. Pure functions.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "record.h"

static const char record_magic[4] = {'T', 'C', 'R', 'E'};

#define RECORD_NO_VARY UINT32_C(0xffffffff)

static const char *const record_status_names[] = {
        [RECORD_OK] = "ok",
        [RECORD_BAD_MAGIC] = "bad-magic",
        [RECORD_BAD_VERSION] = "bad-version",
        [RECORD_TRUNCATED] = "truncated",
        [RECORD_BAD_CHECKSUM] = "bad-checksum",
        [RECORD_CORRUPT] = "corrupt",
        [RECORD_OTHER_KEY] = "other-key",
};

/* A short name of a status ("ok", "bad-magic", ..., "other-key"). */
const char *
record_status_name(enum record_status s)
{
	return (size_t)s < TC_ARRAY_LEN(record_status_names) ? record_status_names[s] : "unknown";
}

static void
record_put_u16(struct buf *b, uint16_t v)
{
	unsigned char p[2] = {(unsigned char)(v >> 8), (unsigned char)v};

	buf_append(b, p, sizeof(p));
}

static void
record_put_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4];

	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (24 - 8 * i));
	buf_append(b, p, sizeof(p));
}

static void
record_put_u64(struct buf *b, uint64_t v)
{
	unsigned char p[8];

	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
	buf_append(b, p, sizeof(p));
}

/* Appends a u32 length and the bytes. */
static void
record_put_bytes(struct buf *b, const char *s, size_t n)
{
	TC_ASSERT(n < RECORD_NO_VARY);
	record_put_u32(b, (uint32_t)n);
	buf_append(b, s, n);
}

/* Bytes record_encode appends for e. */
size_t
record_size(const struct entry *e)
{
	size_t n = RECORD_OVERHEAD + strlen(e->key) + e->body_len;

	if (entry_vary_key(e) != NULL)
		n += strlen(entry_vary_key(e));
	size_t pos = 0;
	const char *name, *value;

	while (entry_field_next(e, &pos, &name, &value))
		n += 2 + strlen(name) + 4 + strlen(value);
	return n;
}

/* Appends the record of e to out. */
void
record_encode(const struct entry *e, struct buf *out)
{
	size_t start = out->len, pos = 0;
	const char *name, *value;

	TC_ASSERT(e->status >= 0 && e->status <= UINT16_MAX);
	buf_append(out, record_magic, sizeof(record_magic));
	buf_append(out, e->vary_spec ? "\x01\x01" : "\x01\x00", 2); /* RECORD_VERSION, flags */
	record_put_u16(out, (uint16_t)e->status);
	record_put_u64(out, (uint64_t)entry_request_time(e));
	record_put_u64(out, (uint64_t)e->response_time);
	record_put_u64(out, (uint64_t)(e->response_ms > 0 ? e->response_ms : 0));
	record_put_bytes(out, e->key, strlen(e->key));
	if (entry_vary_key(e) != NULL)
		record_put_bytes(out, entry_vary_key(e), strlen(entry_vary_key(e)));
	else
		record_put_u32(out, RECORD_NO_VARY);
	record_put_u32(out, (uint32_t)entry_nfields(e));
	while (entry_field_next(e, &pos, &name, &value)) {
		size_t nl = strlen(name);

		TC_ASSERT(nl > 0 && nl <= UINT16_MAX);
		record_put_u16(out, (uint16_t)nl);
		buf_append(out, name, nl);
		record_put_bytes(out, value, strlen(value));
	}
	record_put_bytes(out, entry_body(e), e->body_len);
	record_put_u64(out, XXH3_64bits(out->data + start, out->len - start));
}

/* A read position in untrusted bytes; every read checks what is left. */
struct record_cursor {
	const unsigned char *p;
	size_t left;
};

static bool
record_get_u16(struct record_cursor *c, uint16_t *v)
{
	if (c->left < 2)
		return false;
	*v = (uint16_t)((unsigned)c->p[0] << 8 | c->p[1]);
	c->p += 2;
	c->left -= 2;
	return true;
}

static bool
record_get_u32(struct record_cursor *c, uint32_t *v)
{
	if (c->left < 4)
		return false;
	*v = 0;
	for (int i = 0; i < 4; i++)
		*v = *v << 8 | c->p[i];
	c->p += 4;
	c->left -= 4;
	return true;
}

static bool
record_get_u64(struct record_cursor *c, uint64_t *v)
{
	if (c->left < 8)
		return false;
	*v = 0;
	for (int i = 0; i < 8; i++)
		*v = *v << 8 | c->p[i];
	c->p += 8;
	c->left -= 8;
	return true;
}

/* Points *s at the next n bytes (not copied). */
static bool
record_get_span(struct record_cursor *c, size_t n, const char **s)
{
	if (c->left < n)
		return false;
	*s = (const char *)c->p;
	c->p += n;
	c->left -= n;
	return true;
}

/* True for a header name: one or more token characters (RFC 9110 section 5.6.2). */
static bool
record_is_token(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9');
		if (!alnum && (ch == '\0' || strchr("!#$%&'*+-.^_`|~", ch) == NULL))
			return false;
	}
	return true;
}

/* True for a header value that is safe to send: no CR, LF or NUL. */
static bool
record_is_field_value(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return false;
	return true;
}

/* Decodes len bytes of untrusted data into a new entry (see record.h). */
enum record_status
record_decode(const void *data, size_t len, const char *key,
              const struct rfc9111_settings *settings, struct entry **out)
{
	struct record_cursor c = {data, len};
	struct http_headers headers = {0};
	const char *k, *vary = NULL, *body;
	uint16_t status, hlen16;
	uint32_t klen, vlen, nh, blen;
	uint64_t sum, rq, rs, rms;
	enum record_status st = RECORD_CORRUPT;

	*out = NULL;
	if (len < sizeof(record_magic) || memcmp(data, record_magic, sizeof(record_magic)) != 0)
		return RECORD_BAD_MAGIC;
	if (len < sizeof(record_magic) + 1)
		return RECORD_TRUNCATED;
	if (c.p[sizeof(record_magic)] != RECORD_VERSION)
		return RECORD_BAD_VERSION;
	if (len < RECORD_OVERHEAD)
		return RECORD_TRUNCATED;
	struct record_cursor tail = {c.p + len - 8, 8};
	record_get_u64(&tail, &sum);
	if (XXH3_64bits(data, len - 8) != sum)
		return RECORD_BAD_CHECKSUM;
	c.left -= 8; /* the checksum is not a field */
	c.p += sizeof(record_magic) + 1;
	c.left -= sizeof(record_magic) + 1;

	uint8_t flags = c.p[0];
	c.p++;
	c.left--;
	if ((flags & ~RECORD_FLAG_SPEC) != 0 || !record_get_u16(&c, &status) || status < 100 ||
	    status > 999)
		goto fail;
	if (!record_get_u64(&c, &rq) || !record_get_u64(&c, &rs) || !record_get_u64(&c, &rms) ||
	    rq > INT64_MAX || rs > INT64_MAX || rms > INT64_MAX || rq > rs ||
	    rs - rq > INT32_MAX) /* an entry keeps the delay in 32 bits; no encoder writes more */
		goto fail;
	if (!record_get_u32(&c, &klen) || klen == 0 || !record_get_span(&c, klen, &k) ||
	    memchr(k, '\0', klen) != NULL)
		goto fail;
	if (!record_get_u32(&c, &vlen))
		goto fail;
	if (vlen != RECORD_NO_VARY &&
	    (!record_get_span(&c, vlen, &vary) || memchr(vary, '\0', vlen) != NULL))
		goto fail;
	/* each header takes at least 7 bytes: a count beyond what is left is a lie */
	if (!record_get_u32(&c, &nh) || nh > c.left / 7)
		goto fail;
	for (uint32_t i = 0; i < nh; i++) {
		const char *name, *value;
		uint32_t vl;

		if (!record_get_u16(&c, &hlen16) || !record_get_span(&c, hlen16, &name) ||
		    !record_is_token(name, hlen16) || !record_get_u32(&c, &vl) ||
		    !record_get_span(&c, vl, &value) || !record_is_field_value(value, vl))
			goto fail;
		http_headers_addn(&headers, name, hlen16, value, vl);
	}
	if (!record_get_u32(&c, &blen) || !record_get_span(&c, blen, &body) || c.left != 0)
		goto fail;
	if (key != NULL && (strlen(key) != klen || memcmp(key, k, klen) != 0)) {
		st = RECORD_OTHER_KEY;
		goto fail;
	}

	char *body_copy = NULL;
	if (blen > 0) {
		body_copy = xmalloc(blen);
		memcpy(body_copy, body, blen);
	}
	char *key_copy = xstrndup(k, klen);
	char *vary_copy = vary != NULL ? xstrndup(vary, vlen) : NULL;
	*out = entry_new(key_copy, vary_copy, status, &headers, body_copy, blen, (int64_t)rq,
	                 (int64_t)rs, settings);
	(*out)->response_ms = (int64_t)rms; /* not published yet */
	if (flags & RECORD_FLAG_SPEC)
		entry_mark_spec(*out);
	free(key_copy);
	free(vary_copy);
	return RECORD_OK;
fail:
	http_headers_clear(&headers);
	return st;
}
