/*
 * acl: an allow list of IPv4 and IPv6 networks in CIDR notation ("127.0.0.1/32 ::1/128",
 * separated by commas or spaces; a bare address means a single host). Immutable once parsed,
 * so it may be read by any thread without locking.
 */
#ifndef TIERCACHE_ACL_H
#define TIERCACHE_ACL_H

#include <stdbool.h>

struct sockaddr;
struct acl;

/* Parses list; NULL with *cause (allocated, caller frees) naming the bad element on error. */
struct acl *acl_parse(const char *list, char **cause);

/* True when the address is inside one of the networks (IPv4-mapped IPv6 matches IPv4). */
bool acl_allows(const struct acl *a, const struct sockaddr *sa);

/* Frees the list (NULL is ignored). */
void acl_destroy(struct acl *a);

#endif
