/*
 * relay.h — the media relay: sessions in shared memory, the relay worker
 * pool that forwards RTP/RTCP, and the rtpproxy control protocol.
 *
 * A session is one media stream (one m= line) of one call, with two legs,
 * each named by a SIP tag. Each leg has a local RTP port (even) and RTCP
 * port (RTP+1) from one relay worker's slice of relay.ports: packets the
 * leg's party sends arrive there and are forwarded to the other party from
 * the other leg's local port (symmetric, so each party's NAT sees replies
 * from the address it sends to). Any process attached to shm creates and
 * updates sessions by writing shm: the SIP workers while proxying, the
 * relay workers when serving relay.control. Every call here is process-safe
 * (per-bucket futex locks, bounded work under each).
 */
#ifndef PINHOLE_RELAY_H
#define PINHOLE_RELAY_H

#include "../base/base.h"
#include "../conf/conf.h"

#include <signal.h>

/* An IPv4/IPv6 address and port; family 0 = unknown / none. */
struct relay_addr {
	uint8_t family;            /* AF_INET, AF_INET6 or 0 */
	uint8_t pad;
	uint16_t port;             /* host order */
	uint8_t addr[16];
};

struct sockaddr;
/* The relay_addr of a socket address; v4-mapped IPv6 reads as IPv4 (so
 * equal hosts are equal bytes); family 0 for other families. */
void relay_addr_from_sa(const struct sockaddr *sa, struct relay_addr *out);
/* "1.2.3.4:5" or "[::1]:5"; the bare address when the port is 0 (a
 * host); "" for family 0. */
void relay_addr_format(const struct relay_addr *a, char *buf, size_t cap);

enum relay_flags {
	RELAY_F_CREATE = 1,        /* create the session when absent (an offer) */
	RELAY_F_NO_RECV = 2,       /* the party does not want media now:
	                              c=0.0.0.0, a=sendonly or a=inactive */
	RELAY_F_NO_SEND = 4,       /* the party will not send: a=recvonly or
	                              a=inactive (its packets are dropped) */
};

/* One offer or answer of one party for one media stream. */
struct relay_req {
	slice call_id;
	slice tag;                 /* tag of the party whose address is given */
	slice other_tag;           /* the other party's tag; may be empty in an
	                              initial offer (filled in by the answer) */
	unsigned media;            /* index of the m= line, 0-based */
	struct relay_addr addr;    /* where that party says it receives RTP
	                              (SDP c=/m=); the first guess before latching */
	struct relay_addr from;    /* where the party's signalling came from (the
	                              port is ignored): its media from that host
	                              takes back a leg latched first elsewhere;
	                              family 0: not known (rtpproxy protocol) */
	uint32_t flags;            /* enum relay_flags */
};

/* Records r->addr for r->tag's leg and returns in *local the relay address
 * and RTP port of the other party's leg: the port the other party must send
 * to, carried to it in r's SDP once rewritten; what arrives there goes to
 * r->tag's party. A signalling update of a latched leg opens
 * the bounded re-latch window. Errors: -ENOENT (no session and no
 * RELAY_F_CREATE), -ENOSPC (no free ports: the caller answers 503 / E-code),
 * -ENOMEM (shm), -EINVAL (bad request), -ENODEV (no relay: workers.relay
 * was 0 at start).
 * A usable r->from is kept as the leg's signalling host.
 * The session is the call's (call_id, media) one with a leg tagged r->tag
 * (the other leg's tag equal to other_tag, or not known yet); else, for an
 * answer, the one whose other leg carries other_tag: r's leg takes r->tag
 * (the last answer of a forked call wins). A new session's leg 0 is
 * r->tag's. An address that is unusable (family 0, port 0, 0.0.0.0 or ::,
 * i.e. hold) keeps the leg's previous one; flags replace the leg's.
 * RELAY_F_NO_RECV / NO_SEND act on RTP only: RTCP keeps flowing on hold
 * (RFC 3264 §5.1). */
int relay_update(const struct relay_req *r, struct relay_addr *local);

/* An offer of tag's party that was rejected (a re-INVITE or UPDATE
 * answered 488, 491, 487...): in the sessions of call_id, the leg tagged
 * tag goes back to how it was before that offer, if it has not been
 * answered since (RFC 3264 §8: the old session stays in force); if the
 * offer changed the leg's address or flags it gets them back with its
 * latches. A hold offered and refused no longer silences the held side;
 * in a glare each party's offer is undone on its own leg. Returns the
 * number of legs reverted, -ENOENT when none had an offer pending
 * (-EINVAL for a bad Call-ID or an empty tag, -ENODEV without a relay). */
int relay_revert(slice call_id, slice tag);

/* Deletes the sessions of call_id (all its media) whose legs carry tag (and
 * other_tag when not empty, or whose other leg has no tag yet: a final
 * failure before any answer); tags in either order; an empty tag deletes
 * every session of the call. Returns the number deleted, or -ENOENT when
 * none matched (-EINVAL for a bad Call-ID, -ENODEV without a relay). */
int relay_delete(slice call_id, slice tag, slice other_tag);

#define RELAY_MAX_CALL_ID 255  /* longer Call-IDs: -EINVAL */
#define RELAY_MAX_TAG 127      /* longer tags: -EINVAL */
#define RELAY_MAX_SLICES 64
#define RELAY_RELATCH_MS 2000  /* re-latch window after a signalled move */

/* Counters of one session, for `relay list` and the rtpproxy Q command.
 * packets/bytes: received from the leg's party and forwarded; dropped:
 * received and not forwarded (unknown source, truncated, hold, no
 * destination yet, send failure). */
struct relay_leg_info {
	char tag[RELAY_MAX_TAG + 1];
	struct relay_addr local;   /* relay address and RTP port of the leg */
	struct relay_addr sdp;     /* address from signalling */
	struct relay_addr latched; /* real source of RTP, family 0 = not yet */
	struct relay_addr latched_rtcp;
	struct relay_addr host;    /* the party's signalling host (port 0),
	                              family 0 = not known */
	bool provisional;          /* RTP latched on a source that is neither
	                              the SDP address nor the host: the
	                              party's own media will take it over */
	uint64_t packets, bytes;   /* received on this leg (from its party) */
	uint64_t dropped;
};
struct relay_info {
	char call_id[RELAY_MAX_CALL_ID + 1];
	unsigned media;
	int64_t created_ms, last_packet_ms;   /* CLOCK_REALTIME ms; 0 = none */
	struct relay_leg_info leg[2];
};

/* Calls fn for each session (each under its bucket lock, so fn must be
 * short and must not call into relay); stops when fn returns non-zero.
 * call_id empty = all. Returns the number of sessions visited. */
unsigned relay_each(slice call_id,
		    int (*fn)(const struct relay_info *s, void *arg), void *arg);

/* Gauge: sessions alive. */
uint64_t relay_session_count(void);

/* Master, before fork: the session table in shm, sized for relay.ports
 * (copied into the table: the relay never reads relay.ports or
 * relay.address from a reloaded config). 0, -ENODEV without a segment,
 * -EEXIST when done already, -EINVAL for a bad relay.address, -ENOMEM. */
int relay_init(const struct pinhole_conf *conf);
/* Master, before fork, after relay_init: binds every port of the table
 * on relay.address (raising RLIMIT_NOFILE as needed) and the control
 * socket (relay_control_open); children inherit the sockets and relay
 * workers serve them. On failure err says which port and call, nothing
 * stays open. relay_ports_close closes them all (master at exit). */
int relay_ports_open(const struct pinhole_conf *conf, char *err, size_t errlen);
void relay_ports_close(void);
/* The timer, once a second: removes sessions without a packet (or, never
 * used, without an update) for timeout_s seconds, looking at no more than
 * max_slots sessions from *cursor (which it advances). now_ms is
 * CLOCK_REALTIME. Counts relay.sessions_timeout; returns how many went. */
unsigned relay_expire(int64_t now_ms, unsigned timeout_s, uint32_t *cursor,
		      unsigned max_slots);

/* The rtpproxy control socket (relay.control, "udp:IP:PORT"; "" = none).
 * Master, before fork and after shm_create: binds it (non-blocking) into
 * *fd (-1 when disabled) and makes the reply cache in shm; 0, or a
 * negative errno with the reason in err. */
int relay_control_open(const struct pinhole_conf *conf, int *fd, char *err, size_t errlen);
/* A relay worker whose poll found fd readable: reads up to a bounded batch
 * of commands, executes each and answers it to its source. */
void relay_control_input(int fd, const struct pinhole_conf *conf);

/* Runs relay worker `index` until *stop; returns the exit status. */
int relay_worker_run(const struct pinhole_conf *conf, unsigned index,
		     volatile sig_atomic_t *stop);

#endif
