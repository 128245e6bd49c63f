/*
 * trace: reading request traces and replaying them through the local tier (see trace.h).
 * A trace is read whole into one buffer of NUL-terminated keys plus an offset per request, so
 * that every run of a replay reads memory only. The replay uses the library's real tier:
 * local_create / local_lookup / local_insert with entries built by entry_new, the same code the
 * proxy runs. No global state, no locks of its own (the tier locks itself).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "entry.h"
#include "local.h"
#include "trace.h"
#include "util.h"

/* the clock of a replay: request i happens at TRACE_T0 + i seconds */
#define TRACE_T0 INT64_C(1000000000)
/* freshness of replayed entries: longer than any trace, so nothing expires */
#define TRACE_TTL (INT64_C(1) << 40)

/* Appends one request (key of len bytes, and size) to t. */
static void
trace_push(struct trace *t, size_t *cap, size_t *text_cap, const char *key, size_t len,
           uint64_t size, bool with_sizes)
{
	if (t->n == *cap) {
		*cap = *cap ? *cap * 2 : 1024;
		t->offsets = xrealloc(t->offsets, *cap * sizeof(*t->offsets));
		if (with_sizes)
			t->sizes = xrealloc(t->sizes, *cap * sizeof(*t->sizes));
	}
	while (t->text_len + len + 1 > *text_cap) {
		*text_cap = *text_cap ? *text_cap * 2 : 16384;
		t->text = xrealloc(t->text, *text_cap);
	}
	memcpy(t->text + t->text_len, key, len);
	t->text[t->text_len + len] = '\0';
	t->offsets[t->n] = t->text_len;
	if (with_sizes)
		t->sizes[t->n] = size;
	t->text_len += len + 1;
	t->n++;
}

/* Reads every request of f in the given format into *out. */
bool
trace_read(FILE *f, enum trace_format format, struct trace *out)
{
	char *line = NULL;
	size_t line_cap = 0, cap = 0, text_cap = 0;
	ssize_t got;
	bool ok;

	memset(out, 0, sizeof(*out));
	while ((got = getline(&line, &line_cap, f)) >= 0) {
		size_t len = (size_t)got;
		const char *key = line;
		uint64_t size = 0;

		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (format == TRACE_ACCESS_LOG &&
		    !trace_parse_access_line(line, len, &key, &len, &size))
			len = 0;
		if (len == 0) {
			out->skipped++;
			continue;
		}
		trace_push(out, &cap, &text_cap, key, len, size, format == TRACE_ACCESS_LOG);
	}
	ok = !ferror(f);
	free(line);
	return ok;
}

/* Frees what trace_read allocated. */
void
trace_free(struct trace *t)
{
	free(t->text);
	free(t->offsets);
	free(t->sizes);
	memset(t, 0, sizeof(*t));
}

/* The key of request i. */
const char *
trace_key(const struct trace *t, size_t i)
{
	TC_ASSERT(i < t->n);
	return t->text + t->offsets[i];
}

/* Skips spaces from p (not past end). */
static const char *
trace_skip_spaces(const char *p, const char *end)
{
	while (p < end && *p == ' ')
		p++;
	return p;
}

/* The URL and response size of a GET or HEAD line of the access log. */
bool
trace_parse_access_line(const char *line, size_t len, const char **url, size_t *url_len,
                        uint64_t *size)
{
	const char *end = line + len;
	const char *p = memchr(line, '"', len), *method, *u, *q;
	int digits = 0;

	if (p == NULL)
		return false;
	method = ++p;
	while (p < end && *p != ' ' && *p != '"')
		p++;
	if (!((p - method == 3 && memcmp(method, "GET", 3) == 0) ||
	      (p - method == 4 && memcmp(method, "HEAD", 4) == 0)))
		return false;
	u = p = trace_skip_spaces(p, end);
	while (p < end && *p != ' ' && *p != '"')
		p++;
	/* origin-form or absolute-form request targets only */
	if (p == u || !(*u == '/' || (p - u > 7 && memcmp(u, "http://", 7) == 0) ||
	                (p - u > 8 && memcmp(u, "https://", 8) == 0)))
		return false;
	q = memchr(p, '"', (size_t)(end - p));
	if (q == NULL)
		return false;
	*url = u;
	*url_len = (size_t)(p - u);
	/* status: three digits */
	p = trace_skip_spaces(q + 1, end);
	while (p < end && *p >= '0' && *p <= '9') {
		p++;
		digits++;
	}
	if (digits != 3 || p == end || *p != ' ')
		return false;
	p = trace_skip_spaces(p, end);
	if (p < end && *p == '-' && (p + 1 == end || p[1] == ' ')) {
		*size = 0;
		return true;
	}
	*size = 0;
	digits = 0;
	while (p < end && *p >= '0' && *p <= '9') {
		if (*size > (UINT64_MAX - 9) / 10)
			return false;
		*size = *size * 10 + (uint64_t)(*p - '0');
		p++;
		digits++;
	}
	return digits > 0 && (p == end || *p == ' ');
}

static int
trace_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Distinct keys in the trace (by their 64-bit hashes: exact but for astronomically rare
 * collisions). */
size_t
trace_distinct(const struct trace *t)
{
	uint64_t *h;
	size_t d = 0;

	if (t->n == 0)
		return 0;
	h = xmalloc(t->n * sizeof(*h));
	for (size_t i = 0; i < t->n; i++) {
		const char *k = trace_key(t, i);

		h[i] = XXH3_64bits(k, strlen(k));
	}
	qsort(h, t->n, sizeof(*h), trace_cmp_u64);
	for (size_t i = 0; i < t->n; i++) {
		if (i == 0 || h[i] != h[i - 1])
			d++;
	}
	free(h);
	return d;
}

/* Replays the trace through a new local tier with the given policy and bounds. */
bool
trace_replay(const struct trace *t, const char *policy, uint64_t max_bytes, uint64_t max_entries,
             bool with_sizes, struct trace_result *out)
{
	const struct rfc9111_settings settings = {.default_ttl = TRACE_TTL};
	struct local *l = local_create(policy, max_bytes, max_entries);

	memset(out, 0, sizeof(*out));
	if (l == NULL)
		return false;
	for (size_t i = 0; i < t->n; i++) {
		const char *key = trace_key(t, i);
		int64_t now = TRACE_T0 + (int64_t)i;
		struct entry *e = local_lookup(l, key, now);
		struct http_headers headers = {0};
		size_t body_len = 0;
		char *body = NULL;

		out->requests++;
		if (e != NULL) {
			out->hits++;
			entry_unref(e);
			continue;
		}
		if (with_sizes && t->sizes != NULL && t->sizes[i] >= max_bytes)
			continue; /* can never fit: a miss that stores nothing */
		if (with_sizes && t->sizes != NULL && t->sizes[i] > 0) {
			/* the body's bytes are only counted, never read: left unwritten */
			body_len = (size_t)t->sizes[i];
			body = xmalloc(body_len);
		}
		e = entry_new(key, NULL, 200, &headers, body, body_len, now, now, &settings);
		local_insert(l, e, now);
		entry_unref(e);
	}
	local_destroy(l);
	return true;
}
