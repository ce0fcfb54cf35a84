/*
 * fwd_int.h — the forwarding decision and counting shared by the relay
 * worker's two loops: io_uring (worker_uring.c, preferred) and epoll with
 * recvmmsg/sendmmsg (worker.c, the fallback). For relay/ only.
 *
 * Both run in one relay worker process and touch shm only through the
 * lock-free route copy (seqlock), relay_latch (stripe lock, once per leg
 * and move) and relaxed atomic counters.
 */
#ifndef PINHOLE_RELAY_FWD_INT_H
#define PINHOLE_RELAY_FWD_INT_H

#include "relay_int.h"

#include <signal.h>

#define RELAY_PKT_MAX 2048      /* larger datagrams are dropped (MSG_TRUNC) */
#define RELAY_WAIT_MS 500       /* longest sleep before stop is looked at */

/* Counters of one loop round, added to the process stats at its end. */
struct relay_fwd_round {
	struct relay_table *t;
	int64_t now;
	uint64_t packets, bytes, dropped;
};

/* What forwarding packets that arrived on one port needs of its session. */
struct relay_fwd {
	uint32_t q;
	unsigned leg, rtcp;
	struct relay_slot *s;
	struct relay_route rt;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	bool can_send;          /* a destination, and the receiver wants media */
	bool discard;           /* the sender said it does not send (RTP only) */
};

/* Reads the session of port base + i; false when it is not live (its
 * packets are dropped). */
bool relay_fwd_begin(struct relay_fwd_round *r, uint32_t i, struct relay_fwd *b);
/* A datagram of len bytes, truncated or not, is long enough for its kind. */
bool relay_fwd_size_ok(size_t len, bool truncated, unsigned rtcp);
/* Whether a packet from src goes on to b->dst: its source is the leg's
 * (latching it if the rule says so, which may reread b) and the route
 * lets it through. *from_party is set when the source is the leg's. */
bool relay_fwd_accept(struct relay_fwd_round *r, struct relay_fwd *b,
		      const struct sockaddr_storage *src, bool *from_party);
/* The socket the packets of b leave from: the other leg's port. */
int relay_fwd_out_fd(const struct relay_fwd *b);
/* Adds to slot q's leg counters and the round's. */
void relay_fwd_count(struct relay_fwd_round *r, uint32_t q, unsigned leg, uint64_t sent,
		     uint64_t bytes, uint64_t dropped);
/* The party of slot q spoke now (the session timeout watches this). */
void relay_fwd_heard(struct relay_fwd_round *r, uint32_t q);
/* Adds the round's counters to the process stats and zeroes them. */
void relay_fwd_flush(struct relay_fwd_round *r);
/* Whether port base + i belongs to worker index of nworkers (its slice
 * s has s % nworkers == index) and is bound. */
bool relay_fwd_mine(const struct relay_table *t, uint32_t i, unsigned index,
		    unsigned nworkers);

/* The io_uring loop (worker_uring.c). A negative errno when io_uring
 * cannot be set up here (the caller falls back to epoll), else the
 * worker's exit status. */
int relay_uring_run(const struct pinhole_conf *conf, struct relay_table *t, unsigned index,
		    unsigned nworkers, volatile sig_atomic_t *stop);

#endif
