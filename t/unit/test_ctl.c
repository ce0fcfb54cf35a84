/*
 * test_ctl.c — the management FIFO end to end. A forked child runs ctl_run
 * on a temporary FIFO over a small shm segment whose process table and
 * counters the test fills; the tests talk to it with ctl_request, with raw
 * lines written straight into the FIFO, and through fake masters that
 * answer SIGHUP. Also the reply writer's deadline, the client's failure
 * modes and the text renderer.
 */
#include "tap.h"
#include "../../ctl/ctl.h"
#include "../../ctl/ctl_int.h"
#include "../../conf/conf.h"
#include "../../shm/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IS_STR(got, want, ...)                                                   \
	do {                                                                     \
		const char *g_ = (got), *w_ = (want);                            \
		if (!tap_ok(g_ && strcmp(g_, w_) == 0, __VA_ARGS__))             \
			tap_diag("  got '%s', want '%s' (%s:%d)", g_ ? g_ : "(null)", \
				 w_, __FILE__, __LINE__);                        \
	} while (0)

#define HAS_STR(got, want, ...)                                                  \
	do {                                                                     \
		const char *g_ = (got), *w_ = (want);                            \
		if (!tap_ok(g_ && strstr(g_, w_), __VA_ARGS__))                  \
			tap_diag("  '%s' does not contain '%s' (%s:%d)",         \
				 g_ ? g_ : "(null)", w_, __FILE__, __LINE__);    \
	} while (0)

static char dir[64];
static char run_dir[128], fifo_path[256], conf_path[256];
static struct pinhole_conf conf;
static pid_t server_pid;
static json_t *last_reply;         /* freed by the next ask */
static char last_err[8192];

static volatile sig_atomic_t child_stop;
static volatile sig_atomic_t got_sigint;

static void on_term(int sig)
{
	child_stop = 1;
}

static void on_sigint(int sig)
{
	got_sigint = 1;
}

static const char *str_of(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static long long int_of(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void file_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* "stats core" -> argv, sent to the server; the whole reply or NULL. */
static json_t *ask(const char *line)
{
	char buf[512], *argv[CTL_MAX_ARGS + 1], *save = NULL, *w;
	int argc = 0;

	json_decref(last_reply);
	last_reply = NULL;
	snprintf(buf, sizeof(buf), "%s", line);
	for (w = strtok_r(buf, " ", &save); w && argc <= CTL_MAX_ARGS;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	if (ctl_request(fifo_path, argc, argv, 5000, &last_reply, last_err,
			sizeof(last_err)) < 0)
		tap_diag("'%s': %s", line, last_err);
	return last_reply;
}

/* The result of an ok reply, NULL (and a diagnostic) otherwise. */
static json_t *result_of(const char *line)
{
	json_t *r = ask(line);

	if (!json_is_true(json_object_get(r, "ok"))) {
		tap_diag("'%s' failed: %s", line, r ? str_of(r, "error") : last_err);
		return NULL;
	}
	return json_object_get(r, "result");
}

/* The error text of an error reply, NULL otherwise. */
static const char *error_of(const char *line)
{
	json_t *r = ask(line);

	if (!json_is_false(json_object_get(r, "ok")))
		return NULL;
	return str_of(r, "error");
}

static pid_t server_fork(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_term };

		sigaction(SIGTERM, &sa, NULL);
		shm_stats_bind(3);
		_exit(ctl_run(&conf, &child_stop) == 0 ? 0 : 1);
	}
	return pid;
}

/* Waits until a server answers on fifo_path. */
static bool server_ready(void)
{
	char *argv[] = { "version" };
	json_t *reply = NULL;
	char err[256];

	for (int i = 0; i < 300; i++) {
		if (ctl_request(fifo_path, 1, argv, 1000, &reply, err, sizeof(err)) == 0) {
			json_decref(reply);
			return true;
		}
		poll(NULL, 0, 10);
	}
	return false;
}

static int server_stop(pid_t pid)
{
	int status = -1;

	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void proc_set(unsigned slot, enum proc_role role, unsigned index, pid_t pid,
		     enum proc_state state, int64_t age, unsigned restarts)
{
	struct proc_entry *p = &shm->procs[slot];

	p->role = role;
	p->index = (uint16_t)index;
	p->pid = pid;
	p->state = state;
	p->generation = 2;
	p->restarts = restarts;
	p->started = time(NULL) - age;
	p->first_started = p->started;
}

static void setup(void)
{
	if (!mkdtemp(strcpy(dir, "/tmp/test_ctl.XXXXXX")))
		exit(1);
	snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
	snprintf(fifo_path, sizeof(fifo_path), "%s/pinhole.fifo", run_dir);
	snprintf(conf_path, sizeof(conf_path), "%s/pinhole.conf", dir);
	file_write(conf_path, "log = { level = \"err\"; };\n");
	conf_defaults(&conf);
	snprintf(conf.path, sizeof(conf.path), "%s", conf_path);
	snprintf(conf.ctl.fifo, sizeof(conf.ctl.fifo), "%s", fifo_path);

	if (shm_create(8 << 20) < 0)
		exit(1);
	shm->started = time(NULL) - 100;
	shm->generation = 2;
	shm->log_level = LOG_LEVEL_ERR;
	proc_set(0, PROC_MASTER, 0, getpid(), PROC_RUNNING, 100, 0);
	proc_set(1, PROC_UDP, 0, 4241, PROC_RUNNING, 100, 0);
	proc_set(2, PROC_UDP, 1, 4242, PROC_RUNNING, 60, 2);
	proc_set(3, PROC_CTL, 0, 0, PROC_RUNNING, 100, 0);
	proc_set(7, PROC_TIMER, 0, 4247, PROC_DEAD, 10, 5);
	stat_add(STAT_CORE_RCV_REQUESTS, 12);
	stat_add(STAT_SL_2XX, 3);
}

/* ---- server start and the plain commands ---------------------------- */

static void test_start_replaces_stale_fifo(void)
{
	struct stat st;

	mkdir(run_dir, 0700);
	mkfifo(fifo_path, 0666);
	server_pid = server_fork();
	shm->procs[3].pid = server_pid;
	OK(server_ready(), "the server answers on a FIFO that replaced a stale one");
	OK(stat(fifo_path, &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0600,
	   "the FIFO has mode 0600");
}

static void test_ps(void)
{
	json_t *rows = result_of("ps"), *udp1, *timer;

	IS_INT(json_array_size(rows), 5, "ps lists every used slot");
	udp1 = json_array_get(rows, 2);
	IS_STR(str_of(udp1, "role"), "udp", "ps row role");
	IS_INT(int_of(udp1, "index"), 1, "ps row index");
	IS_INT(int_of(udp1, "pid"), 4242, "ps row pid");
	IS_INT(int_of(udp1, "generation"), 2, "ps row generation");
	IS_STR(str_of(udp1, "state"), "running", "ps row state");
	IS_INT(int_of(udp1, "restarts"), 2, "ps row restarts");
	OK(int_of(udp1, "uptime") >= 60 && int_of(udp1, "uptime") <= 62, "ps row uptime");
	timer = json_array_get(rows, 4);
	IS_STR(str_of(timer, "state"), "dead", "a dead slot is listed");
	IS_INT(int_of(timer, "uptime"), 0, "a dead slot has no uptime");
	IS_INT(int_of(json_array_get(rows, 3), "pid"), server_pid, "the ctl row");
}

static void test_stats(void)
{
	json_t *all = result_of("stats"), *one;
	unsigned nsl = 0;
	const char *key;
	json_t *v;
	bool only_sl = true;

	IS_INT(json_object_size(all), STAT_COUNT + stat_gauge_count(),
	       "stats lists every counter and gauge");
	IS_INT(int_of(all, "core.rcv_requests"), 12, "stats sums the counters");
	for (int id = 0; id < STAT_COUNT; id++)
		nsl += strncmp(stat_name((enum stat_id)id), "sl.", 3) == 0;
	one = result_of("stats sl");
	IS_INT(json_object_size(one), nsl, "stats GROUP lists that group");
	json_object_foreach(one, key, v)
		only_sl = only_sl && strncmp(key, "sl.", 3) == 0;
	OK(only_sl, "stats GROUP lists only that group");
	IS_INT(int_of(one, "sl.2xx_replies"), 3, "stats GROUP values");
	one = result_of("stats core.rcv_requests");
	IS_INT(json_object_size(one), 1, "stats NAME lists one counter");
	IS_INT(int_of(one, "core.rcv_requests"), 12, "stats NAME value");
	HAS_STR(error_of("stats bogus"), "unknown statistics group 'bogus' (groups: core, sl,",
		"stats with an unknown group is an error naming the groups");
}

static void test_shm_uptime_version(void)
{
	struct shm_usage u;
	json_t *r;

	shm_usage(&u);
	r = result_of("shm");
	IS_INT(int_of(r, "size"), u.size, "shm size");
	OK(json_is_integer(json_object_get(r, "used")) &&
	   json_is_integer(json_object_get(r, "free")) &&
	   json_is_integer(json_object_get(r, "allocs")), "shm used, free, allocs");
	r = result_of("uptime");
	OK(int_of(r, "uptime") >= 100 && int_of(r, "uptime") <= 102, "uptime in seconds");
	OK(str_of(r, "up_since") && strlen(str_of(r, "up_since")) >= 19, "uptime up_since");
	OK(str_of(r, "now") != NULL, "uptime now");
	r = result_of("version");
	IS_STR(str_of(r, "pinhole"), PINHOLE_VERSION, "version of pinhole");
	IS_STR(str_of(r, "jansson"), jansson_version_str(), "version of jansson");
}

static void test_log_level(void)
{
	json_t *r;

	IS_STR(str_of(result_of("log level"), "level"), "err", "log level shows the level");
	r = result_of("log level debug");
	IS_STR(str_of(r, "level"), "debug", "log level LEVEL answers the new level");
	IS_STR(str_of(r, "previous"), "err", "and the previous one");
	IS_INT(shm->log_level, LOG_LEVEL_DBG, "log level LEVEL sets shm->log_level");
	IS_STR(str_of(result_of("log level"), "level"), "debug", "the new level is shown");
	IS_STR(error_of("log level loud"),
	       "unknown log level 'loud' (allowed: err, warn, info, debug)",
	       "a bad level lists the allowed ones");
	IS_INT(shm->log_level, LOG_LEVEL_DBG, "a bad level changes nothing");
	result_of("log level err");
	IS_INT(shm->log_level, LOG_LEVEL_ERR, "log level err");
}

static void test_help(void)
{
	json_t *rows = result_of("help"), *row;
	bool stats = false, log = false;
	size_t i;

	IS_INT(json_array_size(rows), ctl_command_count, "help lists every command");
	json_array_foreach(rows, i, row) {
		stats = stats || strcmp(str_of(row, "usage"), "stats [GROUP]") == 0;
		log = log || strcmp(str_of(row, "usage"), "log level [LEVEL]") == 0;
	}
	OK(stats && log, "help shows usages");
	OK(str_of(json_array_get(rows, 0), "description") != NULL, "help has descriptions");
}

static void test_unknown_and_arity(void)
{
	IS_STR(error_of("frobnicate"), "unknown command 'frobnicate' (try 'help')",
	       "unknown command");
	IS_STR(error_of("log"), "unknown command 'log' (try 'help')", "half a command");
	IS_STR(error_of("ps now"), "wrong number of arguments; usage: ps", "ps takes none");
	IS_STR(error_of("stats a b"), "wrong number of arguments; usage: stats [GROUP]",
	       "stats takes at most one");
	IS_STR(error_of("log level a b"),
	       "wrong number of arguments; usage: log level [LEVEL]", "log level takes one");
}

/* ---- raw lines in the FIFO ------------------------------------------ */

static void raw_write(const char *text, size_t len)
{
	int fd = open(fifo_path, O_WRONLY);

	if (write(fd, text, len) != (ssize_t)len)
		tap_diag("raw write failed");
	close(fd);
}

static void raw_line(const char *fmt, const char *arg)
{
	char line[512];
	int n = snprintf(line, sizeof(line), fmt, arg);

	raw_write(line, (size_t)n);
}

/* A reply FIFO of the test's own, open for reading. */
static int reply_fifo(const char *name, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", dir, name);
	mkfifo(path, 0600);
	return open(path, O_RDONLY | O_NONBLOCK);
}

/* Everything a server wrote to fd and closed (after it was served). */
static json_t *reply_take(int fd)
{
	char buf[8192];
	ssize_t n = read(fd, buf, sizeof(buf));

	return n > 0 ? json_loadb(buf, (size_t)n, 0, NULL) : NULL;
}

static void test_garbage_lines(void)
{
	uint64_t errors = stat_get(STAT_CTL_ERRORS), requests = stat_get(STAT_CTL_REQUESTS);
	char plain[128], quiet[128], bad[128], buf[64];
	char *big = malloc(6000);
	int quiet_fd = reply_fifo("quiet.fifo", quiet, sizeof(quiet));
	int bad_fd = reply_fifo("bad.fifo", bad, sizeof(bad));
	struct pollfd pfd = { .fd = quiet_fd, .events = POLLIN };
	json_t *r;
	FILE *f;
	int n;

	snprintf(plain, sizeof(plain), "%s/plain.txt", dir);
	file_write(plain, "keep me\n");
	raw_line("hello, world%s\n", "");
	raw_line("{\"cmd\": \"ps\"}%s\n", "");
	raw_line("[1, 2]%s\n", "");
	raw_line("{\"cmd\": \"ps\", \"reply\": \"%s\"}\n", plain);
	raw_line("{\"cmd\": \"ps\", \"reply\": \"%s\"}\n", "relative/reply.fifo");
	n = snprintf(big, 6000, "{\"cmd\": \"stats\", \"reply\": \"%s\", \"args\": [\"", quiet);
	memset(big + n, 'x', 5000 - (size_t)n);
	memcpy(big + 5000, "\"]}\n", 4);
	raw_write(big, 5004);
	raw_line("{\"cmd\": 5, \"reply\": \"%s\"}\n", bad);

	OK(result_of("version") != NULL, "the server goes on after garbage");
	IS_INT(stat_get(STAT_CTL_ERRORS) - errors, 7, "every bad line counts in ctl.errors");
	IS_INT(stat_get(STAT_CTL_REQUESTS) - requests, 8, "and in ctl.requests");
	f = fopen(plain, "r");
	OK(f && fgets(buf, sizeof(buf), f) && strcmp(buf, "keep me\n") == 0 &&
	   !fgets(buf, sizeof(buf), f), "a regular file as reply path is never written");
	if (f)
		fclose(f);
	IS_INT(poll(&pfd, 1, 0), 0, "an over-long request gets no answer");
	r = reply_take(bad_fd);
	OK(json_is_false(json_object_get(r, "ok")), "a bad field gets an error answer");
	IS_STR(str_of(r, "error"), "bad request: \"cmd\" must be a non-empty string",
	       "naming the field");
	json_decref(r);
	close(quiet_fd);
	close(bad_fd);
	unlink(quiet);
	unlink(bad);
	free(big);
}

static void test_split_line(void)
{
	char path[128], line[512];
	int fd = reply_fifo("split.fifo", path, sizeof(path));
	int wfd = open(fifo_path, O_WRONLY), n;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	json_t *r;

	n = snprintf(line, sizeof(line), "{\"cmd\": \"log\", \"args\": [\"level\"], \"reply\": \"%s\"}\n",
		     path);
	if (write(wfd, line, 10) != 10)
		tap_diag("write failed");
	poll(NULL, 0, 100);
	if (write(wfd, line + 10, (size_t)n - 10) != n - 10)
		tap_diag("write failed");
	close(wfd);
	poll(&pfd, 1, 3000);
	r = reply_take(fd);
	IS_STR(str_of(json_object_get(r, "result"), "level"), "err",
	       "a request written in two pieces is served once complete");
	json_decref(r);
	close(fd);
	unlink(path);
}

/* A client that sends a request and exits without reading the answer. */
static void test_client_gone(void)
{
	char path[128];
	int64_t t0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/gone.fifo", dir);
	pid = fork();
	if (pid == 0) {
		int fd;

		mkfifo(path, 0600);
		fd = open(path, O_RDONLY | O_NONBLOCK);
		raw_line("{\"cmd\": \"help\", \"reply\": \"%s\"}\n", path);
		_exit(fd < 0);
	}
	waitpid(pid, NULL, 0);
	t0 = ctl_now_ms();
	OK(result_of("ps") != NULL, "the next client is served");
	OK(ctl_now_ms() - t0 < 1500, "within the reply deadline");
	unlink(path);
}

/* A client that keeps its reply FIFO open but never reads. */
static void test_client_never_reads(void)
{
	char path[128];
	int fd = reply_fifo("idle.fifo", path, sizeof(path));
	int64_t t0;

	raw_line("{\"cmd\": \"help\", \"reply\": \"%s\"}\n", path);
	t0 = ctl_now_ms();
	OK(result_of("ps") != NULL, "a client that never reads blocks nobody");
	OK(ctl_now_ms() - t0 < 1500, "not even for the reply deadline");
	close(fd);
	unlink(path);
}

static void test_reply_send(void)
{
	char path[128], plain[128];
	size_t len = 256 << 10;
	char *data = calloc(1, len);
	int fd = reply_fifo("slow.fifo", path, sizeof(path));
	int64_t t0 = ctl_now_ms(), dt;
	struct stat st;

	IS_INT(ctl_reply_send(path, data, len, 300), -ETIMEDOUT,
	       "a reader that does not drain the answer times out");
	dt = ctl_now_ms() - t0;
	OK(dt >= 250 && dt < 1500, "after the deadline (%lld ms)", (long long)dt);
	close(fd);
	IS_INT(ctl_reply_send(path, "{}", 2, 300), -ENXIO, "no reader: ENXIO at once");
	unlink(path);
	snprintf(plain, sizeof(plain), "%s/plain2.txt", dir);
	file_write(plain, "");
	IS_INT(ctl_reply_send(plain, "{}", 2, 300), -EINVAL, "a regular file is refused");
	OK(stat(plain, &st) == 0 && st.st_size == 0, "and not written");
	free(data);
}

/* ---- reload --------------------------------------------------------- */

static volatile sig_atomic_t hups;

static void on_hup(int sig)
{
	hups++;
}

/* A stand-in for the master: on SIGHUP it publishes status and error,
 * bumps the generation when status is 0, then bumps reload_seq. */
static pid_t fake_master(int status, const char *error)
{
	int ready[2];
	pid_t pid;
	char c;

	if (pipe(ready) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_hup };
		sigset_t block, none;
		int done = 0;

		sigemptyset(&none);
		sigemptyset(&block);
		sigaddset(&block, SIGHUP);
		sigprocmask(SIG_BLOCK, &block, NULL);
		sigaction(SIGHUP, &sa, NULL);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;) {
			sigsuspend(&none);
			for (; done < hups; done++) {
				if (status == 0)
					shm->generation++;
				snprintf(shm->reload_error, sizeof(shm->reload_error), "%s", error);
				__atomic_store_n(&shm->reload_status, status, __ATOMIC_RELEASE);
				__atomic_add_fetch(&shm->reload_seq, 1, __ATOMIC_RELEASE);
			}
		}
	}
	if (read(ready[0], &c, 1) != 1)
		tap_diag("fake master did not start");
	close(ready[0]);
	close(ready[1]);
	return pid;
}

static void fake_master_end(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_reload_ok(void)
{
	pid_t master = fake_master(0, "");
	uint32_t gen = shm->generation;

	shm->master_pid = master;
	IS_INT(int_of(result_of("reload"), "generation"), gen + 1,
	       "reload answers the master's new generation");
	fake_master_end(master);
}

static void test_reload_refused_by_master(void)
{
	pid_t master = fake_master(-EINVAL, "pinhole.conf:3: workers.udp: out of range 1..64");

	shm->master_pid = master;
	IS_STR(error_of("reload"), "reload failed: pinhole.conf:3: workers.udp: out of range 1..64",
	       "reload answers the master's reasons");
	fake_master_end(master);
}

static void test_reload_invalid_config(void)
{
	pid_t master = fake_master(0, "");
	uint32_t seq = shm->reload_seq;
	const char *err;

	shm->master_pid = master;
	file_write(conf_path, "no_such_option = 1;\n");
	err = error_of("reload");
	HAS_STR(err, "is invalid, nothing reloaded", "an invalid config is refused");
	HAS_STR(err, "no_such_option: unknown key", "with the reasons");
	IS_INT(shm->reload_seq, seq, "and the master is not signalled");
	file_write(conf_path, "log = { level = \"err\"; };\n");
	fake_master_end(master);
	shm->master_pid = 0;
	HAS_STR(error_of("reload"), "pid is unknown", "no master pid: an error, no kill(0)");
}

/* ---- the client's failures ------------------------------------------ */

static bool reply_fifos_left(void)
{
	char pattern[64];
	glob_t g;
	bool left;

	snprintf(pattern, sizeof(pattern), "/tmp/pinholectl.%d.*", (int)getpid());
	left = glob(pattern, 0, NULL, &g) == 0;
	globfree(&g);
	return left;
}

static int request_to(const char *path, int timeout_ms, char *err, size_t errlen)
{
	char *argv[] = { "ps" };
	json_t *reply = NULL;
	int rc = ctl_request(path, 1, argv, timeout_ms, &reply, err, errlen);

	json_decref(reply);
	return rc;
}

static void test_client_unreachable(void)
{
	char path[128], want[256], err[512];

	snprintf(path, sizeof(path), "%s/none.fifo", dir);
	IS_INT(request_to(path, 1000, err, sizeof(err)), -ENOENT, "no FIFO: ENOENT");
	snprintf(want, sizeof(want), "no FIFO at %s (is pinhole running?)", path);
	IS_STR(err, want, "no FIFO: message");
	mkfifo(path, 0600);
	IS_INT(request_to(path, 1000, err, sizeof(err)), -ENXIO, "no reader: ENXIO");
	snprintf(want, sizeof(want), "pinhole is not running: no reader on FIFO %s", path);
	IS_STR(err, want, "no reader: message");
	unlink(path);
	IS_INT(request_to(conf_path, 1000, err, sizeof(err)), -EINVAL, "not a FIFO: EINVAL");
	OK(!reply_fifos_left(), "no reply FIFO is left behind");
}

static void test_client_timeout(void)
{
	char path[128], err[512], buf[8192];
	char *argv[] = { "stats", "core" };
	json_t *req, *reply = NULL;
	int fd, rc;
	int64_t t0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/silent.fifo", dir);
	mkfifo(path, 0600);
	fd = open(path, O_RDWR | O_NONBLOCK);
	t0 = ctl_now_ms();
	rc = ctl_request(path, 2, argv, 200, &reply, err, sizeof(err));
	IS_INT(rc, -ETIMEDOUT, "a silent server: ETIMEDOUT");
	OK(ctl_now_ms() - t0 >= 190 && ctl_now_ms() - t0 < 1500, "after the timeout");
	HAS_STR(err, "no answer from pinhole within 200 ms", "timeout message");
	OK(!reply_fifos_left(), "the reply FIFO is removed after a timeout");
	n = read(fd, buf, sizeof(buf));
	OK(n > 0 && buf[n - 1] == '\n' && memchr(buf, '\n', (size_t)n) == buf + n - 1,
	   "the request is one line");
	req = n > 0 ? json_loadb(buf, (size_t)n, 0, NULL) : NULL;
	IS_STR(str_of(req, "cmd"), "stats", "request cmd");
	IS_STR(json_string_value(json_array_get(json_object_get(req, "args"), 0)), "core",
	       "request args");
	HAS_STR(str_of(req, "reply"), "/tmp/pinholectl.", "request reply path");
	json_decref(req);
	close(fd);
	unlink(path);
}

static void test_client_interrupted(void)
{
	struct sigaction sa = { .sa_handler = on_sigint }, old;
	char path[128], err[512];
	int fd;
	int64_t t0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/silent2.fifo", dir);
	mkfifo(path, 0600);
	fd = open(path, O_RDWR | O_NONBLOCK);
	sigaction(SIGINT, &sa, &old);
	pid = fork();
	if (pid == 0) {
		poll(NULL, 0, 150);
		kill(getppid(), SIGINT);
		_exit(0);
	}
	t0 = ctl_now_ms();
	IS_INT(request_to(path, 5000, err, sizeof(err)), -EINTR, "SIGINT ends the wait: EINTR");
	OK(ctl_now_ms() - t0 < 2000, "at once");
	OK(got_sigint, "the caller's handler saw the signal");
	OK(!reply_fifos_left(), "the reply FIFO is removed when interrupted");
	waitpid(pid, NULL, 0);
	sigaction(SIGINT, &old, NULL);
	close(fd);
	unlink(path);
}

static void test_client_too_long(void)
{
	char *big = malloc(5000), err[512];
	char *argv[] = { "stats", big };
	json_t *reply = NULL;

	memset(big, 'x', 4999);
	big[4999] = '\0';
	IS_INT(ctl_request(fifo_path, 2, argv, 1000, &reply, err, sizeof(err)), -E2BIG,
	       "a request over 4096 bytes is refused by the client");
	OK(!reply_fifos_left(), "no reply FIFO left");
	free(big);
}

/* ---- setup failures, overlap, stop ---------------------------------- */

static void test_run_refuses_non_fifo(void)
{
	static struct pinhole_conf c;
	volatile sig_atomic_t stop = 0;
	struct stat st;

	c = conf;
	snprintf(c.ctl.fifo, sizeof(c.ctl.fifo), "%s", conf_path);
	IS_INT(ctl_run(&c, &stop), -EEXIST, "ctl_run refuses a path that is not a FIFO");
	OK(stat(conf_path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0,
	   "and leaves that file alone");
}

static void test_run_makes_parent(void)
{
	static struct pinhole_conf c;
	volatile sig_atomic_t stop = 1;
	char sub[128];
	struct stat st;

	c = conf;
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(c.ctl.fifo, sizeof(c.ctl.fifo), "%s/ctl.fifo", sub);
	IS_INT(ctl_run(&c, &stop), 0, "ctl_run with the stop flag set returns 0");
	OK(stat(sub, &st) == 0 && (st.st_mode & 0777) == 0700, "the parent is made 0700");
	OK(lstat(c.ctl.fifo, &st) < 0 && errno == ENOENT, "the FIFO is removed at exit");
	rmdir(sub);
}

/* A second server takes the FIFO over (as a new generation would); the
 * first one must not remove the successor's FIFO when it stops. */
static void test_overlap(void)
{
	struct stat st;
	ino_t first;
	pid_t second;

	lstat(fifo_path, &st);
	first = st.st_ino;
	second = server_fork();
	for (int i = 0; i < 300 && lstat(fifo_path, &st) == 0 && st.st_ino == first; i++)
		poll(NULL, 0, 10);
	OK(st.st_ino != first, "a second server replaces the FIFO");
	IS_INT(server_stop(server_pid), 0, "the first server stops cleanly");
	OK(lstat(fifo_path, &st) == 0 && S_ISFIFO(st.st_mode),
	   "without removing its successor's FIFO");
	OK(result_of("version") != NULL, "the successor serves");
	server_pid = second;
	shm->procs[3].pid = second;
}

static void test_stop(void)
{
	int64_t t0 = ctl_now_ms();
	struct stat st;

	IS_INT(server_stop(server_pid), 0, "the stop flag ends ctl_run with 0");
	OK(ctl_now_ms() - t0 < 1500, "within a poll period");
	OK(lstat(fifo_path, &st) < 0 && errno == ENOENT, "the FIFO is removed");
}

/* ---- text rendering ------------------------------------------------- */

static void render_is(const char *json, const char *want, const char *what)
{
	json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	IS_INT(ctl_render_text(v, out), 0, "%s: rendered", what);
	fclose(out);
	IS_STR(text, want, "%s", what);
	free(text);
	json_decref(v);
}

static void test_render(void)
{
	render_is("[{\"role\": \"master\", \"index\": 0, \"pid\": 100, \"generation\": 1,"
		  "  \"state\": \"running\", \"uptime\": 3600, \"restarts\": 0},"
		  " {\"role\": \"udp\", \"index\": 1, \"pid\": 12345, \"generation\": 2,"
		  "  \"state\": \"running\", \"uptime\": 60, \"restarts\": 2}]",
		  "ROLE    INDEX    PID  GENERATION  STATE    UPTIME  RESTARTS\n"
		  "master      0    100           1  running    3600         0\n"
		  "udp         1  12345           2  running      60         2\n",
		  "ps as a table");
	render_is("{\"core.rcv_requests\": 12, \"sl.2xx_replies\": 3, \"ctl.errors\": 0}",
		  "core.rcv_requests: 12\n"
		  "sl.2xx_replies:    3\n"
		  "ctl.errors:        0\n",
		  "stats as aligned lines");
	render_is("{\"a\": {\"b\": true}, \"list\": [1, \"x\"], \"rows\": [{\"n\": 1}],"
		  " \"empty\": [], \"none\": null}",
		  "a:\n"
		  "  b: true\n"
		  "list:  1, x\n"
		  "rows:\n"
		  "  N\n"
		  "  1\n"
		  "empty: (none)\n"
		  "none:  -\n",
		  "nested values");
	render_is("[]", "(none)\n", "an empty list");
	render_is("[\"a\", \"b\"]", "a\nb\n", "a list of strings");
	render_is("\"just text\"", "just text\n", "a string");
}

static void cleanup(void)
{
	static const char *const files[] = { "plain.txt", "plain2.txt", "pinhole.conf" };
	char path[192];

	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(run_dir);
	rmdir(dir);
}

int main(void)
{
	setup();
	test_render();
	test_run_refuses_non_fifo();
	test_run_makes_parent();
	test_start_replaces_stale_fifo();
	test_ps();
	test_stats();
	test_shm_uptime_version();
	test_log_level();
	test_help();
	test_unknown_and_arity();
	test_garbage_lines();
	test_split_line();
	test_client_gone();
	test_client_never_reads();
	test_reply_send();
	test_reload_ok();
	test_reload_refused_by_master();
	test_reload_invalid_config();
	test_client_unreachable();
	test_client_timeout();
	test_client_interrupted();
	test_client_too_long();
	test_overlap();
	test_stop();
	json_decref(last_reply);
	cleanup();
	return tap_done();
}
