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
 * stream back (the classic re-INVITE one-way-audio bug). A latch on a
 * source that is not the party's own is provisional: the party itself
 * takes the leg over whenever its media shows, from its SDP address (not
 * behind a NAT) or from the host its signalling came from (behind a NAT:
 * the NAT's public address, any port), though never from the stale
 * address. So whoever sprays a relay port before the party speaks (the
 * port is known from the moment the offer leaves; the party may ring for
 * a minute) holds the leg only until the party's first packet; once the
 * party holds it, nobody else takes it. RTP and RTCP latch separately.
 *
 * Pure functions on a route copy, except relay_latch, which a relay worker
 * calls (rarely: once per leg and move) under the session's stripe lock.
 */
#include "relay_int.h"

/* src is the party of the leg itself: its SDP address (port + rtcp) or
 * its signalling host. */
static bool is_party(const struct relay_route_leg *leg, unsigned rtcp,
		     const struct relay_addr *src)
{
	struct relay_addr sdp = relay_addr_port(&leg->sdp, (int)rtcp);

	return (relay_addr_usable(&leg->sdp) && relay_addr_eq(&sdp, src)) ||
	       (leg->from.family && relay_addr_same_host(&leg->from, src));
}

enum relay_verdict relay_latch_verdict(const struct relay_route_leg *leg, unsigned rtcp,
				       const struct relay_addr *src, int64_t now_ms)
{
	const struct relay_addr *l = &leg->latched[rtcp];

	if (!l->family)
		return RELAY_V_LATCH;
	if (relay_addr_eq(l, src))
		return RELAY_V_FORWARD;
	if (relay_addr_eq(&leg->stale[rtcp], src))
		return RELAY_V_DROP;
	if (leg->relatch[rtcp] == RELAY_RELATCH_PARTY && is_party(leg, rtcp, src))
		return RELAY_V_LATCH;
	if (leg->relatch[rtcp] == RELAY_RELATCH_ANY && now_ms < leg->relatch_until_ms)
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

void relay_leg_from(struct relay_route_leg *leg, const struct relay_addr *from)
{
	if (from->family != AF_INET && from->family != AF_INET6)
		return;
	leg->from = *from;
	leg->from.port = 0;
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

/* A latch uses up a move's window; one on a source that is not the
 * party's own stays provisional (the party may take it over). */
static void latch_locked(struct relay_route_leg *l, unsigned rtcp,
			 const struct relay_addr *src)
{
	l->latched[rtcp] = *src;
	l->relatch[rtcp] = is_party(l, rtcp, src) ? RELAY_RELATCH_NONE : RELAY_RELATCH_PARTY;
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
		latch_locked(l, rtcp, src);
		relay_route_write_end(s, w);
		stat_add(STAT_RELAY_LATCHES, 1);
	}
	shm_unlock(lock);
	return v != RELAY_V_DROP;
}
