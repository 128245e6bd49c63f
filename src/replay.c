/*
 * tiercache-replay: replays a request trace through tiercache's local tier with each policy and
 * cache size asked for, and prints one line per run:
 *
 *   policy=<p> entries=<n> requests=<r> hits=<h> hit_ratio=<percent with 2 decimals>
 *
 * (bytes=<b> instead of entries=<n> with --bytes). The trace is read once into memory
 * (trace.c) and every run replays it through a new tier built by the library's own
 * local_create, so the figures are those the proxy would get. Single-threaded; exits 0 on
 * success, 1 on a read error, 2 on a usage error.
 */
#include "tcconfig.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "trace.h"
#include "util.h"

#define REPLAY_MAX_SIZES 64

static void
replay_usage(FILE *out)
{
	fprintf(out,
	        "usage: tiercache-replay [--policy P[,P...]] [--entries N[,N...] | --bytes "
	        "SIZE[,SIZE...]]\n"
	        "                        [--access-log] [--seed N] [FILE|-]\n"
	        "Replays a trace (one key a line, or tiercache's access log with --access-log)\n"
	        "through the local tier and prints the hit ratio of each policy and size.\n"
	        "  --policy LIST   policies to run, among %s (default: all)\n"
	        "  --entries LIST  cache sizes in entries, each object counting 1\n"
	        "                  (default: 0.1%%, 1%% and 10%% of the distinct keys)\n"
	        "  --bytes LIST    cache sizes in bytes (K, M, G suffixes), objects charged as in\n"
	        "                  the proxy (with --access-log: their response size)\n"
	        "  --access-log    read an access log in Common/Combined Log Format; the key is\n"
	        "                  the URL of each GET or HEAD request\n"
	        "  --seed N        fix the seed of the policies' hashes (reproducible figures)\n"
	        "  -h, --help      this help;  -V, --version  the version\n",
	        policy_names());
}

/* Splits a comma-separated list of numbers (sizes when is_size) into out; false on junk. */
static bool
replay_parse_list(const char *arg, bool is_size, uint64_t *out, size_t *n)
{
	char *copy = xstrdup(arg), *save = NULL, *tok;
	bool ok = true;

	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (*n == REPLAY_MAX_SIZES ||
		    !(is_size ? util_parse_size(tok, &v) : util_parse_u64(tok, UINT64_MAX, &v)) ||
		    v == 0) {
			ok = false;
			break;
		}
		out[(*n)++] = v;
	}
	free(copy);
	return ok && *n > 0;
}

/* Checks every name of a comma-separated policy list; the list is kept as given. */
static bool
replay_check_policies(const char *arg)
{
	char *copy = xstrdup(arg), *save = NULL, *tok;
	bool ok = true;
	int n = 0;

	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (policy_find(tok) == NULL) {
			fprintf(stderr, "tiercache-replay: unknown policy '%s' (expected %s)\n",
			        tok, policy_names());
			ok = false;
		}
		n++;
	}
	free(copy);
	return ok && n > 0;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
	        {"policy", required_argument, NULL, 'p'}, {"entries", required_argument, NULL, 'e'},
	        {"bytes", required_argument, NULL, 'b'},  {"access-log", no_argument, NULL, 'a'},
	        {"seed", required_argument, NULL, 's'},   {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	uint64_t sizes[REPLAY_MAX_SIZES], seed;
	size_t nsizes = 0;
	bool bytes = false, access_log = false;
	char *policies = NULL, *save = NULL, *tok;
	const char *path = "-";
	struct trace t;
	FILE *f;
	int c;

	while ((c = getopt_long(argc, argv, "p:e:b:as:hV", options, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!replay_check_policies(optarg)) {
				free(policies);
				return 2;
			}
			free(policies);
			policies = xstrdup(optarg);
			break;
		case 'e':
		case 'b':
			bytes = c == 'b';
			if (!replay_parse_list(optarg, bytes, sizes, &nsizes)) {
				fprintf(stderr,
				        "tiercache-replay: --%s: expected a list of up to %d "
				        "positive %s, got '%s'\n",
				        bytes ? "bytes" : "entries", REPLAY_MAX_SIZES,
				        bytes ? "sizes" : "numbers", optarg);
				free(policies);
				return 2;
			}
			break;
		case 'a':
			access_log = true;
			break;
		case 's':
			if (!util_parse_u64(optarg, UINT64_MAX, &seed)) {
				fprintf(stderr,
				        "tiercache-replay: --seed: expected a number, got '%s'\n",
				        optarg);
				free(policies);
				return 2;
			}
			policy_set_seed(seed);
			break;
		case 'h':
			replay_usage(stdout);
			free(policies);
			return 0;
		case 'V':
			printf("tiercache-replay %s\n", PACKAGE_VERSION);
			free(policies);
			return 0;
		default:
			replay_usage(stderr);
			free(policies);
			return 2;
		}
	}
	if (optind < argc)
		path = argv[optind++];
	if (optind < argc) {
		replay_usage(stderr);
		free(policies);
		return 2;
	}
	if (policies == NULL)
		policies = xstrdup(policy_names());
	for (char *p = policies; *p != '\0'; p++) {
		if (*p == '|')
			*p = ',';
	}

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "tiercache-replay: %s: %s\n", path, strerror(errno));
		free(policies);
		return 1;
	}
	if (!trace_read(f, access_log ? TRACE_ACCESS_LOG : TRACE_KEYS, &t)) {
		fprintf(stderr, "tiercache-replay: %s: %s\n", path, strerror(errno));
		trace_free(&t);
		free(policies);
		return 1;
	}
	if (f != stdin)
		fclose(f);
	if (nsizes == 0) {
		/* 0.1%, 1% and 10% of the distinct keys, at least one entry each */
		size_t d = trace_distinct(&t);

		for (unsigned per_mille = 1; per_mille <= 100; per_mille *= 10) {
			uint64_t n = ((uint64_t)d * per_mille + 500) / 1000;

			sizes[nsizes++] = n > 0 ? n : 1;
		}
	}

	for (tok = strtok_r(policies, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		for (size_t i = 0; i < nsizes; i++) {
			struct trace_result r;
			uint64_t max_bytes = bytes ? sizes[i] : UINT64_MAX;
			uint64_t max_entries = bytes ? UINT64_MAX : sizes[i];

			if (!trace_replay(&t, tok, max_bytes, max_entries, bytes && access_log, &r))
				continue;
			printf("policy=%s %s=%" PRIu64 " requests=%" PRIu64 " hits=%" PRIu64
			       " hit_ratio=%.2f\n",
			       tok, bytes ? "bytes" : "entries", sizes[i], r.requests, r.hits,
			       r.requests ? 100.0 * (double)r.hits / (double)r.requests : 0.0);
			fflush(stdout);
		}
	}
	trace_free(&t);
	free(policies);
	return 0;
}
