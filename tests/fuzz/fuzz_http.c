/*
 * fuzz_http: the HTTP vocabulary of http.c. The whole input is parsed as an HTTP-date and
 * iterated as a comma list; then its lines are read as header fields (fuzz_split) and joined,
 * counted, tested for hop-by-hop, set, removed and copied. Properties: a date that parses
 * formats to an IMF-fixdate that parses back to the same time; list elements lie inside the
 * value, are not empty, and neither start nor end with a blank or (outside quotes) hold a
 * comma; the header-list operations keep their counts consistent. The input as a Range
 * value (rfc9111_range_parse) against a few lengths: one range lies inside the
 * representation; the preconditions and If-Range of the header fields never crash.
 */
#include <stdlib.h>
#include <strings.h>

#include "fuzz.h"
#include "rfc9111.h"

static void
fuzz_http_range(const char *s)
{
	static const int64_t lens[] = {0, 1, 10, INT64_MAX};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		int64_t first = -1, last = -1;
		if (rfc9111_range_parse(s, lens[i], &first, &last) == RFC9111_RANGE_ONE)
			TC_ASSERT(0 <= first && first <= last && last < lens[i]);
	}
}

static void
fuzz_http_date(const char *s)
{
	int64_t t, back;
	char out[30];

	if (!http_date_parse(s, &t))
		return;
	http_date_format(t, out);
	TC_ASSERT(strlen(out) == 29);
	TC_ASSERT(http_date_parse(out, &back));
	TC_ASSERT(back == t);
}

static void
fuzz_http_list(const char *s)
{
	const char *pos = s, *e;
	size_t len, count = 0;

	while (http_list_next(&pos, &e, &len)) {
		TC_ASSERT(e >= s && e + len <= s + strlen(s));
		TC_ASSERT(len > 0);
		TC_ASSERT(e[0] != ' ' && e[0] != '\t' && e[0] != ',');
		TC_ASSERT(e[len - 1] != ' ' && e[len - 1] != '\t');
		if (memchr(e, '"', len) == NULL)
			TC_ASSERT(memchr(e, ',', len) == NULL);
		char *tok = xstrndup(e, len);
		if (memchr(tok, '\0', len) == NULL)
			TC_ASSERT(http_list_has_token(s, tok));
		free(tok);
		TC_ASSERT(++count <= strlen(s));
	}
	TC_ASSERT(pos != NULL && *pos == '\0');
}

static void
fuzz_http_headers(struct http_headers *h)
{
	char *conn = http_headers_join(h, "Connection");
	struct http_headers copy = {0};
	size_t total = h->n, kept = 0;

	for (size_t i = 0; i < h->n; i++) {
		const char *name = h->v[i].name;
		bool hop = http_is_hop_by_hop(name, conn);
		if (strcasecmp(name, "Connection") == 0 || strncasecmp(name, "Proxy-", 6) == 0)
			TC_ASSERT(hop);
		kept += !hop;
		/* join has one value per field of that name, separated by ", " */
		char *j = http_headers_join(h, name);
		TC_ASSERT(j != NULL);
		TC_ASSERT(http_headers_count(h, name) >= 1);
		TC_ASSERT(strlen(j) >= strlen(http_headers_get(h, name)));
		free(j);
	}
	TC_ASSERT(kept <= total);
	http_headers_copy(&copy, h);
	TC_ASSERT(copy.n == h->n && http_headers_size(&copy) == http_headers_size(h));
	if (h->n > 0) {
		char *name = xstrdup(h->v[0].name);
		size_t n = http_headers_count(h, name);
		http_headers_set(&copy, name, "x");
		TC_ASSERT(http_headers_count(&copy, name) == 1);
		TC_ASSERT(copy.n == h->n - n + 1);
		TC_ASSERT(http_headers_remove(&copy, name) == 1);
		TC_ASSERT(http_headers_get(&copy, name) == NULL);
		TC_ASSERT(copy.n == h->n - n);
		free(name);
	}
	http_headers_clear(&copy);
	free(conn);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	struct http_headers h = {0};

	fuzz_http_date(s);
	fuzz_http_list(s);
	fuzz_split(data, size, NULL, 0, &h);
	fuzz_http_headers(&h);
	fuzz_http_range(s);
	(void)rfc9111_precondition_failed(&h, 200, "\"a\"", "Sun, 06 Nov 1994 08:49:37 GMT");
	(void)rfc9111_if_range_ok(&h, "\"a\"", "Sun, 06 Nov 1994 08:49:37 GMT");
	for (size_t i = 0; i < h.n; i++) {
		fuzz_http_range(h.v[i].value);
		fuzz_http_date(h.v[i].value);
		fuzz_http_list(h.v[i].value);
	}
	http_headers_clear(&h);
	free(s);
	return 0;
}
