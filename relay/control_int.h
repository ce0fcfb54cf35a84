/*
 * control_int.h — the rtpproxy control protocol inside relay/: the parser
 * and reply formatter (control_parse.c, pure functions on buffers), the
 * reply cache in shm (control_cache.c) and the command executor
 * (control.c). Only relay/ and the unit tests include this header.
 *
 * A command is one UDP datagram "COOKIE CMD[MODIFIERS] ARGS..." (tokens
 * separated by spaces, tabs, CR or LF); the reply is "COOKIE REPLY\n".
 * Errors are rtpproxy's E-codes ("E1"), numbered as rtpproxy numbers them.
 */
#ifndef PINHOLE_RELAY_CONTROL_INT_H
#define PINHOLE_RELAY_CONTROL_INT_H

#include "relay.h"

#include <sys/socket.h>

#define RTPP_VERSION "20040107"
#define RTPP_MAX_TOKENS 20       /* command and arguments, cookie excluded */
#define RTPP_MAX_STATS 8         /* counter names a Q may ask for */
#define RTPP_COOKIE_MAX 64       /* longer cookies are answered, not cached */
#define RTPP_REPLY_MAX 320       /* a reply, cookie included */

/* rtpproxy's error codes (the ones pinhole answers). */
enum rtpp_ecode {
	RTPP_E_UNKNOWN_CMD = 0,  /* no such command */
	RTPP_E_NARGS = 1,        /* wrong number of arguments */
	RTPP_E_MODS = 2,         /* the command takes no modifiers */
	RTPP_E_SYNTAX = 5,       /* no command after the cookie, bad tag;N */
	RTPP_E_D_MOD = 8,        /* unknown modifier of D */
	RTPP_E_UL_EXTERNAL = 11, /* 'e' modifier: no bridging between interfaces */
	RTPP_E_UL_INTERNAL = 12, /* 'i' modifier: likewise */
	RTPP_E_UL_PTIME = 13,    /* 'z' without a positive number */
	RTPP_E_UL_CODECS = 14,   /* 'c' without a codec list */
	RTPP_E_UL_LOCAL = 15,    /* 'l' without an address */
	RTPP_E_UL_REMOTE = 16,   /* 'r' without an address */
	RTPP_E_I_MOD = 18,       /* unknown modifier of I */
	RTPP_E_Q_MOD = 19,       /* unknown modifier of Q */
	RTPP_E_INVALID = 31,     /* argument the relay cannot take (too long) */
	RTPP_E_NO_SESSION = 50,  /* D or Q of a session that does not exist */
	RTPP_E_Q_STAT = 62,      /* Q asked for a counter that does not exist */
	RTPP_E_PORTS_OLD = 71,   /* no free ports for an existing session */
	RTPP_E_PORTS_NEW = 72,   /* no free ports for a new session */
	RTPP_E_NOMEM_OLD = 81,   /* shm full updating a session */
	RTPP_E_NOMEM_NEW = 84,   /* shm full creating a session */
};

enum rtpp_op {
	RTPP_OP_VERSION,         /* V */
	RTPP_OP_FEATURE,         /* VF date */
	RTPP_OP_UPDATE,          /* U: offer, creates */
	RTPP_OP_LOOKUP,          /* L: answer, never creates */
	RTPP_OP_DELETE,          /* D */
	RTPP_OP_QUERY,           /* Q */
	RTPP_OP_INFO,            /* I */
	RTPP_OP_DELETE_ALL,      /* X */
};

/* A tag argument "TAG" or "TAG;N" (N = 1-based media number, 0 = none). */
struct rtpp_tag {
	slice tag;
	unsigned medianum;
};

/* One parsed command; every slice points into the datagram. */
struct rtpp_cmd {
	slice cookie;
	int ecode;               /* the E-code of a malformed command */
	enum rtpp_op op;
	slice mods;              /* the letters after the command letter(s) */
	slice call_id;
	slice addr, port;        /* U, L */
	struct rtpp_tag from, to; /* to.tag empty when absent */
	slice feature;           /* VF */
	bool ipv6;               /* U/L modifier '6': addr is IPv6 */
	bool verbose;            /* Q modifier 'v' */
	unsigned nstats;         /* Q: counter names asked for */
	slice stats[RTPP_MAX_STATS];
};

/* Parses one datagram. 0 when cmd is ready to run; -EPROTO when it is
 * malformed, its E-code in cmd->ecode (cmd->cookie is set, so the error
 * can be answered); -EINVAL for a datagram without even a cookie (nothing
 * to answer). */
int rtpp_parse(slice dgram, struct rtpp_cmd *cmd);

/* Whether VF date names a capability pinhole really has. */
bool rtpp_feature_supported(slice date);

/* The relay request of a parsed U or L (call_id, tags, media, addr,
 * flags); 0, or RTPP_E_INVALID when an argument is too long for it. */
int rtpp_ul_request(const struct rtpp_cmd *cmd, struct relay_req *r);

/* The E-code answering relay_update's error err for cmd's op. */
int rtpp_ul_ecode(enum rtpp_op op, int err);

/* Reply texts: each starts a new reply in b ("COOKIE ") and ends it with
 * "\n". */
void rtpp_reply_error(struct sbuf *b, slice cookie, int ecode);
void rtpp_reply_number(struct sbuf *b, slice cookie, uint64_t n);
void rtpp_reply_text(struct sbuf *b, slice cookie, const char *text);
/* "PORT ADDR" ("PORT ADDR 6" for IPv6); "0" when local is NULL (a lookup
 * that found no session). */
void rtpp_reply_port(struct sbuf *b, slice cookie, const struct relay_addr *local);

/* The Q answer for session s seen from the party of tag from: "TTL
 * NPKTS_INA NPKTS_INO NRELAYED NDROPPED", or "name=value" pairs with 'v',
 * or the counters cmd->stats names. ttl in seconds. 0 or RTPP_E_Q_STAT. */
int rtpp_reply_query(struct sbuf *b, const struct rtpp_cmd *cmd,
		     const struct relay_info *s, unsigned from_leg, int64_t ttl);

/* The I answer. */
struct rtpp_info {
	uint64_t created, active, received, relayed;
};
void rtpp_reply_info(struct sbuf *b, slice cookie, const struct rtpp_info *in);

/* Whether s is the session cmd names: its Call-ID, the media number of a
 * tag when given, a leg carrying from (and the other leg to, when given).
 * The leg of from goes to *from_leg. */
bool rtpp_session_matches(const struct rtpp_cmd *cmd, const struct relay_info *s,
			  unsigned *from_leg);

/* ---- reply cache (control_cache.c) ----------------------------------- */

/* Retransmissions of a command (same cookie, same source address) within
 * RTPP_CACHE_MS get the first answer again; one still being executed by
 * another process is ignored for up to RTPP_PENDING_MS. */
#define RTPP_CACHE_MS 30000
#define RTPP_PENDING_MS 2000

enum rtpp_cache_state { RTPP_CACHE_NEW, RTPP_CACHE_PENDING, RTPP_CACHE_HIT };

/* Master, before fork, after shm_create: the cache in shm, sized from
 * shm->size. 0, -EEXIST when made already, -ENOMEM, -ENODEV (no shm). */
int rtpp_cache_init(void);
/* Looks the command up. NEW: recorded as pending, the caller executes it
 * and calls rtpp_cache_finish. PENDING: another copy is being executed,
 * drop this one. HIT: the reply is copied to out (*len set). Without a
 * cache (or for a long cookie) always NEW. */
enum rtpp_cache_state rtpp_cache_begin(slice cookie, const struct relay_addr *src,
				       int64_t now_ms, char *out, size_t cap, size_t *len);
void rtpp_cache_finish(slice cookie, const struct relay_addr *src, int64_t now_ms,
		       const char *reply, size_t len);

/* Converts a socket address (AF_INET/AF_INET6; others give family 0). */
void rtpp_addr_from_sockaddr(const struct sockaddr *sa, struct relay_addr *out);

/* ---- executor (control.c) --------------------------------------------- */

/* Answers one datagram from src into out: parse, cache, execute. Returns
 * the reply length, 0 when nothing is to be sent. */
size_t rtpp_handle(slice dgram, const struct relay_addr *src,
		   const struct pinhole_conf *conf, int64_t now_ms, char *out, size_t cap);

#endif
