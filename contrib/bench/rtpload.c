/*
 * rtpload.c — RTP load for contrib/bench/relay: creates N sessions on a
 * media relay through the rtpproxy protocol (U for the caller's leg, L for
 * the callee's), sends RTP on both legs of every session at a fixed rate
 * for a measured window, and prints loss, one-way latency percentiles and
 * the relay's CPU nanoseconds per relayed packet (user + sys of the relay's
 * whole process tree from /proc, read at the start and end of the window).
 *
 * One socket stands for every caller and one for every callee, so the
 * generator moves its packets with sendmmsg/recvmmsg in batches and is not
 * the bottleneck; the relay still sees one address per leg and forwards
 * per session. Each packet carries a valid RTP header, the session, its
 * direction and its send time. Output: key=value lines.
 * Usage: rtpload -c IP:PORT [-n SESSIONS] [-r PPS_PER_LEG] [-d SECONDS]
 *        [-w WARMUP_S] [-s SIZE] [-p RELAY_PID] [-k CALLID_PREFIX]
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define HIST_US 200000           /* latency histogram: 1 µs buckets to 200 ms */
#define MAGIC 0x52544c44u        /* "RTLD" */
#define MAX_SIZE 1400

struct probe {                   /* after the 12-byte RTP header */
	uint32_t magic, session;
	uint32_t dir, pad;
	uint64_t sent_ns;
};

struct leg {
	struct sockaddr_in to;   /* the relay port this leg sends to */
	uint64_t sent, rcvd;
	uint16_t seq;
	uint32_t ssrc;
};

struct opts {
	struct sockaddr_in ctl;
	unsigned sessions, pps, seconds, warmup, size;
	int relay_pid;
	const char *prefix;
};

struct run {
	struct opts o;
	int ctl_fd, fd[2];       /* fd[0]: every caller (A), fd[1]: every callee (B) */
	struct sockaddr_in local[2];
	struct leg *leg;         /* 2 per session: [2i] A -> B, [2i+1] B -> A */
	uint32_t *hist;
	uint64_t over, max_ns, lat_n, rcvd_total, rcvd_window, sent_window, bad;
	uint64_t win_start, win_end;
	unsigned cookie;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "rtpload: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(2);
}

/* ---- the relay's CPU ------------------------------------------------------ */

/* utime + stime + cutime + cstime (ticks) of pid and every descendant. */
static uint64_t tree_ticks(int root)
{
	static int ppid[4194304 / 8];
	static uint64_t ticks[4194304 / 8];
	int maxpid = (int)(sizeof(ppid) / sizeof(ppid[0]));
	DIR *d = opendir("/proc");
	struct dirent *e;
	uint64_t sum = 0;

	if (!d || root <= 0)
		return 0;
	memset(ppid, 0, sizeof(ppid));
	while ((e = readdir(d))) {
		char path[64], buf[1024], *p;
		unsigned long ut, st;
		long cut, cst;
		int pid = atoi(e->d_name), pp;
		FILE *f;

		if (pid <= 0 || pid >= maxpid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (!p || sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld",
				 &pp, &ut, &st, &cut, &cst) != 5)
			continue;
		ppid[pid] = pp;
		ticks[pid] = ut + st + (uint64_t)cut + (uint64_t)cst;
	}
	closedir(d);
	for (int pid = 1; pid < maxpid; pid++) {
		int a = pid;

		for (int depth = 0; a > 0 && a != root && depth < 16; depth++)
			a = ppid[a];
		if (a == root && (pid == root || ppid[pid]))
			sum += ticks[pid];
	}
	return sum;
}

/* ---- rtpproxy protocol ----------------------------------------------------- */

/* Sends one command, waits for the reply with its cookie (retransmitting
 * every 300 ms, 6 times); the reply text after the cookie goes to out. */
static int ctl_cmd(struct run *r, const char *cmd, char *out, size_t cap)
{
	char msg[512], buf[512], cookie[32];
	int n = snprintf(cookie, sizeof(cookie), "%d_%u", (int)getpid(), r->cookie++);
	size_t clen = (size_t)n;

	snprintf(msg, sizeof(msg), "%s %s", cookie, cmd);
	for (int attempt = 0; attempt < 6; attempt++) {
		struct pollfd p = { .fd = r->ctl_fd, .events = POLLIN };

		sendto(r->ctl_fd, msg, strlen(msg), 0, (struct sockaddr *)&r->o.ctl, sizeof(r->o.ctl));
		while (poll(&p, 1, 300) == 1) {
			ssize_t len = recv(r->ctl_fd, buf, sizeof(buf) - 1, 0);

			if (len <= (ssize_t)clen || memcmp(buf, cookie, clen) != 0 || buf[clen] != ' ')
				continue;
			buf[len] = '\0';
			buf[strcspn(buf, "\r\n")] = '\0';
			snprintf(out, cap, "%s", buf + clen + 1);
			return 0;
		}
	}
	return -ETIMEDOUT;
}

/* "PORT [ADDR]" into a destination; relay 127.0.0.1 when no address. */
static int reply_addr(const char *reply, struct sockaddr_in *to)
{
	char addr[64] = "127.0.0.1";
	unsigned port = 0;

	if (sscanf(reply, "%u %63s", &port, addr) < 1 || port == 0 || port > 65535)
		return -EINVAL;
	memset(to, 0, sizeof(*to));
	to->sin_family = AF_INET;
	to->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, addr, &to->sin_addr) == 1 ? 0 : -EINVAL;
}

/* U with the caller's socket (its replies: where the callee sends, so it
 * is the destination of leg B->A) and L with the callee's (where the
 * caller sends: leg A->B). */
static int session_create(struct run *r, unsigned i)
{
	char cmd[256], reply[256];

	snprintf(cmd, sizeof(cmd), "U %s-%u 127.0.0.1 %u a%u;1", r->o.prefix, i,
		 ntohs(r->local[0].sin_port), i);
	if (ctl_cmd(r, cmd, reply, sizeof(reply)) < 0 || reply_addr(reply, &r->leg[2 * i + 1].to) < 0)
		goto fail;
	snprintf(cmd, sizeof(cmd), "L %s-%u 127.0.0.1 %u a%u;1 b%u;1", r->o.prefix, i,
		 ntohs(r->local[1].sin_port), i, i);
	if (ctl_cmd(r, cmd, reply, sizeof(reply)) < 0 || reply_addr(reply, &r->leg[2 * i].to) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "rtpload: session %u: \"%s\" answered \"%s\"\n", i, cmd, reply);
	return -EPROTO;
}

static void sessions_delete(struct run *r)
{
	char cmd[256], reply[256];

	for (unsigned i = 0; i < r->o.sessions; i++) {
		snprintf(cmd, sizeof(cmd), "D %s-%u a%u", r->o.prefix, i, i);
		ctl_cmd(r, cmd, reply, sizeof(reply));
	}
}

/* ---- sockets ---------------------------------------------------------------- */

static int udp_open(struct sockaddr_in *bound)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), size = 32 << 20;
	socklen_t sl = sizeof(*bound);

	if (fd < 0)
		die("socket");
	memset(bound, 0, sizeof(*bound));
	bound->sin_family = AF_INET;
	bound->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)bound, sizeof(*bound)) < 0)
		die("bind");
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	getsockname(fd, (struct sockaddr *)bound, &sl);
	return fd;
}

/* ---- sending ---------------------------------------------------------------- */

static void fill_packet(struct run *r, unsigned l, uint8_t *pkt, uint64_t t)
{
	struct leg *g = &r->leg[l];
	struct probe pr = { .magic = MAGIC, .session = l / 2, .dir = l & 1, .sent_ns = t };
	uint16_t seq = htons(g->seq++);
	uint32_t ts = htonl((uint32_t)(g->sent * 160)), ssrc = htonl(g->ssrc);

	pkt[0] = 0x80;
	pkt[1] = 0;
	memcpy(pkt + 2, &seq, 2);
	memcpy(pkt + 4, &ts, 4);
	memcpy(pkt + 8, &ssrc, 4);
	memcpy(pkt + 12, &pr, sizeof(pr));
}

/* Sends count packets, legs in round robin from *next. */
static void send_burst(struct run *r, unsigned count, unsigned *next, uint64_t t)
{
	static uint8_t pkt[2][BATCH][MAX_SIZE];
	struct mmsghdr m[2][BATCH];
	struct iovec iov[2][BATCH];
	unsigned n[2] = { 0, 0 }, legs = 2 * r->o.sessions;

	memset(m, 0, sizeof(m));
	while (count > 0) {
		unsigned l = *next, side = l & 1, k = n[side];

		*next = (l + 1) % legs;
		count--;
		fill_packet(r, l, pkt[side][k], t);
		iov[side][k] = (struct iovec){ pkt[side][k], r->o.size };
		m[side][k].msg_hdr = (struct msghdr){ .msg_name = &r->leg[l].to,
						      .msg_namelen = sizeof(r->leg[l].to),
						      .msg_iov = &iov[side][k], .msg_iovlen = 1 };
		r->leg[l].sent++;
		if (t >= r->win_start && t < r->win_end)
			r->sent_window++;
		n[side]++;
		for (unsigned s = 0; s < 2; s++) {
			if (n[s] < BATCH && (count > 0 || n[s] == 0))
				continue;
			for (unsigned done = 0; done < n[s];) {
				int rc = sendmmsg(r->fd[s], m[s] + done, n[s] - done, 0);

				if (rc <= 0)
					break;
				done += (unsigned)rc;
			}
			n[s] = 0;
		}
	}
}

/* ---- receiving -------------------------------------------------------------- */

static void account(struct run *r, const uint8_t *pkt, ssize_t len, unsigned side, uint64_t t)
{
	struct probe pr;
	uint64_t lat;

	if (len < 12 + (ssize_t)sizeof(pr)) {
		r->bad++;
		return;
	}
	memcpy(&pr, pkt + 12, sizeof(pr));
	/* a packet A->B (dir 0) arrives on the callee's socket (side 1) */
	if (pr.magic != MAGIC || pr.session >= r->o.sessions || pr.dir != (side ^ 1)) {
		r->bad++;
		return;
	}
	r->leg[2 * pr.session + pr.dir].rcvd++;
	r->rcvd_total++;
	if (t >= r->win_start && t < r->win_end)
		r->rcvd_window++;
	if (pr.sent_ns < r->win_start || pr.sent_ns >= r->win_end)
		return;
	lat = t - pr.sent_ns;
	if (lat > r->max_ns)
		r->max_ns = lat;
	r->lat_n++;
	if (lat / 1000 < HIST_US)
		r->hist[lat / 1000]++;
	else
		r->over++;
}

static void recv_all(struct run *r)
{
	static uint8_t buf[BATCH][MAX_SIZE];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];

	for (unsigned side = 0; side < 2; side++) {
		for (;;) {
			int n;
			uint64_t t;

			for (unsigned i = 0; i < BATCH; i++) {
				iov[i] = (struct iovec){ buf[i], MAX_SIZE };
				m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
			}
			n = recvmmsg(r->fd[side], m, BATCH, MSG_DONTWAIT, NULL);
			if (n <= 0)
				break;
			t = now_ns();
			for (int i = 0; i < n; i++)
				account(r, buf[i], (ssize_t)m[i].msg_len, side, t);
		}
	}
}

/* ---- the run ----------------------------------------------------------------- */

static void wait_until(struct run *r, uint64_t when)
{
	struct pollfd p[2] = { { .fd = r->fd[0], .events = POLLIN },
			       { .fd = r->fd[1], .events = POLLIN } };
	uint64_t t = now_ns();
	struct timespec ts;

	if (when <= t)
		return;
	ts = (struct timespec){ .tv_sec = (time_t)((when - t) / 1000000000u),
				.tv_nsec = (long)((when - t) % 1000000000u) };
	ppoll(p, 2, &ts, NULL);
}

static void load(struct run *r, uint64_t *cpu0, uint64_t *cpu1)
{
	uint64_t start = now_ns(), end, t;
	double rate = 2.0 * r->o.sessions * r->o.pps / 1e9, credit = 0;
	unsigned next = 0;
	bool in_window = false;

	r->win_start = start + (uint64_t)r->o.warmup * 1000000000u;
	r->win_end = r->win_start + (uint64_t)r->o.seconds * 1000000000u;
	end = r->win_end;
	for (uint64_t last = start; (t = now_ns()) < end; last = t) {
		if (!in_window && t >= r->win_start) {
			in_window = true;
			*cpu0 = tree_ticks(r->o.relay_pid);
		}
		credit += rate * (double)(t - last);
		if (credit >= 1) {
			send_burst(r, (unsigned)credit, &next, t);
			credit -= (unsigned)credit;
		}
		recv_all(r);
		wait_until(r, t + 1000000u);
	}
	*cpu1 = tree_ticks(r->o.relay_pid);
	for (uint64_t quiet = now_ns() + 500000000u; now_ns() < quiet;) {
		recv_all(r);
		wait_until(r, now_ns() + 10000000u);
	}
}

static uint64_t percentile_us(const struct run *r, double q)
{
	uint64_t want = (uint64_t)(q * (double)r->lat_n), seen = 0;

	for (unsigned i = 0; i < HIST_US; i++) {
		seen += r->hist[i];
		if (seen > want)
			return i;
	}
	return HIST_US;
}

static void report(const struct run *r, uint64_t cpu0, uint64_t cpu1)
{
	uint64_t sent = 0, rcvd = 0, worst = 0;
	double hz = (double)sysconf(_SC_CLK_TCK);
	double cpu_s = (double)(cpu1 - cpu0) / hz;

	for (unsigned l = 0; l < 2 * r->o.sessions; l++) {
		sent += r->leg[l].sent;
		rcvd += r->leg[l].rcvd;
		if (r->leg[l].sent - r->leg[l].rcvd > worst && r->leg[l].sent > r->leg[l].rcvd)
			worst = r->leg[l].sent - r->leg[l].rcvd;
	}
	printf("sessions=%u pps_per_leg=%u size=%u seconds=%u\n", r->o.sessions, r->o.pps,
	       r->o.size, r->o.seconds);
	printf("sent=%llu received=%llu lost=%llu loss_pct=%.4f worst_leg_lost=%llu bad=%llu\n",
	       (unsigned long long)sent, (unsigned long long)rcvd,
	       (unsigned long long)(sent > rcvd ? sent - rcvd : 0),
	       sent ? 100.0 * (double)(sent > rcvd ? sent - rcvd : 0) / (double)sent : 0.0,
	       (unsigned long long)worst, (unsigned long long)r->bad);
	printf("window_sent=%llu window_relayed=%llu window_pps=%.0f\n",
	       (unsigned long long)r->sent_window, (unsigned long long)r->rcvd_window,
	       (double)r->rcvd_window / r->o.seconds);
	printf("p50_us=%llu p99_us=%llu max_us=%llu\n",
	       (unsigned long long)percentile_us(r, 0.50), (unsigned long long)percentile_us(r, 0.99),
	       (unsigned long long)(r->max_ns / 1000));
	printf("cpu_s=%.2f ns_per_pkt=%.0f\n", cpu_s,
	       r->rcvd_window ? cpu_s * 1e9 / (double)r->rcvd_window : 0.0);
}

static void usage(void)
{
	fprintf(stderr, "usage: rtpload -c IP:PORT [-n SESSIONS] [-r PPS_PER_LEG] [-d SECONDS] "
			"[-w WARMUP_S] [-s SIZE] [-p RELAY_PID] [-k CALLID_PREFIX]\n");
	exit(2);
}

static void parse_ctl(const char *spec, struct sockaddr_in *ctl)
{
	char host[64];
	const char *colon = strrchr(spec, ':');

	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		usage();
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	memset(ctl, 0, sizeof(*ctl));
	ctl->sin_family = AF_INET;
	ctl->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &ctl->sin_addr) != 1)
		usage();
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	*o = (struct opts){ .sessions = 500, .pps = 50, .seconds = 10, .warmup = 1,
			    .size = 172, .prefix = "rtpload" };
	while ((c = getopt(argc, argv, "c:n:r:d:w:s:p:k:")) != -1) {
		switch (c) {
		case 'c': parse_ctl(optarg, &o->ctl); break;
		case 'n': o->sessions = (unsigned)atoi(optarg); break;
		case 'r': o->pps = (unsigned)atoi(optarg); break;
		case 'd': o->seconds = (unsigned)atoi(optarg); break;
		case 'w': o->warmup = (unsigned)atoi(optarg); break;
		case 's': o->size = (unsigned)atoi(optarg); break;
		case 'p': o->relay_pid = atoi(optarg); break;
		case 'k': o->prefix = optarg; break;
		default: usage();
		}
	}
	if (!o->ctl.sin_port || !o->sessions || !o->pps || !o->seconds ||
	    o->size < 12 + sizeof(struct probe) || o->size > MAX_SIZE)
		usage();
}

int main(int argc, char **argv)
{
	static struct run r;
	uint64_t cpu0 = 0, cpu1 = 0;

	parse_opts(argc, argv, &r.o);
	r.leg = calloc(2 * (size_t)r.o.sessions, sizeof(*r.leg));
	r.hist = calloc(HIST_US, sizeof(*r.hist));
	if (!r.leg || !r.hist)
		die("calloc");
	r.ctl_fd = udp_open(&r.local[1]);
	r.fd[0] = udp_open(&r.local[0]);
	r.fd[1] = udp_open(&r.local[1]);
	for (unsigned l = 0; l < 2 * r.o.sessions; l++)
		r.leg[l].ssrc = 0x10000000u + l;
	for (unsigned i = 0; i < r.o.sessions; i++)
		if (session_create(&r, i) < 0)
			return 1;
	load(&r, &cpu0, &cpu1);
	report(&r, cpu0, cpu1);
	sessions_delete(&r);
	return 0;
}
