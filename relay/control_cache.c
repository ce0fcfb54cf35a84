/*
 * control_cache.c — the rtpproxy reply cache: the answer to each command,
 * keyed by (cookie, source address), kept RTPP_CACHE_MS in shm so that a
 * command the client retransmits (its answer lost, or late) is answered
 * again without being executed twice, whichever relay worker reads it.
 *
 * A hash table of sets of RTPP_CACHE_WAYS entries, one futex lock per set,
 * made by the master before fork; a new entry takes the slot of its key,
 * an empty or expired one, or the oldest of the set. The offset of the
 * table is a static inherited through fork. Locking: one set lock at a
 * time, held for a copy of at most one entry.
 */
#include "control_int.h"
#include "../shm/shm.h"

#include <errno.h>

#define RTPP_CACHE_WAYS 4

enum { ENTRY_FREE = 0, ENTRY_PENDING, ENTRY_DONE };

struct rtpp_cache_entry {
	int64_t time_ms;           /* when recorded (pending) or answered */
	struct relay_addr src;
	uint8_t state;
	uint8_t cookie_len;
	uint16_t reply_len;
	char cookie[RTPP_COOKIE_MAX];
	char reply[RTPP_REPLY_MAX];
};
_Static_assert(sizeof(struct rtpp_cache_entry) % 8 == 0, "cache entry aligned");

struct rtpp_cache_set {
	struct shm_lock lock;
	struct rtpp_cache_entry way[RTPP_CACHE_WAYS];
};

struct rtpp_cache {
	uint32_t nsets;            /* a power of two */
	uint32_t pad;
	struct rtpp_cache_set set[];
};

static shm_off cache_off;

/* About 1/128 of the segment, 16 to 4096 sets (64 to 16384 entries). */
static uint32_t sets_for(uint64_t shm_size)
{
	uint64_t want = shm_size / 128 / sizeof(struct rtpp_cache_set);
	uint32_t n = 16;

	while (n < 4096 && (uint64_t)n * 2 <= want)
		n *= 2;
	return n;
}

int rtpp_cache_init(void)
{
	struct rtpp_cache *c;
	uint32_t n;
	size_t size;
	int rc;

	if (!shm)
		return -ENODEV;
	if (cache_off)
		return -EEXIST;
	n = sets_for(shm->size);
	size = sizeof(*c) + (size_t)n * sizeof(struct rtpp_cache_set);
	cache_off = shm_alloc(size);
	c = shm_ptr(cache_off);
	if (!c)
		return -ENOMEM;
	memset(c, 0, size);
	c->nsets = n;
	rc = shm_lock_register(&c->set[0].lock, n, sizeof(struct rtpp_cache_set));
	if (rc < 0) {
		shm_free(cache_off);
		cache_off = 0;
	}
	return rc;
}

static uint32_t key_hash(slice cookie, const struct relay_addr *src)
{
	uint32_t h = 2166136261u;
	const uint8_t *a = (const uint8_t *)src;

	for (uint32_t i = 0; i < cookie.len; i++)
		h = (h ^ (uint8_t)cookie.p[i]) * 16777619u;
	for (size_t i = 0; i < sizeof(*src); i++)
		h = (h ^ a[i]) * 16777619u;
	return h;
}

static bool key_is(const struct rtpp_cache_entry *e, slice cookie, const struct relay_addr *src)
{
	return e->state != ENTRY_FREE && e->cookie_len == cookie.len &&
	       memcmp(e->cookie, cookie.p, cookie.len) == 0 &&
	       memcmp(&e->src, src, sizeof(*src)) == 0;
}

static bool expired(const struct rtpp_cache_entry *e, int64_t now_ms)
{
	int64_t ttl = e->state == ENTRY_PENDING ? RTPP_PENDING_MS : RTPP_CACHE_MS;

	return e->state == ENTRY_FREE || now_ms - e->time_ms >= ttl || now_ms < e->time_ms;
}

/* The set of the key, locked; NULL without a cache or for a long cookie. */
static struct rtpp_cache_set *set_lock(slice cookie, const struct relay_addr *src)
{
	struct rtpp_cache *c = shm_ptr(cache_off);
	struct rtpp_cache_set *s;

	if (!c || cookie.len > RTPP_COOKIE_MAX)
		return NULL;
	s = &c->set[key_hash(cookie, src) & (c->nsets - 1)];
	shm_lock(&s->lock);
	return s;
}

static struct rtpp_cache_entry *find_locked(struct rtpp_cache_set *s, slice cookie,
					    const struct relay_addr *src)
{
	for (unsigned i = 0; i < RTPP_CACHE_WAYS; i++)
		if (key_is(&s->way[i], cookie, src))
			return &s->way[i];
	return NULL;
}

/* An expired entry, else the oldest. */
static struct rtpp_cache_entry *victim_locked(struct rtpp_cache_set *s, int64_t now_ms)
{
	struct rtpp_cache_entry *v = &s->way[0];

	for (unsigned i = 0; i < RTPP_CACHE_WAYS; i++) {
		if (expired(&s->way[i], now_ms))
			return &s->way[i];
		if (s->way[i].time_ms < v->time_ms)
			v = &s->way[i];
	}
	return v;
}

enum rtpp_cache_state rtpp_cache_begin(slice cookie, const struct relay_addr *src,
				       int64_t now_ms, char *out, size_t cap, size_t *len)
{
	struct rtpp_cache_set *s = set_lock(cookie, src);
	struct rtpp_cache_entry *e;
	enum rtpp_cache_state st = RTPP_CACHE_NEW;

	if (!s)
		return RTPP_CACHE_NEW;
	e = find_locked(s, cookie, src);
	if (e && !expired(e, now_ms)) {
		st = e->state == ENTRY_PENDING ? RTPP_CACHE_PENDING : RTPP_CACHE_HIT;
		if (st == RTPP_CACHE_HIT) {
			*len = e->reply_len < cap ? e->reply_len : cap;
			memcpy(out, e->reply, *len);
		}
		goto out;
	}
	if (!e)
		e = victim_locked(s, now_ms);
	e->time_ms = now_ms;
	e->src = *src;
	e->state = ENTRY_PENDING;
	e->cookie_len = (uint8_t)cookie.len;
	memcpy(e->cookie, cookie.p, cookie.len);
	e->reply_len = 0;
out:
	shm_unlock(&s->lock);
	return st;
}

void rtpp_cache_finish(slice cookie, const struct relay_addr *src, int64_t now_ms,
		       const char *reply, size_t len)
{
	struct rtpp_cache_set *s = set_lock(cookie, src);
	struct rtpp_cache_entry *e;

	if (!s)
		return;
	e = find_locked(s, cookie, src);
	if (e && e->state == ENTRY_PENDING) {
		if (len > RTPP_REPLY_MAX) {
			e->state = ENTRY_FREE;
		} else {
			memcpy(e->reply, reply, len);
			e->reply_len = (uint16_t)len;
			e->time_ms = now_ms;
			e->state = ENTRY_DONE;
		}
	}
	shm_unlock(&s->lock);
}
