/*
 * check_config: the configuration loader. Defaults; every value of tests/conf/good.ini; every
 * bad fixture in tests/conf (each "; expect: TEXT" line must appear in the errors, and there
 * must be exactly as many errors as expectations); unreadable files; the generated sample
 * (it loads cleanly and is byte-for-byte conf/tiercache.ini); long lines and long allow lists;
 * the accepted syntax variants; listen and origin URL forms.
 *
 * Fixtures are found under $TC_SRCDIR (the top source directory; "." when unset).
 */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "config.h"
#include "log.h"

/* The top source directory. */
static const char *
srcdir(void)
{
	const char *s = getenv("TC_SRCDIR");

	return s != NULL && *s != '\0' ? s : ".";
}

/* A newly allocated path under the source directory. */
static char *
src_path(const char *rel)
{
	return xasprintf("%s/%s", srcdir(), rel);
}

/* Reads a whole file into a new NUL-terminated string; NULL if it cannot be read. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b = {0};
	char chunk[4096];
	size_t n;

	if (f == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	buf_append(&b, "", 0);
	return buf_steal(&b, len);
}

/* Writes n bytes of text to a new temporary file; returns its path (caller unlinks, frees). */
static char *
write_temp(const char *text, size_t n)
{
	const char *dir = getenv("TMPDIR");
	char *path = xasprintf("%s/check_config.XXXXXX", dir != NULL && *dir ? dir : "/tmp");
	int fd = mkstemp(path);

	ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
	ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
	close(fd);
	return path;
}

/* Loads text as a config file; errors (if any) go to *errors. */
static struct config *
load_text(const char *text, struct buf *errors)
{
	char *path = write_temp(text, strlen(text));
	struct config *c = config_load(path, errors);

	unlink(path);
	free(path);
	return c;
}

/* Loads text that must be valid. */
static struct config *
load_ok(const char *text)
{
	struct buf errors = {0};
	struct config *c = load_text(text, &errors);

	ck_assert_msg(c != NULL, "config rejected:\n%.300s---\n%s", text, errors.data);
	ck_assert_uint_eq(errors.len, 0);
	buf_free(&errors);
	return c;
}

/* Loads text that must be rejected with a message containing want. */
static void
load_bad(const char *text, const char *want)
{
	struct buf errors = {0};
	struct config *c = load_text(text, &errors);

	ck_assert_msg(c == NULL, "config accepted:\n%.300s", text);
	ck_assert_msg(errors.data != NULL && strstr(errors.data, want) != NULL,
	              "errors for:\n%.300s---\n%.1000s---\ndo not contain: %s", text,
	              errors.data ? errors.data : "(none)", want);
	buf_free(&errors);
}

/* A socket address for a literal IPv4 or IPv6 address. */
static struct sockaddr_storage
addr(const char *s)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(s, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, s, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, s, &sin->sin_addr), 1);
	}
	return ss;
}

/* Whether the config's stats allow list lets client in. */
static bool
stats_allows(const struct config *c, const char *client)
{
	struct sockaddr_storage ss = addr(client);

	return acl_allows(c->stats_allow_acl, (const struct sockaddr *)&ss);
}

/* Checks that c holds every default. */
static void
check_defaults(const struct config *c)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&c->listen_addr;

	ck_assert_str_eq(c->listen, "127.0.0.1:8080");
	ck_assert_int_eq(c->listen_addr.ss_family, AF_INET);
	ck_assert_uint_eq(c->listen_addr_len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(ntohs(sin->sin_port), 8080);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	ck_assert_uint_eq(c->threads, 0);
	ck_assert_uint_eq(c->max_connections, 1024);
	ck_assert_uint_eq(c->connection_timeout, 30);
	ck_assert_uint_eq(c->max_body_bytes, 1024 * 1024);
	ck_assert_uint_eq(c->max_header_bytes, 8 * 1024);
	ck_assert_uint_eq(c->origin_connect_timeout_ms, 1000);
	ck_assert_uint_eq(c->origin_timeout_ms, 10000);
	ck_assert_uint_eq(c->origin_max_connections, 64);
	ck_assert_str_eq(c->local_policy, "tinylfu");
	ck_assert_uint_eq(c->local_max_bytes, UINT64_C(64) << 20);
	ck_assert_uint_eq(c->local_max_entries, 100000);
	ck_assert_uint_eq(c->local_max_object_bytes, UINT64_C(1) << 20);
	ck_assert_int_eq(c->local_default_ttl, 0);
	ck_assert_str_eq(c->stats_path, "/stats");
	ck_assert_str_eq(c->stats_metrics_path, "/metrics");
	ck_assert_str_eq(c->stats_health_path, "/healthz");
	ck_assert_str_eq(c->stats_allow, "127.0.0.1/32, ::1/128");
	ck_assert_ptr_nonnull(c->stats_allow_acl);
	ck_assert(stats_allows(c, "127.0.0.1"));
	ck_assert(stats_allows(c, "::1"));
	ck_assert(stats_allows(c, "::ffff:127.0.0.1"));
	ck_assert(!stats_allows(c, "127.0.0.2"));
	ck_assert(!stats_allows(c, "10.0.0.1"));
	ck_assert_int_eq(c->log_level, LOG_INFO);
}

START_TEST(test_defaults)
{
	struct config *c = config_defaults();

	check_defaults(c);
	ck_assert_ptr_null(c->origin_url);
	ck_assert_ptr_null(c->file);
	config_destroy(c);
	config_destroy(NULL);
}
END_TEST

START_TEST(test_good_fixture)
{
	char *path = src_path("tests/conf/good.ini");
	struct buf errors = {0};
	struct config *c = config_load(path, &errors);
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&c->listen_addr;

	ck_assert_msg(c != NULL, "good.ini rejected:\n%s", errors.data);
	ck_assert_uint_eq(errors.len, 0);
	ck_assert_str_eq(c->file, path);
	ck_assert_str_eq(c->listen, "[::1]:0");
	ck_assert_int_eq(c->listen_addr.ss_family, AF_INET6);
	ck_assert_uint_eq(c->listen_addr_len, sizeof(struct sockaddr_in6));
	ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 0);
	ck_assert_uint_eq(c->threads, 4);
	ck_assert_uint_eq(c->max_connections, 2048);
	ck_assert_uint_eq(c->connection_timeout, 60);
	ck_assert_uint_eq(c->max_body_bytes, 512 * 1024);
	ck_assert_uint_eq(c->max_header_bytes, 16 * 1024);
	ck_assert_str_eq(c->origin_url, "https://api.example.com:8443/v1");
	ck_assert_uint_eq(c->origin_connect_timeout_ms, 250);
	ck_assert_uint_eq(c->origin_timeout_ms, 5000);
	ck_assert_uint_eq(c->origin_max_connections, 16);
	ck_assert_str_eq(c->local_policy, "lfu");
	ck_assert_uint_eq(c->local_max_bytes, UINT64_C(2) << 30);
	ck_assert_uint_eq(c->local_max_entries, UINT64_C(4294967295));
	ck_assert_uint_eq(c->local_max_object_bytes, UINT64_C(8) << 20);
	ck_assert_int_eq(c->local_default_ttl, 300);
	ck_assert_str_eq(c->stats_path, "/_tiercache/stats");
	ck_assert_str_eq(c->stats_metrics_path, "/_tiercache/metrics");
	ck_assert_str_eq(c->stats_health_path, "/-/health");
	ck_assert_str_eq(c->stats_allow, "10.0.0.0/8 192.168.1.7, 2001:db8::/32");
	ck_assert(stats_allows(c, "10.20.30.40"));
	ck_assert(stats_allows(c, "192.168.1.7"));
	ck_assert(!stats_allows(c, "192.168.1.8"));
	ck_assert(stats_allows(c, "2001:db8:1::1"));
	ck_assert(!stats_allows(c, "127.0.0.1"));
	ck_assert(!stats_allows(c, "::1"));
	ck_assert_int_eq(c->log_level, LOG_DEBUG);
	config_destroy(c);
	buf_free(&errors);
	free(path);
}
END_TEST

/* Checks one bad fixture; returns its number of expectations. */
static unsigned
check_bad_fixture(const char *path)
{
	struct buf errors = {0};
	struct config *c = config_load(path, &errors);
	char *text = slurp(path, NULL), *line, *save = NULL;
	unsigned expected = 0, reported = 0;

	ck_assert_msg(text != NULL, "cannot read %s", path);
	ck_assert_msg(c == NULL, "%s was accepted", path);
	ck_assert_msg(errors.len > 0, "%s: no errors", path);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		const char *tag = "; expect: ";

		if (strncmp(line, tag, strlen(tag)) != 0)
			continue;
		expected++;
		ck_assert_msg(strstr(errors.data, line + strlen(tag)) != NULL,
		              "%s: expected\n  %s\nin the errors:\n%s", path, line + strlen(tag),
		              errors.data);
	}
	for (size_t i = 0; i < errors.len; i++)
		reported += errors.data[i] == '\n';
	ck_assert_msg(expected > 0, "%s has no '; expect:' line", path);
	ck_assert_msg(reported == expected, "%s: %u errors reported, %u expected:\n%s", path,
	              reported, expected, errors.data);
	free(text);
	buf_free(&errors);
	return expected;
}

START_TEST(test_bad_fixtures)
{
	char *dir = src_path("tests/conf");
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned files = 0, expectations = 0;

	ck_assert_msg(d != NULL, "cannot open %s: %s (set TC_SRCDIR)", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (strncmp(de->d_name, "bad-", 4) != 0 || n < 4 ||
		    strcmp(de->d_name + n - 4, ".ini") != 0)
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		expectations += check_bad_fixture(path);
		files++;
		free(path);
	}
	closedir(d);
	/* the fixtures the loader promises to cover, at the least */
	ck_assert_uint_ge(files, 17);
	ck_assert_uint_ge(expectations, files);
	free(dir);
}
END_TEST

START_TEST(test_unreadable)
{
	struct buf errors = {0};
	char *dir = src_path("tests/conf");
	char *want = xasprintf("%s: cannot read: Is a directory\n", dir);

	ck_assert_ptr_null(config_load("/nonexistent/tiercache.ini", &errors));
	ck_assert_str_eq(errors.data,
	                 "/nonexistent/tiercache.ini: cannot read: No such file or directory\n");
	buf_free(&errors);
	ck_assert_ptr_null(config_load(dir, &errors));
	ck_assert_str_eq(errors.data, want);
	buf_free(&errors);
	/* errors may be NULL: the result alone tells */
	ck_assert_ptr_null(config_load("/nonexistent/tiercache.ini", NULL));
	free(want);
	free(dir);
}
END_TEST

START_TEST(test_sample)
{
	char *text = NULL, *shipped, *conf = src_path("conf/tiercache.ini");
	size_t len = 0, shipped_len = 0;
	FILE *f = open_memstream(&text, &len);
	struct config *c;

	config_write_sample(f);
	fclose(f);
	/* the sample documents every key and loads as it is */
	ck_assert_ptr_nonnull(strstr(text, "[server]\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nmax_object_bytes = 1M\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nallow = 127.0.0.1/32, ::1/128\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nurl = http://127.0.0.1:9000\n"));
	c = load_ok(text);
	check_defaults(c);
	ck_assert_str_eq(c->origin_url, "http://127.0.0.1:9000");
	config_destroy(c);
	/* the shipped file is the sample, byte for byte */
	shipped = slurp(conf, &shipped_len);
	ck_assert_msg(shipped != NULL, "cannot read %s", conf);
	ck_assert_msg(shipped_len == len && memcmp(shipped, text, len) == 0,
	              "%s differs from config_write_sample(); regenerate it", conf);
	free(shipped);
	free(conf);
	free(text);
}
END_TEST

/* "[origin] url = ..." followed by extra. */
static char *
with_url(const char *extra)
{
	return xasprintf("[origin]\nurl = http://127.0.0.1:9000\n%s", extra);
}

START_TEST(test_long_allow_list)
{
	struct buf list = {0};
	char *text;
	struct config *c;

	for (int i = 0; list.len < 4000; i++)
		buf_printf(&list, "%s10.%d.%d.0/24", i ? ", " : "", i / 256, i % 256);
	ck_assert_uint_gt(list.len, 1000);
	/* a long list within the line limit is read whole */
	text = xasprintf("[origin]\nurl = http://127.0.0.1:9000\n[stats]\nallow = %s\n", list.data);
	c = load_ok(text);
	ck_assert_str_eq(c->stats_allow, list.data);
	ck_assert(stats_allows(c, "10.0.0.1"));
	ck_assert(stats_allows(c, "10.1.10.1"));
	ck_assert(!stats_allows(c, "10.3.0.1"));
	config_destroy(c);
	free(text);
	/* one element more than the line holds: rejected with the clear message, not split */
	for (int i = 0; list.len <= 4096; i++)
		buf_printf(&list, ", 10.99.%d.0/24", i);
	text = xasprintf("[origin]\nurl = http://127.0.0.1:9000\n[stats]\nallow = %s\n", list.data);
	load_bad(text, ":4: line too long (at most 4096 characters)\n");
	free(text);
	/* exactly at the limit is accepted, one more character is not */
	char key[4097];
	memset(key, ' ', sizeof(key));
	memcpy(key, "level = debug", 13);
	key[4096] = '\0';
	text = xasprintf("[origin]\nurl = http://127.0.0.1:9000\n[log]\n%s\n", key);
	c = load_ok(text);
	ck_assert_int_eq(c->log_level, LOG_DEBUG);
	config_destroy(c);
	free(text);
	text = xasprintf("[origin]\nurl = http://127.0.0.1:9000\n[log]\n%s \n", key);
	load_bad(text, ":4: line too long (at most 4096 characters)\n");
	free(text);
	buf_free(&list);
}
END_TEST

START_TEST(test_syntax_variants)
{
	struct config *c;
	char *text;

	/* CRLF line ends, a UTF-8 BOM, tabs, "key: value", inline and '#' comments */
	c = load_ok(
	        "\xEF\xBB\xBF; comment\r\n[origin]\r\n\turl: http://127.0.0.1:9000/ ; inline\r\n"
	        "# hash comment\r\n[ server ] ; trailing comment\r\n  threads=7\r\n"
	        "[stats]\npath = /s;not-a-comment\n");
	ck_assert_str_eq(c->origin_url, "http://127.0.0.1:9000");
	ck_assert_uint_eq(c->threads, 7);
	ck_assert_str_eq(c->stats_path, "/s;not-a-comment");
	config_destroy(c);
	/* the last line may lack its newline */
	c = load_ok("[origin]\nurl = http://127.0.0.1:9000\n[log]\nlevel = WARN");
	ck_assert_int_eq(c->log_level, LOG_WARN);
	config_destroy(c);
	/* a NUL byte is an error, reported on its line */
	text = with_url("[log]\nlevel = info\n");
	size_t n = strlen(text);
	text[n - 3] = '\0';
	char *path = write_temp(text, n);
	struct buf errors = {0};
	ck_assert_ptr_null(config_load(path, &errors));
	ck_assert_ptr_nonnull(
	        strstr(errors.data, ":4: syntax error: the line contains a NUL byte"));
	unlink(path);
	free(path);
	free(text);
	buf_free(&errors);
	/* a key name with a blank inside is a syntax error, not an unknown key */
	text = with_url("[server]\nmax connections = 5\n");
	load_bad(text, ":4: syntax error: expected '[section]' or 'key = value'");
	free(text);
	/* a section name longer than inih's own buffer is reported in full */
	text = with_url("[a_section_name_that_is_much_longer_than_fifty_characters_in_all]\n"
	                "threads = 4\n");
	load_bad(text, ":3: unknown section "
	               "[a_section_name_that_is_much_longer_than_fifty_characters_in_all]");
	free(text);
	/* values keep their inner blanks; only the outer ones are trimmed */
	c = load_ok("[origin]\nurl = http://127.0.0.1:9000\n[stats]\nallow =   10.0.0.1 ,  "
	            "10.0.0.2   \n");
	ck_assert_str_eq(c->stats_allow, "10.0.0.1 ,  10.0.0.2");
	config_destroy(c);
}
END_TEST

START_TEST(test_listen_forms)
{
	struct config *c;
	char *text;

	text = with_url("[server]\nlisten = 0.0.0.0:80\n");
	c = load_ok(text);
	ck_assert_int_eq(c->listen_addr.ss_family, AF_INET);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&c->listen_addr)->sin_port), 80);
	config_destroy(c);
	free(text);
	text = with_url("[server]\nlisten = [::]:65535\n");
	c = load_ok(text);
	ck_assert_int_eq(c->listen_addr.ss_family, AF_INET6);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in6 *)&c->listen_addr)->sin6_port), 65535);
	config_destroy(c);
	free(text);

	const char *bad[][2] = {
	        {"127.0.0.1", "(the port is missing)"},
	        {":8080", "(the host is missing)"},
	        {"127.0.0.1:", "(the port must be a number from 0 to 65535)"},
	        {"127.0.0.1:http", "(the port must be a number from 0 to 65535)"},
	        {"[::1]8080", "(an IPv6 address is written as [address]:port)"},
	        {"[::1", "(an IPv6 address is written as [address]:port)"},
	        {"[127.0.0.1]:80", "("},
	        {"[]:80", "(the host is missing)"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *extra = xasprintf("[server]\nlisten = %s\n", bad[i][0]);
		char *want =
		        xasprintf(":4: [server] listen: expected host:port or [IPv6]:port with "
		                  "a port from 0 to 65535, got '%s' %s",
		                  bad[i][0], bad[i][1]);

		text = with_url(extra);
		load_bad(text, want);
		free(text);
		free(extra);
		free(want);
	}
}
END_TEST

START_TEST(test_url_forms)
{
	const char *good[][2] = {
	        {"http://origin", "http://origin"},
	        {"http://origin/", "http://origin"},
	        {"https://origin:8443/api/v2//", "https://origin:8443/api/v2"},
	        {"HTTP://origin:9000/base", "http://origin:9000/base"},
	        {"http://[::1]:9000/", "http://[::1]:9000"},
	};
	const char *bad[][2] = {
	        {"origin.example.com", "(Bad scheme)"},
	        {"http://", "("},
	        {"ftp://origin/", "(the scheme must be http or https)"},
	        {"http://origin/?x=1", "(a query ('?') is not allowed)"},
	        {"http://origin/#top", "(a fragment ('#') is not allowed)"},
	        {"http://origin/#", "(a fragment ('#') is not allowed)"},
	        {"http://user:secret@origin/", "(a user name or password is not allowed)"},
	        {"http://origin:0/", "(port 0 is not allowed)"},
	        {"http://origin:65536/", "("},
	        {"http://ori gin/", "("},
	};
	char *text;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		text = xasprintf("[origin]\nurl = %s\n", good[i][0]);
		struct config *c = load_ok(text);
		ck_assert_str_eq(c->origin_url, good[i][1]);
		config_destroy(c);
		free(text);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *want =
		        xasprintf(":2: [origin] url: expected an http:// or https:// URL with a "
		                  "host and no query or fragment, got '%s' %s",
		                  bad[i][0], bad[i][1]);

		text = xasprintf("[origin]\nurl = %s\n", bad[i][0]);
		load_bad(text, want);
		free(text);
		free(want);
	}
}
END_TEST

START_TEST(test_bounds_accepted)
{
	/* each bound itself is valid */
	struct config *c = load_ok("[origin]\nurl = http://o\nconnect_timeout_ms = 600000\n"
	                           "timeout_ms = 1\nmax_connections = 100000\n"
	                           "[server]\nthreads = 1024\nmax_connections = 1\n"
	                           "connection_timeout = 86400\nmax_body_bytes = 0\n"
	                           "[local]\nmax_bytes = 1024G\nmax_object_bytes = 1024g\n"
	                           "max_entries = 1\ndefault_ttl = 31536000\n");

	ck_assert_uint_eq(c->threads, 1024);
	ck_assert_uint_eq(c->max_connections, 1);
	ck_assert_uint_eq(c->connection_timeout, 86400);
	ck_assert_uint_eq(c->max_body_bytes, 0);
	ck_assert_uint_eq(c->origin_connect_timeout_ms, 600000);
	ck_assert_uint_eq(c->origin_timeout_ms, 1);
	ck_assert_uint_eq(c->origin_max_connections, 100000);
	ck_assert_uint_eq(c->local_max_bytes, UINT64_C(1024) << 30);
	ck_assert_uint_eq(c->local_max_object_bytes, UINT64_C(1024) << 30);
	ck_assert_uint_eq(c->local_max_entries, 1);
	ck_assert_int_eq(c->local_default_ttl, 31536000);
	config_destroy(c);
	c = load_ok("[origin]\nurl = http://o\n[local]\nmax_bytes = 1K\nmax_object_bytes = 1024\n");
	ck_assert_uint_eq(c->local_max_bytes, 1024);
	ck_assert_uint_eq(c->local_max_object_bytes, 1024);
	config_destroy(c);
}
END_TEST

/* Reloads next over the config loaded from running; *restart gets the names. */
static struct config *
reload_text(const struct config *running, const char *next, struct buf *errors, struct buf *restart)
{
	char *path = write_temp(next, strlen(next));
	struct config *c = config_reload(path, running, errors, restart);

	unlink(path);
	free(path);
	return c;
}

START_TEST(test_reload)
{
	/* each case: a new file over the same running one; the keys named as needing a restart */
	static const struct {
		const char *next;
		const char *restart;
	} cases[] = {
	        {"[origin]\nurl = http://o\n", ""},
	        {"[origin]\nurl = http://o\n[stats]\nallow = 10.0.0.0/8\npath = /s\n", ""},
	        {"[origin]\nurl = http://o\n[log]\nlevel = debug\naccess_log = /x.log\n", ""},
	        {"[origin]\nurl = http://o\n[server]\nmax_body_bytes = 2K\nshutdown_timeout = 1\n"
	         "[local]\nmax_object_bytes = 1K\n",
	         ""},
	        {"[origin]\nurl = http://other:81/base\n", "[origin] url"},
	        {"[origin]\nurl = http://o\n[server]\nlisten = 127.0.0.1:9\nthreads = 3\n",
	         "[server] listen, [server] threads"},
	        {"[origin]\nurl = http://o\n[local]\npolicy = lru\nmax_bytes = 2M\ndefault_ttl = "
	         "5\n",
	         "[local] policy, [local] max_bytes, [local] default_ttl"},
	        {"[origin]\nurl = http://o\ntimeout_ms = 5\n[memcached]\nservers = m:1\n",
	         "[origin] timeout_ms, [memcached] servers"},
	        /* the same value written another way is no change */
	        {"[server]\nlisten = 127.0.0.1:8080\nthreads = 0\n[origin]\nurl = http://o/\n"
	         "[local]\nmax_bytes = 65536K\n",
	         ""},
	};
	struct config *running = load_ok("[origin]\nurl = http://o\n");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf errors = {0}, restart = {0};
		struct config *c = reload_text(running, cases[i].next, &errors, &restart);

		ck_assert_msg(c != NULL, "case %zu: %s", i, errors.data ? errors.data : "");
		ck_assert_msg(strcmp(restart.data ? restart.data : "", cases[i].restart) == 0,
		              "case %zu: restart '%s', expected '%s'", i,
		              restart.data ? restart.data : "", cases[i].restart);
		/* keys that need a restart keep their running values */
		ck_assert_str_eq(c->listen, running->listen);
		ck_assert_int_eq(
		        memcmp(&c->listen_addr, &running->listen_addr, sizeof(c->listen_addr)), 0);
		ck_assert_uint_eq(c->threads, running->threads);
		ck_assert_str_eq(c->origin_url, running->origin_url);
		ck_assert_uint_eq(c->origin_timeout_ms, running->origin_timeout_ms);
		ck_assert_str_eq(c->local_policy, running->local_policy);
		ck_assert_uint_eq(c->local_max_bytes, running->local_max_bytes);
		ck_assert_int_eq(c->local_default_ttl, running->local_default_ttl);
		ck_assert_str_eq(c->mc_servers, running->mc_servers);
		ck_assert_uint_eq(c->mc_server_list.n, running->mc_server_list.n);
		config_destroy(c);
		buf_free(&errors);
		buf_free(&restart);
	}

	/* live keys take the new values */
	struct buf errors = {0}, restart = {0};
	struct config *c = reload_text(running,
	                               "[origin]\nurl = http://o\n[stats]\nallow = 10.0.0.0/8\n"
	                               "path = /s\n[log]\nlevel = debug\naccess_log = -\n"
	                               "[server]\nmax_body_bytes = 2K\nshutdown_timeout = 1\n"
	                               "[local]\nmax_object_bytes = 1K\n",
	                               &errors, &restart);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->stats_path, "/s");
	ck_assert_str_eq(c->stats_allow, "10.0.0.0/8");
	ck_assert_int_eq(c->log_level, LOG_DEBUG);
	ck_assert_str_eq(c->access_log, "-");
	ck_assert_uint_eq(c->max_body_bytes, 2048);
	ck_assert_int_eq(c->shutdown_timeout, 1);
	ck_assert_uint_eq(c->local_max_object_bytes, 1024);
	ck_assert(config_is_live("stats", "allow"));
	ck_assert(!config_is_live("server", "listen"));
	ck_assert(!config_is_live("server", "no_such_key"));
	config_destroy(c);

	/* a file that does not check: NULL, every problem */
	buf_free(&errors);
	c = reload_text(running, "[origin]\nurl = ftp://o\n[server]\nthreads = x\n", &errors,
	                &restart);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(errors.data, ":2: [origin] url"));
	ck_assert_ptr_nonnull(strstr(errors.data, ":4: [server] threads"));

	/* a live key checked against a running value it may not exceed */
	buf_free(&errors);
	buf_free(&restart);
	c = reload_text(
	        running,
	        "[origin]\nurl = http://o\n[local]\nmax_bytes = 1G\nmax_object_bytes = 128M\n",
	        &errors, &restart);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(errors.data, "[local] max_object_bytes: 128M must not exceed "
	                                          "[local] max_bytes (64M, running"));
	buf_free(&errors);
	buf_free(&restart);
	config_destroy(running);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_good_fixture);
	tcase_add_test(tc, test_bad_fixtures);
	tcase_add_test(tc, test_unreadable);
	tcase_add_test(tc, test_sample);
	tcase_add_test(tc, test_long_allow_list);
	tcase_add_test(tc, test_syntax_variants);
	tcase_add_test(tc, test_listen_forms);
	tcase_add_test(tc, test_url_forms);
	tcase_add_test(tc, test_bounds_accepted);
	tcase_add_test(tc, test_reload);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
