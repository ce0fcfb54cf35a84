/*
 * proxy_int.h — shared by the proxy's files (sip/proxy*.c) and their unit
 * tests only: the Route set of a request, the edits every forwarded copy
 * gets, and where the next hop is.
 *
 * Nothing here locks: route decisions and message edits work on the
 * received message and the configuration; the location lookup (proxy.c)
 * copies what it needs out of shm under the AOR's lock.
 */
#ifndef PINHOLE_PROXY_INT_H
#define PINHOLE_PROXY_INT_H

#include "tm_int.h"

#define PROXY_MAX_ROUTES 64        /* Route values of one request (a mask bit each) */

/* Every Route value in order, with the header line it is on. */
struct proxy_routes {
	struct sip_nameaddr v[PROXY_MAX_ROUTES];
	uint16_t line[PROXY_MAX_ROUTES];   /* index into msg->hdrs */
	unsigned n;
};
int proxy_routes_parse(const struct sip_msg *msg, struct proxy_routes *r,
		       const char **reason);

/* §16.4 and §16.6 steps 6-7 for one request: what to remove, what the
 * Request-URI becomes, where the request goes next. */
struct proxy_route_plan {
	uint64_t remove;           /* Route values to delete (bit i) */
	unsigned pop;              /* leading values that were ours */
	bool nat;                  /* one of ours carried nat=yes */
	slice ruri;                /* new Request-URI, empty = keep */
	int ruri_from;             /* the Route value it came from, -1 = none */
	slice append;              /* value appended as the last Route (strict next hop) */
	int next;                  /* Route value that is the next hop, -1 = none */
};
/* Plans the Route processing of msg. */
void proxy_route_plan(const struct pinhole_conf *conf, const struct sip_msg *msg,
		      const struct proxy_routes *r, struct proxy_route_plan *out);

/* What every forwarded copy of a request shares. */
struct proxy_fwd {
	const struct pinhole_conf *conf;
	const struct sip_msg *msg;
	const struct sip_source *src;
	const struct proxy_routes *routes;
	const struct proxy_route_plan *plan;
	bool record_route;         /* dialog-creating request */
	bool fix_contact;          /* caller NATed: Contact -> source address */
	bool drop_credentials;     /* our realm's Proxy-Authorization consumed */
};

/* One copy: its own Request-URI, Route set on top, socket, NAT flag and
 * Via branch. */
struct proxy_branch {
	slice ruri;                /* binding contact, empty = the plan's */
	slice path;                /* Path values to put on top as Route */
	uint8_t socket;            /* listen entry it leaves by */
	bool nat;                  /* nat=yes in our Record-Route */
	slice branch;              /* Via branch parameter */
};

/* The forwarded copy (§16.6): Request-URI, our Via on top (the received
 * one gets received/rport), Max-Forwards minus one (70 when absent), own
 * Route values removed, Path and strict-router Route values added,
 * Record-Route with lr (two with r2=on when it leaves by another listen
 * entry than it came in on), the NATed caller's Contact fixed. */
int proxy_build_request(const struct proxy_fwd *f, const struct proxy_branch *pb,
			char *out, size_t cap, size_t *len);
/* "ADDR:PORT" others reach listen entry i at (advertise, else its
 * address; IPv6 in brackets). Length. */
size_t proxy_hostport(const struct pinhole_conf *conf, unsigned socket, char *out, size_t cap);

/* ---- proxy_route.c: next hops ------------------------------------------ */

/* The destination of uri (maddr, else host; its port, else 5061 for TLS
 * and 5060 for the others): literals need no lookup, names get one A
 * lookup. The socket is a listen entry of the URI's transport
 * (proxy_uri_proto) and family: prefer when it is one, else the first.
 * -EHOSTUNREACH when the name does not resolve or no socket fits. */
int proxy_resolve(const struct pinhole_conf *conf, const struct sip_uri *uri,
		  unsigned prefer, struct tm_addr *dst);
/* A UDP listen entry of family, prefer if it fits; -1 when none. */
int proxy_socket_for(const struct pinhole_conf *conf, int family, unsigned prefer);
/* The same for a listen entry of proto (enum conf_proto). */
int proxy_socket_for_proto(const struct pinhole_conf *conf, uint8_t proto, int family,
			   unsigned prefer);
/* The transport a URI asks for (enum conf_proto): sips: is TLS, else its
 * transport parameter (udp when absent); -EPROTONOSUPPORT for others. */
int proxy_uri_proto(const struct sip_uri *uri);

/* sips (RFC 3261 §26.2.2, RFC 5630: TLS on every hop, the last one
 * included): whether the request's target (Request-URI, or the Route
 * value that replaces it or is the next hop) is a sips URI. */
bool proxy_is_sips(const struct sip_msg *msg, const struct proxy_routes *r,
		   const struct proxy_route_plan *plan);
/* The reason phrase of the 480 that refuses a sips request which arrived
 * over UDP or TCP, NULL when it may go on. (416 is for schemes a server
 * does not know; the path, not the scheme, is at fault, and the caller
 * may retry over TLS.) */
const char *proxy_sips_refused(const struct sip_msg *msg, const struct sip_source *src,
			       const struct proxy_routes *r, const struct proxy_route_plan *plan);
/* Whether dst may carry the request: anything unless sips, then TLS. */
bool proxy_dst_secure(const struct pinhole_conf *conf, bool sips, const struct tm_addr *dst);

#endif
