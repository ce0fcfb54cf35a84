/*
 * lock.c — futex locks whose word holds the owner's pid, and the registry
 * the master walks to free the locks of a process that died.
 *
 * Acquire: compare-and-swap owner 0 -> pid; on contention spin a little,
 * then count ourselves in `waiters` and FUTEX_WAIT (shared, not private: the
 * word is in SysV shm) on the owner value seen. Release: compare-and-swap
 * pid -> 0, FUTEX_WAKE one if anyone waits. A wait times out after 100 ms;
 * the waiter then checks whether the owner is gone (no such pid, or a
 * zombie the master has not reaped yet) and takes the lock over. The master
 * never acquires; shm_locks_release_dead only compare-and-swaps dead -> 0.
 */
#include "shm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LOCK_SPINS 100
#define LOCK_WAIT_NS (100 * 1000 * 1000L)

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static inline bool owner_cas(struct shm_lock *l, uint32_t from, uint32_t to)
{
	return __atomic_compare_exchange_n(&l->owner, &from, to, false,
					   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

static int futex_wait(uint32_t *word, uint32_t seen)
{
	struct timespec ts = { 0, LOCK_WAIT_NS };

	if (syscall(SYS_futex, word, FUTEX_WAIT, seen, &ts, NULL, 0) == 0)
		return 0;
	return -errno;
}

static void futex_wake(uint32_t *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* A zombie still answers kill(pid, 0); /proc tells it apart. Without /proc
 * the answer is "alive", and the master's release settles it. */
static bool pid_is_zombie(uint32_t pid)
{
	char path[32], buf[256];
	const char *paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static bool pid_is_dead(uint32_t pid)
{
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return true;
	return pid_is_zombie(pid);
}

/* After a wait timed out: if the holder is dead, make the lock ours. Our
 * own pid there means a recursive lock or a dead process with our pid that
 * nobody released: both are bugs, reported once per wait. */
static bool take_from_dead(struct shm_lock *l, uint32_t me, bool *reported)
{
	uint32_t owner = __atomic_load_n(&l->owner, __ATOMIC_RELAXED);

	if (owner == me && !*reported) {
		LOG_ERR("shm lock at offset %llu: already held by this process "
			"(%u)", (unsigned long long)shm_off_of(l), me);
		*reported = true;
	}
	if (owner == 0 || owner == me || !pid_is_dead(owner))
		return false;
	if (!owner_cas(l, owner, me))
		return false;
	LOG_WARN("shm lock at offset %llu: owner pid %u died holding it, "
		 "taken over", (unsigned long long)shm_off_of(l), owner);
	return true;
}

static void lock_slow(struct shm_lock *l, uint32_t me)
{
	bool reported = false;
	uint32_t seen;
	int err;

	for (int i = 0; i < LOCK_SPINS; i++) {
		cpu_relax();
		if (__atomic_load_n(&l->owner, __ATOMIC_RELAXED) == 0 &&
		    owner_cas(l, 0, me))
			return;
	}
	for (;;) {
		__atomic_fetch_add(&l->waiters, 1, __ATOMIC_SEQ_CST);
		seen = __atomic_load_n(&l->owner, __ATOMIC_SEQ_CST);
		err = seen ? futex_wait(&l->owner, seen) : 0;
		__atomic_fetch_sub(&l->waiters, 1, __ATOMIC_SEQ_CST);
		if (owner_cas(l, 0, me))
			return;
		if (err == -ETIMEDOUT && take_from_dead(l, me, &reported))
			return;
	}
}

void shm_lock(struct shm_lock *l)
{
	uint32_t me = shm_self_pid();

	if (!owner_cas(l, 0, me))
		lock_slow(l, me);
}

bool shm_trylock(struct shm_lock *l)
{
	return owner_cas(l, 0, shm_self_pid());
}

void shm_unlock(struct shm_lock *l)
{
	uint32_t me = shm_self_pid();

	if (!owner_cas(l, me, 0)) {
		LOG_ERR("shm_unlock: lock at offset %llu is held by pid %u, "
			"not by this process (%u)",
			(unsigned long long)shm_off_of(l),
			__atomic_load_n(&l->owner, __ATOMIC_RELAXED), me);
		return;
	}
	if (__atomic_load_n(&l->waiters, __ATOMIC_SEQ_CST))
		futex_wake(&l->owner, 1);
}

/* ---- registry ------------------------------------------------------- */

static struct shm_lock_registry *registry(void)
{
	return shm ? shm_ptr(shm->lock_registry) : NULL;
}

static bool lock_array_inside(const struct shm_lock *l, uint32_t count,
			      uint32_t stride)
{
	uint64_t first = shm_off_of(l), last;

	if (!shm || (const char *)l < (const char *)shm || first % 4)
		return false;
	if (count == 0 || (count > 1 && (stride < sizeof(*l) || stride % 4)))
		return false;
	last = first + (uint64_t)(count - 1) * stride + sizeof(*l);
	return last <= shm->size;
}

static int registry_claim(struct shm_lock_registry *r, uint32_t *slot)
{
	uint32_t used = __atomic_load_n(&r->used, __ATOMIC_RELAXED);

	do {
		if (used >= SHM_LOCK_REG_MAX)
			return -ENOSPC;
	} while (!__atomic_compare_exchange_n(&r->used, &used, used + 1, true,
					      __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	*slot = used;
	return 0;
}

int shm_lock_register(struct shm_lock *l, uint32_t count, uint32_t stride)
{
	struct shm_lock_registry *r = registry();
	uint32_t slot;
	int err;

	if (!r || !lock_array_inside(l, count, stride)) {
		LOG_ERR("shm_lock_register: %u locks at %p (stride %u) are not "
			"inside the segment", count, (void *)l, stride);
		return -EINVAL;
	}
	err = registry_claim(r, &slot);
	if (err) {
		LOG_ERR("shm_lock_register: registry full (%d arrays)",
			SHM_LOCK_REG_MAX);
		return err;
	}
	r->reg[slot].first = shm_off_of(l);
	r->reg[slot].stride = stride;
	__atomic_store_n(&r->reg[slot].count, count, __ATOMIC_RELEASE);
	return 0;
}

static unsigned release_array(const struct shm_lock_reg *e, uint32_t pid)
{
	char *p = shm_ptr(e->first);
	unsigned freed = 0;

	for (uint32_t i = 0; i < e->count; i++, p += e->stride) {
		struct shm_lock *l = (struct shm_lock *)p;

		if (__atomic_load_n(&l->owner, __ATOMIC_RELAXED) != pid ||
		    !owner_cas(l, pid, 0))
			continue;
		freed++;
		if (__atomic_load_n(&l->waiters, __ATOMIC_SEQ_CST))
			futex_wake(&l->owner, INT_MAX);
	}
	return freed;
}

unsigned shm_locks_release_dead(pid_t pid)
{
	struct shm_lock_registry *r = registry();
	unsigned freed = 0;
	uint32_t used;

	if (!r || pid <= 0)
		return 0;
	used = __atomic_load_n(&r->used, __ATOMIC_RELAXED);
	if (used > SHM_LOCK_REG_MAX)
		used = SHM_LOCK_REG_MAX;
	for (uint32_t i = 0; i < used; i++) {
		struct shm_lock_reg e;

		e.count = __atomic_load_n(&r->reg[i].count, __ATOMIC_ACQUIRE);
		if (e.count == 0)
			continue;
		e.first = r->reg[i].first;
		e.stride = r->reg[i].stride;
		freed += release_array(&e, (uint32_t)pid);
	}
	return freed;
}
