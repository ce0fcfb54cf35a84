/*
 * test_conn_table.c — the TCP/TLS connection table in shm
 * (workers/conn_table.c): ids and aliases, the connection limit, entries
 * of a dead owner vanishing on lookup, the sweep a respawned worker runs,
 * moving an entry to a new owner and the listing.
 */
#include "tap.h"
#include "../../workers/stream_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

static struct sockaddr_in peer(const char *ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

/* Process-table slot s is "running" as pid. */
static void slot_set(unsigned s, pid_t pid)
{
	shm->procs[s] = (struct proc_entry){ .pid = pid, .role = PROC_TCP,
					     .state = PROC_RUNNING };
}

static void test_ids_and_aliases(void)
{
	struct sockaddr_in a = peer("192.0.2.1", 40000), b = peer("192.0.2.1", 40001);
	struct conn_info ci;
	uint32_t id, idx, old;

	slot_set(3, getpid());
	IS_INT(conn_add(3, CONF_PROTO_TCP, 1, false, (struct sockaddr *)&a, 100, &id, &idx), 0,
	       "a connection is added");
	IS_INT(conn_find_id(id, &ci), 0, "found by id");
	OK(ci.owner_pid == getpid() && ci.owner_slot == 3 && ci.socket == 1 &&
	   ci.peer.port == 40000, "with its owner, listen entry and peer");
	IS_INT(conn_find_alias(1, (struct sockaddr *)&a, &ci), 0, "found by its peer (alias)");
	IS_INT((int)ci.id, (int)id, "the same one");
	IS_INT(conn_find_alias(1, (struct sockaddr *)&b, &ci), -ENOENT, "another port: none");
	IS_INT(conn_find_alias(2, (struct sockaddr *)&a, &ci), -ENOENT,
	       "the same peer on another listen entry: none");
	OK(stream_conn_alive(id), "stream_conn_alive");
	conn_del(id);
	IS_INT(conn_find_id(id, &ci), -ENOENT, "gone once deleted");
	OK(!stream_conn_alive(id) && !stream_conn_alive(0), "not alive; 0 never is");
	old = id;
	IS_INT(conn_add(3, CONF_PROTO_TCP, 1, false, (struct sockaddr *)&a, 100, &id, &idx), 0,
	       "its entry is reused");
	OK(conn_index_of(id) == conn_index_of(old) && id != old, "under a new id");
	IS_INT(conn_find_id(old, &ci), -ENOENT, "the old id finds nothing");
	conn_del(id);
}

static void test_limit(void)
{
	struct sockaddr_in a = peer("192.0.2.2", 1);
	uint32_t id[5], idx;

	for (unsigned i = 0; i < 4; i++) {
		a.sin_port = htons((uint16_t)(1000 + i));
		conn_add(3, CONF_PROTO_TCP, 0, false, (struct sockaddr *)&a, 4, &id[i], &idx);
	}
	IS_INT(conn_add(3, CONF_PROTO_TCP, 0, false, (struct sockaddr *)&a, 4, &id[4], &idx),
	       -ENOSPC, "past the limit: -ENOSPC");
	for (unsigned i = 0; i < 4; i++)
		conn_del(id[i]);
}

static void count_row(const struct stream_conn_row *r, void *arg)
{
	(*(unsigned *)arg)++;
}

static void test_dead_owner(void)
{
	struct sockaddr_in a = peer("198.51.100.7", 5060);
	struct conn_info ci;
	unsigned rows = 0;
	uint32_t id = 0, idx;
	int pid = tap_fork();

	if (pid == 0) {
		conn_add(7, CONF_PROTO_TCP, 0, false, (struct sockaddr *)&a, 100, &id, &idx);
		_exit(id ? 0 : 1);
	}
	slot_set(7, pid);
	IS_INT(tap_child_status(pid), 0, "a worker (child) adds a connection and dies");
	IS_INT(conn_find_alias(0, (struct sockaddr *)&a, &ci), -ENOENT,
	       "its connection is not found: the owner is dead");
	stream_conn_walk(count_row, &rows);
	IS_INT((int)rows, 0, "nor listed");
}

static void test_sweep_and_take_over(void)
{
	struct sockaddr_in a = peer("198.51.100.8", 5060);
	struct conn_info ci;
	uint32_t id, idx;
	unsigned rows = 0;

	slot_set(9, getpid());
	conn_add(9, CONF_PROTO_TCP, 0, false, (struct sockaddr *)&a, 100, &id, &idx);
	IS_INT((int)conn_sweep_slot(9, getpid()), 0, "the sweep keeps the slot's own entries");
	stream_conn_walk(count_row, &rows);
	IS_INT((int)rows, 1, "listed");
	IS_INT((int)conn_sweep_slot(9, getpid() + 1), 1,
	       "a new process in the slot sweeps its predecessor's");
	IS_INT(conn_find_id(id, &ci), -ENOENT, "gone");
	conn_add(9, CONF_PROTO_TCP, 0, false, (struct sockaddr *)&a, 100, &id, &idx);
	slot_set(11, getpid());
	IS_INT(conn_take_over(id, 11, &ci), 0, "a worker takes a connection over");
	IS_INT(conn_find_id(id, &ci), 0, "same id");
	IS_INT(ci.owner_slot, 11, "new owner");
	conn_del(id);
}

int main(void)
{
	if (shm_create(16 << 20) < 0 || conn_table_attach(64) < 0) {
		OK(0, "shm and connection table");
		return tap_done();
	}
	IS_INT(conn_table_attach(64), 0, "a second attach finds the table");
	test_ids_and_aliases();
	test_limit();
	test_dead_owner();
	test_sweep_and_take_over();
	return tap_done();
}
