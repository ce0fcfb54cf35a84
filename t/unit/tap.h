/*
 * tap.h — a minimal TAP producer for pinhole's C unit tests.
 *
 * Each test program calls tap_plan-free checks and ends with tap_done(),
 * which prints the plan ("1..N") last, so tests need not count in advance.
 */
#ifndef PINHOLE_TAP_H
#define PINHOLE_TAP_H

#include <stdbool.h>

/* One check; returns cond. */
bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tap_skip(const char *reason, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fork() with stdout flushed first, so TAP lines are not printed twice. */
int tap_fork(void);
/* The exit status of child pid (128 + signal if killed), -1 on error. */
int tap_child_status(int pid);
/* Prints the plan and returns the exit status (non-zero if anything failed). */
int tap_done(void);

#define OK(cond, ...) tap_ok((cond), __VA_ARGS__)
#define IS_INT(got, want, ...)                                                   \
	do {                                                                     \
		long long g_ = (long long)(got), w_ = (long long)(want);         \
		if (!tap_ok(g_ == w_, __VA_ARGS__))                              \
			tap_diag("  got %lld, want %lld (%s:%d)", g_, w_,        \
				 __FILE__, __LINE__);                            \
	} while (0)
/* Compares a slice with a C string. */
#define IS_SLICE(s, want, ...)                                                   \
	do {                                                                     \
		slice s_ = (s);                                                  \
		const char *w_ = (want);                                         \
		if (!tap_ok(slice_eq(s_, slice_cstr(w_)), __VA_ARGS__))          \
			tap_diag("  got '%.*s', want '%s' (%s:%d)", SLICE_FMT(s_), \
				 w_, __FILE__, __LINE__);                        \
	} while (0)

#endif
