/*
 * cmd_nat.c — `pinholectl nat show AOR`: for each binding of an AOR, what
 * the phone declared (its Contact) against where its packets really came
 * from, the NAT tests that fired at registration, its keepalives, and a
 * one-line verdict. The view an operator needs when chasing one-way audio.
 *
 * Runs in the ctl process; reads one AOR under its bucket lock, copying
 * what it prints before the lock is released. Changes nothing.
 */
#include "ctl.h"
#include "ctl_int.h"
#include "../conf/conf.h"
#include "../shm/shm.h"
#include "../sip/sip.h"
#include "../timer/timer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <time.h>

#define ADDR_TEXT (INET6_ADDRSTRLEN + 16)

/* enum sip_nat_test, bit by bit. */
static const char *const nat_test_names[] = {
	"contact_private", "via_host_differs", "via_private", "sdp_private",
	"via_port_differs", "src_private",
};

struct nat_view {
	const struct pinhole_conf *conf;
	const struct loc_binding *b;
	int64_t now_ms;
	char declared[ADDR_TEXT];   /* host:port of the Contact URI */
	char received[ADDR_TEXT];   /* "" when not recorded */
	bool same;                  /* declared is the received address */
};

static int64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "user@domain" or a SIP URI, keyed as the registrar keys it. */
static int aor_key(const char *arg, char key[LOC_MAX_AOR + 1], char *err, size_t errlen)
{
	char uri_text[LOC_MAX_AOR + 8];
	struct sip_uri uri;
	const char *reason;
	int n = snprintf(uri_text, sizeof(uri_text), "%s%s",
			 strncmp(arg, "sip:", 4) && strncmp(arg, "sips:", 5) ? "sip:" : "", arg);

	if (n < 0 || (size_t)n >= sizeof(uri_text) ||
	    sip_uri_parse(slice_make(uri_text, (size_t)n), &uri, &reason) < 0 ||
	    sip_aor_key(&uri, key, LOC_MAX_AOR + 1) < 0) {
		snprintf(err, errlen, "'%s' is not an AOR (user@domain)", arg);
		return -EINVAL;
	}
	return 0;
}

static void addr_text(int family, const void *addr, uint16_t port, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, ip, sizeof(ip))) {
		snprintf(out, cap, "?");
		return;
	}
	snprintf(out, cap, family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
}

/* The Contact's host:port, and whether it is the received address. */
static void view_addresses(struct nat_view *v)
{
	const struct loc_binding *b = v->b;
	unsigned char addr[16] = { 0 };
	char host[INET6_ADDRSTRLEN];
	struct sip_uri uri;
	const char *reason;
	int family = 0;

	v->received[0] = '\0';
	if (b->received.family)
		addr_text(b->received.family, b->received.addr, b->received.port, v->received,
			  sizeof(v->received));
	if (sip_uri_parse(b->contact, &uri, &reason) < 0) {
		snprintf(v->declared, sizeof(v->declared), "?");
		v->same = false;
		return;
	}
	snprintf(v->declared, sizeof(v->declared),
		 uri.host_type == SIP_HOST_IPV6 ? "[%.*s]:%u" : "%.*s:%u", SLICE_FMT(uri.host),
		 sip_uri_port(&uri));
	if (uri.host_type == SIP_HOST_IPV4 || uri.host_type == SIP_HOST_IPV6) {
		family = uri.host_type == SIP_HOST_IPV4 ? AF_INET : AF_INET6;
		slice_copy_cstr(uri.host, host, sizeof(host));
		if (inet_pton(family, host, addr) != 1)
			family = 0;
	}
	v->same = b->received.family && family == b->received.family &&
		  memcmp(addr, b->received.addr, family == AF_INET ? 4 : 16) == 0 &&
		  sip_uri_port(&uri) == b->received.port;
}

static json_t *nat_tests_json(uint8_t tests)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < ARRAY_LEN(nat_test_names); i++)
		if (tests & (1u << i))
			json_array_append_new(a, json_string(nat_test_names[i]));
	return a;
}

/* Where replies and calls go, and why. */
static int verdict_where(const struct nat_view *v, char *out, size_t cap)
{
	if (!v->received[0])
		return snprintf(out, cap, "no source address recorded: reached at the declared %s",
				v->declared);
	if ((v->b->flags & LOC_F_NAT) && !v->same)
		return snprintf(out, cap, "behind NAT: replies and calls go to %s, not to the "
				"declared %s", v->received, v->declared);
	if (v->b->flags & LOC_F_NAT)
		return snprintf(out, cap, "flagged as NATed, though it registered from its "
				"declared address %s", v->declared);
	if (!v->same)
		return snprintf(out, cap, "not flagged as NATed, yet it registered from %s, not "
				"the declared %s: calls to %s may not reach it (check nat.detect)",
				v->received, v->declared, v->declared);
	return snprintf(out, cap, "not behind NAT: reached at its declared address %s",
			v->declared);
}

/* Whether the NAT binding is being kept open, appended to the verdict. */
static void verdict_keepalive(const struct nat_view *v, char *out, size_t cap)
{
	const struct pinhole_conf *conf = v->conf;
	int64_t ago = (v->now_ms - v->b->last_keepalive_ms) / 1000;

	if (!keepalive_flagged(conf, v->b))
		snprintf(out, cap, "; not pinged%s", (v->b->flags & LOC_F_NAT) ?
			 ": the NAT mapping may close between registrations" : "");
	else if (conf->nat.keepalive.method == CONF_KA_CRLF)
		snprintf(out, cap, "; CRLF pings every %u s (they get no answer)",
			 conf->nat.keepalive.interval);
	else if (v->b->last_keepalive_ms == 0)
		snprintf(out, cap, "; no keepalive answered yet");
	else if (ago > 2 * (int64_t)conf->nat.keepalive.interval)
		snprintf(out, cap, "; keepalives unanswered for %lld s: the NAT mapping may be "
			 "gone", (long long)ago);
	else
		snprintf(out, cap, "; keepalive answered %lld s ago in %.1f ms", (long long)ago,
			 v->b->rtt_us / 1000.0);
}

static json_t *binding_json(struct nat_view *v)
{
	const struct loc_binding *b = v->b;
	const struct pinhole_conf *conf = v->conf;
	char verdict[1024], sock[128] = "";
	int n;

	view_addresses(v);
	n = verdict_where(v, verdict, sizeof(verdict));
	if (n > 0 && (size_t)n < sizeof(verdict))
		verdict_keepalive(v, verdict + n, sizeof(verdict) - (size_t)n);
	if (b->socket < conf->nlisten)
		snprintf(sock, sizeof(sock), "%s:%s:%u", conf_proto_name(conf->listen[b->socket].proto),
			 conf->listen[b->socket].address, conf->listen[b->socket].port);
	return json_pack("{s:s, s:o, s:s, s:s, s:b, s:o, s:b, s:o, s:o, s:I, s:o, s:s}",
			 "declared", v->declared,
			 "received", v->received[0] ? json_string(v->received) : json_null(),
			 "transport", conf_proto_name(b->received.family ? b->received.proto
									 : CONF_PROTO_UDP),
			 "socket", sock,
			 "nat", (b->flags & LOC_F_NAT) != 0,
			 "nat_tests", nat_tests_json(b->nat_tests),
			 "keepalive", keepalive_flagged(conf, b),
			 "last_keepalive_ago_s", b->last_keepalive_ms ?
				json_integer((v->now_ms - b->last_keepalive_ms) / 1000) : json_null(),
			 "rtt_ms", b->last_keepalive_ms ? json_real(b->rtt_us / 1000.0) : json_null(),
			 "expires", (json_int_t)(b->expires - v->now_ms / 1000),
			 "user_agent", json_stringn(b->user_agent.p ? b->user_agent.p : "",
						    b->user_agent.len),
			 "verdict", verdict);
}

/* Keyed by contact URI, so the text view prints one block per binding. */
int ctl_nat_show(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		 json_t **result, char *err, size_t errlen)
{
	struct nat_view v = { .conf = ctx->conf, .now_ms = realtime_ms() };
	char key[LOC_MAX_AOR + 1], contact[LOC_MAX_CONTACT + 1];
	json_t *bindings = NULL;
	struct loc_binding b;
	struct loc_handle h;

	if (aor_key(argv[0], key, err, errlen) < 0)
		return -EINVAL;
	bindings = json_object();
	loc_lock(slice_cstr(key), &h);
	for (unsigned i = 0; i < loc_count_locked(&h) && bindings; i++) {
		if (loc_get_locked(&h, i, &b) < 0 || b.expires * 1000 <= v.now_ms)
			continue;
		v.b = &b;
		slice_copy_cstr(b.contact, contact, sizeof(contact));
		json_object_set_new(bindings, contact, binding_json(&v));
	}
	loc_unlock(&h);
	if (bindings && json_object_size(bindings) == 0) {
		json_decref(bindings);
		snprintf(err, errlen, "no bindings for %s", key);
		return -ENOENT;
	}
	*result = json_pack("{s:s, s:o}", "aor", key, "bindings", bindings);
	return *result ? 0 : -ENOMEM;
}
