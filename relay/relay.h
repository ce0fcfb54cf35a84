/*
 * relay.h — the media relay worker pool.
 *
 * The relay workers' process slots exist and are supervised and reloaded
 * like every other role; the relay itself (port slices, sessions, latching,
 * rtpproxy control protocol) is the media relay issue.
 */
#ifndef PINHOLE_RELAY_H
#define PINHOLE_RELAY_H

#include "../conf/conf.h"

#include <signal.h>

/* Runs relay worker `index` until *stop; returns the exit status. */
int relay_worker_run(const struct pinhole_conf *conf, unsigned index,
		     volatile sig_atomic_t *stop);

#endif
