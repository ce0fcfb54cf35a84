/*
 * stream_chan.c — the channels over which any process hands a message to
 * the stream worker owning (or about to open) a connection.
 *
 * Each stream worker binds an abstract-namespace unix datagram socket
 * named after the shm segment and its process-table slot, so the name
 * needs no file, survives reloads and respawns (the kernel frees it with
 * the dead process) and cannot collide with another pinhole. A sender uses
 * one unbound datagram socket of its own; sends never block: a full
 * channel drops the message (counted in tcp.send_errors) and the
 * transaction layer's timers recover as they do for a lost datagram.
 * At a reload, a retiring worker passes its TCP connections (descriptor
 * and unframed input) to the new generation the same way (SCM_RIGHTS).
 */
#include "stream_int.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/un.h>
#include <unistd.h>

#define CHAN_BUF (4u << 20)

static socklen_t chan_name(unsigned slot, struct sockaddr_un *sun)
{
	int n;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1, "pinhole.%d.%d.%u",
		     (int)shm->master_pid, (int)shm->shmid, slot);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

int chan_bind(unsigned slot)
{
	struct sockaddr_un sun;
	socklen_t len = chan_name(slot, &sun);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int size = CHAN_BUF;

	if (fd < 0) {
		LOG_ERR("socket AF_UNIX: %s", strerror(errno));
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
		int err = errno;

		LOG_ERR("bind channel of slot %u: %s", slot, strerror(err));
		close(fd);
		return -err;
	}
	return fd;
}

static int sender = -1;

static void sender_forget(void)
{
	sender = -1;
}

/* This process's sending socket; a fork handler makes a child open its own. */
static int sender_fd(void)
{
	static bool handler_set;
	int size = CHAN_BUF, fd;

	if (sender >= 0)
		return sender;
	if (!handler_set && pthread_atfork(NULL, NULL, sender_forget) == 0)
		handler_set = true;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		LOG_ERR("socket AF_UNIX: %s", strerror(errno));
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	sender = fd;
	return fd;
}

int chan_send_fd(unsigned slot, const struct chan_msg *hdr, const char *buf, size_t len,
		 int fd)
{
	struct sockaddr_un sun;
	socklen_t slen = chan_name(slot, &sun);
	struct iovec iov[2] = { { (void *)hdr, sizeof(*hdr) }, { (void *)buf, len } };
	union { struct cmsghdr c; char b[CMSG_SPACE(sizeof(int))]; } ctl;
	struct msghdr mh = { .msg_name = &sun, .msg_namelen = slen, .msg_iov = iov,
			     .msg_iovlen = 2, .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int sfd = sender_fd();

	if (sfd < 0)
		return sfd;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sfd, &mh, MSG_DONTWAIT) < 0 ? -errno : 0;
}

ssize_t chan_recv(int chan_fd, char *buf, size_t cap, int *fd)
{
	union { struct cmsghdr c; char b[CMSG_SPACE(sizeof(int))]; } ctl;
	struct iovec iov = { buf, cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *cm;
	ssize_t n = recvmsg(chan_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	*fd = -1;
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return n;
}

int chan_send(unsigned slot, const struct chan_msg *hdr, const char *buf, size_t len)
{
	struct sockaddr_un sun;
	socklen_t slen = chan_name(slot, &sun);
	struct iovec iov[2] = { { (void *)hdr, sizeof(*hdr) }, { (void *)buf, len } };
	struct msghdr mh = { .msg_name = &sun, .msg_namelen = slen, .msg_iov = iov,
			     .msg_iovlen = 2 };
	int fd = sender_fd();

	if (fd < 0)
		return fd;
	if (sendmsg(fd, &mh, MSG_DONTWAIT) < 0) {
		LOG_DBG("handoff to slot %u: %s", slot, strerror(errno));
		return -errno;
	}
	STAT_INC(TCP_HANDOFFS);
	return 0;
}
