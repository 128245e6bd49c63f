/*
 * acl: an allow list of IPv4 and IPv6 networks ("127.0.0.1/32, ::1/128"; a bare address is a
 * single host). The list is parsed once into an array of rules and never changes afterwards,
 * so any thread may call acl_allows() without a lock; acl_destroy() is the owner's job.
 *
 * Addresses are normalised on both sides so that one rule form serves both families: an
 * IPv4-mapped IPv6 rule (::ffff:a.b.c.d/96+n) is stored as the IPv4 rule a.b.c.d/n, and an
 * IPv4-mapped IPv6 client address is matched as the IPv4 address it carries.
 */
#include "acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

struct acl_rule {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network address (4 bytes used for AF_INET), host bits zero */
	unsigned prefix;  /* prefix length in bits */
};

struct acl {
	struct acl_rule *rules;
	size_t n;
};

static const uint8_t acl_v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* True when the first prefix bits of a and b are equal. */
static bool
acl_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

/* True when some bit after the first prefix bits of addr (len bytes) is set. */
static bool
acl_host_bits_set(const uint8_t *addr, size_t len, unsigned prefix)
{
	for (size_t bit = prefix; bit < len * 8; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return true;
	return false;
}

/* Clears every bit of addr (len bytes) after the first prefix bits. */
static void
acl_clear_host_bits(uint8_t *addr, size_t len, unsigned prefix)
{
	for (size_t bit = prefix; bit < len * 8; bit++)
		addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
}

/*
 * Parses one element (n bytes at s, no separators inside) into *r. Returns NULL on success,
 * or an allocated cause naming the element.
 */
static char *
acl_parse_element(const char *s, size_t n, struct acl_rule *r)
{
	char *elem = xstrndup(s, n), *slash = strchr(elem, '/');
	char *cause = NULL;
	unsigned max;
	uint64_t prefix;

	memset(r, 0, sizeof(*r));
	if (slash != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, elem, r->addr) == 1) {
		r->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, elem, r->addr) == 1) {
		r->family = AF_INET6;
		max = 128;
	} else {
		if (slash != NULL)
			*slash = '/';
		cause = xasprintf("'%s': not an IPv4 or IPv6 address", elem);
		goto out;
	}
	prefix = max;
	if (slash != NULL) {
		*slash = '/';
		if (!util_parse_u64(slash + 1, max, &prefix)) {
			cause = xasprintf("'%s': the prefix length must be a number from 0 to %u",
			                  elem, max);
			goto out;
		}
	}
	r->prefix = (unsigned)prefix;
	if (acl_host_bits_set(r->addr, max / 8, r->prefix)) {
		char net[INET6_ADDRSTRLEN];

		acl_clear_host_bits(r->addr, max / 8, r->prefix);
		inet_ntop(r->family, r->addr, net, sizeof(net));
		cause = xasprintf("'%s': the address has bits set after the /%u prefix "
		                  "(did you mean %s/%u?)",
		                  elem, r->prefix, net, r->prefix);
		goto out;
	}
	/* ::ffff:a.b.c.d/96+n is the IPv4 network a.b.c.d/n */
	if (r->family == AF_INET6 && r->prefix >= 96 &&
	    memcmp(r->addr, acl_v4mapped, sizeof(acl_v4mapped)) == 0) {
		memmove(r->addr, r->addr + 12, 4);
		memset(r->addr + 4, 0, 12);
		r->family = AF_INET;
		r->prefix -= 96;
	}
out:
	free(elem);
	return cause;
}

/* True for the characters that separate elements. */
static bool
acl_is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

/* Parses list; NULL with *cause (allocated, caller frees) naming the bad element on error. */
struct acl *
acl_parse(const char *list, char **cause)
{
	struct acl *a = xcalloc(1, sizeof(*a));
	size_t cap = 0, index = 0;
	const char *p = list ? list : "";
	char *why = NULL;

	/* Elements are separated by one comma, by blanks, or by a comma with blanks around it. */
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0') {
		why = xstrdup("the list is empty");
		goto fail;
	}
	for (;;) {
		const char *start = p;

		index++;
		while (*p != '\0' && !acl_is_sep(*p))
			p++;
		if (p == start) {
			why = xasprintf(
			        "element %zu is empty: two commas in a row, or a comma at the "
			        "start or the end",
			        index);
			goto fail;
		}
		if (a->n == cap) {
			cap = cap ? cap * 2 : 4;
			a->rules = xrealloc(a->rules, cap * sizeof(*a->rules));
		}
		why = acl_parse_element(start, (size_t)(p - start), &a->rules[a->n]);
		if (why != NULL)
			goto fail;
		a->n++;
		/* one separator: blanks, optionally one comma, blanks */
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == ',') {
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
		} else if (*p == '\0') {
			break;
		}
	}
	return a;
fail:
	if (cause != NULL)
		*cause = why;
	else
		free(why);
	acl_destroy(a);
	return NULL;
}

/* True when the address is inside one of the networks (IPv4-mapped IPv6 matches IPv4). */
bool
acl_allows(const struct acl *a, const struct sockaddr *sa)
{
	uint8_t addr[16];
	int family;

	if (a == NULL || sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in sin;

		memcpy(&sin, sa, sizeof(sin));
		memcpy(addr, &sin.sin_addr, 4);
		family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, sa, sizeof(sin6));
		memcpy(addr, &sin6.sin6_addr, 16);
		family = AF_INET6;
		if (memcmp(addr, acl_v4mapped, sizeof(acl_v4mapped)) == 0) {
			memmove(addr, addr + 12, 4);
			family = AF_INET;
		}
	} else {
		return false;
	}
	for (size_t i = 0; i < a->n; i++)
		if (a->rules[i].family == family &&
		    acl_prefix_equal(a->rules[i].addr, addr, a->rules[i].prefix))
			return true;
	return false;
}

/* Frees the list (NULL is ignored). */
void
acl_destroy(struct acl *a)
{
	if (a == NULL)
		return;
	free(a->rules);
	free(a);
}
