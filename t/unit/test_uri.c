/*
 * test_uri.c — sip_uri_parse, sip_uri_param and sip_uri_port: sip/sips
 * userinfo, escapes, hosts (names, IPv4, IPv6 references), ports,
 * parameters and headers; tel and other schemes; the RFC 4475 and RFC 5118
 * Request-URIs and header URIs quoted literally.
 */
#include "../../sip/sip.h"
#include "tap.h"

#include <stdio.h>

static struct sip_uri u;
static const char *why;

static int parse(const char *s)
{
	why = NULL;
	return sip_uri_parse(slice_cstr(s), &u, &why);
}

/* Expects a defect; the reason must be set (and equal want when given). */
static void bad(const char *s, const char *want)
{
	int rc = parse(s);

	IS_INT(rc, -22, "rejects %s", s);
	OK(why != NULL, "  with a reason (%s)", why ? why : "none");
	if (want && why)
		IS_SLICE(slice_cstr(why), want, "  reason for %s", s);
}

static void test_basic_sip(void)
{
	IS_INT(parse("sip:alice@atlanta.example.com:5070;transport=tcp?Subject=hi"),
	       0, "sip URI with every part");
	IS_SLICE(u.raw, "sip:alice@atlanta.example.com:5070;transport=tcp?Subject=hi", "raw");
	IS_SLICE(u.scheme, "sip", "scheme");
	IS_INT(u.scheme_id, SIP_SCHEME_SIP, "scheme id");
	IS_SLICE(u.user, "alice", "user");
	OK(u.password.p == NULL, "no password");
	IS_SLICE(u.host, "atlanta.example.com", "host");
	IS_INT(u.host_type, SIP_HOST_NAME, "host name");
	IS_INT(u.port, 5070, "port");
	IS_SLICE(u.params, "transport=tcp", "params without ';'");
	IS_SLICE(u.transport, "tcp", "transport");
	IS_SLICE(u.headers, "Subject=hi", "headers");
	IS_INT(parse("sip:example.com"), 0, "host only");
	OK(u.user.len == 0 && u.port == 0 && u.params.len == 0 &&
	   u.headers.len == 0, "no user, port, params or headers");
}

static void test_scheme_case(void)
{
	IS_INT(parse("SIP:a@b.example"), 0, "SIP upper case");
	IS_INT(u.scheme_id, SIP_SCHEME_SIP, "is sip");
	IS_SLICE(u.scheme, "SIP", "scheme as written");
	IS_INT(parse("SiPs:a@b.example"), 0, "SiPs mixed case");
	IS_INT(u.scheme_id, SIP_SCHEME_SIPS, "is sips");
	IS_INT(parse("TEL:+1234"), 0, "TEL upper case");
	IS_INT(u.scheme_id, SIP_SCHEME_TEL, "is tel");
	IS_INT(parse("sipx:whatever"), 0, "sipx is another scheme");
	IS_INT(u.scheme_id, SIP_SCHEME_OTHER, "other");
}

static void test_password(void)
{
	IS_INT(parse("sip:user:secret@example.com"), 0, "user:password");
	IS_SLICE(u.user, "user", "user");
	IS_SLICE(u.password, "secret", "password");
	IS_INT(parse("sip:user:@example.com"), 0, "empty password");
	OK(u.password.p != NULL && u.password.len == 0, "present but empty");
	bad("sip::pw@example.com", "Malformed URI user part");
	bad("sip:@example.com", "Malformed URI user part");
	bad("sip:user:pa;ss@example.com", NULL);
	bad("sip:user:pa:ss@example.com", NULL);
}

/* RFC 4475 §3.1.1.3 esc01: escapes are validated, kept as written. */
static void test_escapes_kept(void)
{
	IS_INT(parse("sip:sips%3Auser%40example.com@example.net"), 0, "esc01 R-URI");
	IS_SLICE(u.user, "sips%3Auser%40example.com", "user still escaped");
	IS_SLICE(u.host, "example.net", "host");
	IS_INT(parse("sip:%75se%72@example.com"), 0, "esc01 To URI");
	IS_SLICE(u.user, "%75se%72", "escaped user kept");
	IS_INT(parse("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31"),
	       0, "esc01 Contact URI");
	IS_SLICE(u.params, "%6C%72;n%61me=v%61lue%25%34%31", "escaped params kept");
	OK(!u.lr, "an escaped lr is not unescaped into lr");
	slice v;
	OK(sip_uri_param(&u, SLICE_LIT("n%61me"), &v), "param found by its written name");
	IS_SLICE(v, "v%61lue%25%34%31", "value%%41 stays escaped");
}

/* RFC 4475 §3.1.1.4 escnull: %00 is kept, never a terminator. */
static void test_escaped_null(void)
{
	IS_INT(parse("sip:null-%00-null@example.com"), 0, "escnull AOR");
	IS_SLICE(u.user, "null-%00-null", "whole user with %%00");
	IS_INT(parse("sip:%00%00@host5.example.com"), 0, "escnull Contact");
	IS_INT(u.user.len, 6, "two escaped NULs");
}

static void test_bad_escapes(void)
{
	bad("sip:a%4@example.com", "Bad escape in URI");
	bad("sip:a%GG@example.com", "Bad escape in URI");
	bad("sip:a@example.com;x=%", "Bad escape in URI");
	bad("sip:a@example.com;x=%4g", "Bad escape in URI");
	bad("sip:a@example.com?h=%z1", NULL);
}

/* RFC 4475 §3.1.1.9 semiuri: ';' and an escaped '@' in the user part. */
static void test_semicolon_user(void)
{
	IS_INT(parse("sip:user;par=u%40example.net@example.com"), 0, "semiuri");
	IS_SLICE(u.user, "user;par=u%40example.net", "user holds the ';'");
	IS_SLICE(u.host, "example.com", "host");
	OK(u.params.len == 0, "no URI params");
}

/* RFC 4475 §3.1.1.2 intmeth: every user-unreserved and password char. */
static void test_intmeth_uri(void)
{
	IS_INT(parse("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com"),
	       0, "intmeth Request-URI");
	IS_SLICE(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*", "user");
	IS_SLICE(u.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)", "password");
	IS_SLICE(u.host, "example.com", "host");
	IS_INT(parse("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com"),
	       0, "intmeth To URI");
	IS_SLICE(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*", "user");
}

static void test_bad_user_chars(void)
{
	bad("sip:us er@example.com", NULL);
	bad("sip:us\"er@example.com", NULL);
	bad("sip:us<er@example.com", NULL);
	bad("sip:a@b@example.com", NULL);
}

static void test_hostnames(void)
{
	IS_INT(parse("sip:a-b.c9.example.com."), 0, "name with '-' and final '.'");
	IS_SLICE(u.host, "a-b.c9.example.com.", "host");
	IS_INT(u.host_type, SIP_HOST_NAME, "name");
	bad("sip:-a.example.com", "Malformed host in URI");
	bad("sip:a-.example.com", "Malformed host in URI");
	bad("sip:a..example.com", "Malformed host in URI");
	bad("sip:.example.com", "Malformed host in URI");
	bad("sip:a_b.example.com", NULL);
	bad("sip:user@", "Missing host in URI");
	bad("sip:", "Missing host in URI");
	bad("sip:;lr", "Missing host in URI");
}

static void test_ipv4(void)
{
	IS_INT(parse("sip:192.0.2.1:5060"), 0, "IPv4 with port");
	IS_INT(u.host_type, SIP_HOST_IPV4, "IPv4");
	IS_SLICE(u.host, "192.0.2.1", "host");
	IS_INT(parse("sip:255.255.255.255"), 0, "broadcast");
	IS_INT(u.host_type, SIP_HOST_IPV4, "IPv4");
	IS_INT(parse("sip:1.2.3.256"), 0, "256 is not an octet");
	IS_INT(u.host_type, SIP_HOST_NAME, "treated as a name");
	IS_INT(parse("sip:1.2.3"), 0, "three parts");
	IS_INT(u.host_type, SIP_HOST_NAME, "a name");
	IS_INT(parse("sip:1.2.3.4.5"), 0, "five parts");
	IS_INT(u.host_type, SIP_HOST_NAME, "a name");
}

/* RFC 5118 §4.1, §4.3, §4.4, §4.9, §4.10. */
static void test_ipv6_references(void)
{
	IS_INT(parse("sip:[2001:db8::10]"), 0, "ipv6-good R-URI");
	IS_INT(u.host_type, SIP_HOST_IPV6, "IPv6");
	IS_SLICE(u.host, "2001:db8::10", "host without brackets");
	IS_INT(parse("sip:[2001:db8::10:5070]"), 0, "port-ambiguous");
	IS_SLICE(u.host, "2001:db8::10:5070", "5070 belongs to the address");
	IS_INT(u.port, 0, "no port");
	IS_INT(parse("sip:[2001:db8::10]:5070"), 0, "port-unambiguous");
	IS_SLICE(u.host, "2001:db8::10", "address");
	IS_INT(u.port, 5070, "port 5070");
	IS_INT(parse("sip:user@[2001:db8:::192.0.2.1]"), 0, "3 colons tolerated");
	IS_SLICE(u.host, "2001:db8:::192.0.2.1", "host");
	IS_INT(parse("sip:user@[2001:db8::192.0.2.1]"), 0, "2 colons and IPv4");
	IS_INT(parse("sip:ted@[::ffff:192.0.2.2]"), 0, "IPv4-mapped");
	IS_INT(u.host_type, SIP_HOST_IPV6, "IPv6");
	IS_INT(parse("sip:[::1]"), 0, "loopback");
	IS_INT(parse("sip:[1:2:3:4:5:6:7:8]:5060"), 0, "eight groups");
	IS_INT(parse("sip:[fe80::]"), 0, "trailing ::");
}

static void test_ipv6_bad(void)
{
	bad("sip:2001:db8::10", "IPv6 address must be in brackets");
	bad("sip:user@2001:db8::10", "IPv6 address must be in brackets");
	bad("sip:user@::1", "IPv6 address must be in brackets");
	bad("sip:[2001:db8::10", "Malformed IPv6 reference");
	bad("sip:[2001:db8::g]", "Malformed IPv6 reference");
	bad("sip:[1:2:3]", "Malformed IPv6 reference");
	bad("sip:[1::2::3]", "Malformed IPv6 reference");
	bad("sip:[12345::1]", "Malformed IPv6 reference");
	bad("sip:[:1:2:3:4:5:6:7]", "Malformed IPv6 reference");
	bad("sip:[1:2:3:4:5:6:7:8:9]", "Malformed IPv6 reference");
	bad("sip:[::1.2.3]", "Malformed IPv6 reference");
	bad("sip:[]", "Malformed IPv6 reference");
	bad("sip:[192.0.2.1]", "Malformed IPv6 reference");
	bad("sip:[::1]x", "Malformed URI");
}

static void test_ports(void)
{
	IS_INT(parse("sip:h.example:1"), 0, "port 1");
	IS_INT(u.port, 1, "1");
	IS_INT(parse("sip:h.example:65535"), 0, "port 65535");
	IS_INT(u.port, 65535, "65535");
	IS_INT(parse("sip:h.example:05060"), 0, "leading zero");
	IS_INT(u.port, 5060, "5060");
	bad("sip:h.example:0", "Bad port in URI");
	bad("sip:h.example:65536", "Bad port in URI");
	bad("sip:h.example:", "Bad port in URI");
	bad("sip:h.example:5060x", "Malformed URI");
	bad("sip:h.example:5060:5060", "Bad port in URI");
	bad("sip:h.example:99999999999", "Bad port in URI");
}

static void test_params(void)
{
	IS_INT(parse("sip:h.example;transport=TLS;maddr=239.255.255.1;user=phone;ttl=15;lr;x=[::1]/:&+$"),
	       0, "all well-known params");
	IS_SLICE(u.transport, "TLS", "transport");
	IS_SLICE(u.maddr, "239.255.255.1", "maddr");
	IS_SLICE(u.user_param, "phone", "user=");
	IS_SLICE(u.ttl, "15", "ttl");
	OK(u.lr, "lr");
	IS_INT(parse("sip:h.example;LR=on;Transport=udp;transport=tcp"), 0, "names case-insensitive");
	OK(u.lr, "LR=on is lr");
	IS_SLICE(u.transport, "udp", "the first transport counts");
	IS_INT(parse("sip:h.example;lrx;xlr"), 0, "lookalikes");
	OK(!u.lr, "not lr");
}

/* RFC 4475 badinv01 and lwsruri: empty and broken parameters. */
static void test_bad_params(void)
{
	bad("sip:user@example.com;", "Malformed URI parameter");
	bad("sip:user@example.com;;lr", "Malformed URI parameter");
	bad("sip:user@example.com;=x", "Malformed URI parameter");
	bad("sip:user@example.com;x=", "Malformed URI parameter");
	bad("sip:user@example.com;x=a=b", "Malformed URI");
	bad("sip:user@example.com;x=\"a\"", "Malformed URI parameter");
	bad("sip:user@example.com; lr", "Malformed URI parameter");
}

static void test_too_many_params(void)
{
	char buf[256] = "sip:h.example";
	size_t len = strlen(buf);

	for (int i = 0; i < SIP_MAX_PARAMS; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, ";p%d", i);
	IS_INT(parse(buf), 0, "SIP_MAX_PARAMS parameters");
	strcat(buf, ";x");
	bad(buf, "Too many URI parameters");
}

/* RFC 4475 regescrt / escruri: headers after '?' kept as a slice. */
static void test_headers(void)
{
	IS_INT(parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E"), 0, "regescrt");
	IS_SLICE(u.headers, "Route=%3Csip:sip.example.com%3E", "headers");
	IS_INT(parse("sip:h.example;lr?a=b&c=&d=[x]/?:+$"), 0, "several headers");
	IS_SLICE(u.headers, "a=b&c=&d=[x]/?:+$", "joined by &");
	IS_SLICE(u.params, "lr", "params end at '?'");
	bad("sip:h.example?a", "Malformed URI headers");
	bad("sip:h.example?=b", "Malformed URI headers");
	bad("sip:h.example?a=b&", "Malformed URI headers");
	bad("sip:h.example?", "Malformed URI headers");
	bad("sip:h.example?a=b;c", "Malformed URI");
}

static void test_tel(void)
{
	IS_INT(parse("tel:+1-201-555-0123"), 0, "global number");
	IS_SLICE(u.user, "+1-201-555-0123", "number in user");
	IS_INT(u.host_type, SIP_HOST_NONE, "no host");
	IS_INT(parse("tel:7042;phone-context=example.com"), 0, "local number");
	IS_SLICE(u.user, "7042", "number");
	IS_SLICE(u.params, "phone-context=example.com", "params");
	slice v;
	OK(sip_uri_param(&u, SLICE_LIT("phone-context"), &v), "phone-context");
	IS_SLICE(v, "example.com", "value");
	IS_INT(parse("tel:(030).1234-5*#AB;ext=22"), 0, "separators, * # and hex");
	bad("tel:", "Malformed tel URI");
	bad("tel:+", "Malformed tel URI");
	bad("tel:+12a", "Malformed tel URI");
	bad("tel:+1 2", "Malformed tel URI");
	bad("tel:+12?x=y", "Malformed tel URI");
	bad("tel:+12;", "Malformed URI parameter");
}

/* RFC 4475 §3.3.2 unkscm, §3.3.3 novelsc, §3.3.4 unksm2. */
static void test_other_schemes(void)
{
	IS_INT(parse("nobodyKnowsThisScheme:totallyopaquecontent"), 0, "unkscm");
	IS_INT(u.scheme_id, SIP_SCHEME_OTHER, "other");
	IS_SLICE(u.scheme, "nobodyKnowsThisScheme", "scheme");
	IS_INT(parse("soap.beep://192.0.2.103:3002"), 0, "novelsc");
	IS_SLICE(u.scheme, "soap.beep", "scheme with '.'");
	OK(u.host.len == 0 && u.port == 0, "not interpreted");
	IS_INT(parse("isbn:2983792873"), 0, "unksm2 To");
	IS_INT(parse("http://www.example.com"), 0, "unksm2 From");
	IS_INT(parse("name:John_Smith"), 0, "unksm2 Contact");
	IS_INT(parse("urn:service:sos?x=1#f%20"), 0, "reserved chars and escapes");
	IS_SLICE(u.raw, "urn:service:sos?x=1#f%20", "raw");
	bad("x:", "Malformed URI");
	bad("x:a b", "Malformed URI");
	bad("x:a<b", "Malformed URI");
	bad("x:a\"b", "Malformed URI");
}

static void test_missing_scheme(void)
{
	bad("<sip:user@example.com>", "Missing URI scheme");
	bad("user@example.com", "Missing URI scheme");
	bad("1sip:user@example.com", "Missing URI scheme");
	bad("s_p:x", "Missing URI scheme");
	bad(":x", "Missing URI scheme");
	bad("", "Missing URI scheme");
	IS_INT(sip_uri_parse(SLICE_NULL, &u, &why), -22, "a NULL slice");
}

static void test_uri_param_lookup(void)
{
	slice v;

	IS_INT(parse("sip:h.example;Foo=Bar;novalue;x=1"), 0, "parse");
	OK(sip_uri_param(&u, SLICE_LIT("foo"), &v), "case-insensitive name");
	IS_SLICE(v, "Bar", "value as written");
	OK(sip_uri_param(&u, SLICE_LIT("NoValue"), &v), "valueless param");
	IS_INT(v.len, 0, "empty value");
	OK(sip_uri_param(&u, SLICE_LIT("x"), &v), "last param");
	IS_SLICE(v, "1", "value");
	OK(!sip_uri_param(&u, SLICE_LIT("no"), &v), "prefix does not match");
	OK(!sip_uri_param(&u, SLICE_LIT("bar"), &v), "a value is not a name");
	IS_INT(parse("sip:h.example"), 0, "no params");
	OK(!sip_uri_param(&u, SLICE_LIT("lr"), &v), "nothing found");
}

static void test_default_port(void)
{
	IS_INT(parse("sip:h.example"), 0, "sip");
	IS_INT(sip_uri_port(&u), 5060, "5060 for sip");
	IS_INT(parse("sips:h.example"), 0, "sips");
	IS_INT(sip_uri_port(&u), 5061, "5061 for sips");
	IS_INT(parse("sips:h.example:5071"), 0, "sips with port");
	IS_INT(sip_uri_port(&u), 5071, "explicit port");
}

/* The parser must stop at the end of the slice, not at a NUL. */
static void test_slice_bounds(void)
{
	const char *s = "sip:a@b.example:5060;x=%41";
	int rc;

	rc = sip_uri_parse(slice_make(s, 13), &u, &why);
	IS_INT(rc, 0, "prefix of a longer buffer");
	IS_SLICE(u.host, "b.examp", "host ends with the slice");
	IS_INT(u.port, 0, "port not seen");
	rc = sip_uri_parse(slice_make(s, strlen(s) - 1), &u, &why);
	IS_INT(rc, -22, "an escape cut by the slice end is bad");
	rc = sip_uri_parse(slice_make(s, 16), &u, &why);
	IS_INT(rc, -22, "':' at the slice end is an empty port");
}

int main(void)
{
	test_basic_sip();
	test_scheme_case();
	test_password();
	test_escapes_kept();
	test_escaped_null();
	test_bad_escapes();
	test_semicolon_user();
	test_intmeth_uri();
	test_bad_user_chars();
	test_hostnames();
	test_ipv4();
	test_ipv6_references();
	test_ipv6_bad();
	test_ports();
	test_params();
	test_bad_params();
	test_too_many_params();
	test_headers();
	test_tel();
	test_other_schemes();
	test_missing_scheme();
	test_uri_param_lookup();
	test_default_port();
	test_slice_bounds();
	return tap_done();
}
