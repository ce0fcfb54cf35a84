/*
 * segment.c — creating the one SysV segment and laying it out.
 *
 * The master calls shm_create before forking: shmget(IPC_PRIVATE), shmat,
 * and IPC_RMID at once, so the segment goes away with the last process even
 * after a crash; children inherit the attachment at the same address.
 * Layout, each area 64-byte aligned: header, lock registry, counter rows,
 * allocator state, chunk map, then the heap (page aligned). Fresh SysV
 * pages read as zero, which is every area's empty state, so only the
 * header and a few allocator words are written: a 256M segment costs a
 * handful of pages at start. No locks: nothing else is attached yet.
 */
#include "shm_int.h"

#include <errno.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

struct shm_header *shm;

_Static_assert(sizeof(struct shm_header) % 8 == 0, "shm_header size");

struct shm_layout {
	shm_off registry, stats;
	struct shm_alloc_plan alloc;
};

static int layout_plan(uint64_t size, struct shm_layout *lo)
{
	shm_off at = SHM_ALIGN(sizeof(struct shm_header), 64);

	lo->registry = at;
	at = SHM_ALIGN(at + sizeof(struct shm_lock_registry), 64);
	lo->stats = at;
	at = SHM_ALIGN(at + shm_stats_bytes(), 64);
	return shm_alloc_plan(at, size, &lo->alloc);
}

static const char *sysctl_value(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");

	if (!f || !fgets(buf, (int)cap, f))
		snprintf(buf, cap, "unknown");
	if (f)
		fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static int shmget_failed(size_t size)
{
	int err = errno;
	char v[32];

	if (err == EINVAL)
		LOG_ERR("shmget(%zu bytes): %s: the size is above kernel.shmmax "
			"(%s bytes); lower shm_size or raise the sysctl", size,
			strerror(err),
			sysctl_value("/proc/sys/kernel/shmmax", v, sizeof(v)));
	else if (err == ENOSPC)
		LOG_ERR("shmget(%zu bytes): %s: kernel.shmall (%s pages) or "
			"kernel.shmmni is exhausted", size, strerror(err),
			sysctl_value("/proc/sys/kernel/shmall", v, sizeof(v)));
	else if (err == ENOMEM)
		LOG_ERR("shmget(%zu bytes): %s: not enough memory for a segment "
			"this size; lower shm_size", size, strerror(err));
	else
		LOG_ERR("shmget(%zu bytes): %s", size, strerror(err));
	return -err;
}

/* Attaches segment id and marks it for removal; the id stays usable by
 * this process and its children until the last detach. */
static int attach_and_remove(int id, size_t size, void **base)
{
	int err;

	*base = shmat(id, NULL, 0);
	if (*base == (void *)-1) {
		err = -errno;
		LOG_ERR("shmat(%zu bytes): %s", size, strerror(-err));
		shmctl(id, IPC_RMID, NULL);
		return err;
	}
	if (shmctl(id, IPC_RMID, NULL) < 0) {
		err = -errno;
		LOG_ERR("shmctl(IPC_RMID): %s", strerror(-err));
		shmdt(*base);
		return err;
	}
	return 0;
}

static void header_init(int id, size_t size, const struct shm_layout *lo)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	shm->magic = SHM_MAGIC;
	shm->version = SHM_VERSION;
	shm->size = size;
	shm->master_pid = (int32_t)getpid();
	shm->log_level = log_threshold;
	shm->shmid = id;
	shm->started = now.tv_sec;
	shm->lock_registry = lo->registry;
	shm->stats = lo->stats;
}

int shm_create(size_t size)
{
	struct shm_layout lo;
	void *base;
	int id, err;

	if (shm) {
		LOG_ERR("shm_create: a segment is already attached");
		return -EEXIST;
	}
	err = layout_plan(size, &lo);
	if (err)
		return err;
	id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
	if (id < 0)
		return shmget_failed(size);
	err = attach_and_remove(id, size, &base);
	if (err)
		return err;
	shm = base;
	header_init(id, size, &lo);
	shm_stats_attach();
	err = shm_alloc_init(&lo.alloc);
	if (err)
		shm_detach();
	return err;
}

void shm_detach(void)
{
	if (!shm)
		return;
	shm_stats_detach();
	if (shmdt(shm) < 0)
		LOG_ERR("shmdt: %s", strerror(errno));
	shm = NULL;
}
