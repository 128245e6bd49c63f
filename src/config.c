/*
 * config: loads the INI file into a struct config. One table (config_options, below) holds
 * every key: its section, type, default as written in the file, bounds, help text and the
 * struct field it fills. The table drives parsing, the defaults, the validation messages and
 * config_write_sample(); there is no other list of keys.
 *
 * Parsing goes through inih's ini_parse_stream() with our own reader, config_reader(). The
 * reader hands inih one physical line per call, so it always knows the current line number
 * (Debian's inih has no INI_HANDLER_LINENO), and it vets every line before inih sees it:
 * a line too long for inih's buffer, a section header, or a line that is neither a section
 * nor "key = value" is dealt with (and reported) by the reader, which then hands inih a blank
 * line. inih is left to split "key = value" lines (trimming, inline ';' comments) and to call
 * config_handler(). Lines reach inih without their leading blanks, so its multi-line
 * continuation (an indented line extending the value above) cannot happen even if the knob
 * were on; an indented line is read as a line of its own. Every problem is reported, one line
 * each, in file order.
 *
 * Threads: a loaded config is immutable and read without locks by every thread. config_load
 * sets inih's process-wide knobs (line length, multi-line values) before each parse, so it
 * must not run concurrently with another inih parse (there is none elsewhere in tiercache).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <ini.h>

#include "log.h"
#include "policy.h"

/* The longest line accepted, newline excluded. inih's buffer is sized to hold it. */
#define CONFIG_MAX_LINE 4096

#define CONFIG_K (UINT64_C(1) << 10)
#define CONFIG_M (UINT64_C(1) << 20)
#define CONFIG_G (UINT64_C(1) << 30)

enum config_type {
	CONFIG_UINT,       /* decimal integer within [min, max] */
	CONFIG_SIZE,       /* byte size with optional K/M/G suffix within [min, max] */
	CONFIG_SECONDS,    /* decimal number of seconds within [min, max] */
	CONFIG_PATH,       /* URL path: starts with '/', no '?', '#', blanks or controls */
	CONFIG_POLICY,     /* one of policy_names() */
	CONFIG_LOG_LEVEL,  /* error|warn|info|debug */
	CONFIG_LISTEN,     /* host:port or [v6]:port; also fills listen_addr/listen_addr_len */
	CONFIG_URL,        /* http(s) origin URL; stored normalised, without a trailing slash */
	CONFIG_ACL,        /* CIDR list; also fills stats_allow_acl */
	CONFIG_SERVERS,    /* memcached server list; also fills the list at list_offset */
	CONFIG_BOOL,       /* on|off, yes|no, true|false, 1|0 */
	CONFIG_KEY_PREFIX, /* printable ASCII without blanks, at most CONFIG_MAX_KEY_PREFIX bytes */
	CONFIG_FIELDS,     /* header field names separated by commas or blanks, or "none";
	                      stored as "A, B" ("" for none) */
	CONFIG_FIELD_NAME, /* an HTTP field name (a token), at most CONFIG_MAX_KEY_PREFIX bytes */
	CONFIG_LOG_FILE,   /* a file name, "-" (stdout) or empty (off); no control characters */
};

/* The longest [memcached] key_prefix: memcached keys stay far below their 250-byte limit. */
#define CONFIG_MAX_KEY_PREFIX 64

/* The ketama weight of a memcached server is at most this. */
#define CONFIG_MAX_WEIGHT 1000

#define CONFIG_STR_(x) #x
#define CONFIG_STR(x)  CONFIG_STR_(x)

/* The C type of the field an option fills, found from the field itself by _Generic. */
enum config_field {
	CONFIG_FIELD_STR,
	CONFIG_FIELD_UNSIGNED,
	CONFIG_FIELD_U64,
	CONFIG_FIELD_I64,
	CONFIG_FIELD_INT,
	CONFIG_FIELD_BOOL,
};

/* The field of an option that needs a restart to change, and of one a reload applies. */
#define CONFIG_FIELD(m)      CONFIG_FIELD_TYPE(m), 0, false
#define CONFIG_FIELD_LIVE(m) CONFIG_FIELD_TYPE(m), 0, true

/* The field of a CONFIG_SERVERS option and the struct config_servers it fills. */
#define CONFIG_FIELD_LIST(m, list) CONFIG_FIELD_TYPE(m), offsetof(struct config, list), false

#define CONFIG_FIELD_TYPE(m)                                                                       \
	offsetof(struct config, m), _Generic(((struct config *)NULL)->m,                           \
	                                     char *: CONFIG_FIELD_STR,                             \
	                                     unsigned: CONFIG_FIELD_UNSIGNED,                      \
	                                     uint64_t: CONFIG_FIELD_U64,                           \
	                                     int64_t: CONFIG_FIELD_I64,                            \
	                                     int: CONFIG_FIELD_INT,                                \
	                                     bool: CONFIG_FIELD_BOOL)

struct config_option {
	const char *section;
	const char *key;
	enum config_type type;
	const char *def;    /* the default as written in the file; NULL for a required key */
	const char *sample; /* the sample file's value for a required key */
	uint64_t min, max;  /* bounds of numeric types */
	const char *help;   /* one or more lines (separated by '\n') for the sample file */
	size_t offset;      /* of the field in struct config */
	enum config_field field;
	size_t list_offset; /* CONFIG_SERVERS: of the struct config_servers it fills */
	bool live; /* SIGHUP applies a new value to new requests; else it needs a restart */
};

static const struct config_option config_options[] = {
        {"server", "listen", CONFIG_LISTEN, "127.0.0.1:8080", NULL, 0, 0,
         "Address to listen on: host:port or [IPv6]:port; port 0 picks any free port.",
         CONFIG_FIELD(listen)},
        {"server", "threads", CONFIG_UINT, "0", NULL, 0, 1024,
         "Threads that serve clients; 0 = one per CPU core.", CONFIG_FIELD(threads)},
        {"server", "max_connections", CONFIG_UINT, "1024", NULL, 1, 1000000,
         "Most client connections open at once.", CONFIG_FIELD(max_connections)},
        {"server", "connection_timeout", CONFIG_SECONDS, "30", NULL, 1, 86400,
         "Seconds an idle client connection is kept open.", CONFIG_FIELD(connection_timeout)},
        {"server", "shutdown_timeout", CONFIG_SECONDS, "10", NULL, 0, 3600,
         "On SIGTERM or SIGINT, seconds to let requests in flight finish (new connections\n"
         "are refused meanwhile); then the rest are answered 502 and tiercache exits.",
         CONFIG_FIELD_LIVE(shutdown_timeout)},
        {"server", "max_body_bytes", CONFIG_SIZE, "1M", NULL, 0, CONFIG_G,
         "Largest request body accepted from a client.", CONFIG_FIELD_LIVE(max_body_bytes)},
        {"server", "max_header_bytes", CONFIG_SIZE, "8K", NULL, 4 * CONFIG_K, CONFIG_M,
         "Memory for one request's line and header fields (and the answer's header);\n"
         "a larger request line gets 414, larger header fields 431. Small is fast.",
         CONFIG_FIELD(max_header_bytes)},

        {"origin", "url", CONFIG_URL, NULL, "http://127.0.0.1:9000", 0, 0,
         "Base URL of the origin: http:// or https://, a host, an optional port and base path.\n"
         "Required. The value below is the address of the demo origin (contrib/demo).",
         CONFIG_FIELD(origin_url)},
        {"origin", "connect_timeout_ms", CONFIG_UINT, "1000", NULL, 1, 600000,
         "Milliseconds to wait for a connection to the origin.",
         CONFIG_FIELD(origin_connect_timeout_ms)},
        {"origin", "timeout_ms", CONFIG_UINT, "10000", NULL, 1, 3600000,
         "Milliseconds to wait for a whole response from the origin (for a body too large\n"
         "to store, streamed to the client: for each next part of it).",
         CONFIG_FIELD(origin_timeout_ms)},
        {"origin", "max_connections", CONFIG_UINT, "64", NULL, 1, 100000,
         "Most connections open to the origin at once.", CONFIG_FIELD(origin_max_connections)},
        {"origin", "strip_request_headers", CONFIG_FIELDS,
         "X-Forwarded-Host, X-Forwarded-Server, X-Forwarded-Port, X-Forwarded-Proto, "
         "X-Forwarded-Scheme, X-Forwarded-Prefix, Forwarded, X-Host, X-Original-Host, "
         "X-Original-URL, X-Rewrite-URL, X-HTTP-Method-Override, X-HTTP-Method, "
         "X-Method-Override",
         NULL, 0, 0,
         "Client request fields never sent to the origin (names separated by commas, or\n"
         "none): they are not part of the cache key, yet an origin may answer differently\n"
         "for them, and that answer would be stored and served to everyone.",
         CONFIG_FIELD(origin_strip_headers)},

        {"local", "policy", CONFIG_POLICY, "tinylfu", NULL, 0, 0,
         "Eviction policy of the in-process cache.", CONFIG_FIELD(local_policy)},
        {"local", "max_bytes", CONFIG_SIZE, "64M", NULL, CONFIG_K, 1024 * CONFIG_G,
         "Most bytes of responses held by the in-process cache.", CONFIG_FIELD(local_max_bytes)},
        {"local", "max_entries", CONFIG_UINT, "100000", NULL, 1, UINT64_C(4294967295),
         "Most responses held by the in-process cache.", CONFIG_FIELD(local_max_entries)},
        {"local", "max_object_bytes", CONFIG_SIZE, "1M", NULL, 1, 1024 * CONFIG_G,
         "Largest response the in-process cache stores; at most max_bytes.",
         CONFIG_FIELD_LIVE(local_max_object_bytes)},
        {"local", "default_ttl", CONFIG_SECONDS, "0", NULL, 0, 31536000,
         "Seconds of freshness for a response that states none; 0 = none.",
         CONFIG_FIELD(local_default_ttl)},
        {"local", "heuristic_max_seconds", CONFIG_SECONDS, "86400", NULL, 0, 31536000,
         "Cap of heuristic freshness: a response with Last-Modified and no explicit\n"
         "freshness is fresh for 10% of its age at arrival, at most this; 0 = no heuristic.",
         CONFIG_FIELD(local_heuristic_max)},
        {"local", "stale_if_error", CONFIG_SECONDS, "0", NULL, 0, 31536000,
         "Seconds a stale response may still answer when the origin fails or answers 500,\n"
         "502, 503 or 504, for responses without stale-if-error (must-revalidate,\n"
         "proxy-revalidate, s-maxage and no-cache always forbid it); 0 = none.",
         CONFIG_FIELD(local_stale_if_error)},
        {"local", "max_stale_keep", CONFIG_SECONDS, "60", NULL, 0, 31536000,
         "Seconds a stale response without validators (ETag, Last-Modified) is kept, so\n"
         "that requests with max-stale can still use it; 0 = dropped once stale. Responses\n"
         "with validators are kept until evicted; stale windows of the response count too.",
         CONFIG_FIELD(local_max_stale_keep)},
        {"local", "body_file_min_bytes", CONFIG_SIZE, "0", NULL, 0, CONFIG_G,
         "Stored bodies of at least this size are kept in memory files (memfd) and sent\n"
         "with sendfile, without a copy per hit; 0 = never (over loopback, a client on the\n"
         "same CPUs reads sendfile's pages more slowly than a copy: README, Performance).",
         CONFIG_FIELD(local_body_file_min_bytes)},
        {"local", "max_body_files", CONFIG_UINT, "10000", NULL, 0, 1000000,
         "Most bodies kept in memory files at once (each holds an open file; also bounded\n"
         "by the open-file limit); bodies beyond stay in ordinary memory.",
         CONFIG_FIELD(local_max_body_files)},

        {"http", "targeted_cache_control", CONFIG_FIELD_NAME, "Tiercache-Cache-Control", NULL, 0, 0,
         "Response field whose directives replace Cache-Control for this cache (RFC 9213),\n"
         "read before CDN-Cache-Control; neither field is forwarded to clients.",
         CONFIG_FIELD(http_targeted_cc)},

        {"memcached", "servers", CONFIG_SERVERS, "", NULL, 0, 0,
         "The memcached cluster shared by every tiercache of a fleet (the second tier), as\n"
         "host:port items with an optional /weight, e.g. 10.0.0.1:11211, 10.0.0.2:11211/2.\n"
         "Keys are spread with ketama consistent hashing. Empty = no shared tier.",
         CONFIG_FIELD_LIST(mc_servers, mc_server_list)},
        {"memcached", "fallback_servers", CONFIG_SERVERS, "", NULL, 0, 0,
         "During a migration, the old cluster: read when servers misses, never written;\n"
         "deletes and purges go to both. Delete the line when the old cluster is retired.",
         CONFIG_FIELD_LIST(mc_fallback_servers, mc_fallback_list)},
        {"memcached", "warm_from_fallback", CONFIG_BOOL, "on", NULL, 0, 0,
         "Copy a record found in fallback_servers into servers.",
         CONFIG_FIELD(mc_warm_from_fallback)},
        {"memcached", "ttl", CONFIG_SECONDS, "86400", NULL, 1, 2592000,
         "Longest time a response stays in memcached; a response that is useful for less\n"
         "(its freshness, plus a revalidation grace when it has validators) expires sooner.",
         CONFIG_FIELD(mc_ttl)},
        {"memcached", "timeout_ms", CONFIG_UINT, "50", NULL, 1, 60000,
         "Milliseconds a memcached operation may take (connect, send, answer); a slower or\n"
         "failed server is skipped (a miss) and retried with a capped exponential backoff.",
         CONFIG_FIELD(mc_timeout_ms)},
        {"memcached", "key_prefix", CONFIG_KEY_PREFIX, "tc:", NULL, 0, 0,
         "Prefix of every memcached key (separates fleets that share a cluster).",
         CONFIG_FIELD(mc_key_prefix)},
        {"memcached", "max_item_bytes", CONFIG_SIZE, "1M", NULL, CONFIG_K, CONFIG_G,
         "Largest item stored in memcached (record and key); as memcached's -I (default 1M).",
         CONFIG_FIELD(mc_max_item_bytes)},

        {"stats", "path", CONFIG_PATH, "/stats", NULL, 0, 0,
         "URL path that serves the counters as JSON.", CONFIG_FIELD_LIVE(stats_path)},
        {"stats", "allow", CONFIG_ACL, "127.0.0.1/32, ::1/128", NULL, 0, 0,
         "Client addresses or networks allowed to read the counters.",
         CONFIG_FIELD_LIVE(stats_allow)},
        {"stats", "metrics_path", CONFIG_PATH, "/metrics", NULL, 0, 0,
         "URL path that serves the counters and latency histograms to Prometheus (text\n"
         "format 0.0.4); the same allow list as path.",
         CONFIG_FIELD_LIVE(stats_metrics_path)},
        {"stats", "health_path", CONFIG_PATH, "/healthz", NULL, 0, 0,
         "URL path of the health check for load balancers: 200, or 503 when the origin is\n"
         "down and nothing can be served; open to every client (memcached addresses are\n"
         "shown only to the allow list).",
         CONFIG_FIELD_LIVE(stats_health_path)},

        {"log", "level", CONFIG_LOG_LEVEL, "info", NULL, 0, 0,
         "Lowest level of message written to the error log (stderr).",
         CONFIG_FIELD_LIVE(log_level)},
        {"log", "access_log", CONFIG_LOG_FILE, "", NULL, 0, 0,
         "File that gets one line per request (Combined Log Format, then the cache status\n"
         "and the milliseconds spent with the origin); - = stdout; empty = no access log.\n"
         "SIGUSR1 reopens it (after logrotate renamed it).",
         CONFIG_FIELD_LIVE(access_log)},
};

#define CONFIG_NOPTIONS TC_ARRAY_LEN(config_options)

static bool config_is_blank(char ch);
static char *config_parse_fields(const char *value);

/* The reader's idea of the current section. */
enum { CONFIG_NO_SECTION = -1, CONFIG_UNKNOWN_SECTION = -2 };

/* The state of one config_load(), shared by the reader and the handler. */
struct config_loader {
	const char *path;
	FILE *fp;
	struct buf *errors;
	unsigned nerrors;
	struct config *c;
	char *line; /* getline's buffer */
	size_t line_cap;
	int lineno;        /* the line last handed to inih */
	int read_errno;    /* set when reading failed */
	bool passed_kv;    /* the last line was handed to inih as "key = value" */
	bool handler_seen; /* ... and inih called the handler for it */
	int section;       /* index of an option of the current section, or CONFIG_*_SECTION */
	int set_line[CONFIG_NOPTIONS]; /* line where each key was set, 0 = not set */
	bool bad[CONFIG_NOPTIONS];     /* the key's value was rejected */
};

/* Appends "FILE:LINE: message" (or "FILE: message" when line is 0) to the errors. */
__attribute__((format(printf, 3, 4))) static void
config_error(struct config_loader *ld, int line, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	TC_ASSERT(n >= 0);
	msg = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (line > 0)
		buf_printf(ld->errors, "%s:%d: %s\n", ld->path, line, msg);
	else
		buf_printf(ld->errors, "%s: %s\n", ld->path, msg);
	free(msg);
	ld->nerrors++;
}

/* Formats a byte count the way the file writes it: 64M rather than 67108864. */
static void
config_format_size(char *out, size_t len, uint64_t v)
{
	if (v != 0 && v % CONFIG_G == 0)
		snprintf(out, len, "%" PRIu64 "G", v / CONFIG_G);
	else if (v != 0 && v % CONFIG_M == 0)
		snprintf(out, len, "%" PRIu64 "M", v / CONFIG_M);
	else if (v != 0 && v % CONFIG_K == 0)
		snprintf(out, len, "%" PRIu64 "K", v / CONFIG_K);
	else
		snprintf(out, len, "%" PRIu64, v);
}

/* Appends what the option accepts ("an integer from 1 to 1000000") to b. */
static void
config_expected(struct buf *b, const struct config_option *o)
{
	char lo[32], hi[32];

	switch (o->type) {
	case CONFIG_UINT:
		buf_printf(b, "an integer from %" PRIu64 " to %" PRIu64, o->min, o->max);
		break;
	case CONFIG_SIZE:
		config_format_size(lo, sizeof(lo), o->min);
		config_format_size(hi, sizeof(hi), o->max);
		buf_printf(b, "a size such as 512K, 64M or 2G, from %s to %s", lo, hi);
		break;
	case CONFIG_SECONDS:
		buf_printf(b, "a number of seconds from %" PRIu64 " to %" PRIu64, o->min, o->max);
		break;
	case CONFIG_PATH:
		buf_puts(b, "a path that starts with '/' and has no '?', '#' or spaces");
		break;
	case CONFIG_POLICY:
		buf_printf(b, "one of %s", policy_names());
		break;
	case CONFIG_LOG_LEVEL:
		buf_puts(b, "one of error|warn|info|debug");
		break;
	case CONFIG_LISTEN:
		buf_puts(b, "host:port or [IPv6]:port with a port from 0 to 65535");
		break;
	case CONFIG_URL:
		buf_puts(b, "an http:// or https:// URL with a host and no query or fragment");
		break;
	case CONFIG_ACL:
		buf_puts(b, "a list of addresses or networks such as 127.0.0.1/32, ::1/128");
		break;
	case CONFIG_SERVERS:
		buf_puts(b, "a list of host:port or [IPv6]:port, each with an optional /weight "
		            "from 1 to " CONFIG_STR(CONFIG_MAX_WEIGHT));
		break;
	case CONFIG_BOOL:
		buf_puts(b, "on or off");
		break;
	case CONFIG_FIELD_NAME:
		buf_puts(b, "an HTTP field name (letters, digits and !#$%&'*+-.^_`|~) of at "
		            "most " CONFIG_STR(CONFIG_MAX_KEY_PREFIX) " characters");
		break;
	case CONFIG_KEY_PREFIX:
		buf_puts(b,
		         "at most " CONFIG_STR(CONFIG_MAX_KEY_PREFIX) " printable ASCII characters "
		                                                      "without blanks");
		break;
	case CONFIG_FIELDS:
		buf_puts(b, "header field names separated by commas, or none");
		break;
	case CONFIG_LOG_FILE:
		buf_puts(b, "a file name, - (stdout) or nothing (off), without control characters");
		break;
	}
}

/* The address of the option's field in c. */
static void *
config_field_ptr(struct config *c, const struct config_option *o)
{
	return (char *)c + o->offset;
}

/* Stores v in the option's numeric field (v is within the option's bounds). */
static void
config_store_number(struct config *c, const struct config_option *o, uint64_t v)
{
	void *p = config_field_ptr(c, o);

	switch (o->field) {
	case CONFIG_FIELD_UNSIGNED:
		TC_ASSERT(o->max <= UINT32_MAX);
		*(unsigned *)p = (unsigned)v;
		break;
	case CONFIG_FIELD_U64:
		*(uint64_t *)p = v;
		break;
	case CONFIG_FIELD_I64:
		TC_ASSERT(o->max <= INT64_MAX);
		*(int64_t *)p = (int64_t)v;
		break;
	case CONFIG_FIELD_BOOL:
		*(bool *)p = v != 0;
		break;
	default:
		TC_ASSERT(!"numeric option with a non-numeric field");
	}
}

/* Replaces the option's string field with a copy of s. */
static void
config_store_string(struct config *c, const struct config_option *o, const char *s)
{
	char **p = config_field_ptr(c, o);

	TC_ASSERT(o->field == CONFIG_FIELD_STR);
	free(*p);
	*p = xstrdup(s);
}

/* Parses host:port or [v6]:port into ss; false with an optional allocated cause. */
static bool
config_parse_listen(const char *value, struct sockaddr_storage *ss, socklen_t *len, char **cause)
{
	const char *host, *host_end, *port;
	struct addrinfo hints, *res = NULL;
	char *name, portstr[8];
	uint64_t portnum;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if (value[0] == '[') {
		host = value + 1;
		host_end = strchr(host, ']');
		if (host_end == NULL || host_end[1] != ':') {
			*cause = xstrdup("an IPv6 address is written as [address]:port");
			return false;
		}
		port = host_end + 2;
		hints.ai_family = AF_INET6;
		hints.ai_flags |= AI_NUMERICHOST;
	} else {
		host = value;
		host_end = strrchr(value, ':');
		if (host_end == NULL) {
			*cause = xstrdup("the port is missing");
			return false;
		}
		if (memchr(host, ':', (size_t)(host_end - host)) != NULL) {
			*cause = xstrdup("an IPv6 address needs brackets, as in [::1]:8080");
			return false;
		}
		port = host_end + 1;
	}
	if (host_end == host) {
		*cause = xstrdup("the host is missing");
		return false;
	}
	if (!util_parse_u64(port, 65535, &portnum)) {
		*cause = xstrdup("the port must be a number from 0 to 65535");
		return false;
	}
	snprintf(portstr, sizeof(portstr), "%" PRIu64, portnum);
	name = xstrndup(host, (size_t)(host_end - host));
	rc = getaddrinfo(name, portstr, &hints, &res);
	free(name);
	if (rc != 0) {
		*cause = xstrdup(rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return false;
	}
	TC_ASSERT(res->ai_addrlen <= sizeof(*ss));
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

/* True when curl's URL handle u has the part; *out (if given) gets it, to curl_free. */
static bool
config_url_has(CURLU *u, CURLUPart part, char **out)
{
	char *s = NULL;
	bool has = curl_url_get(u, part, &s, 0) == CURLUE_OK;

	if (out != NULL && has)
		*out = s;
	else
		curl_free(s);
	return has;
}

/* Validates an origin URL with libcurl; *out gets its normalised form without trailing '/'. */
static bool
config_parse_url(const char *value, char **out, char **cause)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *port = NULL, *url = NULL;
	CURLUcode rc;
	bool ok = false;

	TC_ASSERT(u != NULL);
	rc = curl_url_set(u, CURLUPART_URL, value, 0);
	if (rc != CURLUE_OK) {
		*cause = xstrdup(curl_url_strerror(rc));
		goto out;
	}
	if (!config_url_has(u, CURLUPART_SCHEME, &scheme) ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		*cause = xstrdup("the scheme must be http or https");
		goto out;
	}
	if (!config_url_has(u, CURLUPART_HOST, NULL)) {
		*cause = xstrdup("the host is missing");
		goto out;
	}
	if (config_url_has(u, CURLUPART_USER, NULL) ||
	    config_url_has(u, CURLUPART_PASSWORD, NULL)) {
		*cause = xstrdup("a user name or password is not allowed");
		goto out;
	}
	if (config_url_has(u, CURLUPART_PORT, &port) && strcmp(port, "0") == 0) {
		*cause = xstrdup("port 0 is not allowed");
		goto out;
	}
	if (config_url_has(u, CURLUPART_QUERY, NULL) || strchr(value, '?') != NULL) {
		*cause = xstrdup("a query ('?') is not allowed");
		goto out;
	}
	if (config_url_has(u, CURLUPART_FRAGMENT, NULL) || strchr(value, '#') != NULL) {
		*cause = xstrdup("a fragment ('#') is not allowed");
		goto out;
	}
	if (!config_url_has(u, CURLUPART_URL, &url)) {
		*cause = xstrdup("libcurl cannot rebuild it");
		goto out;
	}
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	*out = xstrndup(url, n);
	ok = true;
out:
	curl_free(scheme);
	curl_free(port);
	curl_free(url);
	curl_url_cleanup(u);
	return ok;
}

/* True for a URL path we serve: starts with '/', no '?', '#', blanks or control characters. */
static bool
config_path_ok(const char *s)
{
	if (s[0] != '/')
		return false;
	for (; *s != '\0'; s++)
		if (*s == '?' || *s == '#' || (unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

/* True for the characters of a host name (letters, digits, '.', '-', '_'). */
static bool
config_is_host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-' || ch == '_';
}

/* Parses one "host:port[/weight]" item of n bytes into *out; false with an allocated *cause. */
static bool
config_parse_server(const char *item, size_t n, struct config_server *out, char **cause)
{
	const char *end = item + n, *host = item, *host_end, *port, *slash;
	char num[16];
	uint64_t portnum, weight = 1;
	bool v6 = false;

	slash = memchr(item, '/', n);
	if (item[0] == '[') {
		host = item + 1;
		host_end = memchr(host, ']', (size_t)(end - host));
		if (host_end == NULL || host_end + 1 >= end || host_end[1] != ':') {
			*cause = xasprintf("'%.*s': an IPv6 address is written as [address]:port",
			                   (int)n, item);
			return false;
		}
		port = host_end + 2;
		v6 = true;
	} else {
		host_end = memchr(item, ':', n);
		if (host_end == NULL || (slash != NULL && slash < host_end)) {
			*cause = xasprintf("'%.*s': the port is missing", (int)n, item);
			return false;
		}
		port = host_end + 1;
	}
	if (host_end == host) {
		*cause = xasprintf("'%.*s': the host is missing", (int)n, item);
		return false;
	}
	if (slash != NULL && slash < port)
		slash = memchr(port, '/', (size_t)(end - port));
	const char *port_end = slash ? slash : end;
	if ((size_t)(port_end - port) >= sizeof(num) || port_end == port) {
		*cause = xasprintf("'%.*s': the port must be a number from 1 to 65535", (int)n,
		                   item);
		return false;
	}
	memcpy(num, port, (size_t)(port_end - port));
	num[port_end - port] = '\0';
	if (!util_parse_u64(num, 65535, &portnum) || portnum == 0) {
		*cause = xasprintf("'%.*s': the port must be a number from 1 to 65535", (int)n,
		                   item);
		return false;
	}
	if (slash != NULL) {
		size_t wl = (size_t)(end - slash - 1);
		if (wl == 0 || wl >= sizeof(num)) {
			*cause = xasprintf("'%.*s': the weight must be a number from 1 to %d",
			                   (int)n, item, CONFIG_MAX_WEIGHT);
			return false;
		}
		memcpy(num, slash + 1, wl);
		num[wl] = '\0';
		if (!util_parse_u64(num, CONFIG_MAX_WEIGHT, &weight) || weight == 0) {
			*cause = xasprintf("'%.*s': the weight must be a number from 1 to %d",
			                   (int)n, item, CONFIG_MAX_WEIGHT);
			return false;
		}
	}
	char *name = xstrndup(host, (size_t)(host_end - host));
	bool ok = true;
	if (v6) {
		struct in6_addr a6;
		ok = inet_pton(AF_INET6, name, &a6) == 1;
	} else {
		for (const char *p = name; *p != '\0'; p++)
			ok = ok && config_is_host_char(*p);
		ok = ok && strlen(name) <= 253;
	}
	if (!ok) {
		*cause =
		        xasprintf("'%.*s': '%s' is not a host name or address", (int)n, item, name);
		free(name);
		return false;
	}
	out->host = name;
	out->port = (unsigned)portnum;
	out->weight = (unsigned)weight;
	return true;
}

/* Frees the items of a server list and empties it. */
void
config_servers_clear(struct config_servers *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].host);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Parses a memcached server list into *out; false with an allocated *cause. */
bool
config_parse_servers(const char *value, struct config_servers *out, char **cause)
{
	const char *p = value;

	config_servers_clear(out);
	for (;;) {
		while (*p == ',' || config_is_blank(*p))
			p++;
		if (*p == '\0')
			return true;
		size_t n = strcspn(p, ", \t\v\f\r");
		struct config_server srv;
		if (!config_parse_server(p, n, &srv, cause)) {
			config_servers_clear(out);
			return false;
		}
		for (size_t i = 0; i < out->n; i++) {
			if (out->v[i].port == srv.port &&
			    strcasecmp(out->v[i].host, srv.host) == 0) {
				*cause = xasprintf("'%.*s' is listed twice", (int)n, p);
				free(srv.host);
				config_servers_clear(out);
				return false;
			}
		}
		out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
		out->v[out->n++] = srv;
		p += n;
	}
}

/* Parses on|off, yes|no, true|false, 1|0 (any case). */
static bool
config_parse_bool(const char *value, bool *out)
{
	static const char *const yes[] = {"on", "yes", "true", "1"};
	static const char *const no[] = {"off", "no", "false", "0"};

	for (size_t i = 0; i < TC_ARRAY_LEN(yes); i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* True for a memcached key prefix: printable ASCII without blanks, not too long. */
static bool
config_key_prefix_ok(const char *s)
{
	if (strlen(s) > CONFIG_MAX_KEY_PREFIX)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* True when s is a token (RFC 9110 section 5.1) of at most CONFIG_MAX_KEY_PREFIX bytes. */
static bool
config_field_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CONFIG_MAX_KEY_PREFIX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", c) != NULL))
			return false;
	}
	return true;
}

/*
 * Parses value for option o and stores it in c. False when the value is rejected; *cause may
 * then get an allocated detail for the message.
 */
static bool
config_apply(struct config *c, const struct config_option *o, const char *value, char **cause)
{
	uint64_t v;
	int level;

	switch (o->type) {
	case CONFIG_UINT:
	case CONFIG_SECONDS:
		if (!util_parse_u64(value, UINT64_MAX, &v) || v < o->min || v > o->max)
			return false;
		config_store_number(c, o, v);
		return true;
	case CONFIG_SIZE:
		if (!util_parse_size(value, &v) || v < o->min || v > o->max)
			return false;
		config_store_number(c, o, v);
		return true;
	case CONFIG_PATH:
		if (!config_path_ok(value))
			return false;
		config_store_string(c, o, value);
		return true;
	case CONFIG_POLICY:
		if (policy_find(value) == NULL)
			return false;
		config_store_string(c, o, value);
		return true;
	case CONFIG_LOG_LEVEL:
		level = log_level_parse(value);
		if (level < 0)
			return false;
		TC_ASSERT(o->field == CONFIG_FIELD_INT);
		*(int *)config_field_ptr(c, o) = level;
		return true;
	case CONFIG_LISTEN: {
		struct sockaddr_storage ss;
		socklen_t len;

		if (!config_parse_listen(value, &ss, &len, cause))
			return false;
		config_store_string(c, o, value);
		c->listen_addr = ss;
		c->listen_addr_len = len;
		return true;
	}
	case CONFIG_URL: {
		char *url;

		if (!config_parse_url(value, &url, cause))
			return false;
		config_store_string(c, o, url);
		free(url);
		return true;
	}
	case CONFIG_ACL: {
		struct acl *acl = acl_parse(value, cause);

		if (acl == NULL)
			return false;
		config_store_string(c, o, value);
		acl_destroy(c->stats_allow_acl);
		c->stats_allow_acl = acl;
		return true;
	}
	case CONFIG_SERVERS: {
		struct config_servers list = {0};

		TC_ASSERT(o->list_offset != 0);
		if (!config_parse_servers(value, &list, cause))
			return false;
		config_store_string(c, o, value);
		struct config_servers *dst = (struct config_servers *)((char *)c + o->list_offset);
		config_servers_clear(dst);
		*dst = list;
		return true;
	}
	case CONFIG_BOOL: {
		bool b;

		if (!config_parse_bool(value, &b))
			return false;
		TC_ASSERT(o->field == CONFIG_FIELD_BOOL);
		*(bool *)config_field_ptr(c, o) = b;
		return true;
	}
	case CONFIG_KEY_PREFIX:
		if (!config_key_prefix_ok(value))
			return false;
		config_store_string(c, o, value);
		return true;
	case CONFIG_FIELDS: {
		char *list = config_parse_fields(value);

		if (list == NULL)
			return false;
		config_store_string(c, o, list);
		free(list);
		return true;
	}
	case CONFIG_FIELD_NAME:
		if (!config_field_name_ok(value))
			return false;
		config_store_string(c, o, value);
		return true;
	case CONFIG_LOG_FILE:
		for (const char *p = value; *p != '\0'; p++)
			if ((unsigned char)*p < ' ' || *p == 0x7f)
				return false;
		config_store_string(c, o, value);
		return true;
	}
	TC_ASSERT(!"unknown option type");
	return false;
}

/*
 * A list of header field names (tokens, RFC 9110 5.1) separated by commas or blanks, or
 * "none", as "A, B" ("" for none; allocated); NULL when an item is not a field name.
 */
static char *
config_parse_fields(const char *value)
{
	static const char tchars[] = "!#$%&'*+-.^_`|~";
	struct buf out = {0};
	const char *p = value;

	if (strcasecmp(value, "none") == 0)
		return xstrdup("");
	while (*p != '\0') {
		size_t n = 0;
		while (*p == ',' || config_is_blank(*p))
			p++;
		while (p[n] != '\0' && p[n] != ',' && !config_is_blank(p[n])) {
			unsigned char ch = (unsigned char)p[n];
			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			      (ch >= '0' && ch <= '9') || strchr(tchars, ch) != NULL)) {
				buf_free(&out);
				return NULL;
			}
			n++;
		}
		if (n == 0)
			break;
		if (out.len > 0)
			buf_puts(&out, ", ");
		buf_append(&out, p, n);
		p += n;
	}
	if (out.len == 0) {
		buf_free(&out);
		return NULL; /* only commas */
	}
	return buf_steal(&out, NULL);
}

/* The index of the first option of section name, or -1. */
static int
config_find_section(const char *name)
{
	for (size_t i = 0; i < CONFIG_NOPTIONS; i++)
		if (strcmp(config_options[i].section, name) == 0)
			return (int)i;
	return -1;
}

/* The index of option section/key, or -1. */
static int
config_find_option(const char *section, const char *key)
{
	for (size_t i = 0; i < CONFIG_NOPTIONS; i++)
		if (strcmp(config_options[i].section, section) == 0 &&
		    strcmp(config_options[i].key, key) == 0)
			return (int)i;
	return -1;
}

/* Edit distance between a and b, or a large number when either is long. */
static size_t
config_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65], prev;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t diag = prev + (a[i - 1] != b[j - 1]);
			size_t best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;

			prev = row[j];
			row[j] = diag < best ? diag : best;
		}
	}
	return row[lb];
}

/* Reports key as unknown in section (an index), with a hint of what was meant. */
static void
config_unknown_key(struct config_loader *ld, int section, const char *key)
{
	const char *sec = config_options[section].section;
	struct buf hint = {0};
	size_t best = SIZE_MAX;
	int near = -1;

	for (size_t i = 0; i < CONFIG_NOPTIONS; i++) {
		if (strcmp(config_options[i].key, key) == 0) {
			buf_printf(&hint, " (it belongs in [%s])", config_options[i].section);
			break;
		}
		size_t d = config_distance(key, config_options[i].key);
		if (strcmp(config_options[i].section, sec) == 0 && d < best) {
			best = d;
			near = (int)i;
		}
	}
	if (hint.len == 0 && near >= 0 && best <= 2) {
		buf_printf(&hint, " (did you mean '%s'?)", config_options[near].key);
	} else if (hint.len == 0) {
		const char *sep = " (known keys: ";

		for (size_t i = 0; i < CONFIG_NOPTIONS; i++) {
			if (strcmp(config_options[i].section, sec) != 0)
				continue;
			buf_printf(&hint, "%s%s", sep, config_options[i].key);
			sep = ", ";
		}
		buf_puts(&hint, ")");
	}
	config_error(ld, ld->lineno, "[%s] %s: unknown key%s", sec, key, hint.data);
	buf_free(&hint);
}

/* inih's handler: one "key = value" of the line the reader handed over last. */
static int
config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_loader *ld = user;
	const struct config_option *o;
	char *cause = NULL;
	int i;

	(void)section; /* the reader tracks sections itself (inih truncates long names) */
	ld->handler_seen = true;
	if (ld->section == CONFIG_NO_SECTION) {
		config_error(ld, ld->lineno, "key '%s' is outside any section", name);
		return 1;
	}
	if (ld->section == CONFIG_UNKNOWN_SECTION)
		return 1; /* reported once, at the section header */
	i = config_find_option(config_options[ld->section].section, name);
	if (i < 0) {
		config_unknown_key(ld, ld->section, name);
		return 1;
	}
	o = &config_options[i];
	if (ld->set_line[i] != 0) {
		config_error(ld, ld->lineno, "[%s] %s: duplicate key (first set on line %d)",
		             o->section, o->key, ld->set_line[i]);
		return 1;
	}
	ld->set_line[i] = ld->lineno;
	if (!config_apply(ld->c, o, value, &cause)) {
		struct buf what = {0};

		config_expected(&what, o);
		if (value[0] == '\0') {
			free(cause);
			cause = o->def != NULL ? xasprintf("delete the line to get the default, %s",
			                                   o->def)
			                       : xstrdup("the value is empty");
		}
		config_error(ld, ld->lineno, "[%s] %s: expected %s, got '%s'%s%s%s", o->section,
		             o->key, what.data, value, cause ? " (" : "", cause ? cause : "",
		             cause ? ")" : "");
		buf_free(&what);
		free(cause);
		ld->bad[i] = true;
	}
	return 1;
}

/* True for the characters of a key name. */
static bool
config_is_key_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-' || ch == '.';
}

/* True for a blank character. */
static bool
config_is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\v' || ch == '\f' || ch == '\r';
}

/*
 * Reads a section header "[name]" (s starts at '['; trailing blanks and a comment are
 * allowed) and makes it the current section. False when the line is not a well-formed header.
 */
static bool
config_section_line(struct config_loader *ld, const char *s)
{
	const char *end = strchr(s, ']'), *p, *name;
	size_t n;
	int idx;

	if (end == NULL)
		return false;
	for (p = end + 1; config_is_blank(*p); p++)
		;
	if (*p != '\0' && *p != ';' && *p != '#')
		return false;
	for (name = s + 1; config_is_blank(*name); name++)
		;
	for (n = (size_t)(end - name); n > 0 && config_is_blank(name[n - 1]); n--)
		;
	if (n == 0)
		return false;
	char *sec = xstrndup(name, n);
	idx = config_find_section(sec);
	if (idx >= 0) {
		ld->section = idx;
	} else {
		struct buf known = {0};
		const char *prev = NULL;

		for (size_t i = 0; i < CONFIG_NOPTIONS; i++) {
			if (prev != NULL && strcmp(prev, config_options[i].section) == 0)
				continue;
			buf_printf(&known, "%s%s", prev ? ", " : "", config_options[i].section);
			prev = config_options[i].section;
		}
		config_error(ld, ld->lineno, "unknown section [%s] (known sections: %s)", sec,
		             known.data);
		buf_free(&known);
		ld->section = CONFIG_UNKNOWN_SECTION;
	}
	free(sec);
	return true;
}

/*
 * True when s (left-trimmed, not a comment) is "key = value" or "key: value" the way inih
 * splits it: the first '=' or ':' before an inline comment (';' after a blank) ends a
 * non-empty key made of letters, digits, '_', '-' and '.'.
 */
static bool
config_kv_line(const char *s)
{
	const char *p = s;
	bool was_blank = false;

	while (*p != '\0' && *p != '=' && *p != ':' && !(was_blank && *p == ';')) {
		was_blank = config_is_blank(*p);
		p++;
	}
	if (*p != '=' && *p != ':')
		return false;
	while (p > s && config_is_blank(p[-1]))
		p--;
	if (p == s)
		return false;
	for (; s < p; s++)
		if (!config_is_key_char(*s))
			return false;
	return true;
}

/* Checks that inih called the handler for the "key = value" line handed over last. */
static void
config_check_passed(struct config_loader *ld)
{
	if (ld->passed_kv && !ld->handler_seen)
		config_error(ld, ld->lineno, "syntax error: expected '[section]' or 'key = value'");
	ld->passed_kv = false;
	ld->handler_seen = false;
}

/*
 * inih's reader: hands over one physical line per call (num is inih's buffer size). Lines
 * that inih must not see (too long, section headers, comments, syntax errors) become blank.
 */
static char *
config_reader(char *str, int num, void *stream)
{
	struct config_loader *ld = stream;
	size_t max = num > 3 ? (size_t)num - 3 : 0, len;
	ssize_t got;
	char *s;

	config_check_passed(ld);
	errno = 0;
	got = getline(&ld->line, &ld->line_cap, ld->fp);
	if (got < 0) {
		if (ferror(ld->fp))
			ld->read_errno = errno != 0 ? errno : EIO;
		return NULL;
	}
	ld->lineno++;
	s = ld->line;
	len = (size_t)got;
	TC_ASSERT(num >= 2);
	str[0] = '\n';
	str[1] = '\0';
	if (memchr(s, '\0', len) != NULL) {
		config_error(ld, ld->lineno, "syntax error: the line contains a NUL byte");
		return str;
	}
	if (len > 0 && s[len - 1] == '\n')
		len--;
	if (len > 0 && s[len - 1] == '\r')
		len--;
	s[len] = '\0';
	if (ld->lineno == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3;
		len -= 3;
	}
	if (len > max) {
		config_error(ld, ld->lineno, "line too long (at most %zu characters)", max);
		return str;
	}
	while (config_is_blank(*s)) {
		s++;
		len--;
	}
	if (*s == '\0' || *s == ';' || *s == '#')
		return str;
	if (*s == '[') {
		if (!config_section_line(ld, s))
			config_error(ld, ld->lineno,
			             "syntax error: expected '[section]' or 'key = value'");
		return str;
	}
	if (!config_kv_line(s)) {
		config_error(ld, ld->lineno, "syntax error: expected '[section]' or 'key = value'");
		return str;
	}
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	ld->passed_kv = true;
	return str;
}

/* A config with every default (origin_url unset); for tools and tests. */
struct config *
config_defaults(void)
{
	struct config *c = xcalloc(1, sizeof(*c));

	for (size_t i = 0; i < CONFIG_NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		char *cause = NULL;

		if (o->def == NULL)
			continue;
		bool ok = config_apply(c, o, o->def, &cause);
		TC_ASSERT(ok);
	}
	return c;
}

/* [memcached]: fallback_servers needs servers, and no server is in both lists. */
static void
config_check_memcached(struct config_loader *ld)
{
	int sv = config_find_option("memcached", "servers");
	int fb = config_find_option("memcached", "fallback_servers");
	const struct config_servers *a = &ld->c->mc_server_list, *b = &ld->c->mc_fallback_list;

	TC_ASSERT(sv >= 0 && fb >= 0);
	if (ld->bad[sv] || ld->bad[fb] || b->n == 0)
		return;
	if (a->n == 0) {
		config_error(ld, ld->set_line[fb],
		             "[memcached] fallback_servers: needs [memcached] servers (the new "
		             "cluster, read first and written)");
		return;
	}
	for (size_t i = 0; i < b->n; i++)
		for (size_t j = 0; j < a->n; j++)
			if (a->v[j].port == b->v[i].port &&
			    strcasecmp(a->v[j].host, b->v[i].host) == 0)
				config_error(ld, ld->set_line[fb],
				             "[memcached] fallback_servers: %s:%u is also in "
				             "[memcached] servers",
				             b->v[i].host, b->v[i].port);
}

/* The [stats] paths (counters, metrics, health) must differ from each other. */
static void
config_check_paths(struct config_loader *ld)
{
	static const char *const keys[] = {"path", "metrics_path", "health_path"};
	const char *vals[] = {ld->c->stats_path, ld->c->stats_metrics_path,
	                      ld->c->stats_health_path};

	for (size_t i = 1; i < TC_ARRAY_LEN(keys); i++)
		for (size_t j = 0; j < i; j++) {
			int oi = config_find_option("stats", keys[i]);
			int oj = config_find_option("stats", keys[j]);
			TC_ASSERT(oi >= 0 && oj >= 0);
			if (ld->bad[oi] || ld->bad[oj] || strcmp(vals[i], vals[j]) != 0)
				continue;
			int line = ld->set_line[oi] != 0 ? ld->set_line[oi] : ld->set_line[oj];
			config_error(ld, line, "[stats] %s: %s is also [stats] %s", keys[i],
			             vals[i], keys[j]);
		}
}

/* Checks what no single key can: the bounds that tie keys together. */
static void
config_check_relations(struct config_loader *ld)
{
	int mob = config_find_option("local", "max_object_bytes");
	int mb = config_find_option("local", "max_bytes");
	char obj[32], max[32];

	TC_ASSERT(mob >= 0 && mb >= 0);
	config_check_memcached(ld);
	config_check_paths(ld);
	if (ld->bad[mob] || ld->bad[mb] || ld->c->local_max_object_bytes <= ld->c->local_max_bytes)
		return;
	config_format_size(obj, sizeof(obj), ld->c->local_max_object_bytes);
	config_format_size(max, sizeof(max), ld->c->local_max_bytes);
	if (ld->set_line[mob] != 0)
		config_error(ld, ld->set_line[mob],
		             "[local] max_object_bytes: %s must not exceed [local] max_bytes (%s)",
		             obj, max);
	else
		config_error(ld, ld->set_line[mb],
		             "[local] max_bytes: %s is less than [local] max_object_bytes (%s, the "
		             "default)",
		             max, obj);
}

/*
 * Loads and validates path. On success returns the config. On any problem returns NULL and
 * appends one line per problem to *errors; every problem of the file is reported.
 */
struct config *
config_load(const char *path, struct buf *errors)
{
	struct config_loader ld;
	struct buf own = {0};
	struct stat st;
	int rc;

	memset(&ld, 0, sizeof(ld));
	ld.path = path;
	ld.errors = errors != NULL ? errors : &own;
	ld.section = CONFIG_NO_SECTION;
	ld.fp = fopen(path, "r");
	if (ld.fp == NULL) {
		config_error(&ld, 0, "cannot read: %s", strerror(errno));
		goto out;
	}
	if (fstat(fileno(ld.fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		config_error(&ld, 0, "cannot read: %s", strerror(EISDIR));
		goto out;
	}
	ld.c = config_defaults();
	ld.c->file = xstrdup(path);

	/* Debian's libinih exposes its compile-time options as variables: use a heap line
	 * buffer of our size, and no multi-line values (an indented line is its own line). */
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_initial_alloc = CONFIG_MAX_LINE + 3;
	ini_max_line = CONFIG_MAX_LINE + 3;
	ini_allow_multiline = false;
	ini_allow_inline_comments = true;
	ini_allow_no_value = false;
	ini_stop_on_first_error = false;
	ini_allow_bom = false; /* the reader removes it */

	rc = ini_parse_stream(config_reader, &ld, config_handler, &ld);
	config_check_passed(&ld);
	TC_ASSERT(rc != -2); /* inih could not allocate its line buffer */
	if (ld.read_errno != 0) {
		config_error(&ld, 0, "cannot read: %s", strerror(ld.read_errno));
		goto out;
	}
	if (ld.set_line[config_find_option("origin", "url")] == 0)
		config_error(&ld, 0, "[origin] url: required key is missing");
	config_check_relations(&ld);
out:
	if (ld.fp != NULL)
		fclose(ld.fp);
	free(ld.line);
	buf_free(&own);
	if (ld.nerrors > 0) {
		config_destroy(ld.c);
		return NULL;
	}
	return ld.c;
}

/* The option's value in c as a string to compare (allocated): text as stored, numbers in decimal.
 */
static char *
config_value_string(const struct config *c, const struct config_option *o)
{
	const void *p = (const char *)c + o->offset;

	switch (o->field) {
	case CONFIG_FIELD_STR:
		return xstrdup(*(char *const *)p ? *(char *const *)p : "");
	case CONFIG_FIELD_UNSIGNED:
		return xasprintf("%u", *(const unsigned *)p);
	case CONFIG_FIELD_U64:
		return xasprintf("%" PRIu64, *(const uint64_t *)p);
	case CONFIG_FIELD_I64:
		return xasprintf("%" PRId64, *(const int64_t *)p);
	case CONFIG_FIELD_INT:
		return xasprintf("%d", *(const int *)p);
	case CONFIG_FIELD_BOOL:
		return xstrdup(*(const bool *)p ? "on" : "off");
	}
	TC_ASSERT(!"unknown field type");
	return NULL;
}

/* Gives option o of c the value it has in from (and the parsed forms that go with it). */
static void
config_keep_value(struct config *c, const struct config *from, const struct config_option *o)
{
	const void *src = (const char *)from + o->offset;
	void *dst = config_field_ptr(c, o);
	char *cause = NULL;

	switch (o->field) {
	case CONFIG_FIELD_STR:
		if (o->type == CONFIG_LISTEN) {
			c->listen_addr = from->listen_addr;
			c->listen_addr_len = from->listen_addr_len;
		}
		if (o->type == CONFIG_ACL || o->type == CONFIG_SERVERS) {
			/* the running value was valid: parsing it again rebuilds its parsed form */
			bool ok = config_apply(c, o, *(char *const *)src, &cause);
			TC_ASSERT(ok);
		} else {
			config_store_string(c, o, *(char *const *)src ? *(char *const *)src : "");
		}
		break;
	case CONFIG_FIELD_UNSIGNED:
		memcpy(dst, src, sizeof(unsigned));
		break;
	case CONFIG_FIELD_U64:
		memcpy(dst, src, sizeof(uint64_t));
		break;
	case CONFIG_FIELD_I64:
		memcpy(dst, src, sizeof(int64_t));
		break;
	case CONFIG_FIELD_INT:
		memcpy(dst, src, sizeof(int));
		break;
	case CONFIG_FIELD_BOOL:
		memcpy(dst, src, sizeof(bool));
		break;
	}
}

/*
 * Loads path to replace running (SIGHUP). NULL with one line per problem in *errors when it
 * does not check. Keys that need a restart keep their running values; each one the file
 * changes is named in *restart ("[server] listen, [local] policy").
 */
struct config *
config_reload(const char *path, const struct config *running, struct buf *errors,
              struct buf *restart)
{
	struct config *c = config_load(path, errors);

	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < CONFIG_NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		char *now, *next;

		if (o->live)
			continue;
		now = config_value_string(running, o);
		next = config_value_string(c, o);
		if (strcmp(now, next) != 0) {
			buf_printf(restart, "%s[%s] %s", restart->len > 0 ? ", " : "", o->section,
			           o->key);
			config_keep_value(c, running, o);
		}
		free(now);
		free(next);
	}
	if (c->local_max_object_bytes > c->local_max_bytes) {
		char obj[32], max[32];

		config_format_size(obj, sizeof(obj), c->local_max_object_bytes);
		config_format_size(max, sizeof(max), c->local_max_bytes);
		buf_printf(
		        errors,
		        "%s: [local] max_object_bytes: %s must not exceed [local] max_bytes (%s, "
		        "running; it changes only with a restart)\n",
		        path, obj, max);
		config_destroy(c);
		return NULL;
	}
	return c;
}

/* True when a reload (SIGHUP) applies a new value of [section] key; false when it needs a restart.
 */
bool
config_is_live(const char *section, const char *key)
{
	int i = config_find_option(section, key);

	return i >= 0 && config_options[i].live;
}

/* Frees a config (NULL is ignored). */
void
config_destroy(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < CONFIG_NOPTIONS; i++)
		if (config_options[i].field == CONFIG_FIELD_STR)
			free(*(char **)config_field_ptr(c, &config_options[i]));
	acl_destroy(c->stats_allow_acl);
	config_servers_clear(&c->mc_server_list);
	config_servers_clear(&c->mc_fallback_list);
	free(c->file);
	free(c);
}

/* Writes the lines of text, each prefixed with "; ". */
static void
config_write_comment(FILE *out, const char *text)
{
	while (*text != '\0') {
		size_t n = strcspn(text, "\n");

		if (n == 0)
			fputs(";\n", out);
		else
			fprintf(out, "; %.*s\n", (int)n, text);
		text += n;
		if (*text == '\n')
			text++;
	}
}

/* Writes the sample file: every section and key with its default and one line of help. */
void
config_write_sample(FILE *out)
{
	const char *section = NULL;

	config_write_comment(out,
	                     "tiercache configuration.\n"
	                     "\n"
	                     "Every key is shown with its default value; only [origin] url must "
	                     "be set.\n"
	                     "Comments start with ';' or '#'; a ';' after a blank ends a value.\n"
	                     "Sizes take a K, M or G suffix (powers of 1024).\n"
	                     "This file is generated from the option table in src/config.c.");
	fprintf(out, "; Lines are at most %d characters long.\n", CONFIG_MAX_LINE);
	for (size_t i = 0; i < CONFIG_NOPTIONS; i++) {
		const struct config_option *o = &config_options[i];
		struct buf what = {0};

		if (section == NULL || strcmp(section, o->section) != 0) {
			section = o->section;
			fprintf(out, "\n[%s]\n", section);
		} else {
			fputc('\n', out);
		}
		config_write_comment(out, o->help);
		config_expected(&what, o);
		fprintf(out, "; Value: %s.\n", what.data);
		fputs(o->live ? "; On SIGHUP: applied to new requests.\n"
		              : "; On SIGHUP: a new value needs a restart.\n",
		      out);
		buf_free(&what);
		const char *v = o->def != NULL ? o->def : o->sample;
		fprintf(out, "%s =%s%s\n", o->key, v[0] != '\0' ? " " : "", v);
	}
}
