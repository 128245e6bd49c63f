/*
 * main: the tiercache daemon's entry point. Parses the command line, loads the config, starts
 * the tiers, the fetch thread and the server, then waits for SIGTERM or SIGINT in the main
 * thread (signals are blocked in every other thread) and stops everything in reverse order.
 * --show-record prints what memcached holds for a URL (an operator's and the tests' tool).
 */
#include "tcconfig.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "key.h"
#include "local.h"
#include "log.h"
#include "origin.h"
#include "proxy.h"
#include "server.h"
#include "shared.h"
#include "stats.h"

static void
main_usage(FILE *out)
{
	fprintf(out,
	        "Usage: tiercache [-t] -c FILE\n"
	        "       tiercache -c FILE --show-record HOST/PATH?QUERY\n"
	        "       tiercache --sample-config\n"
	        "HTTP caching reverse proxy.\n\n"
	        "  -c, --config FILE   the INI configuration file\n"
	        "  -t, --test          check the configuration, print every problem, exit 0 or 1\n"
	        "      --show-record HOST/PATH?QUERY\n"
	        "                      print (JSON) what [memcached] servers and fallback_servers\n"
	        "                      hold for the URL: key, server, record, headers\n"
	        "      --sample-config print a configuration with every key and its default\n"
	        "  -h, --help          this help\n"
	        "  -V, --version       print the version\n");
}

/* --show-record HOST/PATH?QUERY: what memcached holds for that URL, as JSON on stdout. */
static int
main_show_record(struct config *cfg, const char *url)
{
	const char *slash = strchr(url, '/');
	struct shared *shared = shared_create(cfg);
	struct buf out = {0};

	if (shared == NULL || slash == NULL) {
		fprintf(stderr, "tiercache: %s\n",
		        shared == NULL
		                ? "no [memcached] servers in the configuration"
		                : "--show-record wants HOST/PATH, e.g. api.example/items?id=1");
		shared_destroy(shared);
		config_destroy(cfg);
		return 1;
	}
	char *host = xstrndup(url, (size_t)(slash - url));
	char *key = key_build(host, slash);
	shared_refresh(shared);
	shared_inspect(shared, key, &out);
	fputs(out.data, stdout);
	buf_free(&out);
	free(key);
	free(host);
	shared_destroy(shared);
	config_destroy(cfg);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"test", no_argument, NULL, 't'},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {"sample-config", no_argument, NULL, 'S'},
	        {"show-record", required_argument, NULL, 'R'},
	        {NULL, 0, NULL, 0},
	};
	const char *path = NULL, *show = NULL;
	bool test_only = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:thV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test_only = true;
			break;
		case 'h':
			main_usage(stdout);
			return 0;
		case 'V':
			printf("tiercache %s\n", PACKAGE_VERSION);
			return 0;
		case 'S':
			config_write_sample(stdout);
			return 0;
		case 'R':
			show = optarg;
			break;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tiercache: unexpected argument '%s'\n", argv[optind]);
		main_usage(stderr);
		return 2;
	}
	if (path == NULL) {
		fprintf(stderr, "tiercache: no configuration file: use -c FILE\n");
		main_usage(stderr);
		return 2;
	}

	struct buf errors = {0};
	struct config *cfg = config_load(path, &errors);
	if (cfg == NULL) {
		fputs(errors.data ? errors.data : "tiercache: invalid configuration\n", stderr);
		fprintf(stderr, "tiercache: %s: configuration rejected\n", path);
		buf_free(&errors);
		return 1;
	}
	buf_free(&errors);
	if (test_only) {
		printf("tiercache: %s: configuration OK\n", path);
		config_destroy(cfg);
		return 0;
	}
	log_set_level((enum log_level)cfg->log_level);
	if (show != NULL)
		return main_show_record(cfg, show);

	/* Signals are taken by sigwait in this thread only: block them before any thread starts. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("curl_global_init failed");
		return 1;
	}
	stats_init();
	int status = 1;
	char *cause = NULL;
	struct local *local =
	        local_create(cfg->local_policy, cfg->local_max_bytes, cfg->local_max_entries);
	TC_ASSERT(local != NULL); /* the policy name was validated with the config */
	struct origin *origin = origin_create(cfg, &cause);
	struct shared *shared = shared_create(cfg); /* NULL without [memcached] servers */
	struct proxy *proxy = NULL;
	struct server *server = NULL;
	if (origin == NULL) {
		log_error("%s", cause);
		goto out;
	}
	if (cfg->mc_server_list.n > 0 && shared == NULL) {
		log_error("memcached: the [memcached] servers cannot be used");
		goto out;
	}
	proxy = proxy_create(cfg, local, origin, shared);
	server = server_create(cfg, proxy, &cause);
	if (server == NULL) {
		log_error("%s", cause);
		goto out;
	}
	log_info("tiercache %s listening on port %u (%s), origin %s, local tier %s, %s%zu%s",
	         PACKAGE_VERSION, (unsigned)server_port(server), cfg->listen, cfg->origin_url,
	         cfg->local_policy, shared ? "memcached tier of " : "no memcached tier",
	         shared ? cfg->mc_server_list.n : 0,
	         !shared                   ? ""
	         : cfg->mc_fallback_list.n ? " servers (and fallback servers)"
	                                   : " servers");

	int sig = 0;
	sigwait(&stop, &sig);
	log_info("signal %d: stopping", sig);
	status = 0;
out:
	/* The fetch thread completes every waiting request first, then the worker pool runs the
	 * memcached steps still queued (their fetches fail at once), so nothing stays suspended
	 * when the daemon stops; requests that arrive meanwhile fail at once with 502. */
	if (origin)
		origin_stop(origin);
	if (proxy)
		proxy_stop(proxy);
	server_destroy(server);
	origin_destroy(origin);
	proxy_destroy(proxy);
	shared_destroy(shared);
	local_destroy(local);
	config_destroy(cfg);
	free(cause);
	curl_global_cleanup();
	return status;
}
