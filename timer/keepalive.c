/*
 * keepalive.c — the NAT keepalive pinger, a task of the timer process.
 *
 * Every tick it visits the share of location buckets due since the last
 * one, so that a whole pass takes nat.keepalive.interval and the pings
 * leave evenly rather than in a burst. Under a bucket's lock it only
 * copies what the pings need (at most KA_BATCH per bucket) and removes
 * bindings silent for longer than nat.keepalive.timeout (made durable as
 * the registrar does); the pings are built and sent after the lock is
 * released, from the binding's own listen socket, never blocking
 * (MSG_DONTWAIT); bindings registered over TCP/TLS get CRLFCRLF on their
 * connection, through the worker owning it (stream_send). Answers come
 * back to the SIP workers: keepalive_reply.c.
 */
#include "timer.h"
#include "keepalive_int.h"
#include "../sip/sip.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <time.h>

#define KA_BATCH 256          /* pings per bucket, at most */
#define KA_MAX_ELAPSED_MS 250 /* after a stall the pass is late, not bursty */

struct ka_ping {
	struct ka_id id;
	struct sockaddr_storage dst;
	uint32_t conn_id;              /* a binding over TCP/TLS: CRLF on it */
	uint8_t socket;
	uint16_t contact_len;
	char contact[LOC_MAX_CONTACT];
};

struct ka_batch {
	const struct pinhole_conf *conf;
	int64_t now_s, now_ms;         /* CLOCK_REALTIME */
	unsigned n, dropped, skipped;
	struct ka_ping ping[KA_BATCH];
};

static const struct listen_set *ka_listens;
static struct ka_batch batch;

void keepalive_init(const struct listen_set *ls)
{
	ka_listens = ls;
}

static int64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Silent for longer than the timeout: no answer (nor registration) since. */
static bool is_silent(const struct ka_batch *kb, const struct loc_binding *b)
{
	int64_t last = b->last_modified * 1000;

	if (kb->conf->nat.keepalive.timeout == 0)
		return false;
	if (b->last_keepalive_ms > last)
		last = b->last_keepalive_ms;
	return kb->now_ms - last > (int64_t)kb->conf->nat.keepalive.timeout * 1000;
}

static void collect_one(struct ka_batch *kb, const struct loc_handle *h,
			uint32_t aor_hash, const struct loc_binding *b,
			const struct sockaddr_storage *dst)
{
	struct ka_ping *p;

	if (kb->n == KA_BATCH) {
		kb->skipped++;
		return;
	}
	p = &kb->ping[kb->n];
	p->dst = *dst;
	p->conn_id = b->conn_id;
	p->id = (struct ka_id){ h->bucket, aor_hash, ka_hash(b->contact), 0 };
	p->socket = b->socket;
	p->contact_len = (uint16_t)b->contact.len;
	memcpy(p->contact, b->contact.p, b->contact.len);
	kb->n++;
}

/* A binding registered over TCP/TLS is pinged with CRLFCRLF on its own
 * connection (RFC 5626 §4.4.1); the worker owning it takes the pong, so
 * the silence timeout does not apply (a dead connection makes the binding
 * unreachable instead). */
static void collect_stream(struct ka_batch *kb, const struct loc_handle *h,
			   uint32_t aor_hash, const struct loc_binding *b)
{
	struct sockaddr_storage dst = { .ss_family = b->received.family };

	collect_one(kb, h, aor_hash, b, &dst);
}

/* loc_walk callback, under the bucket lock: drops silent bindings, copies
 * the others' ping data. A binding the timer cannot ping (no IP address)
 * is neither pinged nor dropped. */
static int collect(struct loc_handle *h, void *arg)
{
	struct ka_batch *kb = arg;
	uint32_t aor_hash = ka_hash(h->key);
	struct sockaddr_storage dst;
	struct loc_binding b;
	bool changed = false;

	for (unsigned i = loc_count_locked(h); i-- > 0;) {
		if (loc_get_locked(h, i, &b) < 0 || b.expires <= kb->now_s ||
		    !keepalive_flagged(kb->conf, &b))
			continue;
		if (b.conn_id && b.received.proto != CONF_PROTO_UDP) {
			collect_stream(kb, h, aor_hash, &b);
			continue;
		}
		if (ka_target(&b, &dst) < 0)
			continue;
		if (is_silent(kb, &b)) {
			loc_del_locked(h, i);
			STAT_INC(NAT_BINDINGS_DROPPED);
			kb->dropped++;
			changed = true;
			continue;
		}
		collect_one(kb, h, aor_hash, &b, &dst);
	}
	if (changed && registrar_persist_locked(kb->conf, h) < 0)
		LOG_ERR("keepalive: removal of silent bindings of %.*s not stored",
			SLICE_FMT(h->key));
	return 0;
}

static bool socket_fits(const struct pinhole_conf *conf, unsigned i, int family)
{
	const struct conf_listen *l = &conf->listen[i];
	bool v6 = strchr(l->address, ':') != NULL;

	return l->proto == CONF_PROTO_UDP && ka_listens->fd[i] >= 0 &&
	       v6 == (family == AF_INET6);
}

/* The binding's own socket when it is a UDP socket of the target's
 * family, else the first such one. */
static int socket_for(const struct pinhole_conf *conf, const struct ka_ping *p)
{
	if (p->socket < ka_listens->n && socket_fits(conf, p->socket, p->dst.ss_family))
		return p->socket;
	for (unsigned i = 0; i < ka_listens->n; i++)
		if (socket_fits(conf, i, p->dst.ss_family))
			return (int)i;
	return -1;
}

static const char *via_host(const struct pinhole_conf *conf, int sock)
{
	return conf->advertise[0] ? conf->advertise : conf->listen[sock].address;
}

static void send_stream(struct ka_ping *p)
{
	if (stream_send(p->socket, (struct sockaddr *)&p->dst, p->conn_id, KA_CRLF,
			sizeof(KA_CRLF) - 1) < 0) {
		STAT_INC(NAT_PING_ERRORS);
		return;
	}
	STAT_INC(NAT_PINGS_SENT);
}

static void send_one(const struct pinhole_conf *conf, struct ka_ping *p, uint32_t seq)
{
	static char buf[LOC_MAX_CONTACT * 2 + 1024];
	int sock = socket_for(conf, p);
	struct ka_options o;
	size_t len = sizeof(KA_CRLF) - 1;

	if (sock < 0) {
		STAT_INC(NAT_PING_ERRORS);
		return;
	}
	p->id.sent_us = ka_now_us();
	o = (struct ka_options){ .id = p->id, .contact = slice_make(p->contact, p->contact_len),
				 .from = slice_cstr(conf->nat.keepalive.from),
				 .via_host = slice_cstr(via_host(conf, sock)),
				 .via_port = conf->listen[sock].port, .seq = seq };
	if (conf->nat.keepalive.method == CONF_KA_CRLF)
		memcpy(buf, KA_CRLF, len);
	else if (ka_options_build(&o, buf, sizeof(buf), &len) < 0) {
		STAT_INC(NAT_PING_ERRORS);
		return;
	}
	if (sendto(ka_listens->fd[sock], buf, len, MSG_DONTWAIT, (struct sockaddr *)&p->dst,
		   p->dst.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						: sizeof(struct sockaddr_in)) < 0) {
		STAT_INC(NAT_PING_ERRORS);
		LOG_DBG("keepalive sendto: %s", strerror(errno));
		return;
	}
	STAT_INC(NAT_PINGS_SENT);
}

/* One bucket: collect under its lock, then send with no lock held. */
static void visit_bucket(const struct pinhole_conf *conf, uint32_t *cursor)
{
	static uint32_t seq;

	batch.n = 0;
	loc_walk(cursor, 1, collect, &batch);
	for (unsigned i = 0; i < batch.n; i++) {
		if (batch.ping[i].conn_id)
			send_stream(&batch.ping[i]);
		else
			send_one(conf, &batch.ping[i], ++seq);
	}
}

static void report(struct ka_batch *kb, int64_t now_ms)
{
	static int64_t last_ms;

	if (!kb->dropped && !kb->skipped)
		return;
	if (now_ms - last_ms < 10000)
		return;
	if (kb->dropped)
		LOG_INFO("keepalive: %u silent binding(s) removed (no answer for %u s)",
			 kb->dropped, kb->conf->nat.keepalive.timeout);
	if (kb->skipped)
		LOG_WARN("keepalive: %u ping(s) skipped: more than %d bindings in one "
			 "location bucket (raise shm_size)", kb->skipped, KA_BATCH);
	last_ms = now_ms;
	kb->dropped = kb->skipped = 0;
}

void keepalive_task(const struct pinhole_conf *conf, int64_t now)
{
	static int64_t last;
	static uint64_t carry;
	static uint32_t cursor;
	int64_t elapsed = last ? now - last : 0;
	uint32_t due;

	last = now;
	if (!ka_listens)
		return;
	if (elapsed > KA_MAX_ELAPSED_MS)
		elapsed = KA_MAX_ELAPSED_MS;
	due = ka_budget(loc_bucket_total(), conf->nat.keepalive.interval * 1000u, elapsed,
			&carry);
	batch.conf = conf;
	batch.now_ms = realtime_ms();
	batch.now_s = batch.now_ms / 1000;
	for (uint32_t i = 0; i < due; i++)
		visit_bucket(conf, &cursor);
	report(&batch, now);
}
