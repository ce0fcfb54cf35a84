/*
 * worker.c — a relay worker process. Until the media relay lands it only
 * keeps its slot and waits for its stop flag.
 */
#include "relay.h"
#include "../shm/shm.h"

#include <poll.h>

int relay_worker_run(const struct pinhole_conf *conf, unsigned index,
		     volatile sig_atomic_t *stop)
{
	while (!*stop) {
		log_set_level(shm->log_level);
		poll(NULL, 0, 500);
	}
	return 0;
}
