/*
 * fault-origin: an origin that breaks HTTP on purpose, for the origin-fault tests. It reads
 * one request per connection (up to the blank line), logs its path to stdout ("GET /path"),
 * and answers according to the path (the query is ignored):
 *   /ok                a valid 200 (Cache-Control: max-age=60, Content-Length: 2, "ok")
 *   /close             closes at once, without a byte of answer
 *   /reset-headers     half a header section, then a reset (RST)
 *   /reset-body        the headers announce 100000 bytes; 1000 are sent, then a reset
 *   /short-body        the headers announce 1000 bytes; 500 are sent, then an orderly close
 *   /garbage           bytes that are not HTTP, then a close
 *   /status-only       a status line and nothing else, then a close
 *   /bad-status        a status line whose code is not three digits
 *   /two-lengths       two different Content-Length fields
 *   /bad-chunk         chunked, with a chunk size that is not hexadecimal
 *   /short-chunked     chunked, cut before the last chunk, then a close
 *   /huge-header       one header line of 300000 bytes
 *   /never             reads the request and never answers (until the client goes away)
 *   /stall-body        the headers announce 5000000 bytes; 2000000 are sent, then nothing
 *                      more (until the client goes away)
 *   anything else      404
 * Every answer that has a header section says Cache-Control: max-age=60, so a cache that
 * took a broken answer for a good one would store it. One thread per connection; nothing is
 * shared but stdout (line-buffered, one write per line).
 *
 * Usage: fault-origin [-P PORTFILE]; listens on 127.0.0.1, on a free port, which it prints
 * ("port N") and writes to PORTFILE (through a rename). Runs until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define FAULT_MAX_REQUEST 65536

static void
fault_send(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void
fault_puts(int fd, const char *s)
{
	fault_send(fd, s, strlen(s));
}

/* n bytes of filler. */
static void
fault_fill(int fd, size_t n)
{
	char buf[4096];

	memset(buf, 'x', sizeof(buf));
	while (n > 0) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);
		fault_send(fd, buf, k);
		n -= k;
	}
}

/* Closes with a reset instead of a FIN. */
static void
fault_reset(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* Reads up to the end of the header section; the path (without query) into path. */
static int
fault_read_request(int fd, char *path, size_t path_len)
{
	char *buf = malloc(FAULT_MAX_REQUEST + 1);
	size_t n = 0;

	if (buf == NULL)
		return -1;
	for (;;) {
		ssize_t r = recv(fd, buf + n, FAULT_MAX_REQUEST - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			return -1;
		}
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
		if (n == FAULT_MAX_REQUEST) {
			free(buf);
			return -1;
		}
	}
	const char *sp = strchr(buf, ' ');
	int method_len = sp ? (int)(sp - buf) : 0;
	size_t i = 0;
	if (sp != NULL)
		for (sp++; *sp != ' ' && *sp != '?' && *sp != '\r' && *sp && i + 1 < path_len; sp++)
			path[i++] = *sp;
	path[i] = '\0';
	printf("%.*s %s\n", method_len, buf, path);
	free(buf);
	return 0;
}

#define FAULT_HEAD "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Type: text/plain\r\n"

static void *
fault_connection(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char path[256];
	char junk[4096];

	if (fault_read_request(fd, path, sizeof(path)) != 0) {
		close(fd);
		return NULL;
	}
	if (strcmp(path, "/ok") == 0) {
		fault_puts(fd, FAULT_HEAD "Content-Length: 2\r\nConnection: close\r\n\r\nok");
	} else if (strcmp(path, "/close") == 0) {
		/* nothing */
	} else if (strcmp(path, "/reset-headers") == 0) {
		fault_puts(fd, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Le");
		usleep(50000);
		fault_reset(fd);
		return NULL;
	} else if (strcmp(path, "/reset-body") == 0) {
		fault_puts(fd, FAULT_HEAD "Content-Length: 100000\r\n\r\n");
		fault_fill(fd, 1000);
		usleep(50000);
		fault_reset(fd);
		return NULL;
	} else if (strcmp(path, "/short-body") == 0) {
		fault_puts(fd, FAULT_HEAD "Content-Length: 1000\r\n\r\n");
		fault_fill(fd, 500);
	} else if (strcmp(path, "/garbage") == 0) {
		fault_send(fd, "\x00\x01\x02\xff this is not HTTP at all\r\n\r\n", 33);
	} else if (strcmp(path, "/status-only") == 0) {
		fault_puts(fd, "HTTP/1.1 200 OK\r\n");
	} else if (strcmp(path, "/bad-status") == 0) {
		fault_puts(fd,
		           "HTTP/1.1 2x0 OK\r\nCache-Control: max-age=60\r\nContent-Length: 2\r\n"
		           "Connection: close\r\n\r\nok");
	} else if (strcmp(path, "/two-lengths") == 0) {
		fault_puts(fd, FAULT_HEAD "Content-Length: 2\r\nContent-Length: 3\r\n"
		                          "Connection: close\r\n\r\nok!");
	} else if (strcmp(path, "/bad-chunk") == 0) {
		fault_puts(fd, FAULT_HEAD "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
		                          "2\r\nok\r\nzz\r\nbad\r\n0\r\n\r\n");
	} else if (strcmp(path, "/short-chunked") == 0) {
		fault_puts(fd, FAULT_HEAD "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n10\r\nabc");
	} else if (strcmp(path, "/huge-header") == 0) {
		fault_puts(fd, FAULT_HEAD "X-Huge: ");
		fault_fill(fd, 300000);
		fault_puts(fd, "\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
	} else if (strcmp(path, "/stall-body") == 0) {
		fault_puts(fd, FAULT_HEAD "Content-Length: 5000000\r\n\r\n");
		fault_fill(fd, 2000000);
		while (recv(fd, junk, sizeof(junk), 0) > 0)
			;
	} else if (strcmp(path, "/never") == 0) {
		while (recv(fd, junk, sizeof(junk), 0) > 0)
			;
	} else {
		fault_puts(
		        fd,
		        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	}
	shutdown(fd, SHUT_WR);
	/* let the client read everything before the close (a close with unread input resets) */
	struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (recv(fd, junk, sizeof(junk), 0) > 0)
		;
	close(fd);
	return NULL;
}

static int
fault_write_portfile(const char *path, unsigned port)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "fault-origin: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void *
fault_wait_signal(void *arg)
{
	int sig = 0;

	sigwait(arg, &sig);
	exit(0);
}

int
main(int argc, char **argv)
{
	const char *portfile = NULL;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int opt, lfd, one = 1;
	sigset_t sigs;

	while ((opt = getopt(argc, argv, "P:")) != -1) {
		if (opt != 'P') {
			fprintf(stderr, "usage: fault-origin [-P PORTFILE]\n");
			return 2;
		}
		portfile = optarg;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 128) != 0 || getsockname(lfd, (struct sockaddr *)&sin, &len) != 0) {
		perror("fault-origin: listen");
		return 1;
	}
	printf("port %u\n", (unsigned)ntohs(sin.sin_port));
	if (portfile != NULL && fault_write_portfile(portfile, ntohs(sin.sin_port)) != 0)
		return 1;

	/* SIGTERM/SIGINT end the process through sigwait in a thread of their own, so that the
	 * accept loop needs no signal handling; the connection threads die with the process. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	pthread_t waiter;
	if (pthread_create(&waiter, NULL, fault_wait_signal, &sigs) != 0)
		return 1;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			perror("fault-origin: accept");
			return 1;
		}
		if (pthread_create(&t, NULL, fault_connection, (void *)(intptr_t)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}
