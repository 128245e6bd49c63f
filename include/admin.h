/*
 * admin: the administrative endpoints. Builds the /stats JSON document (and chooses the HTML
 * page for browsers), and the /healthz document, from the counters (stats.h), the latency
 * histograms (histogram.h), the tiers' snapshots (local tier, memcached tier), the origin's
 * health and the config. Reads only; no locks of its own. (/metrics is metrics.h.)
 */
#ifndef TIERCACHE_ADMIN_H
#define TIERCACHE_ADMIN_H

#include <stdbool.h>

#include "config.h"
#include "local.h"
#include "origin.h"
#include "shared.h"
#include "util.h"

/* The self-contained HTML page of /stats for browsers (src/stats_page.html, built in). */
extern const char admin_stats_page[];

/* Appends the /stats JSON document to out (shared is the memcached tier, NULL when off). */
void admin_stats_json(struct buf *out, const struct config *cfg, struct local *local,
                      struct shared *shared);

/*
 * True when /stats should answer with the HTML page: the query says format=html, or, without
 * format=json, the Accept field (NULL: absent) gives text/html a higher q than
 * application/json (the most specific matching range counts, RFC 9110 12.5.1). JSON on a
 * tie, so that curl (which sends any type) gets JSON.
 */
bool admin_wants_html(const char *accept, const char *query);

/*
 * Appends the /healthz JSON document (the origin's state from real exchanges, the local
 * tier's size, each memcached server's state) and returns its status: 503 when the origin is
 * down and nothing can be served (the local tier is empty and no memcached server is up),
 * else 200. With addresses false, memcached servers are listed without their addresses.
 */
int admin_health_json(struct buf *out, struct local *local, struct shared *shared,
                      struct origin *origin, bool addresses);

#endif
