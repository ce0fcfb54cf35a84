/*
 * latch.c — symmetric-RTP latching and the re-latch window.
 *
 * The rule (see relay_latch_verdict): the SDP address is only the first
 * guess of where a party is. The first packet on an unlatched leg latches
 * its source, from anywhere, because behind a NAT the real source (the
 * NAT's public address and port) is never in the SDP; a latched leg then
 * accepts only that source. When signalling moves a latched leg (a new
 * SDP address: re-INVITE), a window of RELAY_RELATCH_MS opens in which one
 * new source may take over, but never the address latched before the move:
 * stale packets still in flight from the old address cannot take the
 * stream back (the classic re-INVITE one-way-audio bug). A first latch on
 * a source other than the SDP address opens a window too, in which only
 * the SDP address itself may take over: a party that is not behind a NAT
 * wins back its leg from anyone who sprayed the port before it spoke.
 * RTP and RTCP latch separately.
 *
 * Pure functions on a route copy, except relay_latch, which a relay worker
 * calls (rarely: once per leg and move) under the session's stripe lock.
 */
#include "relay_int.h"

enum relay_verdict relay_latch_verdict(const struct relay_route_leg *leg, unsigned rtcp,
				       const struct relay_addr *src, int64_t now_ms)
{
	const struct relay_addr *l = &leg->latched[rtcp];
	struct relay_addr sdp = relay_addr_port(&leg->sdp, (int)rtcp);

	if (!l->family)
		return RELAY_V_LATCH;
	if (relay_addr_eq(l, src))
		return RELAY_V_FORWARD;
	if (now_ms >= leg->relatch_until_ms)
		return RELAY_V_DROP;
	if (leg->relatch[rtcp] == RELAY_RELATCH_ANY && !relay_addr_eq(&leg->stale[rtcp], src))
		return RELAY_V_LATCH;
	if (leg->relatch[rtcp] == RELAY_RELATCH_SDP && relay_addr_eq(&sdp, src))
		return RELAY_V_LATCH;
	return RELAY_V_DROP;
}

bool relay_destination(const struct relay_route_leg *leg, unsigned rtcp,
		       struct relay_addr *out)
{
	if (leg->latched[rtcp].family)
		*out = leg->latched[rtcp];
	else if (rtcp && leg->latched[0].family)
		*out = relay_addr_port(&leg->latched[0], 1);
	else if (relay_addr_usable(&leg->sdp))
		*out = relay_addr_port(&leg->sdp, (int)rtcp);
	else
		return false;
	return true;
}

/* A latched leg moved from old to a new SDP address: the latched sources
 * become stale and the window opens. A leg whose latch equals its old SDP
 * address has no NAT in the way, so its destination follows the SDP at
 * once; behind a NAT the old mapping stays the destination until the
 * party's new stream arrives. */
static void open_window(struct relay_route_leg *leg, const struct relay_addr *old,
			int64_t now_ms)
{
	bool opened = false;

	for (unsigned k = 0; k < 2; k++) {
		struct relay_addr was = relay_addr_port(old, (int)k);

		if (!leg->latched[k].family)
			continue;
		leg->stale[k] = leg->latched[k];
		leg->relatch[k] = RELAY_RELATCH_ANY;
		opened = true;
		if (relay_addr_usable(old) && relay_addr_eq(&leg->latched[k], &was))
			leg->latched[k] = relay_addr_port(&leg->sdp, (int)k);
	}
	if (opened)
		leg->relatch_until_ms = now_ms + RELAY_RELATCH_MS;
}

void relay_leg_signal(struct relay_route_leg *leg, const struct relay_addr *addr,
		      uint32_t flags, int64_t now_ms)
{
	struct relay_addr old = leg->sdp;

	leg->flags = flags & (RELAY_F_NO_RECV | RELAY_F_NO_SEND);
	if (!relay_addr_usable(addr) || relay_addr_eq(&old, addr))
		return;
	leg->sdp = *addr;
	open_window(leg, &old, now_ms);
}

/* A first latch elsewhere than the SDP address leaves that address one
 * chance to take over; any other latch uses up the window's chance. */
static void latch_locked(struct relay_route_leg *l, unsigned rtcp,
			 const struct relay_addr *src, int64_t now_ms)
{
	struct relay_addr sdp = relay_addr_port(&l->sdp, (int)rtcp);
	bool first = !l->latched[rtcp].family;

	l->latched[rtcp] = *src;
	l->relatch[rtcp] = RELAY_RELATCH_NONE;
	if (first && relay_addr_usable(&l->sdp) && !relay_addr_eq(&sdp, src)) {
		l->relatch[rtcp] = RELAY_RELATCH_SDP;
		if (l->relatch_until_ms < now_ms + RELAY_RELATCH_MS)
			l->relatch_until_ms = now_ms + RELAY_RELATCH_MS;
	}
}

bool relay_latch(struct relay_table *t, uint32_t q, uint32_t gen, unsigned leg,
		 unsigned rtcp, const struct relay_addr *src, int64_t now_ms)
{
	struct relay_slot *s = &relay_slots(t)[q];
	uint32_t hash = __atomic_load_n(&s->hash, __ATOMIC_RELAXED);
	struct shm_lock *lock = relay_stripe(t, hash);
	struct relay_route_leg *l = &s->route.leg[leg];
	enum relay_verdict v = RELAY_V_DROP;
	uint32_t w;

	shm_lock(lock);
	if (s->route.state == RELAY_S_LIVE && s->route.gen == gen && s->hash == hash)
		v = relay_latch_verdict(l, rtcp, src, now_ms);
	if (v == RELAY_V_LATCH) {
		w = relay_route_write_begin(s);
		latch_locked(l, rtcp, src, now_ms);
		relay_route_write_end(s, w);
		stat_add(STAT_RELAY_LATCHES, 1);
	}
	shm_unlock(lock);
	return v != RELAY_V_DROP;
}
