/*
 * location.c — the location store: one record per AOR whose value is an
 * opaque snapshot of its bindings (shm/location.c packs and unpacks it).
 *
 * SIP workers write through (each put is committed before the reply), the
 * timer writes back, the master loads every record into shm at start with
 * a bulk cursor (DB_MULTIPLE_KEY: thousands of records per call). Berkeley
 * DB's page locks order concurrent writers; a write chosen as a deadlock
 * victim is retried.
 */
#include "db_int.h"

#include <errno.h>
#include <stdlib.h>

#define LOAD_BUFFER (4u << 20)   /* bulk read buffer, grown for a larger record */

struct loc_op {
	DBT key, val;
};

static int loc_put_op(DB_TXN *txn, void *arg)
{
	struct loc_op *op = arg;

	return pdb.location->put(pdb.location, txn, &op->key, &op->val, 0);
}

static int loc_del_op(DB_TXN *txn, void *arg)
{
	struct loc_op *op = arg;
	int rc = pdb.location->del(pdb.location, txn, &op->key, 0);

	return rc == DB_NOTFOUND ? 0 : rc;
}

int pdb_location_put(slice aor, const void *val, size_t len)
{
	struct loc_op op;

	if (!pdb_is_open())
		return -EBADF;
	if (aor.len == 0 || len > UINT32_MAX)
		return -EINVAL;
	op.key = pdb_dbt(aor.p, aor.len);
	op.val = pdb_dbt(val, len);
	return pdb_txn_run("location put", loc_put_op, &op);
}

int pdb_location_del(slice aor)
{
	struct loc_op op;

	if (!pdb_is_open())
		return -EBADF;
	if (aor.len == 0)
		return -EINVAL;
	op.key = pdb_dbt(aor.p, aor.len);
	return pdb_txn_run("location del", loc_del_op, &op);
}

int pdb_location_get(slice aor, void *buf, size_t cap, size_t *len)
{
	DBT key, data;
	int rc;

	*len = 0;
	if (!pdb_is_open())
		return -EBADF;
	if (aor.len == 0)
		return -EINVAL;
	key = pdb_dbt(aor.p, aor.len);
	data = pdb_dbt(NULL, 0);
	data.data = buf;
	data.ulen = cap > UINT32_MAX ? UINT32_MAX : (u_int32_t)cap;
	data.flags = DB_DBT_USERMEM;
	for (int i = 0; i < PDB_DEADLOCK_RETRIES; i++) {
		rc = pdb.location->get(pdb.location, NULL, &key, &data, 0);
		if (rc != DB_LOCK_DEADLOCK)
			break;
	}
	if (rc == 0 || rc == DB_BUFFER_SMALL)
		*len = data.size;
	else if (rc != DB_NOTFOUND)
		LOG_ERR("db: location get: %s", db_strerror(rc));
	return pdb_errno(rc);
}

/* Hands every record of one bulk buffer to fn; stops when fn does. */
static long load_batch(DBT *data, int (*fn)(const void *val, size_t len, void *arg),
		       void *arg, bool *stop)
{
	void *p, *kp, *vp;
	u_int32_t klen, vlen;
	long n = 0;

	DB_MULTIPLE_INIT(p, data);
	while (!*stop) {
		DB_MULTIPLE_KEY_NEXT(p, data, kp, klen, vp, vlen);
		if (!p)
			break;
		(void)kp;       /* the AOR is inside the snapshot */
		(void)klen;
		n++;
		*stop = fn(vp, vlen, arg) != 0;
	}
	return n;
}

/* Makes the bulk buffer hold at least need bytes (a multiple of 1024). */
static int load_buffer_grow(DBT *data, u_int32_t need)
{
	u_int32_t cap = (need + 1023u) & ~1023u;
	void *p = realloc(data->data, cap);

	if (!p)
		return -ENOMEM;
	data->data = p;
	data->ulen = cap;
	return 0;
}

/* The cursor walk of pdb_location_load; Berkeley DB status or -ENOMEM. */
static int load_walk(DBC *cur, DBT *data, int (*fn)(const void *val, size_t len, void *arg),
		     void *arg, long *count)
{
	DBT key = pdb_dbt(NULL, 0);
	bool stop = false;
	int rc;

	while (!stop) {
		rc = cur->get(cur, &key, data, DB_MULTIPLE_KEY | DB_NEXT);
		if (rc == DB_BUFFER_SMALL) {
			if (load_buffer_grow(data, data->size > 2 * data->ulen ?
						   data->size : 2 * data->ulen) < 0)
				return -ENOMEM;
			continue;
		}
		if (rc != 0)
			return rc == DB_NOTFOUND ? 0 : rc;
		*count += load_batch(data, fn, arg, &stop);
	}
	return 0;
}

long pdb_location_load(int (*fn)(const void *val, size_t len, void *arg), void *arg)
{
	DBT data = pdb_dbt(NULL, 0);
	long count = 0;
	DBC *cur;
	int rc;

	if (!pdb_is_open())
		return -EBADF;
	data.flags = DB_DBT_USERMEM;
	if (load_buffer_grow(&data, LOAD_BUFFER) < 0)
		return -ENOMEM;
	rc = pdb.location->cursor(pdb.location, NULL, &cur, DB_READ_COMMITTED);
	if (rc == 0) {
		rc = load_walk(cur, &data, fn, arg, &count);
		cur->close(cur);
	}
	free(data.data);
	if (rc == -ENOMEM)
		return rc;
	if (rc != 0) {
		LOG_ERR("db: location load: %s", db_strerror(rc));
		return pdb_errno(rc);
	}
	return count;
}

long pdb_location_count(void)
{
	DB_BTREE_STAT *st;
	long n;
	int rc;

	if (!pdb_is_open())
		return -EBADF;
	rc = pdb.location->stat(pdb.location, NULL, &st, DB_READ_COMMITTED);
	if (rc != 0) {
		LOG_ERR("db: location count: DB->stat: %s", db_strerror(rc));
		return pdb_errno(rc);
	}
	n = (long)st->bt_nkeys;
	free(st);
	return n;
}
