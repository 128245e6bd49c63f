/*
 * worker: a pool of threads for blocking work (memcached operations) that must never run on a
 * libmicrohttpd thread. Jobs are intrusive: the submitter embeds a struct worker_job in its own
 * object, and the pool links it into one of two FIFO queues: urgent (a client waits for the
 * job) and background (work after the client has its answer, e.g. writes). A free thread takes
 * urgent jobs first. A job is borrowed from worker_submit until its function is called; from
 * then on the function owns it (and usually frees or resumes what contains it).
 */
#ifndef TIERCACHE_WORKER_H
#define TIERCACHE_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker_job;

/*
 * Runs a job on a pool thread. cancelled is true for a background job that the pool drops
 * because it is stopping: the function must then only release what the job holds.
 */
typedef void worker_fn(struct worker_job *job, bool cancelled);

struct worker_job {
	worker_fn *fn;           /* set by the submitter */
	int64_t queued_ms;       /* set by worker_submit: util_monotonic_ms() when queued */
	struct worker_job *next; /* private to worker.c */
};

enum worker_queue {
	WORKER_URGENT,     /* a client waits: run before any background job */
	WORKER_BACKGROUND, /* may wait, may be refused when too many are queued, dropped on stop */
};

struct worker;

/* Starts threads (at least 1) that run jobs; at most max_background background jobs wait. */
struct worker *worker_create(unsigned threads, size_t max_background);

/*
 * Queues job (borrowed until its function runs). False, and job untouched, when the pool is
 * stopping or the background queue is full: the caller then does without the pool.
 */
bool worker_submit(struct worker *w, struct worker_job *job, enum worker_queue q);

/* Jobs waiting in a queue now (a snapshot, for statistics and tests). */
size_t worker_queued(struct worker *w, enum worker_queue q);

/*
 * Refuses new jobs, runs every queued urgent job, cancels every queued background job, and
 * waits for the threads to finish. Safe to call twice.
 */
void worker_stop(struct worker *w);

/* Stops the pool if needed and frees it (NULL is ignored). */
void worker_destroy(struct worker *w);

#endif
