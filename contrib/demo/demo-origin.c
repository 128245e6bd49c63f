/*
 * demo-origin: a small JSON API to put tiercache in front of (README's first command).
 *
 *   demo-origin [-p PORT]      listens on 127.0.0.1:PORT (default 9000) until SIGINT/SIGTERM
 *
 *   GET /api/products          the product list      Cache-Control: public, max-age=10
 *   GET /api/products/<id>     one product (404 for an unknown id), cached the same way
 *   GET /api/time              the current time      Cache-Control: no-store
 *
 * Product answers carry a strong ETag (XXH3 of the body) and a Last-Modified (the time the
 * demo started), and answer If-None-Match / If-Modified-Since with 304, so a cache can
 * revalidate cheaply. Every request that reaches the demo is logged to stderr as one line
 * ("demo-origin: GET /api/products/3 -> 200"): put tiercache in front and watch how few do.
 *
 * The product bodies are built once at start-up and never change, so request handling reads
 * shared data without locks; libmicrohttpd runs the handler in its internal thread.
 */

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <xxhash.h>

#include "http.h"
#include "util.h"

#define DEFAULT_PORT 9000
#define PRODUCT_CC   "public, max-age=10"

/* The catalogue: a static table, as a real API would read it from its database. */
struct product {
	unsigned id;
	const char *name;
	const char *category;
	unsigned price_cents;
	unsigned stock;
};

static const struct product products[] = {
        {1, "Espresso beans, 1 kg", "coffee", 1850, 42},
        {2, "Filter coffee, 500 g", "coffee", 990, 17},
        {3, "Green tea, 100 g", "tea", 650, 80},
        {4, "Ceramic pour-over dripper", "equipment", 2400, 9},
        {5, "Burr grinder", "equipment", 12900, 4},
        {6, "Milk frother", "equipment", 3450, 0},
        {7, "Paper filters, 100 pcs", "accessories", 399, 250},
        {8, "Travel mug, 350 ml", "accessories", 1590, 31},
        {9, "Chai spice blend, 200 g", "tea", 720, 55},
        {10, "Barista course voucher", "gifts", 7500, 12},
};

#define NPRODUCTS TC_ARRAY_LEN(products)

/* A prepared answer: the JSON body and its validators. */
struct doc {
	char *body;
	size_t len;
	char etag[24]; /* "xxxxxxxxxxxxxxxx" with the quotes */
};

static struct doc list_doc;
static struct doc product_docs[NPRODUCTS];
static int64_t started_at; /* Last-Modified of every product document */
static char started_at_http[30];

static void
product_json(struct buf *b, const struct product *p)
{
	buf_printf(b, "{\"id\":%u,\"name\":", p->id);
	buf_json_string(b, p->name);
	buf_puts(b, ",\"category\":");
	buf_json_string(b, p->category);
	buf_printf(b, ",\"price\":\"%u.%02u\",\"currency\":\"EUR\",\"in_stock\":%u}",
	           p->price_cents / 100, p->price_cents % 100, p->stock);
}

/* Takes the buffer's bytes as the document's body and derives its strong ETag. */
static void
doc_finish(struct doc *d, struct buf *b)
{
	buf_puts(b, "\n");
	d->len = b->len;
	d->body = buf_steal(b, NULL);
	snprintf(d->etag, sizeof(d->etag), "\"%016" PRIx64 "\"",
	         (uint64_t)XXH3_64bits(d->body, d->len));
}

static void
docs_build(void)
{
	struct buf b = {0};

	buf_puts(&b, "{\"products\":[");
	for (size_t i = 0; i < NPRODUCTS; i++) {
		if (i > 0)
			buf_puts(&b, ",");
		product_json(&b, &products[i]);
	}
	buf_printf(&b, "],\"count\":%zu}", NPRODUCTS);
	doc_finish(&list_doc, &b);

	for (size_t i = 0; i < NPRODUCTS; i++) {
		product_json(&b, &products[i]);
		doc_finish(&product_docs[i], &b);
	}
}

static void
docs_free(void)
{
	free(list_doc.body);
	for (size_t i = 0; i < NPRODUCTS; i++)
		free(product_docs[i].body);
}

/* True when the request's validators show that the client already has d (RFC 9110 13.1). */
static bool
not_modified(struct MHD_Connection *c, const struct doc *d)
{
	const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
	const char *ims = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Modified-Since");
	int64_t t;

	/*
	 * Weak comparison: W/"x" matches "x"; lists and "*" work too. Searching for the quoted tag
	 * is exact enough here because our tags are quoted fixed-length hex strings.
	 */
	if (inm != NULL)
		return strcmp(inm, "*") == 0 || strstr(inm, d->etag) != NULL;
	return ims != NULL && http_date_parse(ims, &t) && t >= started_at;
}

/* Sends a JSON answer (body copied) and logs the request. */
static enum MHD_Result
reply(struct MHD_Connection *c, const char *method, const char *url, unsigned status,
      const char *body, size_t len, const char *cache_control, const struct doc *d)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, xstrndup(body, len), MHD_RESPMEM_MUST_FREE);
	TC_ASSERT(r != NULL);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (cache_control != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
	if (d != NULL) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, d->etag);
		MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, started_at_http);
	}
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	fprintf(stderr, "demo-origin: %s %s -> %u\n", method, url, status);
	return ret;
}

static enum MHD_Result
reply_error(struct MHD_Connection *c, const char *method, const char *url, unsigned status,
            const char *message)
{
	struct buf b = {0};
	enum MHD_Result ret;

	buf_puts(&b, "{\"error\":");
	buf_json_string(&b, message);
	buf_puts(&b, "}\n");
	ret = reply(c, method, url, status, b.data, b.len, "no-store", NULL);
	buf_free(&b);
	return ret;
}

/* Serves a product document, or a 304 when the client's copy is current. */
static enum MHD_Result
reply_doc(struct MHD_Connection *c, const char *method, const char *url, const struct doc *d)
{
	/* A 304 is built from the body too: libmicrohttpd sends its Content-Length, not the body.
	 */
	unsigned status = not_modified(c, d) ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;

	return reply(c, method, url, status, d->body, d->len, PRODUCT_CC, d);
}

static enum MHD_Result
reply_time(struct MHD_Connection *c, const char *method, const char *url)
{
	int64_t now = util_now();
	char date[30];
	struct buf b = {0};
	enum MHD_Result ret;

	http_date_format(now, date);
	buf_printf(&b, "{\"time\":\"%s\",\"unix\":%" PRId64 "}\n", date, now);
	ret = reply(c, method, url, MHD_HTTP_OK, b.data, b.len, "no-store", NULL);
	buf_free(&b);
	return ret;
}

/* The product document for "/api/products/<id>", or NULL. */
static const struct doc *
find_product(const char *id)
{
	uint64_t n;

	if (!util_parse_u64(id, UINT32_MAX, &n))
		return NULL;
	for (size_t i = 0; i < NPRODUCTS; i++)
		if (products[i].id == n)
			return &product_docs[i];
	return NULL;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	static int started;
	const char *prefix = "/api/products/";
	const struct doc *d;

	(void)cls;
	(void)version;
	(void)upload_data;
	if (*req_cls == NULL) {
		/* Answer on the next call: an answer queued now would close the connection. */
		*req_cls = &started;
		return MHD_YES;
	}
	if (*upload_data_size > 0) { /* a body we do not need */
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_error(c, method, url, MHD_HTTP_METHOD_NOT_ALLOWED,
		                   "this demo API is read-only");
	if (strcmp(url, "/api/products") == 0)
		return reply_doc(c, method, url, &list_doc);
	if (strncmp(url, prefix, strlen(prefix)) == 0) {
		d = find_product(url + strlen(prefix));
		if (d == NULL)
			return reply_error(c, method, url, MHD_HTTP_NOT_FOUND, "no such product");
		return reply_doc(c, method, url, d);
	}
	if (strcmp(url, "/api/time") == 0)
		return reply_time(c, method, url);
	return reply_error(c, method, url, MHD_HTTP_NOT_FOUND,
	                   "not found; try /api/products, /api/products/1 or /api/time");
}

int
main(int argc, char **argv)
{
	uint64_t port = DEFAULT_PORT;
	struct sockaddr_in sin;
	struct MHD_Daemon *d;
	sigset_t sigs;
	int opt, sig;

	while ((opt = getopt(argc, argv, "p:h")) != -1) {
		if (opt == 'p' && util_parse_u64(optarg, 65535, &port) && port > 0)
			continue;
		fprintf(stderr, "usage: demo-origin [-p PORT]   (default port %d)\n", DEFAULT_PORT);
		return opt == 'h' ? 0 : 2;
	}

	started_at = util_now();
	http_date_format(started_at, started_at_http);
	docs_build();

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before the library starts its threads */

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL,
	                     NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	                     MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "demo-origin: cannot listen on 127.0.0.1:%" PRIu64 "\n", port);
		docs_free();
		return 1;
	}
	fprintf(stderr, "demo-origin: listening on http://127.0.0.1:%" PRIu64 "/api/products\n",
	        port);

	do {
		if (sigwait(&sigs, &sig) != 0)
			sig = 0;
	} while (sig != SIGINT && sig != SIGTERM);

	MHD_stop_daemon(d);
	docs_free();
	return 0;
}
