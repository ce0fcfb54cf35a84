/*
 * location.c — the registrar's bindings in shared memory: AOR key ->
 * contacts, hashed into buckets guarded by striped futex locks.
 *
 * The master sizes and registers the table before forking; SIP workers
 * (save, lookup), the timer (expiry, keepalive, write-back flush) and ctl
 * (ul show/rm) work on one AOR at a time between loc_lock and loc_unlock,
 * and never hold two stripe locks. Under a lock the work is bounded: one
 * bucket's chain and at most LOC_MAX_BINDINGS bindings. Objects are
 * allocated before anything is linked, so -ENOMEM changes nothing. For a
 * process killed mid-change, a binding list is never shorter than its
 * count (count goes up after a link, down before an unlink): the worst
 * left behind is an unreachable object or a counter off by one.
 */
#include "location_int.h"

#include <errno.h>
#include <sys/socket.h>

#define LOC_MIN_BUCKETS 16u

static const uint32_t field_max[LOC_NFIELDS] = {
	LOC_MAX_CONTACT, LOC_MAX_PATH, LOC_MAX_CALL_ID, LOC_MAX_USER_AGENT,
	LOC_MAX_INSTANCE,
};

static struct loc_table *table(void)
{
	return shm_ptr(shm->tables[SHM_T_LOCATION]);
}

static shm_off *buckets(const struct loc_table *t)
{
	return shm_ptr(t->buckets);
}

static struct shm_lock *stripe_lock(const struct loc_table *t, uint32_t bucket)
{
	struct shm_lock *locks = shm_ptr(t->locks);

	return &locks[bucket & (t->nstripes - 1)];
}

static void link_store(shm_off *link, shm_off off)
{
	__atomic_store_n(link, off, __ATOMIC_RELEASE);
}

static void count_add(uint64_t *c, int64_t n)
{
	__atomic_fetch_add(c, (uint64_t)n, __ATOMIC_RELAXED);
}

/* 64-bit multiply-rotate hash over 8-byte words, murmur3 finaliser. */
static uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t key_hash(slice key)
{
	const uint64_t k1 = 0x87c37b91114253d5ull, k2 = 0x4cf5ad432745937full;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ key.len, w;
	const char *p = key.p;
	uint32_t n = key.len;

	for (;; p += 8, n -= 8) {
		w = 0;
		if (n)
			memcpy(&w, p, n < 8 ? n : 8);
		h ^= rotl(w * k1, 31) * k2;
		h = rotl(h, 27) * 5 + 0x52dce729;
		if (n <= 8)
			break;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

/* ---- set-up --------------------------------------------------------- */

static uint32_t pow2_floor(uint64_t n)
{
	if (n < 2)
		return 1;
	if (n >= (1ull << 31))
		return 1u << 31;
	return 1u << (63 - __builtin_clzll(n));
}

uint32_t loc_buckets_for(uint64_t shm_size)
{
	return pow2_floor(shm_size / 256);
}

static uint32_t bucket_count(unsigned hint, uint64_t shm_size)
{
	uint64_t n = pow2_floor(hint ? hint : loc_buckets_for(shm_size));
	uint32_t max = pow2_floor(shm_size / 16 / sizeof(shm_off));

	if (n < hint)
		n <<= 1;
	if (n > max)
		n = max;
	return n < LOC_MIN_BUCKETS ? LOC_MIN_BUCKETS : (uint32_t)n;
}

static int table_alloc(uint32_t nbuckets, uint32_t nstripes,
		       struct loc_table **out)
{
	shm_off t = shm_alloc(sizeof(struct loc_table));
	shm_off b = shm_alloc((size_t)nbuckets * sizeof(shm_off));
	shm_off l = shm_alloc((size_t)nstripes * sizeof(struct shm_lock));
	int err;

	if (!t || !b || !l) {
		err = -ENOMEM;
		goto out;
	}
	memset(shm_ptr(b), 0, (size_t)nbuckets * sizeof(shm_off));
	memset(shm_ptr(l), 0, (size_t)nstripes * sizeof(struct shm_lock));
	err = shm_lock_register(shm_ptr(l), nstripes, sizeof(struct shm_lock));
	if (err)
		goto out;
	*out = shm_ptr(t);
	memset(*out, 0, sizeof(**out));
	(*out)->buckets = b;
	(*out)->locks = l;
	return 0;
out:
	shm_free(t);
	shm_free(b);
	shm_free(l);
	return err;
}

int loc_init(unsigned nbuckets_hint)
{
	struct loc_table *t;
	uint32_t nb, ns;
	int err;

	if (!shm)
		return -ENODEV;
	if (shm->tables[SHM_T_LOCATION])
		return -EEXIST;
	nb = bucket_count(nbuckets_hint, shm->size);
	ns = nb < LOC_STRIPES ? nb : LOC_STRIPES;
	err = table_alloc(nb, ns, &t);
	if (err) {
		LOG_ERR("location table: no room for %u buckets in shm", nb);
		return err;
	}
	t->magic = LOC_TABLE_MAGIC;
	t->nbuckets = nb;
	t->nstripes = ns;
	shm->tables[SHM_T_LOCATION] = shm_off_of(t);
	return 0;
}

uint32_t loc_bucket_total(void)
{
	return table()->nbuckets;
}

void loc_set_write_back(bool on)
{
	__atomic_store_n(&table()->write_back, on, __ATOMIC_RELAXED);
}

static bool write_back(const struct loc_table *t)
{
	return __atomic_load_n(&t->write_back, __ATOMIC_RELAXED);
}

/* ---- records -------------------------------------------------------- */

static struct loc_aor_rec *aor_at(shm_off off)
{
	return shm_ptr(off);
}

static struct loc_rec *rec_at(shm_off off)
{
	return shm_ptr(off);
}

const struct loc_aor_rec *loc_aor_of(const struct loc_handle *h)
{
	return aor_at(h->aor);
}

static void rec_lens(const struct loc_rec *r, uint32_t len[LOC_NFIELDS])
{
	len[0] = r->contact_len;
	len[1] = r->path_len;
	len[2] = r->call_id_len;
	len[3] = r->user_agent_len;
	len[4] = r->instance_len;
}

static size_t rec_size(const slice f[LOC_NFIELDS])
{
	size_t n = sizeof(struct loc_rec);

	for (int i = 0; i < LOC_NFIELDS; i++)
		n += f[i].len;
	return n;
}

static bool rec_same_lens(const struct loc_rec *r, const slice f[LOC_NFIELDS])
{
	uint32_t len[LOC_NFIELDS];

	rec_lens(r, len);
	for (int i = 0; i < LOC_NFIELDS; i++)
		if (len[i] != f[i].len)
			return false;
	return true;
}

/* Writes everything but next. */
static void rec_fill(struct loc_rec *r, const struct loc_binding *b)
{
	slice f[LOC_NFIELDS];
	char *p = r->data;

	loc_binding_fields(b, f);
	r->expires = b->expires;
	r->last_modified = b->last_modified;
	r->last_keepalive_ms = b->last_keepalive_ms;
	r->cseq = b->cseq;
	r->reg_id = b->reg_id;
	r->conn_id = b->conn_id;
	r->rtt_us = b->rtt_us;
	r->q = b->q;
	r->flags = b->flags;
	r->socket = b->socket;
	r->received = b->received;
	r->contact_len = (uint16_t)f[0].len;
	r->path_len = (uint16_t)f[1].len;
	r->call_id_len = (uint8_t)f[2].len;
	r->user_agent_len = (uint8_t)f[3].len;
	r->instance_len = (uint8_t)f[4].len;
	r->nat_tests = b->nat_tests;
	r->branch_hash = b->branch_hash;
	for (int i = 0; i < LOC_NFIELDS; i++) {
		if (f[i].len)
			memcpy(p, f[i].p, f[i].len);
		p += f[i].len;
	}
}

static shm_off rec_new(const struct loc_binding *b)
{
	slice f[LOC_NFIELDS];
	shm_off off;

	loc_binding_fields(b, f);
	off = shm_alloc(rec_size(f));
	if (off) {
		rec_at(off)->next = 0;
		rec_fill(rec_at(off), b);
	}
	return off;
}

static void rec_read(const struct loc_rec *r, struct loc_binding *b)
{
	slice *f[LOC_NFIELDS] = { &b->contact, &b->path, &b->call_id,
				  &b->user_agent, &b->instance };
	uint32_t len[LOC_NFIELDS];
	const char *p = r->data;

	rec_lens(r, len);
	for (int i = 0; i < LOC_NFIELDS; i++) {
		*f[i] = slice_make(p, len[i]);
		p += len[i];
	}
	b->expires = r->expires;
	b->last_modified = r->last_modified;
	b->last_keepalive_ms = r->last_keepalive_ms;
	b->cseq = r->cseq;
	b->reg_id = r->reg_id;
	b->conn_id = r->conn_id;
	b->rtt_us = r->rtt_us;
	b->q = r->q;
	b->flags = r->flags;
	b->socket = r->socket;
	b->nat_tests = r->nat_tests;
	b->branch_hash = r->branch_hash;
	b->received = r->received;
}

int loc_binding_check(const struct loc_binding *b)
{
	slice f[LOC_NFIELDS];

	loc_binding_fields(b, f);
	if (f[0].len == 0)
		return -EINVAL;
	for (int i = 0; i < LOC_NFIELDS; i++)
		if (f[i].len > field_max[i] || (f[i].len && !f[i].p))
			return -EINVAL;
	if (b->q < -1 || b->q > 1000)
		return -EINVAL;
	if (b->received.family != 0 && b->received.family != AF_INET &&
	    b->received.family != AF_INET6)
		return -EINVAL;
	return 0;
}

/* ---- lookup --------------------------------------------------------- */

static shm_off aor_find(const struct loc_table *t, uint32_t bucket, slice key,
			uint32_t hash)
{
	shm_off off = buckets(t)[bucket];

	while (off) {
		const struct loc_aor_rec *a = aor_at(off);

		if (a->hash == hash && a->key_len == key.len &&
		    memcmp(a->key, key.p, key.len) == 0)
			return off;
		off = a->next;
	}
	return 0;
}

void loc_lock(slice aor, struct loc_handle *h)
{
	const struct loc_table *t = table();
	uint64_t hv = key_hash(aor);

	h->bucket = (uint32_t)hv & (t->nbuckets - 1);
	h->key = aor;
	shm_lock(stripe_lock(t, h->bucket));
	h->aor = aor.len <= LOC_MAX_AOR ?
		aor_find(t, h->bucket, aor, (uint32_t)(hv >> 32)) : 0;
}

void loc_unlock(struct loc_handle *h)
{
	shm_unlock(stripe_lock(table(), h->bucket));
}

unsigned loc_count_locked(const struct loc_handle *h)
{
	return h->aor ? aor_at(h->aor)->count : 0;
}

/* The word that points at binding i (i == count: the tail's next). */
static shm_off *binding_link(struct loc_aor_rec *a, unsigned i)
{
	shm_off *link = &a->first;

	while (i-- > 0)
		link = &rec_at(*link)->next;
	return link;
}

int loc_get_locked(const struct loc_handle *h, unsigned i,
		   struct loc_binding *out)
{
	if (i >= loc_count_locked(h))
		return -ENOENT;
	rec_read(rec_at(*binding_link(aor_at(h->aor), i)), out);
	return 0;
}

int loc_find_locked(const struct loc_handle *h, slice contact)
{
	shm_off off = h->aor ? aor_at(h->aor)->first : 0;
	int count = (int)loc_count_locked(h);

	for (int i = 0; i < count; i++) {
		const struct loc_rec *r = rec_at(off);

		if (r->contact_len == contact.len &&
		    memcmp(r->data, contact.p, contact.len) == 0)
			return i;
		off = r->next;
	}
	return -ENOENT;
}

int loc_find_flow_locked(const struct loc_handle *h, slice instance,
			 uint32_t reg_id)
{
	shm_off off = h->aor ? aor_at(h->aor)->first : 0;
	int count = (int)loc_count_locked(h);

	for (int i = 0; i < count && instance.len; i++) {
		const struct loc_rec *r = rec_at(off);
		const char *inst = r->data + r->contact_len + r->path_len +
				   r->call_id_len + r->user_agent_len;

		if (r->reg_id == reg_id && r->instance_len == instance.len &&
		    memcmp(inst, instance.p, instance.len) == 0)
			return i;
		off = r->next;
	}
	return -ENOENT;
}

/* ---- insertion ------------------------------------------------------ */

static int aor_create(struct loc_table *t, struct loc_handle *h,
		      const struct loc_binding *b)
{
	uint64_t hv = key_hash(h->key);
	shm_off off = shm_alloc(sizeof(struct loc_aor_rec) + h->key.len);
	shm_off r = off ? rec_new(b) : 0;
	struct loc_aor_rec *a = aor_at(off);

	if (!r) {
		shm_free(off);
		return -ENOMEM;
	}
	a->first = r;
	a->hash = (uint32_t)(hv >> 32);
	a->key_len = (uint8_t)h->key.len;
	a->count = 1;
	a->dirty = 0;
	a->pad = 0;
	memcpy(a->key, h->key.p, h->key.len);
	a->next = buckets(t)[h->bucket];
	link_store(&buckets(t)[h->bucket], off);
	h->aor = off;
	count_add(&t->aors, 1);
	count_add(&t->bindings, 1);
	return 0;
}

/* Same string lengths: overwritten in place (no allocation, so a refresh
 * works in a full segment); else a new record takes the old one's place. */
static int binding_replace(struct loc_aor_rec *a, unsigned i,
			   const struct loc_binding *b)
{
	shm_off *link = binding_link(a, i), old = *link, r;
	slice f[LOC_NFIELDS];

	loc_binding_fields(b, f);
	if (rec_same_lens(rec_at(old), f)) {
		rec_fill(rec_at(old), b);
		return 0;
	}
	r = rec_new(b);
	if (!r)
		return -ENOMEM;
	rec_at(r)->next = rec_at(old)->next;
	link_store(link, r);
	shm_free(old);
	return 0;
}

static int binding_append(struct loc_table *t, struct loc_aor_rec *a,
			  const struct loc_binding *b)
{
	shm_off r;

	if (a->count >= LOC_MAX_BINDINGS)
		return -E2BIG;
	r = rec_new(b);
	if (!r)
		return -ENOMEM;
	link_store(binding_link(a, a->count), r);
	if (a->count++ == 0)
		count_add(&t->aors, 1);
	count_add(&t->bindings, 1);
	return 0;
}

static int put(struct loc_handle *h, const struct loc_binding *b, bool mark)
{
	struct loc_table *t = table();
	struct loc_aor_rec *a;
	int err, i;

	if (h->key.len == 0 || h->key.len > LOC_MAX_AOR || !h->key.p)
		return -EINVAL;
	err = loc_binding_check(b);
	if (err)
		return err;
	if (!h->aor)
		err = aor_create(t, h, b);
	else if ((i = loc_find_locked(h, b->contact)) >= 0)
		err = binding_replace(aor_at(h->aor), (unsigned)i, b);
	else
		err = binding_append(t, aor_at(h->aor), b);
	a = aor_at(h->aor);
	if (!err && mark && write_back(t))
		a->dirty = 1;
	return err;
}

int loc_put_locked(struct loc_handle *h, const struct loc_binding *b)
{
	return put(h, b, true);
}

int loc_put_clean_locked(struct loc_handle *h, const struct loc_binding *b)
{
	return put(h, b, false);
}

/* ---- removal -------------------------------------------------------- */

/* Frees the record of h when it has no binding left and is not kept for
 * a write-back flush. */
static void aor_release_if_empty(struct loc_table *t, struct loc_handle *h)
{
	struct loc_aor_rec *a = aor_at(h->aor);
	shm_off *link = &buckets(t)[h->bucket];

	if (!a || a->count || (a->dirty && write_back(t)))
		return;
	while (*link && *link != h->aor)
		link = &aor_at(*link)->next;
	if (!*link)
		return;
	link_store(link, a->next);
	shm_free(h->aor);
	h->aor = 0;
}

static void removed(struct loc_table *t, struct loc_handle *h, unsigned n)
{
	struct loc_aor_rec *a = aor_at(h->aor);

	count_add(&t->bindings, -(int64_t)n);
	if (a->count == 0)
		count_add(&t->aors, -1);
	if (write_back(t))
		a->dirty = 1;
	aor_release_if_empty(t, h);
}

int loc_del_locked(struct loc_handle *h, unsigned i)
{
	struct loc_table *t = table();
	struct loc_aor_rec *a = aor_at(h->aor);
	shm_off *link, victim;

	if (i >= loc_count_locked(h))
		return -ENOENT;
	a->count--;
	link = binding_link(a, i);
	victim = *link;
	link_store(link, rec_at(victim)->next);
	shm_free(victim);
	removed(t, h, 1);
	return 0;
}

void loc_del_all_locked(struct loc_handle *h)
{
	struct loc_table *t = table();
	struct loc_aor_rec *a = aor_at(h->aor);
	shm_off off;
	unsigned n;

	if (!a || !a->count)
		return;
	off = a->first;
	n = a->count;
	a->count = 0;
	link_store(&a->first, 0);
	while (off) {
		shm_off next = rec_at(off)->next;

		shm_free(off);
		off = next;
	}
	removed(t, h, n);
}

void loc_set_dirty_locked(struct loc_handle *h, bool dirty)
{
	if (!h->aor)
		return;
	aor_at(h->aor)->dirty = dirty;
	if (!dirty)
		aor_release_if_empty(table(), h);
}

bool loc_dirty_locked(const struct loc_handle *h)
{
	return h->aor && aor_at(h->aor)->dirty;
}

int loc_update_keepalive_locked(struct loc_handle *h, unsigned i,
				int64_t now_ms, uint32_t rtt_us)
{
	struct loc_rec *r;

	if (i >= loc_count_locked(h))
		return -ENOENT;
	r = rec_at(*binding_link(aor_at(h->aor), i));
	r->last_keepalive_ms = now_ms;
	r->rtt_us = rtt_us;
	return 0;
}

/* ---- walking and counting ------------------------------------------- */

/* Returns fn's non-zero result, or 0 when every AOR of the bucket was
 * seen. The next record is read before fn, which may free the current. */
static int walk_bucket(struct loc_table *t, uint32_t b,
		       int (*fn)(struct loc_handle *h, void *arg), void *arg)
{
	char key[LOC_MAX_AOR];
	struct loc_handle h;
	shm_off off, next;
	int stop = 0;

	shm_lock(stripe_lock(t, b));
	for (off = buckets(t)[b]; off && !stop; off = next) {
		const struct loc_aor_rec *a = aor_at(off);

		next = a->next;
		memcpy(key, a->key, a->key_len);
		h = (struct loc_handle){ b, off, slice_make(key, a->key_len) };
		stop = fn(&h, arg);
		aor_release_if_empty(t, &h);
	}
	shm_unlock(stripe_lock(t, b));
	return stop;
}

int loc_walk(uint32_t *cursor, unsigned max_buckets,
	     int (*fn)(struct loc_handle *h, void *arg), void *arg)
{
	struct loc_table *t = table();
	uint32_t b = *cursor < t->nbuckets ? *cursor : 0;
	uint64_t n = max_buckets ? max_buckets : t->nbuckets;

	for (; n > 0 && b < t->nbuckets; n--, b++) {
		if (!__atomic_load_n(&buckets(t)[b], __ATOMIC_ACQUIRE))
			continue;
		if (walk_bucket(t, b, fn, arg)) {
			*cursor = b;
			return 0;
		}
	}
	*cursor = b < t->nbuckets ? b : 0;
	return b >= t->nbuckets;
}

uint64_t loc_aor_count(void)
{
	const struct loc_table *t = shm ? table() : NULL;

	return t ? __atomic_load_n(&t->aors, __ATOMIC_RELAXED) : 0;
}

uint64_t loc_binding_count(void)
{
	const struct loc_table *t = shm ? table() : NULL;

	return t ? __atomic_load_n(&t->bindings, __ATOMIC_RELAXED) : 0;
}
