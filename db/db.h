/*
 * db.h — pinhole's Berkeley DB layer: one transactional environment holding
 * the subscriber store (user, realm, HA1 digests) and the location store
 * (one opaque snapshot per AOR, packed by shm/location.c).
 *
 * Each process opens its own handle (a handle never crosses fork; one
 * inherited from the parent is dropped by pdb_open). Every write is its own
 * transaction, committed before the call returns; Berkeley DB's locks make
 * concurrent writers from several processes safe. Nothing here takes shm
 * locks. Functions return 0 (or a count) or a negative errno: -EBADF when
 * this process has no open handle, -EDEADLK when a write kept losing
 * deadlocks, -EIO for a failure of the library (logged).
 */
#ifndef PINHOLE_DB_H
#define PINHOLE_DB_H

#include "../base/base.h"
#include "../sip/sip.h"

#include <stdbool.h>
#include <stddef.h>

enum { PDB_RECOVER = 1 };           /* flags of pdb_open */

#define PDB_CACHE_BYTES (64u << 20)   /* mpool cache, shared by all processes */
#define PDB_LOG_BUFFER (4u << 20)     /* in-memory log buffer */
#define PDB_THREADS 1024              /* thread slots tracked for failchk */
#define PDB_DEADLOCK_RETRIES 8        /* tries of a write chosen as deadlock victim */

/* Opens (creating the directory 0700 and the environment when missing) the
 * environment at path and its databases "subscriber" and "location".
 * PDB_RECOVER runs normal recovery first: only the master at start, while
 * no other process uses the environment. Commits are written to the OS
 * before they return (DB_TXN_WRITE_NOSYNC): a committed write survives the
 * death of any process, not a crash of the machine. -errno with the failed
 * call and the path in err. */
int pdb_open(const char *path, unsigned flags, char *err, size_t errlen);
/* Checkpoints, closes the databases and the environment. A no-op when this
 * process has no handle. */
void pdb_close(void);
bool pdb_is_open(void);
/* The master, after a child died: releases the dead process's locks and
 * aborts its transactions (DB_ENV->failchk). 0, or -EIO when the process
 * died inside the library (holding mutexes nobody can release): the
 * environment is then marked panicked, so every process's next call fails
 * with -EIO instead of waiting forever, and needs recovery: every process
 * must leave it (pdb_close still works) before the master opens it again
 * with PDB_RECOVER. */
int pdb_failchk(void);
/* Writes dirty pages and a checkpoint record (when anything changed since
 * the last one); old log files are then removed. For the timer. */
int pdb_checkpoint(void);

/* ---- subscribers ----------------------------------------------------- */

struct pdb_subscriber {
	char user[128];
	char domain[128];
	char realm[128];
	char ha1_md5[33];       /* lower-case hex of MD5(user:realm:password) */
	char ha1_sha256[65];    /* lower-case hex of SHA-256(user:realm:password) */
};

/* Stores s under "user@domain" (domain lower-cased, user as given),
 * replacing an earlier record. -EINVAL when a field is empty, not
 * terminated, or holds a NUL-free string that does not fit. */
int pdb_subscriber_put(const struct pdb_subscriber *s);
/* -ENOENT when absent, -EINVAL when user or domain is empty or too long
 * or the domain holds '@'. The domain is compared case-insensitively. */
int pdb_subscriber_get(slice user, slice domain, struct pdb_subscriber *out);
int pdb_subscriber_del(slice user, slice domain);   /* the same errors */
/* Calls fn for each subscriber in key order; fn returning non-zero stops
 * the walk and becomes the return value (0 when the walk completed). */
int pdb_subscriber_list(int (*fn)(const struct pdb_subscriber *s, void *arg), void *arg);

/* A sip_auth_lookup_fn over the subscriber store: the user's HA1 for alg.
 * arg: NULL, or the realm in use (a NUL-terminated string); a subscriber
 * stored with another realm then counts as unknown (-ENOENT, logged once
 * per call: its HA1s cannot match, it must be added again). */
int pdb_auth_lookup(slice user, slice domain, enum sip_auth_alg alg, char ha1_out[65],
		    void *arg);

/* ---- location -------------------------------------------------------- */

/* Stores val under aor (bytes as given), replacing an earlier record. */
int pdb_location_put(slice aor, const void *val, size_t len);
int pdb_location_del(slice aor);                /* absent is not an error */
/* Copies the record into buf. -ENOENT when absent; -ENOSPC when it is
 * larger than cap (then *len is its size). */
int pdb_location_get(slice aor, void *buf, size_t cap, size_t *len);
/* Calls fn(val, len, arg) for every record (key order); fn returning
 * non-zero stops. Records visited (the one that stopped included) or
 * -errno. For the master at start: reads without holding locks across
 * records. */
long pdb_location_load(int (*fn)(const void *val, size_t len, void *arg), void *arg);
long pdb_location_count(void);

#endif
