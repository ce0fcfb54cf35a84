/*
 * shm_int.h — what the files of shm/ share and nobody else uses.
 *
 * segment.c lays the segment out by asking each part how much room it needs
 * (lock registry, counter rows, allocator) and then lets each part set its
 * area up. Every area starts zeroed (fresh SysV pages), which is a valid
 * empty state for the registry and the counters.
 */
#ifndef PINHOLE_SHM_INT_H
#define PINHOLE_SHM_INT_H

#include "shm.h"

#define SHM_ALIGN(x, a) (((x) + (a) - 1) / (a) * (a))

/* ---- proc.c: this process's pid, cached for the lock owner word ----- */

extern uint32_t shm_pid_cache;

static inline uint32_t shm_self_pid(void)
{
	if (__builtin_expect(shm_pid_cache == 0, 0))
		shm_proc_pid_refresh();
	return shm_pid_cache;
}

/* ---- lock.c: the registry of lock arrays ---------------------------- */

#define SHM_LOCK_REG_MAX 64

struct shm_lock_reg {
	shm_off first;             /* offset of the first lock */
	uint32_t count;            /* 0 while the entry is being written */
	uint32_t stride;           /* bytes from one lock to the next */
};
_Static_assert(sizeof(struct shm_lock_reg) == 16, "shm_lock_reg layout");

struct shm_lock_registry {
	uint32_t used;             /* entries claimed (atomic) */
	uint32_t pad;
	struct shm_lock_reg reg[SHM_LOCK_REG_MAX];
};
_Static_assert(sizeof(struct shm_lock_registry) == 8 + 16 * SHM_LOCK_REG_MAX,
	       "shm_lock_registry layout");

/* ---- stats.c -------------------------------------------------------- */

uint64_t shm_stats_bytes(void);
/* Points stat_add at the spare row of the new segment, or back at the
 * private row when the segment goes away. */
void shm_stats_attach(void);
void shm_stats_detach(void);

/* ---- alloc.c -------------------------------------------------------- */

/* Where the allocator's state, chunk map and heap go, given the first free
 * offset and the segment size. */
struct shm_alloc_plan {
	shm_off state, chunk_map, heap;
	uint32_t nchunks;
};

int shm_alloc_plan(shm_off start, uint64_t size, struct shm_alloc_plan *p);
/* Writes the state at p->state, records it in shm->alloc, registers its
 * locks. */
int shm_alloc_init(const struct shm_alloc_plan *p);

#endif
