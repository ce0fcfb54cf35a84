/*
 * child.c — what a freshly forked child does before its role's loop:
 * name itself for the log, die with the master, take over the signal
 * handling of a child (SIGTERM = finish gracefully), bind its statistics
 * row, then run its loop and exit with the loop's status.
 */
#include "master.h"
#include "../db/db.h"
#include "../ctl/ctl.h"
#include "../relay/relay.h"
#include "../timer/timer.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

static volatile sig_atomic_t child_stop;

static void on_term(int sig)
{
	child_stop = 1;
}

static void child_signals(void)
{
	struct sigaction sa = { .sa_handler = on_term };
	sigset_t none;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);  /* Ctrl-C reaches the master's group */
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* A FIFO path taken by something else or invalid will not fix itself:
 * exit 2 so the master does not respawn in a loop. */
static int ctl_exit_status(int rc)
{
	if (rc == -EEXIST || rc == -EINVAL || rc == -ENOTDIR)
		return 2;
	return rc < 0 ? 1 : 0;
}

/* Every role but the relay reads or writes Berkeley DB. */
static int open_db(const struct pinhole_conf *conf, uint8_t role)
{
	char err[512];

	if (role == PROC_RELAY)
		return 0;
	if (pdb_open(conf->db.path, 0, err, sizeof(err)) < 0) {
		LOG_ERR("%s", err);
		return -1;
	}
	return 0;
}

static int run_role(struct master *m, const struct proc_entry *pe)
{
	struct worker_args wa = { .conf = m->conf, .listens = &m->listens,
				  .listen_index = pe->listen, .stop = &child_stop };

	switch (pe->role) {
	case PROC_UDP:
		return udp_worker_run(&wa);
	case PROC_TCP:
	case PROC_TLS:
		return stream_worker_run(&wa);
	case PROC_TIMER:
		return timer_run(m->conf, &m->listens, &child_stop);
	case PROC_RELAY:
		return relay_worker_run(m->conf, pe->index, &child_stop);
	case PROC_CTL:
		return ctl_exit_status(ctl_run(m->conf, &child_stop));
	default:
		LOG_ERR("slot with unknown role %u", pe->role);
		return 2;
	}
}

void child_main(struct master *m, unsigned slot)
{
	const struct proc_entry *pe = &shm->procs[slot];

	log_set_role(proc_role_name(pe->role), pe->index);
	if (m->ready_fd >= 0)
		close(m->ready_fd);
	child_signals();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != shm->master_pid)
		_exit(0);
	shm_stats_bind(slot);
	tm_sockets_set(m->listens.fd, CONF_MAX_LISTEN);
	if (open_db(m->conf, pe->role) < 0)
		exit(1);
	int status = run_role(m, pe);
	pdb_close();
	exit(status);
}
