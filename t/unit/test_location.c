/*
 * test_location.c — the location table in shm: bindings put, replaced,
 * found and deleted; AOR records freed with their last binding; counts;
 * limits, oversized fields and a full segment; dirty flag and write-back
 * tombstones; keepalive; pack/unpack and garbage records; walks; several
 * processes at once; a process killed while holding a bucket lock.
 */
#include "../../shm/shm.h"
#include "tap.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEG_SIZE (64u << 20)
#define NOW 1700000000LL

static uint64_t used_now(void)
{
	struct shm_usage u;

	shm_usage(&u);
	return u.used;
}

static struct loc_binding mkb(const char *contact, const char *call_id)
{
	struct loc_binding b = {
		.contact = slice_cstr(contact),
		.path = SLICE_NULL,
		.call_id = slice_cstr(call_id),
		.user_agent = SLICE_LIT("sipp/3.6"),
		.instance = SLICE_NULL,
		.expires = NOW + 3600,
		.last_modified = NOW,
		.cseq = 1,
		.q = -1,
	};
	return b;
}

/* Puts one binding under its own lock. */
static int put1(const char *aor, const struct loc_binding *b)
{
	struct loc_handle h;
	int err;

	loc_lock(slice_cstr(aor), &h);
	err = loc_put_locked(&h, b);
	loc_unlock(&h);
	return err;
}

static unsigned count_of(const char *aor)
{
	struct loc_handle h;
	unsigned n;

	loc_lock(slice_cstr(aor), &h);
	n = loc_count_locked(&h);
	loc_unlock(&h);
	return n;
}

static bool has_record(const char *aor)
{
	struct loc_handle h;
	bool r;

	loc_lock(slice_cstr(aor), &h);
	r = h.aor != 0;
	loc_unlock(&h);
	return r;
}

static void del_all(const char *aor)
{
	struct loc_handle h;

	loc_lock(slice_cstr(aor), &h);
	loc_del_all_locked(&h);
	loc_unlock(&h);
}

/* ---- set-up --------------------------------------------------------- */

static void test_init(void)
{
	IS_INT(loc_init(0), -ENODEV, "loc_init without a segment");
	IS_INT(loc_buckets_for(256u << 20), 1u << 20, "1M buckets for 256M");
	IS_INT(loc_aor_count(), 0, "no segment: no AORs");
	IS_INT(shm_create(SEG_SIZE), 0, "segment created");
	IS_INT(loc_init(1u << 30), 0, "loc_init with a huge hint");
	OK(loc_bucket_total() <= SEG_SIZE / 16 / 8, "bucket array clamped to "
	   "1/16 of the segment (%u buckets)", loc_bucket_total());
	OK((loc_bucket_total() & (loc_bucket_total() - 1)) == 0,
	   "bucket count is a power of two");
	IS_INT(loc_init(0), -EEXIST, "loc_init twice");
	IS_INT(loc_aor_count(), 0, "empty table: no AORs");
	IS_INT(loc_binding_count(), 0, "empty table: no bindings");
}

/* ---- put, get, replace, find, delete ------------------------------- */

static void test_put_get_all_fields(void)
{
	struct loc_binding b = mkb("sip:alice@10.0.2.15:5060;transport=udp",
				   "a84b4c76e66710@pc33"), g;
	struct loc_handle h;

	b.path = SLICE_LIT("<sip:edge1.example.com;lr>,<sip:edge2;lr>");
	b.instance = SLICE_LIT("\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"");
	b.last_keepalive_ms = 1700000000123LL;
	b.cseq = 314159;
	b.reg_id = 2;
	b.conn_id = 77;
	b.rtt_us = 1234;
	b.q = 500;
	b.flags = LOC_F_NAT | LOC_F_KEEPALIVE;
	b.socket = 3;
	b.received = (struct loc_addr){ AF_INET6, 1, 50600,
		{ 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };
	IS_INT(put1("alice@example.com", &b), 0, "put a binding");
	loc_lock(SLICE_LIT("alice@example.com"), &h);
	OK(h.aor != 0, "AOR record exists");
	IS_INT(loc_count_locked(&h), 1, "one binding");
	IS_INT(loc_get_locked(&h, 0, &g), 0, "get binding 0");
	IS_SLICE(g.contact, "sip:alice@10.0.2.15:5060;transport=udp", "contact");
	IS_SLICE(g.path, "<sip:edge1.example.com;lr>,<sip:edge2;lr>", "path");
	IS_SLICE(g.call_id, "a84b4c76e66710@pc33", "call-id");
	IS_SLICE(g.user_agent, "sipp/3.6", "user agent");
	IS_SLICE(g.instance, "\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"",
		 "instance");
	OK(g.expires == b.expires && g.last_modified == b.last_modified &&
	   g.last_keepalive_ms == b.last_keepalive_ms, "times");
	OK(g.cseq == 314159 && g.reg_id == 2 && g.conn_id == 77 &&
	   g.rtt_us == 1234 && g.q == 500 && g.flags == 3 && g.socket == 3,
	   "numbers");
	OK(memcmp(&g.received, &b.received, sizeof(b.received)) == 0,
	   "received address");
	IS_INT(loc_get_locked(&h, 1, &g), -ENOENT, "no binding 1");
	loc_unlock(&h);
	IS_INT(loc_aor_count(), 1, "one AOR counted");
	IS_INT(loc_binding_count(), 1, "one binding counted");
	del_all("alice@example.com");
	OK(!has_record("alice@example.com"), "record gone after del_all");
	IS_INT(loc_aor_count(), 0, "no AOR counted");
	IS_INT(loc_binding_count(), 0, "no binding counted");
}

static void test_replace_and_order(void)
{
	struct loc_binding b1 = mkb("sip:bob@1.1.1.1", "c1"),
			   b2 = mkb("sip:bob@2.2.2.2", "c2"),
			   b3 = mkb("sip:bob@3.3.3.3", "c3"), g;
	struct loc_handle h;
	uint64_t base = used_now();

	put1("bob@example.com", &b1);
	put1("bob@example.com", &b2);
	put1("bob@example.com", &b3);
	b2.call_id = SLICE_LIT("c2-longer-call-id");
	b2.cseq = 9;
	IS_INT(put1("bob@example.com", &b2), 0, "replace with another length");
	b3.cseq = 10;
	b3.instance = SLICE_LIT("<urn:uuid:b>");
	b3.reg_id = 1;
	b3.path = SLICE_LIT("<sip:p>");
	b3.user_agent = SLICE_LIT("ua");
	IS_INT(put1("bob@example.com", &b3), 0, "replace with other fields");
	b3.cseq = 11;
	IS_INT(put1("bob@example.com", &b3), 0, "replace with same lengths");
	loc_lock(SLICE_LIT("bob@example.com"), &h);
	IS_INT(loc_count_locked(&h), 3, "replacing adds nothing");
	loc_get_locked(&h, 1, &g);
	IS_SLICE(g.contact, "sip:bob@2.2.2.2", "replaced binding keeps its place");
	IS_SLICE(g.call_id, "c2-longer-call-id", "replaced call-id");
	IS_INT(g.cseq, 9, "replaced cseq");
	loc_get_locked(&h, 2, &g);
	IS_INT(g.cseq, 11, "replaced in place");
	IS_INT(loc_find_locked(&h, SLICE_LIT("sip:bob@1.1.1.1")), 0, "find 0");
	IS_INT(loc_find_locked(&h, SLICE_LIT("sip:bob@3.3.3.3")), 2, "find 2");
	IS_INT(loc_find_locked(&h, SLICE_LIT("sip:BOB@3.3.3.3")), -ENOENT,
	       "find compares exact bytes");
	IS_INT(loc_find_locked(&h, SLICE_LIT("sip:bob@3.3.3.")), -ENOENT,
	       "find: a prefix is not a match");
	IS_INT(loc_find_flow_locked(&h, SLICE_LIT("<urn:uuid:b>"), 1), 2,
	       "find the flow by instance and reg-id");
	IS_INT(loc_find_flow_locked(&h, SLICE_LIT("<urn:uuid:b>"), 2), -ENOENT,
	       "flow: another reg-id does not match");
	IS_INT(loc_find_flow_locked(&h, SLICE_NULL, 0), -ENOENT,
	       "flow: an empty instance matches nothing");
	IS_INT(loc_del_locked(&h, 1), 0, "delete the middle binding");
	IS_INT(loc_del_locked(&h, 2), -ENOENT, "delete out of range");
	loc_get_locked(&h, 1, &g);
	IS_SLICE(g.contact, "sip:bob@3.3.3.3", "order kept after delete");
	IS_INT(loc_binding_count(), 2, "binding count after delete");
	IS_INT(loc_del_locked(&h, 0), 0, "delete first");
	IS_INT(loc_del_locked(&h, 0), 0, "delete last");
	OK(h.aor == 0, "handle has no record after the last delete");
	IS_INT(loc_count_locked(&h), 0, "count 0");
	loc_unlock(&h);
	OK(!has_record("bob@example.com"), "AOR record freed");
	IS_INT(used_now(), base, "every object freed");
	IS_INT(loc_aor_count(), 0, "AOR count back to 0");
}

static void test_find_missing_aor(void)
{
	struct loc_handle h;
	struct loc_binding g;

	loc_lock(SLICE_LIT("nobody@example.com"), &h);
	OK(h.aor == 0, "unknown AOR has no record");
	IS_INT(loc_find_locked(&h, SLICE_LIT("sip:x")), -ENOENT, "find: none");
	IS_INT(loc_get_locked(&h, 0, &g), -ENOENT, "get: none");
	IS_INT(loc_del_locked(&h, 0), -ENOENT, "del: none");
	loc_del_all_locked(&h);
	OK(!loc_dirty_locked(&h), "not dirty");
	loc_unlock(&h);
}

static void test_limit(void)
{
	struct loc_binding b;
	char contact[64];
	int err = 0;

	for (int i = 0; i < LOC_MAX_BINDINGS && !err; i++) {
		snprintf(contact, sizeof(contact), "sip:many@10.0.0.%d", i);
		b = mkb(contact, "many");
		err = put1("many@example.com", &b);
	}
	IS_INT(err, 0, "%d bindings fit", LOC_MAX_BINDINGS);
	b = mkb("sip:one-more@10.0.0.1", "many");
	IS_INT(put1("many@example.com", &b), -E2BIG, "one more is -E2BIG");
	b = mkb("sip:many@10.0.0.5", "replaced-at-the-limit");
	IS_INT(put1("many@example.com", &b), 0, "replacing at the limit works");
	IS_INT(count_of("many@example.com"), LOC_MAX_BINDINGS, "count at limit");
	IS_INT(loc_binding_count(), LOC_MAX_BINDINGS, "binding count");
	del_all("many@example.com");
	IS_INT(loc_binding_count(), 0, "all gone");
}

static void test_invalid(void)
{
	static char big[LOC_MAX_PATH + 2];
	struct loc_binding b = mkb("sip:x@y", "c");
	uint64_t base = used_now();
	char key[LOC_MAX_AOR + 2];

	memset(big, 'a', sizeof(big));
	b.contact = slice_make(big, LOC_MAX_CONTACT + 1);
	IS_INT(put1("inv@example.com", &b), -EINVAL, "oversized contact");
	b = mkb("sip:x@y", "c");
	b.path = slice_make(big, LOC_MAX_PATH + 1);
	IS_INT(put1("inv@example.com", &b), -EINVAL, "oversized path");
	b.path = slice_make(big, LOC_MAX_PATH);
	b.call_id = slice_make(big, LOC_MAX_CALL_ID + 1);
	IS_INT(put1("inv@example.com", &b), -EINVAL, "oversized call-id");
	b.call_id = SLICE_LIT("c");
	b.user_agent = slice_make(big, LOC_MAX_USER_AGENT + 1);
	IS_INT(put1("inv@example.com", &b), -EINVAL, "oversized user agent");
	b.user_agent = SLICE_NULL;
	b.instance = slice_make(big, LOC_MAX_INSTANCE + 1);
	IS_INT(put1("inv@example.com", &b), -EINVAL, "oversized instance");
	b = mkb("", "c");
	IS_INT(put1("inv@example.com", &b), -EINVAL, "empty contact");
	b = mkb("sip:x@y", "c");
	b.q = 1001;
	IS_INT(put1("inv@example.com", &b), -EINVAL, "q above 1000");
	b.q = 0;
	b.received.family = 99;
	IS_INT(put1("inv@example.com", &b), -EINVAL, "unknown family");
	b.received.family = AF_INET;
	memset(key, 'k', sizeof(key));
	key[LOC_MAX_AOR + 1] = '\0';
	IS_INT(put1(key, &b), -EINVAL, "AOR key of %d bytes", LOC_MAX_AOR + 1);
	IS_INT(put1("", &b), -EINVAL, "empty AOR key");
	OK(!has_record("inv@example.com"), "nothing created");
	IS_INT(used_now(), base, "nothing allocated");
	key[LOC_MAX_AOR] = '\0';
	b.path = slice_make(big, LOC_MAX_PATH);
	b.contact = slice_make(big, LOC_MAX_CONTACT);
	IS_INT(put1(key, &b), 0, "key and fields at their maximum fit");
	del_all(key);
}

/* ---- a full segment ------------------------------------------------- */

struct filler {
	shm_off *off;
	size_t n, cap;
};

static void fill_with(struct filler *f, size_t size)
{
	shm_off o;

	while ((o = shm_alloc(size))) {
		if (f->n == f->cap) {
			f->cap = f->cap ? 2 * f->cap : 1024;
			f->off = realloc(f->off, f->cap * sizeof(*f->off));
		}
		f->off[f->n++] = o;
	}
}

static void fill_free(struct filler *f)
{
	for (size_t i = 0; i < f->n; i++)
		shm_free(f->off[i]);
	free(f->off);
}

static void test_enomem(void)
{
	struct loc_binding b = mkb("sip:full@10.0.0.1", "full"), g;
	struct filler f = { 0 };
	struct loc_handle h;
	uint64_t aors, bindings;

	IS_INT(put1("full@example.com", &b), 0, "an AOR before the segment fills");
	aors = loc_aor_count();
	bindings = loc_binding_count();
	fill_with(&f, 64u * 1024);
	for (size_t s = 16; s <= 4096; s += 16)
		fill_with(&f, s);
	b = mkb("sip:new@10.0.0.2", "new");
	IS_INT(put1("new@example.com", &b), -ENOMEM, "new AOR in a full segment");
	OK(!has_record("new@example.com"), "no record left behind");
	IS_INT(put1("full@example.com", &b), -ENOMEM, "new binding: -ENOMEM");
	b = mkb("sip:full@10.0.0.1", "full-but-longer");
	IS_INT(put1("full@example.com", &b), -ENOMEM,
	       "replacement of another size: -ENOMEM");
	b = mkb("sip:full@10.0.0.1", "FULL");
	b.cseq = 2;
	IS_INT(put1("full@example.com", &b), 0,
	       "refresh with the same lengths works in a full segment");
	IS_INT(loc_aor_count(), aors, "AOR count unchanged");
	IS_INT(loc_binding_count(), bindings, "binding count unchanged");
	loc_lock(SLICE_LIT("full@example.com"), &h);
	IS_INT(loc_count_locked(&h), 1, "existing AOR intact");
	loc_get_locked(&h, 0, &g);
	IS_SLICE(g.call_id, "FULL", "existing binding readable");
	loc_unlock(&h);
	fill_free(&f);
	b = mkb("sip:new@10.0.0.2", "new");
	IS_INT(put1("new@example.com", &b), 0, "usable once memory is freed");
	del_all("new@example.com");
	del_all("full@example.com");
	IS_INT(loc_binding_count(), 0, "empty again");
}

/* ---- dirty, write-back, keepalive ----------------------------------- */

static int walk_nothing(struct loc_handle *h, void *arg)
{
	(*(unsigned *)arg)++;
	return 0;
}

static void test_dirty(void)
{
	struct loc_binding b = mkb("sip:d@1.2.3.4", "d");
	struct loc_handle h;
	uint32_t cursor = 0;
	unsigned seen = 0;

	put1("dirty@example.com", &b);
	loc_lock(SLICE_LIT("dirty@example.com"), &h);
	OK(!loc_dirty_locked(&h), "a new AOR is clean");
	loc_set_dirty_locked(&h, true);
	OK(loc_dirty_locked(&h), "marked dirty");
	loc_set_dirty_locked(&h, false);
	OK(!loc_dirty_locked(&h), "marked clean");
	loc_del_all_locked(&h);
	OK(h.aor == 0, "without write-back the empty record goes");
	loc_unlock(&h);

	loc_set_write_back(true);
	put1("dirty@example.com", &b);
	loc_lock(SLICE_LIT("dirty@example.com"), &h);
	OK(loc_dirty_locked(&h), "write-back: put marks dirty");
	loc_set_dirty_locked(&h, false);
	loc_del_locked(&h, 0);
	OK(h.aor != 0 && loc_dirty_locked(&h), "write-back: deleting the last "
	   "binding keeps a dirty empty record");
	IS_INT(loc_count_locked(&h), 0, "with no binding");
	loc_unlock(&h);
	IS_INT(loc_aor_count(), 0, "an empty record is not a registered user");
	loc_walk(&cursor, 0, walk_nothing, &seen);
	IS_INT(seen, 1, "the walk shows the empty record to the flusher");
	OK(has_record("dirty@example.com"), "walk keeps it while dirty");
	loc_lock(SLICE_LIT("dirty@example.com"), &h);
	loc_set_dirty_locked(&h, false);
	OK(h.aor == 0, "flushed: the empty record is freed");
	loc_unlock(&h);

	put1("dirty@example.com", &b);
	del_all("dirty@example.com");
	loc_set_write_back(false);
	seen = 0;
	loc_walk(&cursor, 0, walk_nothing, &seen);
	OK(!has_record("dirty@example.com"), "write-back off: the walk frees a "
	   "left-over empty record");
}

static void test_keepalive(void)
{
	struct loc_binding b = mkb("sip:k@1.2.3.4", "k"), g;
	struct loc_handle h;

	put1("ka@example.com", &b);
	loc_lock(SLICE_LIT("ka@example.com"), &h);
	IS_INT(loc_update_keepalive_locked(&h, 0, 1700000000999LL, 4321), 0,
	       "keepalive update");
	IS_INT(loc_update_keepalive_locked(&h, 1, 1, 1), -ENOENT,
	       "keepalive update out of range");
	loc_get_locked(&h, 0, &g);
	OK(g.last_keepalive_ms == 1700000000999LL && g.rtt_us == 4321,
	   "keepalive time and rtt stored");
	OK(!loc_dirty_locked(&h), "a keepalive does not dirty the AOR");
	loc_del_all_locked(&h);
	loc_unlock(&h);
}

/* ---- pack / unpack -------------------------------------------------- */

static bool same_binding(const struct loc_binding *a, const struct loc_binding *b)
{
	return slice_eq(a->contact, b->contact) && slice_eq(a->path, b->path) &&
	       slice_eq(a->call_id, b->call_id) &&
	       slice_eq(a->user_agent, b->user_agent) &&
	       slice_eq(a->instance, b->instance) && a->expires == b->expires &&
	       a->last_modified == b->last_modified &&
	       a->last_keepalive_ms == b->last_keepalive_ms &&
	       a->cseq == b->cseq && a->reg_id == b->reg_id &&
	       a->conn_id == b->conn_id && a->rtt_us == b->rtt_us &&
	       a->q == b->q && a->flags == b->flags && a->socket == b->socket &&
	       a->nat_tests == b->nat_tests &&
	       memcmp(&a->received, &b->received, sizeof(a->received)) == 0;
}

static void sample_bindings(struct loc_binding b[3])
{
	b[0] = mkb("sip:p@192.168.1.2:5060;transport=tcp;ob", "call-0");
	b[0].path = SLICE_LIT("<sip:edge.example.com;lr;ob>");
	b[0].instance = SLICE_LIT("\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"");
	b[0].reg_id = 1;
	b[0].conn_id = 4242;
	b[0].q = 1000;
	b[0].flags = LOC_F_NAT | LOC_F_KEEPALIVE;
	b[0].socket = 1;
	b[0].nat_tests = 19;
	b[0].last_keepalive_ms = NOW * 1000 + 17;
	b[0].rtt_us = 800;
	b[0].received = (struct loc_addr){ AF_INET, 1, 40000, { 203, 0, 113, 9 } };
	b[1] = mkb("sip:p@[2001:db8::2];user=phone", "call-1");
	b[1].expires = NOW - 1;
	b[2] = mkb("sip:p@10.0.2.15:5062", "call-2");
	b[2].cseq = 0xfffffffe;
	b[2].expires = -5 + NOW + 100;
	b[2].last_modified = -1;
	b[2].received = (struct loc_addr){ AF_INET6, 2, 5061,
		{ 0x20, 0x01, 0x0d, 0xb8, [14] = 0xab, [15] = 0xcd } };
}

static ssize_t pack_aor(const char *aor, uint8_t *buf, size_t cap)
{
	struct loc_handle h;
	ssize_t n;

	loc_lock(slice_cstr(aor), &h);
	n = loc_pack_locked(&h, buf, cap);
	loc_unlock(&h);
	return n;
}

static void test_pack_round_trip(void)
{
	static uint8_t buf[LOC_PACK_MAX];
	struct loc_binding b[3], g;
	struct loc_handle h;
	ssize_t n;

	sample_bindings(b);
	for (int i = 0; i < 3; i++)
		put1("packed@example.com", &b[i]);
	n = pack_aor("packed@example.com", buf, sizeof(buf));
	OK(n > 0 && memcmp(buf, "PLOC", 4) == 0 && buf[4] == 2,
	   "packed record starts with magic and version 2");
	loc_lock(SLICE_LIT("packed@example.com"), &h);
	IS_INT(loc_pack_size_locked(&h), n, "pack size predicted");
	IS_INT(loc_pack_locked(&h, buf, (size_t)n - 1), -ENOSPC,
	       "one byte short: -ENOSPC");
	IS_INT(loc_pack_locked(&h, buf, (size_t)n), n, "exact room is enough");
	loc_del_all_locked(&h);
	loc_unlock(&h);
	IS_INT(loc_unpack_put(buf, (size_t)n, NOW), 2,
	       "unpack inserts the two live bindings");
	loc_lock(SLICE_LIT("packed@example.com"), &h);
	IS_INT(loc_count_locked(&h), 2, "two bindings back");
	loc_get_locked(&h, 0, &g);
	OK(same_binding(&g, &b[0]), "binding 0: every field survives");
	loc_get_locked(&h, 1, &g);
	OK(same_binding(&g, &b[2]), "binding 2: every field survives");
	IS_INT(loc_find_locked(&h, b[1].contact), -ENOENT,
	       "expired binding skipped");
	OK(!loc_dirty_locked(&h), "loaded AOR is clean");
	loc_del_all_locked(&h);
	loc_unlock(&h);
	IS_INT(loc_unpack_put(buf, (size_t)n, NOW + 100000), 0,
	       "all expired: nothing inserted");
	OK(!has_record("packed@example.com"), "and no record made");
}

/* A version 1 record (written before nat_tests existed: 74 fixed bytes)
 * still loads, with nat_tests 0. Made from a current record of one binding
 * by dropping its fixed bytes past 74 (nat_tests, branch_hash). */
static void test_pack_version1(void)
{
	static uint8_t buf[LOC_PACK_MAX];
	struct loc_binding b[3], g;
	struct loc_handle h;
	size_t fixed_at = LOC_PACK_HEAD + strlen("version@example.com");
	size_t at = fixed_at + 2 + 74;
	ssize_t n;

	sample_bindings(b);
	put1("version@example.com", &b[0]);
	n = pack_aor("version@example.com", buf, sizeof(buf));
	del_all("version@example.com");
	size_t extra = LOC_PACK_FIXED - 74;

	buf[4] = 1;
	buf[fixed_at] = 74;
	memmove(buf + at, buf + at + extra, (size_t)n - at - extra);
	n -= (ssize_t)extra - 1;
	IS_INT(loc_unpack_put(buf, (size_t)n - 1, NOW), 1, "a version 1 record loads");
	loc_lock(SLICE_LIT("version@example.com"), &h);
	b[0].nat_tests = 0;
	b[0].branch_hash = 0;
	OK(loc_get_locked(&h, 0, &g) == 0 && same_binding(&g, &b[0]),
	   "every field read, nat_tests 0");
	loc_del_all_locked(&h);
	loc_unlock(&h);
	buf[fixed_at] = 73;
	IS_INT(loc_unpack_put(buf, (size_t)n - 1, NOW), -EINVAL,
	       "version 1 with fewer than 74 fixed bytes: -EINVAL");
}

static void test_pack_empty(void)
{
	uint8_t buf[64];
	ssize_t n = pack_aor("empty@example.com", buf, sizeof(buf));

	IS_INT(n, LOC_PACK_HEAD + 17, "an AOR without record packs its key");
	IS_INT(loc_unpack_put(buf, (size_t)n, NOW), 0, "and unpacks to nothing");
	IS_INT(pack_aor("empty@example.com", buf, 8), -ENOSPC, "-ENOSPC");
}

static bool table_consistent(void);

static int walk_delete(struct loc_handle *h, void *arg)
{
	loc_del_all_locked(h);
	return 0;
}

static void clear_all(void)
{
	uint32_t cursor = 0;

	loc_walk(&cursor, 0, walk_delete, NULL);
}

static void test_unpack_garbage(void)
{
	static uint8_t buf[LOC_PACK_MAX], bad[4096];
	struct loc_binding b[3];
	unsigned seed = 12345;
	bool all = true;
	ssize_t n;
	int r;

	sample_bindings(b);
	for (int i = 0; i < 3; i++)
		put1("garbage@example.com", &b[i]);
	n = pack_aor("garbage@example.com", buf, sizeof(buf));
	del_all("garbage@example.com");
	for (ssize_t len = 0; len < n; len++)
		all &= loc_unpack_put(buf, (size_t)len, NOW) == -EINVAL;
	OK(all, "every truncation of a record is -EINVAL");
	IS_INT(loc_unpack_put(NULL, 10, NOW), -EINVAL, "NULL buffer");
	memcpy(bad, buf, (size_t)n);
	bad[n] = 0;
	IS_INT(loc_unpack_put(bad, (size_t)n + 1, NOW), -EINVAL, "trailing byte");
	bad[4] = 3;
	IS_INT(loc_unpack_put(bad, (size_t)n, NOW), -EINVAL, "unknown version");
	memcpy(bad, buf, (size_t)n);
	bad[6] = LOC_MAX_BINDINGS + 1;
	IS_INT(loc_unpack_put(bad, (size_t)n, NOW), -EINVAL, "count over limit");
	memcpy(bad, buf, (size_t)n);
	bad[8 + 19 + 2 + 44] = 5;
	IS_INT(loc_unpack_put(bad, (size_t)n, NOW), -EINVAL,
	       "unknown address family code");
	OK(!has_record("garbage@example.com"), "malformed records insert nothing");
	all = true;
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)rand_r(&seed) % sizeof(bad);

		for (size_t j = 0; j < len; j++)
			bad[j] = (uint8_t)rand_r(&seed);
		if (i % 2)
			memcpy(bad, "PLOC\1", len < 5 ? len : 5);
		all &= loc_unpack_put(bad, len, NOW) == -EINVAL;
	}
	OK(all, "random bytes are -EINVAL");
	for (int i = 0; i < 20000; i++) {
		memcpy(bad, buf, (size_t)n);
		for (int k = 0; k < 3; k++)
			bad[rand_r(&seed) % n] = (uint8_t)rand_r(&seed);
		r = loc_unpack_put(bad, (size_t)n, NOW);
		all &= r == -EINVAL || r == -E2BIG || (r >= 0 && r <= 3);
	}
	OK(all, "flipped bytes: -EINVAL, a valid insert or too many bindings "
	   "for the AOR, never a crash");
	OK(table_consistent(), "table consistent after the garbage");
	clear_all();
}

/* ---- walks ---------------------------------------------------------- */

struct visits {
	unsigned char seen[2000];
	unsigned calls, delete_mod;
	int stop_after;
};

static int walk_count(struct loc_handle *h, void *arg)
{
	struct visits *v = arg;
	char key[LOC_MAX_AOR + 1];
	unsigned i;

	slice_copy_cstr(h->key, key, sizeof(key));
	if (sscanf(key, "w%u@", &i) != 1 || i >= 2000)
		return 0;
	v->seen[i]++;
	v->calls++;
	if (v->delete_mod && i % v->delete_mod == 0)
		loc_del_all_locked(h);
	return v->stop_after && (int)v->calls >= v->stop_after;
}

static void put_walk_aors(unsigned n)
{
	struct loc_binding b = mkb("sip:w@1.1.1.1", "w");
	char aor[32];

	for (unsigned i = 0; i < n; i++) {
		snprintf(aor, sizeof(aor), "w%u@example.com", i);
		put1(aor, &b);
	}
}

static bool each_seen_once(const struct visits *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (v->seen[i] != 1)
			return false;
	return true;
}

static void test_walk(void)
{
	struct visits v = { .calls = 0 };
	uint32_t cursor = 0;
	int passes = 0, done = 0;

	put_walk_aors(1000);
	IS_INT(loc_walk(&cursor, 0, walk_count, &v), 1, "one call: full pass");
	IS_INT(cursor, 0, "cursor wrapped");
	OK(each_seen_once(&v, 1000) && v.calls == 1000, "every AOR seen once");
	memset(&v, 0, sizeof(v));
	while (!done && passes++ < 1000000)
		done = loc_walk(&cursor, 7, walk_count, &v);
	OK(done && each_seen_once(&v, 1000), "7 buckets at a time: every AOR "
	   "seen once in %d calls", passes);
	memset(&v, 0, sizeof(v));
	v.delete_mod = 2;
	done = 0;
	while (!done)
		done = loc_walk(&cursor, 3, walk_count, &v);
	OK(each_seen_once(&v, 1000), "deleting during the walk: each seen once");
	IS_INT(loc_aor_count(), 500, "half the AORs deleted");
	IS_INT(loc_binding_count(), 500, "half the bindings deleted");
	OK(!has_record("w0@example.com") && has_record("w1@example.com"),
	   "deleted AOR records are gone");
	memset(&v, 0, sizeof(v));
	v.stop_after = 1;
	IS_INT(loc_walk(&cursor, 0, walk_count, &v), 0, "stopped walk: no pass");
	IS_INT(v.calls, 1, "fn returning non-zero stops the walk");
	v.stop_after = 0;
	IS_INT(loc_walk(&cursor, 0, walk_count, &v), 1, "resumed to the end");
	OK(v.calls >= 500, "resumed from the bucket it stopped on");
	v = (struct visits){ .delete_mod = 1 };
	loc_walk(&cursor, 0, walk_count, &v);
	IS_INT(loc_aor_count(), 0, "everything deleted by a walk");
	IS_INT(loc_binding_count(), 0, "no bindings left");
}

/* Every AOR's list is as long as its count and the counts add up. */
struct tally {
	uint64_t aors, bindings;
	bool bad;
};

static int walk_tally(struct loc_handle *h, void *arg)
{
	struct tally *t = arg;
	unsigned n = loc_count_locked(h);
	struct loc_binding b;

	for (unsigned i = 0; i < n; i++)
		if (loc_get_locked(h, i, &b) || b.contact.len == 0 ||
		    loc_find_locked(h, b.contact) != (int)i)
			t->bad = true;
	t->aors += n > 0;
	t->bindings += n;
	return 0;
}

static bool tally(struct tally *t)
{
	uint32_t cursor = 0;

	memset(t, 0, sizeof(*t));
	return loc_walk(&cursor, 0, walk_tally, t) == 1 && !t->bad;
}

static bool table_consistent(void)
{
	struct tally t;

	return tally(&t) && t.aors == loc_aor_count() &&
	       t.bindings == loc_binding_count();
}

/* ---- several processes ---------------------------------------------- */

#define KIDS 4
#define OWN 300
#define SHARED 20

static int kid_work(int k)
{
	char aor[32], contact[48];
	struct loc_binding b;
	struct loc_handle h;

	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < OWN; i++) {
			snprintf(aor, sizeof(aor), "k%d-%d@example.com", k, i);
			snprintf(contact, sizeof(contact), "sip:k%d@10.0.%d.%d",
				 k, round, i % 5);
			b = mkb(contact, "own");
			if (put1(aor, &b))
				return 1;
			if (round < 19 && i % 3 == 0)
				del_all(aor);
		}
		for (int i = 0; i < SHARED; i++) {
			snprintf(aor, sizeof(aor), "shared%d@example.com", i);
			snprintf(contact, sizeof(contact), "sip:k%d@shared", k);
			b = mkb(contact, round % 2 ? "odd-round" : "even");
			if (put1(aor, &b))
				return 2;
			loc_lock(slice_cstr(aor), &h);
			if (round < 19 && i % 2)
				loc_del_locked(&h, (unsigned)loc_find_locked(&h,
							b.contact));
			loc_unlock(&h);
		}
	}
	return 0;
}

static void test_processes(void)
{
	pid_t kid[KIDS];
	bool ok = true;
	struct tally t;

	for (int k = 0; k < KIDS; k++) {
		kid[k] = tap_fork();
		if (kid[k] == 0)
			_exit(kid_work(k));
	}
	for (int k = 0; k < KIDS; k++)
		ok &= tap_child_status(kid[k]) == 0;
	OK(ok, "%d processes put and delete without error", KIDS);
	OK(tally(&t) && !t.bad, "lists consistent after concurrent changes");
	IS_INT(loc_aor_count(), KIDS * OWN + SHARED, "exact AOR count");
	IS_INT(t.aors, loc_aor_count(), "walk agrees with the AOR count");
	IS_INT(loc_binding_count(), KIDS * (OWN / 3 + OWN * 2 / 3 * 20 + SHARED),
	       "exact binding count");
	IS_INT(t.bindings, loc_binding_count(), "walk agrees with the binding "
	       "count");
	OK(count_of("shared7@example.com") == KIDS &&
	   count_of("shared8@example.com") == KIDS,
	   "each shared AOR holds one binding per process");
	for (int k = 0; k < KIDS; k++)
		for (int i = 0; i < OWN; i++) {
			char aor[32];

			snprintf(aor, sizeof(aor), "k%d-%d@example.com", k, i);
			del_all(aor);
		}
	for (int i = 0; i < SHARED; i++) {
		char aor[32];

		snprintf(aor, sizeof(aor), "shared%d@example.com", i);
		del_all(aor);
	}
	IS_INT(loc_binding_count(), 0, "all removed");
}

static void test_dead_holder(void)
{
	struct loc_binding b = mkb("sip:dead@1.1.1.1", "dead");
	int fds[2];
	char c;
	pid_t pid;

	if (pipe(fds) < 0) {
		OK(false, "pipe");
		return;
	}
	pid = tap_fork();
	if (pid == 0) {
		struct loc_handle h;

		loc_lock(SLICE_LIT("dead@example.com"), &h);
		loc_put_locked(&h, &b);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	OK(read(fds[0], &c, 1) == 1, "child holds the bucket lock");
	kill(pid, SIGKILL);
	IS_INT(tap_child_status(pid), 128 + SIGKILL, "child killed");
	OK(shm_locks_release_dead(pid) >= 1, "master frees the dead holder's lock");
	IS_INT(count_of("dead@example.com"), 1, "its completed put is there");
	b = mkb("sip:dead@2.2.2.2", "alive");
	IS_INT(put1("dead@example.com", &b), 0, "the AOR is usable again");
	IS_INT(count_of("dead@example.com"), 2, "two bindings");
	del_all("dead@example.com");
	OK(table_consistent(), "table consistent");
	close(fds[0]);
	close(fds[1]);
}

/* A child changing the table in a loop is killed at a random moment. */
static void churn(void)
{
	struct loc_binding b;
	char aor[32], contact[48], callid[48];

	for (unsigned i = 0;; i++) {
		snprintf(aor, sizeof(aor), "churn%u@example.com", i % 7);
		snprintf(contact, sizeof(contact), "sip:c@10.0.0.%u", i % 11);
		snprintf(callid, sizeof(callid), "%0*u", (int)(i % 13) + 1, i);
		b = mkb(contact, callid);
		put1(aor, &b);
		if (i % 5 == 0)
			del_all(aor);
		else if (i % 3 == 0) {
			struct loc_handle h;

			loc_lock(slice_cstr(aor), &h);
			loc_del_locked(&h, 0);
			loc_unlock(&h);
		}
	}
}

static void test_killed_mid_change(void)
{
	struct tally t;
	bool ok = true;

	for (int round = 0; round < 20; round++) {
		pid_t pid = tap_fork();
		struct timespec ts = { 0, 1000000L * (1 + round % 4) };

		if (pid == 0) {
			churn();
			_exit(0);
		}
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		tap_child_status(pid);
		shm_locks_release_dead(pid);
		ok &= tally(&t) && !t.bad;
	}
	OK(ok, "lists walkable and consistent after 20 kills mid-change");
	for (int i = 0; i < 7; i++) {
		char aor[32];

		snprintf(aor, sizeof(aor), "churn%d@example.com", i);
		del_all(aor);
	}
	ok = tally(&t) && t.aors == 0 && t.bindings == 0;
	OK(ok, "and usable: everything deleted afterwards");
}

int main(void)
{
	test_init();
	test_put_get_all_fields();
	test_replace_and_order();
	test_find_missing_aor();
	test_limit();
	test_invalid();
	test_enomem();
	test_dirty();
	test_keepalive();
	test_pack_round_trip();
	test_pack_version1();
	test_pack_empty();
	test_unpack_garbage();
	test_walk();
	test_processes();
	test_dead_holder();
	test_killed_mid_change();
	shm_detach();
	return tap_done();
}
