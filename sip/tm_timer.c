/*
 * tm_timer.c — transaction timers: what the timer process runs each tick,
 * and how a transaction is put back on its wheel (or freed) after any
 * change.
 *
 * Every timer of a transaction (A–M of RFC 3261 §17 and RFC 6026, the
 * CANCEL retransmissions, the guard) is an absolute time in the slot or
 * its branches; the wheel holds the slot once, for the earliest. When it
 * fires, the timer process runs the client side first (a timeout there
 * may produce the final response) and then the server side. A slot whose
 * server side and every branch have ended is freed; the guard, set at
 * creation from fr, fr_inv and T1, ends anything a lost message or a dead
 * worker left behind, so no transaction outlives it; a sweep puts back on
 * the wheel any slot a killed process left off it.
 */
#include "tm_int.h"

uint32_t tm_t1(const struct pinhole_conf *conf)
{
	return conf->tm.t1 ? conf->tm.t1 : 500;
}

uint32_t tm_t2(const struct pinhole_conf *conf)
{
	return conf->tm.t2 ? conf->tm.t2 : 4000;
}

static bool all_ended(const struct tm_slot *t)
{
	const struct tm_branch *b = tm_branches(t);

	if (t->uas != TM_UAS_TERMINATED)
		return false;
	for (unsigned i = 0; i < t->nbranch; i++)
		if (b[i].state != TM_BR_TERMINATED && b[i].state != TM_BR_WAITING)
			return false;
	return true;
}

static int64_t earliest(int64_t a, int64_t b)
{
	if (!a)
		return b;
	return b && b < a ? b : a;
}

static int64_t next_due(const struct tm_slot *t)
{
	const struct tm_branch *b = tm_branches(t);
	int64_t due = earliest(earliest(t->g_at, t->end_at), t->guard_at);

	for (unsigned i = 0; i < t->nbranch; i++) {
		due = earliest(due, b[i].retrans_at);
		due = earliest(due, b[i].timeout_at);
		due = earliest(due, b[i].cancel_at);
	}
	return due;
}

void tm_settle_locked(uint32_t idx, int64_t now)
{
	struct tm_slot *t = tm_slot_at(idx);

	if (!t->live)
		return;
	if (all_ended(t)) {
		tm_slot_free_locked(idx);
		return;
	}
	if (!next_due(t))
		t->guard_at = now;   /* nothing left to wait for: end it */
	tm_wheel_arm_locked(tm_stripe_of(idx), idx, next_due(t), now);
}

/* The guard: whatever is still open ends now; a request never answered
 * gets 500 so the caller is not left waiting. */
static void guard_fire(const struct pinhole_conf *conf, struct tm_slot *t, int64_t now)
{
	static int64_t last_log;
	static unsigned ended;
	struct tm_branch *b = tm_branches(t);

	ended++;
	if (now - last_log >= 10000) {
		LOG_WARN("%u transaction(s) ended by their guard timer", ended);
		last_log = now;
		ended = 0;
	}
	if (!(t->flags & TM_F_FINAL))
		tm_reply_locked(conf, t, 500, "Transaction Timeout", NULL, now);
	t->uas = TM_UAS_TERMINATED;
	for (unsigned i = 0; i < t->nbranch; i++)
		b[i].state = TM_BR_TERMINATED;
}

struct fire_ctx {
	const struct pinhole_conf *conf;
	int64_t now;
};

static void fire(uint32_t idx, void *arg)
{
	struct fire_ctx *fc = arg;
	struct tm_slot *t = tm_slot_at(idx);

	tm_uac_timers_locked(fc->conf, t, fc->now);
	tm_uas_timers_locked(fc->conf, t, fc->now);
	if (t->guard_at && t->guard_at <= fc->now)
		guard_fire(fc->conf, t, fc->now);
	tm_settle_locked(idx, fc->now);
}

/* Under a stripe's lock every live slot is on the wheel, except one a
 * process killed mid-change left behind: it is put back (or ended).
 * One stripe per run, so a pass over the table takes TM_STRIPES runs.
 * The scan ends once it has seen the stripe's used count of live slots:
 * free slots are reused from the front, so the live ones gather there and
 * an idle stripe costs nothing. Every TM_SWEEP_FULL-th pass looks at every
 * slot, for a process that died between marking a slot live and counting
 * it. */
#define TM_SWEEP_FULL 8

static void sweep_locked(uint32_t s, int64_t now, bool full)
{
	const struct tm_stripe *st = tm_stripe_at(s);
	uint32_t per = tm_table()->per_stripe, seen = 0;

	for (uint32_t i = s * per; i < (s + 1) * per && (full || seen < st->used); i++) {
		struct tm_slot *t = tm_slot_at(i);

		if (!t->live)
			continue;
		seen++;
		if (t->wbucket)
			continue;
		tm_settle_locked(i, now);
		if (!t->live)
			seen--;     /* freed: no longer in used */
	}
}

void tm_timer_run(const struct pinhole_conf *conf, int64_t now_ms)
{
	static uint32_t sweep_next, passes;
	struct fire_ctx fc = { .conf = conf, .now = now_ms };

	if (!tm_table())
		return;
	for (uint32_t s = 0; s < TM_STRIPES; s++) {
		tm_stripe_lock(s);
		if (s == sweep_next)
			sweep_locked(s, now_ms, passes % TM_SWEEP_FULL == TM_SWEEP_FULL - 1);
		tm_wheel_advance_locked(s, now_ms, fire, &fc);
		tm_stripe_unlock(s);
	}
	sweep_next = (sweep_next + 1) % TM_STRIPES;
	if (sweep_next == 0)
		passes++;
}
