/*
 * log: the error log. Lines go to stderr as "2026-11-22T10:00:00.123Z LEVEL message".
 * The level threshold is a process-wide atomic; writing a line is one write(2), so lines from
 * different threads never interleave.
 */
#ifndef TIERCACHE_LOG_H
#define TIERCACHE_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the lowest level that is written. */
void log_set_level(enum log_level level);

/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int log_level_parse(const char *name);

/* Writes one formatted line at the given level. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
