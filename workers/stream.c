/*
 * stream.c — TCP and TLS worker processes.
 *
 * Their process slots, sockets and supervision exist so worker counts and
 * reloads behave the same for every transport; the stream transport itself
 * (accept, framing, connection table) is the TCP/TLS issue. Until then a
 * stream worker only waits for its stop flag.
 */
#include "workers.h"
#include "../shm/shm.h"

#include <poll.h>

int stream_worker_run(const struct worker_args *wa)
{
	while (!*wa->stop) {
		log_set_level(shm->log_level);
		poll(NULL, 0, 500);
	}
	return 0;
}
