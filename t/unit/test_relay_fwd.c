/*
 * test_relay_fwd.c — a real relay worker (forked, on a small port range of
 * 127.0.0.1) forwarding between real UDP sockets: RTP both ways with
 * symmetric source ports, latching of the real source over the SDP
 * address, RTCP, intruders, a re-INVITE to a new port, the stale-packet
 * attack after a NATed party's re-INVITE, hold and resume, truncated
 * packets, a flood on one port while another call flows, timeout and
 * delete, counters. Sessions are made with relay_update, as the proxy and
 * the rtpproxy control protocol do.
 */
#include "../../relay/relay_int.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NQUADS 12
#define QUIET_MS 150            /* how long "nothing arrives" is watched */

static struct pinhole_conf conf;
static volatile sig_atomic_t worker_stop;
static uint16_t base;            /* relay.ports' first port, picked free */
static uint16_t next_party_port;

struct party {
	int rtp, rtcp;
	uint16_t port;          /* RTP; RTCP is port + 1 */
};

struct call {
	char id[32];
	struct party a, b;
	uint16_t to_a_side, to_b_side;  /* relay ports a and b send to */
};

static int udp_at_host(uint32_t host, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(host) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int udp_at(uint16_t port)
{
	return udp_at_host(INADDR_LOOPBACK, port);
}

static struct party party(void)
{
	struct party p = { -1, -1, 0 };

	for (unsigned tries = 0; tries < 500 && p.rtcp < 0; tries++, next_party_port += 2) {
		if (p.rtp >= 0)
			close(p.rtp);
		p.port = next_party_port;
		p.rtp = udp_at(p.port);
		p.rtcp = p.rtp >= 0 ? udp_at(p.port + 1) : -1;
	}
	return p;
}

static void party_close(struct party *p)
{
	close(p->rtp);
	close(p->rtcp);
}

static struct relay_addr v4(const char *ip, uint16_t port)
{
	struct relay_addr a = { .family = AF_INET, .port = port };

	inet_pton(AF_INET, ip, a.addr);
	return a;
}

static void send_len(int fd, uint16_t port, size_t len, char mark)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char buf[2048];

	memset(buf, mark, len);
	sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa));
}

static void send_pkt(int fd, uint16_t port, char mark)
{
	send_len(fd, port, 172, mark);
}

/* One datagram within timeout_ms: its length (and first byte and source
 * port), or -1. */
static int recv_pkt(int fd, int timeout_ms, char *mark, uint16_t *from)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char buf[2048];
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&sa, &sl);
	if (n < 0)
		return -1;
	if (mark)
		*mark = n ? buf[0] : 0;
	if (from)
		*from = ntohs(sa.sin_port);
	return (int)n;
}

static bool gets(int fd, char want)
{
	char mark = 0;

	return recv_pkt(fd, 1000, &mark, NULL) > 0 && mark == want;
}

static bool quiet(int fd)
{
	return recv_pkt(fd, QUIET_MS, NULL, NULL) < 0;
}

/* relay_update for tag's party, whose signalling came from host from
 * (family 0: not known). */
static int update_from(const char *call, const char *tag, const char *other,
		       struct relay_addr addr, struct relay_addr from, uint32_t flags,
		       uint16_t *port)
{
	struct relay_req r = { .call_id = slice_cstr(call), .tag = slice_cstr(tag),
			       .other_tag = slice_cstr(other), .addr = addr, .from = from,
			       .flags = flags };
	struct relay_addr local;
	int rc = relay_update(&r, &local);

	if (rc == 0 && port)
		*port = local.port;
	return rc;
}

static int update(const char *call, const char *tag, const char *other,
		  struct relay_addr addr, uint32_t flags, uint16_t *port)
{
	return update_from(call, tag, other, addr, (struct relay_addr){ 0 }, flags, port);
}

/* Binds a and b; offer from a (tag "fa"), answer from b (tag "tb"). The
 * SDP addresses are the parties' own unless given (port 0: use theirs). */
static bool call_with_sdp(struct call *c, const char *id, struct relay_addr sdp_a,
			  struct relay_addr sdp_b)
{
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->a = party();
	c->b = party();
	if (c->a.rtcp < 0 || c->b.rtcp < 0)
		return false;
	if (!sdp_a.port)
		sdp_a = v4("127.0.0.1", c->a.port);
	if (!sdp_b.port)
		sdp_b = v4("127.0.0.1", c->b.port);
	return update(id, "fa", "", sdp_a, RELAY_F_CREATE, &c->to_b_side) == 0 &&
	       update(id, "tb", "fa", sdp_b, 0, &c->to_a_side) == 0;
}

static bool call_setup(struct call *c, const char *id)
{
	struct relay_addr none = { 0 };

	return call_with_sdp(c, id, none, none);
}

static void call_end(struct call *c)
{
	relay_delete(slice_cstr(c->id), SLICE_NULL, SLICE_NULL);
	party_close(&c->a);
	party_close(&c->b);
}

struct leg_view {
	struct relay_info info;
	bool found;
};

static int view_fn(const struct relay_info *s, void *arg)
{
	struct leg_view *v = arg;

	v->info = *s;
	v->found = true;
	return 1;
}

static struct relay_info info_of(const struct call *c)
{
	struct leg_view v = { .found = false };

	relay_each(slice_cstr(c->id), view_fn, &v);
	return v.info;
}

/* ---- tests ------------------------------------------------------------- */

static void test_both_ways(void)
{
	struct call c;
	uint16_t from = 0;
	char mark = 0;

	if (!OK(call_setup(&c, "both"), "call set up"))
		return;
	send_pkt(c.a.rtp, c.to_a_side, 'a');
	OK(recv_pkt(c.b.rtp, 1000, &mark, &from) == 172 && mark == 'a', "a's RTP reaches b");
	IS_INT(from, c.to_b_side, "from the port b sends to (symmetric)");
	send_pkt(c.b.rtp, c.to_b_side, 'b');
	OK(recv_pkt(c.a.rtp, 1000, &mark, &from) == 172 && mark == 'b', "b's RTP reaches a");
	IS_INT(from, c.to_a_side, "from the port a sends to");
	send_pkt(c.a.rtcp, c.to_a_side + 1, 'c');
	OK(recv_pkt(c.b.rtcp, 1000, &mark, &from) > 0 && mark == 'c', "a's RTCP reaches b's RTCP port");
	IS_INT(from, c.to_b_side + 1, "from the RTCP port b sends to");
	send_pkt(c.b.rtcp, c.to_b_side + 1, 'd');
	OK(gets(c.a.rtcp, 'd'), "b's RTCP reaches a");
	usleep(50000);
	struct relay_info in = info_of(&c);
	IS_INT(in.leg[0].latched.port, c.a.port, "a's RTP latched");
	IS_INT(in.leg[0].latched_rtcp.port, c.a.port + 1, "a's RTCP latched separately");
	IS_INT(in.leg[1].latched.port, c.b.port, "b's RTP latched");
	IS_INT(in.leg[0].packets, 2, "a's leg counts its RTP and RTCP packet...");
	IS_INT(in.leg[0].bytes, 344, "... and their bytes");
	IS_INT(in.leg[1].packets, 2, "b's leg: RTP and RTCP");
	OK(in.last_packet_ms > 0, "last packet time set");
	call_end(&c);
}

/* The SDP names an address nobody uses (a NATed phone's private one): the
 * first packet's real source is where the other side's media goes. */
static void test_latch_real_source(void)
{
	struct call c;
	struct party ghost = party();

	party_close(&ghost);
	if (!OK(call_with_sdp(&c, "nat", v4("127.0.0.1", ghost.port), v4("10.9.9.9", 4000)),
		"call with private SDP addresses"))
		return;
	send_pkt(c.a.rtp, c.to_a_side, '1');
	OK(quiet(c.b.rtp), "b's SDP address is a private one: nothing reaches b yet");
	send_pkt(c.b.rtp, c.to_b_side, '2');
	OK(gets(c.a.rtp, '2'), "b latched on its first packet: b -> a flows");
	send_pkt(c.a.rtp, c.to_a_side, '3');
	OK(gets(c.b.rtp, '3'), "and a -> b now reaches b's real address");
	struct party intruder = party();
	send_pkt(intruder.rtp, c.to_a_side, 'X');
	OK(quiet(c.b.rtp), "an intruder on a latched port is not forwarded");
	usleep(50000);
	OK(info_of(&c).leg[0].dropped >= 1, "and counted as dropped on that leg");
	party_close(&intruder);
	call_end(&c);
}

/* Someone sprays the port before the real party speaks: a party sending
 * from its SDP address wins its leg back. */
static void test_spray_before_first_packet(void)
{
	struct call c;
	struct party sprayer = party();

	if (!OK(call_setup(&c, "spray"), "call set up"))
		return;
	send_pkt(sprayer.rtp, c.to_a_side, 'X');
	OK(gets(c.b.rtp, 'X'), "the sprayer's first packet latches a's leg (it is first)");
	send_pkt(c.a.rtp, c.to_a_side, 'a');
	OK(gets(c.b.rtp, 'a'), "a, sending from its SDP address, takes the leg back");
	send_pkt(sprayer.rtp, c.to_a_side, 'Y');
	OK(quiet(c.b.rtp), "the sprayer is dropped from then on");
	send_pkt(c.b.rtp, c.to_b_side, 'b');
	OK(gets(c.a.rtp, 'b'), "b's media goes to a");
	OK(quiet(sprayer.rtp), "not to the sprayer");
	party_close(&sprayer);
	call_end(&c);
}

/* A NATed party (private SDP address) rings for a while; a sprayer on
 * another host latches its leg first. The party's first packet, from the
 * host its signalling came from, takes the leg back, long after the
 * re-latch window of a move would have closed; then the sprayer is out. */
static void test_nated_party_wins_back(void)
{
	struct relay_addr private = v4("10.0.0.5", 4000), host = v4("127.0.0.1", 0);
	struct call c = { .id = "natspray" };
	int spray = -1;

	c.a = party();
	c.b = party();
	for (uint16_t p = next_party_port; spray < 0 && p < next_party_port + 200; p++)
		spray = udp_at_host(INADDR_LOOPBACK + 1, p);    /* 127.0.0.2 */
	if (!OK(c.a.rtcp >= 0 && c.b.rtcp >= 0 && spray >= 0, "sockets") ||
	    !OK(update_from(c.id, "fa", "", private, host, RELAY_F_CREATE, &c.to_b_side) == 0 &&
		update(c.id, "tb", "fa", v4("127.0.0.1", c.b.port), 0, &c.to_a_side) == 0,
		"call set up, a's signalling from 127.0.0.1"))
		goto out;
	send_pkt(spray, c.to_a_side, 'X');
	OK(gets(c.b.rtp, 'X'), "the sprayer (127.0.0.2) latches a's leg first");
	usleep((RELAY_RELATCH_MS + 200) * 1000);
	send_pkt(c.a.rtp, c.to_a_side, 'a');
	OK(gets(c.b.rtp, 'a'), "a's media from its signalling host takes the leg back");
	send_pkt(spray, c.to_a_side, 'Y');
	OK(quiet(c.b.rtp), "the sprayer is dropped from then on");
	send_pkt(c.b.rtp, c.to_b_side, 'b');
	OK(gets(c.a.rtp, 'b'), "b's media goes to a");
	OK(quiet(spray), "not to the sprayer");
out:
	if (spray >= 0)
		close(spray);
	call_end(&c);
}

/* Not behind NAT: the phone re-INVITEs to a new port; its old port's
 * packets are stale at once and the new one gets the media. */
static void test_reinvite_new_port(void)
{
	struct call c;
	struct party a2;
	uint16_t port = 0;

	if (!OK(call_setup(&c, "reinv"), "call set up"))
		return;
	send_pkt(c.a.rtp, c.to_a_side, 'a');
	send_pkt(c.b.rtp, c.to_b_side, 'b');
	OK(gets(c.b.rtp, 'a') && gets(c.a.rtp, 'b'), "media flows");
	a2 = party();
	IS_INT(update("reinv", "fa", "tb", v4("127.0.0.1", a2.port), 0, &port), 0,
	       "re-INVITE from a to a new port");
	IS_INT(port, c.to_b_side, "keeps the relay ports");
	send_pkt(c.b.rtp, c.to_b_side, 'n');
	OK(gets(a2.rtp, 'n'), "b's media goes to a's new port");
	OK(quiet(c.a.rtp), "not to the old one");
	send_pkt(c.a.rtp, c.to_a_side, 's');
	OK(quiet(c.b.rtp), "stale packets from the old port are dropped");
	send_pkt(a2.rtp, c.to_a_side, 'N');
	OK(gets(c.b.rtp, 'N'), "the new port's packets reach b");
	party_close(&c.a);
	c.a = a2;
	call_end(&c);
}

/* Behind NAT (SDP addresses private): after a re-INVITE the new mapping
 * takes over in the window, and the old one's stale packets cannot take
 * the stream back. */
static void test_stale_attack_after_reinvite(void)
{
	struct call c;
	struct party a2;

	if (!OK(call_with_sdp(&c, "stale", v4("10.1.1.1", 4000), v4("10.2.2.2", 4000)),
		"NATed call"))
		return;
	send_pkt(c.a.rtp, c.to_a_side, 'a');
	send_pkt(c.b.rtp, c.to_b_side, 'b');
	OK(gets(c.a.rtp, 'b'), "a latched first, so b's first packet reaches it");
	send_pkt(c.a.rtp, c.to_a_side, 'a');
	OK(gets(c.b.rtp, 'a'), "both latched, media flows both ways");
	IS_INT(update("stale", "fa", "tb", v4("10.1.1.1", 4002), 0, NULL), 0, "re-INVITE from a");
	send_pkt(c.a.rtp, c.to_a_side, 'o');
	OK(gets(c.b.rtp, 'o'), "the old mapping still passes until the new one shows");
	a2 = party();
	send_pkt(a2.rtp, c.to_a_side, 'n');
	OK(gets(c.b.rtp, 'n'), "the new mapping re-latches in the window");
	for (int i = 0; i < 5; i++)
		send_pkt(c.a.rtp, c.to_a_side, 's');
	OK(quiet(c.b.rtp), "five stale packets from the old mapping are all dropped");
	send_pkt(c.b.rtp, c.to_b_side, 'B');
	OK(gets(a2.rtp, 'B'), "b's media goes to the new mapping");
	OK(quiet(c.a.rtp), "and not back to the old one");
	usleep(50000);
	IS_INT(info_of(&c).leg[0].latched.port, a2.port, "relay list shows the new latch");
	party_close(&c.a);
	c.a = a2;
	call_end(&c);
}

static void test_hold_and_resume(void)
{
	struct call c;
	uint16_t port = 0;

	if (!OK(call_setup(&c, "hold"), "call set up"))
		return;
	send_pkt(c.a.rtp, c.to_a_side, 'a');
	send_pkt(c.b.rtp, c.to_b_side, 'b');
	OK(gets(c.b.rtp, 'a') && gets(c.a.rtp, 'b'), "media flows");
	IS_INT(update("hold", "fa", "tb", v4("0.0.0.0", c.a.port), RELAY_F_NO_RECV, &port), 0,
	       "a holds (c=0.0.0.0 / sendonly)");
	IS_INT(port, c.to_b_side, "same ports");
	send_pkt(c.b.rtp, c.to_b_side, 'h');
	OK(quiet(c.a.rtp), "nothing is forwarded toward a");
	send_pkt(c.a.rtp, c.to_a_side, 'm');
	OK(gets(c.b.rtp, 'm'), "a's music on hold still reaches b");
	send_pkt(c.b.rtcp, c.to_b_side + 1, 'r');
	OK(gets(c.a.rtcp, 'r'), "RTCP still flows toward a (RFC 3264)");
	IS_INT(update("hold", "tb", "fa", v4("127.0.0.1", c.b.port), RELAY_F_NO_SEND, NULL), 0,
	       "b answers recvonly");
	send_pkt(c.b.rtp, c.to_b_side, 'x');
	OK(quiet(c.a.rtp), "b's RTP is dropped");
	IS_INT(update("hold", "fa", "tb", v4("127.0.0.1", c.a.port), 0, NULL), 0, "a resumes");
	IS_INT(update("hold", "tb", "fa", v4("127.0.0.1", c.b.port), 0, NULL), 0, "b answers sendrecv");
	send_pkt(c.b.rtp, c.to_b_side, 'R');
	OK(gets(c.a.rtp, 'R'), "b's media reaches a again");
	call_end(&c);
}

static void test_truncated(void)
{
	struct call c;
	uint64_t dropped;

	if (!OK(call_setup(&c, "trunc"), "call set up"))
		return;
	dropped = stat_get(STAT_RELAY_DROPPED);
	send_len(c.a.rtp, c.to_a_side, 11, 't');
	OK(quiet(c.b.rtp), "an 11-byte RTP packet is dropped");
	send_len(c.a.rtp, c.to_a_side, 12, 'T');
	OK(recv_pkt(c.b.rtp, 1000, NULL, NULL) == 12, "a 12-byte one passes");
	send_len(c.a.rtcp, c.to_a_side + 1, 7, 'u');
	OK(quiet(c.b.rtcp), "a 7-byte RTCP packet is dropped");
	send_len(c.a.rtcp, c.to_a_side + 1, 8, 'U');
	OK(recv_pkt(c.b.rtcp, 1000, NULL, NULL) == 8, "an 8-byte one passes");
	send_len(c.a.rtp, c.to_a_side, 0, 'z');
	OK(quiet(c.b.rtp), "an empty datagram is dropped");
	usleep(50000);
	OK(stat_get(STAT_RELAY_DROPPED) >= dropped + 3, "counted in relay.dropped");
	call_end(&c);
}

/* A child floods one call's port; the other call's packets all get
 * through meanwhile. */
static void test_flood_does_not_starve(void)
{
	struct call flood, calm;
	unsigned got = 0;
	pid_t pid;

	if (!OK(call_setup(&flood, "flood") && call_setup(&calm, "calm"), "two calls"))
		return;
	send_pkt(flood.a.rtp, flood.to_a_side, 'f');
	OK(gets(flood.b.rtp, 'f'), "the flooded call works");
	pid = tap_fork();
	if (pid == 0) {
		struct timespec t0, t;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			for (int i = 0; i < 256; i++)
				send_pkt(flood.a.rtp, flood.to_a_side, 'f');
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 1500);
		_exit(0);
	}
	usleep(100000);
	for (int i = 0; i < 50; i++) {
		send_pkt(calm.a.rtp, calm.to_a_side, 'c');
		got += gets(calm.b.rtp, 'c');
		usleep(10000);
	}
	tap_child_status(pid);
	OK(got >= 48, "the other call's packets get through during the flood (%u of 50)", got);
	usleep(50000);
	OK(info_of(&flood).leg[0].packets > 1000, "while the flood was relayed (%llu packets)",
	   (unsigned long long)info_of(&flood).leg[0].packets);
	call_end(&flood);
	call_end(&calm);
}

static void test_timeout_and_delete(void)
{
	struct call c, d;
	uint32_t cursor = 0;
	uint64_t n = relay_session_count();
	int64_t tc, td;

	if (!OK(call_setup(&c, "tmo") && call_setup(&d, "del"), "two calls"))
		return;
	send_pkt(c.a.rtp, c.to_a_side, 'a');
	OK(gets(c.b.rtp, 'a'), "media flows");
	tc = relay_now_ms();
	usleep(50000);
	send_pkt(d.a.rtp, d.to_a_side, 'd');
	OK(gets(d.b.rtp, 'd'), "the other call flows");
	td = relay_now_ms();
	IS_INT(relay_expire(tc + 59000, 60, &cursor, NQUADS), 0, "59 s later, nothing times out");
	IS_INT(relay_expire(td + 59000, 60, &cursor, NQUADS), 0,
	       "59 s after the later packet, neither is over 60 s idle");
	IS_INT(relay_delete(slice_cstr(d.id), SLICE_LIT("tb"), SLICE_LIT("fa")), 1, "BYE deletes one");
	IS_INT(relay_expire(tc + 61000, 60, &cursor, NQUADS), 1,
	       "61 s without a packet: the other times out");
	IS_INT(relay_session_count(), n, "both gone");
	send_pkt(c.a.rtp, c.to_a_side, 'x');
	OK(quiet(c.b.rtp), "a timed-out session forwards nothing");
	send_pkt(d.a.rtp, d.to_a_side, 'y');
	OK(quiet(d.b.rtp), "a deleted one neither");
	party_close(&c.a);
	party_close(&c.b);
	party_close(&d.a);
	party_close(&d.b);
}

static void test_counters(uint64_t packets0, uint64_t bytes0)
{
	OK(stat_get(STAT_RELAY_PACKETS) > packets0 + 1000, "relay.packets counted (%llu)",
	   (unsigned long long)(stat_get(STAT_RELAY_PACKETS) - packets0));
	OK(stat_get(STAT_RELAY_BYTES) > bytes0 + 172000, "relay.bytes counted");
	OK(stat_get(STAT_RELAY_LATCHES) >= 10, "relay.latches counted");
}

/* A random range below the kernel's ephemeral ports (where only
 * programs that ask for a port bind) whose every port is free: the relay's
 * 4 * NQUADS ports, then the parties' from the port after. */
static bool pick_ports(void)
{
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	for (int tries = 0; tries < 100; tries++) {
		bool free_all = true;

		base = (uint16_t)(20000 + 4 * (rand() % 2000));
		for (uint16_t p = base; p < base + 4 * NQUADS && free_all; p++) {
			int fd = udp_at(p);

			free_all = fd >= 0;
			if (fd >= 0)
				close(fd);
		}
		if (free_all) {
			next_party_port = (uint16_t)(base + 4 * NQUADS);
			return true;
		}
	}
	return false;
}

static void on_term(int sig)
{
	worker_stop = 1;
}

enum worker_mode { W_URING, W_EPOLL, W_NO_URING };

/* io_uring_setup fails with EPERM, as under a container's seccomp
 * profile or kernel.io_uring_disabled = 2. */
static void deny_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		_exit(3);
}

static pid_t worker_start(enum worker_mode mode)
{
	struct sigaction sa = { .sa_handler = on_term };
	pid_t pid;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	if (mode == W_EPOLL)
		setenv("PINHOLE_RELAY_EPOLL", "1", 1);
	else
		unsetenv("PINHOLE_RELAY_EPOLL");
	pid = tap_fork();
	if (pid == 0) {
		if (mode == W_NO_URING)
			deny_io_uring();
		_exit(relay_worker_run(&conf, 0, &worker_stop));
	}
	signal(SIGTERM, SIG_DFL);
	return pid;
}

/* Every test against a worker of one loop: io_uring (tried first), the
 * epoll fallback PINHOLE_RELAY_EPOLL forces, or the fallback a worker
 * takes by itself when io_uring is denied. Each later worker also shows
 * the one before left nothing armed on the shared sockets. */
static void run_worker(enum worker_mode mode)
{
	static const char *const name[] = { "io_uring (or its fallback)", "epoll (forced)",
					    "io_uring denied by seccomp" };
	uint64_t packets0, bytes0;
	pid_t worker;

	tap_diag("relay worker: %s", name[mode]);
	worker = worker_start(mode);
	usleep(100000);
	packets0 = stat_get(STAT_RELAY_PACKETS);
	bytes0 = stat_get(STAT_RELAY_BYTES);
	test_both_ways();
	test_latch_real_source();
	test_spray_before_first_packet();
	test_nated_party_wins_back();
	test_reinvite_new_port();
	test_stale_attack_after_reinvite();
	test_hold_and_resume();
	test_truncated();
	test_flood_does_not_starve();
	test_timeout_and_delete();
	test_counters(packets0, bytes0);
	kill(worker, SIGTERM);
	IS_INT(tap_child_status(worker), 0, "the worker stops on SIGTERM with status 0");
}

int main(void)
{
	char err[256] = "";

	log_set_level(LOG_LEVEL_WARN);
	conf_defaults(&conf);
	pick_ports();
	snprintf(conf.relay.address, sizeof(conf.relay.address), "127.0.0.1");
	conf.relay.port_min = base;
	conf.relay.port_max = (uint16_t)(base + 4 * NQUADS - 1);
	conf.relay.control[0] = '\0';
	conf.workers.relay = 1;
	if (!base || shm_create(16u << 20) < 0 || relay_init(&conf) < 0 ||
	    relay_ports_open(&conf, err, sizeof(err)) < 0) {
		OK(false, "relay set up: %s", err);
		return tap_done();
	}
	run_worker(W_URING);
	run_worker(W_EPOLL);
	run_worker(W_NO_URING);
	relay_ports_close();
	shm_detach();
	return tap_done();
}
