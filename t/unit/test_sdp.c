/*
 * test_sdp.c — sdp_parse, sdp_media_conn and sdp_media_direction: every
 * field, both line ends, session and media level, a=rtcp, the RFC 5118
 * IPv6 bodies, malformed lines and the limits.
 */
#include "../../sip/sip.h"
#include "tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const char *reason;

static int parse(const char *text, struct sdp_session *s)
{
	reason = NULL;
	return sdp_parse(slice_cstr(text), s, &reason);
}

/* Replaces every "\r\n" of src with "\n" into dst. */
static void to_lf(const char *src, char *dst)
{
	for (; *src; src++) {
		if (src[0] != '\r' || src[1] != '\n')
			*dst++ = *src;
	}
	*dst = '\0';
}

static const char offer[] =
	"v=0\r\n"
	"o=alice 2890844526 2890844527 IN IP4 10.0.2.15\r\n"
	"s=-\r\n"
	"c=IN IP4 10.0.2.15\r\n"
	"t=0 0\r\n"
	"a=sendonly\r\n"
	"m=audio 49170 RTP/AVP 0 8 101\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=rtcp:49171\r\n"
	"m=video 51372/2 RTP/AVPF 99\r\n"
	"c=IN IP4 192.168.1.7\r\n"
	"a=rtcp:53020 IN IP4 192.168.1.8\r\n"
	"a=rtcp-mux\r\n"
	"a=recvonly\r\n";

static void check_offer(const char *body, const char *name, const char *eol)
{
	struct sdp_session s;
	const struct sdp_media *a = &s.media[0], *v = &s.media[1];
	char want[128];

	IS_INT(parse(body, &s), 0, "offer (%s) parses", name);
	IS_SLICE(s.origin_line, "o=alice 2890844526 2890844527 IN IP4 10.0.2.15",
		 "%s: origin line without line end", name);
	IS_SLICE(s.origin_addr, "10.0.2.15", "%s: origin address", name);
	IS_SLICE(s.origin_version, "2890844527", "%s: origin version", name);
	OK(s.conn.present, "%s: session c= present", name);
	IS_SLICE(s.conn.line, "c=IN IP4 10.0.2.15", "%s: session c= line", name);
	IS_SLICE(s.conn.addrtype, "IP4", "%s: session addrtype", name);
	IS_SLICE(s.conn.address, "10.0.2.15", "%s: session address", name);
	IS_INT(s.direction, SDP_DIR_SENDONLY, "%s: session direction", name);
	IS_INT(s.nmedia, 2, "%s: two media", name);
	IS_SLICE(a->line, "m=audio 49170 RTP/AVP 0 8 101", "%s: audio m= line", name);
	IS_SLICE(a->media, "audio", "%s: media", name);
	IS_SLICE(a->port_s, "49170", "%s: port digits", name);
	IS_INT(a->port, 49170, "%s: port", name);
	IS_INT(a->nports, 1, "%s: nports default", name);
	IS_SLICE(a->proto, "RTP/AVP", "%s: proto", name);
	IS_INT(a->nformats, 3, "%s: three formats", name);
	IS_SLICE(a->formats[0], "0", "%s: format 0", name);
	IS_SLICE(a->formats[2], "101", "%s: format 2", name);
	OK(!a->conn.present, "%s: audio has no c=", name);
	IS_SLICE(a->rtcp_line, "a=rtcp:49171", "%s: rtcp line", name);
	IS_INT(a->rtcp_port, 49171, "%s: rtcp port", name);
	OK(slice_empty(a->rtcp_addr), "%s: rtcp without address", name);
	IS_INT(a->direction, SDP_DIR_NONE, "%s: audio has no direction", name);
	snprintf(want, sizeof(want),
		 "m=audio 49170 RTP/AVP 0 8 101%sa=rtpmap:101 telephone-event/8000%s"
		 "a=rtcp:49171%s", eol, eol, eol);
	IS_SLICE(a->block, want, "%s: audio block ends before the next m=", name);
	IS_SLICE(v->port_s, "51372", "%s: video port digits without /2", name);
	IS_INT(v->nports, 2, "%s: video nports", name);
	IS_SLICE(v->proto, "RTP/AVPF", "%s: video proto", name);
	IS_SLICE(v->conn.line, "c=IN IP4 192.168.1.7", "%s: media c= line", name);
	IS_SLICE(v->conn.address, "192.168.1.7", "%s: media address", name);
	IS_INT(v->rtcp_port, 53020, "%s: rtcp port with address", name);
	IS_SLICE(v->rtcp_addr, "192.168.1.8", "%s: rtcp address", name);
	IS_SLICE(v->rtcp_line, "a=rtcp:53020 IN IP4 192.168.1.8",
		 "%s: rtcp-mux is not rtcp", name);
	IS_INT(v->direction, SDP_DIR_RECVONLY, "%s: media direction", name);
	OK(slice_end(v->block) == body + strlen(body), "%s: last block runs to the end", name);
	OK(v->port_s.p == strstr(body, "51372"), "%s: port slice points into the body", name);
}

static void test_fields_crlf(void)
{
	check_offer(offer, "CRLF", "\r\n");
}

static void test_fields_lf(void)
{
	char lf[sizeof(offer)];

	to_lf(offer, lf);
	check_offer(lf, "LF", "\n");
}

static void test_effective_conn_and_direction(void)
{
	struct sdp_session s;

	parse(offer, &s);
	OK(sdp_media_conn(&s, 0) == &s.conn, "audio uses the session c=");
	OK(sdp_media_conn(&s, 1) == &s.media[1].conn, "video uses its own c=");
	OK(sdp_media_conn(&s, 5) == &s.conn, "out of range index gives the session c=");
	IS_INT(sdp_media_direction(&s, 0), SDP_DIR_SENDONLY, "audio inherits sendonly");
	IS_INT(sdp_media_direction(&s, 1), SDP_DIR_RECVONLY, "video keeps recvonly");

	IS_INT(parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n"
		     "m=audio 4000 RTP/AVP 0\r\n", &s), 0, "SDP without any c=");
	OK(sdp_media_conn(&s, 0) == NULL, "no c= anywhere gives NULL");
	IS_INT(sdp_media_direction(&s, 0), SDP_DIR_SENDRECV, "default is sendrecv");

	IS_INT(parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
		     "m=audio 4000 RTP/AVP 0\r\na=inactive\r\na=sendrecv\r\n", &s), 0,
	       "hold SDP parses");
	IS_SLICE(sdp_media_conn(&s, 0)->address, "0.0.0.0", "c=0.0.0.0 is not a defect");
	IS_INT(sdp_media_direction(&s, 0), SDP_DIR_INACTIVE, "first direction wins");
}

static void test_session_rtcp_ignored(void)
{
	struct sdp_session s;

	IS_INT(parse("v=0\no=- 1 1 IN IP4 h\na=rtcp:9\nm=audio 4000 RTP/AVP 0\n", &s), 0,
	       "session-level a=rtcp accepted");
	OK(slice_empty(s.media[0].rtcp_line), "and not given to the media");
	IS_INT(s.media[0].rtcp_port, 0, "rtcp port 0 when absent");
}

static void test_multicast_ttl(void)
{
	struct sdp_session s;

	IS_INT(parse("v=0\r\no=- 1 1 IN IP4 h\r\nc=IN IP4 224.2.1.1/127/3\r\n"
		     "m=audio 4000 RTP/AVP 0\r\nc=IN IP6 ff15::101/3\r\n", &s), 0,
	       "multicast c= parses");
	IS_SLICE(s.conn.address, "224.2.1.1", "ttl and count stripped");
	IS_SLICE(s.conn.line, "c=IN IP4 224.2.1.1/127/3", "line keeps the suffix");
	IS_SLICE(s.media[0].conn.address, "ff15::101", "IPv6 count stripped");
	IS_SLICE(s.media[0].conn.addrtype, "IP6", "IP6 addrtype");
}

static void test_line_ends(void)
{
	struct sdp_session s;

	IS_INT(parse("v=0\r\no=- 1 1 IN IP4 h\r\nm=audio 4000 RTP/AVP 0", &s), 0,
	       "last line without line end");
	IS_SLICE(s.media[0].line, "m=audio 4000 RTP/AVP 0", "its m= line");
	IS_INT(parse("v=0\r\no=- 1 1 IN IP4 h\r\nm=audio 4000 RTP/AVP 0\r\n\r\n\r\n", &s), 0,
	       "trailing blank lines tolerated");
	IS_INT(s.media[0].block.len, strlen("m=audio 4000 RTP/AVP 0\r\n\r\n\r\n"),
	       "block runs to the end of the body");
	IS_INT(parse("v=0\no=- 1 1 IN IP4 h\r\nm=audio 4000 RTP/AVP 0 \n", &s), 0,
	       "mixed line ends and a trailing space");
	IS_INT(s.media[0].nformats, 1, "trailing space adds no format");
}

static void test_ipv6_inline(void)
{
	struct sdp_session s;

	IS_INT(parse("v=0\r\no=bob 1 2 IN IP6 2001:db8::20\r\ns=-\r\n"
		     "c=IN IP6 ::ffff:192.0.2.2\r\nt=0 0\r\n"
		     "m=audio 6000 RTP/AVP 2\r\na=rtcp:6001 IN IP6 2001:db8::21\r\n", &s), 0,
	       "IPv6 SDP parses");
	IS_SLICE(s.origin_addr, "2001:db8::20", "IPv6 origin address");
	IS_SLICE(s.conn.address, "::ffff:192.0.2.2", "IPv4-mapped c= address");
	IS_SLICE(s.media[0].rtcp_addr, "2001:db8::21", "IPv6 rtcp address");
}

/* The body of a message file: after the first empty line. */
static int read_body(const char *name, char *buf, size_t cap, slice *body)
{
	const char *dir = getenv("CONFORMANCE_DIR");
	char path[512];
	const char *sep;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/rfc5118/%s", dir ? dir : "../shared/conformance",
		 name);
	f = fopen(path, "rb");
	if (!f)
		return -ENOENT;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	sep = strstr(buf, "\n\n");
	if (!sep)
		return -EINVAL;
	*body = slice_between(sep + 2, buf + n);
	return 0;
}

static void check_rfc5118(const char *name, const char *conn0, const char *conn1)
{
	struct sdp_session s;
	char buf[4096];
	slice body;

	if (read_body(name, buf, sizeof(buf), &body) < 0) {
		tap_skip("conformance file missing", "%s", name);
		return;
	}
	IS_INT(sdp_parse(body, &s, &reason), 0, "%s: body parses", name);
	IS_INT(s.nmedia, 2, "%s: two media", name);
	IS_SLICE(sdp_media_conn(&s, 0)->address, conn0, "%s: audio address", name);
	IS_SLICE(sdp_media_conn(&s, 1)->address, conn1, "%s: video address", name);
	IS_INT(s.media[1].port, 6024, "%s: video port", name);
}

static void test_rfc5118_files(void)
{
	check_rfc5118("ipv6-in-sdp.dat", "2001:db8::20", "2001:db8::20");
	check_rfc5118("mult-ip-in-sdp.dat", "192.0.2.1", "2001:db8::1");
	check_rfc5118("ipv4-mapped-ipv6.dat", "::ffff:192.0.2.2", "::ffff:192.0.2.2");
}

static void expect_defect(const char *body, int err, const char *what)
{
	struct sdp_session s;
	int rc = parse(body, &s);

	IS_INT(rc, err, "%s is a defect", what);
	OK(rc == 0 || (reason && *reason), "%s has a reason", what);
}

#define O "o=- 1 1 IN IP4 h\r\n"

static void test_malformed(void)
{
	expect_defect("", -EINVAL, "empty body");
	expect_defect("o=- 1 1 IN IP4 h\r\nv=0\r\n", -EINVAL, "o= before v=");
	expect_defect("v=1\r\n" O, -EINVAL, "v=1");
	expect_defect("v=0\r\n", -EINVAL, "missing o=");
	expect_defect("v=0\r\n" O O, -EINVAL, "duplicate o=");
	expect_defect("v=0\r\n" O "v=0\r\n", -EINVAL, "second v=");
	expect_defect("v=0\r\n" O "S=x\r\n", -EINVAL, "upper-case type letter");
	expect_defect("v=0\r\n" O "s x\r\n", -EINVAL, "line without '='");
	expect_defect("v=0\r\n" O "s\r\n", -EINVAL, "one-letter line");
	expect_defect("v=0\r\n" O "\r\ns=x\r\n", -EINVAL, "blank line in the middle");
	expect_defect("v=0\r\n" O "s=a\rb\r\n", -EINVAL, "bare CR inside a line");
	expect_defect("v=0\r\no=- 1 1 IN IP4\r\n", -EINVAL, "o= with five fields");
	expect_defect("v=0\r\no=- 1 x IN IP4 h\r\n", -EINVAL, "o= version not a number");
	expect_defect("v=0\r\no=- 1 1 IN IP4 h extra\r\n", -EINVAL, "o= with seven fields");
	expect_defect("v=0\r\n" O "m=audio 4000 RTP/AVP 0\r\no=- 1 1 IN IP4 h\r\n", -EINVAL,
		      "o= inside media");
	expect_defect("v=0\r\n" O "c=ATM IP4 1.2.3.4\r\n", -EINVAL, "c= nettype not IN");
	expect_defect("v=0\r\n" O "c=IN IPX 1.2.3.4\r\n", -EINVAL, "c= addrtype IPX");
	expect_defect("v=0\r\n" O "c=IN IP4\r\n", -EINVAL, "c= without address");
	expect_defect("v=0\r\n" O "c=IN IP4 1.2.3.4 x\r\n", -EINVAL, "c= with four fields");
	expect_defect("v=0\r\n" O "c=IN IP4 1.2.3.4/x\r\n", -EINVAL, "c= bad ttl");
	expect_defect("v=0\r\n" O "c=IN IP4 a<b\r\n", -EINVAL, "c= bad address character");
	expect_defect("v=0\r\n" O "c=IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.5\r\n", -EINVAL,
		      "duplicate session c=");
	expect_defect("v=0\r\n" O "m=audio 70000 RTP/AVP 0\r\n", -EINVAL, "port above 65535");
	expect_defect("v=0\r\n" O "m=audio 4x RTP/AVP 0\r\n", -EINVAL, "port not a number");
	expect_defect("v=0\r\n" O "m=audio -1 RTP/AVP 0\r\n", -EINVAL, "negative port");
	expect_defect("v=0\r\n" O "m=audio 4000/0 RTP/AVP 0\r\n", -EINVAL, "port count 0");
	expect_defect("v=0\r\n" O "m=audio 4000/ RTP/AVP 0\r\n", -EINVAL, "empty port count");
	expect_defect("v=0\r\n" O "m=audio 4000 RTP/AVP\r\n", -EINVAL, "m= without formats");
	expect_defect("v=0\r\n" O "m=audio 4000\r\n", -EINVAL, "m= without proto");
	expect_defect("v=0\r\n" O "m=audio 4000 RTP/AVP 0\r\na=rtcp:x\r\n", -EINVAL,
		      "a=rtcp port not a number");
	expect_defect("v=0\r\n" O "m=audio 4000 RTP/AVP 0\r\na=rtcp:65536\r\n", -EINVAL,
		      "a=rtcp port above 65535");
	expect_defect("v=0\r\n" O "m=audio 4000 RTP/AVP 0\r\na=rtcp:4001 IN IP4\r\n", -EINVAL,
		      "a=rtcp with a partial address");
	expect_defect("v=0\r\n" O "m=audio 4000 RTP/AVP 0\r\na=rtcp:4001\r\na=rtcp:4003\r\n",
		      -EINVAL, "duplicate a=rtcp");
}

static void test_media_limit(void)
{
	char body[1024] = "v=0\r\n" O;
	struct sdp_session s;

	for (int i = 0; i < SDP_MAX_MEDIA; i++)
		strcat(body, "m=audio 4000 RTP/AVP 0\r\n");
	IS_INT(parse(body, &s), 0, "%d m= lines accepted", SDP_MAX_MEDIA);
	IS_INT(s.nmedia, SDP_MAX_MEDIA, "all of them stored");
	strcat(body, "m=audio 4000 RTP/AVP 0\r\n");
	IS_INT(parse(body, &s), -E2BIG, "one more m= line is -E2BIG");
	OK(reason != NULL, "with a reason");
}

static void test_format_limit(void)
{
	char body[1024] = "v=0\r\n" O "m=audio 4000 RTP/AVP";
	struct sdp_session s;

	for (int i = 0; i < SDP_MAX_FORMATS; i++)
		sprintf(body + strlen(body), " %d", 96 + i);
	IS_INT(parse(body, &s), 0, "%d formats accepted", SDP_MAX_FORMATS);
	IS_INT(s.media[0].nformats, SDP_MAX_FORMATS, "all of them stored");
	IS_SLICE(s.media[0].formats[SDP_MAX_FORMATS - 1], "127", "the last one");
	strcat(body, " 8");
	IS_INT(parse(body, &s), -E2BIG, "one more format is -E2BIG (not truncated)");
}

int main(void)
{
	test_fields_crlf();
	test_fields_lf();
	test_effective_conn_and_direction();
	test_session_rtcp_ignored();
	test_multicast_ttl();
	test_line_ends();
	test_ipv6_inline();
	test_rfc5118_files();
	test_malformed();
	test_media_limit();
	test_format_limit();
	return tap_done();
}
