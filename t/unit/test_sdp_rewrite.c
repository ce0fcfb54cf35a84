/*
 * test_sdp_rewrite.c — SDP bodies pointed at the media relay: o=, c= at
 * both levels, m= ports, a=rtcp, the marker, hold and direction flags,
 * IPv4 and IPv6, CRLF and LF bodies, a full buffer; and the body of a SIP
 * message replaced with its Content-Length fixed (sip_build_set_body, as
 * sip/proxy_media.c does it).
 */
#include "../../sip/sip.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

static char out[4096];

/* Replaces every "\r\n" of src with "\n" into dst. */
static void to_lf(const char *src, char *dst)
{
	for (; *src; src++) {
		if (src[0] != '\r' || src[1] != '\n')
			*dst++ = *src;
	}
	*dst = '\0';
}

/* Parses text, rewrites it to relay (ports p0, p1, ...) into out. */
static int rewrite(const char *text, const char *relay, bool v6, const uint16_t *ports,
		   unsigned n, struct sdp_session *s)
{
	struct sdp_relay r = { .addr = slice_cstr(relay), .ipv6 = v6 };
	const char *reason = NULL;
	struct sbuf b;
	int rc;

	for (unsigned i = 0; i < n; i++)
		r.port[i] = ports[i];
	rc = sdp_parse(slice_cstr(text), s, &reason);
	if (rc < 0) {
		tap_diag("parse: %s", reason);
		return rc;
	}
	sbuf_init(&b, out, sizeof(out));
	return sdp_relay_rewrite(slice_cstr(text), s, &r, &b);
}

static void same(const char *got, const char *want, const char *name)
{
	if (!OK(strcmp(got, want) == 0, "%s", name))
		tap_diag("got:\n%s\nwant:\n%s", got, want);
}

static const char offer[] =
	"v=0\r\n"
	"o=alice 2890844526 2890844527 IN IP4 10.0.2.15\r\n"
	"s=-\r\n"
	"c=IN IP4 10.0.2.15\r\n"
	"t=0 0\r\n"
	"m=audio 49170 RTP/AVP 0 8 101\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=rtcp:49171\r\n"
	"m=video 51372/2 RTP/AVPF 99\r\n"
	"c=IN IP4 192.168.1.7\r\n"
	"a=rtcp:53020 IN IP4 192.168.1.8\r\n"
	"a=recvonly\r\n";

static const char offer_relayed[] =
	"v=0\r\n"
	"o=alice 2890844526 2890844527 IN IP4 203.0.113.1\r\n"
	"s=-\r\n"
	"c=IN IP4 203.0.113.1\r\n"
	"t=0 0\r\n"
	"a=nortpproxy:yes\r\n"
	"m=audio 30000 RTP/AVP 0 8 101\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=rtcp:30001\r\n"
	"m=video 30004 RTP/AVPF 99\r\n"
	"c=IN IP4 203.0.113.1\r\n"
	"a=rtcp:30005 IN IP4 203.0.113.1\r\n"
	"a=recvonly\r\n";

static void test_ipv4_two_streams(void)
{
	static const uint16_t ports[] = { 30000, 30004 };
	struct sdp_session s, again;
	const char *reason;

	IS_INT(rewrite(offer, "203.0.113.1", false, ports, 2, &s), 0, "IPv4 offer rewritten");
	same(out, offer_relayed, "o=, both c=, both m= ports, both a=rtcp, marker before m=");
	OK(sdp_has_relay_marker(slice_cstr(out)), "the result carries the marker");
	OK(!sdp_has_relay_marker(slice_cstr(offer)), "the original does not");
	IS_INT(sdp_parse(slice_cstr(out), &again, &reason), 0, "the result parses");
	IS_INT(again.nmedia, 2, "with both streams");
	IS_SLICE(again.origin_version, "2890844527", "o= version kept (a pure function of the body)");
}

static void test_lf_body(void)
{
	static const uint16_t ports[] = { 30000, 30004 };
	static char lf[sizeof(offer)], want[sizeof(offer_relayed)];
	struct sdp_session s;

	to_lf(offer, lf);
	to_lf(offer_relayed, want);
	IS_INT(rewrite(lf, "203.0.113.1", false, ports, 2, &s), 0, "LF offer rewritten");
	same(out, want, "bare LF bodies keep bare LF, the marker too");
}

static void test_ipv6(void)
{
	static const char body[] =
		"v=0\r\n"
		"o=bob 1 2 IN IP6 fd00::15\r\n"
		"s=-\r\n"
		"c=IN IP6 fd00::15\r\n"
		"t=0 0\r\n"
		"m=audio 6000 RTP/AVP 0\r\n"
		"a=rtcp:6001 IN IP6 fd00::16\r\n";
	static const char want6[] =
		"v=0\r\n"
		"o=bob 1 2 IN IP6 2001:db8::1\r\n"
		"s=-\r\n"
		"c=IN IP6 2001:db8::1\r\n"
		"t=0 0\r\n"
		"a=nortpproxy:yes\r\n"
		"m=audio 31000 RTP/AVP 0\r\n"
		"a=rtcp:31001 IN IP6 2001:db8::1\r\n";
	static const char want4[] =
		"v=0\r\n"
		"o=bob 1 2 IN IP4 198.51.100.9\r\n"
		"s=-\r\n"
		"c=IN IP4 198.51.100.9\r\n"
		"t=0 0\r\n"
		"a=nortpproxy:yes\r\n"
		"m=audio 31000 RTP/AVP 0\r\n"
		"a=rtcp:31001 IN IP4 198.51.100.9\r\n";
	static const uint16_t ports[] = { 31000 };
	struct sdp_session s;
	struct sdp_party p;
	unsigned char want_addr[16];

	IS_INT(rewrite(body, "2001:db8::1", true, ports, 1, &s), 0, "IPv6 offer rewritten");
	same(out, want6, "c=IN IP6, o= and a=rtcp addresses to the IPv6 relay");
	sdp_media_party(&s, 0, &p);
	inet_pton(AF_INET6, "fd00::15", want_addr);
	OK(p.family == AF_INET6 && memcmp(p.addr, want_addr, 16) == 0,
	   "the party's IPv6 address reported");
	IS_INT(rewrite(body, "198.51.100.9", false, ports, 1, &s), 0, "IPv6 party, IPv4 relay");
	same(out, want4, "the address type follows the relay");
}

static void test_party(void)
{
	struct sdp_session s;
	struct sdp_party p;
	const char *reason;
	unsigned char a[4];

	sdp_parse(slice_cstr(offer), &s, &reason);
	sdp_media_party(&s, 0, &p);
	inet_pton(AF_INET, "10.0.2.15", a);
	OK(p.family == AF_INET && memcmp(p.addr, a, 4) == 0, "stream 0: session c= address");
	IS_INT(p.port, 49170, "stream 0: m= port");
	IS_INT(p.flags, 0, "stream 0: sendrecv, no flags");
	sdp_media_party(&s, 1, &p);
	inet_pton(AF_INET, "192.168.1.7", a);
	OK(p.family == AF_INET && memcmp(p.addr, a, 4) == 0, "stream 1: media c= address wins");
	IS_INT(p.port, 51372, "stream 1: port without the count");
	IS_INT(p.flags, SDP_PARTY_NO_SEND, "stream 1: recvonly -> NO_SEND");
}

/* The flags of stream 0 of a body with session c=ADDR and the attribute. */
static unsigned hold_flags(const char *addr, const char *attr, char *text, size_t cap)
{
	struct sdp_session s;
	struct sdp_party p;
	const char *reason;

	snprintf(text, cap, "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP%c %s\r\nt=0 0\r\n"
		 "m=audio 4000 RTP/AVP 0\r\n%s", strchr(addr, ':') ? '6' : '4', addr, attr);
	if (sdp_parse(slice_cstr(text), &s, &reason) < 0)
		return 99;
	sdp_media_party(&s, 0, &p);
	return p.flags;
}

static void test_hold_variants(void)
{
	static const uint16_t ports[] = { 30010 };
	char text[256];
	struct sdp_session s;

	IS_INT(hold_flags("0.0.0.0", "", text, sizeof(text)), SDP_PARTY_NO_RECV,
	       "c=0.0.0.0 -> NO_RECV");
	IS_INT(rewrite(text, "203.0.113.1", false, ports, 1, &s), 0, "hold by c=0.0.0.0 rewritten");
	OK(strstr(out, "c=IN IP4 0.0.0.0\r\n") && strstr(out, "m=audio 30010 ") &&
	   strstr(out, "o=- 1 1 IN IP4 203.0.113.1\r\n"),
	   "c=0.0.0.0 kept (the other side must see the hold), port and o= still relayed");
	IS_INT(hold_flags("10.0.0.1", "a=rtcp:9 IN IP4 0.0.0.0\r\n", text, sizeof(text)), 0,
	       "a=rtcp with 0.0.0.0 is no hold");
	IS_INT(rewrite(text, "203.0.113.1", false, ports, 1, &s), 0, "a=rtcp 0.0.0.0 rewritten");
	OK(strstr(out, "a=rtcp:30011 IN IP4 203.0.113.1\r\n") != NULL,
	   "a=rtcp 0.0.0.0 (as ICE agents write it) goes to the relay too");
	IS_INT(hold_flags("::", "", text, sizeof(text)), SDP_PARTY_NO_RECV, "c=IN IP6 :: -> NO_RECV");
	IS_INT(hold_flags("10.0.0.1", "a=sendonly\r\n", text, sizeof(text)), SDP_PARTY_NO_RECV,
	       "a=sendonly -> NO_RECV");
	IS_INT(rewrite(text, "203.0.113.1", false, ports, 1, &s), 0, "sendonly rewritten");
	OK(strstr(out, "a=sendonly\r\n") && strstr(out, "c=IN IP4 203.0.113.1\r\n"),
	   "a=sendonly passes through, c= relayed");
	IS_INT(hold_flags("10.0.0.1", "a=recvonly\r\n", text, sizeof(text)), SDP_PARTY_NO_SEND,
	       "a=recvonly -> NO_SEND");
	IS_INT(hold_flags("10.0.0.1", "a=inactive\r\n", text, sizeof(text)),
	       SDP_PARTY_NO_RECV | SDP_PARTY_NO_SEND, "a=inactive -> both");
	IS_INT(hold_flags("0.0.0.0", "a=sendrecv\r\n", text, sizeof(text)), SDP_PARTY_NO_RECV,
	       "c=0.0.0.0 wins over a=sendrecv");
	IS_INT(hold_flags("10.0.0.1", "a=sendrecv\r\n", text, sizeof(text)), 0,
	       "a=sendrecv: no flags (resume)");
}

static void test_marker(void)
{
	char with[sizeof(offer_relayed) + 64];

	OK(sdp_has_relay_marker(slice_cstr(offer_relayed)), "marker found before m=");
	snprintf(with, sizeof(with), "%sa=nortpproxy:yes", offer);
	OK(sdp_has_relay_marker(slice_cstr(with)), "marker found on the last line without line end");
	OK(!sdp_has_relay_marker(SLICE_LIT("v=0\r\ns=x a=nortpproxy:yes\r\n")),
	   "only at the start of a line");
	OK(!sdp_has_relay_marker(SLICE_LIT("v=0\na=nortpproxy")), "a truncated marker is none");
}

static void test_disabled_stream(void)
{
	static const char body[] =
		"v=0\r\no=- 5 5 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.0.0.1\r\n"
		"m=video 0 RTP/AVP 31\r\nc=IN IP4 10.0.0.1\r\na=rtcp:9\r\n"
		"m=audio 4100 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\n";
	static const char want[] =
		"v=0\r\no=- 5 5 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\na=nortpproxy:yes\r\n"
		"m=audio 30020 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\n"
		"m=video 0 RTP/AVP 31\r\nc=IN IP4 10.0.0.1\r\na=rtcp:9\r\n"
		"m=audio 30024 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\n";
	static const uint16_t ports[] = { 30020, 30030, 30024 };
	struct sdp_session s;

	IS_INT(rewrite(body, "192.0.2.1", false, ports, 3, &s), 0, "three streams, one refused");
	same(out, want, "port 0 stream left alone; the others get their own relay ports");
}

static void test_no_media_and_trailing_blank(void)
{
	static const char body[] = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nt=0 0\n\n";
	static const char want[] = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\na=nortpproxy:yes\n\n";
	struct sdp_session s;
	const char *reason;

	IS_INT(rewrite(body, "192.0.2.1", false, NULL, 0, &s), 0, "no m= lines");
	same(out, want, "marker after the last line, before the trailing blank line");
	IS_INT(sdp_parse(slice_cstr(out), &s, &reason), 0, "which still parses");
}

/* Every stream with its own c= and an a=rtcp address: four edits each,
 * on all SDP_MAX_MEDIA streams (the last streams and the marker were
 * dropped, the edit list being too short; t/fuzz/fuzz_media.c aborts on
 * such a body). */
static void test_all_streams_full(void)
{
	char body[2048] = "v=0\r\no=- 5 5 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n";
	uint16_t ports[SDP_MAX_MEDIA];
	struct sdp_session s, again;
	const char *reason;
	char line[128];

	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++) {
		snprintf(line, sizeof(line),
			 "m=audio %u RTP/AVP 0\r\nc=IN IP4 10.0.1.%u\r\na=rtcp:%u IN IP4 10.0.1.%u\r\n",
			 4000 + 2 * i, i, 4001 + 2 * i, i);
		strcat(body, line);
		ports[i] = (uint16_t)(30000 + 2 * i);
	}
	IS_INT(rewrite(body, "192.0.2.1", false, ports, SDP_MAX_MEDIA, &s), 0,
	       "%d streams with c= and a=rtcp addresses", SDP_MAX_MEDIA);
	OK(sdp_has_relay_marker(slice_cstr(out)), "the marker is there");
	IS_INT(sdp_parse(slice_cstr(out), &again, &reason), 0, "the result parses");
	IS_INT(again.media[SDP_MAX_MEDIA - 1].port, 30014, "the last stream has its relay port");
	IS_SLICE(again.media[SDP_MAX_MEDIA - 1].conn.address, "192.0.2.1", "and the relay's c=");
	IS_INT(again.media[SDP_MAX_MEDIA - 1].rtcp_port, 30015, "and its a=rtcp port");
	IS_SLICE(again.media[SDP_MAX_MEDIA - 1].rtcp_addr, "192.0.2.1", "and a=rtcp address");
	OK(strstr(out, "10.0.1.") == NULL, "no party address is left");
}

static void test_full_buffer(void)
{
	struct sdp_relay r = { .addr = SLICE_LIT("203.0.113.1"), .port = { 30000, 30004 } };
	struct sdp_session s;
	const char *reason;
	struct sbuf b;
	char small[64];

	sdp_parse(slice_cstr(offer), &s, &reason);
	sbuf_init(&b, small, sizeof(small));
	IS_INT(sdp_relay_rewrite(slice_cstr(offer), &s, &r, &b), -ENOSPC, "a short buffer: -ENOSPC");
	sbuf_init(&b, out, strlen(offer_relayed) + 1);
	IS_INT(sdp_relay_rewrite(slice_cstr(offer), &s, &r, &b), 0, "an exact buffer is enough");
	IS_INT(b.len, strlen(offer_relayed), "and holds all of it");
}

/* The new body goes into a message with Content-Length fixed, the way
 * proxy_media.c replaces it in a forwarded copy. */
static void test_content_length(void)
{
	static const char msg_text[] =
		"INVITE sip:bob@192.0.2.7 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.2.15:5060;branch=z9hG4bK1\r\n"
		"From: <sip:alice@x>;tag=a\r\nTo: <sip:bob@x>\r\nCall-ID: c1\r\n"
		"CSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nl: %zu\r\n\r\n%s";
	static const uint16_t ports[] = { 30000, 30004 };
	static char text[2048], built[4096], body_copy[2048];
	static struct sip_msg m, again;
	static struct sip_builder b;
	struct sip_parse_status st;
	struct sdp_session s;
	size_t len;

	snprintf(text, sizeof(text), msg_text, strlen(offer), offer);
	IS_INT(sip_msg_parse(text, strlen(text), 0, &m, &st), 0, "INVITE with SDP parses");
	IS_INT(rewrite(offer, "203.0.113.1", false, ports, 2, &s), 0, "its body rewritten");
	memcpy(body_copy, out, strlen(out) + 1);
	sip_build_init(&b, &m);
	sip_build_set_body(&b, slice_cstr(body_copy));
	IS_INT(sip_build_finish(&b, built, sizeof(built), &len), 0, "message rebuilt");
	IS_INT(sip_msg_parse(built, len, SIP_PARSE_STREAM, &again, &st), 0,
	       "and parses with Content-Length mandatory");
	IS_INT(again.content_length, strlen(offer_relayed), "Content-Length is the new body's");
	IS_INT(again.body.len, strlen(offer_relayed), "body length agrees");
	OK(again.body.len && memcmp(again.body.p, offer_relayed, again.body.len) == 0,
	   "body is the relayed SDP");
}

int main(void)
{
	test_ipv4_two_streams();
	test_lf_body();
	test_ipv6();
	test_party();
	test_hold_variants();
	test_marker();
	test_disabled_stream();
	test_no_media_and_trailing_blank();
	test_all_streams_full();
	test_full_buffer();
	test_content_length();
	return tap_done();
}
