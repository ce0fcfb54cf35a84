/*
 * master.h — private interface between the files of master/.
 *
 * The master owns the process table (shm->procs, written only by it), the
 * listen sockets and the current configuration. It never takes a shm lock.
 * Its loop sleeps with every signal unblocked (ppoll, the timed form of
 * sigsuspend); handlers only set the flags below.
 */
#ifndef PINHOLE_MASTER_H
#define PINHOLE_MASTER_H

#include "../conf/conf.h"
#include "../shm/shm.h"
#include "../workers/workers.h"

#include <signal.h>

/* The master's life, one state at a time (PostgreSQL postmaster style). */
enum master_state {
	MS_RUNNING,     /* serving; respawning crashed children */
	MS_STOPPING,    /* SIGTERM sent to every child; waiting for them */
	MS_DB_RECOVERY, /* Berkeley DB panicked (a child died inside it): every
	                   child asked to finish; recovery runs when all are gone,
	                   then a new generation starts */
};

/* What the master remembers per slot beyond shm->procs. */
struct slot_priv {
	int64_t respawn_at_ms;   /* DEAD: when to fork again */
	int64_t kill_at_ms;      /* RETIRING/STOPPING: SIGKILL after this */
	uint32_t backoff_ms;     /* current respawn delay */
};

struct master {
	struct pinhole_conf *conf;
	struct listen_set listens;
	struct slot_priv priv[SHM_MAX_PROCS];
	uint32_t generation;
	enum master_state state;
	int64_t stop_deadline_ms;
	bool foreground;
	bool db_panicked;        /* failchk said the environment needs recovery */
	int ready_fd;            /* daemon mode: tells the waiting parent */
};

extern volatile sig_atomic_t master_got_chld, master_got_hup, master_got_term;

int64_t master_now_ms(void);

/* procs.c */
int procs_start_generation(struct master *m);
void procs_reap(struct master *m);
void procs_respawn_due(struct master *m);
void procs_retire_old(struct master *m);
void procs_stop_all(struct master *m);
unsigned procs_alive(const struct master *m);
void procs_kill_overdue(struct master *m);
int64_t procs_next_deadline(const struct master *m);

/* child.c: runs in the forked child; never returns. */
void child_main(struct master *m, unsigned slot) __attribute__((noreturn));

/* reload.c */
void master_reload(struct master *m);

/* daemon.c */
int daemonize(int *ready_fd);
void daemon_ready(int *ready_fd, int status);
int pidfile_create(const char *path, char *err, size_t errlen);
void pidfile_remove(const char *path);
/* Creates the directory of the ctl FIFO (mode 0700, owned by user when
 * set) while the master still has the rights to. */
int runtime_dir(const char *fifo, const char *user, char *err, size_t errlen);
int db_dir_owner(const char *path, const char *user, char *err, size_t errlen);
int drop_privileges(const char *user, const char *group, char *err, size_t errlen);

#endif
