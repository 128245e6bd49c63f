/*
 * fuzz_record: the memcached record decoder (memcached content is untrusted). The first byte
 * picks the mode: odd, the rest of the input is a record without its checksum, which is
 * appended here (so the fuzzer explores the fields behind the checksum); even, the rest is
 * decoded as it is. Properties: a decoded entry is what tiercache could have produced (status
 * 100..999, fields without CR, LF or NUL); its record decodes again, for its own key, to the
 * same entry, byte for byte the same record; another key is refused; anything else is
 * refused with no entry; the decoder never reads outside the input (sanitizers, valgrind).
 */
#include <stdlib.h>

#include <xxhash.h>

#include "fuzz.h"
#include "record.h"

static void
fuzz_record_check(const struct entry *e)
{
	TC_ASSERT(e->status >= 100 && e->status <= 999);
	TC_ASSERT(e->key[0] != '\0');
	TC_ASSERT(entry_request_time(e) <= e->response_time);
	const char *name, *value;
	size_t n = 0;

	for (size_t pos = 0; entry_field_next(e, &pos, &name, &value); n++) {
		TC_ASSERT(name[0] != '\0');
		TC_ASSERT(strpbrk(value, "\r\n") == NULL);
	}
	TC_ASSERT(n == entry_nfields(e));
}

/* Decodes the record of e again and compares. */
static void
fuzz_record_round_trip(const struct entry *e, const void *data, size_t len,
                       const struct rfc9111_settings *settings)
{
	struct buf b = {0};
	struct entry *again = NULL;

	record_encode(e, &b);
	TC_ASSERT(b.len == record_size(e));
	TC_ASSERT(b.len == len && memcmp(b.data, data, len) == 0);
	TC_ASSERT(record_decode(b.data, b.len, e->key, settings, &again) == RECORD_OK);
	TC_ASSERT(again->status == e->status && strcmp(again->key, e->key) == 0);
	TC_ASSERT((entry_vary_key(again) == NULL) == (entry_vary_key(e) == NULL));
	TC_ASSERT(entry_vary_key(e) == NULL ||
	          strcmp(entry_vary_key(again), entry_vary_key(e)) == 0);
	TC_ASSERT(entry_nfields(again) == entry_nfields(e) && again->body_len == e->body_len);
	TC_ASSERT(e->body_len == 0 || memcmp(entry_body(again), entry_body(e), e->body_len) == 0);
	entry_unref(again);

	char *other = xasprintf("%s#", e->key);
	TC_ASSERT(record_decode(b.data, b.len, other, settings, &again) == RECORD_OTHER_KEY);
	TC_ASSERT(again == NULL);
	free(other);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rfc9111_settings settings = {.default_ttl = 60};
	struct entry *e = (struct entry *)1;
	uint8_t *rec;
	size_t len;
	enum record_status st;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		uint64_t sum = XXH3_64bits(data + 1, size - 1);
		len = size - 1 + 8;
		rec = xmalloc(len);
		memcpy(rec, data + 1, size - 1);
		for (int i = 0; i < 8; i++)
			rec[size - 1 + (size_t)i] = (uint8_t)(sum >> (56 - 8 * i));
	} else {
		len = size - 1;
		rec = xmalloc(len ? len : 1);
		memcpy(rec, data + 1, len);
	}
	st = record_decode(rec, len, NULL, &settings, &e);
	TC_ASSERT(record_status_name(st) != NULL);
	if (st == RECORD_OK) {
		TC_ASSERT(e != NULL);
		fuzz_record_check(e);
		fuzz_record_round_trip(e, rec, len, &settings);
		entry_unref(e);
	} else {
		TC_ASSERT(e == NULL);
		TC_ASSERT(st != RECORD_OTHER_KEY); /* no key was asked for */
	}
	free(rec);
	return 0;
}
