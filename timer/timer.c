/*
 * timer.c — the timer process's tick loop.
 *
 * A tick every TIMER_TICK_MS; each task runs when its period has elapsed
 * (Redis's serverCron pattern). Tasks must do bounded work per call so one
 * slow task never delays the others by more than a tick.
 */
#include "timer.h"
#include "../shm/shm.h"

#include <poll.h>
#include <time.h>

#define TIMER_TICK_MS 50

struct timer_task {
	const char *name;
	unsigned period_ms;
	void (*run)(const struct pinhole_conf *conf, int64_t now_ms);
	int64_t next_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Warns once when shared memory use crosses 90 %, and once when it falls
 * back below 80 %, so an operator sees the segment filling before
 * allocations fail. */
static void shm_watch(const struct pinhole_conf *conf, int64_t now)
{
	static bool warned;
	struct shm_usage u;

	shm_usage(&u);
	if (!warned && u.used * 10 > u.size * 9) {
		LOG_WARN("shared memory %llu%% full (%llu of %llu bytes): raise shm_size",
			 (unsigned long long)(u.used * 100 / u.size),
			 (unsigned long long)u.used, (unsigned long long)u.size);
		warned = true;
	} else if (warned && u.used * 10 < u.size * 8) {
		LOG_INFO("shared memory use back below 80%%");
		warned = false;
	}
}

static struct timer_task tasks[] = {
	{ "shm-watch", 5000, shm_watch, 0 },
};

int timer_run(const struct pinhole_conf *conf, volatile sig_atomic_t *stop)
{
	while (!*stop) {
		int64_t now = now_ms();

		log_set_level(shm->log_level);
		for (size_t i = 0; i < ARRAY_LEN(tasks); i++) {
			if (now < tasks[i].next_ms)
				continue;
			tasks[i].run(conf, now);
			tasks[i].next_ms = now + tasks[i].period_ms;
		}
		poll(NULL, 0, TIMER_TICK_MS);
	}
	return 0;
}
