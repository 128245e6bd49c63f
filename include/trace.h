/*
 * trace: request traces for tiercache-replay. Reads a trace (one key per line, or tiercache's
 * access log in Common/Combined Log Format, whose request URL is the key and whose response
 * size is the object's size) into memory, and replays it through a real local tier (local.c
 * with entries from entry_new) to count hits. No global state; a trace is owned by its
 * caller and read-only while replayed.
 */
#ifndef TIERCACHE_TRACE_H
#define TIERCACHE_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum trace_format {
	TRACE_KEYS,       /* one key a line: the whole line (without its line ending) */
	TRACE_ACCESS_LOG, /* "host ident user [date] \"GET /url HTTP/1.1\" status size ..." */
};

struct trace {
	char *text;       /* the keys, each NUL-terminated, back to back */
	size_t text_len;  /* bytes used in text */
	size_t *offsets;  /* offsets[i]: where request i's key starts in text */
	uint64_t *sizes;  /* response sizes (access logs), NULL for key traces */
	size_t n;         /* requests */
	uint64_t skipped; /* lines that were not requests (blank, or not GET/HEAD, or malformed) */
};

/*
 * Reads every request of f in the given format into *out (which the caller frees with
 * trace_free, also on failure). False on a read error (errno tells which).
 */
bool trace_read(FILE *f, enum trace_format format, struct trace *out);

/* Frees what trace_read allocated. */
void trace_free(struct trace *t);

/* The key of request i. */
const char *trace_key(const struct trace *t, size_t i);

/*
 * Parses one access log line (len bytes, no line ending): the URL of a GET or HEAD request
 * (pointing into line) and its response size ('-' is 0). False for other methods and for
 * lines that are not in Common Log Format.
 */
bool trace_parse_access_line(const char *line, size_t len, const char **url, size_t *url_len,
                             uint64_t *size);

/* Distinct keys in the trace. */
size_t trace_distinct(const struct trace *t);

/* The outcome of one replay. */
struct trace_result {
	uint64_t requests;
	uint64_t hits;
};

/*
 * Replays the trace through a new local tier with the given policy and bounds: a miss stores
 * an entry for the key (its body as large as the request's size when with_sizes is set, none
 * otherwise). False when the policy is unknown.
 */
bool trace_replay(const struct trace *t, const char *policy, uint64_t max_bytes,
                  uint64_t max_entries, bool with_sizes, struct trace_result *out);

#endif
