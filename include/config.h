/*
 * config: the INI configuration. One table in config.c (section, key, type, default, bounds,
 * help) drives parsing, defaults, validation, the sample file (conf/tiercache.ini is
 * generated from it) and the documentation. A config is immutable once loaded; it is owned by
 * whoever loaded it and read without locks.
 */
#ifndef TIERCACHE_CONFIG_H
#define TIERCACHE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "acl.h"
#include "util.h"

struct config {
	char *file; /* the file it was loaded from */

	/* [server] */
	char *listen;                        /* host:port as written */
	struct sockaddr_storage listen_addr; /* parsed listen */
	socklen_t listen_addr_len;
	unsigned threads; /* 0 = one per core */
	unsigned max_connections;
	unsigned connection_timeout; /* seconds */
	uint64_t max_body_bytes;

	/* [origin] */
	char *origin_url; /* scheme://host[:port][/base], no trailing slash */
	unsigned origin_connect_timeout_ms;
	unsigned origin_timeout_ms;
	unsigned origin_max_connections;

	/* [local] */
	char *local_policy;
	uint64_t local_max_bytes;
	uint64_t local_max_entries;
	uint64_t local_max_object_bytes;
	int64_t local_default_ttl; /* seconds */

	/* [stats] */
	char *stats_path;
	char *stats_allow;           /* as written */
	struct acl *stats_allow_acl; /* parsed */

	/* [log] */
	int log_level; /* enum log_level */
};

/*
 * Loads and validates path. On success returns the config. On any problem returns NULL and
 * appends one line per problem to *errors ("FILE:LINE: [section] key: what is expected");
 * every problem of the file is reported, not just the first.
 */
struct config *config_load(const char *path, struct buf *errors);

/* A config with every default (origin_url unset); for tools and tests. */
struct config *config_defaults(void);

/* Frees a config (NULL is ignored). */
void config_destroy(struct config *c);

/* Writes the sample file: every section and key with its default and one line of help. */
void config_write_sample(FILE *out);

#endif
