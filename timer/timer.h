/*
 * timer.h — the timer process: one tick loop running periodic tasks.
 *
 * Each task has its own period; later parts add theirs (transaction timers,
 * contact expiry, NAT keepalive pings, relay timeouts, DB flushes) as rows
 * of the task table in timer.c. The timer sends from the listen sockets
 * the master bound (pings leave by the socket a binding registered on).
 */
#ifndef PINHOLE_TIMER_H
#define PINHOLE_TIMER_H

#include "../conf/conf.h"
#include "../workers/workers.h"

#include <signal.h>

struct sip_msg;
struct loc_binding;

/* Runs until *stop; returns the process exit status. */
int timer_run(const struct pinhole_conf *conf, const struct listen_set *listens,
	      volatile sig_atomic_t *stop);

/* ---- NAT keepalive (keepalive.c, keepalive_reply.c) -------------------- */

/* The timer, before its loop: the sockets pings are sent from. */
void keepalive_init(const struct listen_set *listens);
/* A timer task run every tick: pings the bindings due (OPTIONS or CRLF,
 * nat.keepalive.*), spread so a pass takes the interval; removes bindings
 * silent for longer than the timeout. Counts nat.pings_sent,
 * nat.ping_errors, nat.bindings_dropped. */
void keepalive_task(const struct pinhole_conf *conf, int64_t now_ms);
/* Whether the pinger looks at b under conf: with nat.keepalive.nated_only
 * the bindings registered as NATed (flags NAT and KEEPALIVE), else every
 * binding (it is then pinged if it has a UDP address to ping). */
bool keepalive_flagged(const struct pinhole_conf *conf, const struct loc_binding *b);
/* A SIP worker, for every response: true when msg answers a keepalive
 * ping (it is then consumed: the binding's last keepalive and round trip
 * updated and nat.pongs counted, or, from the wrong source, stale or
 * matching no binding, nat.bad_pongs counted); false for any other. */
bool keepalive_reply_in(const struct sip_msg *msg, const struct sip_rx *rx);

#endif
