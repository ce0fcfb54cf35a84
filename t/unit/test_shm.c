/*
 * test_shm.c — the segment (header, IPC_RMID, lifetime across fork), the
 * offset helpers, the allocator (sizes, alignment, reuse, bad frees,
 * exhaustion, accounting, several processes at once), the counters and
 * the process-table names.
 */
#include "../../shm/shm.h"
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEG_SIZE (32u << 20)
#define SMALL_SEG (4u << 20)
#define CHUNK (64u * 1024)

static uint64_t used_now(void)
{
	struct shm_usage u;

	shm_usage(&u);
	return u.used;
}

static void quiet(bool on)
{
	log_threshold = on ? -1 : LOG_LEVEL_INFO;
}

/* ---- segment -------------------------------------------------------- */

static void test_stats_before_segment(void)
{
	stat_add(STAT_CTL_REQUESTS, 3);
	IS_INT(stat_get(STAT_CTL_REQUESTS), 3,
	       "without a segment, counters go to a private row");
}

static void test_create_errors(void)
{
	quiet(true);
	IS_INT(shm_create(4096), -EINVAL, "a segment too small for the layout "
	       "is refused");
	OK(shm_create(SIZE_MAX / 4) < 0, "an impossible size fails with an "
	   "error, no crash");
	quiet(false);
	OK(shm == NULL, "nothing attached after failures");
	IS_INT(shm_alloc(16), 0, "shm_alloc without a segment returns 0");
}

static void test_header(void)
{
	time_t now = time(NULL);

	IS_INT(shm->magic, SHM_MAGIC, "magic");
	IS_INT(shm->version, SHM_VERSION, "version");
	IS_INT(shm->size, SEG_SIZE, "size");
	IS_INT(shm->master_pid, getpid(), "master_pid is the creator");
	OK(shm->started <= now && shm->started >= now - 5, "started is now");
	OK((uintptr_t)shm % 4096 == 0, "segment is page aligned");
	OK(shm->lock_registry && shm->stats && shm->alloc, "areas laid out");
	OK(shm->lock_registry % 64 == 0 && shm->stats % 64 == 0 &&
	   shm->alloc % 64 == 0, "areas 64-byte aligned");
	OK(shm->lock_registry >= sizeof(*shm) && shm->alloc < shm->size,
	   "areas after the header, inside the segment");
	quiet(true);
	IS_INT(shm_create(SEG_SIZE), -EEXIST, "a second shm_create is refused");
	quiet(false);
}

static void test_marked_for_removal(void)
{
	struct shmid_ds ds;
	int r = shmctl(shm->shmid, IPC_STAT, &ds);

	OK(r < 0 || (ds.shm_perm.mode & SHM_DEST),
	   "segment is already marked for destruction (IPC_RMID)");
	OK(r < 0 || ds.shm_segsz == SEG_SIZE, "kernel size matches");
}

/* A child keeps the segment after the parent detaches; it goes away with
 * the last process. */
static void test_lifetime_follows_processes(void)
{
	struct shmid_ds ds;
	int id, p[2];
	pid_t kid;
	char c;

	IS_INT(shm_create(SMALL_SEG), 0, "create a small segment");
	id = shm->shmid;
	if (pipe(p) < 0)
		return;
	kid = tap_fork();
	if (kid == 0) {
		if (read(p[0], &c, 1) != 1)
			_exit(2);
		_exit(shm->magic == SHM_MAGIC ? 0 : 1);
	}
	shm_detach();
	OK(shm == NULL, "parent detached");
	OK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1,
	   "the child's attachment keeps the segment");
	IS_INT(write(p[1], "x", 1), 1, "let the child read it");
	IS_INT(tap_child_status(kid), 0, "child still reads the header");
	OK(shmctl(id, IPC_STAT, &ds) < 0 && (errno == EINVAL || errno == EIDRM),
	   "the segment is gone with the last process");
	close(p[0]);
	close(p[1]);
}

static void test_offsets(void)
{
	void *p = &shm->procs[3];
	shm_off off = shm_off_of(p);

	OK(shm_ptr(0) == NULL, "shm_ptr(0) is NULL");
	IS_INT(shm_off_of(NULL), 0, "shm_off_of(NULL) is 0");
	OK(shm_ptr(off) == p, "pointer -> offset -> pointer");
	IS_INT(shm_off_of(shm_ptr(4096)), 4096, "offset -> pointer -> offset");
}

/* ---- allocator ------------------------------------------------------ */

static const size_t sizes[] = {
	1, 15, 16, 17, 100, 150, 200, 250, 256, 257, 320, 321, 1000, 4096,
	20000, 32767, 32768, 32769, 65536, 65537, 200000,
};

static uint64_t expected_charge(size_t size)
{
	if (size > CHUNK / 2)
		return (size + CHUNK - 1) / CHUNK * CHUNK;
	return 0;
}

static bool filled_with(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void test_alloc_sizes(void)
{
	shm_off off[ARRAY_LEN(sizes)];
	uint64_t base = used_now(), before, charge;
	bool aligned = true, inside = true, bounded = true, intact = true;
	struct shm_usage u;

	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		before = used_now();
		off[i] = shm_alloc(sizes[i]);
		charge = used_now() - before;
		if (!off[i])
			continue;
		aligned &= off[i] % 16 == 0 && (uintptr_t)shm_ptr(off[i]) % 16 == 0;
		inside &= off[i] + sizes[i] <= shm->size;
		if (expected_charge(sizes[i]))
			bounded &= charge == expected_charge(sizes[i]);
		else
			bounded &= charge >= sizes[i] &&
				   charge <= sizes[i] + sizes[i] / 4 + 15;
		memset(shm_ptr(off[i]), (int)i + 1, sizes[i]);
	}
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
		intact &= off[i] && filled_with(shm_ptr(off[i]), sizes[i],
						(unsigned char)(i + 1));
	OK(intact, "objects from 1 byte to 3 chunks, all written, none "
	   "overlapping");
	OK(aligned, "every object is 16-byte aligned");
	OK(inside, "every object lies inside the segment");
	OK(bounded, "used grows by the size plus at most 25%% (whole chunks "
	   "above 32 KiB)");
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
		shm_free(off[i]);
	shm_usage(&u);
	IS_INT(u.used, base, "used is back to where it was after freeing all");
	IS_INT(u.used + u.free, u.size, "used + free = size");
	IS_INT(u.allocs - u.frees, 0, "allocs and frees balance");
}

static void test_free_and_reuse(void)
{
	shm_off a = shm_alloc(200), b, big, big2;

	shm_free(a);
	b = shm_alloc(193);
	IS_INT(b, a, "a freed object is reused by its size class");
	shm_free(b);
	big = shm_alloc(100000);
	shm_free(big);
	big2 = shm_alloc(100000);
	IS_INT(big2, big, "freed chunks are reused by a large object");
	shm_free(big2);
	IS_INT(shm_alloc(0), 0, "shm_alloc(0) returns 0");
}

static void test_bad_frees(void)
{
	shm_off a = shm_alloc(64), big = shm_alloc(70000), x, y;
	struct shm_usage u0, u1;

	shm_usage(&u0);
	shm_free(0);
	quiet(true);
	shm_free(a + 16);
	shm_free(16);
	shm_free(big + CHUNK);
	shm_free(shm->size + 4096);
	shm_usage(&u1);
	IS_INT(u1.bad_frees - u0.bad_frees, 4, "misaligned, header, inside a "
	       "large object, outside: four bad frees counted");
	IS_INT(u1.used, u0.used, "and nothing freed by them");
	shm_free(a);
	shm_free(a);
	shm_free(big);
	shm_free(big);
	quiet(false);
	shm_usage(&u1);
	IS_INT(u1.bad_frees - u0.bad_frees, 6, "double frees are caught");
	IS_INT(u1.frees - u0.frees, 2, "only the first free of each counts");
	x = shm_alloc(64);
	y = shm_alloc(64);
	OK(x && y && x != y, "the free list survived the double free");
	shm_free(x);
	shm_free(y);
}

static void exhaust_with(size_t size)
{
	struct shm_usage u0, u1;
	shm_off *offs = calloc(SMALL_SEG / 16, sizeof(*offs));
	size_t n = 0;

	shm_usage(&u0);
	while ((offs[n] = shm_alloc(size)) != 0)
		n++;
	shm_usage(&u1);
	IS_INT(u1.failures - u0.failures, 1, "%zu-byte objects until full: "
	       "one failure counted", size);
	OK(n * size > u0.free * 3 / 4, "%zu of them fill most of the free "
	   "space", n);
	for (size_t i = 0; i < n; i++)
		shm_free(offs[i]);
	IS_INT(used_now(), u0.used, "all freed: used back to %llu",
	       (unsigned long long)u0.used);
	free(offs);
}

static void test_exhaustion(void)
{
	struct shm_usage u;
	shm_off all;

	shm_detach();
	IS_INT(shm_create(SMALL_SEG), 0, "create a small segment");
	exhaust_with(100000);
	shm_usage(&u);
	all = shm_alloc(u.free);
	OK(all != 0, "freed chunks merged: one object takes the whole heap");
	IS_INT(shm_alloc(16), 0, "then nothing is left");
	shm_free(all);
	exhaust_with(200);
	shm_usage(&u);
	all = shm_alloc(u.free - CHUNK);
	OK(all != 0, "a size class gives its chunks back (keeping at most one)");
	shm_free(all);
	shm_detach();
	IS_INT(shm_create(SEG_SIZE), 0, "back to the big segment");
}

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static size_t random_size(uint32_t *s)
{
	uint32_t r = rnd(s) % 100;

	if (r < 80)
		return 1 + rnd(s) % 300;
	if (r < 98)
		return 300 + rnd(s) % 8000;
	return 33000 + rnd(s) % 100000;
}

#define SLOTS 64

/* Random allocs and frees; every object carries a byte pattern that is
 * checked before it is freed. Exit 0 if nothing was overwritten. */
static int churn(int id, int rounds)
{
	shm_off off[SLOTS] = { 0 };
	size_t len[SLOTS];
	uint32_t seed = 2654435761u * (uint32_t)(id + 1);
	int bad = 0;

	for (int r = 0; r < rounds; r++) {
		int i = (int)(rnd(&seed) % SLOTS);
		unsigned char v = (unsigned char)(id * 16 + i);

		if (off[i]) {
			bad |= !filled_with(shm_ptr(off[i]), len[i], v);
			shm_free(off[i]);
			off[i] = 0;
			continue;
		}
		len[i] = random_size(&seed);
		off[i] = shm_alloc(len[i]);
		if (!off[i] || off[i] % 16)
			return 2;
		memset(shm_ptr(off[i]), v, len[i]);
	}
	for (int i = 0; i < SLOTS; i++) {
		if (off[i])
			bad |= !filled_with(shm_ptr(off[i]), len[i],
					    (unsigned char)(id * 16 + i));
		shm_free(off[i]);
	}
	return bad;
}

static void test_concurrent_alloc(void)
{
	struct shm_usage u0, u1;
	pid_t kids[4];
	int failed = 0;

	shm_usage(&u0);
	for (int i = 0; i < 4; i++) {
		kids[i] = tap_fork();
		if (kids[i] == 0)
			_exit(churn(i, 40000));
	}
	for (int i = 0; i < 4; i++)
		failed += tap_child_status(kids[i]) != 0;
	shm_usage(&u1);
	IS_INT(failed, 0, "4 processes allocating and freeing at once: no "
	       "object overwritten, no failure");
	IS_INT(u1.used, u0.used, "used is back where it was");
	IS_INT(u1.allocs - u0.allocs, u1.frees - u0.frees,
	       "allocs and frees balance (%llu)",
	       (unsigned long long)(u1.allocs - u0.allocs));
	IS_INT(u1.bad_frees, u0.bad_frees, "no bad free");
}

/* ---- counters ------------------------------------------------------- */

static pid_t stat_child(unsigned slot, uint64_t n, bool crash)
{
	pid_t pid = tap_fork();

	if (pid == 0) {
		shm_stats_bind(slot);
		stat_add(STAT_CORE_RCV_REQUESTS, n);
		STAT_INC(CORE_FWD_REPLIES);
		if (crash)
			raise(SIGKILL);
		_exit(0);
	}
	return pid;
}

static void test_stats_rows(void)
{
	uint64_t rcv = stat_get(STAT_CORE_RCV_REQUESTS);
	uint64_t fwd = stat_get(STAT_CORE_FWD_REPLIES);
	int bad = 0;

	IS_INT(stat_get(STAT_CTL_REQUESTS), 0, "a new segment starts at 0");
	STAT_INC(CORE_RCV_REQUESTS);
	IS_INT(stat_get(STAT_CORE_RCV_REQUESTS), rcv + 1,
	       "an unbound process counts in the spare row");
	for (unsigned i = 0; i < 4; i++)
		bad += tap_child_status(stat_child(i, 1000 * (i + 1), false)) != 0;
	IS_INT(tap_child_status(stat_child(5, 7, true)), 128 + SIGKILL,
	       "a child counted then died by SIGKILL");
	IS_INT(tap_child_status(stat_child(0, 5, false)), 0,
	       "a respawned child adds to its slot");
	quiet(true);
	IS_INT(tap_child_status(stat_child(SHM_MAX_PROCS, 11, false)), 0,
	       "a bad slot keeps the spare row");
	quiet(false);
	IS_INT(bad, 0, "four children counted and exited");
	IS_INT(stat_get(STAT_CORE_RCV_REQUESTS),
	       rcv + 1 + 1000 + 2000 + 3000 + 4000 + 7 + 5 + 11,
	       "stat_get sums every row, the dead child's included");
	IS_INT(stat_get(STAT_CORE_FWD_REPLIES), fwd + 7, "STAT_INC by 7 "
	       "processes");
	IS_INT(stat_get(STAT_COUNT), 0, "an unknown id reads 0");
}

static void test_stat_names(void)
{
	bool named = true, unique = true;

	for (int i = 0; i < STAT_COUNT; i++) {
		const char *n = stat_name((enum stat_id)i);

		named &= n && strchr(n, '.') && n[0] != '.';
		for (int j = 0; n && j < i; j++)
			unique &= strcmp(n, stat_name((enum stat_id)j)) != 0;
	}
	OK(named, "every counter is named group.name");
	OK(unique, "names are unique");
	OK(strcmp(stat_name(STAT_CORE_RCV_REQUESTS), "core.rcv_requests") == 0,
	   "core.rcv_requests");
	OK(strcmp(stat_name(STAT_MASTER_RELOAD_ERRORS),
		  "master.reload_errors") == 0, "master.reload_errors");
	OK(stat_name(STAT_COUNT) == NULL, "out of range: NULL");
}

static void test_proc_names(void)
{
	static const char *const roles[] = { "none", "master", "udp", "tcp",
					     "tls", "timer", "relay", "ctl" };
	static const char *const states[] = { "free", "starting", "running",
					      "retiring", "dead" };
	bool ok = true;

	for (int i = 0; i < PROC_ROLE_COUNT; i++)
		ok &= strcmp(proc_role_name((enum proc_role)i), roles[i]) == 0;
	OK(ok, "role names");
	ok = true;
	for (int i = 0; i < PROC_STATE_COUNT; i++)
		ok &= strcmp(proc_state_name((enum proc_state)i), states[i]) == 0;
	OK(ok, "state names");
	OK(strcmp(proc_role_name(PROC_ROLE_COUNT), "unknown") == 0 &&
	   strcmp(proc_state_name(PROC_STATE_COUNT), "unknown") == 0,
	   "out of range: unknown");
}

int main(void)
{
	test_stats_before_segment();
	test_create_errors();
	test_proc_names();
	test_stat_names();
	test_lifetime_follows_processes();
	if (shm_create(SEG_SIZE) != 0) {
		OK(false, "shm_create(%u)", SEG_SIZE);
		return tap_done();
	}
	test_header();
	test_marked_for_removal();
	test_offsets();
	test_stats_rows();
	test_alloc_sizes();
	test_free_and_reuse();
	test_bad_frees();
	test_exhaustion();
	test_concurrent_alloc();
	shm_detach();
	return tap_done();
}
