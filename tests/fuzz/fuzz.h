/*
 * fuzz: what every fuzz target shares. A target defines LLVMFuzzerTestOneInput(); it is linked
 * either with libFuzzer (tests/fuzz/fuzz_NAME, --enable-fuzzing, clang) or with replay.c's
 * main (tests/fuzz/replay_NAME, any compiler), which runs each file of the seed corpus
 * tests/fuzz/corpus/NAME/ once; make check runs the replayers. A target must not keep state
 * from one input to the next (other than caches that cannot change a result), must free all it
 * allocates, and checks the properties it knows with TC_ASSERT (an abort is a finding).
 */
#ifndef TIERCACHE_FUZZ_H
#define TIERCACHE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http.h"
#include "util.h"

/* The entry point: one input, data[0..size) (not NUL-terminated); returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A new NUL-terminated copy of the input (a NUL inside ends the string early). */
static inline char *
fuzz_string(const uint8_t *data, size_t size)
{
	return xstrndup((const char *)data, size);
}

/*
 * Reads the input as lines ('\n'; a NUL ends a line's text): the first nfirst lines go to
 * first[] (empty strings when missing; each to free), the rest are header fields "name: value"
 * (split at the first ':', blanks after it skipped; a line without ':' is a name with an
 * empty value) appended to *h.
 */
static inline void
fuzz_split(const uint8_t *data, size_t size, char **first, size_t nfirst, struct http_headers *h)
{
	const char *p = (const char *)data, *end = p + size;
	size_t i = 0;

	while (p < end || i < nfirst) {
		const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		const char *le = nl ? nl : end;
		size_t len = p < end ? (size_t)(le - p) : 0;
		const char *nul = len ? memchr(p, '\0', len) : NULL;

		if (nul != NULL)
			len = (size_t)(nul - p);
		if (i < nfirst) {
			first[i++] = xstrndup(p < end ? p : "", len);
		} else {
			const char *colon = memchr(p, ':', len);
			const char *v = colon ? colon + 1 : p + len;
			while (v < p + len && (*v == ' ' || *v == '\t'))
				v++;
			http_headers_addn(h, p, colon ? (size_t)(colon - p) : len, v,
			                  (size_t)(p + len - v));
		}
		p = nl ? nl + 1 : end;
	}
}

#endif
