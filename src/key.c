/*
 * key: cache keys. Pure functions, no state, no locks; every returned key is a new string
 * that the caller frees.
 *
 * Primary key: "GET " + host lower-cased ("" when NULL) + " " + the request target exactly
 * as received. GET and HEAD share the "GET" class (a HEAD is answered from a stored GET).
 *
 * Secondary (Vary) key, from the response's Vary value and the request's headers:
 * - the Vary names are lower-cased, deduplicated and sorted, so "Accept, Accept-Language"
 *   and "accept-language,accept" select the same variant;
 * - "*" anywhere, or an element that is not a field name (a token), sets *never: such a
 *   response is never served from the cache (the malformed case is the conservative choice);
 * - a Vary value with no names at all ("", ",") is the same as no Vary: NULL key;
 * - for each name, one record "name=value", records separated by '\n'; value is all the
 *   request's fields of that name joined with "," (http_headers_join), with spaces and tabs
 *   removed at both ends and around commas (outside quoted strings); an absent header is the
 *   single byte 0x01 ("name=\x01"), distinct from an empty one ("name=");
 * - Accept, Accept-Charset, Accept-Encoding and Accept-Language, whose list order carries no
 *   meaning, have their elements sorted and stripped of whitespace, and (but Accept) lower-cased
 *   (RFC 9111 4.1: values normalized by their known semantics select the same variant);
 * - bytes of a value below 0x20, 0x7f and the backslash are written as "\xHH", so a value can
 *   never produce '\n' or 0x01 itself and the key is unambiguous.
 * Example: "accept=text/html,application/json\naccept-language=\x01".
 *
 * Variants (many per URL): a response with Vary is stored under a variant key, the primary
 * key + "\n" + the URL's vary-spec id + " " + a 64-bit hash of its Vary key (key_variant),
 * and the primary key holds the URL's vary spec (entry.h); the stored variant keeps its full
 * Vary key, compared on every use, so a hash collision is a miss, never a wrong variant.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xxhash.h>

#include "key.h"
#include "util.h"

/* New primary key for a GET or HEAD of target on host (host may be NULL or empty). */
char *
key_build(const char *host, const char *target)
{
	size_t hl = host ? strlen(host) : 0, tl = target ? strlen(target) : 0;
	char *key = xmalloc(4 + hl + 1 + tl + 1);
	char *p = key;

	memcpy(p, "GET ", 4);
	p += 4;
	for (size_t i = 0; i < hl; i++)
		*p++ = (char)tolower((unsigned char)host[i]);
	*p++ = ' ';
	if (tl)
		memcpy(p, target, tl);
	p[tl] = '\0';
	return key;
}

static bool
key_is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool
key_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static int
key_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends one value byte, escaped when it could be confused with the key's structure. */
static void
key_put_byte(struct buf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	if (c < 0x20 || c == 0x7f || c == '\\') {
		char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
		buf_append(b, esc, sizeof(esc));
	} else {
		buf_append(b, &c, 1);
	}
}

/* Appends v normalized: no spaces or tabs at the ends or around commas outside quotes. */
static void
key_put_value(struct buf *b, const char *v)
{
	bool quoted = false, after_comma = true; /* the start counts as after a comma */

	for (const char *p = v; *p != '\0'; p++) {
		if (quoted) {
			key_put_byte(b, (unsigned char)*p);
			if (*p == '\\' && p[1] != '\0')
				key_put_byte(b, (unsigned char)*++p);
			else if (*p == '"')
				quoted = false;
			continue;
		}
		if (key_is_ows(*p)) {
			const char *q = p;
			while (key_is_ows(*q))
				q++;
			if (!after_comma && *q != ',' && *q != '\0')
				for (const char *r = p; r < q; r++)
					key_put_byte(b, (unsigned char)*r);
			p = q - 1;
			continue;
		}
		key_put_byte(b, (unsigned char)*p);
		after_comma = *p == ',';
		if (*p == '"')
			quoted = true;
	}
}

/*
 * The content-negotiation fields whose list order carries no meaning (preference is given by
 * qvalues and specificity, RFC 9110 12.5), and whether their values are case-insensitive
 * (charsets, codings and language tags are; media-type parameters may not be).
 */
static const struct {
	const char *name;
	bool fold_case;
} key_unordered[] = {
        {"accept", false},
        {"accept-charset", true},
        {"accept-encoding", true},
        {"accept-language", true},
};

static int
key_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * New value of field name normalized as RFC 9111 4.1 allows when its semantics are known
 * (key_unordered): the elements without whitespace (outside quoted strings), lower-cased when
 * the field is case-insensitive, sorted, joined with ','. NULL for any other field.
 */
static char *
key_normalize_list(const char *name, const char *v)
{
	const char *pos = v, *e;
	size_t len, n = 0, cap = 0;
	char **el = NULL;
	struct buf out = {0};
	bool fold = false, known = false;

	for (size_t i = 0; i < sizeof(key_unordered) / sizeof(key_unordered[0]); i++)
		if (strcmp(name, key_unordered[i].name) == 0) {
			known = true;
			fold = key_unordered[i].fold_case;
		}
	if (!known)
		return NULL;
	while (http_list_next(&pos, &e, &len)) {
		struct buf b = {0};
		bool quoted = false;
		for (size_t i = 0; i < len; i++) {
			char c = e[i];
			if (quoted) {
				buf_append(&b, &c, 1);
				if (c == '\\' && i + 1 < len)
					buf_append(&b, &e[++i], 1);
				else if (c == '"')
					quoted = false;
				continue;
			}
			if (key_is_ows(c))
				continue;
			if (c == '"')
				quoted = true;
			else if (fold)
				c = (char)tolower((unsigned char)c);
			buf_append(&b, &c, 1);
		}
		if (b.len == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 4;
			el = xrealloc(el, cap * sizeof(el[0]));
		}
		el[n++] = buf_steal(&b, NULL);
	}
	if (n > 0)
		qsort(el, n, sizeof(el[0]), key_str_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_append(&out, ",", 1);
		buf_puts(&out, el[i]);
		free(el[i]);
	}
	free(el);
	return out.data != NULL ? buf_steal(&out, NULL) : xstrdup("");
}

/*
 * Parses a Vary value into its field names, lower-cased, sorted and deduplicated (*n of them,
 * an array the caller frees with key_names_free). False for "*" or an element that is not a
 * field name: such a response is never served from a cache.
 */
static bool
key_vary_parse(const char *vary, char ***out, size_t *out_n)
{
	const char *pos = vary, *e;
	size_t len, n = 0, cap = 0, kept = 0;
	char **names = NULL;
	bool star = false;

	while (!star && http_list_next(&pos, &e, &len)) {
		for (size_t i = 0; i < len; i++)
			if (!key_is_tchar(e[i]))
				star = true;
		if (len == 1 && e[0] == '*')
			star = true;
		if (star)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 4;
			names = xrealloc(names, cap * sizeof(names[0]));
		}
		names[n] = xstrndup(e, len);
		for (char *c = names[n]; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
		n++;
	}
	if (n > 0)
		qsort(names, n, sizeof(names[0]), key_name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (kept > 0 && strcmp(names[i], names[kept - 1]) == 0)
			free(names[i]); /* duplicate name */
		else
			names[kept++] = names[i];
	}
	*out = names;
	*out_n = kept;
	return !star;
}

static void
key_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * New secondary key for the request headers req under the response's Vary value (NULL when
 * the response has no Vary or it names nothing). Sets *never to true for "Vary: *" (or a
 * malformed Vary): such a response is never served from a cache.
 */
char *
key_vary(const char *vary, const struct http_headers *req, bool *never)
{
	char **names, *key = NULL;
	size_t n;
	bool ok = key_vary_parse(vary, &names, &n);

	if (never != NULL)
		*never = !ok;
	if (ok && n > 0) {
		struct buf b = {0};
		for (size_t i = 0; i < n; i++) {
			char *v = http_headers_join(req, names[i]);
			if (b.len > 0)
				buf_append(&b, "\n", 1);
			buf_puts(&b, names[i]);
			buf_append(&b, "=", 1);
			char *norm = v != NULL ? key_normalize_list(names[i], v) : NULL;
			if (v == NULL)
				buf_append(&b, "\x01", 1);
			else
				key_put_value(&b, norm != NULL ? norm : v);
			free(norm);
			free(v);
		}
		key = buf_steal(&b, NULL);
	}
	key_names_free(names, n);
	return key;
}

/*
 * New normalized list of the field names of a Vary value ("accept, accept-language": lower
 * case, sorted, no duplicates), NULL when it names none or is "*" / malformed (*never set).
 */
char *
key_vary_names(const char *vary, bool *never)
{
	char **names, *list = NULL;
	size_t n;
	bool ok = key_vary_parse(vary, &names, &n);

	if (never != NULL)
		*never = !ok;
	if (ok && n > 0) {
		struct buf b = {0};
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				buf_append(&b, ", ", 2);
			buf_puts(&b, names[i]);
		}
		list = buf_steal(&b, NULL);
	}
	key_names_free(names, n);
	return list;
}

/* Writes the 16 hex digits of the hash of a Vary key (which variant of a URL it selects). */
void
key_variant_hash(const char *vary_key, char out[KEY_HASH_LEN + 1])
{
	snprintf(out, KEY_HASH_LEN + 1, "%016llx",
	         (unsigned long long)XXH3_64bits(vary_key, strlen(vary_key)));
}

/* New key of a variant: the primary key, the URL's vary-spec id and the variant's hash. */
char *
key_variant(const char *primary, const char *spec_id, const char *hash)
{
	return xasprintf("%s\n%s %s", primary, spec_id, hash);
}

/* Appends path to out with the dot-segments removed (RFC 3986 section 5.2.4). */
static void
key_remove_dots(struct buf *out, const char *path, size_t len)
{
	const char *p = path, *end = path + len;

	while (p < end) {
		size_t rest = (size_t)(end - p);
		if (rest >= 3 && memcmp(p, "../", 3) == 0) {
			p += 3;
		} else if (rest >= 2 && memcmp(p, "./", 2) == 0) {
			p += 2;
		} else if (rest >= 3 && memcmp(p, "/./", 3) == 0) {
			p += 2;
		} else if (rest == 2 && memcmp(p, "/.", 2) == 0) {
			buf_append(out, "/", 1);
			p = end;
		} else if ((rest >= 4 && memcmp(p, "/../", 4) == 0) ||
		           (rest == 3 && memcmp(p, "/..", 3) == 0)) {
			while (out->len > 0 && out->data[out->len - 1] != '/')
				out->len--;
			if (out->len > 0)
				out->len--; /* the '/' of the removed segment */
			p += 3;
			if (p == end)
				buf_append(out, "/", 1);
		} else if ((rest == 1 && *p == '.') || (rest == 2 && memcmp(p, "..", 2) == 0)) {
			p = end;
		} else {
			const char *q = p + 1;
			while (q < end && *q != '/')
				q++;
			buf_append(out, p, (size_t)(q - p));
			p = q;
		}
	}
	if (out->data != NULL)
		out->data[out->len] = '\0';
}

/*
 * True when authority (len bytes) names host: same name and port, any case, the scheme's
 * default port (dflt, ":80" or ":443") implied on either side.
 */
static bool
key_same_authority(const char *authority, size_t len, const char *host, const char *dflt)
{
	size_t hl = host != NULL ? strlen(host) : 0, dl = strlen(dflt);

	if (len >= dl && memcmp(authority + len - dl, dflt, dl) == 0)
		len -= dl;
	if (hl >= dl && memcmp(host + hl - dl, dflt, dl) == 0)
		hl -= dl;
	return hl > 0 && len == hl && strncasecmp(authority, host, len) == 0;
}

/*
 * New request target of uri (a Location or Content-Location value) resolved against the
 * request's target on host (RFC 3986 section 5.2), or NULL when it names another origin
 * (a scheme other than http and https, another host or port) or is not a URI reference.
 */
char *
key_resolve(const char *host, const char *base, const char *uri)
{
	struct buf out = {0};
	const char *p = uri;
	size_t plen;

	if (uri == NULL || base == NULL || base[0] != '/')
		return NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	plen = strcspn(p, "#"); /* a fragment is not part of the target */
	for (size_t i = 0; i < plen; i++)
		if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f)
			return NULL; /* not a URI reference */
	const char *colon = memchr(p, ':', plen), *dflt = ":80";
	if (colon != NULL && strcspn(p, "/?") > (size_t)(colon - p)) {
		/* scheme ":" hier-part: http or https on the same authority. Cache keys leave the
		 * scheme out (a TLS terminator may stand in front), so both name the same stored
		 * responses, and invalidating both is the safe side. */
		size_t sl = (size_t)(colon - p);
		if (sl == 5 && strncasecmp(p, "https", 5) == 0)
			dflt = ":443";
		else if (sl != 4 || strncasecmp(p, "http", 4) != 0)
			return NULL;
		if (strncmp(colon, "://", 3) != 0)
			return NULL;
		p = colon + 1;
		plen = strcspn(p, "#");
	}
	if (plen >= 2 && p[0] == '/' && p[1] == '/') {
		const char *a = p + 2;
		size_t alen = strcspn(a, "/?#");
		if (!key_same_authority(a, alen, host, dflt))
			return NULL;
		p = a + alen;
		plen = strcspn(p, "#");
		if (plen == 0 || p[0] == '?')
			buf_append(&out, "/", 1); /* empty path of an http URI is "/" */
		size_t path_len = strcspn(p, "?#");
		key_remove_dots(&out, p, path_len);
		buf_append(&out, p + path_len, plen - path_len);
		return buf_steal(&out, NULL);
	}
	size_t base_path = strcspn(base, "?");
	if (plen == 0) {
		buf_puts(&out, base);
		return buf_steal(&out, NULL);
	}
	size_t path_len = strcspn(p, "?#");
	if (p[0] == '?') {
		buf_append(&out, base, base_path);
		buf_append(&out, p, plen);
		return buf_steal(&out, NULL);
	}
	struct buf merged = {0};
	if (p[0] == '/') {
		buf_append(&merged, p, path_len);
	} else {
		size_t dir = base_path;
		while (dir > 0 && base[dir - 1] != '/')
			dir--;
		buf_append(&merged, base, dir);
		buf_append(&merged, p, path_len);
	}
	key_remove_dots(&out, merged.data, merged.len);
	buf_free(&merged);
	if (out.len == 0 || out.data[0] != '/') {
		struct buf fixed = {0};
		buf_append(&fixed, "/", 1);
		if (out.len > 0)
			buf_append(&fixed, out.data, out.len);
		buf_free(&out);
		out = fixed;
	}
	buf_append(&out, p + path_len, plen - path_len);
	return buf_steal(&out, NULL);
}
