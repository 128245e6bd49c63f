/*
 * rawclient: a raw TCP client for the hostile-input tests, which need bytes curl will not send
 * (bare CR, NUL, broken framing, garbage) and clients that misbehave (never finish their
 * headers, vanish in the middle of a response). Plain POSIX sockets, one thread, no state.
 *
 * Usage:
 *   rawclient [-T MS] [-c N] [-r] PORT < REQUEST
 *     Connects to 127.0.0.1:PORT, sends stdin's bytes as they are, then prints everything the
 *     server answers until it closes the connection or MS milliseconds (default 5000) pass
 *     without a byte. With -c N, stops reading after N bytes of the answer and closes (-r: with
 *     a reset, SO_LINGER 0, instead of an orderly close). Exit status: 0 when the server
 *     closed the connection (or -c N was reached), 4 when it answered but kept the
 *     connection open for MS more, 3 when it stayed silent for MS, 2 on a local error.
 *   rawclient -s N [-H S] PORT < PARTIAL
 *     Slow clients: opens N connections, sends stdin's bytes on each (a request that never
 *     ends) and holds them for up to S seconds (default 30). Prints "ready N" once every
 *     connection is open and its bytes sent, then, when every connection has been closed by
 *     the server or S seconds have passed, "closed C of N" (C: closed by the server).
 *     Exit status 0 when all N were closed by the server, 1 otherwise.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int
rawclient_connect(unsigned port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
rawclient_send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1; /* the server may have answered and closed already */
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static char *
rawclient_read_stdin(size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	ssize_t r;

	if (b == NULL)
		return NULL;
	while ((r = read(0, b + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap) {
			char *nb = realloc(b, cap * 2);
			if (nb == NULL) {
				free(b);
				return NULL;
			}
			b = nb;
			cap *= 2;
		}
	}
	*len = n;
	return b;
}

static double
rawclient_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
rawclient_one(unsigned port, const char *req, size_t len, int timeout_ms, long cut, int reset)
{
	char buf[65536];
	long got = 0;
	int fd = rawclient_connect(port);

	if (fd < 0) {
		perror("rawclient: connect");
		return 2;
	}
	(void)rawclient_send_all(fd, req, len);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int rc = poll(&p, 1, timeout_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0) {
			close(fd);
			fflush(stdout);
			return got > 0 ? 4 : 3;
		}
		size_t want = sizeof(buf);
		if (cut >= 0 && (size_t)(cut - got) < want)
			want = (size_t)(cut - got);
		ssize_t r = want > 0 ? recv(fd, buf, want, 0) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* closed (or reset) by the server, or -c reached */
		fwrite(buf, 1, (size_t)r, stdout);
		got += r;
		if (cut >= 0 && got >= cut)
			break;
	}
	if (reset) {
		struct linger l = {.l_onoff = 1, .l_linger = 0};
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	close(fd);
	fflush(stdout);
	return 0;
}

static int
rawclient_slow(unsigned port, const char *req, size_t len, int n, int hold_s)
{
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	int closed = 0, open_n = 0;
	double end;
	char buf[4096];

	if (p == NULL)
		return 2;
	for (int i = 0; i < n; i++) {
		p[i].fd = rawclient_connect(port);
		if (p[i].fd < 0) {
			perror("rawclient: connect");
			return 2;
		}
		p[i].events = POLLIN;
		(void)rawclient_send_all(p[i].fd, req, len);
		open_n++;
	}
	printf("ready %d\n", n);
	fflush(stdout);
	end = rawclient_now() + hold_s;
	while (open_n > 0) {
		double left = end - rawclient_now();
		if (left <= 0)
			break;
		int rc = poll(p, (nfds_t)n, (int)(left * 1000) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			ssize_t r = recv(p[i].fd, buf, sizeof(buf), 0);
			if (r > 0)
				continue; /* an answer (e.g. 408): the close follows */
			close(p[i].fd);
			p[i].fd = -1;
			open_n--;
			closed++;
		}
	}
	for (int i = 0; i < n; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	printf("closed %d of %d\n", closed, n);
	free(p);
	return closed == n ? 0 : 1;
}

static void
rawclient_usage(void)
{
	fprintf(stderr, "usage: rawclient [-T MS] [-c N] [-r] PORT < REQUEST\n"
	                "       rawclient -s N [-H SECONDS] PORT < PARTIAL-REQUEST\n");
}

int
main(int argc, char **argv)
{
	int timeout_ms = 5000, slow = 0, hold_s = 30, reset = 0, opt, rc;
	long cut = -1;
	size_t len = 0;
	char *req;

	while ((opt = getopt(argc, argv, "T:c:rs:H:")) != -1) {
		switch (opt) {
		case 'T':
			timeout_ms = atoi(optarg);
			break;
		case 'c':
			cut = atol(optarg);
			break;
		case 'r':
			reset = 1;
			break;
		case 's':
			slow = atoi(optarg);
			break;
		case 'H':
			hold_s = atoi(optarg);
			break;
		default:
			rawclient_usage();
			return 2;
		}
	}
	if (optind + 1 != argc || atoi(argv[optind]) <= 0) {
		rawclient_usage();
		return 2;
	}
	req = rawclient_read_stdin(&len);
	if (req == NULL)
		return 2;
	if (slow > 0)
		rc = rawclient_slow((unsigned)atoi(argv[optind]), req, len, slow, hold_s);
	else
		rc = rawclient_one((unsigned)atoi(argv[optind]), req, len, timeout_ms, cut, reset);
	free(req);
	return rc;
}
