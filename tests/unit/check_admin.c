/*
 * check_admin: the administrative documents. The choice between the HTML page and JSON for
 * /stats (the query's format, then Accept's q-values with the most specific range winning;
 * table-driven, with browsers' and tools' real Accept fields), and the /healthz states from
 * real evidence: an origin never asked, an origin that refuses connections (probed), with the
 * local tier empty (503) and holding a response (200, degraded).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "admin.h"
#include "config.h"
#include "entry.h"
#include "local.h"
#include "origin.h"

START_TEST(test_wants_html)
{
	static const struct {
		const char *accept, *query;
		bool html;
	} cases[] = {
	        /* Chromium's and Firefox's navigation Accept fields */
	        {"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
	         "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
	         NULL, true},
	        {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", NULL, true},
	        /* curl, wget, scripts */
	        {"*/*", NULL, false},
	        {NULL, NULL, false},
	        {"", NULL, false},
	        {"application/json", NULL, false},
	        {"application/json, text/html", NULL, false}, /* a tie: JSON */
	        {"text/html;q=0.5, application/json", NULL, false},
	        {"text/html, application/json;q=0.5", NULL, true},
	        {"text/*", NULL, true},
	        {"text/*, application/*", NULL, false},
	        {"TEXT/HTML", NULL, true},
	        {"text/html ; q=0.9 , */* ; q=0.1", NULL, true},
	        {"text/html;level=1", NULL, true},
	        {"text/html;q=0", NULL, false},
	        {"text/html;q=2", NULL, false},   /* out of range: counts as 0 */
	        {"text/html;q=abc", NULL, false}, /* malformed: counts as 0 */
	        {"text/htmlx", NULL, false},
	        {"text/plain", NULL, false},
	        {"application/json;q=0.1, */*;q=0.5", NULL, true}, /* html via any/any */
	        /* the query decides first */
	        {"*/*", "format=html", true},
	        {"text/html", "format=json", false},
	        {"text/html", "a=1&format=json", false},
	        {NULL, "x=1&format=html&y=2", true},
	        {"text/html", "format=jsonp", true}, /* not a format we know: Accept decides */
	        {"*/*", "", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(admin_wants_html(cases[i].accept, cases[i].query) == cases[i].html,
		              "Accept '%s', query '%s': expected %s", cases[i].accept,
		              cases[i].query ? cases[i].query : "(none)",
		              cases[i].html ? "HTML" : "JSON");
}
END_TEST

/* The /healthz document and status. */
static int
health(struct local *l, struct origin *o, char **doc)
{
	struct buf b = {0};
	int status = admin_health_json(&b, l, NULL, o, true);

	*doc = buf_steal(&b, NULL);
	return status;
}

START_TEST(test_health_states)
{
	struct config *cfg = config_defaults();
	char *cause = NULL, *doc;
	struct local *l = local_create("lru", 1 << 20, 100);
	struct origin *o;
	struct origin_health h;

	/* port 1 on loopback: nothing listens there, the connection is refused */
	cfg->origin_url = xstrdup("http://127.0.0.1:1");
	o = origin_create(cfg, &cause);
	ck_assert_msg(o != NULL, "%s", cause);

	ck_assert_int_eq(health(l, o, &doc), 200);
	ck_assert_msg(strstr(doc, "\"status\": \"ok\"") && strstr(doc, "\"state\": \"unknown\""),
	              "%s", doc);
	free(doc);

	/* a probe finds it down (waits for the probe's outcome, not for a time) */
	ck_assert(origin_probe(o));
	ck_assert(!origin_probe(o)); /* one at a time, one a second */
	for (int i = 0; i < 1000; i++) {
		origin_health(o, &h);
		if (h.state == ORIGIN_STATE_DOWN)
			break;
		usleep(10000);
	}
	ck_assert_int_eq(h.state, ORIGIN_STATE_DOWN);
	ck_assert_int_eq(h.last_error, ORIGIN_CONNECT);
	ck_assert_uint_eq(h.failures, 1);
	ck_assert_uint_eq(h.probes, 1);
	ck_assert_int_eq(h.last_ok_ms, 0);

	ck_assert_int_eq(health(l, o, &doc), 503);
	ck_assert_msg(strstr(doc, "\"status\": \"unavailable\"") &&
	                      strstr(doc, "\"state\": \"down\"") &&
	                      strstr(doc, "\"last_error\": \"connect\""),
	              "%s", doc);
	free(doc);

	/* something to serve: degraded, 200 */
	struct http_headers hd = {0};
	struct rfc9111_settings st = {.default_ttl = 60};
	int64_t now = util_now();
	struct entry *e = entry_new("h/x", NULL, 200, &hd, NULL, 0, now, now, &st);
	ck_assert(local_insert(l, e, now));
	entry_unref(e);
	ck_assert_int_eq(health(l, o, &doc), 200);
	ck_assert_msg(strstr(doc, "\"status\": \"degraded\"") && strstr(doc, "\"entries\": 1"),
	              "%s", doc);
	free(doc);

	origin_destroy(o);
	local_destroy(l);
	config_destroy(cfg);
}
END_TEST

static Suite *
admin_suite(void)
{
	Suite *s = suite_create("admin");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_wants_html);
	tcase_add_test(tc, test_health_states);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	sr = srunner_create(admin_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
