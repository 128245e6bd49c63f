/*
 * server: the client side on libmicrohttpd's epoll thread pool. Owns the MHD daemon and one
 * server_conn per request (created by the URI log callback, freed by the completion
 * callback). A request is processed on its connection's MHD thread; when the proxy must wait,
 * the connection is suspended and the fetch thread resumes it. The handoff between the two is
 * one atomic exchange on conn->sync, so resume never happens before suspend. A reply from an
 * entry is sent from the entry's own buffer; the MHD response holds one entry reference and
 * drops it in its free callback.
 * A streamed reply (an origin body too large to store, stream.h) is sent by a content reader
 * that copies what the pipe holds; when it holds nothing yet the reader suspends the
 * connection, under the pipe's lock, and returns 0 (a reader returning 0 without suspending
 * would make libmicrohttpd's thread spin), and the fetch thread resumes it when bytes or the
 * end arrive. A failed origin makes the reader return an error: libmicrohttpd closes the
 * connection, so the client never takes a cut body for a whole one. When the connection
 * ends, the response's free callback tells the pipe that the client went away. The request
 * itself is freed by the last of two holds (r->holds): the server's, dropped when the
 * request completes, and the proxy's, while an origin transfer streams into it.
 * Hits reuse responses: each MHD thread keeps a small 4-way set-associative table (struct
 * server_hits, thread-local, never shared) of the responses it built for plain hits, keyed by
 * entry and second (a plain hit's headers depend on nothing else, proxy.h); a new response
 * takes its entry's old slot, else a free one, else the one of the set kept longest. A response
 * is kept from an entry's second hit on: the first only leaves the entry's address in a free
 * slot (a "ghost", no reference, no response), so entries hit once (a scan, the long tail)
 * hold no response and no header copies (about 1 KiB each), while a hot entry, whose slot
 * stays its own from second to second, builds once per second as before. A ghost's address
 * may have been freed and reused by another entry since: that entry's response is then kept
 * from its first hit, which is harmless. A slot owns
 * one MHD reference to its response, which owns one entry reference; replacing the slot drops them
 * (MHD frees the response once the connections sending it are done). At most SERVER_HIT_SLOTS
 * responses per thread, of bodies up to SERVER_HIT_MAX_BODY and SERVER_HIT_MAX_BYTES in all, are
 * kept alive this way; server_destroy releases them after the daemon has stopped.
 * A body kept in a memory file (bodyfile.h) is sent from a duplicate of its descriptor
 * (MHD_create_response_from_fd_at_offset64: libmicrohttpd sends it with sendfile, the kernel
 * passes the file's pages to the socket without copying them, and closes the duplicate when
 * the response is destroyed). Such a response does not hold the entry: the caller keeps that
 * reference beside it (in the hit slot, where it keeps the entry's address unique as long as
 * the slot names it, or dropped once the response is queued). HEAD and 304 answers, which send
 * no body, keep the buffer response from the file's mapping. Hostile input:
 * libmicrohttpd answers what it detects itself (414, 431, 505, 400 for a bad length or chunk, 413
 * for a length beyond 64 bits); before a request goes further its target and fields are vetted here
 * (server_request_problem), and one whose framing or fields cannot be trusted gets 400 and its
 * connection closed. Every reply queued is written to the access log (accesslog.h: formatted here,
 * written by its own thread). Stopping: server_quiesce closes the listening socket and marks every
 * later reply Connection: close; server_inflight counts the requests between their first callback
 * and their completion, so that main can wait for them before server_destroy.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "accesslog.h"
#include "histogram.h"
#include "log.h"
#include "server.h"
#include "stats.h"
#include "util.h"

/* Preferred size of the reads of a streamed body (libmicrohttpd may ask for less). */
#define SERVER_STREAM_BLOCK (64 * 1024)

/* Bytes of a request body beyond max_body_bytes read (and dropped) to answer 413. */
#define SERVER_DISCARD_MAX (UINT64_C(8) << 20)

/*
 * Responses of plain hits kept per MHD thread (sets of SERVER_HIT_WAYS slots: with one slot
 * per address, two hot entries that met in a slot evicted each other on every hit, and about
 * one entry in five of a thousand did), the largest body kept that way, and the body bytes
 * one thread's kept responses may hold (entries evicted or replaced since stay alive until
 * their slot is reused: this bounds that memory).
 */
#define SERVER_HIT_SETS_LOG2 10
#define SERVER_HIT_WAYS      4
#define SERVER_HIT_SLOTS     ((1u << SERVER_HIT_SETS_LOG2) * SERVER_HIT_WAYS)
#define SERVER_HIT_MAX_BODY  (64 * 1024)
#define SERVER_HIT_MAX_BYTES (8 * 1024 * 1024)

/* One thread's reusable hit responses (only that thread reads or writes it). */
struct server_hits {
	struct server_hits *next; /* in server->hits (under server->hits_mutex) */
	const struct server *srv;
	size_t bytes; /* body bytes of the kept responses */
	struct server_hit {
		/* identity only: the response (or held) holds it; a ghost (resp NULL) holds nothing
		 */
		const struct entry *entry;
		struct entry *held; /* the reference of a file response, or NULL */
		size_t body_len;
		int64_t second;
		uint64_t used;             /* h->clock when last built or sent: the oldest goes */
		struct MHD_Response *resp; /* one reference owned by the slot */
	} slot[SERVER_HIT_SLOTS];
	uint64_t clock; /* counts the lookups */
};

struct server {
	struct MHD_Daemon *daemon;
	struct proxy *proxy;
	const struct config *cfg;
	uint16_t port;
	atomic_uint inflight;       /* requests between server_on_uri and server_on_completed */
	atomic_bool draining;       /* stopping: every reply closes its connection */
	pthread_mutex_t hits_mutex; /* guards the hits list (a thread's first hit, destroy) */
	struct server_hits *hits;
};

static _Thread_local struct server_hits *server_thread_hits;

enum server_state { CONN_NEW, CONN_RECEIVING, CONN_DISPATCHED, CONN_ANSWERED };

/* The rendezvous of the MHD thread (suspended) and the fetch thread (reply ready). */
enum server_sync { SYNC_NONE, SYNC_SUSPENDED, SYNC_READY };

struct server_conn {
	struct proxy_request req; /* first: the proxy's resume callback gets this pointer */
	struct server *srv;
	struct MHD_Connection *conn;
	enum server_state state;
	atomic_int sync;
	bool too_large;
	uint64_t received;   /* request body bytes received */
	time_t started;      /* arrival, for the access log */
	const char *version; /* "HTTP/1.0" or "HTTP/1.1" (static) */
};

/* MHD's free callback of a response sent from an entry's buffer. */
static void
server_entry_release(void *cls)
{
	entry_unref(cls);
}

/* The content reader's state of a streamed reply. */
struct server_stream {
	struct stream *s; /* reference owned */
	struct MHD_Connection *conn;
};

/* Nothing to read yet: park the connection (under the pipe's lock; see the top). */
static void
server_stream_wait(struct stream *s, void *arg)
{
	(void)s;
	MHD_suspend_connection(arg);
}

/* Bytes or the end arrived for a parked connection (fetch thread). */
static void
server_stream_ready(struct stream *s, void *arg)
{
	(void)s;
	MHD_resume_connection(arg);
}

/* The length a streamed reply announces (its origin's Content-Length), 0 when unknown. */
static uint64_t
server_stream_length(const struct entry *e)
{
	const char *length = entry_get(e, "Content-Length");
	uint64_t n;

	return length != NULL && util_parse_u64(length, UINT64_MAX - 1, &n) ? n : 0;
}

/* The content reader of a streamed reply. */
static ssize_t
server_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct server_stream *ss = cls;
	ssize_t n = stream_read(ss->s, buf, max, server_stream_wait, ss->conn);

	(void)pos;
	if (n >= 0)
		return n; /* 0: suspended until server_stream_ready */
	return n == STREAM_EOF ? MHD_CONTENT_READER_END_OF_STREAM
	                       : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* The streamed reply is done with (sent, or the client went away). */
static void
server_stream_free(void *cls)
{
	struct server_stream *ss = cls;

	stream_close(ss->s);
	stream_unref(ss->s);
	free(ss);
}

/* The reader of a HEAD response: never called, as MHD sends no body for HEAD. */
static ssize_t
server_no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)pos;
	(void)buf;
	(void)max;
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/*
 * The stored fields a 304 carries (RFC 9110 section 15.4.5): those a 200 would have that
 * guide cache updates, and Last-Modified only when there is no ETag.
 */
static bool
server_sent_with_304(const struct entry *e, const char *name)
{
	static const char *const fields[] = {"Cache-Control", "Content-Location", "Date",
	                                     "ETag",          "Expires",          "Vary"};

	for (size_t i = 0; i < TC_ARRAY_LEN(fields); i++)
		if (strcasecmp(name, fields[i]) == 0)
			return true;
	return strcasecmp(name, "Last-Modified") == 0 && entry_etag(e) == NULL;
}

/* Writes the access log line of a request whose reply was just queued. */
static void
server_log_access(const struct server_conn *c, uint64_t sent)
{
	const struct proxy_request *r = &c->req;

	if (!accesslog_enabled())
		return; /* no access log: not even the header lookups */
	struct accesslog_entry a = {
	        .client = (const struct sockaddr *)&r->client,
	        .when = c->started,
	        .method = r->method,
	        .target = r->target,
	        .version = c->version,
	        .status = r->reply.status,
	        .bytes = sent,
	        .referer = http_headers_get(&r->headers, "Referer"),
	        .user_agent = http_headers_get(&r->headers, "User-Agent"),
	        /* a plain hit's response may be reused without its headers in r->reply */
	        .cache_status = r->reply.plain_hit
	                                ? "tiercache; hit"
	                                : http_headers_get(&r->reply.headers, "Cache-Status"),
	        .origin_ms = r->fetch.origin != NULL ? r->fetch.elapsed_ms : -1,
	};

	accesslog_write(&a);
}

/* This thread's table of hit responses for srv (created on the thread's first plain hit). */
static struct server_hits *
server_hits_of_thread(struct server *srv)
{
	struct server_hits *h = server_thread_hits;

	if (h != NULL && h->srv == srv)
		return h;
	h = xcalloc(1, sizeof(*h));
	h->srv = srv;
	pthread_mutex_lock(&srv->hits_mutex);
	h->next = srv->hits;
	srv->hits = h;
	pthread_mutex_unlock(&srv->hits_mutex);
	server_thread_hits = h;
	return h;
}

/* The first slot of e's set in h (SERVER_HIT_WAYS slots from there). */
static struct server_hit *
server_hit_set(struct server_hits *h, const struct entry *e)
{
	uint64_t a = (uint64_t)(uintptr_t)e;

	/* Fibonacci hashing: the top bits of the product mix every bit of the address */
	return &h->slot[((a * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - SERVER_HIT_SETS_LOG2)) *
	                SERVER_HIT_WAYS];
}

/*
 * The slot of e in h (*found: its response is the one for second at; *seen: the slot is e's,
 * with a response from an earlier second or as a ghost), or where a response built now goes:
 * e's slot, else the least recently used free slot or ghost, else the least recently used of
 * the set.
 */
static struct server_hit *
server_hit_find(struct server_hits *h, const struct entry *e, int64_t at, bool *found, bool *seen)
{
	struct server_hit *set = server_hit_set(h, e), *victim = NULL;

	h->clock++;
	*found = *seen = false;
	for (unsigned i = 0; i < SERVER_HIT_WAYS; i++) {
		struct server_hit *s = &set[i];
		if (s->entry == e) {
			*found = s->resp != NULL && s->second == at;
			*seen = true;
			s->used = h->clock;
			return s;
		}
		if (victim == NULL || (victim->resp != NULL) > (s->resp != NULL) ||
		    ((victim->resp != NULL) == (s->resp != NULL) && s->used < victim->used))
			victim = s;
	}
	return victim;
}

/*
 * The response that sends e's body (or its range) from a duplicate of its memory file's
 * descriptor, which the response owns; NULL when no descriptor is left (then the caller
 * sends from the mapping instead).
 */
static struct MHD_Response *
server_file_response(const struct proxy_reply *rep, const struct entry *e)
{
	int fd = fcntl(entry_body_fd(e), F_DUPFD_CLOEXEC, 0);
	struct MHD_Response *resp;

	if (fd < 0)
		return NULL;
	resp = MHD_create_response_from_fd_at_offset64(rep->ranged ? rep->range_len : e->body_len,
	                                               fd, rep->ranged ? rep->range_first : 0);
	if (resp == NULL)
		close(fd);
	else
		stats_inc(STAT_responses_from_files);
	return resp;
}

/*
 * Builds the MHD response of an answer from entry e; the response takes e's reference (a
 * streamed answer, whose body comes from rep->stream, uses only e's headers and drops it),
 * except a response from e's memory file: then *held gets the reference, for the caller.
 */
static struct MHD_Response *
server_entry_response(struct proxy_reply *rep, struct entry *e, bool head,
                      struct MHD_Connection *conn, struct entry **held)
{
	const char *length = entry_get(e, "Content-Length");
	struct MHD_Response *resp;
	uint64_t announced;
	bool drop_entry = false;

	if (rep->stream != NULL) {
		struct server_stream *ss = xcalloc(1, sizeof(*ss));
		uint64_t size = MHD_SIZE_UNKNOWN; /* chunked (or close-delimited) */
		if (length != NULL && util_parse_u64(length, UINT64_MAX - 1, &announced))
			size = announced;
		ss->s = rep->stream;
		ss->conn = conn;
		rep->stream = NULL;
		stream_set_consumer(ss->s, server_stream_ready, conn);
		resp = MHD_create_response_from_callback(
		        size, SERVER_STREAM_BLOCK, server_stream_read, ss, server_stream_free);
		drop_entry = true; /* only its headers are used */
	} else if (head && e->body_len == 0 && length != NULL &&
	           util_parse_u64(length, UINT64_MAX - 1, &announced)) {
		/* A HEAD answered by the origin has no body here: announce the length the
		 * origin gave (MHD sends no body for HEAD, so the reader is never called).
		 */
		resp = MHD_create_response_from_callback(announced, 4096, server_no_body, e,
		                                         server_entry_release);
	} else if (entry_body_fd(e) >= 0 && !head && rep->status != 304 &&
	           (resp = server_file_response(rep, e)) != NULL) {
		*held = e; /* the response has its own descriptor */
	} else {
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
		        rep->ranged ? rep->range_len : e->body_len,
		        (void *)(uintptr_t)(rep->ranged ? entry_body(e) + rep->range_first
		                                        : entry_body(e)),
		        server_entry_release, e);
	}
	TC_ASSERT(resp != NULL);
	const char *name, *value;
	for (size_t pos = 0; entry_field_next(e, &pos, &name, &value);) {
		if (strcasecmp(name, "Content-Length") == 0)
			continue; /* MHD frames the body itself */
		if (rep->status == 304 && !server_sent_with_304(e, name))
			continue;
		if (e->hidden[0] != 0 && entry_hides(e, name))
			continue; /* a targeted field: for this cache only (RFC 9213) */
		if (http_headers_get(&rep->headers, name) != NULL)
			continue; /* replaced by the proxy (Age, Via, Cache-Status) */
		if (MHD_add_response_header(resp, name, value) != MHD_YES)
			log_debug("server: header %s dropped", name);
	}
	if (drop_entry)
		entry_unref(e);
	return resp;
}

/* Turns the proxy's reply into an MHD response and queues it. */
static enum MHD_Result
server_queue_reply(struct server_conn *c)
{
	struct proxy_reply *rep = &c->req.reply;
	struct MHD_Response *resp;
	struct server_hits *hits = NULL;
	struct server_hit *slot = NULL;
	bool seen = false; /* the slot is the entry's: keep the response built now */
	const struct entry *hit = rep->entry;
	struct entry *held = NULL; /* the entry of a file response (not held by it) */
	bool head = strcmp(c->req.method, "HEAD") == 0;
	enum MHD_Result ret;
	uint64_t sent = 0; /* body bytes, for the access log */
	/* stopping: every reply closes its connection, so none is shared with other connections */
	bool draining = atomic_load_explicit(&c->srv->draining, memory_order_relaxed);

	if (rep->plain_hit && !head && !draining && rep->entry->body_len <= SERVER_HIT_MAX_BODY) {
		hits = server_hits_of_thread(c->srv);
		bool found;
		slot = server_hit_find(hits, rep->entry, rep->at, &found, &seen);
		if (found) {
			/* the same answer as a moment ago: send that response again */
			stats_inc(STAT_hit_responses_reused);
			sent = rep->status == 304 ? 0 : rep->entry->body_len;
			entry_unref(rep->entry);
			rep->entry = NULL;
			ret = MHD_queue_response(c->conn, (unsigned)rep->status, slot->resp);
			c->state = CONN_ANSWERED;
			server_log_access(c, sent);
			proxy_reply_queued(&c->req);
			return ret;
		}
	}
	if (rep->plain_hit)
		proxy_reply_plain_headers(&c->req);
	if (rep->entry != NULL) {
		struct entry *e = rep->entry;

		rep->entry = NULL; /* the response owns this reference now */
		sent = head || rep->status == 304 ? 0 : e->body_len;
		if (rep->stream != NULL && !head)
			sent = server_stream_length(e); /* what it announces (0: unknown) */
		resp = server_entry_response(rep, e, head, c->conn, &held);
	} else {
		sent = head ? 0 : rep->body_len;
		resp = MHD_create_response_from_buffer(rep->body_len, rep->body,
		                                       MHD_RESPMEM_MUST_FREE);
		rep->body = NULL;
		rep->body_len = 0;
	}
	TC_ASSERT(resp != NULL);
	for (size_t i = 0; i < rep->headers.n; i++)
		MHD_add_response_header(resp, rep->headers.v[i].name, rep->headers.v[i].value);
	if (draining)
		MHD_add_response_header(resp, "Connection", "close");
	ret = MHD_queue_response(c->conn, (unsigned)rep->status, resp);
	/* keep a plain hit's response for the next hit on its entry within the second: the slot
	 * takes over our reference to it, and drops the one it held */
	if (slot != NULL && slot->resp != NULL) {
		hits->bytes -= slot->body_len;
		MHD_destroy_response(slot->resp);
		slot->resp = NULL;
		entry_unref(slot->held);
		slot->held = NULL;
	}
	if (slot != NULL && !seen) {
		slot->entry = hit; /* a ghost: the next hit on this entry keeps its response */
		slot->used = hits->clock;
		slot = NULL;
	}
	if (slot != NULL && hits->bytes + hit->body_len <= SERVER_HIT_MAX_BYTES) {
		stats_inc(STAT_hit_responses_kept);
		hits->bytes += hit->body_len;
		slot->entry = hit;
		slot->body_len = hit->body_len;
		slot->second = rep->at;
		slot->used = hits->clock;
		slot->resp = resp;
		slot->held = held;
		held = NULL;
	} else {
		MHD_destroy_response(resp);
	}
	entry_unref(held); /* a file response sends without it */
	c->state = CONN_ANSWERED;
	server_log_access(c, sent);
	proxy_reply_queued(&c->req);
	return ret;
}

/* Called by the proxy (fetch thread) when a suspended request's reply is ready. */
static void
server_resume(struct proxy_request *r)
{
	struct server_conn *c = (struct server_conn *)r;

	if (atomic_exchange(&c->sync, SYNC_READY) == SYNC_SUSPENDED)
		MHD_resume_connection(c->conn);
}

/*
 * What one pass over the request's header fields found (server_take_field): the end-to-end
 * fields kept for the proxy, and what is wrong with the framing or the fields (first problem
 * wins).
 */
struct server_fields {
	struct http_headers *headers; /* the end-to-end fields (borrowed strings) */
	const char *problem;
	const char *first_length; /* the first Content-Length value */
	bool has_te;
	bool has_connection; /* a Connection field names more fields to drop */
	unsigned hosts;      /* Host fields */
};

/* RFC 9110 5.6.2: tchar, as a bit per character below 128. */
static bool
server_is_tchar(unsigned char c)
{
	static const uint64_t below_64 = UINT64_C(0x03ff6cfa00000000);  /* !#$%&'*+-. digits */
	static const uint64_t below_128 = UINT64_C(0x57ffffffc7fffffe); /* letters ^_`|~ */

	if (c < 64)
		return (below_64 >> c) & 1;
	return c < 128 && ((below_128 >> (c - 64)) & 1);
}

/* The fields the framing checks name, told apart by length before any comparison. */
enum server_field {
	FIELD_OTHER,
	FIELD_HOST,
	FIELD_EXPECT,
	FIELD_CONNECTION,
	FIELD_LENGTH,
	FIELD_TE
};

static enum server_field
server_field_of(const char *name, size_t name_len)
{
	switch (name_len) {
	case 4:
		return strcasecmp(name, "Host") == 0 ? FIELD_HOST : FIELD_OTHER;
	case 6:
		return strcasecmp(name, "Expect") == 0 ? FIELD_EXPECT : FIELD_OTHER;
	case 10:
		return strcasecmp(name, "Connection") == 0 ? FIELD_CONNECTION : FIELD_OTHER;
	case 14:
		return strcasecmp(name, "Content-Length") == 0 ? FIELD_LENGTH : FIELD_OTHER;
	case 17:
		return strcasecmp(name, "Transfer-Encoding") == 0 ? FIELD_TE : FIELD_OTHER;
	default:
		return FIELD_OTHER;
	}
}

/* The reason to refuse one received field, or NULL (see server_take_field). */
static const char *
server_field_problem(const char *name, size_t name_len, const char *value, size_t value_len)
{
	if (name_len == 0 || strlen(name) != name_len)
		return "a header field name is empty or contains a NUL byte";
	for (size_t i = 0; i < name_len; i++)
		if (!server_is_tchar((unsigned char)name[i]))
			return "a header field name contains a character that is not allowed";
	for (size_t i = 0; i < value_len; i++)
		if (value[i] == '\0' || value[i] == '\r' || value[i] == '\n')
			return "a header field value contains CR, LF or NUL";
	if (value[value_len] != '\0')
		return "a header field value contains CR, LF or NUL"; /* longer than measured */
	return NULL;
}

/*
 * Checks one received header field and keeps it unless it is hop-by-hop or framing (the proxy
 * frames the body). One pass does both: a hit reads its fields here and nowhere else. A NUL
 * inside a name or a value would show as a length longer than the string (libmicrohttpd
 * 0.9.75 measures with strlen: it ends a value at a NUL and drops the rest of the line, so
 * such a value is forwarded cut, never whole). After a problem the fields are still kept (for
 * the access log) but no longer checked.
 */
static enum MHD_Result
server_take_field(void *cls, enum MHD_ValueKind kind, const char *name, size_t name_len,
                  const char *value, size_t value_len)
{
	struct server_fields *f = cls;
	enum server_field which = server_field_of(name, name_len);

	(void)kind;
	if (value == NULL) {
		value = "";
		value_len = 0;
	}
	if (f->problem == NULL)
		f->problem = server_field_problem(name, name_len, value, value_len);
	if (f->problem == NULL) {
		switch (which) {
		case FIELD_LENGTH:
			/* repeated lengths are tolerated only when they are all the same (RFC 9110
			 * 8.6) */
			if (f->first_length == NULL)
				f->first_length = value;
			else if (strcmp(f->first_length, value) != 0)
				f->problem = "two different Content-Length values";
			break;
		case FIELD_HOST:
			if (++f->hosts > 1)
				f->problem = "more than one Host field";
			break;
		case FIELD_TE:
			if (f->has_te || strcasecmp(value, "chunked") != 0)
				f->problem = "a Transfer-Encoding other than chunked";
			f->has_te = true;
			break;
		default:
			break;
		}
	}
	if (which == FIELD_CONNECTION)
		f->has_connection = true;
	if (which == FIELD_LENGTH || which == FIELD_EXPECT || http_is_hop_by_hop(name, NULL))
		return MHD_YES;
	/* the strings stay in the connection's memory pool until the request completes, and
	 * the request's fields are released then (server_on_completed): no copy */
	http_headers_add_borrowed(f->headers, name, value);
	return MHD_YES;
}

/*
 * The reason to refuse a request whose framing or fields cannot be trusted (RFC 9112 sections
 * 3.2, 5, 6.1 and 6.3), or NULL, from what server_take_field found. The request target comes
 * from the URI callback, as received: it must be free of blanks and control characters, so
 * that it can never split the request line sent to the origin.
 */
static const char *
server_request_problem(const struct server_conn *c, const struct server_fields *f,
                       const char *version)
{
	for (const unsigned char *p = (const unsigned char *)c->req.target; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return "the request target contains a blank or a control character";
	if (f->problem != NULL)
		return f->problem;
	if (f->has_te && f->first_length != NULL)
		return "both Content-Length and Transfer-Encoding";
	if (f->hosts == 0 && strcmp(version, MHD_HTTP_VERSION_1_0) != 0)
		return "an HTTP/1.1 request without Host";
	return NULL;
}

static enum MHD_Result
server_join_connection(void *cls, enum MHD_ValueKind kind, const char *name, const char *value)
{
	struct buf *b = cls;

	(void)kind;
	if (strcasecmp(name, "Connection") == 0 && value != NULL) {
		if (b->len > 0)
			buf_puts(b, ", ");
		buf_puts(b, value);
	}
	return MHD_YES;
}

/* Removes from h the fields that the request's Connection fields name (RFC 9110 7.6.1). */
static void
server_drop_connection_fields(struct MHD_Connection *conn, struct http_headers *h)
{
	struct buf tokens = {0};
	size_t j = 0;

	MHD_get_connection_values(conn, MHD_HEADER_KIND, server_join_connection, &tokens);
	for (size_t i = 0; i < h->n; i++) {
		if (http_is_hop_by_hop(h->v[i].name, tokens.data)) {
			if (!h->packed) {
				free(h->v[i].name);
				free(h->v[i].value);
			}
			continue;
		}
		h->v[j++] = h->v[i];
	}
	h->n = j;
	buf_free(&tokens);
}

/*
 * Reads method, end-to-end headers and client address of a new request; returns the reason to
 * refuse it (server_request_problem) or NULL.
 */
static const char *
server_start_request(struct server_conn *c, struct MHD_Connection *conn, const char *method,
                     const char *version)
{
	const union MHD_ConnectionInfo *ci;
	struct server_fields f = {.headers = &c->req.headers};
	uint64_t n;

	c->conn = conn;
	c->req.cfg = proxy_config(c->srv->proxy); /* the request runs with this config */
	c->req.start_ns = histogram_now_ns();
	c->req.method = xstrdup(method);
	/* one pass checks the fields and keeps the end-to-end ones; only when the request has a
	 * Connection field (rare) does a second pass drop the fields it names */
	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, server_take_field, &f);
	if (f.has_connection)
		server_drop_connection_fields(conn, &c->req.headers);
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL) {
		size_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                                    : sizeof(struct sockaddr_in);
		memcpy(&c->req.client, ci->client_addr, len);
	}
	if (f.first_length != NULL && util_parse_u64(f.first_length, UINT64_MAX, &n) &&
	    n > c->req.cfg->max_body_bytes)
		c->too_large = true;
	return server_request_problem(c, &f, version);
}

static enum MHD_Result
server_on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                  const char *version, const char *upload_data, size_t *upload_data_size,
                  void **con_cls)
{
	struct server *srv = cls;
	struct server_conn *c = *con_cls;
	const char *problem;

	(void)url;
	TC_ASSERT(c != NULL);
	switch (c->state) {
	case CONN_NEW:
		c->version = strcmp(version, MHD_HTTP_VERSION_1_0) == 0 ? "HTTP/1.0" : "HTTP/1.1";
		if ((problem = server_start_request(c, conn, method, version)) != NULL) {
			/* answered at once, and the connection closed after it: the framing of
			 * whatever follows on it cannot be trusted */
			char *text = xasprintf("400 Bad Request: %s", problem);
			c->state = CONN_DISPATCHED;
			proxy_reply_text(&c->req, 400, text);
			free(text);
			http_headers_set(&c->req.reply.headers, "Connection", "close");
			return server_queue_reply(c);
		}
		if (c->too_large) {
			/* refused before the body is read (and before any 100 Continue) */
			c->state = CONN_DISPATCHED;
			proxy_reply_text(&c->req, 413,
			                 "413 Content Too Large: the request body exceeds "
			                 "[server] max_body_bytes");
			return server_queue_reply(c);
		}
		c->state = CONN_RECEIVING;
		return MHD_YES; /* answering on the first call would force Connection: close */
	case CONN_RECEIVING:
		if (*upload_data_size > 0) {
			c->received += *upload_data_size;
			if (!c->too_large && c->received > c->req.cfg->max_body_bytes) {
				c->too_large = true;
				buf_free(&c->req.body);
			}
			if (!c->too_large)
				buf_append(&c->req.body, upload_data, *upload_data_size);
			*upload_data_size = 0;
			/* libmicrohttpd 0.9.75 cannot queue an answer before the whole body
			 * is read: a (chunked) body found too large is discarded up to its
			 * end and the 413 sent then; SERVER_DISCARD_MAX bytes more close the
			 * connection instead */
			if (c->too_large &&
			    c->received - c->req.cfg->max_body_bytes > SERVER_DISCARD_MAX)
				return MHD_NO;
			return MHD_YES;
		}
		c->state = CONN_DISPATCHED;
		if (c->too_large) {
			proxy_reply_text(&c->req, 413,
			                 "413 Content Too Large: the request body exceeds "
			                 "[server] max_body_bytes");
			return server_queue_reply(c);
		}
		c->req.resume = server_resume;
		if (proxy_handle(srv->proxy, &c->req) == PROXY_REPLIED)
			return server_queue_reply(c);
		MHD_suspend_connection(conn);
		if (atomic_exchange(&c->sync, SYNC_SUSPENDED) == SYNC_READY) {
			/* the reply was faster than the suspend */
			atomic_store(&c->sync, SYNC_READY);
			MHD_resume_connection(conn);
		}
		return MHD_YES;
	case CONN_DISPATCHED:
		if (*upload_data_size > 0) {
			*upload_data_size = 0; /* a body after an early answer is discarded */
			return MHD_YES;
		}
		if (atomic_load(&c->sync) != SYNC_READY)
			return MHD_YES;
		return server_queue_reply(c);
	case CONN_ANSWERED:
		*upload_data_size = 0;
		return MHD_YES;
	}
	return MHD_NO;
}

/* Drops one hold on a request; the last frees it (any thread). */
static void
server_drop(struct proxy_request *r)
{
	struct server_conn *c = (struct server_conn *)r;

	if (atomic_fetch_sub(&r->holds, 1) != 1)
		return;
	proxy_request_release(&c->req);
	free(c);
}

/* MHD calls this first for every request, with the target exactly as received. */
static void *
server_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct server_conn *c = xcalloc(1, sizeof(*c));

	(void)conn;
	c->srv = cls;
	c->req.target = xstrdup(uri ? uri : "/");
	c->req.drop = server_drop;
	atomic_init(&c->req.holds, 1);
	c->started = time(NULL);
	atomic_init(&c->sync, SYNC_NONE);
	atomic_fetch_add(&c->srv->inflight, 1);
	return c;
}

static void
server_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
	struct server_conn *c = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (c == NULL)
		return;
	struct server *srv = c->srv;
	*con_cls = NULL;
	if (c->req.reply.stream != NULL)
		stream_close(c->req.reply.stream); /* never sent: stop the transfer that fills it */
	server_drop(&c->req); /* the request may outlive its connection while it streams */
	atomic_fetch_sub(&srv->inflight, 1);
}

static void server_on_mhd_log(void *cls, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));

static void
server_on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_debug("libmicrohttpd: %s", line);
}

/* Starts listening and serving; NULL with *cause (allocated) on failure. */
struct server *
server_create(const struct config *cfg, struct proxy *proxy, char **cause)
{
	struct server *s = xcalloc(1, sizeof(*s));

	pthread_mutex_init(&s->hits_mutex, NULL);
	unsigned threads = cfg->threads ? cfg->threads : util_ncpus();
	/* MHD_USE_ITC: MHD_quiesce_daemon needs it with a thread pool */
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO |
	                 MHD_USE_ERROR_LOG | MHD_USE_ITC;
	uint16_t port = 0;

	s->cfg = cfg;
	s->proxy = proxy;
	atomic_init(&s->inflight, 0);
	atomic_init(&s->draining, false);
	if (cfg->listen_addr.ss_family == AF_INET6) {
		flags |= MHD_USE_IPv6;
		port = ntohs(((const struct sockaddr_in6 *)&cfg->listen_addr)->sin6_port);
	} else {
		port = ntohs(((const struct sockaddr_in *)&cfg->listen_addr)->sin_port);
	}
	s->daemon = MHD_start_daemon(
	        flags, port, NULL, NULL, server_on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
	        server_on_mhd_log, s, MHD_OPTION_SOCK_ADDR,
	        (const struct sockaddr *)&cfg->listen_addr, MHD_OPTION_URI_LOG_CALLBACK,
	        server_on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, server_on_completed, s,
	        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
	        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout,
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->max_header_bytes,
	        threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads,
	        MHD_OPTION_END);
	if (s->daemon == NULL) {
		*cause = xasprintf("cannot listen on %s (address in use, or not allowed?)",
		                   cfg->listen);
		free(s);
		return NULL;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : port;
	return s;
}

/* The port actually bound (useful with listen port 0). */
uint16_t
server_port(const struct server *s)
{
	return s->port;
}

/* Stops accepting connections; requests in flight go on, and every reply closes its connection. */
void
server_quiesce(struct server *s)
{
	MHD_socket fd;

	if (atomic_exchange(&s->draining, true))
		return;
	fd = MHD_quiesce_daemon(s->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	else
		log_warn("server: cannot stop accepting connections before the daemon stops");
}

/* Requests received and not yet completed (answered and sent, or abandoned). */
unsigned
server_inflight(struct server *s)
{
	return atomic_load(&s->inflight);
}

/* Stops accepting, resumes anything suspended and stops the daemon. */
void
server_destroy(struct server *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->daemon);
	/* the threads are gone: release the responses they kept */
	while (s->hits != NULL) {
		struct server_hits *h = s->hits;

		s->hits = h->next;
		for (size_t i = 0; i < SERVER_HIT_SLOTS; i++)
			if (h->slot[i].resp != NULL)
				MHD_destroy_response(h->slot[i].resp);
		for (size_t i = 0; i < SERVER_HIT_SLOTS; i++)
			entry_unref(h->slot[i].held);
		free(h);
	}
	pthread_mutex_destroy(&s->hits_mutex);
	free(s);
}
