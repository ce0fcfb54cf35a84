/*
 * tm_int.h — the transaction table's shared layout and the interface
 * between the files of the transaction layer and the proxy (sip/tm_*.c,
 * sip/proxy*.c) and their unit tests; nobody else includes it.
 *
 * Layout: a table header -> slot array (fixed struct tm_slot each) ->
 * stripes (lock, free list, timer wheel) -> hash heads (per stripe). The
 * variable parts of a transaction (stored request, responses, the branch
 * array, each branch's request and CANCEL) are shm_alloc objects owned by
 * the slot and freed with it. Slot i belongs to stripe i / per_stripe; a
 * server transaction whose match key hashes to h is allocated in stripe
 * h % TM_STRIPES, so the one stripe lock guards its slot, its hash chain
 * and its wheel links. Functions ending in _locked need that lock.
 */
#ifndef PINHOLE_TM_INT_H
#define PINHOLE_TM_INT_H

#include "sip.h"
#include "../conf/conf.h"
#include "../shm/shm.h"

#define TM_MAGIC 0x544d5431u       /* "TMT1" */
#define TM_WHEEL 256u              /* buckets per wheel level (two levels) */
#define TM_TICK_MS 50              /* one bucket of the first level */
#define TM_T4_MS 5000              /* RFC 3261 T4 */
#define TM_MIN_SLOTS TM_STRIPES
#define TM_BRANCH_PREFIX "z9hG4bKph"    /* our stateful branches */
#define TM_SL_BRANCH_PREFIX "z9hG4bKps" /* statelessly forwarded ACKs */

/* Where a message goes and the listen entry it leaves by. */
struct tm_addr {
	uint8_t family;            /* AF_INET / AF_INET6, 0 = none */
	uint8_t socket;            /* listen index */
	uint16_t port;             /* host order */
	uint8_t addr[16];
};
_Static_assert(sizeof(struct tm_addr) == 20, "tm_addr layout");

/* Server side (RFC 3261 §17.2, RFC 6026 Accepted). */
enum tm_uas_state {
	TM_UAS_TRYING = 0,   /* non-INVITE: nothing sent yet */
	TM_UAS_PROCEEDING,   /* a provisional response sent (INVITE: 100 at once) */
	TM_UAS_COMPLETED,    /* final non-2xx sent: G/H (INVITE), J */
	TM_UAS_CONFIRMED,    /* INVITE: ACK received, Timer I */
	TM_UAS_ACCEPTED,     /* INVITE: 2xx forwarded, Timer L (RFC 6026) */
	TM_UAS_TERMINATED,
};

/* Client side, one per branch (§17.1; WAITING: a later serial group). */
enum tm_br_state {
	TM_BR_WAITING = 0,   /* not sent yet (next q group) */
	TM_BR_CALLING,       /* sent, no response: A/B (INVITE), E/F */
	TM_BR_PROCEEDING,    /* provisional received: C (INVITE), E/F */
	TM_BR_COMPLETED,     /* final non-2xx: D (INVITE), K */
	TM_BR_ACCEPTED,      /* INVITE 2xx: M (RFC 6026) */
	TM_BR_TERMINATED,
};

enum tm_flags {
	TM_F_CANCELED = 1,   /* the caller sent CANCEL */
	TM_F_FINAL = 2,      /* a final response went upstream */
	TM_F_RFC2543 = 4,    /* matched by RFC 2543 fields (no cookie) */
};

enum tm_branch_flags {
	TM_BF_NAT = 1,            /* callee NATed: fix Contact of its replies */
	TM_BF_CANCEL_WANTED = 2,  /* CANCEL once a provisional arrives (§9.1) */
	TM_BF_CANCEL_SENT = 4,
	TM_BF_CANCEL_DONE = 8,    /* a response to our CANCEL arrived */
	TM_BF_LOCAL = 16,         /* its final is a local timeout (408) */
};

struct tm_branch {
	shm_off req;               /* the request as sent */
	shm_off cancel;            /* our CANCEL, once sent */
	uint32_t req_len, cancel_len;
	int64_t retrans_at;        /* A/E: next retransmission, 0 = none */
	int64_t timeout_at;        /* B/F, C, D/K, M per state, 0 = none */
	int64_t cancel_at;         /* next retransmission of the CANCEL */
	uint32_t retrans_ms, cancel_ms;
	struct tm_addr dst;
	uint8_t state;             /* enum tm_br_state */
	uint8_t flags;             /* enum tm_branch_flags */
	uint16_t code;             /* last status received (or 408 local) */
	uint8_t group;             /* serial forking group, 0 first */
	uint8_t pad[3];
};
_Static_assert(sizeof(struct tm_branch) == 88, "tm_branch layout");

struct tm_slot {
	uint32_t gen;              /* bumped at allocation and at free */
	uint32_t next;             /* hash chain / free list: slot + 1, 0 = end */
	uint64_t key;              /* hash of the match key */
	uint32_t wnext, wprev;     /* wheel list: slot + 1 */
	uint16_t wbucket;          /* 0 none, 1..256 level one, 257..512 two */
	uint8_t live;
	uint8_t method;            /* enum sip_method of the request */
	uint8_t uas;               /* enum tm_uas_state */
	uint8_t flags;             /* enum tm_flags */
	uint8_t nbranch;
	uint8_t best_branch;       /* the stored best response's branch */
	uint16_t resp_code;        /* last response sent upstream */
	uint16_t best_code;        /* best final so far, 0 = none */
	uint32_t loop;             /* loop-detection hash (§16.3 step 4) */
	int64_t due;               /* what the wheel holds it for */
	int64_t g_at;              /* Timer G: next retransmission upstream */
	int64_t end_at;            /* H, I, J, L: the server side ends */
	int64_t guard_at;          /* hard end: no transaction outlives it */
	uint32_t g_ms;
	uint32_t req_len, resp_len, best_len;
	shm_off req;               /* the request as received, top Via with
	                              received/rport (replies copy it) */
	shm_off resp;              /* last response sent upstream */
	shm_off best;              /* best final response so far (edited) */
	shm_off branches;          /* struct tm_branch[nbranch] */
	struct tm_addr up;         /* where responses go upstream */
	uint32_t pad;
};
_Static_assert(sizeof(struct tm_slot) == 144, "tm_slot layout");

struct tm_stripe {
	struct shm_lock lock;
	uint32_t free_head;        /* slot + 1 */
	uint32_t used;
	int64_t next_tick;         /* first wheel tick not processed, 0 = unset */
	uint32_t wheel[2][TM_WHEEL];  /* list heads: slot + 1 */
};
_Static_assert(sizeof(struct tm_stripe) == 24 + 8 * TM_WHEEL, "tm_stripe layout");

struct tm_table {
	uint32_t magic;
	uint32_t nslots;           /* a multiple of TM_STRIPES */
	uint32_t per_stripe;
	uint32_t nbuckets;         /* hash heads per stripe, a power of two */
	uint32_t boot;             /* random per start, in every branch */
	uint32_t pad;
	uint64_t active;           /* live transactions (atomic) */
	shm_off slots, stripes, heads;
};
_Static_assert(sizeof(struct tm_table) == 56, "tm_table layout");

/* A transaction as seen from outside a lock: valid while gen matches. */
struct tm_ref {
	uint32_t slot, gen;
};

/* ---- tm_table.c: slots, stripes, hash chains ------------------------ */

struct tm_table *tm_table(void);
struct tm_slot *tm_slot_at(uint32_t idx);
struct tm_stripe *tm_stripe_at(uint32_t s);
uint32_t tm_stripe_of(uint32_t idx);
struct tm_branch *tm_branches(const struct tm_slot *t);
/* Takes the stripe's lock; tm_ref_lock also checks the generation and
 * returns the slot (NULL, lock released, when it is gone). */
void tm_stripe_lock(uint32_t s);
void tm_stripe_unlock(uint32_t s);
struct tm_slot *tm_ref_lock(struct tm_ref ref);
void tm_ref_unlock(struct tm_ref ref);
/* A free slot of stripe s, zeroed, live, with a new generation; -ENOSPC. */
int tm_slot_alloc_locked(uint32_t s, uint32_t *idx);
/* Frees the slot's objects, unlinks it from hash and wheel. */
void tm_slot_free_locked(uint32_t idx);
void tm_hash_insert_locked(uint32_t idx);
/* The chain of key (in its stripe) for the caller to compare: slot + 1,
 * 0 at the end; tm_hash_next_locked takes the slot itself. */
uint32_t tm_hash_first_locked(uint64_t key);
uint32_t tm_hash_next_locked(uint32_t idx);
uint32_t tm_stripe_for_key(uint64_t key);

/* ---- tm_key.c: matching keys, branch parameters --------------------- */

/* §17.2.3 key of a request: branch and sent-by, or the RFC 2543 fields
 * (Request-URI, From tag, Call-ID, CSeq number, top Via). */
uint64_t tm_request_key(const struct sip_msg *msg, bool *rfc2543);
/* Whether stored (the transaction's request) and msg belong to the same
 * transaction; ACK and CANCEL match their INVITE. */
bool tm_request_matches(const struct sip_msg *stored, const struct sip_msg *msg,
			bool rfc2543);

struct tm_branch_id {
	uint32_t boot, slot, gen, loop;
	uint8_t branch;
};
/* "z9hG4bKph<boot>.<slot>.<gen>.<branch>.<loop>" in hex. Length, 0 if
 * it does not fit. */
size_t tm_branch_format(const struct tm_branch_id *id, char *out, size_t cap);
/* 0, or -EINVAL when branch is not one of ours (any boot). */
int tm_branch_parse(slice branch, struct tm_branch_id *id);

/* ---- tm_wheel.c: the per-stripe two-level timer wheel --------------- */

/* Puts slot idx on stripe s's wheel for due (ms); replaces an earlier
 * position. due in the past fires at the next tick. */
void tm_wheel_arm_locked(uint32_t s, uint32_t idx, int64_t due, int64_t now);
void tm_wheel_disarm_locked(uint32_t s, uint32_t idx);
/* Pops every slot due by now_ms and calls fire(idx) for it (which may
 * re-arm or free it). Returns how many fired. */
unsigned tm_wheel_advance_locked(uint32_t s, int64_t now_ms,
				 void (*fire)(uint32_t idx, void *arg), void *arg);

/* ---- tm_send.c: sockets, addresses, clock --------------------------- */

int64_t tm_now_ms(void);
/* Tests: a fake clock (NULL restores CLOCK_MONOTONIC). */
void tm_clock_set(int64_t (*fn)(void));
int tm_send(const struct tm_addr *dst, const char *buf, size_t len);
/* Whether dst leaves by a TCP/TLS listen entry (no Timer A/E/G
 * retransmissions there, RFC 3261 §17.1.1.2, §17.2.1). */
bool tm_addr_reliable(const struct tm_addr *dst);
void tm_addr_from_sockaddr(const struct sockaddr *sa, uint8_t socket, struct tm_addr *out);
void tm_addr_to_sockaddr(const struct tm_addr *a, struct sockaddr_storage *ss, socklen_t *len);
void tm_addr_from_loc(const struct loc_addr *la, uint8_t socket, struct tm_addr *out);
/* Copies a message into a new shm object; 0 when full. */
shm_off tm_store(const char *buf, size_t len);
/* The parse of a message stored in shm (valid under the slot's lock);
 * -ENOENT for none. */
int tm_parse_stored(shm_off off, uint32_t len, struct sip_msg *msg);

/* ---- tm_uas.c: the server side -------------------------------------- */

enum tm_open_result { TM_OPEN_NEW = 0, TM_OPEN_RETRANS = 1 };
/* Finds the server transaction of msg (a retransmission: the last
 * response is sent again, TM_OPEN_RETRANS) or creates it (TM_OPEN_NEW,
 * *ref set; an INVITE answers 100 Trying at once). -ENOSPC when the
 * stripe is full, -ENOMEM when shm is, -EINVAL for a request that cannot
 * be stored. */
int tm_uas_open(const struct pinhole_conf *conf, const struct sip_msg *msg,
		const struct sip_source *src, uint32_t loop, struct tm_ref *ref);
/* A retransmission of a request whose transaction exists: answered
 * again or absorbed; true when one was found. */
bool tm_uas_retransmission(const struct sip_msg *msg);
/* ACK for a non-2xx final we sent: absorbed (Timer I), true. */
bool tm_uas_ack(const struct pinhole_conf *conf, const struct sip_msg *msg);
/* CANCEL: cancels the matching INVITE's branches (487 upstream when none
 * is pending). 0, -ENOENT when no INVITE matches. */
int tm_uas_cancel(const struct pinhole_conf *conf, const struct sip_msg *msg);
/* A response generated here (100, 408, 482, 404 ...), with extra header
 * lines (may be NULL). 0, -ESTALE when the transaction is gone. */
int tm_reply(const struct pinhole_conf *conf, struct tm_ref ref, unsigned code,
	     const char *reason, const char *extra);
int tm_reply_locked(const struct pinhole_conf *conf, struct tm_slot *t, unsigned code,
		    const char *reason, const char *extra, int64_t now);
/* Sends a response upstream, stores it when it may be retransmitted and
 * moves the server side on (§17.2.1, §17.2.2). */
void tm_uas_send_locked(const struct pinhole_conf *conf, struct tm_slot *t,
			const char *buf, size_t len, unsigned code, int64_t now);
void tm_uas_timers_locked(const struct pinhole_conf *conf, struct tm_slot *t, int64_t now);

/* ---- tm_uac.c: the client branches, §16.7 ---------------------------- */

/* A branch to be: the request bytes to send and where. */
struct tm_target {
	const char *req;
	size_t req_len;
	struct tm_addr dst;
	uint8_t group;             /* serial forking group */
	bool nat;
};
/* Attaches the branches and sends the first group. -ESTALE when the
 * transaction is gone, -ECANCELED when it was answered meanwhile,
 * -ENOMEM. */
int tm_uac_start(const struct pinhole_conf *conf, struct tm_ref ref,
		 const struct tm_target *targets, unsigned n);
void tm_uac_response(const struct pinhole_conf *conf, const struct sip_msg *msg,
		     const struct sockaddr *src);
void tm_uac_cancel_all_locked(const struct pinhole_conf *conf, struct tm_slot *t,
			      int64_t now);
void tm_uac_timers_locked(const struct pinhole_conf *conf, struct tm_slot *t, int64_t now);
/* §16.7 steps 6-7: when no branch is pending, the next serial group or
 * the best final response upstream. */
void tm_decide_locked(const struct pinhole_conf *conf, struct tm_slot *t, int64_t now);

/* ---- tm_timer.c ------------------------------------------------------ */

/* After any change: re-arms the slot for its earliest timer, or frees it
 * when both sides have ended. */
void tm_settle_locked(uint32_t idx, int64_t now);
uint32_t tm_t1(const struct pinhole_conf *conf);
uint32_t tm_t2(const struct pinhole_conf *conf);

/* ---- proxy_edit.c: messages the proxy builds ------------------------- */

/* Response going upstream: our top Via removed; with nat, the first
 * Contact's host:port becomes src (fix_nated_contact). */
int proxy_edit_response(const struct sip_msg *resp, const struct sockaddr *src, bool nat,
			char *out, size_t cap, size_t *len);
/* CANCEL for a request we sent (§9.1): same Request-URI, top Via, From,
 * To, Call-ID, CSeq number and Route set. */
int proxy_build_cancel(const struct sip_msg *req, char *out, size_t cap, size_t *len);
/* ACK for a non-2xx final response to an INVITE we sent (§17.1.1.3). */
int proxy_build_ack(const struct sip_msg *req, const struct sip_msg *resp, char *out,
		    size_t cap, size_t *len);

#endif
