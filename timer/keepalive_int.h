/*
 * keepalive_int.h — the NAT keepalive pinger's pieces, shared by the files
 * of timer/ (keepalive.c sends, keepalive_reply.c matches answers) and
 * their unit test only.
 *
 * A ping names the binding it was sent to in its Via branch:
 *   z9hG4bK-ka-<bucket>-<aor hash><contact hash>-<send time>
 * (lower-case hex; the hashes 8 digits each, FNV-1a of the AOR key and of
 * the contact URI). The answer echoes the branch, so a worker finds the
 * binding from the bucket without knowing the AOR, and the round trip from
 * the send time (CLOCK_MONOTONIC microseconds, the same clock in every
 * process). Nothing here takes a lock.
 */
#ifndef PINHOLE_KEEPALIVE_INT_H
#define PINHOLE_KEEPALIVE_INT_H

#include "../shm/shm.h"

#include <sys/socket.h>

#define KA_BRANCH_PREFIX "z9hG4bK-ka-"
#define KA_MAX_RTT_US (60ll * 1000000)   /* an older answer is not believed */
#define KA_CRLF "\r\n\r\n"               /* nat.keepalive.method "crlf" */

/* What a branch names. */
struct ka_id {
	uint32_t bucket;
	uint32_t aor_hash, contact_hash;
	int64_t sent_us;
};

/* The fields of one OPTIONS ping. */
struct ka_options {
	struct ka_id id;
	slice contact;        /* Request-URI and To: the binding's contact */
	slice from;           /* nat.keepalive.from */
	slice via_host;       /* this socket's address (IPv6 with or without []) */
	uint16_t via_port;
	uint32_t seq;         /* with the pid, makes Call-ID and tag unique */
};

uint32_t ka_hash(slice s);
int64_t ka_now_us(void);             /* CLOCK_MONOTONIC */

/* The branch of id into out; its length, or -ENOSPC. */
int ka_branch_format(const struct ka_id *id, char *out, size_t cap);
/* 0 and *id for a well-formed keepalive branch; -ENOENT when branch is not
 * a keepalive's (another transaction's); -EINVAL when it starts like one
 * but is malformed. */
int ka_branch_parse(slice branch, struct ka_id *id);

/* The OPTIONS request (RFC 3261 §11, with rport, RFC 3581): Via, Max-
 * Forwards, From with a tag, To, Call-ID, CSeq, Content-Length 0. 0 and
 * *len, -ENOSPC, or -EINVAL for an empty contact or from. */
int ka_options_build(const struct ka_options *o, char *out, size_t cap, size_t *len);

/* Where a binding's pings go: its received address (the NAT's public side)
 * or, when none was recorded, the Contact's IP address and port. 0 and
 * *dst; -EPROTONOSUPPORT for a binding over TCP/TLS (its connection
 * belongs to a worker); -EADDRNOTAVAIL when there is no IP to send to (a
 * host name Contact without a received address). */
int ka_target(const struct loc_binding *b, struct sockaddr_storage *dst);
bool ka_sockaddr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

/* Buckets to visit after elapsed_ms so that a pass over nbuckets takes
 * interval_ms; *carry keeps the remainder (in bucket x ms) between calls,
 * so the rate is exact over time whatever the tick. */
uint32_t ka_budget(uint32_t nbuckets, unsigned interval_ms, int64_t elapsed_ms,
		   uint64_t *carry);

#endif
