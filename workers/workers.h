/*
 * workers.h — SIP worker processes and the listen sockets they serve.
 *
 * The master binds every listen socket before forking (listen_open_all) and
 * every child inherits them. A UDP worker receives on the socket of its
 * listen entry and sends replies from it; several workers share one socket.
 * The SIP pipeline (pipeline.c) is the same for every transport; only the
 * receive loop differs.
 */
#ifndef PINHOLE_WORKERS_H
#define PINHOLE_WORKERS_H

#include "../conf/conf.h"

#include <signal.h>
#include <sys/socket.h>

struct listen_set {
	int fd[CONF_MAX_LISTEN];       /* -1 when not bound */
	unsigned n;
};

/* Binds every conf->listen entry (UDP: bound datagram sockets; TCP/TLS:
 * bound stream sockets already listening). On failure
 * errbuf names the entry and the failing call; every fd opened is closed. */
int listen_open_all(const struct pinhole_conf *conf, struct listen_set *ls,
		    char *errbuf, size_t errlen);
void listen_close_all(struct listen_set *ls);

/* What a child process is given to run. */
struct worker_args {
	const struct pinhole_conf *conf;
	const struct listen_set *listens;
	unsigned listen_index;         /* the entry this worker serves */
	volatile sig_atomic_t *stop;   /* set by SIGTERM: finish and return */
};

/* Process loops: each returns the process exit status (0 after a graceful
 * stop, 2 for "fatal, do not respawn"). */
int udp_worker_run(const struct worker_args *wa);
/* TCP and TLS workers: accept, own and serve stream connections. */
int stream_worker_run(const struct worker_args *wa);
/* With a TLS listen entry: loads tls.certificate, tls.private_key and
 * tls.ca_list (the master before fork, so children inherit the contexts
 * and `pinhole -c` catches a bad file); err names the file and the reason. */
int stream_tls_check(const struct pinhole_conf *conf, char *err, size_t errlen);

/* ---- the SIP pipeline ------------------------------------------------- */

/* One received message and where it came from. */
struct sip_rx {
	char *buf;
	size_t len;
	struct sockaddr_storage src;
	socklen_t srclen;
	int fd;                        /* socket to answer from */
	uint8_t proto;                 /* enum conf_proto */
	uint8_t socket;                /* index of its listen entry */
	uint32_t conn_id;              /* TCP/TLS connection, 0 for UDP */
	const struct pinhole_conf *conf;
};

/* Handles one datagram or framed stream message: parse, check, answer. */
void pipeline_handle(struct sip_rx *rx);

/* ---- stream transports (stream*.c, conn_table.c) ---------------------- */

/* Sends buf on the TCP/TLS listen entry socket from any process: on
 * connection conn_id when not 0 (-ENOTCONN when it is gone: a binding's
 * connection is never replaced), else on the connection whose peer is
 * dst, else on a new connection to dst opened by a stream worker of that
 * entry. The connection's owner writes it; others hand it over. Never
 * blocks. 0 or -errno. */
int stream_send(uint8_t socket, const struct sockaddr *dst, uint32_t conn_id,
		const char *buf, size_t len);
/* Whether connection conn_id is open and its owner alive. */
bool stream_conn_alive(uint32_t conn_id);

struct stream_conn_row {
	uint32_t id;
	uint8_t proto;                 /* enum conf_proto */
	uint8_t socket;                /* listen index */
	bool outgoing;
	int32_t owner_pid;
	uint16_t owner_slot;
	struct sockaddr_storage peer;
	int64_t created, last;         /* CLOCK_REALTIME s */
};
/* Calls fn for every open connection (copied out of the table in
 * batches, no lock held during fn); returns how many. */
unsigned stream_conn_walk(void (*fn)(const struct stream_conn_row *r, void *arg),
			  void *arg);

#endif
