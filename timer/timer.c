/*
 * timer.c — the timer process's tick loop.
 *
 * A tick every TIMER_TICK_MS; each task runs when its period has elapsed
 * (Redis's serverCron pattern). Tasks must do bounded work per call so one
 * slow task never delays the others by more than a tick.
 */
#include "timer.h"
#include "../db/db.h"
#include "../relay/relay.h"
#include "../shm/shm.h"
#include "../sip/sip.h"

#include <poll.h>
#include <string.h>
#include <time.h>

#define TIMER_TICK_MS 100

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

/* ---- location table: expiry and write-back flush -------------------- */

/* A whole pass over the buckets takes USRLOC_PASS_MS: expired bindings
 * leave the table within that (they are never served once expired), and
 * in write-back mode a change reaches the database within the shorter
 * USRLOC_FLUSH_PASS_MS. The walk skips empty buckets without locking. */
#define USRLOC_PASS_MS 10000
#define USRLOC_FLUSH_PASS_MS 2500

struct usrloc_pass {
	const struct pinhole_conf *conf;
	int64_t now;
	unsigned expired, flushed, errors;
};

/* Write-back: the AOR's snapshot (or its deletion) goes to the database;
 * the dirty flag is cleared only when that worked. */
static void flush_locked(struct usrloc_pass *up, struct loc_handle *h)
{
	static char buf[LOC_PACK_MAX];
	ssize_t n = loc_count_locked(h) ? loc_pack_locked(h, buf, sizeof(buf)) : 0;
	int rc = n < 0 ? (int)n
	       : n == 0 ? pdb_location_del(h->key)
	       : pdb_location_put(h->key, buf, (size_t)n);

	if (rc < 0) {
		up->errors++;
		return;
	}
	up->flushed++;
	loc_set_dirty_locked(h, false);
}

static int usrloc_visit(struct loc_handle *h, void *arg)
{
	struct usrloc_pass *up = arg;
	struct loc_binding b;
	bool changed = false;

	for (unsigned i = loc_count_locked(h); i-- > 0;) {
		if (loc_get_locked(h, i, &b) == 0 && b.expires <= up->now) {
			loc_del_locked(h, i);
			up->expired++;
			changed = true;
		}
	}
	if (changed && up->conf->db.location == CONF_LOC_WRITE_THROUGH &&
	    registrar_persist_locked(up->conf, h) < 0)
		up->errors++;
	if (up->conf->db.location == CONF_LOC_WRITE_BACK && loc_dirty_locked(h))
		flush_locked(up, h);
	return 0;
}

static void usrloc_walk(const struct pinhole_conf *conf, uint32_t *cursor, unsigned budget)
{
	static int64_t last_error_log;
	struct usrloc_pass up = { .conf = conf, .now = time(NULL) };

	loc_walk(cursor, budget, usrloc_visit, &up);
	if (up.expired)
		LOG_DBG("%u binding(s) expired", up.expired);
	if (up.errors && up.now - last_error_log >= 10) {
		LOG_ERR("%u location change(s) could not be written to the database", up.errors);
		last_error_log = up.now;
	}
}

static void usrloc_task(const struct pinhole_conf *conf, int64_t now)
{
	static uint32_t cursor;
	unsigned pass_ms = conf->db.location == CONF_LOC_WRITE_BACK ? USRLOC_FLUSH_PASS_MS
								     : USRLOC_PASS_MS;
	unsigned budget = (unsigned)((uint64_t)loc_bucket_total() * TIMER_TICK_MS / pass_ms);

	usrloc_walk(conf, &cursor, budget < 256 ? 256 : budget);
}

/* Clean shutdown: one whole pass from the first bucket, so every
 * write-back change is on disk. */
static void usrloc_final_flush(const struct pinhole_conf *conf)
{
	uint32_t cursor = 0;

	if (conf->db.location == CONF_LOC_WRITE_BACK)
		usrloc_walk(conf, &cursor, 0);
}

static void db_checkpoint(const struct pinhole_conf *conf, int64_t now)
{
	int rc = pdb_checkpoint();

	if (rc < 0)
		LOG_WARN("database checkpoint: %s", strerror(-rc));
}

/* ---- relay sessions: timeouts ----------------------------------------- */

/* Slots looked at per run: with at most 16384 sessions, a whole pass in
 * four seconds, so a session goes within relay.timeout + 4 s. */
#define RELAY_EXPIRE_BUDGET 4096

static void relay_timeout_task(const struct pinhole_conf *conf, int64_t now)
{
	static uint32_t cursor;
	struct timespec ts;
	unsigned n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = relay_expire((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, conf->relay.timeout,
			 &cursor, RELAY_EXPIRE_BUDGET);
	if (n)
		LOG_DBG("%u relay session(s) timed out", n);
}

static struct timer_task tasks[] = {
	{ "shm-watch", 5000, shm_watch, 0 },
	{ "usrloc", TIMER_TICK_MS, usrloc_task, 0 },
	{ "db-checkpoint", 60000, db_checkpoint, 0 },
	{ "nat-keepalive", TIMER_TICK_MS, keepalive_task, 0 },
	{ "transactions", TIMER_TICK_MS, tm_timer_run, 0 },
	{ "relay-timeouts", 1000, relay_timeout_task, 0 },
};

int timer_run(const struct pinhole_conf *conf, const struct listen_set *listens,
	      volatile sig_atomic_t *stop)
{
	keepalive_init(listens);
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
	usrloc_final_flush(conf);
	return 0;
}
