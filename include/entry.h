/*
 * entry: a stored response, the one type that crosses tiers. Immutable once published (no
 * field changes after entry_new returns), reference counted with atomic counts: every holder
 * (a table, a response being sent, a request being processed) owns one reference and drops it
 * with entry_unref; the last one frees. A 304 does not modify an entry: entry_refresh builds a
 * new one.
 */
#ifndef TIERCACHE_ENTRY_H
#define TIERCACHE_ENTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cachecontrol.h"
#include "http.h"
#include "rfc9111.h"

/*
 * keep_until value of an entry that stays useful while stale (it has a validator). Without
 * one, an entry is kept past its freshness only for its stale-while-revalidate or
 * stale-if-error window (rfc9111_stale_window).
 */
#define ENTRY_KEEP_FOREVER INT64_MAX

/*
 * Bodies up to this size are copied into the entry's own block (one allocation per stored
 * response); larger ones keep the buffer they came in (no copy of a big body).
 */
#define ENTRY_INLINE_BODY_MAX 16384

struct entry {
	/* the 8-byte members first and the key last, so that the key starts right after the
	 * last flag (offsetof(struct entry, key)), with no padding */
	size_t body_len; /* the body: entry_body */
	/* RFC 9111 section 4.2.3 inputs, in seconds of the local clock (request_time is
	 * response_time - request_delay: entry_request_time) */
	int64_t response_time;
	/* wall-clock milliseconds at which the response arrived (0 = unknown): orders two
	 * responses of the same second when shared records are replaced (set before publishing) */
	int64_t response_ms;
	atomic_uint refs;
	/* end-to-end response fields as received, except a Content-Length that equals body_len
	 * (framing the body stored here: regenerated when the entry is sent), packed in e's block
	 * from fields_off on (entry_field_next reads them; layout in entry.c) */
	uint32_t fields_off;
	uint32_t fields_len; /* bytes of the packed fields (entry_nfields counts them) */
	/* derived freshness, saturated at INT32_MAX (RFC 9111 section 1.2.2) */
	int32_t corrected_initial_age;
	int32_t lifetime;      /* freshness lifetime */
	int32_t request_delay; /* response_time - request_time, saturated like the two above */
	/* seconds past expiry for which the entry stays useful (entry_keep_until), INT32_MAX:
	 * for ever (a validator, a vary spec, or a stale window of 68 years or more) */
	int32_t keep_for;
	struct cc_response cc; /* the directives for this cache (rfc9111_response_cc) */
	uint16_t status;
	/* fields by 1 + their index (0 = none; entry_etag() and friends read them):
	 * the targeted fields never sent to clients, the targeted field cc came from, the
	 * validators */
	uint16_t hidden[2];
	uint16_t targeted_field;
	uint16_t etag_field;
	uint16_t last_modified_field;
	bool body_owned : 1; /* the body is its own allocation (else in the block, or a file) */
	bool vary_spec : 1;  /* a vary spec, never served (see below) */
	bool has_vary : 1;   /* a vary key follows the key (entry_vary_key) */
	/* the primary cache key, then the vary key (entry_vary_key), in e's block */
	char key[];
};

/*
 * Bytes of e's own block (struct, keys, fields, and the body or its address): what it ends
 * with follows from the body's size and where it is kept (entry_body, entry_body_fd).
 */
static inline size_t
entry_size(const struct entry *e)
{
	size_t end = (size_t)e->fields_off + e->fields_len;

	if (e->body_len <= ENTRY_INLINE_BODY_MAX)
		return end + e->body_len;
	return end + sizeof(char *) + (e->body_owned ? 0 : sizeof(int));
}

/*
 * The body of e (body_len bytes, NULL when empty). A body of up to ENTRY_INLINE_BODY_MAX bytes
 * ends e's block; a larger one is its own buffer (body_owned) or a memory file's mapping, and
 * its address is kept in the block right after the fields (not in the struct: most entries
 * would pay 8 bytes for nothing).
 */
static inline const char *
entry_body(const struct entry *e)
{
	const char *p;

	if (e->body_len <= ENTRY_INLINE_BODY_MAX)
		return e->body_len != 0 ? (const char *)e + e->fields_off + e->fields_len : NULL;
	memcpy(&p, (const char *)e + e->fields_off + e->fields_len, sizeof(p));
	return p;
}

/*
 * The descriptor of e's memory file (bodyfile.h), or -1 when its body is in memory. A body
 * larger than the block's inline room that e does not own is in a file; the descriptor is then
 * kept in the last bytes of e's block (after the body's address).
 */
static inline int
entry_body_fd(const struct entry *e)
{
	int fd;

	if (e->body_owned || e->body_len <= ENTRY_INLINE_BODY_MAX)
		return -1;
	memcpy(&fd, (const char *)e + entry_size(e) - sizeof(fd), sizeof(fd));
	return fd;
}

/*
 * Local time at which e becomes stale (a vary spec: never). Derived, not stored: the times it
 * comes from are in e.
 */
static inline int64_t
entry_expires_at(const struct entry *e)
{
	return e->vary_spec ? ENTRY_KEEP_FOREVER
	                    : e->response_time - e->corrected_initial_age + e->lifetime;
}

/* Local time after which e is useless (ENTRY_KEEP_FOREVER: never). */
static inline int64_t
entry_keep_until(const struct entry *e)
{
	return e->keep_for == INT32_MAX ? ENTRY_KEEP_FOREVER : entry_expires_at(e) + e->keep_for;
}

/*
 * The selecting request header values of e (key_vary), stored right after its key, or NULL
 * for a response without Vary.
 */
static inline const char *
entry_vary_key(const struct entry *e)
{
	return e->has_vary ? e->key + strlen(e->key) + 1 : NULL;
}

/* The time the request that brought e was sent (RFC 9111 section 4.2.3's request_time). */
static inline int64_t
entry_request_time(const struct entry *e)
{
	return e->response_time - e->request_delay;
}

/*
 * Iterates over e's stored fields in order: start with *pos = 0; each call sets *name and
 * *value (NUL-terminated, in e's block or static) and returns false after the last. Each
 * field is a lead byte (0: the name follows as received; else the code of a common name,
 * http_common_code), then the name when spelled, then the value.
 */
static inline bool
entry_field_next(const struct entry *e, size_t *pos, const char **name, const char **value)
{
	const char *base = (const char *)e + e->fields_off, *p;

	if (*pos >= e->fields_len)
		return false;
	p = base + *pos;
	if (*p == '\0') {
		*name = p + 1;
		p = *name + strlen(*name) + 1;
	} else {
		*name = http_common_name_of((unsigned char)*p);
		p++;
	}
	*value = p;
	p += strlen(p) + 1;
	*pos = (size_t)(p - base);
	return true;
}

/* Number of e's stored fields. */
size_t entry_nfields(const struct entry *e);

/* The field at index i (< entry_nfields(e)): its name, and its value in *value. */
const char *entry_field_at(const struct entry *e, size_t i, const char **value);

/* The value of e's first field called name (any case), or NULL. */
const char *entry_get(const struct entry *e, const char *name);

/* Number of e's fields called name. */
size_t entry_count(const struct entry *e, const char *name);

/* Joins e's fields called name with ", " into a new string (NULL when there is none). */
char *entry_join(const struct entry *e, const char *name);

/*
 * Fills *out (empty) with e's fields, borrowed from e (valid while the caller holds e; free the
 * list with http_headers_clear): for rules that read a struct http_headers.
 */
void entry_headers(const struct entry *e, struct http_headers *out);

/* The value of e's field at 1 + index i (0: NULL). */
static inline const char *
entry_field_value(const struct entry *e, uint16_t i)
{
	const char *value = NULL;

	if (i != 0)
		entry_field_at(e, i - 1u, &value);
	return value;
}

/* The ETag of e (in its headers), or NULL. */
static inline const char *
entry_etag(const struct entry *e)
{
	return entry_field_value(e, e->etag_field);
}

/* The Last-Modified of e (in its headers), or NULL. */
static inline const char *
entry_last_modified(const struct entry *e)
{
	return entry_field_value(e, e->last_modified_field);
}

/* The name of the targeted field (RFC 9213) e's directives came from, as spelled, or NULL. */
static inline const char *
entry_targeted(const struct entry *e)
{
	const char *value;

	return e->targeted_field != 0 ? entry_field_at(e, e->targeted_field - 1u, &value) : NULL;
}

/*
 * A vary spec: what the primary key of a URL whose responses carry Vary holds, in both tiers.
 * Its headers are "Vary" (the normalized field names, key_vary_names), ENTRY_SPEC_ID (a random
 * id; the variants are stored under key_variant(primary, id, hash)) and one ENTRY_SPEC_VARIANT
 * per known variant, "hash etag" (etag may be absent), oldest first, at most ENTRY_SPEC_MAX.
 * Removing the spec makes every variant unreachable (a new spec gets a new id); the list lets
 * PURGE and invalidations remove the variants too, and revalidations name all their ETags.
 */
#define ENTRY_SPEC_ID      "Tiercache-Variants"
#define ENTRY_SPEC_VARIANT "Tiercache-Variant"
#define ENTRY_SPEC_MAX     32

/*
 * Creates an entry with one reference. Takes ownership of the fields of *headers (left empty)
 * and of body (allocated with xmalloc, may be NULL when body_len is 0). Freshness and age are
 * computed from the headers and the times with the rules of rfc9111.
 */
struct entry *entry_new(const char *key, const char *vary_key, int status,
                        struct http_headers *headers, char *body, size_t body_len,
                        int64_t request_time, int64_t response_time,
                        const struct rfc9111_settings *settings);

/*
 * Creates the entry that replaces e after a 304 (RFC 9111 section 4.3.4): e's body with the
 * merged headers, and the times of the 304 exchange. e itself is not changed.
 */
struct entry *entry_refresh(const struct entry *e, const struct http_headers *not_modified,
                            int64_t request_time, int64_t response_time,
                            const struct rfc9111_settings *settings);

/*
 * A copy of e without the fields called names[0..n) (one reference, not yet published): how
 * a response with Set-Cookie, or fields listed by no-cache="..." / private="...", is stored.
 */
struct entry *entry_without(const struct entry *e, const char *const *names, size_t n,
                            const struct rfc9111_settings *settings);
/* Makes e (not yet published) a vary spec: never served, kept until evicted or removed. */
void entry_mark_spec(struct entry *e);

/*
 * New vary spec for key (one reference) with id, listing the variant hash (with its etag, may
 * be NULL) last, after old's variants when old is a spec of the same names and id.
 */
struct entry *entry_spec_add(const struct entry *old, const char *key, const char *names,
                             const char *id, const char *hash, const char *etag, int64_t now,
                             const struct rfc9111_settings *settings);

/* The id of a vary spec (NULL for another entry). */
const char *entry_spec_id(const struct entry *spec);

/* True when old is a spec for the same Vary names (its variants are still reachable). */
bool entry_spec_same(const struct entry *spec, const char *names);

/* Takes another reference; returns e. */
struct entry *entry_ref(struct entry *e);

/* Drops a reference (NULL is ignored); frees the entry when it was the last. */
void entry_unref(struct entry *e);

/* The Date of e (RFC 9111's date_value): its Date field, else the time it was received. */
int64_t entry_date_value(const struct entry *e);

/* Current age at now, in seconds. */
int64_t entry_age(const struct entry *e, int64_t now);

/* Remaining freshness at now in seconds (negative once stale). */
int64_t entry_ttl(const struct entry *e, int64_t now);

/* True while the entry is fresh at now. */
bool entry_is_fresh(const struct entry *e, int64_t now);

/* True when the entry has a validator (ETag or Last-Modified) to revalidate it with. */
bool entry_has_validator(const struct entry *e);

/* True when the stored field name is one that is not forwarded to clients (RFC 9213). */
bool entry_hides(const struct entry *e, const char *name);

/*
 * True when a's response arrived after b's: a later response_time, or the same second and a
 * later response_ms (how shared records and local copies are ordered).
 */
bool entry_is_newer(const struct entry *a, const struct entry *b);

#endif
