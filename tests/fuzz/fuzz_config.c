/*
 * fuzz_config: config_load() on the input as an INI file. The bytes are written to a memfd
 * (created once) and loaded through /proc/self/fd/N, so nothing touches the disk. Properties:
 * either a config comes back and no error was reported, or NULL comes back with at least one
 * error line, each ending in '\n' and naming the file; a config that loads is within its
 * documented bounds (max_object_bytes <= max_bytes, an origin URL without a trailing slash).
 *
 * Names are never resolved: getaddrinfo() is replaced here by one that passes
 * AI_NUMERICHOST, so a fuzzed "listen = some.name:80" fails fast instead of asking DNS (the
 * real lookup is the system's, not ours to fuzz).
 */
#include <dlfcn.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res);

/* Numeric hosts only (see above); the C library's getaddrinfo does the rest. */
int
getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
            struct addrinfo **res)
{
	typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
	                      struct addrinfo **);
	static gai_fn real;
	struct addrinfo h;

	if (real == NULL) {
		void *sym = dlsym(RTLD_NEXT, "getaddrinfo");
		TC_ASSERT(sym != NULL);
		memcpy(&real, &sym, sizeof(real));
	}
	if (hints != NULL)
		h = *hints;
	else
		memset(&h, 0, sizeof(h));
	h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct buf errors = {0};
	struct config *c;

	if (fd < 0) {
		fd = memfd_create("fuzz_config.ini", 0);
		TC_ASSERT(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	TC_ASSERT(ftruncate(fd, 0) == 0);
	TC_ASSERT(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size);

	c = config_load(path, &errors);
	if (c != NULL) {
		TC_ASSERT(errors.len == 0);
		TC_ASSERT(c->origin_url != NULL && c->origin_url[0] != '\0');
		TC_ASSERT(c->origin_url[strlen(c->origin_url) - 1] != '/');
		TC_ASSERT(c->local_max_object_bytes <= c->local_max_bytes);
		TC_ASSERT(c->stats_path != NULL && c->stats_path[0] == '/');
		TC_ASSERT(c->stats_allow_acl != NULL);
		config_destroy(c);
	} else {
		TC_ASSERT(errors.len > 0 && errors.data[errors.len - 1] == '\n');
		TC_ASSERT(strstr(errors.data, path) != NULL);
	}
	buf_free(&errors);
	return 0;
}
