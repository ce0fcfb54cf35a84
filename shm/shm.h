/*
 * shm.h — the one SysV shared memory segment and what lives in it.
 *
 * The master creates the segment before forking (shmget(IPC_PRIVATE), shmat,
 * then IPC_RMID so it disappears with the last process); children inherit
 * the attachment, at the same address, through fork. Everything inside is
 * fixed-width and addressed by offsets from the segment base, never by
 * pointers, so the layout does not depend on where it is mapped.
 *
 * Locks are futex words holding the owner's pid: contenders spin briefly
 * then FUTEX_WAIT. The master never takes a lock; when a child dies it
 * calls shm_locks_release_dead(pid) which clears every registered lock
 * word holding that pid (compare-and-swap, no waiting). A waiter also takes
 * over a lock whose owner has died (or is a zombie) after 100 ms, so a slow
 * master delays but never hangs the others.
 *
 * Statistics are per-process counters (one writer each, no lock), summed on
 * read; a respawned process keeps its slot, so totals survive crashes.
 */
#ifndef PINHOLE_SHM_H
#define PINHOLE_SHM_H

#include "../base/base.h"

#include <sys/types.h>

#define SHM_MAGIC 0x50484d31u  /* "PHM1" */
#define SHM_VERSION 1u
#define SHM_MAX_PROCS 256      /* process table slots (all generations) */

typedef uint64_t shm_off;      /* offset from the segment base; 0 = none */

/* ---- locks ---------------------------------------------------------- */

struct shm_lock {
	uint32_t owner;            /* pid of the holder, 0 when free (atomic) */
	uint32_t waiters;          /* contenders sleeping in FUTEX_WAIT (atomic) */
};
_Static_assert(sizeof(struct shm_lock) == 8, "shm_lock layout");

/* The owner is a pid, so these are for single-threaded processes. Not
 * recursive. shm_unlock by a process that does not hold the lock logs an
 * error and leaves the lock as it is. */
void shm_lock(struct shm_lock *l);
bool shm_trylock(struct shm_lock *l);
void shm_unlock(struct shm_lock *l);
/* Registers count locks spaced stride bytes apart starting at l, so that
 * shm_locks_release_dead finds them. Call at creation, in the master; the
 * locks must live as long as the segment. -EINVAL if they are not inside
 * the segment, -ENOSPC when the registry (64 arrays) is full. */
int shm_lock_register(struct shm_lock *l, uint32_t count, uint32_t stride);
/* Frees every registered lock whose owner is pid and wakes its waiters;
 * returns how many. Never waits, so the master may call it. */
unsigned shm_locks_release_dead(pid_t pid);
/* The lock owner id is this process's pid, cached. A fork handler clears
 * the cache in the child, so callers need not do anything after fork();
 * a process created another way (clone, vfork) calls this first. */
void shm_proc_pid_refresh(void);

/* ---- process table -------------------------------------------------- */

enum proc_role {
	PROC_NONE = 0, PROC_MASTER, PROC_UDP, PROC_TCP, PROC_TLS, PROC_TIMER,
	PROC_RELAY, PROC_CTL, PROC_ROLE_COUNT
};

enum proc_state {
	PROC_FREE = 0,      /* slot unused */
	PROC_STARTING,      /* forked, not yet in its loop */
	PROC_RUNNING,
	PROC_RETIRING,      /* asked to finish gracefully (older generation) */
	PROC_DEAD,          /* exited; waiting for respawn backoff */
	PROC_STATE_COUNT
};

struct proc_entry {
	int32_t pid;
	uint8_t role;            /* enum proc_role */
	uint8_t state;           /* enum proc_state */
	uint16_t index;          /* index within its role ("udp#2") */
	uint32_t generation;     /* config generation it was started for */
	uint32_t restarts;       /* respawns of this slot after a crash */
	uint32_t listen;         /* index of the listen socket it serves */
	int64_t started;         /* CLOCK_REALTIME seconds of the current pid */
	int64_t first_started;   /* when the slot was first used */
};
_Static_assert(sizeof(struct proc_entry) == 40, "proc_entry layout");

/* "master", "udp", ... ("none" for PROC_NONE, "unknown" out of range). */
const char *proc_role_name(enum proc_role r);
/* "free", "starting", "running", "retiring", "dead" ("unknown"). */
const char *proc_state_name(enum proc_state s);

/* ---- statistics ----------------------------------------------------- */

/* Every counter, in one place. Names are "group.name" (see stat_name). */
#define STAT_LIST(X)                                                          \
	X(CORE_RCV_REQUESTS, "core.rcv_requests")                             \
	X(CORE_RCV_REPLIES, "core.rcv_replies")                               \
	X(CORE_FWD_REQUESTS, "core.fwd_requests")                             \
	X(CORE_FWD_REPLIES, "core.fwd_replies")                               \
	X(CORE_DROP_REQUESTS, "core.drop_requests")                           \
	X(CORE_DROP_REPLIES, "core.drop_replies")                             \
	X(CORE_ERR_REQUESTS, "core.err_requests")                             \
	X(CORE_BAD_MSG_HDR, "core.bad_msg_hdr")                               \
	X(CORE_BAD_URI, "core.bad_uris_rcvd")                                 \
	X(CORE_UNSUPPORTED_METHODS, "core.unsupported_methods")               \
	X(SL_SENT_REPLIES, "sl.sent_replies")                                 \
	X(SL_1XX, "sl.1xx_replies")                                           \
	X(SL_2XX, "sl.2xx_replies")                                           \
	X(SL_4XX, "sl.4xx_replies")                                           \
	X(SL_5XX, "sl.5xx_replies")                                           \
	X(SL_6XX, "sl.6xx_replies")                                           \
	X(SL_SEND_ERRORS, "sl.send_errors")                                   \
	X(CTL_REQUESTS, "ctl.requests")                                       \
	X(CTL_ERRORS, "ctl.errors")                                           \
	X(MASTER_RESPAWNS, "master.respawns")                                 \
	X(MASTER_RELOADS, "master.reloads")                                   \
	X(MASTER_RELOAD_ERRORS, "master.reload_errors")                       \
	X(AUTH_CHALLENGES, "auth.challenges")                                 \
	X(AUTH_FAILURES, "auth.failures")

enum stat_id {
#define STAT_ENUM(id, name) STAT_##id,
	STAT_LIST(STAT_ENUM)
#undef STAT_ENUM
	STAT_COUNT
};

/* Adds to this process's slot (set by shm_stats_bind): no lock, only a
 * relaxed atomic add. A process not bound to a slot (the master, tools,
 * unit tests) adds to a spare row shared by such processes; before
 * shm_create, to a row private to the process. */
void stat_add(enum stat_id id, uint64_t n);
#define STAT_INC(id) stat_add(STAT_##id, 1)
/* Summed over every slot and the spare row (the private row when no
 * segment is attached). */
uint64_t stat_get(enum stat_id id);
const char *stat_name(enum stat_id id);  /* NULL out of range */
/* Binds this process to its process-table slot's counters (a slot out of
 * range logs an error and keeps the spare row). */
void shm_stats_bind(unsigned slot);

/* ---- the segment ---------------------------------------------------- */

struct shm_header {
	uint32_t magic;
	uint32_t version;
	uint64_t size;             /* bytes of the segment */
	uint32_t generation;       /* config generation (master writes) */
	int32_t master_pid;
	int32_t log_level;         /* runtime log level, set by `log level` */
	uint32_t reload_seq;       /* bumped by the master after every reload try */
	int32_t reload_status;     /* 0 ok, else -errno of the last reload */
	int32_t shmid;             /* SysV id (already marked for removal) */
	int64_t started;           /* CLOCK_REALTIME seconds at master start */
	char reload_error[1024];   /* reasons of the last failed reload */
	struct proc_entry procs[SHM_MAX_PROCS];
	shm_off stats;             /* counter rows, one per slot + spare (stats.c) */
	shm_off alloc;             /* allocator state */
	shm_off lock_registry;     /* registered lock arrays */
	shm_off tables[16];        /* later parts: location, transactions, ... */
};
_Static_assert(sizeof(struct shm_header) == 11464, "shm_header layout");
_Static_assert(offsetof(struct shm_header, procs) % 8 == 0, "procs aligned");

/* The segment as attached in this process (set by shm_create). */
extern struct shm_header *shm;

/* Master: creates, attaches and marks for removal a segment of size bytes,
 * and lays out the header, allocator, lock registry and counters. Only a
 * few pages are touched. -EEXIST if one is attached, -EINVAL if size is too
 * small for the layout or above kernel.shmmax, else the -errno of the
 * failed call (logged). */
int shm_create(size_t size);
/* Detaches (a child before exec, or at exit). */
void shm_detach(void);

static inline void *shm_ptr(shm_off off)
{
	return off ? (void *)((char *)shm + off) : NULL;
}

static inline shm_off shm_off_of(const void *p)
{
	return p ? (shm_off)((const char *)p - (const char *)shm) : 0;
}

/* ---- allocator ------------------------------------------------------ */

/* Variable-sized shared objects, 16-byte aligned; process-safe (size-class
 * chunks under futex locks, no per-object header), so the master may call
 * them only before it forks. The contents of a new object are undefined.
 * 0 when full or for size 0 (counted in failures), or without a segment.
 * shm_free(0) does nothing; freeing anything that is not a live object is
 * logged, counted in bad_frees and ignored. */
shm_off shm_alloc(size_t size);
void shm_free(shm_off off);

/* size: bytes of the segment; used: the fixed layout plus live objects (at
 * their size-class size; objects over 32 KiB in whole 64 KiB chunks);
 * free = size - used, which includes space lost to fragmentation. */
struct shm_usage {
	uint64_t size, used, free;
	uint64_t allocs, frees, failures, bad_frees;
};
void shm_usage(struct shm_usage *u);

#endif
