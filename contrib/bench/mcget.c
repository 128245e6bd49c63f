/*
 * mcget: the plain memcached get round trip that the shared-tier figure of contrib/bench is
 * compared with. Stores one value of SIZE bytes under a key, then gets it N times in a row on
 * one connection (libmemcached, as tiercache's shared tier uses) and prints
 *   MCGET n=N size=SIZE p50_us=X p99_us=Y rps=Z
 * Built by contrib/bench/run.sh with gcc directly.
 * Usage: mcget -p PORT [-s SIZE] [-n N] [-b]   (127.0.0.1 only; -b: binary protocol)
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmemcached/memcached.h>

static double
mcget_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
mcget_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	static const char key[] = "tiercache-bench-mcget";
	unsigned port = 11211;
	size_t size = 1024, n = 20000;
	bool binary = false;
	memcached_st *mc;
	memcached_return_t rc;
	double *lat, t0, total;
	char *value;
	int opt;

	while ((opt = getopt(argc, argv, "p:s:n:b")) != -1) {
		switch (opt) {
		case 'p':
			port = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			size = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			binary = true;
			break;
		default:
			fprintf(stderr, "usage: mcget -p PORT [-s SIZE] [-n N] [-b]\n");
			return 2;
		}
	}
	if (n == 0)
		n = 1;
	mc = memcached_create(NULL);
	lat = calloc(n, sizeof(*lat));
	value = malloc(size ? size : 1);
	if (mc == NULL || lat == NULL || value == NULL)
		abort();
	memset(value, 'v', size);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
	if (binary)
		memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
	memcached_server_add(mc, "127.0.0.1", (in_port_t)port);
	rc = memcached_set(mc, key, sizeof(key) - 1, value, size, 0, 0);
	if (rc != MEMCACHED_SUCCESS) {
		fprintf(stderr, "mcget: set: %s\n", memcached_strerror(mc, rc));
		return 1;
	}
	total = mcget_now_us();
	for (size_t i = 0; i < n; i++) {
		size_t len;
		uint32_t flags;
		char *got;

		t0 = mcget_now_us();
		got = memcached_get(mc, key, sizeof(key) - 1, &len, &flags, &rc);
		lat[i] = mcget_now_us() - t0;
		if (got == NULL || len != size) {
			fprintf(stderr, "mcget: get: %s\n", memcached_strerror(mc, rc));
			return 1;
		}
		free(got);
	}
	total = mcget_now_us() - total;
	qsort(lat, n, sizeof(*lat), mcget_cmp);
	printf("MCGET n=%zu size=%zu p50_us=%.0f p99_us=%.0f rps=%.0f\n", n, size, lat[n / 2],
	       lat[(n * 99) / 100], (double)n / (total / 1e6));
	memcached_free(mc);
	free(lat);
	free(value);
	return 0;
}
