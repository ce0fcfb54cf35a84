/*
 * test_proxy_media.c — the proxy's side of the media relay against a real
 * session table in shm (no sockets): which offers and answers go to the
 * relay by relay.mode and NAT, tags naming the parties both ways, one
 * relay update shared by a request's branches, the marker against double
 * relaying (upstream relays, spirals), late offers in a 200 and the ACK,
 * BYE and failed initial INVITEs deleting sessions while failed
 * re-INVITEs do not, port exhaustion, and the advertised address.
 */
#include "../../sip/proxy_media.h"
#include "../../relay/relay.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define BASE 41000
#define NQUADS 2

static struct pinhole_conf conf;
static char out[8192];
static size_t out_len;
static struct sip_msg msg, fwd;

/* Where the messages come from: a NATed party's public address. */
static struct sockaddr *peer(void)
{
	static struct sockaddr_in sa;

	sa = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(5060),
				   .sin_addr.s_addr = htonl(0xcb007107) };
	return (struct sockaddr *)&sa;
}

static const char sdp_alice[] =
	"v=0\r\no=alice 1 1 IN IP4 10.0.2.15\r\ns=-\r\nc=IN IP4 10.0.2.15\r\nt=0 0\r\n"
	"m=audio 40000 RTP/AVP 0\r\n";
static const char sdp_bob[] =
	"v=0\r\no=bob 2 2 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
	"m=audio 42000 RTP/AVP 0\r\n";

/* A request or response: start line, tags, CSeq, extra headers, body. */
static void make(char *buf, size_t cap, const char *start, const char *call, const char *from_tag,
		 const char *to_tag, const char *cseq, const char *extra, const char *body)
{
	static unsigned n;

	snprintf(buf, cap,
		 "%s\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-%s-%u\r\n"
		 "From: <sip:alice@example.org>;tag=%s\r\nTo: <sip:bob@example.org>%s%s\r\n"
		 "Call-ID: %s\r\nCSeq: %s\r\n%s%sContent-Length: %zu\r\n\r\n%s",
		 start, call, ++n, from_tag, *to_tag ? ";tag=" : "", to_tag, call, cseq, extra,
		 *body ? "Content-Type: application/sdp\r\n" : "", strlen(body), body);
}

static int parse(const char *text, struct sip_msg *m)
{
	struct sip_parse_status st;
	int rc = sip_msg_parse(text, strlen(text), 0, m, &st);

	if (rc < 0)
		tap_diag("parse: %s", st.reason);
	return rc;
}

/* Runs proxy_media_request on a copy of text as its forwarded copy; the
 * result is in out / fwd. */
static int request(struct proxy_media *pm, const char *text, bool nat)
{
	int rc;

	if (parse(text, &msg) < 0)
		return -100;
	memcpy(out, text, strlen(text));
	out_len = strlen(text);
	rc = proxy_media_request(pm, &conf, &msg, peer(), nat, out, sizeof(out),
				 &out_len);
	out[out_len] = '\0';
	if (rc == 0 && parse(out, &fwd) < 0)
		return -101;
	return rc;
}

static int one_request(const char *text, bool nat)
{
	struct proxy_media pm;

	proxy_media_init(&pm);
	return request(&pm, text, nat);
}

/* The port of the m= line of the body of fwd (0 when none). */
static unsigned fwd_port(void)
{
	const char *m = strstr(out, "m=audio ");

	return m ? (unsigned)atoi(m + 8) : 0;
}

static bool relayed(void)
{
	return fwd.content_length == (int32_t)fwd.body.len && strstr(out, "c=IN IP4 192.0.2.1\r\n") &&
	       strstr(out, "a=nortpproxy:yes\r\n") && fwd_port() >= BASE &&
	       fwd_port() < BASE + 4 * NQUADS;
}

struct leg_seen {
	const char *call, *tag;
	bool found;
	struct relay_addr sdp;
	unsigned local_port;
};

static int find_leg(const struct relay_info *s, void *arg)
{
	struct leg_seen *w = arg;

	for (unsigned l = 0; l < 2; l++)
		if (strcmp(s->call_id, w->call) == 0 && strcmp(s->leg[l].tag, w->tag) == 0) {
			w->found = true;
			w->sdp = s->leg[l].sdp;
			w->local_port = s->leg[l].local.port;
		}
	return 0;
}

static struct leg_seen leg_of(const char *call, const char *tag)
{
	struct leg_seen w = { .call = call, .tag = tag };

	relay_each(SLICE_NULL, find_leg, &w);
	return w;
}

static bool sdp_is(const struct relay_addr *a, const char *ip, unsigned port)
{
	unsigned char bin[4];

	inet_pton(AF_INET, ip, bin);
	return a->family == AF_INET && a->port == port && memcmp(a->addr, bin, 4) == 0;
}

/* ---- requests -------------------------------------------------------------- */

static void test_modes(void)
{
	char inv[2048];

	make(inv, sizeof(inv), "INVITE sip:bob@example.org SIP/2.0", "m1", "a1", "", "1 INVITE",
	     "", sdp_alice);
	conf.relay.mode = CONF_RELAY_NEVER;
	IS_INT(one_request(inv, true), 0, "mode never");
	OK(strcmp(out, inv) == 0, "mode never: the copy is untouched");
	conf.relay.mode = CONF_RELAY_NAT;
	IS_INT(one_request(inv, false), 0, "mode nat, nobody NATed");
	OK(strcmp(out, inv) == 0, "mode nat without NAT: untouched");
	IS_INT(relay_session_count(), 0, "and no session");
	conf.relay.mode = CONF_RELAY_ALWAYS;
	IS_INT(one_request(inv, false), 0, "mode always, nobody NATed");
	OK(relayed(), "mode always: relayed, Content-Length %d for %u body bytes",
	   fwd.content_length, fwd.body.len);
	conf.relay.mode = CONF_RELAY_NAT;
	relay_delete(SLICE_LIT("m1"), SLICE_NULL, SLICE_NULL);
}

static void test_offer_branches_and_bye(void)
{
	char inv[2048], bye[1024];
	struct proxy_media pm;
	struct leg_seen w;
	unsigned port;

	make(inv, sizeof(inv), "INVITE sip:bob@example.org SIP/2.0", "m2", "a2", "", "1 INVITE",
	     "", sdp_alice);
	proxy_media_init(&pm);
	IS_INT(request(&pm, inv, true), 0, "NATed offer, branch 0");
	OK(relayed(), "branch 0: c=, m= port, marker, Content-Length");
	OK(strstr(out, "o=alice 1 1 IN IP4 192.0.2.1\r\n") != NULL, "o= address too");
	port = fwd_port();
	w = leg_of("m2", "a2");
	OK(w.found && sdp_is(&w.sdp, "10.0.2.15", 40000), "the From tag's leg has alice's SDP address");
	IS_INT(request(&pm, inv, true), 0, "branch 1");
	OK(relayed() && fwd_port() == port, "branch 1 gets the same body");
	IS_INT(relay_session_count(), 1, "one session for both branches");
	make(bye, sizeof(bye), "BYE sip:bob@example.org SIP/2.0", "m2", "a2", "b2", "2 BYE", "", "");
	parse(bye, &msg);
	proxy_media_end(&conf, &msg);
	IS_INT(relay_session_count(), 0, "a BYE deletes it");
}

static void test_marker_and_non_sdp(void)
{
	char body[512], inv[2048];

	snprintf(body, sizeof(body), "%sa=nortpproxy:yes\r\n", sdp_alice);
	make(inv, sizeof(inv), "INVITE sip:bob@example.org SIP/2.0", "m3", "a3", "", "1 INVITE",
	     "", body);
	IS_INT(one_request(inv, true), 0, "offer relayed upstream already");
	OK(strcmp(out, inv) == 0 && relay_session_count() == 0, "marker: untouched, no session");
	make(inv, sizeof(inv), "MESSAGE sip:bob@example.org SIP/2.0", "m3", "a3", "", "1 MESSAGE",
	     "", sdp_alice);
	IS_INT(one_request(inv, true), 0, "a MESSAGE carrying SDP");
	OK(strcmp(out, inv) == 0 && relay_session_count() == 0, "is no offer");
}

static void test_exhaustion(void)
{
	char inv[2048];
	struct proxy_media pm;
	char call[16];

	for (unsigned i = 0; i < NQUADS; i++) {
		snprintf(call, sizeof(call), "full%u", i);
		make(inv, sizeof(inv), "INVITE sip:bob@example.org SIP/2.0", call, "a", "",
		     "1 INVITE", "", sdp_alice);
		IS_INT(one_request(inv, true), 0, "call %u takes a session", i);
	}
	make(inv, sizeof(inv), "INVITE sip:bob@example.org SIP/2.0", "full-x", "a", "", "1 INVITE",
	     "", sdp_alice);
	proxy_media_init(&pm);
	IS_INT(request(&pm, inv, true), -ENOSPC, "no ports left: -ENOSPC");
	OK(strcmp(proxy_media_reason(-ENOSPC), "Media Relay Ports Exhausted") == 0,
	   "503 reason: %s", proxy_media_reason(-ENOSPC));
	proxy_media_abort(&pm, &conf, &msg);
	for (unsigned i = 0; i < NQUADS; i++) {
		snprintf(call, sizeof(call), "full%u", i);
		relay_delete(slice_cstr(call), SLICE_NULL, SLICE_NULL);
	}
	IS_INT(relay_session_count(), 0, "cleaned up");
}

/* ---- responses --------------------------------------------------------------- */

static struct tm_slot slot;
static struct tm_branch br;

/* t holds received as its request, its branch forwarded. */
static void transaction(const char *received, const char *forwarded, bool nat)
{
	shm_free(slot.req);
	shm_free(br.req);
	slot = (struct tm_slot){ .method = SIP_M_INVITE };
	br = (struct tm_branch){ .flags = nat ? TM_BF_NAT : 0 };
	slot.req = tm_store(received, strlen(received));
	slot.req_len = (uint32_t)strlen(received);
	br.req = tm_store(forwarded, strlen(forwarded));
	br.req_len = (uint32_t)strlen(forwarded);
}

static void response(const char *text)
{
	parse(text, &msg);
	memcpy(out, text, strlen(text));
	out_len = strlen(text);
	proxy_media_response_locked(&conf, &slot, &br, &msg, peer(), out,
				    sizeof(out), &out_len);
	out[out_len] = '\0';
	parse(out, &fwd);
}

static void test_answer(void)
{
	static char inv[2048], sent[4096], ok[2048], reinv[2048];
	unsigned offer_port, answer_port;
	struct leg_seen w;

	make(inv, sizeof(inv), "INVITE sip:bob@example.org SIP/2.0", "m4", "a4", "", "1 INVITE",
	     "", sdp_alice);
	one_request(inv, true);
	memcpy(sent, out, out_len + 1);
	offer_port = fwd_port();
	transaction(inv, sent, false);
	make(ok, sizeof(ok), "SIP/2.0 200 OK", "m4", "a4", "b4", "1 INVITE", "", sdp_bob);
	response(ok);
	answer_port = fwd_port();
	OK(relayed() && answer_port != offer_port, "the answer gets the relay's other leg (%u, %u)",
	   answer_port, offer_port);
	w = leg_of("m4", "b4");
	OK(w.found && sdp_is(&w.sdp, "198.51.100.7", 42000), "the To tag's leg has bob's address");

	make(reinv, sizeof(reinv), "INVITE sip:alice@example.org SIP/2.0", "m4", "b4", "a4",
	     "7 INVITE", "", "v=0\r\no=bob 2 3 IN IP4 198.51.100.7\r\ns=-\r\n"
	     "c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 42100 RTP/AVP 0\r\na=sendonly\r\n");
	IS_INT(one_request(reinv, true), 0, "re-INVITE from bob (hold, new port)");
	OK(relayed() && fwd_port() == answer_port, "bob's re-offer keeps the port alice sends to");
	w = leg_of("m4", "b4");
	OK(w.found && sdp_is(&w.sdp, "198.51.100.7", 42100), "and updates bob's leg, not alice's");
	IS_INT(relay_session_count(), 1, "still one session");

	transaction(reinv, out, false);
	make(ok, sizeof(ok), "SIP/2.0 488 Not Acceptable Here", "m4", "b4", "a4", "7 INVITE", "", "");
	parse(ok, &msg);
	proxy_media_failed_locked(&conf, &slot);
	IS_INT(relay_session_count(), 1, "a failed re-INVITE keeps the session");
	w = leg_of("m4", "b4");
	OK(w.found && sdp_is(&w.sdp, "198.51.100.7", 42000),
	   "and reverts bob's leg to the address before the rejected offer");
	IS_INT(relay_revert(SLICE_LIT("m4"), SLICE_LIT("b4")), -ENOENT, "once");
	transaction(inv, sent, false);
	proxy_media_failed_locked(&conf, &slot);
	IS_INT(relay_session_count(), 0, "a failed initial INVITE deletes it");
}

static void test_answer_not_ours(void)
{
	static char inv[2048], marked[2048], sent[4096], ok[2048], body[512];

	make(inv, sizeof(inv), "INVITE sip:bob@example.org SIP/2.0", "m5", "a5", "", "1 INVITE",
	     "", sdp_alice);
	make(ok, sizeof(ok), "SIP/2.0 183 Session Progress", "m5", "a5", "b5", "1 INVITE", "",
	     sdp_bob);
	transaction(inv, inv, true);
	response(ok);
	OK(strcmp(out, ok) == 0, "offer on the branch not relayed: answer untouched");

	snprintf(body, sizeof(body), "%sa=nortpproxy:yes\r\n", sdp_alice);
	make(marked, sizeof(marked), "INVITE sip:bob@example.org SIP/2.0", "m5", "a5", "",
	     "1 INVITE", "", body);
	one_request(inv, true);
	memcpy(sent, out, out_len + 1);
	transaction(marked, sent, true);
	response(ok);
	OK(strcmp(out, ok) == 0, "a spiral's inner pass (marker received) leaves the answer");
	transaction(inv, sent, true);
	response(ok);
	OK(relayed(), "the pass that relayed the offer relays the answer");
	memcpy(sent, out, out_len + 1);
	response(sent);
	OK(strcmp(out, sent) == 0, "an answer carrying the marker is not relayed again");
	relay_delete(SLICE_LIT("m5"), SLICE_NULL, SLICE_NULL);
}

static void test_late_offer(void)
{
	static char inv[2048], fwd_inv[2048], ok[2048], ack[2048];
	unsigned offer_port;
	struct leg_seen w;

	make(inv, sizeof(inv), "INVITE sip:bob@example.org SIP/2.0", "m6", "a6", "", "1 INVITE",
	     "", "");
	make(fwd_inv, sizeof(fwd_inv), "INVITE sip:bob@198.51.100.7 SIP/2.0", "m6", "a6", "",
	     "1 INVITE", "Record-Route: <sip:192.0.2.1;lr;nat=yes>\r\n", "");
	make(ok, sizeof(ok), "SIP/2.0 200 OK", "m6", "a6", "b6", "1 INVITE", "", sdp_bob);
	transaction(inv, inv, false);
	response(ok);
	OK(strcmp(out, ok) == 0 && relay_session_count() == 0,
	   "late offer in a dialog nobody NATed: untouched");
	transaction(inv, fwd_inv, false);
	response(ok);
	OK(relayed(), "late offer, nat=yes in our Record-Route: the 200's offer relayed");
	offer_port = fwd_port();
	w = leg_of("m6", "b6");
	OK(w.found && sdp_is(&w.sdp, "198.51.100.7", 42000), "created with bob's leg");
	make(ack, sizeof(ack), "ACK sip:bob@198.51.100.7 SIP/2.0", "m6", "a6", "b6", "1 ACK", "",
	     sdp_alice);
	IS_INT(one_request(ack, true), 0, "the ACK's answer");
	OK(relayed() && fwd_port() != offer_port, "relayed to the other leg");
	w = leg_of("m6", "a6");
	OK(w.found && sdp_is(&w.sdp, "10.0.2.15", 40000), "alice's leg has her address");
	make(ack, sizeof(ack), "BYE sip:alice@192.0.2.9 SIP/2.0", "m6", "b6", "a6", "2 BYE", "", "");
	parse(ack, &msg);
	proxy_media_end(&conf, &msg);
	IS_INT(relay_session_count(), 0, "bob's BYE (tags the other way round) deletes it");
	make(ack, sizeof(ack), "ACK sip:bob@198.51.100.7 SIP/2.0", "m7", "a7", "b7", "1 ACK", "",
	     sdp_alice);
	IS_INT(one_request(ack, true), 0, "an ACK answer without a session");
	OK(strcmp(out, ack) == 0 && relay_session_count() == 0, "is left alone, nothing created");
}

static void test_advertise_ipv6(void)
{
	char inv[2048];

	snprintf(conf.advertise, sizeof(conf.advertise), "2001:db8::5");
	make(inv, sizeof(inv), "INVITE sip:bob@example.org SIP/2.0", "m8", "a8", "", "1 INVITE",
	     "", sdp_alice);
	IS_INT(one_request(inv, true), 0, "with advertise set");
	OK(strstr(out, "c=IN IP6 2001:db8::5\r\n") != NULL, "SDP carries the advertised address");
	conf.advertise[0] = '\0';
	relay_delete(SLICE_LIT("m8"), SLICE_NULL, SLICE_NULL);
}

int main(void)
{
	conf_defaults(&conf);
	snprintf(conf.relay.address, sizeof(conf.relay.address), "192.0.2.1");
	conf.relay.port_min = BASE;
	conf.relay.port_max = BASE + 4 * NQUADS - 1;
	if (shm_create(16u << 20) < 0 || relay_init(&conf) < 0) {
		OK(false, "shm and relay table");
		return tap_done();
	}
	test_modes();
	test_offer_branches_and_bye();
	test_marker_and_non_sdp();
	test_exhaustion();
	test_answer();
	test_answer_not_ours();
	test_late_offer();
	test_advertise_ipv6();
	return tap_done();
}
