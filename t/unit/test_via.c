/*
 * test_via.c — sip_via_parse: sent-protocol with LWS around '/', IPv4,
 * IPv6 and name sent-by with and without port, every well-known parameter,
 * several via-parms per line, and the defects that must be refused.
 */
#include "tap.h"
#include "../../sip/sip.h"

#include <errno.h>

static struct sip_via via[8];
static unsigned nvia;
static const char *why;

static int parse(const char *s)
{
	nvia = 0;
	why = NULL;
	return sip_via_parse(slice_cstr(s), via, ARRAY_LEN(via), &nvia, &why);
}

static void test_basic(void)
{
	IS_INT(parse("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds"), 0,
	       "simple Via parses");
	IS_INT(nvia, 1, "one via-parm");
	IS_SLICE(via[0].protocol, "SIP/2.0", "protocol");
	IS_SLICE(via[0].transport, "UDP", "transport");
	IS_SLICE(via[0].host, "192.0.2.1", "host");
	IS_INT(via[0].host_type, SIP_HOST_IPV4, "IPv4 host");
	IS_INT(via[0].port, 5060, "port");
	IS_SLICE(via[0].branch, "z9hG4bK776asdhds", "branch");
	IS_SLICE(via[0].params, "branch=z9hG4bK776asdhds", "params after ';'");
	IS_SLICE(via[0].raw, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds",
		 "raw via-parm");
	OK(!via[0].has_rport && via[0].rport == 0, "no rport");
	IS_INT(via[0].ttl, -1, "no ttl");
	OK(slice_empty(via[0].received) && slice_empty(via[0].maddr),
	   "no received, no maddr");
}

static void test_name_host_no_port(void)
{
	IS_INT(parse("SIP/2.0/TLS proxy.example.com;branch=z9hG4bKx"), 0,
	       "host name without port");
	IS_SLICE(via[0].host, "proxy.example.com", "host name");
	IS_INT(via[0].host_type, SIP_HOST_NAME, "name type");
	IS_INT(via[0].port, 0, "port 0 when absent");
	IS_INT(parse("SIP/2.0/UDP host5"), 0, "no parameters at all");
	IS_SLICE(via[0].params, "", "empty params");
	OK(slice_empty(via[0].branch), "no branch");
}

static void test_ipv6(void)
{
	IS_INT(parse("SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3"), 0,
	       "IPv6 sent-by with port");
	IS_SLICE(via[0].host, "2001:db8::9:1", "brackets stripped");
	IS_INT(via[0].host_type, SIP_HOST_IPV6, "IPv6 type");
	IS_INT(via[0].port, 6050, "port after ]");
	IS_INT(parse("SIP/2.0/UDP [::ffff:192.0.2.2];branch=z9hG4bKas3-111"), 0,
	       "IPv4-mapped IPv6");
	IS_SLICE(via[0].host, "::ffff:192.0.2.2", "mapped host");
	IS_INT(via[0].port, 0, "no port");
	OK(parse("SIP/2.0/UDP [2001:db8::1;branch=x") < 0, "unclosed [ refused");
	OK(parse("SIP/2.0/UDP 2001:db8::1;branch=x") < 0,
	   "unbracketed IPv6 sent-by refused");
}

static void test_received(void)
{
	IS_INT(parse("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKa"),
	       0, "received with brackets (RFC 5118 4.5)");
	IS_SLICE(via[0].received, "2001:db8::9:255", "brackets stripped");
	IS_INT(parse("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKa"),
	       0, "received without brackets");
	IS_SLICE(via[0].received, "2001:db8::9:255", "unbracketed kept");
	IS_SLICE(via[0].branch, "z9hG4bKa", "branch after received");
	IS_INT(parse("SIP/2.0/UDP h.example.com;received=192.0.2.5"), 0,
	       "IPv4 received");
	IS_SLICE(via[0].received, "192.0.2.5", "IPv4 received value");
	OK(parse("SIP/2.0/UDP h;received=host.example.com") < 0,
	   "received must be an address");
	OK(parse("SIP/2.0/UDP h;received") < 0, "received without value refused");
	OK(parse("SIP/2.0/UDP h;received=192.0.2.300") < 0,
	   "received with bad IPv4 refused");
}

static void test_rport(void)
{
	IS_INT(parse("SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKb"), 0,
	       "rport without value");
	OK(via[0].has_rport, "has_rport");
	IS_INT(via[0].rport, 0, "rport value 0 when none");
	IS_INT(parse("SIP/2.0/UDP 10.0.0.1;received=203.0.113.9;rport=40123;branch=z9hG4bKb"),
	       0, "rport with value");
	OK(via[0].has_rport, "has_rport with value");
	IS_INT(via[0].rport, 40123, "rport value");
	OK(parse("SIP/2.0/UDP 10.0.0.1;rport=0") < 0, "rport=0 refused");
	OK(parse("SIP/2.0/UDP 10.0.0.1;rport=65536") < 0, "rport>65535 refused");
	OK(parse("SIP/2.0/UDP 10.0.0.1;rport=abc") < 0, "rport=abc refused");
	OK(parse("SIP/2.0/UDP 10.0.0.1;rport=") < 0, "rport= refused");
}

static void test_maddr_ttl(void)
{
	IS_INT(parse("SIP/2.0/UDP h.example.com;maddr=224.2.0.1;ttl=16;branch=z9hG4bKc"),
	       0, "maddr and ttl");
	IS_SLICE(via[0].maddr, "224.2.0.1", "maddr");
	IS_INT(via[0].ttl, 16, "ttl");
	IS_INT(parse("SIP/2.0/UDP h;ttl=0"), 0, "ttl 0");
	IS_INT(via[0].ttl, 0, "ttl 0 value");
	IS_INT(parse("SIP/2.0/UDP h;maddr=[2001:db8::1]"), 0, "IPv6 maddr");
	IS_SLICE(via[0].maddr, "[2001:db8::1]", "IPv6 maddr as written");
	OK(parse("SIP/2.0/UDP h;ttl=256") < 0, "ttl 256 refused");
	OK(parse("SIP/2.0/UDP h;ttl=") < 0, "empty ttl refused");
	OK(parse("SIP/2.0/UDP h;maddr=-bad") < 0, "bad maddr refused");
}

static void test_params_misc(void)
{
	IS_INT(parse("SIP/2.0/UDP h;BRANCH=z9hG4bKd;x-ext=\"a,b;c\";flag"), 0,
	       "case-insensitive names, quoted extension with ',' and ';'");
	IS_SLICE(via[0].branch, "z9hG4bKd", "BRANCH found");
	IS_INT(nvia, 1, "comma inside quotes does not split");
	IS_INT(parse("SIP/2.0/UDP h;branch=z9hG4bK"), 0,
	       "bare magic cookie branch accepted (RFC 4475 badbranch)");
	IS_SLICE(via[0].branch, "z9hG4bK", "bare cookie kept");
	IS_INT(parse("SIP/2.0/UDP h;branch=first;branch=second"), 0,
	       "repeated branch");
	IS_SLICE(via[0].branch, "first", "first branch wins");
	OK(parse("SIP/2.0/UDP h;branch") < 0, "branch without value refused");
	IS_INT(parse("SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en"), 0,
	       "unknown transport token");
	IS_SLICE(via[0].transport, "UNKNOWN", "unknown transport kept");
}

static void test_multiple(void)
{
	IS_INT(parse("SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com:5070;branch=z9hG4bK2,SIP/2.0/SCTP 192.0.2.3"),
	       0, "three via-parms on one line");
	IS_INT(nvia, 3, "three values");
	IS_SLICE(via[0].host, "a.example.com", "first host");
	IS_SLICE(via[1].host, "b.example.com", "second host");
	IS_INT(via[1].port, 5070, "second port");
	IS_SLICE(via[1].raw, "SIP/2.0/TCP b.example.com:5070;branch=z9hG4bK2",
		 "second raw");
	IS_SLICE(via[2].transport, "SCTP", "third transport");
	nvia = 7;
	IS_INT(sip_via_parse(slice_cstr("SIP/2.0/UDP a, SIP/2.0/UDP b"), via,
			     ARRAY_LEN(via), &nvia, &why), -E2BIG,
	       "past max: -E2BIG");
	IS_INT(nvia, 8, "filled up to max");
}

static void test_lws(void)
{
	IS_INT(parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw"), 0,
	       "LWS and folding around '/' (RFC 4475 wsinv)");
	IS_SLICE(via[0].transport, "UDP", "transport after folding");
	IS_SLICE(via[0].host, "192.0.2.2", "host after folding");
	IS_SLICE(via[0].branch, "390skdjuw", "branch");
	IS_INT(parse("SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239"),
	       0, "wsinv second Via line");
	IS_INT(nvia, 2, "two values");
	IS_SLICE(via[0].host, "spindle.example.com", "first host");
	IS_SLICE(via[0].branch, "z9hG4bK9ikj8", "first branch");
	IS_SLICE(via[1].host, "192.168.255.111", "second host");
	IS_SLICE(via[1].branch, "z9hG4bK30239", "folded branch value");
	IS_INT(parse("SIP/2.0/UDP host.example.com : 5062 ;branch=z9hG4bKe"), 0,
	       "LWS around ':'");
	IS_INT(via[0].port, 5062, "port after LWS");
	IS_INT(parse("SIP/2.0/UDP\n 192.0.2.9;branch=z9hG4bKf"), 0,
	       "bare-LF folding");
	IS_SLICE(via[0].host, "192.0.2.9", "host after bare-LF folding");
}

static void test_defects(void)
{
	static const char *const bad[] = {
		"",
		"SIP/2.0/UDP",
		"SIP/2.0 192.0.2.1",
		"SIP/2.0/UDP192.0.2.1",
		"SIP/2.0/UDP 192.0.2.15;;,;,,",
		"SIP/2.0/UDP 192.0.2.15;",
		"SIP/2.0/UDP 192.0.2.15,",
		"SIP/2.0/UDP 192.0.2.15;branch=z9hG4bK,,SIP/2.0/UDP h",
		"SIP/2.0/UDP 192.0.2.15:",
		"SIP/2.0/UDP 192.0.2.15:0",
		"SIP/2.0/UDP 192.0.2.15:65536",
		"SIP/2.0/UDP 192.0.2.15:50x",
		"SIP/2.0/UDP 1.2.3",
		"SIP/2.0/UDP 999.1.1.1",
		"SIP/2.0/UDP host..example.com",
		"SIP/2.0/UDP h junk",
		"SIP/2.0/UDP h;x=\"unterminated",
		"SIP/2.0/UDP h;=v",
		"SIP//UDP h",
	};

	for (unsigned i = 0; i < ARRAY_LEN(bad); i++) {
		int rc = parse(bad[i]);

		if (!OK(rc == -EINVAL && why && *why, "defect refused: '%s'", bad[i]))
			tap_diag("  rc %d", rc);
	}
	parse("SIP/2.0/UDP 192.0.2.15;;,;,,");
	IS_SLICE(slice_cstr(why), "Empty Via parameter", "reason names the defect");
}

int main(void)
{
	test_basic();
	test_name_host_no_port();
	test_ipv6();
	test_received();
	test_rport();
	test_maddr_ttl();
	test_params_misc();
	test_multiple();
	test_lws();
	test_defects();
	return tap_done();
}
