/*
 * test_keepalive.c — the NAT keepalive pinger: the branch that names a
 * binding, the OPTIONS ping as a SIP parser sees it, where a binding is
 * pinged, the pacing of a pass; answers matched to their binding (right
 * source, wrong source, stale, forged, unrelated); and the task itself
 * sending real datagrams over loopback and dropping silent bindings.
 */
#include "../../timer/keepalive_int.h"
#include "../../timer/timer.h"
#include "../../sip/sip.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define SEG_SIZE (16u << 20)

static struct pinhole_conf conf;

static struct sockaddr_storage sa4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin->sin_addr);
	return ss;
}

static struct loc_addr la4(const char *ip, uint16_t port)
{
	struct loc_addr a = { .family = AF_INET, .proto = CONF_PROTO_UDP, .port = port };

	inet_pton(AF_INET, ip, a.addr);
	return a;
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- wire format ------------------------------------------------------ */

static void test_branch(void)
{
	struct ka_id id = { 0x1234, 0xdeadbeef, 0x01020304, 0x5f3e2a1b9c }, got;
	char buf[96];
	int n = ka_branch_format(&id, buf, sizeof(buf));

	IS_SLICE(slice_make(buf, (size_t)(n > 0 ? n : 0)),
		 "z9hG4bK-ka-00001234-deadbeef01020304-5f3e2a1b9c", "branch layout");
	OK(ka_branch_parse(slice_make(buf, (size_t)n), &got) == 0 && got.bucket == id.bucket &&
	   got.aor_hash == id.aor_hash && got.contact_hash == id.contact_hash &&
	   got.sent_us == id.sent_us, "branch parses back to the same id");
	IS_INT(ka_branch_format(&id, buf, 20), -ENOSPC, "too small: -ENOSPC");
	IS_INT(ka_branch_parse(SLICE_LIT("z9hG4bK-77a3"), &got), -ENOENT,
	       "another transaction's branch: -ENOENT");
	IS_INT(ka_branch_parse(SLICE_NULL, &got), -ENOENT, "empty branch: -ENOENT");
	static const char *const bad[] = {
		"z9hG4bK-ka-", "z9hG4bK-ka-00001234", "z9hG4bK-ka-00001234-deadbeef",
		"z9hG4bK-ka-00001234-deadbeef01020304", "z9hG4bK-ka-00001234-deadbeef01020304-",
		"z9hG4bK-ka-1234-deadbeef01020304-5f", "z9hG4bK-ka-00001234-DEADBEEF01020304-5f",
		"z9hG4bK-ka-00001234-deadbeef01020304-5f;x", "z9hG4bK-ka-00001234-deadbeef0102030-5f",
		"z9hG4bK-ka-00001234-deadbeef01020304-11112222333344445",
		"z9hG4bK-ka-00001234-deadbeef01020304-ffffffffffffffff",
	};
	bool all = true;

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		all &= ka_branch_parse(slice_cstr(bad[i]), &got) == -EINVAL;
	OK(all, "malformed keepalive branches: -EINVAL");
}

static int build_parse(const struct ka_options *o, char *buf, size_t cap, struct sip_msg *msg)
{
	struct sip_parse_status st;
	size_t len = 0;
	int rc = ka_options_build(o, buf, cap, &len);

	return rc < 0 ? rc : sip_msg_parse(buf, len, 0, msg, &st);
}

static void test_options(void)
{
	static char buf[4096], buf2[4096];
	static struct sip_msg msg, msg2;
	static struct sip_contacts contacts;
	struct ka_options o = {
		.id = { 7, 1, 2, 123456 }, .contact = SLICE_LIT("sip:alice@10.0.2.15:5060;ob"),
		.from = SLICE_LIT("sip:pinger@example.com"), .via_host = SLICE_LIT("203.0.113.1"),
		.via_port = 5060, .seq = 1,
	};
	struct ka_id got;

	IS_INT(build_parse(&o, buf, sizeof(buf), &msg), 0, "the ping parses");
	OK(msg.is_request && msg.method_id == SIP_M_OPTIONS, "an OPTIONS request");
	IS_SLICE(msg.ruri_raw, "sip:alice@10.0.2.15:5060;ob", "Request-URI is the contact");
	IS_SLICE(msg.to.uri_raw, "sip:alice@10.0.2.15:5060;ob", "To is the contact");
	IS_SLICE(msg.from.uri_raw, "sip:pinger@example.com", "From is nat.keepalive.from");
	OK(msg.from.tag.len > 0 && msg.to.tag.len == 0, "From has a tag, To none");
	OK(msg.nvia == 1 && msg.via[0].has_rport && slice_eq(msg.via[0].host, SLICE_LIT("203.0.113.1")) &&
	   msg.via[0].port == 5060, "one Via with the socket's address and rport");
	OK(ka_branch_parse(msg.via[0].branch, &got) == 0 && got.bucket == 7 && got.sent_us == 123456,
	   "its branch names the binding");
	OK(msg.cseq.num == 1 && msg.cseq.method_id == SIP_M_OPTIONS, "CSeq 1 OPTIONS");
	OK(msg.max_forwards == 70 && msg.content_length == 0, "Max-Forwards 70, Content-Length 0");
	OK(sip_contacts_parse(&msg, &contacts) == 0 &&
	   sip_msg_check(&msg, &contacts, &(struct sip_parse_status){ 0 }) == 0,
	   "passes the request checks");
	o.seq = 2;
	IS_INT(build_parse(&o, buf2, sizeof(buf2), &msg2), 0, "a second ping parses");
	OK(!slice_eq(msg.call_id, msg2.call_id) && !slice_eq(msg.from.tag, msg2.from.tag),
	   "Call-ID and From tag differ between pings");
	o.via_host = SLICE_LIT("2001:db8::1");
	IS_INT(build_parse(&o, buf, sizeof(buf), &msg), 0, "IPv6 socket address");
	IS_SLICE(msg.via[0].host, "2001:db8::1", "Via host bracketed and parsed");
	size_t len;
	IS_INT(ka_options_build(&o, buf, 100, &len), -ENOSPC, "small buffer: -ENOSPC");
	o.contact = SLICE_NULL;
	IS_INT(ka_options_build(&o, buf, sizeof(buf), &len), -EINVAL, "no contact: -EINVAL");
}

static void test_target(void)
{
	struct loc_binding b = { .contact = SLICE_LIT("sip:a@10.0.2.15:5070") };
	struct sockaddr_storage dst, want;

	b.received = la4("203.0.113.2", 40123);
	want = sa4("203.0.113.2", 40123);
	OK(ka_target(&b, &dst) == 0 && ka_sockaddr_same(&dst, &want),
	   "received address wins over the Contact");
	b.received.family = 0;
	want = sa4("10.0.2.15", 5070);
	OK(ka_target(&b, &dst) == 0 && ka_sockaddr_same(&dst, &want),
	   "no received address: the Contact's IP and port");
	b.contact = SLICE_LIT("sip:a@10.0.2.15");
	want = sa4("10.0.2.15", 5060);
	OK(ka_target(&b, &dst) == 0 && ka_sockaddr_same(&dst, &want), "default port 5060");
	b.contact = SLICE_LIT("sip:a@phone.example.com");
	IS_INT(ka_target(&b, &dst), -EADDRNOTAVAIL, "host name without received: not pinged");
	b.contact = SLICE_LIT("sip:a@10.0.2.15;transport=tcp");
	IS_INT(ka_target(&b, &dst), -EPROTONOSUPPORT, "TCP contact: not pinged from the timer");
	b.received = la4("203.0.113.2", 40123);
	b.received.proto = CONF_PROTO_TCP;
	IS_INT(ka_target(&b, &dst), -EPROTONOSUPPORT, "registered over TCP: not pinged");
	want = sa4("203.0.113.2", 40124);
	dst = sa4("203.0.113.2", 40123);
	OK(!ka_sockaddr_same(&dst, &want), "another port is another address");
}

static void test_budget(void)
{
	uint64_t carry = 0, total = 0;
	uint32_t lo = UINT32_MAX, hi = 0, n;

	for (int t = 0; t < 200; t++) {   /* 10 s in 50 ms ticks */
		n = ka_budget(65536, 10000, 50, &carry);
		total += n;
		lo = n < lo ? n : lo;
		hi = n > hi ? n : hi;
	}
	IS_INT(total, 65536, "one interval visits every bucket once");
	OK(hi - lo <= 1, "each tick visits the same share (%u..%u)", lo, hi);
	carry = 0;
	total = 0;
	for (int t = 0; t < 1000; t++)
		total += ka_budget(1000, 30000, 7 + t % 5, &carry);
	IS_INT(total, 300, "uneven ticks: exact over time");
	IS_INT(ka_budget(16, 1000, 5000, &carry), 16, "never more than a pass at once");
	IS_INT(ka_budget(16, 1000, 0, &carry), 0, "no time, no buckets");
}

/* ---- answers ------------------------------------------------------------ */

static void put(const char *aor, const char *contact, struct loc_addr received, uint8_t flags,
		int64_t last_modified)
{
	struct loc_binding b = { .contact = slice_cstr(contact), .call_id = SLICE_LIT("c"),
				 .expires = now_s() + 3600, .last_modified = last_modified,
				 .q = -1, .flags = flags, .received = received };
	struct loc_handle h;

	loc_lock(slice_cstr(aor), &h);
	loc_put_locked(&h, &b);
	loc_unlock(&h);
}

static struct loc_binding get(const char *aor, unsigned i)
{
	struct loc_binding b = { 0 };
	struct loc_handle h;

	loc_lock(slice_cstr(aor), &h);
	loc_get_locked(&h, i, &b);
	loc_unlock(&h);
	return b;
}

static struct ka_id id_of(const char *aor, const char *contact, int64_t sent_us)
{
	struct loc_handle h;

	loc_lock(slice_cstr(aor), &h);
	loc_unlock(&h);
	return (struct ka_id){ h.bucket, ka_hash(slice_cstr(aor)), ka_hash(slice_cstr(contact)),
			       sent_us };
}

/* A response to a ping with branch id, received from src. */
static bool answer(const struct ka_id *id, const char *branch_text, unsigned code,
		   const char *cseq_method, struct sockaddr_storage src)
{
	static char buf[2048];
	static struct sip_msg msg;
	char branch[96];
	struct sip_parse_status st;
	struct sip_rx rx = { .src = src, .conf = &conf };
	int n;

	if (id)
		ka_branch_format(id, branch, sizeof(branch));
	n = snprintf(buf, sizeof(buf),
		     "SIP/2.0 %u Whatever\r\n"
		     "Via: SIP/2.0/UDP 203.0.113.1:5060;branch=%s;rport=5060\r\n"
		     "From: <sip:pinger@localhost>;tag=ka1\r\nTo: <sip:a@10.0.2.15>;tag=9\r\n"
		     "Call-ID: ka-1\r\nCSeq: 1 %s\r\nContent-Length: 0\r\n\r\n",
		     code, id ? branch : branch_text, cseq_method);
	if (sip_msg_parse(buf, (size_t)n, 0, &msg, &st) < 0)
		return false;
	return keepalive_reply_in(&msg, &rx);
}

static void test_answers(void)
{
	const char *aor = "alice@example.com", *contact = "sip:alice@10.0.2.15:5060";
	struct sockaddr_storage nat = sa4("203.0.113.2", 40123);
	uint64_t pongs = stat_get(STAT_NAT_PONGS), bad = stat_get(STAT_NAT_BAD_PONGS);
	struct ka_id id;
	struct loc_binding b;

	put(aor, "sip:alice@10.0.2.16:5060", la4("203.0.113.2", 40200), LOC_F_NAT, now_s());
	put(aor, contact, la4("203.0.113.2", 40123), LOC_F_NAT | LOC_F_KEEPALIVE, now_s());
	id = id_of(aor, contact, ka_now_us() - 1500);
	OK(answer(&id, NULL, 200, "OPTIONS", nat), "a 200 to a ping is consumed");
	b = get(aor, 1);
	IS_INT(stat_get(STAT_NAT_PONGS), pongs + 1, "nat.pongs counted");
	OK(b.last_keepalive_ms / 1000 >= now_s() - 1 && b.rtt_us >= 1500 && b.rtt_us < 1000000,
	   "the binding's last keepalive and round trip recorded (%u us)", b.rtt_us);
	OK(get(aor, 0).last_keepalive_ms == 0, "the other binding of the AOR untouched");
	OK(answer(&id, NULL, 404, "OPTIONS", nat), "any final answer proves the binding");
	IS_INT(stat_get(STAT_NAT_PONGS), pongs + 2, "and counts");

	put(aor, contact, la4("203.0.113.2", 40123), LOC_F_NAT | LOC_F_KEEPALIVE, now_s());
	OK(answer(&id, NULL, 200, "OPTIONS", sa4("203.0.113.2", 40999)),
	   "an answer from another port is consumed");
	IS_INT(stat_get(STAT_NAT_BAD_PONGS), bad + 1, "counted in nat.bad_pongs");
	OK(answer(&id, NULL, 200, "OPTIONS", sa4("198.51.100.7", 40123)), "another host: consumed");
	IS_INT(stat_get(STAT_NAT_BAD_PONGS), bad + 2, "counted");
	OK(get(aor, 1).last_keepalive_ms == 0, "and the binding was not touched");

	OK(answer(&id, NULL, 100, "OPTIONS", nat), "a provisional answer is consumed");
	OK(get(aor, 1).last_keepalive_ms == 0 && stat_get(STAT_NAT_BAD_PONGS) == bad + 2,
	   "without effect or count");
	id.sent_us = ka_now_us() - KA_MAX_RTT_US - 1000000;
	answer(&id, NULL, 200, "OPTIONS", nat);
	id.sent_us = ka_now_us() + 5000000;
	answer(&id, NULL, 200, "OPTIONS", nat);
	IS_INT(stat_get(STAT_NAT_BAD_PONGS), bad + 4, "stale and future send times: bad");
	id = id_of(aor, "sip:nobody@10.0.2.15", ka_now_us());
	answer(&id, NULL, 200, "OPTIONS", nat);
	id = id_of("nobody@example.com", contact, ka_now_us());
	answer(&id, NULL, 200, "OPTIONS", nat);
	id.bucket = 0xffffffffu;
	answer(&id, NULL, 200, "OPTIONS", nat);
	IS_INT(stat_get(STAT_NAT_BAD_PONGS), bad + 7, "no such binding, AOR or bucket: bad");
	OK(answer(NULL, "z9hG4bK-ka-zz", 200, "OPTIONS", nat), "malformed keepalive branch consumed");
	id = id_of(aor, contact, ka_now_us());
	OK(answer(&id, NULL, 200, "INVITE", nat), "a keepalive branch on another method consumed");
	IS_INT(stat_get(STAT_NAT_BAD_PONGS), bad + 9, "both bad");
	OK(!answer(NULL, "z9hG4bK-other-1", 200, "OPTIONS", nat), "any other response is not ours");
	IS_INT(stat_get(STAT_NAT_PONGS), pongs + 2, "no pong counted by any of these");
	OK(get(aor, 1).last_keepalive_ms == 0, "binding still untouched");
}

/* ---- the task ----------------------------------------------------------- */

static int udp_bound(struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	*ss = sa4("127.0.0.1", 0);
	bind(fd, (struct sockaddr *)ss, sizeof(*sin));
	getsockname(fd, (struct sockaddr *)ss, &len);
	return fd;
}

static unsigned drain(int fd, char *last, size_t cap)
{
	unsigned n = 0;
	ssize_t r;

	while ((r = recv(fd, last, cap - 1, MSG_DONTWAIT)) >= 0) {
		last[r] = '\0';
		n++;
	}
	return n;
}

static void clear_all(void)
{
	static const char *const aors[] = { "alice@example.com", "tcp@example.com" };
	struct loc_handle h;

	for (size_t i = 0; i < ARRAY_LEN(aors); i++) {
		loc_lock(slice_cstr(aors[i]), &h);
		loc_del_all_locked(&h);
		loc_unlock(&h);
	}
}

/* Runs the task over one interval in 50 ms steps of a fake clock; returns
 * the datagrams the sink got and the most it got after one step. */
static unsigned run_pass(int sink, int64_t *clock_ms, unsigned *peak, char *last, size_t cap)
{
	unsigned total = 0, n;

	*peak = 0;
	for (unsigned t = 0; t < conf.nat.keepalive.interval * 20; t++) {
		*clock_ms += 50;
		keepalive_task(&conf, *clock_ms);
		poll(NULL, 0, 0);
		n = drain(sink, last, cap);
		total += n;
		*peak = n > *peak ? n : *peak;
	}
	return total;
}

static void test_task(void)
{
	static char last[4096];
	struct sockaddr_storage lsa, ssa;
	struct listen_set ls = { .n = 1 };
	int sink = udp_bound(&ssa);
	uint16_t sport = ntohs(((struct sockaddr_in *)&ssa)->sin_port);
	int64_t clock_ms = 1000000;
	uint64_t sent = stat_get(STAT_NAT_PINGS_SENT), dropped = stat_get(STAT_NAT_BINDINGS_DROPPED);
	unsigned peak, got;
	char aor[64], contact[64];

	clear_all();
	ls.fd[0] = udp_bound(&lsa);
	conf.listen[0].port = ntohs(((struct sockaddr_in *)&lsa)->sin_port);
	for (unsigned i = 0; i < 400; i++) {
		snprintf(aor, sizeof(aor), "user%u@example.com", i);
		snprintf(contact, sizeof(contact), "sip:user%u@10.0.2.15:5060", i);
		put(aor, contact, la4("127.0.0.1", sport), i % 4 ? LOC_F_NAT | LOC_F_KEEPALIVE : 0,
		    now_s());
	}
	keepalive_init(&ls);
	keepalive_task(&conf, clock_ms);
	got = run_pass(sink, &clock_ms, &peak, last, sizeof(last));
	IS_INT(got, 300, "one interval: one ping per flagged binding, none for the others");
	IS_INT(stat_get(STAT_NAT_PINGS_SENT) - sent, 300, "nat.pings_sent counts them");
	OK(peak <= 300 / 20 * 3, "spread out: at most %u in one 50 ms step", peak);
	OK(strncmp(last, "OPTIONS sip:user", 16) == 0 && strstr(last, ";branch=" KA_BRANCH_PREFIX),
	   "pings are OPTIONS with a keepalive branch");
	conf.nat.keepalive.nated_only = false;
	got = run_pass(sink, &clock_ms, &peak, last, sizeof(last));
	IS_INT(got, 400, "nated_only false: every binding pinged");
	conf.nat.keepalive.method = CONF_KA_CRLF;
	got = run_pass(sink, &clock_ms, &peak, last, sizeof(last));
	OK(got == 400 && strcmp(last, "\r\n\r\n") == 0, "method crlf: 4-byte pings");
	conf.nat.keepalive.method = CONF_KA_OPTIONS;
	conf.nat.keepalive.nated_only = true;

	put("user1@example.com", "sip:user1@10.0.2.15:5060", la4("127.0.0.1", sport),
	    LOC_F_NAT | LOC_F_KEEPALIVE, now_s() - 100);
	put("user2@example.com", "sip:user2@10.0.2.15:5060", la4("127.0.0.1", sport),
	    LOC_F_NAT | LOC_F_KEEPALIVE, now_s() - 100);
	struct loc_addr tcp = la4("127.0.0.1", sport);

	tcp.proto = CONF_PROTO_TCP;
	put("tcp@example.com", "sip:tcp@10.0.2.15:5060;transport=tcp", tcp,
	    LOC_F_NAT | LOC_F_KEEPALIVE, now_s() - 100);
	{
		struct loc_handle h;

		loc_lock(SLICE_LIT("user2@example.com"), &h);
		loc_update_keepalive_locked(&h, 0, (now_s() - 5) * 1000, 100);
		loc_unlock(&h);
	}
	conf.nat.keepalive.timeout = 30;
	got = run_pass(sink, &clock_ms, &peak, last, sizeof(last));
	IS_INT(stat_get(STAT_NAT_BINDINGS_DROPPED) - dropped, 1, "one silent binding dropped");
	IS_INT(got, 299, "and no longer pinged");
	OK(get("user1@example.com", 0).contact.len == 0, "the silent one is gone");
	OK(get("user2@example.com", 0).contact.len > 0, "one that answered lately stays");
	OK(get("tcp@example.com", 0).contact.len > 0, "one the timer cannot ping (TCP) stays");
	conf.nat.keepalive.timeout = 0;
	close(ls.fd[0]);
	close(sink);
}

int main(void)
{
	conf_defaults(&conf);
	conf.nat.keepalive.interval = 1;
	conf.db.location = CONF_LOC_MEMORY;
	snprintf(conf.listen[0].address, sizeof(conf.listen[0].address), "127.0.0.1");
	conf.nlisten = 1;
	test_branch();
	test_options();
	test_target();
	test_budget();
	if (shm_create(SEG_SIZE) < 0 || loc_init(0) < 0) {
		OK(false, "shared memory for the location table");
		return tap_done();
	}
	test_answers();
	test_task();
	shm_detach();
	return tap_done();
}
