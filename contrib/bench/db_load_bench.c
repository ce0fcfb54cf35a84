/*
 * db_load_bench.c — how long the master's start takes with a big location
 * database: fills it with N records of about 200 bytes (keys
 * "user%06d@example.com", one committed transaction each, a checkpoint
 * every 100,000 as the timer would), closes it, reopens it with recovery
 * and walks every record with pdb_location_load. Prints seconds for each
 * step. Target: the load well under 5 s for 1,000,000 records, so that
 * unpacking them into shm still fits in 5 s.
 *
 * Usage: db_load_bench [RECORDS [DIR]]   (default 1000000, a temp dir
 * removed at the end; a DIR given is kept)
 */
#include "../../db/db.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define VAL_LEN 200
#define CHECKPOINT_EVERY 100000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void val_make(long i, char *val)
{
	int n = snprintf(val, VAL_LEN, "sip:user%06ld@192.0.2.%ld:5060;expires=3600|", i,
			 i % 250);

	for (int j = n; j < VAL_LEN; j++)
		val[j] = (char)('a' + (i + j) % 26);
}

static int fill(const char *dir, long n)
{
	char err[512], key[64], val[VAL_LEN];
	int rc = pdb_open(dir, PDB_RECOVER, err, sizeof(err));

	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		return rc;
	}
	for (long i = 0; i < n && rc == 0; i++) {
		int klen = snprintf(key, sizeof(key), "user%06ld@example.com", i);

		val_make(i, val);
		rc = pdb_location_put(slice_make(key, (size_t)klen), val, VAL_LEN);
		if (rc == 0 && (i + 1) % CHECKPOINT_EVERY == 0 && i + 1 < n)
			rc = pdb_checkpoint();
	}
	if (rc < 0)
		fprintf(stderr, "put: %s\n", strerror(-rc));
	return rc;
}

struct tally {
	long records;
	unsigned long bytes;
};

static int count_one(const void *val, size_t len, void *arg)
{
	struct tally *t = arg;

	t->records++;
	t->bytes += len;
	return 0;
}

/* The fill in a child that then dies by SIGKILL: no close, no checkpoint. */
static int fill_and_die(const char *dir, long n)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		if (fill(dir, n) < 0)
			_exit(1);
		raise(SIGKILL);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -EIO;
}

/* Opens with recovery and loads every record; the seconds of each. */
static long open_load(const char *dir, double *open_s, double *load_s)
{
	struct tally t = { 0 };
	char err[512];
	double t0 = now_s(), t1;
	long loaded;

	if (pdb_open(dir, PDB_RECOVER, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	t1 = now_s();
	loaded = pdb_location_load(count_one, &t);
	*open_s = t1 - t0;
	*load_s = now_s() - t1;
	if (loaded >= 0 && t.bytes != (unsigned long)loaded * VAL_LEN)
		fprintf(stderr, "unexpected record sizes\n");
	return loaded;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000, loaded[2];
	char tmp[] = "/tmp/pinhole-db-bench.XXXXXX", cmd[256];
	const char *dir = argc > 2 ? argv[2] : mkdtemp(tmp);
	double t0, fill_s, close_s, open_s[2], load_s[2];

	if (n <= 0 || !dir) {
		fprintf(stderr, "usage: %s [RECORDS [DIR]]\n", argv[0]);
		return 2;
	}
	t0 = now_s();
	if (fill_and_die(dir, n) < 0)
		return 1;
	fill_s = now_s() - t0;
	loaded[0] = open_load(dir, &open_s[0], &load_s[0]);
	t0 = now_s();
	pdb_close();
	close_s = now_s() - t0;
	loaded[1] = open_load(dir, &open_s[1], &load_s[1]);
	pdb_close();
	printf("records:                 %ld of %d bytes in %s\n", n, VAL_LEN, dir);
	printf("fill, then SIGKILL:      %.2f s (%.1f us per committed put)\n", fill_s,
	       fill_s * 1e6 / (double)n);
	printf("open, recover after it:  %.2f s\n", open_s[0]);
	printf("load:                    %.2f s (%ld records, %.0f per second)\n",
	       load_s[0], loaded[0], (double)loaded[0] / load_s[0]);
	printf("close:                   %.2f s\n", close_s);
	printf("open, recover after it:  %.2f s\n", open_s[1]);
	printf("load:                    %.2f s (%ld records)\n", load_s[1], loaded[1]);
	if (argc <= 2) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return loaded[0] == n && loaded[1] == n ? 0 : 1;
}
