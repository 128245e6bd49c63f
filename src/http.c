/*
 * http: the HTTP message vocabulary every module shares.
 *
 * Owns: the ordered header list (names compared case-insensitively, duplicates kept in the
 * order received), the hop-by-hop rule of RFC 9110 section 7.6.1, HTTP-date parsing and
 * formatting (RFC 9110 section 5.6.7) and comma-list iteration (RFC 9110 section 5.6.1).
 *
 * Pure functions over plain data: no locks, no global state, no clock. A struct http_headers
 * owns its strings; callers synchronise access to a list they share.
 *
 * HTTP-date choices (strict, as the grammar is written):
 * - all three forms are accepted: IMF-fixdate, obsolete RFC 850 and asctime;
 * - day and month names are case-sensitive ("Nov", not "nov" or "NOV"), as RFC 9110 says;
 * - the day name must be one of the seven names of the form used, but it is not checked
 *   against the date (it is redundant; the date decides);
 * - fields must be in range: day 1 to the month's length (leap years counted), hour 0-23,
 *   minute 0-59, second 0-60 (60 is a leap second, read as the next minute's 00);
 * - RFC 850 two-digit years: 00-69 are 2000-2069 and 70-99 are 1970-1999 (the pivot that
 *   RFC 9110 section 5.6.7 describes, fixed so that parsing does not depend on the clock);
 * - spaces and tabs around the whole value are ignored; any other extra byte makes it invalid.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "util.h"

/* ------------------------------------------------------------------------- header list */

/* Gives a packed list separate strings again, so that it can change. */
static void
http_headers_unpack(struct http_headers *h)
{
	struct http_header *old = h->v;

	if (!h->packed)
		return;
	h->cap = h->n ? h->n : 8;
	h->v = xmalloc(h->cap * sizeof(h->v[0]));
	for (size_t i = 0; i < h->n; i++) {
		h->v[i].name = xstrdup(old[i].name);
		h->v[i].value = xstrdup(old[i].value);
	}
	if (!h->borrowed)
		free(old);
	h->packed = h->borrowed = false;
}

static void
http_headers_grow(struct http_headers *h)
{
	http_headers_unpack(h);
	if (h->n < h->cap)
		return;
	/* 2^31 fields never come: requests and responses are bounded far below */
	TC_ASSERT(h->cap <= UINT32_MAX / 2);
	h->cap = h->cap ? h->cap * 2 : 8;
	h->v = xrealloc(h->v, h->cap * sizeof(h->v[0]));
}

/* Appends a copy of name and value. */
void
http_headers_add(struct http_headers *h, const char *name, const char *value)
{
	http_headers_addn(h, name, strlen(name), value, strlen(value));
}

/* Appends name and value without copying them (they must outlive the list's strings). */
void
http_headers_add_borrowed(struct http_headers *h, const char *name, const char *value)
{
	TC_ASSERT((h->n == 0 || h->packed) && !h->borrowed);
	if (h->n == h->cap) {
		TC_ASSERT(h->cap <= UINT32_MAX / 2);
		h->cap = h->cap ? h->cap * 2 : 8;
		h->v = xrealloc(h->v, h->cap * sizeof(h->v[0]));
	}
	/* the list never writes through these: a change copies them first */
	h->v[h->n].name = (char *)(uintptr_t)name;
	h->v[h->n].value = (char *)(uintptr_t)value;
	h->n++;
	h->packed = true;
}

/* Appends a copy of name (name_len bytes) and value (value_len bytes). */
void
http_headers_addn(struct http_headers *h, const char *name, size_t name_len, const char *value,
                  size_t value_len)
{
	http_headers_grow(h);
	h->v[h->n].name = xstrndup(name, name_len);
	h->v[h->n].value = xstrndup(value, value_len);
	h->n++;
}

/* Value of the first field called name, or NULL. */
const char *
http_headers_get(const struct http_headers *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (http_name_eq(h->v[i].name, name))
			return h->v[i].value;
	return NULL;
}

/* Number of fields called name. */
size_t
http_headers_count(const struct http_headers *h, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < h->n; i++)
		if (http_name_eq(h->v[i].name, name))
			n++;
	return n;
}

/* Joins all fields called name with ", " into a new string (NULL when there is none). */
char *
http_headers_join(const struct http_headers *h, const char *name)
{
	struct buf b = {0};
	bool found = false;

	for (size_t i = 0; i < h->n; i++) {
		if (!http_name_eq(h->v[i].name, name))
			continue;
		if (found)
			buf_append(&b, ", ", 2);
		buf_puts(&b, h->v[i].value);
		found = true;
	}
	if (!found)
		return NULL;
	if (b.data == NULL)
		return xstrdup("");
	return buf_steal(&b, NULL);
}

/* Removes every field called name; returns how many were removed. */
size_t
http_headers_remove(struct http_headers *h, const char *name)
{
	size_t kept = 0, removed = 0;

	if (h->packed && http_headers_count(h, name) == 0)
		return 0;
	http_headers_unpack(h);
	for (size_t i = 0; i < h->n; i++) {
		if (http_name_eq(h->v[i].name, name)) {
			free(h->v[i].name);
			free(h->v[i].value);
			removed++;
		} else {
			h->v[kept++] = h->v[i];
		}
	}
	h->n = kept;
	return removed;
}

/* Replaces all fields called name by one field with value (at the first one's place). */
void
http_headers_set(struct http_headers *h, const char *name, const char *value)
{
	http_headers_unpack(h);
	for (size_t i = 0; i < h->n; i++) {
		if (!http_name_eq(h->v[i].name, name))
			continue;
		/* keep this one (and its position), drop the later ones */
		char *nv = xstrdup(value);
		free(h->v[i].value);
		h->v[i].value = nv;
		size_t kept = i + 1;
		for (size_t j = i + 1; j < h->n; j++) {
			if (http_name_eq(h->v[j].name, name)) {
				free(h->v[j].name);
				free(h->v[j].value);
			} else {
				h->v[kept++] = h->v[j];
			}
		}
		h->n = kept;
		return;
	}
	http_headers_add(h, name, value);
}

/* Deep-copies src into *dst (dst must be empty). */
void
http_headers_copy(struct http_headers *dst, const struct http_headers *src)
{
	TC_ASSERT(dst->n == 0);
	for (size_t i = 0; i < src->n; i++)
		http_headers_add(dst, src->v[i].name, src->v[i].value);
}

/* Frees every field and empties the list. */
void
http_headers_clear(struct http_headers *h)
{
	for (size_t i = 0; !h->packed && i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].value);
	}
	if (!h->borrowed)
		free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
	h->packed = h->borrowed = false;
}

/*
 * Field names that nearly every stored response carries, spelled as origins send them. A
 * packed list points its names at these constants instead of copying them (a stored entry
 * saves the bytes of its common names). The match is exact, so the name read back is the
 * name received.
 */
const char *const http_common_names[HTTP_COMMON_NAMES] = {
        "Date",          "Content-Type",     "Content-Length", "Cache-Control", "ETag",
        "Last-Modified", "Expires",          "Vary",           "Age",           "Server",
        "Accept-Ranges", "Content-Encoding", "Set-Cookie",
};

/* The constant spelling of name when it is a common one, else NULL. */
const char *
http_common_name(const char *name)
{
	for (size_t i = 0; i < sizeof(http_common_names) / sizeof(http_common_names[0]); i++)
		if (strcmp(name, http_common_names[i]) == 0)
			return http_common_names[i];
	return NULL;
}

/* 1 + the index of name among the common names (exact match), or 0. */
unsigned
http_common_code(const char *name)
{
	for (size_t i = 0; i < TC_ARRAY_LEN(http_common_names); i++)
		if (strcmp(name, http_common_names[i]) == 0)
			return (unsigned)i + 1;
	return 0;
}

/* Bytes http_headers_pack_into needs for h (a multiple of 8). */
size_t
http_headers_packed_size(const struct http_headers *h)
{
	size_t bytes = h->n * sizeof(h->v[0]);

	for (size_t i = 0; i < h->n; i++)
		bytes += (http_common_name(h->v[i].name) ? 0 : strlen(h->v[i].name) + 1) +
		         strlen(h->v[i].value) + 1;
	return (bytes + 7) & ~(size_t)7;
}

/* Packs h into mem, which the caller owns (http_headers_packed_size(h) bytes). */
void
http_headers_pack_into(struct http_headers *h, void *mem)
{
	struct http_header *v = mem;
	char *p = (char *)(v + h->n);
	size_t n = h->n;

	TC_ASSERT(!h->packed || h->v != mem);
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(h->v[i].name) + 1, vl = strlen(h->v[i].value) + 1;
		const char *common = http_common_name(h->v[i].name);

		if (common != NULL) {
			/* never written through: a change copies the list first */
			v[i].name = (char *)(uintptr_t)common;
		} else {
			v[i].name = memcpy(p, h->v[i].name, nl);
			p += nl;
		}
		v[i].value = memcpy(p, h->v[i].value, vl);
		p += vl;
	}
	http_headers_clear(h);
	h->v = v;
	h->n = h->cap = (uint32_t)n;
	h->packed = h->borrowed = true;
}

/* Moves the list and its strings into one allocation sized to fit. */
void
http_headers_pack(struct http_headers *h)
{
	if (h->packed || h->n == 0)
		return;
	http_headers_pack_into(h, xmalloc(http_headers_packed_size(h)));
	h->borrowed = false; /* the block is the list's own */
}

/* Bytes used by names and values, their terminating NULs included (for memory accounting). */
size_t
http_headers_size(const struct http_headers *h)
{
	size_t n = 0;

	for (size_t i = 0; i < h->n; i++)
		n += strlen(h->v[i].name) + strlen(h->v[i].value) + 2;
	return n;
}

/* ------------------------------------------------------------------------- hop-by-hop */

static const char *const http_hop_by_hop_names[] = {
        "Connection", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
};

/*
 * True when name is hop-by-hop and must not be forwarded: Connection, Keep-Alive, TE,
 * Trailer, Transfer-Encoding, Upgrade, Proxy-* and any field named in conn_tokens.
 */
bool
http_is_hop_by_hop(const char *name, const char *conn_tokens)
{
	/* every fixed name starts with one of these letters: most fields are decided here,
	 * without a string comparison (this runs for every field of every request) */
	switch (name[0] | 0x20) {
	case 'c':
	case 'k':
	case 't':
	case 'u':
	case 'p':
		break;
	default:
		return conn_tokens != NULL && http_list_has_token(conn_tokens, name);
	}
	for (size_t i = 0; i < TC_ARRAY_LEN(http_hop_by_hop_names); i++)
		if (http_name_eq(name, http_hop_by_hop_names[i]))
			return true;
	if (strncasecmp(name, "Proxy-", 6) == 0)
		return true;
	return http_list_has_token(conn_tokens, name);
}

/* ------------------------------------------------------------------------- HTTP-date */

static const char *const http_day_short[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const http_day_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                             "Thursday", "Friday", "Saturday"};
static const char *const http_month[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool
http_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Consumes the literal lit at *p in any case: HTTP-date is case-sensitive (RFC 9110 5.6.7),
 * but RFC 9111 section 4.2 asks a cache to match it case-insensitively ("THU", "AUG", "gMT").
 */
static bool
http_date_lit(const char **p, const char *lit)
{
	size_t n = strlen(lit);

	if (strncasecmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

/* Consumes exactly n decimal digits at *p into *out. */
static bool
http_date_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* Consumes a three-letter month name; *mon is 0-11. */
static bool
http_date_month(const char **p, int *mon)
{
	for (int i = 0; i < 12; i++) {
		if (http_date_lit(p, http_month[i])) {
			*mon = i;
			return true;
		}
	}
	return false;
}

/* Consumes "HH:MM:SS". */
static bool
http_date_time(const char **p, struct tm *tm)
{
	return http_date_digits(p, 2, &tm->tm_hour) && http_date_lit(p, ":") &&
	       http_date_digits(p, 2, &tm->tm_min) && http_date_lit(p, ":") &&
	       http_date_digits(p, 2, &tm->tm_sec);
}

static bool
http_is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* True when the broken-down fields (tm_year is the full year here) are in range. */
static bool
http_date_valid(const struct tm *tm)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int dim;

	if (tm->tm_mon < 0 || tm->tm_mon > 11)
		return false;
	dim = mdays[tm->tm_mon];
	if (tm->tm_mon == 1 && http_is_leap(tm->tm_year))
		dim = 29;
	return tm->tm_mday >= 1 && tm->tm_mday <= dim && tm->tm_hour <= 23 && tm->tm_min <= 59 &&
	       tm->tm_sec <= 60;
}

/* Which day-name list *p starts with: 1 short, 2 long, 0 none. Consumes the name. */
static int
http_date_dayname(const char **p)
{
	for (int i = 0; i < 7; i++)
		if (http_date_lit(p, http_day_long[i]))
			return 2;
	for (int i = 0; i < 7; i++)
		if (http_date_lit(p, http_day_short[i]))
			return 1;
	return 0;
}

/* Earliest and latest times that format with a four-digit year (0000 to 9999). */
#define HTTP_DATE_MIN INT64_C(-62167219200)
#define HTTP_DATE_MAX INT64_C(253402300799)

/* Parses an HTTP-date (IMF-fixdate, RFC 850 or asctime form); false when invalid. */
bool
http_date_parse(const char *s, int64_t *out)
{
	struct tm tm;
	const char *p = s;
	int64_t t;
	int kind;

	if (s == NULL)
		return false;
	memset(&tm, 0, sizeof(tm));
	while (http_is_ows(*p))
		p++;
	kind = http_date_dayname(&p);
	if (kind == 1 && http_date_lit(&p, ", ")) {
		/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		if (!(http_date_digits(&p, 2, &tm.tm_mday) && http_date_lit(&p, " ") &&
		      http_date_month(&p, &tm.tm_mon) && http_date_lit(&p, " ") &&
		      http_date_digits(&p, 4, &tm.tm_year) && http_date_lit(&p, " ") &&
		      http_date_time(&p, &tm) && http_date_lit(&p, " GMT")))
			return false;
	} else if (kind == 2 && http_date_lit(&p, ", ")) {
		/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
		if (!(http_date_digits(&p, 2, &tm.tm_mday) && http_date_lit(&p, "-") &&
		      http_date_month(&p, &tm.tm_mon) && http_date_lit(&p, "-") &&
		      http_date_digits(&p, 2, &tm.tm_year) && http_date_lit(&p, " ") &&
		      http_date_time(&p, &tm) && http_date_lit(&p, " GMT")))
			return false;
		tm.tm_year += tm.tm_year < 70 ? 2000 : 1900;
	} else if (kind == 1 && http_date_lit(&p, " ")) {
		/* asctime: Sun Nov  6 08:49:37 1994 (day as " 6" or "06") */
		if (!(http_date_month(&p, &tm.tm_mon) && http_date_lit(&p, " ")))
			return false;
		if (*p == ' ') {
			p++;
			if (!http_date_digits(&p, 1, &tm.tm_mday))
				return false;
		} else if (!http_date_digits(&p, 2, &tm.tm_mday)) {
			return false;
		}
		if (!(http_date_lit(&p, " ") && http_date_time(&p, &tm) && http_date_lit(&p, " ") &&
		      http_date_digits(&p, 4, &tm.tm_year)))
			return false;
	} else {
		return false;
	}
	while (http_is_ows(*p))
		p++;
	if (*p != '\0' || !http_date_valid(&tm))
		return false;
	tm.tm_year -= 1900;
	t = (int64_t)timegm(&tm);
	/* a leap second at the very end of 9999 would be the year 10000, which no HTTP-date
	 * can say (found by fuzz_http) */
	if (t > HTTP_DATE_MAX)
		return false;
	*out = t;
	return true;
}

/* Formats t as IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into out (at least 30 bytes). */
void
http_date_format(int64_t t, char out[30])
{
	struct tm tm;
	time_t tt;

	if (t < HTTP_DATE_MIN)
		t = HTTP_DATE_MIN;
	if (t > HTTP_DATE_MAX)
		t = HTTP_DATE_MAX;
	tt = (time_t)t;
	struct tm *ok = gmtime_r(&tt, &tm);
	TC_ASSERT(ok != NULL);
	TC_ASSERT(tm.tm_wday >= 0 && tm.tm_wday < 7 && tm.tm_mon >= 0 && tm.tm_mon < 12);
	memcpy(out, http_day_short[tm.tm_wday], 3);
	out[3] = ',';
	out[4] = ' ';
	out[5] = (char)('0' + tm.tm_mday / 10);
	out[6] = (char)('0' + tm.tm_mday % 10);
	out[7] = ' ';
	memcpy(out + 8, http_month[tm.tm_mon], 3);
	out[11] = ' ';
	int year = tm.tm_year + 1900;
	out[12] = (char)('0' + year / 1000);
	out[13] = (char)('0' + year / 100 % 10);
	out[14] = (char)('0' + year / 10 % 10);
	out[15] = (char)('0' + year % 10);
	out[16] = ' ';
	out[17] = (char)('0' + tm.tm_hour / 10);
	out[18] = (char)('0' + tm.tm_hour % 10);
	out[19] = ':';
	out[20] = (char)('0' + tm.tm_min / 10);
	out[21] = (char)('0' + tm.tm_min % 10);
	out[22] = ':';
	out[23] = (char)('0' + tm.tm_sec / 10);
	out[24] = (char)('0' + tm.tm_sec % 10);
	memcpy(out + 25, " GMT", 5); /* with the NUL: 29 characters and the terminator */
}

/* ------------------------------------------------------------------------- lists */

/*
 * Iterates over the elements of a comma-separated list (RFC 9110 section 5.6.1), skipping
 * empty elements and optional whitespace; quoted strings (with backslash escapes) are kept
 * whole. A quote that is never closed does not start a quoted string: the element ends at
 * the first comma after it. (Field lines are joined with ", " before they are parsed: an
 * unterminated quote on one line must not swallow the next lines, e.g. a "private" or
 * "no-store" sent on a Cache-Control line of its own.)
 */
bool
http_list_next(const char **pos, const char **elem, size_t *elem_len)
{
	const char *p = *pos, *start, *end, *open = NULL;

	if (p == NULL)
		return false;
	while (*p == ',' || http_is_ows(*p))
		p++;
	if (*p == '\0') {
		*pos = p;
		return false;
	}
	start = p;
	for (; *p != '\0'; p++) {
		if (open != NULL) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				open = NULL;
		} else if (*p == '"') {
			open = p;
		} else if (*p == ',') {
			break;
		}
	}
	if (open != NULL) {
		/* unterminated: no comma came unquoted between start and the quote */
		p = strchr(open, ',');
		if (p == NULL)
			p = open + strlen(open);
	}
	end = p;
	while (end > start && http_is_ows(end[-1]))
		end--;
	*elem = start;
	*elem_len = (size_t)(end - start);
	*pos = p;
	return true;
}

/* True when list (a comma-separated header value, may be NULL) contains token (any case). */
bool
http_list_has_token(const char *list, const char *token)
{
	const char *pos = list, *e;
	size_t n;

	while (http_list_next(&pos, &e, &n))
		if (util_strncaseeq(token, e, n))
			return true;
	return false;
}
