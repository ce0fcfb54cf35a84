/*
 * test_auth.c — digest authentication (sip/auth.c): HA1 vectors, challenge
 * syntax, round trips with responses computed here independently (MD5 and
 * SHA-256), wrong passwords, forged and foreign nonces, stale nonces,
 * nonce counts (also across processes), Request-URI binding, unknown
 * users, other realms and schemes (RFC 4475 regaut01), malformed and
 * unsupported credentials.
 */
#include "../../sip/sip.h"
#include "../../shm/shm.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#define REALM "example.com"
#define TTL 300
#define SLOTS 64
#define T0 1700000000

/* ---- the client side, computed independently of auth.c -------------- */

static void hash(const char *alg, const char *in, char out[65])
{
	const EVP_MD *md = strcmp(alg, "SHA-256") == 0 ? EVP_sha256() : EVP_md5();
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_Digest(in, strlen(in), d, &n, md, NULL);
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* What a client sends. alg NULL: no algorithm parameter (MD5); qop NULL:
 * RFC 2069 style. */
struct cred {
	const char *user, *password, *realm, *nonce, *uri, *method;
	const char *alg, *qop, *cnonce;
	unsigned nc;
	bool quote_qop;   /* qop="auth" rather than qop=auth */
};

static void client_response(const struct cred *c, char out[65])
{
	const char *alg = c->alg ? c->alg : "MD5";
	char buf[1024], ha1[65], ha2[65];

	snprintf(buf, sizeof(buf), "%s:%s:%s", c->user, c->realm, c->password);
	hash(alg, buf, ha1);
	snprintf(buf, sizeof(buf), "%s:%s", c->method, c->uri);
	hash(alg, buf, ha2);
	if (c->qop)
		snprintf(buf, sizeof(buf), "%s:%s:%08x:%s:%s:%s", ha1, c->nonce,
			 c->nc, c->cnonce, c->qop, ha2);
	else
		snprintf(buf, sizeof(buf), "%s:%s:%s", ha1, c->nonce, ha2);
	hash(alg, buf, out);
}

/* "Authorization: Digest ...\r\n" for c. */
static void credentials_line(const char *name, const struct cred *c,
			     char *out, size_t cap)
{
	char resp[65], extra[256] = "";

	client_response(c, resp);
	if (c->alg)
		snprintf(extra, sizeof(extra), ", algorithm=%s", c->alg);
	if (c->qop)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			 c->quote_qop ? ", qop=\"%s\", nc=%08x, cnonce=\"%s\""
				      : ", qop=%s, nc=%08x, cnonce=\"%s\"",
			 c->qop, c->nc, c->cnonce);
	snprintf(out, cap,
		 "%s: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", response=\"%s\"%s\r\n",
		 name, c->user, c->realm, c->nonce, c->uri, resp, extra);
}

/* ---- the server side ------------------------------------------------ */

static unsigned lookups;
static enum sip_auth_alg lookup_alg;

static int lookup(slice user, slice domain, enum sip_auth_alg alg,
		  char ha1_out[65], void *arg)
{
	lookups++;
	lookup_alg = alg;
	if (!slice_eq(domain, SLICE_LIT(REALM)))
		return -ENOENT;
	if (slice_eq(user, SLICE_LIT("broken")))
		return -EIO;
	if (!slice_eq(user, SLICE_LIT("alice")))
		return -ENOENT;
	sip_auth_ha1(alg, user, SLICE_LIT(REALM), SLICE_LIT("secret"), ha1_out);
	return 0;
}

static struct sockaddr_in src4;
static struct sip_msg msg;
static char msgbuf[8192];
static slice user;

static void set_src(struct sockaddr_in *sa, const char *ip, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	inet_pton(AF_INET, ip, &sa->sin_addr);
}

/* Parses a request text into msg; 0 or the parser's error. */
static int parse_request(const char *text)
{
	struct sip_parse_status st;

	snprintf(msgbuf, sizeof(msgbuf), "%s", text);
	return sip_msg_parse(msgbuf, strlen(msgbuf), 0, &msg, &st);
}

/* A REGISTER (or INVITE) for alice carrying the header lines hdrs. */
static int build_request(const char *method, const char *hdrs)
{
	char text[8192];

	snprintf(text, sizeof(text),
		 "%s sip:" REALM " SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKauth\r\n"
		 "From: <sip:alice@" REALM ">;tag=1\r\n"
		 "To: <sip:alice@" REALM ">\r\n"
		 "Call-ID: auth-test\r\nCSeq: 1 %s\r\nMax-Forwards: 70\r\n"
		 "%sContent-Length: 0\r\n\r\n", method, method, hdrs);
	return parse_request(text);
}

static enum sip_auth_result check_at(enum sip_hdr_id id, const void *src,
				     int64_t now)
{
	return sip_auth_check(&msg, id, SLICE_LIT(REALM), SLICE_LIT(REALM),
			      src, now, TTL, lookup, NULL, &user);
}

static enum sip_auth_result check_hdrs(const char *hdrs, const void *src,
				       int64_t now)
{
	if (build_request("REGISTER", hdrs) < 0)
		return (enum sip_auth_result)-1;
	return check_at(SIP_H_AUTHORIZATION, src, now);
}

/* Sends c in an Authorization header from src at now. */
static enum sip_auth_result send_cred(const struct cred *c, const void *src,
				      int64_t now)
{
	char line[1024];

	credentials_line("Authorization", c, line, sizeof(line));
	return check_hdrs(line, src, now);
}

/* One challenge, split into its two lines' nonces and algorithms. */
struct chal {
	char text[1024];
	int len;
	char nonce[2][128], alg[2][16];
};

static int challenge(bool proxy, bool stale, const void *src, int64_t now,
		     struct chal *ch)
{
	const char *p, *eol;

	memset(ch, 0, sizeof(*ch));
	ch->len = sip_auth_challenge(proxy, SLICE_LIT(REALM), stale, src, now,
				     ch->text, sizeof(ch->text));
	p = ch->text;
	for (int i = 0; i < 2 && ch->len > 0; i++) {
		struct sip_credentials cr;
		const char *why, *colon = strchr(p, ':');

		eol = strstr(p, "\r\n");
		if (!colon || !eol ||
		    sip_credentials_parse(slice_between(colon + 1, eol), &cr, &why) < 0)
			return -1;
		slice_copy_cstr(cr.nonce, ch->nonce[i], sizeof(ch->nonce[i]));
		slice_copy_cstr(cr.algorithm, ch->alg[i], sizeof(ch->alg[i]));
		p = eol + 2;
	}
	return ch->len;
}

/* Credentials for alice answering a fresh challenge (line 0: SHA-256,
 * line 1: MD5) from src4 at T0. */
static struct chal last;

static struct cred fresh(int line)
{
	challenge(false, false, &src4, T0, &last);
	return (struct cred){
		.user = "alice", .password = "secret", .realm = REALM,
		.nonce = last.nonce[line], .uri = "sip:" REALM,
		.method = "REGISTER", .alg = last.alg[line], .qop = "auth",
		.cnonce = "0a4f113b", .nc = 1,
	};
}

/* ---- tests ---------------------------------------------------------- */

static void test_ha1_vectors(void)
{
	char out[65];

	sip_auth_ha1(SIP_AUTH_MD5, SLICE_LIT("Mufasa"),
		     SLICE_LIT("testrealm@host.com"), SLICE_LIT("Circle Of Life"), out);
	IS_SLICE(slice_cstr(out), "939e7578ed9e3c518a452acee763bce9",
		 "MD5 HA1 of RFC 2617 §3.5");
	sip_auth_ha1(SIP_AUTH_SHA256, SLICE_LIT("Mufasa"),
		     SLICE_LIT("http-auth@example.org"), SLICE_LIT("Circle of Life"), out);
	IS_SLICE(slice_cstr(out),
		 "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232",
		 "SHA-256 HA1 of RFC 7616 §3.9.1");
}

/* The test's own client computes the RFC examples' responses. */
static void test_client_vectors(void)
{
	char out[65];
	struct cred c = {
		.user = "Mufasa", .password = "Circle Of Life",
		.realm = "testrealm@host.com",
		.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093",
		.uri = "/dir/index.html", .method = "GET", .qop = "auth",
		.cnonce = "0a4f113b", .nc = 1,
	};

	client_response(&c, out);
	IS_SLICE(slice_cstr(out), "6629fae49393a05397450978507c4ef1",
		 "client MD5 response of RFC 2617 §3.5");
	c = (struct cred){
		.user = "Mufasa", .password = "Circle of Life",
		.realm = "http-auth@example.org",
		.nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
		.uri = "/dir/index.html", .method = "GET", .alg = "SHA-256",
		.qop = "auth", .cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
		.nc = 1,
	};
	client_response(&c, out);
	IS_SLICE(slice_cstr(out),
		 "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
		 "client SHA-256 response of RFC 7616 §3.9.1");
}

static void test_challenge_syntax(void)
{
	struct chal ch;
	const char *second;

	OK(challenge(false, false, &src4, T0, &ch) > 0, "challenge written");
	IS_INT(ch.len, strlen(ch.text), "length returned");
	OK(strncmp(ch.text, "WWW-Authenticate: Digest realm=\"" REALM "\", nonce=\"", 50) == 0,
	   "401 header, Digest, quoted realm first");
	second = strstr(ch.text, "\r\n");
	OK(second && strncmp(second + 2, "WWW-Authenticate: Digest ", 25) == 0,
	   "a second WWW-Authenticate line");
	OK(second && strstr(second + 2, "\r\n") == ch.text + ch.len - 2,
	   "exactly two CRLF-terminated lines");
	IS_SLICE(slice_cstr(ch.alg[0]), "SHA-256", "SHA-256 offered first");
	IS_SLICE(slice_cstr(ch.alg[1]), "MD5", "MD5 offered second");
	OK(strstr(ch.text, "algorithm=SHA-256\r\n") && strstr(ch.text, "algorithm=MD5\r\n"),
	   "algorithm is an unquoted token");
	OK(strstr(ch.text, "qop=\"auth\", ") && strstr(second, "qop=\"auth\", "),
	   "qop=\"auth\" quoted on both lines");
	OK(strlen(ch.nonce[0]) >= 32 && strlen(ch.nonce[1]) >= 32 &&
	   strcmp(ch.nonce[0], ch.nonce[1]) != 0, "two distinct nonces");
	OK(strspn(ch.nonce[0], "0123456789abcdef") == strlen(ch.nonce[0]),
	   "nonce needs no escaping");
	OK(!strstr(ch.text, "stale"), "no stale unless asked");
	OK(challenge(true, true, &src4, T0, &ch) > 0, "proxy challenge");
	OK(strncmp(ch.text, "Proxy-Authenticate: Digest ", 27) == 0 &&
	   strstr(ch.text, "\r\nProxy-Authenticate: Digest "), "407 header names");
	OK(strstr(ch.text, "algorithm=SHA-256, stale=true\r\n") &&
	   strstr(ch.text, "algorithm=MD5, stale=true\r\n"), "stale=true on both lines");
}

static void test_challenge_errors(void)
{
	char small[100];

	IS_INT(sip_auth_challenge(false, SLICE_LIT(REALM), false, (void *)&src4, T0,
				  small, sizeof(small)), -ENOSPC, "no room: -ENOSPC");
	IS_INT(sip_auth_challenge(false, SLICE_LIT(REALM), false, (void *)&src4, T0,
				  small, 0), -ENOSPC, "cap 0: -ENOSPC");
	IS_INT(sip_auth_challenge(false, SLICE_LIT("a\"b"), false, (void *)&src4, T0,
				  small, sizeof(small)), -EINVAL, "realm with a quote");
	IS_INT(sip_auth_challenge(false, SLICE_LIT(""), false, (void *)&src4, T0,
				  small, sizeof(small)), -EINVAL, "empty realm");
}

static void test_challenge_algs(void)
{
	static const enum sip_auth_alg md5[] = { SIP_AUTH_MD5 };
	static const enum sip_auth_alg md5_first[] = { SIP_AUTH_MD5, SIP_AUTH_SHA256 };
	static const enum sip_auth_alg bad[] = { SIP_AUTH_MD5, (enum sip_auth_alg)7 };
	char out[1024];
	int n;

	n = sip_auth_challenge_algs(false, SLICE_LIT(REALM), false, md5, 1,
				    (void *)&src4, T0, out, sizeof(out));
	OK(n > 0 && (size_t)n == strlen(out) && strstr(out, "\r\n") == out + n - 2 &&
	   strstr(out, "algorithm=MD5\r\n"), "MD5 alone: one line");
	n = sip_auth_challenge_algs(false, SLICE_LIT(REALM), false, md5_first, 2,
				    (void *)&src4, T0, out, sizeof(out));
	OK(n > 0 && strstr(out, "algorithm=MD5\r\n") &&
	   strstr(out, "algorithm=MD5\r\n") < strstr(out, "algorithm=SHA-256\r\n"),
	   "MD5 first when asked");
	IS_INT(sip_auth_challenge_algs(false, SLICE_LIT(REALM), false, md5, 0,
				       (void *)&src4, T0, out, sizeof(out)),
	       -EINVAL, "no algorithm");
	IS_INT(sip_auth_challenge_algs(false, SLICE_LIT(REALM), false, bad, 2,
				       (void *)&src4, T0, out, sizeof(out)),
	       -EINVAL, "an unknown algorithm");
}

static void test_round_trip(void)
{
	struct cred c = fresh(1);

	lookups = 0;
	IS_INT(send_cred(&c, &src4, T0 + 1), SIP_AUTH_OK, "MD5 response accepted");
	IS_SLICE(user, "alice", "  user set");
	IS_INT(lookup_alg, SIP_AUTH_MD5, "  MD5 HA1 asked for");
	IS_INT(lookups, 1, "  one lookup");
	c = fresh(0);
	IS_INT(send_cred(&c, &src4, T0 + 1), SIP_AUTH_OK, "SHA-256 response accepted");
	IS_INT(lookup_alg, SIP_AUTH_SHA256, "  SHA-256 HA1 asked for");
	c = fresh(1);
	c.alg = NULL;
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_OK, "no algorithm parameter means MD5");
	c = fresh(1);
	c.alg = "SHA-256";
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_OK, "SHA-256 answer on the MD5 line's nonce");
	c = fresh(1);
	c.quote_qop = true;
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_OK, "qop=\"auth\" quoted");
}

static void test_response_case(void)
{
	struct cred c = fresh(1);
	char line[1024], *r;

	credentials_line("Authorization", &c, line, sizeof(line));
	r = strstr(line, "response=\"") + 10;
	for (int i = 0; i < 32; i++)
		if (r[i] >= 'a' && r[i] <= 'f')
			r[i] -= 32;
	IS_INT(check_hdrs(line, &src4, T0), SIP_AUTH_OK, "upper-case response hex");
}

static void test_wrong_password(void)
{
	struct cred c = fresh(1);

	c.password = "Secret";
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_INVALID, "wrong password (MD5)");
	IS_SLICE(user, "alice", "  user still reported");
	c = fresh(0);
	c.password = "";
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_INVALID, "wrong password (SHA-256)");
	c = fresh(0);
	c.user = "bob";
	c.password = "secret";
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_UNKNOWN_USER, "unknown user");
	IS_SLICE(user, "bob", "  its name reported");
	c = fresh(0);
	c.user = "broken";
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_INVALID, "lookup error: INVALID");
}

static void test_forged_nonce(void)
{
	struct cred c = fresh(1);
	char nonce[128];

	snprintf(nonce, sizeof(nonce), "%s", c.nonce);
	nonce[40] = nonce[40] == '0' ? '1' : '0';
	c.nonce = nonce;
	lookups = 0;
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_INVALID, "a flipped MAC bit");
	IS_INT(lookups, 0, "  no subscriber lookup for a forged nonce");
	nonce[40] = last.nonce[1][40];
	nonce[2] ^= 1;
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_INVALID, "a flipped time bit");
	c.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_INVALID, "a nonce we never issued");
	nonce[2] ^= 1;
	nonce[10] = 'g';
	c.nonce = nonce;
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_INVALID, "a nonce that is not hex");
}

static void test_source_address(void)
{
	struct sockaddr_in other, port;
	struct sockaddr_in6 mapped = { .sin6_family = AF_INET6 };
	struct cred c = fresh(1);

	set_src(&other, "192.0.2.11", 5060);
	set_src(&port, "192.0.2.10", 40000);
	IS_INT(send_cred(&c, &other, T0), SIP_AUTH_INVALID, "nonce from another address");
	IS_INT(send_cred(&c, &port, T0), SIP_AUTH_OK, "same address, another port");
	inet_pton(AF_INET6, "::ffff:192.0.2.10", &mapped.sin6_addr);
	c.nc = 2;
	IS_INT(send_cred(&c, &mapped, T0), SIP_AUTH_OK, "IPv4-mapped IPv6 is the same address");
}

static void test_stale(void)
{
	struct cred c = fresh(0);
	struct chal ch;

	IS_INT(send_cred(&c, &src4, T0 + TTL), SIP_AUTH_OK, "nonce good at its last second");
	c.nc = 2;
	IS_INT(send_cred(&c, &src4, T0 + TTL + 1), SIP_AUTH_STALE,
	       "correct digest on an expired nonce: STALE");
	c.password = "wrong";
	IS_INT(send_cred(&c, &src4, T0 + TTL + 1), SIP_AUTH_INVALID,
	       "wrong digest on an expired nonce: INVALID");
	OK(challenge(false, true, &src4, T0 + TTL + 1, &ch) > 0 &&
	   strstr(ch.text, "stale=true"), "the next challenge says stale=true");
}

static void test_nonce_count(void)
{
	struct cred c = fresh(1);

	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_OK, "nc 1");
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_INVALID, "nc 1 replayed");
	c.nc = 2;
	IS_INT(send_cred(&c, &src4, T0 + 10), SIP_AUTH_OK, "nc 2");
	c.nc = 7;
	IS_INT(send_cred(&c, &src4, T0 + 20), SIP_AUTH_OK, "nc 7 (gaps allowed)");
	c.nc = 5;
	IS_INT(send_cred(&c, &src4, T0 + 20), SIP_AUTH_INVALID, "nc 5 after 7");
	c = fresh(1);
	c.nc = 0;
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_INVALID, "nc 0");
	c.nc = 0xffffffffu;
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_OK, "nc ffffffff");
}

/* Once every slot was handed out again, an old nonce is stale. */
static void test_slot_reuse(void)
{
	struct cred c = fresh(1);
	char nonce[128];
	struct chal ch;

	snprintf(nonce, sizeof(nonce), "%s", c.nonce);
	c.nonce = nonce;
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_OK, "nonce used once");
	for (int i = 0; i < SLOTS / 2; i++)
		challenge(false, false, &src4, T0, &ch);
	c.nc = 2;
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_STALE, "its slot went to a newer nonce: STALE");
}

static void test_nc_other_process(void)
{
	struct cred c = fresh(1);
	pid_t pid = tap_fork();

	if (pid == 0)
		_exit(send_cred(&c, &src4, T0) == SIP_AUTH_OK ? 0 : 1);
	IS_INT(tap_child_status(pid), 0, "another process accepted nc 1");
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_INVALID, "nc 1 is then a replay here");
	c.nc = 2;
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_OK, "nc 2 accepted here");
}

#define RACE_N 400

/* Two processes race through nc 1..RACE_N on one nonce: each nc is taken
 * at most once, and the last one exactly once. */
static void test_nc_race(void)
{
	struct cred c = fresh(0);
	uint32_t *won = shm_ptr(shm_alloc((RACE_N + 1) * sizeof(uint32_t)));
	pid_t pid[2];
	bool once = true;
	unsigned total = 0;

	if (!OK(won != NULL, "race counters allocated"))
		return;
	memset(won, 0, (RACE_N + 1) * sizeof(uint32_t));
	for (int i = 0; i < 2; i++) {
		pid[i] = tap_fork();
		if (pid[i] != 0)
			continue;
		for (c.nc = 1; c.nc <= RACE_N; c.nc++)
			if (send_cred(&c, &src4, T0) == SIP_AUTH_OK)
				__atomic_fetch_add(&won[c.nc], 1, __ATOMIC_RELAXED);
		_exit(0);
	}
	IS_INT(tap_child_status(pid[0]) + tap_child_status(pid[1]), 0, "both racers finished");
	for (unsigned i = 1; i <= RACE_N; i++) {
		once = once && won[i] <= 1;
		total += won[i];
	}
	OK(once, "no nc accepted twice (%u accepted)", total);
	IS_INT(won[RACE_N], 1, "the highest nc accepted exactly once");
}

static void test_uri(void)
{
	struct cred c = fresh(1);

	c.uri = "sip:other.example.com";
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_INVALID, "uri of another request");
	c.uri = "sip:EXAMPLE.COM";
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_INVALID,
	       "uri equal as a URI but not as written");
	c.uri = "sip:" REALM;
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_OK, "the Request-URI as written");
}

static void test_no_credentials(void)
{
	struct cred c = fresh(1);
	char line[1024], two[2048];

	IS_INT(check_hdrs("", &src4, T0), SIP_AUTH_NO_CREDENTIALS, "no header");
	c.realm = "other.org";
	credentials_line("Authorization", &c, line, sizeof(line));
	IS_INT(check_hdrs(line, &src4, T0), SIP_AUTH_NO_CREDENTIALS, "Digest for another realm");
	c.realm = REALM;
	credentials_line("Authorization", &c, line, sizeof(line));
	snprintf(two, sizeof(two), "Authorization: Basic YWxpY2U6c2VjcmV0\r\n"
		 "Authorization: Digest username=\"x\", realm=\"other.org\", nonce=\"n\", "
		 "uri=\"sip:" REALM "\", response=\"0\"\r\n%s", line);
	IS_INT(check_hdrs(two, &src4, T0), SIP_AUTH_OK, "ours after Basic and another realm");
	IS_INT(check_hdrs("Authorization: Basic YWxpY2U6c2VjcmV0\r\n", &src4, T0),
	       SIP_AUTH_NO_CREDENTIALS, "Basic only");
	credentials_line("Proxy-Authorization", &c, line, sizeof(line));
	IS_INT(check_hdrs(line, &src4, T0), SIP_AUTH_NO_CREDENTIALS,
	       "Proxy-Authorization is not Authorization");
}

static void test_regaut01(void)
{
	const char *dir = getenv("CONFORMANCE_DIR");
	char path[512], text[4096];
	size_t n = 0;
	FILE *f;

	if (!dir || !*dir)
		dir = "../shared/conformance";
	snprintf(path, sizeof(path), "%s/rfc4475/regaut01.dat", dir);
	f = fopen(path, "rb");
	if (!f) {
		tap_skip("no conformance corpus", "regaut01 (%s)", path);
		return;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	IS_INT(parse_request(text), 0, "regaut01 parses");
	IS_INT(check_at(SIP_H_AUTHORIZATION, &src4, T0), SIP_AUTH_NO_CREDENTIALS,
	       "regaut01: unknown scheme gets a new challenge");
	OK(user.len == 0, "  no user");
}

static void malformed(const char *params, const char *what)
{
	char line[1024];

	snprintf(line, sizeof(line), "Authorization: Digest %s\r\n", params);
	IS_INT(check_hdrs(line, &src4, T0), SIP_AUTH_MALFORMED, "%s", what);
}

#define P_USER "username=\"alice\", realm=\"" REALM "\", "
#define P_REST "uri=\"sip:" REALM "\", response=\"6629fae49393a05397450978507c4ef1\""

static void test_malformed(void)
{
	struct cred c = fresh(1);
	char line[1024], two[2048];

	malformed("username=\"alice, realm=\"" REALM "\"", "unterminated quote");
	malformed(P_USER "nonce=\"abc\", uri=\"sip:" REALM "\"", "no response");
	malformed(P_USER P_REST, "no nonce");
	malformed("realm=\"" REALM "\", nonce=\"abc\", " P_REST, "no username");
	malformed(P_USER "nonce=\"abc\", response=\"00\"", "no uri");
	malformed(P_USER "nonce=\"abc\", " P_REST ", qop=auth, cnonce=\"x\"", "qop without nc");
	malformed(P_USER "nonce=\"abc\", " P_REST ", qop=auth, nc=00000001", "qop without cnonce");
	malformed(P_USER "nonce=\"abc\", " P_REST ", qop=auth, nc=1, cnonce=\"x\"", "short nc");
	malformed(P_USER "nonce=\"abc\", " P_REST ", qop=auth, nc=0000000g, cnonce=\"x\"",
		  "nc not hex");
	malformed("username=\"al ice\", realm=\"" REALM "\", nonce=\"abc\", " P_REST,
		  "username with a space");
	malformed("username=\"alice@" REALM "\", realm=\"" REALM "\", nonce=\"abc\", " P_REST,
		  "username with an @");
	malformed("username=\"al%zz\", realm=\"" REALM "\", nonce=\"abc\", " P_REST,
		  "username with a bad escape");
	malformed("username=\"alice\", nonce=\"abc\", " P_REST, "Digest without a realm");
	credentials_line("Authorization", &c, line, sizeof(line));
	snprintf(two, sizeof(two), "Authorization: Digest realm=\"x\r\n%s", line);
	IS_INT(check_hdrs(two, &src4, T0), SIP_AUTH_OK,
	       "a broken header does not hide ours");
}

static void unsupported(struct cred c, const char *what)
{
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_INVALID, "%s", what);
}

static void test_unsupported(void)
{
	struct cred c = fresh(1);

	c.qop = NULL;
	unsupported(c, "no qop (RFC 2069 response) is refused");
	IS_SLICE(user, "alice", "  user reported");
	c = fresh(1);
	c.qop = "auth-int";
	unsupported(c, "qop=auth-int");
	c = fresh(1);
	c.alg = "MD5-sess";
	unsupported(c, "algorithm=MD5-sess");
	c = fresh(0);
	c.alg = "SHA-256-sess";
	unsupported(c, "algorithm=SHA-256-sess");
	c = fresh(0);
	c.alg = "SHA-512-256";
	unsupported(c, "algorithm=SHA-512-256");
	c = fresh(1);
	c.alg = "md5";
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_OK, "algorithm names ignore case");
}

static void test_proxy(void)
{
	struct cred c;
	struct chal ch;
	char line[1024];

	OK(challenge(true, false, &src4, T0, &ch) > 0, "407 challenge");
	c = (struct cred){ .user = "alice", .password = "secret", .realm = REALM,
			   .nonce = ch.nonce[0], .uri = "sip:" REALM,
			   .method = "INVITE", .alg = ch.alg[0], .qop = "auth",
			   .cnonce = "abcdef", .nc = 1 };
	credentials_line("Proxy-Authorization", &c, line, sizeof(line));
	IS_INT(build_request("INVITE", line), 0, "INVITE parses");
	IS_INT(check_at(SIP_H_PROXY_AUTHORIZATION, &src4, T0), SIP_AUTH_OK,
	       "Proxy-Authorization on an INVITE");
	IS_INT(check_at(SIP_H_AUTHORIZATION, &src4, T0), SIP_AUTH_NO_CREDENTIALS,
	       "no Authorization on it");
	c.method = "REGISTER";
	c.nc = 2;
	credentials_line("Proxy-Authorization", &c, line, sizeof(line));
	build_request("INVITE", line);
	IS_INT(check_at(SIP_H_PROXY_AUTHORIZATION, &src4, T0), SIP_AUTH_INVALID,
	       "digest over another method");
}

static void test_before_init(void)
{
	char out[256];

	IS_INT(sip_auth_init(SLOTS), -ENOMEM, "init without a segment");
	IS_INT(sip_auth_challenge(false, SLICE_LIT(REALM), false, (void *)&src4, T0,
				  out, sizeof(out)), -ENODEV, "challenge before init");
}

static void test_init(void)
{
	struct cred c;

	IS_INT(sip_auth_init(0), -EINVAL, "0 slots");
	IS_INT(sip_auth_init(1u << 25), -EINVAL, "too many slots");
	IS_INT(sip_auth_init(SLOTS), 0, "init");
	c = fresh(1);
	IS_INT(sip_auth_init(SLOTS * 2), 0, "a second init keeps the table");
	IS_INT(send_cred(&c, &src4, T0), SIP_AUTH_OK, "  and the nonces issued");
}

int main(void)
{
	log_threshold = -1;
	set_src(&src4, "192.0.2.10", 5060);
	test_ha1_vectors();
	test_client_vectors();
	test_before_init();
	if (shm_create(4u << 20) != 0) {
		printf("Bail out! shm_create failed\n");
		return 1;
	}
	test_init();
	test_challenge_syntax();
	test_challenge_errors();
	test_challenge_algs();
	test_round_trip();
	test_response_case();
	test_wrong_password();
	test_forged_nonce();
	test_source_address();
	test_stale();
	test_nonce_count();
	test_slot_reuse();
	test_nc_other_process();
	test_nc_race();
	test_uri();
	test_no_credentials();
	test_regaut01();
	test_malformed();
	test_unsupported();
	test_proxy();
	return tap_done();
}
