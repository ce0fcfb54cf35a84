/*
 * proc.c — names for the process table's roles and states, and this
 * process's identity as a lock owner.
 *
 * The lock owner word holds a pid; getpid() is a system call, so the pid is
 * cached and the cache cleared in every child by a fork handler (glibc runs
 * pthread_atfork handlers without libpthread). No locks here.
 */
#include "shm_int.h"

#include <pthread.h>
#include <unistd.h>

uint32_t shm_pid_cache;

static const char *const role_names[PROC_ROLE_COUNT] = {
	[PROC_NONE] = "none",
	[PROC_MASTER] = "master",
	[PROC_UDP] = "udp",
	[PROC_TCP] = "tcp",
	[PROC_TLS] = "tls",
	[PROC_TIMER] = "timer",
	[PROC_RELAY] = "relay",
	[PROC_CTL] = "ctl",
};

static const char *const state_names[PROC_STATE_COUNT] = {
	[PROC_FREE] = "free",
	[PROC_STARTING] = "starting",
	[PROC_RUNNING] = "running",
	[PROC_RETIRING] = "retiring",
	[PROC_DEAD] = "dead",
};

const char *proc_role_name(enum proc_role r)
{
	return (unsigned)r < PROC_ROLE_COUNT ? role_names[r] : "unknown";
}

const char *proc_state_name(enum proc_state s)
{
	return (unsigned)s < PROC_STATE_COUNT ? state_names[s] : "unknown";
}

static void pid_forget_in_child(void)
{
	shm_pid_cache = 0;
}

void shm_proc_pid_refresh(void)
{
	static bool handler_set;

	if (!handler_set) {
		int err = pthread_atfork(NULL, NULL, pid_forget_in_child);

		if (err)
			LOG_ERR("pthread_atfork: %s", strerror(err));
		handler_set = true;
	}
	shm_pid_cache = (uint32_t)getpid();
}
