/*
 * env.c — the Berkeley DB environment: open (with recovery for the master
 * at start), close with a checkpoint, failure checking after a child died,
 * periodic checkpoints, and the status/transaction helpers of db_int.h.
 *
 * Every process opens its own handle; the environment's regions (files
 * __db.* in the directory) are what the processes share. Durability: each
 * commit is written to the log file with write(2) before it returns
 * (DB_TXN_WRITE_NOSYNC) but not fsync'ed, so it survives the death of any
 * or every process, not a power loss. Log files no longer needed after a
 * checkpoint are removed automatically, which rules out catastrophic
 * recovery from old logs: back up with db_hotbackup (db5.3-util) or copy
 * the directory while pinhole is stopped.
 */
#include "db_int.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define PDB_LOG_FILE_BYTES (16u << 20)   /* at least 4 x the log buffer */
#define PDB_LOCKS 20000
#define PDB_LOCKERS 4000

struct pdb_handles pdb;

int pdb_errno(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case DB_NOTFOUND:
	case DB_KEYEMPTY:
		return -ENOENT;
	case DB_BUFFER_SMALL:
		return -ENOSPC;
	case DB_LOCK_DEADLOCK:
	case DB_LOCK_NOTGRANTED:
		return -EDEADLK;
	case DB_RUNRECOVERY:
		pdb.panicked = true;
		return -EIO;
	default:
		return rc > 0 ? -rc : -EIO;
	}
}

int pdb_txn_run(const char *what, int (*op)(DB_TXN *txn, void *arg), void *arg)
{
	DB_TXN *txn;
	int rc = DB_LOCK_DEADLOCK;

	for (int i = 0; i < PDB_DEADLOCK_RETRIES && rc == DB_LOCK_DEADLOCK; i++) {
		rc = pdb.env->txn_begin(pdb.env, NULL, &txn, 0);
		if (rc != 0)
			break;
		rc = op(txn, arg);
		if (rc == 0)
			rc = txn->commit(txn, 0);
		else
			txn->abort(txn);
	}
	if (rc != 0 && rc != DB_NOTFOUND)
		LOG_ERR("db: %s: %s", what, db_strerror(rc));
	return pdb_errno(rc);
}

static void pdb_errcall(const DB_ENV *env, const char *prefix, const char *msg)
{
	LOG_ERR("db: %s", msg);
}

static void pdb_msgcall(const DB_ENV *env, const char *msg)
{
	LOG_INFO("db: %s", msg);
}

/* Whether /proc says pid is a zombie (dead, not yet reaped). */
static bool pid_is_zombie(pid_t pid)
{
	char path[64], buf[512], *paren;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = (ssize_t)fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n > 0 ? n : 0] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}

/* DB_ENV->set_isalive: processes are single-threaded, so only pid counts. */
static int pdb_isalive(DB_ENV *env, pid_t pid, db_threadid_t tid, u_int32_t flags)
{
	if (pid == getpid())
		return 1;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	return !pid_is_zombie(pid);
}

/* mkdir -p with mode 0700 for the directories it creates. */
static int dir_make(const char *path, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	struct stat st;
	int rc;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		snprintf(err, errlen, "db path %s: too long", path);
		return -ENAMETOOLONG;
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		goto fail;
	if (stat(path, &st) < 0)
		goto fail;
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "db path %s: not a directory", path);
		return -ENOTDIR;
	}
	return 0;
fail:
	rc = -errno;
	snprintf(err, errlen, "mkdir %s: %s", buf, strerror(-rc));
	return rc;
}

/* Runs one configuration call; on failure names it in *call. */
#define ENV_SET(call_text, expr)                                               \
	do {                                                                   \
		int rc_ = (expr);                                              \
		if (rc_ != 0) {                                                \
			*call = (call_text);                                   \
			return rc_;                                            \
		}                                                              \
	} while (0)

/* Settings that must precede DB_ENV->open; Berkeley DB status. */
static int env_configure(DB_ENV *env, const char **call)
{
	env->set_errcall(env, pdb_errcall);
	env->set_msgcall(env, pdb_msgcall);
	ENV_SET("DB_ENV->set_cachesize", env->set_cachesize(env, 0, PDB_CACHE_BYTES, 1));
	ENV_SET("DB_ENV->set_lg_bsize", env->set_lg_bsize(env, PDB_LOG_BUFFER));
	ENV_SET("DB_ENV->set_lg_max", env->set_lg_max(env, PDB_LOG_FILE_BYTES));
	ENV_SET("DB_ENV->set_lk_max_locks", env->set_lk_max_locks(env, PDB_LOCKS));
	ENV_SET("DB_ENV->set_lk_max_objects", env->set_lk_max_objects(env, PDB_LOCKS));
	ENV_SET("DB_ENV->set_lk_max_lockers", env->set_lk_max_lockers(env, PDB_LOCKERS));
	ENV_SET("DB_ENV->set_lk_detect", env->set_lk_detect(env, DB_LOCK_DEFAULT));
	ENV_SET("DB_ENV->set_thread_count", env->set_thread_count(env, PDB_THREADS));
	ENV_SET("DB_ENV->set_isalive", env->set_isalive(env, pdb_isalive));
	ENV_SET("DB_ENV->set_flags(DB_TXN_WRITE_NOSYNC)",
		env->set_flags(env, DB_TXN_WRITE_NOSYNC, 1));
	ENV_SET("DB_ENV->log_set_config(DB_LOG_AUTO_REMOVE)",
		env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1));
	return 0;
}

static int db_open_one(const char *file, DB **out, const char **call)
{
	int rc;

	*call = "db_create";
	rc = db_create(out, pdb.env, 0);
	if (rc != 0)
		return rc;
	*call = "DB->open";
	return (*out)->open(*out, NULL, file, NULL, DB_BTREE, DB_CREATE | DB_AUTO_COMMIT,
			    0600);
}

static void handles_close(void)
{
	if (pdb.location)
		pdb.location->close(pdb.location, 0);
	if (pdb.subscriber)
		pdb.subscriber->close(pdb.subscriber, 0);
	if (pdb.env)
		pdb.env->close(pdb.env, 0);
	memset(&pdb, 0, sizeof(pdb));
}

int pdb_open(const char *path, unsigned flags, char *err, size_t errlen)
{
	u_int32_t oflags = DB_CREATE | DB_INIT_TXN | DB_INIT_LOG | DB_INIT_LOCK |
			   DB_INIT_MPOOL;
	const char *call = "db_env_create", *file = path;
	int rc;

	if (pdb_is_open()) {
		snprintf(err, errlen, "db %s: this process already has the environment open", path);
		return -EBUSY;
	}
	memset(&pdb, 0, sizeof(pdb));   /* a parent's handles are not ours */
	rc = dir_make(path, err, errlen);
	if (rc < 0)
		return rc;
	if (flags & PDB_RECOVER)
		oflags |= DB_RECOVER;
	pdb.owner = getpid();
	snprintf(pdb.path, sizeof(pdb.path), "%s", path);
	if ((rc = db_env_create(&pdb.env, 0)) != 0 ||
	    (rc = env_configure(pdb.env, &call)) != 0)
		goto fail;
	if ((rc = pdb.env->open(pdb.env, path, oflags, 0600)) != 0) {
		call = flags & PDB_RECOVER ? "DB_ENV->open(DB_RECOVER)" : "DB_ENV->open";
		goto fail;
	}
	file = "subscriber.db";
	if ((rc = db_open_one(file, &pdb.subscriber, &call)) != 0)
		goto fail;
	file = "location.db";
	if ((rc = db_open_one(file, &pdb.location, &call)) != 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s %s%s%s: %s", call, path, file != path ? "/" : "",
		 file != path ? file : "", db_strerror(rc));
	handles_close();
	return pdb_errno(rc);
}

bool pdb_is_open(void)
{
	return pdb.env && pdb.owner == getpid();
}

void pdb_close(void)
{
	int rc;

	if (!pdb_is_open()) {
		memset(&pdb, 0, sizeof(pdb));
		return;
	}
	if (pdb.panicked) {
		pdb.env->set_errcall(pdb.env, NULL);   /* every close says "run recovery" */
	} else {
		rc = pdb.env->txn_checkpoint(pdb.env, 0, 0, 0);
		if (rc != 0)
			LOG_WARN("db: checkpoint at close: %s", db_strerror(rc));
	}
	handles_close();
}

/* After a process died inside the library: its mutexes stay held, so any
 * call that needs one would wait forever. The panic flag in the regions
 * makes every process's next call fail with DB_RUNRECOVERY instead. */
static void env_panic(void)
{
	int rc = pdb.env->set_flags(pdb.env, DB_PANIC_ENVIRONMENT, 1);

	if (rc != 0 && rc != DB_RUNRECOVERY)
		LOG_ERR("db: DB_ENV->set_flags(DB_PANIC_ENVIRONMENT): %s", db_strerror(rc));
	pdb.panicked = true;
}

int pdb_failchk(void)
{
	int rc;

	if (!pdb_is_open())
		return -EBADF;
	rc = pdb.env->failchk(pdb.env, 0);
	if (rc == DB_RUNRECOVERY) {
		LOG_ERR("db: a process died inside Berkeley DB: %s needs recovery", pdb.path);
		env_panic();
		return -EIO;
	}
	if (rc != 0)
		LOG_ERR("db: DB_ENV->failchk: %s", db_strerror(rc));
	return pdb_errno(rc);
}

int pdb_checkpoint(void)
{
	int rc;

	if (!pdb_is_open())
		return -EBADF;
	rc = pdb.env->txn_checkpoint(pdb.env, 0, 0, 0);
	if (rc != 0)
		LOG_ERR("db: DB_ENV->txn_checkpoint: %s", db_strerror(rc));
	return pdb_errno(rc);
}
