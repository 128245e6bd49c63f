/*
 * key: builds cache keys. The primary key names the resource: the method class (GET and HEAD
 * share one), the Host, and the request target exactly as received (path and query, no
 * normalization). The secondary (Vary) key records the values of the request headers that a
 * response's Vary names, normalized (names lower-case, values trimmed, list whitespace
 * collapsed, the content-negotiation fields sorted) so that equivalent requests select the
 * same variant. A variant key is the primary key, the URL's vary-spec id and a hash of the
 * Vary key. key_resolve turns a Location / Content-Location value into the request target it
 * names on the same origin. Pure functions.
 */
#ifndef TIERCACHE_KEY_H
#define TIERCACHE_KEY_H

#include <stdbool.h>

#include "http.h"

/* New primary key for a GET or HEAD of target on host (host may be NULL or empty). */
char *key_build(const char *host, const char *target);

/*
 * New secondary key for the request headers req under the response's Vary value (NULL when
 * the response has no Vary). Sets *never to true for "Vary: *" (never served from a cache).
 */
char *key_vary(const char *vary, const struct http_headers *req, bool *never);

/* Hex digits of a variant hash. */
#define KEY_HASH_LEN 16

/*
 * New normalized list of the field names of a Vary value ("accept, accept-language": lower
 * case, sorted, no duplicates), NULL when it names none or is "*" / malformed (*never set).
 */
char *key_vary_names(const char *vary, bool *never);

/* Writes the 16 hex digits of the hash of a Vary key (which variant of a URL it selects). */
void key_variant_hash(const char *vary_key, char out[KEY_HASH_LEN + 1]);

/* New key of a variant: the primary key, the URL's vary-spec id and the variant's hash. */
char *key_variant(const char *primary, const char *spec_id, const char *hash);

/*
 * New request target of uri (a Location or Content-Location value) resolved against the
 * request target base on host (RFC 3986 section 5.2, dot-segments removed), or NULL when uri
 * names another origin (a scheme other than http and https, another host or port) or is
 * malformed.
 */
char *key_resolve(const char *host, const char *base, const char *uri);

#endif
