/*
 * bodyfile: large stored bodies in sealed memory files (memfd), sent with sendfile.
 * Owns the process-wide threshold, the budget of open files and two counters; no lock: the
 * budget is one atomic count, reserved before a file is made and given back when it is closed
 * (or could not be made). A file is filled with write(2), sealed (no write, grow or shrink:
 * the bytes a response hands to the kernel by reference can never change under it), then
 * mapped read-only. Whoever holds the struct bodyfile owns the descriptor and the mapping
 * (entry.c: the entry's last reference releases them); a descriptor duplicated for a response
 * keeps the file alive on its own after that, and the pages already queued on a socket are
 * held by the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "bodyfile.h"
#include "log.h"

static uint64_t bodyfile_min_bytes;        /* 0 = never (set once at start) */
static unsigned bodyfile_max_files;        /* the budget (set once at start) */
static atomic_uint_fast64_t bodyfile_open; /* files open now */
static atomic_uint_fast64_t bodyfile_refused_n;

/* Sets the threshold (0 = never) and the most files open at once; once, at start. */
void
bodyfile_configure(uint64_t min_bytes, unsigned max_files)
{
	bodyfile_min_bytes = min_bytes;
	bodyfile_max_files = max_files;
}

/* Raises the soft open-file limit to the hard one; the budget that fits beside reserve. */
unsigned
bodyfile_fit_limit(unsigned max_files, unsigned reserve)
{
	struct rlimit rl;
	uint64_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit raised = {rl.rlim_max, rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl.rlim_cur = rl.rlim_max;
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return max_files;
	/* half of what the reserve leaves: each stored body may also have a descriptor
	 * duplicated for a response being sent or kept for reuse (server.c) */
	room = rl.rlim_cur > reserve ? (rl.rlim_cur - reserve) / 2 : 0;
	return room < max_files ? (unsigned)room : max_files;
}

/* Counts a body that stays in ordinary memory; false, for the caller to return. */
static bool
bodyfile_refuse(bool reserved, const char *why)
{
	if (reserved)
		atomic_fetch_sub(&bodyfile_open, 1);
	atomic_fetch_add_explicit(&bodyfile_refused_n, 1, memory_order_relaxed);
	if (why != NULL)
		log_debug("bodyfile: body kept in memory: %s: %s", why, strerror(errno));
	return false;
}

/* Copies body into a new sealed memory file mapped read-only into *out (false: not done). */
bool
bodyfile_create(const char *body, size_t len, struct bodyfile *out)
{
	size_t done = 0;
	int fd;
	void *map;

	if (bodyfile_min_bytes == 0 || len < bodyfile_min_bytes || len == 0)
		return false;
	if (atomic_fetch_add(&bodyfile_open, 1) >= bodyfile_max_files)
		return bodyfile_refuse(true, NULL);
	fd = memfd_create("tiercache-body", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return bodyfile_refuse(true, "memfd_create");
	while (done < len) {
		ssize_t n = write(fd, body + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return bodyfile_refuse(true, "write");
		}
		done += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK) != 0) {
		close(fd);
		return bodyfile_refuse(true, "seal");
	}
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return bodyfile_refuse(true, "mmap");
	}
	out->fd = fd;
	out->map = map;
	return true;
}

/* Unmaps and closes a body file of len bytes. */
void
bodyfile_release(struct bodyfile *f, size_t len)
{
	if (f->fd < 0)
		return;
	munmap(f->map, len);
	close(f->fd);
	f->fd = -1;
	f->map = NULL;
	atomic_fetch_sub(&bodyfile_open, 1);
}

/* Body files open now. */
uint64_t
bodyfile_open_count(void)
{
	return atomic_load(&bodyfile_open);
}

/* Bodies at or over the threshold kept in ordinary memory. */
uint64_t
bodyfile_refused(void)
{
	return atomic_load(&bodyfile_refused_n);
}
