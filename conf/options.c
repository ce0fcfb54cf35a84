/*
 * options.c — the option table: every configuration key, once.
 *
 * Each row names the key's path, its type, the struct pinhole_conf field it
 * fills, its default, its range and whether a reload applies it. The loader
 * (load.c), the defaults and the reload comparison (query.c) all read this
 * table; conf/pinhole.conf.5 documents the same rows. The string checks
 * used by the rows live here too. Master only, no locking.
 */
#include "options.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <strings.h>

#define RESTART 0u

#define KB 1024ull
#define MB (1024ull * KB)
#define GB (1024ull * MB)

#define FIELD(type, f) \
	.offset = offsetof(type, f), .size = sizeof(((type *)0)->f)
#define F(f) FIELD(struct pinhole_conf, f)

#define UINT(p, f, lo, hi, d, fl) \
	{ .path = p, .type = CONF_T_UINT, .flags = fl, F(f), .min = lo, .max = hi, .def = d }
#define BOOL(p, f, d, fl) \
	{ .path = p, .type = CONF_T_BOOL, .flags = fl, F(f), .def = d }
#define STR(p, f, d, chk, fl) \
	{ .path = p, .type = CONF_T_STRING, .flags = fl, F(f), .def_str = d, .check = chk }
#define ENUM(p, f, nm, d, fl) \
	{ .path = p, .type = CONF_T_ENUM, .flags = fl, F(f), .names = nm, .def = d }

static const char *const proto_names[] = { "udp", "tcp", "tls", NULL };
static const char *const location_names[] = { "memory", "write-through", "write-back", NULL };
static const char *const relay_mode_names[] = { "nat", "always", "never", NULL };
static const char *const keepalive_names[] = { "options", "crlf", NULL };
static const char *const auth_alg_names[] = { "md5,sha-256", "sha-256,md5", "md5", "sha-256",
					      NULL };
static const char *const level_names[] = { "err", "warn", "info", "debug", NULL };
static const char *const target_names[] = { "stderr", "syslog", NULL };

_Static_assert(LOG_LEVEL_ERR == 0 && LOG_LEVEL_WARN == 1 && LOG_LEVEL_INFO == 2 &&
	       LOG_LEVEL_DBG == 3, "log.level stores the index of level_names");

static const struct conf_listen default_listen[] = {
	{ .proto = CONF_PROTO_UDP, .address = "127.0.0.1", .port = 5060 },
};
static const char *const default_domains[] = { "127.0.0.1", "localhost" };
static const uint16_t default_ports[2] = { 30000, 39999 };

/* ---- string checks -------------------------------------------------- */

bool conf_ip_parse(const char *s, uint8_t out[16])
{
	uint8_t v4[4];

	if (inet_pton(AF_INET6, s, out) == 1)
		return true;
	if (inet_pton(AF_INET, s, v4) != 1)
		return false;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, v4, 4);
	return true;
}

void conf_format_hostport(const char *addr, unsigned port, char *buf, size_t cap)
{
	if (strchr(addr, ':'))
		snprintf(buf, cap, "[%s]:%u", addr, port);
	else
		snprintf(buf, cap, "%s:%u", addr, port);
}

static const char *check_ip(const char *v)
{
	uint8_t ip[16];

	return conf_ip_parse(v, ip) ? NULL : "is not an IPv4 or IPv6 address";
}

static const char *check_ip_or_empty(const char *v)
{
	return *v ? check_ip(v) : NULL;
}

static const char *check_sip_uri(const char *v)
{
	size_t skip = strncasecmp(v, "sip:", 4) == 0 ? 4 :
		      strncasecmp(v, "sips:", 5) == 0 ? 5 : 0;

	if (skip == 0 || v[skip] == '\0' || strpbrk(v, " \t<>\""))
		return "is not a sip: or sips: URI";
	return NULL;
}

/* "udp:ADDRESS:PORT", ADDRESS an IPv4 literal or a bracketed IPv6 one. */
static const char *check_control(const char *v)
{
	static const char reason[] = "is not \"udp:ADDRESS:PORT\" or \"\"";
	char addr[CONF_ADDR_LEN];
	const char *a = v + 4, *colon, *end;
	uint8_t ip[16];
	uint32_t port;

	if (*v == '\0')
		return NULL;
	if (strncasecmp(v, "udp:", 4) != 0)
		return reason;
	if (*a == '[') {
		end = strchr(++a, ']');
		colon = end && end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = end = strrchr(a, ':');
	}
	if (!colon || (size_t)(end - a) >= sizeof(addr))
		return reason;
	memcpy(addr, a, (size_t)(end - a));
	addr[end - a] = '\0';
	if (!conf_ip_parse(addr, ip) || (a[-1] != '[' && strchr(addr, ':')))
		return reason;
	if (slice_to_u32(slice_cstr(colon + 1), 65535, &port) < 0 || port == 0)
		return reason;
	return NULL;
}

static const char *check_abs_path(const char *v)
{
	return v[0] == '/' ? NULL : "is not an absolute path";
}

static const char *check_abs_path_or_empty(const char *v)
{
	return *v ? check_abs_path(v) : NULL;
}

static bool only_chars(const char *v, const char *extra)
{
	for (; *v; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		      (*v >= '0' && *v <= '9') || strchr(extra, *v)))
			return false;
	return true;
}

/* A user or group name (or a numeric id); "" keeps the current one. */
static const char *check_account(const char *v)
{
	if (*v == '-' || !only_chars(v, "._-"))
		return "is not a user or group name";
	return NULL;
}

/* Goes inside a quoted string of WWW-Authenticate. */
static const char *check_realm(const char *v)
{
	if (*v == '\0')
		return "is not a realm (it must not be empty)";
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f || *v == '"' || *v == '\\')
			return "is not a realm (no quotes, backslashes or control characters)";
	return NULL;
}

static const char *check_domain(const char *v)
{
	if (*v == '\0' || !only_chars(v, ".-_:"))
		return "is not a host name or IP address";
	return NULL;
}

/* ---- the table ------------------------------------------------------ */

const struct conf_option conf_options[] = {
	{ .path = "listen", .type = CONF_T_LISTEN, .flags = RESTART,
	  .offset = offsetof(struct pinhole_conf, listen),
	  .size = sizeof(struct conf_listen),
	  .offset2 = offsetof(struct pinhole_conf, nlisten),
	  .min = 1, .max = CONF_MAX_LISTEN,
	  .def = ARRAY_LEN(default_listen), .def_list = default_listen },
	STR("advertise", advertise, "", check_ip_or_empty, CONF_RELOAD),
	{ .path = "domains", .type = CONF_T_DOMAINS, .flags = CONF_RELOAD,
	  .offset = offsetof(struct pinhole_conf, domains), .size = CONF_NAME_LEN,
	  .offset2 = offsetof(struct pinhole_conf, ndomains),
	  .min = 0, .max = CONF_MAX_DOMAINS,
	  .def = ARRAY_LEN(default_domains), .def_list = default_domains,
	  .check = check_domain },

	UINT("workers.udp", workers.udp, 1, 64, 4, CONF_RELOAD),
	UINT("workers.tcp", workers.tcp, 0, 64, 2, CONF_RELOAD),
	UINT("workers.tls", workers.tls, 0, 64, 2, CONF_RELOAD),
	UINT("workers.relay", workers.relay, 0, 64, 2, CONF_RELOAD),
	{ .path = "shm_size", .type = CONF_T_SIZE, .flags = RESTART, F(shm_size),
	  .min = 4 * MB, .max = 64 * GB, .def = 256 * MB },

	UINT("registrar.default_expires", registrar.default_expires, 1, 604800, 3600, CONF_RELOAD),
	UINT("registrar.min_expires", registrar.min_expires, 1, 604800, 60, CONF_RELOAD),
	UINT("registrar.max_expires", registrar.max_expires, 1, 604800, 86400, CONF_RELOAD),
	UINT("registrar.max_contacts", registrar.max_contacts, 1, 64, 10, CONF_RELOAD),
	UINT("registrar.max_contacts_reply", registrar.max_contacts_reply, 403, 503, 403,
	     CONF_RELOAD),

	STR("auth.realm", auth.realm, "localhost", check_realm, CONF_RELOAD),
	BOOL("auth.register", auth.reg, false, CONF_RELOAD),
	BOOL("auth.invite", auth.invite, false, CONF_RELOAD),
	UINT("auth.nonce_ttl", auth.nonce_ttl, 10, 86400, 300, CONF_RELOAD),
	ENUM("auth.algorithms", auth.algorithms, auth_alg_names, CONF_AUTH_MD5_SHA256,
	     CONF_RELOAD),

	UINT("nat.detect", nat.detect, 0, 63, 19, CONF_RELOAD),
	UINT("nat.keepalive.interval", nat.keepalive.interval, 1, 3600, 30, CONF_RELOAD),
	ENUM("nat.keepalive.method", nat.keepalive.method, keepalive_names,
	     CONF_KA_OPTIONS, CONF_RELOAD),
	STR("nat.keepalive.from", nat.keepalive.from, "sip:pinger@localhost",
	    check_sip_uri, CONF_RELOAD),
	BOOL("nat.keepalive.nated_only", nat.keepalive.nated_only, true, CONF_RELOAD),
	UINT("nat.keepalive.timeout", nat.keepalive.timeout, 0, 86400, 0, CONF_RELOAD),

	ENUM("relay.mode", relay.mode, relay_mode_names, CONF_RELAY_NAT, CONF_RELOAD),
	STR("relay.address", relay.address, "127.0.0.1", check_ip, RESTART),
	{ .path = "relay.ports", .type = CONF_T_PORTS, .flags = RESTART,
	  F(relay.port_min), .offset2 = offsetof(struct pinhole_conf, relay.port_max),
	  .min = 1024, .max = 65535, .def_list = default_ports },
	UINT("relay.timeout", relay.timeout, 1, 86400, 60, CONF_RELOAD),
	STR("relay.control", relay.control, "udp:127.0.0.1:22222", check_control, RESTART),

	UINT("tm.t1", tm.t1, 50, 10000, 500, CONF_RELOAD),
	UINT("tm.t2", tm.t2, 500, 60000, 4000, CONF_RELOAD),
	UINT("tm.fr", tm.fr, 1, 600, 30, CONF_RELOAD),
	UINT("tm.fr_inv", tm.fr_inv, 1, 3600, 120, CONF_RELOAD),
	UINT("tm.max_transactions", tm.max_transactions, 64, 4194304, 65536, RESTART),

	UINT("tcp.max_connections", tcp.max_connections, 16, 1000000, 16384, RESTART),
	UINT("tcp.idle_timeout", tcp.idle_timeout, 1, 86400, 600, CONF_RELOAD),
	UINT("tcp.message_timeout", tcp.message_timeout, 1, 600, 10, CONF_RELOAD),
	UINT("tcp.max_header", tcp.max_header, 512, 65535, 16384, CONF_RELOAD),
	UINT("tcp.max_message", tcp.max_message, 1024, 65535, 65535, CONF_RELOAD),

	STR("db.path", db.path, "/var/lib/pinhole", check_abs_path, RESTART),
	ENUM("db.location", db.location, location_names, CONF_LOC_WRITE_THROUGH, RESTART),

	STR("tls.certificate", tls.certificate, "", check_abs_path_or_empty, RESTART),
	STR("tls.private_key", tls.private_key, "", check_abs_path_or_empty, RESTART),
	STR("tls.ca_list", tls.ca_list, "", check_abs_path_or_empty, RESTART),
	BOOL("tls.verify_client", tls.verify_client, false, RESTART),

	STR("ctl.fifo", ctl.fifo, "/run/pinhole/pinhole.fifo", check_abs_path, RESTART),
	ENUM("log.level", log.level, level_names, LOG_LEVEL_INFO, CONF_RELOAD),
	ENUM("log.target", log.syslog, target_names, 0, CONF_RELOAD),

	STR("user", user, "", check_account, RESTART),
	STR("group", group, "", check_account, RESTART),
	STR("pid_file", pid_file, "/run/pinhole/pinhole.pid", check_abs_path, RESTART),
};
const size_t conf_noptions = ARRAY_LEN(conf_options);
_Static_assert(ARRAY_LEN(conf_options) <= CONF_OPT_MAX, "raise CONF_OPT_MAX");

#define L(f) FIELD(struct conf_listen, f)

/* The port default depends on proto (5061 for tls): see types.c. */
const struct conf_option conf_listen_options[] = {
	{ .path = "proto", .type = CONF_T_ENUM, L(proto), .names = proto_names,
	  .def = CONF_PROTO_UDP },
	{ .path = "address", .type = CONF_T_STRING, .flags = CONF_REQUIRED, L(address),
	  .def_str = "", .check = check_ip },
	[CONF_LISTEN_PORT] = { .path = "port", .type = CONF_T_UINT, L(port), .min = 1, .max = 65535, .def = 5060 },
};
const size_t conf_listen_noptions = ARRAY_LEN(conf_listen_options);
_Static_assert(ARRAY_LEN(conf_listen_options) == CONF_LISTEN_KEYS, "CONF_LISTEN_KEYS");

const struct conf_option *conf_option_find(const char *path, size_t *idx)
{
	for (size_t i = 0; i < conf_noptions; i++) {
		if (strcmp(conf_options[i].path, path) == 0) {
			if (idx)
				*idx = i;
			return &conf_options[i];
		}
	}
	return NULL;
}

const config_setting_t *conf_seen(const struct conf_ctx *ctx, const char *path)
{
	size_t idx;

	return conf_option_find(path, &idx) ? ctx->seen[idx] : NULL;
}
