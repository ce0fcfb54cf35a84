/*
 * test_relay.c — the relay session table without sockets: create on an
 * offer, the answer finding the session, re-offers keeping the ports,
 * forked answers, several media, deletes by tags, port parity and quads,
 * slices taking turns, exhaustion and reuse order, timeouts on a given
 * clock, the walk, and the latching rule (first source, re-latch window,
 * stale sources, no-NAT moves, hold).
 */
#include "../../relay/relay_int.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

#define BASE 40000
#define NQUADS 10

static struct pinhole_conf conf;

static struct relay_addr v4(const char *ip, uint16_t port)
{
	struct relay_addr a = { .family = AF_INET, .port = port };

	inet_pton(AF_INET, ip, a.addr);
	return a;
}

static struct relay_req req(const char *call, const char *tag, const char *other,
			    unsigned media, struct relay_addr addr, uint32_t flags)
{
	return (struct relay_req){ .call_id = slice_cstr(call), .tag = slice_cstr(tag),
				   .other_tag = slice_cstr(other), .media = media,
				   .addr = addr, .flags = flags };
}

static int offer(const char *call, const char *tag, uint16_t port, struct relay_addr *local)
{
	struct relay_req r = req(call, tag, "", 0, v4("192.0.2.1", port), RELAY_F_CREATE);

	return relay_update(&r, local);
}

static int answer(const char *call, const char *tag, const char *other, uint16_t port,
		  struct relay_addr *local)
{
	struct relay_req r = req(call, tag, other, 0, v4("192.0.2.2", port), 0);

	return relay_update(&r, local);
}

static void test_create_and_answer(void)
{
	struct relay_addr l0, l1, again;

	IS_INT(offer("c1", "from1", 5000, &l1), 0, "an offer creates a session");
	IS_INT(relay_session_count(), 1, "one session");
	OK(l1.family == AF_INET && memcmp(l1.addr, "\x7f\0\0\1", 4) == 0,
	   "the local address is relay.address");
	OK(l1.port % 2 == 0 && l1.port >= BASE && l1.port < BASE + 4 * NQUADS,
	   "the port given to the callee is even and in range (%u)", l1.port);
	IS_INT(answer("c1", "to1", "from1", 6000, &l0), 0, "the answer finds the session");
	IS_INT(l0.port + 2, l1.port, "the caller's port is the quad's first, the callee's +2");
	IS_INT((l0.port - BASE) % 4, 0, "a session starts on a quad");
	IS_INT(offer("c1", "from1", 5000, &again), 0, "a re-offer updates");
	IS_INT(again.port, l1.port, "and keeps the ports");
	IS_INT(answer("c1", "to1", "from1", 6002, &again), 0, "a re-answer updates");
	IS_INT(again.port, l0.port, "and keeps the ports");
	IS_INT(relay_session_count(), 1, "still one session");
	IS_INT(relay_delete(SLICE_LIT("c1"), SLICE_LIT("from1"), SLICE_LIT("to1")), 1,
	       "delete by both tags");
	IS_INT(relay_session_count(), 0, "none left");
}

static void test_errors(void)
{
	struct relay_addr l;
	char long_tag[RELAY_MAX_TAG + 2];
	struct relay_req r = req("c2", "f", "", 0, v4("192.0.2.1", 1), 0);

	IS_INT(relay_update(&r, &l), -ENOENT, "no session and no CREATE: -ENOENT");
	r = req("", "f", "", 0, v4("192.0.2.1", 1), RELAY_F_CREATE);
	IS_INT(relay_update(&r, &l), -EINVAL, "empty Call-ID: -EINVAL");
	r = req("c2", "", "", 0, v4("192.0.2.1", 1), RELAY_F_CREATE);
	IS_INT(relay_update(&r, &l), -EINVAL, "empty tag: -EINVAL");
	memset(long_tag, 'x', sizeof(long_tag) - 1);
	long_tag[sizeof(long_tag) - 1] = '\0';
	r = req("c2", long_tag, "", 0, v4("192.0.2.1", 1), RELAY_F_CREATE);
	IS_INT(relay_update(&r, &l), -EINVAL, "a tag over %d bytes: -EINVAL", RELAY_MAX_TAG);
	r = req("c2", "f", "f", 0, v4("192.0.2.1", 1), RELAY_F_CREATE);
	IS_INT(relay_update(&r, &l), -EINVAL, "tag equal to other_tag: -EINVAL");
	r = req("c2", "f", "", 0, v4("192.0.2.1", 1), RELAY_F_CREATE);
	r.addr.family = 99;
	IS_INT(relay_update(&r, &l), -EINVAL, "unknown address family: -EINVAL");
	IS_INT(relay_delete(SLICE_LIT("nope"), SLICE_NULL, SLICE_NULL), -ENOENT,
	       "delete of an unknown call: -ENOENT");
	IS_INT(relay_session_count(), 0, "nothing created");
}

static void test_forked_answer(void)
{
	struct relay_addr l1, l0a, l0b, lf;

	offer("c3", "f", 5000, &l1);
	IS_INT(answer("c3", "toA", "f", 6000, &l0a), 0, "first branch answers");
	IS_INT(answer("c3", "toB", "f", 6100, &l0b), 0, "a second branch's answer is taken");
	IS_INT(l0b.port, l0a.port, "on the same session");
	IS_INT(offer("c3", "f", 5000, &lf), 0, "the caller's leg still matches");
	IS_INT(relay_delete(SLICE_LIT("c3"), SLICE_LIT("toA"), SLICE_NULL), -ENOENT,
	       "the replaced tag no longer matches");
	IS_INT(relay_delete(SLICE_LIT("c3"), SLICE_LIT("toB"), SLICE_LIT("f")), 1,
	       "the last answer's tag does (tags in either order)");
	offer("c3b", "f", 5000, &l1);
	answer("c3b", "toA", "f", 6000, &l0a);
	struct relay_req re = req("c3b", "f", "toB", 0, v4("192.0.2.1", 5000), RELAY_F_CREATE);
	IS_INT(relay_update(&re, &lf), 0, "a re-offer naming another branch's tag");
	IS_INT(lf.port, l1.port, "updates the same session (no second one)");
	IS_INT(relay_session_count(), 1, "one session");
	IS_INT(relay_delete(SLICE_LIT("c3b"), SLICE_LIT("f"), SLICE_LIT("toB")), 1,
	       "which now carries that tag");
}

static void test_media_and_deletes(void)
{
	struct relay_addr l;
	struct relay_req r = req("c4", "f", "", 1, v4("192.0.2.1", 5002), RELAY_F_CREATE);

	offer("c4", "f", 5000, &l);
	IS_INT(relay_update(&r, &l), 0, "a second m= line");
	IS_INT(relay_session_count(), 2, "is a session of its own");
	IS_INT(relay_delete(SLICE_LIT("c4"), SLICE_LIT("f"), SLICE_LIT("t")), 2,
	       "a final failure with a to-tag never seen deletes both (leg without tag)");
	offer("c5", "f", 5000, &l);
	answer("c5", "t", "f", 6000, &l);
	IS_INT(relay_delete(SLICE_LIT("c5"), SLICE_LIT("f"), SLICE_LIT("other")), -ENOENT,
	       "a different to-tag does not delete an answered session");
	IS_INT(relay_delete(SLICE_LIT("c5"), SLICE_NULL, SLICE_NULL), 1,
	       "an empty tag deletes every session of the call");
	IS_INT(relay_session_count(), 0, "none left");
}

static void test_slices_and_exhaustion(void)
{
	char call[32];
	struct relay_addr l;
	bool quad_used[NQUADS] = { 0 };
	uint64_t exhausted = stat_get(STAT_RELAY_PORTS_EXHAUSTED);
	unsigned distinct = 0, first_q = 0;

	for (int i = 0; i < NQUADS; i++) {
		snprintf(call, sizeof(call), "x%d", i);
		IS_INT(offer(call, "f", 5000, &l), 0, "session %d of %d", i + 1, NQUADS);
		unsigned q = (l.port - BASE) / 4;
		if (i == 0)
			first_q = q;
		distinct += !quad_used[q];
		quad_used[q] = true;
	}
	IS_INT(distinct, NQUADS, "every session on a quad of its own");
	IS_INT(offer("x-over", "f", 5000, &l), -ENOSPC, "no free port: -ENOSPC");
	IS_INT(stat_get(STAT_RELAY_PORTS_EXHAUSTED), exhausted + 1, "counted in relay.ports_exhausted");
	IS_INT(relay_session_count(), NQUADS, "the failure created nothing");
	relay_delete(SLICE_LIT("x0"), SLICE_NULL, SLICE_NULL);
	IS_INT(offer("x-again", "f", 5000, &l), 0, "a freed quad serves again");
	IS_INT((l.port - BASE) / 4, first_q, "the only free one");
	for (int i = 1; i < NQUADS; i++) {
		snprintf(call, sizeof(call), "x%d", i);
		relay_delete(slice_cstr(call), SLICE_NULL, SLICE_NULL);
	}
	relay_delete(SLICE_LIT("x-again"), SLICE_NULL, SLICE_NULL);
	IS_INT(relay_session_count(), 0, "all deleted");
}

/* With 10 quads in 10 slices, new sessions go to the slices with the most
 * free quads: two sessions in a row never share a slice's only quad, and a
 * freed quad waits behind the others (FIFO). */
static void test_spread_and_reuse_order(void)
{
	struct relay_addr a, b, c;

	offer("s1", "f", 5000, &a);
	offer("s2", "f", 5000, &b);
	OK(a.port / 4 != b.port / 4, "two sessions on two slices");
	relay_delete(SLICE_LIT("s1"), SLICE_NULL, SLICE_NULL);
	offer("s3", "f", 5000, &c);
	OK(c.port / 4 != a.port / 4 && c.port / 4 != b.port / 4,
	   "a just-freed port is not handed out again at once");
	relay_delete(SLICE_LIT("s2"), SLICE_NULL, SLICE_NULL);
	relay_delete(SLICE_LIT("s3"), SLICE_NULL, SLICE_NULL);
}

static void test_timeouts(void)
{
	struct relay_addr l;
	int64_t now = relay_now_ms();
	uint64_t before = stat_get(STAT_RELAY_SESSIONS_TIMEOUT);
	uint32_t cursor = 0;

	offer("t1", "f", 5000, &l);
	IS_INT(relay_expire(now + 59000, 60, &cursor, 1000), 0, "not idle for 60 s yet: kept");
	IS_INT(relay_expire(now + 61000, 60, &cursor, 1000), 1, "never used for 61 s: removed");
	IS_INT(relay_session_count(), 0, "gone");
	IS_INT(stat_get(STAT_RELAY_SESSIONS_TIMEOUT), before + 1, "counted in relay.sessions_timeout");
	offer("t2", "f", 5000, &l);
	struct relay_slot *s = &relay_slots(relay_table())[(l.port - BASE) / 4];
	__atomic_store_n(&s->last_packet_ms, now + 30000, __ATOMIC_RELAXED);
	IS_INT(relay_expire(now + 61000, 60, &cursor, 1000), 0, "a packet 31 s ago keeps it");
	IS_INT(relay_expire(now + 91000, 60, &cursor, 1000), 1, "61 s after the last packet: removed");
	offer("t3", "f", 5000, &l);
	cursor = 0;
	IS_INT(relay_expire(now + 61000, 60, &cursor, 1), 0 + ((l.port - BASE) / 4 == 0),
	       "a run looks at no more than its budget");
	IS_INT(cursor, 1, "and moves the cursor on");
	relay_expire(now + 61000, 60, &cursor, NQUADS);
	IS_INT(relay_session_count(), 0, "a whole pass removes it");
}

struct walk {
	unsigned n;
	char call[RELAY_MAX_CALL_ID + 1];
	struct relay_info last;
};

static int walk_fn(const struct relay_info *s, void *arg)
{
	struct walk *w = arg;

	w->n++;
	snprintf(w->call, sizeof(w->call), "%s", s->call_id);
	w->last = *s;
	return 0;
}

static void test_each(void)
{
	struct relay_addr l0, l1;
	struct walk w = { 0 };

	offer("e1", "from-e", 5000, &l1);
	answer("e1", "to-e", "from-e", 6000, &l0);
	offer("e2", "f", 5000, &l1);
	IS_INT(relay_each(SLICE_NULL, walk_fn, &w), 2, "the walk visits every session");
	memset(&w, 0, sizeof(w));
	IS_INT(relay_each(SLICE_LIT("e1"), walk_fn, &w), 1, "or those of one call");
	IS_INT(w.n, 1, "fn called once");
	OK(strcmp(w.call, "e1") == 0 && strcmp(w.last.leg[0].tag, "from-e") == 0 &&
	   strcmp(w.last.leg[1].tag, "to-e") == 0, "Call-ID and tags");
	IS_INT(w.last.leg[0].local.port, l0.port, "leg 0's port is where its party sends");
	IS_INT(w.last.leg[1].sdp.port, 6000, "the SDP address of leg 1");
	OK(w.last.leg[0].latched.family == 0, "nothing latched yet");
	OK(w.last.created_ms > 0 && w.last.last_packet_ms == 0, "created, no packet");
	relay_delete(SLICE_LIT("e1"), SLICE_NULL, SLICE_NULL);
	relay_delete(SLICE_LIT("e2"), SLICE_NULL, SLICE_NULL);
}

static void test_latch_rule(void)
{
	struct relay_route_leg leg = { 0 };
	struct relay_addr sdp = v4("10.0.0.5", 4000), nat = v4("203.0.113.7", 61000),
			  nat2 = v4("203.0.113.7", 61002), evil = v4("198.51.100.9", 9),
			  d;
	int64_t now = 1000000;

	relay_leg_signal(&leg, &sdp, 0, now);
	OK(relay_destination(&leg, 0, &d) && relay_addr_eq(&d, &sdp),
	   "before latching packets go to the SDP address");
	OK(relay_destination(&leg, 1, &d) && d.port == 4001, "RTCP to its port + 1");
	IS_INT(relay_latch_verdict(&leg, 0, &nat, now), RELAY_V_LATCH,
	       "the first packet latches, from anywhere (NAT)");
	leg.latched[0] = nat;
	IS_INT(relay_latch_verdict(&leg, 0, &nat, now), RELAY_V_FORWARD, "the latched source passes");
	IS_INT(relay_latch_verdict(&leg, 0, &evil, now), RELAY_V_DROP, "another source is dropped");
	IS_INT(relay_latch_verdict(&leg, 1, &evil, now), RELAY_V_LATCH, "RTCP latches on its own");
	OK(relay_destination(&leg, 1, &d) && relay_addr_eq(&d, &(struct relay_addr){
		.family = AF_INET, .port = 61001, .addr = { 203, 0, 113, 7 } }),
	   "until then RTCP goes to the RTP latch's port + 1");
	relay_leg_signal(&leg, &sdp, 0, now);
	IS_INT(relay_latch_verdict(&leg, 0, &evil, now), RELAY_V_DROP,
	       "an update without a move opens no window");
	struct relay_addr sdp2 = v4("10.0.0.5", 4010);
	relay_leg_signal(&leg, &sdp2, 0, now);
	OK(relay_addr_eq(&leg.latched[0], &nat), "behind NAT a move keeps the old latch meanwhile");
	IS_INT(relay_latch_verdict(&leg, 0, &nat, now + 10), RELAY_V_FORWARD,
	       "the old stream still passes until the new one shows");
	IS_INT(relay_latch_verdict(&leg, 0, &nat2, now + 10), RELAY_V_LATCH,
	       "a new source wins in the window");
	leg.latched[0] = nat2;
	leg.relatch[0] = 0;
	IS_INT(relay_latch_verdict(&leg, 0, &nat, now + 20), RELAY_V_DROP,
	       "stale packets from the old source cannot take it back");
	relay_leg_signal(&leg, &sdp, 0, now);
	IS_INT(relay_latch_verdict(&leg, 0, &nat2, now + 10), RELAY_V_FORWARD, "another move");
	IS_INT(relay_latch_verdict(&leg, 0, &evil, now + RELAY_RELATCH_MS + 1), RELAY_V_DROP,
	       "the window closes after %d ms", RELAY_RELATCH_MS);
}

static void test_no_nat_move_and_hold(void)
{
	struct relay_route_leg leg = { 0 };
	struct relay_addr a = v4("192.0.2.10", 4000), b = v4("192.0.2.10", 4100),
			  zero = v4("0.0.0.0", 4100), d;

	relay_leg_signal(&leg, &a, 0, 0);
	leg.latched[0] = a;
	leg.latched[1] = relay_addr_port(&a, 1);
	relay_leg_signal(&leg, &b, 0, 100);
	OK(relay_addr_eq(&leg.latched[0], &b), "latched on its SDP address (no NAT): follows the move");
	OK(leg.latched[1].port == 4101, "RTCP too");
	IS_INT(relay_latch_verdict(&leg, 0, &a, 200), RELAY_V_DROP, "the old address is stale at once");
	relay_leg_signal(&leg, &zero, RELAY_F_NO_RECV, 300);
	OK(relay_addr_eq(&leg.sdp, &b), "hold (c=0.0.0.0) keeps the address");
	IS_INT(leg.flags, RELAY_F_NO_RECV, "and sets the flag");
	OK(relay_destination(&leg, 0, &d) && relay_addr_eq(&d, &b), "the destination stays");
	relay_leg_signal(&leg, &b, 0, 400);
	IS_INT(leg.flags, 0, "resume clears it");
}

/* Through relay_latch on a real slot: a first latch elsewhere than the
 * SDP address is provisional: the SDP address takes over, at any time. */
static void test_sdp_wins_back(void)
{
	struct relay_addr l, evil = v4("198.51.100.9", 9), sdp = v4("192.0.2.1", 5000),
			  other = v4("198.51.100.10", 10);
	struct relay_table *t = relay_table();
	struct relay_route rt;
	int64_t now = relay_now_ms();
	uint64_t latches = stat_get(STAT_RELAY_LATCHES);

	offer("w1", "f", 5000, &l);
	uint32_t q = (l.port - BASE) / 4;
	struct relay_slot *s = &relay_slots(t)[q];
	relay_route_read(s, &rt);
	OK(relay_latch(t, q, rt.gen, 0, 0, &evil, now), "a sprayed packet latches first");
	OK(!relay_latch(t, q, rt.gen + 1, 0, 0, &sdp, now), "a stale generation latches nothing");
	relay_route_read(s, &rt);
	IS_INT(relay_latch_verdict(&rt.leg[0], 0, &other, now + 10), RELAY_V_DROP,
	       "a third source may not take over");
	IS_INT(relay_latch_verdict(&rt.leg[0], 0, &sdp, now + 10), RELAY_V_LATCH,
	       "the SDP address may");
	IS_INT(relay_latch_verdict(&rt.leg[0], 0, &sdp, now + 60000), RELAY_V_LATCH,
	       "a minute later too (the party may ring for long)");
	OK(relay_latch(t, q, rt.gen, 0, 0, &sdp, now + 10), "the SDP address takes over");
	relay_route_read(s, &rt);
	IS_INT(relay_latch_verdict(&rt.leg[0], 0, &evil, now + 20), RELAY_V_DROP,
	       "and the sprayer is dropped");
	IS_INT(stat_get(STAT_RELAY_LATCHES), latches + 2, "two latches counted");
	relay_delete(SLICE_LIT("w1"), SLICE_NULL, SLICE_NULL);
}

/* An offer of call from a NATed party: SDP 10.0.0.5:4000 (private),
 * signalling from 203.0.113.7:5060 (its NAT); its slot in *q, or NULL. */
static struct relay_slot *nated_offer(const char *call, uint32_t *q)
{
	struct relay_req r = req(call, "f", "", 0, v4("10.0.0.5", 4000), RELAY_F_CREATE);
	struct relay_addr l;

	r.from = v4("203.0.113.7", 5060);
	if (!OK(relay_update(&r, &l) == 0, "%s: offer with the signalling source", call))
		return NULL;
	*q = (l.port - BASE) / 4;
	return &relay_slots(relay_table())[*q];
}

/* A NATed party: its SDP address is private, its media comes from the
 * NAT's public address, which is also where its signalling came from. */
static void test_party_host_wins_back(void)
{
	struct relay_addr l, evil = v4("198.51.100.9", 9), nat = v4("203.0.113.7", 61000),
			  nat2 = v4("203.0.113.7", 61002), other = v4("203.0.113.8", 61000);
	struct relay_req r = req("w2", "f", "", 0, v4("10.0.0.5", 4000), 0);
	struct relay_table *t = relay_table();
	struct relay_route rt;
	int64_t now = relay_now_ms();
	uint32_t q;
	struct relay_slot *s = nated_offer("w2", &q);

	if (!s)
		return;
	relay_route_read(s, &rt);
	IS_INT(rt.leg[0].from.port, 0, "the signalling host is kept without its port");
	OK(relay_latch(t, q, rt.gen, 0, 0, &evil, now), "a sprayer latches first");
	relay_route_read(s, &rt);
	IS_INT(relay_latch_verdict(&rt.leg[0], 0, &other, now + 60000), RELAY_V_DROP,
	       "a neighbour host may not take over");
	IS_INT(relay_latch_verdict(&rt.leg[0], 0, &nat, now + 60000), RELAY_V_LATCH,
	       "the party's host may, any port, any time");
	OK(relay_latch(t, q, rt.gen, 0, 0, &nat, now + 60000), "it takes over");
	relay_route_read(s, &rt);
	IS_INT(relay_latch_verdict(&rt.leg[0], 0, &evil, now + 60001), RELAY_V_DROP,
	       "the sprayer is out");
	IS_INT(relay_latch_verdict(&rt.leg[0], 0, &nat2, now + 60001), RELAY_V_DROP,
	       "and once the party holds the leg, a second port of its host waits for a move");
	OK(relay_update(&r, &l) == 0, "an update without a source");
	relay_route_read(s, &rt);
	OK(rt.leg[0].from.family == AF_INET, "keeps the host known");
	relay_delete(SLICE_LIT("w2"), SLICE_NULL, SLICE_NULL);
}

/* A rejected re-offer: the legs it changed go back, latches included;
 * what the other leg learned meanwhile stays. An answered offer, or a
 * second revert, leaves nothing to revert. */
static void test_revert(void)
{
	struct relay_addr l, a_nat = v4("203.0.113.7", 61000), a_new = v4("203.0.113.7", 61008),
			  b_src = v4("192.0.2.2", 6000);
	struct relay_table *t = relay_table();
	struct relay_route rt;
	int64_t now = relay_now_ms();

	if (!OK(offer("rv", "fa", 5000, &l) == 0 && answer("rv", "tb", "fa", 6000, &l) == 0,
		"call up"))
		return;
	IS_INT(relay_revert(SLICE_LIT("rv"), SLICE_LIT("fa")), -ENOENT,
	       "an answered initial offer has nothing to revert");
	uint32_t q = (l.port - BASE) / 4;
	struct relay_slot *s = &relay_slots(t)[q];
	relay_route_read(s, &rt);
	OK(relay_latch(t, q, rt.gen, 0, 0, &a_nat, now), "a latched");
	struct relay_req re = req("rv", "fa", "tb", 0, v4("192.0.2.1", 5010),
				  RELAY_F_CREATE | RELAY_F_NO_RECV);
	OK(relay_update(&re, &l) == 0, "a re-offers: hold, new port");
	relay_route_read(s, &rt);
	OK(relay_latch(t, q, rt.gen, 0, 0, &a_new, now + 10), "a's new stream re-latches");
	OK(relay_latch(t, q, rt.gen, 1, 0, &b_src, now + 10), "b latches meanwhile");
	IS_INT(relay_revert(SLICE_LIT("rv"), SLICE_LIT("fa")), 1, "the offer is rejected: reverted");
	relay_route_read(s, &rt);
	OK(rt.leg[0].sdp.port == 5000 && rt.leg[0].flags == 0, "a's address and flags are back");
	OK(relay_addr_eq(&rt.leg[0].latched[0], &a_nat), "and its latch");
	IS_INT(relay_latch_verdict(&rt.leg[0], 0, &a_new, now + 20), RELAY_V_DROP,
	       "the refused stream's source is not accepted");
	OK(relay_addr_eq(&rt.leg[1].latched[0], &b_src), "b keeps what it latched");
	IS_INT(relay_revert(SLICE_LIT("rv"), SLICE_LIT("fa")), -ENOENT, "a second revert: nothing");
	OK(relay_update(&re, &l) == 0, "a re-offers again");
	struct relay_req ans = req("rv", "tb", "fa", 0, v4("192.0.2.2", 6000), 0);
	OK(relay_update(&ans, &l) == 0, "b answers");
	IS_INT(relay_revert(SLICE_LIT("rv"), SLICE_LIT("fa")), -ENOENT, "an answered offer stays");
	relay_route_read(s, &rt);
	OK(rt.leg[0].sdp.port == 5010 && rt.leg[0].flags == RELAY_F_NO_RECV, "in force");
	IS_INT(relay_revert(SLICE_NULL, SLICE_LIT("fa")), -EINVAL, "an empty Call-ID: -EINVAL");

	/* glare: both offer, both get 491 */
	struct relay_req ga = req("rv", "fa", "tb", 0, v4("192.0.2.1", 5020), RELAY_F_CREATE);
	struct relay_req gb = req("rv", "tb", "fa", 0, v4("192.0.2.2", 6020), RELAY_F_CREATE);
	OK(relay_update(&ga, &l) == 0 && relay_update(&gb, &l) == 0, "glare: a and b offer");
	IS_INT(relay_revert(SLICE_LIT("rv"), SLICE_LIT("fa")), 1, "a's offer undone");
	IS_INT(relay_revert(SLICE_LIT("rv"), SLICE_LIT("tb")), 1, "b's offer undone");
	relay_route_read(s, &rt);
	OK(rt.leg[0].sdp.port == 5010 && rt.leg[1].sdp.port == 6000,
	   "both legs as before the glare (%u, %u)", rt.leg[0].sdp.port, rt.leg[1].sdp.port);
	relay_delete(SLICE_LIT("rv"), SLICE_NULL, SLICE_NULL);
}

/* A first latch on the party's own host needs no second chance. */
static void test_party_first(void)
{
	struct relay_addr evil = v4("198.51.100.9", 9), nat = v4("203.0.113.7", 61000);
	struct relay_table *t = relay_table();
	struct relay_route rt;
	int64_t now = relay_now_ms();
	uint32_t q;
	struct relay_slot *s = nated_offer("w3", &q);

	if (!s)
		return;
	relay_route_read(s, &rt);
	OK(relay_latch(t, q, rt.gen, 0, 0, &nat, now), "the party latches first");
	relay_route_read(s, &rt);
	IS_INT(relay_latch_verdict(&rt.leg[0], 0, &evil, now + 1), RELAY_V_DROP,
	       "nobody takes it over");
	relay_delete(SLICE_LIT("w3"), SLICE_NULL, SLICE_NULL);
}

static void test_addresses(void)
{
	struct relay_addr a = v4("192.0.2.7", 4000), six = { .family = AF_INET6, .port = 5 },
			  back, zero6 = { .family = AF_INET6, .port = 5 };
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];

	six.addr[15] = 1;
	OK(relay_addr_usable(&a) && relay_addr_usable(&six), "IPv4 and IPv6 addresses are usable");
	OK(!relay_addr_usable(&(struct relay_addr){ .family = AF_INET, .port = 4000 }),
	   "0.0.0.0 is not (hold)");
	OK(!relay_addr_usable(&zero6), ":: is not");
	OK(!relay_addr_usable(&(struct relay_addr){ .family = AF_INET, .addr = { 1 } }),
	   "port 0 is not");
	IS_INT(relay_addr_to_sa(&a, AF_INET6, &ss, &len), 0, "IPv4 to an IPv6 socket");
	IS_INT(len, sizeof(struct sockaddr_in6), "as a v4-mapped address");
	relay_addr_from_sa((struct sockaddr *)&ss, &back);
	OK(relay_addr_eq(&a, &back), "and a v4-mapped source reads back as IPv4");
	IS_INT(relay_addr_to_sa(&six, AF_INET, &ss, &len), -EAFNOSUPPORT,
	       "IPv6 cannot leave an IPv4 socket");
	relay_addr_format(&six, text, sizeof(text));
	OK(strcmp(text, "[::1]:5") == 0, "IPv6 printed in brackets (%s)", text);
	relay_addr_format(&a, text, sizeof(text));
	OK(strcmp(text, "192.0.2.7:4000") == 0, "IPv4 printed (%s)", text);
}

int main(void)
{
	conf_defaults(&conf);
	snprintf(conf.relay.address, sizeof(conf.relay.address), "127.0.0.1");
	conf.relay.port_min = BASE;
	conf.relay.port_max = BASE + 4 * NQUADS + 1;   /* a pair beyond the last quad */
	if (shm_create(16u << 20) < 0 || relay_init(&conf) < 0) {
		OK(false, "shm and relay table");
		return tap_done();
	}
	IS_INT(relay_init(&conf), -EEXIST, "relay_init twice: -EEXIST");
	IS_INT(relay_table()->nquads, NQUADS, "%d quads; the odd pair at the end is unused", NQUADS);
	test_create_and_answer();
	test_errors();
	test_forked_answer();
	test_media_and_deletes();
	test_slices_and_exhaustion();
	test_spread_and_reuse_order();
	test_timeouts();
	test_each();
	test_latch_rule();
	test_no_nat_move_and_hold();
	test_sdp_wins_back();
	test_party_host_wins_back();
	test_party_first();
	test_revert();
	test_addresses();
	shm_detach();
	return tap_done();
}
