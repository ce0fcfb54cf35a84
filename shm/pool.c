/*
 * pool.c — the chunk pool: runs of free 64 KiB chunks, and large objects.
 *
 * Free runs are linked in a list through their head entries in the chunk
 * map; the head and the tail entry of a run both hold its length, so a
 * freed run merges with its neighbours in constant time (boundary tags).
 * Requests take the first run that fits (first-fit), splitting it from the
 * front, which leaves untouched the far end of the heap. Everything here
 * runs under the pool lock (functions ending in _locked), which size
 * classes take while holding their own lock; never the other way round.
 */
#include "alloc_int.h"

#include <errno.h>

static void run_push(struct shm_alloc_state *a, struct shm_chunk *map,
		     uint32_t h)
{
	map[h].prev = 0;
	map[h].next = a->free_runs;
	if (a->free_runs)
		map[a->free_runs - 1].prev = h + 1;
	a->free_runs = h + 1;
}

static void run_unlink(struct shm_alloc_state *a, struct shm_chunk *map,
		       uint32_t h)
{
	if (map[h].prev)
		map[map[h].prev - 1].next = map[h].next;
	else
		a->free_runs = map[h].next;
	if (map[h].next)
		map[map[h].next - 1].prev = map[h].prev;
}

/* Marks [h, h+len) as one free run: only its two ends are written. */
static void run_set(struct shm_chunk *map, uint32_t h, uint32_t len)
{
	map[h].kind = CHUNK_FREE;
	map[h].run = len;
	map[h + len - 1].kind = CHUNK_FREE;
	map[h + len - 1].run = len;
}

void shm_pool_init(struct shm_alloc_state *a)
{
	struct shm_chunk *map = chunk_map(a);

	run_set(map, 0, a->nchunks);
	run_push(a, map, 0);
}

uint32_t shm_pool_take_locked(struct shm_alloc_state *a, uint32_t n,
			      enum shm_chunk_kind kind)
{
	struct shm_chunk *map = chunk_map(a);
	uint32_t r, h, len;

	for (r = a->free_runs; r; r = map[r - 1].next)
		if (map[r - 1].run >= n)
			break;
	if (!r)
		return 0;
	h = r - 1;
	len = map[h].run;
	run_unlink(a, map, h);
	if (len > n) {
		run_set(map, h + n, len - n);
		run_push(a, map, h + n);
	}
	map[h].kind = (uint8_t)kind;
	map[h].run = n;
	for (uint32_t i = 1; i < n; i++)
		map[h + i].kind = CHUNK_BODY;
	return r;
}

/* Returns the slab or large object starting at chunk idx to the pool. */
void shm_pool_give_locked(struct shm_alloc_state *a, uint32_t idx)
{
	struct shm_chunk *map = chunk_map(a);
	uint32_t n = map[idx].kind == CHUNK_LARGE ? map[idx].run : 1;
	uint32_t start = idx, len = n, right = idx + n;

	for (uint32_t i = 0; i < n; i++)
		map[idx + i].kind = CHUNK_FREE;
	if (idx > 0 && map[idx - 1].kind == CHUNK_FREE) {
		start = idx - map[idx - 1].run;
		len += map[idx - 1].run;
		run_unlink(a, map, start);
	}
	if (right < a->nchunks && map[right].kind == CHUNK_FREE) {
		len += map[right].run;
		run_unlink(a, map, right);
	}
	run_set(map, start, len);
	run_push(a, map, start);
}

shm_off shm_pool_alloc_large(struct shm_alloc_state *a, size_t size)
{
	uint64_t n = (size + SHM_CHUNK_SIZE - 1) / SHM_CHUNK_SIZE;
	uint32_t r = 0;

	if (n > a->nchunks)
		return 0;
	shm_lock(&a->pool_lock);
	r = shm_pool_take_locked(a, (uint32_t)n, CHUNK_LARGE);
	if (r) {
		ctr_add(&a->large_chunks, (int64_t)n);
		ctr_add(&a->large_allocs, 1);
	}
	shm_unlock(&a->pool_lock);
	return r ? chunk_off(a, r - 1) : 0;
}

int shm_pool_free_large(struct shm_alloc_state *a, uint32_t idx)
{
	struct shm_chunk *map = chunk_map(a);
	int err = 0;

	shm_lock(&a->pool_lock);
	if (map[idx].kind != CHUNK_LARGE) {
		err = -EINVAL;
		goto out;
	}
	ctr_add(&a->large_chunks, -(int64_t)map[idx].run);
	ctr_add(&a->large_frees, 1);
	shm_pool_give_locked(a, idx);
out:
	shm_unlock(&a->pool_lock);
	return err;
}
