/*
 * check_shared: the memcached tier and the worker pool it runs on.
 *
 * Without a server: the circuit breaker (clock passed in), the memcached expiry rule, ketama
 * (adding a fourth server to three moves about a quarter of the keys, and only to the new
 * server; weights), the [memcached] config fixture, the disabled /stats object, and the worker
 * pool's queues (urgent first, background bounded and cancelled on stop).
 *
 * With real memcached servers (started here on free loopback ports, stopped by PID; the
 * "memcached" binary must be installed): store and lookup, keys, the CAS rules (an older
 * record never replaces a newer one; a lost race is retried, then given up; many threads
 * updating one key end with the newest record and every write accounted for), corrupt and
 * foreign records, deletes, namespace generations across two "proxies", flush_all, a server
 * that is down, and the migration fallback with warm-up.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <libmemcached/memcached.h>

#include "config.h"
#include "record.h"
#include "shared.h"
#include "worker.h"

static const struct rfc9111_settings settings = {.default_ttl = 0};

/* ------------------------------------------------------------------------------ helpers */

/* A config with [memcached] servers and fallback_servers as given (NULL: none). */
static struct config *
mc_config(const char *servers, const char *fallback)
{
	struct config *c = config_defaults();
	char *cause = NULL;

	if (servers != NULL)
		ck_assert_msg(config_parse_servers(servers, &c->mc_server_list, &cause), "%s",
		              cause);
	if (fallback != NULL)
		ck_assert_msg(config_parse_servers(fallback, &c->mc_fallback_list, &cause), "%s",
		              cause);
	return c;
}

/* An entry for key, received at response_time, with the given Cache-Control and ETag. */
static struct entry *
mk_entry(const char *key, int64_t response_time, const char *cc, const char *etag, const char *body)
{
	struct http_headers h = {0};

	if (cc != NULL)
		http_headers_add(&h, "Cache-Control", cc);
	if (etag != NULL)
		http_headers_add(&h, "ETag", etag);
	return entry_new(key, NULL, 200, &h, body ? xstrdup(body) : NULL, body ? strlen(body) : 0,
	                 response_time, response_time, &settings);
}

/* ------------------------------------------------------------------------------ health */

START_TEST(test_health_breaker)
{
	struct shared_health h = {0};

	ck_assert(shared_health_admit(&h, 1000));
	ck_assert(!shared_health_ok(&h, shared_health_epoch(&h))); /* was not down */
	ck_assert_int_eq(shared_health_failed(&h, 1000), SHARED_BACKOFF_MIN_MS);
	/* down: refused until the backoff ends, then exactly one probe */
	ck_assert(!shared_health_admit(&h, 1000));
	ck_assert(!shared_health_admit(&h, 1000 + SHARED_BACKOFF_MIN_MS - 1));
	ck_assert(shared_health_admit(&h, 1000 + SHARED_BACKOFF_MIN_MS));
	ck_assert(!shared_health_admit(&h, 1000 + SHARED_BACKOFF_MIN_MS));
	/* the probe fails: the wait doubles */
	ck_assert_int_eq(shared_health_failed(&h, 2000), 2 * SHARED_BACKOFF_MIN_MS);
	ck_assert(!shared_health_admit(&h, 2000 + 2 * SHARED_BACKOFF_MIN_MS - 1));
	ck_assert(shared_health_admit(&h, 2000 + 2 * SHARED_BACKOFF_MIN_MS));
	/* exponential, then capped */
	int64_t prev = 2 * SHARED_BACKOFF_MIN_MS, b = 0;
	for (int i = 0; i < 20; i++) {
		b = shared_health_failed(&h, 3000);
		ck_assert_int_ge(b, prev);
		ck_assert_int_le(b, SHARED_BACKOFF_MAX_MS);
		prev = b;
	}
	ck_assert_int_eq(b, SHARED_BACKOFF_MAX_MS);
	/* a successful probe: up, and the next failure starts from the minimum again */
	ck_assert(shared_health_admit(&h, 3000 + SHARED_BACKOFF_MAX_MS));
	ck_assert(shared_health_ok(&h, shared_health_epoch(&h)));
	ck_assert(shared_health_admit(&h, 0));
	ck_assert(shared_health_admit(&h, 0)); /* up: everyone may go */
	ck_assert_int_eq(shared_health_failed(&h, 5000), SHARED_BACKOFF_MIN_MS);
}
END_TEST

/* An answer to an operation begun before a failure does not bring the server back up. */
START_TEST(test_health_stale_answer)
{
	struct shared_health h = {0};
	unsigned early = shared_health_epoch(&h); /* an operation begins while the server is up */

	ck_assert(shared_health_admit(&h, 1000));
	ck_assert_int_eq(shared_health_failed(&h, 1000), SHARED_BACKOFF_MIN_MS); /* another fails */
	/* the early operation's reply arrives afterwards: the server stays down */
	ck_assert(!shared_health_ok(&h, early));
	ck_assert(!shared_health_admit(&h, 1000));
	/* the probe, begun after the failure, is news */
	ck_assert(shared_health_admit(&h, 1000 + SHARED_BACKOFF_MIN_MS));
	unsigned probe = shared_health_epoch(&h);
	ck_assert(shared_health_ok(&h, probe));
	ck_assert(shared_health_admit(&h, 1000 + SHARED_BACKOFF_MIN_MS));
	ck_assert(shared_health_admit(&h, 1000 + SHARED_BACKOFF_MIN_MS));
}
END_TEST

/* ------------------------------------------------------------------------------ expiry */

START_TEST(test_expiry)
{
	struct entry *e;

	/* fresh, no validator: the freshness left */
	e = mk_entry("k", 1000, "max-age=60", NULL, NULL);
	ck_assert_int_eq(shared_expiry(86400, e, 1000), 60);
	ck_assert_int_eq(shared_expiry(86400, e, 1050), 10);
	ck_assert_int_eq(shared_expiry(30, e, 1000), 30);   /* ttl bounds it */
	ck_assert_int_eq(shared_expiry(86400, e, 1060), 0); /* stale, no validator: useless */
	ck_assert_int_eq(shared_expiry(86400, e, 99999), 0);
	entry_unref(e);
	/* with a validator: the freshness left plus the grace (at least SHARED_GRACE_MIN) */
	e = mk_entry("k", 1000, "max-age=60", "\"v\"", NULL);
	ck_assert_int_eq(shared_expiry(86400, e, 1000), 60 + SHARED_GRACE_MIN);
	ck_assert_int_eq(shared_expiry(86400, e, 5000), SHARED_GRACE_MIN); /* stale: the grace */
	ck_assert_int_eq(shared_expiry(100, e, 5000), 100);
	entry_unref(e);
	/* a long lifetime is its own grace */
	e = mk_entry("k", 1000, "max-age=7200", "\"v\"", NULL);
	ck_assert_int_eq(shared_expiry(86400, e, 1000), 7200 + 7200);
	ck_assert_int_eq(shared_expiry(86400, e, 100000), 7200);
	entry_unref(e);
	/* a huge lifetime: the ttl, never more than 30 days (read as a date by memcached) */
	e = mk_entry("k", 1000, "max-age=2147483648", NULL, NULL);
	ck_assert_int_eq(shared_expiry(2592000, e, 1000), 2592000);
	entry_unref(e);
	/* no freshness at all and no validator: nothing to keep */
	e = mk_entry("k", 1000, NULL, NULL, NULL);
	ck_assert_int_eq(shared_expiry(86400, e, 1000), 0);
	entry_unref(e);
	/* never 0 ("forever") for something useful: a second left is a second */
	e = mk_entry("k", 1000, "max-age=1", NULL, NULL);
	ck_assert_int_eq(shared_expiry(86400, e, 1000), 1);
	entry_unref(e);
}
END_TEST

/* ------------------------------------------------------------------------------ ketama */

/* The server of each of n keys, as indexes into names. */
static void
locate_all(struct shared *s, int n, const char *const *names, size_t nnames, int *out)
{
	for (int i = 0; i < n; i++) {
		char mkey[64];
		snprintf(mkey, sizeof(mkey), "tc:1:%08x%024d", (unsigned)i * 2654435761u, i);
		const char *addr = shared_locate(s, mkey);
		ck_assert_ptr_nonnull(addr);
		out[i] = -1;
		for (size_t j = 0; j < nnames; j++)
			if (strcmp(addr, names[j]) == 0)
				out[i] = (int)j;
		ck_assert_int_ge(out[i], 0);
	}
}

START_TEST(test_ketama_remap)
{
	static const char *const names[] = {"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211",
	                                    "10.0.0.4:11211"};
	enum { N = 10000 };
	static int before[N], after[N];
	struct config *c3 = mc_config("10.0.0.1:11211, 10.0.0.2:11211, 10.0.0.3:11211", NULL);
	struct config *c4 =
	        mc_config("10.0.0.1:11211, 10.0.0.2:11211, 10.0.0.3:11211, 10.0.0.4:11211", NULL);
	struct shared *s3 = shared_create(c3), *s4 = shared_create(c4);
	int moved = 0, per[4] = {0};

	locate_all(s3, N, names, 4, before);
	locate_all(s4, N, names, 4, after);
	for (int i = 0; i < N; i++) {
		ck_assert_int_lt(before[i], 3);
		per[after[i]]++;
		if (before[i] != after[i]) {
			moved++;
			/* consistent hashing: a key only ever moves to the new server */
			ck_assert_int_eq(after[i], 3);
		}
	}
	double frac = (double)moved / N;
	ck_assert_msg(frac > 0.15 && frac < 0.35, "%.3f of the keys moved", frac);
	for (int j = 0; j < 4; j++)
		ck_assert_msg(per[j] > N / 8 && per[j] < N / 2, "server %d has %d keys", j, per[j]);
	/* the same configuration elsewhere (another proxy) places every key the same way */
	struct shared *s3b = shared_create(c3);
	static int again[N];
	locate_all(s3b, N, names, 4, again);
	ck_assert(memcmp(before, again, sizeof(again)) == 0);
	/* removing a server moves only its keys */
	for (int i = 0; i < N; i++)
		if (after[i] != 3)
			ck_assert_int_eq(after[i], before[i]);
	shared_destroy(s3);
	shared_destroy(s3b);
	shared_destroy(s4);
	config_destroy(c3);
	config_destroy(c4);
}
END_TEST

START_TEST(test_ketama_weights)
{
	static const char *const names[] = {"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"};
	enum { N = 10000 };
	static int where[N];
	struct config *c = mc_config("10.0.0.1:11211, 10.0.0.2:11211/3, 10.0.0.3:11211", NULL);
	struct shared *s = shared_create(c);
	int per[3] = {0};

	locate_all(s, N, names, 3, where);
	for (int i = 0; i < N; i++)
		per[where[i]]++;
	/* weight 3 of 5: about 60% */
	ck_assert_msg(per[1] > N * 45 / 100 && per[1] < N * 75 / 100, "weighted server has %d",
	              per[1]);
	shared_destroy(s);
	config_destroy(c);
}
END_TEST

START_TEST(test_disabled)
{
	struct config *c = config_defaults();
	struct buf b = {0};

	ck_assert_uint_eq(c->mc_server_list.n, 0);
	ck_assert_ptr_null(shared_create(c)); /* no servers: no tier */
	shared_stats_json(NULL, &b);
	ck_assert_str_eq(
	        b.data, "{\"enabled\": false, \"hits\": 0, \"misses\": 0, \"stores\": 0, "
	                "\"store_skipped_too_large\": 0, \"cas_retries\": 0, \"cas_conflicts\": 0, "
	                "\"errors\": 0, \"timeouts\": 0, \"decode_rejected\": 0,\n"
	                "   \"namespace_generation\": 0,\n   \"servers\": [],\n"
	                "   \"fallback\": {\"servers\": [], \"hits\": 0, \"misses\": 0, "
	                "\"errors\": 0, \"warmed\": 0}}");
	/* the defaults of [memcached] */
	ck_assert(c->mc_warm_from_fallback);
	ck_assert_int_eq(c->mc_ttl, 86400);
	ck_assert_uint_eq(c->mc_timeout_ms, 50);
	ck_assert_str_eq(c->mc_key_prefix, "tc:");
	ck_assert_uint_eq(c->mc_max_item_bytes, 1024 * 1024);
	buf_free(&b);
	config_destroy(c);
}
END_TEST

START_TEST(test_config_fixture)
{
	const char *src = getenv("TC_SRCDIR");
	char *path = xasprintf("%s/tests/conf/good-memcached.ini", src && *src ? src : ".");
	struct buf errors = {0};
	struct config *c = config_load(path, &errors);

	ck_assert_msg(c != NULL, "%s", errors.data);
	ck_assert_uint_eq(c->mc_server_list.n, 4);
	ck_assert_str_eq(c->mc_server_list.v[0].host, "10.0.0.1");
	ck_assert_uint_eq(c->mc_server_list.v[0].port, 11211);
	ck_assert_uint_eq(c->mc_server_list.v[0].weight, 1);
	ck_assert_uint_eq(c->mc_server_list.v[1].port, 11212);
	ck_assert_uint_eq(c->mc_server_list.v[1].weight, 2);
	ck_assert_str_eq(c->mc_server_list.v[2].host, "mc-3.example.com");
	ck_assert_uint_eq(c->mc_server_list.v[2].weight, 1000);
	ck_assert_str_eq(c->mc_server_list.v[3].host, "::1");
	ck_assert_uint_eq(c->mc_server_list.v[3].port, 11214);
	ck_assert_uint_eq(c->mc_fallback_list.n, 2);
	ck_assert_str_eq(c->mc_fallback_list.v[1].host, "old-2.example.com");
	ck_assert_uint_eq(c->mc_fallback_list.v[1].weight, 5);
	ck_assert(!c->mc_warm_from_fallback);
	ck_assert_int_eq(c->mc_ttl, 3600);
	ck_assert_uint_eq(c->mc_timeout_ms, 20);
	ck_assert_str_eq(c->mc_key_prefix, "api-v2:");
	ck_assert_uint_eq(c->mc_max_item_bytes, 4 * 1024 * 1024);
	/* the shared tier shows the servers as written, IPv6 in brackets */
	struct shared *s = shared_create(c);
	struct buf b = {0};
	shared_stats_json(s, &b);
	ck_assert_ptr_nonnull(strstr(b.data, "\"address\": \"[::1]:11214\", \"state\": \"up\""));
	ck_assert_ptr_nonnull(strstr(b.data, "\"fallback\": {\"servers\": [{\"address\": "
	                                     "\"old-1.example.com:11211\""));
	buf_free(&b);
	shared_destroy(s);
	config_destroy(c);
	buf_free(&errors);
	free(path);
}
END_TEST

/* ------------------------------------------------------------------------------ worker */

struct probe {
	struct worker_job job;
	pthread_mutex_t *lock;
	pthread_cond_t *cond;
	bool *gate; /* the job waits until *gate is true (NULL: no wait) */
	int id;
	int *order; /* appended to, under lock */
	int *n;
	bool cancelled;
	bool ran;
};

static void
probe_run(struct worker_job *job, bool cancelled)
{
	struct probe *p = (struct probe *)job;

	pthread_mutex_lock(p->lock);
	while (p->gate != NULL && !*p->gate)
		pthread_cond_wait(p->cond, p->lock);
	p->ran = true;
	p->cancelled = cancelled;
	p->order[(*p->n)++] = p->id;
	pthread_cond_broadcast(p->cond);
	pthread_mutex_unlock(p->lock);
}

START_TEST(test_worker_queues)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
	bool gate = false;
	int order[8], n = 0;
	struct probe p[6];
	struct worker *w = worker_create(1, 2);

	for (int i = 0; i < 6; i++)
		p[i] = (struct probe){.job.fn = probe_run,
		                      .lock = &lock,
		                      .cond = &cond,
		                      .gate = i == 0 ? &gate : NULL,
		                      .id = i,
		                      .order = order,
		                      .n = &n};
	/* job 0 holds the only thread; then two background jobs and two urgent ones queue */
	ck_assert(worker_submit(w, &p[0].job, WORKER_URGENT));
	pthread_mutex_lock(&lock);
	while (worker_queued(w, WORKER_URGENT) != 0) {
		pthread_mutex_unlock(&lock);
		sched_yield();
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	ck_assert(worker_submit(w, &p[1].job, WORKER_BACKGROUND));
	ck_assert(worker_submit(w, &p[2].job, WORKER_BACKGROUND));
	ck_assert(!worker_submit(w, &p[5].job, WORKER_BACKGROUND)); /* at most 2 wait */
	ck_assert(worker_submit(w, &p[3].job, WORKER_URGENT));
	ck_assert(worker_submit(w, &p[4].job, WORKER_URGENT));
	ck_assert_uint_eq(worker_queued(w, WORKER_BACKGROUND), 2);
	ck_assert_uint_eq(worker_queued(w, WORKER_URGENT), 2);
	pthread_mutex_lock(&lock);
	gate = true;
	pthread_cond_broadcast(&cond);
	while (n < 5)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	/* urgent first, each queue in order */
	int want[] = {0, 3, 4, 1, 2};
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(order[i], want[i]);
	for (int i = 0; i < 5; i++)
		ck_assert(!p[i].cancelled);
	ck_assert(!p[5].ran);
	worker_destroy(w);
}
END_TEST

static void *
stop_thread(void *w)
{
	worker_stop(w);
	return NULL;
}

START_TEST(test_worker_stop)
{
	enum { DUMMIES = 1000 };
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
	bool gate = false;
	static int order[DUMMIES + 8];
	int n = 0;
	struct probe p[3];
	static struct probe dummy[DUMMIES];
	struct worker *w = worker_create(1, DUMMIES + 10);

	for (int i = 0; i < 3; i++)
		p[i] = (struct probe){.job.fn = probe_run,
		                      .lock = &lock,
		                      .cond = &cond,
		                      .gate = i == 0 ? &gate : NULL,
		                      .id = i,
		                      .order = order,
		                      .n = &n};
	for (int i = 0; i < DUMMIES; i++)
		dummy[i] = (struct probe){.job.fn = probe_run,
		                          .lock = &lock,
		                          .cond = &cond,
		                          .id = 100 + i,
		                          .order = order,
		                          .n = &n};
	ck_assert(worker_submit(w, &p[0].job, WORKER_URGENT));
	while (worker_queued(w, WORKER_URGENT) != 0)
		sched_yield();
	ck_assert(worker_submit(w, &p[1].job, WORKER_BACKGROUND));
	ck_assert(worker_submit(w, &p[2].job, WORKER_URGENT));
	/* stop while job 0 holds the only thread: from then on nothing new is accepted */
	pthread_t stopper;
	ck_assert_int_eq(pthread_create(&stopper, NULL, stop_thread, w), 0);
	int accepted = 0;
	while (accepted < DUMMIES && worker_submit(w, &dummy[accepted].job, WORKER_BACKGROUND)) {
		accepted++;
		usleep(1000); /* give the stopper time to start */
	}
	ck_assert_int_lt(accepted, DUMMIES);
	ck_assert(!worker_submit(w, &dummy[DUMMIES - 1].job, WORKER_URGENT));
	pthread_mutex_lock(&lock);
	gate = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	pthread_join(stopper, NULL);
	/* the queued urgent job still ran; queued background jobs were cancelled */
	ck_assert(p[0].ran && !p[0].cancelled);
	ck_assert(p[2].ran && !p[2].cancelled);
	ck_assert(p[1].ran && p[1].cancelled);
	for (int i = 0; i < accepted; i++)
		ck_assert(dummy[i].ran && dummy[i].cancelled);
	ck_assert(!dummy[DUMMIES - 1].ran);
	ck_assert_int_eq(order[1], 2); /* urgent before the cancellations */
	worker_stop(w);                /* twice is fine */
	worker_destroy(w);
}
END_TEST

/* ------------------------------------------------------------------------------ memcached */

struct mc {
	pid_t pid;
	unsigned port;
	char addr[32];
};

static struct mc mc_a, mc_b;

/* A port that was free a moment ago. */
static unsigned
free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static bool
mc_connectable(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons((uint16_t)port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;

	close(fd);
	return ok;
}

/* Starts memcached on port (0: a free one); retries with another port if it cannot bind. */
static void
mc_start(struct mc *m, unsigned port)
{
	for (int attempt = 0; attempt < 10; attempt++) {
		unsigned p = port ? port : free_port();
		char ps[16];
		snprintf(ps, sizeof(ps), "%u", p);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (freopen("/dev/null", "w", stderr) == NULL)
				_exit(126);
			execlp("memcached", "memcached", "-l", "127.0.0.1", "-p", ps, "-U", "0",
			       "-u", "nobody", "-I", "1m", (char *)NULL);
			_exit(127);
		}
		for (int i = 0; i < 500; i++) {
			int status;
			if (waitpid(pid, &status, WNOHANG) == pid) {
				ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 127),
				              "cannot run memcached (apt-get install memcached)");
				pid = 0;
				break;
			}
			if (mc_connectable(p)) {
				m->pid = pid;
				m->port = p;
				snprintf(m->addr, sizeof(m->addr), "127.0.0.1:%u", p);
				return;
			}
			usleep(10000);
		}
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
	ck_abort_msg("memcached did not start");
}

static void
mc_stop(struct mc *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, NULL, 0);
	}
	m->pid = 0;
}

static void
mc_setup(void)
{
	mc_start(&mc_a, 0);
	mc_start(&mc_b, 0);
}

static void
mc_teardown(void)
{
	mc_stop(&mc_a);
	mc_stop(&mc_b);
}

/* A raw libmemcached handle on one server (text protocol), for planting and flushing. */
static memcached_st *
raw(const struct mc *m)
{
	memcached_st *r = memcached_create(NULL);

	memcached_server_add(r, "127.0.0.1", (in_port_t)m->port);
	return r;
}

/* A tier on the servers (and fallback) given, with its generations read. */
static struct shared *
tier(const char *servers, const char *fallback, struct config **cfg)
{
	*cfg = mc_config(servers, fallback);
	(*cfg)->mc_timeout_ms = 2000; /* generous: the suite may run beside others */
	struct shared *s = shared_create(*cfg);
	ck_assert_ptr_nonnull(s);
	shared_refresh(s);
	ck_assert_uint_gt(shared_generation(s), 0);
	return s;
}

static uint64_t
stat_of(struct shared *s, const char *name)
{
	struct buf b = {0};
	char *pat = xasprintf("\"%s\": ", name);
	uint64_t v = UINT64_MAX;

	shared_stats_json(s, &b);
	const char *p = strstr(b.data, pat);
	if (p != NULL)
		v = strtoull(p + strlen(pat), NULL, 10);
	free(pat);
	buf_free(&b);
	return v;
}

START_TEST(test_store_lookup)
{
	struct config *cfg;
	struct shared *s = tier(mc_a.addr, NULL, &cfg);
	struct entry *e = mk_entry("GET h /store", util_now(), "max-age=60", "\"1\"", "body-1");
	enum shared_source from;

	ck_assert_ptr_null(shared_lookup(s, "GET h /store", &from));
	ck_assert_int_eq(from, SHARED_NONE);
	ck_assert_int_eq(shared_store(s, e, false, util_now()), SHARED_STORED);
	struct entry *d = shared_lookup(s, "GET h /store", &from);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(from, SHARED_SERVERS);
	ck_assert_uint_eq(d->body_len, 6);
	ck_assert(memcmp(entry_body(d), "body-1", 6) == 0);
	ck_assert_int_eq(d->response_time, e->response_time);
	ck_assert_str_eq(entry_etag(d), "\"1\"");
	entry_unref(d);
	ck_assert_uint_eq(stat_of(s, "hits"), 1);
	ck_assert_uint_eq(stat_of(s, "misses"), 1);
	ck_assert_uint_eq(stat_of(s, "stores"), 1);
	ck_assert_uint_eq(stat_of(s, "errors"), 0);

	/* the key: prefix, generation, ':', 32 hex digits; printable, short */
	char k1[SHARED_KEY_MAX], k2[SHARED_KEY_MAX];
	ck_assert(shared_key(s, false, "GET h /store", k1));
	char *want = xasprintf("tc:%" PRIu64 ":", shared_generation(s));
	ck_assert_int_eq(strncmp(k1, want, strlen(want)), 0);
	ck_assert_uint_eq(strlen(k1), strlen(want) + 32);
	for (const char *p = k1 + strlen(want); *p; p++)
		ck_assert(strchr("0123456789abcdef", *p) != NULL);
	ck_assert(shared_key(s, false, "GET h /store2", k2));
	ck_assert_str_ne(k1, k2);
	ck_assert(!shared_key(s, true, "GET h /store", k2)); /* no fallback cluster */
	free(want);
	/* a long cache key still makes a short memcached key */
	char *longkey = xmalloc(10000);
	memset(longkey, 'x', 9999);
	longkey[9999] = '\0';
	ck_assert(shared_key(s, false, longkey, k2));
	ck_assert_uint_lt(strlen(k2), 250);
	free(longkey);

	/* too large for max_item_bytes: counted, not stored */
	cfg->mc_max_item_bytes = 1024;
	struct shared *small = shared_create(cfg);
	shared_refresh(small);
	char *big = xmalloc(2001);
	memset(big, 'b', 2000);
	big[2000] = '\0';
	struct entry *be = mk_entry("GET h /big", util_now(), "max-age=60", NULL, big);
	ck_assert_int_eq(shared_store(small, be, false, util_now()), SHARED_TOO_LARGE);
	ck_assert_uint_eq(stat_of(small, "store_skipped_too_large"), 1);
	ck_assert_ptr_null(shared_lookup(small, "GET h /big", &from));
	/* a stale response without validators is not worth a write */
	struct entry *st = mk_entry("GET h /stale", util_now() - 100, "max-age=10", NULL, "x");
	ck_assert_int_eq(shared_store(small, st, false, util_now()), SHARED_NOT_STORABLE);
	entry_unref(st);
	entry_unref(be);
	free(big);
	shared_destroy(small);
	entry_unref(e);
	shared_destroy(s);
	config_destroy(cfg);
}
END_TEST

START_TEST(test_never_older)
{
	struct config *cfg;
	struct shared *s = tier(mc_a.addr, NULL, &cfg);
	int64_t now = util_now();
	struct entry *mid = mk_entry("GET h /cas", now, "max-age=600", "\"m\"", "mid");
	struct entry *old = mk_entry("GET h /cas", now - 50, "max-age=600", "\"o\"", "old");
	struct entry *same = mk_entry("GET h /cas", now, "max-age=600", "\"s\"", "same");
	struct entry *late = mk_entry("GET h /cas", now + 5, "max-age=600", "\"l\"", "late");
	enum shared_source from;

	ck_assert_int_eq(shared_store(s, mid, false, now), SHARED_STORED);
	/* an older response, as an update or as a new store: never replaces the newer one */
	ck_assert_int_eq(shared_store(s, old, true, now), SHARED_NOT_NEWER);
	ck_assert_int_eq(shared_store(s, old, false, now), SHARED_NOT_NEWER);
	ck_assert_int_eq(shared_store(s, same, true, now), SHARED_NOT_NEWER);
	struct entry *d = shared_lookup(s, "GET h /cas", &from);
	ck_assert_str_eq(entry_etag(d), "\"m\"");
	entry_unref(d);
	ck_assert_uint_eq(stat_of(s, "cas_conflicts"), 3);
	/* the same second, but a later millisecond: newer */
	same->response_ms = 5;
	ck_assert_int_eq(shared_store(s, same, true, now), SHARED_STORED);
	d = shared_lookup(s, "GET h /cas", &from);
	ck_assert_str_eq(entry_etag(d), "\"s\"");
	ck_assert_int_eq(d->response_ms, 5);
	entry_unref(d);
	/* a newer one does */
	ck_assert_int_eq(shared_store(s, late, true, now), SHARED_STORED);
	d = shared_lookup(s, "GET h /cas", &from);
	ck_assert_str_eq(entry_etag(d), "\"l\"");
	ck_assert_int_eq(d->response_time, now + 5);
	entry_unref(d);
	/* a new store (add) that finds an older record replaces it through cas */
	struct entry *later = mk_entry("GET h /cas", now + 9, "max-age=600", "\"z\"", "z");
	ck_assert_int_eq(shared_store(s, later, false, now), SHARED_STORED);
	d = shared_lookup(s, "GET h /cas", &from);
	ck_assert_str_eq(entry_etag(d), "\"z\"");
	entry_unref(d);
	ck_assert_uint_eq(stat_of(s, "stores"), 4);
	entry_unref(later);
	entry_unref(mid);
	entry_unref(old);
	entry_unref(same);
	entry_unref(late);
	shared_destroy(s);
	config_destroy(cfg);
}
END_TEST

/* The CAS hook: another writer changes the record between our gets and our cas. */
struct interfere {
	memcached_st *raw;
	char mkey[SHARED_KEY_MAX];
	int times; /* how many more times to interfere */
	int calls;
};

static void
interfere_hook(void *arg)
{
	struct interfere *in = arg;

	in->calls++;
	if (in->times <= 0)
		return;
	in->times--;
	/* rewrite the same (old) record: only its CAS value changes */
	size_t len;
	uint32_t flags;
	memcached_return_t rc;
	char *v = memcached_get(in->raw, in->mkey, strlen(in->mkey), &len, &flags, &rc);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(memcached_set(in->raw, in->mkey, strlen(in->mkey), v, len, 600, 0),
	                 MEMCACHED_SUCCESS);
	free(v);
}

START_TEST(test_lost_race)
{
	struct config *cfg;
	struct shared *s = tier(mc_a.addr, NULL, &cfg);
	int64_t now = util_now();
	struct entry *v1 = mk_entry("GET h /race", now, "max-age=600", "\"1\"", "1");
	struct entry *v2 = mk_entry("GET h /race", now + 1, "max-age=600", "\"2\"", "2");
	struct entry *v3 = mk_entry("GET h /race", now + 2, "max-age=600", "\"3\"", "3");
	struct interfere in = {.raw = raw(&mc_a), .times = 1};
	enum shared_source from;

	ck_assert(shared_key(s, false, "GET h /race", in.mkey));
	ck_assert_int_eq(shared_store(s, v1, false, now), SHARED_STORED);
	shared_set_cas_hook(s, interfere_hook, &in);
	/* one lost race: retried, then stored */
	ck_assert_int_eq(shared_store(s, v2, true, now), SHARED_STORED);
	ck_assert_int_eq(in.calls, 2);
	ck_assert_uint_eq(stat_of(s, "cas_retries"), 1);
	ck_assert_uint_eq(stat_of(s, "cas_conflicts"), 0);
	struct entry *d = shared_lookup(s, "GET h /race", &from);
	ck_assert_str_eq(entry_etag(d), "\"2\"");
	entry_unref(d);
	/* lost every time: given up after SHARED_CAS_ATTEMPTS, both counted */
	in.times = 100;
	in.calls = 0;
	ck_assert_int_eq(shared_store(s, v3, true, now), SHARED_CONFLICT);
	ck_assert_int_eq(in.calls, SHARED_CAS_ATTEMPTS);
	ck_assert_uint_eq(stat_of(s, "cas_retries"), 1 + SHARED_CAS_ATTEMPTS - 1);
	ck_assert_uint_eq(stat_of(s, "cas_conflicts"), 1);
	d = shared_lookup(s, "GET h /race", &from);
	ck_assert_str_eq(entry_etag(d), "\"2\"");
	entry_unref(d);
	memcached_free(in.raw);
	entry_unref(v1);
	entry_unref(v2);
	entry_unref(v3);
	shared_destroy(s);
	config_destroy(cfg);
}
END_TEST

/* Many writers updating one key at once. */
struct racer {
	struct shared *s;
	int id;
	int64_t base;
};

enum { RACERS = 8, RACES = 40 };

static void *
racer_run(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < RACES; i++) {
		/* distinct response times, interleaved between the writers */
		int64_t t = r->base + i * RACERS + r->id;
		struct entry *e = mk_entry("GET h /many", t, "max-age=600", "\"x\"", "x");
		enum shared_store_result res = shared_store(r->s, e, true, r->base);
		ck_assert(res == SHARED_STORED || res == SHARED_NOT_NEWER ||
		          res == SHARED_CONFLICT);
		entry_unref(e);
	}
	return NULL;
}

START_TEST(test_many_writers)
{
	struct config *cfg;
	struct shared *s = tier(mc_a.addr, NULL, &cfg);
	pthread_t th[RACERS];
	struct racer r[RACERS];
	int64_t base = util_now();
	enum shared_source from;

	for (int i = 0; i < RACERS; i++) {
		r[i] = (struct racer){s, i, base};
		ck_assert_int_eq(pthread_create(&th[i], NULL, racer_run, &r[i]), 0);
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(th[i], NULL);
	struct entry *d = shared_lookup(s, "GET h /many", &from);
	ck_assert_ptr_nonnull(d);
	/* the newest response of all is the one that stayed */
	ck_assert_int_eq(d->response_time, base + (RACES - 1) * RACERS + RACERS - 1);
	entry_unref(d);
	/* every write is accounted for: stored, or knowingly not (a conflict) */
	ck_assert_uint_eq(stat_of(s, "stores") + stat_of(s, "cas_conflicts"), RACERS * RACES);
	ck_assert_uint_eq(stat_of(s, "errors"), 0);
	shared_destroy(s);
	config_destroy(cfg);
}
END_TEST

/* memcached's bytes_read now (a "stats" request on r adds its own 7 bytes) */
static uint64_t
mc_bytes_read(memcached_st *r)
{
	memcached_return_t rc;
	memcached_stat_st *st = memcached_stat(r, NULL, &rc);
	ck_assert_int_eq(rc, MEMCACHED_SUCCESS);
	char *v = memcached_stat_get_value(r, st, "bytes_read", &rc);
	ck_assert_ptr_nonnull(v);
	uint64_t n = strtoull(v, NULL, 10);
	free(v);
	memcached_stat_free(r, st);
	return n;
}

/*
 * A lookup is one binary request (GETK: 24 header bytes and the key) answered by one
 * response, hit or miss: no NOOP after it (memcached_mget sends GETKQ then NOOP in two
 * writes, and memcached may answer in two packets). An empty value is a rejected record.
 */
START_TEST(test_lookup_one_request)
{
	struct config *cfg;
	struct shared *s = tier(mc_a.addr, NULL, &cfg);
	memcached_st *r = raw(&mc_a);
	char mkey[SHARED_KEY_MAX];
	enum shared_source from;
	struct entry *e = mk_entry("GET h /one", util_now(), "max-age=60", "\"1\"", "body-1");

	ck_assert(shared_key(s, false, "GET h /one", mkey));
	uint64_t stats_cost = mc_bytes_read(r);
	stats_cost = mc_bytes_read(r) - stats_cost; /* what one stats request reads */
	ck_assert_int_eq(shared_store(s, e, false, util_now()), SHARED_STORED);
	/* a hit */
	uint64_t before = mc_bytes_read(r);
	struct entry *d = shared_lookup(s, "GET h /one", &from);
	uint64_t after = mc_bytes_read(r);
	ck_assert_ptr_nonnull(d);
	ck_assert(memcmp(entry_body(d), "body-1", 6) == 0);
	ck_assert_uint_eq(after - before - stats_cost, 24 + strlen(mkey));
	entry_unref(d);
	/* a miss */
	ck_assert(shared_key(s, false, "GET h /none", mkey));
	before = mc_bytes_read(r);
	ck_assert_ptr_null(shared_lookup(s, "GET h /none", &from));
	after = mc_bytes_read(r);
	ck_assert_uint_eq(after - before - stats_cost, 24 + strlen(mkey));
	ck_assert_uint_eq(stat_of(s, "hits"), 1);
	ck_assert_uint_eq(stat_of(s, "misses"), 1);
	ck_assert_uint_eq(stat_of(s, "errors"), 0);
	/* an empty value: found, rejected, a miss */
	ck_assert(shared_key(s, false, "GET h /empty", mkey));
	ck_assert_int_eq(memcached_set(r, mkey, strlen(mkey), "", 0, 600, 0), MEMCACHED_SUCCESS);
	ck_assert_ptr_null(shared_lookup(s, "GET h /empty", &from));
	ck_assert_int_eq(from, SHARED_NONE);
	ck_assert_uint_eq(stat_of(s, "decode_rejected"), 1);
	ck_assert_uint_eq(stat_of(s, "misses"), 2);
	ck_assert_uint_eq(stat_of(s, "errors"), 0);
	/* the handle is left clean: the next operations on it still work */
	struct entry *e2 = mk_entry("GET h /two", util_now(), "max-age=60", NULL, "body-2");
	ck_assert_int_eq(shared_store(s, e2, false, util_now()), SHARED_STORED);
	d = shared_lookup(s, "GET h /two", &from);
	ck_assert_ptr_nonnull(d);
	ck_assert(memcmp(entry_body(d), "body-2", 6) == 0);
	entry_unref(d);
	entry_unref(e2);
	entry_unref(e);
	memcached_free(r);
	shared_destroy(s);
	config_destroy(cfg);
}
END_TEST

START_TEST(test_rejected_records)
{
	struct config *cfg;
	struct shared *s = tier(mc_a.addr, NULL, &cfg);
	memcached_st *r = raw(&mc_a);
	char mkey[SHARED_KEY_MAX];
	enum shared_source from;

	ck_assert(shared_key(s, false, "GET h /planted", mkey));
	/* garbage */
	ck_assert_int_eq(memcached_set(r, mkey, strlen(mkey), "garbage", 7, 600, 0),
	                 MEMCACHED_SUCCESS);
	ck_assert_ptr_null(shared_lookup(s, "GET h /planted", &from));
	ck_assert_uint_eq(stat_of(s, "decode_rejected"), 1);
	/* a valid record of another key under this key (a collision, or foreign data) */
	struct entry *other = mk_entry("GET h /other", util_now(), "max-age=60", NULL, "other");
	struct buf rec = {0};
	record_encode(other, &rec);
	ck_assert_int_eq(memcached_set(r, mkey, strlen(mkey), rec.data, rec.len, 600, 0),
	                 MEMCACHED_SUCCESS);
	ck_assert_ptr_null(shared_lookup(s, "GET h /planted", &from));
	ck_assert_uint_eq(stat_of(s, "decode_rejected"), 2);
	ck_assert_uint_eq(stat_of(s, "misses"), 2);
	/* a record from the future format */
	rec.data[4] = 9;
	ck_assert_int_eq(memcached_set(r, mkey, strlen(mkey), rec.data, rec.len, 600, 0),
	                 MEMCACHED_SUCCESS);
	ck_assert_ptr_null(shared_lookup(s, "GET h /planted", &from));
	ck_assert_uint_eq(stat_of(s, "decode_rejected"), 3);
	/* our own write replaces what is not ours */
	struct entry *mine = mk_entry("GET h /planted", util_now(), "max-age=60", NULL, "mine");
	ck_assert_int_eq(shared_store(s, mine, false, util_now()), SHARED_STORED);
	struct entry *d = shared_lookup(s, "GET h /planted", &from);
	ck_assert_ptr_nonnull(d);
	ck_assert(memcmp(entry_body(d), "mine", 4) == 0);
	entry_unref(d);
	entry_unref(mine);
	entry_unref(other);
	buf_free(&rec);
	memcached_free(r);
	shared_destroy(s);
	config_destroy(cfg);
}
END_TEST

START_TEST(test_delete)
{
	struct config *cfg;
	struct shared *s = tier(mc_a.addr, NULL, &cfg);
	struct entry *e = mk_entry("GET h /del", util_now(), "max-age=60", NULL, "d");
	enum shared_source from;

	ck_assert_int_eq(shared_store(s, e, false, util_now()), SHARED_STORED);
	ck_assert(shared_delete(s, "GET h /del"));
	ck_assert_ptr_null(shared_lookup(s, "GET h /del", &from));
	ck_assert(!shared_delete(s, "GET h /del"));
	entry_unref(e);
	shared_destroy(s);
	config_destroy(cfg);
}
END_TEST

static int watch_calls;

static void
watch_changed(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&watch_calls, 1, __ATOMIC_SEQ_CST);
}

START_TEST(test_generations)
{
	struct config *ca, *cb;
	struct shared *a = tier(mc_b.addr, NULL, &ca), *b = tier(mc_b.addr, NULL, &cb);
	struct entry *e = mk_entry("GET h /gen", util_now(), "max-age=600", NULL, "g");
	enum shared_source from;
	uint64_t g0 = shared_generation(a);

	/* two proxies on one cluster agree on the generation (created from the clock) */
	ck_assert_uint_eq(shared_generation(b), g0);
	ck_assert_uint_gt(g0, UINT64_C(1500000000000));
	ck_assert(!shared_refresh(b)); /* nothing changed */
	ck_assert_int_eq(shared_store(a, e, false, util_now()), SHARED_STORED);
	struct entry *d = shared_lookup(b, "GET h /gen", &from);
	ck_assert_ptr_nonnull(d);
	entry_unref(d);
	/* purge-all on a: its keys change at once; b notices at its next refresh */
	ck_assert(shared_purge_all(a));
	ck_assert_uint_eq(shared_generation(a), g0 + 1);
	ck_assert_ptr_null(shared_lookup(a, "GET h /gen", &from));
	ck_assert(shared_refresh(b));
	ck_assert_uint_eq(shared_generation(b), g0 + 1);
	ck_assert_ptr_null(shared_lookup(b, "GET h /gen", &from));
	/* the watch thread reports a change within its interval */
	watch_calls = 0;
	shared_watch(b, 20, watch_changed, NULL);
	ck_assert(shared_purge_all(a));
	for (int i = 0; i < 500 && __atomic_load_n(&watch_calls, __ATOMIC_SEQ_CST) == 0; i++)
		usleep(10000);
	ck_assert_int_eq(__atomic_load_n(&watch_calls, __ATOMIC_SEQ_CST), 1);
	ck_assert_uint_eq(shared_generation(b), g0 + 2);
	shared_unwatch(b);
	/* memcached loses everything (flush_all): a new generation, never an old one again */
	memcached_st *r = raw(&mc_b);
	ck_assert_int_eq(memcached_flush(r, 0), MEMCACHED_SUCCESS);
	memcached_free(r);
	ck_assert(shared_refresh(a));
	ck_assert_uint_gt(shared_generation(a), g0 + 2);
	ck_assert(shared_refresh(b));
	ck_assert_uint_eq(shared_generation(b), shared_generation(a));
	/* purges run the generation ahead of the clock (one each); a flush_all then must not bring
	 * back a generation that was used already */
	r = raw(&mc_b);
	char gkey[64], gval[32];
	snprintf(gkey, sizeof(gkey), "%sgen", ca->mc_key_prefix);
	uint64_t ahead = shared_generation(a) + UINT64_C(86400000); /* a day of purges ahead */
	int glen = snprintf(gval, sizeof(gval), "%" PRIu64, ahead);
	ck_assert_int_eq(memcached_set(r, gkey, strlen(gkey), gval, (size_t)glen, 0, 0),
	                 MEMCACHED_SUCCESS);
	ck_assert(shared_refresh(a));
	ck_assert_uint_eq(shared_generation(a), ahead);
	ck_assert_int_eq(memcached_flush(r, 0), MEMCACHED_SUCCESS);
	memcached_free(r);
	ck_assert(shared_refresh(a));
	ck_assert_uint_gt(shared_generation(a), ahead);
	entry_unref(e);
	shared_destroy(a);
	shared_destroy(b);
	config_destroy(ca);
	config_destroy(cb);
}
END_TEST

START_TEST(test_server_down)
{
	struct mc gone = {0};
	struct config *cfg;
	enum shared_source from;

	mc_start(&gone, 0);
	struct shared *s = tier(gone.addr, NULL, &cfg);
	struct entry *e = mk_entry("GET h /down", util_now(), "max-age=60", NULL, "d");
	mc_stop(&gone);
	/* the server is gone: a miss, an error, the server marked down */
	int64_t t0 = util_monotonic_ms();
	ck_assert_ptr_null(shared_lookup(s, "GET h /down", &from));
	ck_assert_int_lt(util_monotonic_ms() - t0, 1000);
	ck_assert_uint_eq(stat_of(s, "errors"), 1);
	struct buf b = {0};
	shared_stats_json(s, &b);
	ck_assert_ptr_nonnull(strstr(b.data, "\"state\": \"down\""));
	buf_free(&b);
	/* while it is down nothing is tried: no more errors, writes not done */
	ck_assert_ptr_null(shared_lookup(s, "GET h /down", &from));
	ck_assert_int_eq(shared_store(s, e, false, util_now()), SHARED_UNAVAILABLE);
	ck_assert(!shared_delete(s, "GET h /down"));
	ck_assert_uint_eq(stat_of(s, "errors"), 1);
	ck_assert_uint_eq(stat_of(s, "misses"), 2);
	entry_unref(e);
	shared_destroy(s);
	config_destroy(cfg);
}
END_TEST

START_TEST(test_fallback)
{
	struct config *co, *cm, *cn;
	/* old cluster: mc_a; new cluster: mc_b */
	struct shared *old = tier(mc_a.addr, NULL, &co);
	struct shared *mig = tier(mc_b.addr, mc_a.addr, &cm);
	struct shared *neu = tier(mc_b.addr, NULL, &cn);
	int64_t now = util_now();
	struct entry *e = mk_entry("GET h /mig", now, "max-age=600", "\"o\"", "old data");
	enum shared_source from;

	ck_assert_int_eq(shared_store(old, e, false, now), SHARED_STORED);
	ck_assert_ptr_null(shared_lookup(neu, "GET h /mig", &from));
	/* read new, then old: found in the old cluster, copied into the new one */
	struct entry *d = shared_lookup(mig, "GET h /mig", &from);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(from, SHARED_FALLBACK);
	ck_assert(shared_warm(mig, d, now));
	ck_assert(!shared_warm(mig, d, now)); /* already there: add does not replace */
	entry_unref(d);
	ck_assert_uint_eq(stat_of(mig, "warmed"), 1);
	d = shared_lookup(neu, "GET h /mig", &from);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(from, SHARED_SERVERS);
	ck_assert_int_eq(d->response_time, now);
	entry_unref(d);
	d = shared_lookup(mig, "GET h /mig", &from);
	ck_assert_int_eq(from, SHARED_SERVERS); /* the new cluster answers now */
	entry_unref(d);
	/* writes go to the new cluster only */
	struct entry *n = mk_entry("GET h /mig-new", now, "max-age=600", NULL, "new");
	ck_assert_int_eq(shared_store(mig, n, false, now), SHARED_STORED);
	ck_assert_ptr_null(shared_lookup(old, "GET h /mig-new", &from));
	d = shared_lookup(neu, "GET h /mig-new", &from);
	ck_assert_ptr_nonnull(d);
	entry_unref(d);
	/* deletes go to both */
	ck_assert(shared_delete(mig, "GET h /mig"));
	ck_assert_ptr_null(shared_lookup(old, "GET h /mig", &from));
	ck_assert_ptr_null(shared_lookup(neu, "GET h /mig", &from));
	/* purges go to both: each cluster's generation moves */
	uint64_t g_old = shared_generation(old), g_new = shared_generation(neu);
	ck_assert(shared_purge_all(mig));
	ck_assert(shared_refresh(old));
	ck_assert(shared_refresh(neu));
	ck_assert_uint_eq(shared_generation(old), g_old + 1);
	ck_assert_uint_eq(shared_generation(neu), g_new + 1);
	/* warm-up can be switched off */
	cm->mc_warm_from_fallback = false;
	struct shared *cold = shared_create(cm);
	shared_refresh(cold);
	ck_assert_int_eq(shared_store(old, e, false, now), SHARED_STORED);
	d = shared_lookup(cold, "GET h /mig", &from);
	ck_assert_int_eq(from, SHARED_FALLBACK);
	ck_assert(!shared_warm(cold, d, now));
	entry_unref(d);
	shared_destroy(cold);
	entry_unref(n);
	entry_unref(e);
	shared_destroy(old);
	shared_destroy(mig);
	shared_destroy(neu);
	config_destroy(co);
	config_destroy(cm);
	config_destroy(cn);
}
END_TEST

static Suite *
shared_suite(void)
{
	Suite *s = suite_create("shared");
	TCase *off = tcase_create("offline");
	TCase *on = tcase_create("memcached");

	tcase_add_test(off, test_health_breaker);
	tcase_add_test(off, test_health_stale_answer);
	tcase_add_test(off, test_expiry);
	tcase_add_test(off, test_ketama_remap);
	tcase_add_test(off, test_ketama_weights);
	tcase_add_test(off, test_disabled);
	tcase_add_test(off, test_config_fixture);
	tcase_add_test(off, test_worker_queues);
	tcase_add_test(off, test_worker_stop);
	suite_add_tcase(s, off);

	tcase_add_unchecked_fixture(on, mc_setup, mc_teardown);
	tcase_set_timeout(on, 30);
	tcase_add_test(on, test_store_lookup);
	tcase_add_test(on, test_never_older);
	tcase_add_test(on, test_lost_race);
	tcase_add_test(on, test_many_writers);
	tcase_add_test(on, test_lookup_one_request);
	tcase_add_test(on, test_rejected_records);
	tcase_add_test(on, test_delete);
	tcase_add_test(on, test_generations);
	tcase_add_test(on, test_server_down);
	tcase_add_test(on, test_fallback);
	suite_add_tcase(s, on);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(shared_suite());
	int failed;

	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
