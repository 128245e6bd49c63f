/*
 * bodyfile: large stored bodies kept in memory files (memfd, shmem), so that a hit sends them
 * with sendfile (the kernel hands the file's pages to the socket: no copy of the body per
 * request) while every other reader (ranges, memcached writes, 304 merges) reads the same bytes
 * through a read-only mapping. A file is written once, sealed against any change, mapped, and
 * owned by one entry (entry.c): the entry's last reference unmaps and closes it. Responses
 * that send it hold their own duplicate of the descriptor (server.c).
 * Bounds: bodies below the threshold, and any body once the budget of open files is reached
 * or a file cannot be made, stay in ordinary memory (counted as refused). Process-wide state,
 * set once at start (bodyfile_configure, before any thread) and read with atomics after.
 */
#ifndef TIERCACHE_BODYFILE_H
#define TIERCACHE_BODYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A body in a memory file: the descriptor (owned) and its read-only mapping. */
struct bodyfile {
	int fd;
	char *map;
};

/*
 * Sets the threshold (bodies of at least min_bytes go to files; 0 = never) and the most files
 * open at once. Call once at start, before any thread uses bodyfile_create.
 */
void bodyfile_configure(uint64_t min_bytes, unsigned max_files);

/*
 * Raises the soft limit of open files to the hard one and bounds max_files by what the limit
 * leaves beside reserve descriptors (connections, origin, memcached); returns the budget used.
 */
unsigned bodyfile_fit_limit(unsigned max_files, unsigned reserve);

/*
 * Copies body[0..len) into a new sealed memory file mapped read-only into *out. False when
 * the body stays in ordinary memory: under the threshold, budget reached, or a system call
 * failed (the last two counted in bodyfile_refused).
 */
bool bodyfile_create(const char *body, size_t len, struct bodyfile *out);

/* Unmaps and closes a body file of len bytes (no lock may be held: this is I/O). */
void bodyfile_release(struct bodyfile *f, size_t len);

/* Body files open now. */
uint64_t bodyfile_open_count(void);

/* Bodies at or over the threshold kept in ordinary memory (budget reached, or failure). */
uint64_t bodyfile_refused(void);

#endif
