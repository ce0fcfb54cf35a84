/*
 * session.c — relay sessions by Call-ID, media index and tags: update
 * (create), delete, walk, and the timeout sweep.
 *
 * Called by SIP workers (offers and answers), relay workers (rtpproxy
 * control), ctl (`relay list`) and the timer (timeouts). The Call-ID alone
 * picks the bucket, so every media stream of a call shares one stripe
 * lock: a delete of the whole call is one chain walk. Under the lock the
 * work is one chain (about one slot per bucket: the buckets outnumber the
 * quads) plus at most one slice lock. Routes change inside the slot's
 * seqlock, for the relay workers that read them without a lock.
 */
#include "relay_int.h"

#include <errno.h>
#include <sys/socket.h>

struct relay_match {
	uint32_t q;
	unsigned leg;          /* the leg of the request's tag */
	uint8_t retag;         /* 1: that leg takes the request's tag;
	                          2: the other leg takes other_tag */
};

static uint32_t call_hash(slice call_id)
{
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < call_id.len; i++)
		h = (h ^ (uint8_t)call_id.p[i]) * 16777619u;
	return h ^ (h >> 15);
}

static uint32_t *bucket_of(const struct relay_table *t, uint32_t hash)
{
	uint32_t *b = shm_ptr(t->buckets);

	return &b[hash & (t->nbuckets - 1)];
}

static bool same_call(const struct relay_slot *s, slice call_id)
{
	return s->call_id_len == call_id.len && memcmp(s->call_id, call_id.p, call_id.len) == 0;
}

static bool tag_is(const struct relay_slot *s, unsigned leg, slice tag)
{
	return s->tag_len[leg] == tag.len &&
	       (tag.len == 0 || memcmp(s->tag[leg], tag.p, tag.len) == 0);
}

/* The other leg accepts other_tag: not given, not known yet, or equal. */
static bool other_fits(const struct relay_slot *s, unsigned leg, slice other_tag)
{
	return other_tag.len == 0 || s->tag_len[leg] == 0 || tag_is(s, leg, other_tag);
}

/* Pass 0: a leg carrying r->tag, the other one fitting other_tag. Pass 1
 * (an answer): the other leg carries other_tag; r's leg gets r->tag, the
 * last answer of a forked call replacing an earlier one. Pass 2: a leg
 * carrying r->tag whose other leg is a branch that lost (an in-dialog
 * offer names the party that won): that leg takes other_tag. */
static bool pass_hit(const struct relay_slot *s, const struct relay_req *r, int pass,
		     unsigned leg)
{
	if (pass == 0)
		return tag_is(s, leg, r->tag) && other_fits(s, 1 - leg, r->other_tag);
	if (pass == 1)
		return r->other_tag.len && tag_is(s, 1 - leg, r->other_tag);
	return r->other_tag.len && tag_is(s, leg, r->tag);
}

static int find_locked(const struct relay_table *t, const struct relay_req *r,
		       uint32_t hash, struct relay_match *m)
{
	struct relay_slot *slots = relay_slots(t);

	for (int pass = 0; pass < 3; pass++) {
		for (uint32_t i = *bucket_of(t, hash); i; i = slots[i - 1].hnext) {
			struct relay_slot *s = &slots[i - 1];

			if (!same_call(s, r->call_id) || s->media != r->media)
				continue;
			for (unsigned leg = 0; leg < 2; leg++) {
				if (pass_hit(s, r, pass, leg)) {
					*m = (struct relay_match){ i - 1, leg, (uint8_t)pass };
					return 0;
				}
			}
		}
	}
	return -ENOENT;
}

static void set_tag(struct relay_slot *s, unsigned leg, slice tag)
{
	if (tag.len)
		memcpy(s->tag[leg], tag.p, tag.len);
	s->tag_len[leg] = (uint8_t)tag.len;
}

static void stats_clear(struct relay_slot *s)
{
	for (unsigned l = 0; l < 2; l++) {
		__atomic_store_n(&s->st[l].packets, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->st[l].bytes, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->st[l].dropped, 0, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&s->last_packet_ms, 0, __ATOMIC_RELAXED);
}

/* A new session on a free quad: leg 0 is r->tag's, leg 1 other_tag's. */
static int create_locked(struct relay_table *t, const struct relay_req *r,
			 uint32_t hash, int64_t now, struct relay_match *m)
{
	uint32_t q, w, *bucket = bucket_of(t, hash);
	struct relay_slot *s;
	int err = relay_quad_alloc(t, &q);

	if (err)
		return err;
	s = &relay_slots(t)[q];
	__atomic_store_n(&s->hash, hash, __ATOMIC_RELAXED);
	s->media = r->media;
	memcpy(s->call_id, r->call_id.p, r->call_id.len);
	s->call_id_len = (uint16_t)r->call_id.len;
	set_tag(s, 0, r->tag);
	set_tag(s, 1, r->other_tag);
	stats_clear(s);
	s->created_ms = now;
	w = relay_route_write_begin(s);
	memset(s->route.leg, 0, sizeof(s->route.leg));
	s->route.gen++;
	s->route.state = RELAY_S_LIVE;
	relay_route_write_end(s, w);
	s->hnext = *bucket;
	__atomic_store_n(bucket, q + 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&t->sessions, 1, __ATOMIC_RELAXED);
	stat_add(STAT_RELAY_SESSIONS_CREATED, 1);
	*m = (struct relay_match){ q, 0, 0 };
	return 0;
}

/* Unlinks the slot *link points to and frees its quad. */
static void delete_locked(struct relay_table *t, uint32_t *link)
{
	uint32_t q = *link - 1, w;
	struct relay_slot *s = &relay_slots(t)[q];

	__atomic_store_n(link, s->hnext, __ATOMIC_RELEASE);
	w = relay_route_write_begin(s);
	s->route.state = RELAY_S_FREE;
	relay_route_write_end(s, w);
	s->hnext = 0;
	__atomic_sub_fetch(&t->sessions, 1, __ATOMIC_RELAXED);
	relay_quad_free(t, q);
}

static int req_check(const struct relay_table *t, const struct relay_req *r)
{
	if (!t)
		return -ENODEV;
	if (r->call_id.len == 0 || r->call_id.len > RELAY_MAX_CALL_ID ||
	    r->tag.len == 0 || r->tag.len > RELAY_MAX_TAG || r->other_tag.len > RELAY_MAX_TAG ||
	    slice_eq(r->tag, r->other_tag))
		return -EINVAL;
	if (r->addr.family != 0 && r->addr.family != AF_INET && r->addr.family != AF_INET6)
		return -EINVAL;
	return 0;
}

/* An offer of leg's party on a live session keeps the leg as it was, for
 * relay_revert; an answer on leg settles the other party's offer; a new
 * session has nothing to revert. Per leg, so that in a glare (both
 * parties offer, both get 491) each offer is undone on its own leg. */
static void keep_undo(struct relay_slot *s, unsigned leg, uint32_t flags, bool created)
{
	if (created) {
		s->undo_armed = 0;
	} else if (flags & RELAY_F_CREATE) {
		s->undo[leg] = s->route.leg[leg];
		s->undo_armed |= (uint8_t)(1u << leg);
	} else {
		s->undo_armed &= (uint8_t)~(1u << (1 - leg));
	}
}

int relay_update(const struct relay_req *r, struct relay_addr *local)
{
	bool created;
	struct relay_table *t = relay_table();
	uint32_t hash = call_hash(r->call_id), w;
	int64_t now = relay_now_ms();
	struct relay_match m;
	struct relay_slot *s;
	struct shm_lock *lock;
	int err = req_check(t, r);

	if (err)
		return err;
	lock = relay_stripe(t, hash);
	shm_lock(lock);
	err = find_locked(t, r, hash, &m);
	created = err == -ENOENT && (r->flags & RELAY_F_CREATE);
	if (created)
		err = create_locked(t, r, hash, now, &m);
	if (err)
		goto out;
	s = &relay_slots(t)[m.q];
	keep_undo(s, m.leg, r->flags, created);
	if (m.retag == 1)
		set_tag(s, m.leg, r->tag);
	else if (m.retag == 2)
		set_tag(s, 1 - m.leg, r->other_tag);
	w = relay_route_write_begin(s);
	relay_leg_signal(&s->route.leg[m.leg], &r->addr, r->flags, now);
	relay_leg_from(&s->route.leg[m.leg], &r->from);
	relay_route_write_end(s, w);
	__atomic_store_n(&s->updated_ms, now, __ATOMIC_RELAXED);
	*local = t->local;
	local->port = (uint16_t)(t->port_base + 4 * m.q + 2 * (1 - m.leg));
out:
	shm_unlock(lock);
	return err;
}

/* tag empty: every session of the call; else one of its legs carries tag
 * and other_tag (when given) is on the other leg or that leg has none. */
static bool delete_matches(const struct relay_slot *s, slice tag, slice other_tag)
{
	for (unsigned leg = 0; leg < 2 && tag.len; leg++)
		if (tag_is(s, leg, tag) && other_fits(s, 1 - leg, other_tag))
			return true;
	return tag.len == 0;
}

int relay_delete(slice call_id, slice tag, slice other_tag)
{
	struct relay_table *t = relay_table();
	uint32_t hash = call_hash(call_id), *link;
	struct relay_slot *slots;
	struct shm_lock *lock;
	int n = 0;

	if (!t)
		return -ENODEV;
	if (call_id.len == 0 || call_id.len > RELAY_MAX_CALL_ID)
		return -EINVAL;
	slots = relay_slots(t);
	lock = relay_stripe(t, hash);
	shm_lock(lock);
	for (link = bucket_of(t, hash); *link;) {
		struct relay_slot *s = &slots[*link - 1];

		if (same_call(s, call_id) && delete_matches(s, tag, other_tag)) {
			delete_locked(t, link);
			n++;
		} else {
			link = &s->hnext;
		}
	}
	shm_unlock(lock);
	stat_add(STAT_RELAY_SESSIONS_DELETED, (uint64_t)n);
	return n ? n : -ENOENT;
}

/* Leg l as it was before its party's pending offer, latches and re-latch
 * window included, when that offer changed its address or flags (else
 * it keeps what it learned meanwhile); the other leg is left alone. */
static void revert_locked(struct relay_slot *s, unsigned l)
{
	const struct relay_route_leg *was = &s->undo[l], *now = &s->route.leg[l];

	if (!relay_addr_eq(&was->sdp, &now->sdp) || was->flags != now->flags) {
		uint32_t w = relay_route_write_begin(s);

		s->route.leg[l] = *was;
		relay_route_write_end(s, w);
	}
	s->undo_armed &= (uint8_t)~(1u << l);
}

int relay_revert(slice call_id, slice tag)
{
	struct relay_table *t = relay_table();
	uint32_t hash = call_hash(call_id);
	struct relay_slot *slots;
	struct shm_lock *lock;
	int n = 0;

	if (!t)
		return -ENODEV;
	if (call_id.len == 0 || call_id.len > RELAY_MAX_CALL_ID || tag.len == 0)
		return -EINVAL;
	slots = relay_slots(t);
	lock = relay_stripe(t, hash);
	shm_lock(lock);
	for (uint32_t i = *bucket_of(t, hash); i; i = slots[i - 1].hnext) {
		struct relay_slot *s = &slots[i - 1];

		for (unsigned l = 0; l < 2; l++) {
			if (same_call(s, call_id) && (s->undo_armed & (1u << l)) &&
			    tag_is(s, l, tag)) {
				revert_locked(s, l);
				n++;
			}
		}
	}
	shm_unlock(lock);
	return n ? n : -ENOENT;
}

/* ---- walking -------------------------------------------------------- */

static void leg_info(const struct relay_table *t, const struct relay_slot *s, uint32_t q,
		     unsigned leg, struct relay_leg_info *li)
{
	const struct relay_route_leg *rl = &s->route.leg[leg];

	memcpy(li->tag, s->tag[leg], s->tag_len[leg]);
	li->tag[s->tag_len[leg]] = '\0';
	li->local = t->local;
	li->local.port = (uint16_t)(t->port_base + 4 * q + 2 * leg);
	li->sdp = rl->sdp;
	li->latched = rl->latched[0];
	li->latched_rtcp = rl->latched[1];
	li->host = rl->from;
	li->provisional = rl->relatch[0] == RELAY_RELATCH_PARTY;
	li->packets = __atomic_load_n(&s->st[leg].packets, __ATOMIC_RELAXED);
	li->bytes = __atomic_load_n(&s->st[leg].bytes, __ATOMIC_RELAXED);
	li->dropped = __atomic_load_n(&s->st[leg].dropped, __ATOMIC_RELAXED);
}

/* Under the slot's stripe lock (so no writer changes it). */
static void info_locked(const struct relay_table *t, uint32_t q, struct relay_info *info)
{
	const struct relay_slot *s = &relay_slots(t)[q];

	memcpy(info->call_id, s->call_id, s->call_id_len);
	info->call_id[s->call_id_len] = '\0';
	info->media = s->media;
	info->created_ms = s->created_ms;
	info->last_packet_ms = __atomic_load_n(&s->last_packet_ms, __ATOMIC_RELAXED);
	leg_info(t, s, q, 0, &info->leg[0]);
	leg_info(t, s, q, 1, &info->leg[1]);
}

/* Calls fn for every live session of one call's bucket, under its lock. */
static unsigned each_of_call(const struct relay_table *t, slice call_id,
			     int (*fn)(const struct relay_info *, void *), void *arg)
{
	struct relay_info info;
	uint32_t hash = call_hash(call_id);
	struct relay_slot *slots = relay_slots(t);
	struct shm_lock *lock = relay_stripe(t, hash);
	unsigned n = 0;

	shm_lock(lock);
	for (uint32_t i = *bucket_of(t, hash); i; i = slots[i - 1].hnext) {
		if (!same_call(&slots[i - 1], call_id))
			continue;
		info_locked(t, i - 1, &info);
		n++;
		if (fn(&info, arg))
			break;
	}
	shm_unlock(lock);
	return n;
}

unsigned relay_each(slice call_id, int (*fn)(const struct relay_info *s, void *arg),
		    void *arg)
{
	struct relay_info info;
	const struct relay_table *t = relay_table();
	struct relay_slot *slots;
	unsigned n = 0;
	int stop = 0;

	if (!t)
		return 0;
	if (call_id.len)
		return each_of_call(t, call_id, fn, arg);
	slots = relay_slots(t);
	for (uint32_t q = 0; q < t->nquads && !stop; q++) {
		struct relay_slot *s = &slots[q];
		uint32_t hash = __atomic_load_n(&s->hash, __ATOMIC_RELAXED);
		struct shm_lock *lock = relay_stripe(t, hash);

		if (__atomic_load_n(&s->route.state, __ATOMIC_RELAXED) != RELAY_S_LIVE)
			continue;
		shm_lock(lock);
		if (s->route.state == RELAY_S_LIVE && s->hash == hash) {
			info_locked(t, q, &info);
			n++;
			stop = fn(&info, arg);
		}
		shm_unlock(lock);
	}
	return n;
}

/* ---- timeouts ------------------------------------------------------- */

static bool idle(const struct relay_slot *s, int64_t now, int64_t timeout_ms)
{
	int64_t last = __atomic_load_n(&s->last_packet_ms, __ATOMIC_RELAXED);
	int64_t upd = __atomic_load_n(&s->updated_ms, __ATOMIC_RELAXED);

	return now - (last > upd ? last : upd) > timeout_ms;
}

/* Removes slot q if it is still live, still in bucket hash and idle. */
static bool expire_one(struct relay_table *t, uint32_t q, uint32_t hash, int64_t now,
		       int64_t timeout_ms)
{
	struct relay_slot *slots = relay_slots(t);
	struct shm_lock *lock = relay_stripe(t, hash);
	bool gone = false;

	shm_lock(lock);
	if (slots[q].route.state == RELAY_S_LIVE && slots[q].hash == hash &&
	    idle(&slots[q], now, timeout_ms)) {
		for (uint32_t *link = bucket_of(t, hash); *link; link = &slots[*link - 1].hnext) {
			if (*link == q + 1) {
				delete_locked(t, link);
				gone = true;
				break;
			}
		}
	}
	shm_unlock(lock);
	return gone;
}

unsigned relay_expire(int64_t now_ms, unsigned timeout_s, uint32_t *cursor,
		      unsigned max_slots)
{
	struct relay_table *t = relay_table();
	int64_t timeout_ms = (int64_t)timeout_s * 1000;
	unsigned gone = 0;

	if (!t || t->nquads == 0)
		return 0;
	for (unsigned n = 0; n < max_slots && n < t->nquads; n++) {
		uint32_t q = *cursor < t->nquads ? *cursor : 0;
		struct relay_slot *s = &relay_slots(t)[q];

		*cursor = q + 1;
		if (__atomic_load_n(&s->route.state, __ATOMIC_RELAXED) == RELAY_S_LIVE &&
		    idle(s, now_ms, timeout_ms) &&
		    expire_one(t, q, __atomic_load_n(&s->hash, __ATOMIC_RELAXED), now_ms,
			       timeout_ms))
			gone++;
	}
	stat_add(STAT_RELAY_SESSIONS_TIMEOUT, gone);
	return gone;
}
