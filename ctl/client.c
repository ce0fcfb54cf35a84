/*
 * client.c — the client side of the ctl protocol (described in server.c),
 * used by pinholectl and the unit tests; no shm, no locks.
 *
 * One request per call: a private reply FIFO in /tmp, opened for reading
 * before the request goes out; one atomic write of the request line to the
 * server FIFO; then the answer read until EOF, all under one deadline.
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT are blocked except inside ppoll, so
 * an interrupted call still removes its reply FIFO; SIGPIPE stays blocked
 * and one raised by a vanished server is consumed.
 */
#include "ctl.h"
#include "ctl_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CTL_REPLY_MAX (64u << 20)  /* bytes of an answer */

struct ctl_call {
	const char *fifo;
	int timeout_ms;
	int64_t deadline;
	sigset_t waitmask;         /* signal mask while waiting in ppoll */
	int server_fd, reply_fd;
	bool sigpipe;              /* a write raised SIGPIPE (blocked) */
	char reply_path[64];       /* "" until the reply FIFO exists */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int call_fail(struct ctl_call *c, int rc, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Waits until fd is ready for events, the deadline, or a signal. */
static int call_wait(struct ctl_call *c, int fd, short events)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int64_t left = c->deadline - ctl_now_ms();
		struct timespec ts;
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000;
		n = ppoll(&pfd, 1, &ts, &c->waitmask);
		if (n > 0)
			return 0;
		if (n < 0)
			return -errno;
	}
}

static int call_wait_fail(struct ctl_call *c, int rc, const char *what)
{
	if (rc == -ETIMEDOUT)
		return call_fail(c, rc, "no %s from pinhole within %d ms (FIFO %s)", what,
				 c->timeout_ms, c->fifo);
	if (rc == -EINTR)
		return call_fail(c, rc, "interrupted");
	return call_fail(c, rc, "ppoll: %s", strerror(-rc));
}

static int server_open(struct ctl_call *c, struct stat *st)
{
	int e;

	if (stat(c->fifo, st) < 0) {
		e = errno;
		if (e == ENOENT)
			return call_fail(c, -e, "no FIFO at %s (is pinhole running?)", c->fifo);
		return call_fail(c, -e, "%s: %s", c->fifo, strerror(e));
	}
	if (!S_ISFIFO(st->st_mode))
		return call_fail(c, -EINVAL, "%s is not a FIFO", c->fifo);
	c->server_fd = open(c->fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (c->server_fd >= 0)
		return 0;
	e = errno;
	if (e == ENXIO)
		return call_fail(c, -e, "pinhole is not running: no reader on FIFO %s", c->fifo);
	if (e == ENOENT)
		return call_fail(c, -e, "no FIFO at %s (is pinhole running?)", c->fifo);
	return call_fail(c, -e, "open %s: %s", c->fifo, strerror(e));
}

/* Makes and opens the private reply FIFO; when root talks to a server run
 * by another user, the FIFO is given to that user so it can answer. */
static int reply_fifo_make(struct ctl_call *c, const struct stat *server)
{
	char path[sizeof(c->reply_path)];
	uint32_t r;
	int e;

	for (int i = 0; i < 16; i++) {
		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
			r = (uint32_t)ctl_now_ms() * 2654435761u + (uint32_t)i;
		snprintf(path, sizeof(path), "/tmp/pinholectl.%d.%08x", (int)getpid(), r);
		if (mkfifo(path, 0600) == 0) {
			strcpy(c->reply_path, path);
			break;
		}
		if (errno != EEXIST)
			break;
	}
	if (c->reply_path[0] == '\0') {
		e = errno;
		return call_fail(c, -e, "mkfifo %s: %s", path, strerror(e));
	}
	if (geteuid() == 0 && server->st_uid != 0 &&
	    chown(c->reply_path, server->st_uid, server->st_gid) < 0) {
		e = errno;
		return call_fail(c, -e, "chown %s: %s", c->reply_path, strerror(e));
	}
	c->reply_fd = open(c->reply_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (c->reply_fd < 0) {
		e = errno;
		return call_fail(c, -e, "open %s: %s", c->reply_path, strerror(e));
	}
	return 0;
}

/* The request line, newline included, into line[CTL_REQUEST_MAX]. */
static int request_encode(struct ctl_call *c, int argc, char *const argv[],
			  char *line, size_t *len)
{
	json_t *args = json_array(), *req;
	size_t n;

	if (argc > CTL_MAX_ARGS) {
		json_decref(args);
		return call_fail(c, -E2BIG, "too many arguments (at most %d)", CTL_MAX_ARGS - 1);
	}
	for (int i = 1; i < argc && args; i++) {
		json_t *s = json_string(argv[i]);

		if (!s || json_array_append_new(args, s) < 0) {
			json_decref(args);
			args = NULL;
		}
	}
	req = args ? json_pack("{s:s, s:o, s:s}", "cmd", argv[0], "args", args,
			       "reply", c->reply_path) : NULL;
	n = req ? json_dumpb(req, line, CTL_REQUEST_MAX, JSON_COMPACT) : 0;
	json_decref(req);
	if (n == 0)
		return call_fail(c, -EINVAL, "cannot encode the request (not UTF-8?)");
	if (n + 1 > CTL_REQUEST_MAX)
		return call_fail(c, -E2BIG, "request too long (%zu bytes, at most %d)", n + 1,
				 CTL_REQUEST_MAX);
	line[n] = '\n';
	*len = n + 1;
	return 0;
}

/* One write: the line is at most PIPE_BUF, so all of it or nothing. */
static int request_send(struct ctl_call *c, const char *line, size_t len)
{
	for (;;) {
		ssize_t n = write(c->server_fd, line, len);
		int e = errno, rc;

		if (n == (ssize_t)len)
			return 0;
		if (n >= 0)
			return call_fail(c, -EIO, "short write to %s", c->fifo);
		if (e == EPIPE) {
			c->sigpipe = true;
			return call_fail(c, -ENXIO, "pinhole is not running: no reader on FIFO %s",
					 c->fifo);
		}
		if (e != EAGAIN && e != EINTR)
			return call_fail(c, -e, "write %s: %s", c->fifo, strerror(e));
		rc = call_wait(c, c->server_fd, POLLOUT);
		if (rc < 0)
			return call_wait_fail(c, rc, "room in the FIFO");
	}
}

/* Reads the answer until the server closes its end. */
static int reply_read(struct ctl_call *c, char **buf, size_t *len)
{
	size_t cap = 0, n = 0;
	char *b = NULL, *nb;
	bool waited = false;
	int rc, e;

	for (;;) {
		ssize_t r;

		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 16384;
			nb = cap <= CTL_REPLY_MAX ? realloc(b, cap) : NULL;
			if (!nb) {
				rc = call_fail(c, -EMSGSIZE, "answer too large");
				goto fail;
			}
			b = nb;
		}
		r = read(c->reply_fd, b + n, cap - n);
		if (r > 0) {
			n += (size_t)r;
			continue;
		}
		/* 0 before any wait only means no writer has come yet */
		if (r == 0 && (n > 0 || waited))
			break;
		e = errno;
		if (r < 0 && e != EAGAIN && e != EINTR) {
			rc = call_fail(c, -e, "read %s: %s", c->reply_path, strerror(e));
			goto fail;
		}
		rc = call_wait(c, c->reply_fd, POLLIN);
		if (rc < 0) {
			rc = call_wait_fail(c, rc, "answer");
			goto fail;
		}
		waited = true;
	}
	*buf = b;
	*len = n;
	return 0;
fail:
	free(b);
	return rc;
}

static int reply_decode(struct ctl_call *c, const char *buf, size_t len, json_t **reply)
{
	json_error_t jerr;
	json_t *r = json_loadb(buf, len, 0, &jerr), *ok;

	ok = json_object_get(r, "ok");
	if (json_is_true(ok) ||
	    (json_is_false(ok) && json_is_string(json_object_get(r, "error")))) {
		*reply = r;
		return 0;
	}
	json_decref(r);
	return call_fail(c, -EPROTO, "malformed answer from pinhole on %s", c->fifo);
}

static void call_end(struct ctl_call *c, const sigset_t *saved)
{
	const struct timespec zero = { 0, 0 };
	sigset_t pipe_set;

	if (c->server_fd >= 0)
		close(c->server_fd);
	if (c->reply_fd >= 0)
		close(c->reply_fd);
	if (c->reply_path[0])
		unlink(c->reply_path);
	if (c->sigpipe) {
		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		sigtimedwait(&pipe_set, NULL, &zero);
	}
	sigprocmask(SIG_SETMASK, saved, NULL);
}

int ctl_request(const char *fifo, int argc, char *const argv[], int timeout_ms,
		json_t **reply, char *err, size_t errlen)
{
	struct ctl_call c = {
		.fifo = fifo, .server_fd = -1, .reply_fd = -1, .err = err, .errlen = errlen,
	};
	char line[CTL_REQUEST_MAX], *buf = NULL;
	sigset_t block, saved;
	struct stat st;
	size_t len = 0;
	int rc;

	*reply = NULL;
	if (argc < 1 || !argv[0][0])
		return call_fail(&c, -EINVAL, "no command");
	c.timeout_ms = timeout_ms > 0 ? timeout_ms : CTL_DEFAULT_TIMEOUT_MS;
	c.deadline = ctl_now_ms() + c.timeout_ms;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGPIPE);
	sigprocmask(SIG_BLOCK, &block, &saved);
	c.waitmask = saved;
	sigaddset(&c.waitmask, SIGPIPE);

	rc = server_open(&c, &st);
	if (rc == 0)
		rc = reply_fifo_make(&c, &st);
	if (rc == 0)
		rc = request_encode(&c, argc, argv, line, &len);
	if (rc == 0)
		rc = request_send(&c, line, len);
	if (rc == 0)
		rc = reply_read(&c, &buf, &len);
	if (rc == 0)
		rc = reply_decode(&c, buf, len, reply);
	free(buf);
	call_end(&c, &saved);
	return rc;
}
