/*
 * cachecontrol: parses a Cache-Control field value (RFC 9111 section 5.2) into a struct of
 * directives. Strict: names are case-insensitive, values may be tokens or quoted strings; a
 * delta-seconds value that is malformed or given twice makes the directive invalid (which the
 * rules read as the most conservative meaning); values saturate at 2^31. Pure, no state.
 */
#ifndef TIERCACHE_CACHECONTROL_H
#define TIERCACHE_CACHECONTROL_H

#include <stdbool.h>
#include <stdint.h>

/* Largest delta-seconds value kept; larger ones saturate here (RFC 9111 section 1.2.2). */
#define CC_DELTA_MAX INT64_C(2147483648)

/* A delta-seconds directive: absent, present with a valid value, or present but invalid. */
enum cc_state { CC_ABSENT = 0, CC_SET, CC_INVALID };

/* 8 bytes: a stored response keeps four of these (the value fits, as it saturates at 2^31) */
/*
 * Packed: 5 bytes instead of 8 with padding. A stored response keeps four of them (struct
 * cc_response in struct entry), and the 12 bytes of holes were 12 bytes of every entry.
 */
struct __attribute__((packed)) cc_delta {
	uint8_t state;  /* enum cc_state */
	uint32_t value; /* valid when state == CC_SET, at most CC_DELTA_MAX */
};

/*
 * The directives a response can carry, delta-seconds ones first, then the flags (no padding,
 * 32 bytes): what a stored response keeps (struct entry's cc). Spelled once here for both
 * struct cc_response and the first part of struct cache_control.
 */
#define CC_RESPONSE_FIELDS                                                                         \
	/* response and request directives */                                                      \
	struct cc_delta max_age;                                                                   \
	/* response directives */                                                                  \
	struct cc_delta s_maxage;                                                                  \
	struct cc_delta stale_while_revalidate;                                                    \
	struct cc_delta stale_if_error; /* also a request directive (RFC 5861) */                  \
	/* response and request directives */                                                      \
	bool no_store;                                                                             \
	bool no_cache; /* the unqualified directive (or one with a malformed argument) */          \
	bool no_transform;                                                                         \
	/* response directives */                                                                  \
	bool public_;                                                                              \
	bool private_; /* the unqualified directive (or one with a malformed argument) */          \
	bool must_revalidate;                                                                      \
	bool proxy_revalidate;                                                                     \
	bool must_understand;                                                                      \
	bool immutable;                                                                            \
	/* no-cache="field-list" / private="field-list" (RFC 9111 5.2.2.4, 5.2.2.7): the listed    \
	 * fields are not stored (cachecontrol_listed_fields); the rest of the response may be     \
	 * stored and reused as if the directive were absent. A malformed argument sets the        \
	 * unqualified directive instead (conservative). */                                        \
	bool no_cache_fields;                                                                      \
	bool private_fields;                                                                       \
	/* true when at least one directive was seen (including unknown extensions) */             \
	bool any;

/* The directives of a response (the request-only ones left out). */
struct cc_response {
	CC_RESPONSE_FIELDS
};

/*
 * The directives of a request or a response as parsed: the response's, readable as one
 * struct cc_response (resp) or field by field, then the request-only directives (64 bytes).
 */
struct cache_control {
	union {
		struct cc_response resp;
		struct {
			CC_RESPONSE_FIELDS
		};
	};
	/* request directives */
	struct cc_delta
	        max_stale; /* "max-stale" without a value: state CC_SET, value CC_DELTA_MAX */
	struct cc_delta min_fresh;
	bool only_if_cached;
};

/* Parses value (may be NULL: nothing set) into *cc, which is zeroed first. */
void cachecontrol_parse(const char *value, struct cache_control *cc);

/*
 * Calls fn(name, len, arg) for each field name listed in the argument of a no-cache or
 * private directive of value (a Cache-Control field value, may be NULL); names are not
 * NUL-terminated.
 */
void cachecontrol_listed_fields(const char *value,
                                void (*fn)(const char *name, size_t len, void *arg), void *arg);

/*
 * Parses a targeted cache-control field (RFC 9213: CDN-Cache-Control and the like), an
 * RFC 8941 Dictionary, into *cc (zeroed first). False when value is NULL, empty or not a
 * valid Dictionary: the field is then to be ignored as if absent (*cc is left zeroed).
 */
bool cachecontrol_parse_targeted(const char *value, struct cache_control *cc);

#endif
