/*
 * accesslog: the access log (see accesslog.h for the line format). Owns the ring, the writer
 * thread and the file descriptor.
 *
 * Locking: one mutex (accesslog_lock) guards the ring indexes, the pending file switch and
 * the writer's state. A serving thread holds it only to copy its line into the ring (formatting
 * happens before, on its stack); a full ring drops the line and counts it. The writer thread
 * takes the bytes queued so far, writes them without the lock, then frees their room; it
 * sleeps ACCESSLOG_FLUSH_MS between batches unless the ring fills up. Files
 * are opened and paths copied by the caller of accesslog_open (never under the lock); the
 * writer closes a replaced descriptor after it has written everything queued before the
 * switch. accesslog_on is read without the lock so that a process without an access log
 * pays one atomic load per request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accesslog.h"
#include "log.h"
#include "stats.h"
#include "util.h"

/* Bytes the ring holds: about 5,000 lines of 200 bytes waiting for the disk. */
#define ACCESSLOG_RING (1u << 20)

/*
 * The writer wakes up every ACCESSLOG_FLUSH_MS to write what was queued, in one write(2) or
 * two; a serving thread wakes it early only when ACCESSLOG_URGENT bytes wait (so a busy proxy
 * makes about 20 writes a second, not one per request).
 */
#define ACCESSLOG_FLUSH_MS 50
#define ACCESSLOG_URGENT   (ACCESSLOG_RING / 4)

/* The longest line; longer targets, referers and user agents are cut to fit. */
#define ACCESSLOG_LINE 4096

static pthread_mutex_t accesslog_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t accesslog_wake = PTHREAD_COND_INITIALIZER;
static atomic_bool accesslog_on;
static char *accesslog_ring;
static uint64_t accesslog_head, accesslog_tail; /* bytes ever queued, ever written */
static bool accesslog_started, accesslog_stop, accesslog_sleeping;
static int accesslog_pending_fd = -2; /* a descriptor to switch to; -1 = none; -2 = no switch */
static uint64_t accesslog_switch_at;  /* ... once the bytes queued before it are written */
static pthread_t accesslog_thread;
static char *accesslog_path; /* the current file, for reopen (main thread only) */

/* Writes all of data to fd; false on an error (logged). */
static bool
accesslog_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("access log: write failed: %s",
			          n < 0 ? strerror(errno) : "no progress");
			return false;
		}
		data += n;
		len -= (size_t)n;
	}
	return true;
}

/* The writer thread: writes what is queued, switches files when asked, drains on stop. */
static void *
accesslog_run(void *arg)
{
	int fd = -1;
	bool failing = false;
	uint64_t flush_until = 0; /* what was queued when the writer last woke up */

	(void)arg;
	pthread_mutex_lock(&accesslog_lock);
	for (;;) {
		if (accesslog_pending_fd != -2 && accesslog_tail == accesslog_switch_at) {
			/* everything before the switch is written: change files */
			int old = fd;

			fd = accesslog_pending_fd;
			accesslog_pending_fd = -2;
			failing = false;
			pthread_mutex_unlock(&accesslog_lock);
			if (old > STDERR_FILENO)
				close(old);
			pthread_mutex_lock(&accesslog_lock);
			continue;
		}
		/* batches: what was queued at the last wake-up, or everything when it is urgent */
		uint64_t limit = accesslog_head;
		if (!accesslog_stop && accesslog_pending_fd == -2 &&
		    accesslog_head - accesslog_tail < ACCESSLOG_URGENT && flush_until < limit)
			limit = flush_until;
		if (accesslog_pending_fd != -2 && accesslog_switch_at < limit)
			limit = accesslog_switch_at; /* the old file gets what came before the
			                                switch */
		if (accesslog_tail < limit) {
			size_t at = (size_t)(accesslog_tail % ACCESSLOG_RING);
			size_t len = (size_t)(limit - accesslog_tail);
			if (len > ACCESSLOG_RING - at)
				len = ACCESSLOG_RING - at;
			pthread_mutex_unlock(&accesslog_lock);
			if (fd >= 0 && !failing)
				failing = !accesslog_write_all(fd, accesslog_ring + at, len);
			pthread_mutex_lock(&accesslog_lock);
			accesslog_tail += len;
			continue;
		}
		if (accesslog_stop && accesslog_head == accesslog_tail)
			break;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += ACCESSLOG_FLUSH_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		accesslog_sleeping = true;
		pthread_cond_timedwait(&accesslog_wake, &accesslog_lock, &until);
		accesslog_sleeping = false;
		flush_until = accesslog_head;
	}
	pthread_mutex_unlock(&accesslog_lock);
	if (fd > STDERR_FILENO)
		close(fd);
	return NULL;
}

/* Opens path as the access log ("-" = stdout, "" = none); false with *cause. */
bool
accesslog_open(const char *path, char **cause)
{
	int fd = -1;
	bool start;

	if (strcmp(path, "-") == 0) {
		fd = STDOUT_FILENO;
	} else if (path[0] != '\0') {
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0) {
			*cause = xasprintf("access log %s: cannot open: %s", path, strerror(errno));
			return false;
		}
	}
	if (accesslog_ring == NULL && fd >= 0) /* no memory for a log that is off */
		accesslog_ring = xmalloc(ACCESSLOG_RING);
	pthread_mutex_lock(&accesslog_lock);
	int unused = accesslog_pending_fd; /* a switch the writer has not made yet */
	accesslog_pending_fd = fd;
	accesslog_switch_at = accesslog_head;
	start = !accesslog_started && fd >= 0;
	if (start)
		accesslog_started = true;
	atomic_store(&accesslog_on, fd >= 0);
	if (accesslog_sleeping)
		pthread_cond_signal(&accesslog_wake);
	pthread_mutex_unlock(&accesslog_lock);
	if (unused > STDERR_FILENO)
		close(unused);
	if (start && pthread_create(&accesslog_thread, NULL, accesslog_run, NULL) != 0) {
		log_error("access log: cannot start the writer thread");
		abort();
	}
	free(accesslog_path);
	accesslog_path = xstrdup(path);
	return true;
}

/* Opens the current file again (SIGUSR1); false with *cause. */
bool
accesslog_reopen(char **cause)
{
	if (accesslog_path == NULL || accesslog_path[0] == '\0' || strcmp(accesslog_path, "-") == 0)
		return true;
	char *path = xstrdup(accesslog_path);
	bool ok = accesslog_open(path, cause);
	free(path);
	return ok;
}

/* Writes every queued line, stops the writer thread and closes the file. */
void
accesslog_close(void)
{
	bool started;

	pthread_mutex_lock(&accesslog_lock);
	started = accesslog_started;
	accesslog_stop = true;
	atomic_store(&accesslog_on, false);
	pthread_cond_signal(&accesslog_wake);
	pthread_mutex_unlock(&accesslog_lock);
	if (started)
		pthread_join(accesslog_thread, NULL);
	if (accesslog_pending_fd > STDERR_FILENO)
		close(accesslog_pending_fd);
	free(accesslog_ring);
	free(accesslog_path);
	accesslog_ring = NULL;
	accesslog_path = NULL;
	accesslog_pending_fd = -2;
	accesslog_head = accesslog_tail = 0;
	accesslog_started = accesslog_stop = false;
}

/* A bounded output buffer: appends stop at the end (the line is cut, never overflowed). */
struct accesslog_out {
	char *p;
	size_t len, cap;
};

static void
accesslog_put(struct accesslog_out *o, const char *s, size_t n)
{
	if (n > o->cap - o->len)
		n = o->cap - o->len;
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void
accesslog_puts(struct accesslog_out *o, const char *s)
{
	accesslog_put(o, s, strlen(s));
}

/*
 * Appends at most max bytes of s: '"', '\' and bytes outside printable ASCII are written
 * \xHH, so a line always splits into the same fields.
 */
static void
accesslog_escaped(struct accesslog_out *o, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t used = 0;

	for (; *s != '\0' && used < max; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
			char esc[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
			accesslog_put(o, esc, 4);
			used += 4;
		} else {
			accesslog_put(o, (const char *)&ch, 1);
			used++;
		}
	}
}

/* Appends s escaped between quotes, or "-" when s is NULL. */
static void
accesslog_quoted(struct accesslog_out *o, const char *s, size_t max)
{
	accesslog_put(o, "\"", 1);
	accesslog_escaped(o, s != NULL ? s : "-", max);
	accesslog_put(o, "\"", 1);
}

/* Formats e as one line with its newline into out (size >= 512); returns its length. */
size_t
accesslog_format(char *out, size_t size, const struct accesslog_entry *e)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct accesslog_out o = {out, 0, size - 1};
	char addr[INET6_ADDRSTRLEN] = "-", num[64];
	struct tm tm;
	/* the target, referer and user agent share what the fixed fields leave */
	size_t room = size > 400 ? size - 400 : 64;

	TC_ASSERT(size >= 512);
	if (e->client != NULL && e->client->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)e->client)->sin_addr,
		          addr, sizeof(addr));
	else if (e->client != NULL && e->client->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		          &((const struct sockaddr_in6 *)(const void *)e->client)->sin6_addr, addr,
		          sizeof(addr));
	accesslog_puts(&o, addr);
	/* the date changes once a second: each thread formats it once per second */
	static _Thread_local time_t date_of;
	static _Thread_local char date[48];
	if (date_of != e->when || date[0] == '\0') {
		gmtime_r(&e->when, &tm);
		snprintf(date, sizeof(date), " - - [%02d/%s/%04d:%02d:%02d:%02d +0000] \"",
		         tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
		         tm.tm_min, tm.tm_sec);
		date_of = e->when;
	}
	accesslog_puts(&o, date);
	/* the request line: method and version are tokens; the target was vetted by the
	 * server (no blanks or controls) but may hold '"' or '\', quoted like the rest */
	accesslog_puts(&o, e->method ? e->method : "-");
	accesslog_put(&o, " ", 1);
	accesslog_escaped(&o, e->target ? e->target : "-", room / 2);
	accesslog_put(&o, " ", 1);
	accesslog_puts(&o, e->version ? e->version : "HTTP/1.1");
	if (e->bytes > 0)
		snprintf(num, sizeof(num), "\" %d %" PRIu64 " ", e->status, e->bytes);
	else
		snprintf(num, sizeof(num), "\" %d - ", e->status);
	accesslog_puts(&o, num);
	accesslog_quoted(&o, e->referer, room / 4);
	accesslog_put(&o, " ", 1);
	accesslog_quoted(&o, e->user_agent, room / 4);
	accesslog_put(&o, " ", 1);
	accesslog_puts(&o, accesslog_cache_status(e->cache_status));
	if (e->origin_ms >= 0)
		snprintf(num, sizeof(num), " %" PRId64 "\n", e->origin_ms);
	else
		snprintf(num, sizeof(num), " -\n");
	accesslog_puts(&o, num);
	if (o.p[o.len - 1] != '\n')
		o.p[o.len - 1] = '\n';
	o.p[o.len] = '\0';
	return o.len;
}

/* True when lines are written. */
bool
accesslog_enabled(void)
{
	return atomic_load_explicit(&accesslog_on, memory_order_relaxed);
}

/* Queues one line; never blocks on I/O. */
void
accesslog_write(const struct accesslog_entry *e)
{
	char line[ACCESSLOG_LINE];
	size_t len;

	if (!atomic_load_explicit(&accesslog_on, memory_order_relaxed))
		return;
	len = accesslog_format(line, sizeof(line), e);
	pthread_mutex_lock(&accesslog_lock);
	if (accesslog_stop || ACCESSLOG_RING - (size_t)(accesslog_head - accesslog_tail) < len) {
		pthread_mutex_unlock(&accesslog_lock);
		stats_inc(STAT_access_log_dropped);
		return;
	}
	size_t at = (size_t)(accesslog_head % ACCESSLOG_RING);
	size_t first = len < ACCESSLOG_RING - at ? len : ACCESSLOG_RING - at;
	memcpy(accesslog_ring + at, line, first);
	memcpy(accesslog_ring, line + first, len - first);
	accesslog_head += len;
	if (accesslog_sleeping && accesslog_head - accesslog_tail >= ACCESSLOG_URGENT)
		pthread_cond_signal(&accesslog_wake);
	pthread_mutex_unlock(&accesslog_lock);
	stats_inc(STAT_access_log_lines);
}

/* True when the member (of mlen bytes) has the parameter name, or name=value when value. */
static bool
accesslog_has_param(const char *m, size_t mlen, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = value ? strlen(value) : 0;
	const char *end = m + mlen, *p = m;

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *q = semi ? semi : end;

		while (p < q && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(q - p) >= nl && strncmp(p, name, nl) == 0) {
			const char *r = p + nl;
			if (value == NULL && (r == q || *r == ' ' || *r == '\t'))
				return true;
			if (value != NULL && r < q && *r == '=' && (size_t)(q - r - 1) >= vl &&
			    strncmp(r + 1, value, vl) == 0)
				return true;
		}
		p = semi ? semi + 1 : end;
	}
	return false;
}

/* The cache status word of a reply from its Cache-Status field. */
const char *
accesslog_cache_status(const char *cs)
{
	const char *m = NULL;
	size_t len;

	/* our member is the last one that starts with "tiercache" */
	for (const char *p = cs; p != NULL && *p != '\0';) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncmp(p, "tiercache", 9) == 0 && (p[9] == ';' || p[9] == ',' || p[9] == '\0'))
			m = p;
		p = strchr(p, ',');
	}
	if (m == NULL)
		return "-";
	len = strcspn(m, ",");
	if (accesslog_has_param(m, len, "hit", NULL))
		return accesslog_has_param(m, len, "detail", "memcached") ? "HIT_MEMCACHED" : "HIT";
	if (accesslog_has_param(m, len, "detail", "origin") ||
	    accesslog_has_param(m, len, "detail", "shutdown"))
		return "ERROR";
	if (accesslog_has_param(m, len, "collapsed", NULL))
		return "COLLAPSED";
	if (accesslog_has_param(m, len, "fwd", "stale"))
		return accesslog_has_param(m, len, "fwd-status", "304") ? "REVALIDATED" : "STALE";
	if (accesslog_has_param(m, len, "fwd", "uri-miss") ||
	    accesslog_has_param(m, len, "fwd", "vary-miss") ||
	    accesslog_has_param(m, len, "fwd", "miss"))
		return "MISS";
	if (accesslog_has_param(m, len, "fwd", "request") ||
	    accesslog_has_param(m, len, "fwd", "method"))
		return "PASS";
	return "-";
}
