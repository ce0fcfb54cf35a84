/*
 * cmd_tcp.c — `pinholectl tcp list`: the open TCP/TLS connections from the
 * shared connection table: id, transport, owner process, peer, the listen
 * entry it belongs to, age and time since its last byte, and whether
 * pinhole opened it. Runs in the ctl process; the table is read in batches
 * under its lock (stream_conn_walk), which also drops dead owners' entries.
 */
#include "ctl.h"
#include "ctl_int.h"
#include "../conf/conf.h"
#include "../shm/shm.h"
#include "../sip/sip.h"
#include "../workers/workers.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

struct tcp_list {
	const struct pinhole_conf *conf;
	json_t *rows;
	int64_t now;
};

static void add_row(const struct stream_conn_row *r, void *arg)
{
	struct tcp_list *tl = arg;
	const struct proc_entry *pe = &shm->procs[r->owner_slot % SHM_MAX_PROCS];
	const struct conf_listen *l = &tl->conf->listen[r->socket % CONF_MAX_LISTEN];
	char ip[64], peer[80], owner[32], local[96];
	uint16_t port = 0;

	if (sip_sockaddr_text((const struct sockaddr *)&r->peer, ip, sizeof(ip), &port) < 0)
		snprintf(ip, sizeof(ip), "?");
	snprintf(peer, sizeof(peer), strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, port);
	snprintf(owner, sizeof(owner), "%s#%u", proc_role_name(pe->role), pe->index);
	snprintf(local, sizeof(local), strchr(l->address, ':') ? "%s:[%s]:%u" : "%s:%s:%u",
		 conf_proto_name(l->proto), l->address, l->port);
	json_array_append_new(tl->rows,
		json_pack("{s:I, s:s, s:s, s:i, s:s, s:s, s:s, s:I, s:I}",
			  "id", (json_int_t)r->id, "proto", conf_proto_name(r->proto),
			  "owner", owner, "pid", (int)r->owner_pid, "peer", peer,
			  "local", local, "direction", r->outgoing ? "out" : "in",
			  "age", (json_int_t)(tl->now - r->created),
			  "idle", (json_int_t)(tl->now - r->last)));
}

int ctl_tcp_list(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		 json_t **result, char *err, size_t errlen)
{
	struct tcp_list tl = { .conf = ctx->conf, .rows = json_array(), .now = time(NULL) };

	if (!tl.rows)
		return -ENOMEM;
	stream_conn_walk(add_row, &tl);
	*result = tl.rows;
	return 0;
}
