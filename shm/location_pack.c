/*
 * location_pack.c — an AOR's bindings as bytes: the value the Berkeley DB
 * layer stores under the AOR key, and the load path back into shm.
 *
 * Version 2, little-endian, no padding:
 *   "PLOC", u8 version, u8 aor_len, u16 count, aor bytes, then per binding
 *   u16 fixed_len (>= LOC_PACK_FIXED; later versions may append fields,
 *   which older readers skip), the fixed fields (i64 expires,
 *   last_modified, last_keepalive_ms; u32 cseq, reg_id, conn_id, rtt_us;
 *   i16 q; u8 flags, socket, family (0, 4 or 6), proto; u16 port;
 *   addr[16]; u16 lengths of contact, path, call_id, user_agent, instance;
 *   u8 nat_tests; u32 branch_hash) and the strings in that order.
 *   Version 1 records (no nat_tests, fixed_len >= 74) are still read, with
 *   nat_tests 0, and version 2 records without branch_hash (fixed_len 75)
 *   with branch_hash 0.
 * Packing runs under the caller's AOR lock; unpacking checks the whole
 * record before it takes the lock, so garbage never reaches shm.
 */
#include "location_int.h"

#include <errno.h>
#include <sys/socket.h>

#define PACK_VERSION 2
#define PACK_FIXED_V1 74            /* fixed fields of a version 1 binding */
#define PACK_FIXED_V2 75            /* ... of the first version 2 bindings */

static const uint8_t pack_magic[4] = { 'P', 'L', 'O', 'C' };

/* ---- little-endian fields ------------------------------------------- */

static uint8_t *put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint8_t family_code(uint8_t family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 6 : 0;
}

/* -EINVAL for a code other than 0, 4 and 6: not a valid record. */
static int family_of(uint8_t code, uint8_t *family)
{
	if (code == 0 || code == 4 || code == 6) {
		*family = code == 4 ? AF_INET : code == 6 ? AF_INET6 : 0;
		return 0;
	}
	return -EINVAL;
}

/* ---- packing -------------------------------------------------------- */

static slice pack_key(const struct loc_handle *h)
{
	const struct loc_aor_rec *a = loc_aor_of(h);

	return a ? slice_make(a->key, a->key_len) : h->key;
}

size_t loc_pack_size_locked(const struct loc_handle *h)
{
	size_t n = LOC_PACK_HEAD + pack_key(h).len;
	unsigned count = loc_count_locked(h);
	struct loc_binding b;

	for (unsigned i = 0; i < count; i++) {
		loc_get_locked(h, i, &b);
		n += 2 + LOC_PACK_FIXED + b.contact.len + b.path.len +
		     b.call_id.len + b.user_agent.len + b.instance.len;
	}
	return n;
}

static uint8_t *pack_binding(uint8_t *p, const struct loc_binding *b)
{
	slice f[LOC_NFIELDS];

	loc_binding_fields(b, f);
	p = put_le(p, LOC_PACK_FIXED, 2);
	p = put_le(p, (uint64_t)b->expires, 8);
	p = put_le(p, (uint64_t)b->last_modified, 8);
	p = put_le(p, (uint64_t)b->last_keepalive_ms, 8);
	p = put_le(p, b->cseq, 4);
	p = put_le(p, b->reg_id, 4);
	p = put_le(p, b->conn_id, 4);
	p = put_le(p, b->rtt_us, 4);
	p = put_le(p, (uint16_t)b->q, 2);
	*p++ = b->flags;
	*p++ = b->socket;
	*p++ = family_code(b->received.family);
	*p++ = b->received.proto;
	p = put_le(p, b->received.port, 2);
	memcpy(p, b->received.addr, 16);
	p += 16;
	for (int i = 0; i < LOC_NFIELDS; i++)
		p = put_le(p, f[i].len, 2);
	*p++ = b->nat_tests;
	p = put_le(p, b->branch_hash, 4);
	for (int i = 0; i < LOC_NFIELDS; i++) {
		if (f[i].len)
			memcpy(p, f[i].p, f[i].len);
		p += f[i].len;
	}
	return p;
}

ssize_t loc_pack_locked(const struct loc_handle *h, void *buf, size_t cap)
{
	size_t size = loc_pack_size_locked(h);
	unsigned count = loc_count_locked(h);
	slice key = pack_key(h);
	struct loc_binding b;
	uint8_t *p = buf;

	if (key.len == 0 || key.len > LOC_MAX_AOR)
		return -EINVAL;
	if (size > cap)
		return -ENOSPC;
	memcpy(p, pack_magic, 4);
	p[4] = PACK_VERSION;
	p[5] = (uint8_t)key.len;
	p = put_le(p + 6, count, 2);
	if (key.len)
		memcpy(p, key.p, key.len);
	p += key.len;
	for (unsigned i = 0; i < count; i++) {
		loc_get_locked(h, i, &b);
		p = pack_binding(p, &b);
	}
	return (ssize_t)size;
}

/* ---- unpacking ------------------------------------------------------ */

struct unpack_in {
	const uint8_t *p;
	size_t left;
	size_t min_fixed;           /* of the record's version */
};

static const uint8_t *take(struct unpack_in *in, size_t n)
{
	const uint8_t *p = in->p;

	if (n > in->left)
		return NULL;
	in->p += n;
	in->left -= n;
	return p;
}

static int unpack_fixed(const uint8_t *p, size_t fixed, struct loc_binding *b,
			uint32_t len[LOC_NFIELDS])
{
	b->expires = (int64_t)get_le(p, 8);
	b->last_modified = (int64_t)get_le(p + 8, 8);
	b->last_keepalive_ms = (int64_t)get_le(p + 16, 8);
	b->cseq = (uint32_t)get_le(p + 24, 4);
	b->reg_id = (uint32_t)get_le(p + 28, 4);
	b->conn_id = (uint32_t)get_le(p + 32, 4);
	b->rtt_us = (uint32_t)get_le(p + 36, 4);
	b->q = (int16_t)(uint16_t)get_le(p + 40, 2);
	b->flags = p[42];
	b->socket = p[43];
	b->received.proto = p[45];
	b->received.port = (uint16_t)get_le(p + 46, 2);
	memcpy(b->received.addr, p + 48, 16);
	for (int i = 0; i < LOC_NFIELDS; i++)
		len[i] = (uint32_t)get_le(p + 64 + 2 * i, 2);
	b->nat_tests = fixed > PACK_FIXED_V1 ? p[PACK_FIXED_V1] : 0;
	b->branch_hash = fixed >= PACK_FIXED_V2 + 4 ? (uint32_t)get_le(p + PACK_FIXED_V2, 4) : 0;
	return family_of(p[44], &b->received.family);
}

static int unpack_binding(struct unpack_in *in, struct loc_binding *b)
{
	slice *f[LOC_NFIELDS] = { &b->contact, &b->path, &b->call_id,
				  &b->user_agent, &b->instance };
	uint32_t len[LOC_NFIELDS];
	const uint8_t *p = take(in, 2);
	size_t fixed;

	if (!p || (fixed = get_le(p, 2)) < in->min_fixed)
		return -EINVAL;
	p = take(in, fixed);
	if (!p || unpack_fixed(p, fixed, b, len))
		return -EINVAL;
	for (int i = 0; i < LOC_NFIELDS; i++) {
		p = take(in, len[i]);
		if (!p)
			return -EINVAL;
		*f[i] = slice_make((const char *)p, len[i]);
	}
	return loc_binding_check(b);
}

/* Fills key and b[] (count of them) from a whole, valid record. */
static int unpack_all(const void *buf, size_t len, slice *key,
		      struct loc_binding *b, unsigned *count)
{
	struct unpack_in in = { buf, len, PACK_FIXED_V2 };
	const uint8_t *p = take(&in, LOC_PACK_HEAD);
	int err;

	if (!p || memcmp(p, pack_magic, 4) || p[4] < 1 || p[4] > PACK_VERSION || !p[5])
		return -EINVAL;
	if (p[4] == 1)
		in.min_fixed = PACK_FIXED_V1;
	*count = (unsigned)get_le(p + 6, 2);
	if (*count > LOC_MAX_BINDINGS)
		return -EINVAL;
	*key = slice_make((const char *)take(&in, p[5]), p[5]);
	if (!key->p)
		return -EINVAL;
	for (unsigned i = 0; i < *count; i++) {
		err = unpack_binding(&in, &b[i]);
		if (err)
			return err;
	}
	return in.left ? -EINVAL : 0;
}

int loc_unpack_put(const void *buf, size_t len, int64_t now)
{
	struct loc_binding b[LOC_MAX_BINDINGS];
	struct loc_handle h;
	unsigned count;
	int err, inserted = 0;
	slice key;

	if (!buf)
		return -EINVAL;
	err = unpack_all(buf, len, &key, b, &count);
	if (err)
		return err;
	loc_lock(key, &h);
	for (unsigned i = 0; i < count && !err; i++) {
		if (b[i].expires <= now)
			continue;
		err = loc_put_clean_locked(&h, &b[i]);
		inserted += !err;
	}
	loc_unlock(&h);
	return err ? err : inserted;
}
