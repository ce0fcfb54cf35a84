/*
 * fuzz_media.c — libFuzzer harness for the two media parsers that take
 * bytes from the network: the first input byte picks the target (even: an
 * rtpproxy control datagram, relay/control_parse.c; odd: an SDP body,
 * sip/sdp.c and sip/sdp_rewrite.c), its other bits pick variants, the rest
 * is the input. Every reply and every rewrite is also written into heap
 * buffers cut to the exact size, one byte short and tiny, so that ASan sees
 * any write past the end; the stated invariants abort() when broken.
 * Built and run by `make fuzz` with ASan + UBSan; no shm, DB or OpenSSL.
 */
#include "../../relay/control_int.h"
#include "../../sip/sip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>

#define check(cond) do { if (!(cond)) abort(); } while (0)

/* ---- append buffers cut to size ----------------------------------------- */

/* Something that writes into an sbuf: a reply or a rewrite (which says
 * -ENOSPC when the buffer is full). */
struct job {
	int (*fn)(struct sbuf *b, const void *arg);
	const void *arg;
	bool says_full;
};

/* Runs job into a heap buffer of cap bytes; returns its rc, the text in
 * *copy (malloc'd, the caller frees it) unless copy is NULL. */
static int run_cut(const struct job *j, size_t cap, size_t *len, bool *full, char **copy)
{
	char *p = malloc(cap ? cap : 1);
	struct sbuf b;
	int rc;

	check(p);
	sbuf_init(&b, p, cap);
	rc = j->fn(&b, j->arg);
	check(cap == 0 || (b.len < cap && p[b.len] == '\0'));
	*len = b.len;
	*full = b.full;
	if (copy)
		*copy = p;
	else
		free(p);
	return rc;
}

/* The text job writes with room to spare must fit in exactly its length
 * plus the NUL, and must fail cleanly one byte short and in tiny buffers.
 * Returns the job's rc with the big buffer, its text in *text (malloc'd). */
static int fits_exactly(const struct job *j, size_t big, char **text, size_t *textlen)
{
	static const size_t tiny[] = { 0, 1, 2, 7, 16 };
	size_t len, len2;
	bool full;
	char *again;
	int rc, rc2;

	rc = run_cut(j, big, &len, &full, text);
	check(!full); /* big is always enough for the inputs here */
	*textlen = len;
	rc2 = run_cut(j, len + 1, &len2, &full, &again);
	check(rc2 == rc && !full && len2 == len && memcmp(again, *text, len) == 0);
	free(again);
	if (len == 0)
		return rc;
	rc2 = run_cut(j, len, &len2, &full, NULL);
	check(full && len2 < len && (!j->says_full || rc2 == -ENOSPC));
	for (size_t i = 0; i < ARRAY_LEN(tiny) && tiny[i] < len; i++) {
		rc2 = run_cut(j, tiny[i], &len2, &full, NULL);
		check(full && (!j->says_full || rc2 == -ENOSPC));
	}
	return rc;
}

/* ---- rtpproxy control -------------------------------------------------- */

static bool inside(slice s, slice d)
{
	return s.len == 0 || (s.p >= d.p && slice_end(s) <= slice_end(d));
}

struct reply_arg {
	const struct rtpp_cmd *cmd;
	int ecode;
	uint64_t number;
	const struct relay_addr *local;
	const struct relay_info *info;
	unsigned from_leg;
};

static int job_error(struct sbuf *b, const void *arg)
{
	const struct reply_arg *a = arg;

	rtpp_reply_error(b, a->cmd->cookie, a->ecode);
	return 0;
}

static int job_number(struct sbuf *b, const void *arg)
{
	const struct reply_arg *a = arg;

	rtpp_reply_number(b, a->cmd->cookie, a->number);
	return 0;
}

static int job_version(struct sbuf *b, const void *arg)
{
	const struct reply_arg *a = arg;

	rtpp_reply_text(b, a->cmd->cookie, RTPP_VERSION);
	return 0;
}

static int job_port(struct sbuf *b, const void *arg)
{
	const struct reply_arg *a = arg;

	rtpp_reply_port(b, a->cmd->cookie, a->local);
	return 0;
}

static int job_query(struct sbuf *b, const void *arg)
{
	const struct reply_arg *a = arg;

	return rtpp_reply_query(b, a->cmd, a->info, a->from_leg, 3600);
}

static int job_info(struct sbuf *b, const void *arg)
{
	static const struct rtpp_info in = { UINT64_MAX, 1, 12345, 0 };
	const struct reply_arg *a = arg;

	rtpp_reply_info(b, a->cmd->cookie, &in);
	return 0;
}

/* A reply fits exactly, starts with "COOKIE " and ends with "\n" (when
 * its builder succeeds). Returns the builder's rc. */
static int reply(int (*fn)(struct sbuf *, const void *), const struct reply_arg *a)
{
	struct job j = { fn, a, false };
	slice c = a->cmd->cookie;
	size_t len;
	char *text;
	int rc = fits_exactly(&j, c.len + RTPP_REPLY_MAX + 1024, &text, &len);

	if (rc == 0) {
		check(len > c.len + 2 && memcmp(text, c.p, c.len) == 0 && text[c.len] == ' ');
		check(text[len - 1] == '\n');
	}
	free(text);
	return rc;
}

/* The E-codes the parser gives malformed commands. */
static bool known_ecode(int e)
{
	static const int codes[] = { RTPP_E_UNKNOWN_CMD, RTPP_E_NARGS, RTPP_E_MODS,
				     RTPP_E_SYNTAX, RTPP_E_D_MOD, RTPP_E_UL_EXTERNAL,
				     RTPP_E_UL_INTERNAL, RTPP_E_UL_PTIME, RTPP_E_UL_CODECS,
				     RTPP_E_UL_LOCAL, RTPP_E_UL_REMOTE, RTPP_E_I_MOD,
				     RTPP_E_Q_MOD };

	for (size_t i = 0; i < ARRAY_LEN(codes); i++)
		if (codes[i] == e)
			return true;
	return false;
}

/* Every E-code a malformed command or a failed U/L can get. */
static void error_replies(const struct rtpp_cmd *cmd)
{
	static const int errs[] = { -ENOSPC, -ENOMEM, -ENOENT, -EINVAL, -EIO };
	struct reply_arg a = { .cmd = cmd, .ecode = cmd->ecode };

	check(known_ecode(cmd->ecode));
	(void)reply(job_error, &a);
	for (size_t i = 0; i < ARRAY_LEN(errs); i++) {
		a.ecode = rtpp_ul_ecode(cmd->op, errs[i]);
		check(a.ecode > 0);
		(void)reply(job_error, &a);
	}
}

/* The socket address of a parsed U/L address reads back as the same. */
static void check_sockaddr(const struct relay_addr *a)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct relay_addr back;

	if (a->family == AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->port);
		memcpy(&s4->sin_addr, a->addr, 4);
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		memcpy(&s6->sin6_addr, a->addr, 16);
	}
	rtpp_addr_from_sockaddr((const struct sockaddr *)&ss, &back);
	check(memcmp(&back, a, sizeof(back)) == 0);
}

static void use_ul(const struct rtpp_cmd *cmd)
{
	struct reply_arg a = { .cmd = cmd };
	static const uint8_t zero[16];
	struct relay_req r;
	int rc = rtpp_ul_request(cmd, &r);

	if (rc) {
		check(rc == RTPP_E_INVALID);
		return;
	}
	check(slice_eq(r.call_id, cmd->call_id) && r.media < 1000);
	check(r.tag.len <= RELAY_MAX_TAG && r.other_tag.len <= RELAY_MAX_TAG);
	check(!!(r.flags & RELAY_F_CREATE) == (cmd->op == RTPP_OP_UPDATE));
	if (r.addr.family) {
		check(r.addr.family == (cmd->ipv6 ? AF_INET6 : AF_INET));
		check(!!(r.flags & RELAY_F_NO_RECV) ==
		      (r.addr.port == 0 ||
		       !memcmp(r.addr.addr, zero, r.addr.family == AF_INET ? 4 : 16)));
		check_sockaddr(&r.addr);
	}
	a.local = &r.addr;
	(void)reply(job_port, &a);
	a.local = NULL;
	(void)reply(job_port, &a);
}

/* A session that carries the command's Call-ID and tags, when they fit
 * into relay_info, must match it; Q answers it with every counter name. */
static void use_query(const struct rtpp_cmd *cmd)
{
	static struct relay_info s;
	struct reply_arg a = { .cmd = cmd, .info = &s };
	unsigned medianum = cmd->from.medianum ? cmd->from.medianum : cmd->to.medianum;
	unsigned leg = 2;
	bool fits = cmd->call_id.len < sizeof(s.call_id) &&
		    cmd->from.tag.len < sizeof(s.leg[0].tag) &&
		    cmd->to.tag.len < sizeof(s.leg[0].tag);
	int rc;

	memset(&s, 0, sizeof(s));
	slice_copy_cstr(cmd->call_id, s.call_id, sizeof(s.call_id));
	slice_copy_cstr(cmd->to.tag, s.leg[0].tag, sizeof(s.leg[0].tag));
	slice_copy_cstr(cmd->from.tag, s.leg[1].tag, sizeof(s.leg[1].tag));
	s.media = medianum ? medianum - 1 : 0;
	s.leg[0].packets = UINT64_MAX / 4;
	s.leg[1].dropped = 7;
	if (rtpp_session_matches(cmd, &s, &leg))
		check(leg < 2);
	else
		check(!fits || memchr(cmd->call_id.p, '\0', cmd->call_id.len) ||
		      memchr(cmd->from.tag.p, '\0', cmd->from.tag.len) ||
		      memchr(cmd->to.tag.p, '\0', cmd->to.tag.len));
	a.from_leg = leg < 2 ? leg : 1;
	rc = reply(job_query, &a);
	check(rc == 0 || rc == RTPP_E_Q_STAT);
	check(rc == 0 || cmd->nstats);
}

static void use_cmd(const struct rtpp_cmd *cmd)
{
	struct reply_arg a = { .cmd = cmd };

	switch (cmd->op) {
	case RTPP_OP_FEATURE:
		a.number = rtpp_feature_supported(cmd->feature);
		(void)reply(job_number, &a);
		break;
	case RTPP_OP_UPDATE:
	case RTPP_OP_LOOKUP:
		use_ul(cmd);
		break;
	case RTPP_OP_DELETE:
	case RTPP_OP_QUERY:
		use_query(cmd);
		break;
	case RTPP_OP_INFO:
		(void)reply(job_info, &a);
		break;
	default:
		(void)reply(job_version, &a);
		break;
	}
}

static bool only_separators(slice d)
{
	for (uint32_t i = 0; i < d.len; i++)
		if (!strchr(" \t\r\n", d.p[i]) || d.p[i] == '\0')
			return false;
	return true;
}

static void fuzz_control(slice d)
{
	struct rtpp_cmd cmd;
	int rc = rtpp_parse(d, &cmd);

	check(rc == 0 || rc == -EPROTO || rc == -EINVAL);
	check((rc == -EINVAL) == only_separators(d));
	if (rc == -EINVAL)
		return;
	check(cmd.cookie.len && inside(cmd.cookie, d));
	check(inside(cmd.mods, d) && inside(cmd.call_id, d) && inside(cmd.addr, d) &&
	      inside(cmd.port, d) && inside(cmd.from.tag, d) && inside(cmd.to.tag, d) &&
	      inside(cmd.feature, d) && cmd.nstats <= RTPP_MAX_STATS);
	for (unsigned i = 0; i < cmd.nstats; i++)
		check(inside(cmd.stats[i], d));
	if (rc < 0) {
		error_replies(&cmd);
		return;
	}
	check(cmd.ecode == 0);
	use_cmd(&cmd);
}

/* ---- SDP ---------------------------------------------------------------- */

struct rewrite_arg {
	slice body;
	const struct sdp_session *s;
	const struct sdp_relay *r;
};

static int job_rewrite(struct sbuf *b, const void *arg)
{
	const struct rewrite_arg *a = arg;

	return sdp_relay_rewrite(a->body, a->s, a->r, b);
}

static bool is_hold(const struct sdp_conn *c)
{
	uint8_t bin[16], zero[16] = { 0 };
	char text[64];
	int af = slice_eq(c->addrtype, SLICE_LIT("IP6")) ? AF_INET6 : AF_INET;

	if (!c->present || c->address.len == 0 || c->address.len >= sizeof(text))
		return false;
	slice_copy_cstr(c->address, text, sizeof(text));
	return inet_pton(af, text, bin) == 1 &&
	       memcmp(bin, zero, af == AF_INET ? 4 : 16) == 0;
}

/* A c= the rewrite had to point at the relay now names it. */
static void check_conn(const struct sdp_conn *was, const struct sdp_conn *now,
		       const struct sdp_relay *r)
{
	check(was->present == now->present);
	if (!was->present)
		return;
	if (is_hold(was)) {
		check(slice_eq(was->address, now->address));
		return;
	}
	check(slice_eq(now->address, r->addr));
	check(slice_eq(now->addrtype, r->ipv6 ? SLICE_LIT("IP6") : SLICE_LIT("IP4")));
}

static void check_media(const struct sdp_media *was, const struct sdp_media *now,
			const struct sdp_relay *r, unsigned i)
{
	check(slice_eq(was->media, now->media) && slice_eq(was->proto, now->proto));
	check(was->nformats == now->nformats);
	check(!was->rtcp_line.len == !now->rtcp_line.len);
	if (!r->port[i] || !was->port) {
		check(now->port == was->port && now->nports == was->nports);
		check(now->rtcp_port == was->rtcp_port);
		return;
	}
	check(now->port == r->port[i] && now->nports == 1);
	check(!now->rtcp_line.len || now->rtcp_port == r->port[i] + 1);
	check(!was->rtcp_addr.len || slice_eq(now->rtcp_addr, r->addr));
	check_conn(&was->conn, &now->conn, r);
}

/* The rewritten body parses, carries the marker, keeps the streams and
 * their directions, and names the relay and its ports where it should. */
static void check_rewritten(slice text, const struct sdp_session *was,
			    const struct sdp_relay *r)
{
	static struct sdp_session now;
	const char *why;

	check(sdp_parse(text, &now, &why) == 0);
	check(sdp_has_relay_marker(text));
	check(now.nmedia == was->nmedia);
	check(slice_eq(now.origin_addr, r->addr));
	check(slice_eq(now.origin_version, was->origin_version));
	check_conn(&was->conn, &now.conn, r);
	for (unsigned i = 0; i < was->nmedia; i++) {
		check(sdp_media_direction(&now, i) == sdp_media_direction(was, i));
		check_media(&was->media[i], &now.media[i], r, i);
	}
}

static void check_party(const struct sdp_session *s, unsigned i)
{
	const struct sdp_conn *c = sdp_media_conn(s, i);
	enum sdp_direction dir = sdp_media_direction(s, i);
	struct sdp_party p;

	sdp_media_party(s, i, &p);
	check(p.port == s->media[i].port);
	check((p.flags & ~(SDP_PARTY_NO_RECV | SDP_PARTY_NO_SEND)) == 0);
	check(p.family == 0 || p.family == AF_INET || p.family == AF_INET6);
	check(p.family || c == NULL || !is_hold(c));
	check(!(c && is_hold(c)) || (p.flags & SDP_PARTY_NO_RECV));
	check(!!(p.flags & SDP_PARTY_NO_SEND) ==
	      (dir == SDP_DIR_RECVONLY || dir == SDP_DIR_INACTIVE));
	check(!(dir == SDP_DIR_SENDONLY || dir == SDP_DIR_INACTIVE) ||
	      (p.flags & SDP_PARTY_NO_RECV));
}

static bool marker_in(slice body)
{
	static const char name[] = "a=nortpproxy:";
	const char *at = memmem(body.p, body.len, name, sizeof(name) - 1);

	while (at && at != body.p && at[-1] != '\n') {
		const char *from = at + 1;

		at = memmem(from, (size_t)(slice_end(body) - from), name, sizeof(name) - 1);
	}
	return at != NULL;
}

/* Relay ports from the variant bits: even ports as the relay hands them
 * out, low or at the top of the range, some streams left alone. */
static void relay_ports(unsigned variant, struct sdp_relay *r)
{
	uint16_t base = variant & 2 ? 65534 - 2 * (SDP_MAX_MEDIA - 1) : 20000;

	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++)
		r->port[i] = (variant & 1) && i % 2 ? 0 : (uint16_t)(base + 2 * i);
}

static void fuzz_sdp(slice body, unsigned variant)
{
	static const char *const addrs[] = { "192.0.2.1", "2001:db8::1",
					     "255.255.255.255",
					     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" };
	static struct sdp_session s;
	struct rewrite_arg a = { .body = body, .s = &s };
	struct job j = { job_rewrite, &a, true };
	const char *why;
	size_t len;
	char *text;

	if (sdp_parse(body, &s, &why) < 0)
		return;
	check(s.nmedia <= SDP_MAX_MEDIA && inside(s.origin_addr, body));
	check(sdp_has_relay_marker(body) == marker_in(body));
	for (unsigned i = 0; i < s.nmedia; i++)
		check_party(&s, i);
	for (unsigned i = 0; i < ARRAY_LEN(addrs); i++) {
		struct sdp_relay r = { .addr = slice_cstr(addrs[i]), .ipv6 = i % 2 };

		relay_ports(variant, &r);
		a.r = &r;
		check(fits_exactly(&j, 3 * (size_t)body.len + 4096, &text, &len) == 0);
		check_rewritten(slice_make(text, len), &s, &r);
		free(text);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	slice rest;

	if (size == 0 || size - 1 > UINT32_MAX)
		return 0;
	rest = slice_make((const char *)data + 1, size - 1);
	if (data[0] & 1)
		fuzz_sdp(rest, data[0] >> 1);
	else
		fuzz_control(rest);
	return 0;
}
