/*
 * log_syslog.c — the syslog sink of log.c.
 *
 * Separate because <syslog.h> defines LOG_ERR, LOG_INFO, ... which are
 * pinhole's own logging macro names; this file never includes base.h.
 */
#include <syslog.h>

void log_syslog_open(void);
void log_syslog_line(int level, const char *line);

void log_syslog_open(void)
{
	openlog("pinhole", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_syslog_line(int level, const char *line)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

	if (level < 0 || level > 3)
		level = 3;
	syslog(prio[level], "%s", line);
}
