/*
 * stream: a bounded byte pipe from one producer (the fetch thread, writing an origin body that
 * is too large to store) to one consumer (the libmicrohttpd thread sending it to the client).
 * The producer is told when the pipe is full (it pauses) and called back when room is made
 * (it resumes); the consumer is told when there is nothing to read yet (it suspends) and called
 * back when there is. Either side may end: the producer with the end of the body or a failure,
 * the consumer when the client went away. Reference counted: each side holds one reference.
 */
#ifndef TIERCACHE_STREAM_H
#define TIERCACHE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What stream_put did with the bytes. */
enum stream_put {
	STREAM_TAKEN, /* all of them were taken */
	STREAM_FULL,  /* none: the pipe is full; the producer's room callback runs later */
	STREAM_GONE,  /* none: the consumer went away; the producer should stop */
};

/* stream_read's answers besides a byte count. */
#define STREAM_WAIT 0    /* nothing yet: the consumer's wait callback ran under the lock */
#define STREAM_EOF  (-1) /* the whole body was read */
#define STREAM_ERR  (-2) /* the producer failed: the body is cut */

struct stream;

/* Called when something changes for the other side (outside the stream's lock, except wait). */
typedef void stream_fn(struct stream *s, void *arg);

/* A new stream holding at most cap bytes before the producer is told to pause (one
 * reference, the caller's). */
struct stream *stream_new(size_t cap);

/* Takes one more reference; returns s. */
struct stream *stream_ref(struct stream *s);

/* Drops one reference (NULL is ignored); the last frees s. */
void stream_unref(struct stream *s);

/* Producer: room, called (from the consumer's thread) once the pipe has drained after a
 * STREAM_FULL or when the consumer goes away during one. */
void stream_set_producer(struct stream *s, stream_fn *room, void *arg);

/* Producer: appends n bytes unless the pipe is full (cap reached) or the consumer is gone; force
 * takes them whatever the fill (the bytes buffered before the stream began). */
enum stream_put stream_put(struct stream *s, const void *data, size_t n, bool force);

/* Producer: the body ended, completely (ok) or cut by a failure. No more puts. */
void stream_end(struct stream *s, bool ok);

/*
 * Consumer: ready, called (from the producer's thread) after a STREAM_WAIT when there is
 * something to read or the end came. The consumer's wait callback of stream_read runs under
 * the stream's lock, so ready can never run before it.
 */
void stream_set_consumer(struct stream *s, stream_fn *ready, void *arg);

/* Consumer: copies up to max bytes into out; or STREAM_WAIT (after calling wait(s, arg) under
 * the lock), STREAM_EOF or STREAM_ERR. */
ssize_t stream_read(struct stream *s, char *out, size_t max, stream_fn *wait, void *arg);

/* Consumer: the client went away; no more reads. */
void stream_close(struct stream *s);

/* Bytes buffered now (for tests). */
size_t stream_buffered(struct stream *s);

#endif
