/*
 * log: the error log on stderr. The threshold is one atomic int; each line is formatted into
 * a local buffer and written with one write(2), so concurrent lines never interleave.
 */

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static atomic_int log_threshold = LOG_INFO;

static const char *const log_names[] = {"error", "warn", "info", "debug"};

/* Sets the lowest level that is written. */
void
log_set_level(enum log_level level)
{
	atomic_store(&log_threshold, (int)level);
}

/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcasecmp(name, log_names[i]) == 0)
			return (int)i;
	return -1;
}

/* Writes one formatted line at the given level. */
void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	size_t n;
	int m;

	if ((int)level > atomic_load_explicit(&log_threshold, memory_order_relaxed))
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	m = snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s ", (long)(tv.tv_usec / 1000),
	             log_names[level]);
	n += m > 0 ? (size_t)m : 0;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += (size_t)m < sizeof(line) - n - 1 ? (size_t)m : sizeof(line) - n - 2;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}
