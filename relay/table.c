/*
 * table.c — the relay session table in shm: set-up by the master, the
 * per-slot seqlock, and the free-quad FIFOs of the slices.
 *
 * relay_init runs in the master before fork. Quads are allocated by the
 * process creating a session (a SIP worker, a relay worker serving
 * relay.control) with its stripe lock held, from the slice with the most
 * free quads (ties rotate), under that slice's lock; a freed quad goes to
 * the tail of its slice's FIFO so a port rests as long as possible before
 * it carries another call.
 */
#include "relay_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <time.h>

#define RELAY_MIN_BUCKETS 16u
#define ROUTE_READ_TRIES 64

int64_t relay_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- seqlock -------------------------------------------------------- */

bool relay_route_read(const struct relay_slot *s, struct relay_route *out)
{
	for (int i = 0; i < ROUTE_READ_TRIES; i++) {
		uint32_t a = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);

		if (a & 1)
			continue;
		memcpy(out, &s->route, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == a)
			return true;
	}
	return false;
}

/* Odd while writing. A writer killed midway leaves it odd; the next one
 * (holding the lock the master freed) ends it even again. */
uint32_t relay_route_write_begin(struct relay_slot *s)
{
	uint32_t w = __atomic_load_n(&s->seq, __ATOMIC_RELAXED) | 1;

	__atomic_store_n(&s->seq, w, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return w;
}

void relay_route_write_end(struct relay_slot *s, uint32_t w)
{
	__atomic_store_n(&s->seq, w + 1, __ATOMIC_RELEASE);
}

/* ---- set-up --------------------------------------------------------- */

static int local_addr(const char *text, struct relay_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, text, out->addr) == 1)
		out->family = AF_INET6;
	else
		return -EINVAL;
	return 0;
}

static uint32_t pow2_ceil(uint32_t n)
{
	uint32_t p = RELAY_MIN_BUCKETS;

	while (p < n)
		p <<= 1;
	return p;
}

/* Puts the quads of a slice that pass usable() in its free FIFO, in
 * order (before fork: nothing else touches the table). */
static uint32_t slice_fill(struct relay_table *t, struct relay_slice *sl, uint16_t s,
			   bool (*usable)(uint32_t q))
{
	struct relay_slot *slots = relay_slots(t);

	sl->head = sl->tail = sl->nfree = 0;
	for (uint32_t q = sl->first; q < sl->first + sl->count; q++) {
		slots[q].slice = s;
		slots[q].free_next = 0;
		if (usable && !usable(q))
			continue;
		if (sl->tail)
			slots[sl->tail - 1].free_next = q + 1;
		else
			sl->head = q + 1;
		sl->tail = q + 1;
		sl->nfree++;
	}
	return sl->nfree;
}

/* Slice s holds quads [s * n / k, (s + 1) * n / k). */
static void slices_init(struct relay_table *t)
{
	for (uint32_t s = 0; s < t->nslices; s++) {
		struct relay_slice *sl = &t->slices[s];

		sl->first = (uint32_t)((uint64_t)s * t->nquads / t->nslices);
		sl->count = (uint32_t)((uint64_t)(s + 1) * t->nquads / t->nslices) - sl->first;
		slice_fill(t, sl, (uint16_t)s, NULL);
	}
}

uint32_t relay_quads_keep(bool (*usable)(uint32_t q))
{
	struct relay_table *t = relay_table();
	uint32_t n = 0;

	for (uint32_t s = 0; t && s < t->nslices; s++)
		n += slice_fill(t, &t->slices[s], (uint16_t)s, usable);
	return n;
}

static int table_alloc(struct relay_table *t)
{
	size_t slot_bytes = (size_t)t->nquads * sizeof(struct relay_slot);
	int err;

	t->slots = slot_bytes ? shm_alloc(slot_bytes) : 0;
	t->buckets = shm_alloc((size_t)t->nbuckets * sizeof(uint32_t));
	t->locks = shm_alloc((size_t)t->nstripes * sizeof(struct shm_lock));
	if ((slot_bytes && !t->slots) || !t->buckets || !t->locks)
		return -ENOMEM;
	if (slot_bytes)
		memset(shm_ptr(t->slots), 0, slot_bytes);
	memset(shm_ptr(t->buckets), 0, (size_t)t->nbuckets * sizeof(uint32_t));
	memset(shm_ptr(t->locks), 0, (size_t)t->nstripes * sizeof(struct shm_lock));
	err = shm_lock_register(shm_ptr(t->locks), t->nstripes, sizeof(struct shm_lock));
	if (err == 0 && t->nslices)
		err = shm_lock_register(&t->slices[0].lock, t->nslices,
					sizeof(struct relay_slice));
	return err;
}

int relay_init(const struct pinhole_conf *conf)
{
	shm_off off;
	struct relay_table *t;
	int err;

	if (!shm)
		return -ENODEV;
	if (shm->tables[SHM_T_RELAY])
		return -EEXIST;
	off = shm_alloc(sizeof(*t));
	if (!off)
		return -ENOMEM;
	t = shm_ptr(off);
	memset(t, 0, sizeof(*t));
	err = local_addr(conf->relay.address, &t->local);
	if (err) {
		LOG_ERR("relay.address '%s' is not an IP address", conf->relay.address);
		goto out;
	}
	t->port_base = (conf->relay.port_min + 1u) & ~1u;
	t->nquads = conf->relay.port_max >= t->port_base ?
		    (conf->relay.port_max - t->port_base + 1u) / 4 : 0;
	t->nslices = t->nquads < RELAY_MAX_SLICES ? t->nquads : RELAY_MAX_SLICES;
	t->nbuckets = pow2_ceil(t->nquads);
	t->nstripes = t->nbuckets < RELAY_STRIPES ? t->nbuckets : RELAY_STRIPES;
	err = table_alloc(t);
	if (err) {
		LOG_ERR("relay table for %u sessions: %s", t->nquads, strerror(-err));
		goto out;
	}
	slices_init(t);
	t->magic = RELAY_TABLE_MAGIC;
	shm->tables[SHM_T_RELAY] = off;
	return 0;
out:
	shm_free(t->slots);
	shm_free(t->buckets);
	shm_free(t->locks);
	shm_free(off);
	return err;
}

uint64_t relay_session_count(void)
{
	const struct relay_table *t = relay_table();

	return t ? __atomic_load_n(&t->sessions, __ATOMIC_RELAXED) : 0;
}

/* ---- free quads ----------------------------------------------------- */

static bool slice_pop(struct relay_table *t, struct relay_slice *sl, uint32_t *q)
{
	struct relay_slot *slots = relay_slots(t);
	bool got = false;

	shm_lock(&sl->lock);
	if (sl->head) {
		*q = sl->head - 1;
		sl->head = slots[*q].free_next;
		if (!sl->head)
			sl->tail = 0;
		slots[*q].free_next = 0;
		__atomic_store_n(&sl->nfree, sl->nfree - 1, __ATOMIC_RELAXED);
		got = true;
	}
	shm_unlock(&sl->lock);
	return got;
}

/* The untried slice with the most free quads, starting the scan at a
 * rotating point so equal slices take turns; -1 when none has any. */
static int slice_pick(struct relay_table *t, uint64_t tried, uint32_t start)
{
	uint32_t best_free = 0;
	int best = -1;

	for (uint32_t i = 0; i < t->nslices; i++) {
		uint32_t s = (start + i) % t->nslices;
		uint32_t f = __atomic_load_n(&t->slices[s].nfree, __ATOMIC_RELAXED);

		if (!(tried & (1ull << s)) && f > best_free) {
			best_free = f;
			best = (int)s;
		}
	}
	return best;
}

int relay_quad_alloc(struct relay_table *t, uint32_t *q)
{
	uint32_t start = __atomic_fetch_add(&t->rr, 1, __ATOMIC_RELAXED);
	uint64_t tried = 0;
	int s;

	while ((s = slice_pick(t, tried, start)) >= 0) {
		if (slice_pop(t, &t->slices[s], q))
			return 0;
		tried |= 1ull << s;
	}
	stat_add(STAT_RELAY_PORTS_EXHAUSTED, 1);
	return -ENOSPC;
}

void relay_quad_free(struct relay_table *t, uint32_t q)
{
	struct relay_slot *slots = relay_slots(t);
	struct relay_slice *sl = &t->slices[slots[q].slice];

	shm_lock(&sl->lock);
	slots[q].free_next = 0;
	if (sl->tail)
		slots[sl->tail - 1].free_next = q + 1;
	else
		sl->head = q + 1;
	sl->tail = q + 1;
	__atomic_store_n(&sl->nfree, sl->nfree + 1, __ATOMIC_RELAXED);
	shm_unlock(&sl->lock);
}
