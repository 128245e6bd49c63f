/*
 * stream: a bounded pipe of bytes between the fetch thread (producer) and a libmicrohttpd
 * thread (consumer), for origin bodies too large to store (see stream.h). One mutex guards
 * the buffer and the flags. The buffer holds the unread bytes in data[head, len); it is
 * compacted before it grows, so it never holds more than cap bytes plus one forced put.
 *
 * Handshakes (each makes a lost wake-up impossible):
 * - consumer waiting: stream_read finds nothing and calls the consumer's wait callback under
 *   the lock (the server suspends the connection there) and sets waiting; the producer's next
 *   put or end clears waiting under the lock and calls ready outside it (the server resumes).
 * - producer paused: a STREAM_FULL put sets paused under the lock; a read that brings the
 *   buffer to half of cap or less, or stream_close, clears it and calls room outside the lock.
 * Callbacks never run under the lock except wait, which must not take the stream's lock.
 * References: one per side; the last stream_unref frees the buffer (never under the lock).
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "util.h"

struct stream {
	pthread_mutex_t lock;
	atomic_int refs;
	size_t cap;
	char *data;
	size_t head, len, alloc;
	bool ended, failed; /* producer's end (failed: cut) */
	bool closed;        /* the consumer went away */
	bool waiting;       /* the consumer waits for ready */
	bool paused;        /* the producer waits for room */
	stream_fn *room, *ready;
	void *room_arg, *ready_arg;
};

/* A new stream holding at most cap bytes before the producer is told to pause (one
 * reference, the caller's). */
struct stream *
stream_new(size_t cap)
{
	struct stream *s = xcalloc(1, sizeof(*s));

	pthread_mutex_init(&s->lock, NULL);
	atomic_init(&s->refs, 1);
	s->cap = cap > 0 ? cap : 1;
	return s;
}

/* Takes one more reference; returns s. */
struct stream *
stream_ref(struct stream *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

/* Drops one reference (NULL is ignored); the last frees s. */
void
stream_unref(struct stream *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s->data);
	free(s);
}

/* Producer: room, called once the pipe has drained after a STREAM_FULL (or the consumer left). */
void
stream_set_producer(struct stream *s, stream_fn *room, void *arg)
{
	pthread_mutex_lock(&s->lock);
	s->room = room;
	s->room_arg = arg;
	pthread_mutex_unlock(&s->lock);
}

/* Consumer: ready, called after a STREAM_WAIT when there is something to read or the end. */
void
stream_set_consumer(struct stream *s, stream_fn *ready, void *arg)
{
	pthread_mutex_lock(&s->lock);
	s->ready = ready;
	s->ready_arg = arg;
	pthread_mutex_unlock(&s->lock);
}

/* Clears the consumer's wait under the lock; returns the callback to run after it, or NULL. */
static stream_fn *
stream_take_ready(struct stream *s, void **arg)
{
	if (!s->waiting)
		return NULL;
	s->waiting = false;
	*arg = s->ready_arg;
	return s->ready;
}

/* Producer: appends n bytes unless the pipe is full or the consumer is gone (see stream.h). */
enum stream_put
stream_put(struct stream *s, const void *data, size_t n, bool force)
{
	char *old = NULL;
	stream_fn *fn = NULL;
	void *arg = NULL;
	enum stream_put ret = STREAM_TAKEN;

	pthread_mutex_lock(&s->lock);
	TC_ASSERT(!s->ended);
	if (s->closed) {
		ret = STREAM_GONE;
	} else if (!force && s->len - s->head >= s->cap) {
		s->paused = true;
		ret = STREAM_FULL;
	} else if (n > 0) {
		if (s->head > 0 && s->len + n > s->alloc) {
			memmove(s->data, s->data + s->head, s->len - s->head);
			s->len -= s->head;
			s->head = 0;
		}
		if (s->len + n > s->alloc) {
			/* grown outside the old block's use: the old block is freed after the
			 * lock is released */
			size_t want = s->len + n > s->cap ? s->len + n : s->cap;
			char *nd = xmalloc(want);
			if (s->len > 0)
				memcpy(nd, s->data, s->len);
			old = s->data;
			s->data = nd;
			s->alloc = want;
		}
		memcpy(s->data + s->len, data, n);
		s->len += n;
		fn = stream_take_ready(s, &arg);
	}
	pthread_mutex_unlock(&s->lock);
	free(old);
	if (fn != NULL)
		fn(s, arg);
	return ret;
}

/* Producer: the body ended, completely (ok) or cut by a failure. No more puts. */
void
stream_end(struct stream *s, bool ok)
{
	stream_fn *fn;
	void *arg = NULL;

	pthread_mutex_lock(&s->lock);
	s->ended = true;
	s->failed = !ok;
	s->room = NULL; /* the producer is done: never call it back */
	fn = stream_take_ready(s, &arg);
	pthread_mutex_unlock(&s->lock);
	if (fn != NULL)
		fn(s, arg);
}

/* Clears the producer's pause under the lock; returns the callback to run after it, or NULL. */
static stream_fn *
stream_take_room(struct stream *s, void **arg)
{
	if (!s->paused || s->room == NULL)
		return NULL;
	s->paused = false;
	*arg = s->room_arg;
	return s->room;
}

/* Consumer: copies up to max bytes into out, or STREAM_WAIT, STREAM_EOF, STREAM_ERR. */
ssize_t
stream_read(struct stream *s, char *out, size_t max, stream_fn *wait, void *arg)
{
	ssize_t ret;
	stream_fn *fn = NULL;
	void *room_arg = NULL;

	pthread_mutex_lock(&s->lock);
	size_t avail = s->len - s->head;
	if (avail > 0 && max > 0) {
		size_t n = avail < max ? avail : max;
		if (n > (size_t)SSIZE_MAX)
			n = (size_t)SSIZE_MAX;
		memcpy(out, s->data + s->head, n);
		s->head += n;
		if (s->head == s->len)
			s->head = s->len = 0;
		if (s->len - s->head <= s->cap / 2)
			fn = stream_take_room(s, &room_arg);
		ret = (ssize_t)n;
	} else if (s->ended) {
		ret = s->failed ? STREAM_ERR : STREAM_EOF;
	} else {
		s->waiting = true;
		if (wait != NULL)
			wait(s, arg);
		ret = STREAM_WAIT;
	}
	pthread_mutex_unlock(&s->lock);
	if (fn != NULL)
		fn(s, room_arg);
	return ret;
}

/* Consumer: the client went away; no more reads. */
void
stream_close(struct stream *s)
{
	stream_fn *fn;
	void *arg = NULL;

	pthread_mutex_lock(&s->lock);
	s->closed = true;
	s->waiting = false;
	s->ready = NULL;
	fn = stream_take_room(s, &arg);
	pthread_mutex_unlock(&s->lock);
	if (fn != NULL)
		fn(s, arg);
}

/* Bytes buffered now (for tests). */
size_t
stream_buffered(struct stream *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->len - s->head;
	pthread_mutex_unlock(&s->lock);
	return n;
}
