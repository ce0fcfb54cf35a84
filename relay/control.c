/*
 * control.c — the rtpproxy control socket (relay.control, "udp:IP:PORT"):
 * external proxies (a stock Kamailio with its rtpproxy module) create,
 * update, query and delete relay sessions with rtpproxy's commands.
 *
 * The master binds the socket before fork (relay_control_open, which also
 * makes the reply cache in shm); relay workers poll it and call
 * relay_control_input, which reads a bounded batch of datagrams and
 * answers each to its source. Executing a command only writes session
 * state through relay.h, like the SIP workers do; the reply cache
 * (control_cache.c) makes a retransmitted command get the first answer
 * instead of running twice, whichever worker reads it.
 */
#include "control_int.h"
#include "../shm/shm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define RTPP_BATCH 32             /* datagrams per relay_control_input call */
#define RTPP_X_BATCH 32           /* calls deleted per walk by X */

/* U and L. A lookup of a session that does not exist answers port 0, as
 * rtpproxy does (-ENOENT tells the caller to count it as an error). */
static int run_update(const struct rtpp_cmd *cmd, struct sbuf *b)
{
	struct relay_req r;
	struct relay_addr local;
	int rc = rtpp_ul_request(cmd, &r);

	if (rc != 0)
		return rc;
	rc = relay_update(&r, &local);
	if (rc == -ENOENT && cmd->op == RTPP_OP_LOOKUP) {
		rtpp_reply_port(b, cmd->cookie, NULL);
		return -ENOENT;
	}
	if (rc < 0)
		return rtpp_ul_ecode(cmd->op, rc);
	rtpp_reply_port(b, cmd->cookie, &local);
	return 0;
}

static int run_delete(const struct rtpp_cmd *cmd, struct sbuf *b)
{
	int rc = relay_delete(cmd->call_id, cmd->from.tag, cmd->to.tag);

	if (rc < 0)
		return rc == -ENOENT ? RTPP_E_NO_SESSION : RTPP_E_INVALID;
	rtpp_reply_number(b, cmd->cookie, 0);
	return 0;
}

struct query_ctx {
	const struct rtpp_cmd *cmd;
	struct relay_info info;
	unsigned from_leg;
	bool found;
};

static int query_visit(const struct relay_info *s, void *arg)
{
	struct query_ctx *q = arg;

	if (!rtpp_session_matches(q->cmd, s, &q->from_leg))
		return 0;
	q->info = *s;
	q->found = true;
	return 1;
}

/* Seconds until the session times out without packets. */
static int64_t session_ttl(const struct relay_info *s, const struct pinhole_conf *conf,
			   int64_t now_ms)
{
	int64_t last = s->last_packet_ms > s->created_ms ? s->last_packet_ms : s->created_ms;

	return (int64_t)conf->relay.timeout - (now_ms - last) / 1000;
}

static int run_query(const struct rtpp_cmd *cmd, const struct pinhole_conf *conf,
		     int64_t now_ms, struct sbuf *b)
{
	struct query_ctx q = { .cmd = cmd };

	relay_each(cmd->call_id, query_visit, &q);
	if (!q.found)
		return RTPP_E_NO_SESSION;
	return rtpp_reply_query(b, cmd, &q.info, q.from_leg,
				session_ttl(&q.info, conf, now_ms));
}

static void run_info(const struct rtpp_cmd *cmd, struct sbuf *b)
{
	struct rtpp_info in = {
		.created = stat_get(STAT_RELAY_SESSIONS_CREATED),
		.active = relay_session_count(),
		.received = stat_get(STAT_RELAY_PACKETS) + stat_get(STAT_RELAY_DROPPED),
		.relayed = stat_get(STAT_RELAY_PACKETS),
	};

	rtpp_reply_info(b, cmd->cookie, &in);
}

struct x_ctx {
	char call_id[RTPP_X_BATCH][sizeof(((struct relay_info *)0)->call_id)];
	unsigned n;
};

static int x_visit(const struct relay_info *s, void *arg)
{
	struct x_ctx *x = arg;

	for (unsigned i = 0; i < x->n; i++)
		if (strcmp(x->call_id[i], s->call_id) == 0)
			return 0;
	memcpy(x->call_id[x->n++], s->call_id, sizeof(s->call_id));
	return x->n == RTPP_X_BATCH;
}

/* X: collects a batch of Call-IDs (relay_each's callback may not call into
 * relay), deletes their sessions, until a walk finds none or a batch
 * deletes nothing (so it always ends). */
static void run_delete_all(const struct rtpp_cmd *cmd, struct sbuf *b)
{
	static struct x_ctx x;
	unsigned deleted;

	do {
		x.n = 0;
		deleted = 0;
		relay_each(SLICE_NULL, x_visit, &x);
		for (unsigned i = 0; i < x.n; i++)
			deleted += relay_delete(slice_cstr(x.call_id[i]), SLICE_NULL, SLICE_NULL) > 0;
	} while (x.n > 0 && deleted > 0);
	rtpp_reply_number(b, cmd->cookie, 0);
}

/* Runs a parsed command into b: 0, an E-code, or -ENOENT for an answered
 * lookup miss. */
static int execute(const struct rtpp_cmd *cmd, const struct pinhole_conf *conf,
		   int64_t now_ms, struct sbuf *b)
{
	switch (cmd->op) {
	case RTPP_OP_VERSION:
		rtpp_reply_text(b, cmd->cookie, RTPP_VERSION);
		return 0;
	case RTPP_OP_FEATURE:
		rtpp_reply_number(b, cmd->cookie, rtpp_feature_supported(cmd->feature));
		return 0;
	case RTPP_OP_UPDATE:
	case RTPP_OP_LOOKUP:
		return run_update(cmd, b);
	case RTPP_OP_DELETE:
		return run_delete(cmd, b);
	case RTPP_OP_QUERY:
		return run_query(cmd, conf, now_ms, b);
	case RTPP_OP_INFO:
		run_info(cmd, b);
		return 0;
	case RTPP_OP_DELETE_ALL:
		run_delete_all(cmd, b);
		return 0;
	}
	return RTPP_E_INVALID;
}

/* Answers a command into b (parse status st); true when the answer is an
 * error (an E-code, or port 0 for a lookup miss). */
static bool answer(int st, const struct rtpp_cmd *cmd, const struct pinhole_conf *conf,
		   int64_t now_ms, struct sbuf *b)
{
	int rc;

	if (st < 0) {
		rtpp_reply_error(b, cmd->cookie, cmd->ecode);
		return true;
	}
	rc = execute(cmd, conf, now_ms, b);
	if (rc > 0 || b->full)
		rtpp_reply_error(b, cmd->cookie, rc > 0 ? rc : RTPP_E_INVALID);
	return rc != 0 || b->full;
}

size_t rtpp_handle(slice dgram, const struct relay_addr *src,
		   const struct pinhole_conf *conf, int64_t now_ms, char *out, size_t cap)
{
	struct rtpp_cmd cmd;
	struct sbuf b;
	size_t len = 0;
	int st = rtpp_parse(dgram, &cmd);

	STAT_INC(RELAY_CTL_COMMANDS);
	if (st == -EINVAL) {
		STAT_INC(RELAY_CTL_ERRORS);
		return 0;
	}
	switch (rtpp_cache_begin(cmd.cookie, src, now_ms, out, cap, &len)) {
	case RTPP_CACHE_HIT:
		STAT_INC(RELAY_CTL_RETRANSMITS);
		return len;
	case RTPP_CACHE_PENDING:
		STAT_INC(RELAY_CTL_RETRANSMITS);
		return 0;
	case RTPP_CACHE_NEW:
		break;
	}
	sbuf_init(&b, out, cap);
	if (answer(st, &cmd, conf, now_ms, &b)) {
		STAT_INC(RELAY_CTL_ERRORS);
		LOG_DBG("rtpproxy command '%.*s': answered '%.*s'",
			(int)(dgram.len > 80 ? 80 : dgram.len), dgram.p, (int)b.len, b.p);
	}
	if (b.full)
		b.len = 0;
	rtpp_cache_finish(cmd.cookie, src, now_ms, b.p, b.len);
	return b.len;
}

/* "udp:IP:PORT", "udp:[IPv6]:PORT" (conf/options.c has checked it). */
static int control_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *a = spec + 4, *colon = strrchr(a, ':');
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	uint32_t port;
	size_t n;

	if (strncasecmp(spec, "udp:", 4) != 0 || !colon ||
	    slice_to_u32(slice_cstr(colon + 1), 65535, &port) < 0)
		return -EINVAL;
	n = (size_t)(colon - a);
	if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
		a++;
		n -= 2;
	}
	if (n >= sizeof(host))
		return -EINVAL;
	memcpy(host, a, n);
	host[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*sl = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

int relay_control_open(const struct pinhole_conf *conf, int *fd, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int s, rc;

	*fd = -1;
	if (conf->relay.control[0] == '\0')
		return 0;
	if (control_addr(conf->relay.control, &ss, &sl) < 0) {
		snprintf(err, errlen, "relay.control: bad address \"%s\"", conf->relay.control);
		return -EINVAL;
	}
	s = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&ss, sl) < 0) {
		rc = -errno;
		snprintf(err, errlen, "relay.control %s: %s: %s", conf->relay.control,
			 s < 0 ? "socket" : "bind", strerror(errno));
		if (s >= 0)
			close(s);
		return rc;
	}
	rc = rtpp_cache_init();
	if (rc < 0 && rc != -EEXIST) {
		snprintf(err, errlen, "relay.control: reply cache: %s", strerror(-rc));
		close(s);
		return rc;
	}
	*fd = s;
	return 0;
}

static int64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void relay_control_input(int fd, const struct pinhole_conf *conf)
{
	char buf[2048], reply[RTPP_REPLY_MAX + 64];
	struct sockaddr_storage ss;
	struct relay_addr src;

	for (unsigned i = 0; i < RTPP_BATCH; i++) {
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
		size_t len;

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				LOG_ERR("relay.control recvfrom: %s", strerror(errno));
			return;
		}
		rtpp_addr_from_sockaddr((struct sockaddr *)&ss, &src);
		len = rtpp_handle(slice_make(buf, (size_t)n), &src, conf, realtime_ms(),
				  reply, sizeof(reply));
		if (len && sendto(fd, reply, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0)
			LOG_DBG("relay.control sendto: %s", strerror(errno));
	}
}
