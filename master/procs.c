/*
 * procs.c — the process table: which children should run, forking them,
 * reaping them, respawning crashed ones with backoff, retiring an old
 * generation after a reload.
 *
 * Only the master writes shm->procs (plain stores, no locks). Slot 0 is
 * the master itself. A slot keeps its statistics row when its process is
 * respawned, so counters survive crashes.
 */
#include "master.h"
#include "../db/db.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MAX_MS 30000
#define STABLE_AFTER_S 10       /* a child that lived this long crashed "once" */
#define GRACE_MS 10000          /* SIGTERM → SIGKILL */

int64_t master_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_s(void)
{
	return (int64_t)time(NULL);
}

static int spawn(struct master *m, unsigned slot)
{
	struct proc_entry *pe = &shm->procs[slot];
	pid_t pid = fork();

	if (pid < 0) {
		LOG_ERR("fork %s#%u: %s", proc_role_name(pe->role), pe->index, strerror(errno));
		pe->state = PROC_DEAD;
		m->priv[slot].respawn_at_ms = master_now_ms() + 1000;
		return -errno;
	}
	if (pid == 0)
		child_main(m, slot);
	pe->pid = pid;
	pe->started = wall_s();
	pe->state = PROC_RUNNING;
	LOG_DBG("started %s#%u pid %d generation %u", proc_role_name(pe->role),
		pe->index, (int)pid, pe->generation);
	return 0;
}

static int slot_new(struct master *m, enum proc_role role, unsigned index,
		    unsigned listen)
{
	for (unsigned s = 1; s < SHM_MAX_PROCS; s++) {
		struct proc_entry *pe = &shm->procs[s];

		if (pe->state != PROC_FREE)
			continue;
		*pe = (struct proc_entry){ .role = role, .index = (uint16_t)index,
					   .listen = listen, .generation = m->generation,
					   .state = PROC_STARTING, .first_started = wall_s() };
		m->priv[s] = (struct slot_priv){ 0 };
		return (int)s;
	}
	LOG_ERR("process table full (%u slots): %s#%u not started", SHM_MAX_PROCS,
		proc_role_name(role), index);
	return -ENOSPC;
}

static int start(struct master *m, enum proc_role role, unsigned index, unsigned listen)
{
	int s = slot_new(m, role, index, listen);

	return s < 0 ? s : spawn(m, (unsigned)s);
}

static bool ctl_running(void)
{
	for (unsigned s = 1; s < SHM_MAX_PROCS; s++)
		if (shm->procs[s].role == PROC_CTL && shm->procs[s].state != PROC_FREE &&
		    shm->procs[s].state != PROC_RETIRING)
			return true;
	return false;
}

static unsigned workers_for(const struct pinhole_conf *c, uint8_t proto)
{
	return proto == CONF_PROTO_UDP ? c->workers.udp
	     : proto == CONF_PROTO_TCP ? c->workers.tcp : c->workers.tls;
}

/* Starts every process the current config asks for, under m->generation.
 * The ctl process is not generation-bound: it is started once and keeps
 * its FIFO across reloads. */
int procs_start_generation(struct master *m)
{
	const struct pinhole_conf *c = m->conf;
	static const uint8_t roles[] = { [CONF_PROTO_UDP] = PROC_UDP,
					 [CONF_PROTO_TCP] = PROC_TCP,
					 [CONF_PROTO_TLS] = PROC_TLS };
	unsigned next_index[3] = { 0, 0, 0 };
	int rc = 0;

	for (unsigned l = 0; l < c->nlisten; l++) {
		uint8_t proto = c->listen[l].proto;

		for (unsigned i = 0; i < workers_for(c, proto) && rc == 0; i++)
			rc = start(m, roles[proto], next_index[proto]++, l);
	}
	if (rc == 0)
		rc = start(m, PROC_TIMER, 0, 0);
	for (unsigned i = 0; i < c->workers.relay && rc == 0; i++)
		rc = start(m, PROC_RELAY, i, 0);
	if (rc == 0 && !ctl_running())
		rc = start(m, PROC_CTL, 0, 0);
	return rc;
}

static int find_slot(pid_t pid)
{
	for (unsigned s = 1; s < SHM_MAX_PROCS; s++)
		if (shm->procs[s].pid == pid && shm->procs[s].state != PROC_FREE)
			return (int)s;
	return -1;
}

static void describe_exit(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* A child of the current generation died on its own: schedule a respawn
 * (immediately if it had been stable, else with a doubling delay), unless
 * it exited with 2, "fatal, do not respawn". */
static void on_crash(struct master *m, unsigned slot, int status)
{
	struct proc_entry *pe = &shm->procs[slot];
	struct slot_priv *sp = &m->priv[slot];
	unsigned freed = shm_locks_release_dead(pe->pid);
	char how[96];

	describe_exit(status, how, sizeof(how));
	if (pdb_is_open() && pdb_failchk() < 0) {
		LOG_ERR("%s#%u died inside Berkeley DB: the environment needs recovery",
			proc_role_name(pe->role), pe->index);
		m->db_panicked = true;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
		LOG_ERR("%s#%u (pid %d) %s: fatal, not respawned", proc_role_name(pe->role),
			pe->index, (int)pe->pid, how);
		pe->state = PROC_FREE;
		return;
	}
	if (wall_s() - pe->started >= STABLE_AFTER_S)
		sp->backoff_ms = 0;
	else
		sp->backoff_ms = sp->backoff_ms ? sp->backoff_ms * 2 : 100;
	if (sp->backoff_ms > BACKOFF_MAX_MS)
		sp->backoff_ms = BACKOFF_MAX_MS;
	sp->respawn_at_ms = master_now_ms() + sp->backoff_ms;
	pe->state = PROC_DEAD;
	LOG_ERR("%s#%u (pid %d) %s; %u lock(s) released; respawning in %u ms",
		proc_role_name(pe->role), pe->index, (int)pe->pid, how, freed,
		sp->backoff_ms);
}

void procs_reap(struct master *m)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int s = find_slot(pid);

		if (s < 0)
			continue;
		struct proc_entry *pe = &shm->procs[s];
		if (m->state != MS_RUNNING || pe->state == PROC_RETIRING) {
			shm_locks_release_dead(pid);
			LOG_DBG("%s#%u (pid %d) finished", proc_role_name(pe->role),
				pe->index, (int)pid);
			pe->state = PROC_FREE;
			continue;
		}
		on_crash(m, (unsigned)s, status);
	}
}

void procs_respawn_due(struct master *m)
{
	int64_t now = master_now_ms();

	if (m->state != MS_RUNNING)
		return;
	for (unsigned s = 1; s < SHM_MAX_PROCS; s++) {
		struct proc_entry *pe = &shm->procs[s];

		if (pe->state != PROC_DEAD || now < m->priv[s].respawn_at_ms)
			continue;
		pe->restarts++;
		stat_add(STAT_MASTER_RESPAWNS, 1);
		spawn(m, s);
	}
}

static void ask_to_finish(struct master *m, unsigned s)
{
	struct proc_entry *pe = &shm->procs[s];

	if (pe->state == PROC_DEAD || pe->state == PROC_STARTING) {
		pe->state = PROC_FREE;
		return;
	}
	pe->state = PROC_RETIRING;
	m->priv[s].kill_at_ms = master_now_ms() + GRACE_MS;
	kill(pe->pid, SIGTERM);
}

/* After a reload: every generation-bound process of an older generation
 * finishes what it is doing and exits. */
void procs_retire_old(struct master *m)
{
	for (unsigned s = 1; s < SHM_MAX_PROCS; s++) {
		struct proc_entry *pe = &shm->procs[s];

		if (pe->state == PROC_FREE || pe->state == PROC_RETIRING ||
		    pe->role == PROC_CTL || pe->generation >= m->generation)
			continue;
		ask_to_finish(m, s);
	}
}

void procs_stop_all(struct master *m)
{
	for (unsigned s = 1; s < SHM_MAX_PROCS; s++)
		if (shm->procs[s].state != PROC_FREE && shm->procs[s].state != PROC_RETIRING)
			ask_to_finish(m, s);
}

unsigned procs_alive(const struct master *m)
{
	unsigned n = 0;

	for (unsigned s = 1; s < SHM_MAX_PROCS; s++)
		if (shm->procs[s].state != PROC_FREE && shm->procs[s].state != PROC_DEAD)
			n++;
	return n;
}

void procs_kill_overdue(struct master *m)
{
	int64_t now = master_now_ms();

	for (unsigned s = 1; s < SHM_MAX_PROCS; s++) {
		struct proc_entry *pe = &shm->procs[s];

		if (pe->state != PROC_RETIRING || now < m->priv[s].kill_at_ms)
			continue;
		LOG_WARN("%s#%u (pid %d) did not finish in %d s: SIGKILL",
			 proc_role_name(pe->role), pe->index, (int)pe->pid, GRACE_MS / 1000);
		kill(pe->pid, SIGKILL);
		m->priv[s].kill_at_ms = now + GRACE_MS;
	}
}

/* The earliest respawn or kill deadline, or -1 when there is none. */
int64_t procs_next_deadline(const struct master *m)
{
	int64_t next = -1;

	for (unsigned s = 1; s < SHM_MAX_PROCS; s++) {
		int64_t t;

		if (shm->procs[s].state == PROC_DEAD)
			t = m->priv[s].respawn_at_ms;
		else if (shm->procs[s].state == PROC_RETIRING)
			t = m->priv[s].kill_at_ms;
		else
			continue;
		if (next < 0 || t < next)
			next = t;
	}
	return next;
}
