/*
 * test_rr2.c — transport switching in the proxy: the Via transport and
 * the Record-Route text of a forwarded request for UDP→TCP, TCP→UDP,
 * UDP→UDP (one value), TLS and sips, with nat=yes and below another
 * proxy's values; a NATed UA's Contact on TCP/TLS given its transport; an in-dialog request consuming both of our values and
 * leaving by the transport of its next hop; the transport a URI asks for;
 * the sips rules; and the texts rebuilt in buffers that held other bytes.
 */
#include "../../sip/proxy_int.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

enum { UDP0, TCP1, TLS2, UDP3 };

static struct pinhole_conf conf;
static struct sip_msg msg, again;
static struct proxy_routes routes;
static struct proxy_route_plan plan;
static char out[16384];
static size_t out_len;

static void setup_conf(void)
{
	conf_defaults(&conf);
	conf.nlisten = 4;
	conf.listen[UDP0] = (struct conf_listen){ .proto = CONF_PROTO_UDP, .address = "192.0.2.1",
						  .port = 5060 };
	conf.listen[TCP1] = (struct conf_listen){ .proto = CONF_PROTO_TCP, .address = "192.0.2.1",
						  .port = 5060 };
	conf.listen[TLS2] = (struct conf_listen){ .proto = CONF_PROTO_TLS, .address = "192.0.2.1",
						  .port = 5061 };
	conf.listen[UDP3] = (struct conf_listen){ .proto = CONF_PROTO_UDP, .address = "192.0.2.2",
						  .port = 5070 };
	conf.ndomains = 1;
	snprintf(conf.domains[0], sizeof(conf.domains[0]), "example.com");
}

static bool has(const char *needle)
{
	return memmem(out, out_len, needle, strlen(needle)) != NULL;
}

static unsigned count(const char *needle)
{
	unsigned n = 0;

	for (const char *p = out; (p = memmem(p, out_len - (size_t)(p - out), needle,
					      strlen(needle))) != NULL; p++)
		n++;
	return n;
}

static void plan_of(const char *text)
{
	struct sip_parse_status st;
	const char *reason;

	if (sip_msg_parse(text, strlen(text), 0, &msg, &st) < 0)
		tap_diag("  does not parse: %s", st.reason ? st.reason : "?");
	proxy_routes_parse(&msg, &routes, &reason);
	proxy_route_plan(&conf, &msg, &routes, &plan);
}

#define INVITE(ruri, via_proto) "INVITE " ruri " SIP/2.0\r\n" \
	"Via: SIP/2.0/" via_proto " 198.51.100.9:40000;branch=z9hG4bKa1\r\n" \
	"Max-Forwards: 70\r\n" \
	"From: <sip:alice@example.com>;tag=f1\r\n" \
	"To: <sip:bob@example.com>\r\n" \
	"Call-ID: rr2@198.51.100.9\r\n" \
	"CSeq: 1 INVITE\r\n" \
	"Contact: <sip:alice@198.51.100.9:40000>\r\n" \
	"Content-Length: 0\r\n\r\n"

/* The request as forwarded from listen entry in to listen entry to. */
static int forward(const char *text, unsigned in, unsigned to, bool rr, bool nat)
{
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(40000) };
	struct sip_source s = { .addr = (struct sockaddr *)&src, .socket = (uint8_t)in,
				.proto = conf.listen[in].proto };
	struct proxy_fwd f = { .conf = &conf, .msg = &msg, .src = &s, .routes = &routes,
			       .plan = &plan, .record_route = rr };
	struct proxy_branch pb = { .socket = (uint8_t)to, .nat = nat,
				   .branch = SLICE_LIT("z9hG4bKphtest") };
	struct sip_parse_status st;
	int rc;

	inet_pton(AF_INET, "198.51.100.9", &src.sin_addr);
	plan_of(text);
	memset(out, 'X', sizeof(out));
	rc = proxy_build_request(&f, &pb, out, sizeof(out), &out_len);
	if (rc == 0 && sip_msg_parse(out, out_len, 0, &again, &st) < 0)
		tap_diag("  output does not parse: %s", st.reason ? st.reason : "?");
	return rc;
}

/* ---- Record-Route text ----------------------------------------------------- */

static void test_udp_to_tcp(void)
{
	static const char want[] =
		"INVITE sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKphtest\r\n"
		"Via: SIP/2.0/UDP 198.51.100.9:40000;branch=z9hG4bKa1\r\n"
		"Record-Route: <sip:192.0.2.1:5060;transport=tcp;r2=on;lr>\r\n"
		"Record-Route: <sip:192.0.2.1:5060;r2=on;lr>\r\n"
		"Max-Forwards: 69\r\n"
		"From: <sip:alice@example.com>;tag=f1\r\n"
		"To: <sip:bob@example.com>\r\n"
		"Call-ID: rr2@198.51.100.9\r\n"
		"CSeq: 1 INVITE\r\n"
		"Contact: <sip:alice@198.51.100.9:40000>\r\n"
		"Content-Length: 0\r\n\r\n";

	IS_INT(forward(INVITE("sip:bob@example.com", "UDP"), UDP0, TCP1, true, false), 0, "built");
	IS_INT(out_len, (long long)strlen(want), "length of the whole message");
	OK(out_len == strlen(want) && memcmp(out, want, out_len) == 0,
	   "UDP->TCP: TCP Via, two Record-Routes, outgoing (tcp) first");
	if (out_len != strlen(want) || memcmp(out, want, out_len) != 0)
		tap_diag("  got:\n%.*s", (int)out_len, out);
}

static void test_tcp_to_udp(void)
{
	IS_INT(forward(INVITE("sip:bob@example.com", "TCP"), TCP1, UDP0, true, false), 0, "built");
	OK(has("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKphtest\r\n"
	       "Via: SIP/2.0/TCP 198.51.100.9:40000;branch=z9hG4bKa1\r\n"),
	   "TCP->UDP: our Via says UDP, the caller's stays TCP");
	OK(has("Record-Route: <sip:192.0.2.1:5060;r2=on;lr>\r\n"
	       "Record-Route: <sip:192.0.2.1:5060;transport=tcp;r2=on;lr>\r\n"),
	   "outgoing (udp) first, then the incoming tcp side");
	IS_INT(count("Record-Route:"), 2, "exactly two");
}

static void test_udp_to_udp(void)
{
	IS_INT(forward(INVITE("sip:bob@example.com", "UDP"), UDP0, UDP0, true, false), 0, "built");
	OK(has("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKphtest\r\n"), "UDP Via");
	OK(has("Record-Route: <sip:192.0.2.1:5060;lr>\r\n"), "one plain Record-Route");
	IS_INT(count("Record-Route:"), 1, "only one");
	OK(!has("r2=on") && !has("transport="), "no r2, no transport parameter");
}

static void test_udp_to_other_udp_socket(void)
{
	IS_INT(forward(INVITE("sip:bob@example.com", "UDP"), UDP0, UDP3, true, false), 0, "built");
	OK(has("Record-Route: <sip:192.0.2.2:5070;r2=on;lr>\r\n"
	       "Record-Route: <sip:192.0.2.1:5060;r2=on;lr>\r\n"),
	   "another UDP socket: two values as well, each with its address");
}

static void test_tls(void)
{
	IS_INT(forward(INVITE("sip:bob@example.com", "UDP"), UDP0, TLS2, true, false), 0, "built");
	OK(has("Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKphtest\r\n"), "TLS Via, TLS port");
	OK(has("Record-Route: <sip:192.0.2.1:5061;transport=tls;r2=on;lr>\r\n"
	       "Record-Route: <sip:192.0.2.1:5060;r2=on;lr>\r\n"), "UDP->TLS");
	forward(INVITE("sip:bob@example.com", "TLS"), TLS2, TCP1, true, false);
	OK(has("Record-Route: <sip:192.0.2.1:5060;transport=tcp;r2=on;lr>\r\n"
	       "Record-Route: <sip:192.0.2.1:5061;transport=tls;r2=on;lr>\r\n"), "TLS->TCP");
	forward(INVITE("sip:bob@example.com", "TLS"), TLS2, TLS2, true, false);
	OK(has("Record-Route: <sip:192.0.2.1:5061;transport=tls;lr>\r\n") &&
	   count("Record-Route:") == 1, "TLS->TLS: one value with transport=tls");
	forward(INVITE("sips:bob@example.com", "TLS"), TLS2, TLS2, true, false);
	OK(has("Record-Route: <sips:192.0.2.1:5061;lr>\r\n"),
	   "a sips Request-URI gets a sips Record-Route, without transport=tls");
}

static void test_nat_kept(void)
{
	IS_INT(forward(INVITE("sip:bob@example.com", "TCP"), TCP1, UDP0, true, true), 0, "built");
	OK(has("Record-Route: <sip:192.0.2.1:5060;r2=on;lr;nat=yes>\r\n"
	       "Record-Route: <sip:192.0.2.1:5060;transport=tcp;r2=on;lr;nat=yes>\r\n"),
	   "nat=yes on both values");
	forward(INVITE("sip:bob@example.com", "UDP"), UDP0, UDP0, true, true);
	OK(has("Record-Route: <sip:192.0.2.1:5060;lr;nat=yes>\r\n"), "and on a single one");
}

static void test_above_existing_record_route(void)
{
	struct sip_nameaddr rr[4];
	const char *reason;
	unsigned n = 0;

	forward("INVITE sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 198.51.100.9:40000;branch=z9hG4bKa1\r\n"
		"Via: SIP/2.0/UDP 198.51.100.20;branch=z9hG4bKa0\r\n"
		"Record-Route: <sip:edge.example.net;lr>\r\n"
		"From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
		"Call-ID: rr3\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", UDP0, TCP1, true, false);
	sip_msg_routes(&again, SIP_H_RECORD_ROUTE, rr, 4, &n, &reason);
	IS_INT(n, 3, "two of ours and the edge proxy's");
	IS_SLICE(rr[0].uri_raw, "sip:192.0.2.1:5060;transport=tcp;r2=on;lr", "outgoing first");
	IS_SLICE(rr[1].uri_raw, "sip:192.0.2.1:5060;r2=on;lr", "incoming second");
	IS_SLICE(rr[2].uri_raw, "sip:edge.example.net;lr", "the edge proxy's last");
	OK(rr[0].uri.lr && rr[1].uri.lr, "both loose routers");
	IS_INT(forward(INVITE("sip:bob@example.com", "UDP"), UDP0, TCP1, false, false), 0,
	       "not dialog-creating");
	OK(!has("Record-Route") && has("Via: SIP/2.0/TCP 192.0.2.1:5060;"),
	   "no Record-Route, but the Via still names the outgoing transport");
}

/* ---- NATed UAs on streams: Contact fixed with its transport ------------ */

static int forward_nated(const char *contact, unsigned in)
{
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(40000) };
	struct sip_source s = { .addr = (struct sockaddr *)&src, .socket = (uint8_t)in,
				.proto = conf.listen[in].proto, .nat = 1 };
	struct proxy_fwd f = { .conf = &conf, .msg = &msg, .src = &s, .routes = &routes,
			       .plan = &plan, .record_route = true, .fix_contact = true };
	struct proxy_branch pb = { .socket = UDP0, .branch = SLICE_LIT("z9hG4bKphtest") };
	char text[1024];

	inet_pton(AF_INET, "198.51.100.9", &src.sin_addr);
	snprintf(text, sizeof(text), "INVITE sip:bob@example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/TCP 10.0.0.5:5062;branch=z9hG4bKn1\r\n"
		 "From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
		 "Call-ID: n1\r\nCSeq: 1 INVITE\r\nContact: %s\r\nContent-Length: 0\r\n\r\n",
		 contact);
	plan_of(text);
	memset(out, 'X', sizeof(out));
	return proxy_build_request(&f, &pb, out, sizeof(out), &out_len);
}

static void test_nated_stream_contact(void)
{
	static const char resp_tcp[] =
		"SIP/2.0 200 OK\r\n"
		"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKphtest\r\n"
		"Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bKc1\r\n"
		"From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>;tag=t1\r\n"
		"Call-ID: n2\r\nCSeq: 1 INVITE\r\n"
		"Contact: <sip:bob@10.0.0.7:5060;ob>\r\nContent-Length: 0\r\n\r\n";
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(41000) };
	struct sip_parse_status st;

	IS_INT(forward_nated("<sip:alice@10.0.0.5:5062;ob>", TCP1), 0, "built");
	OK(has("Contact: <sip:alice@198.51.100.9:40000;transport=tcp;ob>\r\n"),
	   "a NATed caller on TCP: source address and transport=tcp");
	forward_nated("<sip:alice@10.0.0.5:5062;transport=TCP>", TCP1);
	OK(has("Contact: <sip:alice@198.51.100.9:40000;transport=TCP>\r\n"),
	   "a transport it names is kept, not doubled");
	forward_nated("<sip:alice@10.0.0.5:5062>", TLS2);
	OK(has("Contact: <sip:alice@198.51.100.9:40000;transport=tls>\r\n"), "on TLS: tls");
	forward_nated("<sip:alice@10.0.0.5:5062>", UDP0);
	OK(has("Contact: <sip:alice@198.51.100.9:40000>\r\n"), "on UDP: no transport added");
	forward_nated("sip:alice@10.0.0.5:5062", TCP1);
	OK(has("Contact: sip:alice@198.51.100.9:40000\r\n"),
	   "no angle brackets: the address only (a parameter would belong to the header)");

	inet_pton(AF_INET, "203.0.113.7", &src.sin_addr);
	sip_msg_parse(resp_tcp, strlen(resp_tcp), 0, &msg, &st);
	IS_INT(proxy_edit_response(&msg, (struct sockaddr *)&src, true, out, sizeof(out), &out_len),
	       0, "response edited");
	OK(has("Contact: <sip:bob@203.0.113.7:41000;transport=tcp;ob>\r\n"),
	   "a NATed callee answering over TCP (our Via says so): transport=tcp");
	OK(!has("192.0.2.1"), "our Via removed");
}

/* ---- in-dialog: both values consumed ---------------------------------- */

#define BYE(ruri, routes_text) "BYE " ruri " SIP/2.0\r\n" \
	"Via: SIP/2.0/TCP 198.51.100.9:40000;branch=z9hG4bKb1\r\n" \
	routes_text \
	"From: <sip:alice@example.com>;tag=f1\r\n" \
	"To: <sip:bob@example.com>;tag=t1\r\n" \
	"Call-ID: rr2@198.51.100.9\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\n" \
	"Content-Length: 0\r\n\r\n"

static void test_double_route_consumed(void)
{
	struct tm_addr dst;

	/* The callee (on TCP) ends the call to the caller on UDP. */
	forward(BYE("sip:alice@198.51.100.9:40000",
		    "Route: <sip:192.0.2.1:5060;transport=tcp;r2=on;lr;nat=yes>\r\n"
		    "Route: <sip:192.0.2.1:5060;r2=on;lr;nat=yes>\r\n"), TCP1, UDP0, false, false);
	IS_INT(routes.n, 2, "two Route values");
	IS_INT(plan.pop, 2, "both ours: both consumed");
	IS_INT(plan.remove, 3, "both removed");
	IS_INT(plan.next, -1, "the Request-URI is the next hop");
	OK(plan.nat, "nat=yes seen");
	OK(!has("Route:"), "no Route left in the forwarded BYE");
	IS_INT(proxy_resolve(&conf, &msg.ruri, TCP1, &dst), 0, "next hop resolved");
	IS_INT(dst.socket, UDP0, "leaves by UDP, the Request-URI's transport");
	IS_INT(dst.port, 40000, "to its port");

	/* The caller ends it: the same set in the other order, one line. */
	plan_of(BYE("sip:bob@203.0.113.7:5066;transport=tcp",
		    "Route: <sip:192.0.2.1:5060;r2=on;lr>,<sip:192.0.2.1:5060;transport=tcp;r2=on;lr>\r\n"));
	IS_INT(plan.pop, 2, "one line with both: both consumed");
	OK(!plan.nat, "no nat=yes");
	IS_INT(proxy_resolve(&conf, &msg.ruri, UDP0, &dst), 0, "resolved");
	IS_INT(dst.socket, TCP1, "leaves by TCP, the Request-URI's transport");

	plan_of(BYE("sip:bob@203.0.113.7",
		    "Route: <sip:192.0.2.1:5061;transport=tls;r2=on;lr>,"
		    "<sip:192.0.2.1:5060;r2=on;lr>,<sip:p2.example.net;lr;transport=tcp>\r\n"));
	IS_INT(plan.pop, 2, "both of ours popped before another proxy's");
	IS_INT(plan.next, 2, "that proxy is the next hop");
	IS_INT(proxy_uri_proto(&routes.v[2].uri), CONF_PROTO_TCP, "whose transport is tcp");
}

/* ---- which transport a URI asks for ------------------------------------- */

static int resolve(const char *text, unsigned prefer, struct tm_addr *dst)
{
	struct sip_uri u;
	const char *reason;

	sip_uri_parse(slice_cstr(text), &u, &reason);
	return proxy_resolve(&conf, &u, prefer, dst);
}

static void test_resolve_transport(void)
{
	struct tm_addr d;

	IS_INT(resolve("sip:bob@198.51.100.1", TCP1, &d), 0, "plain sip");
	IS_INT(d.socket, UDP0, "UDP when no transport is named");
	IS_INT(d.port, 5060, "port 5060");
	resolve("sip:bob@198.51.100.1;transport=TCP", UDP0, &d);
	IS_INT(d.socket, TCP1, "transport=TCP (any case) picks the TCP entry");
	resolve("sip:bob@198.51.100.1;transport=tls", UDP0, &d);
	IS_INT(d.socket, TLS2, "transport=tls picks TLS");
	IS_INT(d.port, 5061, "and 5061 when no port is given");
	resolve("sips:bob@198.51.100.1:5071", UDP0, &d);
	OK(d.socket == TLS2 && d.port == 5071, "sips: TLS, explicit port");
	resolve("sip:bob@198.51.100.1:5080", UDP3, &d);
	IS_INT(d.socket, UDP3, "the preferred UDP entry when it fits");
	IS_INT(resolve("sip:bob@198.51.100.1;transport=sctp", UDP0, &d), -EHOSTUNREACH,
	       "an unsupported transport is unreachable");
	IS_INT(resolve("sip:bob@[2001:db8::1];transport=tcp", UDP0, &d), -EHOSTUNREACH,
	       "no listen entry of that family");
	conf.nlisten = 1;
	IS_INT(resolve("sip:bob@198.51.100.1;transport=tcp", UDP0, &d), -EHOSTUNREACH,
	       "no TCP listener: unreachable, never UDP instead");
	IS_INT(resolve("sips:bob@198.51.100.1", UDP0, &d), -EHOSTUNREACH,
	       "no TLS listener: a sips URI is unreachable");
	setup_conf();
}

static void test_sips_rules(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sip_source udp = { .addr = (struct sockaddr *)&a, .proto = CONF_PROTO_UDP };
	struct sip_source tls = { .addr = (struct sockaddr *)&a, .proto = CONF_PROTO_TLS };
	struct tm_addr d = { .family = AF_INET, .socket = TCP1 };
	const char *why;

	plan_of(INVITE("sips:bob@example.com", "UDP"));
	OK(proxy_is_sips(&msg, &routes, &plan), "a sips Request-URI");
	why = proxy_sips_refused(&msg, &udp, &routes, &plan);
	OK(why && strcmp(why, "SIPS Requires TLS") == 0, "arriving over UDP: refused (480)");
	OK(!proxy_sips_refused(&msg, &tls, &routes, &plan), "over TLS: goes on");
	OK(!proxy_dst_secure(&conf, true, &d), "it may not leave over TCP");
	d.socket = TLS2;
	OK(proxy_dst_secure(&conf, true, &d), "it may leave over TLS");
	d.socket = UDP0;
	OK(proxy_dst_secure(&conf, false, &d), "a sip request may leave by anything");

	plan_of(INVITE("sip:bob@example.com", "UDP"));
	OK(!proxy_sips_refused(&msg, &udp, &routes, &plan), "a sip request over UDP goes on");
	plan_of(BYE("sip:alice@198.51.100.9:40000",
		    "Route: <sip:192.0.2.1:5061;r2=on;lr>,<sips:p2.example.net;lr>\r\n"));
	OK(proxy_is_sips(&msg, &routes, &plan), "a sips next hop makes the request sips");
	OK(proxy_sips_refused(&msg, &udp, &routes, &plan) != NULL, "refused over UDP too");
}

/* ---- buffers that held other bytes ------------------------------------- */

static void test_dirty_buffers(void)
{
	/* A long advertised address first, then a short one: nothing of the
	 * first texts may survive into the second message. */
	snprintf(conf.advertise, sizeof(conf.advertise), "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
	forward(INVITE("sip:bob@example.com", "TCP"), TCP1, TLS2, true, true);
	OK(has("Record-Route: <sip:[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:5061;transport=tls;"
	       "r2=on;lr;nat=yes>\r\n"), "IPv6 advertised address bracketed");
	OK(has("Via: SIP/2.0/TLS [2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:5061;"), "and in the Via");
	conf.advertise[0] = '\0';
	forward(INVITE("sip:bob@example.com", "UDP"), UDP0, UDP0, true, false);
	OK(has("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKphtest\r\n"
	       "Via: SIP/2.0/UDP 198.51.100.9:40000;branch=z9hG4bKa1\r\n"
	       "Record-Route: <sip:192.0.2.1:5060;lr>\r\n"
	       "Max-Forwards: 69\r\n"), "short texts exact after long ones");
	OK(!has("ffff") && !has("nat=yes") && !has("TLS") && !has("XX"),
	   "no byte of the earlier texts or of the buffer's old content");
	IS_INT(again.nvia, 2, "the output parses: two Vias");
	IS_INT(count("Record-Route:"), 1, "one Record-Route");
	test_udp_to_tcp();
}

int main(void)
{
	setup_conf();
	test_udp_to_tcp();
	test_tcp_to_udp();
	test_udp_to_udp();
	test_udp_to_other_udp_socket();
	test_tls();
	test_nat_kept();
	test_above_existing_record_route();
	test_nated_stream_contact();
	test_double_route_consumed();
	test_resolve_transport();
	test_sips_rules();
	test_dirty_buffers();
	return tap_done();
}
