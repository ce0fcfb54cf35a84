/*
 * conf.h — pinhole's configuration: one fixed-size struct, one loader.
 *
 * The master loads the libconfig file into a struct pinhole_conf (no
 * pointers inside, so children inherit it by fork and a reload simply builds
 * a second one). Every key is described once in the option table of
 * conf/options.c (path, type, default, range, reloadable); conf_load walks
 * that table, so no other code calls libconfig. Errors are collected, not
 * logged: each is one line "FILE:LINE: path: reason".
 */
#ifndef PINHOLE_CONF_H
#define PINHOLE_CONF_H

#include "../base/base.h"

#include <limits.h>

#define CONF_MAX_LISTEN 16
#define CONF_MAX_DOMAINS 32
#define CONF_ADDR_LEN 64      /* an IPv4/IPv6 address or host name */
#define CONF_NAME_LEN 256     /* domains, URIs, realm */
/* Children of one generation (SIP workers, relay workers, timer, ctl); two
 * generations must fit the shm process table during a reload. */
#define CONF_MAX_PROCS 127

enum conf_proto { CONF_PROTO_UDP = 0, CONF_PROTO_TCP, CONF_PROTO_TLS };
enum conf_location_mode { CONF_LOC_MEMORY = 0, CONF_LOC_WRITE_THROUGH, CONF_LOC_WRITE_BACK };
enum conf_relay_mode { CONF_RELAY_NAT = 0, CONF_RELAY_ALWAYS, CONF_RELAY_NEVER };
enum conf_keepalive_method { CONF_KA_OPTIONS = 0, CONF_KA_CRLF };
/* Digest algorithms offered, in challenge order (auth.algorithms). */
enum conf_auth_algs { CONF_AUTH_MD5_SHA256 = 0, CONF_AUTH_SHA256_MD5, CONF_AUTH_MD5,
		      CONF_AUTH_SHA256 };

struct conf_listen {
	uint8_t proto;                 /* enum conf_proto */
	char address[CONF_ADDR_LEN];
	uint16_t port;
	uint8_t ip[16];                /* address in binary (IPv4 v4-mapped),
	                                  set with it by conf_load */
};

struct pinhole_conf {
	char path[PATH_MAX];           /* the file it was loaded from */

	struct conf_listen listen[CONF_MAX_LISTEN];
	unsigned nlisten;
	char advertise[CONF_ADDR_LEN];
	char domains[CONF_MAX_DOMAINS][CONF_NAME_LEN];
	unsigned ndomains;
	/* The IP literals among domains and advertise, in binary (IPv4
	 * v4-mapped), set with them by conf_load for conf_is_local_domain. */
	uint8_t domain_ips[CONF_MAX_DOMAINS + 1][16];
	unsigned ndomain_ips;

	struct { unsigned udp, tcp, tls, relay; } workers;
	uint64_t shm_size;             /* bytes */

	struct {
		unsigned default_expires, min_expires, max_expires, max_contacts;
		unsigned max_contacts_reply; /* 403 or 503 past max_contacts */
	} registrar;
	struct {
		char realm[CONF_NAME_LEN];
		bool reg, invite;      /* keys "register", "invite" */
		uint8_t algorithms;    /* enum conf_auth_algs */
		unsigned nonce_ttl;
	} auth;
	struct {
		unsigned detect;       /* nat_uac_test bit mask */
		struct {
			unsigned interval;
			uint8_t method;    /* enum conf_keepalive_method */
			char from[CONF_NAME_LEN];
			bool nated_only;
			unsigned timeout;
		} keepalive;
	} nat;
	struct {
		uint8_t mode;          /* enum conf_relay_mode */
		char address[CONF_ADDR_LEN];
		uint16_t port_min, port_max;
		unsigned timeout;
		char control[CONF_NAME_LEN];
	} relay;
	struct {
		unsigned t1, t2;       /* ms (RFC 3261 T1, T2) */
		unsigned fr, fr_inv;   /* s: final response timeout; INVITE after a provisional */
		unsigned max_transactions;
	} tm;
	struct {
		unsigned max_connections;  /* TCP and TLS, all workers together */
		unsigned idle_timeout;     /* s without traffic before a close */
		unsigned message_timeout;  /* s to complete a message once begun */
		unsigned max_header;       /* bytes of start line and headers */
		unsigned max_message;      /* bytes of a whole message */
	} tcp;
	struct {
		char path[PATH_MAX];
		uint8_t location;      /* enum conf_location_mode */
	} db;
	struct {
		char certificate[PATH_MAX], private_key[PATH_MAX], ca_list[PATH_MAX];
		bool verify_client;
	} tls;
	struct { char fifo[PATH_MAX]; } ctl;
	struct {
		int level;             /* enum log_level */
		bool syslog;           /* target "syslog" (else "stderr") */
	} log;
	char user[64], group[64];      /* drop privileges to these, "" = stay */
	char pid_file[PATH_MAX];
};

/* Collected problems, one "FILE:LINE: path: reason" line each, each ending
 * in '\n' ("FILE:LINE: syntax error: ..." for libconfig's own complaints,
 * "FILE: cannot open: ..." when the file cannot be read). Lines that do not
 * fit in text are dropped but still counted. */
struct conf_errors {
	char text[8192];
	size_t len;
	unsigned count;
};

/* Loads and validates path into *out (fully initialised with defaults
 * first). 0 when valid; -EINVAL with every problem in *errs otherwise, or
 * the -errno of open/read when the file cannot be read (also in *errs).
 * out->path is the file's absolute path. */
int conf_load(const char *path, struct pinhole_conf *out, struct conf_errors *errs);

/* Fills *out with every default (what an empty file gives). */
void conf_defaults(struct pinhole_conf *out);

/* Settings that differ between old and new and need a restart to change
 * (e.g. shm_size): names them, comma-separated, into buf; 0 if none. */
unsigned conf_restart_only_changes(const struct pinhole_conf *old_conf,
				   const struct pinhole_conf *new_conf,
				   char *buf, size_t cap);

/* Whether a host (case-insensitive, IPv6 with or without brackets) is one
 * of conf->domains, or an IP address equal to a listen address or to
 * advertise (so requests to the proxy's own IP are local). A wildcard listen
 * address (0.0.0.0, ::) matches nothing: list such hosts in domains. The
 * configured addresses are compared in the binary form conf_load stored
 * (listen[].ip, domain_ips); only host is parsed. */
bool conf_is_local_domain(const struct pinhole_conf *conf, slice host);

const char *conf_proto_name(enum conf_proto p);

#endif
