/*
 * http: HTTP message vocabulary shared by every module: an ordered header list (duplicates
 * kept, names compared case-insensitively), the hop-by-hop rules of RFC 9110 section 7.6.1,
 * HTTP-date parsing and formatting (RFC 9110 section 5.6.7), and comma-list iteration.
 * Pure functions and plain data: no locks, no global state.
 */
#ifndef TIERCACHE_HTTP_H
#define TIERCACHE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

struct http_header {
	char *name;
	char *value;
};

/* An ordered list of header fields; owns its strings. Zero-initialised is an empty list. */
struct http_headers {
	struct http_header *v;
	/* 32 bits each (a stored response keeps one list): far beyond any header size limit */
	uint32_t n;
	uint32_t cap;
	/* the strings are not the list's own: they live in v's block (http_headers_pack) or
	 * with someone else (http_headers_add_borrowed); a change first copies them */
	bool packed;
	/* the block belongs to someone else (http_headers_pack_into): never freed here */
	bool borrowed;
};

/* Appends a copy of name and value. */
void http_headers_add(struct http_headers *h, const char *name, const char *value);

/*
 * Appends name and value without copying them: they must outlive the list (or its next
 * change, which copies every string). A list is either all borrowed or all owned: only call
 * this on an empty list or one filled this way.
 */
void http_headers_add_borrowed(struct http_headers *h, const char *name, const char *value);

/* Appends a copy of name (name_len bytes) and value (value_len bytes). */
void http_headers_addn(struct http_headers *h, const char *name, size_t name_len, const char *value,
                       size_t value_len);

/* Value of the first field called name, or NULL. */
const char *http_headers_get(const struct http_headers *h, const char *name);

/* Number of fields called name. */
size_t http_headers_count(const struct http_headers *h, const char *name);

/* Joins all fields called name with ", " into a new string (NULL when there is none). */
char *http_headers_join(const struct http_headers *h, const char *name);

/* Removes every field called name; returns how many were removed. */
size_t http_headers_remove(struct http_headers *h, const char *name);

/* Replaces all fields called name by one field with value. */
void http_headers_set(struct http_headers *h, const char *name, const char *value);

/* Deep-copies src into *dst (dst must be empty). */
void http_headers_copy(struct http_headers *dst, const struct http_headers *src);

/* Frees every field and empties the list. */
void http_headers_clear(struct http_headers *h);

/*
 * Moves the list and its strings into one allocation sized to fit (for lists that are kept
 * long and no longer change, such as a stored response's: one allocation instead of two per
 * field). The list stays fully usable; a later change first copies it back to separate strings.
 */
void http_headers_pack(struct http_headers *h);

/*
 * The static spelling of name when it is one of the field names nearly every response
 * carries (exact match, case included), else NULL: packed lists point at it instead of
 * holding a copy.
 */
const char *http_common_name(const char *name);

/*
 * 1 + the index of name among those common names (exact match), or 0: a one-byte code for
 * packed forms that store the name by its code (entry.c). Codes stay below 32.
 */
unsigned http_common_code(const char *name);

/* The common names, by code - 1 (http_common_name_of). */
#define HTTP_COMMON_NAMES 13
extern const char *const http_common_names[HTTP_COMMON_NAMES];

/*
 * Field names equal in any case. The first bytes, folded, are compared before the call: most
 * lookups are for a field a list does not hold, and most names differ there (this runs for
 * every field of every request). Folding with 0x20 merges a letter's two cases, and a few
 * non-letters too: the strcasecmp that follows decides those.
 */
static inline bool
http_name_eq(const char *a, const char *b)
{
	return ((a[0] ^ b[0]) & ~0x20) == 0 && strcasecmp(a, b) == 0;
}

/* The common name of code (1 + its index), or NULL when code names none. */
static inline const char *
http_common_name_of(unsigned code)
{
	return code >= 1 && code <= HTTP_COMMON_NAMES ? http_common_names[code - 1] : NULL;
}

/* Bytes http_headers_pack_into needs for h (a multiple of 8). */
size_t http_headers_packed_size(const struct http_headers *h);

/*
 * Like http_headers_pack, into mem (http_headers_packed_size(h) bytes, aligned for pointers,
 * owned by the caller and kept alive as long as the list: clearing the list leaves it alone).
 */
void http_headers_pack_into(struct http_headers *h, void *mem);

/* Bytes used by names and values (for memory accounting). */
size_t http_headers_size(const struct http_headers *h);

/*
 * True when name is hop-by-hop and must not be forwarded: Connection, Keep-Alive, TE,
 * Trailer, Transfer-Encoding, Upgrade, Proxy-* and any field named in conn_tokens (the
 * value(s) of the message's Connection header, may be NULL).
 */
bool http_is_hop_by_hop(const char *name, const char *conn_tokens);

/* Parses an HTTP-date (IMF-fixdate, RFC 850 or asctime form); false when invalid. */
bool http_date_parse(const char *s, int64_t *out);

/* Formats t as IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into out (at least 30 bytes). */
void http_date_format(int64_t t, char out[30]);

/*
 * Iterates over the elements of a comma-separated list (RFC 9110 section 5.6.1), skipping
 * empty elements and optional whitespace. Start with *pos = s; each call sets *elem and
 * *elem_len to the next element (quoted strings are kept whole; an unterminated quote ends
 * its element at the next comma) and returns false at the end.
 */
bool http_list_next(const char **pos, const char **elem, size_t *elem_len);

/* True when list (a comma-separated header value, may be NULL) contains token (any case). */
bool http_list_has_token(const char *list, const char *token);

#endif
