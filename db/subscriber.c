/*
 * subscriber.c — the subscriber store: who may authenticate, with the HA1
 * digests of their password (never the password itself).
 *
 * Key "user@domain" with the domain lower-cased (a domain never holds '@',
 * so the key splits one way only). Value: a version byte, then user,
 * domain, realm, HA1-MD5 and HA1-SHA-256 as NUL-terminated strings. Written
 * by the ctl process (pinholectl user add/rm), read by the SIP workers;
 * Berkeley DB's locks order them.
 */
#include "db_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>

#define SUB_VERSION 1
#define SUB_FIELDS 5
#define SUB_KEY_MAX (sizeof(((struct pdb_subscriber *)0)->user) + \
		     sizeof(((struct pdb_subscriber *)0)->domain))
#define SUB_VAL_MAX (1 + sizeof(struct pdb_subscriber))

struct sub_key {
	char buf[SUB_KEY_MAX];
	size_t len;
};

/* "user@domain" with the domain lower-cased; -EINVAL when a part is empty
 * or too long or the domain holds '@'. */
static int key_make(slice user, slice domain, struct sub_key *k)
{
	if (user.len == 0 || domain.len == 0 ||
	    user.len >= sizeof(((struct pdb_subscriber *)0)->user) ||
	    domain.len >= sizeof(((struct pdb_subscriber *)0)->domain) ||
	    memchr(domain.p, '@', domain.len))
		return -EINVAL;
	memcpy(k->buf, user.p, user.len);
	k->buf[user.len] = '@';
	for (uint32_t i = 0; i < domain.len; i++)
		k->buf[user.len + 1 + i] = (char)tolower((unsigned char)domain.p[i]);
	k->len = user.len + 1 + domain.len;
	return 0;
}

static bool is_lower_hex(const char *s, size_t len)
{
	if (strnlen(s, len + 1) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A terminated, non-empty string within an array of cap bytes. */
static bool field_ok(const char *s, size_t cap)
{
	size_t len = strnlen(s, cap);

	return len > 0 && len < cap;
}

static bool subscriber_valid(const struct pdb_subscriber *s)
{
	return field_ok(s->user, sizeof(s->user)) && field_ok(s->domain, sizeof(s->domain)) &&
	       field_ok(s->realm, sizeof(s->realm)) &&
	       is_lower_hex(s->ha1_md5, sizeof(s->ha1_md5) - 1) &&
	       is_lower_hex(s->ha1_sha256, sizeof(s->ha1_sha256) - 1);
}

/* Packs s (domain as in the key) into buf; the length. */
static size_t value_pack(const struct pdb_subscriber *s, const struct sub_key *k,
			 char *buf)
{
	size_t ulen = strlen(s->user), n = 0;
	const char *fields[SUB_FIELDS] = { s->user, k->buf + ulen + 1, s->realm,
					   s->ha1_md5, s->ha1_sha256 };
	size_t lens[SUB_FIELDS] = { ulen, k->len - ulen - 1, strlen(s->realm),
				    strlen(s->ha1_md5), strlen(s->ha1_sha256) };

	buf[n++] = SUB_VERSION;
	for (int i = 0; i < SUB_FIELDS; i++) {
		memcpy(buf + n, fields[i], lens[i]);
		n += lens[i];
		buf[n++] = '\0';
	}
	return n;
}

/* The stored bytes back into *out; -EIO when they are not a record. */
static int value_unpack(const void *data, size_t len, struct pdb_subscriber *out)
{
	const char *p = data, *end = p + len;
	char *fields[SUB_FIELDS] = { out->user, out->domain, out->realm, out->ha1_md5,
				     out->ha1_sha256 };
	size_t caps[SUB_FIELDS] = { sizeof(out->user), sizeof(out->domain),
				    sizeof(out->realm), sizeof(out->ha1_md5),
				    sizeof(out->ha1_sha256) };

	memset(out, 0, sizeof(*out));
	if (len < 1 || p[0] != SUB_VERSION)
		goto bad;
	p++;
	for (int i = 0; i < SUB_FIELDS; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));

		if (!nul || (size_t)(nul - p) >= caps[i])
			goto bad;
		memcpy(fields[i], p, (size_t)(nul - p));
		p = nul + 1;
	}
	if (p == end)
		return 0;
bad:
	LOG_ERR("db: a subscriber record is malformed (%zu bytes)", len);
	return -EIO;
}

struct sub_op {
	DBT key, val;
};

static int sub_put_op(DB_TXN *txn, void *arg)
{
	struct sub_op *op = arg;

	return pdb.subscriber->put(pdb.subscriber, txn, &op->key, &op->val, 0);
}

static int sub_del_op(DB_TXN *txn, void *arg)
{
	struct sub_op *op = arg;

	return pdb.subscriber->del(pdb.subscriber, txn, &op->key, 0);
}

int pdb_subscriber_put(const struct pdb_subscriber *s)
{
	char val[SUB_VAL_MAX];
	struct sub_key k;
	struct sub_op op;
	int rc;

	if (!pdb_is_open())
		return -EBADF;
	if (!subscriber_valid(s))
		return -EINVAL;
	rc = key_make(slice_cstr(s->user), slice_cstr(s->domain), &k);
	if (rc < 0)
		return rc;
	op.key = pdb_dbt(k.buf, k.len);
	op.val = pdb_dbt(val, value_pack(s, &k, val));
	return pdb_txn_run("subscriber put", sub_put_op, &op);
}

int pdb_subscriber_get(slice user, slice domain, struct pdb_subscriber *out)
{
	char val[SUB_VAL_MAX];
	struct sub_key k;
	DBT key, data;
	int rc;

	if (!pdb_is_open())
		return -EBADF;
	rc = key_make(user, domain, &k);
	if (rc < 0)
		return rc;
	key = pdb_dbt(k.buf, k.len);
	data = pdb_dbt(NULL, 0);
	data.data = val;
	data.ulen = sizeof(val);
	data.flags = DB_DBT_USERMEM;
	for (int i = 0; i < PDB_DEADLOCK_RETRIES; i++) {
		rc = pdb.subscriber->get(pdb.subscriber, NULL, &key, &data, 0);
		if (rc != DB_LOCK_DEADLOCK)
			break;
	}
	if (rc != 0) {
		if (rc != DB_NOTFOUND)
			LOG_ERR("db: subscriber get: %s", db_strerror(rc));
		return rc == DB_BUFFER_SMALL ? -EIO : pdb_errno(rc);
	}
	return value_unpack(data.data, data.size, out);
}

int pdb_subscriber_del(slice user, slice domain)
{
	struct sub_key k;
	struct sub_op op;
	int rc;

	if (!pdb_is_open())
		return -EBADF;
	rc = key_make(user, domain, &k);
	if (rc < 0)
		return rc;
	op.key = pdb_dbt(k.buf, k.len);
	return pdb_txn_run("subscriber del", sub_del_op, &op);
}

int pdb_subscriber_list(int (*fn)(const struct pdb_subscriber *s, void *arg), void *arg)
{
	struct pdb_subscriber s;
	DBC *cur;
	DBT key, data;
	int rc, stop = 0;

	if (!pdb_is_open())
		return -EBADF;
	rc = pdb.subscriber->cursor(pdb.subscriber, NULL, &cur, DB_READ_COMMITTED);
	if (rc != 0) {
		LOG_ERR("db: subscriber list: DB->cursor: %s", db_strerror(rc));
		return pdb_errno(rc);
	}
	key = pdb_dbt(NULL, 0);
	data = pdb_dbt(NULL, 0);
	while (!stop && (rc = cur->get(cur, &key, &data, DB_NEXT)) == 0) {
		if (value_unpack(data.data, data.size, &s) == 0)
			stop = fn(&s, arg);
	}
	cur->close(cur);
	if (rc != 0 && rc != DB_NOTFOUND) {
		LOG_ERR("db: subscriber list: DBC->get: %s", db_strerror(rc));
		return pdb_errno(rc);
	}
	return stop;
}

int pdb_auth_lookup(slice user, slice domain, enum sip_auth_alg alg, char ha1_out[65],
		    void *arg)
{
	const char *realm = arg;
	struct pdb_subscriber s;
	int rc;

	ha1_out[0] = '\0';
	rc = pdb_subscriber_get(user, domain, &s);
	if (rc == -EINVAL)
		return -ENOENT;
	if (rc < 0)
		return rc;
	if (realm && strcmp(realm, s.realm) != 0) {
		LOG_WARN("db: subscriber %s@%s was added for realm '%s', not '%s': add it again",
			 s.user, s.domain, s.realm, realm);
		return -ENOENT;
	}
	memcpy(ha1_out, alg == SIP_AUTH_SHA256 ? s.ha1_sha256 : s.ha1_md5,
	       alg == SIP_AUTH_SHA256 ? sizeof(s.ha1_sha256) : sizeof(s.ha1_md5));
	return 0;
}
