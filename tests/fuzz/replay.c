/*
 * replay: the main() of the corpus replayers (tests/fuzz/replay_NAME), linked with one fuzz
 * target instead of libFuzzer, so that make check runs every seed and crash input with any
 * compiler (and under the sanitizers or valgrind when the build or the harness asks).
 * Usage: replay_NAME [FILE|DIR]...; without arguments it replays
 * $TC_SRCDIR/tests/fuzz/corpus/NAME (NAME from the program's name, after "replay_"). Prints
 * TAP: the empty input first, then one line per file in name order. Each input is copied to a
 * buffer of its exact size, so a read past its end is caught by AddressSanitizer or valgrind.
 * A target that crashes kills the run: the TAP stream ends early and the harness reports it
 * (the "# input" line before it names the file).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

struct replay_list {
	char **v;
	size_t n;
	size_t cap;
};

static void
replay_add(struct replay_list *l, char *path)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->v = xrealloc(l->v, l->cap * sizeof(l->v[0]));
	}
	l->v[l->n++] = path;
}

static int
replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds path, or every regular file of the directory path; false when it cannot be read. */
static int
replay_collect(struct replay_list *l, const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		replay_add(l, xstrdup(path));
		return 0;
	}
	d = opendir(path);
	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", path, de->d_name);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
			replay_add(l, p);
		else
			free(p);
	}
	closedir(d);
	return 0;
}

/* The last two components of path ("cachecontrol/max-age"), for the test names. */
static const char *
replay_name(const char *path)
{
	const char *p = path + strlen(path), *slash = NULL;

	while (p > path) {
		p--;
		if (*p == '/') {
			if (slash != NULL)
				return p + 1;
			slash = p;
		}
	}
	return path;
}

/* Reads a whole file into a buffer of its exact size (NULL and *len 0 when empty). */
static int
replay_read(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b = {0};
	char chunk[4096];
	size_t n;

	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	int err = ferror(f);
	fclose(f);
	*len = b.len;
	*data = NULL;
	if (b.len > 0) {
		*data = xmalloc(b.len);
		memcpy(*data, b.data, b.len);
	}
	buf_free(&b);
	return err ? -1 : 0;
}

int
main(int argc, char **argv)
{
	struct replay_list files = {0};
	int failed = 0;

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (replay_collect(&files, argv[i]) != 0)
				failed = 1;
	} else {
		const char *base = strrchr(argv[0], '/');
		const char *name = base ? base + 1 : argv[0];
		const char *src = getenv("TC_SRCDIR");
		if (strncmp(name, "replay_", 7) == 0)
			name += 7;
		if (strncmp(name, "lt-", 3) == 0)
			name += 3;
		char *dir = xasprintf("%s/tests/fuzz/corpus/%s", src ? src : ".", name);
		if (replay_collect(&files, dir) != 0)
			failed = 1;
		free(dir);
	}
	if (failed) {
		printf("Bail out! the corpus cannot be read\n");
		return 1;
	}
	qsort(files.v, files.n, sizeof(files.v[0]), replay_cmp);
	printf("1..%zu\n", files.n + 1);
	fflush(stdout);
	static const uint8_t empty[1];
	LLVMFuzzerTestOneInput(empty, 0);
	printf("ok 1 - the empty input\n");
	for (size_t i = 0; i < files.n; i++) {
		uint8_t *data;
		size_t len;

		printf("# input %s\n", files.v[i]);
		fflush(stdout);
		if (replay_read(files.v[i], &data, &len) != 0) {
			printf("not ok %zu - %s: cannot be read\n", i + 2, replay_name(files.v[i]));
			failed = 1;
		} else {
			LLVMFuzzerTestOneInput(data, len);
			printf("ok %zu - %s (%zu bytes)\n", i + 2, replay_name(files.v[i]), len);
			free(data);
		}
		fflush(stdout);
		free(files.v[i]);
	}
	free(files.v);
	return failed;
}
