/*
 * ctl.h — the management FIFO: the ctl process's server, its command table,
 * the client side used by pinholectl, and the text renderer of replies.
 *
 * The ctl process calls ctl_run and nothing else; it reads shm without
 * locks (snapshots of small fixed-width fields) and only writes the
 * runtime log level. pinholectl and the tests call ctl_request and
 * ctl_render_text. The wire protocol is described at the top of server.c.
 */
#ifndef PINHOLE_CTL_H
#define PINHOLE_CTL_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

struct pinhole_conf;

/* A request line, newline included: at most PIPE_BUF so one write(2) of
 * it to the server FIFO is atomic even with several clients. */
#define CTL_REQUEST_MAX 4096
#define CTL_MAX_ARGS 32               /* command words plus arguments */
#define CTL_DEFAULT_FIFO "/run/pinhole/pinhole.fifo"
#define CTL_DEFAULT_CONF "/etc/pinhole/pinhole.conf"
#define CTL_DEFAULT_TIMEOUT_MS 15000  /* longer than a reload may take */

/* The ctl process's loop: creates the FIFO conf->ctl.fifo (parent
 * directory made 0700 if missing, a stale FIFO replaced), serves requests
 * until *stop is non-zero, then removes the FIFO if it is still the one it
 * made. Applies shm->log_level to the process whenever it changes. Sets
 * SIGPIPE to ignored. 0, or -errno when the FIFO cannot be set up. */
int ctl_run(const struct pinhole_conf *conf, volatile sig_atomic_t *stop);

/* What a command may look at besides shm. */
struct ctl_ctx {
	const struct pinhole_conf *conf;
};

/* One row of the command table (ctl/commands.c). name is one or more
 * words ("stats", "log level"); run gets the arguments after those words,
 * already counted against min_args..max_args. run returns 0 with a new
 * JSON value in *result, or -errno with a message in err. */
struct ctl_command {
	const char *name;
	const char *args;   /* usage after the name, "" if none: "[GROUP]" */
	const char *help;   /* one line */
	int min_args, max_args;
	int (*run)(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		   json_t **result, char *err, size_t errlen);
};

extern const struct ctl_command ctl_commands[];
extern const size_t ctl_command_count;

/* Finds the command named by the leading words of argv and runs it with
 * the rest. Unknown command or wrong argument count: -EINVAL and err. */
int ctl_dispatch(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		 json_t **result, char *err, size_t errlen);

/* Client: sends argv (command words then arguments) to the server FIFO and
 * waits at most timeout_ms for the answer. 0 when a well-formed reply
 * arrived: *reply is {"ok": true, "result": ...} or {"ok": false,
 * "error": "..."} (caller json_decref's it). Otherwise -errno and err:
 * -ENOENT no FIFO, -ENXIO nobody reading it, -ETIMEDOUT no answer,
 * -EPROTO malformed answer, -E2BIG request too long, -EINTR when SIGINT,
 * SIGTERM, SIGHUP or SIGQUIT arrived (signals that a caller with handlers
 * will see; they are blocked except while waiting). The private reply
 * FIFO is removed on every path. */
int ctl_request(const char *fifo, int argc, char *const argv[], int timeout_ms,
		json_t **reply, char *err, size_t errlen);

/* Renders a result for people: an object as aligned "key: value" lines,
 * an array of objects as a table with a header row, anything else one
 * value per line. 0, or -EIO when out failed. */
int ctl_render_text(json_t *result, FILE *out);

#endif
