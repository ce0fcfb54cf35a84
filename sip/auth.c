/*
 * auth.c — digest authentication (RFC 7616; RFC 2617 qop=auth) for the
 * registrar and the proxy: HA1 values, challenges, and the check of
 * Authorization / Proxy-Authorization credentials.
 *
 * Nonces carry their own proof (issue time, issue sequence number, HMAC
 * over both and the client's IP), so no issued nonce is stored. The master
 * creates the shm table (server secret, nonce-count slots) before it
 * forks; SIP workers read the secret and update a slot with one
 * compare-and-swap, no lock.
 */
#include "sip.h"
#include "../conf/conf.h"
#include "hvalue.h"
#include "../shm/shm.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define AUTH_SECRET_LEN 32
#define AUTH_MAC_LEN 16         /* HMAC-SHA256 truncated */
#define AUTH_NONCE_LEN (8 + 4 + AUTH_MAC_LEN)
#define AUTH_NONCE_HEX (2 * AUTH_NONCE_LEN)
#define AUTH_MAX_SLOTS (1u << 24)
#define AUTH_MAX_USER 255       /* bytes of a username */

/*
 * Nonce n of the table (its sequence number, counted from 0) uses slot
 * n % nslots. A slot holds the tag of the last nonce issued on it (the
 * first 32 bits of its MAC, which covers the sequence number, so a slot
 * handed out again in the same second gets another tag) in the high half
 * and the highest nc accepted in the low half.
 */
struct auth_table {
	uint8_t secret[AUTH_SECRET_LEN];
	uint32_t nslots;
	uint32_t next;          /* sequence number of the next nonce (atomic) */
	uint64_t slots[];       /* tag << 32 | last nc (atomic) */
};
_Static_assert(offsetof(struct auth_table, slots) == 40, "auth_table layout");

/* A nonce, decoded. */
struct auth_nonce {
	int64_t issued;
	uint32_t slot;          /* its sequence number % nslots */
	uint32_t tag;
};

static struct auth_table *auth_table(void)
{
	return shm ? shm_ptr(shm->tables[SHM_T_AUTH]) : NULL;
}

int sip_auth_init(unsigned nc_slots)
{
	struct auth_table *t;
	shm_off off;

	if (nc_slots == 0 || nc_slots > AUTH_MAX_SLOTS)
		return -EINVAL;
	if (!shm)
		return -ENOMEM;
	if (shm->tables[SHM_T_AUTH])
		return 0;
	off = shm_alloc(sizeof(*t) + (size_t)nc_slots * sizeof(t->slots[0]));
	if (!off)
		return -ENOMEM;
	t = shm_ptr(off);
	memset(t, 0, sizeof(*t) + (size_t)nc_slots * sizeof(t->slots[0]));
	if (RAND_bytes(t->secret, sizeof(t->secret)) != 1) {
		LOG_ERR("auth: RAND_bytes failed: no server secret");
		shm_free(off);
		return -EIO;
	}
	t->nslots = nc_slots;
	shm->tables[SHM_T_AUTH] = off;
	return 0;
}

/* ---- hex and hashing ------------------------------------------------ */

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Exactly 2 * n hex digits (either case) into n bytes: 0 or -EINVAL. */
static int hex_decode(slice in, uint8_t *out, size_t n)
{
	if (in.len != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(in.p[2 * i]), lo = hex_value(in.p[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static size_t alg_hex_len(enum sip_auth_alg alg)
{
	return alg == SIP_AUTH_SHA256 ? 64 : 32;
}

/* H(parts[0] ":" parts[1] ":" ...) in lower-case hex; "" if OpenSSL fails. */
static void hash_hex(enum sip_auth_alg alg, const slice *parts, unsigned n,
		     char out[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	bool ok;

	out[0] = '\0';
	ok = ctx && EVP_DigestInit_ex(ctx, alg == SIP_AUTH_SHA256 ?
				      EVP_sha256() : EVP_md5(), NULL) == 1;
	for (unsigned i = 0; ok && i < n; i++)
		ok = (i == 0 || EVP_DigestUpdate(ctx, ":", 1) == 1) &&
		     EVP_DigestUpdate(ctx, parts[i].p, parts[i].len) == 1;
	if (ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 &&
	    2 * mdlen == alg_hex_len(alg))
		hex_encode(md, mdlen, out);
	else
		LOG_ERR("auth: digest computation failed in OpenSSL");
	EVP_MD_CTX_free(ctx);
}

void sip_auth_ha1(enum sip_auth_alg alg, slice user, slice realm,
		  slice password, char out[65])
{
	const slice parts[] = { user, realm, password };

	hash_hex(alg, parts, ARRAY_LEN(parts), out);
}

/* ---- nonces --------------------------------------------------------- */

static void put_be(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

/* The IP a nonce is bound to: a family byte and the address; an IPv4-mapped
 * IPv6 address counts as the IPv4 one. Returns the byte count. */
static size_t addr_bytes(const struct sockaddr *sa, uint8_t out[17])
{
	const struct sockaddr_in6 *s6 = (const void *)sa;
	const struct sockaddr_in *s4 = (const void *)sa;

	out[0] = 0;
	if (sa && sa->sa_family == AF_INET) {
		out[0] = 4;
		memcpy(out + 1, &s4->sin_addr, 4);
		return 5;
	}
	if (!sa || sa->sa_family != AF_INET6)
		return 1;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		out[0] = 4;
		memcpy(out + 1, s6->sin6_addr.s6_addr + 12, 4);
		return 5;
	}
	out[0] = 6;
	memcpy(out + 1, &s6->sin6_addr, 16);
	return 17;
}

/* MAC of the first 12 nonce bytes (time, sequence) and the address. */
static int nonce_mac(const struct auth_table *t, const uint8_t head[12],
		     const struct sockaddr *src, uint8_t mac[AUTH_MAC_LEN])
{
	uint8_t data[12 + 17], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t n;

	memcpy(data, head, 12);
	n = 12 + addr_bytes(src, data + 12);
	if (!HMAC(EVP_sha256(), t->secret, sizeof(t->secret), data, n, md,
		  &mdlen) || mdlen < AUTH_MAC_LEN) {
		LOG_ERR("auth: HMAC failed in OpenSSL");
		return -EIO;
	}
	memcpy(mac, md, AUTH_MAC_LEN);
	return 0;
}

/* A fresh nonce for src in hex; takes the next slot and resets it. */
static int nonce_issue(struct auth_table *t, const struct sockaddr *src,
		       int64_t now, char hex[AUTH_NONCE_HEX + 1])
{
	uint8_t raw[AUTH_NONCE_LEN];
	uint32_t seq, tag;

	seq = __atomic_fetch_add(&t->next, 1, __ATOMIC_RELAXED);
	put_be(raw, (uint64_t)now, 8);
	put_be(raw + 8, seq, 4);
	if (nonce_mac(t, raw, src, raw + 12) < 0)
		return -EIO;
	tag = (uint32_t)get_be(raw + 12, 4);
	__atomic_store_n(&t->slots[seq % t->nslots], (uint64_t)tag << 32,
			 __ATOMIC_RELAXED);
	hex_encode(raw, sizeof(raw), hex);
	return 0;
}

/* Decodes a nonce and checks its MAC for src: 0, or -EINVAL (forged,
 * issued to another address or by another server secret). */
static int nonce_open(const struct auth_table *t, slice text,
		      const struct sockaddr *src, struct auth_nonce *out)
{
	uint8_t raw[AUTH_NONCE_LEN], mac[AUTH_MAC_LEN];

	if (hex_decode(text, raw, sizeof(raw)) < 0 ||
	    nonce_mac(t, raw, src, mac) < 0 ||
	    CRYPTO_memcmp(mac, raw + 12, AUTH_MAC_LEN) != 0)
		return -EINVAL;
	out->issued = (int64_t)get_be(raw, 8);
	out->slot = (uint32_t)get_be(raw + 8, 4) % t->nslots;
	out->tag = (uint32_t)get_be(raw + 12, 4);
	return 0;
}

/* Accepts nc once per nonce, only above every nc accepted before. */
static enum sip_auth_result nc_advance(struct auth_table *t,
				       const struct auth_nonce *n, uint32_t nc)
{
	uint64_t *slot = &t->slots[n->slot];
	uint64_t cur = __atomic_load_n(slot, __ATOMIC_RELAXED);

	do {
		if ((uint32_t)(cur >> 32) != n->tag)
			return SIP_AUTH_STALE;
		if (nc <= (uint32_t)cur)
			return SIP_AUTH_INVALID;
	} while (!__atomic_compare_exchange_n(slot, &cur,
					      (uint64_t)n->tag << 32 | nc, true,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return SIP_AUTH_OK;
}

/* ---- challenges ----------------------------------------------------- */

/* A realm we can write inside quotes as it is. */
static bool realm_quotable(slice realm)
{
	if (realm.len == 0)
		return false;
	for (uint32_t i = 0; i < realm.len; i++) {
		unsigned char c = (unsigned char)realm.p[i];

		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			return false;
	}
	return true;
}

int sip_auth_challenge_algs(bool proxy, slice realm, bool stale,
			    const enum sip_auth_alg *algs, unsigned nalgs,
			    const struct sockaddr *src, int64_t now, char *out,
			    size_t cap)
{
	struct auth_table *t = auth_table();
	char nonce[AUTH_NONCE_HEX + 1];
	size_t len = 0;

	if (!t) {
		LOG_ERR("auth: challenge before sip_auth_init");
		return -ENODEV;
	}
	if (!realm_quotable(realm) || nalgs == 0)
		return -EINVAL;
	for (unsigned i = 0; i < nalgs; i++) {
		int n;

		if (algs[i] != SIP_AUTH_MD5 && algs[i] != SIP_AUTH_SHA256)
			return -EINVAL;
		if (nonce_issue(t, src, now, nonce) < 0)
			return -EIO;
		n = snprintf(out + len, cap - len,
			     "%s: Digest realm=\"%.*s\", nonce=\"%s\", qop=\"auth\", algorithm=%s%s\r\n",
			     proxy ? "Proxy-Authenticate" : "WWW-Authenticate",
			     SLICE_FMT(realm), nonce,
			     algs[i] == SIP_AUTH_SHA256 ? "SHA-256" : "MD5",
			     stale ? ", stale=true" : "");
		if (n < 0 || (size_t)n >= cap - len)
			return -ENOSPC;
		len += (size_t)n;
	}
	return (int)len;
}

int sip_auth_challenge(bool proxy, slice realm, bool stale,
		       const struct sockaddr *src, int64_t now, char *out,
		       size_t cap)
{
	static const enum sip_auth_alg both[] = { SIP_AUTH_SHA256, SIP_AUTH_MD5 };

	return sip_auth_challenge_algs(proxy, realm, stale, both,
				       ARRAY_LEN(both), src, now, out, cap);
}

int sip_auth_challenge_conf(const struct pinhole_conf *conf, bool proxy, bool stale,
			    const struct sockaddr *src, int64_t now, char *out, size_t cap)
{
	static const enum sip_auth_alg orders[][2] = {
		[CONF_AUTH_MD5_SHA256] = { SIP_AUTH_MD5, SIP_AUTH_SHA256 },
		[CONF_AUTH_SHA256_MD5] = { SIP_AUTH_SHA256, SIP_AUTH_MD5 },
		[CONF_AUTH_MD5] = { SIP_AUTH_MD5 },
		[CONF_AUTH_SHA256] = { SIP_AUTH_SHA256 },
	};
	unsigned a = conf->auth.algorithms < ARRAY_LEN(orders) ? conf->auth.algorithms : 0;
	unsigned n = a == CONF_AUTH_MD5 || a == CONF_AUTH_SHA256 ? 1 : 2;

	return sip_auth_challenge_algs(proxy, slice_cstr(conf->auth.realm), stale, orders[a], n,
				       src, now, out, cap);
}

/* ---- checking credentials ------------------------------------------- */

/* Whether credentials that did not parse may be Digest ones (their first
 * token is "Digest", or there is no token). */
static bool scheme_may_be_digest(slice value)
{
	const char *p, *q;

	value = slice_trim(value);
	p = value.p;
	q = value.len ? scan_token(p, slice_end(value)) : p;
	return q == p || hvalue_name_is(slice_between(p, q), "digest", 6);
}

/* The first Digest credentials for realm (OK), else NO_CREDENTIALS, or
 * MALFORMED when a Digest header that could have been ours does not parse
 * or has no realm. */
static enum sip_auth_result find_credentials(const struct sip_msg *msg,
					     enum sip_hdr_id hdr, slice realm,
					     struct sip_credentials *cr)
{
	const struct sip_hdr *h;
	const char *why;
	bool malformed = false;

	for (h = sip_msg_hdr(msg, hdr); h; h = sip_msg_hdr_next(msg, h)) {
		if (sip_credentials_parse(h->value, cr, &why) < 0) {
			malformed = malformed || scheme_may_be_digest(h->value);
			continue;
		}
		if (!hvalue_name_is(cr->scheme, "digest", 6))
			continue;
		if (!cr->realm.p)
			malformed = true;
		else if (slice_eq(cr->realm, realm))
			return SIP_AUTH_OK;
	}
	return malformed ? SIP_AUTH_MALFORMED : SIP_AUTH_NO_CREDENTIALS;
}

/* A SIP URI user (RFC 3261 §25.1): unreserved, escaped, &=+$,;?/ */
static bool username_valid(slice user)
{
	const char *p = user.p, *end = slice_end(user);

	if (user.len == 0 || user.len > AUTH_MAX_USER)
		return false;
	for (; p < end; p++) {
		if (*p == '%') {
			if (end - p < 3 || hex_value(p[1]) < 0 ||
			    hex_value(p[2]) < 0)
				return false;
			p += 2;
		} else if (!ch_is((unsigned char)*p,
				  CH_UNRESERVED | CH_USER_UNRES)) {
			return false;
		}
	}
	return true;
}

/* One check in progress. */
struct auth_check {
	const struct sip_msg *msg;
	struct sip_credentials cr;
	enum sip_auth_alg alg;
	uint32_t nc;
	struct auth_nonce nonce;
	char ha1[65];
};

/* Mandatory parameters present and well formed: OK or MALFORMED. */
static enum sip_auth_result check_syntax(struct auth_check *c)
{
	const struct sip_credentials *cr = &c->cr;
	uint8_t b[4];

	if (!cr->username.p || !cr->nonce.p || !cr->uri.p || !cr->response.p ||
	    !username_valid(cr->username))
		return SIP_AUTH_MALFORMED;
	c->nc = 0;
	if (!cr->qop.p)
		return SIP_AUTH_OK;
	if (!cr->cnonce.p || cr->cnonce.len == 0 || !cr->nc.p ||
	    hex_decode(cr->nc, b, sizeof(b)) < 0)
		return SIP_AUTH_MALFORMED;
	c->nc = (uint32_t)get_be(b, 4);
	return SIP_AUTH_OK;
}

/* What pinhole accepts: qop=auth, MD5 or SHA-256, the Request-URI as
 * written (RFC 2617 §3.2.2.5). OK or INVALID; c->alg set. */
static enum sip_auth_result check_support(struct auth_check *c)
{
	const struct sip_credentials *cr = &c->cr;

	if (!cr->qop.p || !hvalue_name_is(cr->qop, "auth", 4))
		return SIP_AUTH_INVALID;
	if (!cr->algorithm.p || hvalue_name_is(cr->algorithm, "md5", 3))
		c->alg = SIP_AUTH_MD5;
	else if (hvalue_name_is(cr->algorithm, "sha-256", 7))
		c->alg = SIP_AUTH_SHA256;
	else
		return SIP_AUTH_INVALID;
	return slice_eq(cr->uri, c->msg->ruri_raw) ? SIP_AUTH_OK
						   : SIP_AUTH_INVALID;
}

static char hex_lower(char ch)
{
	return ch >= 'A' && ch <= 'F' ? (char)(ch | 0x20) : ch;
}

/* Whether the response is the one c->ha1 gives (RFC 7616 §3.4.1,
 * qop=auth); hex in either case is accepted from the client and the
 * lookup. */
static bool response_matches(struct auth_check *c)
{
	const struct sip_credentials *cr = &c->cr;
	size_t n = alg_hex_len(c->alg);
	char ha2[65], want[65], got[64];
	slice a2[] = { c->msg->method, cr->uri };
	slice kd[] = { slice_make(c->ha1, n), cr->nonce, cr->nc, cr->cnonce,
		       cr->qop, slice_make(ha2, n) };

	if (strlen(c->ha1) != n || cr->response.len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		c->ha1[i] = hex_lower(c->ha1[i]);
		got[i] = hex_lower(cr->response.p[i]);
	}
	hash_hex(c->alg, a2, ARRAY_LEN(a2), ha2);
	hash_hex(c->alg, kd, ARRAY_LEN(kd), want);
	return strlen(ha2) == n && strlen(want) == n &&
	       CRYPTO_memcmp(got, want, n) == 0;
}

/* The subscriber's HA1, then the digest, the nonce age and its count, in
 * that order: a stale nonce is reported only with a correct digest
 * (RFC 7616 §3.3). */
static enum sip_auth_result check_digest(struct auth_table *t,
					 struct auth_check *c, slice domain,
					 int64_t now, unsigned nonce_ttl,
					 sip_auth_lookup_fn lookup, void *arg)
{
	int rc;

	c->ha1[0] = '\0';
	rc = lookup(c->cr.username, domain, c->alg, c->ha1, arg);
	if (rc == -ENOENT)
		return SIP_AUTH_UNKNOWN_USER;
	if (rc < 0) {
		LOG_ERR("auth: subscriber lookup of '%.*s@%.*s' failed: %s",
			SLICE_FMT(c->cr.username), SLICE_FMT(domain),
			strerror(-rc));
		return SIP_AUTH_INVALID;
	}
	c->ha1[64] = '\0';
	if (!response_matches(c))
		return SIP_AUTH_INVALID;
	if (c->nonce.issued + (int64_t)nonce_ttl < now)
		return SIP_AUTH_STALE;
	return nc_advance(t, &c->nonce, c->nc);
}

enum sip_auth_result sip_auth_check(const struct sip_msg *msg,
				    enum sip_hdr_id hdr, slice realm,
				    slice domain, const struct sockaddr *src,
				    int64_t now, unsigned nonce_ttl,
				    sip_auth_lookup_fn lookup, void *arg,
				    slice *user_out)
{
	struct auth_table *t = auth_table();
	struct auth_check c = { .msg = msg };
	enum sip_auth_result r;

	*user_out = SLICE_NULL;
	r = find_credentials(msg, hdr, realm, &c.cr);
	if (r == SIP_AUTH_OK)
		r = check_syntax(&c);
	if (r != SIP_AUTH_OK)
		return r;
	*user_out = c.cr.username;
	r = check_support(&c);
	if (r != SIP_AUTH_OK)
		return r;
	if (!t) {
		LOG_ERR("auth: credentials checked before sip_auth_init");
		return SIP_AUTH_INVALID;
	}
	if (nonce_open(t, c.cr.nonce, src, &c.nonce) < 0)
		return SIP_AUTH_INVALID;
	return check_digest(t, &c, domain, now, nonce_ttl, lookup, arg);
}
