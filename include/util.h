/*
 * util: allocation that cannot fail (abort on exhaustion), a growable byte buffer, clocks and
 * small string helpers. Depends on nothing else in tiercache; every module may use it.
 * No state, no locks: every function is safe from any thread.
 */
#ifndef TIERCACHE_UTIL_H
#define TIERCACHE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An invariant that stays checked in release builds. */
#define TC_ASSERT(cond) ((cond) ? (void)0 : util_assert_fail(#cond, __FILE__, __LINE__, __func__))

#define TC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Reports a failed invariant and aborts. */
_Noreturn void util_assert_fail(const char *cond, const char *file, int line, const char *func);

/* malloc that aborts with a message when memory is exhausted. */
void *xmalloc(size_t size);

/* calloc that aborts when memory is exhausted. */
void *xcalloc(size_t n, size_t size);

/* realloc that aborts when memory is exhausted. */
void *xrealloc(void *p, size_t size);

/* strdup that aborts when memory is exhausted. */
char *xstrdup(const char *s);

/* Copies n bytes of s into a new NUL-terminated string. */
char *xstrndup(const char *s, size_t n);

/* Formats into a newly allocated string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer; data is always NUL-terminated after len bytes. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Appends n bytes to b. */
void buf_append(struct buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string to b. */
void buf_puts(struct buf *b, const char *s);

/* Appends formatted text to b. */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s as a JSON string literal (quotes and escapes included). */
void buf_json_string(struct buf *b, const char *s);

/* Hands the buffer's bytes to the caller (who frees them) and empties b. */
char *buf_steal(struct buf *b, size_t *len);

/* Frees the buffer's bytes. */
void buf_free(struct buf *b);

/* Wall-clock time in whole seconds (used for HTTP ages and freshness). */
int64_t util_now(void);

/* Monotonic time in milliseconds (used for durations and timeouts). */
int64_t util_monotonic_ms(void);

/* Case-insensitive equality of a and the first n bytes of b (b has exactly n bytes). */
bool util_strncaseeq(const char *a, const char *b, size_t n);

/* Parses a whole decimal number into *out; false on junk, sign or overflow of max. */
bool util_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Parses a byte size with an optional K/M/G suffix (powers of 1024); false on error. */
bool util_parse_size(const char *s, uint64_t *out);

/* 64 secret random bits (getrandom, with a clock-and-pid fallback), for keyed hashes. */
uint64_t util_random_seed(void);

/*
 * The keyed hash of the in-process tables (uthash's HASH_FUNCTION in local.c and collapse.c):
 * XXH3 with a secret seed drawn once per process on first use, so that chosen keys cannot
 * pile up in one bucket. Thread-safe.
 */
unsigned util_table_hash(const void *key, size_t len);

/* Number of online processors (at least 1). */
unsigned util_ncpus(void);

#endif
