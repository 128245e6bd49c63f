/*
 * cachecontrol: parses a Cache-Control field value (RFC 9111 section 5.2) into a struct
 * cache_control. Pure: no state, no locks; the caller joins several Cache-Control lines with
 * ", " (http_headers_join) before parsing.
 *
 * Grammar and choices:
 * - the value is a comma list (empty elements and whitespace skipped); each element is
 *   token [ "=" ( token / quoted-string ) ]; names are case-insensitive; whitespace
 *   around "=" makes the argument malformed (the grammar has none: "max-age =100" is not a
 *   max-age of 100);
 * - delta-seconds (max-age, s-maxage, stale-while-revalidate, stale-if-error, max-stale,
 *   min-fresh) are digits only; a quoted-string holding digits is accepted (RFC 9111 asks
 *   senders for the token form and recipients to accept both); values above 2^31 saturate at
 *   CC_DELTA_MAX; a missing or malformed value, or a second occurrence with a different value,
 *   makes the directive CC_INVALID, and it stays invalid;
 * - "max-stale" without a value means any staleness: CC_SET with CC_DELTA_MAX;
 * - directives that only restrict caching (no-store, must-revalidate, proxy-revalidate,
 *   no-transform) are set even when they carry an argument or trailing junk;
 * - no-cache and private with a well-formed argument (a quoted or token list of field names,
 *   RFC 9111 5.2.2.4 and 5.2.2.7) are the qualified forms: only *_fields is set, and the
 *   listed fields are what may not be stored (cachecontrol_listed_fields); with a malformed
 *   argument they count as the unqualified directive (conservative);
 * - directives that widen what a cache may do (public, immutable, must-understand,
 *   only-if-cached) take no argument; with an argument or junk they are ignored;
 * - unknown extensions only set `any`.
 *
 * Targeted fields (RFC 9213, cachecontrol_parse_targeted) are RFC 8941 Dictionaries instead:
 * keys are lowercase, a bare key is Boolean true, values are Items or Inner Lists with
 * Parameters (ignored); the whole field is invalid on any syntax error (the caller then
 * ignores it). A later member replaces an earlier one of the same key (RFC 8941 section
 * 4.2.2). Restricting directives are set unless their value is Boolean false; widening ones
 * only by Boolean true; delta-seconds directives need a non-negative Integer (saturated at
 * 2^31), any other value makes them CC_INVALID.
 */

#include <stddef.h>
#include <string.h>

#include "cachecontrol.h"
#include "http.h"
#include "util.h"

enum cc_kind {
	CC_KIND_RESTRICT,  /* boolean that restricts caching: set whatever follows the name */
	CC_KIND_PERMIT,    /* boolean that widens caching: set only when well-formed, no value */
	CC_KIND_DELTA,     /* delta-seconds, value required */
	CC_KIND_MAX_STALE, /* delta-seconds, value optional (absent: any staleness) */
	CC_KIND_QUALIFIED  /* restricts; a field-name list argument restricts those fields only */
};

static const struct {
	const char *name;
	enum cc_kind kind;
	size_t offset;
} cc_directives[] = {
        {"no-store", CC_KIND_RESTRICT, offsetof(struct cache_control, no_store)},
        {"no-cache", CC_KIND_QUALIFIED, offsetof(struct cache_control, no_cache)},
        {"no-transform", CC_KIND_RESTRICT, offsetof(struct cache_control, no_transform)},
        {"max-age", CC_KIND_DELTA, offsetof(struct cache_control, max_age)},
        {"public", CC_KIND_PERMIT, offsetof(struct cache_control, public_)},
        {"private", CC_KIND_QUALIFIED, offsetof(struct cache_control, private_)},
        {"must-revalidate", CC_KIND_RESTRICT, offsetof(struct cache_control, must_revalidate)},
        {"proxy-revalidate", CC_KIND_RESTRICT, offsetof(struct cache_control, proxy_revalidate)},
        {"must-understand", CC_KIND_PERMIT, offsetof(struct cache_control, must_understand)},
        {"immutable", CC_KIND_PERMIT, offsetof(struct cache_control, immutable)},
        {"s-maxage", CC_KIND_DELTA, offsetof(struct cache_control, s_maxage)},
        {"stale-while-revalidate", CC_KIND_DELTA,
         offsetof(struct cache_control, stale_while_revalidate)},
        {"stale-if-error", CC_KIND_DELTA, offsetof(struct cache_control, stale_if_error)},
        {"max-stale", CC_KIND_MAX_STALE, offsetof(struct cache_control, max_stale)},
        {"min-fresh", CC_KIND_DELTA, offsetof(struct cache_control, min_fresh)},
        {"only-if-cached", CC_KIND_PERMIT, offsetof(struct cache_control, only_if_cached)},
};

/* How an element's argument turned out. */
enum cc_arg { CC_ARG_NONE, CC_ARG_OK, CC_ARG_BAD };

/* The parsed argument: its syntax and, when it is all digits, its (saturated) value. */
struct cc_value {
	enum cc_arg arg;
	bool digits; /* at least one character, all of them digits */
	int64_t value;
};

static bool
cc_is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool
cc_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Feeds one (unescaped) argument character to the delta-seconds reading of the argument. */
static void
cc_value_feed(struct cc_value *v, char c, bool first)
{
	if (first)
		v->digits = true;
	if (c < '0' || c > '9') {
		v->digits = false;
		return;
	}
	if (v->value < CC_DELTA_MAX) {
		v->value = v->value * 10 + (c - '0');
		if (v->value > CC_DELTA_MAX)
			v->value = CC_DELTA_MAX;
	}
}

/* Reads the argument in [p, end) (after the name); p is at the first byte after the name. */
static void
cc_parse_arg(const char *p, const char *end, struct cc_value *v)
{
	const char *start = p;
	bool first = true;

	memset(v, 0, sizeof(*v));
	while (p < end && cc_is_ows(*p))
		p++;
	if (p == end) {
		v->arg = CC_ARG_NONE;
		return;
	}
	v->arg = CC_ARG_BAD;
	if (p != start || *p != '=')
		return; /* whitespace before "=" */
	p++;
	if (p == end || cc_is_ows(*p))
		return; /* whitespace after "=" */
	if (*p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\') {
				if (++p == end)
					return;
			}
			cc_value_feed(v, *p, first);
			first = false;
		}
		if (p == end)
			return; /* unterminated */
		p++;
		if (p != end)
			return; /* junk after the closing quote (the list trimmed trailing OWS) */
	} else {
		for (; p < end && cc_is_tchar(*p); p++) {
			cc_value_feed(v, *p, first);
			first = false;
		}
		if (p != end)
			return;
	}
	v->arg = CC_ARG_OK;
}

/* Records one occurrence of a delta-seconds directive. */
static void
cc_delta_apply(struct cc_delta *d, bool valid, int64_t value)
{
	if (!valid) {
		d->state = CC_INVALID;
		d->value = 0;
		return;
	}
	TC_ASSERT(value >= 0 && value <= CC_DELTA_MAX);
	switch (d->state) {
	case CC_ABSENT:
		d->state = CC_SET;
		d->value = (uint32_t)value;
		break;
	case CC_SET:
		if (d->value != value) {
			d->state = CC_INVALID;
			d->value = 0;
		}
		break;
	case CC_INVALID:
		break;
	}
}

/*
 * True when the argument after the directive name at p (in [p, end), checked by cc_parse_arg)
 * is a list of field names: comma-separated tokens, empty members and whitespace around them
 * allowed. Anything else (say, a quoted string that swallowed the next directives) makes the
 * argument malformed, which leaves the directive in its plain, more restrictive form.
 */
static bool
cc_is_field_list(const char *p, const char *end)
{
	p = (const char *)memchr(p, '=', (size_t)(end - p)) + 1;
	if (p < end && *p == '"') {
		p++;
		end--; /* the closing quote */
	}
	while (p < end) {
		while (p < end && cc_is_ows(*p))
			p++;
		while (p < end && cc_is_tchar(*p))
			p++;
		while (p < end && cc_is_ows(*p))
			p++;
		if (p < end && *p++ != ',')
			return false; /* a member that is not one token */
	}
	return true;
}

static void
cc_element(const char *e, size_t len, struct cache_control *cc)
{
	const char *end = e + len, *p = e;
	struct cc_value v;

	while (p < end && cc_is_tchar(*p))
		p++;
	if (p == e)
		return; /* no directive name: not a directive */
	cc->any = true;
	for (size_t i = 0; i < TC_ARRAY_LEN(cc_directives); i++) {
		if (!util_strncaseeq(cc_directives[i].name, e, (size_t)(p - e)))
			continue;
		char *field = (char *)cc + cc_directives[i].offset;
		cc_parse_arg(p, end, &v);
		switch (cc_directives[i].kind) {
		case CC_KIND_RESTRICT:
			*(bool *)field = true;
			break;
		case CC_KIND_QUALIFIED:
			if (v.arg == CC_ARG_OK && !cc_is_field_list(p, end))
				v.arg = CC_ARG_BAD; /* not field names: the plain directive */
			if (v.arg == CC_ARG_OK &&
			    cc_directives[i].offset == offsetof(struct cache_control, no_cache))
				cc->no_cache_fields = true;
			else if (v.arg == CC_ARG_OK)
				cc->private_fields = true;
			else
				*(bool *)field = true;
			break;
		case CC_KIND_PERMIT:
			if (v.arg == CC_ARG_NONE)
				*(bool *)field = true;
			break;
		case CC_KIND_MAX_STALE:
			if (v.arg == CC_ARG_NONE) {
				cc_delta_apply((struct cc_delta *)field, true, CC_DELTA_MAX);
				break;
			}
			cc_delta_apply((struct cc_delta *)field, v.arg == CC_ARG_OK && v.digits,
			               v.value);
			break;
		case CC_KIND_DELTA:
			cc_delta_apply((struct cc_delta *)field, v.arg == CC_ARG_OK && v.digits,
			               v.value);
			break;
		}
		return;
	}
	/* an unknown extension: ignored (it only sets `any`) */
}

/* Parses value (may be NULL: nothing set) into *cc, which is zeroed first. */
void
cachecontrol_parse(const char *value, struct cache_control *cc)
{
	const char *pos = value, *e;
	size_t len;

	memset(cc, 0, sizeof(*cc));
	while (http_list_next(&pos, &e, &len))
		cc_element(e, len, cc);
}

/* Calls fn for each field name of the list in [p, end) (an argument, quotes removed). */
static void
cc_field_names(const char *p, const char *end, void (*fn)(const char *, size_t, void *), void *arg)
{
	while (p < end) {
		const char *name;

		while (p < end && (*p == ',' || cc_is_ows(*p)))
			p++;
		name = p;
		while (p < end && cc_is_tchar(*p))
			p++;
		if (p > name)
			fn(name, (size_t)(p - name), arg);
		while (p < end && *p != ',')
			p++; /* skip whatever is not a name */
	}
}

/* Calls fn for each field name listed by a qualified no-cache or private directive of value. */
void
cachecontrol_listed_fields(const char *value, void (*fn)(const char *name, size_t len, void *arg),
                           void *arg)
{
	const char *pos = value, *e;
	size_t len;

	while (http_list_next(&pos, &e, &len)) {
		const char *end = e + len, *p = e;
		struct cc_value v;

		while (p < end && cc_is_tchar(*p))
			p++;
		if (!util_strncaseeq("no-cache", e, (size_t)(p - e)) &&
		    !util_strncaseeq("private", e, (size_t)(p - e)))
			continue;
		cc_parse_arg(p, end, &v);
		if (v.arg != CC_ARG_OK)
			continue;
		p = (const char *)memchr(p, '=', (size_t)(end - p)) + 1;
		while (p < end && cc_is_ows(*p))
			p++;
		if (p < end && *p == '"') {
			p++;
			end--; /* the closing quote (cc_parse_arg checked the form) */
		}
		cc_field_names(p, end, fn, arg);
	}
}

/* ------------------------------------------------------------------ RFC 8941 dictionaries */

/* The type of a parsed bare item (only what the directives need is kept). */
enum sf_type { SF_INTEGER, SF_BOOLEAN, SF_OTHER, SF_INNER_LIST };

struct sf_item {
	enum sf_type type;
	int64_t integer; /* SF_INTEGER (negative allowed), SF_BOOLEAN: 0 or 1 */
};

static bool
sf_is_lcalpha(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool
sf_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
sf_is_alpha(char c)
{
	return sf_is_lcalpha(c) || (c >= 'A' && c <= 'Z');
}

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ); sets *len. */
static bool
sf_key(const char **p, size_t *len)
{
	const char *s = *p;

	if (!sf_is_lcalpha(*s) && *s != '*')
		return false;
	s++;
	while (sf_is_lcalpha(*s) || sf_is_digit(*s) || (*s != '\0' && strchr("_-.*", *s) != NULL))
		s++;
	*len = (size_t)(s - *p);
	*p = s;
	return true;
}

/* sf-integer / sf-decimal: ["-"] 1*15DIGIT [ "." 1*3DIGIT ] (a decimal has at most 12). */
static bool
sf_number(const char **p, struct sf_item *it)
{
	const char *s = *p;
	bool neg = false;
	int64_t v = 0;
	int n = 0;

	if (*s == '-') {
		neg = true;
		s++;
	}
	while (sf_is_digit(*s)) {
		if (++n > 15)
			return false;
		v = v * 10 + (*s - '0');
		s++;
	}
	if (n == 0)
		return false;
	it->type = SF_INTEGER;
	it->integer = neg ? -v : v;
	if (*s == '.') {
		int f = 0;
		if (n > 12)
			return false;
		for (s++; sf_is_digit(*s); s++)
			if (++f > 3)
				return false;
		if (f == 0)
			return false;
		it->type = SF_OTHER; /* a decimal: no directive takes one */
	}
	*p = s;
	return true;
}

/* bare-item: integer, decimal, string, token, byte sequence or boolean. */
static bool
sf_bare_item(const char **p, struct sf_item *it)
{
	const char *s = *p;

	it->type = SF_OTHER;
	it->integer = 0;
	if (*s == '-' || sf_is_digit(*s))
		return sf_number(p, it);
	if (*s == '"') {
		for (s++; *s != '"'; s++) {
			if (*s == '\\') {
				s++;
				if (*s != '"' && *s != '\\')
					return false;
			} else if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
				return false; /* includes the end of the string: unterminated */
			}
		}
		*p = s + 1;
		return true;
	}
	if (sf_is_alpha(*s) || *s == '*') {
		for (s++; cc_is_tchar(*s) || *s == ':' || *s == '/'; s++)
			;
		*p = s;
		return true;
	}
	if (*s == ':') {
		for (s++; sf_is_alpha(*s) || sf_is_digit(*s) || *s == '+' || *s == '/' || *s == '=';
		     s++)
			;
		if (*s != ':')
			return false;
		*p = s + 1;
		return true;
	}
	if (*s == '?') {
		if (s[1] != '0' && s[1] != '1')
			return false;
		it->type = SF_BOOLEAN;
		it->integer = s[1] - '0';
		*p = s + 2;
		return true;
	}
	return false;
}

/* parameters = *( ";" *SP key [ "=" bare-item ] ) (values are read and ignored). */
static bool
sf_parameters(const char **p)
{
	struct sf_item ignored;
	size_t len;

	while (**p == ';') {
		(*p)++;
		while (**p == ' ')
			(*p)++;
		if (!sf_key(p, &len))
			return false;
		if (**p == '=') {
			(*p)++;
			if (!sf_bare_item(p, &ignored))
				return false;
		}
	}
	return true;
}

/* member-value = sf-item / inner-list, each with parameters. */
static bool
sf_member_value(const char **p, struct sf_item *it)
{
	if (**p != '(')
		return sf_bare_item(p, it) && sf_parameters(p);
	(*p)++;
	for (;;) {
		struct sf_item inner;

		while (**p == ' ')
			(*p)++;
		if (**p == ')')
			break;
		if (!sf_bare_item(p, &inner) || !sf_parameters(p))
			return false;
		if (**p != ' ' && **p != ')')
			return false;
	}
	(*p)++;
	it->type = SF_INNER_LIST;
	it->integer = 0;
	return sf_parameters(p);
}

/* Applies one dictionary member to cc (a later member replaces an earlier one). */
static void
cc_targeted_member(const char *key, size_t len, const struct sf_item *it, struct cache_control *cc)
{
	cc->any = true;
	for (size_t i = 0; i < TC_ARRAY_LEN(cc_directives); i++) {
		if (strlen(cc_directives[i].name) != len ||
		    memcmp(cc_directives[i].name, key, len) != 0)
			continue;
		char *field = (char *)cc + cc_directives[i].offset;
		struct cc_delta *d = (struct cc_delta *)field;
		switch (cc_directives[i].kind) {
		case CC_KIND_RESTRICT:
		case CC_KIND_QUALIFIED: /* no field lists in a Dictionary: unqualified */
			*(bool *)field = !(it->type == SF_BOOLEAN && it->integer == 0);
			break;
		case CC_KIND_PERMIT:
			*(bool *)field = it->type == SF_BOOLEAN && it->integer == 1;
			break;
		case CC_KIND_MAX_STALE:
			if (it->type == SF_BOOLEAN && it->integer == 1) {
				d->state = CC_SET;
				d->value = CC_DELTA_MAX;
				break;
			}
			/* fall through */
		case CC_KIND_DELTA:
			if (it->type == SF_INTEGER && it->integer >= 0) {
				d->state = CC_SET;
				d->value = it->integer > CC_DELTA_MAX ? CC_DELTA_MAX : it->integer;
			} else {
				d->state = CC_INVALID;
				d->value = 0;
			}
			break;
		}
		return;
	}
}

/* Parses a targeted field (RFC 9213) as an RFC 8941 Dictionary; false: ignore the field. */
bool
cachecontrol_parse_targeted(const char *value, struct cache_control *cc)
{
	const char *p = value;

	memset(cc, 0, sizeof(*cc));
	if (p == NULL)
		return false;
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return false; /* empty: as if absent */
	for (;;) {
		struct sf_item it = {SF_BOOLEAN, 1};
		const char *key = p;
		size_t len;

		if (!sf_key(&p, &len))
			goto invalid;
		if (*p == '=') {
			p++;
			if (!sf_member_value(&p, &it))
				goto invalid;
		} else if (!sf_parameters(&p)) {
			goto invalid;
		}
		cc_targeted_member(key, len, &it, cc);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return true;
		if (*p != ',')
			goto invalid;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			goto invalid; /* a trailing comma */
	}
invalid:
	memset(cc, 0, sizeof(*cc));
	return false;
}
