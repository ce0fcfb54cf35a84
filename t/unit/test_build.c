/*
 * test_build.c — the message builder (byte-range edits on a parsed message,
 * headers, body and Content-Length) and sip_reply_build; every output is
 * parsed again with sip_msg_parse.
 */
#include "../../sip/sip.h"
#include "tap.h"

#include <errno.h>
#include <stdio.h>

static struct sip_msg msg, again;
static struct sip_builder b;
static char out[8192];
static size_t out_len;

static int parse_into(const char *buf, size_t len, struct sip_msg *m)
{
	struct sip_parse_status st;
	int rc = sip_msg_parse(buf, len, 0, m, &st);

	if (rc < 0)
		tap_diag("  parse failed: %s", st.reason ? st.reason : "?");
	return rc;
}

/* Parses text into msg and starts a builder on it. */
static void start(const char *text)
{
	if (parse_into(text, strlen(text), &msg) < 0)
		tap_diag("  test message does not parse");
	sip_build_init(&b, &msg);
}

/* Finishes into out (NUL-terminated for comparisons). */
static int finish(void)
{
	int rc;

	out_len = 0;
	memset(out, 0, sizeof(out));
	rc = sip_build_finish(&b, out, sizeof(out) - 1, &out_len);
	if (rc == 0)
		out[out_len] = '\0';
	return rc;
}

static void is_out(const char *want, const char *what)
{
	if (!OK(strcmp(out, want) == 0 && out_len == strlen(want), "%s", what))
		tap_diag("  got:\n%s\n  want:\n%s", out, want);
}

static const char *at(const char *needle)
{
	return strstr(msg.buf, needle);
}

static slice range(const char *needle)
{
	return slice_make(at(needle), strlen(needle));
}

#define OPTS "OPTIONS sip:bob@example.com SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 10.0.2.15:5060;branch=z9hG4bK1\r\n" \
	"From: <sip:alice@example.com>;tag=a1\r\n" \
	"To: <sip:bob@example.com>\r\n" \
	"Call-ID: c1@10.0.2.15\r\n" \
	"CSeq: 1 OPTIONS\r\n" \
	"Content-Length: 0\r\n" \
	"\r\n"

static void test_no_edits(void)
{
	start(OPTS);
	IS_INT(finish(), 0, "no edits: finish succeeds");
	is_out(OPTS, "no edits: the message is copied as it is");
}

static void test_insert(void)
{
	start(OPTS);
	sip_build_insert(&b, msg.buf, SLICE_LIT("<"));
	sip_build_insert(&b, at("bob@example.com SIP"), SLICE_LIT("x"));
	sip_build_insert(&b, msg.buf + msg.len, SLICE_LIT(">"));
	IS_INT(finish(), 0, "inserts at start, middle and end");
	OK(out[0] == '<' && out[out_len - 1] == '>', "start and end inserts in place");
	OK(strstr(out, "OPTIONS sip:xbob@example.com SIP/2.0\r\n") != NULL,
	   "middle insert in place");
	IS_INT(out_len, strlen(OPTS) + 3, "three bytes longer");
}

static void test_replace_delete(void)
{
	start(OPTS);
	sip_build_replace(&b, range("OPTIONS"), SLICE_LIT("INFO"));
	sip_build_delete(&b, range("Content-Length: 0\r\n\r\n"));
	sip_build_replace(&b, range("10.0.2.15:5060"), SLICE_LIT("203.0.113.9:4000"));
	IS_INT(finish(), 0, "replace at start, middle, delete at end");
	OK(strncmp(out, "INFO sip:bob", 12) == 0, "start replaced");
	OK(strstr(out, "UDP 203.0.113.9:4000;branch") != NULL, "middle replaced");
	OK(strstr(out, "Content-Length") == NULL &&
	   strcmp(out + out_len - 17, "CSeq: 1 OPTIONS\r\n") == 0, "end deleted");
}

static void test_inserts_same_offset(void)
{
	const char *via;

	start(OPTS);
	via = at("Via:");
	sip_build_insert(&b, via, SLICE_LIT("1"));
	sip_build_insert(&b, via, SLICE_LIT("2"));
	sip_build_replace(&b, slice_make(via, 3), SLICE_LIT("v"));
	sip_build_insert(&b, via, SLICE_LIT("3"));
	sip_build_insert(&b, via + 3, SLICE_LIT("4"));
	IS_INT(finish(), 0, "several inserts at one offset");
	OK(strstr(out, "\r\n12v34: SIP/2.0/UDP") != NULL,
	   "they keep their call order around a replacement");
}

static void test_overlaps(void)
{
	start(OPTS);
	sip_build_replace(&b, range("Call-ID: c1"), SLICE_LIT("i: c2"));
	sip_build_delete(&b, range("c1@10.0.2.15"));
	IS_INT(finish(), -EINVAL, "overlapping replace and delete rejected");

	start(OPTS);
	sip_build_delete(&b, range("Call-ID: c1"));
	sip_build_insert(&b, at("ID: c1"), SLICE_LIT("x"));
	IS_INT(finish(), -EINVAL, "insert inside a deleted range rejected");

	start(OPTS);
	sip_build_delete(&b, range("CSeq"));
	sip_build_delete(&b, range("CSeq: 1"));
	IS_INT(finish(), -EINVAL, "two deletes at one offset rejected");

	start(OPTS);
	sip_build_delete(&b, range("CSeq"));
	sip_build_delete(&b, range(": 1 OPTIONS"));
	IS_INT(finish(), 0, "adjacent deletes accepted");
	OK(strstr(out, "c1@10.0.2.15\r\n\r\nContent-Length: 0\r\n\r\n") != NULL,
	   "adjacent deletes applied");
}

static void test_bad_ranges(void)
{
	static const char other[] = "elsewhere";

	start(OPTS);
	sip_build_insert(&b, other, SLICE_LIT("x"));
	IS_INT(b.error, -EINVAL, "an insert outside the message is remembered");
	sip_build_insert(&b, msg.buf, SLICE_LIT("x"));
	IS_INT(b.nedits, 0, "later edits are ignored after an error");
	IS_INT(finish(), -EINVAL, "finish returns the first error");

	start(OPTS);
	sip_build_remove_header(&b, sip_msg_hdr(&msg, SIP_H_CONTACT));
	IS_INT(finish(), -EINVAL, "removing an absent header is -EINVAL");

	start(OPTS);
	sip_build_delete(&b, slice_make(msg.buf + msg.len - 2, 3));
	IS_INT(finish(), -EINVAL, "a delete past the end is rejected");
}

static void test_add_header(void)
{
	start(OPTS);
	sip_build_add_header(&b, SIP_H_VIA, SLICE_LIT("Via: SIP/2.0/UDP proxy;branch=z9hG4bKp"));
	sip_build_add_header(&b, SIP_H_ROUTE, SLICE_LIT("X-Absent: 1"));
	sip_build_add_header(&b, SIP_H_OTHER, SLICE_LIT("X-Other: 2"));
	IS_INT(finish(), 0, "headers added");
	OK(strstr(out, "SIP/2.0\r\nVia: SIP/2.0/UDP proxy;branch=z9hG4bKp\r\n"
		       "Via: SIP/2.0/UDP 10.0.2.15") != NULL, "before the first Via");
	OK(strstr(out, "Content-Length: 0\r\nX-Absent: 1\r\nX-Other: 2\r\n\r\n") != NULL,
	   "absent id and SIP_H_OTHER go to the end of the headers, in order");
	IS_INT(parse_into(out, out_len, &again), 0, "output parses");
	IS_INT(again.nvia, 2, "with two Vias");
	IS_SLICE(again.via[0].host, "proxy", "the new one on top");
	OK(sip_msg_hdr_by_name(&again, SLICE_LIT("X-Other")) != NULL, "X-Other found");
}

static void test_remove_header(void)
{
	static const char folded[] =
		"MESSAGE sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.2.15;branch=z9hG4bK2\r\n"
		"Subject: a folded\r\n  subject line\r\n"
		"From: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@example.com>\r\n"
		"Call-ID: c2\r\n"
		"CSeq: 2 MESSAGE\r\n"
		"Content-Length: 2\r\n"
		"\r\n"
		"hi";

	start(folded);
	sip_build_remove_header(&b, sip_msg_hdr(&msg, SIP_H_SUBJECT));
	sip_build_remove_header(&b, sip_msg_hdr(&msg, SIP_H_CSEQ));
	IS_INT(finish(), 0, "folded header removed");
	OK(strstr(out, "branch=z9hG4bK2\r\nFrom:") != NULL, "all its lines are gone");
	OK(strstr(out, "subject") == NULL && strstr(out, "CSeq") == NULL,
	   "nothing of either header is left");
	OK(strstr(out, "\r\n\r\nhi") != NULL, "the body is kept");
}

#define INVITE_HEAD "INVITE sip:bob@example.com SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 10.0.2.15;branch=z9hG4bK3\r\n" \
	"From: <sip:alice@example.com>;tag=a1\r\n" \
	"To: <sip:bob@example.com>\r\n" \
	"Call-ID: c3\r\n" \
	"CSeq: 3 INVITE\r\n" \
	"Content-Type: application/sdp\r\n"

static void test_set_body_rewrites_length(void)
{
	static const char in[] = INVITE_HEAD "Content-Length:   4\r\n"
		"l: 4\r\n\r\nv=0\r";

	start(in);
	sip_build_set_body(&b, SLICE_LIT("v=0\r\no=- 1 1 IN IP4 203.0.113.9\r\n"));
	IS_INT(finish(), 0, "body replaced");
	is_out(INVITE_HEAD "Content-Length:   33\r\nl: 33\r\n\r\n"
	       "v=0\r\no=- 1 1 IN IP4 203.0.113.9\r\n",
	       "every Content-Length value rewritten in place, compact one too");
	IS_INT(parse_into(out, out_len, &again), 0, "output parses");
	IS_INT(again.content_length, 33, "with the new Content-Length");
	IS_SLICE(again.body, "v=0\r\no=- 1 1 IN IP4 203.0.113.9\r\n", "and the new body");
}

static void test_set_body_adds_length(void)
{
	static const char in[] = INVITE_HEAD "\r\nold body";

	start(in);
	sip_build_set_body(&b, SLICE_LIT("new"));
	IS_INT(finish(), 0, "body replaced without Content-Length");
	is_out(INVITE_HEAD "Content-Length: 3\r\n\r\nnew", "Content-Length added");

	start(in);
	sip_build_set_body(&b, SLICE_NULL);
	IS_INT(finish(), 0, "body removed");
	is_out(INVITE_HEAD "Content-Length: 0\r\n\r\n", "Content-Length 0 added");
}

static void test_missing_length_added(void)
{
	static const char in[] = INVITE_HEAD "\r\nsdp!";

	start(in);
	sip_build_add_header(&b, SIP_H_OTHER, SLICE_LIT("X-A: 1"));
	IS_INT(finish(), 0, "message without Content-Length");
	is_out(INVITE_HEAD "X-A: 1\r\nContent-Length: 4\r\n\r\nsdp!",
	       "finish adds it after the caller's headers");
	IS_INT(parse_into(out, out_len, &again), 0, "output parses");
	IS_INT(again.content_length, 4, "with Content-Length 4");
	IS_INT(finish(), 0, "finish can run twice");
	OK(strstr(out, "Content-Length: 4\r\nContent-Length") == NULL,
	   "and adds the header once");
}

static void test_trailing_octets_dropped(void)
{
	static const char in[] = INVITE_HEAD "Content-Length: 3\r\n\r\nabcTRAILING";

	start(in);
	IS_INT(msg.len, strlen(in) - 8, "parser leaves the trailing octets out");
	IS_INT(finish(), 0, "datagram with trailing octets");
	is_out(INVITE_HEAD "Content-Length: 3\r\n\r\nabc", "trailing octets not copied");

	start(in);
	sip_build_insert(&b, msg.buf + msg.len, SLICE_LIT("!"));
	sip_build_insert(&b, msg.buf + msg.len + 1, SLICE_LIT("?"));
	IS_INT(finish(), -EINVAL, "an edit in the trailing octets is rejected");
}

static void test_edit_limit(void)
{
	start(OPTS);
	for (int i = 0; i < SIP_BUILD_MAX_EDITS; i++)
		sip_build_insert(&b, msg.buf, SLICE_LIT("x"));
	IS_INT(finish(), 0, "%d edits accepted", SIP_BUILD_MAX_EDITS);
	IS_INT(out_len, strlen(OPTS) + SIP_BUILD_MAX_EDITS, "all applied");
	sip_build_insert(&b, msg.buf, SLICE_LIT("x"));
	IS_INT(finish(), -E2BIG, "one more is -E2BIG");

	start("OPTIONS sip:b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK4\r\n"
	      "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\n"
	      "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
	for (int i = 0; i < SIP_BUILD_MAX_EDITS - 1; i++)
		sip_build_insert(&b, msg.buf, SLICE_LIT("x"));
	sip_build_set_body(&b, SLICE_LIT("b"));
	IS_INT(finish(), 0, "set_body needs no slot of the caller's edits");
}

static void test_arena(void)
{
	char big[SIP_BUILD_ARENA];

	start(OPTS);
	sip_build_insertf(&b, at("CSeq"), "Max-Forwards: %d\r\n", 69);
	sip_build_insertf(&b, at("CSeq"), "X-N: %s%u\r\n", "n", 7u);
	IS_INT(finish(), 0, "insertf");
	OK(strstr(out, "Max-Forwards: 69\r\nX-N: n7\r\nCSeq") != NULL, "formatted in order");

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	start(OPTS);
	sip_build_insertf(&b, msg.buf, "%s", big + 1);
	IS_INT(b.error, 0, "an insertion that just fits the arena");
	sip_build_insertf(&b, msg.buf, "%s", "0123456789");
	IS_INT(finish(), -ENOSPC, "arena overflow is -ENOSPC");
}

static void test_cap(void)
{
	size_t len = 0;
	char small[sizeof(OPTS)];

	start(OPTS);
	IS_INT(sip_build_finish(&b, small, strlen(OPTS), &len), 0, "exact cap fits");
	sip_build_insert(&b, msg.buf, SLICE_LIT("x"));
	IS_INT(sip_build_finish(&b, small, strlen(OPTS), &len), -ENOSPC,
	       "one byte more than cap is -ENOSPC");
	IS_INT(finish(), 0, "a retry with a larger buffer succeeds");
}

/* ---- sip_reply_build ---------------------------------------------------- */

static int reply(unsigned code, slice top_via, slice tag, const char *extra)
{
	int rc;

	out_len = 0;
	memset(out, 0, sizeof(out));
	rc = sip_reply_build(&msg, code, "OK Then", top_via, tag, extra, out,
			     sizeof(out) - 1, &out_len);
	if (rc == 0)
		out[out_len] = '\0';
	return rc;
}

static void test_reply_invite(void)
{
	start("INVITE sip:bob@example.com SIP/2.0\r\n"
	      "Via: SIP/2.0/UDP 10.0.2.15:5060;branch=z9hG4bK5;rport\r\n"
	      "Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK4, SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK3\r\n"
	      "Max-Forwards: 70\r\n"
	      "From: \"Alice\" <sip:alice@example.com>;tag=a1\r\n"
	      "To: <sip:bob@example.com>\r\n"
	      "Call-ID: c5@10.0.2.15\r\n"
	      "CSeq: 5 INVITE\r\n"
	      "Contact: <sip:alice@10.0.2.15>\r\n"
	      "Content-Length: 0\r\n\r\n");
	IS_INT(reply(486, SLICE_LIT("SIP/2.0/UDP 10.0.2.15:5060;branch=z9hG4bK5;"
				   "rport=4000;received=203.0.113.7"),
		     SLICE_LIT("t9"), "Retry-After: 30\r\n"), 0, "486 built");
	is_out("SIP/2.0 486 OK Then\r\n"
	       "Via: SIP/2.0/UDP 10.0.2.15:5060;branch=z9hG4bK5;rport=4000;received=203.0.113.7\r\n"
	       "Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK4, SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK3\r\n"
	       "From: \"Alice\" <sip:alice@example.com>;tag=a1\r\n"
	       "To: <sip:bob@example.com>;tag=t9\r\n"
	       "Call-ID: c5@10.0.2.15\r\n"
	       "CSeq: 5 INVITE\r\n"
	       "Retry-After: 30\r\n"
	       "Content-Length: 0\r\n\r\n",
	       "Vias (top one replaced), From, To with tag, Call-ID, CSeq, extra");
	IS_INT(parse_into(out, out_len, &again), 0, "the reply parses");
	IS_INT(again.status, 486, "status");
	IS_INT(again.nvia, 3, "three Vias");
	IS_SLICE(again.via[0].received, "203.0.113.7", "received on the top Via");
	IS_SLICE(again.to.tag, "t9", "To tag");
	IS_INT(again.cseq.num, 5, "CSeq number");
	IS_SLICE(again.call_id, "c5@10.0.2.15", "Call-ID");
	IS_INT(again.content_length, 0, "Content-Length 0");

	IS_INT(reply(100, SLICE_NULL, SLICE_LIT("t9"), NULL), 0, "100 built");
	OK(strstr(out, "\r\nTo: <sip:bob@example.com>\r\n") != NULL, "100 gets no To tag");
	OK(strstr(out, "branch=z9hG4bK5;rport\r\n") != NULL,
	   "empty top_via keeps the top Via as it is");
	OK(strstr(out, "Max-Forwards") == NULL && strstr(out, "Contact") == NULL,
	   "other request headers are not copied");
}

static void test_reply_keeps_tag(void)
{
	start("BYE sip:bob@10.0.2.20 SIP/2.0\r\n"
	      "Via: SIP/2.0/UDP 10.0.2.15;branch=z9hG4bK6\r\n"
	      "From: <sip:alice@example.com>;tag=a1\r\n"
	      "To: <sip:bob@example.com>;tag=b2\r\n"
	      "Call-ID: c6\r\n"
	      "CSeq: 6 BYE\r\n\r\n");
	IS_INT(reply(200, SLICE_NULL, SLICE_LIT("t9"), NULL), 0, "200 to a BYE");
	OK(strstr(out, "\r\nTo: <sip:bob@example.com>;tag=b2\r\n") != NULL,
	   "a To tag present in the request is kept, no second one");

	start("OPTIONS sip:bob@example.com SIP/2.0\r\n"
	      "Via: SIP/2.0/UDP 10.0.2.15;branch=z9hG4bK7\r\n"
	      "From: <sip:alice@example.com>;tag=a1\r\n"
	      "To: sip:bob@example.com \t\r\n"
	      "Call-ID: c7\r\n"
	      "CSeq: 7 OPTIONS\r\n\r\n");
	IS_INT(reply(200, SLICE_NULL, SLICE_LIT("t9"), NULL), 0, "200 to OPTIONS");
	OK(strstr(out, "\r\nTo: sip:bob@example.com;tag=t9 \t\r\n") != NULL,
	   "tag appended to the value of a To without <>");
	IS_INT(parse_into(out, out_len, &again), 0, "the reply parses");
	IS_SLICE(again.to.tag, "t9", "and the tag is a header parameter");
	IS_INT(reply(200, SLICE_NULL, SLICE_NULL, NULL), 0, "no tag given");
	OK(strstr(out, "\r\nTo: sip:bob@example.com \t\r\n") != NULL, "To left as it is");
}

static void test_reply_compact(void)
{
	start("MESSAGE sip:bob@example.com SIP/2.0\n"
	      "v: SIP/2.0/UDP 10.0.2.15;branch=z9hG4bK8\n"
	      "f: <sip:alice@example.com>\n ;tag=a1\n"
	      "t: <sip:bob@example.com>\n"
	      "i: c8\n"
	      "CSeq: 8\n MESSAGE\n"
	      "l: 0\n\n");
	IS_INT(reply(202, SLICE_LIT("SIP/2.0/UDP 10.0.2.15;branch=z9hG4bK8;received=1.2.3.4"),
		     SLICE_LIT("t9"), NULL), 0, "reply to compact headers and bare LF");
	is_out("SIP/2.0 202 OK Then\r\n"
	       "v: SIP/2.0/UDP 10.0.2.15;branch=z9hG4bK8;received=1.2.3.4\r\n"
	       "f: <sip:alice@example.com>\n ;tag=a1\r\n"
	       "t: <sip:bob@example.com>;tag=t9\r\n"
	       "i: c8\r\n"
	       "CSeq: 8\n MESSAGE\r\n"
	       "Content-Length: 0\r\n\r\n",
	       "compact and folded lines copied verbatim, CRLF line ends");
	IS_INT(parse_into(out, out_len, &again), 0, "the reply parses");
	IS_SLICE(again.from.tag, "a1", "From tag kept");
	IS_SLICE(again.cseq.method, "MESSAGE", "folded CSeq");
}

static void test_reply_many_vias(void)
{
	static char in[8192];
	char *p = in;
	size_t len = 0;

	p += sprintf(p, "OPTIONS sip:bob@example.com SIP/2.0\r\n");
	for (int i = 0; i < 40; i++)
		p += sprintf(p, "Via: SIP/2.0/UDP 192.0.2.%d;branch=z9hG4bK%d\r\n", i + 1, i);
	sprintf(p, "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c9\r\n"
		   "CSeq: 9 OPTIONS\r\n\r\n");
	start(in);
	IS_INT(reply(483, SLICE_NULL, SLICE_LIT("t"), NULL), 0, "reply with 40 Vias");
	IS_INT(parse_into(out, out_len, &again), 0, "the reply parses");
	IS_INT(again.nvia, 40, "all 40 Vias copied");
	IS_SLICE(again.via[39].host, "192.0.2.40", "in order");
	IS_INT(sip_reply_build(&msg, 483, "Too Many Hops", SLICE_NULL, SLICE_LIT("t"),
			       NULL, out, 200, &len), -ENOSPC, "a small cap is -ENOSPC");
	IS_INT(sip_reply_build(&msg, 99, "x", SLICE_NULL, SLICE_NULL, NULL, out,
			       sizeof(out), &len), -EINVAL, "code 99 is -EINVAL");
}

static void test_reply_reason_line_end(void)
{
	size_t len = 0;

	start(OPTS);
	IS_INT(sip_reply_build(&msg, 400, "Bad\r\nX-Injected: 1", SLICE_NULL,
			       SLICE_LIT("t"), NULL, out, sizeof(out) - 1, &len), 0,
	       "reason with a line end");
	out[len] = '\0';
	OK(strncmp(out, "SIP/2.0 400 Bad\r\nVia:", 21) == 0 && !strstr(out, "X-Injected"),
	   "the reason phrase stops at the line end");
}

static void test_round_trip(void)
{
	static const char in[] = INVITE_HEAD "Content-Length: 4\r\n\r\nv=0\r";

	start(in);
	sip_build_add_header(&b, SIP_H_VIA,
			     SLICE_LIT("Via: SIP/2.0/UDP 203.0.113.1;branch=z9hG4bKx"));
	sip_build_insertf(&b, at("To:"), "Record-Route: <sip:%s;lr>\r\n", "203.0.113.1");
	sip_build_replace(&b, range("sip:bob@example.com SIP"), SLICE_LIT("sip:bob@10.0.2.20 SIP"));
	sip_build_remove_header(&b, sip_msg_hdr(&msg, SIP_H_CONTENT_TYPE));
	sip_build_set_body(&b, SLICE_NULL);
	IS_INT(finish(), 0, "proxy-style edits");
	IS_INT(parse_into(out, out_len, &again), 0, "output parses");
	IS_SLICE(again.ruri.host, "10.0.2.20", "new Request-URI");
	IS_INT(again.nvia, 2, "two Vias");
	IS_SLICE(again.via[0].branch, "z9hG4bKx", "ours on top");
	IS_SLICE(again.via[1].branch, "z9hG4bK3", "theirs below");
	OK(sip_msg_hdr(&again, SIP_H_RECORD_ROUTE) != NULL, "Record-Route present");
	OK(sip_msg_hdr(&again, SIP_H_CONTENT_TYPE) == NULL, "Content-Type removed");
	IS_INT(again.content_length, 0, "Content-Length 0");
	IS_INT(again.body.len, 0, "empty body");
	IS_SLICE(again.to.uri.host, "example.com", "To untouched");
}

int main(void)
{
	test_no_edits();
	test_insert();
	test_replace_delete();
	test_inserts_same_offset();
	test_overlaps();
	test_bad_ranges();
	test_add_header();
	test_remove_header();
	test_set_body_rewrites_length();
	test_set_body_adds_length();
	test_missing_length_added();
	test_trailing_octets_dropped();
	test_edit_limit();
	test_arena();
	test_cap();
	test_reply_invite();
	test_reply_keeps_tag();
	test_reply_compact();
	test_reply_many_vias();
	test_reply_reason_line_end();
	test_round_trip();
	return tap_done();
}
