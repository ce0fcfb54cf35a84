/*
 * cmd_ul.c — `pinholectl ul show|rm|add`: the location table as
 * `kamctl ul` shows it, and manual changes to it.
 *
 * Runs in the ctl process. Each AOR is read or changed under its bucket
 * lock; changes are made durable exactly as the registrar does
 * (registrar_persist_locked), so `ul rm` removes from shm and DB alike.
 */
#include "ctl.h"
#include "ctl_int.h"
#include "../conf/conf.h"
#include "../shm/shm.h"
#include "../sip/sip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <time.h>

#define UL_SHOW_MAX_AORS 1000

static json_t *slice_json(slice s)
{
	return json_stringn(s.p ? s.p : "", s.len);
}

static json_t *binding_json(const struct pinhole_conf *conf, slice aor,
			    const struct loc_binding *b, int64_t now)
{
	char ip[INET6_ADDRSTRLEN] = "", recv[INET6_ADDRSTRLEN + 16] = "", sock[128] = "";
	json_t *flags = json_array();

	if (b->received.family && inet_ntop(b->received.family, b->received.addr, ip, sizeof(ip)))
		snprintf(recv, sizeof(recv), b->received.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
			 ip, b->received.port);
	if (b->socket < conf->nlisten)
		snprintf(sock, sizeof(sock), "%s:%s:%u", conf_proto_name(conf->listen[b->socket].proto),
			 conf->listen[b->socket].address, conf->listen[b->socket].port);
	if (b->flags & LOC_F_NAT)
		json_array_append_new(flags, json_string("nat"));
	if (b->flags & LOC_F_KEEPALIVE)
		json_array_append_new(flags, json_string("keepalive"));
	return json_pack("{s:o, s:o, s:s, s:I, s:f, s:o, s:o, s:s, s:o, s:I, s:o, s:o, s:I, s:I}",
			 "aor", slice_json(aor),
			 "contact", slice_json(b->contact),
			 "received", recv,
			 "expires", (json_int_t)(b->expires - now),
			 "q", b->q < 0 ? -1.0 : b->q / 1000.0,
			 "flags", flags,
			 "user_agent", slice_json(b->user_agent),
			 "socket", sock,
			 "call_id", slice_json(b->call_id),
			 "cseq", (json_int_t)b->cseq,
			 "path", slice_json(b->path),
			 "instance", slice_json(b->instance),
			 "last_keepalive", (json_int_t)(b->last_keepalive_ms / 1000),
			 "rtt_us", (json_int_t)b->rtt_us);
}

/* Appends one row per live binding of the AOR: a flat list renders as one
 * table, like `kamctl ul show`. */
static void aor_rows_locked(const struct pinhole_conf *conf, struct loc_handle *h,
			    int64_t now, json_t *rows)
{
	struct loc_binding b;

	for (unsigned i = 0; i < loc_count_locked(h); i++) {
		if (loc_get_locked(h, i, &b) == 0 && b.expires > now)
			json_array_append_new(rows, binding_json(conf, h->key, &b, now));
	}
}

struct show_all {
	const struct pinhole_conf *conf;
	json_t *list;
	int64_t now;
	unsigned aors;
};

static int show_one(struct loc_handle *h, void *arg)
{
	struct show_all *sa = arg;

	if (sa->aors >= UL_SHOW_MAX_AORS)
		return 1;
	sa->aors++;
	aor_rows_locked(sa->conf, h, sa->now, sa->list);
	return 0;
}

/* "user@domain" with a non-empty user; copied into key with the domain
 * lower-cased, as the registrar keys AORs (sip_aor_key). */
static int aor_arg(const char *arg, char key[LOC_MAX_AOR + 1], char *err, size_t errlen)
{
	const char *at = strrchr(arg, '@');
	size_t n = strlen(arg);

	if (!at || at == arg || !at[1] || n > LOC_MAX_AOR) {
		snprintf(err, errlen, "'%s' is not an AOR (user@domain)", arg);
		return -EINVAL;
	}
	for (size_t i = 0; i <= n; i++)
		key[i] = arg + i > at && arg[i] >= 'A' && arg[i] <= 'Z' ? (char)(arg[i] + 32) : arg[i];
	return 0;
}

int ctl_ul_show(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		       json_t **result, char *err, size_t errlen)
{
	int64_t now = time(NULL);
	char key[LOC_MAX_AOR + 1];
	struct loc_handle h;
	uint32_t cursor = 0;

	if (argc == 0) {
		struct show_all sa = { ctx->conf, json_array(), now, 0 };

		while (loc_walk(&cursor, 4096, show_one, &sa) == 0 && sa.aors < UL_SHOW_MAX_AORS)
			;
		*result = json_pack("{s:I, s:I, s:b, s:o}", "aors", (json_int_t)loc_aor_count(),
				    "contacts", (json_int_t)loc_binding_count(),
				    "truncated", sa.aors >= UL_SHOW_MAX_AORS, "bindings", sa.list);
		return *result ? 0 : -ENOMEM;
	}
	if (aor_arg(argv[0], key, err, errlen) < 0)
		return -EINVAL;
	loc_lock(slice_cstr(key), &h);
	if (!h.aor || loc_count_locked(&h) == 0) {
		loc_unlock(&h);
		snprintf(err, errlen, "no bindings for %s", argv[0]);
		return -ENOENT;
	}
	json_t *rows = json_array();

	aor_rows_locked(ctx->conf, &h, now, rows);
	loc_unlock(&h);
	*result = json_pack("{s:s, s:o}", "aor", key, "bindings", rows);
	return *result ? 0 : -ENOMEM;
}

int ctl_ul_rm(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		     json_t **result, char *err, size_t errlen)
{
	char key[LOC_MAX_AOR + 1];
	struct loc_handle h;
	int idx = 0, rc = 0;
	unsigned removed = 0;

	if (aor_arg(argv[0], key, err, errlen) < 0)
		return -EINVAL;
	loc_lock(slice_cstr(key), &h);
	if (h.aor && argc > 1)
		idx = loc_find_locked(&h, slice_cstr(argv[1]));
	if (!h.aor || idx < 0 || loc_count_locked(&h) == 0) {
		loc_unlock(&h);
		snprintf(err, errlen, "no binding %s%s%s", argv[0], argc > 1 ? " " : "",
			 argc > 1 ? argv[1] : "");
		return -ENOENT;
	}
	removed = argc > 1 ? 1 : loc_count_locked(&h);
	if (argc > 1)
		loc_del_locked(&h, (unsigned)idx);
	else
		loc_del_all_locked(&h);
	rc = registrar_persist_locked(ctx->conf, &h);
	loc_unlock(&h);
	if (rc < 0) {
		snprintf(err, errlen, "removed from memory, but the database failed: %s",
			 strerror(-rc));
		return rc;
	}
	*result = json_pack("{s:s, s:I}", "aor", key, "removed", (json_int_t)removed);
	return *result ? 0 : -ENOMEM;
}

static int parse_expires(const struct pinhole_conf *conf, int argc, const char *const *argv,
			 uint32_t *out, char *err, size_t errlen)
{
	char *end;
	unsigned long v;

	*out = conf->registrar.default_expires;
	if (argc < 3)
		return 0;
	v = strtoul(argv[2], &end, 10);
	if (*end || end == argv[2] || v == 0 || v > conf->registrar.max_expires) {
		snprintf(err, errlen, "expires '%s' must be 1..%u", argv[2],
			 conf->registrar.max_expires);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

int ctl_ul_add(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		      json_t **result, char *err, size_t errlen)
{
	struct sip_uri uri;
	const char *reason = NULL;
	struct loc_binding b = { .q = -1 };
	char key[LOC_MAX_AOR + 1];
	struct loc_handle h;
	uint32_t expires;
	int rc;

	if (aor_arg(argv[0], key, err, errlen) < 0 ||
	    parse_expires(ctx->conf, argc, argv, &expires, err, errlen) < 0)
		return -EINVAL;
	if (sip_uri_parse(slice_cstr(argv[1]), &uri, &reason) < 0 ||
	    (uri.scheme_id != SIP_SCHEME_SIP && uri.scheme_id != SIP_SCHEME_SIPS)) {
		snprintf(err, errlen, "'%s' is not a SIP URI%s%s", argv[1], reason ? ": " : "",
			 reason ? reason : "");
		return -EINVAL;
	}
	b.contact = slice_cstr(argv[1]);
	b.call_id = SLICE_LIT("pinholectl");
	b.user_agent = SLICE_LIT("pinholectl ul add");
	b.expires = time(NULL) + expires;
	b.last_modified = time(NULL);
	loc_lock(slice_cstr(key), &h);
	rc = loc_put_locked(&h, &b);
	if (rc == 0)
		rc = registrar_persist_locked(ctx->conf, &h);
	loc_unlock(&h);
	if (rc < 0) {
		snprintf(err, errlen, "cannot add the binding: %s", strerror(-rc));
		return rc;
	}
	*result = json_pack("{s:s, s:s, s:I}", "aor", key, "contact", argv[1],
			    "expires", (json_int_t)expires);
	return *result ? 0 : -ENOMEM;
}
