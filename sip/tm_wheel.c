/*
 * tm_wheel.c — each stripe's timer wheel: two levels of TM_WHEEL buckets,
 * TM_TICK_MS per first-level bucket (12.8 s) and 256 ticks per
 * second-level bucket (about 55 min).
 *
 * A transaction sits in at most one bucket, for its earliest timer (the
 * slot's due); lists are doubly linked through the slots (slot + 1, 0 =
 * end), so arming, moving and disarming are O(1). Advancing visits one
 * first-level bucket per tick and, every 256 ticks, moves one
 * second-level bucket down: the cost of a tick depends on what is due,
 * not on how many transactions wait. A due past the horizon is parked in
 * the last second-level bucket and placed again when it comes round.
 * Everything here runs under the stripe's lock.
 */
#include "tm_int.h"

#define LEVEL2_BASE (TM_WHEEL + 1)
#define CATCH_UP_TICKS ((int64_t)TM_WHEEL * TM_WHEEL)

static uint32_t *head_of(struct tm_stripe *st, uint16_t wb)
{
	unsigned i = (unsigned)(wb - 1) % (2 * TM_WHEEL);

	return &st->wheel[i / TM_WHEEL][i % TM_WHEEL];
}

static void link_in(struct tm_stripe *st, uint32_t idx, uint16_t wb)
{
	struct tm_slot *t = tm_slot_at(idx);
	uint32_t *head = head_of(st, wb);

	t->wbucket = wb;
	t->wprev = 0;
	t->wnext = *head;
	if (*head)
		tm_slot_at(*head - 1)->wprev = idx + 1;
	*head = idx + 1;
}

static void unlink_from(struct tm_stripe *st, uint32_t idx)
{
	struct tm_slot *t = tm_slot_at(idx);

	if (!t->wbucket)
		return;
	if (t->wprev)
		tm_slot_at(t->wprev - 1)->wnext = t->wnext;
	else
		*head_of(st, t->wbucket) = t->wnext;
	if (t->wnext)
		tm_slot_at(t->wnext - 1)->wprev = t->wprev;
	t->wbucket = 0;
	t->wnext = t->wprev = 0;
}

/* The tick whose processing first sees due as past. */
static int64_t tick_of(int64_t due)
{
	return (due + TM_TICK_MS - 1) / TM_TICK_MS;
}

static void place(struct tm_stripe *st, uint32_t idx, int64_t tick)
{
	int64_t next = st->next_tick;
	uint16_t wb;

	if (tick < next)
		tick = next;
	if (tick - next < TM_WHEEL)
		wb = (uint16_t)(1 + tick % TM_WHEEL);
	else if ((tick >> 8) - (next >> 8) < TM_WHEEL)
		wb = (uint16_t)(LEVEL2_BASE + (tick >> 8) % TM_WHEEL);
	else
		wb = (uint16_t)(LEVEL2_BASE + ((next >> 8) + TM_WHEEL - 1) % TM_WHEEL);
	link_in(st, idx, wb);
}

_Static_assert(TM_WHEEL == 256, "place() shifts by 8 bits per level");

void tm_wheel_arm_locked(uint32_t s, uint32_t idx, int64_t due, int64_t now)
{
	struct tm_stripe *st = tm_stripe_at(s);

	if (st->next_tick == 0)
		st->next_tick = now / TM_TICK_MS;
	unlink_from(st, idx);
	tm_slot_at(idx)->due = due;
	place(st, idx, tick_of(due));
}

void tm_wheel_disarm_locked(uint32_t s, uint32_t idx)
{
	unlink_from(tm_stripe_at(s), idx);
	tm_slot_at(idx)->due = 0;
}

/* Every 256 ticks: the second-level bucket of this chunk moves down
 * (never into itself: see place()). */
static void cascade(struct tm_stripe *st, int64_t tick)
{
	uint32_t *head = head_of(st, (uint16_t)(LEVEL2_BASE + (tick >> 8) % TM_WHEEL));

	while (*head) {
		uint32_t idx = *head - 1;

		unlink_from(st, idx);
		place(st, idx, tick_of(tm_slot_at(idx)->due));
	}
}

/* Slots are taken off one at a time, so a process dying here leaves at
 * worst slots off the wheel (found again by the timer's sweep), never a
 * broken list. Those not due yet (a tick 256 later) go back at the end. */
static unsigned run_bucket(struct tm_stripe *st, int64_t tick, int64_t now,
			   void (*fire)(uint32_t idx, void *arg), void *arg)
{
	uint32_t *head = head_of(st, (uint16_t)(1 + tick % TM_WHEEL)), later = 0;
	unsigned fired = 0;

	st->next_tick = tick + 1;
	while (*head) {
		uint32_t idx = *head - 1;
		struct tm_slot *t = tm_slot_at(idx);

		unlink_from(st, idx);
		if (t->due > now) {
			t->wnext = later;
			later = idx + 1;
			continue;
		}
		fire(idx, arg);
		fired++;
	}
	while (later) {
		struct tm_slot *t = tm_slot_at(later - 1);
		uint32_t idx = later - 1;

		later = t->wnext;
		t->wnext = 0;
		place(st, idx, tick_of(t->due));
	}
	return fired;
}

unsigned tm_wheel_advance_locked(uint32_t s, int64_t now,
				 void (*fire)(uint32_t idx, void *arg), void *arg)
{
	struct tm_stripe *st = tm_stripe_at(s);
	int64_t now_tick = now / TM_TICK_MS;
	unsigned fired = 0;

	if (st->next_tick == 0)
		st->next_tick = now_tick;
	if (now_tick - st->next_tick > CATCH_UP_TICKS)
		st->next_tick = now_tick - CATCH_UP_TICKS;
	while (st->next_tick <= now_tick) {
		int64_t tick = st->next_tick;

		if (tick % TM_WHEEL == 0)
			cascade(st, tick);
		fired += run_bucket(st, tick, now, fire, arg);
	}
	return fired;
}
