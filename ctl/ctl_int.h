/*
 * ctl_int.h — helpers shared by the files of ctl/ and its unit test only.
 *
 * Nothing here takes a lock or touches shm.
 */
#ifndef PINHOLE_CTL_INT_H
#define PINHOLE_CTL_INT_H

#include <stddef.h>
#include <stdint.h>

#define CTL_REPLY_TIMEOUT_MS 1000   /* total time to hand a reply over */

/* CLOCK_MONOTONIC in milliseconds. */
int64_t ctl_now_ms(void);

/* Writes len bytes to the FIFO at path without ever blocking longer than
 * timeout_ms in total. -ENXIO when nobody reads it (client gone), -EINVAL
 * when path is not a FIFO (nothing is written), -ETIMEDOUT when the
 * reader does not drain it in time, -EPIPE when it went away meanwhile. */
int ctl_reply_send(const char *path, const char *data, size_t len, int timeout_ms);

/* cmd_ul.c: `ul show [AOR]`, `ul rm AOR [CONTACT]`, `ul add AOR CONTACT [EXPIRES]`. */
int ctl_ul_show(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		json_t **result, char *err, size_t errlen);
int ctl_ul_rm(const struct ctl_ctx *ctx, int argc, const char *const *argv,
	      json_t **result, char *err, size_t errlen);
int ctl_ul_add(const struct ctl_ctx *ctx, int argc, const char *const *argv,
	       json_t **result, char *err, size_t errlen);

/* cmd_tm.c: `tm stats`. */
int ctl_tm_stats(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		 json_t **result, char *err, size_t errlen);

/* cmd_tcp.c: `tcp list`. */
int ctl_tcp_list(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		 json_t **result, char *err, size_t errlen);

/* cmd_nat.c: `nat show AOR`. */
int ctl_nat_show(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		 json_t **result, char *err, size_t errlen);

/* cmd_relay.c: `relay list [CALL-ID]`. */
int ctl_relay_list(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		   json_t **result, char *err, size_t errlen);

#endif
