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
 * Record-Route with lr, the NATed caller's Contact fixed. */
int proxy_build_request(const struct proxy_fwd *f, const struct proxy_branch *pb,
			char *out, size_t cap, size_t *len);
/* "ADDR:PORT" others reach listen entry i at (advertise, else its
 * address; IPv6 in brackets). Length. */
size_t proxy_hostport(const struct pinhole_conf *conf, unsigned socket, char *out, size_t cap);

/* ---- proxy_route.c: next hops ------------------------------------------ */

/* The destination of uri (maddr, else host; port or the scheme's default):
 * literals need no lookup, names get one A lookup. The socket is prefer
 * when it is a UDP entry of the same family, else the first that is.
 * -EHOSTUNREACH when the name does not resolve or no socket fits. */
int proxy_resolve(const struct pinhole_conf *conf, const struct sip_uri *uri,
		  unsigned prefer, struct tm_addr *dst);
/* A UDP listen entry of family, prefer if it fits; -1 when none. */
int proxy_socket_for(const struct pinhole_conf *conf, int family, unsigned prefer);

#endif
