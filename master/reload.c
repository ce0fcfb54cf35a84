/*
 * reload.c — SIGHUP: re-read the config file into a fresh struct and, if
 * it is valid, start a new generation of workers and retire the old one.
 *
 * An invalid file changes nothing: the reasons are logged and published in
 * shm (reload_status, reload_error, then reload_seq bumped last) for
 * `pinholectl reload`. Settings that need a restart keep their old value
 * and are named in a warning. Nothing in shared memory is touched besides
 * the header fields, so no registration or counter is lost; UDP sockets
 * stay open in the master, so datagrams arriving meanwhile queue up.
 */
#include "master.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static void publish(int status, const char *error)
{
	size_t n = strlen(error);

	if (n >= sizeof(shm->reload_error))
		n = sizeof(shm->reload_error) - 1;
	shm->reload_status = status;
	memcpy(shm->reload_error, error, n);
	shm->reload_error[n] = '\0';
	__atomic_add_fetch(&shm->reload_seq, 1, __ATOMIC_RELEASE);
}

/* Settings that need a restart are carried over from the running config. */
static void keep_restart_only(const struct pinhole_conf *old_conf,
			      struct pinhole_conf *new_conf)
{
	memcpy(new_conf->listen, old_conf->listen, sizeof(new_conf->listen));
	new_conf->nlisten = old_conf->nlisten;
	new_conf->shm_size = old_conf->shm_size;
	new_conf->db = old_conf->db;
	new_conf->tls = old_conf->tls;
	new_conf->ctl = old_conf->ctl;
	memcpy(new_conf->user, old_conf->user, sizeof(new_conf->user));
	memcpy(new_conf->group, old_conf->group, sizeof(new_conf->group));
	memcpy(new_conf->pid_file, old_conf->pid_file, sizeof(new_conf->pid_file));
	new_conf->log.syslog = old_conf->log.syslog;
}

static void log_errors(const struct conf_errors *errs)
{
	const char *p = errs->text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		LOG_ERR("reload: %.*s", n, p);
		p += n + (nl ? 1 : 0);
	}
}

void master_reload(struct master *m)
{
	struct pinhole_conf *next = malloc(sizeof(*next));
	struct conf_errors *errs = calloc(1, sizeof(*errs));
	char changed[512];

	if (!next || !errs) {
		LOG_ERR("reload: out of memory");
		publish(-ENOMEM, "out of memory");
		goto out;
	}
	if (conf_load(m->conf->path, next, errs) < 0) {
		log_errors(errs);
		LOG_ERR("reload: %s is invalid; keeping the running configuration",
			m->conf->path);
		stat_add(STAT_MASTER_RELOAD_ERRORS, 1);
		publish(-EINVAL, errs->text);
		goto out;
	}
	if (conf_restart_only_changes(m->conf, next, changed, sizeof(changed)))
		LOG_WARN("reload: %s changed but need a restart; keeping the old values",
			 changed);
	keep_restart_only(m->conf, next);
	free(m->conf);
	m->conf = next;
	next = NULL;
	m->generation++;
	shm->generation = m->generation;
	shm->procs[0].generation = m->generation;
	shm->log_level = m->conf->log.level;
	log_set_level(m->conf->log.level);
	procs_start_generation(m);
	procs_retire_old(m);
	stat_add(STAT_MASTER_RELOADS, 1);
	LOG_INFO("reloaded %s: generation %u", m->conf->path, m->generation);
	publish(0, "");
out:
	free(next);
	free(errs);
}
