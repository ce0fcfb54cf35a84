/*
 * relay_int.h — the relay's shared layout and helpers, for relay/ only.
 *
 * Table header -> slot array (one slot per port quad, so a port's session
 * is slots[(port - base) / 4]) -> Call-ID hash buckets chaining slots.
 * Identity fields and chains change under the stripe lock of the Call-ID's
 * hash; the route (addresses, latches, flags) changes under that lock too,
 * inside a per-slot seqlock, so the forwarding path copies it without a
 * lock. Counters are relaxed atomics. Free quads wait in a FIFO per slice
 * (slice lock, taken inside a stripe lock, never the other way round).
 */
#ifndef PINHOLE_RELAY_INT_H
#define PINHOLE_RELAY_INT_H

#include "relay.h"
#include "../shm/shm.h"

#include <sys/socket.h>

#define RELAY_TABLE_MAGIC 0x524c5931u  /* "RLY1" */
#define RELAY_STRIPES 1024u

enum { RELAY_S_FREE = 0, RELAY_S_LIVE = 1 };

/* Who may still take a latched source over (relay_route_leg.relatch). */
enum { RELAY_RELATCH_NONE = 0,
       RELAY_RELATCH_ANY = 1,   /* one new source, not the stale one, until
                                   relatch_until_ms (a signalled move) */
       RELAY_RELATCH_PARTY = 2 }; /* the party itself, at any time: its SDP
                                   address or its signalling host (the
                                   latch came from neither) */

/* What the forwarding path needs of one leg. latched/stale/relatch are
 * indexed by 0 = RTP, 1 = RTCP. */
struct relay_route_leg {
	struct relay_addr sdp;          /* from signalling; family 0 = none */
	struct relay_addr latched[2];   /* real source, family 0 = not yet */
	struct relay_addr stale[2];     /* latched before the last move: may
	                                   not win the re-latch window */
	struct relay_addr from;         /* the party's signalling host (port
	                                   0); family 0 = not known */
	int64_t relatch_until_ms;       /* CLOCK_REALTIME end of the window */
	uint32_t flags;                 /* RELAY_F_NO_RECV | RELAY_F_NO_SEND */
	uint8_t relatch[2];             /* RELAY_RELATCH_*: what may still
	                                   re-latch in the window */
	uint8_t pad[2];
};
_Static_assert(sizeof(struct relay_route_leg) == 136, "relay_route_leg layout");

struct relay_route {
	uint32_t state;                 /* RELAY_S_* */
	uint32_t gen;                   /* bumped at every allocation */
	struct relay_route_leg leg[2];
};
_Static_assert(sizeof(struct relay_route) == 280, "relay_route layout");

struct relay_leg_stats {
	uint64_t packets, bytes, dropped;   /* relaxed atomics */
};

struct relay_slot {
	uint32_t seq;                   /* seqlock over route: odd = writing */
	uint32_t hnext;                 /* next slot of the bucket + 1, 0 = end */
	struct relay_route route;
	struct relay_leg_stats st[2];
	int64_t last_packet_ms;         /* atomic; 0 = none */
	int64_t created_ms, updated_ms; /* updated_ms atomic */
	uint32_t hash;                  /* of the Call-ID */
	uint32_t free_next;             /* next free quad of the slice + 1 */
	uint32_t media;
	uint16_t slice;
	uint16_t call_id_len;
	uint8_t tag_len[2];
	uint8_t undo_armed;             /* bit l: undo[l] holds leg l before an
	                                   offer of its party not answered yet */
	uint8_t pad[5];
	char call_id[RELAY_MAX_CALL_ID + 1];
	char tag[2][RELAY_MAX_TAG + 1];
	struct relay_route_leg undo[2]; /* writers only (stripe lock) */
};
_Static_assert(sizeof(struct relay_slot) == 1168, "relay_slot layout");

struct relay_slice {
	struct shm_lock lock;
	uint32_t head, tail;            /* free FIFO, slot index + 1 */
	uint32_t nfree;                 /* atomic reads without the lock */
	uint32_t first, count;          /* quads [first, first + count) */
	uint32_t pad;
};
_Static_assert(sizeof(struct relay_slice) == 32, "relay_slice layout");

struct relay_table {
	uint32_t magic;
	uint32_t port_base;             /* first port of quad 0 (even) */
	uint32_t nquads, nslices;
	uint32_t nbuckets, nstripes;    /* powers of two */
	uint32_t rr;                    /* tie-breaker between slices (atomic) */
	uint32_t pad;
	uint64_t sessions;              /* atomic */
	struct relay_addr local;        /* relay.address */
	uint32_t pad2;
	shm_off slots, buckets, locks;
	struct relay_slice slices[RELAY_MAX_SLICES];
};

static inline struct relay_table *relay_table(void)
{
	return shm ? shm_ptr(shm->tables[SHM_T_RELAY]) : NULL;
}

static inline struct relay_slot *relay_slots(const struct relay_table *t)
{
	return shm_ptr(t->slots);
}

static inline struct shm_lock *relay_stripe(const struct relay_table *t, uint32_t hash)
{
	struct shm_lock *l = shm_ptr(t->locks);

	return &l[hash & (t->nstripes - 1)];
}

/* ---- addr.c --------------------------------------------------------- */

bool relay_addr_eq(const struct relay_addr *a, const struct relay_addr *b);
/* Family known, port and address not zero (c=0.0.0.0 means hold). */
bool relay_addr_usable(const struct relay_addr *a);
/* Same family and address bytes, whatever the ports. */
bool relay_addr_same_host(const struct relay_addr *a, const struct relay_addr *b);
/* A copy with the port moved by delta (RTCP = RTP + 1). */
struct relay_addr relay_addr_port(const struct relay_addr *a, int delta);
/* relay_addr -> socket address (relay_addr_from_sa in relay.h is the way
 * back). For an AF_INET6 socket an IPv4 destination is written v4-mapped.
 * -EAFNOSUPPORT
 * when the family cannot be reached from a socket of sock_family. */
int relay_addr_to_sa(const struct relay_addr *a, int sock_family,
		     struct sockaddr_storage *sa, socklen_t *len);

/* ---- table.c, latch.c ----------------------------------------------- */

/* A free quad from the slice with the most free quads (-ENOSPC, counted
 * in relay.ports_exhausted, when none is left); back to its slice's FIFO
 * tail. Callers hold a stripe lock (order: stripe, then slice). */
int relay_quad_alloc(struct relay_table *t, uint32_t *q);
void relay_quad_free(struct relay_table *t, uint32_t q);
/* Master, before fork, with no session yet: rebuilds the free FIFOs
 * with only the quads usable(q) accepts; returns how many. */
uint32_t relay_quads_keep(bool (*usable)(uint32_t q));

/* Copies the route of s without a lock; false if writers kept it busy. */
bool relay_route_read(const struct relay_slot *s, struct relay_route *out);
uint32_t relay_route_write_begin(struct relay_slot *s);
void relay_route_write_end(struct relay_slot *s, uint32_t w);

enum relay_verdict { RELAY_V_FORWARD, RELAY_V_LATCH, RELAY_V_DROP };
/* The latching rule for a packet from src arriving on a leg (rtcp 0/1):
 * an unlatched leg latches the first source; a latched one accepts only
 * its latched source, except while a re-latch window is open: after a
 * move one new source that is not the stale (pre-move) one may take over;
 * after a first latch elsewhere than the SDP address, that address may.
 * Hold flags are the caller's business (a held party's packets still
 * latch). */
enum relay_verdict relay_latch_verdict(const struct relay_route_leg *leg, unsigned rtcp,
				       const struct relay_addr *src, int64_t now_ms);
/* Where packets toward a leg's party go: the latched source, else (RTCP)
 * the RTP latch's port + 1, else the SDP address. false: nowhere yet. */
bool relay_destination(const struct relay_route_leg *leg, unsigned rtcp,
		       struct relay_addr *out);
/* A signalled address and flags for a leg (relay_update), under the
 * stripe lock and seqlock: a move of a latched leg opens the window. */
void relay_leg_signal(struct relay_route_leg *leg, const struct relay_addr *addr,
		      uint32_t flags, int64_t now_ms);
/* The party's signalling host for a leg (relay_update), same locks; an
 * unusable address keeps the one known. */
void relay_leg_from(struct relay_route_leg *leg, const struct relay_addr *from);
/* The relay worker latches src for slot q's leg: under the stripe lock,
 * if the slot still holds generation gen and the rule still says so.
 * true when latched. */
bool relay_latch(struct relay_table *t, uint32_t q, uint32_t gen, unsigned leg,
		 unsigned rtcp, const struct relay_addr *src, int64_t now_ms);

int64_t relay_now_ms(void);

/* ---- ports.c -------------------------------------------------------- */

/* The socket of port base + i (i < 4 * nquads), -1 if not bound. */
int relay_port_fd(uint32_t i);
/* The family relay ports were bound with (AF_INET or AF_INET6). */
int relay_port_family(void);
/* The rtpproxy control socket, -1 when relay.control is "". */
int relay_control_fd(void);

#endif
