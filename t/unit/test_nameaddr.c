/*
 * test_nameaddr.c — sip_nameaddr_parse and sip_nameaddr_list_parse: display
 * names, <URI> and addr-spec forms, header parameters (tag, expires, q),
 * comma-separated lists; the RFC 4475 / RFC 5118 header values quoted
 * literally from the torture messages.
 */
#include "../../sip/sip.h"
#include "tap.h"

#include <errno.h>
#include <stdio.h>

static struct sip_nameaddr na;
static const char *why;

static int parse_len(const char *s, size_t len)
{
	why = NULL;
	return sip_nameaddr_parse(slice_make(s, len), &na, &why);
}

static int parse(const char *s)
{
	return parse_len(s, strlen(s));
}

/* s printable for a test description (control bytes shown as '?'). */
static const char *shown(const char *s)
{
	static char buf[128];
	size_t i;

	for (i = 0; s[i] && i < sizeof(buf) - 1; i++)
		buf[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

/* Expects a defect; the reason must be set (and equal want when given). */
static void bad(const char *s, const char *want)
{
	int rc = parse(s);

	IS_INT(rc, -22, "rejects %s", shown(s));
	OK(why != NULL, "  with a reason (%s)", why ? why : "none");
	if (want && why)
		IS_SLICE(slice_cstr(why), want, "  reason for %s", shown(s));
}

static void test_fields(void)
{
	IS_INT(parse("\"Alice A.\" <sip:alice@atlanta.example.com;transport=tcp>;tag=1928301774;x=y"),
	       0, "quoted name-addr with params");
	IS_SLICE(na.raw, "\"Alice A.\" <sip:alice@atlanta.example.com;transport=tcp>;tag=1928301774;x=y", "raw");
	IS_SLICE(na.display, "\"Alice A.\"", "display with quotes");
	IS_SLICE(na.uri_raw, "sip:alice@atlanta.example.com;transport=tcp", "uri_raw without <>");
	OK(na.angle, "angle");
	IS_SLICE(na.uri.host, "atlanta.example.com", "URI parsed");
	IS_SLICE(na.uri.transport, "tcp", "URI param inside <>");
	IS_SLICE(na.params, "tag=1928301774;x=y", "header params");
	IS_SLICE(na.tag, "1928301774", "tag");
	OK(!na.has_expires, "no expires");
	IS_INT(na.q, -1, "no q");
}

static void test_trimmed_raw(void)
{
	IS_INT(parse("  <sip:a@b.example>  "), 0, "surrounding spaces");
	IS_SLICE(na.raw, "<sip:a@b.example>", "raw trimmed");
	IS_INT(na.display.len, 0, "no display name");
}

/* RFC 4475 §3.1.1.6 lwsdisp: no LWS between display name and '<'. */
static void test_lwsdisp(void)
{
	IS_INT(parse("caller<sip:caller@example.com>;tag=323"), 0, "lwsdisp From");
	IS_SLICE(na.display, "caller", "display");
	IS_SLICE(na.uri.user, "caller", "URI user");
	IS_SLICE(na.tag, "323", "tag");
}

/* RFC 4475 §3.1.1.2 intmeth From: token display name, odd params. */
static void test_token_display(void)
{
	IS_INT(parse("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\xd1\x80\xd0\xb0\xd0\xb1\xd0\xbe\xd1\x82\xd0\xb0\xd1\x8e\xd1\x89\xd0\xb8\xd0\xb9\";tag=_token~1'+`*%!-."),
	       0, "intmeth From");
	IS_SLICE(na.display, "token1~` token2'+_ token3*%!.-", "three tokens, trailing LWS off");
	IS_SLICE(na.tag, "_token~1'+`*%!-.", "tag with token chars");
	IS_INT(parse("Joe \t Smith<sip:joe@example.com>"), 0, "tokens split by LWS");
	IS_SLICE(na.display, "Joe \t Smith", "display as written");
}

/* RFC 4475 intmeth To: escaped control chars inside a quoted display. */
static void test_quoted_display_escapes(void)
{
	static const char to[] = "\"BEL:\\\x07 NUL:\\\0 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>";

	IS_INT(parse_len(to, sizeof(to) - 1), 0, "intmeth To");
	IS_INT(na.display.len, 22, "display kept with its escapes");
	IS_SLICE(na.uri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*", "URI user");
	IS_INT(parse("\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8"),
	       0, "wsinv From with folding");
	IS_SLICE(na.display, "\"J Rosenberg \\\\\\\"\"", "display");
	IS_SLICE(na.tag, "98asjd8", "tag after folded LWS");
	IS_INT(parse("\"%Z%45\" <sip:resource@example.com>"), 0, "esc02 To");
	IS_SLICE(na.display, "\"%Z%45\"", "not unescaped");
	IS_INT(parse("\"J\xc3\xb6rg\"<sip:j@example.com>"), 0, "UTF-8 in quotes");
}

static void test_quoted_display_bad(void)
{
	bad("\"Mr. J. User <sip:j.user@example.com>", "Unterminated quoted string");
	bad("\"a\\", "Unterminated quoted string");
	bad("\"a\x01\" <sip:a@b.example>", "Bad character in quoted string");
	IS_INT(parse("\"a\r\nb\" <sip:a@b.example>"), -22, "CRLF without folding in quotes");
	IS_SLICE(slice_cstr(why), "Bad character in quoted string", "  reason");
	IS_INT(parse("\"a\r\n b\" <sip:a@b.example>"), 0, "folding inside quotes");
	bad("\"a\\\r\" <sip:a@b.example>", "Bad character in quoted string");
	bad("\"Joe\" sip:joe@example.com", "Bad display name");
	bad("\"Joe\"x <sip:joe@example.com>", "Bad display name");
}

/* RFC 4475 §3.1.2.15 baddn: unquoted non-token chars in display names. */
static void test_baddn(void)
{
	bad("Bell, Alexander <sip:a.g.bell@example.com>;tag=43", "Bad display name");
	bad("Watson, Thomas <sip:t.watson@example.org>", "Bad display name");
	bad("Bell, Alexander <sip:a.g.bell@bell-tel.com>", "Bad display name");
	bad("J. \"R\" <sip:r@example.com>", "Bad display name");
	bad("Joe", "Bad display name");
	bad("Joe Smith", "Bad display name");
}

/* RFC 4475 §3.1.2.14 badaspec: spaces inside the <> of a name-addr. */
static void test_badaspec(void)
{
	IS_INT(parse("\"Bell, Alexander\" <sip:a.g.bell@example.com>;tag=433423"),
	       0, "badaspec From is fine");
	bad("\"Watson, Thomas\" < sip:t.watson@example.org >", "Whitespace inside <URI>");
	bad("<sip:a@b.example >", "Whitespace inside <URI>");
	bad("<sip:a @b.example>", NULL);
	bad("sip:user @example.org", "Malformed name-addr");
}

/* RFC 4475 §3.3.12 cparam01 vs §3.3.13 cparam02. */
static void test_addr_spec_params(void)
{
	IS_INT(parse("sip:+19725552222@gw1.example.net;unknownparam"), 0, "cparam01");
	OK(!na.angle, "addr-spec");
	IS_SLICE(na.uri_raw, "sip:+19725552222@gw1.example.net", "URI ends at ';'");
	IS_INT(na.uri.params.len, 0, "no URI params");
	IS_SLICE(na.params, "unknownparam", "a header param");
	IS_INT(parse("<sip:+19725552222@gw1.example.net;unknownparam>"), 0, "cparam02");
	IS_SLICE(na.uri.params, "unknownparam", "a URI param");
	IS_INT(na.params.len, 0, "no header params");
	IS_INT(parse(" sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n"),
	       0, "wsinv To: LWS before ';'");
	IS_SLICE(na.uri_raw, "sip:vivekg@chair-dnrc.example.com", "URI");
	IS_SLICE(na.tag, "1918181833n", "tag");
	IS_INT(parse("sip:caller@example.net;tag=134161461246"), 0, "badinv01 From");
	IS_SLICE(na.tag, "134161461246", "tag");
}

/* RFC 4475 §3.1.2.13 regbadct, §3.3.14 regescrt. */
static void test_addr_spec_ambiguous(void)
{
	bad("sip:user@example.com?Route=%3Csip:sip.example.com%3E", "URI with ',' or '?' must be in <>");
	bad("sip:a,b@example.com", "URI with ',' or '?' must be in <>");
	bad("sip:a@example.com, sip:b@example.com", "URI with ',' or '?' must be in <>");
	IS_INT(parse("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>"), 0, "regescrt");
	IS_SLICE(na.uri.headers, "Route=%3Csip:sip.example.com%3E", "headers kept in the URI");
	IS_INT(parse("<sip:a,b@example.com>"), 0, "',' fine inside <>");
	bad("sip:user;par=x@example.com", "Malformed header parameter");
}

/* RFC 4475 §3.3.4 unksm2: non-SIP schemes in To, From, Contact. */
static void test_other_schemes(void)
{
	IS_INT(parse("isbn:2983792873"), 0, "unksm2 To");
	IS_INT(na.uri.scheme_id, SIP_SCHEME_OTHER, "other scheme");
	IS_INT(parse("<http://www.example.com>;tag=3234233"), 0, "unksm2 From");
	IS_SLICE(na.tag, "3234233", "tag");
	IS_INT(parse("<name:John_Smith>"), 0, "unksm2 Contact");
	IS_INT(parse("\"Tel\" <tel:+1-201-555-0123>"), 0, "tel in a name-addr");
	IS_INT(na.uri.scheme_id, SIP_SCHEME_TEL, "tel");
}

/* RFC 5118: IPv6 references in name-addrs. */
static void test_ipv6(void)
{
	IS_INT(parse("\"Caller\" <sip:caller@[2001:db8::1]>"), 0, "ipv6-good Contact");
	IS_SLICE(na.uri.host, "2001:db8::1", "host");
	IS_INT(parse("sip:user@[2001:db8:::192.0.2.1]"), 0, "3-colons To");
	IS_INT(parse("\"T. desk phone\" <sip:ted@[::ffff:192.0.2.2]>"), 0, "ipv4-mapped");
	bad("<sip:caller@2001:db8::1>", "IPv6 address must be in brackets");
}

static void test_angle_errors(void)
{
	bad("<sip:a@b.example", "Missing '>' after URI");
	bad("\"Joe\" <sip:a@b.example", "Missing '>' after URI");
	bad("<sip:a@b.example> x", "Malformed name-addr");
	bad("<sip:a@b.example>, <sip:c@d.example>", "Malformed name-addr");
	bad("<>", "Missing URI scheme");
	bad("<sip:user@example.com>garbage", "Malformed name-addr");
	bad("", "Empty name-addr");
	bad(" \t ", "Empty name-addr");
	IS_INT(sip_nameaddr_parse(SLICE_NULL, &na, &why), -22, "a NULL slice");
}

/* RFC 4475 badinv01: empty header parameters. */
static void test_bad_header_params(void)
{
	bad("\"Joe\" <sip:joe@example.org>;;;;", "Malformed header parameter");
	bad("<sip:joe@example.org>;", "Malformed header parameter");
	bad("<sip:joe@example.org>;a=", "Malformed header parameter");
	bad("<sip:joe@example.org>;a=\"x", "Malformed header parameter");
	bad("sip:joe@example.org;tag=a b", "Malformed header parameter");
}

static void test_header_params_lws(void)
{
	IS_INT(parse("\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33"),
	       0, "wsinv Contact");
	IS_SLICE(na.params, "newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33", "params as written");
	IS_INT(na.q, 330, "q = 0.33");
	slice v;
	OK(sip_param_find(na.params, SLICE_LIT("newparam"), &v), "params iterable");
	IS_SLICE(v, "newvalue", "value after folding");
}

static void test_too_many_header_params(void)
{
	char buf[256] = "<sip:a@b.example>";
	size_t len = strlen(buf);

	for (int i = 0; i < SIP_MAX_PARAMS; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, ";p%d", i);
	IS_INT(parse(buf), 0, "SIP_MAX_PARAMS header params");
	strcat(buf, ";x");
	bad(buf, "Too many header parameters");
}

static void test_tag(void)
{
	IS_INT(parse("<sip:a@b.example>;TAG=abc;tag=def"), 0, "two tags");
	IS_SLICE(na.tag, "abc", "the first counts, name case-insensitive");
	bad("<sip:a@b.example>;tag", "Bad tag");
	bad("<sip:a@b.example>;tag=\"abc\"", "Bad tag");
	bad("<sip:a@b.example>;tag=[::1]", "Bad tag");
}

/* RFC 4475 §3.1.2.4 scalar02: expires above 2^32-1. */
static void test_expires(void)
{
	IS_INT(parse("<sip:a@b.example>;expires=0"), 0, "expires=0");
	OK(na.has_expires, "has_expires");
	IS_INT(na.expires, 0, "0");
	IS_INT(parse("<sip:a@b.example>;Expires=4294967295"), 0, "2^32-1");
	IS_INT(na.expires, 4294967295u, "max");
	IS_INT(parse("<sip:a@b.example>;expires=0003600"), 0, "leading zeros");
	IS_INT(na.expires, 3600, "3600");
	bad("<sip:user@host129.example.com>;expires=280297596632815", "Bad expires value");
	bad("<sip:a@b.example>;expires=4294967296", "Bad expires value");
	bad("<sip:a@b.example>;expires=-1", "Bad expires value");
	bad("<sip:a@b.example>;expires", "Bad expires value");
	bad("<sip:a@b.example>;expires=\"60\"", "Bad expires value");
}

static void test_q(void)
{
	static const struct {
		const char *q;
		int want;
	} good[] = {
		{ "0", 0 }, { "1", 1000 }, { "0.5", 500 }, { "0.125", 125 },
		{ "1.000", 1000 }, { "0.", 0 }, { "1.", 1000 }, { "0.07", 70 },
		{ "0.999", 999 },
	};
	static const char *const wrong[] = {
		"1.001", "2", "0.1234", "1.5", ".5", "0,5", "-0.1", "", "01",
		"\"0.5\"",
	};
	char buf[64];

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		snprintf(buf, sizeof(buf), "<sip:a@b.example>;q=%s", good[i].q);
		IS_INT(parse(buf), 0, "q=%s accepted", good[i].q);
		IS_INT(na.q, good[i].want, "  q=%s is %d/1000", good[i].q, good[i].want);
	}
	for (size_t i = 0; i < ARRAY_LEN(wrong); i++) {
		snprintf(buf, sizeof(buf), "<sip:a@b.example>;q=%s", wrong[i]);
		IS_INT(parse(buf), -22, "q=%s rejected", wrong[i]);
	}
	bad("<sip:a@b.example>;q=1.001", "Bad q value");
}

/* RFC 4475 §3.1.1.7 longreq: long values, no fixed-size copies. */
static void test_longreq(void)
{
	IS_INT(parse("\"I have a user name of extremeextremeextremeextremeextremeextremeextremeextremeextremeextreme proportion\"<sip:user@example.com:6000;unknownparam1=verylonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongvalue;longparamnamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamename=shortvalue;verylonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongParameterNameWithNoValue>"),
	       0, "longreq To");
	IS_INT(na.uri.port, 6000, "port");
	slice v;
	OK(sip_uri_param(&na.uri, SLICE_LIT("longparamnamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamename"), &v),
	   "long URI param name");
	IS_SLICE(v, "shortvalue", "its value");
	IS_INT(parse("sip:amazinglylongcallernameamazinglylongcallernameamazinglylongcallernameamazinglylongcallernameamazinglylongcallername@example.net;tag=12982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982424;unknownheaderparamnamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamename=unknowheaderparamvaluevaluevaluevaluevaluevaluevaluevaluevaluevaluevaluevaluevaluevaluevalue;unknownValuelessparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamname"),
	       0, "longreq From");
	IS_INT(na.tag.len, 155, "155-digit tag");
	IS_INT(na.uri.user.len, 115, "long user");
}

static void test_slice_bounds(void)
{
	const char *s = "<sip:a@b.example>;tag=xyz";

	IS_INT(parse_len(s, 16), -22, "'>' beyond the slice is not seen");
	IS_INT(parse_len(s, 21), -22, "';tag' cut before '=' has no value");
	IS_INT(parse_len(s, 23), 0, "tag cut by the slice");
	IS_SLICE(na.tag, "x", "tag ends with the slice");
	IS_INT(parse_len("\"abc\"", 4), -22, "closing quote beyond the slice");
}

/* ---- lists ------------------------------------------------------------ */

static struct sip_nameaddr list[8];

static int parse_list(const char *s, unsigned max, unsigned *n)
{
	why = NULL;
	return sip_nameaddr_list_parse(slice_cstr(s), list, max, n, &why);
}

static void test_list_split(void)
{
	unsigned n = 0;

	IS_INT(parse_list("<sip:a@a.example>,sip:b@b.example;q=0.5 ,\r\n \"c, d\" <sip:c@c.example>;expires=60",
			  8, &n), 0, "three values");
	IS_INT(n, 3, "n = 3");
	IS_SLICE(list[0].raw, "<sip:a@a.example>", "first");
	IS_SLICE(list[1].raw, "sip:b@b.example;q=0.5", "second trimmed");
	IS_INT(list[1].q, 500, "its q");
	IS_SLICE(list[2].display, "\"c, d\"", "comma inside quotes");
	IS_INT(list[2].expires, 60, "third expires");
}

static void test_list_no_split_inside(void)
{
	unsigned n = 0;

	IS_INT(parse_list("<sip:a,b@x.example;p=1>, \"q\\\",\" <sip:c@d.example>;x=\"1,2\"", 8, &n),
	       0, "commas in <>, escaped quotes, quoted params");
	IS_INT(n, 2, "two values");
	IS_SLICE(list[0].uri.user, "a,b", "user with ','");
	IS_SLICE(list[1].display, "\"q\\\",\"", "display");
	IS_SLICE(list[1].params, "x=\"1,2\"", "quoted param value");
}

static void test_list_appends(void)
{
	unsigned n = 2;

	IS_INT(parse_list("<sip:e@f.example>", 8, &n), 0, "appends");
	IS_INT(n, 3, "n advanced from 2");
	IS_SLICE(list[2].uri.user, "e", "written at out[2]");
	n = 0;
	IS_INT(parse_list("<sip:alias1@host1.example.com>", 8, &n), 0, "esc02 single");
	IS_INT(n, 1, "one");
}

/* RFC 4475 §3.1.2.1 badinv01 and empty elements. */
static void test_list_empty_elements(void)
{
	static const char *const inputs[] = {
		"<sip:a@b.example>,,<sip:c@d.example>", "<sip:a@b.example>,",
		",<sip:a@b.example>", "<sip:a@b.example>, ,<sip:c@d.example>",
		"", "  ", ",",
	};
	unsigned n;

	for (size_t i = 0; i < ARRAY_LEN(inputs); i++) {
		n = 0;
		IS_INT(parse_list(inputs[i], 8, &n), -22, "rejects '%s'", inputs[i]);
		OK(why && !strcmp(why, "Empty element in name-addr list"),
		   "  reason %s", why ? why : "none");
	}
	n = 0;
	IS_INT(parse_list("\"Joe\" <sip:joe@example.org>;;;;", 8, &n), -22, "badinv01 Contact");
	IS_INT(sip_nameaddr_list_parse(SLICE_NULL, list, 8, &n, &why), -22, "a NULL slice");
	IS_INT(parse_list("Bell, Alexander <sip:a.g.bell@bell-tel.com>", 8, &n), -22,
	       "baddn in a list");
}

static void test_list_max(void)
{
	unsigned n = 0;

	IS_INT(parse_list("<sip:a@b.example>, <sip:c@d.example>, <sip:e@f.example>", 2, &n),
	       -E2BIG, "three values, room for two");
	IS_INT(n, 2, "two stored");
	OK(why != NULL, "reason set");
	n = 8;
	IS_INT(parse_list("<sip:a@b.example>", 8, &n), -E2BIG, "full already");
	IS_INT(n, 8, "n unchanged");
}

static void test_list_errors(void)
{
	unsigned n = 0;

	IS_INT(parse_list("<sip:a@b.example>, \"unterminated <sip:c@d.example>", 8, &n),
	       -22, "unterminated quote");
	IS_SLICE(slice_cstr(why ? why : ""), "Unterminated quoted string", "reason");
	IS_INT(n, 1, "first value stored");
	n = 0;
	IS_INT(parse_list("<sip:a@b.example, <sip:c@d.example>", 8, &n), -22, "'<' swallows ','");
	n = 0;
	IS_INT(parse_list("<sip:a@b.example", 8, &n), -22, "missing '>'");
}

/* Many Contact values in one header (longreq style), all kept. */
static void test_list_many(void)
{
	static struct sip_nameaddr big[64];
	char buf[4096];
	size_t len = 0;
	unsigned n = 0;

	for (int i = 0; i < 40; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s<sip:user%d@host%d.example.net>",
					i ? ", " : "", i, i);
	why = NULL;
	IS_INT(sip_nameaddr_list_parse(slice_make(buf, len), big, 64, &n, &why), 0, "40 values");
	IS_INT(n, 40, "n = 40");
	IS_SLICE(big[39].uri.host, "host39.example.net", "last one");
}

int main(void)
{
	test_fields();
	test_trimmed_raw();
	test_lwsdisp();
	test_token_display();
	test_quoted_display_escapes();
	test_quoted_display_bad();
	test_baddn();
	test_badaspec();
	test_addr_spec_params();
	test_addr_spec_ambiguous();
	test_other_schemes();
	test_ipv6();
	test_angle_errors();
	test_bad_header_params();
	test_header_params_lws();
	test_too_many_header_params();
	test_tag();
	test_expires();
	test_q();
	test_longreq();
	test_slice_bounds();
	test_list_split();
	test_list_no_split_inside();
	test_list_appends();
	test_list_empty_elements();
	test_list_max();
	test_list_errors();
	test_list_many();
	return tap_done();
}
