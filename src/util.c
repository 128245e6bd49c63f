/*
 * util: allocation wrappers that abort on exhaustion, the growable buffer, clocks and number
 * parsing. Stateless and thread-safe.
 */

#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "util.h"

static _Noreturn void
util_oom(size_t size)
{
	fprintf(stderr, "tiercache: out of memory allocating %zu bytes\n", size);
	abort();
}

/* Reports a failed invariant and aborts. */
_Noreturn void
util_assert_fail(const char *cond, const char *file, int line, const char *func)
{
	fprintf(stderr, "tiercache: assertion failed: %s (%s:%d, %s)\n", cond, file, line, func);
	abort();
}

/* malloc that aborts with a message when memory is exhausted. */
void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		util_oom(size);
	return p;
}

/* calloc that aborts when memory is exhausted. */
void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		util_oom(n * size);
	return p;
}

/* realloc that aborts when memory is exhausted. */
void *
xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);

	if (q == NULL)
		util_oom(size);
	return q;
}

/* strdup that aborts when memory is exhausted. */
char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* Copies n bytes of s into a new NUL-terminated string. */
char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Formats into a newly allocated string. */
char *
xasprintf(const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	TC_ASSERT(n >= 0);
	b.cap = (size_t)n + 1;
	b.data = xmalloc(b.cap);
	va_start(ap, fmt);
	vsnprintf(b.data, b.cap, fmt, ap);
	va_end(ap);
	return b.data;
}

static void
buf_reserve(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

/* Appends n bytes to b. */
void
buf_append(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Appends a NUL-terminated string to b. */
void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/* Appends formatted text to b. */
void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	TC_ASSERT(n >= 0);
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Appends s as a JSON string literal (quotes and escapes included). */
void
buf_json_string(struct buf *b, const char *s)
{
	buf_append(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			buf_append(b, "\\\"", 2);
			break;
		case '\\':
			buf_append(b, "\\\\", 2);
			break;
		case '\n':
			buf_append(b, "\\n", 2);
			break;
		case '\r':
			buf_append(b, "\\r", 2);
			break;
		case '\t':
			buf_append(b, "\\t", 2);
			break;
		default:
			if (*p < 0x20)
				buf_printf(b, "\\u%04x", *p);
			else
				buf_append(b, p, 1);
		}
	}
	buf_append(b, "\"", 1);
}

/* Hands the buffer's bytes to the caller (who frees them) and empties b. */
char *
buf_steal(struct buf *b, size_t *len)
{
	char *p = b->data;

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

/* Frees the buffer's bytes. */
void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Wall-clock time in whole seconds (used for HTTP ages and freshness). */
int64_t
util_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

/* Monotonic time in milliseconds (used for durations and timeouts). */
int64_t
util_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Case-insensitive equality of a and the first n bytes of b (b has exactly n bytes). */
bool
util_strncaseeq(const char *a, const char *b, size_t n)
{
	return strlen(a) == n && strncasecmp(a, b, n) == 0;
}

/* Parses a whole decimal number into *out; false on junk, sign or overflow of max. */
bool
util_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* Parses a byte size with an optional K/M/G suffix (powers of 1024); false on error. */
bool
util_parse_size(const char *s, uint64_t *out)
{
	size_t n = s ? strlen(s) : 0;
	uint64_t mult = 1, v;
	char digits[32];

	if (n == 0 || n >= sizeof(digits))
		return false;
	switch (toupper((unsigned char)s[n - 1])) {
	case 'K':
		mult = UINT64_C(1) << 10;
		break;
	case 'M':
		mult = UINT64_C(1) << 20;
		break;
	case 'G':
		mult = UINT64_C(1) << 30;
		break;
	default:
		break;
	}
	if (mult != 1)
		n--;
	memcpy(digits, s, n);
	digits[n] = '\0';
	if (!util_parse_u64(digits, UINT64_MAX / mult, &v))
		return false;
	*out = v * mult;
	return true;
}

/* Number of online processors (at least 1). */
unsigned
util_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

/* 64 secret random bits from getrandom(2); if it fails (a seccomp filter), clocks and pid. */
uint64_t
util_random_seed(void)
{
	uint64_t seed = 0;
	ssize_t got;

	do
		got = getrandom(&seed, sizeof(seed), 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(seed)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed ^= (uint64_t)ts.tv_nsec * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)ts.tv_sec;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed ^= (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&ts;
	}
	return seed;
}

static uint64_t util_table_seed;
static pthread_once_t util_table_seed_once = PTHREAD_ONCE_INIT;

static void
util_table_seed_init(void)
{
	util_table_seed = util_random_seed();
}

/* The keyed hash of the in-process tables (seed drawn once per process). */
unsigned
util_table_hash(const void *key, size_t len)
{
	pthread_once(&util_table_seed_once, util_table_seed_init);
	return (unsigned)XXH3_64bits_withSeed(key, len, util_table_seed);
}
