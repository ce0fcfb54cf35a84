/*
 * tm_key.c — how messages find their transaction.
 *
 * Requests (retransmissions, ACK, CANCEL) hash the RFC 3261 §17.2.3 key:
 * the top Via branch and sent-by when the branch starts with the magic
 * cookie, else the RFC 2543 fields (Request-URI, From tag, Call-ID, CSeq
 * number, top Via). The method is not hashed, so an INVITE, its ACK and
 * its CANCEL land in the same chain and stripe; it is compared after.
 * Responses need no search: the branch pinhole writes names the slot, its
 * generation, the branch index, a per-start random and the loop hash.
 * Pure functions: any process, no lock.
 */
#include "tm_int.h"

#include <errno.h>
#include <stdio.h>

#define FNV64_INIT 0xcbf29ce484222325ull
#define FNV64_PRIME 0x100000001b3ull

static uint64_t fnv_bytes(uint64_t h, slice s, bool lower)
{
	for (uint32_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (lower && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		h = (h ^ c) * FNV64_PRIME;
	}
	return (h ^ 0xff) * FNV64_PRIME;   /* field separator */
}

static uint64_t fnv_u32(uint64_t h, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		h = (h ^ (v & 0xff)) * FNV64_PRIME;
	return h;
}

static bool has_cookie(const struct sip_via *via)
{
	return via->branch.len > 7 && memcmp(via->branch.p, "z9hG4bK", 7) == 0;
}

uint64_t tm_request_key(const struct sip_msg *msg, bool *rfc2543)
{
	const struct sip_via *via = &msg->via[0];
	uint64_t h = FNV64_INIT;

	*rfc2543 = msg->nvia == 0 || !has_cookie(via);
	if (msg->nvia)
		h = fnv_u32(fnv_bytes(fnv_bytes(h, via->branch, false), via->host, true),
			    via->port);
	if (*rfc2543) {
		h = fnv_bytes(h, msg->ruri_raw, false);
		h = fnv_bytes(h, msg->from.tag, false);
		h = fnv_bytes(h, msg->call_id, false);
		h = fnv_u32(h, msg->cseq.num);
	}
	return h ? h : 1;
}

static bool same_method(const struct sip_msg *stored, const struct sip_msg *msg)
{
	if (msg->method_id == SIP_M_ACK || msg->method_id == SIP_M_CANCEL)
		return stored->method_id == SIP_M_INVITE;
	return slice_eq(stored->method, msg->method);
}

static bool same_via(const struct sip_via *a, const struct sip_via *b)
{
	return slice_eq(a->branch, b->branch) && slice_caseeq(a->host, b->host) &&
	       a->port == b->port;
}

bool tm_request_matches(const struct sip_msg *stored, const struct sip_msg *msg,
			bool rfc2543)
{
	if (!same_method(stored, msg) || stored->nvia == 0 || msg->nvia == 0 ||
	    !same_via(&stored->via[0], &msg->via[0]))
		return false;
	if (!rfc2543)
		return true;
	return slice_eq(stored->ruri_raw, msg->ruri_raw) &&
	       slice_eq(stored->from.tag, msg->from.tag) &&
	       slice_eq(stored->call_id, msg->call_id) && stored->cseq.num == msg->cseq.num;
}

/* ---- branch parameters ------------------------------------------------ */

size_t tm_branch_format(const struct tm_branch_id *id, char *out, size_t cap)
{
	struct sbuf b;

	sbuf_init(&b, out, cap);
	sbuf_adds(&b, TM_BRANCH_PREFIX);
	sbuf_add_hex(&b, id->boot, 8);
	sbuf_adds(&b, ".");
	sbuf_add_hex(&b, id->slot, 0);
	sbuf_adds(&b, ".");
	sbuf_add_hex(&b, id->gen, 0);
	sbuf_adds(&b, ".");
	sbuf_add_hex(&b, id->branch, 0);
	sbuf_adds(&b, ".");
	sbuf_add_hex(&b, id->loop, 8);
	return b.full || b.len >= cap ? 0 : b.len;
}

/* One hex field of at most max digits ending at '.' or the end. */
static int hex_field(const char **p, const char *end, unsigned max, uint32_t *out)
{
	unsigned n = 0;
	uint32_t v = 0;

	for (; *p < end && **p != '.'; (*p)++, n++) {
		char c = **p;
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			   : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;

		if (d == 16 || n == max)
			return -EINVAL;
		v = v << 4 | d;
	}
	if (n == 0)
		return -EINVAL;
	if (*p < end)
		(*p)++;
	*out = v;
	return 0;
}

int tm_branch_parse(slice branch, struct tm_branch_id *id)
{
	const size_t plen = sizeof(TM_BRANCH_PREFIX) - 1;
	const char *p = branch.p + plen, *end = slice_end(branch);
	uint32_t br;

	if (branch.len <= plen || memcmp(branch.p, TM_BRANCH_PREFIX, plen) != 0)
		return -EINVAL;
	if (hex_field(&p, end, 8, &id->boot) < 0 || hex_field(&p, end, 8, &id->slot) < 0 ||
	    hex_field(&p, end, 8, &id->gen) < 0 || hex_field(&p, end, 2, &br) < 0 ||
	    p[-1] != '.' || hex_field(&p, end, 8, &id->loop) < 0 || p != end ||
	    end[-1] == '.')
		return -EINVAL;
	id->branch = (uint8_t)br;
	return 0;
}
