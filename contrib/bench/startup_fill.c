/*
 * startup_fill.c — fills a Berkeley DB environment with N registrations
 * (default 1,000,000), each AOR packed exactly as pinhole's registrar
 * stores it, for contrib/bench/startup to measure a real server's start.
 *
 * Builds each AOR in a private shm segment (loc_put_locked, then
 * loc_pack_locked) and writes it with pdb_location_put.
 * Usage: startup_fill DB_PATH [aors]
 */
#include "../../db/db.h"
#include "../../shm/shm.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

static int fill_one(unsigned i, int64_t now, void *buf, size_t cap)
{
	char aor[40], contact[64], call_id[40];
	struct loc_binding b = { .q = -1, .flags = LOC_F_NAT | LOC_F_KEEPALIVE };
	struct loc_handle h;
	ssize_t n;
	int rc;

	snprintf(aor, sizeof(aor), "user%07u@example.com", i);
	snprintf(contact, sizeof(contact), "sip:user%07u@10.0.%u.%u:5060", i, (i >> 8) & 255, i & 255);
	snprintf(call_id, sizeof(call_id), "%08x-%08x-startup", i, i * 2654435761u);
	b.contact = slice_cstr(contact);
	b.call_id = slice_cstr(call_id);
	b.user_agent = SLICE_LIT("sipp/3.6");
	b.expires = now + 3600;
	b.last_modified = now;
	b.cseq = 1;
	b.received.family = AF_INET;
	b.received.port = (uint16_t)(1024 + i % 60000);
	inet_pton(AF_INET, "203.0.113.2", b.received.addr);
	loc_lock(slice_cstr(aor), &h);
	rc = loc_put_locked(&h, &b);
	n = rc < 0 ? rc : loc_pack_locked(&h, buf, cap);
	loc_del_all_locked(&h);
	loc_unlock(&h);
	if (n < 0)
		return (int)n;
	return pdb_location_put(slice_cstr(aor), buf, (size_t)n);
}

int main(int argc, char **argv)
{
	static char buf[4096];
	unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 1000000;
	int64_t now = time(NULL);
	char err[512];
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: startup_fill DB_PATH [aors]\n");
		return 2;
	}
	log_set_level(LOG_LEVEL_WARN);
	if (shm_create(64u << 20) < 0 || loc_init(1024) < 0 ||
	    pdb_open(argv[1], PDB_RECOVER, err, sizeof(err)) < 0) {
		fprintf(stderr, "startup_fill: setup failed %s\n", err);
		return 1;
	}
	for (unsigned i = 0; i < n; i++) {
		if ((rc = fill_one(i, now, buf, sizeof(buf))) < 0) {
			fprintf(stderr, "startup_fill: AOR %u: %s\n", i, strerror(-rc));
			return 1;
		}
	}
	pdb_close();
	return 0;
}
