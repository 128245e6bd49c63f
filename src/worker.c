/*
 * worker: a fixed pool of threads taking jobs from two intrusive FIFO queues. One mutex guards
 * the queues, their lengths and the stopping flag; a condition variable wakes idle threads.
 * Job functions always run without the lock, so a job may submit another one. The pool never
 * frees a job: it only links and unlinks them.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "worker.h"

struct worker_fifo {
	struct worker_job *head;
	struct worker_job *tail;
	size_t n;
};

struct worker {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct worker_fifo q[2]; /* indexed by enum worker_queue */
	size_t max_background;
	bool stopping;
	bool joined;
	unsigned nthreads;
	pthread_t *threads;
};

static void
worker_push(struct worker_fifo *f, struct worker_job *job)
{
	job->next = NULL;
	if (f->tail != NULL)
		f->tail->next = job;
	else
		f->head = job;
	f->tail = job;
	f->n++;
}

static struct worker_job *
worker_pop(struct worker_fifo *f)
{
	struct worker_job *job = f->head;

	if (job == NULL)
		return NULL;
	f->head = job->next;
	if (f->head == NULL)
		f->tail = NULL;
	f->n--;
	job->next = NULL;
	return job;
}

static void *
worker_thread(void *arg)
{
	struct worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct worker_job *job = worker_pop(&w->q[WORKER_URGENT]);
		bool cancelled = false;

		if (job == NULL) {
			job = worker_pop(&w->q[WORKER_BACKGROUND]);
			cancelled = job != NULL && w->stopping;
		}
		if (job == NULL) {
			if (w->stopping)
				break;
			pthread_cond_wait(&w->wake, &w->lock);
			continue;
		}
		pthread_mutex_unlock(&w->lock);
		job->fn(job, cancelled);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Starts threads (at least 1) that run jobs; at most max_background background jobs wait. */
struct worker *
worker_create(unsigned threads, size_t max_background)
{
	struct worker *w = xcalloc(1, sizeof(*w));

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->max_background = max_background;
	w->threads = xcalloc(threads ? threads : 1, sizeof(*w->threads));
	for (unsigned i = 0; i < (threads ? threads : 1); i++) {
		int rc = pthread_create(&w->threads[i], NULL, worker_thread, w);
		if (rc != 0) {
			log_error("worker: cannot start a thread: %s", strerror(rc));
			break;
		}
		w->nthreads++;
	}
	TC_ASSERT(w->nthreads > 0);
	return w;
}

/* Queues job; false when the pool is stopping or the background queue is full. */
bool
worker_submit(struct worker *w, struct worker_job *job, enum worker_queue q)
{
	bool ok;

	TC_ASSERT(job->fn != NULL && (q == WORKER_URGENT || q == WORKER_BACKGROUND));
	job->queued_ms = util_monotonic_ms();
	pthread_mutex_lock(&w->lock);
	ok = !w->stopping && (q == WORKER_URGENT || w->q[q].n < w->max_background);
	if (ok)
		worker_push(&w->q[q], job);
	pthread_mutex_unlock(&w->lock);
	/* signalled after the unlock: a thread woken under the lock would block on it at once
	 * (one more futex wait and wake per job on the submitter's and the worker's side) */
	if (ok)
		pthread_cond_signal(&w->wake);
	return ok;
}

/* Jobs waiting in a queue now. */
size_t
worker_queued(struct worker *w, enum worker_queue q)
{
	size_t n;

	pthread_mutex_lock(&w->lock);
	n = w->q[q].n;
	pthread_mutex_unlock(&w->lock);
	return n;
}

/* Refuses new jobs, runs queued urgent jobs, cancels background ones, joins the threads. */
void
worker_stop(struct worker *w)
{
	bool joined;

	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	joined = w->joined;
	w->joined = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	if (joined)
		return;
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
}

/* Stops the pool if needed and frees it (NULL is ignored). */
void
worker_destroy(struct worker *w)
{
	if (w == NULL)
		return;
	worker_stop(w);
	TC_ASSERT(w->q[WORKER_URGENT].n == 0 && w->q[WORKER_BACKGROUND].n == 0);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w->threads);
	free(w);
}
