/*
 * log.c — leveled logging with a process-role prefix.
 *
 * The LOG_* macros check the level before any formatting happens. A line is
 * formatted into a stack buffer and written with one write(2) so lines from
 * different processes never interleave. Never call from a signal handler.
 */
#include "base.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int log_threshold = LOG_LEVEL_INFO;

static char role_prefix[32] = "pinhole";
static bool to_syslog;

static const char *const level_names[] = { "err", "warn", "info", "debug" };

/* log_syslog.c: kept apart because <syslog.h> defines LOG_ERR and friends. */
void log_syslog_open(void);
void log_syslog_line(int level, const char *line);

void log_set_role(const char *role, int index)
{
	if (index < 0)
		snprintf(role_prefix, sizeof(role_prefix), "%s", role);
	else
		snprintf(role_prefix, sizeof(role_prefix), "%s#%d", role, index);
}

const char *log_role(void)
{
	return role_prefix;
}

void log_set_level(int level)
{
	if (level >= LOG_LEVEL_ERR && level <= LOG_LEVEL_DBG)
		log_threshold = level;
}

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(level_names); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	if (strcmp(name, "dbg") == 0)
		return LOG_LEVEL_DBG;
	if (strcmp(name, "error") == 0)
		return LOG_LEVEL_ERR;
	if (strcmp(name, "warning") == 0)
		return LOG_LEVEL_WARN;
	return -1;
}

const char *log_level_name(int level)
{
	if (level < 0 || level >= (int)ARRAY_LEN(level_names))
		return "?";
	return level_names[level];
}

void log_set_target_syslog(bool syslog)
{
	if (syslog && !to_syslog)
		log_syslog_open();
	to_syslog = syslog;
}

void log_write(int level, const char *fmt, ...)
{
	char line[2048];
	size_t n = 0;
	va_list ap;

	if (!to_syslog) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ld [%d] ",
				      ts.tv_nsec / 1000000, (int)getpid());
	}
	n += (size_t)snprintf(line + n, sizeof(line) - n, "%s %s: ", role_prefix,
			      log_level_name(level));
	va_start(ap, fmt);
	if (n < sizeof(line))
		n += (size_t)vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (to_syslog) {
		line[n] = '\0';
		log_syslog_line(level, line);
		return;
	}
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report a failing stderr */
	}
}
