/*
 * location_int.h — the location table's shared layout, for location.c and
 * location_pack.c only.
 *
 * Table header -> bucket array of AOR record offsets -> AOR records (key
 * inside, singly linked per bucket) -> binding records (fixed fields and
 * strings in one object, singly linked in insertion order). Every link is
 * written last, with a release store, after the object it points to is
 * complete; an object is unlinked before it is freed.
 */
#ifndef PINHOLE_LOCATION_INT_H
#define PINHOLE_LOCATION_INT_H

#include "shm.h"

#define LOC_TABLE_MAGIC 0x4c4f4331u   /* "LOC1" */
#define LOC_NFIELDS 5                 /* contact, path, call_id, user_agent, instance */

struct loc_table {
	uint32_t magic;
	uint32_t nbuckets;          /* power of two */
	uint32_t nstripes;          /* power of two, <= nbuckets */
	uint32_t write_back;        /* atomic */
	shm_off buckets;            /* shm_off[nbuckets]: first AOR record */
	shm_off locks;              /* struct shm_lock[nstripes] */
	uint64_t aors;              /* AORs with a binding (atomic) */
	uint64_t bindings;          /* (atomic) */
};
_Static_assert(sizeof(struct loc_table) == 48, "loc_table layout");

struct loc_aor_rec {
	shm_off next;               /* next AOR in the bucket */
	shm_off first;              /* first binding */
	uint32_t hash;              /* high half of the key's hash */
	uint8_t key_len;
	uint8_t count;              /* bindings */
	uint8_t dirty;
	uint8_t pad;
	char key[];
};
_Static_assert(sizeof(struct loc_aor_rec) == 24, "loc_aor_rec layout");

struct loc_rec {
	shm_off next;               /* next binding of the AOR */
	int64_t expires, last_modified, last_keepalive_ms;
	uint32_t cseq, reg_id, conn_id, rtt_us;
	int16_t q;
	uint8_t flags, socket;
	struct loc_addr received;
	uint16_t contact_len, path_len;
	uint8_t call_id_len, user_agent_len, instance_len, nat_tests;
	uint32_t branch_hash;
	uint32_t pad;
	char data[];                /* the strings, in field order */
};
_Static_assert(sizeof(struct loc_rec) == 88, "loc_rec layout");
_Static_assert(LOC_MAX_CONTACT <= UINT16_MAX && LOC_MAX_PATH <= UINT16_MAX &&
	       LOC_MAX_CALL_ID <= UINT8_MAX && LOC_MAX_USER_AGENT <= UINT8_MAX &&
	       LOC_MAX_INSTANCE <= UINT8_MAX && LOC_MAX_AOR <= UINT8_MAX &&
	       LOC_MAX_BINDINGS <= UINT8_MAX, "record length fields");

/* The fields of b, in record order. */
static inline void loc_binding_fields(const struct loc_binding *b,
				      slice f[LOC_NFIELDS])
{
	f[0] = b->contact;
	f[1] = b->path;
	f[2] = b->call_id;
	f[3] = b->user_agent;
	f[4] = b->instance;
}

/* -EINVAL unless every field of b fits a record. */
int loc_binding_check(const struct loc_binding *b);
/* loc_put_locked without marking the AOR dirty (the load path). */
int loc_put_clean_locked(struct loc_handle *h, const struct loc_binding *b);
const struct loc_aor_rec *loc_aor_of(const struct loc_handle *h);

#endif
