/*
 * test_lock.c — shm futex locks across real processes: mutual exclusion
 * under contention, release of a dead holder's locks by the master's call,
 * takeover by a waiter when the holder died (reaped or still a zombie),
 * trylock, and the lock registry's checks.
 */
#include "../../shm/shm.h"
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEG_SIZE (4u << 20)
#define NPROCS 8
#define ROUNDS 200000

struct counter {
	struct shm_lock lock;
	uint64_t n;
};

static uint32_t owner_of(const struct shm_lock *l)
{
	return __atomic_load_n(&l->owner, __ATOMIC_SEQ_CST);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Exit status of pid, or -1 if it has not exited within ms (then killed). */
static int wait_exit(pid_t pid, long ms)
{
	int status;

	for (long waited = 0; waited <= ms; waited += 5) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		sleep_ms(5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static pid_t fork_child(void)
{
	fflush(stdout);
	return fork();
}

/* A child that takes l, reports through a pipe, then sleeps until killed
 * (or, when release_fd >= 0, until a byte arrives there, then unlocks). */
static pid_t spawn_holder(struct shm_lock *l, int release_fd)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p) < 0)
		return -1;
	pid = fork_child();
	if (pid == 0) {
		shm_lock(l);
		if (write(p[1], "x", 1) != 1)
			_exit(3);
		if (release_fd < 0)
			for (;;)
				pause();
		if (read(release_fd, &c, 1) != 1)
			_exit(3);
		shm_unlock(l);
		_exit(0);
	}
	close(p[1]);
	if (pid > 0 && read(p[0], &c, 1) != 1)
		pid = -1;
	close(p[0]);
	return pid;
}

static struct shm_lock *new_lock(void)
{
	struct shm_lock *l = shm_ptr(shm_alloc(sizeof(*l)));

	if (l)
		*l = (struct shm_lock){ 0, 0 };
	return l;
}

static void test_counter_is_exact_under_contention(void)
{
	struct counter *c = shm_ptr(shm_alloc(sizeof(*c)));
	pid_t kids[NPROCS];
	int failed = 0;

	c->lock = (struct shm_lock){ 0, 0 };
	c->n = 0;
	for (int i = 0; i < NPROCS; i++) {
		kids[i] = fork_child();
		if (kids[i] == 0) {
			for (int r = 0; r < ROUNDS; r++) {
				shm_lock(&c->lock);
				c->n++;
				shm_unlock(&c->lock);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < NPROCS; i++)
		if (kids[i] < 0 || wait_exit(kids[i], 60000) != 0)
			failed++;
	IS_INT(failed, 0, "%d processes locking 200000 times each all exit 0",
	       NPROCS);
	IS_INT(c->n, (uint64_t)NPROCS * ROUNDS, "counter is exactly %d x %d",
	       NPROCS, ROUNDS);
	IS_INT(owner_of(&c->lock), 0, "lock is free at the end");
	shm_free(shm_off_of(c));
}

static void test_release_dead_frees_registered_locks(void)
{
	struct shm_lock *l = new_lock(), *other = new_lock();
	pid_t holder, taker;

	IS_INT(shm_lock_register(l, 1, 0), 0, "register a lock");
	IS_INT(shm_lock_register(other, 1, 0), 0, "register another lock");
	shm_lock(other);
	holder = spawn_holder(l, -1);
	OK(holder > 0, "holder child has the lock");
	IS_INT(owner_of(l), holder, "owner word holds the child's pid, not "
	       "the parent's (pid cache refreshed by fork)");
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	OK(!shm_trylock(l), "lock still held after its holder was killed");
	IS_INT(shm_locks_release_dead(holder), 1, "release_dead frees one lock");
	IS_INT(owner_of(l), 0, "owner word is 0 again");
	IS_INT(owner_of(other), getpid(), "a lock of a live process is kept");
	IS_INT(shm_locks_release_dead(holder), 0, "nothing left to free");
	IS_INT(shm_locks_release_dead(0), 0, "pid 0 frees nothing");
	taker = fork_child();
	if (taker == 0)
		_exit(shm_trylock(l) && owner_of(l) == (uint32_t)getpid() ? 0 : 1);
	IS_INT(wait_exit(taker, 5000), 0, "another process then takes the lock");
	shm_unlock(other);
}

static void test_unregistered_lock_is_not_released(void)
{
	struct shm_lock *l = new_lock();
	pid_t holder = spawn_holder(l, -1);

	OK(holder > 0, "holder child has an unregistered lock");
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	IS_INT(shm_locks_release_dead(holder), 0, "release_dead skips it");
	IS_INT(owner_of(l), holder, "it still names the dead pid");
}

/* The holder dies; nobody calls release_dead. reap: whether the parent
 * reaps it first (else it stays a zombie, as with a slow master). */
static void waiter_survives_dead_holder(bool reap)
{
	struct shm_lock *l = new_lock();
	pid_t holder = spawn_holder(l, -1), waiter;
	int waited = 0;

	waiter = fork_child();
	if (waiter == 0) {
		bool mine;

		shm_lock(l);
		mine = owner_of(l) == (uint32_t)getpid();
		shm_unlock(l);
		_exit(mine ? 0 : 1);
	}
	while (__atomic_load_n(&l->waiters, __ATOMIC_SEQ_CST) == 0 &&
	       waited++ < 2000)
		sleep_ms(1);
	OK(l->waiters > 0, "waiter sleeps on the held lock");
	IS_INT(waitpid(waiter, NULL, WNOHANG), 0, "waiter has not got it");
	kill(holder, SIGKILL);
	if (reap)
		waitpid(holder, NULL, 0);
	IS_INT(wait_exit(waiter, 3000), 0, "waiter gets the lock within 3 s "
	       "after the holder died (%s)", reap ? "reaped" : "zombie");
	if (!reap)
		waitpid(holder, NULL, 0);
	IS_INT(owner_of(l), 0, "and released it");
	IS_INT(l->waiters, 0, "no waiter left counted");
}

static void test_waiter_takes_over_from_dead_holder(void)
{
	waiter_survives_dead_holder(true);
	waiter_survives_dead_holder(false);
}

static void test_trylock(void)
{
	struct shm_lock *l = new_lock();
	int release[2];
	pid_t holder;

	OK(shm_trylock(l), "trylock on a free lock succeeds");
	IS_INT(owner_of(l), getpid(), "owner is this process");
	OK(!shm_trylock(l), "a second trylock fails (not recursive)");
	shm_unlock(l);
	IS_INT(owner_of(l), 0, "unlock frees it");
	OK(shm_trylock(l), "trylock succeeds again");
	shm_unlock(l);

	if (pipe(release) < 0)
		return;
	holder = spawn_holder(l, release[0]);
	OK(!shm_trylock(l), "trylock fails while another process holds it");
	IS_INT(owner_of(l), holder, "and leaves the owner alone");
	log_threshold = -1;
	shm_unlock(l);
	log_threshold = LOG_LEVEL_INFO;
	IS_INT(owner_of(l), holder, "unlock by a non-holder changes nothing");
	IS_INT(write(release[1], "x", 1), 1, "tell the holder to unlock");
	IS_INT(wait_exit(holder, 5000), 0, "holder unlocked and exited");
	OK(shm_trylock(l), "trylock succeeds once it is released");
	shm_unlock(l);
	close(release[0]);
	close(release[1]);
}

static void test_register_checks(void)
{
	struct shm_lock outside = { 0, 0 };
	struct shm_lock *l = new_lock();
	char *end = (char *)shm + shm->size;
	int err = 0, n;

	log_threshold = -1;
	IS_INT(shm_lock_register(&outside, 1, 0), -EINVAL,
	       "a lock outside the segment is refused");
	IS_INT(shm_lock_register(l, 0, 8), -EINVAL, "count 0 is refused");
	IS_INT(shm_lock_register(l, 2, 4), -EINVAL,
	       "stride smaller than a lock is refused");
	IS_INT(shm_lock_register((struct shm_lock *)(end - 16), 3, 8), -EINVAL,
	       "an array running past the end is refused");
	IS_INT(shm_lock_register((struct shm_lock *)(end - 16), 2, 8), 0,
	       "an array ending at the end is accepted");
	for (n = 0; n < 100 && err == 0; n++)
		err = shm_lock_register(l, 1, 0);
	log_threshold = LOG_LEVEL_INFO;
	IS_INT(err, -ENOSPC, "the registry fills up with -ENOSPC");
	OK(n > 1 && n < 100, "after a bounded number of arrays (%d)", n);
}

int main(void)
{
	if (shm_create(SEG_SIZE) != 0) {
		OK(false, "shm_create");
		return tap_done();
	}
	test_counter_is_exact_under_contention();
	test_release_dead_frees_registered_locks();
	test_unregistered_lock_is_not_released();
	test_waiter_takes_over_from_dead_holder();
	test_trylock();
	test_register_checks();
	shm_detach();
	return tap_done();
}
