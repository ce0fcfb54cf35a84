/*
 * db_int.h — what the files of db/ share: this process's handles and the
 * helpers that turn Berkeley DB status codes into negative errnos and run
 * a write as one transaction retried when chosen as a deadlock victim.
 *
 * Private to db/. The handles belong to the process that opened them
 * (pdb.owner); in any other process (a forked child) they do not exist.
 */
#ifndef PINHOLE_DB_INT_H
#define PINHOLE_DB_INT_H

#include "db.h"

#include <db.h>
#include <limits.h>
#include <sys/types.h>

struct pdb_handles {
	DB_ENV *env;
	DB *subscriber;
	DB *location;
	pid_t owner;            /* the process that opened them */
	bool panicked;          /* the environment needs recovery */
	char path[PATH_MAX];
};

extern struct pdb_handles pdb;

/* Berkeley DB status -> 0 or -errno: DB_NOTFOUND -ENOENT, DB_BUFFER_SMALL
 * -ENOSPC, deadlock -EDEADLK, DB_RUNRECOVERY (remembered in pdb.panicked,
 * so that pdb_close does not checkpoint) and other library codes -EIO, a
 * system errno as itself. */
int pdb_errno(int rc);

/* Runs op(txn, arg) in a transaction and commits it; op returns a Berkeley
 * DB status. Retried from the start when a deadlock victim. A failure
 * other than DB_NOTFOUND is logged naming what. 0 or -errno. */
int pdb_txn_run(const char *what, int (*op)(DB_TXN *txn, void *arg), void *arg);

/* A DBT over len bytes at p, read-only for Berkeley DB. */
static inline DBT pdb_dbt(const void *p, size_t len)
{
	DBT d;

	memset(&d, 0, sizeof(d));
	d.data = (void *)p;
	d.size = (u_int32_t)len;
	return d;
}

#endif
