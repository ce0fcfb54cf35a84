/*
 * test_proxy.c — the proxy's pure parts: whether a URI is this proxy,
 * Route processing (own values popped, nat=yes, strict routers before
 * and after us), the forwarded request's edits (Via, received/rport,
 * Max-Forwards, Request-URI, Route, Path, Record-Route, NATed Contact,
 * consumed credentials), the forwarded response's edits, and the CANCEL
 * and ACK built from a request we sent. Every output is parsed again.
 */
#include "../../sip/proxy_int.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

static struct pinhole_conf conf;
static struct sip_msg msg, again;
static struct proxy_routes routes;
static struct proxy_route_plan plan;
static char out[16384];
static size_t out_len;

static void setup_conf(void)
{
	conf_defaults(&conf);
	conf.nlisten = 1;
	conf.listen[0] = (struct conf_listen){ .proto = CONF_PROTO_UDP, .address = "192.0.2.1",
					       .port = 5060 };
	conf.ndomains = 1;
	snprintf(conf.domains[0], sizeof(conf.domains[0]), "example.com");
}

static void parse(const char *text, struct sip_msg *m)
{
	struct sip_parse_status st;

	if (sip_msg_parse(text, strlen(text), 0, m, &st) < 0)
		tap_diag("  does not parse: %s", st.reason ? st.reason : "?");
}

static bool has(const char *needle)
{
	return memmem(out, out_len, needle, strlen(needle)) != NULL;
}

static struct sockaddr_in sin_of(const char *ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static void uri_of(const char *text, struct sip_uri *u)
{
	const char *reason;

	sip_uri_parse(slice_cstr(text), u, &reason);
}

/* ---- is it us? ----------------------------------------------------------- */

static void test_uri_is_local(void)
{
	struct sip_uri u;

	uri_of("sip:alice@example.com", &u);
	OK(proxy_uri_is_local(&conf, &u), "a local domain without a port is us");
	uri_of("sip:alice@example.com:5060", &u);
	OK(proxy_uri_is_local(&conf, &u), "with our port");
	uri_of("sip:alice@example.com:5070", &u);
	OK(!proxy_uri_is_local(&conf, &u), "another port is another host");
	uri_of("sip:192.0.2.1", &u);
	OK(proxy_uri_is_local(&conf, &u), "the listen address");
	uri_of("sip:bob@example.net", &u);
	OK(!proxy_uri_is_local(&conf, &u), "another domain");
}

/* ---- Route processing ---------------------------------------------------- */

#define REQ_HEAD(ruri) "BYE " ruri " SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKcaller1;rport\r\n"
#define REQ_TAIL "From: <sip:alice@example.com>;tag=f1\r\n" \
	"To: <sip:bob@example.net>;tag=t1\r\n" \
	"Call-ID: c1@10.0.0.5\r\n" \
	"CSeq: 2 BYE\r\n" \
	"Max-Forwards: 70\r\n" \
	"Content-Length: 0\r\n\r\n"

static void plan_of(const char *text)
{
	const char *reason;

	parse(text, &msg);
	proxy_routes_parse(&msg, &routes, &reason);
	proxy_route_plan(&conf, &msg, &routes, &plan);
}

static void test_loose_route_popped(void)
{
	plan_of(REQ_HEAD("sip:bob@203.0.113.7:5066")
		"Route: <sip:192.0.2.1;lr;nat=yes>, <sip:example.com:5060;lr>\r\n"
		"Route: <sip:proxy.example.net;lr>\r\n" REQ_TAIL);
	IS_INT(routes.n, 3, "three Route values on two lines");
	IS_INT(plan.pop, 2, "both of ours popped");
	IS_INT(plan.remove, 3, "their bits set");
	OK(plan.nat, "nat=yes seen on ours");
	IS_INT(plan.next, 2, "next hop: the third value");
	OK(plan.ruri.len == 0, "Request-URI kept");
	plan_of(REQ_HEAD("sip:bob@203.0.113.7:5066") "Route: <sip:192.0.2.1;lr>\r\n" REQ_TAIL);
	IS_INT(plan.next, -1, "only ours: no next hop, the Request-URI decides");
	OK(!plan.nat, "no nat=yes");
}

static void test_strict_router_before_us(void)
{
	plan_of(REQ_HEAD("sip:192.0.2.1;lr;nat=yes")
		"Route: <sip:proxy.example.net;lr>, <sip:bob@203.0.113.7:5066>\r\n" REQ_TAIL);
	OK(proxy_strict_routed(&conf, &msg), "our Record-Route value as Request-URI");
	IS_SLICE(plan.ruri, "sip:bob@203.0.113.7:5066", "the last Route becomes the Request-URI");
	IS_INT(plan.ruri_from, 1, "from value 1");
	OK(plan.remove & 2, "and is removed");
	IS_INT(plan.next, 0, "the first Route is still the next hop");
	OK(plan.nat, "nat=yes of the Request-URI");
}

static void test_strict_next_hop(void)
{
	plan_of(REQ_HEAD("sip:bob@203.0.113.7:5066")
		"Route: <sip:192.0.2.1;lr>, <sip:strict.example.net>, <sip:p3.example.net;lr>\r\n"
		REQ_TAIL);
	IS_INT(plan.next, 1, "next hop is the strict router");
	IS_SLICE(plan.ruri, "sip:strict.example.net", "it becomes the Request-URI");
	IS_SLICE(plan.append, "sip:bob@203.0.113.7:5066", "the old Request-URI goes last");
	IS_INT(plan.remove, 3, "ours and the strict one removed");
}

/* ---- the forwarded request ------------------------------------------------- */

static int build(const char *text, bool rr, bool fix, slice ruri, slice path, bool nat,
		 unsigned src_nat)
{
	struct sockaddr_in src = sin_of("198.51.100.9", 40000);
	struct sip_source s = { .addr = (struct sockaddr *)&src, .nat = src_nat };
	struct proxy_fwd f = { .conf = &conf, .msg = &msg, .src = &s, .routes = &routes,
			       .plan = &plan, .record_route = rr, .fix_contact = fix };
	struct proxy_branch pb = { .ruri = ruri, .path = path, .nat = nat,
				   .branch = SLICE_LIT("z9hG4bKphtest") };
	int rc;

	plan_of(text);
	rc = proxy_build_request(&f, &pb, out, sizeof(out), &out_len);
	if (rc == 0)
		parse(out, &again);
	return rc;
}

static void test_request_edits(void)
{
	int rc = build("INVITE sip:bob@example.com SIP/2.0\r\n"
		       "Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKcaller1;rport\r\n"
		       "Max-Forwards: 0070\r\n"
		       "From: <sip:alice@example.com>;tag=f1\r\n"
		       "To: <sip:bob@example.com>\r\n"
		       "Call-ID: c2@10.0.0.5\r\n"
		       "CSeq: 1 INVITE\r\n"
		       "Contact: <sip:alice@10.0.0.5:5062;ob>\r\n"
		       "Content-Length: 0\r\n\r\n",
		       true, true, SLICE_LIT("sip:bob@203.0.113.7:5066;transport=udp"), SLICE_NULL,
		       true, 1);

	IS_INT(rc, 0, "built");
	IS_SLICE(again.ruri_raw, "sip:bob@203.0.113.7:5066;transport=udp", "Request-URI is the contact");
	IS_INT(again.nvia, 2, "one Via more");
	IS_SLICE(again.via[0].branch, "z9hG4bKphtest", "ours on top");
	IS_SLICE(again.via[0].host, "192.0.2.1", "with the listen address");
	IS_SLICE(again.via[1].received, "198.51.100.9", "received added to the caller's");
	IS_INT(again.via[1].rport, 40000, "rport filled");
	IS_INT(again.max_forwards, 69, "Max-Forwards decremented");
	OK(has("Record-Route: <sip:192.0.2.1:5060;lr;nat=yes>\r\n"), "Record-Route with lr and nat=yes");
	OK(has("Contact: <sip:alice@198.51.100.9:40000;ob>"), "NATed caller's Contact fixed");
	OK(has("To: <sip:bob@example.com>\r\n"), "To untouched");
}

static void test_request_no_max_forwards_and_advertise(void)
{
	int rc;

	snprintf(conf.advertise, sizeof(conf.advertise), "203.0.113.1");
	rc = build("MESSAGE sip:bob@example.com SIP/2.0\r\n"
		   "Via: SIP/2.0/UDP 198.51.100.9:40000;branch=z9hG4bKm1\r\n"
		   "From: <sip:alice@example.com>;tag=f1\r\n"
		   "To: <sip:bob@example.com>\r\n"
		   "Call-ID: m1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 2\r\n\r\nhi",
		   false, false, SLICE_NULL, SLICE_NULL, false, 0);
	conf.advertise[0] = '\0';
	IS_INT(rc, 0, "built");
	IS_INT(again.max_forwards, 70, "Max-Forwards 70 added");
	IS_SLICE(again.via[0].host, "203.0.113.1", "Via names the advertised address");
	OK(!has("Record-Route"), "no Record-Route outside dialog creation");
	OK(again.via[1].received.len == 0 && !again.via[1].has_rport,
	   "no received/rport when the source matches and none was asked");
	IS_SLICE(again.body, "hi", "body kept");
}

static void test_request_routes(void)
{
	int rc = build(REQ_HEAD("sip:bob@203.0.113.7:5066")
		       "Route: <sip:192.0.2.1;lr>, <sip:p2.example.net;lr>\r\n"
		       "Route: <sip:192.0.2.1;lr>\r\n" REQ_TAIL,
		       false, false, SLICE_NULL, SLICE_NULL, false, 0);

	IS_INT(rc, 0, "built");
	OK(has("Route: <sip:p2.example.net;lr>\r\nRoute: <sip:192.0.2.1;lr>\r\n"),
	   "our first value removed from its line, the rest kept");
	rc = build(REQ_HEAD("sip:bob@203.0.113.7:5066")
		   "Route: <sip:p0.example.net;lr>,<sip:192.0.2.1;lr>\r\n" REQ_TAIL,
		   false, false, SLICE_NULL, SLICE_NULL, false, 0);
	OK(has("Route: <sip:p0.example.net;lr>,<sip:192.0.2.1;lr>\r\n"),
	   "ours not on top: nothing removed");
	rc = build(REQ_HEAD("sip:bob@203.0.113.7:5066")
		   "Route: <sip:192.0.2.1;lr>,<sip:strict.example.net>\r\n" REQ_TAIL,
		   false, false, SLICE_NULL, SLICE_NULL, false, 0);
	IS_INT(rc, 0, "strict next hop built");
	IS_SLICE(again.ruri_raw, "sip:strict.example.net", "strict router in the Request-URI");
	OK(has("Route: <sip:bob@203.0.113.7:5066>\r\n") && !has("strict.example.net>"),
	   "old Request-URI appended as the last Route, ours and the strict one gone");
}

static void test_request_path(void)
{
	int rc = build("INVITE sip:bob@example.com SIP/2.0\r\n"
		       "Via: SIP/2.0/UDP 198.51.100.9:40000;branch=z9hG4bKp1\r\n"
		       "From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
		       "Call-ID: p1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
		       true, false, SLICE_LIT("sip:bob@10.1.1.1"),
		       SLICE_LIT("<sip:edge1.example.net;lr>,<sip:edge2.example.net;lr>"), false, 0);
	struct sip_nameaddr r[4];
	unsigned n = 0;
	const char *reason;

	IS_INT(rc, 0, "built");
	sip_msg_routes(&again, SIP_H_ROUTE, r, 4, &n, &reason);
	IS_INT(n, 2, "Path values became the Route set");
	IS_SLICE(r[0].uri_raw, "sip:edge1.example.net;lr", "in order");
	OK(has("Record-Route: <sip:192.0.2.1:5060;lr>\r\n"), "Record-Route without nat=yes");
}

static void test_request_credentials_dropped(void)
{
	struct sockaddr_in src = sin_of("198.51.100.9", 40000);
	struct sip_source s = { .addr = (struct sockaddr *)&src };
	struct proxy_fwd f = { .conf = &conf, .msg = &msg, .src = &s, .routes = &routes,
			       .plan = &plan, .drop_credentials = true };
	struct proxy_branch pb = { .branch = SLICE_LIT("z9hG4bKphx") };

	plan_of("INVITE sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 198.51.100.9:40000;branch=z9hG4bKa1\r\n"
		"From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
		"Call-ID: a1\r\nCSeq: 2 INVITE\r\n"
		"Proxy-Authorization: Digest username=\"alice\", realm=\"localhost\", nonce=\"n\", "
		"uri=\"sip:bob@example.com\", response=\"00\"\r\n"
		"Proxy-Authorization: Digest username=\"alice\", realm=\"other\", nonce=\"n\", "
		"uri=\"sip:bob@example.com\", response=\"00\"\r\n"
		"Content-Length: 0\r\n\r\n");
	IS_INT(proxy_build_request(&f, &pb, out, sizeof(out), &out_len), 0, "built");
	OK(!has("realm=\"localhost\"") && has("realm=\"other\""),
	   "our realm's credentials consumed, another realm's kept");
}

/* ---- responses, CANCEL, ACK ------------------------------------------------ */

static void test_response_edits(void)
{
	static struct sip_msg resp;
	struct sockaddr_in src = sin_of("203.0.113.7", 61000);
	const char *r1 = "SIP/2.0 180 Ringing\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKphabc\r\n"
			 "Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKcaller1;rport=40000\r\n"
			 "From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>;tag=b1\r\n"
			 "Call-ID: c3\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@192.168.1.20:5060>\r\n"
			 "Content-Length: 0\r\n\r\n";
	const char *r2 = "SIP/2.0 200 OK\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKphabc, "
			 "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKcaller1\r\n"
			 "From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>;tag=b1\r\n"
			 "Call-ID: c3\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

	parse(r1, &resp);
	IS_INT(proxy_edit_response(&resp, (struct sockaddr *)&src, true, out, sizeof(out),
				   &out_len), 0, "edited");
	parse(out, &again);
	IS_INT(again.nvia, 1, "our Via line removed");
	IS_SLICE(again.via[0].branch, "z9hG4bKcaller1", "the caller's is on top");
	OK(has("Contact: <sip:bob@203.0.113.7:61000>"), "NATed callee's Contact fixed");
	parse(r2, &resp);
	IS_INT(proxy_edit_response(&resp, (struct sockaddr *)&src, false, out, sizeof(out),
				   &out_len), 0, "edited");
	parse(out, &again);
	IS_INT(again.nvia, 1, "our value removed from a shared Via line");
	OK(has("Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKcaller1\r\n"), "the rest of the line kept");
}

static void test_cancel_and_ack(void)
{
	static struct sip_msg req, resp;
	const char *sent = "INVITE sip:bob@203.0.113.7:5066 SIP/2.0\r\n"
			   "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKph1.2.3.0.4\r\n"
			   "Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKcaller1\r\n"
			   "Route: <sip:edge.example.net;lr>\r\n"
			   "Max-Forwards: 69\r\n"
			   "From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
			   "Call-ID: c4\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n";
	const char *busy = "SIP/2.0 486 Busy Here\r\n"
			   "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKph1.2.3.0.4\r\n"
			   "From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:bob@example.com>;tag=bb\r\n"
			   "Call-ID: c4\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n";

	parse(sent, &req);
	IS_INT(proxy_build_cancel(&req, out, sizeof(out), &out_len), 0, "CANCEL built");
	parse(out, &again);
	IS_SLICE(again.method, "CANCEL", "method");
	IS_SLICE(again.ruri_raw, "sip:bob@203.0.113.7:5066", "same Request-URI");
	IS_INT(again.nvia, 1, "a single Via");
	IS_SLICE(again.via[0].branch, "z9hG4bKph1.2.3.0.4", "the request's branch");
	OK(again.cseq.num == 7 && again.cseq.method_id == SIP_M_CANCEL, "CSeq 7 CANCEL");
	OK(has("Route: <sip:edge.example.net;lr>\r\n"), "same Route set");
	OK(again.to.tag.len == 0, "To as in the request");
	parse(busy, &resp);
	IS_INT(proxy_build_ack(&req, &resp, out, sizeof(out), &out_len), 0, "ACK built");
	parse(out, &again);
	IS_SLICE(again.method, "ACK", "method");
	IS_SLICE(again.to.tag, "bb", "To of the response, with its tag");
	OK(again.cseq.num == 7 && again.cseq.method_id == SIP_M_ACK, "CSeq 7 ACK");
	IS_SLICE(again.via[0].branch, "z9hG4bKph1.2.3.0.4", "same branch as the INVITE");
}

int main(void)
{
	setup_conf();
	test_uri_is_local();
	test_loose_route_popped();
	test_strict_router_before_us();
	test_strict_next_hop();
	test_request_edits();
	test_request_no_max_forwards_and_advertise();
	test_request_routes();
	test_request_path();
	test_request_credentials_dropped();
	test_response_edits();
	test_cancel_and_ack();
	return tap_done();
}
