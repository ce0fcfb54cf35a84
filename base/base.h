/*
 * base.h — the small vocabulary every part of pinhole shares.
 *
 * Byte slices ({pointer, length} views into a buffer someone else owns),
 * the logging macros, and the process identity that prefixes every log line.
 * Nothing here allocates or takes a lock, so any process may use it anywhere,
 * except that logging must never be called from a signal handler.
 */
#ifndef PINHOLE_BASE_H
#define PINHOLE_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PINHOLE_VERSION "0.1.0"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A view of len bytes at p. The bytes are never NUL-terminated by contract. */
typedef struct slice {
	const char *p;
	uint32_t len;
} slice;

#define SLICE_LIT(s) ((slice){ (s), (uint32_t)(sizeof(s) - 1) })
#define SLICE_NULL ((slice){ NULL, 0 })
/* printf("%.*s", SLICE_FMT(s)) */
#define SLICE_FMT(s) (int)(s).len, (s).p

static inline slice slice_make(const char *p, size_t len)
{
	return (slice){ p, (uint32_t)len };
}

static inline slice slice_cstr(const char *s)
{
	return slice_make(s, strlen(s));
}

static inline bool slice_empty(slice s)
{
	return s.len == 0;
}

/* Bytes from a up to (not including) b, both inside one buffer. */
static inline slice slice_between(const char *a, const char *b)
{
	return slice_make(a, (size_t)(b - a));
}

static inline const char *slice_end(slice s)
{
	return s.p + s.len;
}

bool slice_eq(slice a, slice b);
bool slice_caseeq(slice a, slice b);
bool slice_caseeq_cstr(slice a, const char *s);
slice slice_trim(slice s); /* strips SP, HTAB, CR, LF at both ends */
/* Decimal digits only (no sign, no space), value <= max: 0, else -ERANGE
 * (too big) or -EINVAL (empty or not a number). */
int slice_to_u32(slice s, uint32_t max, uint32_t *out);
/* Copies at most cap-1 bytes and terminates; returns the copied length. */
size_t slice_copy_cstr(slice s, char *dst, size_t cap);

/* ---- append buffers ---------------------------------------------------- */

/* Appends to caller memory without printf on hot paths (replies, Via and
 * Contact texts). The text is always NUL-terminated (cap counts the NUL).
 * Running out of room is sticky: full is set, later appends do nothing,
 * len stops where the last whole piece fitted. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool full;
};

static inline void sbuf_init(struct sbuf *b, char *p, size_t cap)
{
	*b = (struct sbuf){ .p = p, .cap = cap, .full = cap == 0 };
	if (cap)
		p[0] = '\0';
}

void sbuf_add(struct sbuf *b, slice s);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_add_uint(struct sbuf *b, uint64_t v);
/* Lower-case hex, zero-padded to width digits (0: as few as needed). */
void sbuf_add_hex(struct sbuf *b, uint64_t v, unsigned width);

/* ---- logging ---------------------------------------------------------- */

enum log_level {
	LOG_LEVEL_ERR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DBG = 3,
};

/* The current threshold; set by log_set_level (config load and reload). */
extern int log_threshold;

/* These names clash with <syslog.h>; only base/log_syslog.c includes that. */
#define LOG_AT(lvl, ...)                                                       \
	do {                                                                   \
		if ((lvl) <= log_threshold)                                    \
			log_write((lvl), __VA_ARGS__);                         \
	} while (0)
#define LOG_ERR(...) LOG_AT(LOG_LEVEL_ERR, __VA_ARGS__)
#define LOG_WARN(...) LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_INFO(...) LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DBG(...) LOG_AT(LOG_LEVEL_DBG, __VA_ARGS__)

void log_write(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Role and index that prefix each line ("udp#2"); index < 0 prints no "#". */
void log_set_role(const char *role, int index);
const char *log_role(void);
void log_set_level(int level);
/* "err", "warn", "info", "debug" -> level, or -1. */
int log_level_parse(const char *name);
const char *log_level_name(int level);
/* target "stderr" or "syslog". */
void log_set_target_syslog(bool syslog);

/* ---- socket addresses (netaddr.c) ---------------------------------- */

struct sockaddr;
struct sockaddr_storage;

/* The family (AF_INET, AF_INET6; 0 for any other), port (host order) and
 * address bytes (4 or 16 used) of sa: the fixed-width form the shared
 * tables keep instead of a sockaddr. */
void netaddr_split(const struct sockaddr *sa, uint8_t *family, uint16_t *port,
		   uint8_t addr[16]);
/* The reverse: family AF_INET6 gives a sockaddr_in6, anything else a
 * sockaddr_in; *len is the length to pass to sendto/connect. */
void netaddr_join(uint8_t family, uint16_t port, const uint8_t addr[16],
		  struct sockaddr_storage *ss, unsigned *len);

#endif
