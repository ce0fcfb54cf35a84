/*
 * tm_table.c — the transaction table in shm: set-up, stripes and their
 * locks, slot allocation, hash chains.
 *
 * The master lays the table out before forking (tm_init); every other
 * call runs in a SIP worker or the timer under the stripe lock of the
 * slot it touches, and never holds two stripe locks. A slot carries a
 * generation bumped at allocation and at free, so a reference (slot,
 * generation) taken under one lock and used under a later one detects a
 * slot that was freed and reused meanwhile. Work under a lock is bounded
 * by one stripe: a hash chain or the free list head.
 */
#include "tm_int.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static struct tm_table *the_table(void)
{
	return shm ? shm_ptr(shm->tables[SHM_T_TM]) : NULL;
}

struct tm_table *tm_table(void)
{
	return the_table();
}

struct tm_slot *tm_slot_at(uint32_t idx)
{
	struct tm_slot *slots = shm_ptr(the_table()->slots);

	return &slots[idx];
}

struct tm_stripe *tm_stripe_at(uint32_t s)
{
	struct tm_stripe *stripes = shm_ptr(the_table()->stripes);

	return &stripes[s];
}

uint32_t tm_stripe_of(uint32_t idx)
{
	return idx / the_table()->per_stripe;
}

struct tm_branch *tm_branches(const struct tm_slot *t)
{
	return shm_ptr(t->branches);
}

uint32_t tm_capacity(void)
{
	struct tm_table *tt = the_table();

	return tt ? tt->nslots : 0;
}

uint64_t tm_active_count(void)
{
	struct tm_table *tt = the_table();

	return tt ? __atomic_load_n(&tt->active, __ATOMIC_RELAXED) : 0;
}

/* ---- set-up --------------------------------------------------------- */

static uint32_t pow2_ceil(uint32_t n)
{
	uint32_t p = 1;

	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

/* Slots, rounded up to whole stripes and cut to an eighth of the
 * segment (with their hash heads). */
static uint32_t slots_for(uint32_t wanted)
{
	uint64_t per = sizeof(struct tm_slot) + sizeof(uint32_t) * 2;
	uint64_t fit = shm->size / 8 / per / TM_STRIPES * TM_STRIPES;
	uint64_t n = ((uint64_t)wanted + TM_STRIPES - 1) / TM_STRIPES * TM_STRIPES;

	if (n < TM_MIN_SLOTS)
		n = TM_MIN_SLOTS;
	if (n > fit) {
		LOG_WARN("tm.max_transactions %u does not fit shm_size: %llu transactions",
			 wanted, (unsigned long long)fit);
		n = fit;
	}
	return (uint32_t)n;
}

static uint32_t boot_id(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
	return v;
}

static void stripes_init(struct tm_table *tt)
{
	struct tm_slot *slots = shm_ptr(tt->slots);

	memset(slots, 0, (size_t)tt->nslots * sizeof(*slots));
	memset(shm_ptr(tt->heads), 0, (size_t)TM_STRIPES * tt->nbuckets * sizeof(uint32_t));
	for (uint32_t s = 0; s < TM_STRIPES; s++) {
		struct tm_stripe *st = tm_stripe_at(s);
		uint32_t first = s * tt->per_stripe;

		memset(st, 0, sizeof(*st));
		for (uint32_t i = 0; i < tt->per_stripe; i++)
			slots[first + i].next = i + 1 < tt->per_stripe ? first + i + 2 : 0;
		st->free_head = first + 1;
	}
}

static int table_alloc(uint32_t nslots, uint32_t nbuckets, struct tm_table **out)
{
	shm_off t = shm_alloc(sizeof(struct tm_table));
	shm_off sl = shm_alloc((size_t)nslots * sizeof(struct tm_slot));
	shm_off st = shm_alloc((size_t)TM_STRIPES * sizeof(struct tm_stripe));
	shm_off h = shm_alloc((size_t)TM_STRIPES * nbuckets * sizeof(uint32_t));

	if (!t || !sl || !st || !h) {
		shm_free(t);
		shm_free(sl);
		shm_free(st);
		shm_free(h);
		return -ENOMEM;
	}
	*out = shm_ptr(t);
	memset(*out, 0, sizeof(**out));
	(*out)->slots = sl;
	(*out)->stripes = st;
	(*out)->heads = h;
	return 0;
}

int tm_init(uint32_t max_transactions)
{
	struct tm_table *tt;
	uint32_t n;
	int err;

	if (!shm)
		return -ENODEV;
	if (shm->tables[SHM_T_TM])
		return -EEXIST;
	n = slots_for(max_transactions);
	err = table_alloc(n, pow2_ceil(n / TM_STRIPES), &tt);
	if (err) {
		LOG_ERR("transaction table: no room for %u transactions in shm", n);
		return err;
	}
	tt->magic = TM_MAGIC;
	tt->nslots = n;
	tt->per_stripe = n / TM_STRIPES;
	tt->nbuckets = pow2_ceil(tt->per_stripe);
	tt->boot = boot_id();
	shm->tables[SHM_T_TM] = shm_off_of(tt);
	stripes_init(tt);
	err = shm_lock_register(&tm_stripe_at(0)->lock, TM_STRIPES, sizeof(struct tm_stripe));
	if (err)
		shm->tables[SHM_T_TM] = 0;
	return err;
}

/* ---- locks ---------------------------------------------------------- */

void tm_stripe_lock(uint32_t s)
{
	shm_lock(&tm_stripe_at(s)->lock);
}

void tm_stripe_unlock(uint32_t s)
{
	shm_unlock(&tm_stripe_at(s)->lock);
}

struct tm_slot *tm_ref_lock(struct tm_ref ref)
{
	struct tm_table *tt = the_table();
	struct tm_slot *t;

	if (!tt || ref.slot >= tt->nslots)
		return NULL;
	tm_stripe_lock(tm_stripe_of(ref.slot));
	t = tm_slot_at(ref.slot);
	if (t->live && t->gen == ref.gen)
		return t;
	tm_stripe_unlock(tm_stripe_of(ref.slot));
	return NULL;
}

void tm_ref_unlock(struct tm_ref ref)
{
	tm_stripe_unlock(tm_stripe_of(ref.slot));
}

static uint32_t *bucket_of(uint64_t key);
static void hash_remove_locked(uint32_t idx);

/* ---- slots ---------------------------------------------------------- */

int tm_slot_alloc_locked(uint32_t s, uint32_t *idx)
{
	struct tm_stripe *st = tm_stripe_at(s);
	struct tm_slot *t;
	uint32_t gen;

	if (!st->free_head)
		return -ENOSPC;
	*idx = st->free_head - 1;
	t = tm_slot_at(*idx);
	st->free_head = t->next;
	gen = t->gen + 1;
	memset(t, 0, sizeof(*t));
	t->gen = gen;
	t->live = 1;
	st->used++;
	__atomic_fetch_add(&the_table()->active, 1, __ATOMIC_RELAXED);
	return 0;
}

static void free_objects(struct tm_slot *t)
{
	struct tm_branch *b = tm_branches(t);

	for (unsigned i = 0; b && i < t->nbranch; i++) {
		shm_free(b[i].req);
		shm_free(b[i].cancel);
	}
	shm_free(t->branches);
	shm_free(t->req);
	shm_free(t->resp);
	shm_free(t->best);
}

void tm_slot_free_locked(uint32_t idx)
{
	struct tm_slot *t = tm_slot_at(idx);
	uint32_t s = tm_stripe_of(idx);
	struct tm_stripe *st = tm_stripe_at(s);

	if (!t->live)
		return;
	tm_wheel_disarm_locked(s, idx);
	hash_remove_locked(idx);
	free_objects(t);
	memset((char *)t + sizeof(t->gen), 0, sizeof(*t) - sizeof(t->gen));
	t->gen++;
	t->next = st->free_head;
	st->free_head = idx + 1;
	st->used--;
	__atomic_fetch_sub(&the_table()->active, 1, __ATOMIC_RELAXED);
}

/* ---- hash chains ---------------------------------------------------- */

uint32_t tm_stripe_for_key(uint64_t key)
{
	return (uint32_t)(key % TM_STRIPES);
}

static uint32_t *bucket_of(uint64_t key)
{
	uint32_t *heads = shm_ptr(the_table()->heads);

	return &heads[tm_stripe_for_key(key) * the_table()->nbuckets +
		      ((key >> 6) & (the_table()->nbuckets - 1))];
}

static void hash_remove_locked(uint32_t idx)
{
	struct tm_slot *t = tm_slot_at(idx);
	uint32_t *link = bucket_of(t->key);

	while (*link && *link != idx + 1)
		link = &tm_slot_at(*link - 1)->next;
	if (*link)
		*link = t->next;
	t->next = 0;
}

void tm_hash_insert_locked(uint32_t idx)
{
	struct tm_slot *t = tm_slot_at(idx);
	uint32_t *head = bucket_of(t->key);

	t->next = *head;
	*head = idx + 1;
}

uint32_t tm_hash_first_locked(uint64_t key)
{
	uint32_t n = *bucket_of(key);

	while (n && tm_slot_at(n - 1)->key != key)
		n = tm_slot_at(n - 1)->next;
	return n;
}

uint32_t tm_hash_next_locked(uint32_t idx)
{
	uint64_t key = tm_slot_at(idx)->key;
	uint32_t n = tm_slot_at(idx)->next;

	while (n && tm_slot_at(n - 1)->key != key)
		n = tm_slot_at(n - 1)->next;
	return n;
}
