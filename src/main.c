/*
 * main: the tiercache daemon's entry point. Parses the command line, loads the config, starts
 * the tiers, the fetch thread and the server, then takes the signals in the main thread
 * (they are blocked in every other thread, which inherit the mask):
 * - SIGHUP reloads the config file. A file that does not check is rejected whole (every
 *   problem logged) and the running config stays. Otherwise the keys that need a restart
 *   keep their running values (and are named in the log), and the new config is handed to
 *   the proxy for new requests. Every config loaded is kept until exit, so one that a request
 *   still reads is never freed (a reload keeps a few KiB).
 * - SIGUSR1 reopens the access log (after logrotate renamed it).
 * - SIGTERM or SIGINT: the server stops accepting; requests in flight (also those waiting
 *   for memcached or the origin) get up to [server] shutdown_timeout seconds to finish; what
 *   is left is answered 502 (origin_stop, proxy_stop), sent within a second, and everything
 *   stops in reverse order; exit 0. A second SIGTERM or SIGINT cuts the wait short.
 * --show-record prints what memcached holds for a URL (an operator's and the tests' tool).
 */
#include "tcconfig.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "accesslog.h"
#include "bodyfile.h"
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
	        "  -V, --version       print the version\n\n"
	        "Signals: HUP reloads the configuration, USR1 reopens the access log,\n"
	        "TERM or INT stop after the requests in flight ([server] shutdown_timeout).\n");
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

/* Every config loaded (startup and reloads): freed at exit, after every request. */
struct main_configs {
	struct config **v;
	size_t n;
};

/* Logs each line of text at the error level, prefixed. */
static void
main_log_lines(const char *prefix, const char *text)
{
	while (text != NULL && *text != '\0') {
		size_t n = strcspn(text, "\n");

		if (n > 0)
			log_error("%s%.*s", prefix, (int)n, text);
		text += n;
		if (*text == '\n')
			text++;
	}
}

/* SIGHUP: loads path again and hands it to the proxy, or keeps the running config. */
static void
main_reload(const char *path, struct main_configs *all, struct proxy *proxy)
{
	const struct config *running = all->v[all->n - 1];
	struct buf errors = {0}, restart = {0};
	struct config *next = config_reload(path, running, &errors, &restart);
	char *cause = NULL;

	if (next != NULL && strcmp(next->access_log, running->access_log) != 0 &&
	    !accesslog_open(next->access_log, &cause)) {
		buf_printf(&errors, "%s: [log] access_log: %s\n", path, cause);
		config_destroy(next);
		next = NULL;
	}
	if (next == NULL) {
		stats_inc(STAT_config_reload_errors);
		main_log_lines("reload: ", errors.data);
		log_error("reload: %s: configuration rejected; the running configuration stays",
		          path);
	} else {
		if (restart.len > 0)
			log_warn("reload: %s: changed keys that need a restart keep their running "
			         "values: %s",
			         path, restart.data);
		log_set_level((enum log_level)next->log_level);
		all->v = xrealloc(all->v, (all->n + 1) * sizeof(*all->v));
		all->v[all->n++] = next;
		proxy_reconfigure(proxy, next);
		stats_inc(STAT_config_reloads);
		log_info("reload: %s: configuration applied to new requests", path);
	}
	free(cause);
	buf_free(&errors);
	buf_free(&restart);
}

/*
 * SIGTERM/SIGINT: stops accepting and waits up to timeout_s seconds for the requests in
 * flight (a second signal in stop cuts it short). True when none is left.
 */
static bool
main_drain(struct server *server, int64_t timeout_s, const sigset_t *stop)
{
	int64_t deadline = util_monotonic_ms() + timeout_s * 1000;
	unsigned left;

	server_quiesce(server);
	while ((left = server_inflight(server)) > 0 && util_monotonic_ms() < deadline) {
		struct timespec tick = {0, 20 * 1000 * 1000};
		int sig = sigtimedwait(stop, NULL, &tick);

		if (sig > 0) {
			log_warn("signal %d again: not waiting for the %u requests in flight", sig,
			         left);
			return false;
		}
	}
	if (left > 0)
		log_warn("%u requests still in flight after [server] shutdown_timeout (%lld s): "
		         "they are answered 502",
		         left, (long long)timeout_s);
	return left == 0;
}

/* Waits (a second at most) for the replies of the requests that were cut to be sent. */
static void
main_flush_replies(struct server *server)
{
	int64_t deadline = util_monotonic_ms() + 1000;

	while (server_inflight(server) > 0 && util_monotonic_ms() < deadline) {
		struct timespec tick = {0, 10 * 1000 * 1000};
		nanosleep(&tick, NULL);
	}
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
	sigset_t stop, all;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	all = stop;
	sigaddset(&all, SIGHUP);
	sigaddset(&all, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("curl_global_init failed");
		return 1;
	}
	stats_init();
	/* large bodies in memory files: the open-file limit goes to its hard value, and the
	 * budget of files keeps room for every connection (clients, origin, memcached) */
	unsigned body_files =
	        bodyfile_fit_limit(cfg->local_max_body_files,
	                           cfg->max_connections + cfg->origin_max_connections + 256);
	if (cfg->local_body_file_min_bytes > 0 && body_files < cfg->local_max_body_files)
		log_warn("[local] max_body_files: %u, not %u: the open-file limit leaves room for "
		         "no more",
		         body_files, cfg->local_max_body_files);
	bodyfile_configure(cfg->local_body_file_min_bytes, body_files);
	int status = 1;
	char *cause = NULL;
	struct main_configs configs = {xmalloc(sizeof(*configs.v)), 1};
	configs.v[0] = cfg;
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
	if (!accesslog_open(cfg->access_log, &cause)) {
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
	char mc[96] = "no memcached tier";
	if (shared != NULL)
		snprintf(mc, sizeof(mc), "memcached tier of %zu servers%s", cfg->mc_server_list.n,
		         cfg->mc_fallback_list.n ? " (and fallback servers)" : "");
	log_info("tiercache %s listening on port %u (%s), origin %s, local tier %s, %s",
	         PACKAGE_VERSION, (unsigned)server_port(server), cfg->listen, cfg->origin_url,
	         cfg->local_policy, mc);

	for (;;) {
		int sig = 0;
		char *why = NULL;

		sigwait(&all, &sig);
		if (sig == SIGHUP) {
			log_info("signal %d: reloading %s", sig, path);
			main_reload(path, &configs, proxy);
		} else if (sig == SIGUSR1) {
			if (accesslog_reopen(&why))
				log_info("signal %d: access log reopened", sig);
			else
				log_error("signal %d: %s (the access log goes on to the old file)",
				          sig, why);
			free(why);
		} else {
			const struct config *now = configs.v[configs.n - 1];
			log_info("signal %d: stopping: no new connections; in flight: %u, given "
			         "up to %lld s",
			         sig, server_inflight(server), (long long)now->shutdown_timeout);
			main_drain(server, now->shutdown_timeout, &stop);
			break;
		}
	}
	status = 0;
out:
	/* The fetch thread completes every waiting request first, then the worker pool runs the
	 * memcached steps still queued (their fetches fail at once), so nothing stays suspended
	 * when the daemon stops; requests that arrive meanwhile fail at once with 502. Those
	 * replies are sent before the daemon stops. */
	if (origin)
		origin_stop(origin);
	if (proxy)
		proxy_stop(proxy);
	if (server)
		main_flush_replies(server);
	server_destroy(server);
	origin_destroy(origin);
	proxy_destroy(proxy);
	shared_destroy(shared);
	local_destroy(local);
	accesslog_close();
	for (size_t i = 0; i < configs.n; i++)
		config_destroy(configs.v[i]);
	free(configs.v);
	free(cause);
	curl_global_cleanup();
	if (status == 0)
		log_info("stopped");
	return status;
}
