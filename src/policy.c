/*
 * policy: the table of eviction policies the local tier can use, looked up by name. The table
 * is the one place that lists them: policy_find and policy_names are driven by it, so adding a
 * policy is one line here (plus its file). No state besides the joined names, built once.
 */
#include <pthread.h>
#include <string.h>

#include "policy.h"
#include "util.h"

static const struct policy_ops *const policy_table[] = {
        &policy_lru,
        &policy_lfu,
        &policy_ttl,
};

static pthread_once_t policy_names_once = PTHREAD_ONCE_INIT;
static char policy_names_buf[128];

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

/* The policy called name ("lru", "lfu", "ttl"), or NULL. */
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
