/*
 * test-origin: the HTTP origin that the integration tests drive. libmicrohttpd, one thread per
 * connection, so a delayed answer never holds up another connection.
 *
 * Usage: test-origin [-p PORT] [-P PORTFILE]
 *   Listens on 127.0.0.1:PORT (0, the default, picks a free port), prints "port N" on stdout
 *   and, with -P, writes "N\n" to PORTFILE (through a temporary file and a rename, so a reader
 *   never sees a partial file). Runs until SIGTERM or SIGINT, then exits 0.
 *
 * Every request is counted per path (the percent-decoded path without the query, as
 * libmicrohttpd hands it over; every method; 304s and 400s included), and the method, target
 * and headers of the last request per path are kept. Control endpoints, never counted:
 *   GET /_count?path=/x  requests seen for /x, as "N\n" ("0\n" when none)
 *   GET /_count          requests seen over all paths
 *   GET /_last?path=/x   the last request for /x: "METHOD TARGET\n" (the target as received,
 *                        query included), then "Name: value\n" per header in received order;
 *                        404 when /x was never requested
 *   GET /_connections    TCP connections accepted since start (this one included), as "N\n"
 *   /_reset              (any method) forgets all counts, versions, last requests and
 *                        released holds
 *   GET /_release?hold=NAME  lets every request held by hold=NAME go, now and from now on
 *                        (until /_hold or /_reset)
 *   GET /_hold?hold=NAME requests with hold=NAME wait again from now on
 *
 * Any other request is answered from its query string. Values are percent-decoded ('+' is a
 * space: write %2B for a plus sign). Unknown parameters are ignored (useful to make distinct
 * URLs). Parameters marked (repeatable) add one header per occurrence, in order; for the others
 * the last occurrence wins. A bad value is answered 400 with a text message.
 *   status=N        status code 100..999 (default 200); 1xx codes are sent as the final answer
 *   cc=V            Cache-Control: V (repeatable)
 *   etag=V          ETag: "V"
 *   wetag=V         ETag: W/"V"
 *   etag304=V       a 304 answer carries ETag: "V" instead (it names another representation)
 *   hdr_n=Name      a header Name whose value is N, the count of this request for the path
 *   vary_req=Name   Vary: the value of the request's header Name (none when it has none):
 *                   the client decides what the response varies on
 *   etag_from=Name  ETag: "value of the request's header Name" (etag= when it is absent):
 *                   a representation per request header value, for Vary
 *   hdr_from=Name   the request's header Name, "Field: value", becomes a response header
 *                   (none when absent): a response header that differs from request to request
 *   lm=N            Last-Modified: N seconds before the origin started (N may be negative):
 *                   "now - N" that stays put from one request to the next, so a stored
 *                   Last-Modified revalidates with If-Modified-Since however late it is sent
 *   lm_abs=T        Last-Modified: T (a Unix time)
 *   expires=N       Expires: now + N seconds (N may be negative)
 *   expires_raw=S   Expires: S, verbatim (e.g. "0" or a malformed date)
 *   date=N          Date: now + N seconds (replaces the Date libmicrohttpd would add)
 *   age=N           Age: N
 *   vary=V          Vary: V (repeatable)
 *   hdr=Name:Value  any other response header (repeatable); libmicrohttpd refuses (400) an
 *                   empty value and Content-Length; Date replaces the library's Date;
 *                   Connection: close and Transfer-Encoding: chunked change the framing
 *   hdr304=Name:Value  a header sent only when the answer is 304 (repeatable)
 *   body=TEXT       the body is exactly TEXT
 *   size=N          a body of N bytes: 63 printable characters and a newline, repeated
 *   numbered=1      with size=: every 16-byte block is instead its own number (15 digits
 *                   and a newline), so that any part of the body tells where it comes from
 *   ctype=TYPE      Content-Type (default application/json for the default body, text/plain
 *                   for body= and size=)
 *   delay_ms=N      wait N ms (at most 600000) before answering
 *   hold=NAME       wait until /_release?hold=NAME (NAME: 1 to 64 characters), then as
 *                   delay_ms= says; a hold not released within 60 s is answered 503 "hold
 *                   NAME was never released": a test can let a request go exactly when it
 *                   has seen what it waits for (e.g. every collapsed waiter arrived),
 *                   whatever the machine's load
 *   truncate=1      announce the full Content-Length, send half the body, close the connection
 *   no304=1         never answer 304 to a conditional request
 *   stateful=1      the path carries a version number (see below)
 *   fail_after=N    once the path has been requested more than N times (N counting this
 *                   request as the others), fail as fail= says instead of answering
 *   fail=S          how: a status code 100..999 (default 503) with body "failing\n" and no
 *                   other parameter applied, "reset" (the connection is closed unanswered),
 *                   or "slow" (a 503 after 3 s: past the proxy's origin timeout in the tests)
 *   grow=N          from the second request of the path on, the body is N bytes as size=N
 * Default body: {"path":"/x","method":"GET","n":N}, N counting this request; stateful=1 adds
 * "version":V; a request that carried a body adds "received":BYTES. A HEAD request gets the
 * headers of the GET answer (its body is built with "method":"GET", so Content-Length is the
 * GET body's length).
 *
 * Conditional requests (GET and HEAD whose answer would be 2xx, unless no304=1): the answer
 * is 304 when If-None-Match matches the ETag (weak comparison, lists, "*"), or, when there is
 * no If-None-Match, when If-Modified-Since >= Last-Modified. A 304 keeps ETag, Last-Modified,
 * Cache-Control, Expires, Date, Age, Vary and hdr= headers, drops Content-Type and the body,
 * and carries the Content-Length of the body it stands for.
 *
 * stateful=1: GET and other methods answer ETag "v<version>" (replacing etag=/wetag=); the
 * version starts at 1 and is kept per path. PUT, POST, PATCH and DELETE: when If-Match is
 * present and does not match "v<version>" (strong comparison, lists, "*"), 412 with body
 * "precondition failed" and the current ETag; otherwise the version goes up by one and the
 * answer is 200 {"version":<new>,"received":<bytes>} with ETag "v<new>" (status=, body=,
 * size= and the 304 rules do not apply; the header parameters do).
 * A request body is always read whole (and its bytes counted) before the answer.
 *
 * Locking: one mutex guards the per-path table (counts, versions, last requests) and the
 * total; another, with its condition variable, the released holds. Strings are built before the
 * lock is taken; replaced ones are freed after it is released. A per-request struct (created by the
 * URI log callback, freed when the request completes) belongs to the connection's thread.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "http.h"
#include "util.h"

#define NBUCKETS          65536u
#define MAX_DELAY_MS      600000u
#define MAX_SIZE          (UINT64_C(1) << 36)
#define MAX_OFFSET_S      UINT64_C(3000000000) /* about 95 years either way */
#define CONNECTION_LIMIT  1000u
#define CONN_MEMORY_LIMIT (256u * 1024u)
#define READER_BLOCK      (64u * 1024u)
#define MAX_HOLDS         256u
#define MAX_HOLD_NAME     64u
#define HOLD_TIMEOUT_S    60

static const char PATTERN[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.\n";
#define PATTERN_LEN (sizeof(PATTERN) - 1)

/* What the origin remembers about one path. */
struct path_state {
	struct path_state *next;
	char *path;
	uint64_t count;
	uint64_t version; /* 0 until the path is first used statefully */
	char *last;       /* "METHOD TARGET\nName: value\n..." */
};

static struct {
	pthread_mutex_t lock;
	struct path_state *bucket[NBUCKETS];
	uint64_t total;
} state = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_bool stopping;

/* The names released by /_release (hold=): a request held by one of them waits no longer. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *name[MAX_HOLDS];
	size_t n;
} holds = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
static int64_t started_at; /* the reference "now" of lm= */

/* One request, from its request line to its completion. */
struct req {
	char *target; /* the request target as received */
	bool started;
	bool control;
	uint64_t n;        /* requests seen for the path, this one included */
	uint64_t received; /* request body bytes */
};

/* One response header taken from the query (cc=, vary=, hdr=). */
struct param_header {
	char *name;
	char *value;
	bool only304; /* hdr304= */
};

/* The answer that a query string asks for. */
struct params {
	unsigned status;
	bool has_fail_after;
	uint64_t fail_after;
	bool has_grow;
	uint64_t grow;
	unsigned fail; /* status of a failure; 0: reset the connection */
	bool fail_slow;
	char *etag;      /* full field value, quotes included */
	char *etag304;   /* the ETag of a 304 answer, when not etag */
	char *hdr_n;     /* a header carrying the request count */
	char *vary_req;  /* the request header whose value is the response's Vary */
	char *hdr_from;  /* the request header that carries a response header */
	char *etag_from; /* the request header whose value is the ETag */
	bool has_lm;
	int64_t lm;
	bool has_expires;
	int64_t expires;
	char *expires_raw;
	bool has_date;
	int64_t date;
	bool has_age;
	uint64_t age;
	struct param_header *hdrs;
	size_t nhdrs;
	char *body;
	bool has_size;
	bool numbered;
	uint64_t size;
	char *ctype;
	uint64_t delay_ms;
	char *hold; /* hold=: wait for /_release?hold=this first */
	bool truncate;
	bool no304;
	bool stateful;
};

/* A response body: bytes of its own, or (data == NULL) len bytes of PATTERN. */
struct body {
	char *data;
	uint64_t len;
	uint64_t limit; /* bytes to send before failing (== len unless truncated) */
	bool numbered;  /* data == NULL: numbered 16-byte blocks instead of PATTERN */
};

/* ------------------------------------------------------------------ small helpers */

static void
sleep_ms(uint64_t ms)
{
	while (ms > 0 && !atomic_load(&stopping)) {
		uint64_t step = ms < 10 ? ms : 10;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(step * 1000000)};

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

static bool
parse_signed(const char *s, int64_t *out)
{
	uint64_t v;
	bool neg = s[0] == '-';

	if (!util_parse_u64(neg ? s + 1 : s, MAX_OFFSET_S, &v))
		return false;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

static bool
parse_flag(const char *s, bool *out)
{
	if (strcmp(s, "1") == 0 || strcmp(s, "0") == 0) {
		*out = s[0] == '1';
		return true;
	}
	return false;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes n bytes of s ('+' is a space); NULL on a bad escape or a NUL byte. */
static char *
url_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(s[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

static bool
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* True when s may stand between the quotes of an entity-tag (RFC 9110 etagc). */
static bool
is_etag_opaque(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (!(*p == 0x21 || (*p >= 0x23 && *p <= 0x7e) || *p >= 0x80))
			return false;
	return true;
}

/*
 * True when the If-Match / If-None-Match list matches etag (a full field value such as
 * W/"x"); weak comparison ignores W/ on both sides, strong comparison needs both strong.
 */
static bool
etag_list_match(const char *list, const char *etag, bool weak)
{
	bool etag_weak = strncmp(etag, "W/", 2) == 0;
	const char *opaque = etag_weak ? etag + 2 : etag;
	size_t opaque_len = strlen(opaque);
	const char *p = list;

	for (;;) {
		bool w = false;
		const char *start;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return false;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0) {
			w = true;
			p += 2;
		}
		if (*p == '"') {
			start = p;
			p = strchr(p + 1, '"');
			if (p == NULL)
				return false;
			p++;
			if ((size_t)(p - start) == opaque_len &&
			    memcmp(start, opaque, opaque_len) == 0 && (weak || (!w && !etag_weak)))
				return true;
		}
		while (*p != '\0' && *p != ',')
			p++;
	}
}

/* ------------------------------------------------------------------ shared state */

static uint32_t
path_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Finds (or, with create, adds) the state of path; the caller holds the lock. */
static struct path_state *
state_find_locked(const char *path, bool create)
{
	uint32_t b = path_hash(path) % NBUCKETS;
	struct path_state *ps;

	for (ps = state.bucket[b]; ps != NULL; ps = ps->next)
		if (strcmp(ps->path, path) == 0)
			return ps;
	if (!create)
		return NULL;
	ps = xcalloc(1, sizeof(*ps));
	ps->path = xstrdup(path);
	ps->next = state.bucket[b];
	state.bucket[b] = ps;
	return ps;
}

/* Counts a request for path and records it as the last one (takes last); returns its number. */
static uint64_t
state_count(const char *path, char *last)
{
	struct path_state *ps;
	char *old;
	uint64_t n;

	pthread_mutex_lock(&state.lock);
	ps = state_find_locked(path, true);
	n = ++ps->count;
	state.total++;
	old = ps->last;
	ps->last = last;
	pthread_mutex_unlock(&state.lock);
	free(old);
	return n;
}

static uint64_t
state_get_count(const char *path)
{
	struct path_state *ps;
	uint64_t n;

	pthread_mutex_lock(&state.lock);
	if (path == NULL) {
		n = state.total;
	} else {
		ps = state_find_locked(path, false);
		n = ps != NULL ? ps->count : 0;
	}
	pthread_mutex_unlock(&state.lock);
	return n;
}

/* A copy of the last request recorded for path, or NULL. */
static char *
state_get_last(const char *path)
{
	struct path_state *ps;
	char *last = NULL;

	pthread_mutex_lock(&state.lock);
	ps = state_find_locked(path, false);
	if (ps != NULL && ps->last != NULL)
		last = xstrdup(ps->last);
	pthread_mutex_unlock(&state.lock);
	return last;
}

static void
state_free_list(struct path_state *ps)
{
	while (ps != NULL) {
		struct path_state *next = ps->next;

		free(ps->path);
		free(ps->last);
		free(ps);
		ps = next;
	}
}

static void
state_reset(void)
{
	struct path_state **old = xcalloc(NBUCKETS, sizeof(*old));

	pthread_mutex_lock(&state.lock);
	memcpy(old, state.bucket, sizeof(state.bucket));
	memset(state.bucket, 0, sizeof(state.bucket));
	state.total = 0;
	pthread_mutex_unlock(&state.lock);
	for (size_t i = 0; i < NBUCKETS; i++)
		state_free_list(old[i]);
	free(old);
}

/* True when name was released (holds.lock held). */
static bool
hold_released_locked(const char *name)
{
	for (size_t i = 0; i < holds.n; i++)
		if (strcmp(holds.name[i], name) == 0)
			return true;
	return false;
}

/* Releases name: its held requests go now, later ones do not wait. False when full. */
static bool
hold_release(const char *name)
{
	char *copy = xstrdup(name);
	bool ok = true;

	pthread_mutex_lock(&holds.lock);
	if (hold_released_locked(name)) {
		pthread_mutex_unlock(&holds.lock);
		free(copy);
		return true;
	}
	if (holds.n < MAX_HOLDS)
		holds.name[holds.n++] = copy;
	else
		ok = false;
	pthread_cond_broadcast(&holds.cond);
	pthread_mutex_unlock(&holds.lock);
	if (!ok)
		free(copy);
	return ok;
}

/* name holds its requests again (/_hold). */
static void
hold_rearm(const char *name)
{
	char *old = NULL;

	pthread_mutex_lock(&holds.lock);
	for (size_t i = 0; i < holds.n; i++)
		if (strcmp(holds.name[i], name) == 0) {
			old = holds.name[i];
			holds.name[i] = holds.name[--holds.n];
			break;
		}
	pthread_mutex_unlock(&holds.lock);
	free(old);
}

/* Forgets every released name (/_reset). */
static void
hold_reset(void)
{
	char *old[MAX_HOLDS];
	size_t n;

	pthread_mutex_lock(&holds.lock);
	n = holds.n;
	memcpy(old, holds.name, n * sizeof(old[0]));
	holds.n = 0;
	pthread_mutex_unlock(&holds.lock);
	for (size_t i = 0; i < n; i++)
		free(old[i]);
}

/* Waits until name is released (true), or the origin stops or 60 s pass (false). */
static bool
hold_wait(const char *name)
{
	time_t deadline = time(NULL) + HOLD_TIMEOUT_S;
	bool released;

	pthread_mutex_lock(&holds.lock);
	while (!(released = hold_released_locked(name)) && !atomic_load(&stopping) &&
	       time(NULL) < deadline) {
		struct timespec step; /* 100 ms at a time, to notice a stop */

		clock_gettime(CLOCK_REALTIME, &step);
		step.tv_nsec += 100000000L;
		if (step.tv_nsec >= 1000000000L) {
			step.tv_sec++;
			step.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&holds.cond, &holds.lock, &step);
	}
	pthread_mutex_unlock(&holds.lock);
	return released;
}

/* The current version of a stateful path (1 on first use). */
static uint64_t
state_version(const char *path)
{
	struct path_state *ps;
	uint64_t v;

	pthread_mutex_lock(&state.lock);
	ps = state_find_locked(path, true);
	if (ps->version == 0)
		ps->version = 1;
	v = ps->version;
	pthread_mutex_unlock(&state.lock);
	return v;
}

/*
 * Applies a write to a stateful path: when if_match (may be NULL) does not match the current
 * version, false and *version = the current one; else the version goes up, true and the new one.
 */
static bool
state_write(const char *path, const char *if_match, uint64_t *version)
{
	struct path_state *ps;
	char etag[32];
	bool ok;

	pthread_mutex_lock(&state.lock);
	ps = state_find_locked(path, true);
	if (ps->version == 0)
		ps->version = 1;
	snprintf(etag, sizeof(etag), "\"v%" PRIu64 "\"", ps->version);
	ok = if_match == NULL || etag_list_match(if_match, etag, false);
	if (ok)
		ps->version++;
	*version = ps->version;
	pthread_mutex_unlock(&state.lock);
	return ok;
}

/* ------------------------------------------------------------------ request side */

static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	buf_printf(cls, "%s: %s\n", key, value != NULL ? value : "");
	return MHD_YES;
}

struct join_ctx {
	const char *name;
	struct buf b;
	bool found;
};

static enum MHD_Result
join_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct join_ctx *j = cls;

	(void)kind;
	if (strcasecmp(key, j->name) == 0) {
		if (j->found)
			buf_puts(&j->b, ", ");
		buf_puts(&j->b, value != NULL ? value : "");
		j->found = true;
	}
	return MHD_YES;
}

/* All request header fields called name joined with ", " (caller frees), or NULL. */
static char *
request_header(struct MHD_Connection *c, const char *name)
{
	struct join_ctx j = {.name = name};

	MHD_get_connection_values(c, MHD_HEADER_KIND, join_header, &j);
	if (!j.found) {
		buf_free(&j.b);
		return NULL;
	}
	if (j.b.data == NULL)
		return xstrdup("");
	return buf_steal(&j.b, NULL);
}

static void
params_free(struct params *p)
{
	free(p->etag);
	free(p->etag304);
	free(p->hdr_n);
	free(p->vary_req);
	free(p->hdr_from);
	free(p->etag_from);
	free(p->expires_raw);
	for (size_t i = 0; i < p->nhdrs; i++) {
		free(p->hdrs[i].name);
		free(p->hdrs[i].value);
	}
	free(p->hdrs);
	free(p->body);
	free(p->ctype);
	free(p->hold);
}

static void
params_add_header(struct params *p, const char *name, size_t name_len, const char *value)
{
	p->hdrs = xrealloc(p->hdrs, (p->nhdrs + 1) * sizeof(*p->hdrs));
	p->hdrs[p->nhdrs].name = xstrndup(name, name_len);
	p->hdrs[p->nhdrs].value = xstrdup(value);
	p->hdrs[p->nhdrs].only304 = false;
	p->nhdrs++;
}

static void
replace(char **dst, char *s)
{
	free(*dst);
	*dst = s;
}

/* Applies one decoded parameter; NULL or an error message (caller frees). */
static char *
params_apply(struct params *p, const char *k, const char *v)
{
	uint64_t u;

	if (strcmp(k, "status") == 0) {
		if (!util_parse_u64(v, 999, &u) || u < 100)
			return xasprintf("bad status=%s: want 100..999\n", v);
		p->status = (unsigned)u;
	} else if (strcmp(k, "cc") == 0) {
		params_add_header(p, "Cache-Control", 13, v);
	} else if (strcmp(k, "vary") == 0) {
		params_add_header(p, "Vary", 4, v);
	} else if (strcmp(k, "etag") == 0 || strcmp(k, "wetag") == 0) {
		if (!is_etag_opaque(v))
			return xasprintf("bad %s=%s: characters not allowed in an entity-tag\n", k,
			                 v);
		replace(&p->etag, xasprintf("%s\"%s\"", k[0] == 'w' ? "W/" : "", v));
	} else if (strcmp(k, "etag_from") == 0) {
		replace(&p->etag_from, xstrdup(v));
	} else if (strcmp(k, "hdr_from") == 0) {
		replace(&p->hdr_from, xstrdup(v));
	} else if (strcmp(k, "vary_req") == 0) {
		replace(&p->vary_req, xstrdup(v));
	} else if (strcmp(k, "hdr_n") == 0) {
		replace(&p->hdr_n, xstrdup(v));
	} else if (strcmp(k, "etag304") == 0) {
		if (!is_etag_opaque(v))
			return xasprintf("bad %s=%s: characters not allowed in an entity-tag\n", k,
			                 v);
		replace(&p->etag304, xasprintf("\"%s\"", v));
	} else if (strcmp(k, "lm") == 0) {
		int64_t s;

		if (!parse_signed(v, &s))
			return xasprintf("bad lm=%s: want a number of seconds\n", v);
		p->has_lm = true;
		p->lm = started_at - s;
	} else if (strcmp(k, "lm_abs") == 0) {
		if (!util_parse_u64(v, MAX_OFFSET_S * 2, &u))
			return xasprintf("bad lm_abs=%s: want a Unix time\n", v);
		p->has_lm = true;
		p->lm = (int64_t)u;
	} else if (strcmp(k, "expires") == 0) {
		if (!parse_signed(v, &p->expires))
			return xasprintf("bad expires=%s: want a number of seconds\n", v);
		p->has_expires = true;
		replace(&p->expires_raw, NULL);
	} else if (strcmp(k, "expires_raw") == 0) {
		replace(&p->expires_raw, xstrdup(v));
		p->has_expires = false;
	} else if (strcmp(k, "date") == 0) {
		if (!parse_signed(v, &p->date))
			return xasprintf("bad date=%s: want a number of seconds\n", v);
		p->has_date = true;
	} else if (strcmp(k, "age") == 0) {
		if (!util_parse_u64(v, UINT64_C(1) << 40, &p->age))
			return xasprintf("bad age=%s: want a number of seconds\n", v);
		p->has_age = true;
	} else if (strcmp(k, "hdr") == 0 || strcmp(k, "hdr304") == 0) {
		const char *colon = strchr(v, ':');
		const char *val;

		if (colon == NULL || colon == v)
			return xasprintf("bad hdr=%s: want Name:Value\n", v);
		for (const char *q = v; q < colon; q++)
			if (!is_tchar((unsigned char)*q))
				return xasprintf("bad hdr=%s: the name is not a token\n", v);
		for (val = colon + 1; *val == ' ' || *val == '\t'; val++)
			;
		params_add_header(p, v, (size_t)(colon - v), val);
		p->hdrs[p->nhdrs - 1].only304 = k[3] == '3';
	} else if (strcmp(k, "body") == 0) {
		replace(&p->body, xstrdup(v));
		p->has_size = false;
	} else if (strcmp(k, "size") == 0) {
		if (!util_parse_u64(v, MAX_SIZE, &p->size))
			return xasprintf("bad size=%s: want 0..%" PRIu64 "\n", v, MAX_SIZE);
		p->has_size = true;
		replace(&p->body, NULL);
	} else if (strcmp(k, "numbered") == 0) {
		p->numbered = strcmp(v, "1") == 0;
	} else if (strcmp(k, "grow") == 0) {
		if (!util_parse_u64(v, MAX_SIZE, &p->grow))
			return xasprintf("bad grow=%s: want 0..%" PRIu64 "\n", v, MAX_SIZE);
		p->has_grow = true;
	} else if (strcmp(k, "fail_after") == 0) {
		if (!util_parse_u64(v, UINT64_MAX, &p->fail_after))
			return xasprintf("bad fail_after=%s: want a count\n", v);
		p->has_fail_after = true;
	} else if (strcmp(k, "fail") == 0) {
		uint64_t st;
		p->fail_slow = strcmp(v, "slow") == 0;
		if (strcmp(v, "reset") == 0)
			p->fail = 0;
		else if (p->fail_slow)
			p->fail = 503;
		else if (util_parse_u64(v, 999, &st) && st >= 100)
			p->fail = (unsigned)st;
		else
			return xasprintf("bad fail=%s: want 100..999 or reset\n", v);
	} else if (strcmp(k, "ctype") == 0) {
		replace(&p->ctype, xstrdup(v));
	} else if (strcmp(k, "delay_ms") == 0) {
		if (!util_parse_u64(v, MAX_DELAY_MS, &p->delay_ms))
			return xasprintf("bad delay_ms=%s: want 0..%u\n", v, MAX_DELAY_MS);
	} else if (strcmp(k, "hold") == 0) {
		if (v[0] == '\0' || strlen(v) > MAX_HOLD_NAME)
			return xasprintf("bad hold=%s: want 1 to %u characters\n", v,
			                 MAX_HOLD_NAME);
		replace(&p->hold, xstrdup(v));
	} else if (strcmp(k, "truncate") == 0 || strcmp(k, "no304") == 0 ||
	           strcmp(k, "stateful") == 0) {
		bool *f = k[0] == 't' ? &p->truncate : k[0] == 'n' ? &p->no304 : &p->stateful;

		if (!parse_flag(v, f))
			return xasprintf("bad %s=%s: want 0 or 1\n", k, v);
	}
	return NULL;
}

/*
 * Calls fn on each decoded name=value pair of target's query string; stops at and returns
 * the first error message (caller frees), else NULL.
 */
static char *
query_each(const char *target, char *(*fn)(void *, const char *, const char *), void *cls)
{
	const char *q = strchr(target, '?');
	char *err = NULL;

	if (q == NULL)
		return NULL;
	q++;
	while (*q != '\0' && err == NULL) {
		size_t len = strcspn(q, "&");
		const char *eq = memchr(q, '=', len);
		size_t klen = eq != NULL ? (size_t)(eq - q) : len;
		char *k = url_decode(q, klen);
		char *v = eq != NULL ? url_decode(eq + 1, len - klen - 1) : xstrdup("");

		if (k == NULL || v == NULL)
			err = xasprintf("bad percent-encoding in the query: %.*s\n", (int)len, q);
		else if (len > 0)
			err = fn(cls, k, v);
		free(k);
		free(v);
		q += len;
		if (*q == '&')
			q++;
	}
	return err;
}

static char *
params_apply_cb(void *cls, const char *k, const char *v)
{
	return params_apply(cls, k, v);
}

struct find_ctx {
	const char *name;
	char *value;
};

static char *
find_param_cb(void *cls, const char *k, const char *v)
{
	struct find_ctx *f = cls;

	if (strcmp(k, f->name) == 0)
		replace(&f->value, xstrdup(v));
	return NULL;
}

/* ------------------------------------------------------------------ response side */

static ssize_t
body_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct body *b = cls;
	uint64_t n;

	if (pos >= b->limit)
		return b->limit < b->len ? MHD_CONTENT_READER_END_WITH_ERROR
		                         : MHD_CONTENT_READER_END_OF_STREAM;
	n = b->limit - pos;
	if (n > max)
		n = max;
	if (b->data != NULL) {
		memcpy(out, b->data + pos, (size_t)n);
	} else if (b->numbered) {
		for (uint64_t i = 0; i < n; i++) {
			uint64_t at = pos + i, block = at / 16, digit = 14 - at % 16;
			if (at % 16 == 15) {
				out[i] = '\n';
				continue;
			}
			while (digit-- > 0)
				block /= 10;
			out[i] = (char)('0' + block % 10);
		}
	} else {
		for (uint64_t i = 0; i < n; i++)
			out[i] = PATTERN[(pos + i) % PATTERN_LEN];
	}
	return (ssize_t)n;
}

static void
body_free(void *cls)
{
	struct body *b = cls;

	free(b->data);
	free(b);
}

/* A response for the body (takes data, may be NULL for the pattern or numbered blocks). */
static struct MHD_Response *
body_response(char *data, uint64_t len, bool truncate, bool numbered)
{
	struct body *b;
	struct MHD_Response *r;

	if (data != NULL && !truncate) {
		r = MHD_create_response_from_buffer((size_t)len, data, MHD_RESPMEM_MUST_FREE);
		TC_ASSERT(r != NULL);
		return r;
	}
	b = xcalloc(1, sizeof(*b));
	b->data = data;
	b->len = len;
	b->limit = truncate ? len / 2 : len;
	b->numbered = numbered;
	r = MHD_create_response_from_callback(len, READER_BLOCK, body_read, b, body_free);
	TC_ASSERT(r != NULL);
	return r;
}

static enum MHD_Result
queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
	enum MHD_Result ret = MHD_queue_response(c, status, r);

	MHD_destroy_response(r);
	return ret;
}

/* Answers with a text/plain body (copied). */
static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	size_t len = strlen(text);
	struct MHD_Response *r = body_response(xstrndup(text, len), len, false, false);

	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	return queue(c, status, r);
}

static enum MHD_Result
reply_error(struct MHD_Connection *c, char *msg)
{
	enum MHD_Result ret = reply_text(c, MHD_HTTP_BAD_REQUEST, msg);

	free(msg);
	return ret;
}

/* Adds a header; on refusal, sets *err (once). */
static void
add_header(struct MHD_Response *r, const char *name, const char *value, char **err)
{
	if (MHD_add_response_header(r, name, value) != MHD_YES && *err == NULL)
		*err = xasprintf("libmicrohttpd refused the header %s: %s\n", name, value);
}

/* Adds the headers that a 200 and its 304 share; sets *err when the library refuses one. */
static void
add_common_headers(struct MHD_Response *r, const struct params *p, const char *etag, int64_t now,
                   char **err)
{
	char date[30];

	if (etag != NULL)
		add_header(r, MHD_HTTP_HEADER_ETAG, etag, err);
	if (p->has_lm) {
		http_date_format(p->lm, date);
		add_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, date, err);
	}
	if (p->has_expires) {
		http_date_format(now + p->expires, date);
		add_header(r, MHD_HTTP_HEADER_EXPIRES, date, err);
	} else if (p->expires_raw != NULL) {
		add_header(r, MHD_HTTP_HEADER_EXPIRES, p->expires_raw, err);
	}
	if (p->has_date) {
		http_date_format(now + p->date, date);
		add_header(r, MHD_HTTP_HEADER_DATE, date, err);
	}
	if (p->has_age) {
		char age[24];

		snprintf(age, sizeof(age), "%" PRIu64, p->age);
		add_header(r, MHD_HTTP_HEADER_AGE, age, err);
	}
	for (size_t i = 0; i < p->nhdrs; i++)
		if (!p->hdrs[i].only304)
			add_header(r, p->hdrs[i].name, p->hdrs[i].value, err);
}

static bool
is_unsafe_write(const char *method)
{
	return strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0 ||
	       strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
}

/* True when the conditional headers of the request make the answer a 304. */
static bool
not_modified(struct MHD_Connection *c, const struct params *p, const char *etag)
{
	char *inm = request_header(c, MHD_HTTP_HEADER_IF_NONE_MATCH);
	char *ims;
	int64_t t;
	bool match = false;

	if (inm != NULL) {
		match = etag != NULL && etag_list_match(inm, etag, true);
		free(inm);
		return match;
	}
	if (!p->has_lm)
		return false;
	ims = request_header(c, MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
	if (ims != NULL && http_date_parse(ims, &t) && t >= p->lm)
		match = true;
	free(ims);
	return match;
}

/* Answers an ordinary (non-control) request from its query string. */
static enum MHD_Result
answer(struct MHD_Connection *c, const struct req *rq, const char *path, const char *method)
{
	struct params p = {.status = MHD_HTTP_OK, .fail = 503};
	char *err = query_each(rq->target, params_apply_cb, &p);
	bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	char stateful_etag[32];
	const char *etag;
	struct MHD_Response *r;
	unsigned status = p.status;
	bool is304 = false;
	int64_t now;

	if (err != NULL) {
		params_free(&p);
		return reply_error(c, err);
	}
	if (p.etag_from != NULL) {
		const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, p.etag_from);
		if (v != NULL && is_etag_opaque(v))
			replace(&p.etag, xasprintf("\"%s\"", v));
	}
	if (p.hdr_from != NULL) {
		const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, p.hdr_from);
		const char *colon = v != NULL ? strchr(v, ':') : NULL;
		if (colon != NULL && colon > v) {
			const char *val = colon + 1;
			while (*val == ' ')
				val++;
			if (*val != '\0')
				params_add_header(&p, v, (size_t)(colon - v), val);
		}
	}
	if (p.vary_req != NULL) {
		const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, p.vary_req);
		if (v != NULL && *v != '\0')
			params_add_header(&p, "Vary", 4, v);
	}
	if (p.hold != NULL && !hold_wait(p.hold)) {
		char *msg = xasprintf("hold %s was never released\n", p.hold);

		params_free(&p);
		r = body_response(msg, strlen(msg), false, false);
		return queue(c, MHD_HTTP_SERVICE_UNAVAILABLE, r);
	}
	sleep_ms(p.delay_ms);
	now = util_now();
	etag = p.etag;
	if (p.has_grow && rq->n > 1) {
		p.size = p.grow;
		p.has_size = true;
		replace(&p.body, NULL);
	}
	if (p.has_fail_after && rq->n > p.fail_after) {
		unsigned fail = p.fail;

		if (p.fail_slow)
			sleep_ms(3000);
		params_free(&p);
		if (fail == 0)
			return MHD_NO; /* libmicrohttpd closes the connection without an answer */
		r = body_response(xstrdup("failing\n"), 8, false, false);
		return queue(c, fail, r);
	}

	if (p.stateful && is_unsafe_write(method)) {
		char *if_match = request_header(c, MHD_HTTP_HEADER_IF_MATCH);
		uint64_t v;
		bool ok = state_write(path, if_match, &v);

		free(if_match);
		snprintf(stateful_etag, sizeof(stateful_etag), "\"v%" PRIu64 "\"", v);
		if (!ok) {
			r = body_response(xstrdup("precondition failed"), 19, false, false);
			MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, stateful_etag);
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
			params_free(&p);
			return queue(c, MHD_HTTP_PRECONDITION_FAILED, r);
		}
		struct buf b = {0};
		size_t len;

		buf_printf(&b, "{\"version\":%" PRIu64 ",\"received\":%" PRIu64 "}", v,
		           rq->received);
		len = b.len;
		r = body_response(buf_steal(&b, NULL), len, false, false);
		etag = stateful_etag;
		status = MHD_HTTP_OK;
		if (p.ctype == NULL)
			p.ctype = xstrdup("application/json");
	} else {
		char *data;
		uint64_t len;

		if (p.stateful) {
			snprintf(stateful_etag, sizeof(stateful_etag), "\"v%" PRIu64 "\"",
			         state_version(path));
			etag = stateful_etag;
		}
		if (p.body != NULL) {
			len = strlen(p.body);
			data = p.body;
			p.body = NULL;
		} else if (p.has_size) {
			len = p.size;
			data = NULL;
		} else {
			struct buf b = {0};
			size_t blen;

			buf_puts(&b, "{\"path\":");
			buf_json_string(&b, path);
			buf_puts(&b, ",\"method\":");
			buf_json_string(&b, head ? MHD_HTTP_METHOD_GET : method);
			buf_printf(&b, ",\"n\":%" PRIu64, rq->n);
			if (p.stateful)
				buf_printf(&b, ",\"version\":%" PRIu64, state_version(path));
			if (rq->received > 0)
				buf_printf(&b, ",\"received\":%" PRIu64, rq->received);
			buf_puts(&b, "}");
			blen = b.len;
			data = buf_steal(&b, NULL);
			len = blen;
			if (p.ctype == NULL)
				p.ctype = xstrdup("application/json");
		}
		if (p.ctype == NULL)
			p.ctype = xstrdup("text/plain");
		is304 = !p.no304 && (head || strcmp(method, MHD_HTTP_METHOD_GET) == 0) &&
		        status >= 200 && status <= 299 && not_modified(c, &p, etag);
		if (is304)
			status = MHD_HTTP_NOT_MODIFIED;
		if (is304 && p.etag304 != NULL)
			etag = p.etag304;
		r = body_response(data, len, p.truncate && !is304, p.numbered);
	}

	err = NULL;
	add_common_headers(r, &p, etag, now, &err);
	if (p.hdr_n != NULL) {
		char count[24];
		snprintf(count, sizeof(count), "%" PRIu64, rq->n);
		add_header(r, p.hdr_n, count, &err);
	}
	if (!is304)
		add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, p.ctype, &err);
	for (size_t i = 0; is304 && i < p.nhdrs; i++)
		if (p.hdrs[i].only304)
			add_header(r, p.hdrs[i].name, p.hdrs[i].value, &err);
	params_free(&p);
	if (err != NULL) {
		MHD_destroy_response(r);
		return reply_error(c, err);
	}
	return queue(c, status, r);
}

/* TCP connections accepted since start (for tests of connection reuse). */
static atomic_uint_fast64_t connections_accepted;

static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
              enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)c;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&connections_accepted, 1);
}

/* Answers /_count, /_last, /_connections, /_release and /_reset. */
static enum MHD_Result
answer_control(struct MHD_Connection *c, const struct req *rq, const char *path)
{
	bool hold = strcmp(path, "/_release") == 0 || strcmp(path, "/_hold") == 0;
	struct find_ctx f = {.name = hold ? "hold" : "path"};
	enum MHD_Result ret;
	char *err = query_each(rq->target, find_param_cb, &f);
	char *text;

	if (err != NULL) {
		free(f.value);
		return reply_error(c, err);
	}
	if (strcmp(path, "/_connections") == 0) {
		text = xasprintf("%" PRIu64 "\n", (uint64_t)atomic_load(&connections_accepted));
		ret = reply_text(c, MHD_HTTP_OK, text);
		free(text);
	} else if (strcmp(path, "/_reset") == 0) {
		state_reset();
		hold_reset();
		ret = reply_text(c, MHD_HTTP_OK, "reset\n");
	} else if (hold && (f.value == NULL || f.value[0] == '\0')) {
		ret = reply_text(c, MHD_HTTP_BAD_REQUEST, "/_release and /_hold need ?hold=NAME\n");
	} else if (strcmp(path, "/_hold") == 0) {
		hold_rearm(f.value);
		text = xasprintf("holding %s\n", f.value);
		ret = reply_text(c, MHD_HTTP_OK, text);
		free(text);
	} else if (strcmp(path, "/_release") == 0) {
		if (!hold_release(f.value)) {
			ret = reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			                 "too many holds: /_reset\n");
		} else {
			text = xasprintf("released %s\n", f.value);
			ret = reply_text(c, MHD_HTTP_OK, text);
			free(text);
		}
	} else if (strcmp(path, "/_count") == 0) {
		text = xasprintf("%" PRIu64 "\n", state_get_count(f.value));
		ret = reply_text(c, MHD_HTTP_OK, text);
		free(text);
	} else if (f.value == NULL) {
		ret = reply_text(c, MHD_HTTP_BAD_REQUEST, "/_last needs ?path=/x\n");
	} else if ((text = state_get_last(f.value)) == NULL) {
		char *msg = xasprintf("no request for %s\n", f.value);

		ret = reply_text(c, MHD_HTTP_NOT_FOUND, msg);
		free(msg);
	} else {
		ret = reply_text(c, MHD_HTTP_OK, text);
		free(text);
	}
	free(f.value);
	return ret;
}

static bool
is_control(const char *path)
{
	return strcmp(path, "/_count") == 0 || strcmp(path, "/_last") == 0 ||
	       strcmp(path, "/_reset") == 0 || strcmp(path, "/_connections") == 0 ||
	       strcmp(path, "/_release") == 0 || strcmp(path, "/_hold") == 0;
}

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *rq = xcalloc(1, sizeof(*rq));

	(void)cls;
	(void)c;
	rq->target = xstrdup(uri != NULL ? uri : "");
	return rq;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *req_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq != NULL) {
		free(rq->target);
		free(rq);
	}
	*req_cls = NULL;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct req *rq = *req_cls;

	(void)cls;
	(void)version;
	(void)upload_data;
	if (rq == NULL) /* no URI log callback call: cannot happen, but stay safe */
		return MHD_NO;
	if (!rq->started) {
		/* First call: headers are in. Count now, answer on a later call (keep-alive). */
		rq->started = true;
		rq->control = is_control(url);
		if (!rq->control) {
			struct buf last = {0};

			buf_printf(&last, "%s %s\n", method, rq->target);
			MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &last);
			rq->n = state_count(url, buf_steal(&last, NULL));
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		rq->received += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->control)
		return answer_control(c, rq, url);
	return answer(c, rq, url, method);
}

static int
write_portfile(const char *path, unsigned port)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	int rc = -1;

	if (f == NULL) {
		fprintf(stderr, "test-origin: %s: %s\n", tmp, strerror(errno));
	} else if (fprintf(f, "%u\n", port) < 0 || fclose(f) != 0) {
		fprintf(stderr, "test-origin: writing %s failed\n", tmp);
	} else if (rename(tmp, path) != 0) {
		fprintf(stderr, "test-origin: rename to %s: %s\n", path, strerror(errno));
	} else {
		rc = 0;
	}
	free(tmp);
	return rc;
}

static void
usage(void)
{
	fprintf(stderr, "usage: test-origin [-p PORT] [-P PORTFILE]\n");
}

int
main(int argc, char **argv)
{
	uint64_t port = 0;
	const char *portfile = NULL;
	struct sockaddr_in sin;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t sigs;
	int opt, sig;

	while ((opt = getopt(argc, argv, "p:P:h")) != -1) {
		switch (opt) {
		case 'p':
			if (!util_parse_u64(optarg, 65535, &port)) {
				fprintf(stderr, "test-origin: bad port %s\n", optarg);
				return 2;
			}
			break;
		case 'P':
			portfile = optarg;
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}

	started_at = util_now();
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* inherited by every MHD thread */

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                             MHD_USE_AUTO | MHD_USE_ERROR_LOG,
	                     (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
	                     (struct sockaddr *)&sin, MHD_OPTION_CONNECTION_LIMIT,
	                     (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	                     (size_t)CONN_MEMORY_LIMIT, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
	                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	                     MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "test-origin: cannot listen on 127.0.0.1:%" PRIu64 "\n", port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || info->port == 0) {
		fprintf(stderr, "test-origin: cannot read the bound port\n");
		MHD_stop_daemon(d);
		return 1;
	}
	printf("port %u\n", (unsigned)info->port);
	fflush(stdout);
	if (portfile != NULL && write_portfile(portfile, info->port) != 0) {
		MHD_stop_daemon(d);
		return 1;
	}

	do {
		if (sigwait(&sigs, &sig) != 0)
			sig = 0;
	} while (sig != SIGINT && sig != SIGTERM);

	atomic_store(&stopping, true);
	MHD_stop_daemon(d);
	state_reset();
	hold_reset();
	return 0;
}
