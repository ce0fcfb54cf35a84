/*
 * control_parse.c — the rtpproxy control protocol's parser and reply
 * formatter: pure functions from a datagram to a struct rtpp_cmd and from
 * results to reply text, so the unit tests drive them without sockets or
 * shm. Commands, argument counts, modifiers and E-codes follow rtpproxy
 * (protocol 20040107 with the 20050322 media numbers "tag;N" that
 * Kamailio's rtpproxy module sends). Called by control.c in the relay
 * workers; no locks, no state.
 */
#include "control_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

/* Argument counts (command token included, cookie excluded). rtpproxy
 * also takes L without the to tag; pinhole names the answering leg by its
 * tag, so L wants both (E1 otherwise, as Kamailio always sends both). */
struct rtpp_shape {
	enum rtpp_op op;
	unsigned min, max;
};

void rtpp_addr_from_sockaddr(const struct sockaddr *sa, struct relay_addr *out)
{
	*out = (struct relay_addr){ 0 };
	netaddr_split(sa, &out->family, &out->port, out->addr);
}

static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Splits into tokens; returns the count, or RTPP_MAX_TOKENS + 2 when
 * there are more than the cookie and RTPP_MAX_TOKENS. */
static unsigned tokenize(slice d, slice *tok)
{
	const char *p = d.p, *end = slice_end(d), *start;
	unsigned n = 0;

	for (;;) {
		while (p < end && is_sep(*p))
			p++;
		if (p == end)
			return n;
		if (n == RTPP_MAX_TOKENS + 1)
			return n + 1;
		start = p;
		while (p < end && !is_sep(*p))
			p++;
		tok[n++] = slice_between(start, p);
	}
}

/* false for a command pinhole does not know. */
static bool shape_of(slice cmd, struct rtpp_shape *s, slice *mods)
{
	char c = cmd.p[0] | 0x20;

	*mods = slice_make(cmd.p + 1, cmd.len - 1);
	switch (c) {
	case 'v':
		if (cmd.len > 1 && (cmd.p[1] | 0x20) == 'f') {
			*mods = slice_make(cmd.p + 2, cmd.len - 2);
			*s = (struct rtpp_shape){ RTPP_OP_FEATURE, 2, 2 };
		} else {
			*s = (struct rtpp_shape){ RTPP_OP_VERSION, 1, 1 };
		}
		return true;
	case 'u': *s = (struct rtpp_shape){ RTPP_OP_UPDATE, 5, 8 }; return true;
	case 'l': *s = (struct rtpp_shape){ RTPP_OP_LOOKUP, 6, 6 }; return true;
	case 'd': *s = (struct rtpp_shape){ RTPP_OP_DELETE, 3, 4 }; return true;
	case 'q': *s = (struct rtpp_shape){ RTPP_OP_QUERY, 3, 4 + RTPP_MAX_STATS }; return true;
	case 'i': *s = (struct rtpp_shape){ RTPP_OP_INFO, 1, 1 }; return true;
	case 'x': *s = (struct rtpp_shape){ RTPP_OP_DELETE_ALL, 1, 1 }; return true;
	default: return false;
	}
}

/* "TAG" or "TAG;N" with N >= 1. */
static int parse_tag(slice t, struct rtpp_tag *out)
{
	const char *semi = memchr(t.p, ';', t.len);
	uint32_t n;

	out->medianum = 0;
	out->tag = t;
	if (!semi)
		return 0;
	out->tag = slice_between(t.p, semi);
	if (out->tag.len == 0 ||
	    slice_to_u32(slice_between(semi + 1, slice_end(t)), 1000, &n) < 0 || n == 0)
		return RTPP_E_SYNTAX;
	out->medianum = n;
	return 0;
}

static const char *skip_digits(const char *p, const char *end, const char *also)
{
	while (p < end && ((*p >= '0' && *p <= '9') || (*p && strchr(also, *p))))
		p++;
	return p;
}

/* The address after an 'l' or 'r' modifier: "[IPv6]" or digits, dots and
 * colons. Returns its end, or p when there is none. */
static const char *skip_addr(const char *p, const char *end)
{
	const char *close;

	if (p < end && *p == '[') {
		close = memchr(p, ']', (size_t)(end - p));
		return close && close > p + 1 ? close + 1 : p;
	}
	return skip_digits(p, end, ".:");
}

/* U/L modifiers. Those that change nothing in pinhole's relay (a, s, w, n:
 * asymmetric, symmetric, weak, new port; c: codecs; z: ptime; l, r: local
 * or remote address, pinhole having one relay address) are checked like
 * rtpproxy checks them and ignored; e/i ask for bridging between two
 * interfaces, which pinhole does not do; unknown letters are ignored. */
static int parse_ul_mods(slice m, struct rtpp_cmd *cmd)
{
	const char *p = m.p, *end = slice_end(m), *q;

	while (p < end) {
		char c = *p++ | 0x20;

		if (c == '6') {
			cmd->ipv6 = true;
		} else if (c == 'e' || c == 'i') {
			return c == 'e' ? RTPP_E_UL_EXTERNAL : RTPP_E_UL_INTERNAL;
		} else if (c == 'z') {
			q = skip_digits(p, end, "");
			if (q == p || (q == p + 1 && *p == '0'))
				return RTPP_E_UL_PTIME;
			p = q;
		} else if (c == 'c') {
			q = skip_digits(p, end, ",");
			if (q == p)
				return RTPP_E_UL_CODECS;
			p = q;
		} else if (c == 'l' || c == 'r') {
			q = skip_addr(p, end);
			if (q == p)
				return c == 'l' ? RTPP_E_UL_LOCAL : RTPP_E_UL_REMOTE;
			p = q;
		}
	}
	return 0;
}

static int parse_mods(const struct rtpp_shape *s, slice m, struct rtpp_cmd *cmd)
{
	for (uint32_t i = 0; i < m.len; i++) {
		char c = m.p[i] | 0x20;

		switch (s->op) {
		case RTPP_OP_DELETE:
			if (c != 'w')
				return RTPP_E_D_MOD;
			break;
		case RTPP_OP_QUERY:
			if (c != 'v')
				return RTPP_E_Q_MOD;
			cmd->verbose = true;
			break;
		case RTPP_OP_INFO:
			if (c != 'b')
				return RTPP_E_I_MOD;
			break;
		default:
			return RTPP_E_MODS;
		}
	}
	return 0;
}

/* U: notify socket and tag may follow the tags (7 arguments: no to_tag). */
static int parse_args(struct rtpp_cmd *cmd, const slice *a, unsigned n)
{
	int rc = 0;

	switch (cmd->op) {
	case RTPP_OP_FEATURE:
		cmd->feature = a[1];
		return 0;
	case RTPP_OP_UPDATE:
	case RTPP_OP_LOOKUP:
		cmd->call_id = a[1];
		cmd->addr = a[2];
		cmd->port = a[3];
		rc = parse_tag(a[4], &cmd->from);
		if (rc == 0 && (n == 6 || n == 8))
			rc = parse_tag(a[5], &cmd->to);
		return rc;
	case RTPP_OP_DELETE:
	case RTPP_OP_QUERY:
		cmd->call_id = a[1];
		rc = parse_tag(a[2], &cmd->from);
		if (rc == 0 && n > 3)
			rc = parse_tag(a[3], &cmd->to);
		for (unsigned i = 4; i < n; i++)
			cmd->stats[cmd->nstats++] = a[i];
		return rc;
	default:
		return 0;
	}
}

/* The command of a datagram whose cookie is set; false when it is
 * malformed, with cmd->ecode set. */
static bool parse_command(const slice *tok, unsigned n, struct rtpp_cmd *cmd)
{
	struct rtpp_shape shape;
	slice mods;
	int rc;

	if (n == 1) {
		cmd->ecode = RTPP_E_SYNTAX;
		return false;
	}
	if (!shape_of(tok[1], &shape, &mods)) {
		cmd->ecode = RTPP_E_UNKNOWN_CMD;
		return false;
	}
	cmd->op = shape.op;
	cmd->mods = mods;
	if (n - 1 < shape.min || n - 1 > shape.max)
		rc = RTPP_E_NARGS;
	else if (shape.op == RTPP_OP_UPDATE || shape.op == RTPP_OP_LOOKUP)
		rc = parse_ul_mods(mods, cmd);
	else
		rc = parse_mods(&shape, mods, cmd);
	if (rc == 0)
		rc = parse_args(cmd, tok + 1, n - 1);
	cmd->ecode = rc;
	return rc == 0;
}

int rtpp_parse(slice dgram, struct rtpp_cmd *cmd)
{
	slice tok[RTPP_MAX_TOKENS + 2];
	unsigned n = tokenize(dgram, tok);

	*cmd = (struct rtpp_cmd){ 0 };
	if (n == 0)
		return -EINVAL;
	cmd->cookie = tok[0];
	return parse_command(tok, n, cmd) ? 0 : -EPROTO;
}

/* 20040107 basic protocol, 20050322 several streams per call ("tag;N"),
 * 20060704 the VF command itself, 20080403 the Q command. Not offered:
 * re-packetization, copying, codecs in U/L (ignored), timeout
 * notifications, bridging, load, G counters, Un/Ln, extended Q. */
bool rtpp_feature_supported(slice date)
{
	static const char *const have[] = { "20040107", "20050322", "20060704", "20080403" };

	for (size_t i = 0; i < ARRAY_LEN(have); i++)
		if (slice_eq(date, slice_cstr(have[i])))
			return true;
	return false;
}

static void parse_addr(const struct rtpp_cmd *cmd, struct relay_addr *a)
{
	char text[INET6_ADDRSTRLEN];
	uint32_t port;
	int af = cmd->ipv6 ? AF_INET6 : AF_INET;

	*a = (struct relay_addr){ 0 };
	if (cmd->addr.len >= sizeof(text) ||
	    slice_to_u32(cmd->port, 65535, &port) < 0)
		return;
	slice_copy_cstr(cmd->addr, text, sizeof(text));
	if (inet_pton(af, text, a->addr) != 1)
		return;
	a->family = (uint8_t)af;
	a->port = (uint16_t)port;
}

static bool addr_is_null(const struct relay_addr *a)
{
	static const uint8_t zero[16];

	return a->family != 0 &&
	       (a->port == 0 || memcmp(a->addr, zero, a->family == AF_INET ? 4 : 16) == 0);
}

/* U records the address for the from_tag party; L (the answer) for the
 * to_tag party, the session being found by from_tag as rtpproxy does. An
 * address that does not parse is left out, as rtpproxy leaves it: the leg
 * latches on its first packet. A null address or port 0 puts the party on
 * hold. */
int rtpp_ul_request(const struct rtpp_cmd *cmd, struct relay_req *r)
{
	const struct rtpp_tag *own = &cmd->from, *other = &cmd->to;
	unsigned medianum = cmd->from.medianum ? cmd->from.medianum : cmd->to.medianum;

	if (cmd->op == RTPP_OP_LOOKUP) {
		own = &cmd->to;
		other = &cmd->from;
	}
	*r = (struct relay_req){ .call_id = cmd->call_id, .tag = own->tag,
				 .other_tag = other->tag,
				 .media = medianum ? medianum - 1 : 0 };
	if (cmd->call_id.len > RELAY_MAX_CALL_ID || own->tag.len > RELAY_MAX_TAG ||
	    other->tag.len > RELAY_MAX_TAG)
		return RTPP_E_INVALID;
	parse_addr(cmd, &r->addr);
	if (cmd->op == RTPP_OP_UPDATE)
		r->flags |= RELAY_F_CREATE;
	if (addr_is_null(&r->addr))
		r->flags |= RELAY_F_NO_RECV;
	return 0;
}

int rtpp_ul_ecode(enum rtpp_op op, int err)
{
	bool create = op == RTPP_OP_UPDATE;

	switch (err) {
	case -ENOSPC: return create ? RTPP_E_PORTS_NEW : RTPP_E_PORTS_OLD;
	case -ENOMEM: return create ? RTPP_E_NOMEM_NEW : RTPP_E_NOMEM_OLD;
	case -ENOENT: return RTPP_E_NO_SESSION;
	default: return RTPP_E_INVALID;
	}
}

static void reply_start(struct sbuf *b, slice cookie)
{
	b->len = 0;
	b->full = b->cap == 0;
	if (b->cap)
		b->p[0] = '\0';
	sbuf_add(b, cookie);
	sbuf_adds(b, " ");
}

void rtpp_reply_error(struct sbuf *b, slice cookie, int ecode)
{
	reply_start(b, cookie);
	sbuf_adds(b, "E");
	sbuf_add_uint(b, (uint64_t)ecode);
	sbuf_adds(b, "\n");
}

void rtpp_reply_number(struct sbuf *b, slice cookie, uint64_t n)
{
	reply_start(b, cookie);
	sbuf_add_uint(b, n);
	sbuf_adds(b, "\n");
}

void rtpp_reply_text(struct sbuf *b, slice cookie, const char *text)
{
	reply_start(b, cookie);
	sbuf_adds(b, text);
	sbuf_adds(b, "\n");
}

void rtpp_reply_port(struct sbuf *b, slice cookie, const struct relay_addr *local)
{
	char text[INET6_ADDRSTRLEN];

	if (!local || local->family == 0) {
		rtpp_reply_number(b, cookie, 0);
		return;
	}
	reply_start(b, cookie);
	sbuf_add_uint(b, local->port);
	if (inet_ntop(local->family, local->addr, text, sizeof(text))) {
		sbuf_adds(b, " ");
		sbuf_adds(b, text);
		if (local->family == AF_INET6)
			sbuf_adds(b, " 6");
	}
	sbuf_adds(b, "\n");
}

/* Counters of one stream as rtpproxy names them: packets received from
 * the from party (ina), from the other (ino), relayed in all, dropped in
 * all (a leg's packets are the forwarded ones, dropped the others). */
static bool query_value(slice name, const struct relay_info *s, unsigned from,
			int64_t ttl, uint64_t *v)
{
	const struct relay_leg_info *a = &s->leg[from], *o = &s->leg[1 - from];

	if (slice_eq(name, SLICE_LIT("ttl")))
		*v = ttl > 0 ? (uint64_t)ttl : 0;
	else if (slice_eq(name, SLICE_LIT("npkts_ina")))
		*v = a->packets + a->dropped;
	else if (slice_eq(name, SLICE_LIT("npkts_ino")))
		*v = o->packets + o->dropped;
	else if (slice_eq(name, SLICE_LIT("nrelayed")))
		*v = a->packets + o->packets;
	else if (slice_eq(name, SLICE_LIT("ndropped")))
		*v = a->dropped + o->dropped;
	else
		return false;
	return true;
}

int rtpp_reply_query(struct sbuf *b, const struct rtpp_cmd *cmd,
		     const struct relay_info *s, unsigned from_leg, int64_t ttl)
{
	static const slice plain[] = { SLICE_LIT("ttl"), SLICE_LIT("npkts_ina"),
				       SLICE_LIT("npkts_ino"), SLICE_LIT("nrelayed"),
				       SLICE_LIT("ndropped") };
	const slice *names = cmd->nstats ? cmd->stats : plain;
	unsigned n = cmd->nstats ? cmd->nstats : ARRAY_LEN(plain);
	uint64_t v;

	reply_start(b, cmd->cookie);
	for (unsigned i = 0; i < n; i++) {
		if (!query_value(names[i], s, from_leg, ttl, &v))
			return RTPP_E_Q_STAT;
		if (i)
			sbuf_adds(b, " ");
		if (cmd->verbose) {
			sbuf_add(b, names[i]);
			sbuf_adds(b, "=");
		}
		sbuf_add_uint(b, v);
	}
	sbuf_adds(b, "\n");
	return 0;
}

/* rtpproxy's I lines; a pinhole session is one stream, so "active
 * sessions" and "active streams" are the same count. */
void rtpp_reply_info(struct sbuf *b, slice cookie, const struct rtpp_info *in)
{
	reply_start(b, cookie);
	sbuf_adds(b, "sessions created: ");
	sbuf_add_uint(b, in->created);
	sbuf_adds(b, "\nactive sessions: ");
	sbuf_add_uint(b, in->active);
	sbuf_adds(b, "\nactive streams: ");
	sbuf_add_uint(b, in->active);
	sbuf_adds(b, "\npackets received: ");
	sbuf_add_uint(b, in->received);
	sbuf_adds(b, "\npackets transmitted: ");
	sbuf_add_uint(b, in->relayed);
	sbuf_adds(b, "\n");
}

/* Whether a NUL-terminated field of cap bytes holds exactly t. */
static bool field_is(const char *stored, size_t cap, slice t)
{
	size_t n = strnlen(stored, cap);

	return n == t.len && memcmp(stored, t.p, n) == 0;
}

static bool tag_is(const char *stored, slice t)
{
	return field_is(stored, sizeof(((struct relay_leg_info *)0)->tag), t);
}

bool rtpp_session_matches(const struct rtpp_cmd *cmd, const struct relay_info *s,
			  unsigned *from_leg)
{
	unsigned medianum = cmd->from.medianum ? cmd->from.medianum : cmd->to.medianum;

	if (!field_is(s->call_id, sizeof(s->call_id), cmd->call_id))
		return false;
	if (medianum && s->media != medianum - 1)
		return false;
	for (unsigned i = 0; i < 2; i++) {
		const char *o = s->leg[1 - i].tag;

		if (!tag_is(s->leg[i].tag, cmd->from.tag))
			continue;
		if (cmd->to.tag.len && *o && !tag_is(o, cmd->to.tag))
			continue;
		*from_leg = i;
		return true;
	}
	return false;
}
