/*
 * commands.c — the ctl command table and the commands that answer from
 * shm: process table, counters, allocator, log level, reload.
 *
 * Runs in the ctl process only. Reads shm without locks (a process-table
 * row is copied before use; counters are summed on read) and writes only
 * shm->log_level. Adding a command is one row in ctl_commands plus one
 * function; the server and pinholectl need no change.
 */
#include "ctl.h"
#include "ctl_int.h"
#include "../conf/conf.h"
#include "../db/ctl_user.h"
#include "../shm/shm.h"

#include <db.h>
#include <errno.h>
#include <libconfig.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#define CTL_RELOAD_TIMEOUT_MS 10000
#define CTL_RELOAD_POLL_MS 20

/* ---- dispatch -------------------------------------------------------- */

/* How many leading words of argv spell name ("log level"), or 0. */
static int name_words(const char *name, int argc, const char *const *argv)
{
	const char *p = name;
	int n = 0;

	while (*p) {
		size_t len = strcspn(p, " ");

		if (n >= argc || strlen(argv[n]) != len || memcmp(argv[n], p, len) != 0)
			return 0;
		n++;
		p += len;
		p += strspn(p, " ");
	}
	return n;
}

int ctl_dispatch(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		 json_t **result, char *err, size_t errlen)
{
	const struct ctl_command *cmd = NULL;
	int words = 0, nargs;

	*result = NULL;
	for (size_t i = 0; i < ctl_command_count; i++) {
		int n = name_words(ctl_commands[i].name, argc, argv);

		if (n > words) {
			cmd = &ctl_commands[i];
			words = n;
		}
	}
	if (!cmd) {
		snprintf(err, errlen, "unknown command '%s' (try 'help')",
			 argc > 0 ? argv[0] : "");
		return -EINVAL;
	}
	nargs = argc - words;
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		snprintf(err, errlen, "wrong number of arguments; usage: %s%s%s",
			 cmd->name, cmd->args[0] ? " " : "", cmd->args);
		return -EINVAL;
	}
	return cmd->run(ctx, nargs, argv + words, result, err, errlen);
}

static int result_set(json_t **result, json_t *value)
{
	*result = value;
	return value ? 0 : -ENOMEM;
}

/* ---- commands -------------------------------------------------------- */

static int cmd_help(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		    json_t **result, char *err, size_t errlen)
{
	json_t *rows = json_array();
	char usage[128];

	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < ctl_command_count; i++) {
		const struct ctl_command *c = &ctl_commands[i];

		snprintf(usage, sizeof(usage), "%s%s%s", c->name,
			 c->args[0] ? " " : "", c->args);
		json_array_append_new(rows, json_pack("{s:s, s:s}", "usage", usage,
						      "description", c->help));
	}
	return result_set(result, rows);
}

static json_t *proc_row(const struct proc_entry *p, int64_t now)
{
	int64_t up = p->started > 0 && p->state != PROC_DEAD ? now - p->started : 0;

	return json_pack("{s:s, s:i, s:i, s:I, s:s, s:I, s:I}",
			 "role", proc_role_name((enum proc_role)p->role),
			 "index", (int)p->index,
			 "pid", (int)p->pid,
			 "generation", (json_int_t)p->generation,
			 "state", proc_state_name((enum proc_state)p->state),
			 "uptime", (json_int_t)(up > 0 ? up : 0),
			 "restarts", (json_int_t)p->restarts);
}

static int cmd_ps(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		  json_t **result, char *err, size_t errlen)
{
	json_t *rows = json_array();
	int64_t now = time(NULL);

	if (!rows)
		return -ENOMEM;
	for (unsigned i = 0; i < SHM_MAX_PROCS; i++) {
		struct proc_entry p;

		memcpy(&p, &shm->procs[i], sizeof(p));
		if (p.state != PROC_FREE)
			json_array_append_new(rows, proc_row(&p, now));
	}
	return result_set(result, rows);
}

/* Local time, ISO 8601 with the UTC offset. */
static void time_text(int64_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

static int cmd_uptime(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		      json_t **result, char *err, size_t errlen)
{
	int64_t now = time(NULL), since = shm->started;
	char now_text[40], since_text[40];

	time_text(now, now_text, sizeof(now_text));
	time_text(since, since_text, sizeof(since_text));
	return result_set(result, json_pack("{s:s, s:s, s:I}", "now", now_text,
					    "up_since", since_text,
					    "uptime", (json_int_t)(now - since)));
}

static int cmd_version(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		       json_t **result, char *err, size_t errlen)
{
	char libconfig[16], bdb[16];
	int major, minor, patch;

	snprintf(libconfig, sizeof(libconfig), "%d.%d.%d", LIBCONFIG_VER_MAJOR,
		 LIBCONFIG_VER_MINOR, LIBCONFIG_VER_REVISION);
	db_version(&major, &minor, &patch);
	snprintf(bdb, sizeof(bdb), "%d.%d.%d", major, minor, patch);
	return result_set(result, json_pack("{s:s, s:s, s:s, s:s, s:s}",
					    "pinhole", PINHOLE_VERSION,
					    "jansson", jansson_version_str(),
					    "libconfig", libconfig,
					    "openssl", OpenSSL_version(OPENSSL_VERSION_STRING),
					    "berkeley_db", bdb));
}

/* Whether counter name is selected by sel: its group ("core") or itself. */
static bool stat_selected(const char *name, const char *sel)
{
	size_t group = strcspn(name, ".");

	if (!sel || strcmp(name, sel) == 0)
		return true;
	return strlen(sel) == group && memcmp(name, sel, group) == 0;
}

/* "core, sl, ..." in the order of the counter list. */
static void stat_groups(char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int id = 0; id < STAT_COUNT && len < cap; id++) {
		const char *name = stat_name((enum stat_id)id);
		int group = (int)strcspn(name, ".");
		bool seen = false;

		for (int prev = 0; prev < id && !seen; prev++)
			seen = strncmp(stat_name((enum stat_id)prev), name, (size_t)group + 1) == 0;
		if (!seen)
			len += (size_t)snprintf(buf + len, cap - len, "%s%.*s",
						len ? ", " : "", group, name);
	}
}

static int cmd_stats(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		     json_t **result, char *err, size_t errlen)
{
	const char *sel = argc > 0 ? argv[0] : NULL;
	json_t *counters = json_object();
	char groups[256];

	if (!counters)
		return -ENOMEM;
	for (int id = 0; id < STAT_COUNT; id++) {
		const char *name = stat_name((enum stat_id)id);

		if (stat_selected(name, sel))
			json_object_set_new(counters, name,
					    json_integer((json_int_t)stat_get((enum stat_id)id)));
	}
	for (unsigned g = 0; g < stat_gauge_count(); g++) {
		const char *name = stat_gauge_name(g);

		if (stat_selected(name, sel))
			json_object_set_new(counters, name,
					    json_integer((json_int_t)stat_gauge_get(g)));
	}
	if (json_object_size(counters) == 0) {
		json_decref(counters);
		stat_groups(groups, sizeof(groups));
		snprintf(err, errlen, "unknown statistics group '%s' (groups: %s)", sel, groups);
		return -ENOENT;
	}
	return result_set(result, counters);
}

/* Loads the config file the way the master will; err says why not. */
static int reload_validate(const char *path, char *err, size_t errlen)
{
	struct pinhole_conf *conf = malloc(sizeof(*conf));
	struct conf_errors *errs = calloc(1, sizeof(*errs));
	size_t len;
	int rc = -ENOMEM;

	if (!conf || !errs) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = conf_load(path, conf, errs);
	if (rc < 0) {
		len = strnlen(errs->text, sizeof(errs->text));
		while (len > 0 && errs->text[len - 1] == '\n')
			len--;
		snprintf(err, errlen, "%s is invalid, nothing reloaded:\n%.*s", path,
			 (int)len, errs->text);
	}
out:
	free(conf);
	free(errs);
	return rc;
}

/* After the master bumped reload_seq: its verdict. */
static int reload_outcome(json_t **result, char *err, size_t errlen)
{
	int status = __atomic_load_n(&shm->reload_status, __ATOMIC_ACQUIRE);
	size_t len;

	if (status == 0)
		return result_set(result, json_pack("{s:I}", "generation",
						    (json_int_t)shm->generation));
	len = strnlen(shm->reload_error, sizeof(shm->reload_error));
	if (len > 0)
		snprintf(err, errlen, "reload failed: %.*s", (int)len, shm->reload_error);
	else
		snprintf(err, errlen, "reload failed: %s", strerror(status < 0 ? -status : status));
	return status < 0 ? status : -EINVAL;
}

static int cmd_reload(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		      json_t **result, char *err, size_t errlen)
{
	pid_t master = shm->master_pid;
	int64_t deadline;
	uint32_t seq;
	int rc;

	rc = reload_validate(ctx->conf->path, err, errlen);
	if (rc < 0)
		return rc;
	if (master <= 1) {
		snprintf(err, errlen, "the master's pid is unknown");
		return -ESRCH;
	}
	seq = __atomic_load_n(&shm->reload_seq, __ATOMIC_ACQUIRE);
	if (kill(master, SIGHUP) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot signal the master (pid %d): %s", (int)master,
			 strerror(-rc));
		return rc;
	}
	deadline = ctl_now_ms() + CTL_RELOAD_TIMEOUT_MS;
	while (__atomic_load_n(&shm->reload_seq, __ATOMIC_ACQUIRE) == seq) {
		if (ctl_now_ms() >= deadline) {
			snprintf(err, errlen, "master did not answer within %d s",
				 CTL_RELOAD_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		poll(NULL, 0, CTL_RELOAD_POLL_MS);
	}
	return reload_outcome(result, err, errlen);
}

static int cmd_log_level(const struct ctl_ctx *ctx, int argc, const char *const *argv,
			 json_t **result, char *err, size_t errlen)
{
	int old = __atomic_load_n(&shm->log_level, __ATOMIC_RELAXED), level;
	size_t len = 0;

	if (argc == 0)
		return result_set(result, json_pack("{s:s}", "level", log_level_name(old)));
	level = log_level_parse(argv[0]);
	if (level < 0) {
		len = (size_t)snprintf(err, errlen, "unknown log level '%s' (allowed:", argv[0]);
		for (int l = LOG_LEVEL_ERR; l <= LOG_LEVEL_DBG && len < errlen; l++)
			len += (size_t)snprintf(err + len, errlen - len, "%s %s",
						l > LOG_LEVEL_ERR ? "," : "", log_level_name(l));
		if (len < errlen)
			snprintf(err + len, errlen - len, ")");
		return -EINVAL;
	}
	__atomic_store_n(&shm->log_level, level, __ATOMIC_RELAXED);
	return result_set(result, json_pack("{s:s, s:s}", "level", log_level_name(level),
					    "previous", log_level_name(old)));
}

static int cmd_shm(const struct ctl_ctx *ctx, int argc, const char *const *argv,
		   json_t **result, char *err, size_t errlen)
{
	struct shm_usage u;

	shm_usage(&u);
	return result_set(result, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
					    "size", (json_int_t)u.size,
					    "used", (json_int_t)u.used,
					    "free", (json_int_t)u.free,
					    "allocs", (json_int_t)u.allocs,
					    "frees", (json_int_t)u.frees,
					    "failures", (json_int_t)u.failures,
					    "bad_frees", (json_int_t)u.bad_frees));
}

/* ---- the table ------------------------------------------------------- */

const struct ctl_command ctl_commands[] = {
	{ "help", "", "list the commands", 0, 0, cmd_help },
	{ "ps", "", "processes: role, pid, generation, state, uptime, restarts",
	  0, 0, cmd_ps },
	{ "uptime", "", "time since the master started", 0, 0, cmd_uptime },
	{ "version", "", "versions of pinhole and its libraries", 0, 0, cmd_version },
	{ "stats", "[GROUP]", "counters, all or of one group (core, sl, ...) or one name",
	  0, 1, cmd_stats },
	{ "reload", "", "check the config file, then make the master reload it",
	  0, 0, cmd_reload },
	{ "log level", "[LEVEL]", "show or set the log level (err, warn, info, debug)",
	  0, 1, cmd_log_level },
	{ "shm", "", "shared memory usage", 0, 0, cmd_shm },
	{ "user add", "USER@DOMAIN PASSWORD",
	  "add or replace a subscriber (stores HA1 digests for auth.realm, not the password)",
	  2, 2, pdb_cmd_user_add },
	{ "user rm", "USER@DOMAIN", "remove a subscriber", 1, 1, pdb_cmd_user_rm },
	{ "user list", "", "subscribers: user, domain, realm", 0, 0, pdb_cmd_user_list },
	{ "ul show", "[AOR]", "registered bindings: contact, received, expires, flags, user agent",
	  0, 1, ctl_ul_show },
	{ "ul rm", "AOR [CONTACT]", "remove an AOR's bindings (or one) from memory and database",
	  1, 2, ctl_ul_rm },
	{ "ul add", "AOR CONTACT [EXPIRES]", "add a binding by hand", 2, 3, ctl_ul_add },
	{ "tm stats", "", "transactions: current, total, capacity, replies by class, timeouts",
	  0, 0, ctl_tm_stats },
	{ "tcp list", "", "TCP/TLS connections: id, owner, peer, local socket, age, idle",
	  0, 0, ctl_tcp_list },
	{ "nat show", "AOR", "NAT view of an AOR's bindings: declared vs observed address, NAT "
	  "tests fired, keepalives, verdict", 1, 1, ctl_nat_show },
	{ "relay list", "[CALL-ID]", "media relay sessions, one row per leg: tag, port, SDP and "
	  "latched addresses, packets, bytes, drops, age", 0, 1, ctl_relay_list },
};

const size_t ctl_command_count = ARRAY_LEN(ctl_commands);
