/*
 * timer.h — the timer process: one tick loop running periodic tasks.
 *
 * Each task has its own period; later parts add theirs (transaction timers,
 * contact expiry, NAT keepalive pings, relay timeouts, DB flushes) as rows
 * of the task table in timer.c.
 */
#ifndef PINHOLE_TIMER_H
#define PINHOLE_TIMER_H

#include "../conf/conf.h"

#include <signal.h>

/* Runs until *stop; returns the process exit status. */
int timer_run(const struct pinhole_conf *conf, volatile sig_atomic_t *stop);

#endif
