/*
 * test_rtpp.c — the rtpproxy control protocol without sockets: the parser
 * (every command, modifiers, tag;N media numbers, malformed commands and
 * their E-codes), the mapping of U/L to relay requests, the reply texts,
 * session matching for Q, and the reply cache in shm (retransmissions,
 * pending commands, expiry, the source address in the key).
 */
#include "../../relay/control_int.h"
#include "../../conf/conf.h"
#include "../../shm/shm.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

static int parse(const char *text, struct rtpp_cmd *cmd)
{
	return rtpp_parse(slice_cstr(text), cmd);
}

/* The E-code of a malformed command, -1 for one that parses. */
static int ecode(const char *text)
{
	struct rtpp_cmd cmd;

	return parse(text, &cmd) == -EPROTO ? cmd.ecode : -1;
}

static struct relay_addr v4(const char *ip, uint16_t port)
{
	struct relay_addr a = { .family = AF_INET, .port = port };

	inet_pton(AF_INET, ip, a.addr);
	return a;
}

/* ---- parser ------------------------------------------------------------ */

static void test_parse_version(void)
{
	struct rtpp_cmd cmd;

	IS_INT(parse("abc V", &cmd), 0, "V parses");
	IS_SLICE(cmd.cookie, "abc", "cookie");
	IS_INT(cmd.op, RTPP_OP_VERSION, "V is the version command");
	IS_INT(parse("123_4 VF 20050322\n", &cmd), 0, "VF parses");
	IS_INT(cmd.op, RTPP_OP_FEATURE, "VF is the feature check");
	IS_SLICE(cmd.feature, "20050322", "feature date");
	IS_INT(parse("c vf 20040107", &cmd), 0, "lower-case vf");
	IS_INT(cmd.op, RTPP_OP_FEATURE, "vf is the feature check");
}

static void test_parse_update(void)
{
	struct rtpp_cmd cmd;

	IS_INT(parse("7_1 Uc0,8,101 call-1@host 10.0.0.1 4000 ftag;1 ttag;1", &cmd), 0,
	       "Kamailio's U with codecs, media numbers and both tags");
	IS_INT(cmd.op, RTPP_OP_UPDATE, "U is update");
	IS_SLICE(cmd.mods, "c0,8,101", "modifiers kept");
	IS_SLICE(cmd.call_id, "call-1@host", "call-id");
	IS_SLICE(cmd.addr, "10.0.0.1", "address");
	IS_SLICE(cmd.port, "4000", "port");
	IS_SLICE(cmd.from.tag, "ftag", "from tag without ;1");
	IS_INT(cmd.from.medianum, 1, "from media number");
	IS_SLICE(cmd.to.tag, "ttag", "to tag");
	IS_INT(cmd.to.medianum, 1, "to media number");

	IS_INT(parse("k U cid 10.0.0.1 4000 ftag", &cmd), 0, "U without to tag");
	IS_INT(cmd.to.tag.len, 0, "no to tag");
	IS_INT(cmd.from.medianum, 0, "no media number");
	IS_INT(parse("k U cid 10.0.0.1 4000 ftag;2 sock ntag", &cmd), 0,
	       "U with notify socket and tag, no to tag");
	IS_INT(cmd.to.tag.len, 0, "7 arguments: no to tag (rtpproxy's reading)");
	IS_INT(parse("k U cid 10.0.0.1 4000 ftag;2 ttag;2 sock ntag", &cmd), 0,
	       "U with to tag, notify socket and tag");
	IS_SLICE(cmd.to.tag, "ttag", "8 arguments: to tag");
	IS_INT(parse("k U6 cid ::1 4000 f", &cmd), 0, "U6 parses");
	OK(cmd.ipv6, "6 modifier: IPv6 address");
	IS_INT(parse("k UAswnz20r10.1.1.1l[::1]qy cid 1.2.3.4 4000 f", &cmd), 0,
	       "modifiers that change nothing and unknown ones are ignored");
	IS_INT(parse("k  \t L cid 10.0.0.2 5000 ftag;1 ttag;1\r\n", &cmd), 0,
	       "L with odd spacing");
	IS_INT(cmd.op, RTPP_OP_LOOKUP, "L is lookup");
}

static void test_parse_delete_query(void)
{
	struct rtpp_cmd cmd;

	IS_INT(parse("k D cid ftag", &cmd), 0, "D with one tag");
	IS_INT(cmd.op, RTPP_OP_DELETE, "D is delete");
	IS_INT(parse("k Dw cid ftag ttag", &cmd), 0, "Dw with two tags");
	IS_SLICE(cmd.to.tag, "ttag", "D to tag");
	IS_INT(parse("k Q cid ftag;1 ttag;1", &cmd), 0, "Q");
	IS_INT(cmd.op, RTPP_OP_QUERY, "Q is query");
	OK(!cmd.verbose, "Q not verbose");
	IS_INT(parse("k Qv cid ftag ttag ttl nrelayed", &cmd), 0, "Qv with counter names");
	OK(cmd.verbose, "Qv verbose");
	IS_INT(cmd.nstats, 2, "two counter names");
	IS_SLICE(cmd.stats[1], "nrelayed", "second counter name");
	IS_INT(parse("k I", &cmd), 0, "I");
	IS_INT(cmd.op, RTPP_OP_INFO, "I is info");
	IS_INT(parse("k Ib", &cmd), 0, "Ib (brief)");
	IS_INT(parse("k X", &cmd), 0, "X");
	IS_INT(cmd.op, RTPP_OP_DELETE_ALL, "X is delete all");
}

static void test_parse_malformed(void)
{
	struct rtpp_cmd cmd;

	IS_INT(parse("", &cmd), -EINVAL, "empty datagram: nothing to answer");
	IS_INT(parse(" \r\n", &cmd), -EINVAL, "blank datagram: nothing to answer");
	IS_INT(parse("lonely", &cmd), -EPROTO, "cookie only: malformed");
	IS_INT(cmd.ecode, RTPP_E_SYNTAX, "cookie only: E5");
	IS_SLICE(cmd.cookie, "lonely", "cookie kept for the error reply");
	IS_INT(ecode("k P cid pname codecs ftag"), RTPP_E_UNKNOWN_CMD, "play: unknown, E0");
	IS_INT(ecode("k R cid ftag"), RTPP_E_UNKNOWN_CMD, "record: unknown, E0");
	IS_INT(ecode("k Z"), RTPP_E_UNKNOWN_CMD, "Z: E0");
	IS_INT(ecode("k V 1"), RTPP_E_NARGS, "V with an argument: E1");
	IS_INT(ecode("k VF"), RTPP_E_NARGS, "VF without a date: E1");
	IS_INT(ecode("k Vx"), RTPP_E_MODS, "V with a modifier: E2");
	IS_INT(ecode("k VFx 20040107"), RTPP_E_MODS, "VF with a modifier: E2");
	IS_INT(ecode("k Xa"), RTPP_E_MODS, "X with a modifier: E2");
	IS_INT(ecode("k X cid"), RTPP_E_NARGS, "X with an argument: E1");
	IS_INT(ecode("k U cid 1.2.3.4 4000"), RTPP_E_NARGS, "U without tags: E1");
	IS_INT(ecode("k U a b c d e f g h"), RTPP_E_NARGS, "U with 8 arguments: E1");
	IS_INT(ecode("k L cid 1.2.3.4 4000 f t x"), RTPP_E_NARGS, "L with 6 arguments: E1");
	IS_INT(ecode("k L cid 1.2.3.4 4000 f"), RTPP_E_NARGS, "L without the to tag: E1");
	IS_INT(ecode("k D cid"), RTPP_E_NARGS, "D without tags: E1");
	IS_INT(ecode("k D cid a b c"), RTPP_E_NARGS, "D with 4 arguments: E1");
	IS_INT(ecode("k Q cid"), RTPP_E_NARGS, "Q without tags: E1");
	IS_INT(ecode("k I x"), RTPP_E_NARGS, "I with an argument: E1");
	IS_INT(ecode("k Ue cid 1.2.3.4 4000 f"), RTPP_E_UL_EXTERNAL, "Ue: no bridging, E11");
	IS_INT(ecode("k Ui cid 1.2.3.4 4000 f"), RTPP_E_UL_INTERNAL, "Ui: no bridging, E12");
	IS_INT(ecode("k Uz cid 1.2.3.4 4000 f"), RTPP_E_UL_PTIME, "z without ptime: E13");
	IS_INT(ecode("k Uz0 cid 1.2.3.4 4000 f"), RTPP_E_UL_PTIME, "z0: E13");
	IS_INT(ecode("k Uc cid 1.2.3.4 4000 f"), RTPP_E_UL_CODECS, "c without codecs: E14");
	IS_INT(ecode("k Ul cid 1.2.3.4 4000 f"), RTPP_E_UL_LOCAL, "l without address: E15");
	IS_INT(ecode("k Ur[] cid 1.2.3.4 4000 f"), RTPP_E_UL_REMOTE, "r[]: E16");
	IS_INT(ecode("k Dx cid f"), RTPP_E_D_MOD, "D with unknown modifier: E8");
	IS_INT(ecode("k Ix"), RTPP_E_I_MOD, "I with unknown modifier: E18");
	IS_INT(ecode("k Qx cid f"), RTPP_E_Q_MOD, "Q with unknown modifier: E19");
	IS_INT(ecode("k U cid 1.2.3.4 4000 f;0"), RTPP_E_SYNTAX, "media number 0: E5");
	IS_INT(ecode("k U cid 1.2.3.4 4000 f;x"), RTPP_E_SYNTAX, "media number not a number: E5");
	IS_INT(ecode("k D cid ;1"), RTPP_E_SYNTAX, "empty tag: E5");
	IS_INT(ecode("k Q cid f t a b c d e f g h i"), RTPP_E_NARGS, "Q with 9 counters: E1");
	IS_INT(ecode("k U 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22"),
	       RTPP_E_NARGS, "more tokens than any command takes: E1");
}

static void test_features(void)
{
	OK(rtpp_feature_supported(SLICE_LIT("20040107")), "20040107 basic protocol");
	OK(rtpp_feature_supported(SLICE_LIT("20050322")), "20050322 media numbers (Kamailio needs it)");
	OK(rtpp_feature_supported(SLICE_LIT("20060704")), "20060704 VF itself");
	OK(rtpp_feature_supported(SLICE_LIT("20080403")), "20080403 Q");
	OK(!rtpp_feature_supported(SLICE_LIT("20071116")), "no re-packetization");
	OK(!rtpp_feature_supported(SLICE_LIT("20081102")), "no codecs in U/L");
	OK(!rtpp_feature_supported(SLICE_LIT("20081224")), "no timeout notifications");
	OK(!rtpp_feature_supported(SLICE_LIT("20150420")), "no extended Q");
	OK(!rtpp_feature_supported(SLICE_LIT("2004010")), "a prefix is not a date");
}

/* ---- U/L to relay requests --------------------------------------------- */

static void test_ul_request(void)
{
	struct rtpp_cmd cmd;
	struct relay_req r;
	struct relay_addr want = v4("10.0.0.1", 4000);
	char longtag[RELAY_MAX_TAG + 2];

	parse("k U cid 10.0.0.1 4000 ftag;2 ttag;2", &cmd);
	IS_INT(rtpp_ul_request(&cmd, &r), 0, "U maps");
	IS_SLICE(r.call_id, "cid", "U call-id");
	IS_SLICE(r.tag, "ftag", "U: the address is the from party's");
	IS_SLICE(r.other_tag, "ttag", "U: other tag");
	IS_INT(r.media, 1, "media number 2 is index 1");
	OK(memcmp(&r.addr, &want, sizeof(want)) == 0, "U address and port");
	IS_INT(r.flags, RELAY_F_CREATE, "U creates");

	parse("k L cid 10.0.0.2 5000 ftag;1 ttag;1", &cmd);
	IS_INT(rtpp_ul_request(&cmd, &r), 0, "L maps");
	IS_SLICE(r.tag, "ttag", "L: the address is the to party's");
	IS_SLICE(r.other_tag, "ftag", "L: other tag is the from tag");
	IS_INT(r.media, 0, "media number 1 is index 0");
	IS_INT(r.flags, 0, "L never creates");

	parse("k U cid 0.0.0.0 4000 f", &cmd);
	rtpp_ul_request(&cmd, &r);
	IS_INT(r.flags, RELAY_F_CREATE | RELAY_F_NO_RECV, "0.0.0.0: on hold");
	parse("k U cid 10.0.0.1 0 f", &cmd);
	rtpp_ul_request(&cmd, &r);
	IS_INT(r.flags, RELAY_F_CREATE | RELAY_F_NO_RECV, "port 0: on hold");
	parse("k U cid nonsense 4000 f", &cmd);
	IS_INT(rtpp_ul_request(&cmd, &r), 0, "an address that does not parse is not an error");
	IS_INT(r.addr.family, 0, "no first guess: latching decides");
	parse("k U cid 10.0.0.1 70000 f", &cmd);
	rtpp_ul_request(&cmd, &r);
	IS_INT(r.addr.family, 0, "port out of range: no first guess");
	parse("k U6 cid 2001:db8::1 4000 f", &cmd);
	rtpp_ul_request(&cmd, &r);
	IS_INT(r.addr.family, AF_INET6, "U6: IPv6 address");
	parse("k U cid 2001:db8::1 4000 f", &cmd);
	rtpp_ul_request(&cmd, &r);
	IS_INT(r.addr.family, 0, "IPv6 address without the 6 modifier is not taken");

	memset(longtag, 'a', sizeof(longtag) - 1);
	longtag[sizeof(longtag) - 1] = '\0';
	{
		char text[RELAY_MAX_TAG + 64];

		snprintf(text, sizeof(text), "k U cid 1.2.3.4 4000 %s", longtag);
		parse(text, &cmd);
		IS_INT(rtpp_ul_request(&cmd, &r), RTPP_E_INVALID, "tag too long: E31");
	}
}

static void test_ul_ecode(void)
{
	IS_INT(rtpp_ul_ecode(RTPP_OP_UPDATE, -ENOSPC), 72, "no ports for a new session: E72");
	IS_INT(rtpp_ul_ecode(RTPP_OP_LOOKUP, -ENOSPC), 71, "no ports for a lookup: E71");
	IS_INT(rtpp_ul_ecode(RTPP_OP_UPDATE, -ENOMEM), 84, "shm full creating: E84");
	IS_INT(rtpp_ul_ecode(RTPP_OP_LOOKUP, -ENOMEM), 81, "shm full updating: E81");
	IS_INT(rtpp_ul_ecode(RTPP_OP_UPDATE, -EINVAL), 31, "bad request: E31");
	IS_INT(rtpp_ul_ecode(RTPP_OP_UPDATE, -ENOENT), 50, "no session: E50");
}

/* ---- replies ----------------------------------------------------------- */

static void test_replies(void)
{
	char buf[512];
	struct sbuf b;
	struct relay_addr a = v4("192.0.2.7", 30002), a6 = { .family = AF_INET6, .port = 30004 };
	slice k = SLICE_LIT("4242_7");

	sbuf_init(&b, buf, sizeof(buf));
	rtpp_reply_port(&b, k, &a);
	IS_SLICE(slice_make(b.p, b.len), "4242_7 30002 192.0.2.7\n", "U/L reply: port and address");
	inet_pton(AF_INET6, "2001:db8::9", a6.addr);
	rtpp_reply_port(&b, k, &a6);
	IS_SLICE(slice_make(b.p, b.len), "4242_7 30004 2001:db8::9 6\n", "IPv6 reply ends in 6");
	rtpp_reply_port(&b, k, NULL);
	IS_SLICE(slice_make(b.p, b.len), "4242_7 0\n", "lookup miss: port 0");
	rtpp_reply_error(&b, k, 50);
	IS_SLICE(slice_make(b.p, b.len), "4242_7 E50\n", "error reply");
	rtpp_reply_text(&b, k, RTPP_VERSION);
	IS_SLICE(slice_make(b.p, b.len), "4242_7 20040107\n", "version reply");
	rtpp_reply_number(&b, k, 1);
	IS_SLICE(slice_make(b.p, b.len), "4242_7 1\n", "number reply");
	rtpp_reply_info(&b, k, &(struct rtpp_info){ 5, 2, 100, 90 });
	IS_SLICE(slice_make(b.p, b.len),
		 "4242_7 sessions created: 5\nactive sessions: 2\nactive streams: 2\n"
		 "packets received: 100\npackets transmitted: 90\n", "info reply");
}

static void fill_session(struct relay_info *s)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->call_id, "cid");
	s->media = 0;
	strcpy(s->leg[0].tag, "ftag");
	strcpy(s->leg[1].tag, "ttag");
	s->leg[0].packets = 100;
	s->leg[0].dropped = 3;
	s->leg[1].packets = 50;
	s->leg[1].dropped = 1;
}

static void test_query_reply(void)
{
	char buf[512];
	struct sbuf b;
	struct rtpp_cmd cmd;
	struct relay_info s;

	fill_session(&s);
	sbuf_init(&b, buf, sizeof(buf));
	parse("q1 Q cid ttag;1 ftag;1", &cmd);
	IS_INT(rtpp_reply_query(&b, &cmd, &s, 1, 42), 0, "Q reply");
	IS_SLICE(slice_make(b.p, b.len), "q1 42 51 103 150 4\n",
		 "ttl, packets received from the asking party and from the other, relayed, dropped");
	parse("q2 Qv cid ftag", &cmd);
	rtpp_reply_query(&b, &cmd, &s, 0, -5);
	IS_SLICE(slice_make(b.p, b.len), "q2 ttl=0 npkts_ina=103 npkts_ino=51 nrelayed=150 ndropped=4\n",
		 "verbose Q; an expired ttl is 0");
	parse("q3 Q cid ftag ttag nrelayed ttl", &cmd);
	rtpp_reply_query(&b, &cmd, &s, 0, 7);
	IS_SLICE(slice_make(b.p, b.len), "q3 150 7\n", "Q with counter names");
	parse("q4 Q cid ftag ttag rtpa_nlost", &cmd);
	IS_INT(rtpp_reply_query(&b, &cmd, &s, 0, 7), RTPP_E_Q_STAT, "unknown counter: E62");
}

static void test_session_matches(void)
{
	struct rtpp_cmd cmd;
	struct relay_info s;
	unsigned leg = 9;

	fill_session(&s);
	parse("k Q cid ftag;1 ttag;1", &cmd);
	OK(rtpp_session_matches(&cmd, &s, &leg) && leg == 0, "from tag on leg 0");
	parse("k Q cid ttag ftag", &cmd);
	OK(rtpp_session_matches(&cmd, &s, &leg) && leg == 1, "tags the other way round: leg 1");
	parse("k Q cid ftag;2", &cmd);
	OK(!rtpp_session_matches(&cmd, &s, &leg), "media number 2 is another session");
	parse("k Q cid ftag other", &cmd);
	OK(!rtpp_session_matches(&cmd, &s, &leg), "wrong to tag");
	parse("k Q cid2 ftag", &cmd);
	OK(!rtpp_session_matches(&cmd, &s, &leg), "wrong call-id");
	parse("k Q ci ftag", &cmd);
	OK(!rtpp_session_matches(&cmd, &s, &leg), "a call-id prefix is not the call-id");
	s.leg[1].tag[0] = '\0';
	parse("k Q cid ftag ttag", &cmd);
	OK(rtpp_session_matches(&cmd, &s, &leg), "a leg without tag yet matches any to tag");
}

static void test_addr_from_sockaddr(void)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(5060) };
	struct relay_addr a, want = v4("127.0.0.1", 5060);

	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	memset(&a, 0xff, sizeof(a));
	rtpp_addr_from_sockaddr((struct sockaddr *)&in, &a);
	OK(memcmp(&a, &want, sizeof(a)) == 0, "IPv4 source, padding cleared");
}

/* ---- reply cache --------------------------------------------------------- */

static void test_cache(void)
{
	struct relay_addr src = v4("127.0.0.1", 40000), other = v4("127.0.0.1", 40001);
	slice k = SLICE_LIT("77_1");
	char out[RTPP_REPLY_MAX];
	size_t len = 0;
	int64_t t = 1000000;

	IS_INT(rtpp_cache_begin(k, &src, t, out, sizeof(out), &len), RTPP_CACHE_NEW,
	       "without a cache every command is new");
	IS_INT(rtpp_cache_init(), -ENODEV, "no segment: no cache");
	IS_INT(shm_create(16u << 20), 0, "segment");
	IS_INT(rtpp_cache_init(), 0, "cache made");
	IS_INT(rtpp_cache_init(), -EEXIST, "only once");

	IS_INT(rtpp_cache_begin(k, &src, t, out, sizeof(out), &len), RTPP_CACHE_NEW, "first copy: new");
	IS_INT(rtpp_cache_begin(k, &src, t + 10, out, sizeof(out), &len), RTPP_CACHE_PENDING,
	       "a copy while the first runs: pending (dropped)");
	rtpp_cache_finish(k, &src, t + 20, "77_1 30000 1.2.3.4\n", 19);
	len = 0;
	IS_INT(rtpp_cache_begin(k, &src, t + 1000, out, sizeof(out), &len), RTPP_CACHE_HIT,
	       "retransmission: answered from the cache");
	IS_SLICE(slice_make(out, len), "77_1 30000 1.2.3.4\n", "the first reply");
	IS_INT(rtpp_cache_begin(k, &other, t + 1000, out, sizeof(out), &len), RTPP_CACHE_NEW,
	       "same cookie from another source: a new command");
	IS_INT(rtpp_cache_begin(k, &src, t + 20 + RTPP_CACHE_MS - 1, out, sizeof(out), &len),
	       RTPP_CACHE_HIT, "still cached just before 30 s");
	IS_INT(rtpp_cache_begin(k, &src, t + 20 + RTPP_CACHE_MS, out, sizeof(out), &len),
	       RTPP_CACHE_NEW, "after 30 s: a new command");
	IS_INT(rtpp_cache_begin(k, &src, t + 20 + RTPP_CACHE_MS + RTPP_PENDING_MS + 30, out,
				sizeof(out), &len),
	       RTPP_CACHE_NEW, "a pending copy whose executor died expires after 2 s");
}

static void test_cache_many(void)
{
	struct relay_addr src = v4("127.0.0.1", 40002);
	char cookie[32], out[RTPP_REPLY_MAX];
	size_t len = 0;
	unsigned hits = 0;
	int64_t t = 5000000;

	for (unsigned i = 0; i < 40; i++) {
		snprintf(cookie, sizeof(cookie), "c%u", i);
		rtpp_cache_begin(slice_cstr(cookie), &src, t, out, sizeof(out), &len);
		rtpp_cache_finish(slice_cstr(cookie), &src, t, cookie, strlen(cookie));
	}
	for (unsigned i = 0; i < 40; i++) {
		snprintf(cookie, sizeof(cookie), "c%u", i);
		if (rtpp_cache_begin(slice_cstr(cookie), &src, t + 1, out, sizeof(out), &len) ==
			    RTPP_CACHE_HIT &&
		    slice_eq(slice_make(out, len), slice_cstr(cookie)))
			hits++;
	}
	IS_INT(hits, 40, "40 recent commands all cached with their own replies");
	memset(cookie, 'x', sizeof(cookie));
	{
		char big[RTPP_COOKIE_MAX + 2];

		memset(big, 'y', sizeof(big));
		rtpp_cache_begin(slice_make(big, sizeof(big)), &src, t, out, sizeof(out), &len);
		IS_INT(rtpp_cache_begin(slice_make(big, sizeof(big)), &src, t, out, sizeof(out), &len),
		       RTPP_CACHE_NEW, "a cookie too long to cache is always new");
	}
}

/* The whole path without sockets for commands that touch no session. */
static size_t handle(const char *text, const struct relay_addr *src, char *out, size_t cap)
{
	static struct pinhole_conf conf;

	conf_defaults(&conf);
	return rtpp_handle(slice_cstr(text), src, &conf, 9000000, out, cap);
}

static void test_handle(void)
{
	struct relay_addr src = v4("127.0.0.1", 40003);
	char out[RTPP_REPLY_MAX + 64];
	uint64_t commands = stat_get(STAT_RELAY_CTL_COMMANDS);
	uint64_t errors = stat_get(STAT_RELAY_CTL_ERRORS);
	uint64_t retrans = stat_get(STAT_RELAY_CTL_RETRANSMITS);
	size_t n;

	n = handle("h1 V", &src, out, sizeof(out));
	IS_SLICE(slice_make(out, n), "h1 20040107\n", "V answered with the cookie");
	n = handle("h1 V", &src, out, sizeof(out));
	IS_SLICE(slice_make(out, n), "h1 20040107\n", "retransmitted V: the cached answer");
	IS_INT(stat_get(STAT_RELAY_CTL_RETRANSMITS) - retrans, 1, "one retransmission counted");
	n = handle("h2 VF 20050322", &src, out, sizeof(out));
	IS_SLICE(slice_make(out, n), "h2 1\n", "VF 20050322: 1");
	n = handle("h3 VF 20071116", &src, out, sizeof(out));
	IS_SLICE(slice_make(out, n), "h3 0\n", "VF 20071116: 0");
	n = handle("h4 Z", &src, out, sizeof(out));
	IS_SLICE(slice_make(out, n), "h4 E0\n", "unknown command: E0, not run");
	n = handle("h5", &src, out, sizeof(out));
	IS_SLICE(slice_make(out, n), "h5 E5\n", "cookie only: E5");
	n = handle("h6 Vx", &src, out, sizeof(out));
	IS_SLICE(slice_make(out, n), "h6 E2\n", "V with a modifier: E2");
	IS_INT(handle(" \n", &src, out, sizeof(out)), 0, "blank datagram: no answer");
	IS_INT(stat_get(STAT_RELAY_CTL_COMMANDS) - commands, 8, "every datagram counted");
	IS_INT(stat_get(STAT_RELAY_CTL_ERRORS) - errors, 4, "E answers and the blank one are errors");
	{
		char big[RTPP_REPLY_MAX + 100];

		memset(big, 'c', sizeof(big) - 3);
		memcpy(big + sizeof(big) - 3, " V", 3);
		IS_INT(handle(big, &src, out, sizeof(out)), 0,
		       "a cookie too long for any answer: nothing sent");
	}
}

int main(void)
{
	test_parse_version();
	test_parse_update();
	test_parse_delete_query();
	test_parse_malformed();
	test_features();
	test_ul_request();
	test_ul_ecode();
	test_replies();
	test_query_reply();
	test_session_matches();
	test_addr_from_sockaddr();
	test_cache();
	test_cache_many();
	test_handle();
	return tap_done();
}
