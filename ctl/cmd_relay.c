/*
 * cmd_relay.c — `pinholectl relay list [CALL-ID]`: the media relay's
 * sessions, one row per leg (two per session), like `rtpproxy`'s or
 * `rtpengine-ctl list`'s view: Call-ID, media index, the leg's tag and
 * local port, the address signalling gave and the sources latched, the
 * packets, bytes and drops received on the leg, and the session's age.
 *
 * Runs in the ctl process; relay_each copies each session under its
 * stripe lock, the rows are built afterwards with no lock held.
 */
#include "ctl.h"
#include "ctl_int.h"
#include "../relay/relay.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#define RELAY_LIST_MAX 1000     /* sessions shown at most */

struct relay_list {
	json_t *rows;
	int64_t now_ms;
	unsigned sessions;
};

static json_t *leg_row(const struct relay_info *s, unsigned leg, int64_t now_ms)
{
	const struct relay_leg_info *l = &s->leg[leg];
	char sdp[64], latched[64], rtcp[64], host[64];

	relay_addr_format(&l->sdp, sdp, sizeof(sdp));
	relay_addr_format(&l->latched, latched, sizeof(latched));
	relay_addr_format(&l->latched_rtcp, rtcp, sizeof(rtcp));
	relay_addr_format(&l->host, host, sizeof(host));
	return json_pack("{s:s, s:I, s:I, s:s, s:I, s:s, s:s, s:s, s:b, s:s, s:I, s:I, s:I, s:I,"
			 " s:I}",
			 "call_id", s->call_id,
			 "media", (json_int_t)s->media,
			 "leg", (json_int_t)leg,
			 "tag", l->tag,
			 "local_port", (json_int_t)l->local.port,
			 "sdp", sdp,
			 "latched", latched,
			 "latched_rtcp", rtcp,
			 "provisional", (int)l->provisional,
			 "host", host,
			 "packets", (json_int_t)l->packets,
			 "bytes", (json_int_t)l->bytes,
			 "dropped", (json_int_t)l->dropped,
			 "age", (json_int_t)((now_ms - s->created_ms) / 1000),
			 "idle", (json_int_t)(s->last_packet_ms ?
					      (now_ms - s->last_packet_ms) / 1000 : -1));
}

static int list_one(const struct relay_info *s, void *arg)
{
	struct relay_list *rl = arg;

	if (rl->sessions >= RELAY_LIST_MAX)
		return 1;
	rl->sessions++;
	json_array_append_new(rl->rows, leg_row(s, 0, rl->now_ms));
	json_array_append_new(rl->rows, leg_row(s, 1, rl->now_ms));
	return 0;
}

int ctl_relay_list(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		   json_t **result, char *err, size_t errlen)
{
	struct timespec ts;
	struct relay_list rl = { .rows = json_array() };
	slice call_id = argc ? slice_cstr(argv[0]) : SLICE_NULL;

	clock_gettime(CLOCK_REALTIME, &ts);
	rl.now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	relay_each(call_id, list_one, &rl);
	if (argc && rl.sessions == 0) {
		json_decref(rl.rows);
		snprintf(err, errlen, "no relay session for Call-ID %s", argv[0]);
		return -ENOENT;
	}
	*result = json_pack("{s:I, s:b, s:o}", "sessions", (json_int_t)relay_session_count(),
			    "truncated", rl.sessions >= RELAY_LIST_MAX, "legs", rl.rows);
	return *result ? 0 : -ENOMEM;
}
