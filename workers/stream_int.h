/*
 * stream_int.h — what the files of the TCP/TLS transport share: the
 * connection table in shm (conn_table.c), the per-worker channels
 * (stream_chan.c), framing (stream_frame.c), the byte I/O of a connection
 * (struct stream_ops: plain TCP in stream_tcp.c, TLS through tls_int.h)
 * and the worker loop (stream.c, stream_conn.c).
 *
 * For the TLS layer (workers/tls.c): a TLS worker runs the same loop as a
 * TCP worker; stream_ops_for(CONF_PROTO_TLS) returns stream_tls_ops
 * (stream_tls.c), whose functions call tls_conn_new(fd, server, peer_name,
 * &c->ssl) when a connection starts, tls_handshake(c->ssl) until it returns
 * 0 (-EAGAIN: poll for both directions, the loop does), tls_read/tls_write
 * (-EAGAIN when they would block) and tls_conn_free(c->ssl) at close.
 * tls_init(conf, err, errlen) is called once by each TLS worker before its
 * loop.
 *
 * For the proxy (sip/proxy*.c): a branch destination's transport is the
 * proto of its listen entry, conf->listen[dst.socket].proto; tm_send sends
 * on a TCP/TLS entry through stream_send (workers.h), which reuses the
 * connection whose peer is dst on that entry (its alias) or has one
 * opened. A binding registered over TCP/TLS has b.conn_id (the registrar
 * stores sip_source.conn_id) and b.received = the connection's peer, with
 * b.received.proto TCP/TLS and b.socket its listen entry: binding_dst
 * should, for such a NATed binding, use dst = received on socket
 * b.socket while stream_conn_alive(b.conn_id), and skip the binding
 * (480 when none is left) when the connection is gone, never open a new
 * connection to it. Requests leaving on a stream entry carry
 * "Via: SIP/2.0/TCP" (or TLS) and, per RFC 3261 §17.1.1.2, need no Timer
 * A/E retransmissions: tm_addr_reliable(&dst) (sip/tm_send.c) tells.
 */
#ifndef PINHOLE_STREAM_INT_H
#define PINHOLE_STREAM_INT_H

#include "pipeline.h"
#include "../shm/shm.h"

#include <sys/socket.h>

/* ---- conn_table.c: the shared table -------------------------------- */

#define CONN_MAGIC 0x54435031u     /* "TCP1" */
#define CONN_IDX_BITS 20           /* id = gen << 20 | (index + 1) */
#define CONN_MAX ((1u << CONN_IDX_BITS) - 2)

struct conn_entry {
	uint32_t id;               /* 0 when free */
	uint32_t next;             /* alias hash chain / free list: index + 1 */
	int32_t owner_pid;
	uint16_t owner_slot;       /* process-table slot of the owner */
	uint16_t gen;
	uint8_t proto;             /* enum conf_proto */
	uint8_t socket;            /* listen index */
	uint8_t outgoing;          /* opened by pinhole */
	uint8_t pad;
	uint32_t hash;             /* bucket of the alias */
	struct loc_addr peer;      /* the alias: source addr:port of the peer */
	int64_t created;           /* CLOCK_REALTIME s */
	int64_t last;              /* CLOCK_REALTIME s of the last byte */
};
_Static_assert(sizeof(struct conn_entry) == 64, "conn_entry layout");

struct conn_table {
	uint32_t magic;
	uint32_t capacity;
	uint32_t nbuckets;         /* power of two */
	uint32_t free_head;        /* index + 1 */
	uint32_t used;
	uint32_t pad;
	struct shm_lock lock;      /* chains, free list, id and owner fields */
	shm_off entries, heads;
};
_Static_assert(sizeof(struct conn_table) == 48, "conn_table layout");

/* What a reader gets out of the table (a copy, no lock held). */
struct conn_info {
	uint32_t id;
	int32_t owner_pid;
	uint16_t owner_slot;
	uint8_t proto, socket, outgoing;
	struct loc_addr peer;
	int64_t created, last;
};

/* Creates the table on first use (a stream worker, at start); the first
 * creator wins, the others attach. 0, -ENODEV without a segment, -ENOMEM. */
int conn_table_attach(unsigned capacity);
/* The table, or NULL when no stream worker ever created it. */
struct conn_table *conn_table_get(void);
/* A new entry owned by this process (slot); *index set. -ENOSPC at
 * capacity (or tcp.max_connections), -ENODEV without the table. */
int conn_add(uint16_t slot, uint8_t proto, uint8_t socket, bool outgoing,
	     const struct sockaddr *peer, unsigned limit, uint32_t *id, uint32_t *index);
void conn_del(uint32_t id);
void conn_touch(uint32_t index);
/* The live entry with that id or alias (a dead owner's entry is freed on
 * the way and not returned). 0 or -ENOENT. */
int conn_find_id(uint32_t id, struct conn_info *out);
int conn_find_alias(uint8_t socket, const struct sockaddr *peer, struct conn_info *out);
/* Makes this process (slot) the owner of entry id, dead or alive owner;
 * *out is the entry. 0 or -ENOENT. */
int conn_take_over(uint32_t id, uint16_t slot, struct conn_info *out);
/* Frees every entry of slot whose owner is not pid (a worker's
 * predecessor in its slot was killed); returns how many. */
unsigned conn_sweep_slot(uint16_t slot, int32_t pid);
/* Whether the owner (pid in slot) is still the slot's live process. */
bool conn_owner_alive(int32_t pid, uint16_t slot);
uint32_t conn_index_of(uint32_t id);
void conn_addr_from_sockaddr(const struct sockaddr *sa, struct loc_addr *out);
void conn_addr_to_sockaddr(const struct loc_addr *a, struct sockaddr_storage *ss,
			   socklen_t *len);

/* ---- stream_frame.c: finding one message on a stream ---------------- */

enum frame_result {
	FRAME_NEED_MORE = 0,
	FRAME_MESSAGE,             /* *len bytes are one message */
	FRAME_PING,                /* *len bytes of CRLFCRLF: answer CRLF */
	FRAME_PONG,                /* *len bytes of a lone CRLF: skip */
	FRAME_NO_LENGTH,           /* headers of *len bytes lack Content-Length */
	FRAME_TOO_LARGE,           /* over max_header or max_message */
	FRAME_BAD,                 /* Content-Length is not a number */
};

enum frame_result stream_frame(const char *p, size_t n, unsigned max_header,
			       unsigned max_message, size_t *len);

/* ---- stream_chan.c: handing messages to the owner ------------------- */

/* A datagram on a worker's channel: this header, then the message. */
struct chan_msg {
	uint32_t magic;
	uint32_t conn_id;          /* 0: find or open a connection to dst */
	uint8_t socket;            /* listen index */
	uint8_t pad[3];
	struct loc_addr dst;
};
#define CHAN_MAGIC 0x4348414eu     /* "CHAN": a message to send */
#define CHAN_ADOPT 0x41444f50u     /* "ADOP": a connection handed over at a
                                      reload, its descriptor attached and its
                                      unframed input as the payload */

/* The channel a worker in slot receives on (abstract unix datagram
 * socket named after the segment and the slot): fd or -errno. */
int chan_bind(unsigned slot);
/* Sends hdr + buf to the worker in slot; never blocks. */
int chan_send(unsigned slot, const struct chan_msg *hdr, const char *buf, size_t len);
/* The same with descriptor fd attached (a connection handed over). */
int chan_send_fd(unsigned slot, const struct chan_msg *hdr, const char *buf, size_t len,
		 int fd);
/* One datagram into buf; *fd is an attached descriptor or -1. */
ssize_t chan_recv(int chan_fd, char *buf, size_t cap, int *fd);

/* ---- stream I/O: plain TCP and TLS ---------------------------------- */

struct stream_conn;

struct stream_ops {
	/* 0 when the connection is ready for data, -EAGAIN to be called
	 * again when the socket is readable or writable, <0 failed. */
	int (*handshake)(struct stream_conn *c);
	/* bytes, 0 at end of stream, -EAGAIN, or another -errno */
	ssize_t (*read)(struct stream_conn *c, void *buf, size_t len);
	ssize_t (*write)(struct stream_conn *c, const void *buf, size_t len);
	void (*close)(struct stream_conn *c);
};

extern const struct stream_ops stream_tcp_ops;
const struct stream_ops *stream_ops_for(uint8_t proto);

/* One connection of this worker (stream_conn.c). */
struct stream_conn {
	int fd;
	uint32_t id, index;        /* in the shared table */
	uint32_t pos;              /* in the worker's list of its connections */
	uint8_t proto, socket;
	bool connecting;           /* outgoing, connect() in progress */
	bool handshaking;
	bool hs_out;               /* the handshake waits to write (EPOLLOUT) */
	bool closing;              /* close once the output is written */
	bool want_out;             /* EPOLLOUT registered */
	bool again;                /* input left after a burst of reads */
	void *ssl;                 /* TLS state (tls_int.h), NULL for TCP */
	const struct stream_ops *ops;
	char *in;                  /* partial input, NULL when none */
	size_t in_len, in_cap;
	char *out;                 /* unwritten output, NULL when none */
	size_t out_len, out_off;
	int64_t last_ms;           /* CLOCK_MONOTONIC of the last byte in or out */
	int64_t msg_start_ms;      /* when the pending partial message began */
	int64_t last_touch_s;      /* last conn_touch (once per second) */
	struct sockaddr_storage peer;
	socklen_t peer_len;
};

/* ---- stream.c / stream_conn.c: the worker --------------------------- */

struct stream_worker {
	const struct worker_args *wa;
	unsigned slot;
	int32_t pid;
	int epfd, listen_fd, chan_fd;
	struct stream_conn **by_index;  /* table index -> connection */
	struct stream_conn **list;      /* this worker's connections */
	unsigned nlist, cap;
	bool again;                     /* some connection has input left */
};

/* The worker running in this process, NULL elsewhere. */
extern struct stream_worker *stream_self;

int stream_conn_accepted(struct stream_worker *w, int fd, const struct sockaddr *peer,
			 socklen_t plen);
int stream_conn_connect(struct stream_worker *w, const struct loc_addr *dst,
			struct stream_conn **out);
/* A connection handed over by a retiring worker: fd, its table entry and
 * its unframed input. */
void stream_conn_adopt(struct stream_worker *w, int fd, uint32_t id, const char *in,
		       size_t len);
/* Retiring at a reload: hands every TCP connection to a worker of the new
 * generation (TLS state cannot move: those close). */
void stream_conn_hand_over(struct stream_worker *w);
void stream_conn_event(struct stream_worker *w, struct stream_conn *c, uint32_t events);
/* Queues or writes buf on c (the caller owns c). */
int stream_conn_write(struct stream_worker *w, struct stream_conn *c, const char *buf,
		      size_t len);
void stream_conn_close(struct stream_worker *w, struct stream_conn *c);
void stream_conn_timeouts(struct stream_worker *w, int64_t now_ms);
/* Reads the connections a burst left with input (w->again). */
void stream_conn_read_again(struct stream_worker *w);
void stream_chan_event(struct stream_worker *w);
/* A retiring worker, its connections handed over: passes what is still
 * queued on its channel to their new owners (call with stream_self NULL). */
void stream_chan_forward(int chan_fd);
/* A running stream worker of the current generation serving listen entry
 * socket, picked by a hash of dst: its slot, or -ENOENT. */
int stream_pick_worker(uint8_t socket, const struct loc_addr *dst);

int64_t stream_now_ms(void);

#endif
