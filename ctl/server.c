/*
 * server.c — the ctl process: serves the management FIFO, one request at a
 * time. Only the ctl process runs this; it reads shm without locks.
 *
 * Protocol. A client makes its own reply FIFO (mode 0600, in /tmp, named
 * after its pid and a random part) and opens it for reading with O_NONBLOCK
 * *before* sending, so the server can open it for writing as soon as the
 * request arrives. It then writes ONE line to the server FIFO, in a single
 * write(2) of at most CTL_REQUEST_MAX (= PIPE_BUF) bytes, newline included,
 * so that concurrent requests never interleave:
 *
 *     {"cmd": "stats", "args": ["core"], "reply": "/tmp/pinholectl.<pid>.<rand>"}
 *
 * "cmd" followed by "args" are the command words and arguments ("log",
 * ["level", "debug"]). The server writes one JSON object to the reply FIFO
 * and closes it; the client reads until EOF:
 *
 *     {"ok": true, "result": ...}      or      {"ok": false, "error": "text"}
 *
 * The server holds its FIFO open O_RDWR|O_NONBLOCK (so it never sees EOF)
 * and splits what it reads into lines in a bounded buffer. An over-long
 * line is discarded up to its newline; a line that is not a JSON object or
 * has no usable reply path is dropped; both count in ctl.errors. Replies go
 * only to an absolute path that lstat says is a FIFO, opened O_WRONLY|
 * O_NONBLOCK (no reader: the client is gone, dropped) and written under a
 * deadline of CTL_REPLY_TIMEOUT_MS, so no client can block the process.
 */
#include "ctl.h"
#include "ctl_int.h"
#include "../conf/conf.h"
#include "../shm/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CTL_POLL_MS 500          /* how soon the stop flag is seen */
#define CTL_READS_PER_WAKEUP 64  /* then look at the stop flag again */
#define CTL_ERR_MAX 8192         /* error text of one reply */

struct ctl_server {
	struct ctl_ctx ctx;
	const char *path;
	int fd;
	dev_t dev;               /* identity of the FIFO we made, so that we */
	ino_t ino;               /* never remove one a successor made */
	int log_level;           /* last shm->log_level applied, -1 none */
	bool discarding;         /* inside an over-long line */
	size_t len;              /* bytes waiting in buf */
	char buf[CTL_REQUEST_MAX];
};

int64_t ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fifo_parent_make(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int rc;

	if (strlen(path) >= sizeof(dir)) {
		LOG_ERR("ctl.fifo %s: path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	rc = -errno;
	LOG_ERR("mkdir %s: %s", dir, strerror(-rc));
	return rc;
}

/* Removes a FIFO left at path by an earlier ctl process; refuses to touch
 * anything that is not a FIFO. */
static int fifo_clear_stale(const char *path)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		LOG_ERR("lstat %s: %s", path, strerror(-rc));
		return rc;
	}
	if (!S_ISFIFO(st.st_mode)) {
		LOG_ERR("ctl.fifo %s exists and is not a FIFO; not replacing it", path);
		return -EEXIST;
	}
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		LOG_WARN("FIFO %s is still read by another process; replacing it", path);
		close(fd);
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		rc = -errno;
		LOG_ERR("unlink %s: %s", path, strerror(-rc));
		return rc;
	}
	return 0;
}

static int fifo_create(struct ctl_server *srv)
{
	struct stat st;
	int rc;

	if (srv->path[0] == '\0') {
		LOG_ERR("ctl.fifo is empty");
		return -EINVAL;
	}
	rc = fifo_parent_make(srv->path);
	if (rc == 0)
		rc = fifo_clear_stale(srv->path);
	if (rc < 0)
		return rc;
	if (mkfifo(srv->path, 0600) < 0) {
		rc = -errno;
		LOG_ERR("mkfifo %s: %s", srv->path, strerror(-rc));
		return rc;
	}
	srv->fd = open(srv->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (srv->fd < 0 || fstat(srv->fd, &st) < 0) {
		rc = -errno;
		LOG_ERR("open %s: %s", srv->path, strerror(-rc));
		if (srv->fd >= 0)
			close(srv->fd);
		unlink(srv->path);
		return rc;
	}
	srv->dev = st.st_dev;
	srv->ino = st.st_ino;
	return 0;
}

static void fifo_remove(struct ctl_server *srv)
{
	struct stat st;

	if (lstat(srv->path, &st) == 0 && st.st_dev == srv->dev &&
	    st.st_ino == srv->ino && unlink(srv->path) < 0)
		LOG_WARN("unlink %s: %s", srv->path, strerror(errno));
	close(srv->fd);
}

int ctl_reply_send(const char *path, const char *data, size_t len, int timeout_ms)
{
	int64_t deadline = ctl_now_ms() + timeout_ms;
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int64_t left = deadline - ctl_now_ms();
		ssize_t n = write(fd, data, len);

		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			rc = -errno;
			goto out;
		}
		if (left <= 0) {
			rc = -ETIMEDOUT;
			goto out;
		}
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
			rc = -errno;
			goto out;
		}
	}
out:
	close(fd);
	return rc;
}

/* The reply path of a request, if it names a FIFO we may answer on. */
static const char *request_reply_path(json_t *req)
{
	json_t *v = json_object_get(req, "reply");
	struct stat st;
	const char *path;

	if (!json_is_string(v))
		return NULL;
	path = json_string_value(v);
	if (path[0] != '/' || strlen(path) >= PATH_MAX)
		return NULL;
	if (lstat(path, &st) < 0 || !S_ISFIFO(st.st_mode))
		return NULL;
	return path;
}

/* "cmd" then the "args" strings, into argv (CTL_MAX_ARGS slots). */
static int request_argv(json_t *req, const char **argv, int *argc, char *err,
			size_t errlen)
{
	json_t *cmd = json_object_get(req, "cmd");
	json_t *args = json_object_get(req, "args");
	json_t *arg;
	size_t i;

	if (!json_is_string(cmd) || json_string_length(cmd) == 0) {
		snprintf(err, errlen, "bad request: \"cmd\" must be a non-empty string");
		return -EINVAL;
	}
	if (args && !json_is_array(args)) {
		snprintf(err, errlen, "bad request: \"args\" must be an array of strings");
		return -EINVAL;
	}
	if (json_array_size(args) >= CTL_MAX_ARGS) {
		snprintf(err, errlen, "bad request: too many arguments (at most %d)",
			 CTL_MAX_ARGS - 1);
		return -E2BIG;
	}
	argv[0] = json_string_value(cmd);
	json_array_foreach(args, i, arg) {
		if (!json_is_string(arg)) {
			snprintf(err, errlen, "bad request: \"args\" must be an array of strings");
			return -EINVAL;
		}
		argv[i + 1] = json_string_value(arg);
	}
	*argc = (int)json_array_size(args) + 1;
	return 0;
}

static void reply_deliver(const char *path, json_t *reply)
{
	char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	size_t len;
	int rc;

	if (!text) {
		STAT_INC(CTL_ERRORS);
		LOG_ERR("cannot encode a reply for %s", path);
		return;
	}
	len = strlen(text);
	rc = ctl_reply_send(path, text, len, CTL_REPLY_TIMEOUT_MS);
	if (rc < 0) {
		STAT_INC(CTL_ERRORS);
		LOG_WARN("reply to %s not delivered: %s", path, strerror(-rc));
	}
	free(text);
}

/* Runs the request and builds {"ok": ..., "result"/"error": ...}. */
static json_t *request_run(struct ctl_server *srv, json_t *req)
{
	const char *argv[CTL_MAX_ARGS];
	json_t *result = NULL;
	char *err;
	json_t *reply;
	int argc, rc;

	err = calloc(1, CTL_ERR_MAX);
	if (!err)
		return NULL;
	rc = request_argv(req, argv, &argc, err, CTL_ERR_MAX);
	if (rc < 0) {
		STAT_INC(CTL_ERRORS);
	} else {
		LOG_DBG("request '%s' (%d arguments)", argv[0], argc - 1);
		rc = ctl_dispatch(&srv->ctx, argc, argv, &result, err, CTL_ERR_MAX);
	}
	if (rc < 0)
		reply = json_pack("{s:b, s:s}", "ok", 0, "error",
				  err[0] ? err : strerror(-rc));
	else
		reply = json_pack("{s:b, s:o?}", "ok", 1, "result", result);
	free(err);
	return reply;
}

static void serve_line(struct ctl_server *srv, const char *line, size_t len)
{
	json_t *req, *reply;
	json_error_t jerr;
	const char *path;

	STAT_INC(CTL_REQUESTS);
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	path = json_is_object(req) ? request_reply_path(req) : NULL;
	if (!path) {
		STAT_INC(CTL_ERRORS);
		LOG_WARN("dropped a request of %zu bytes: %s", len,
			 !req ? "not JSON" : "no reply FIFO");
		goto out;
	}
	reply = request_run(srv, req);
	reply_deliver(path, reply);
	json_decref(reply);
out:
	json_decref(req);
}

/* Takes n new bytes at buf + len: serves every complete line, keeps the
 * incomplete tail, discards a line that cannot fit. */
static void serve_bytes(struct ctl_server *srv, size_t n)
{
	char *start = srv->buf, *end = srv->buf + srv->len + n, *nl;

	while ((nl = memchr(start, '\n', (size_t)(end - start)))) {
		if (srv->discarding)
			srv->discarding = false;
		else
			serve_line(srv, start, (size_t)(nl - start));
		start = nl + 1;
	}
	srv->len = (size_t)(end - start);
	if (srv->discarding) {
		srv->len = 0;
	} else if (srv->len == sizeof(srv->buf)) {
		STAT_INC(CTL_REQUESTS);
		STAT_INC(CTL_ERRORS);
		LOG_WARN("discarding a request longer than %d bytes", CTL_REQUEST_MAX);
		srv->discarding = true;
		srv->len = 0;
	} else {
		memmove(srv->buf, start, srv->len);
	}
}

static void serve_input(struct ctl_server *srv)
{
	for (int i = 0; i < CTL_READS_PER_WAKEUP; i++) {
		ssize_t n = read(srv->fd, srv->buf + srv->len, sizeof(srv->buf) - srv->len);

		if (n > 0) {
			serve_bytes(srv, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			LOG_ERR("read %s: %s", srv->path, strerror(errno));
		return;
	}
}

static void apply_log_level(struct ctl_server *srv)
{
	int level = __atomic_load_n(&shm->log_level, __ATOMIC_RELAXED);

	if (level == srv->log_level)
		return;
	srv->log_level = level;
	log_set_level(level);
}

int ctl_run(const struct pinhole_conf *conf, volatile sig_atomic_t *stop)
{
	struct ctl_server srv = {
		.ctx.conf = conf, .path = conf->ctl.fifo, .fd = -1, .log_level = -1,
	};
	int rc = 0;

	signal(SIGPIPE, SIG_IGN);
	apply_log_level(&srv);
	rc = fifo_create(&srv);
	if (rc < 0)
		return rc;
	LOG_INFO("serving %s", srv.path);
	while (!*stop) {
		struct pollfd pfd = { .fd = srv.fd, .events = POLLIN };

		apply_log_level(&srv);
		if (poll(&pfd, 1, CTL_POLL_MS) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			LOG_ERR("poll %s: %s", srv.path, strerror(-rc));
			break;
		}
		if (pfd.revents & POLLIN)
			serve_input(&srv);
	}
	fifo_remove(&srv);
	return rc;
}
