/*
 * check.c — checks that span several keys, run after all were parsed.
 *
 * Each problem is reported at a key the file actually set (so the line
 * number points at something the operator wrote), falling back to the
 * first of the keys involved. Values that failed to parse kept their
 * defaults, so these checks never see garbage. Master only, in conf_load.
 */
#include "options.h"
#include "../shm/shm.h"

#include <inttypes.h>
#include <stdio.h>

#define RELAY_PORTS_PER_WORKER 4   /* two sessions' RTP/RTCP pairs at least */

/* Leaves room in the process table for a second generation during reload. */
_Static_assert(2 * CONF_MAX_PROCS + 1 <= SHM_MAX_PROCS, "CONF_MAX_PROCS");

/* Reports at path a when the file set it, else at b. */
static void report2(struct conf_ctx *ctx, const char *a, const char *b,
		    const char *what)
{
	const config_setting_t *s = conf_seen(ctx, a);

	if (s || !conf_seen(ctx, b))
		conf_error(ctx, s, a, "%s", what);
	else
		conf_error(ctx, conf_seen(ctx, b), b, "%s", what);
}

/* lo <= hi, for two keys named lo_path and hi_path. */
static void check_order(struct conf_ctx *ctx, const char *lo_path, unsigned lo,
			const char *hi_path, unsigned hi)
{
	if (lo <= hi)
		return;
	if (conf_seen(ctx, lo_path) || !conf_seen(ctx, hi_path))
		conf_error(ctx, conf_seen(ctx, lo_path), lo_path,
			   "%u is greater than %s (%u)", lo, hi_path, hi);
	else
		conf_error(ctx, conf_seen(ctx, hi_path), hi_path,
			   "%u is less than %s (%u)", hi, lo_path, lo);
}

static void check_registrar(struct conf_ctx *ctx)
{
	const struct pinhole_conf *c = ctx->conf;

	check_order(ctx, "registrar.min_expires", c->registrar.min_expires,
		    "registrar.default_expires", c->registrar.default_expires);
	check_order(ctx, "registrar.default_expires", c->registrar.default_expires,
		    "registrar.max_expires", c->registrar.max_expires);
	if (c->registrar.max_contacts_reply != 403 && c->registrar.max_contacts_reply != 503)
		conf_error(ctx, conf_seen(ctx, "registrar.max_contacts_reply"),
			   "registrar.max_contacts_reply", "%u is neither 403 nor 503",
			   c->registrar.max_contacts_reply);
}

static bool same_socket(const struct conf_listen *a, const struct conf_listen *b)
{
	uint8_t ia[16], ib[16];

	if (a->port != b->port || (a->proto == CONF_PROTO_UDP) != (b->proto == CONF_PROTO_UDP))
		return false;
	conf_ip_parse(a->address, ia);
	conf_ip_parse(b->address, ib);
	return memcmp(ia, ib, sizeof(ia)) == 0;
}

static void check_listen_entry(struct conf_ctx *ctx, unsigned i)
{
	const struct pinhole_conf *c = ctx->conf;
	const struct conf_listen *l = &c->listen[i];
	const config_setting_t *s = ctx->listen_seen[i];
	char path[32], hp[CONF_ADDR_LEN + 8];

	snprintf(path, sizeof(path), "listen[%u]", i);
	conf_format_hostport(l->address, l->port, hp, sizeof(hp));
	for (unsigned j = 0; j < i; j++) {
		if ((ctx->listen_bad & (1u << j)) || !same_socket(&c->listen[j], l))
			continue;
		if (c->listen[j].proto == l->proto)
			conf_error(ctx, s, path, "duplicate of listen[%u] (%s %s)", j,
				   conf_proto_name(l->proto), hp);
		else
			conf_error(ctx, s, path, "%s %s uses the same TCP port as listen[%u] (%s)",
				   conf_proto_name(l->proto), hp, j,
				   conf_proto_name(c->listen[j].proto));
		break;
	}
	if (l->proto == CONF_PROTO_TLS && (!*c->tls.certificate || !*c->tls.private_key))
		conf_error(ctx, s, path, "a tls listener needs %s",
			   !*c->tls.certificate && !*c->tls.private_key ?
			   "tls.certificate and tls.private_key" :
			   !*c->tls.certificate ? "tls.certificate" : "tls.private_key");
	if ((l->proto == CONF_PROTO_TCP && c->workers.tcp == 0) ||
	    (l->proto == CONF_PROTO_TLS && c->workers.tls == 0))
		conf_error(ctx, s, path, "a %s listener needs workers.%s of at least 1",
			   conf_proto_name(l->proto), conf_proto_name(l->proto));
}

static void check_listen(struct conf_ctx *ctx)
{
	for (unsigned i = 0; i < ctx->conf->nlisten; i++)
		if (!(ctx->listen_bad & (1u << i)))
			check_listen_entry(ctx, i);
	if (ctx->conf->tls.verify_client && !*ctx->conf->tls.ca_list)
		conf_error(ctx, conf_seen(ctx, "tls.verify_client"), "tls.verify_client",
			   "true needs tls.ca_list (the CAs client certificates must chain to)");
}

static bool is_wildcard(const uint8_t ip[16])
{
	static const uint8_t any6[16], any4[16] = { [10] = 0xff, [11] = 0xff };

	return memcmp(ip, any6, 16) == 0 || memcmp(ip, any4, 16) == 0;
}

/* A UDP listen socket inside the relay port range would fail to bind. */
static void check_relay_overlap(struct conf_ctx *ctx)
{
	const struct pinhole_conf *c = ctx->conf;
	uint8_t relay_ip[16], ip[16];
	char hp[CONF_ADDR_LEN + 8];

	if (!conf_ip_parse(c->relay.address, relay_ip))
		return;
	for (unsigned i = 0; i < c->nlisten; i++) {
		const struct conf_listen *l = &c->listen[i];
		char path[32];

		if ((ctx->listen_bad & (1u << i)) || l->proto != CONF_PROTO_UDP ||
		    l->port < c->relay.port_min || l->port > c->relay.port_max ||
		    !conf_ip_parse(l->address, ip))
			continue;
		if (memcmp(ip, relay_ip, 16) != 0 && !is_wildcard(ip) && !is_wildcard(relay_ip))
			continue;
		conf_format_hostport(l->address, l->port, hp, sizeof(hp));
		snprintf(path, sizeof(path), "listen[%u]", i);
		if (conf_seen(ctx, "relay.ports") || !ctx->listen_seen[i])
			conf_error(ctx, conf_seen(ctx, "relay.ports"), "relay.ports",
				   "%u..%u includes the port of %s (udp %s)", c->relay.port_min,
				   c->relay.port_max, path, hp);
		else
			conf_error(ctx, ctx->listen_seen[i], path, "udp %s is inside relay.ports "
				   "(%u..%u)", hp, c->relay.port_min, c->relay.port_max);
	}
}

static void check_relay(struct conf_ctx *ctx)
{
	const struct pinhole_conf *c = ctx->conf;
	unsigned ports = (unsigned)c->relay.port_max - c->relay.port_min + 1;
	unsigned need = c->workers.relay * RELAY_PORTS_PER_WORKER;
	bool used = c->relay.mode != CONF_RELAY_NEVER || *c->relay.control;
	char what[160];

	if (ports < need) {
		snprintf(what, sizeof(what), "%u..%u holds %u ports; %u relay workers need "
			 "at least %u (%u each)", c->relay.port_min, c->relay.port_max,
			 ports, c->workers.relay, need, RELAY_PORTS_PER_WORKER);
		report2(ctx, "relay.ports", "workers.relay", what);
	}
	if (used && c->workers.relay == 0) {
		snprintf(what, sizeof(what), "no relay workers, but %s",
			 c->relay.mode != CONF_RELAY_NEVER ?
			 "relay.mode is not \"never\"" : "relay.control is set");
		report2(ctx, "workers.relay", "relay.mode", what);
	}
	check_relay_overlap(ctx);
}

static void check_keepalive(struct conf_ctx *ctx)
{
	const struct pinhole_conf *c = ctx->conf;

	if (c->nat.keepalive.timeout && c->nat.keepalive.timeout < c->nat.keepalive.interval)
		conf_error(ctx, conf_seen(ctx, "nat.keepalive.timeout"), "nat.keepalive.timeout",
			   "%u is shorter than nat.keepalive.interval (%u)",
			   c->nat.keepalive.timeout, c->nat.keepalive.interval);
}

/* Children of one generation: SIP workers, relay workers, timer and ctl. */
static void check_processes(struct conf_ctx *ctx)
{
	const struct pinhole_conf *c = ctx->conf;
	unsigned n[3] = { 0, 0, 0 }, total;   /* listeners by proto */
	char what[240];

	for (unsigned i = 0; i < c->nlisten; i++)
		if (c->listen[i].proto < 3)
			n[c->listen[i].proto]++;
	total = c->workers.udp * n[CONF_PROTO_UDP] + c->workers.tcp * n[CONF_PROTO_TCP] +
		c->workers.tls * n[CONF_PROTO_TLS] + c->workers.relay + 2;
	if (total <= CONF_MAX_PROCS)
		return;
	snprintf(what, sizeof(what), "%u processes (per listener %u udp, %u tcp, %u tls "
		 "workers for %u/%u/%u udp/tcp/tls listeners, %u relay, timer, ctl), at most %u",
		 total, c->workers.udp, c->workers.tcp, c->workers.tls, n[CONF_PROTO_UDP],
		 n[CONF_PROTO_TCP], n[CONF_PROTO_TLS], c->workers.relay, CONF_MAX_PROCS);
	report2(ctx, "workers.udp", "listen", what);
}

void conf_check_all(struct conf_ctx *ctx)
{
	check_registrar(ctx);
	check_listen(ctx);
	check_relay(ctx);
	check_keepalive(ctx);
	check_processes(ctx);
}
