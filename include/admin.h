/*
 * admin: the administrative endpoints ([stats] path). Builds the /stats JSON document from
 * the counters (stats.h), the tiers' snapshots (local tier, memcached tier) and the config.
 * Reads only; no locks of its own.
 */
#ifndef TIERCACHE_ADMIN_H
#define TIERCACHE_ADMIN_H

#include "config.h"
#include "local.h"
#include "shared.h"
#include "util.h"

/* Appends the /stats JSON document to out (shared is the memcached tier, NULL when off). */
void admin_stats_json(struct buf *out, const struct config *cfg, struct local *local,
                      struct shared *shared);

#endif
