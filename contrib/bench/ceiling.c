/*
 * ceiling: the fastest answer libmicrohttpd can give, the ceiling that tiercache's hit path is
 * measured against. Every request is answered from one of two fixed buffers (a target whose
 * path starts with "/l" gets the large one, any other the small one), created once at start as
 * MHD responses and queued again for every request, so no allocation and no copy is made per
 * request. The response carries the same kind of headers a cached API answer has (ETag,
 * Cache-Control, Content-Type); MHD adds Date and frames the body.
 *
 * Tuned as DESIGN.md's library notes say: the epoll thread pool sized to the cores,
 * MHD_USE_TURBO, a small per-connection memory limit (the pool is cleared after every
 * keep-alive request), and the response queued on the second call of the access handler (a
 * response queued on the first call forces Connection: close in libmicrohttpd 0.9.75).
 *
 * Built by contrib/bench/run.sh with gcc directly; not part of the installed programs.
 * Usage: ceiling [-p PORT] [-P PORTFILE] [-s SMALL] [-l LARGE] [-t THREADS] [-m MEMLIMIT]
 * Listens on 127.0.0.1 only. Runs until SIGTERM or SIGINT.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

struct ceiling {
	struct MHD_Response *small;
	struct MHD_Response *large;
};

static enum MHD_Result
ceiling_on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                   const char *version, const char *upload_data, size_t *upload_data_size,
                   void **con_cls)
{
	static int marker;
	struct ceiling *c = cls;

	(void)method;
	(void)version;
	(void)upload_data;
	if (*con_cls == NULL) {
		*con_cls = &marker; /* first call: answering now would force Connection: close */
		return MHD_YES;
	}
	*upload_data_size = 0;
	return MHD_queue_response(conn, MHD_HTTP_OK, url[1] == 'l' ? c->large : c->small);
}

static struct MHD_Response *
ceiling_response(size_t size, const char *etag)
{
	char *body = malloc(size ? size : 1);
	struct MHD_Response *r;

	if (body == NULL)
		abort();
	for (size_t i = 0; i < size; i++)
		body[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
	r = MHD_create_response_from_buffer(size, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
		abort();
	MHD_add_response_header(r, "Content-Type", "application/octet-stream");
	MHD_add_response_header(r, "Cache-Control", "max-age=3600");
	MHD_add_response_header(r, "ETag", etag);
	return r;
}

int
main(int argc, char **argv)
{
	struct ceiling c;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *di;
	struct sockaddr_in sin;
	const char *portfile = NULL;
	unsigned port = 0, threads = 0;
	size_t small = 1024, large = 65536, memlimit = 8192;
	sigset_t stop;
	int opt, sig;

	while ((opt = getopt(argc, argv, "p:P:s:l:t:m:")) != -1) {
		switch (opt) {
		case 'p':
			port = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'P':
			portfile = optarg;
			break;
		case 's':
			small = strtoul(optarg, NULL, 10);
			break;
		case 'l':
			large = strtoul(optarg, NULL, 10);
			break;
		case 't':
			threads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			memlimit = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: ceiling [-p PORT] [-P PORTFILE] [-s SMALL] "
			                "[-l LARGE] [-t THREADS] [-m MEMLIMIT]\n");
			return 2;
		}
	}
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	/* SIGTERM and SIGINT are blocked in every thread (MHD's inherit the mask) and taken by
	 * sigwait below: no window where a signal could be missed */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	c.small = ceiling_response(small, "\"ceiling-small\"");
	c.large = ceiling_response(large, "\"ceiling-large\"");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_USE_ERROR_LOG,
	                     (uint16_t)port, NULL, NULL, ceiling_on_request, &c,
	                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, memlimit,
	                     MHD_OPTION_CONNECTION_LIMIT, 10000U, MHD_OPTION_CONNECTION_TIMEOUT,
	                     30U, threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
	                     threads, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "ceiling: cannot listen on 127.0.0.1:%u\n", port);
		return 1;
	}
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	port = di ? di->port : port;
	printf("port %u\n", port);
	fflush(stdout);
	if (portfile != NULL) {
		char tmp[4096];
		FILE *f;
		snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
		f = fopen(tmp, "w");
		if (f == NULL || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 ||
		    rename(tmp, portfile) != 0) {
			fprintf(stderr, "ceiling: cannot write %s\n", portfile);
			MHD_stop_daemon(d);
			return 1;
		}
	}
	sigwait(&stop, &sig);
	MHD_stop_daemon(d);
	MHD_destroy_response(c.small);
	MHD_destroy_response(c.large);
	return 0;
}
