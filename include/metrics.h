/*
 * metrics: the /metrics document, Prometheus text exposition format 0.0.4. Every /stats
 * counter as a tiercache_* counter (name ending in _total) or gauge, with # HELP and # TYPE,
 * labels for the tier, the memcached server and the policy, and the latency histograms of
 * hits, misses and revalidations in seconds. Reads only (the same snapshots as /stats); no
 * state, no locks of its own.
 */
#ifndef TIERCACHE_METRICS_H
#define TIERCACHE_METRICS_H

#include "local.h"
#include "origin.h"
#include "shared.h"
#include "util.h"

/* Content-Type of the exposition. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends the exposition to out (shared: NULL without memcached; origin: NULL in tests). */
void metrics_write(struct buf *out, struct local *local, struct shared *shared,
                   struct origin *origin);

/* Appends v as a Prometheus label value (backslash, double quote and newline escaped). */
void metrics_label_value(struct buf *out, const char *v);

/* Appends seconds as a Prometheus float ("0.00025", "10", "+Inf" for infinity). */
void metrics_seconds(struct buf *out, double seconds);

#endif
