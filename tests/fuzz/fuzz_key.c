/*
 * fuzz_key: the cache-key builder. Input lines: host, request target, the response's Vary
 * value, then the request's header fields ("name: value", see fuzz_split). Properties: the
 * primary key is exactly "GET " + lower-case host + " " + target; the Vary key does not depend
 * on the order or case of the Vary names, and holds no control byte other than the '\n'
 * between records and the 0x01 of an absent header; the normalized Vary names agree with the
 * Vary key. key_resolve of the target (as a Location value) against "/a/b?q": NULL or a
 * target that starts with '/', holds no control byte or space, and has no "." or ".." path
 * segment left.
 */
#include <ctype.h>
#include <stdlib.h>

#include "fuzz.h"
#include "key.h"

static void
fuzz_key_primary(const char *host, const char *target)
{
	char *k = key_build(host, target);
	size_t hl = strlen(host);

	TC_ASSERT(strncmp(k, "GET ", 4) == 0);
	for (size_t i = 0; i < hl; i++)
		TC_ASSERT(k[4 + i] == (char)tolower((unsigned char)host[i]));
	TC_ASSERT(k[4 + hl] == ' ');
	TC_ASSERT(strcmp(k + 5 + hl, target) == 0);
	free(k);
}

/* The Vary value rewritten: elements in reverse order, upper-cased, separated by " ,\t". */
static char *
fuzz_key_shuffled(const char *vary)
{
	const char *pos = vary, *e;
	size_t len;
	struct buf b = {0};
	char **el = NULL;
	size_t n = 0;

	while (http_list_next(&pos, &e, &len)) {
		el = xrealloc(el, (n + 1) * sizeof(el[0]));
		el[n++] = xstrndup(e, len);
	}
	for (size_t i = n; i-- > 0;) {
		for (char *c = el[i]; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		buf_puts(&b, el[i]);
		buf_puts(&b, " ,\t");
		free(el[i]);
	}
	free(el);
	return b.data ? buf_steal(&b, NULL) : xstrdup("");
}

/* Checks (and frees) a target from key_resolve. */
static void
fuzz_key_resolved(char *t)
{
	size_t path;

	if (t == NULL)
		return;
	TC_ASSERT(t[0] == '/');
	for (const char *c = t; *c; c++)
		TC_ASSERT((unsigned char)*c > 0x20 && *c != 0x7f && *c != '#');
	path = strcspn(t, "?");
	for (size_t i = 0; i < path;) {
		size_t seg = strcspn(t + i + 1, "/?");
		if (i + 1 + seg > path)
			seg = path - i - 1;
		TC_ASSERT(!(seg == 1 && t[i + 1] == '.'));
		TC_ASSERT(!(seg == 2 && t[i + 1] == '.' && t[i + 2] == '.'));
		i += 1 + seg;
	}
	free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *first[3];
	struct http_headers req = {0};
	bool never = false, never2 = false;

	fuzz_split(data, size, first, 3, &req);
	fuzz_key_primary(first[0], first[1]);
	fuzz_key_primary("", first[1]);

	char *vk = key_vary(first[2], &req, &never);
	if (never)
		TC_ASSERT(vk == NULL);
	if (vk != NULL) {
		for (const char *c = vk; *c; c++) {
			unsigned char u = (unsigned char)*c;
			TC_ASSERT(u >= 0x20 || u == '\n' || u == 0x01);
			TC_ASSERT(u != 0x7f);
		}
		TC_ASSERT(strchr(vk, '=') != NULL);
	}
	/* a Vary whose quoted strings could hide commas is only compared when it has none */
	if (strchr(first[2], '"') == NULL) {
		char *shuffled = fuzz_key_shuffled(first[2]);
		char *vk2 = key_vary(shuffled, &req, &never2);
		TC_ASSERT(never == never2);
		TC_ASSERT((vk == NULL) == (vk2 == NULL));
		if (vk != NULL)
			TC_ASSERT(strcmp(vk, vk2) == 0);
		free(vk2);
		free(shuffled);
	}
	char *names = key_vary_names(first[2], &never2);
	TC_ASSERT(never == never2);
	TC_ASSERT((names == NULL) == (vk == NULL));
	free(names);
	fuzz_key_resolved(key_resolve(first[0], "/a/b?q", first[1]));
	free(vk);
	for (size_t i = 0; i < 3; i++)
		free(first[i]);
	http_headers_clear(&req);
	return 0;
}
