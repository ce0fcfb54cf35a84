/*
 * cmd_tm.c — `pinholectl tm stats`: the transaction layer at a glance,
 * like Kamailio's `tm.stats`: live and total transactions, the table's
 * size, replies by class and the counters of trouble (unmatched replies,
 * timeouts, a full table), with the timer settings in force.
 *
 * Runs in the ctl process; reads counters (summed on read) and the live
 * count without a lock.
 */
#include "ctl.h"
#include "ctl_int.h"
#include "../conf/conf.h"
#include "../shm/shm.h"
#include "../sip/sip.h"

#include <errno.h>

static const struct {
	const char *key;
	enum stat_id id;
} tm_counters[] = {
	{ "total", STAT_TM_TOTAL },
	{ "1xx", STAT_TM_1XX },
	{ "2xx", STAT_TM_2XX },
	{ "3xx", STAT_TM_3XX },
	{ "4xx", STAT_TM_4XX },
	{ "5xx", STAT_TM_5XX },
	{ "6xx", STAT_TM_6XX },
	{ "rpl_received", STAT_TM_RPL_RECEIVED },
	{ "rpl_relayed", STAT_TM_RPL_RELAYED },
	{ "rpl_generated", STAT_TM_RPL_GENERATED },
	{ "unmatched_replies", STAT_TM_UNMATCHED_REPLIES },
	{ "rcv_retransmissions", STAT_TM_RCV_RETRANSMISSIONS },
	{ "retransmissions", STAT_TM_RETRANSMISSIONS },
	{ "timeouts", STAT_TM_TIMEOUTS },
	{ "table_full", STAT_TM_TABLE_FULL },
	{ "alloc_failures", STAT_TM_ALLOC_FAILURES },
};

int ctl_tm_stats(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		 json_t **result, char *err, size_t errlen)
{
	const struct pinhole_conf *c = ctx->conf;
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
			      "current", (json_int_t)tm_active_count(),
			      "capacity", (json_int_t)tm_capacity(),
			      "t1_ms", (json_int_t)c->tm.t1, "t2_ms", (json_int_t)c->tm.t2,
			      "fr_s", (json_int_t)c->tm.fr, "fr_inv_s", (json_int_t)c->tm.fr_inv);

	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_LEN(tm_counters); i++)
		json_object_set_new(o, tm_counters[i].key,
				    json_integer((json_int_t)stat_get(tm_counters[i].id)));
	*result = o;
	return 0;
}
