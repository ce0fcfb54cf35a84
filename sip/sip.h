/*
 * sip.h — pinhole's SIP message core: parser, URIs, typed headers, SDP and
 * the message builder.
 *
 * Parsing is zero-copy: every string is a slice of the caller's receive
 * buffer, which must outlive the parsed structures. sip_msg_parse() frames
 * the message (start line, header lines, body by Content-Length) and parses
 * the headers every request needs (Via, From, To, Call-ID, CSeq,
 * Max-Forwards, Content-Length); every other header body is parsed on first
 * use by the accessor for it. Every count and length is bounded; on a
 * defect the functions return a negative errno and set a static reason
 * string that names the defect (it becomes the reason phrase of a 400).
 *
 * Nothing here allocates, locks or logs: any process may call it.
 */
#ifndef PINHOLE_SIP_H
#define PINHOLE_SIP_H

#include "../base/base.h"

#include <sys/socket.h>

/* Limits (a message exceeding them is malformed for pinhole: 400). */
#define SIP_MAX_MSG 65535       /* bytes in one message */
#define SIP_MAX_HEADERS 160     /* header lines (a folded line counts once) */
#define SIP_MAX_VIA 72          /* Via values in one message: a request sent
                                   with Max-Forwards 70 (RFC 3261 §8.1.1.6)
                                   reaches the proxy answering 483 with 71 */
#define SIP_MAX_PARAMS 32       /* parameters on one URI / header value */

/* ---- methods ---------------------------------------------------------- */

enum sip_method {
	SIP_M_OTHER = 0, /* a valid token that is none of these */
	SIP_M_INVITE,
	SIP_M_ACK,
	SIP_M_BYE,
	SIP_M_CANCEL,
	SIP_M_REGISTER,
	SIP_M_OPTIONS,
	SIP_M_INFO,
	SIP_M_PRACK,
	SIP_M_UPDATE,
	SIP_M_SUBSCRIBE,
	SIP_M_NOTIFY,
	SIP_M_MESSAGE,
	SIP_M_REFER,
	SIP_M_PUBLISH,
};

/* Methods are case-sensitive (RFC 3261 §7.1). */
enum sip_method sip_method_from(slice token);
const char *sip_method_name(enum sip_method m); /* "" for SIP_M_OTHER */

/* ---- URIs (RFC 3261 §19.1, RFC 3966 for tel) -------------------------- */

enum sip_scheme { SIP_SCHEME_OTHER = 0, SIP_SCHEME_SIP, SIP_SCHEME_SIPS, SIP_SCHEME_TEL };
enum sip_host_type { SIP_HOST_NONE = 0, SIP_HOST_NAME, SIP_HOST_IPV4, SIP_HOST_IPV6 };

struct sip_uri {
	slice raw;      /* the whole URI as written */
	slice scheme;   /* "sip", "sips", "tel", or any other scheme token */
	uint8_t scheme_id;  /* enum sip_scheme */
	uint8_t host_type;  /* enum sip_host_type */
	uint16_t port;      /* 0 when absent */
	slice user;     /* still escaped (never unescaped, RFC 4475 §3.1.1.3);
	                   for tel: the number */
	slice password; /* present only with "user:password@" */
	slice host;     /* IPv6 without the brackets */
	slice params;   /* ";a=b;c" without the first ';' (empty if none) */
	slice headers;  /* after '?' (empty if none) */
	/* well-known parameters, slices of params */
	slice transport;
	slice maddr;
	slice user_param;
	slice ttl;
	bool lr;
};

/* Parses a whole URI. For sip/sips the host is mandatory and a raw IPv6
 * address must be bracketed (RFC 5118 §4.2). For schemes pinhole does not
 * route (not sip, sips, tel) only "scheme:" followed by at least one byte of
 * URI characters is checked. 0, or -EINVAL with *reason set. */
int sip_uri_parse(slice in, struct sip_uri *out, const char **reason);

/* Looks up a URI parameter by name (case-insensitive). A parameter with no
 * value gives an empty *value. true if present. */
bool sip_uri_param(const struct sip_uri *uri, slice name, slice *value);

/* Default port for a URI: explicit port, else 5061 for sips, else 5060. */
uint16_t sip_uri_port(const struct sip_uri *uri);

/* ---- generic parameter lists ------------------------------------------ */

/* Iterates ";name[=value]" lists (header and URI parameters). Quoted values
 * (header params only) keep their quotes. *rest starts at the list (the
 * leading ';' optional) and is advanced. 1 when a parameter was produced,
 * 0 at the end, -EINVAL on a syntax error (e.g. an empty name). */
int sip_param_next(slice *rest, slice *name, slice *value);
bool sip_param_find(slice params, slice name, slice *value);

/* ---- typed header values ---------------------------------------------- */

struct sip_via {
	slice raw;        /* this via-parm */
	slice protocol;   /* "SIP/2.0" */
	slice transport;  /* "UDP", "TCP", "TLS", "SCTP", or unknown token */
	slice host;       /* sent-by host; IPv6 without brackets */
	uint8_t host_type;/* enum sip_host_type */
	uint16_t port;    /* 0 when absent */
	slice params;     /* after the first ';' */
	slice branch;
	slice received;   /* brackets stripped if present (RFC 5118 §4.5) */
	slice maddr;
	bool has_rport;   /* ";rport" with or without value */
	uint16_t rport;   /* its value, 0 when none */
	int16_t ttl;      /* -1 when absent, else 0..255 */
};

/* Parses a Via header body holding one or more comma-separated via-parms,
 * appending to out[*n .. max). -EINVAL on a defect, -E2BIG past max. */
int sip_via_parse(slice value, struct sip_via *out, unsigned max, unsigned *n,
		  const char **reason);

/* name-addr / addr-spec with header parameters: From, To, Contact, Route,
 * Record-Route, Path (RFC 3261 §20.10 and §25.1). */
struct sip_nameaddr {
	slice raw;        /* the whole value */
	slice display;    /* display name as written (quotes kept), may be empty */
	slice uri_raw;    /* the URI without the angle brackets */
	bool angle;       /* URI was inside <> */
	struct sip_uri uri;
	slice params;     /* header parameters after the URI (no leading ';') */
	slice tag;        /* From/To tag */
	/* Contact parameters */
	bool has_expires;
	uint32_t expires; /* values above 2^32-1 are a defect */
	int16_t q;        /* q * 1000, -1 when absent */
};

/* One name-addr (From, To). A URI that is not inside <> ends at the first
 * ';' (its parameters are header parameters, RFC 3261 §20.10). */
int sip_nameaddr_parse(slice value, struct sip_nameaddr *out,
		       const char **reason);
/* A comma-separated list (Contact, Route, Record-Route, Path): appends to
 * out[*n .. max). Commas inside quotes or <> do not split. */
int sip_nameaddr_list_parse(slice value, struct sip_nameaddr *out,
			    unsigned max, unsigned *n, const char **reason);

struct sip_cseq {
	uint32_t num;     /* 0 .. 2^32-1 */
	slice method;
	uint8_t method_id;/* enum sip_method */
};
int sip_cseq_parse(slice value, struct sip_cseq *out, const char **reason);

/* Digest credentials (Authorization / Proxy-Authorization, RFC 7616). */
struct sip_credentials {
	slice scheme;     /* "Digest" or another scheme token */
	slice username, realm, nonce, uri, response, algorithm, cnonce, opaque,
		qop, nc;  /* quotes stripped */
	slice params;     /* the whole parameter list */
};
int sip_credentials_parse(slice value, struct sip_credentials *out,
			  const char **reason);

/* ---- messages ---------------------------------------------------------- */

enum sip_hdr_id {
	SIP_H_OTHER = 0,
	SIP_H_VIA,
	SIP_H_FROM,
	SIP_H_TO,
	SIP_H_CALL_ID,
	SIP_H_CSEQ,
	SIP_H_MAX_FORWARDS,
	SIP_H_CONTACT,
	SIP_H_ROUTE,
	SIP_H_RECORD_ROUTE,
	SIP_H_CONTENT_LENGTH,
	SIP_H_CONTENT_TYPE,
	SIP_H_EXPIRES,
	SIP_H_MIN_EXPIRES,
	SIP_H_REQUIRE,
	SIP_H_PROXY_REQUIRE,
	SIP_H_SUPPORTED,
	SIP_H_UNSUPPORTED,
	SIP_H_ALLOW,
	SIP_H_AUTHORIZATION,
	SIP_H_PROXY_AUTHORIZATION,
	SIP_H_WWW_AUTHENTICATE,
	SIP_H_PROXY_AUTHENTICATE,
	SIP_H_PATH,
	SIP_H_USER_AGENT,
	SIP_H_SERVER,
	SIP_H_CONTENT_ENCODING,
	SIP_H_EVENT,
	SIP_H_SUBJECT,
	SIP_H_REFER_TO,
	SIP_H_ACCEPT,
	SIP_H_DATE,
	SIP_H_ALLOW_EVENTS,
	SIP_H_REFERRED_BY,
	SIP_H_SESSION_EXPIRES,
	SIP_H_IDENTITY,
	SIP_H_COUNT
};

/* Header name (long or compact form, case-insensitive) -> id. */
enum sip_hdr_id sip_hdr_lookup(slice name);
const char *sip_hdr_name(enum sip_hdr_id id); /* canonical long form */

struct sip_hdr {
	slice name;       /* as written */
	slice value;      /* trimmed body; may still contain folding (CRLF WSP) */
	slice line;       /* the whole header line(s) including the final CRLF */
	uint8_t id;       /* enum sip_hdr_id */
};

struct sip_msg {
	const char *buf;  /* start of the message */
	uint32_t len;     /* bytes of the message: trailing octets after the
	                     body (RFC 4475 §3.1.1.8) are not included */
	bool is_request;

	/* start line */
	slice start_line; /* without CRLF */
	slice method;     /* request */
	uint8_t method_id;
	slice ruri_raw;
	struct sip_uri ruri;
	slice version;    /* "SIP/2.0" */
	uint16_t status;  /* response: 100..699 */
	slice reason;     /* response reason phrase, may be empty */

	struct sip_hdr hdrs[SIP_MAX_HEADERS];
	uint16_t nhdrs;
	int16_t first[SIP_H_COUNT]; /* index of the first header of each id, -1 */

	slice headers_end;/* the empty line ending the headers (CRLF) */
	slice body;

	/* headers parsed by sip_msg_parse() */
	struct sip_via via[SIP_MAX_VIA];
	uint8_t nvia;
	struct sip_nameaddr from, to;
	slice call_id;
	struct sip_cseq cseq;
	int16_t max_forwards;   /* -1 when absent, else 0..255 */
	int32_t content_length; /* -1 when absent */
};

/* Why a message failed to parse. */
enum sip_parse_error {
	SIP_PERR_NONE = 0,
	SIP_PERR_BAD_MESSAGE,   /* malformed: 400 (request) or drop (response) */
	SIP_PERR_BAD_VERSION,   /* well formed but not SIP/2.0: 505 */
	SIP_PERR_TOO_LARGE,     /* over a limit: 400 / 413 */
	SIP_PERR_INCOMPLETE,    /* stream transports: need more bytes */
};

struct sip_parse_status {
	enum sip_parse_error error;
	const char *reason;     /* static text naming the defect */
	bool have_start_line;   /* the start line was good (a reply is possible) */
};

/* Options of sip_msg_parse. */
enum {
	SIP_PARSE_STREAM = 1 << 0, /* Content-Length mandatory; data may be
	                              incomplete (SIP_PERR_INCOMPLETE) */
};

/* Parses buf[0..len) into *msg. Over datagrams a missing Content-Length
 * means the body is the rest of the datagram (RFC 3261 §18.3), and bytes
 * after Content-Length are ignored. Returns 0 or a negative errno with
 * *st describing the defect. */
int sip_msg_parse(const char *buf, size_t len, unsigned flags,
		  struct sip_msg *msg, struct sip_parse_status *st);

/* The Contact list of one message, parsed once (sip_contacts_parse) by
 * whoever handles the message and handed to everything that needs it:
 * NAT detection, sip_msg_check, the registrar. The slices point into the
 * message's buffer. Only v[0..n) is set (the struct is never cleared: it
 * is large and filled by the parse). */
#define SIP_MAX_CONTACTS SIP_MAX_VIA /* more Contact values is malformed */

struct sip_contacts {
	struct sip_nameaddr v[SIP_MAX_CONTACTS];
	unsigned n;          /* values parsed; on error, those before the defect */
	bool star;           /* "Contact: *" */
	int error;           /* 0, or the negative errno of the parse */
	const char *reason;  /* static text naming the defect when error < 0 */
};

/* Parses every Contact line of msg into *out (sip_msg_contacts with room
 * for SIP_MAX_CONTACTS values). Returns out->error. */
int sip_contacts_parse(const struct sip_msg *msg, struct sip_contacts *out);

/* The deeper well-formedness checks a proxy makes before acting on a
 * request, beyond sip_msg_parse: Contact (contacts, msg's list from
 * sip_contacts_parse), Route, Record-Route, Require, Proxy-Require,
 * Supported, Expires parse; the CSeq method equals the request method
 * (st->reason names the first defect). 0 or -EINVAL. */
int sip_msg_check(const struct sip_msg *msg, const struct sip_contacts *contacts,
		  struct sip_parse_status *st);

/* First header with this id, or NULL. Next one after h, or NULL. */
const struct sip_hdr *sip_msg_hdr(const struct sip_msg *msg, enum sip_hdr_id id);
const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *msg,
				       const struct sip_hdr *h);
/* Number of header lines with this id. */
unsigned sip_msg_hdr_count(const struct sip_msg *msg, enum sip_hdr_id id);
/* Header by name for SIP_H_OTHER headers (case-insensitive). */
const struct sip_hdr *sip_msg_hdr_by_name(const struct sip_msg *msg, slice name);

/* On-demand parsing of list headers across every line with that id.
 * Requests being handled have their Contacts in a struct sip_contacts
 * (above); sip_msg_contacts is the parse behind it. */
int sip_msg_contacts(const struct sip_msg *msg, struct sip_nameaddr *out,
		     unsigned max, unsigned *n, bool *star, const char **reason);
int sip_msg_routes(const struct sip_msg *msg, enum sip_hdr_id id,
		   struct sip_nameaddr *out, unsigned max, unsigned *n,
		   const char **reason);
/* Option tags (Require, Proxy-Require, Supported, Unsupported): calls fn for
 * each token across all lines of that header; stops if fn returns non-zero
 * and returns that value. -EINVAL on a malformed list. */
int sip_msg_option_tags(const struct sip_msg *msg, enum sip_hdr_id id,
			int (*fn)(slice tag, void *arg), void *arg);
/* Expires header (delta-seconds, max 2^32-1): 0, -ENOENT absent, -EINVAL. */
int sip_msg_expires(const struct sip_msg *msg, uint32_t *out);

/* ---- SDP (RFC 4566) ------------------------------------------------------ */

#define SDP_MAX_MEDIA 8
#define SDP_MAX_FORMATS 32

enum sdp_direction { SDP_DIR_NONE = 0, SDP_DIR_SENDRECV, SDP_DIR_SENDONLY,
		     SDP_DIR_RECVONLY, SDP_DIR_INACTIVE };

struct sdp_conn {          /* c=<nettype> <addrtype> <address> */
	slice line;        /* the whole line without CRLF */
	slice addrtype;    /* "IP4" / "IP6" */
	slice address;     /* may carry "/ttl" for multicast: stripped here */
	bool present;
};

struct sdp_media {
	slice line;        /* the m= line without CRLF */
	slice block;       /* from "m=" up to the next "m=" or the end */
	slice media;       /* "audio", "video", ... */
	slice port_s;      /* the port digits, for rewriting */
	uint16_t port;
	uint16_t nports;   /* "/2" port count, 1 when absent */
	slice proto;       /* "RTP/AVP" ... */
	slice formats[SDP_MAX_FORMATS];
	uint8_t nformats;
	struct sdp_conn conn;  /* media-level c=, may be absent */
	slice rtcp_line;   /* a=rtcp:... line, empty if absent */
	uint16_t rtcp_port;/* from a=rtcp, 0 when absent */
	slice rtcp_addr;   /* optional address in a=rtcp */
	uint8_t direction; /* enum sdp_direction, media level */
};

struct sdp_session {
	slice origin_line; /* o= line */
	slice origin_addr; /* the unicast address in o= */
	slice origin_version;
	struct sdp_conn conn;   /* session-level c= */
	uint8_t direction;      /* session level */
	struct sdp_media media[SDP_MAX_MEDIA];
	uint8_t nmedia;
};

/* Parses an SDP body (CRLF or bare LF line ends). */
int sdp_parse(slice body, struct sdp_session *out, const char **reason);
/* Effective connection of a media stream (media level, else session). */
const struct sdp_conn *sdp_media_conn(const struct sdp_session *s, unsigned i);
/* Effective direction (media level, else session, else sendrecv). */
enum sdp_direction sdp_media_direction(const struct sdp_session *s, unsigned i);

/* ---- SDP towards a media relay (sip/sdp_rewrite.c) ---------------------- */

/* The line that says a body was rewritten to a relay already (rtpproxy's
 * convention), so a second proxy or a spiral does not relay it again. */
#define SDP_RELAY_MARKER "a=nortpproxy:yes"

enum sdp_party_flags {       /* the values of relay.h's RELAY_F_NO_* */
	SDP_PARTY_NO_RECV = 2,   /* c=0.0.0.0 / c=::, a=sendonly, a=inactive */
	SDP_PARTY_NO_SEND = 4,   /* a=recvonly, a=inactive */
};

/* What one m= line says about the party that wrote it. */
struct sdp_party {
	uint8_t family;          /* AF_INET / AF_INET6; 0: no c= or a host name */
	uint8_t flags;           /* enum sdp_party_flags */
	uint16_t port;           /* the m= port; 0: a refused or disabled stream */
	uint8_t addr[16];        /* network order; all zero when on hold by c= */
};
/* Fills *out for m= line i of s. */
void sdp_media_party(const struct sdp_session *s, unsigned i, struct sdp_party *out);
/* Whether body carries an "a=nortpproxy:" line. */
bool sdp_has_relay_marker(slice body);

/* Where the relay takes each stream: one address for the whole body and
 * an RTP port per m= line (RTCP at port + 1); port 0 leaves a line as
 * it is. */
struct sdp_relay {
	slice addr;              /* IPv4, or IPv6 without brackets */
	bool ipv6;
	uint16_t port[SDP_MAX_MEDIA];
};
/* Writes body (parsed into s) rewritten to the relay into out: the o=
 * address, every c= that is not a hold address (0.0.0.0, ::), the m=
 * ports (a "/n" port count dropped: one pair is relayed), a=rtcp ports
 * and addresses, and SDP_RELAY_MARKER before the first m= line, with the
 * body's own line ends. The o= version is kept: the rewrite is a pure
 * function of the body and the relay ports, which a re-offer keeps, so a
 * party's version bump (RFC 3264 §8) carries over and an unchanged body
 * stays unchanged. 0, or -ENOSPC when out is full. */
int sdp_relay_rewrite(slice body, const struct sdp_session *s, const struct sdp_relay *r,
		      struct sbuf *out);

/* ---- building messages ------------------------------------------------ */

#define SIP_BUILD_MAX_EDITS 64
#define SIP_BUILD_ARENA 2048

/* An outgoing message is the received one plus a sorted list of byte-range
 * edits; untouched bytes are copied as they are, never re-serialised. */
struct sip_edit {
	uint32_t off;     /* offset in msg->buf */
	uint32_t del;     /* bytes removed at off */
	slice ins;        /* bytes inserted at off */
};

struct sip_builder {
	const struct sip_msg *msg;
	struct sip_edit edits[SIP_BUILD_MAX_EDITS];
	unsigned nedits;
	slice new_body;   /* replacement body, when has_new_body */
	bool has_new_body;
	char arena[SIP_BUILD_ARENA]; /* copies of formatted insertions */
	size_t arena_used;
	int error;        /* first error, reported by sip_build_finish */
};

void sip_build_init(struct sip_builder *b, const struct sip_msg *msg);
/* Range edits: at / range must point into msg->buf. Edits may not overlap. */
void sip_build_insert(struct sip_builder *b, const char *at, slice text);
void sip_build_replace(struct sip_builder *b, slice range, slice text);
void sip_build_delete(struct sip_builder *b, slice range);
/* Formats text into the builder's arena and inserts it. */
void sip_build_insertf(struct sip_builder *b, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Header-level edits. A new header goes before the first header with id
 * "before" (or at the end of the headers when that is absent / SIP_H_OTHER);
 * text is "Name: value" without CRLF. */
void sip_build_add_header(struct sip_builder *b, enum sip_hdr_id before,
			  slice text);
void sip_build_remove_header(struct sip_builder *b, const struct sip_hdr *h);
/* Replace the body; Content-Length is rewritten (or added) to match. */
void sip_build_set_body(struct sip_builder *b, slice body);
/* Writes the result; 0, -ENOSPC when cap is too small, or the first error
 * of an earlier call (-E2BIG too many edits, -EINVAL overlapping edits). */
int sip_build_finish(struct sip_builder *b, char *out, size_t cap, size_t *len);

/* The reason phrase of RFC 3261 §21 for the codes pinhole answers with;
 * "OK" or "Error" for others. */
const char *sip_reason_phrase(unsigned code);
/* A response to req built from scratch (RFC 3261 §8.2.6): Via (all, with
 * the top one as given in top_via if not empty), From, To (a To tag added
 * when the request has none and code > 100), Call-ID, CSeq, then extra
 * (complete header lines, each ending in CRLF, may be NULL), then
 * "Content-Length: 0". 0 or -ENOSPC. */
int sip_reply_build(const struct sip_msg *req, unsigned code, const char *reason,
		    slice top_via, slice to_tag, const char *extra, char *out,
		    size_t cap, size_t *len);

/* ---- NAT detection (Kamailio nathelper's nat_uac_test bits) ----------- */

enum sip_nat_test {
	SIP_NAT_CONTACT_PRIVATE = 1,   /* Contact host is a private address */
	SIP_NAT_VIA_HOST_DIFFERS = 2,  /* top Via host is not the source IP */
	SIP_NAT_VIA_PRIVATE = 4,       /* top Via host is a private address */
	SIP_NAT_SDP_PRIVATE = 8,       /* an SDP c= address is private */
	SIP_NAT_VIA_PORT_DIFFERS = 16, /* top Via port is not the source port */
	SIP_NAT_SRC_PRIVATE = 32,      /* the source IP is private */
	SIP_NAT_ALL = 63,
};

/* Runs the tests selected by mask against msg received from src, whose
 * Contact list sip_contacts_parse left in *contacts (the Contact test looks
 * at its first values, those parsed before a defect included); returns
 * the bits that fired. Private means RFC 1918, 100.64.0.0/10 (RFC 6598) and
 * IPv6 unique-local fc00::/7. */
unsigned sip_nat_detect(const struct sip_msg *msg, const struct sip_contacts *contacts,
			const struct sockaddr *src, unsigned mask);
/* Whether a textual IPv4/IPv6 address is private (false for host names). */
bool sip_addr_is_private(slice host);
/* Whether host (a literal) is the same address as sa. */
bool sip_addr_equals(slice host, const struct sockaddr *sa);

/* ---- authentication (RFC 7616 Digest, qop=auth; sip/auth.c) ----------- */

/*
 * Nonces are stateless: hex of issue time, an issue sequence number (it
 * picks the nonce-count slot) and an HMAC-SHA256 (server secret) over both
 * and the client's IP address (not the port). The secret and the nonce-count slots live in shm
 * (sip_auth_init, master, before fork), so any worker checks any nonce;
 * slot updates are lock-free (compare-and-swap). Credentials without qop
 * (RFC 2069) are refused: pinhole always offers qop="auth", so only a
 * forger or a client that ignores the challenge would answer without it.
 * MD5-sess and SHA-256-sess are neither offered nor accepted. Nothing here
 * counts; errors of the lookup and a missing sip_auth_init are logged.
 */
enum sip_auth_alg { SIP_AUTH_MD5 = 0, SIP_AUTH_SHA256 = 1 };

/* HA1 = H(user ":" realm ":" password) in lower-case hex (32 or 64 chars
 * and a NUL). */
void sip_auth_ha1(enum sip_auth_alg alg, slice user, slice realm,
		  slice password, char out[65]);

/* Master, before fork: a random server secret and nc_slots nonce-count
 * slots (1 .. 2^24) in a shm table. Slots are handed out round-robin, two
 * per challenge, so a nonce goes stale early once 2 * challenges within
 * nonce_ttl exceed nc_slots. A second call keeps the existing table (the
 * nonces already issued stay valid) and returns 0. -EINVAL, or -ENOMEM
 * without a segment or space in it, or -EIO when no randomness. */
int sip_auth_init(unsigned nc_slots);

/* A subscriber's HA1 for alg: 0, -ENOENT (unknown user), or -errno. */
typedef int (*sip_auth_lookup_fn)(slice user, slice domain,
				  enum sip_auth_alg alg, char ha1_out[65],
				  void *arg);

enum sip_auth_result {
	SIP_AUTH_OK = 0,          /* credentials valid; *user set */
	SIP_AUTH_NO_CREDENTIALS,  /* no credentials for our realm: challenge */
	SIP_AUTH_STALE,           /* correct digest on an expired nonce (or
	                             one whose slot was reused): challenge
	                             with stale=true */
	SIP_AUTH_INVALID,         /* wrong response, forged/unknown nonce,
	                             replayed nc, no qop, unsupported
	                             qop/algorithm, uri mismatch, lookup
	                             error: challenge again, count a failure */
	SIP_AUTH_UNKNOWN_USER,    /* user not in the subscriber table */
	SIP_AUTH_MALFORMED,       /* credentials that do not parse, lack a
	                             mandatory parameter (username, nonce,
	                             uri, response; nc and cnonce with qop),
	                             or whose username is not a SIP user: 400 */
};

/*
 * Checks the Authorization (hdr = SIP_H_AUTHORIZATION) or
 * Proxy-Authorization (SIP_H_PROXY_AUTHORIZATION) credentials of msg for
 * realm. The first Digest credentials whose realm equals ours are used;
 * others are ignored, so unknown schemes give NO_CREDENTIALS (RFC 4475
 * regaut01); a Digest header that does not parse (or has no realm) gives
 * MALFORMED only when none is for our realm. domain: the domain of the user (To host for REGISTER,
 * From host otherwise), passed to lookup. src: the request's source
 * address (nonces are bound to its IP). now: CLOCK_REALTIME seconds.
 * *user_out: the username, a slice of msg, set once credentials for our
 * realm are well formed (else empty); the caller checks it matches the
 * To/From user. The caller absorbs retransmissions before calling: a
 * retransmitted request repeats its nc, which is a replay here.
 */
enum sip_auth_result sip_auth_check(const struct sip_msg *msg,
				    enum sip_hdr_id hdr, slice realm,
				    slice domain, const struct sockaddr *src,
				    int64_t now, unsigned nonce_ttl,
				    sip_auth_lookup_fn lookup, void *arg,
				    slice *user_out);

/*
 * Writes the WWW-Authenticate (401) or Proxy-Authenticate (proxy, 407)
 * lines, each ending in CRLF: SHA-256 first then MD5 (RFC 7616 §3.7), the
 * same realm, each with its own nonce, qop="auth", and stale=true when
 * asked. Returns the length, -ENOSPC, -EINVAL for a realm that cannot be
 * quoted as it is (quote, backslash, control character, empty),
 * -ENODEV before sip_auth_init, or -EIO when OpenSSL fails.
 */
int sip_auth_challenge(bool proxy, slice realm, bool stale,
		       const struct sockaddr *src, int64_t now, char *out,
		       size_t cap);
/* The same with one line per algs[i], in that order (nalgs >= 1). Some
 * clients answer only the first line and know only MD5 (sipp 3.6 fails
 * on a first SHA-256 line), so an operator may need MD5 first or alone;
 * credentials with either algorithm are accepted on any nonce. */
int sip_auth_challenge_algs(bool proxy, slice realm, bool stale,
			    const enum sip_auth_alg *algs, unsigned nalgs,
			    const struct sockaddr *src, int64_t now, char *out,
			    size_t cap);
struct pinhole_conf;
/* The challenges auth.realm and auth.algorithms of conf ask for, in order. */
int sip_auth_challenge_conf(const struct pinhole_conf *conf, bool proxy, bool stale,
			    const struct sockaddr *src, int64_t now, char *out, size_t cap);

/* ---- registrar (RFC 3261 §10.3) ---------------------------------------- */

struct pinhole_conf;
struct loc_handle;

/* Where a request came from, as the registrar and proxy need it. */
struct sip_source {
	const struct sockaddr *addr;
	uint8_t proto;     /* enum conf_proto */
	uint8_t socket;    /* index of the listen entry it arrived on */
	uint32_t conn_id;  /* TCP/TLS connection, 0 for UDP */
	unsigned nat;      /* NAT tests that fired (enum sip_nat_test) */
};

/* The answer to a REGISTER: code, reason (NULL = standard phrase) and the
 * extra header lines written into the caller's buffer. */
struct reg_reply {
	unsigned code;
	const char *reason;
	size_t extra_len;
};

/* Processes a REGISTER for a local domain, whose Contact list
 * sip_contacts_parse left in *contacts; fills *out and extra. */
void registrar_handle(const struct pinhole_conf *conf, const struct sip_msg *msg,
		      const struct sip_contacts *contacts, const struct sip_source *src,
		      char *extra, size_t cap, struct reg_reply *out);
/* Makes an AOR's change durable as db.location says: write-through commits
 * its snapshot to Berkeley DB now, write-back marks it dirty for the timer,
 * memory does nothing. Caller holds the AOR's lock. */
int registrar_persist_locked(const struct pinhole_conf *conf, struct loc_handle *h);
/* The location key of a SIP/SIPS URI: "user@host", host lower-cased,
 * user as written (never unescaped). Length, or -EINVAL. */
int sip_aor_key(const struct sip_uri *uri, char *buf, size_t cap);

/* ---- transactions (RFC 3261 §17; sip/tm_*.c) --------------------------- */

/*
 * A proxy transaction is one server transaction (the request received)
 * and its client branches (the copies forwarded), in a fixed table in shm
 * sized at start (tm.max_transactions), so a retransmission, a CANCEL, an
 * ACK or a response reaching any worker finds it. The table is split into
 * TM_STRIPES stripes, each with its own futex lock, free slots, hash
 * chains and timer wheel: everything about one transaction is under one
 * lock. Requests are matched by a hash of (top Via branch, sent-by) per
 * §17.2.3 (RFC 2543 fields when the branch lacks the cookie); responses in
 * O(1) by the slot, generation and branch index written into the branch
 * parameter of the Via pinhole adds. The timer process runs timers A–M
 * and sends retransmissions itself. Times are CLOCK_MONOTONIC ms.
 */
#define TM_STRIPES 64u         /* lock stripes of the table */
#define TM_MAX_BRANCHES 16     /* client branches of one transaction */

/* Master, before fork: a table of max transactions (rounded up to a
 * multiple of TM_STRIPES, cut down with a warning to an eighth of the
 * segment). 0, -ENODEV without a segment, -EEXIST when done already,
 * -ENOMEM, or shm_lock_register's error. */
int tm_init(uint32_t max_transactions);
/* Slots of the table (0 before tm_init), live transactions (a gauge). */
uint32_t tm_capacity(void);
uint64_t tm_active_count(void);
/* Every process that sends (SIP workers, timer) after fork: fds[i] is the
 * socket of listen entry i, -1 when none. */
void tm_sockets_set(const int *fds, unsigned n);
/* Timer process: runs every transaction timer due at now_ms. */
void tm_timer_run(const struct pinhole_conf *conf, int64_t now_ms);

/* Where a response to msg (received from src) is sent: the source
 * address, with the sent-by port unless rport was asked for or forced
 * (RFC 3261 §18.2.2, RFC 3581 §4) or the top Via is not UDP (a reliable
 * transport answers on the request's connection: its source port). */
void sip_reply_dest(const struct sip_msg *msg, const struct sockaddr *src,
		    bool force_rport, struct sockaddr_storage *dst);
/* The top via-parm of msg as a response carries it back: its parameters
 * but received/rport, then received= when src differs from the sent-by
 * host and rport= when asked for or forced. Length, 0 when it does not
 * fit or msg has no Via. */
size_t sip_reply_top_via(const struct sip_msg *msg, const struct sockaddr *src,
			 bool force_rport, char *out, size_t cap);
/* "ip" text and port of an AF_INET/AF_INET6 address; -EAFNOSUPPORT. */
int sip_sockaddr_text(const struct sockaddr *sa, char *ip, size_t iplen, uint16_t *port);
/* A To tag for a response generated to req: the same for its
 * retransmissions (a hash of Call-ID, From tag and top branch, mixed with
 * salt), prefix + 16 hex digits. */
size_t sip_reply_to_tag(const struct sip_msg *req, const char *prefix, uint64_t salt,
			char *out, size_t cap);

/* ---- proxy (RFC 3261 §16; sip/proxy*.c) -------------------------------- */

/* What the caller still has to send statelessly (code 0: nothing; the
 * proxy answered, forwarded or absorbed the request itself). */
struct proxy_reply {
	unsigned code;
	const char *reason;   /* NULL: the standard phrase */
	size_t extra_len;     /* header lines written into the caller's buffer */
};

/* A request that is not for the server itself and not a REGISTER for a
 * local domain: Route processing, loop detection, ACK/CANCEL matching,
 * proxy authentication, location lookup or relay, then forwarding in a
 * transaction. */
void proxy_request(const struct pinhole_conf *conf, const struct sip_msg *msg,
		   const struct sip_source *src, char *extra, size_t cap,
		   struct proxy_reply *out);
/* A response: matched to its client branch and handled per §16.7, or
 * dropped and counted. */
void proxy_response(const struct pinhole_conf *conf, const struct sip_msg *msg,
		    const struct sip_source *src);
/* Whether a request whose Request-URI names this server must still be
 * proxied: it carries a value of our Record-Route (a strict router before
 * us, §16.4) and a Route set. */
bool proxy_strict_routed(const struct pinhole_conf *conf, const struct sip_msg *msg);
/* Whether uri is this proxy: a local domain with no port or one of the
 * listen ports. */
bool proxy_uri_is_local(const struct pinhole_conf *conf, const struct sip_uri *uri);

#endif
