/*
 * alloc.c — shm_alloc/shm_free: size classes carved from 64 KiB chunks.
 *
 * Objects up to 32 KiB are rounded up to one of 44 size classes (16-byte
 * steps to 256, then four per doubling: at most 25% slack) and carved from
 * a chunk that holds objects of that class only, so the chunk map tells
 * shm_free an object's class and no object carries a header. Each class
 * keeps a list of its chunks with room; a chunk reuses its freed objects
 * (a list threaded through them) before carving never-used space from its
 * front, so untouched pages stay untouched. A chunk whose last object is
 * freed goes back to the pool unless it is its class's only chunk with
 * room. Larger objects take whole chunks (pool.c). Locks: one per class,
 * then the pool lock inside it.
 */
#include "alloc_int.h"

#include <errno.h>

#define CHUNK_NONE UINT32_MAX

static struct shm_alloc_state *alloc_state(void)
{
	return shm ? shm_ptr(shm->alloc) : NULL;
}

static uint32_t class_size(unsigned c)
{
	unsigned doubling, quarter;

	if (c < 16)
		return (c + 1) * 16;
	doubling = (c - 16) / 4 + 8;
	quarter = (c - 16) % 4;
	return (5 + quarter) << (doubling - 2);
}

/* Smallest class holding size bytes; 1 <= size <= SHM_SMALL_MAX. */
static unsigned class_of(size_t size)
{
	uint64_t n = size - 1;
	unsigned top;

	if (size <= 256)
		return (unsigned)((size + 15) / 16 - 1);
	top = 63 - (unsigned)__builtin_clzll(n);
	return 16 + (top - 8) * 4 + (unsigned)((n >> (top - 2)) & 3);
}

_Static_assert(SHM_SMALL_MAX == 32768, "class table ends at 32 KiB");

int shm_alloc_plan(shm_off start, uint64_t size, struct shm_alloc_plan *p)
{
	uint64_t map = SHM_ALIGN(start + sizeof(struct shm_alloc_state), 64);
	uint64_t per_chunk = SHM_CHUNK_SIZE + sizeof(struct shm_chunk), n;

	n = size > map ? (size - map) / per_chunk : 0;
	if (n >= UINT32_MAX)
		n = UINT32_MAX - 1;
	while (n > 0 && SHM_ALIGN(map + n * sizeof(struct shm_chunk), 4096) +
				n * SHM_CHUNK_SIZE > size)
		n--;
	if (n == 0) {
		LOG_ERR("shm size %llu is too small: at least %llu bytes needed",
			(unsigned long long)size,
			(unsigned long long)(SHM_ALIGN(map + sizeof(struct shm_chunk),
						       4096) + SHM_CHUNK_SIZE));
		return -EINVAL;
	}
	p->state = start;
	p->chunk_map = map;
	p->heap = SHM_ALIGN(map + n * sizeof(struct shm_chunk), 4096);
	p->nchunks = (uint32_t)n;
	return 0;
}

/* Needs shm->size set. */
int shm_alloc_init(const struct shm_alloc_plan *p)
{
	struct shm_alloc_state *a = shm_ptr(p->state);
	int err;

	a->chunk_map = p->chunk_map;
	a->heap = p->heap;
	a->nchunks = p->nchunks;
	a->fixed = shm->size - (uint64_t)p->nchunks * SHM_CHUNK_SIZE;
	shm_pool_init(a);
	shm->alloc = p->state;
	err = shm_lock_register(&a->pool_lock, 1, 0);
	if (err)
		return err;
	return shm_lock_register(&a->classes[0].lock, SHM_CLASS_COUNT,
				 sizeof(struct shm_class));
}

/* ---- a class's list of chunks with room ----------------------------- */

static void partial_push(struct shm_alloc_state *a, struct shm_class *k,
			 uint32_t idx)
{
	struct shm_chunk *map = chunk_map(a);

	map[idx].prev = 0;
	map[idx].next = k->partial;
	if (k->partial)
		map[k->partial - 1].prev = idx + 1;
	k->partial = idx + 1;
	map[idx].listed = 1;
}

static void partial_unlink(struct shm_alloc_state *a, struct shm_class *k,
			   uint32_t idx)
{
	struct shm_chunk *map = chunk_map(a);

	if (map[idx].prev)
		map[map[idx].prev - 1].next = map[idx].next;
	else
		k->partial = map[idx].next;
	if (map[idx].next)
		map[map[idx].next - 1].prev = map[idx].prev;
	map[idx].listed = 0;
}

static struct shm_free_obj *obj_at(struct shm_alloc_state *a, uint32_t idx,
				   uint32_t in)
{
	return shm_ptr(chunk_off(a, idx) + in);
}

/* ---- allocation ----------------------------------------------------- */

static uint32_t class_new_chunk_locked(struct shm_alloc_state *a,
				       struct shm_class *k, unsigned c)
{
	struct shm_chunk *ch;
	uint32_t r;

	shm_lock(&a->pool_lock);
	r = shm_pool_take_locked(a, 1, CHUNK_SMALL);
	shm_unlock(&a->pool_lock);
	if (!r)
		return CHUNK_NONE;
	ch = &chunk_map(a)[r - 1];
	ch->cls = (uint8_t)c;
	ch->nused = 0;
	ch->free_head = 0;
	ch->carved = 0;
	partial_push(a, k, r - 1);
	return r - 1;
}

static shm_off chunk_pop_locked(struct shm_alloc_state *a, struct shm_class *k,
				uint32_t idx, uint32_t size)
{
	struct shm_chunk *ch = &chunk_map(a)[idx];
	uint32_t in;

	if (ch->free_head) {
		struct shm_free_obj *o = obj_at(a, idx, ch->free_head - 1);

		in = ch->free_head - 1;
		ch->free_head = o->next;
		o->magic = 0;
	} else {
		in = ch->carved;
		ch->carved += size;
	}
	ch->nused++;
	if (!ch->free_head && ch->carved + size > SHM_CHUNK_SIZE)
		partial_unlink(a, k, idx);
	ctr_add(&k->live, 1);
	ctr_add(&k->allocs, 1);
	return chunk_off(a, idx) + in;
}

static shm_off class_alloc(struct shm_alloc_state *a, unsigned c)
{
	struct shm_class *k = &a->classes[c];
	shm_off off = 0;
	uint32_t idx;

	shm_lock(&k->lock);
	idx = k->partial ? k->partial - 1 : class_new_chunk_locked(a, k, c);
	if (idx != CHUNK_NONE)
		off = chunk_pop_locked(a, k, idx, class_size(c));
	shm_unlock(&k->lock);
	return off;
}

shm_off shm_alloc(size_t size)
{
	struct shm_alloc_state *a = alloc_state();
	shm_off off = 0;

	if (!a)
		return 0;
	if (size > SHM_SMALL_MAX)
		off = shm_pool_alloc_large(a, size);
	else if (size > 0)
		off = class_alloc(a, class_of(size));
	if (!off)
		__atomic_fetch_add(&a->failures, 1, __ATOMIC_RELAXED);
	return off;
}

/* ---- freeing -------------------------------------------------------- */

static void bad_free(struct shm_alloc_state *a, shm_off off)
{
	__atomic_fetch_add(&a->bad_frees, 1, __ATOMIC_RELAXED);
	LOG_ERR("shm_free: offset %llu is not a live object, ignored",
		(unsigned long long)off);
}

/* The magic word only suggests the object is free; the chunk's free list
 * (at most a chunk's worth of objects) decides. */
static bool obj_is_free_locked(struct shm_alloc_state *a, uint32_t idx,
			       uint32_t in)
{
	struct shm_chunk *ch = &chunk_map(a)[idx];
	uint32_t f = ch->free_head;

	if (obj_at(a, idx, in)->magic != SHM_FREE_MAGIC)
		return false;
	for (uint32_t n = 0; f && n < SHM_CHUNK_SIZE / 16; n++) {
		if (f - 1 == in)
			return true;
		f = obj_at(a, idx, f - 1)->next;
	}
	return false;
}

static void chunk_push_locked(struct shm_alloc_state *a, struct shm_class *k,
			      uint32_t idx, uint32_t in)
{
	struct shm_chunk *ch = &chunk_map(a)[idx];
	struct shm_free_obj *o = obj_at(a, idx, in);

	o->next = ch->free_head;
	o->magic = SHM_FREE_MAGIC;
	ch->free_head = in + 1;
	ch->nused--;
	ctr_add(&k->live, -1);
	ctr_add(&k->frees, 1);
	if (!ch->listed)
		partial_push(a, k, idx);
	if (ch->nused > 0 || (!ch->prev && !ch->next))
		return;
	partial_unlink(a, k, idx);
	shm_lock(&a->pool_lock);
	shm_pool_give_locked(a, idx);
	shm_unlock(&a->pool_lock);
}

/* The class was read without its lock: right for any live object, whose
 * chunk cannot change hands; checked again under the lock. */
static int class_free(struct shm_alloc_state *a, uint32_t idx, uint32_t in)
{
	struct shm_chunk *ch = &chunk_map(a)[idx];
	unsigned c = ch->cls;
	struct shm_class *k;
	int err = 0;

	if (c >= SHM_CLASS_COUNT)
		return -EINVAL;
	k = &a->classes[c];
	shm_lock(&k->lock);
	if (ch->kind != CHUNK_SMALL || ch->cls != c || in % class_size(c) ||
	    in >= ch->carved || obj_is_free_locked(a, idx, in)) {
		err = -EINVAL;
		goto out;
	}
	chunk_push_locked(a, k, idx, in);
out:
	shm_unlock(&k->lock);
	return err;
}

void shm_free(shm_off off)
{
	struct shm_alloc_state *a = alloc_state();
	uint64_t rel;
	uint32_t idx;
	int err = -EINVAL;

	if (!off || !a)
		return;
	rel = off - a->heap;
	idx = (uint32_t)(rel / SHM_CHUNK_SIZE);
	if (off < a->heap || rel / SHM_CHUNK_SIZE >= a->nchunks)
		goto out;
	switch (chunk_map(a)[idx].kind) {
	case CHUNK_SMALL:
		err = class_free(a, idx, (uint32_t)(rel % SHM_CHUNK_SIZE));
		break;
	case CHUNK_LARGE:
		if (rel % SHM_CHUNK_SIZE == 0)
			err = shm_pool_free_large(a, idx);
		break;
	default:
		break;
	}
out:
	if (err)
		bad_free(a, off);
}

void shm_usage(struct shm_usage *u)
{
	struct shm_alloc_state *a = alloc_state();
	uint64_t used;

	memset(u, 0, sizeof(*u));
	if (!a)
		return;
	used = a->fixed + ctr_get(&a->large_chunks) * SHM_CHUNK_SIZE;
	u->allocs = ctr_get(&a->large_allocs);
	u->frees = ctr_get(&a->large_frees);
	for (unsigned c = 0; c < SHM_CLASS_COUNT; c++) {
		used += ctr_get(&a->classes[c].live) * class_size(c);
		u->allocs += ctr_get(&a->classes[c].allocs);
		u->frees += ctr_get(&a->classes[c].frees);
	}
	u->size = shm->size;
	u->used = used;
	u->free = u->size - used;
	u->failures = __atomic_load_n(&a->failures, __ATOMIC_RELAXED);
	u->bad_frees = __atomic_load_n(&a->bad_frees, __ATOMIC_RELAXED);
}
