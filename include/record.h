/*
 * record: the value an entry is stored as in memcached, a versioned binary record. It carries
 * the full cache key, the Vary key, the status, the request and response times of the exchange
 * (and the response's arrival in milliseconds, to order two responses of one second), and the
 * response headers and body (a flag marks a vary spec, entry.h); validators (ETag, Last-Modified),
 * freshness (Cache-Control, Expires, Date, Age) and the Vary data are in those fields, and decoding
 * recomputes everything derived from them with entry_new, so the age keeps counting from the
 * original exchange on every proxy that reads the record. Decoding treats the bytes as untrusted
 * input: every length is checked against the buffer, a checksum covers the whole record, and a
 * record of another key, another format version or with any inconsistency is rejected, never
 * half-used. Pure functions: no state, no locks.
 */
#ifndef TIERCACHE_RECORD_H
#define TIERCACHE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "entry.h"
#include "rfc9111.h"
#include "util.h"

/* The format version written by record_encode (the only one record_decode accepts). */
#define RECORD_VERSION 1

/* The flag of a vary spec's record (entry.h); an older reader rejects it (a miss). */
#define RECORD_FLAG_SPEC 0x01

/* Bytes of a record without key, Vary key, headers and body. */
#define RECORD_OVERHEAD 56

enum record_status {
	RECORD_OK = 0,
	RECORD_BAD_MAGIC,    /* not a tiercache record */
	RECORD_BAD_VERSION,  /* a tiercache record of another format version */
	RECORD_TRUNCATED,    /* shorter than a record can be */
	RECORD_BAD_CHECKSUM, /* the bytes were changed */
	RECORD_CORRUPT,      /* a length or a field value is inconsistent */
	RECORD_OTHER_KEY,    /* a valid record, for another cache key */
};

/* Bytes record_encode appends for e. */
size_t record_size(const struct entry *e);

/* Appends the record of e to out. */
void record_encode(const struct entry *e, struct buf *out);

/*
 * Decodes len bytes of untrusted data. When key is not NULL, the record must be for that cache
 * key (RECORD_OTHER_KEY otherwise). On RECORD_OK, *out gets a new entry (one reference) built
 * with entry_new and settings; on any other status *out is NULL.
 */
enum record_status record_decode(const void *data, size_t len, const char *key,
                                 const struct rfc9111_settings *settings, struct entry **out);

/* A short name of a status ("ok", "bad-magic", ..., "other-key"). */
const char *record_status_name(enum record_status s);

#endif
