/* check_stream: the bounded pipe's fill, pause and room, wait and ready, end and close. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

/* Counts the callbacks of each side. */
struct calls {
	int room, ready, wait;
};

static void
on_room(struct stream *s, void *arg)
{
	(void)s;
	((struct calls *)arg)->room++;
}

static void
on_ready(struct stream *s, void *arg)
{
	(void)s;
	((struct calls *)arg)->ready++;
}

static void
on_wait(struct stream *s, void *arg)
{
	(void)s;
	((struct calls *)arg)->wait++;
}

START_TEST(test_stream_fill_pause_room)
{
	struct calls c = {0};
	struct stream *s = stream_new(8);
	char out[64];

	stream_set_producer(s, on_room, &c);
	stream_set_consumer(s, on_ready, &c);
	ck_assert_int_eq(stream_put(s, "abcdef", 6, false), STREAM_TAKEN);
	/* below cap: taken whole, even beyond it */
	ck_assert_int_eq(stream_put(s, "ghijkl", 6, false), STREAM_TAKEN);
	ck_assert_uint_eq(stream_buffered(s), 12);
	/* at or beyond cap: refused, nothing taken */
	ck_assert_int_eq(stream_put(s, "mn", 2, false), STREAM_FULL);
	ck_assert_uint_eq(stream_buffered(s), 12);
	ck_assert_int_eq(c.room, 0);
	/* a read that leaves more than half of cap does not call room */
	ck_assert_int_eq(stream_read(s, out, 3, on_wait, &c), 3);
	ck_assert_int_eq(memcmp(out, "abc", 3), 0);
	ck_assert_int_eq(c.room, 0);
	/* down to half of cap: room, once */
	ck_assert_int_eq(stream_read(s, out, 5, on_wait, &c), 5);
	ck_assert_int_eq(memcmp(out, "defgh", 5), 0);
	ck_assert_int_eq(c.room, 1);
	ck_assert_int_eq(stream_read(s, out, 1, on_wait, &c), 1);
	ck_assert_int_eq(c.room, 1);
	/* the producer puts again what was refused; order is kept */
	ck_assert_int_eq(stream_put(s, "mn", 2, false), STREAM_TAKEN);
	ck_assert_int_eq(stream_read(s, out, sizeof(out), on_wait, &c), 5);
	ck_assert_int_eq(memcmp(out, "jklmn", 5), 0);
	ck_assert_int_eq(c.wait, 0);
	ck_assert_int_eq(c.ready, 0); /* the consumer never waited */
	stream_unref(s);
}
END_TEST

START_TEST(test_stream_wait_ready_end)
{
	struct calls c = {0};
	struct stream *s = stream_new(8);
	char out[16];

	stream_set_consumer(s, on_ready, &c);
	/* nothing yet: wait runs, then ready on the next put, once */
	ck_assert_int_eq(stream_read(s, out, sizeof(out), on_wait, &c), STREAM_WAIT);
	ck_assert_int_eq(c.wait, 1);
	ck_assert_int_eq(stream_put(s, "x", 1, false), STREAM_TAKEN);
	ck_assert_int_eq(c.ready, 1);
	ck_assert_int_eq(stream_put(s, "y", 1, false), STREAM_TAKEN);
	ck_assert_int_eq(c.ready, 1);
	ck_assert_int_eq(stream_read(s, out, sizeof(out), on_wait, &c), 2);
	/* waiting again: the end wakes the consumer, which reads EOF (after the bytes) */
	ck_assert_int_eq(stream_read(s, out, sizeof(out), on_wait, &c), STREAM_WAIT);
	stream_end(s, true);
	ck_assert_int_eq(c.ready, 2);
	ck_assert_int_eq(stream_read(s, out, sizeof(out), on_wait, &c), STREAM_EOF);
	ck_assert_int_eq(stream_read(s, out, sizeof(out), on_wait, &c), STREAM_EOF);
	stream_unref(s);
}
END_TEST

START_TEST(test_stream_failure_after_bytes)
{
	struct calls c = {0};
	struct stream *s = stream_new(8);
	char out[16];

	ck_assert_int_eq(stream_put(s, "abc", 3, false), STREAM_TAKEN);
	stream_end(s, false);
	/* bytes already received are delivered, then the error: never a clean end */
	ck_assert_int_eq(stream_read(s, out, sizeof(out), on_wait, &c), 3);
	ck_assert_int_eq(stream_read(s, out, sizeof(out), on_wait, &c), STREAM_ERR);
	stream_unref(s);
}
END_TEST

START_TEST(test_stream_close)
{
	struct calls c = {0};
	struct stream *s = stream_new(4);

	stream_set_producer(s, on_room, &c);
	stream_ref(s); /* the consumer's reference */
	ck_assert_int_eq(stream_put(s, "abcd", 4, false), STREAM_TAKEN);
	ck_assert_int_eq(stream_put(s, "e", 1, false), STREAM_FULL);
	/* the client leaves while the producer is paused: room runs so that it finds out */
	stream_close(s);
	ck_assert_int_eq(c.room, 1);
	stream_unref(s);
	ck_assert_int_eq(stream_put(s, "e", 1, false), STREAM_GONE);
	stream_end(s, false);
	ck_assert_int_eq(c.room, 1); /* never after the end */
	stream_unref(s);
}
END_TEST

START_TEST(test_stream_forced_and_compaction)
{
	struct calls c = {0};
	struct stream *s = stream_new(4);
	char big[100], out[128];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	/* what arrived before the stream began is taken whatever the fill */
	ck_assert_int_eq(stream_put(s, big, sizeof(big), true), STREAM_TAKEN);
	ck_assert_int_eq(stream_put(s, "z", 1, false), STREAM_FULL);
	size_t got = 0;
	while (got < sizeof(big)) {
		size_t want = sizeof(big) - got < 7 ? sizeof(big) - got : 7;
		ssize_t n = stream_read(s, out, want, on_wait, &c);
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(memcmp(out, big + got, (size_t)n), 0);
		got += (size_t)n;
		if (got == 49)
			ck_assert_int_eq(stream_put(s, "!", 1, true), STREAM_TAKEN);
	}
	ck_assert_int_eq(stream_read(s, out, sizeof(out), on_wait, &c), 1);
	ck_assert_int_eq(out[0], '!');
	stream_unref(s);
}
END_TEST

static Suite *
stream_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_stream_fill_pause_room);
	tcase_add_test(tc, test_stream_wait_ready_end);
	tcase_add_test(tc, test_stream_failure_after_bytes);
	tcase_add_test(tc, test_stream_close);
	tcase_add_test(tc, test_stream_forced_and_compaction);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(stream_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
