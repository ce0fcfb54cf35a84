/*
 * keepalive_bench.c — the helpers of contrib/bench/keepalive, two modes:
 *
 *   keepalive_bench fill DIR COUNT SINK_IP SINK_PORT
 *     writes COUNT NAT-flagged bindings (AORs "ka0000001@example.com", a
 *     private Contact, received address SINK_IP:SINK_PORT, socket 0) into
 *     the location database at DIR, packed exactly as the registrar packs
 *     them (through a private shm location table), so pinhole loads them
 *     at start. Far faster than a million REGISTERs.
 *
 *   keepalive_bench sink IP PORT SECONDS [answer]
 *     counts the datagrams arriving at IP:PORT second by second for
 *     SECONDS, answering each OPTIONS with a 200 when asked; prints one
 *     line per second ("second N: COUNT") and a summary.
 */
#include "../../db/db.h"
#include "../../shm/shm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHECKPOINT_EVERY 100000
#define BATCH 64

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- fill --------------------------------------------------------------- */

static int store_one(long i, const struct loc_addr *sink, int64_t now)
{
	static uint8_t buf[LOC_PACK_MAX];
	char key[64], contact[96];
	int klen = snprintf(key, sizeof(key), "ka%07ld@example.com", i);
	struct loc_binding b = {
		.contact = slice_make(contact, (size_t)snprintf(contact, sizeof(contact),
				"sip:ka%07ld@10.%ld.%ld.%ld:5060", i, i >> 16 & 255, i >> 8 & 255,
				(i & 255) | 1)),
		.call_id = SLICE_LIT("keepalive-bench"), .user_agent = SLICE_LIT("keepalive_bench"),
		.expires = now + 86400, .last_modified = now, .cseq = 1, .q = -1,
		.flags = LOC_F_NAT | LOC_F_KEEPALIVE, .nat_tests = SIP_NAT_CONTACT_PRIVATE |
		SIP_NAT_VIA_HOST_DIFFERS | SIP_NAT_VIA_PORT_DIFFERS, .received = *sink,
	};
	struct loc_handle h;
	ssize_t n;
	int rc;

	loc_lock(slice_make(key, (size_t)klen), &h);
	rc = loc_put_locked(&h, &b);
	n = rc < 0 ? rc : loc_pack_locked(&h, buf, sizeof(buf));
	loc_del_all_locked(&h);
	loc_set_dirty_locked(&h, false);
	loc_unlock(&h);
	if (n < 0)
		return (int)n;
	return pdb_location_put(slice_make(key, (size_t)klen), buf, (size_t)n);
}

static int fill(const char *dir, long count, const char *ip, unsigned port)
{
	struct loc_addr sink = { .family = AF_INET, .proto = 0, .port = (uint16_t)port };
	char err[512];
	double t0 = now_s();
	int rc;

	if (inet_pton(AF_INET, ip, sink.addr) != 1) {
		fprintf(stderr, "fill: '%s' is not an IPv4 address\n", ip);
		return 2;
	}
	if (shm_create(64u << 20) < 0 || loc_init(0) < 0) {
		fprintf(stderr, "fill: no shared memory\n");
		return 1;
	}
	rc = pdb_open(dir, PDB_RECOVER, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "fill: %s\n", err);
		return 1;
	}
	for (long i = 0; i < count && rc == 0; i++) {
		rc = store_one(i, &sink, time(NULL));
		if (rc == 0 && (i + 1) % CHECKPOINT_EVERY == 0)
			rc = pdb_checkpoint();
	}
	pdb_close();
	shm_detach();
	if (rc < 0) {
		fprintf(stderr, "fill: %s\n", strerror(-rc));
		return 1;
	}
	printf("filled %ld bindings in %.1f s\n", count, now_s() - t0);
	return 0;
}

/* ---- sink --------------------------------------------------------------- */

static int sink_socket(const char *ip, unsigned port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), size = 16 << 20;
	struct timeval tv = { 0, 100000 };

	if (fd < 0 || inet_pton(AF_INET, ip, &sin.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		fprintf(stderr, "sink: cannot bind %s:%u: %s\n", ip, port, strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* A 200 to an OPTIONS: its Via, From, To, Call-ID and CSeq lines. */
static size_t answer_of(const char *req, size_t len, char *out, size_t cap)
{
	static const char *const keep[] = { "Via:", "From:", "To:", "Call-ID:", "CSeq:" };
	const char *p = memchr(req, '\n', len), *end = req + len;
	size_t n = (size_t)snprintf(out, cap, "SIP/2.0 200 OK\r\n");

	while (p && ++p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t l = eol ? (size_t)(eol - p + 1) : (size_t)(end - p);

		for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
			if (l > strlen(keep[k]) && strncmp(p, keep[k], strlen(keep[k])) == 0 &&
			    n + l < cap) {
				memcpy(out + n, p, l);
				n += l;
			}
		p = eol;
	}
	n += (size_t)snprintf(out + n, cap - n, "Content-Length: 0\r\n\r\n");
	return n < cap ? n : 0;
}

static void sink_batch(int fd, struct mmsghdr *m, int got, bool answer, char bufs[][2048])
{
	static char out[2048];

	for (int i = 0; answer && i < got; i++) {
		size_t n = answer_of(bufs[i], m[i].msg_len, out, sizeof(out));

		if (n && strncmp(bufs[i], "OPTIONS ", 8) == 0)
			sendto(fd, out, n, MSG_DONTWAIT, m[i].msg_hdr.msg_name,
			       m[i].msg_hdr.msg_namelen);
	}
}

static int sink(const char *ip, unsigned port, int seconds, bool answer)
{
	static char bufs[BATCH][2048];
	static struct sockaddr_in from[BATCH];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	long *per = calloc((size_t)seconds + 1, sizeof(long)), total = 0, lo = -1, hi = 0;
	int fd = sink_socket(ip, port);
	double t0 = now_s();

	if (fd < 0 || !per)
		return 1;
	printf("sink listening on %s:%u for %d s\n", ip, port, seconds);
	fflush(stdout);
	for (int sec = 0; sec < seconds;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			m[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof(from[i]),
							.msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		int got = recvmmsg(fd, m, BATCH, MSG_WAITFORONE, NULL);

		sec = (int)(now_s() - t0);
		if (got <= 0)
			continue;
		per[sec < seconds ? sec : seconds] += got;
		sink_batch(fd, m, got, answer, bufs);
	}
	for (int s = 0; s < seconds; s++) {
		printf("second %d: %ld\n", s, per[s]);
		total += per[s];
		lo = lo < 0 || per[s] < lo ? per[s] : lo;
		hi = per[s] > hi ? per[s] : hi;
	}
	printf("total %ld min %ld max %ld\n", total, lo, hi);
	free(per);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "fill") == 0)
		return fill(argv[2], atol(argv[3]), argv[4], (unsigned)atoi(argv[5]));
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "sink") == 0)
		return sink(argv[2], (unsigned)atoi(argv[3]), atoi(argv[4]),
			    argc == 6 && strcmp(argv[5], "answer") == 0);
	fprintf(stderr, "usage: %s fill DIR COUNT SINK_IP SINK_PORT\n"
			"       %s sink IP PORT SECONDS [answer]\n", argv[0], argv[0]);
	return 2;
}
