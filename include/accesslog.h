/*
 * accesslog: the access log, one line per request, in the Combined Log Format followed by the
 * cache status and the milliseconds spent with the origin:
 *
 *   127.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /a?b=1 HTTP/1.1" 200 512 "-" "curl/7.88.1" HIT
 * -
 *
 * Serving threads format a line on their stack and copy it into a ring under a mutex held for
 * the copy only; one writer thread writes the ring to the file. A full ring drops the line
 * (counted in /stats access_log.dropped) rather than make a serving thread wait. The file is
 * opened by the caller's thread (startup, reload, SIGUSR1), so every open error is reported
 * there; the writer switches to the new file after writing what came before. One access log
 * per process (module state).
 */
#ifndef TIERCACHE_ACCESSLOG_H
#define TIERCACHE_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

/* What one line says. Strings are borrowed; NULL prints as "-". */
struct accesslog_entry {
	const struct sockaddr *client;
	time_t when; /* the request's arrival (wall clock) */
	const char *method;
	const char *target;
	const char *version; /* "HTTP/1.1" */
	int status;
	uint64_t bytes; /* body bytes sent; 0 prints as "-" */
	const char *referer;
	const char *user_agent;
	const char *cache_status; /* the reply's Cache-Status field, or NULL */
	int64_t origin_ms;        /* time with the origin; < 0 when it was not asked */
};

/*
 * Opens path as the access log ("-" = stdout, "" = none) and makes it the one new lines go
 * to; starts the writer thread on first use. Lines already queued go to the previous file.
 * False with an allocated *cause when the file cannot be opened (the previous one stays).
 */
bool accesslog_open(const char *path, char **cause);

/* Opens the current file again (SIGUSR1, after a rotation renamed it); false with *cause. */
bool accesslog_reopen(char **cause);

/* True when lines are written (one relaxed atomic load: callers skip gathering the fields). */
bool accesslog_enabled(void);

/* Queues one line; never blocks on I/O. Does nothing when there is no access log. */
void accesslog_write(const struct accesslog_entry *e);

/* Writes every queued line, stops the writer thread and closes the file. */
void accesslog_close(void);

/* Formats e as one line with its newline into out (size >= 512); returns its length. */
size_t accesslog_format(char *out, size_t size, const struct accesslog_entry *e);

/*
 * The cache status word of a reply from its Cache-Status field (our member, the last one):
 * HIT, HIT_MEMCACHED, MISS, REVALIDATED, STALE, PASS, COLLAPSED, ERROR; "-" without ours.
 */
const char *accesslog_cache_status(const char *cache_status);

#endif
