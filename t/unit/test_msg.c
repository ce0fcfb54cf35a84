/*
 * test_msg.c — sip_msg_parse, sip_msg_check and the header accessors on
 * raw messages: start lines, folding, compact and case-insensitive names,
 * repeated headers, quoted strings, leading CRLFs, bare LF, every typed
 * field, limits, datagram and stream body framing, and the defects.
 */
#include "tap.h"
#include "../../sip/sip.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static struct sip_msg msg;
static struct sip_parse_status st;

static int parse_len(const char *s, size_t len, unsigned flags)
{
	return sip_msg_parse(s, len, flags, &msg, &st);
}

static int parse(const char *s)
{
	return parse_len(s, strlen(s), 0);
}

/* sip_msg_check as the pipeline runs it: on the message's parsed Contacts. */
static int check(void)
{
	static struct sip_contacts contacts;

	sip_contacts_parse(&msg, &contacts);
	return sip_msg_check(&msg, &contacts, &st);
}

static const char *reason(void)
{
	return st.reason ? st.reason : "(none)";
}

#define INVITE_HEAD                                                            \
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"                        \
	"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n" \
	"Max-Forwards: 70\r\n"                                                 \
	"To: Bob <sip:bob@biloxi.example.com>\r\n"                             \
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"      \
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"                \
	"CSeq: 314159 INVITE\r\n"                                              \
	"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"                   \
	"Content-Type: application/sdp\r\n"

#define BODY "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"
#define INVITE INVITE_HEAD "Content-Length: 31\r\n\r\n" BODY

/* A minimal valid request with the given extra header lines. */
#define OPTIONS_WITH(extra)                                                    \
	"OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n"                     \
	"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKhjhs8ass877\r\n" \
	"To: <sip:carol@chicago.example.com>\r\n"                              \
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"      \
	"Call-ID: a84b4c76e66710\r\n"                                          \
	"CSeq: 63104 OPTIONS\r\n" extra "Content-Length: 0\r\n\r\n"

static void test_request_fields(void)
{
	if (!OK(parse(INVITE) == 0, "INVITE parses"))
		tap_diag("  reason %s", reason());
	OK(st.error == SIP_PERR_NONE && st.have_start_line, "status clean");
	OK(msg.is_request, "is a request");
	IS_SLICE(msg.start_line, "INVITE sip:bob@biloxi.example.com SIP/2.0",
		 "start line without CRLF");
	IS_SLICE(msg.method, "INVITE", "method");
	IS_INT(msg.method_id, SIP_M_INVITE, "method id");
	IS_SLICE(msg.ruri_raw, "sip:bob@biloxi.example.com", "Request-URI");
	IS_SLICE(msg.ruri.user, "bob", "R-URI user");
	IS_SLICE(msg.ruri.host, "biloxi.example.com", "R-URI host");
	IS_SLICE(msg.version, "SIP/2.0", "version");
	IS_INT(msg.nhdrs, 9, "nine header lines");
	IS_INT(msg.nvia, 1, "one Via");
	IS_SLICE(msg.via[0].branch, "z9hG4bK776asdhds", "Via branch");
	IS_SLICE(msg.from.tag, "1928301774", "From tag");
	IS_SLICE(msg.from.display, "Alice", "From display");
	IS_SLICE(msg.to.uri.user, "bob", "To user");
	OK(slice_empty(msg.to.tag), "no To tag");
	IS_SLICE(msg.call_id, "a84b4c76e66710@pc33.atlanta.example.com", "Call-ID");
	IS_INT(msg.cseq.num, 314159, "CSeq number");
	IS_SLICE(msg.cseq.method, "INVITE", "CSeq method");
	IS_INT(msg.cseq.method_id, SIP_M_INVITE, "CSeq method id");
	IS_INT(msg.max_forwards, 70, "Max-Forwards");
	IS_INT(msg.content_length, 31, "Content-Length");
	IS_SLICE(msg.body, BODY, "body");
	IS_INT(msg.len, strlen(INVITE), "len is the whole message");
	IS_SLICE(msg.headers_end, "\r\n", "empty line");
	IS_INT(msg.first[SIP_H_VIA], 0, "first Via index");
	IS_INT(msg.first[SIP_H_CONTENT_LENGTH], 8, "first Content-Length index");
	IS_INT(msg.first[SIP_H_ROUTE], -1, "absent Route is -1");
	IS_SLICE(msg.hdrs[2].name, "To", "header name");
	IS_SLICE(msg.hdrs[2].value, "Bob <sip:bob@biloxi.example.com>", "value");
	IS_SLICE(msg.hdrs[2].line, "To: Bob <sip:bob@biloxi.example.com>\r\n",
		 "whole line with CRLF");
	IS_INT(msg.hdrs[2].id, SIP_H_TO, "header id");
}

static void test_response(void)
{
	IS_INT(parse("SIP/2.0 180 Ringing\r\n"
		     "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1;received=192.0.2.1\r\n"
		     "Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n"
		     "To: <sip:b@example.com>;tag=x\r\nFrom: <sip:a@example.com>;tag=y\r\n"
		     "Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"),
	       0, "180 parses");
	OK(!msg.is_request, "response");
	IS_INT(msg.status, 180, "status");
	IS_SLICE(msg.reason, "Ringing", "reason phrase");
	IS_SLICE(msg.method, "", "no method");
	IS_INT(msg.nvia, 2, "two Vias");
	IS_SLICE(msg.via[1].host, "b.example.com", "second Via");
	IS_INT(msg.max_forwards, -1, "no Max-Forwards");
	IS_INT(parse("SIP/2.0 100 \r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\n"
		     "From: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n"),
	       0, "empty reason after SP");
	IS_SLICE(msg.reason, "", "empty reason");
	IS_INT(parse("SIP/2.0 100\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\n"
		     "From: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n"),
	       0, "missing SP before empty reason tolerated");
	IS_INT(parse("sip/2.0 603 D\xc3\xa9" "clin\xc3\xa9\r\nVia: SIP/2.0/UDP h\r\n"
		     "To: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: c\r\n"
		     "CSeq: 1 INVITE\r\n\r\n"), 0,
	       "lower-case SIP, UTF-8 reason");
	IS_SLICE(msg.reason, "D\xc3\xa9" "clin\xc3\xa9", "UTF-8 reason kept");
}

static void test_status_defects(void)
{
	static const char *const lines[] = {
		"SIP/2.0 99 Low", "SIP/2.0 700 High", "SIP/2.0 4294967301 Big",
		"SIP/2.0 2000 Four", "SIP/2.0 20 Two", "SIP/2.0 abc X",
		"SIP/2.0  200 OK", "SIP/2.0 200OK", "SIP/2.0", "SIP/2.x 200 OK",
	};
	char buf[256];

	for (unsigned i = 0; i < ARRAY_LEN(lines); i++) {
		snprintf(buf, sizeof(buf), "%s\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\n"
			 "From: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
			 lines[i]);
		OK(parse(buf) == -EINVAL && st.error == SIP_PERR_BAD_MESSAGE &&
		   !st.have_start_line, "bad status line '%s' (%s)", lines[i], reason());
	}
}

static void test_request_line_defects(void)
{
	static const char *const lines[] = {
		"OPTIONS  sip:a@h SIP/2.0",     /* RFC 4475 lwsstart */
		"OPTIONS sip:a@h  SIP/2.0",
		"OPTIONS sip:a@h SIP/2.0 ",     /* trws */
		"OPTIONS\tsip:a@h SIP/2.0",
		"OPTIONS sip:a@h",
		"OPTIONS sip:a@h SIP/2",
		"OPTIONS sip:a@h HTTP/1.1",
		"OPT<IONS sip:a@h SIP/2.0",
		" OPTIONS sip:a@h SIP/2.0",
		"OPTIONS sip:a@h; lr SIP/2.0",  /* lwsruri */
	};
	char buf[256];

	for (unsigned i = 0; i < ARRAY_LEN(lines); i++) {
		snprintf(buf, sizeof(buf), "%s\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\n"
			 "From: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n",
			 lines[i]);
		OK(parse(buf) == -EINVAL && !st.have_start_line,
		   "bad request line '%s' (%s)", lines[i], reason());
	}
}

static void test_request_uri_defects(void)
{
	IS_INT(parse("INVITE <sip:user@example.com> SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n"
		     "To: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n"),
	       -EINVAL, "R-URI in <> refused");
	IS_SLICE(slice_cstr(reason()), "Request-URI in angle brackets", "reason");
	OK(st.have_start_line, "start line itself was framed: a 400 is possible");
	IS_INT(parse("INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>\r\n"
		     "Call-ID: c\r\nCSeq: 1 INVITE\r\n\r\n"),
	       -EINVAL, "R-URI with headers refused");
	IS_SLICE(slice_cstr(reason()), "Request-URI with headers", "reason");
	IS_INT(parse("INVITE sip:[2001:db8::1 SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n"
		     "To: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n"),
	       -EINVAL, "malformed R-URI refused");
	IS_SLICE(slice_cstr(reason()), "Malformed Request-URI", "reason");
}

static void test_version(void)
{
	IS_INT(parse("OPTIONS sip:t.watson@example.org SIP/7.0\r\n"
		     "Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\r\n"
		     "Max-Forwards: 70\r\nFrom: A. Bell <sip:a@example.com>;tag=q\r\n"
		     "To: T. Watson <sip:t.watson@example.org>\r\nCall-ID: v@c\r\n"
		     "CSeq: 1 OPTIONS\r\nl: 0\r\n\r\n"),
	       -EPROTONOSUPPORT, "SIP/7.0 request: 505");
	IS_INT(st.error, SIP_PERR_BAD_VERSION, "BAD_VERSION");
	OK(st.have_start_line, "a reply is possible");
	IS_INT(msg.nvia, 1, "headers parsed for the 505");
	IS_SLICE(msg.call_id, "v@c", "Call-ID parsed for the 505");
	IS_INT(parse("OPTIONS sip:t@example.org SIP/2.1\r\nVia: SIP/2.0/UDP h\r\n"
		     "To: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n"),
	       -EPROTONOSUPPORT, "SIP/2.1: 505");
	IS_INT(parse("OPTIONS sip:t@example.org SIP/7.0\r\nVia: SIP/2.0/UDP h\r\n"
		     "To: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCSeq: 1 OPTIONS\r\n\r\n"),
	       -EINVAL, "SIP/7.0 with a missing header: 400 wins");
	IS_INT(parse("OPTIONS sip:t@example.org sIp/2.0\r\nVia: SIP/2.0/UDP h\r\n"
		     "To: <sip:b@h>\r\nFrom: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n"),
	       0, "SIP is case-insensitive");
}

static void test_folding_and_names(void)
{
	const char *m =
		"INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n"
		"TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n"
		"from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n"
		"  ;\r\n  tag = 98asjd8\r\n"
		"MaX-fOrWaRdS: 0068\r\n"
		"Call-ID: wsinv.ndaksdj@192.0.2.1\r\n"
		"Content-Length   : 0\r\n"
		"cseq: 0009\r\n  INVITE\r\n"
		"Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\n"
		"s :\r\n"
		"NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n"
		"\r\n";

	if (!OK(parse(m) == 0, "folded, oddly spaced message parses"))
		tap_diag("  reason %s", reason());
	IS_SLICE(msg.to.tag, "1918181833n", "To tag through LWS");
	IS_SLICE(msg.from.display, "\"J Rosenberg \\\\\\\"\"",
		 "quoted display name with escapes kept as written");
	IS_SLICE(msg.from.tag, "98asjd8", "folded From tag");
	IS_INT(msg.max_forwards, 68, "leading zeros in Max-Forwards");
	IS_INT(msg.cseq.num, 9, "CSeq 0009");
	IS_SLICE(msg.cseq.method, "INVITE", "CSeq method after folding");
	IS_SLICE(msg.via[0].transport, "UDP", "Via transport after folding");
	IS_INT(msg.hdrs[0].id, SIP_H_TO, "'TO ' is To");
	IS_SLICE(msg.hdrs[0].name, "TO", "name without the space");
	IS_INT(msg.hdrs[7].id, SIP_H_SUBJECT, "'s' is Subject");
	IS_SLICE(msg.hdrs[7].value, "", "empty value");
	IS_SLICE(msg.hdrs[8].value, "newfangled value\r\n continued newfangled value",
		 "folded value keeps its folding, trimmed");
	IS_SLICE(msg.hdrs[8].line,
		 "NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n",
		 "folded line counts once");
}

static void test_compact_forms(void)
{
	static const struct {
		const char *name;
		enum sip_hdr_id id;
	} forms[] = {
		{ "v", SIP_H_VIA }, { "f", SIP_H_FROM }, { "t", SIP_H_TO },
		{ "i", SIP_H_CALL_ID }, { "m", SIP_H_CONTACT },
		{ "l", SIP_H_CONTENT_LENGTH }, { "c", SIP_H_CONTENT_TYPE },
		{ "k", SIP_H_SUPPORTED }, { "s", SIP_H_SUBJECT },
		{ "e", SIP_H_CONTENT_ENCODING }, { "o", SIP_H_EVENT },
		{ "u", SIP_H_ALLOW_EVENTS }, { "r", SIP_H_REFER_TO },
		{ "b", SIP_H_REFERRED_BY }, { "x", SIP_H_SESSION_EXPIRES },
		{ "y", SIP_H_IDENTITY }, { "V", SIP_H_VIA }, { "L", SIP_H_CONTENT_LENGTH },
		{ "a", SIP_H_OTHER }, { "z", SIP_H_OTHER }, { "~", SIP_H_OTHER },
	};

	for (unsigned i = 0; i < ARRAY_LEN(forms); i++)
		IS_INT(sip_hdr_lookup(slice_cstr(forms[i].name)), forms[i].id,
		       "compact form '%s'", forms[i].name);
	IS_INT(parse("BYE sip:b@h SIP/2.0\r\nv: SIP/2.0/UDP h\r\nt: <sip:b@h>;tag=1\r\n"
		     "f: <sip:a@h>;tag=2\r\ni: abc\r\nl: 0\r\nCSeq: 2 BYE\r\n\r\n"),
	       0, "message with compact forms");
	IS_SLICE(msg.call_id, "abc", "i: is Call-ID");
	IS_INT(msg.content_length, 0, "l: is Content-Length");
}

static void test_names_roundtrip(void)
{
	static const char *const odd[] = { "cALL-iD", "VIA", "content-LENGTH",
					   "WWW-authenticate", "proxy-AUTHORIZATION" };
	static const enum sip_hdr_id odd_ids[] = { SIP_H_CALL_ID, SIP_H_VIA,
		SIP_H_CONTENT_LENGTH, SIP_H_WWW_AUTHENTICATE,
		SIP_H_PROXY_AUTHORIZATION };
	unsigned bad = 0;

	for (int id = 1; id < SIP_H_COUNT; id++)
		bad += sip_hdr_lookup(slice_cstr(sip_hdr_name(id))) != (enum sip_hdr_id)id;
	IS_INT(bad, 0, "every canonical name maps back to its id");
	for (unsigned i = 0; i < ARRAY_LEN(odd); i++)
		IS_INT(sip_hdr_lookup(slice_cstr(odd[i])), odd_ids[i],
		       "case-insensitive '%s'", odd[i]);
	IS_INT(sip_hdr_lookup(slice_cstr("Call_ID")), SIP_H_OTHER, "Call_ID unknown");
	IS_INT(sip_hdr_lookup(slice_cstr("Vias")), SIP_H_OTHER, "Vias unknown");
	IS_INT(sip_hdr_lookup(slice_cstr("Call\rID")), SIP_H_OTHER, "CR is not '-'");
	IS_INT(sip_hdr_lookup(slice_cstr("C\xc1LL-ID")), SIP_H_OTHER, "non-ASCII byte");
	IS_INT(sip_hdr_lookup(slice_cstr("CONTENT-LENGTH")), SIP_H_CONTENT_LENGTH,
	       "upper case, 14 bytes");
	IS_INT(sip_hdr_lookup(slice_cstr("Content-Lengthy")), SIP_H_OTHER, "longer");
	IS_INT(sip_hdr_lookup(slice_cstr("Proxy-AuthorizatioN")),
	       SIP_H_PROXY_AUTHORIZATION, "19 bytes, three words");
	IS_INT(sip_hdr_lookup(slice_cstr("Proxy-AuthXrization")), SIP_H_OTHER,
	       "difference only the middle word sees");
	IS_INT(sip_hdr_lookup(SLICE_NULL), SIP_H_OTHER, "empty name");
	IS_SLICE(slice_cstr(sip_hdr_name(SIP_H_CALL_ID)), "Call-ID", "canonical name");
	IS_SLICE(slice_cstr(sip_hdr_name(SIP_H_COUNT)), "", "out of range name");
}

static void test_methods(void)
{
	unsigned bad = 0;

	for (int m = 1; m <= SIP_M_PUBLISH; m++)
		bad += sip_method_from(slice_cstr(sip_method_name(m))) != (enum sip_method)m;
	IS_INT(bad, 0, "every method name maps back");
	IS_INT(sip_method_from(slice_cstr("invite")), SIP_M_OTHER,
	       "methods are case-sensitive");
	IS_INT(sip_method_from(slice_cstr("RE%47IST%45R")), SIP_M_OTHER,
	       "escaped REGISTER is another method");
	IS_INT(sip_method_from(slice_cstr("INVITEX")), SIP_M_OTHER, "longer token");
	IS_SLICE(slice_cstr(sip_method_name(SIP_M_OTHER)), "", "OTHER has no name");
	IS_SLICE(slice_cstr(sip_method_name(SIP_M_REGISTER)), "REGISTER", "name");
}

static void test_leading_crlf_and_bare_lf(void)
{
	const char *m = "\r\n\r\n\n" OPTIONS_WITH("");
	const char *lf =
		"OPTIONS sip:c@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n"
		"To: <sip:c@h>\nFrom: <sip:a@h>;tag=1\nCall-ID: x\nCSeq: 1 OPTIONS\n"
		"Subject: folded\n over LF\nContent-Length: 4\n\nabcdTRAILING";

	IS_INT(parse(m), 0, "leading CRLFs ignored");
	OK(msg.buf == m + 5, "msg->buf is the start line");
	IS_INT(msg.len, strlen(m) - 5, "len excludes the CRLFs");
	IS_INT(parse(lf), 0, "bare LF line ends");
	IS_SLICE(msg.call_id, "x", "Call-ID with LF");
	IS_SLICE(msg.headers_end, "\n", "LF empty line");
	IS_SLICE(msg.body, "abcd", "body framed by Content-Length");
	IS_SLICE(sip_msg_hdr(&msg, SIP_H_SUBJECT)->value, "folded\n over LF",
		 "LF folding");
	IS_INT(msg.nhdrs, 7, "folded LF line counts once");
	IS_INT(parse("\r\n\r\n"), -EINVAL, "only CRLFs: empty message");
}

static void test_header_defects(void)
{
	static const char *const lines[] = {
		"Foobar roobar\r\n", ": novalue\r\n", " leading: space\r\n",
		"Bad Name: x\r\n", "Name\r\n", "\rX: y\r\n",
	};
	char buf[512];

	for (unsigned i = 0; i < ARRAY_LEN(lines); i++) {
		snprintf(buf, sizeof(buf), "OPTIONS sip:c@h SIP/2.0\r\n%sVia: SIP/2.0/UDP h\r\n"
			 "To: <sip:c@h>\r\nFrom: <sip:a@h>\r\nCall-ID: x\r\n"
			 "CSeq: 1 OPTIONS\r\n\r\n", lines[i]);
		OK(parse(buf) == -EINVAL && st.have_start_line,
		   "bad header line %u (%s)", i, reason());
	}
	IS_INT(parse("OPTIONS sip:c@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:c@h>\r\n"
		     "From: <sip:a@h>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"),
	       -EINVAL, "no empty line after the headers");
	IS_SLICE(slice_cstr(reason()), "Missing empty line after headers", "reason");
}

static void test_typed_defects(void)
{
	static const struct {
		const char *extra;
		const char *reason;
	} cases[] = {
		{ "Call-ID: a b\r\n", "Multiple Call-ID headers" },
		{ "CSeq: 1 OPTIONS\r\n", "Multiple CSeq headers" },
		{ "From: <sip:x@h>\r\n", "Multiple From headers" },
		{ "t: <sip:x@h>\r\n", "Multiple To headers" },
		{ "Max-Forwards: 256\r\n", "Bad Max-Forwards" },
		{ "Max-Forwards: -1\r\n", "Bad Max-Forwards" },
		{ "Max-Forwards: 7\r\nMax-Forwards: 7\r\n", "Multiple Max-Forwards headers" },
		{ "Content-Length: 5\r\n", "Conflicting Content-Length values" },
		{ "Content-Length: -999\r\n", "Bad Content-Length" },
		{ "Content-Length: 0 0\r\n", "Bad Content-Length" },
		{ "Content-Length: 99999999999\r\n", "Content-Length too large" },
		{ "Via: SIP/2.0/UDP 192.0.2.15;;,;,,\r\n", "Empty Via parameter" },
		{ "Via: SIP/2.0/UDP\r\n", "Malformed Via header" },
	};
	char buf[1024];

	for (unsigned i = 0; i < ARRAY_LEN(cases); i++) {
		snprintf(buf, sizeof(buf), OPTIONS_WITH("%s"), cases[i].extra);
		parse(buf);
		IS_SLICE(slice_cstr(reason()), cases[i].reason, "defect: %.*s",
			 (int)strcspn(cases[i].extra, "\r"), cases[i].extra);
	}
	IS_INT(parse(OPTIONS_WITH("Content-Length: 0\r\nl: 00\r\n")), 0,
	       "repeated Content-Length with the same value");
}

static void test_call_id_cseq(void)
{
	static const char *const bad_ids[] = { "a b", "a@b@c", "@b", "a@", "a,b", "" };
	static const char *const bad_cseq[] = {
		"4294967296 OPTIONS", "36893488147419103232 OPTIONS", "OPTIONS",
		"1", "1OPTIONS", "1 OPTIONS x", "-1 OPTIONS", "1 OPT<IONS",
	};
	struct sip_cseq cs;
	const char *why = "(none)";
	char buf[1024];

	for (unsigned i = 0; i < ARRAY_LEN(bad_ids); i++) {
		snprintf(buf, sizeof(buf),
			 "OPTIONS sip:c@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:c@h>\r\n"
			 "From: <sip:a@h>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\n\r\n", bad_ids[i]);
		OK(parse(buf) == -EINVAL, "bad Call-ID '%s' (%s)", bad_ids[i], reason());
	}
	IS_INT(parse(OPTIONS_WITH("") ), 0, "control");
	for (unsigned i = 0; i < ARRAY_LEN(bad_cseq); i++) {
		int rc = sip_cseq_parse(slice_cstr(bad_cseq[i]), &cs, &why);

		OK(rc == -EINVAL, "bad CSeq '%s' (%s)", bad_cseq[i], why);
	}
	IS_INT(sip_cseq_parse(slice_cstr("4294967295 NEWMETHOD"), &cs, &why), 0,
	       "CSeq 2^32-1");
	IS_INT(cs.num, 4294967295u, "max number");
	IS_INT(cs.method_id, SIP_M_OTHER, "unknown method");
	IS_INT(sip_cseq_parse(slice_cstr("12\r\n\tACK"), &cs, &why), 0,
	       "folding between number and method");
	IS_INT(cs.method_id, SIP_M_ACK, "ACK");
}

static void test_missing_headers(void)
{
	static const char *const lines[] = {
		"Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n", "To: <sip:c@h>\r\n",
		"From: <sip:a@h>;tag=1\r\n", "Call-ID: x@y\r\n", "CSeq: 1 OPTIONS\r\n",
	};
	static const char *const reasons[] = {
		"Missing Via header", "Missing To header", "Missing From header",
		"Missing Call-ID header", "Missing CSeq header",
	};
	char buf[1024];

	for (unsigned skip = 0; skip < ARRAY_LEN(lines); skip++) {
		size_t n = (size_t)snprintf(buf, sizeof(buf), "OPTIONS sip:c@h SIP/2.0\r\n");

		for (unsigned i = 0; i < ARRAY_LEN(lines); i++)
			if (i != skip)
				n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", lines[i]);
		snprintf(buf + n, sizeof(buf) - n, "\r\n");
		OK(parse(buf) == -EINVAL && st.have_start_line, "without line %u", skip);
		IS_SLICE(slice_cstr(reason()), reasons[skip], "reason names it");
	}
	IS_INT(parse(OPTIONS_WITH("")), 0, "Max-Forwards may be absent (RFC 2543)");
	IS_INT(msg.max_forwards, -1, "absent Max-Forwards is -1");
}

static void test_repeated_and_lists(void)
{
	IS_INT(parse(OPTIONS_WITH("Via: SIP/2.0/TCP b.example.com;branch=z9hG4bK2, "
				  "SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bK3\r\n"
				  "v: SIP/2.0/SCTP c.example.com;branch=z9hG4bK4\r\n")),
	       0, "several Via lines, several values per line");
	IS_INT(msg.nvia, 4, "four Via values in order");
	IS_SLICE(msg.via[0].host, "pc33.atlanta.example.com", "first");
	IS_SLICE(msg.via[2].host, "2001:db8::1", "third (IPv6)");
	IS_INT(msg.via[2].port, 5070, "third port");
	IS_SLICE(msg.via[3].transport, "SCTP", "fourth from compact line");
	IS_INT(sip_msg_hdr_count(&msg, SIP_H_VIA), 3, "three Via lines");
}

static void test_limits(void)
{
	static char buf[SIP_MAX_MSG + 2048];
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "OPTIONS sip:c@h SIP/2.0\r\n"
			     "To: <sip:c@h>\r\nFrom: <sip:a@h>\r\nCall-ID: x\r\n"
			     "CSeq: 1 OPTIONS\r\n");
	for (int i = 0; i < SIP_MAX_VIA; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
				      "Via: SIP/2.0/UDP h%d.example.com;branch=z9hG4bK%d\r\n", i, i);
	memcpy(buf + n, "\r\n", 3);
	IS_INT(parse(buf), 0, "SIP_MAX_VIA Vias accepted");
	IS_INT(msg.nvia, SIP_MAX_VIA, "all of them");
	memcpy(buf + n, "Via: SIP/2.0/UDP one.more\r\n\r\n", 30);
	IS_INT(parse(buf), -E2BIG, "one Via too many");
	OK(st.error == SIP_PERR_TOO_LARGE, "TOO_LARGE (%s)", reason());

	n = (size_t)snprintf(buf, sizeof(buf), "%s", "OPTIONS sip:c@h SIP/2.0\r\n"
			     "Via: SIP/2.0/UDP h\r\nTo: <sip:c@h>\r\nFrom: <sip:a@h>\r\n"
			     "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n");
	for (int i = 5; i < SIP_MAX_HEADERS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-H: %d\r\n", i);
	memcpy(buf + n, "\r\n", 3);
	IS_INT(parse(buf), 0, "SIP_MAX_HEADERS lines accepted");
	IS_INT(msg.nhdrs, SIP_MAX_HEADERS, "all counted");
	memcpy(buf + n, "X-H: more\r\n\r\n", 14);
	IS_INT(parse(buf), -E2BIG, "one header line too many");
	IS_INT(st.error, SIP_PERR_TOO_LARGE, "TOO_LARGE");

	IS_INT(parse(OPTIONS_WITH("l: 65536\r\n")), -E2BIG, "Content-Length over the limit");
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, OPTIONS_WITH(""), strlen(OPTIONS_WITH("")));
	IS_INT(parse_len(buf, SIP_MAX_MSG + 1, 0), -E2BIG, "datagram over SIP_MAX_MSG");
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "OPTIONS sip:c@h SIP/2.0\r\nX-Long: ", 33);
	IS_INT(parse_len(buf, sizeof(buf), SIP_PARSE_STREAM), -E2BIG,
	       "stream header block never ending within SIP_MAX_MSG");
	IS_INT(parse_len(buf, 1000, SIP_PARSE_STREAM), -EAGAIN,
	       "the same, shorter: wait for more");
}

static void test_datagram_body(void)
{
	const char *nocl =
		"MESSAGE sip:c@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:c@h>\r\n"
		"From: <sip:a@h>;tag=1\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n\r\nhello\r\nworld";

	IS_INT(parse(nocl), 0, "no Content-Length on a datagram");
	IS_SLICE(msg.body, "hello\r\nworld", "body is the rest of the datagram");
	IS_INT(msg.content_length, -1, "content_length -1");
	IS_INT(parse(INVITE "INVITE sip:x@y SIP/2.0\r\n"), 0, "trailing octets");
	IS_INT(msg.len, strlen(INVITE), "len stops at Content-Length");
	IS_SLICE(msg.body, BODY, "body by Content-Length");
	IS_INT(parse(INVITE_HEAD "Content-Length: 32\r\n\r\n" BODY), -EINVAL,
	       "Content-Length larger than the datagram");
	IS_SLICE(slice_cstr(reason()), "Content-Length larger than message", "reason");
}

static void test_stream(void)
{
	const char *m = INVITE;
	size_t len = strlen(m);
	unsigned wrong = 0;
	char two[1024];

	for (size_t i = 0; i < len; i++) {
		char *copy = malloc(i ? i : 1);

		memcpy(copy, m, i);
		if (parse_len(copy, i, SIP_PARSE_STREAM) != -EAGAIN ||
		    st.error != SIP_PERR_INCOMPLETE) {
			if (!wrong++)
				tap_diag("  prefix %zu: %s", i, reason());
		}
		free(copy);
	}
	IS_INT(wrong, 0, "every strict prefix is INCOMPLETE on a stream");
	IS_INT(parse_len(m, len, SIP_PARSE_STREAM), 0, "the whole message parses");
	snprintf(two, sizeof(two), "%s%s", m, m);
	IS_INT(parse_len(two, strlen(two), SIP_PARSE_STREAM), 0, "two pipelined");
	IS_INT(msg.len, len, "the first one's length");
	IS_INT(parse_len(two + msg.len, strlen(two) - msg.len, SIP_PARSE_STREAM), 0,
	       "then the second");
	IS_INT(parse_len(INVITE_HEAD "\r\n", strlen(INVITE_HEAD "\r\n"), SIP_PARSE_STREAM),
	       -EINVAL, "Content-Length mandatory on a stream");
	IS_SLICE(slice_cstr(reason()), "Missing Content-Length header", "reason");
	IS_INT(parse_len("\r\n\r\n", 4, SIP_PARSE_STREAM), -EAGAIN,
	       "only CRLFs on a stream: wait");
}

static void test_datagram_prefixes(void)
{
	const char *m = INVITE;
	size_t len = strlen(m), head = strstr(m, "\r\n\r\n") + 4 - m;
	unsigned wrong = 0;

	for (size_t i = 0; i < len; i++) {
		char *copy = malloc(i ? i : 1);
		int rc;

		memcpy(copy, m, i);
		rc = parse_len(copy, i, 0);
		if ((i < head && rc != -EINVAL) || (i >= head && rc == 0)) {
			if (!wrong++)
				tap_diag("  prefix %zu: rc %d", i, rc);
		}
		free(copy);
	}
	IS_INT(wrong, 0, "every truncated datagram is refused, never read past it");
}

static void test_poisoned_struct(void)
{
	memset(&msg, 0xa5, sizeof(msg));
	IS_INT(parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\n"
		     "From: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n"),
	       0, "response into a dirty struct");
	OK(msg.ruri.scheme.len == 0 && msg.ruri_raw.len == 0 && msg.method.len == 0,
	   "request fields cleared for a response");
	IS_INT(msg.content_length, -1, "content_length reset");
	IS_INT(msg.first[SIP_H_CONTACT], -1, "first[] reset");
	IS_INT(msg.nvia, 1, "nvia counted from 0");
	IS_INT(msg.body.len, 0, "empty body");
}

static void test_accessors(void)
{
	const struct sip_hdr *h;

	IS_INT(parse(OPTIONS_WITH("X-Custom: one\r\nRoute: <sip:p1.example.com;lr>\r\n"
				  "x-custom: two\r\nRoute: <sip:p2.example.com;lr>, <sip:p3.example.com;lr>\r\n"
				  "X-Other: three\r\n")),
	       0, "message with unknown and list headers");
	h = sip_msg_hdr(&msg, SIP_H_ROUTE);
	IS_SLICE(h->value, "<sip:p1.example.com;lr>", "first Route line");
	h = sip_msg_hdr_next(&msg, h);
	IS_SLICE(h->value, "<sip:p2.example.com;lr>, <sip:p3.example.com;lr>",
		 "next Route line");
	OK(sip_msg_hdr_next(&msg, h) == NULL, "no third Route line");
	IS_INT(sip_msg_hdr_count(&msg, SIP_H_ROUTE), 2, "two Route lines");
	IS_INT(sip_msg_hdr_count(&msg, SIP_H_CONTACT), 0, "no Contact");
	OK(sip_msg_hdr(&msg, SIP_H_CONTACT) == NULL, "absent header is NULL");
	h = sip_msg_hdr_by_name(&msg, slice_cstr("X-CUSTOM"));
	IS_SLICE(h->value, "one", "unknown header by name");
	h = sip_msg_hdr_next(&msg, h);
	IS_SLICE(h ? h->value : SLICE_NULL, "two", "next with the same name");
	OK(sip_msg_hdr_next(&msg, h) == NULL, "X-Other is not the same name");
	IS_SLICE(sip_msg_hdr_by_name(&msg, slice_cstr("i"))->value, "a84b4c76e66710",
		 "known header by compact name");
	OK(sip_msg_hdr_by_name(&msg, slice_cstr("X-None")) == NULL, "absent name");
}

static void test_routes(void)
{
	struct sip_nameaddr r[4];
	const char *why = NULL;
	unsigned n;

	parse(OPTIONS_WITH("Route: <sip:p1.example.com;lr>\r\n"
			   "Record-Route: <sip:rr.example.com;lr>\r\n"
			   "Route: <sip:p2.example.com;lr>, <sip:p3.example.com;lr>\r\n"));
	IS_INT(sip_msg_routes(&msg, SIP_H_ROUTE, r, 4, &n, &why), 0, "routes");
	IS_INT(n, 3, "three Route values across two lines");
	IS_SLICE(r[2].uri.host, "p3.example.com", "third route");
	OK(r[0].uri.lr, "lr");
	IS_INT(sip_msg_routes(&msg, SIP_H_RECORD_ROUTE, r, 4, &n, &why), 0,
	       "record-routes");
	IS_INT(n, 1, "one Record-Route");
	IS_INT(sip_msg_routes(&msg, SIP_H_ROUTE, r, 2, &n, &why), -E2BIG,
	       "array too small: -E2BIG");
	IS_INT(sip_msg_routes(&msg, SIP_H_PATH, r, 4, &n, &why), 0, "no Path");
	IS_INT(n, 0, "zero values");
}

static void test_contacts(void)
{
	struct sip_nameaddr c[4];
	const char *why = NULL;
	unsigned n;
	bool star;

	parse(OPTIONS_WITH("Contact: <sip:a@192.0.2.1>;expires=60, \"B\" <sip:b@h>\r\n"
			   "m: sip:c@h;q=0.5\r\n"));
	IS_INT(sip_msg_contacts(&msg, c, 4, &n, &star, &why), 0, "contacts");
	IS_INT(n, 3, "three contacts over two lines");
	OK(!star, "no star");
	OK(c[0].has_expires && c[0].expires == 60, "expires param");
	IS_INT(c[2].q, 500, "q param");
	parse(OPTIONS_WITH("Contact: *\r\nExpires: 0\r\n"));
	IS_INT(sip_msg_contacts(&msg, c, 4, &n, &star, &why), 0, "Contact: *");
	OK(star && n == 0, "star set, no contacts");
	parse(OPTIONS_WITH("Contact: *\r\nContact: <sip:a@h>\r\n"));
	IS_INT(sip_msg_contacts(&msg, c, 4, &n, &star, &why), -EINVAL,
	       "star then a contact");
	parse(OPTIONS_WITH("Contact: <sip:a@h>\r\nContact: *\r\n"));
	IS_INT(sip_msg_contacts(&msg, c, 4, &n, &star, &why), -EINVAL,
	       "a contact then star");
	parse(OPTIONS_WITH("Contact: *, <sip:a@h>\r\n"));
	IS_INT(sip_msg_contacts(&msg, c, 4, &n, &star, &why), -EINVAL,
	       "star inside a list");
	parse(OPTIONS_WITH("Contact: \"Joe\" <sip:joe@example.org>;;;;\r\n"));
	IS_INT(sip_msg_contacts(&msg, c, 4, &n, &star, &why), -EINVAL,
	       "empty Contact parameters (badinv01)");
}

/* The request's list as the pipeline keeps it: values, star, and on a
 * defect the error, its reason and the values before it. */
static void test_contacts_struct(void)
{
	static struct sip_contacts c;
	static char buf[16384];
	size_t len;

	parse(OPTIONS_WITH("Contact: <sip:a@192.0.2.1>;q=0.1, <sip:b@h>\r\nm: sip:c@h\r\n"));
	IS_INT(sip_contacts_parse(&msg, &c), 0, "parses");
	OK(c.error == 0 && c.n == 3 && !c.star, "three values, no error, no star");
	OK(slice_eq(c.v[0].uri.host, SLICE_LIT("192.0.2.1")) && c.v[0].q == 100,
	   "first value's host and q");
	IS_SLICE(c.v[2].uri.user, "c", "third value from the compact line");
	parse(OPTIONS_WITH("Contact: *\r\nExpires: 0\r\n"));
	IS_INT(sip_contacts_parse(&msg, &c), 0, "Contact: *");
	OK(c.star && c.n == 0 && c.error == 0, "star, no values");
	parse(OPTIONS_WITH("Contact: <sip:a@h>, <sip:b@h\r\n"));
	IS_INT(sip_contacts_parse(&msg, &c), -EINVAL, "a defect in the second value");
	OK(c.error == -EINVAL && c.n == 1, "the error kept, the value before it counted");
	IS_SLICE(slice_cstr(c.reason ? c.reason : ""), "Missing '>' after URI", "its reason");
	parse(OPTIONS_WITH("Contact: <sip:a@h>\r\nContact: *\r\n"));
	IS_INT(sip_contacts_parse(&msg, &c), -EINVAL, "a value then star");
	IS_SLICE(slice_cstr(c.reason ? c.reason : ""), "Contact * with other contacts", "reason");
	len = (size_t)snprintf(buf, sizeof(buf), OPTIONS_WITH("Contact: %s\r\n"), "<sip:a@h>");
	parse_len(buf, len, 0);
	IS_INT(sip_contacts_parse(&msg, &c), 0, "a single value again");
	OK(c.n == 1 && c.error == 0 && c.reason == NULL, "no trace of the earlier defect");
}

/* More than SIP_MAX_CONTACTS values: the parse fails and so does the check. */
static void test_contacts_too_many(void)
{
	static struct sip_contacts c;
	static char buf[16384], list[8192];
	size_t len = 0;

	for (unsigned i = 0; i <= SIP_MAX_CONTACTS; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s<sip:u%u@h>",
					i ? "," : "", i);
	len = (size_t)snprintf(buf, sizeof(buf), OPTIONS_WITH("Contact: %s\r\n"), list);
	IS_INT(parse_len(buf, len, 0), 0, "a request with SIP_MAX_CONTACTS + 1 Contacts parses");
	IS_INT(sip_contacts_parse(&msg, &c), -E2BIG, "the list does not fit");
	IS_INT(c.n, SIP_MAX_CONTACTS, "the values that fit are kept");
	IS_INT(sip_msg_check(&msg, &c, &st), -EINVAL, "the check refuses it");
	IS_SLICE(slice_cstr(reason()), "Malformed Contact header", "reason");
}

struct tags {
	char seen[64];
	int stop_at;
	int count;
};

static int collect_tag(slice tag, void *arg)
{
	struct tags *t = arg;

	strncat(t->seen, tag.p, tag.len);
	strcat(t->seen, "|");
	return ++t->count == t->stop_at ? 42 : 0;
}

static void test_option_tags(void)
{
	struct tags t = { .stop_at = 0 };

	parse(OPTIONS_WITH("Require: 100rel, timer\r\nSupported:\r\n"
			   "Require:\r\n path\r\nProxy-Require: a,,b\r\n"));
	IS_INT(sip_msg_option_tags(&msg, SIP_H_REQUIRE, collect_tag, &t), 0, "Require");
	IS_SLICE(slice_cstr(t.seen), "100rel|timer|path|", "every tag across lines");
	t = (struct tags){ .stop_at = 2 };
	IS_INT(sip_msg_option_tags(&msg, SIP_H_REQUIRE, collect_tag, &t), 42,
	       "callback's non-zero value stops and is returned");
	IS_SLICE(slice_cstr(t.seen), "100rel|timer|", "stopped after two");
	t = (struct tags){ .stop_at = 0 };
	IS_INT(sip_msg_option_tags(&msg, SIP_H_SUPPORTED, collect_tag, &t), 0,
	       "empty Supported is fine");
	IS_INT(t.count, 0, "no tag");
	IS_INT(sip_msg_option_tags(&msg, SIP_H_PROXY_REQUIRE, collect_tag, &t), -EINVAL,
	       "empty element is malformed");
	IS_INT(sip_msg_option_tags(&msg, SIP_H_UNSUPPORTED, collect_tag, &t), 0,
	       "absent header: no tag");
}

static void test_expires(void)
{
	uint32_t e = 7;

	parse(OPTIONS_WITH(""));
	IS_INT(sip_msg_expires(&msg, &e), -ENOENT, "absent Expires");
	parse(OPTIONS_WITH("Expires: 3600\r\n"));
	IS_INT(sip_msg_expires(&msg, &e), 0, "Expires");
	IS_INT(e, 3600, "value");
	parse(OPTIONS_WITH("Expires: 4294967295\r\n"));
	IS_INT(sip_msg_expires(&msg, &e), 0, "2^32-1");
	IS_INT(e, 4294967295u, "max value");
	parse(OPTIONS_WITH("Expires: 4294967296\r\n"));
	IS_INT(sip_msg_expires(&msg, &e), -EINVAL, "2^32 refused");
	parse(OPTIONS_WITH("Expires: soon\r\n"));
	IS_INT(sip_msg_expires(&msg, &e), -EINVAL, "not a number");
	parse(OPTIONS_WITH("Expires: 1\r\nExpires: 1\r\n"));
	IS_INT(sip_msg_expires(&msg, &e), -EINVAL, "two Expires lines");
}

static void test_check(void)
{
	static const struct {
		const char *extra;
		const char *reason;
	} cases[] = {
		{ "Contact: \"Joe\" <sip:joe@example.org>;;;;\r\n", "Malformed Contact header" },
		{ "Contact: <sip:a@h>;expires=280297596632815\r\n", "Malformed Contact header" },
		{ "Route: <sip:p1.example.com;lr\r\n", "Malformed Route header" },
		{ "Record-Route: ,\r\n", "Malformed Record-Route header" },
		{ "Path: <sip:x@h>,,<sip:y@h>\r\n", "Malformed Path header" },
		{ "Require: a b\r\n", "Malformed Require header" },
		{ "Proxy-Require: ,\r\n", "Malformed Proxy-Require header" },
		{ "Supported: x,\r\n", "Malformed Supported header" },
		{ "Expires: 10000000000000000000000\r\n", "Bad Expires header" },
	};
	char buf[1024];

	IS_INT(parse(OPTIONS_WITH("Contact: <sip:a@h>\r\nRoute: <sip:p@h;lr>\r\n"
				  "Require: x\r\nSupported: y, z\r\nExpires: 5\r\n")), 0,
	       "good request");
	IS_INT(check(), 0, "passes the checks");
	IS_INT(st.error, SIP_PERR_NONE, "no error");
	for (unsigned i = 0; i < ARRAY_LEN(cases); i++) {
		snprintf(buf, sizeof(buf), OPTIONS_WITH("%s"), cases[i].extra);
		if (!OK(parse(buf) == 0, "parse ok: %s", reason()))
			continue;
		IS_INT(check(), -EINVAL, "check refuses %.*s",
		       (int)strcspn(cases[i].extra, "\r"), cases[i].extra);
		IS_SLICE(slice_cstr(reason()), cases[i].reason, "reason");
		IS_INT(st.error, SIP_PERR_BAD_MESSAGE, "BAD_MESSAGE");
	}
	IS_INT(parse("OPTIONS sip:c@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:c@h>\r\n"
		     "From: <sip:a@h>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n"), 0,
	       "CSeq method mismatch parses");
	IS_INT(check(), -EINVAL, "but fails the check");
	IS_SLICE(slice_cstr(reason()), "CSeq method does not match request method",
		 "reason names it");
	IS_INT(parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\n"
		     "From: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n"), 0,
	       "response");
	IS_INT(check(), 0, "response CSeq method is not compared");
}

int main(void)
{
	test_request_fields();
	test_response();
	test_status_defects();
	test_request_line_defects();
	test_request_uri_defects();
	test_version();
	test_folding_and_names();
	test_compact_forms();
	test_names_roundtrip();
	test_methods();
	test_leading_crlf_and_bare_lf();
	test_header_defects();
	test_typed_defects();
	test_call_id_cseq();
	test_missing_headers();
	test_repeated_and_lists();
	test_limits();
	test_datagram_body();
	test_stream();
	test_datagram_prefixes();
	test_poisoned_struct();
	test_accessors();
	test_routes();
	test_contacts();
	test_contacts_struct();
	test_contacts_too_many();
	test_option_tags();
	test_expires();
	test_check();
	return tap_done();
}
