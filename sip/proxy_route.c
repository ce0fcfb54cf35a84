/*
 * proxy_route.c — where a request goes next: Route processing (RFC 3261
 * §16.4 and §16.6 steps 6-7, loose routing with strict-router
 * compatibility), whether a URI is this proxy, the sips rules, and the
 * destination address and socket of a URI: the listen entry of the
 * transport it asks for (DNS A lookups only; literals need none).
 *
 * Runs in the SIP workers, outside every lock: getaddrinfo may block on
 * a name, so it is never called while a table lock is held.
 */
#include "proxy_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>

static bool port_is_ours(const struct pinhole_conf *conf, uint16_t port)
{
	for (unsigned i = 0; i < conf->nlisten; i++)
		if (conf->listen[i].port == port)
			return true;
	return false;
}

bool proxy_uri_is_local(const struct pinhole_conf *conf, const struct sip_uri *uri)
{
	return conf_is_local_domain(conf, uri->host) &&
	       (uri->port == 0 || port_is_ours(conf, uri->port));
}

static bool has_nat_yes(const struct sip_uri *uri)
{
	slice v;

	return sip_uri_param(uri, SLICE_LIT("nat"), &v) && slice_caseeq_cstr(v, "yes");
}

bool proxy_strict_routed(const struct pinhole_conf *conf, const struct sip_msg *msg)
{
	const struct sip_uri *u = &msg->ruri;

	return u->user.len == 0 && u->lr && sip_msg_hdr(msg, SIP_H_ROUTE) &&
	       proxy_uri_is_local(conf, u);
}

int proxy_routes_parse(const struct sip_msg *msg, struct proxy_routes *r,
		       const char **reason)
{
	r->n = 0;
	for (const struct sip_hdr *h = sip_msg_hdr(msg, SIP_H_ROUTE); h;
	     h = sip_msg_hdr_next(msg, h)) {
		unsigned before = r->n;
		int rc = sip_nameaddr_list_parse(h->value, r->v, PROXY_MAX_ROUTES, &r->n, reason);

		if (rc < 0)
			return rc;
		for (unsigned i = before; i < r->n; i++)
			r->line[i] = (uint16_t)(h - msg->hdrs);
	}
	return 0;
}

void proxy_route_plan(const struct pinhole_conf *conf, const struct sip_msg *msg,
		      const struct proxy_routes *r, struct proxy_route_plan *out)
{
	unsigned n = r->n, i = 0;

	*out = (struct proxy_route_plan){ .next = -1, .ruri_from = -1 };
	if (proxy_strict_routed(conf, msg) && n > 0) {
		/* §16.4: the previous hop was a strict router; our Record-Route
		 * value is the Request-URI and the real one is the last Route. */
		out->ruri = r->v[n - 1].uri_raw;
		out->ruri_from = (int)n - 1;
		out->remove |= 1ull << (n - 1);
		out->nat = has_nat_yes(&msg->ruri);
		n--;
	}
	while (i < n && proxy_uri_is_local(conf, &r->v[i].uri)) {
		out->remove |= 1ull << i;
		out->nat |= has_nat_yes(&r->v[i].uri);
		i++;
	}
	out->pop = i;
	if (i == n)
		return;
	out->next = (int)i;
	if (!r->v[i].uri.lr) {
		/* §16.6 step 7: a strict next hop gets the Request-URI's place. */
		out->append = out->ruri.len ? out->ruri : msg->ruri_raw;
		out->ruri = r->v[i].uri_raw;
		out->ruri_from = (int)i;
		out->remove |= 1ull << i;
	}
}

/* ---- sips (RFC 3261 §26.2.2, RFC 5630) ---------------------------------- */

bool proxy_is_sips(const struct sip_msg *msg, const struct proxy_routes *r,
		   const struct proxy_route_plan *plan)
{
	if (plan->ruri_from >= 0)
		return r->v[plan->ruri_from].uri.scheme_id == SIP_SCHEME_SIPS;
	if (msg->ruri.scheme_id == SIP_SCHEME_SIPS)
		return true;
	return plan->next >= 0 && r->v[plan->next].uri.scheme_id == SIP_SCHEME_SIPS;
}

const char *proxy_sips_refused(const struct sip_msg *msg, const struct sip_source *src,
			       const struct proxy_routes *r, const struct proxy_route_plan *plan)
{
	if (src->proto == CONF_PROTO_TLS || !proxy_is_sips(msg, r, plan))
		return NULL;
	return "SIPS Requires TLS";
}

bool proxy_dst_secure(const struct pinhole_conf *conf, bool sips, const struct tm_addr *dst)
{
	return !sips || conf->listen[dst->socket].proto == CONF_PROTO_TLS;
}

/* ---- destinations ----------------------------------------------------- */

static int listen_family(const struct conf_listen *l)
{
	return strchr(l->address, ':') ? AF_INET6 : AF_INET;
}

int proxy_socket_for_proto(const struct pinhole_conf *conf, uint8_t proto, int family,
			   unsigned prefer)
{
	if (prefer < conf->nlisten && conf->listen[prefer].proto == proto &&
	    listen_family(&conf->listen[prefer]) == family)
		return (int)prefer;
	for (unsigned i = 0; i < conf->nlisten; i++)
		if (conf->listen[i].proto == proto && listen_family(&conf->listen[i]) == family)
			return (int)i;
	return -1;
}

int proxy_socket_for(const struct pinhole_conf *conf, int family, unsigned prefer)
{
	return proxy_socket_for_proto(conf, CONF_PROTO_UDP, family, prefer);
}

int proxy_uri_proto(const struct sip_uri *uri)
{
	slice t = uri->transport;

	if (uri->scheme_id == SIP_SCHEME_SIPS)
		return t.len == 0 || slice_caseeq_cstr(t, "tls") || slice_caseeq_cstr(t, "tcp")
		       ? CONF_PROTO_TLS : -EPROTONOSUPPORT;
	if (t.len == 0 || slice_caseeq_cstr(t, "udp"))
		return CONF_PROTO_UDP;
	if (slice_caseeq_cstr(t, "tcp"))
		return CONF_PROTO_TCP;
	if (slice_caseeq_cstr(t, "tls"))
		return CONF_PROTO_TLS;
	return -EPROTONOSUPPORT;
}

static int lookup_a(const char *host, uint8_t out[16])
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc != 0 || !res) {
		LOG_DBG("cannot resolve %s: %s", host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	memcpy(out, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
	freeaddrinfo(res);
	return AF_INET;
}

int proxy_resolve(const struct pinhole_conf *conf, const struct sip_uri *uri,
		  unsigned prefer, struct tm_addr *dst)
{
	slice host = uri->maddr.len ? uri->maddr : uri->host;
	int family, sock, proto = proxy_uri_proto(uri);
	char h[256];

	if (proto < 0)
		return -EHOSTUNREACH;

	if (host.len >= 2 && host.p[0] == '[' && host.p[host.len - 1] == ']')
		host = slice_make(host.p + 1, host.len - 2);
	if (host.len == 0 || host.len >= sizeof(h) || memchr(host.p, '\0', host.len))
		return -EHOSTUNREACH;
	slice_copy_cstr(host, h, sizeof(h));
	memset(dst, 0, sizeof(*dst));
	if (inet_pton(AF_INET, h, dst->addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, h, dst->addr) == 1)
		family = AF_INET6;
	else
		family = lookup_a(h, dst->addr);
	if (family < 0)
		return family;
	sock = proxy_socket_for_proto(conf, (uint8_t)proto, family, prefer);
	if (sock < 0)
		return -EHOSTUNREACH;
	dst->family = (uint8_t)family;
	dst->socket = (uint8_t)sock;
	dst->port = uri->port ? uri->port : proto == CONF_PROTO_TLS ? 5061 : 5060;
	return 0;
}
