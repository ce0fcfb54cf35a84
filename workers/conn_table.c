/*
 * conn_table.c — the TCP/TLS connection table in shm: id -> owner,
 * protocol, listen entry, peer (the alias: responses and requests to that
 * address reuse the connection, RFC 5923 style), age and last activity.
 *
 * The first stream worker creates it (shm->tables[SHM_T_TCP], published
 * by compare-and-swap), everyone else only attaches. One futex lock guards
 * the free list, the alias chains and the id/owner fields; last activity
 * is a plain store. An entry whose owner is no longer its slot's live
 * process (killed, respawned) counts as gone: lookups free it on the way,
 * and a respawned worker sweeps its slot at start, so nothing waits for
 * the master.
 */
#include "stream_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static struct conn_table *table;

static struct conn_entry *entries(void)
{
	return shm_ptr(table->entries);
}

static uint32_t *heads(void)
{
	return shm_ptr(table->heads);
}

struct conn_table *conn_table_get(void)
{
	if (!table && shm && shm->tables[SHM_T_TCP])
		table = shm_ptr(__atomic_load_n(&shm->tables[SHM_T_TCP], __ATOMIC_ACQUIRE));
	return table;
}

static shm_off table_build(unsigned capacity)
{
	uint32_t nb = 1;
	shm_off off, ents, hds;
	struct conn_table *t;
	struct conn_entry *e;

	while (nb < capacity)
		nb <<= 1;
	off = shm_alloc(sizeof(*t));
	ents = shm_alloc((size_t)capacity * sizeof(*e));
	hds = shm_alloc((size_t)nb * sizeof(uint32_t));
	if (!off || !ents || !hds) {
		shm_free(off);
		shm_free(ents);
		shm_free(hds);
		return 0;
	}
	t = shm_ptr(off);
	*t = (struct conn_table){ .magic = CONN_MAGIC, .capacity = capacity, .nbuckets = nb,
				  .free_head = 1, .entries = ents, .heads = hds };
	e = shm_ptr(ents);
	memset(e, 0, (size_t)capacity * sizeof(*e));
	for (uint32_t i = 0; i < capacity; i++)
		e[i].next = i + 1 < capacity ? i + 2 : 0;
	memset(shm_ptr(hds), 0, (size_t)nb * sizeof(uint32_t));
	return off;
}

int conn_table_attach(unsigned capacity)
{
	shm_off off, expected = 0;

	if (!shm)
		return -ENODEV;
	if (conn_table_get())
		return 0;
	if (capacity > CONN_MAX)
		capacity = CONN_MAX;
	off = table_build(capacity);
	if (!off)
		return -ENOMEM;
	if (!__atomic_compare_exchange_n(&shm->tables[SHM_T_TCP], &expected, off, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		struct conn_table *t = shm_ptr(off);

		shm_free(t->entries);
		shm_free(t->heads);
		shm_free(off);
		return conn_table_get() ? 0 : -ENOMEM;
	}
	table = shm_ptr(off);
	shm_lock_register(&table->lock, 1, sizeof(table->lock));
	return 0;
}

void conn_addr_from_sockaddr(const struct sockaddr *sa, struct loc_addr *out)
{
	netaddr_split(sa, &out->family, &out->port, out->addr);
	out->proto = 0;
}

void conn_addr_to_sockaddr(const struct loc_addr *a, struct sockaddr_storage *ss,
			   socklen_t *len)
{
	netaddr_join(a->family, a->port, a->addr, ss, len);
}

static uint32_t alias_hash(uint8_t socket, const struct loc_addr *a)
{
	uint32_t h = 2166136261u ^ socket;
	const uint8_t *p = a->addr;

	for (unsigned i = 0; i < 16; i++)
		h = (h ^ p[i]) * 16777619u;
	h = (h ^ a->port) * 16777619u;
	return h & (table->nbuckets - 1);
}

static bool same_alias(const struct conn_entry *e, uint8_t socket, const struct loc_addr *a)
{
	return e->socket == socket && e->peer.family == a->family && e->peer.port == a->port &&
	       memcmp(e->peer.addr, a->addr, 16) == 0;
}

bool conn_owner_alive(int32_t pid, uint16_t slot)
{
	const struct proc_entry *pe;

	if (stream_self && pid == stream_self->pid)
		return true;
	if (slot >= SHM_MAX_PROCS)
		return false;
	pe = &shm->procs[slot];
	if (pe->pid != pid || (pe->state != PROC_RUNNING && pe->state != PROC_RETIRING))
		return false;
	return kill(pid, 0) == 0 || errno != ESRCH;
}

uint32_t conn_index_of(uint32_t id)
{
	return (id & ((1u << CONN_IDX_BITS) - 1)) - 1;
}

static void unlink_locked(uint32_t idx)
{
	struct conn_entry *e = &entries()[idx];
	uint32_t *pp = &heads()[e->hash];

	while (*pp && *pp != idx + 1)
		pp = &entries()[*pp - 1].next;
	if (*pp)
		*pp = e->next;
	e->id = 0;
	e->owner_pid = 0;
	e->next = table->free_head;
	table->free_head = idx + 1;
	table->used--;
}

int conn_add(uint16_t slot, uint8_t proto, uint8_t socket, bool outgoing,
	     const struct sockaddr *peer, unsigned limit, uint32_t *id, uint32_t *index)
{
	struct conn_entry *e;
	uint32_t idx;

	if (!conn_table_get())
		return -ENODEV;
	shm_lock(&table->lock);
	if (!table->free_head || table->used >= limit) {
		shm_unlock(&table->lock);
		return -ENOSPC;
	}
	idx = table->free_head - 1;
	e = &entries()[idx];
	table->free_head = e->next;
	table->used++;
	e->gen = (uint16_t)((e->gen + 1) & 0xfff);
	e->id = ((uint32_t)e->gen << CONN_IDX_BITS) | (idx + 1);
	e->owner_pid = (int32_t)getpid();
	e->owner_slot = slot;
	e->proto = proto;
	e->socket = socket;
	e->outgoing = outgoing;
	conn_addr_from_sockaddr(peer, &e->peer);
	e->created = e->last = time(NULL);
	e->hash = alias_hash(socket, &e->peer);
	e->next = heads()[e->hash];
	heads()[e->hash] = idx + 1;
	*id = e->id;
	*index = idx;
	shm_unlock(&table->lock);
	return 0;
}

void conn_del(uint32_t id)
{
	uint32_t idx = conn_index_of(id);

	if (!conn_table_get() || idx >= table->capacity)
		return;
	shm_lock(&table->lock);
	if (entries()[idx].id == id)
		unlink_locked(idx);
	shm_unlock(&table->lock);
}

void conn_touch(uint32_t index)
{
	if (table && index < table->capacity)
		__atomic_store_n(&entries()[index].last, (int64_t)time(NULL), __ATOMIC_RELAXED);
}

static void info_of(const struct conn_entry *e, struct conn_info *out)
{
	*out = (struct conn_info){ .id = e->id, .owner_pid = e->owner_pid,
				   .owner_slot = e->owner_slot, .proto = e->proto,
				   .socket = e->socket, .outgoing = e->outgoing,
				   .peer = e->peer, .created = e->created, .last = e->last };
}

/* A live entry is copied out; a dead owner's entry is freed. */
static int take_locked(uint32_t idx, struct conn_info *out)
{
	struct conn_entry *e = &entries()[idx];

	if (!conn_owner_alive(e->owner_pid, e->owner_slot)) {
		unlink_locked(idx);
		return -ENOENT;
	}
	info_of(e, out);
	return 0;
}

int conn_find_id(uint32_t id, struct conn_info *out)
{
	uint32_t idx = conn_index_of(id);
	int rc = -ENOENT;

	if (!id || !conn_table_get() || idx >= table->capacity)
		return -ENOENT;
	shm_lock(&table->lock);
	if (entries()[idx].id == id)
		rc = take_locked(idx, out);
	shm_unlock(&table->lock);
	return rc;
}

int conn_find_alias(uint8_t socket, const struct sockaddr *peer, struct conn_info *out)
{
	struct loc_addr a;
	uint32_t i, next;
	int rc = -ENOENT;

	if (!conn_table_get())
		return -ENOENT;
	conn_addr_from_sockaddr(peer, &a);
	shm_lock(&table->lock);
	for (i = heads()[alias_hash(socket, &a)]; i && rc < 0; i = next) {
		next = entries()[i - 1].next;
		if (same_alias(&entries()[i - 1], socket, &a))
			rc = take_locked(i - 1, out);
	}
	shm_unlock(&table->lock);
	return rc;
}

int conn_take_over(uint32_t id, uint16_t slot, struct conn_info *out)
{
	uint32_t idx = conn_index_of(id);
	struct conn_entry *e;
	int rc = -ENOENT;

	if (!id || !conn_table_get() || idx >= table->capacity)
		return -ENOENT;
	shm_lock(&table->lock);
	e = &entries()[idx];
	if (e->id == id) {
		e->owner_pid = (int32_t)getpid();
		e->owner_slot = slot;
		info_of(e, out);
		rc = 0;
	}
	shm_unlock(&table->lock);
	return rc;
}

unsigned conn_sweep_slot(uint16_t slot, int32_t pid)
{
	unsigned n = 0;

	if (!conn_table_get())
		return 0;
	shm_lock(&table->lock);
	for (uint32_t i = 0; i < table->capacity; i++) {
		struct conn_entry *e = &entries()[i];

		if (e->id && e->owner_slot == slot && e->owner_pid != pid) {
			unlink_locked(i);
			n++;
		}
	}
	shm_unlock(&table->lock);
	return n;
}

static void row_of(const struct conn_entry *e, struct stream_conn_row *r)
{
	socklen_t len;

	*r = (struct stream_conn_row){ .id = e->id, .proto = e->proto, .socket = e->socket,
				       .outgoing = e->outgoing, .owner_pid = e->owner_pid,
				       .owner_slot = e->owner_slot, .created = e->created,
				       .last = e->last };
	conn_addr_to_sockaddr(&e->peer, &r->peer, &len);
}

/* Live entries of [from, from + n) copied into rows; returns how many. */
static unsigned batch_locked(uint32_t from, uint32_t n, struct stream_conn_row *rows)
{
	unsigned k = 0;

	for (uint32_t i = from; i < from + n && i < table->capacity; i++) {
		struct conn_entry *e = &entries()[i];

		if (!e->id)
			continue;
		if (!conn_owner_alive(e->owner_pid, e->owner_slot))
			unlink_locked(i);
		else
			row_of(e, &rows[k++]);
	}
	return k;
}

unsigned stream_conn_walk(void (*fn)(const struct stream_conn_row *r, void *arg), void *arg)
{
	static struct stream_conn_row rows[256];
	unsigned total = 0;

	if (!conn_table_get())
		return 0;
	for (uint32_t from = 0; from < table->capacity; from += 256) {
		unsigned k;

		shm_lock(&table->lock);
		k = batch_locked(from, 256, rows);
		shm_unlock(&table->lock);
		for (unsigned i = 0; i < k; i++)
			fn(&rows[i], arg);
		total += k;
	}
	return total;
}
