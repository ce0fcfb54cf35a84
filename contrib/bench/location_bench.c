/*
 * location_bench.c — what the location table costs in shm and in time.
 *
 * In a 512M segment with a table sized for 1M AORs, inserts N AORs (default
 * 1,000,000) of one binding each with realistic fields (AOR
 * "user123456@example.com", contact "sip:user123456@10.0.2.15:5060;
 * transport=udp", 32-char Call-ID, NAT received address) and prints the
 * shm bytes per binding (table and records, allocator size classes
 * included; target <= 300) for a short and a 40-char User-Agent, ns per
 * insert, per lookup (lock, find, get, unlock in random order) and per
 * refresh, then packs every AOR and unpacks them all into a fresh segment
 * (a stand-in for the start-up load from the DB).
 * Usage: location_bench [aors]
 */
#include "../../shm/shm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#define SEG_SIZE (512ull << 20)
#define NOW 1700000000LL

struct names {
	char aor[32], contact[56], call_id[33];
};

static const char *ua_short = "sipp/3.6";
static const char *ua_long = "Yealink SIP-T46U 108.86.0.75 00:15:65:aa";

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static uint64_t used_now(void)
{
	struct shm_usage u;

	shm_usage(&u);
	return u.used;
}

static struct names *make_names(unsigned n)
{
	struct names *v = malloc((size_t)n * sizeof(*v));

	for (unsigned i = 0; v && i < n; i++) {
		uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull;

		snprintf(v[i].aor, sizeof(v[i].aor), "user%06u@example.com", i);
		snprintf(v[i].contact, sizeof(v[i].contact),
			 "sip:user%06u@10.0.2.15:5060;transport=udp", i);
		snprintf(v[i].call_id, sizeof(v[i].call_id), "%016llx%016llx",
			 (unsigned long long)x, (unsigned long long)~x);
	}
	return v;
}

static struct loc_binding binding_of(const struct names *nm, const char *ua,
				     unsigned i)
{
	struct loc_binding b = {
		.contact = slice_cstr(nm->contact),
		.call_id = slice_make(nm->call_id, 32),
		.user_agent = slice_cstr(ua),
		.expires = NOW + 3600,
		.last_modified = NOW,
		.cseq = 1,
		.q = -1,
		.flags = LOC_F_NAT | LOC_F_KEEPALIVE,
		.received = { AF_INET, 0, (uint16_t)(1024 + i % 60000),
			      { 203, 0, 113, (uint8_t)i } },
	};
	return b;
}

/* A new segment and table; *before: shm used before the table. */
static int fresh_table(uint64_t *before)
{
	int err;

	shm_detach();
	err = shm_create(SEG_SIZE);
	*before = used_now();
	if (!err)
		err = loc_init(1u << 20);
	if (err)
		fprintf(stderr, "location_bench: segment: %s\n", strerror(-err));
	return err;
}

/* Inserts every AOR; returns ns per insert, -1 on a failure. */
static double insert_all(const struct names *v, unsigned n, const char *ua)
{
	double t0 = now_ns();
	struct loc_binding b;
	struct loc_handle h;
	int err = 0;

	for (unsigned i = 0; i < n && !err; i++) {
		b = binding_of(&v[i], ua, i);
		loc_lock(slice_cstr(v[i].aor), &h);
		err = loc_put_locked(&h, &b);
		loc_unlock(&h);
	}
	if (err) {
		fprintf(stderr, "location_bench: put: %s\n", strerror(-err));
		return -1;
	}
	return (now_ns() - t0) / n;
}

/* n lookups of the AORs order[0..span-1], in turn. */
static double lookup_all(const struct names *v, const unsigned *order,
			 unsigned n, unsigned span)
{
	double t0 = now_ns();
	struct loc_binding b;
	struct loc_handle h;
	unsigned misses = 0;

	for (unsigned k = 0; k < n; k++) {
		const struct names *nm = &v[order[k % span]];
		int i;

		loc_lock(slice_cstr(nm->aor), &h);
		i = loc_find_locked(&h, slice_cstr(nm->contact));
		misses += i < 0 || loc_get_locked(&h, (unsigned)i, &b) < 0;
		loc_unlock(&h);
	}
	if (misses)
		fprintf(stderr, "location_bench: %u lookups missed\n", misses);
	return (now_ns() - t0) / n;
}

/* ---- pack every AOR, unpack into a fresh segment -------------------- */

struct packed {
	uint8_t *buf;
	size_t len, cap;
	unsigned records;
};

static int pack_one(struct loc_handle *h, void *arg)
{
	struct packed *p = arg;
	ssize_t n;

	if (p->cap - p->len < LOC_PACK_MAX + 4)
		return 1;
	n = loc_pack_locked(h, p->buf + p->len + 4, LOC_PACK_MAX);
	if (n < 0)
		return 1;
	memcpy(p->buf + p->len, &(uint32_t){ (uint32_t)n }, 4);
	p->len += 4 + (size_t)n;
	p->records++;
	return 0;
}

static int unpack_all(const struct packed *p)
{
	uint32_t n;

	for (size_t at = 0; at < p->len; at += 4 + n) {
		memcpy(&n, p->buf + at, 4);
		if (loc_unpack_put(p->buf + at + 4, n, NOW) != 1)
			return -1;
	}
	return 0;
}

static void pack_and_load(unsigned aors)
{
	struct packed p = { .cap = (size_t)aors * 256 + LOC_PACK_MAX + 4 };
	uint32_t cursor = 0;
	double t0, t_pack, t_load;
	uint64_t before;

	p.buf = malloc(p.cap);
	if (p.buf)
		memset(p.buf, 0xff, p.cap);   /* fault the pages in before timing */
	t0 = now_ns();
	if (!p.buf || loc_walk(&cursor, 0, pack_one, &p) != 1) {
		fprintf(stderr, "location_bench: packing stopped\n");
		goto out;
	}
	t_pack = now_ns() - t0;
	if (fresh_table(&before))
		goto out;
	t0 = now_ns();
	if (unpack_all(&p) || loc_binding_count() != aors) {
		fprintf(stderr, "location_bench: load failed\n");
		goto out;
	}
	t_load = now_ns() - t0;
	printf("pack all %u AORs:   %7.0f ms (%4.0f ns/AOR, %5.1f bytes/AOR packed)\n",
	       p.records, t_pack / 1e6, t_pack / p.records,
	       (double)p.len / p.records - 4);
	printf("unpack into a fresh table: %7.0f ms (%4.0f ns/AOR)\n",
	       t_load / 1e6, t_load / p.records);
out:
	free(p.buf);
}

/* ---- main ----------------------------------------------------------- */

static double refresh_all(const struct names *v, const unsigned *order,
			  unsigned n, const char *ua)
{
	double t0 = now_ns();
	struct loc_binding b;
	struct loc_handle h;

	for (unsigned k = 0; k < n; k++) {
		b = binding_of(&v[order[k]], ua, order[k]);
		b.cseq = 2;
		loc_lock(slice_cstr(v[order[k]].aor), &h);
		loc_put_locked(&h, &b);
		loc_unlock(&h);
	}
	return (now_ns() - t0) / n;
}

static int run(const struct names *v, const unsigned *order, unsigned n,
	       const char *ua, bool timings)
{
	uint64_t before;
	double ins;

	if (fresh_table(&before))
		return 1;
	ins = insert_all(v, n, ua);
	if (ins < 0)
		return 1;
	printf("User-Agent of %2zu bytes: %6.1f shm bytes/binding (target <= 300), "
	       "%u buckets\n", strlen(ua), (double)(used_now() - before) / n,
	       loc_bucket_total());
	if (!timings)
		return 0;
	printf("insert:  %6.0f ns\n", ins);
	printf("lookup:  %6.0f ns (lock, find, get, unlock; random order)\n",
	       lookup_all(v, order, n, n));
	printf("lookup:  %6.0f ns (the same 1000 AORs again and again: in cache)\n",
	       lookup_all(v, order, n, n < 1000 ? n : 1000));
	printf("refresh: %6.0f ns (same contact, new CSeq)\n",
	       refresh_all(v, order, n, ua));
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 1000000;
	struct names *v = n ? make_names(n) : NULL;
	unsigned *order = v ? malloc((size_t)n * sizeof(*order)) : NULL;
	unsigned seed = 1;

	if (!order) {
		fprintf(stderr, "usage: location_bench [aors > 0]\n");
		return 1;
	}
	log_threshold = LOG_LEVEL_WARN;
	for (unsigned i = 0; i < n; i++)
		order[i] = i;
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j = (unsigned)rand_r(&seed) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	printf("%u AORs, one binding each, 512M segment\n", n);
	if (run(v, order, n, ua_long, false) || run(v, order, n, ua_short, true))
		return 1;
	pack_and_load(n);
	shm_detach();
	free(order);
	free(v);
	return 0;
}
