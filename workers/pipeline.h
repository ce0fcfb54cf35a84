/*
 * pipeline.h — private interface between the files of workers/: stateless
 * replies (reply.c) used by the pipeline (pipeline.c).
 */
#ifndef PINHOLE_WORKERS_PIPELINE_H
#define PINHOLE_WORKERS_PIPELINE_H

#include "workers.h"
#include "../sip/sip.h"

/* Sends a response to msg (parsed at least as far as its headers go).
 * reason NULL → the standard phrase; extra: complete header lines. */
int sl_reply(struct sip_rx *rx, const struct sip_msg *msg, bool force_rport,
	     unsigned code, const char *reason, const char *extra);

#endif
