/*
 * alloc_int.h — the allocator's shared layout, for alloc.c and pool.c.
 *
 * The heap is nchunks chunks of 64 KiB; the chunk map has one entry per
 * chunk. A chunk is free (in a run of free chunks), a slab of one size
 * class, or part of a large object. Chunk indices in links are stored
 * plus one, so that 0 (fresh, zeroed memory) means "none".
 * Lock order: a class lock, then the pool lock; never the reverse.
 */
#ifndef PINHOLE_SHM_ALLOC_INT_H
#define PINHOLE_SHM_ALLOC_INT_H

#include "shm_int.h"

#define SHM_CHUNK_SIZE (64u * 1024)
#define SHM_SMALL_MAX (SHM_CHUNK_SIZE / 2)
/* 16..256 in steps of 16, then four classes per doubling up to 32 KiB. */
#define SHM_CLASS_COUNT (16 + 4 * 7)

enum shm_chunk_kind {
	CHUNK_UNTOUCHED = 0,    /* inside the initial free run, never used */
	CHUNK_FREE,             /* in a free run; head and tail hold its length */
	CHUNK_SMALL,            /* slab of size class cls */
	CHUNK_LARGE,            /* first chunk of a large object of run chunks */
	CHUNK_BODY,             /* further chunks of a large object */
};

struct shm_chunk {
	uint8_t kind;           /* enum shm_chunk_kind; written under pool lock */
	uint8_t cls;            /* SMALL: size class */
	uint8_t listed;         /* SMALL: on its class's partial list */
	uint8_t pad;
	uint32_t run;           /* FREE head and tail, LARGE: chunks in the run */
	uint32_t prev, next;    /* free-run list or class partial list (idx+1) */
	uint32_t nused;         /* SMALL: live objects */
	uint32_t free_head;     /* SMALL: first free object, offset in chunk + 1 */
	uint32_t carved;        /* SMALL: bytes handed out from the front so far */
	uint32_t pad2;
};
_Static_assert(sizeof(struct shm_chunk) == 32, "shm_chunk layout");

/* A free small object starts with these two words. */
struct shm_free_obj {
	uint32_t next;          /* next free object, offset in chunk + 1 */
	uint32_t magic;         /* SHM_FREE_MAGIC: probably free, check list */
};
#define SHM_FREE_MAGIC 0xf4eef4eeu

struct shm_class {
	struct shm_lock lock;
	uint32_t partial;       /* first chunk with room (idx+1) */
	uint32_t pad;
	uint64_t live;          /* objects in use */
	uint64_t allocs, frees;
	uint8_t pad2[24];
};
_Static_assert(sizeof(struct shm_class) == 64, "shm_class layout");

struct shm_alloc_state {
	uint64_t chunk_map;     /* offset of struct shm_chunk[nchunks] */
	uint64_t heap;          /* offset of chunk 0 */
	uint32_t nchunks;
	uint32_t free_runs;     /* first free run (idx+1); under pool_lock */
	struct shm_lock pool_lock;
	uint64_t fixed;         /* bytes outside the heap: always used */
	uint64_t large_chunks;  /* chunks held by large objects */
	uint64_t large_allocs, large_frees;
	uint64_t failures, bad_frees;   /* atomic, no lock */
	uint8_t pad[48];
	struct shm_class classes[SHM_CLASS_COUNT];
};
_Static_assert(offsetof(struct shm_alloc_state, classes) % 64 == 0,
	       "shm_alloc_state layout");

static inline struct shm_chunk *chunk_map(struct shm_alloc_state *a)
{
	return shm_ptr(a->chunk_map);
}

static inline shm_off chunk_off(const struct shm_alloc_state *a, uint32_t idx)
{
	return a->heap + (shm_off)idx * SHM_CHUNK_SIZE;
}

/* A counter written under a lock and read without one. */
static inline void ctr_add(uint64_t *c, int64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + (uint64_t)n,
			 __ATOMIC_RELAXED);
}

static inline uint64_t ctr_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* pool.c: runs of free chunks. Indices returned are idx+1, 0 when full. */
uint32_t shm_pool_take_locked(struct shm_alloc_state *a, uint32_t n,
			      enum shm_chunk_kind kind);
void shm_pool_give_locked(struct shm_alloc_state *a, uint32_t idx);
void shm_pool_init(struct shm_alloc_state *a);
shm_off shm_pool_alloc_large(struct shm_alloc_state *a, size_t size);
int shm_pool_free_large(struct shm_alloc_state *a, uint32_t idx);

#endif
