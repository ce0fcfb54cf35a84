/*
 * daemon.c — detaching from the terminal, the pid file, and dropping
 * privileges. Called by the master during startup only. Errors are
 * written to a caller buffer for the startup error message.
 */
#include "master.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Classic double fork: the master ends up in its own session, not a
 * session leader, with stdin/stdout on /dev/null. stderr is kept so that a
 * supervisor (systemd) still captures it. The original process waits on a
 * pipe until daemon_ready() reports how startup went, and exits with that
 * status, so `pinhole -f FILE` fails visibly when the daemon cannot start. */
int daemonize(int *ready_fd)
{
	int pfd[2], fd;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		unsigned char status = 1;

		close(pfd[1]);
		if (read(pfd[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(pfd[0]);
	if (setsid() < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -errno;
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	*ready_fd = pfd[1];
	return 0;
}

void daemon_ready(int *ready_fd, int status)
{
	unsigned char b = (unsigned char)status;

	if (*ready_fd < 0)
		return;
	if (write(*ready_fd, &b, 1) != 1) {
		/* the waiting parent is gone; nothing to tell */
	}
	close(*ready_fd);
	*ready_fd = -1;
}

static pid_t pidfile_read(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? (pid_t)atoi(buf) : 0;
}

/* Creates the directory holding path (one level, as /run/pinhole). */
static void mkdir_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
}

int pidfile_create(const char *path, char *err, size_t errlen)
{
	char buf[32];
	pid_t old;
	int fd, n;

	if (!path[0])
		return 0;
	old = pidfile_read(path);
	if (old > 0 && old != getpid() && kill(old, 0) == 0) {
		snprintf(err, errlen, "already running: %s names live pid %d", path, (int)old);
		return -EEXIST;
	}
	mkdir_parent(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "pid file %s: open: %s", path, strerror(errno));
		return -errno;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		snprintf(err, errlen, "pid file %s: write: %s", path, strerror(errno));
		close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

void pidfile_remove(const char *path)
{
	if (path[0] && pidfile_read(path) == getpid())
		unlink(path);
}

int runtime_dir(const char *fifo, const char *user, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	char *slash;
	struct passwd *pw;

	snprintf(dir, sizeof(dir), "%s", fifo);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			return 0;
		snprintf(err, errlen, "ctl.fifo directory %s: mkdir: %s", dir, strerror(errno));
		return -errno;
	}
	if (user[0] && (pw = getpwnam(user)) && chown(dir, pw->pw_uid, pw->pw_gid) < 0) {
		snprintf(err, errlen, "ctl.fifo directory %s: chown: %s", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

/* The database directory and the files in it must belong to the user the
 * children run as (the master created them as root). */
int db_dir_owner(const char *path, const char *user, char *err, size_t errlen)
{
	char file[PATH_MAX];
	struct passwd *pw;
	struct dirent *de;
	DIR *d;

	if (!user[0] || !(pw = getpwnam(user)))
		return 0;
	if (chown(path, pw->pw_uid, pw->pw_gid) < 0 || !(d = opendir(path))) {
		snprintf(err, errlen, "db.path %s: chown: %s", path, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (chown(file, pw->pw_uid, pw->pw_gid) < 0)
			LOG_WARN("chown %s: %s", file, strerror(errno));
	}
	closedir(d);
	return 0;
}

int drop_privileges(const char *user, const char *group, char *err, size_t errlen)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;

	if (user[0] && !(pw = getpwnam(user))) {
		snprintf(err, errlen, "user '%s' does not exist", user);
		return -ENOENT;
	}
	if (group[0] && !(gr = getgrnam(group))) {
		snprintf(err, errlen, "group '%s' does not exist", group);
		return -ENOENT;
	}
	if ((gr || pw) && setgid(gr ? gr->gr_gid : pw->pw_gid) < 0)
		goto fail;
	if (pw && initgroups(pw->pw_name, pw->pw_gid) < 0)
		goto fail;
	if (pw && setuid(pw->pw_uid) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "dropping privileges to %s:%s: %s", user, group,
		 strerror(errno));
	return -errno;
}
