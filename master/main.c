/*
 * main.c — the pinhole master: command line, startup, and the supervision
 * loop.
 *
 * Startup: load and validate the config, detach (unless -F), write the pid
 * file, bind every listen socket, create the shared memory segment, drop
 * privileges, fork the children. Then the master sleeps with all signals
 * unblocked; the handlers only set flags, and the loop acts on them:
 * SIGCHLD → reap and schedule respawns, SIGHUP → reload, SIGTERM/SIGINT →
 * graceful stop. The master never takes a shared-memory lock.
 */
#include "master.h"
#include "../db/db.h"
#include "../relay/relay.h"
#include "../sip/sip.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t master_got_chld, master_got_hup, master_got_term;

static void on_signal(int sig)
{
	if (sig == SIGCHLD)
		master_got_chld = 1;
	else if (sig == SIGHUP)
		master_got_hup = 1;
	else
		master_got_term = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pinhole -f FILE [-F]     start (-F: stay in the foreground)\n"
		   "       pinhole -c -f FILE       check the configuration and exit\n"
		   "       pinhole -V               print the version\n");
}

/* Blocks the signals the master handles; they are delivered only while it
 * sleeps in ppoll (the timed sigsuspend). */
static void master_signals(sigset_t *sleep_mask)
{
	struct sigaction sa = { .sa_handler = on_signal };
	static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < ARRAY_LEN(sigs); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigprocmask(SIG_BLOCK, &block, sleep_mask);
	sigdelset(sleep_mask, SIGCHLD);
	sigdelset(sleep_mask, SIGHUP);
	sigdelset(sleep_mask, SIGTERM);
	sigdelset(sleep_mask, SIGINT);
}

static int check_config(const char *path)
{
	struct pinhole_conf *c = malloc(sizeof(*c));
	struct conf_errors *errs = calloc(1, sizeof(*errs));
	int rc = 1;

	char err[512];

	if (c && errs && conf_load(path, c, errs) == 0) {
		if (stream_tls_check(c, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s\n%s: configuration invalid\n", path, err, path);
		} else {
			printf("%s: configuration OK\n", path);
			rc = 0;
		}
	} else if (errs) {
		fputs(errs->text, stderr);
		fprintf(stderr, "%s: %u problem(s); configuration invalid\n", path, errs->count);
	}
	free(c);
	free(errs);
	return rc;
}

static void sleep_until_signal(struct master *m, const sigset_t *mask)
{
	int64_t next = procs_next_deadline(m), now = master_now_ms();
	int64_t wait_ms = 1000;
	struct timespec ts;

	if (next >= 0 && next - now < wait_ms)
		wait_ms = next > now ? next - now : 0;
	if (m->state == MS_STOPPING && m->stop_deadline_ms - now < wait_ms)
		wait_ms = m->stop_deadline_ms > now ? m->stop_deadline_ms - now : 0;
	ts.tv_sec = wait_ms / 1000;
	ts.tv_nsec = (wait_ms % 1000) * 1000000;
	ppoll(NULL, 0, &ts, mask);
}

static void begin_stop(struct master *m)
{
	LOG_INFO("stopping: asking %u process(es) to finish", procs_alive(m));
	m->state = MS_STOPPING;
	m->stop_deadline_ms = master_now_ms() + 15000;
	procs_stop_all(m);
}

/* A child died inside Berkeley DB and failchk panicked the environment:
 * every other process's DB calls now fail. Stop them all; db_recover runs
 * recovery once they are gone. Shared memory (and so every binding) is
 * untouched. */
static void begin_db_recovery(struct master *m)
{
	LOG_ERR("stopping every process to recover the database environment");
	m->state = MS_DB_RECOVERY;
	m->db_panicked = false;
	procs_stop_all(m);
}

static void db_recover(struct master *m)
{
	char err[512];
	int64_t t0 = master_now_ms();

	pdb_close();
	if (pdb_open(m->conf->db.path, PDB_RECOVER, err, sizeof(err)) < 0) {
		LOG_ERR("database recovery failed: %s; stopping", err);
		m->state = MS_STOPPING;
		return;
	}
	pdb_close();
	if (pdb_open(m->conf->db.path, 0, err, sizeof(err)) < 0)
		LOG_WARN("no database handle for failchk: %s", err);
	LOG_INFO("database recovered in %lld ms; starting generation %u",
		 (long long)(master_now_ms() - t0), m->generation + 1);
	m->state = MS_RUNNING;
	m->generation++;
	shm->generation = m->generation;
	shm->procs[0].generation = m->generation;
	procs_start_generation(m);
}

static int supervise(struct master *m, const sigset_t *mask)
{
	for (;;) {
		if (master_got_chld) {
			master_got_chld = 0;
			procs_reap(m);
		}
		if (master_got_term && m->state != MS_STOPPING) {
			master_got_term = 0;
			begin_stop(m);
		}
		if (m->db_panicked && m->state == MS_RUNNING)
			begin_db_recovery(m);
		if (m->state == MS_DB_RECOVERY && procs_alive(m) == 0)
			db_recover(m);
		if (master_got_hup) {
			master_got_hup = 0;
			if (m->state == MS_RUNNING)
				master_reload(m);
		}
		log_set_level(shm->log_level);
		procs_respawn_due(m);
		procs_kill_overdue(m);
		if (m->state == MS_STOPPING && procs_alive(m) == 0)
			return 0;
		sleep_until_signal(m, mask);
	}
}

struct load_count {
	long records;
	long bindings;
	int64_t now;
};

static int load_one(const void *val, size_t len, void *arg)
{
	struct load_count *lc = arg;
	int n = loc_unpack_put(val, len, lc->now);

	lc->records++;
	if (n > 0)
		lc->bindings += n;
	else if (n < 0)
		LOG_WARN("location record %ld skipped: %s", lc->records, strerror(-n));
	return 0;
}

/* Shared tables, then Berkeley DB: recovery (no other process can use the
 * environment yet) and the still-valid bindings loaded into shm. The
 * master's handle is closed before it forks (a handle never crosses fork)
 * and reopened afterwards only for failchk. */
static int tables_and_db(struct master *m, char *err, size_t errlen)
{
	struct load_count lc = { .now = time(NULL) };
	int64_t t0 = master_now_ms();
	int rc;

	if ((rc = loc_init(0)) < 0 || (rc = sip_auth_init(65536)) < 0 ||
	    (rc = tm_init(m->conf->tm.max_transactions)) < 0) {
		snprintf(err, errlen, "shared tables: %s (raise shm_size)", strerror(-rc));
		return rc;
	}
	loc_set_write_back(m->conf->db.location == CONF_LOC_WRITE_BACK);
	if ((rc = pdb_open(m->conf->db.path, PDB_RECOVER, err, errlen)) < 0)
		return rc;
	if (m->conf->db.location != CONF_LOC_MEMORY) {
		long n = pdb_location_load(load_one, &lc);

		if (n < 0) {
			LOG_ERR("loading bindings from %s: %s", m->conf->db.path,
				strerror((int)-n));
			snprintf(err, errlen, "cannot load the location database");
			pdb_close();
			return (int)n;
		}
		LOG_INFO("loaded %ld bindings of %ld AORs from %s in %lld ms", lc.bindings,
			 lc.records, m->conf->db.path, (long long)(master_now_ms() - t0));
	}
	pdb_close();
	return 0;
}

/* The relay's session table and sockets (every relay port and the control
 * socket), bound once here so that every generation of relay workers
 * serves the same ones; none without relay workers at start. */
static int relay_start(const struct pinhole_conf *conf, char *err, size_t errlen)
{
	int rc;

	if (conf->workers.relay == 0)
		return 0;
	if ((rc = relay_init(conf)) < 0) {
		snprintf(err, errlen, "relay table: %s (raise shm_size)", strerror(-rc));
		return rc;
	}
	return relay_ports_open(conf, err, errlen);
}

static int startup(struct master *m, char *err, size_t errlen)
{
	int rc;

	if (!m->foreground && (rc = daemonize(&m->ready_fd)) < 0) {
		snprintf(err, errlen, "daemonize: %s", strerror(-rc));
		return rc;
	}
	if ((rc = pidfile_create(m->conf->pid_file, err, errlen)) < 0)
		return rc;
	if ((rc = listen_open_all(m->conf, &m->listens, err, errlen)) < 0)
		return rc;
	if ((rc = stream_tls_check(m->conf, err, errlen)) < 0)
		return rc;
	if ((rc = shm_create(m->conf->shm_size)) < 0) {
		snprintf(err, errlen, "shared memory of %llu bytes: %s",
			 (unsigned long long)m->conf->shm_size, strerror(-rc));
		return rc;
	}
	if ((rc = tables_and_db(m, err, errlen)) < 0)
		return rc;
	if ((rc = relay_start(m->conf, err, errlen)) < 0)
		return rc;
	if ((rc = db_dir_owner(m->conf->db.path, m->conf->user, err, errlen)) < 0)
		return rc;
	if ((rc = runtime_dir(m->conf->ctl.fifo, m->conf->user, err, errlen)) < 0)
		return rc;
	if ((rc = drop_privileges(m->conf->user, m->conf->group, err, errlen)) < 0)
		return rc;
	shm->master_pid = getpid();
	shm->generation = m->generation;
	shm->log_level = m->conf->log.level;
	shm->procs[0] = (struct proc_entry){ .pid = getpid(), .role = PROC_MASTER,
					     .generation = m->generation,
					     .state = PROC_RUNNING, .started = time(NULL),
					     .first_started = time(NULL) };
	shm_stats_bind(0);
	return 0;
}

static int run(const char *path, bool foreground)
{
	struct master m = { .foreground = foreground, .generation = 1, .ready_fd = -1 };
	struct conf_errors *errs = calloc(1, sizeof(*errs));
	char err[512] = "";
	sigset_t mask;
	int rc;

	m.conf = malloc(sizeof(*m.conf));
	if (!m.conf || !errs || conf_load(path, m.conf, errs) < 0) {
		fputs(errs ? errs->text : "out of memory\n", stderr);
		rc = 1;
		goto out;
	}
	log_set_level(m.conf->log.level);
	log_set_target_syslog(m.conf->log.syslog);
	log_set_role("master", -1);
	master_signals(&mask);
	if (startup(&m, err, sizeof(err)) < 0) {
		LOG_ERR("cannot start: %s", err);
		daemon_ready(&m.ready_fd, 1);
		rc = 1;
		goto out;
	}
	LOG_INFO("pinhole %s starting with %s", PINHOLE_VERSION, path);
	procs_start_generation(&m);
	if (pdb_open(m.conf->db.path, 0, err, sizeof(err)) < 0)
		LOG_WARN("no database handle for failchk: %s", err);
	daemon_ready(&m.ready_fd, 0);
	rc = supervise(&m, &mask);
	pdb_close();
	pidfile_remove(m.conf->pid_file);
	listen_close_all(&m.listens);
	relay_ports_close();
	LOG_INFO("stopped");
out:
	free(m.conf);
	free(errs);
	return rc;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool check = false, foreground = false;
	int opt;

	while ((opt = getopt(argc, argv, "f:cFVh")) != -1) {
		switch (opt) {
		case 'f': path = optarg; break;
		case 'c': check = true; break;
		case 'F': foreground = true; break;
		case 'V': printf("pinhole %s\n", PINHOLE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	return check ? check_config(path) : run(path, foreground);
}
