/*
 * server: the client side, on libmicrohttpd's epoll thread pool. Turns an MHD connection into
 * a proxy_request (raw target, headers, bounded body), hands it to the proxy, suspends the
 * connection when the proxy must wait and resumes it from the fetch thread, and turns the
 * reply into an MHD response (from the entry's buffer, without a copy, holding a reference
 * that the response's free callback drops).
 */
#ifndef TIERCACHE_SERVER_H
#define TIERCACHE_SERVER_H

#include <stdint.h>

#include "config.h"
#include "proxy.h"

struct server;

/* Starts listening and serving; NULL with *cause (allocated) on failure. */
struct server *server_create(const struct config *cfg, struct proxy *proxy, char **cause);

/* The port actually bound (useful with listen port 0). */
uint16_t server_port(const struct server *s);

/*
 * Stops accepting connections (the listening socket is closed: new connections are refused);
 * requests in flight go on, and every reply from now on closes its connection.
 */
void server_quiesce(struct server *s);

/* Requests received and not yet completed (answered and sent, or abandoned). */
unsigned server_inflight(struct server *s);

/* Stops accepting, resumes anything suspended and stops the daemon. */
void server_destroy(struct server *s);

#endif
