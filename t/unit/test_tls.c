/*
 * test_tls.c — workers/tls.c over a socketpair, with certificates the test
 * makes with the openssl command in a temp dir: contexts refused for a
 * missing file, a key of another certificate, garbage and a lone key; a
 * handshake and data both ways; the client's checks of the chain and the
 * name; TLS 1.1 refused; plain SIP on the server side; a handshake the
 * peer never finishes, ended by the caller; client certificates.
 */
#include "../../workers/tls_int.h"
#include "../../shm/shm.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

static char dir[64];
static struct pinhole_conf conf;
static char err[512];

static void path(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", dir, name);
}

/* A self-signed certificate for localhost and 127.0.0.1. */
static bool make_cert(const char *name)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
		 "-keyout %s/%s.key -out %s/%s.pem 2>/dev/null", dir, name, dir, name);
	return system(cmd) == 0;
}

static void use(const char *cert, const char *key, const char *ca, bool verify_client)
{
	conf_defaults(&conf);
	if (cert)
		path(conf.tls.certificate, cert);
	if (key)
		path(conf.tls.private_key, key);
	if (ca)
		path(conf.tls.ca_list, ca);
	conf.tls.verify_client = verify_client;
}

static int init(void)
{
	err[0] = '\0';
	return tls_init(&conf, err, sizeof(err));
}

static void pair(int fd[2])
{
	socketpair(AF_UNIX, SOCK_STREAM, 0, fd);
	fcntl(fd[0], F_SETFL, O_NONBLOCK);
	fcntl(fd[1], F_SETFL, O_NONBLOCK);
}

static void wait_fds(const int fd[2], int ms)
{
	struct pollfd p[2] = { { .fd = fd[0], .events = POLLIN }, { .fd = fd[1], .events = POLLIN } };

	poll(p, 2, ms);
}

/* Runs both handshakes until neither waits (at most 2 s). */
static void pump(const int fd[2], void *srv, void *cli, int *rs, int *rc)
{
	*rs = *rc = -EAGAIN;
	for (int i = 0; i < 200 && (*rs == -EAGAIN || *rc == -EAGAIN); i++) {
		if (*rs == -EAGAIN)
			*rs = tls_handshake(srv);
		if (*rc == -EAGAIN)
			*rc = tls_handshake(cli);
		if (*rs == -EAGAIN && *rc == -EAGAIN)
			wait_fds(fd, 10);
	}
}

/* A connection handshaken with the current contexts; both results. */
static void connect_pair(int fd[2], void **srv, void **cli, const char *peer, int *rs, int *rc)
{
	pair(fd);
	*rs = tls_conn_new(fd[0], true, NULL, srv);
	*rc = tls_conn_new(fd[1], false, peer, cli);
	if (*rs == 0 && *rc == 0)
		pump(fd, *srv, *cli, rs, rc);
}

static void close_pair(int fd[2], void *srv, void *cli)
{
	tls_conn_free(srv);
	tls_conn_free(cli);
	close(fd[0]);
	close(fd[1]);
}

/* ---- contexts ---------------------------------------------------------- */

static void test_init_errors(void)
{
	use("none.pem", "a.key", NULL, false);
	IS_INT(init(), -ENOENT, "missing certificate refused");
	OK(strstr(err, "tls.certificate") && strstr(err, "none.pem") &&
	   strstr(err, "No such file"), "the error names key, file and reason: %s", err);

	use("a.pem", "b.key", NULL, false);
	OK(init() < 0, "key of another certificate refused");
	OK(strstr(err, "tls.private_key") && strstr(err, "b.key") && strstr(err, "mismatch"),
	   "mismatch named: %s", err);

	use("junk.pem", "a.key", NULL, false);
	OK(init() < 0, "garbage certificate refused");
	OK(strstr(err, "tls.certificate") && strstr(err, "junk.pem"), "garbage named: %s", err);

	use("a.pem", "a.key", "junk.pem", false);
	OK(init() < 0 && strstr(err, "tls.ca_list") && strstr(err, "junk.pem"),
	   "garbage ca_list refused: %s", err);

	use(NULL, "a.key", NULL, false);
	OK(init() < 0 && strstr(err, "tls.certificate"), "a key without certificate: %s", err);

	use(NULL, NULL, NULL, false);
	IS_INT(init(), 0, "no certificate: client context only");
	OK(!tls_server_ready(), "no server context");
	use("a.pem", "a.key", "a.pem", false);
	IS_INT(init(), 0, "certificate, key and CA list load");
	OK(tls_server_ready(), "server context ready");
}

/* ---- sessions ------------------------------------------------------------ */

static void test_handshake_and_data(void)
{
	uint64_t hs = stat_get(STAT_TLS_HANDSHAKES);
	void *srv, *cli;
	int fd[2], rs, rc;
	char buf[64];
	ssize_t n = -EAGAIN;

	use("a.pem", "a.key", "a.pem", false);
	init();
	connect_pair(fd, &srv, &cli, "localhost", &rs, &rc);
	IS_INT(rs, 0, "server handshake done");
	IS_INT(rc, 0, "client handshake done (chain and name verified)");
	IS_INT(stat_get(STAT_TLS_HANDSHAKES) - hs, 2, "tls.handshakes counts both sides");
	IS_INT(SSL_version(cli), TLS1_3_VERSION, "TLS 1.3 negotiated");

	IS_INT(tls_read(srv, buf, sizeof(buf)), -EAGAIN, "nothing to read yet: -EAGAIN");
	IS_INT(tls_write(cli, "OPTIONS\r\n", 9), 9, "client writes");
	for (int i = 0; i < 50 && n == -EAGAIN; i++, wait_fds(fd, 10))
		n = tls_read(srv, buf, sizeof(buf));
	OK(n == 9 && memcmp(buf, "OPTIONS\r\n", 9) == 0, "server reads the bytes");
	IS_INT(tls_write(srv, "SIP/2.0 200 OK\r\n", 16), 16, "server writes back");
	n = -EAGAIN;
	for (int i = 0; i < 50 && n == -EAGAIN; i++, wait_fds(fd, 10))
		n = tls_read(cli, buf, sizeof(buf));
	IS_INT(n, 16, "client reads the answer");

	tls_conn_free(cli);
	close(fd[1]);
	n = -EAGAIN;
	for (int i = 0; i < 50 && n == -EAGAIN; i++, wait_fds(fd, 10))
		n = tls_read(srv, buf, sizeof(buf));
	IS_INT(n, 0, "the peer's close reads as the end of the stream");
	tls_conn_free(srv);
	close(fd[0]);
}

static void test_peer_by_ip(void)
{
	void *srv, *cli;
	int fd[2], rs, rc;

	use("a.pem", "a.key", "a.pem", false);
	init();
	connect_pair(fd, &srv, &cli, "127.0.0.1", &rs, &rc);
	OK(rs == 0 && rc == 0, "an IP literal is checked against the certificate's addresses");
	close_pair(fd, srv, cli);
}

static void test_wrong_name(void)
{
	uint64_t vf = stat_get(STAT_TLS_VERIFY_FAILURES);
	void *srv, *cli;
	int fd[2], rs, rc;

	use("a.pem", "a.key", "a.pem", false);
	init();
	connect_pair(fd, &srv, &cli, "example.org", &rs, &rc);
	IS_INT(rc, -EPROTO, "a certificate for another name is rejected");
	OK(rs < 0, "the server sees the handshake fail");
	OK(stat_get(STAT_TLS_VERIFY_FAILURES) > vf, "tls.verify_failures counted");
	close_pair(fd, srv, cli);

	connect_pair(fd, &srv, &cli, "10.9.9.9", &rs, &rc);
	IS_INT(rc, -EPROTO, "a certificate without the peer's IP is rejected");
	close_pair(fd, srv, cli);
}

static void test_untrusted(void)
{
	uint64_t vf = stat_get(STAT_TLS_VERIFY_FAILURES);
	uint64_t hf = stat_get(STAT_TLS_HANDSHAKE_FAILURES);
	void *srv, *cli;
	int fd[2], rs, rc;

	/* The server presents b; the client trusts only a. */
	use("b.pem", "b.key", "a.pem", false);
	init();
	connect_pair(fd, &srv, &cli, "localhost", &rs, &rc);
	IS_INT(rc, -EPROTO, "a certificate of an untrusted issuer is rejected");
	OK(rs < 0, "and the server's handshake fails too");
	IS_INT(stat_get(STAT_TLS_VERIFY_FAILURES) - vf, 1, "one verify failure");
	IS_INT(stat_get(STAT_TLS_HANDSHAKE_FAILURES) - hf, 2, "two handshake failures");
	close_pair(fd, srv, cli);
}

/* A client that offers only TLS 1.1 (its own context, security level 0
 * so OpenSSL lets it try). */
static void test_tls11_refused(void)
{
	SSL_CTX *old = SSL_CTX_new(TLS_client_method());
	SSL *cli;
	void *srv;
	int fd[2], rs = -EAGAIN, rc = -1;

	use("a.pem", "a.key", "a.pem", false);
	init();
	SSL_CTX_set_security_level(old, 0);
	SSL_CTX_set_cipher_list(old, "DEFAULT:@SECLEVEL=0");
	SSL_CTX_set_min_proto_version(old, TLS1_1_VERSION);
	SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
	pair(fd);
	tls_conn_new(fd[0], true, NULL, &srv);
	cli = SSL_new(old);
	SSL_set_fd(cli, fd[1]);
	SSL_set_connect_state(cli);
	for (int i = 0; i < 100 && rs == -EAGAIN; i++) {
		rc = SSL_do_handshake(cli);
		rs = tls_handshake(srv);
		if (rs == -EAGAIN)
			wait_fds(fd, 10);
	}
	IS_INT(rs, -EPROTO, "the server refuses TLS 1.1");
	OK(SSL_do_handshake(cli) != 1 && rc != 1, "the TLS 1.1 client does not get through");
	SSL_free(cli);
	SSL_CTX_free(old);
	tls_conn_free(srv);
	close(fd[0]);
	close(fd[1]);
}

static void test_plain_sip_on_tls(void)
{
	static const char req[] = "OPTIONS sip:127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n";
	uint64_t hf = stat_get(STAT_TLS_HANDSHAKE_FAILURES);
	void *srv;
	int fd[2], rs = -EAGAIN;

	use("a.pem", "a.key", "a.pem", false);
	init();
	pair(fd);
	tls_conn_new(fd[0], true, NULL, &srv);
	IS_INT(write(fd[1], req, sizeof(req) - 1), (long long)(sizeof(req) - 1), "plain SIP sent");
	for (int i = 0; i < 50 && rs == -EAGAIN; i++, wait_fds(fd, 10))
		rs = tls_handshake(srv);
	IS_INT(rs, -EPROTO, "plain text fails the handshake at once");
	IS_INT(stat_get(STAT_TLS_HANDSHAKE_FAILURES) - hf, 1, "tls.handshake_failures counted");
	tls_conn_free(srv);
	close(fd[0]);
	close(fd[1]);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The peer connects and says nothing: the handshake waits until the
 * caller's deadline, then the caller ends it; the peer sees the close. */
static void test_handshake_never_completes(void)
{
	int64_t deadline = now_ms() + 200;
	void *srv;
	int fd[2], rs = -EAGAIN;
	unsigned waits = 0;
	char c;

	use("a.pem", "a.key", "a.pem", false);
	init();
	pair(fd);
	tls_conn_new(fd[0], true, NULL, &srv);
	while (rs == -EAGAIN && now_ms() < deadline) {
		rs = tls_handshake(srv);
		waits++;
		wait_fds(fd, 20);
	}
	IS_INT(rs, -EAGAIN, "a silent peer leaves the handshake waiting");
	OK(waits > 3 && !tls_want_write(srv), "it waits to read, never blocks the caller");
	tls_conn_free(srv);
	close(fd[0]);
	IS_INT(read(fd[1], &c, 1), 0, "the peer is cut off when the caller gives up");
	close(fd[1]);
}

static void test_client_certificates(void)
{
	SSL_CTX *anon = SSL_CTX_new(TLS_client_method());
	void *srv, *cli;
	SSL *s;
	int fd[2], rs, rc;

	use("a.pem", "a.key", "a.pem", true);
	init();
	connect_pair(fd, &srv, &cli, "localhost", &rs, &rc);
	OK(rs == 0 && rc == 0, "verify_client: our client presents the certificate");
	close_pair(fd, srv, cli);

	SSL_CTX_set_verify(anon, SSL_VERIFY_NONE, NULL);
	pair(fd);
	tls_conn_new(fd[0], true, NULL, &srv);
	s = SSL_new(anon);
	SSL_set_fd(s, fd[1]);
	SSL_set_connect_state(s);
	rs = -EAGAIN;
	for (int i = 0; i < 100 && rs == -EAGAIN; i++) {
		SSL_do_handshake(s);
		rs = tls_handshake(srv);
		if (rs == -EAGAIN)
			wait_fds(fd, 10);
	}
	IS_INT(rs, -EPROTO, "verify_client: a client without certificate is refused");
	SSL_free(s);
	SSL_CTX_free(anon);
	tls_conn_free(srv);
	close(fd[0]);
	close(fd[1]);
}

static void test_without_context(void)
{
	void *ssl = (void *)1;
	int fd[2];

	tls_cleanup();
	pair(fd);
	IS_INT(tls_conn_new(fd[0], true, NULL, &ssl), -ENOTCONN, "no context: -ENOTCONN");
	OK(ssl == NULL, "and no session");
	close(fd[0]);
	close(fd[1]);
}

int main(void)
{
	char junk[PATH_MAX], cmd[PATH_MAX + 16];
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/test_tls.XXXXXX");
	if (!OK(mkdtemp(dir) != NULL, "temp dir") ||
	    !OK(make_cert("a") && make_cert("b"), "test certificates made with openssl"))
		return tap_done();
	path(junk, "junk.pem");
	f = fopen(junk, "w");
	if (f) {
		fputs("not a certificate\n", f);
		fclose(f);
	}
	test_init_errors();
	test_handshake_and_data();
	test_peer_by_ip();
	test_wrong_name();
	test_untrusted();
	test_tls11_refused();
	test_plain_sip_on_tls();
	test_handshake_never_completes();
	test_client_certificates();
	test_without_context();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", dir);
	return tap_done();
}
