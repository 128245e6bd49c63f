/*
 * fuzz_cachecontrol: cachecontrol_parse() on the input as a Cache-Control value. Properties:
 * parsing is deterministic; a delta-seconds directive that is set holds a value in
 * [0, CC_DELTA_MAX] and an absent or invalid one holds 0; a value without any directive
 * name sets nothing; the value repeated (two Cache-Control lines joined with ", ") keeps every
 * restriction the value had; a "no-store, private" line after it is always seen.
 * The same input as a targeted field (cachecontrol_parse_targeted, an RFC 8941 Dictionary):
 * deterministic, values in range, and an invalid field leaves nothing set.
 */
#include <stdlib.h>

#include "cachecontrol.h"
#include "fuzz.h"

static void
fuzz_cc_check_delta(const struct cc_delta *d)
{
	TC_ASSERT(d->state == CC_ABSENT || d->state == CC_SET || d->state == CC_INVALID);
	if (d->state == CC_SET)
		TC_ASSERT(d->value <= CC_DELTA_MAX);
	else
		TC_ASSERT(d->value == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = fuzz_string(data, size);
	struct cache_control a, b, c;

	cachecontrol_parse(value, &a);
	cachecontrol_parse(value, &b);
	TC_ASSERT(memcmp(&a, &b, sizeof(a)) == 0);
	fuzz_cc_check_delta(&a.max_age);
	fuzz_cc_check_delta(&a.s_maxage);
	fuzz_cc_check_delta(&a.stale_while_revalidate);
	fuzz_cc_check_delta(&a.stale_if_error);
	fuzz_cc_check_delta(&a.max_stale);
	fuzz_cc_check_delta(&a.min_fresh);
	if (!a.any) {
		struct cache_control none;
		cachecontrol_parse(NULL, &none);
		TC_ASSERT(memcmp(&a, &none, sizeof(a)) == 0);
	}

	/* the value twice, as two joined Cache-Control lines: restrictions are never lost */
	char *twice = xasprintf("%s, %s", value, value);
	cachecontrol_parse(twice, &c);
	TC_ASSERT(!a.no_store || c.no_store);
	/* (no-cache and private may come out qualified: an unterminated quote in the first copy
	 * can close inside the second and make a field list of what it swallowed; still a
	 * restriction, and only for a field that was malformed to begin with) */
	TC_ASSERT(!a.no_cache || c.no_cache || c.no_cache_fields);
	TC_ASSERT(!a.private_ || c.private_ || c.private_fields);
	TC_ASSERT(!a.must_revalidate || c.must_revalidate);
	/* (not "==": an unterminated quoted string in the first copy swallows the second copy
	 * whole, and the second can turn a value without directive into one with one) */
	TC_ASSERT(!a.any || c.any);
	free(twice);

	/* a later Cache-Control line is never swallowed by a malformed earlier one */
	char *later = xasprintf("%s, no-store, private", value);
	cachecontrol_parse(later, &c);
	TC_ASSERT(c.no_store && c.private_);
	free(later);

	/* as a targeted field */
	bool va = cachecontrol_parse_targeted(value, &a);
	bool vb = cachecontrol_parse_targeted(value, &b);
	TC_ASSERT(va == vb && memcmp(&a, &b, sizeof(a)) == 0);
	fuzz_cc_check_delta(&a.max_age);
	fuzz_cc_check_delta(&a.s_maxage);
	fuzz_cc_check_delta(&a.stale_while_revalidate);
	fuzz_cc_check_delta(&a.stale_if_error);
	if (!va) {
		struct cache_control none;
		cachecontrol_parse(NULL, &none);
		TC_ASSERT(memcmp(&a, &none, sizeof(a)) == 0);
	} else {
		TC_ASSERT(a.any);
	}
	free(value);
	return 0;
}
