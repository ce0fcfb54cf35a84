/*
 * fwd.c — the per-packet forwarding decision of a relay worker, shared by
 * its io_uring loop (worker_uring.c) and its epoll loop (worker.c).
 *
 * No allocation and no lock per packet: the session's route is a copy
 * read under its seqlock; only latching takes the session's stripe lock,
 * once per leg and move. Counters are relaxed atomics.
 */
#include "fwd_int.h"

#define RELAY_RTP_MIN 12        /* RTP fixed header */
#define RELAY_RTCP_MIN 8        /* RTCP header + SSRC */

static void fwd_route(struct relay_fwd *b)
{
	const struct relay_route_leg *to = &b->rt.leg[1 - b->leg];
	struct relay_addr d;

	b->can_send = relay_destination(to, b->rtcp, &d) &&
		      relay_addr_to_sa(&d, relay_port_family(), &b->dst, &b->dstlen) == 0 &&
		      !(!b->rtcp && (to->flags & RELAY_F_NO_RECV));
	b->discard = !b->rtcp && (b->rt.leg[b->leg].flags & RELAY_F_NO_SEND);
}

bool relay_fwd_begin(struct relay_fwd_round *r, uint32_t i, struct relay_fwd *b)
{
	b->q = i / 4;
	b->leg = (i >> 1) & 1;
	b->rtcp = i & 1;
	b->s = &relay_slots(r->t)[b->q];
	if (!relay_route_read(b->s, &b->rt) || b->rt.state != RELAY_S_LIVE)
		return false;
	fwd_route(b);
	return true;
}

bool relay_fwd_size_ok(size_t len, bool truncated, unsigned rtcp)
{
	return !truncated && len >= (rtcp ? RELAY_RTCP_MIN : RELAY_RTP_MIN);
}

bool relay_fwd_accept(struct relay_fwd_round *r, struct relay_fwd *b,
		      const struct sockaddr_storage *src, bool *from_party)
{
	struct relay_addr a;
	enum relay_verdict v;

	relay_addr_from_sa((const struct sockaddr *)src, &a);
	v = relay_latch_verdict(&b->rt.leg[b->leg], b->rtcp, &a, r->now);
	if (v == RELAY_V_LATCH) {
		uint32_t gen = b->rt.gen;

		if (!relay_latch(r->t, b->q, gen, b->leg, b->rtcp, &a, r->now) ||
		    !relay_route_read(b->s, &b->rt) || b->rt.gen != gen ||
		    b->rt.state != RELAY_S_LIVE)
			return false;
		fwd_route(b);
		v = RELAY_V_FORWARD;
	}
	if (v != RELAY_V_FORWARD)
		return false;
	*from_party = true;
	return b->can_send && !b->discard;
}

int relay_fwd_out_fd(const struct relay_fwd *b)
{
	return relay_port_fd(b->q * 4 + 2 * (1 - b->leg) + b->rtcp);
}

void relay_fwd_count(struct relay_fwd_round *r, uint32_t q, unsigned leg, uint64_t sent,
		     uint64_t bytes, uint64_t dropped)
{
	struct relay_slot *s = &relay_slots(r->t)[q];

	if (sent) {
		__atomic_fetch_add(&s->st[leg].packets, sent, __ATOMIC_RELAXED);
		__atomic_fetch_add(&s->st[leg].bytes, bytes, __ATOMIC_RELAXED);
	}
	if (dropped)
		__atomic_fetch_add(&s->st[leg].dropped, dropped, __ATOMIC_RELAXED);
	r->packets += sent;
	r->bytes += bytes;
	r->dropped += dropped;
}

void relay_fwd_heard(struct relay_fwd_round *r, uint32_t q)
{
	__atomic_store_n(&relay_slots(r->t)[q].last_packet_ms, r->now, __ATOMIC_RELAXED);
}

void relay_fwd_flush(struct relay_fwd_round *r)
{
	if (r->packets)
		stat_add(STAT_RELAY_PACKETS, r->packets);
	if (r->bytes)
		stat_add(STAT_RELAY_BYTES, r->bytes);
	if (r->dropped)
		stat_add(STAT_RELAY_DROPPED, r->dropped);
	r->packets = r->bytes = r->dropped = 0;
}

bool relay_fwd_mine(const struct relay_table *t, uint32_t i, unsigned index,
		    unsigned nworkers)
{
	return relay_slots(t)[i / 4].slice % nworkers == index && relay_port_fd(i) >= 0;
}
