/*
 * stats.c — the counters of STAT_LIST, one row per process-table slot.
 *
 * Rows are uint64_t[STAT_ROW_WORDS] (STAT_COUNT rounded up to a 64-byte
 * line, so two processes never write one cache line), SHM_MAX_PROCS of them
 * plus a spare row last for processes not bound to a slot: the master, a
 * tool, a unit test. stat_add is a relaxed atomic add on the process's own
 * row (exact even in the spare row, which several processes may share);
 * stat_get sums every row without a lock. A respawned process binds to the
 * slot of its predecessor, so totals survive crashes. Before shm_create,
 * counters go to a row private to the process, read back by stat_get.
 */
#include "shm_int.h"
#include "../relay/relay.h" /* relay_session_count */
#include "../sip/sip.h"   /* tm_active_count: the transaction table gauge */
#include "../workers/workers.h" /* stream_conn_walk: open TCP/TLS connections */

#define STAT_ROW_WORDS SHM_ALIGN((unsigned)STAT_COUNT, 8u)
#define STAT_ROWS (SHM_MAX_PROCS + 1)
#define STAT_SPARE_ROW SHM_MAX_PROCS

_Static_assert(STAT_ROW_WORDS * sizeof(uint64_t) % 64 == 0, "stat row size");

static const char *const stat_names[STAT_COUNT] = {
#define STAT_NAME(id, name) [STAT_##id] = name,
	STAT_LIST(STAT_NAME)
#undef STAT_NAME
};

static uint64_t private_row[STAT_ROW_WORDS];
static uint64_t *my_row = private_row;

static uint64_t *stat_rows(void)
{
	return shm_ptr(shm->stats);
}

uint64_t shm_stats_bytes(void)
{
	return (uint64_t)STAT_ROWS * STAT_ROW_WORDS * sizeof(uint64_t);
}

void shm_stats_attach(void)
{
	my_row = stat_rows() + (size_t)STAT_SPARE_ROW * STAT_ROW_WORDS;
}

void shm_stats_detach(void)
{
	my_row = private_row;
}

void shm_stats_bind(unsigned slot)
{
	if (!shm)
		return;
	if (slot >= SHM_MAX_PROCS) {
		LOG_ERR("shm_stats_bind: slot %u out of range (max %d)", slot,
			SHM_MAX_PROCS - 1);
		return;
	}
	my_row = stat_rows() + (size_t)slot * STAT_ROW_WORDS;
}

void stat_add(enum stat_id id, uint64_t n)
{
	if ((unsigned)id < STAT_COUNT)
		__atomic_fetch_add(&my_row[id], n, __ATOMIC_RELAXED);
}

uint64_t stat_get(enum stat_id id)
{
	const uint64_t *row;
	uint64_t sum = 0;

	if ((unsigned)id >= STAT_COUNT)
		return 0;
	if (!shm)
		return __atomic_load_n(&private_row[id], __ATOMIC_RELAXED);
	row = stat_rows();
	for (unsigned i = 0; i < STAT_ROWS; i++, row += STAT_ROW_WORDS)
		sum += __atomic_load_n(&row[id], __ATOMIC_RELAXED);
	return sum;
}

const char *stat_name(enum stat_id id)
{
	return (unsigned)id < STAT_COUNT ? stat_names[id] : NULL;
}

static void count_conn(const struct stream_conn_row *r, void *arg)
{
	(*(uint64_t *)arg)++;
}

static uint64_t tcp_connection_count(void)
{
	uint64_t n = 0;

	stream_conn_walk(count_conn, &n);
	return n;
}

static const struct {
	const char *name;
	uint64_t (*get)(void);
} gauges[] = {
	{ "usrloc.registered_users", loc_aor_count },
	{ "usrloc.contacts", loc_binding_count },
	{ "tm.active_transactions", tm_active_count },
	{ "relay.sessions", relay_session_count },
	{ "tcp.connections", tcp_connection_count },
};

unsigned stat_gauge_count(void)
{
	return ARRAY_LEN(gauges);
}

const char *stat_gauge_name(unsigned i)
{
	return i < ARRAY_LEN(gauges) ? gauges[i].name : NULL;
}

uint64_t stat_gauge_get(unsigned i)
{
	return i < ARRAY_LEN(gauges) && shm ? gauges[i].get() : 0;
}
