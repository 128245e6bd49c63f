/*
 * policy: the table of eviction policies the local tier can use, looked up by name. The table
 * is the one place that lists them: policy_find and policy_names are driven by it, so adding a
 * policy is one line here (plus its file). State: the joined names, built once, and the seed of
 * the policies' keyed hashes (drawn once from getrandom, or fixed by policy_set_seed; an
 * atomic, so any thread may read it).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "policy.h"
#include "util.h"

static const struct policy_ops *const policy_table[] = {
        &policy_lru,
        &policy_lfu,
        &policy_ttl,
        &policy_tinylfu,
};

static pthread_once_t policy_names_once = PTHREAD_ONCE_INIT;
static char policy_names_buf[128];
static pthread_once_t policy_seed_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t policy_seed_value;

/* Joins the names of policy_table with '|' into policy_names_buf. */
static void
policy_names_build(void)
{
	size_t len = 0;

	for (size_t i = 0; i < TC_ARRAY_LEN(policy_table); i++) {
		size_t n = strlen(policy_table[i]->name);

		TC_ASSERT(len + n + 2 <= sizeof(policy_names_buf));
		if (i > 0)
			policy_names_buf[len++] = '|';
		memcpy(policy_names_buf + len, policy_table[i]->name, n);
		len += n;
	}
	policy_names_buf[len] = '\0';
}

/* The policy called name ("lru", "lfu", "ttl", "tinylfu"), or NULL. */
const struct policy_ops *
policy_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < TC_ARRAY_LEN(policy_table); i++) {
		if (strcmp(policy_table[i]->name, name) == 0)
			return policy_table[i];
	}
	return NULL;
}

/* The known policy names, separated by '|' (for messages and help). */
const char *
policy_names(void)
{
	pthread_once(&policy_names_once, policy_names_build);
	return policy_names_buf;
}

/* Draws the secret seed once per process. */
static void
policy_seed_init(void)
{
	atomic_store(&policy_seed_value, util_random_seed());
}

/* The seed of the policies' keyed hashes and random choices. */
uint64_t
policy_seed(void)
{
	pthread_once(&policy_seed_once, policy_seed_init);
	return atomic_load(&policy_seed_value);
}

/* Fixes the seed for the policies created from now on. */
void
policy_set_seed(uint64_t seed)
{
	pthread_once(&policy_seed_once, policy_seed_init);
	atomic_store(&policy_seed_value, seed);
}
