/*
 * config: the INI configuration. One table in config.c (section, key, type, default, bounds,
 * help) drives parsing, defaults, validation, the sample file (conf/tiercache.ini is
 * generated from it) and the documentation. A config is immutable once loaded; it is owned by
 * whoever loaded it and read without locks. A reload (SIGHUP) loads a new one beside it; the
 * table says which keys a reload may change (the others keep their running values).
 */
#ifndef TIERCACHE_CONFIG_H
#define TIERCACHE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "acl.h"
#include "util.h"

/* One memcached server of a [memcached] list. */
struct config_server {
	char *host; /* name or address, IPv6 without brackets */
	unsigned port;
	unsigned weight; /* ketama weight, 1 when not given */
};

/* A parsed server list ("host:port[/weight]" items separated by commas or blanks). */
struct config_servers {
	struct config_server *v;
	size_t n;
};

struct config {
	char *file; /* the file it was loaded from */

	/* [server] */
	char *listen;                        /* host:port as written */
	struct sockaddr_storage listen_addr; /* parsed listen */
	socklen_t listen_addr_len;
	unsigned threads; /* 0 = one per core */
	unsigned max_connections;
	unsigned connection_timeout; /* seconds */
	int64_t shutdown_timeout;    /* seconds in-flight requests get on SIGTERM/SIGINT */
	uint64_t max_body_bytes;
	uint64_t max_header_bytes; /* libmicrohttpd's memory pool per connection */

	/* [origin] */
	char *origin_url; /* scheme://host[:port][/base], no trailing slash */
	unsigned origin_connect_timeout_ms;
	unsigned origin_timeout_ms;
	unsigned origin_max_connections;
	char *origin_strip_headers; /* "A, B": request fields never forwarded ("" for none) */

	/* [local] */
	char *local_policy;
	uint64_t local_max_bytes;
	uint64_t local_max_entries;
	uint64_t local_max_object_bytes;
	int64_t local_default_ttl;    /* seconds */
	int64_t local_heuristic_max;  /* seconds, cap of heuristic freshness (0: none) */
	int64_t local_stale_if_error; /* seconds, default error grace */
	int64_t local_max_stale_keep; /* seconds a stale response without validators is kept */
	uint64_t local_body_file_min_bytes; /* bodies sent from memory files (0: none) */
	unsigned local_max_body_files;      /* most memory files open for bodies */

	/* [http] */
	char *http_targeted_cc; /* targeted cache-control field read first (RFC 9213) */

	/* [stats] */
	char *stats_path;
	char *stats_metrics_path;    /* Prometheus text, same allow list */
	char *stats_health_path;     /* /healthz, open to every client */
	char *stats_allow;           /* as written */
	struct acl *stats_allow_acl; /* parsed */

	/* [log] */
	int log_level;    /* enum log_level */
	char *access_log; /* file, "-" for stdout, "" for none */

	/* [memcached] (the shared tier; off while servers is empty) */
	char *mc_servers;                       /* as written */
	struct config_servers mc_server_list;   /* parsed servers */
	char *mc_fallback_servers;              /* as written */
	struct config_servers mc_fallback_list; /* parsed fallback_servers */
	bool mc_warm_from_fallback;
	int64_t mc_ttl; /* seconds, upper bound of a record's memcached expiry */
	unsigned mc_timeout_ms;
	char *mc_key_prefix;
	uint64_t mc_max_item_bytes;
};

/*
 * Loads and validates path. On success returns the config. On any problem returns NULL and
 * appends one line per problem to *errors ("FILE:LINE: [section] key: what is expected");
 * every problem of the file is reported, not just the first.
 */
struct config *config_load(const char *path, struct buf *errors);

/*
 * Loads path to replace running (SIGHUP). NULL with one line per problem in *errors when it
 * does not check. Keys that need a restart keep their running values in the result; each one
 * the file changes is named in *restart ("[server] listen, [local] policy").
 */
struct config *config_reload(const char *path, const struct config *running, struct buf *errors,
                             struct buf *restart);

/* True when a reload (SIGHUP) applies a new value of [section] key; false when it needs a restart.
 */
bool config_is_live(const char *section, const char *key);

/* A config with every default (origin_url unset); for tools and tests. */
struct config *config_defaults(void);

/* Frees a config (NULL is ignored). */
void config_destroy(struct config *c);

/* Writes the sample file: every section and key with its default and one line of help. */
void config_write_sample(FILE *out);

/*
 * Parses a memcached server list into *out (emptied first): items "host:port", "[v6]:port",
 * each with an optional "/weight", separated by commas and/or blanks; an empty list is valid.
 * False with an allocated *cause on the first bad item (out is then left empty).
 */
bool config_parse_servers(const char *value, struct config_servers *out, char **cause);

/* Frees the items of a server list and empties it. */
void config_servers_clear(struct config_servers *l);

#endif
