/*
 * test_tm.c — the transaction layer: branch parameters, request keys and
 * matching (RFC 3261 §17.2.3 and the RFC 2543 fallback), slots and a full
 * stripe, the timer wheel on a fake clock, and whole proxy transactions
 * over real loopback sockets driven by proxy_request/proxy_response and
 * tm_timer_run: 100 Trying, forwarding and Record-Route, provisional and
 * 2xx relayed, retransmissions absorbed, Timer A/B/C/G, 408, CANCEL and
 * 487, parallel forking with a 6xx, serial forking by q, 480, loop 482,
 * unmatched responses, slots a killed process left off the wheel, a full
 * table answered 503, and the table empty again once every timer has run
 * out.
 */
#include "../../sip/proxy_int.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define SEG_SIZE (64u << 20)

static struct pinhole_conf conf;
static int64_t fake_now = 10000000;
static int proxy_fd, caller_fd, callee_fd[2];
static struct sockaddr_in proxy_addr, caller_addr, callee_addr[2];
static char rx[SIP_MAX_MSG + 1];
static size_t rx_len;
static struct sip_msg got, req_in;
static char held[2][SIP_MAX_MSG + 1];   /* the last request each callee got */
static size_t held_len[2];
static unsigned seq;

static int64_t fake_clock(void)
{
	return fake_now;
}

/* ---- sockets --------------------------------------------------------------- */

static int udp_bound(struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	socklen_t len = sizeof(*a);

	*a = (struct sockaddr_in){ .sin_family = AF_INET };
	inet_pton(AF_INET, "127.0.0.1", &a->sin_addr);
	bind(fd, (struct sockaddr *)a, sizeof(*a));
	getsockname(fd, (struct sockaddr *)a, &len);
	return fd;
}

/* The next datagram on fd (NUL-terminated in rx), parsed into got;
 * false after timeout_ms without one. */
static bool recv_on(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct sip_parse_status st;
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	n = recv(fd, rx, sizeof(rx) - 1, 0);
	if (n <= 0)
		return false;
	rx_len = (size_t)n;
	rx[n] = '\0';
	if (sip_msg_parse(rx, rx_len, 0, &got, &st) < 0)
		return false;
	for (unsigned i = 0; i < 2; i++)
		if (fd == callee_fd[i] && got.is_request && got.method_id != SIP_M_ACK &&
		    got.method_id != SIP_M_CANCEL) {
			memcpy(held[i], rx, rx_len + 1);
			held_len[i] = rx_len;
		}
	return true;
}

/* The next request or final response on fd. */
static bool recv_final(int fd)
{
	while (recv_on(fd, 300))
		if (got.is_request || got.status >= 200)
			return true;
	return false;
}

static void drain(int fd)
{
	while (recv_on(fd, 20))
		;
}

static void drain_all(void)
{
	drain(caller_fd);
	drain(callee_fd[0]);
	drain(callee_fd[1]);
}

/* ---- the proxy's inputs ------------------------------------------------------ */

static void tick(int64_t ms)
{
	fake_now += ms;
	tm_timer_run(&conf, fake_now);
}

/* Runs every timer out: the table is empty again afterwards. */
static void settle_all(void)
{
	for (int i = 0; i < 8; i++)
		tick(60000);
	drain_all();
}

static unsigned deliver_request(const char *text, const struct sockaddr_in *from)
{
	static char extra[4096];
	struct sip_source src = { .addr = (const struct sockaddr *)from };
	struct sip_parse_status st;
	struct proxy_reply pr;

	if (sip_msg_parse(text, strlen(text), 0, &req_in, &st) < 0) {
		tap_diag("  request does not parse: %s", st.reason);
		return 0;
	}
	proxy_request(&conf, &req_in, &src, extra, sizeof(extra), &pr);
	return pr.code;
}

/* The callee answers the last request it received with code. */
static void answer(unsigned code, const char *tag, unsigned callee)
{
	static char buf[SIP_MAX_MSG];
	static struct sip_msg req, resp;
	struct sip_source src = { .addr = (const struct sockaddr *)&callee_addr[callee] };
	struct sip_parse_status st;
	size_t len;

	sip_msg_parse(held[callee], held_len[callee], 0, &req, &st);
	sip_reply_build(&req, code, "Answer", SLICE_NULL, slice_cstr(tag), NULL, buf,
			sizeof(buf), &len);
	buf[len] = '\0';
	sip_msg_parse(buf, len, 0, &resp, &st);
	proxy_response(&conf, &resp, &src);
}

static const char *request(const char *method, const char *ruri, const char *branch,
			   const char *callid, const char *extra)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
		 "%s %s SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=%s;rport\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:alice@example.com>;tag=a%u\r\n"
		 "To: <%s>\r\n"
		 "Call-ID: %s\r\n"
		 "CSeq: 1 %s\r\n"
		 "%s"
		 "Content-Length: 0\r\n\r\n",
		 method, ruri, ntohs(caller_addr.sin_port), branch, seq, ruri, callid,
		 method, extra ? extra : "");
	return buf;
}

static void register_binding(const char *user, unsigned callee, int16_t q, bool nat)
{
	char key[64], contact[96];
	struct loc_handle h;
	struct loc_binding b = { .call_id = SLICE_LIT("reg"), .q = q, .socket = 0,
				 .expires = time(NULL) + 3600, .cseq = 1 };

	snprintf(key, sizeof(key), "%s@example.com", user);
	snprintf(contact, sizeof(contact), "sip:%s@127.0.0.1:%u", user,
		 ntohs(callee_addr[callee].sin_port));
	b.contact = slice_cstr(contact);
	b.flags = nat ? LOC_F_NAT : 0;
	b.received = (struct loc_addr){ .family = AF_INET, .port = ntohs(callee_addr[callee].sin_port) };
	memcpy(b.received.addr, &callee_addr[callee].sin_addr, 4);
	loc_lock(slice_cstr(key), &h);
	loc_put_locked(&h, &b);
	loc_unlock(&h);
}

static void unregister(const char *user)
{
	char key[64];
	struct loc_handle h;

	snprintf(key, sizeof(key), "%s@example.com", user);
	loc_lock(slice_cstr(key), &h);
	loc_del_all_locked(&h);
	loc_unlock(&h);
}

/* ---- keys and branch parameters ------------------------------------------------ */

/* Parses a copy of text that lives as long as the test program. */
static void parse_text(const char *text, struct sip_msg *m)
{
	static char copies[16][2048];
	static unsigned next;
	struct sip_parse_status st;
	char *c = copies[next++ % 16];

	snprintf(c, sizeof(copies[0]), "%s", text);
	sip_msg_parse(c, strlen(c), 0, m, &st);
}

static void test_branch_ids(void)
{
	struct tm_branch_id id = { .boot = 0xdeadbeef, .slot = 4095, .gen = 7, .branch = 15,
				   .loop = 0x12345678 }, back;
	char buf[64];
	size_t n = tm_branch_format(&id, buf, sizeof(buf));

	OK(n > 0 && strncmp(buf, "z9hG4bKph", 9) == 0, "branch starts with the cookie: %s", buf);
	IS_INT(tm_branch_parse(slice_make(buf, n), &back), 0, "parses back");
	OK(back.boot == id.boot && back.slot == 4095 && back.gen == 7 && back.branch == 15 &&
	   back.loop == id.loop, "every field round-trips");
	IS_INT(tm_branch_parse(SLICE_LIT("z9hG4bK-other-ua"), &back), -EINVAL, "another UA's branch");
	IS_INT(tm_branch_parse(SLICE_LIT("z9hG4bKphdeadbeef.1.2.3"), &back), -EINVAL, "a field missing");
	IS_INT(tm_branch_parse(SLICE_LIT("z9hG4bKphdeadbeef.1.2.3.4."), &back), -EINVAL, "a trailing dot");
	IS_INT(tm_branch_parse(SLICE_LIT("z9hG4bKphdeadbeef.1.2.3.4.5"), &back), -EINVAL, "a field too many");
	IS_INT(tm_branch_parse(SLICE_LIT("z9hG4bKphdeadbeef.1.2.100.4"), &back), -EINVAL,
	       "a branch index over two digits");
	IS_INT(tm_branch_parse(SLICE_LIT("z9hG4bKphDEADBEEF.1.2.3.4"), &back), -EINVAL, "upper case");
	OK(tm_branch_format(&id, buf, 20) == 0, "a short buffer is refused");
}

static void test_request_keys(void)
{
	static struct sip_msg inv, ack, cancel, bye, inv_case, other;
	bool a, b, c;

	seq++;
	parse_text(request("INVITE", "sip:bob@example.com", "z9hG4bKk1", "k1", NULL), &inv);
	parse_text(request("ACK", "sip:bob@example.com", "z9hG4bKk1", "k1", NULL), &ack);
	parse_text(request("CANCEL", "sip:bob@example.com", "z9hG4bKk1", "k1", NULL), &cancel);
	parse_text(request("BYE", "sip:bob@example.com", "z9hG4bKk1", "k1", NULL), &bye);
	parse_text(request("INVITE", "sip:bob@example.com", "z9hG4bKk2", "k1", NULL), &other);
	OK(tm_request_key(&inv, &a) == tm_request_key(&ack, &b) &&
	   tm_request_key(&inv, &a) == tm_request_key(&cancel, &c) && !a && !b && !c,
	   "INVITE, its ACK and its CANCEL share a key (cookie branch)");
	OK(tm_request_key(&inv, &a) != tm_request_key(&other, &b), "another branch, another key");
	OK(tm_request_matches(&inv, &ack, false) && tm_request_matches(&inv, &cancel, false),
	   "ACK and CANCEL match the INVITE");
	OK(!tm_request_matches(&inv, &bye, false), "a BYE with the same branch does not");
	OK(!tm_request_matches(&inv, &other, false), "another branch does not");
	parse_text("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP HOST.example.com;branch=z9hG4bKk1\r\n"
		   "From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: x\r\n"
		   "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", &inv_case);
	parse_text("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP host.EXAMPLE.com;branch=z9hG4bKk1\r\n"
		   "From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: y\r\n"
		   "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", &other);
	OK(tm_request_key(&inv_case, &a) == tm_request_key(&other, &b) &&
	   tm_request_matches(&inv_case, &other, false), "sent-by host compared without case");
}

static void test_rfc2543_keys(void)
{
	static struct sip_msg inv, ack, other;
	const char *fmt = "%s sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP gw.example.com\r\n"
			  "From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>%s\r\n"
			  "Call-ID: %s\r\nCSeq: 5 %s\r\nContent-Length: 0\r\n\r\n";
	static char t1[512], t2[512], t3[512];
	bool a, b;

	snprintf(t1, sizeof(t1), fmt, "INVITE", "", "old", "INVITE");
	snprintf(t2, sizeof(t2), fmt, "ACK", ";tag=x", "old", "ACK");
	snprintf(t3, sizeof(t3), fmt, "INVITE", "", "older", "INVITE");
	parse_text(t1, &inv);
	parse_text(t2, &ack);
	parse_text(t3, &other);
	OK(tm_request_key(&inv, &a) == tm_request_key(&ack, &b) && a && b,
	   "no cookie: RFC 2543 key, the ACK finds its INVITE");
	OK(tm_request_matches(&inv, &ack, true), "and matches it");
	OK(tm_request_key(&inv, &a) != tm_request_key(&other, &b) &&
	   !tm_request_matches(&inv, &other, true), "another Call-ID: another transaction");
}

/* ---- slots and the wheel --------------------------------------------------------- */

static uint32_t fired[16];
static unsigned nfired;

static void on_fire(uint32_t idx, void *arg)
{
	if (nfired < ARRAY_LEN(fired))
		fired[nfired++] = idx;
}

static unsigned advance_to(uint32_t s, int64_t t)
{
	unsigned n;

	if (t > fake_now)
		fake_now = t;
	nfired = 0;
	tm_stripe_lock(s);
	n = tm_wheel_advance_locked(s, t, on_fire, NULL);
	tm_stripe_unlock(s);
	return n;
}

static void test_slots(void)
{
	const uint32_t s = 5, per = tm_table()->per_stripe;
	uint32_t idx[64], gen, extra;
	uint64_t active = tm_active_count();
	unsigned n = 0;

	IS_INT(tm_capacity(), 256, "256 slots asked, 256 made");
	IS_INT(per, 4, "4 per stripe");
	tm_stripe_lock(s);
	while (n < per && tm_slot_alloc_locked(s, &idx[n]) == 0)
		n++;
	IS_INT(n, per, "a stripe gives its slots");
	OK(tm_stripe_of(idx[0]) == s && tm_stripe_of(idx[n - 1]) == s, "from its own range");
	IS_INT(tm_slot_alloc_locked(s, &extra), -ENOSPC, "then is full");
	IS_INT(tm_active_count(), active + per, "the gauge counts them");
	gen = tm_slot_at(idx[0])->gen;
	tm_slot_free_locked(idx[0]);
	IS_INT(tm_slot_alloc_locked(s, &extra), 0, "a freed slot is reused");
	OK(extra == idx[0] && tm_slot_at(extra)->gen == gen + 2, "with a new generation");
	idx[0] = extra;
	for (unsigned i = 0; i < n; i++)
		tm_slot_free_locked(idx[i]);
	tm_stripe_unlock(s);
	IS_INT(tm_active_count(), active, "all freed");
}

static void test_wheel(void)
{
	const uint32_t s = 7;
	int64_t t0 = fake_now;
	uint32_t a, b, c;

	tm_stripe_lock(s);
	tm_slot_alloc_locked(s, &a);
	tm_slot_alloc_locked(s, &b);
	tm_slot_alloc_locked(s, &c);
	tm_wheel_arm_locked(s, a, t0 + 120, t0);
	tm_wheel_arm_locked(s, b, t0 + 20000, t0);          /* second level */
	tm_wheel_arm_locked(s, c, t0 + 2 * 3600 * 1000, t0); /* past the horizon */
	tm_stripe_unlock(s);
	IS_INT(advance_to(s, t0 + 100), 0, "nothing due at +100 ms");
	IS_INT(advance_to(s, t0 + 150), 1, "due at +120 ms: fired by +150 ms");
	OK(nfired == 1 && fired[0] == a, "the right slot");
	IS_INT(advance_to(s, t0 + 19950), 0, "+20 s not yet at +19.95 s");
	IS_INT(advance_to(s, t0 + 20050), 1, "+20 s fired after cascading down");
	OK(fired[0] == b, "the right slot");
	IS_INT(advance_to(s, t0 + 3600 * 1000), 0, "+2 h not fired after one hour");
	IS_INT(advance_to(s, t0 + 2 * 3600 * 1000 + 50), 1, "+2 h fired after two");
	t0 = fake_now;
	tm_stripe_lock(s);
	tm_wheel_arm_locked(s, a, t0 + 10000, t0);
	tm_wheel_arm_locked(s, a, t0 + 1000, t0);            /* moved earlier */
	tm_wheel_arm_locked(s, b, t0 + 500, t0);
	tm_wheel_disarm_locked(s, b);
	tm_wheel_arm_locked(s, c, t0 - 5000, t0);            /* already past */
	tm_stripe_unlock(s);
	IS_INT(advance_to(s, t0 + 50), 1, "a due in the past fires at the next tick");
	OK(fired[0] == c, "the right slot");
	IS_INT(advance_to(s, t0 + 1050), 1, "a re-armed slot fires at its new time");
	IS_INT(advance_to(s, t0 + 11000), 0, "and not at its old one; a disarmed one never");
	tm_stripe_lock(s);
	tm_slot_free_locked(a);
	tm_slot_free_locked(b);
	tm_slot_free_locked(c);
	tm_stripe_unlock(s);
}

/* ---- whole transactions -------------------------------------------------------------- */

static bool via_is_ours(void)
{
	struct tm_branch_id id;

	return got.nvia > 0 && tm_branch_parse(got.via[0].branch, &id) == 0;
}

static void test_call_answered(void)
{
	uint64_t fwd = stat_get(STAT_CORE_FWD_REQUESTS);

	seq++;
	register_binding("bob", 0, -1, true);
	IS_INT(deliver_request(request("INVITE", "sip:bob@example.com", "z9hG4bKc1", "call1", NULL),
			       &caller_addr), 0, "INVITE taken by the proxy");
	OK(recv_on(caller_fd, 300) && got.status == 100, "caller: 100 Trying at once");
	OK(got.to.tag.len == 0, "100 has no To tag");
	OK(recv_on(callee_fd[0], 300) && got.method_id == SIP_M_INVITE, "callee: the INVITE");
	IS_INT(got.max_forwards, 69, "Max-Forwards 69");
	OK(via_is_ours() && got.nvia == 2, "our Via on top of the caller's");
	OK(strstr(rx, "Record-Route: <sip:127.0.0.1:") && strstr(rx, ";lr;nat=yes>"),
	   "Record-Route with lr, nat=yes for the NATed callee");
	IS_INT(stat_get(STAT_CORE_FWD_REQUESTS), fwd + 1, "core.fwd_requests counted");
	IS_INT(deliver_request(request("INVITE", "sip:bob@example.com", "z9hG4bKc1", "call1", NULL),
			       &caller_addr), 0, "a retransmission");
	OK(recv_on(caller_fd, 300) && got.status == 100, "gets the 100 again");
	OK(!recv_on(callee_fd[0], 100), "and is not forwarded");
	answer(180, "b1", 0);
	OK(recv_on(caller_fd, 300) && got.status == 180 && got.nvia == 1, "caller: 180 without our Via");
	answer(200, "b1", 0);
	OK(recv_on(caller_fd, 300) && got.status == 200, "caller: 200");
	answer(200, "b1", 0);
	OK(recv_on(caller_fd, 300) && got.status == 200, "a retransmitted 200 is relayed too");
	IS_INT(tm_active_count(), 1, "one transaction live");
	tick(31000);
	IS_INT(tm_active_count(), 1, "kept while 2xx retransmissions may come (Timer L/M)");
	tick(2000);
	IS_INT(tm_active_count(), 0, "freed after 64*T1");
	unregister("bob");
}

static void test_no_answer(void)
{
	uint64_t absorbed;

	settle_all();
	seq++;
	register_binding("carl", 0, -1, false);
	deliver_request(request("INVITE", "sip:carl@example.com", "z9hG4bKn1", "noans", NULL),
			&caller_addr);
	OK(recv_on(callee_fd[0], 300), "callee: INVITE");
	tick(500);
	OK(recv_on(callee_fd[0], 300) && got.method_id == SIP_M_INVITE, "Timer A: again after T1");
	tick(500);
	OK(!recv_on(callee_fd[0], 50), "not after another T1");
	tick(500);
	OK(recv_on(callee_fd[0], 300), "but after 2 T1");
	drain(caller_fd);
	tick(30000);
	OK(recv_final(caller_fd) && got.status == 408, "caller: 408 once fr runs out");
	tick(500);
	OK(recv_on(caller_fd, 300) && got.status == 408, "Timer G: the 408 again");
	absorbed = stat_get(STAT_CORE_DROP_REQUESTS);
	drain(callee_fd[0]);
	deliver_request(request("ACK", "sip:carl@example.com", "z9hG4bKn1", "noans", NULL),
			&caller_addr);
	IS_INT(stat_get(STAT_CORE_DROP_REQUESTS), absorbed + 1, "the ACK is absorbed");
	OK(!recv_on(callee_fd[0], 100), "not forwarded");
	tick(1000);
	OK(!recv_on(caller_fd, 100), "and Timer G stops");
	unregister("carl");
}

static void test_ringing_timeout(void)
{
	settle_all();
	seq++;
	conf.tm.fr_inv = 2;
	register_binding("dora", 0, -1, true);
	deliver_request(request("INVITE", "sip:dora@example.com", "z9hG4bKr1", "ring", NULL),
			&caller_addr);
	OK(recv_on(callee_fd[0], 300), "callee: INVITE");
	answer(180, "d1", 0);
	OK(recv_on(caller_fd, 300) && recv_on(caller_fd, 300) && got.status == 180,
	   "caller: 100, 180");
	tick(1000);
	OK(!recv_on(callee_fd[0], 50), "no retransmission after a provisional");
	tick(1100);
	OK(recv_on(callee_fd[0], 300) && got.method_id == SIP_M_CANCEL, "Timer C: callee gets CANCEL");
	OK(recv_final(caller_fd) && got.status == 408, "caller: 408");
	answer(487, "d1", 0);
	OK(recv_on(callee_fd[0], 300) && got.method_id == SIP_M_ACK, "the callee's 487 is ACKed");
	OK(!recv_on(caller_fd, 50), "and not relayed");
	conf.tm.fr_inv = 120;
	unregister("dora");
}

static void test_cancel(void)
{
	char cancel[4096];

	settle_all();
	seq++;
	register_binding("eve", 0, -1, true);
	deliver_request(request("INVITE", "sip:eve@example.com", "z9hG4bKx1", "cancel1", NULL),
			&caller_addr);
	OK(recv_on(callee_fd[0], 300), "callee: INVITE");
	answer(180, "e1", 0);
	drain(caller_fd);
	snprintf(cancel, sizeof(cancel), "%s",
		 request("CANCEL", "sip:eve@example.com", "z9hG4bKx1", "cancel1", NULL));
	IS_INT(deliver_request(cancel, &caller_addr), 200, "CANCEL matched: 200 to send");
	OK(recv_on(callee_fd[0], 300) && got.method_id == SIP_M_CANCEL, "callee: CANCEL");
	OK(via_is_ours() && got.nvia == 1, "with our branch only");
	IS_INT(deliver_request(request("CANCEL", "sip:eve@example.com", "z9hG4bKnone", "c0", NULL),
			       &caller_addr), 481, "a CANCEL matching nothing: 481");
	tick(33000);
	OK(recv_final(caller_fd) && got.status == 487,
	   "a callee that never answers the CANCEL: 487 once it is given up");
	unregister("eve");
}

static void test_cancel_487(void)
{
	settle_all();
	seq++;
	register_binding("fay", 0, -1, true);
	deliver_request(request("INVITE", "sip:fay@example.com", "z9hG4bKy1", "cancel2", NULL),
			&caller_addr);
	OK(recv_on(callee_fd[0], 300), "callee: INVITE");
	answer(180, "f1", 0);
	deliver_request(request("CANCEL", "sip:fay@example.com", "z9hG4bKy1", "cancel2", NULL),
			&caller_addr);
	answer(487, "f1", 0);
	OK(recv_on(callee_fd[0], 300) && got.method_id == SIP_M_CANCEL, "callee: CANCEL");
	OK(recv_on(callee_fd[0], 300) && got.method_id == SIP_M_ACK, "callee: ACK for its 487");
	OK(recv_final(caller_fd) && got.status == 487, "caller: 487 Request Terminated");
	unregister("fay");
}

static void test_fork_6xx(void)
{
	settle_all();
	seq++;
	register_binding("gus", 0, -1, true);
	register_binding("gus2", 1, -1, true);
	{
		char key[] = "gus@example.com", contact[96];
		struct loc_handle h;
		struct loc_binding b = { .call_id = SLICE_LIT("reg2"), .q = -1,
					 .expires = time(NULL) + 3600, .cseq = 1, .flags = LOC_F_NAT };

		snprintf(contact, sizeof(contact), "sip:gus@127.0.0.1:%u",
			 ntohs(callee_addr[1].sin_port));
		b.contact = slice_cstr(contact);
		b.received = (struct loc_addr){ .family = AF_INET,
						.port = ntohs(callee_addr[1].sin_port) };
		memcpy(b.received.addr, &callee_addr[1].sin_addr, 4);
		loc_lock(slice_cstr(key), &h);
		loc_put_locked(&h, &b);
		loc_unlock(&h);
	}
	deliver_request(request("INVITE", "sip:gus@example.com", "z9hG4bKf1", "fork1", NULL),
			&caller_addr);
	OK(recv_on(callee_fd[1], 300), "second binding: INVITE");
	answer(180, "g2", 1);
	OK(recv_on(callee_fd[0], 300), "first binding: INVITE, in parallel");
	answer(603, "g1", 0);
	OK(recv_on(callee_fd[0], 300) && got.method_id == SIP_M_ACK, "the 603 is ACKed");
	OK(recv_on(callee_fd[1], 300) && got.method_id == SIP_M_CANCEL, "6xx cancels the other branch");
	answer(487, "g2", 1);
	OK(recv_on(callee_fd[1], 300) && got.method_id == SIP_M_ACK, "its 487 is ACKed");
	OK(recv_final(caller_fd) && got.status == 603, "caller: the 603, not the 487");
	unregister("gus");
	unregister("gus2");
}

static void test_serial_fork(void)
{
	settle_all();
	seq++;
	register_binding("hal", 1, 500, true);
	register_binding("hal", 0, 1000, true);
	deliver_request(request("INVITE", "sip:hal@example.com", "z9hG4bKs1", "serial1", NULL),
			&caller_addr);
	OK(!recv_on(callee_fd[1], 100), "q=0.5: nothing yet");
	OK(recv_on(callee_fd[0], 300), "q=1.0: INVITE first");
	answer(486, "h1", 0);
	OK(recv_on(callee_fd[0], 300) && got.method_id == SIP_M_ACK, "its 486 ACKed");
	OK(recv_on(callee_fd[1], 300) && got.method_id == SIP_M_INVITE, "then q=0.5 gets the INVITE");
	answer(200, "h2", 1);
	OK(recv_final(caller_fd) && got.status == 200, "caller: its 200");
	unregister("hal");
}

static void test_not_registered(void)
{
	settle_all();
	seq++;
	deliver_request(request("INVITE", "sip:ivy@example.com", "z9hG4bKu1", "unreg1", NULL),
			&caller_addr);
	OK(recv_on(caller_fd, 300) && got.status == 100, "100 first");
	OK(recv_on(caller_fd, 300) && got.status == 480, "then 480, statefully");
	OK(got.to.tag.len > 0, "with a To tag");
	IS_INT(deliver_request(request("MESSAGE", "sip:ivy@example.com", "z9hG4bKu2", "unreg2", NULL),
			       &caller_addr), 480, "MESSAGE: 480 left to the stateless layer");
	drain(caller_fd);
}

static void test_loop(void)
{
	char route[96];
	static char copy[SIP_MAX_MSG + 1];

	settle_all();
	seq++;
	snprintf(route, sizeof(route), "Route: <sip:127.0.0.1:%u;lr>\r\n",
		 ntohs(callee_addr[0].sin_port));
	IS_INT(deliver_request(request("MESSAGE", "sip:joe@example.net", "z9hG4bKl1", "loop1", route),
			       &caller_addr), 0, "relayed along a foreign Route");
	OK(recv_on(callee_fd[0], 300) && got.method_id == SIP_M_MESSAGE, "next hop: the message");
	memcpy(copy, rx, rx_len + 1);
	IS_INT(deliver_request(copy, &callee_addr[0]), 482, "back with the same target: 482");
	deliver_request(request("OPTIONS", "sip:joe@example.net", "z9hG4bKl2", "loop2", route),
			&caller_addr);
	OK(recv_on(callee_fd[0], 300), "(another request)");
	memcpy(copy, rx, rx_len + 1);
	{
		char *r = strstr(copy, "sip:joe@example.net");

		memcpy(r, "sip:joy", 7);   /* a new target: spiral, not loop */
	}
	IS_INT(deliver_request(copy, &callee_addr[0]), 0, "a spiral is forwarded");
	drain_all();
}

static void test_unmatched(void)
{
	static char buf[1024];
	static struct sip_msg resp;
	struct sip_source src = { .addr = (const struct sockaddr *)&callee_addr[0] };
	struct sip_parse_status st;
	uint64_t before = stat_get(STAT_TM_UNMATCHED_REPLIES);
	struct tm_branch_id id = { .boot = tm_table()->boot, .slot = 3, .gen = 999 };
	char branch[64];

	tm_branch_format(&id, branch, sizeof(branch));
	snprintf(buf, sizeof(buf), "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=%s\r\n"
		 "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\n"
		 "Call-ID: u\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", branch);
	sip_msg_parse(buf, strlen(buf), 0, &resp, &st);
	proxy_response(&conf, &resp, &src);
	snprintf(buf, sizeof(buf), "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKfoo\r\n"
		 "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\n"
		 "Call-ID: u\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
	sip_msg_parse(buf, strlen(buf), 0, &resp, &st);
	proxy_response(&conf, &resp, &src);
	IS_INT(stat_get(STAT_TM_UNMATCHED_REPLIES), before + 2,
	       "stale generation and foreign branch: dropped and counted");
	OK(!recv_on(caller_fd, 50), "nothing relayed");
}

/* A process killed between taking a slot and arming it leaves it off the
 * wheel: the timer's sweep finds it and its guard (or, with no timer at
 * all, an immediate end) frees it. */
static void test_orphans_swept(void)
{
	uint32_t a, b;
	uint64_t active;

	settle_all();
	active = tm_active_count();
	tm_stripe_lock(9);
	tm_slot_alloc_locked(9, &a);
	tm_slot_alloc_locked(9, &b);
	tm_slot_at(a)->guard_at = fake_now + 5000;
	tm_stripe_unlock(9);
	IS_INT(tm_active_count(), active + 2, "two slots left off the wheel");
	for (unsigned i = 0; i < TM_STRIPES; i++)
		tick(50);
	IS_INT(tm_active_count(), active + 1, "the sweep ends the one without any timer");
	OK(tm_slot_at(a)->wbucket != 0, "and puts the other back on the wheel");
	tick(5000);
	IS_INT(tm_active_count(), active, "which its guard then ends");
}

/* A process killed between marking a slot live and counting it leaves
 * a slot the stripe's used count misses: the sweep's periodic full pass
 * (every 8th pass over the table) still finds it. */
static void test_uncounted_orphan_swept(void)
{
	uint32_t a;
	uint64_t active;
	unsigned runs = 0;

	settle_all();
	active = tm_active_count();
	tm_stripe_lock(9);
	tm_slot_alloc_locked(9, &a);
	tm_stripe_at(9)->used--;
	tm_stripe_unlock(9);
	while (tm_slot_at(a)->live && runs < 9 * TM_STRIPES) {
		tick(50);
		runs++;
	}
	OK(!tm_slot_at(a)->live, "the uncounted slot is ended");
	OK(runs > TM_STRIPES, "by a full pass, not by the first one");
	tm_stripe_lock(9);
	tm_stripe_at(9)->used++;
	tm_stripe_unlock(9);
	IS_INT(tm_active_count(), active, "nothing else left");
}

static void test_table_full(void)
{
	static struct sip_msg m;
	char branch[32], callid[32];
	uint64_t full = stat_get(STAT_TM_TABLE_FULL);
	unsigned sent = 0, code = 0;
	uint32_t stripe = 0;
	bool rfc2543;

	settle_all();
	IS_INT(tm_active_count(), 0, "the table is empty once every timer ran out");
	seq++;
	for (unsigned i = 0; i < 100000 && code == 0; i++) {
		snprintf(branch, sizeof(branch), "z9hG4bKfull%u", i);
		snprintf(callid, sizeof(callid), "full%u", i);
		parse_text(request("INVITE", "sip:kim@example.com", branch, callid, NULL), &m);
		if (sent == 0)
			stripe = tm_stripe_for_key(tm_request_key(&m, &rfc2543));
		else if (tm_stripe_for_key(tm_request_key(&m, &rfc2543)) != stripe)
			continue;
		code = deliver_request(request("INVITE", "sip:kim@example.com", branch, callid, NULL),
				       &caller_addr);
		sent++;
	}
	IS_INT(sent, tm_table()->per_stripe + 1, "a stripe holds its share of the table");
	IS_INT(code, 503, "then 503 (statelessly)");
	IS_INT(stat_get(STAT_TM_TABLE_FULL), full + 1, "counted in tm.table_full");
	settle_all();
	IS_INT(tm_active_count(), 0, "and everything ends by timer");
}

static void setup(void)
{
	proxy_fd = udp_bound(&proxy_addr);
	caller_fd = udp_bound(&caller_addr);
	callee_fd[0] = udp_bound(&callee_addr[0]);
	callee_fd[1] = udp_bound(&callee_addr[1]);
	conf_defaults(&conf);
	conf.nlisten = 1;
	conf.listen[0] = (struct conf_listen){ .proto = CONF_PROTO_UDP, .address = "127.0.0.1",
					       .port = ntohs(proxy_addr.sin_port) };
	conf.ndomains = 1;
	snprintf(conf.domains[0], sizeof(conf.domains[0]), "example.com");
	tm_sockets_set(&proxy_fd, 1);
	tm_clock_set(fake_clock);
}

int main(void)
{
	setup();
	IS_INT(tm_init(256), -ENODEV, "tm_init without a segment");
	IS_INT(shm_create(SEG_SIZE), 0, "segment");
	IS_INT(loc_init(0), 0, "location table");
	IS_INT(tm_init(256), 0, "transaction table");
	IS_INT(tm_init(256), -EEXIST, "only once");
	test_branch_ids();
	test_request_keys();
	test_rfc2543_keys();
	test_slots();
	test_wheel();
	test_call_answered();
	test_no_answer();
	test_ringing_timeout();
	test_cancel();
	test_cancel_487();
	test_fork_6xx();
	test_serial_fork();
	test_not_registered();
	test_loop();
	test_unmatched();
	test_orphans_swept();
	test_uncounted_orphan_swept();
	test_table_full();
	shm_detach();
	return tap_done();
}
