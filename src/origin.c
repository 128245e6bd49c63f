/*
 * origin: the fetch side, one thread driving a libcurl multi handle. Fetches are queued from
 * any thread under o->lock and the thread is woken with curl_multi_wakeup(); everything else
 * (the multi handle, the easy handles, the active list) belongs to the fetch thread alone, so
 * it needs no lock. The multi handle keeps the connection cache: connections to the origin are
 * persistent and reused, at most [origin] max_connections at once (curl queues the rest).
 * A fetch is borrowed from its submitter until its done callback has run on the fetch thread.
 *
 * Streaming: a fetch with stream_over set whose body turns out larger (announced by
 * Content-Length, or found while it arrives) gets a stream (stream.h): the bytes received so
 * far go into it, f->streaming runs, and the rest of the body is put into the stream as it
 * arrives. When the stream is full the write callback returns CURL_WRITEFUNC_PAUSE; the
 * consumer's thread later calls origin_stream_room, which queues the stream (with a reference)
 * under o->lock and wakes the fetch thread, which unpauses the transfer (curl_easy_pause may
 * only be called on the fetch thread). When the client went away the next put says so and
 * the transfer is aborted (ORIGIN_ABANDONED). The end of the transfer ends the stream, ok or
 * cut, before f->done runs.
 * Timeouts: curl's CURLOPT_TIMEOUT_MS covers a whole transfer, which a streamed body paced by
 * a slow client may outlast. So a fetch that may stream keeps its own deadline instead
 * (f->deadline_ms, checked by the fetch thread after every round, which also wakes up in
 * time for the nearest one): the whole answer within timeout_ms while it is kept, and once it
 * streams, no more than timeout_ms without a byte from the origin while the transfer is not
 * paused (a client that stops reading is libmicrohttpd's connection_timeout to bound).
 * Health (/healthz): the fetch thread records the outcome of every exchange in relaxed atomics
 * (latest answer, latest failure, consecutive failures) that any thread reads; origin_probe
 * sends the origin's own probe fetch (o->probe), guarded by the probing flag (set by the
 * sender, cleared by its done callback) so that one runs at a time.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "log.h"
#include "origin.h"
#include "stats.h"
#include "util.h"

/* Easy handles kept for reuse (each reset before use). */
#define ORIGIN_IDLE_MAX 64

/* Bytes a streamed body may hold in memory before the transfer pauses. */
#define ORIGIN_STREAM_BUFFER (256 * 1024)

struct origin {
	char *base_url;
	char *strip; /* [origin] strip_request_headers: "A, B" */
	long connect_timeout_ms;
	long timeout_ms;
	CURLM *multi;
	pthread_t thread;

	pthread_mutex_t lock; /* guards queue_head, queue_tail and stopping */
	struct origin_fetch *queue_head;
	struct origin_fetch *queue_tail;
	bool stopping;
	bool joined; /* origin_stop has joined (or is joining) the thread */
	/* streams whose transfer may go on (one reference each), guarded by lock */
	struct stream **unpause;
	size_t nunpause, unpause_cap;

	/* health evidence (relaxed atomics, written by the fetch thread) */
	atomic_int_least64_t last_ok_ms, last_failure_ms; /* wall clock */
	atomic_int_least64_t heard_mono_ms;               /* monotonic: the latest outcome */
	atomic_int last_error;
	atomic_uint failures;
	/* the probe: one at a time (probing), at most one per ORIGIN_PROBE_INTERVAL_MS */
	atomic_bool probing;
	atomic_int_least64_t probe_mono_ms;
	atomic_uint_least64_t probes;
	struct origin_fetch probe;

	/* fetch thread only */
	struct origin_fetch *active; /* doubly linked through next/prev */
	CURL *idle[ORIGIN_IDLE_MAX];
	size_t nidle;
};

static const char *const origin_error_names[] = {
        [ORIGIN_OK] = "ok",
        [ORIGIN_CONNECT] = "connect",
        [ORIGIN_TIMEOUT] = "timeout",
        [ORIGIN_INVALID] = "invalid response",
        [ORIGIN_TRUNCATED] = "truncated",
        [ORIGIN_SHUTDOWN] = "shutdown",
        [ORIGIN_ABANDONED] = "abandoned by the client",
};

/* Text of an error ("connect", "timeout", ...). */
const char *
origin_error_name(enum origin_error e)
{
	return e < TC_ARRAY_LEN(origin_error_names) ? origin_error_names[e] : "unknown";
}

/* curl header callback: one call per received header line. */
static size_t
origin_on_header(char *data, size_t size, size_t n, void *arg)
{
	struct origin_fetch *f = arg;
	size_t len = size * n;
	const char *line = data;
	size_t end = len;

	while (end > 0 && (line[end - 1] == '\r' || line[end - 1] == '\n'))
		end--;
	if (end >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		/* a status line: a new (possibly interim 1xx) response starts */
		http_headers_clear(&f->resp_headers);
		f->status = 0;
		f->header_end = false;
		const char *sp = memchr(line, ' ', end);
		if (sp != NULL && (size_t)(sp - line) + 4 <= end) {
			int code = 0;
			for (int i = 1; i <= 3; i++) {
				char c = sp[i];
				if (c < '0' || c > '9') {
					code = -1;
					break;
				}
				code = code * 10 + (c - '0');
			}
			f->status = code;
		}
		return len;
	}
	if (end == 0) {
		f->header_end = true; /* the blank line that ends the header section */
		return len;
	}
	if (line[0] == ' ' || line[0] == '\t') {
		/* obsolete line folding: continue the previous value with one space */
		if (f->resp_headers.n > 0) {
			struct http_header *h = &f->resp_headers.v[f->resp_headers.n - 1];
			size_t i = 0;
			while (i < end && (line[i] == ' ' || line[i] == '\t'))
				i++;
			char *joined = xasprintf("%s %.*s", h->value, (int)(end - i), line + i);
			free(h->value);
			h->value = joined;
		}
		return len;
	}
	const char *colon = memchr(line, ':', end);
	if (colon == NULL || colon == line)
		return len; /* not a field line: ignored, as curl itself does */
	size_t name_len = (size_t)(colon - line);
	const char *v = colon + 1;
	const char *vend = line + end;
	while (v < vend && (*v == ' ' || *v == '\t'))
		v++;
	while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
		vend--;
	if (name_len == 14 && util_strncaseeq("Content-Length", line, name_len)) {
		/* lengths that differ make the framing unknowable (RFC 9112 section 6.3):
		 * abort, which also closes the connection */
		const char *first = http_headers_get(&f->resp_headers, "Content-Length");
		if (first != NULL && (strlen(first) != (size_t)(vend - v) ||
		                      memcmp(first, v, (size_t)(vend - v)) != 0)) {
			f->invalid = "two different Content-Length values";
			return 0;
		}
	}
	http_headers_addn(&f->resp_headers, line, name_len, v, (size_t)(vend - v));
	return len;
}

/*
 * True for a response field http_is_hop_by_hop names that a proxy is not asked to remove
 * (RFC 9110 7.6.1 lists Connection, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding and
 * Upgrade): Trailer and Proxy-Authenticate reach the client like any end-to-end field, unless
 * Connection names them.
 */
static bool
origin_passes_on(const char *name, const char *conn)
{
	return (strcasecmp(name, "Trailer") == 0 || strcasecmp(name, "Proxy-Authenticate") == 0) &&
	       !http_list_has_token(conn, name);
}

/* Removes hop-by-hop fields from the received headers (RFC 9110 section 7.6.1). */
static void
origin_strip_hop_by_hop(struct http_headers *h)
{
	char *conn = http_headers_join(h, "Connection");
	size_t j = 0;

	for (size_t i = 0; i < h->n; i++) {
		if (http_is_hop_by_hop(h->v[i].name, conn) &&
		    !origin_passes_on(h->v[i].name, conn)) {
			free(h->v[i].name);
			free(h->v[i].value);
			continue;
		}
		h->v[j++] = h->v[i];
	}
	h->n = j;
	free(conn);
}

/* The consumer made room in s, or went away (its thread): the fetch thread unpauses s. */
static void
origin_stream_room(struct stream *s, void *arg)
{
	struct origin *o = arg;
	struct stream **old = NULL;

	pthread_mutex_lock(&o->lock);
	if (o->nunpause == o->unpause_cap) {
		/* the old array is freed after the lock is released */
		size_t cap = o->unpause_cap ? 2 * o->unpause_cap : 16;
		struct stream **grown = xcalloc(cap, sizeof(*grown));
		if (o->nunpause > 0)
			memcpy(grown, o->unpause, o->nunpause * sizeof(*grown));
		old = o->unpause;
		o->unpause = grown;
		o->unpause_cap = cap;
	}
	o->unpause[o->nunpause++] = stream_ref(s);
	pthread_mutex_unlock(&o->lock);
	free(old);
	curl_multi_wakeup(o->multi);
}

/* True when the body, with n more bytes, is larger than f may keep (it is then streamed). */
static bool
origin_too_large(const struct origin_fetch *f, size_t n)
{
	uint64_t announced;

	if (f->resp_body.len + n > f->stream_over)
		return true;
	if (f->resp_body.len > 0)
		return false; /* the length was looked at with the first bytes */
	const char *cl = http_headers_get(&f->resp_headers, "Content-Length");
	return cl != NULL && util_parse_u64(cl, UINT64_MAX, &announced) &&
	       announced > f->stream_over;
}

/* The body is too large to keep: hands what arrived to a new stream and tells the submitter. */
static void
origin_begin_stream(struct origin_fetch *f)
{
	f->stream = stream_new(ORIGIN_STREAM_BUFFER);
	stream_set_producer(f->stream, origin_stream_room, f->origin);
	if (f->resp_body.len > 0) {
		stream_put(f->stream, f->resp_body.data, f->resp_body.len, true);
		f->streamed = f->resp_body.len;
	}
	buf_free(&f->resp_body);
	origin_strip_hop_by_hop(&f->resp_headers);
	f->streaming(f);
}

/* curl write callback: appends body bytes, or streams them (see the top of the file). */
static size_t
origin_on_body(char *data, size_t size, size_t n, void *arg)
{
	struct origin_fetch *f = arg;
	size_t len = size * n;

	if (f->stream == NULL) {
		if (f->stream_over == 0 || f->streaming == NULL || !origin_too_large(f, len)) {
			buf_append(&f->resp_body, data, len);
			return len;
		}
		if (f->may_stream != NULL && !f->may_stream(f)) {
			f->stream_over = 0; /* kept whole after all: not asked again */
			buf_append(&f->resp_body, data, len);
			return len;
		}
		origin_begin_stream(f);
	}
	switch (stream_put(f->stream, data, len, false)) {
	case STREAM_TAKEN:
		f->streamed += len;
		f->deadline_ms = util_monotonic_ms() + f->origin->timeout_ms;
		return len;
	case STREAM_FULL:
		f->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	case STREAM_GONE:
		break;
	}
	f->abandoned = true;
	return 0; /* aborts the transfer */
}

static CURL *
origin_easy_get(struct origin *o)
{
	if (o->nidle > 0) {
		CURL *e = o->idle[--o->nidle];
		curl_easy_reset(e);
		return e;
	}
	CURL *e = curl_easy_init();
	TC_ASSERT(e != NULL);
	return e;
}

static void
origin_easy_put(struct origin *o, CURL *e)
{
	if (o->nidle < ORIGIN_IDLE_MAX)
		o->idle[o->nidle++] = e;
	else
		curl_easy_cleanup(e);
}

/* Appends "Name: value" to the list, in curl's syntax for empty values ("Name;"). */
static struct curl_slist *
origin_slist_add(struct curl_slist *l, const char *name, const char *value)
{
	char *line = value[0] ? xasprintf("%s: %s", name, value) : xasprintf("%s;", name);
	struct curl_slist *n = curl_slist_append(l, line);

	TC_ASSERT(n != NULL);
	free(line);
	return n;
}

/* Prepares f's easy handle and adds it to the multi handle (fetch thread). */
static void
origin_start(struct origin *o, struct origin_fetch *f)
{
	CURL *e = origin_easy_get(o);
	struct curl_slist *sl = NULL;
	bool has_body = f->body_len > 0 || strcmp(f->method, "POST") == 0 ||
	                strcmp(f->method, "PUT") == 0 || strcmp(f->method, "PATCH") == 0;
	char *url = xasprintf("%s%s", o->base_url, f->target);

	f->easy = e;
	f->error = ORIGIN_OK;
	f->status = 0;
	f->header_end = false;
	f->invalid = NULL;
	f->abandoned = false;
	f->streamed = 0;
	f->request_time = util_now();
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, f);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	f->paused = false;
	f->deadline_ms = 0;
	if (f->stream_over > 0 && f->streaming != NULL)
		f->deadline_ms = util_monotonic_ms() + o->timeout_ms; /* see the top of the file */
	else
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, origin_on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, origin_on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);

	if (strcmp(f->method, "GET") == 0) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(f->method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else {
		if (has_body) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)f->body_len);
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, f->body ? f->body : "");
		}
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, f->method);
	}

	/* The client's end-to-end fields, unchanged, but for those the configuration strips
	 * (not in the cache key, yet able to change the answer); curl's own defaults off. */
	for (size_t i = 0; i < f->headers.n; i++) {
		const struct http_header *h = &f->headers.v[i];
		if (strcasecmp(h->name, "Content-Length") == 0 ||
		    strcasecmp(h->name, "Expect") == 0 || http_list_has_token(o->strip, h->name))
			continue;
		sl = origin_slist_add(sl, h->name, h->value);
	}
	if (http_headers_get(&f->headers, "Accept") == NULL)
		sl = curl_slist_append(sl, "Accept:");
	if (has_body && http_headers_get(&f->headers, "Content-Type") == NULL)
		sl = curl_slist_append(sl, "Content-Type:");
	sl = curl_slist_append(sl, "Expect:");
	TC_ASSERT(sl != NULL);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, sl);
	f->slist = sl;

	f->prev = NULL;
	f->next = o->active;
	if (o->active)
		o->active->prev = f;
	o->active = f;
	CURLMcode mc = curl_multi_add_handle(o->multi, e);
	TC_ASSERT(mc == CURLM_OK);
}

static enum origin_error
origin_classify(CURLcode rc, const struct origin_fetch *f)
{
	if (f->abandoned)
		return ORIGIN_ABANDONED;
	if (f->invalid != NULL)
		return ORIGIN_INVALID;
	switch (rc) {
	case CURLE_OK:
		/* curl accepts a header section cut by the end of the connection: not we */
		return f->status >= 100 && f->status <= 999 && f->header_end ? ORIGIN_OK
		                                                             : ORIGIN_INVALID;
	case CURLE_OPERATION_TIMEDOUT:
		return ORIGIN_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SEND_ERROR:
		return ORIGIN_CONNECT;
	case CURLE_PARTIAL_FILE:
		return ORIGIN_TRUNCATED;
	case CURLE_RECV_ERROR:
		/* reset: before the status line the origin never answered; in the header section
		 * the answer is not HTTP; after it the body is cut */
		return f->status == 0  ? ORIGIN_CONNECT
		       : f->header_end ? ORIGIN_TRUNCATED
		                       : ORIGIN_INVALID;
	case CURLE_GOT_NOTHING:
		return ORIGIN_CONNECT;
	default:
		return ORIGIN_INVALID;
	}
}

/* Unlinks f from the active list and returns its handle for reuse. */
static void
origin_detach(struct origin *o, struct origin_fetch *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		o->active = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->next = f->prev = NULL;
	curl_multi_remove_handle(o->multi, f->easy);
	origin_easy_put(o, f->easy);
	f->easy = NULL;
	curl_slist_free_all(f->slist);
	f->slist = NULL;
}

/* Wall-clock milliseconds. */
static int64_t
origin_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Records the outcome of an exchange as health evidence (fetch thread). */
static void
origin_heard(struct origin *o, enum origin_error e)
{
	if (e == ORIGIN_OK) {
		atomic_store_explicit(&o->failures, 0, memory_order_relaxed);
		atomic_store(&o->last_ok_ms, origin_wall_ms());
	} else {
		atomic_fetch_add_explicit(&o->failures, 1, memory_order_relaxed);
		atomic_store_explicit(&o->last_error, (int)e, memory_order_relaxed);
		atomic_store(&o->last_failure_ms, origin_wall_ms());
	}
	atomic_store(&o->heard_mono_ms, util_monotonic_ms());
}

static void
origin_finish(struct origin *o, struct origin_fetch *f, CURLcode rc)
{
	curl_off_t header_bytes = 0;

	curl_easy_getinfo(f->easy, CURLINFO_HEADER_SIZE, &header_bytes);
	if (!f->probe)
		stats_add(STAT_origin_bytes_in,
		          (uint64_t)header_bytes + f->resp_body.len + f->streamed);
	f->response_time = util_now();
	f->error = origin_classify(rc, f);
	if (f->error != ORIGIN_ABANDONED)
		origin_heard(o, f->error); /* a client that left says nothing about the origin */
	if (f->error == ORIGIN_ABANDONED) {
		f->error_text = "the client went away";
		stats_inc(STAT_origin_streams_abandoned);
	} else if (f->error != ORIGIN_OK) {
		if (f->invalid)
			f->error_text = f->invalid;
		else if (rc == CURLE_OUT_OF_MEMORY && f->status > 0 && !f->header_end)
			f->error_text = "header section too large"; /* what curl means here */
		else if (rc != CURLE_OK)
			f->error_text = curl_easy_strerror(rc);
		else if (f->status < 100 || f->status > 999)
			f->error_text = "bad status line";
		else
			f->error_text = "header section cut short";
		if (!f->probe)
			stats_inc(f->error == ORIGIN_TIMEOUT ? STAT_origin_timeouts
			                                     : STAT_origin_errors);
		if (f->stream != NULL)
			stats_inc(STAT_origin_streams_cut);
		log_debug("origin: %s %s: %s", f->method, f->target, f->error_text);
	} else if (f->stream == NULL) {
		origin_strip_hop_by_hop(&f->resp_headers);
	}
	origin_detach(o, f);
	f->elapsed_ms += util_monotonic_ms() - f->submitted_ms;
	if (f->stream != NULL)
		stream_end(f->stream, f->error == ORIGIN_OK);
	f->done(f);
}

static void
origin_fail(struct origin_fetch *f, enum origin_error err, const char *text)
{
	f->error = err;
	f->error_text = text;
	f->response_time = util_now();
	f->elapsed_ms += util_monotonic_ms() - f->submitted_ms;
	if (f->stream != NULL) {
		stats_inc(STAT_origin_streams_cut);
		stream_end(f->stream, false);
	}
	f->done(f);
}

/* Unpauses the transfers whose streams have room again (fetch thread). */
static void
origin_unpause(struct origin *o)
{
	struct stream **q;
	size_t n;

	pthread_mutex_lock(&o->lock);
	q = o->unpause;
	n = o->nunpause;
	o->unpause = NULL;
	o->nunpause = o->unpause_cap = 0;
	pthread_mutex_unlock(&o->lock);
	for (size_t i = 0; i < n; i++) {
		/* a stream whose transfer has ended is no longer among the active fetches */
		for (struct origin_fetch *f = o->active; f != NULL; f = f->next) {
			if (f->stream == q[i]) {
				f->paused = false;
				f->deadline_ms = util_monotonic_ms() + o->timeout_ms;
				curl_easy_pause(f->easy, CURLPAUSE_CONT);
				break;
			}
		}
		stream_unref(q[i]);
	}
	free(q);
}

/*
 * Ends the fetches whose own deadline has passed as timeouts (see the top of the file);
 * returns the milliseconds until the nearest deadline left, at most 1000 (fetch thread).
 */
static long
origin_expire(struct origin *o)
{
	int64_t now = util_monotonic_ms();
	long wait = 1000;
	struct origin_fetch *f, *next;

	for (f = o->active; f != NULL; f = next) {
		next = f->next; /* f leaves the list when it ends; its done adds none to it */
		if (f->deadline_ms == 0 || f->paused)
			continue;
		if (now >= f->deadline_ms)
			origin_finish(o, f, CURLE_OPERATION_TIMEDOUT);
		else if (f->deadline_ms - now < wait)
			wait = (long)(f->deadline_ms - now);
	}
	return wait;
}

static void *
origin_thread(void *arg)
{
	struct origin *o = arg;

	for (;;) {
		pthread_mutex_lock(&o->lock);
		struct origin_fetch *q = o->queue_head;
		bool stopping = o->stopping;
		o->queue_head = o->queue_tail = NULL;
		pthread_mutex_unlock(&o->lock);

		while (q) {
			struct origin_fetch *f = q;
			q = q->next;
			if (stopping)
				origin_fail(f, ORIGIN_SHUTDOWN, "proxy stopping");
			else
				origin_start(o, f);
		}
		if (stopping) {
			while (o->active) {
				struct origin_fetch *f = o->active;
				origin_detach(o, f);
				origin_fail(f, ORIGIN_SHUTDOWN, "proxy stopping");
			}
			return NULL;
		}

		origin_unpause(o);
		int running = 0;
		curl_multi_perform(o->multi, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(o->multi, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct origin_fetch *f = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
			TC_ASSERT(f != NULL);
			origin_finish(o, f, msg->data.result);
		}
		long wait = origin_expire(o);
		curl_multi_poll(o->multi, NULL, 0, (int)wait, NULL);
	}
}

/* Starts the fetch thread for the configured origin; NULL with *cause on failure. */
struct origin *
origin_create(const struct config *cfg, char **cause)
{
	struct origin *o = xcalloc(1, sizeof(*o));

	o->base_url = xstrdup(cfg->origin_url);
	o->strip = xstrdup(cfg->origin_strip_headers ? cfg->origin_strip_headers : "");
	o->connect_timeout_ms = (long)cfg->origin_connect_timeout_ms;
	o->timeout_ms = (long)cfg->origin_timeout_ms;
	pthread_mutex_init(&o->lock, NULL);
	o->multi = curl_multi_init();
	if (o->multi == NULL) {
		*cause = xstrdup("curl_multi_init failed");
		goto fail;
	}
	curl_multi_setopt(o->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	                  (long)cfg->origin_max_connections);
	curl_multi_setopt(o->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	                  (long)cfg->origin_max_connections);
	curl_multi_setopt(o->multi, CURLMOPT_MAXCONNECTS, (long)cfg->origin_max_connections);
	int rc = pthread_create(&o->thread, NULL, origin_thread, o);
	if (rc != 0) {
		*cause = xasprintf("cannot start the fetch thread: %s", strerror(rc));
		goto fail;
	}
	return o;
fail:
	if (o->multi)
		curl_multi_cleanup(o->multi);
	pthread_mutex_destroy(&o->lock);
	free(o->base_url);
	free(o->strip);
	free(o);
	return NULL;
}

/* Completes every pending fetch with ORIGIN_SHUTDOWN and stops the thread; later fetches fail at
 * once. */
void
origin_stop(struct origin *o)
{
	bool joined;

	pthread_mutex_lock(&o->lock);
	o->stopping = true;
	joined = o->joined;
	o->joined = true;
	pthread_mutex_unlock(&o->lock);
	if (joined)
		return;
	curl_multi_wakeup(o->multi);
	pthread_join(o->thread, NULL);
}

/* Stops the origin if needed and frees it. */
void
origin_destroy(struct origin *o)
{
	if (o == NULL)
		return;
	origin_stop(o);
	for (size_t i = 0; i < o->nunpause; i++)
		stream_unref(o->unpause[i]);
	free(o->unpause);
	for (size_t i = 0; i < o->nidle; i++)
		curl_easy_cleanup(o->idle[i]);
	curl_multi_cleanup(o->multi);
	pthread_mutex_destroy(&o->lock);
	free(o->base_url);
	free(o->strip);
	free(o);
}

/* Queues f (borrowed until f->done runs on the fetch thread). */
void
origin_submit(struct origin *o, struct origin_fetch *f)
{
	bool stopping;

	f->origin = o;
	f->next = NULL;
	f->submitted_ms = util_monotonic_ms();
	if (!f->probe)
		stats_inc(STAT_origin_requests);
	pthread_mutex_lock(&o->lock);
	stopping = o->stopping;
	if (!stopping) {
		if (o->queue_tail)
			o->queue_tail->next = f;
		else
			o->queue_head = f;
		o->queue_tail = f;
	}
	pthread_mutex_unlock(&o->lock);
	if (stopping)
		origin_fail(f, ORIGIN_SHUTDOWN, "proxy stopping");
	else
		curl_multi_wakeup(o->multi);
}

/* Reads the origin's health (any thread, lock-free). */
void
origin_health(struct origin *o, struct origin_health *out)
{
	*out = (struct origin_health){0};
	out->last_ok_ms = atomic_load(&o->last_ok_ms);
	out->last_failure_ms = atomic_load(&o->last_failure_ms);
	out->failures = atomic_load_explicit(&o->failures, memory_order_relaxed);
	out->last_error =
	        (enum origin_error)atomic_load_explicit(&o->last_error, memory_order_relaxed);
	out->probes = atomic_load_explicit(&o->probes, memory_order_relaxed);
	if (out->last_ok_ms == 0 && out->last_failure_ms == 0)
		out->state = ORIGIN_STATE_UNKNOWN;
	else
		out->state = out->failures > 0 ? ORIGIN_STATE_DOWN : ORIGIN_STATE_UP;
}

/* The probe's answer (fetch thread): only its outcome matters, recorded by origin_finish. */
static void
origin_probe_done(struct origin_fetch *f)
{
	struct origin *o = f->arg;

	origin_fetch_release(f);
	http_headers_clear(&f->headers);
	atomic_store(&o->probing, false);
}

/* Sends a probe when the evidence is missing, bad or old; never waits. */
bool
origin_probe(struct origin *o)
{
	struct origin_health h;
	int64_t now = util_monotonic_ms();
	bool idle = false;

	origin_health(o, &h);
	if (h.state == ORIGIN_STATE_UP &&
	    now - atomic_load(&o->heard_mono_ms) <= ORIGIN_HEALTH_FRESH_MS)
		return false;
	if (atomic_load(&o->probes) > 0 &&
	    now - atomic_load(&o->probe_mono_ms) < ORIGIN_PROBE_INTERVAL_MS)
		return false;
	if (!atomic_compare_exchange_strong(&o->probing, &idle, true))
		return false;
	atomic_store(&o->probe_mono_ms, now);
	atomic_fetch_add_explicit(&o->probes, 1, memory_order_relaxed);
	memset(&o->probe, 0, sizeof(o->probe));
	o->probe.method = "HEAD";
	o->probe.target = "/";
	o->probe.done = origin_probe_done;
	o->probe.arg = o;
	o->probe.probe = true;
	origin_submit(o, &o->probe);
	return true;
}

/* Frees what the origin put in f (response headers and body, its stream reference). */
void
origin_fetch_release(struct origin_fetch *f)
{
	http_headers_clear(&f->resp_headers);
	buf_free(&f->resp_body);
	stream_unref(f->stream);
	f->stream = NULL;
}
