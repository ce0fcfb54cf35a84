/*
 * test_db.c — the Berkeley DB layer, each test in a fresh environment under
 * a temporary directory: creating the environment, the subscriber and
 * location stores, writers in several processes at once, failure checking
 * after a writer was killed, recovery after every process holding the
 * environment was killed (each put acknowledged through a pipe must be
 * found), a clean close and reopen, and the pinholectl user commands
 * through ctl_dispatch.
 */
#include "tap.h"
#include "../../conf/conf.h"
#include "../../ctl/ctl.h"
#include "../../db/db.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define VAL_LEN 200
#define MANY 20000
#define WRITERS 4
#define PER_WRITER 1500

#define HAS_STR(got, want, ...)                                                  \
	do {                                                                     \
		const char *g_ = (got), *w_ = (want);                            \
		if (!tap_ok(g_ && strstr(g_, w_), __VA_ARGS__))                  \
			tap_diag("  '%s' does not contain '%s' (%s:%d)",         \
				 g_ ? g_ : "(null)", w_, __FILE__, __LINE__);    \
	} while (0)

static char root[64];
static char env_path[256];
static char err[1024];

/* ---- helpers --------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* env_path = root/name/env (the parents do not exist yet). */
static void env_fresh(const char *name)
{
	char dir[200];

	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	rm_tree(dir);
	snprintf(env_path, sizeof(env_path), "%s/env", dir);
}

static bool env_open(unsigned flags)
{
	int rc = pdb_open(env_path, flags, err, sizeof(err));

	if (rc < 0)
		tap_diag("pdb_open %s: %d %s", env_path, rc, err);
	return rc == 0;
}

static slice key_of(const char *prefix, int i, char *buf, size_t cap)
{
	return slice_make(buf, (size_t)snprintf(buf, cap, "%s%06d@example.com", prefix, i));
}

/* A VAL_LEN-byte record naming its key and generation. */
static void val_of(const char *prefix, int i, int gen, char out[VAL_LEN])
{
	int n = snprintf(out, VAL_LEN, "%s%06d gen %d |", prefix, i, gen);

	for (int j = n; j < VAL_LEN; j++)
		out[j] = (char)('a' + (i + j) % 26);
}

static bool val_is(const void *v, size_t len, const char *prefix, int i, int gen)
{
	char want[VAL_LEN];

	val_of(prefix, i, gen, want);
	return len == VAL_LEN && memcmp(v, want, VAL_LEN) == 0;
}

static int put_rec(const char *prefix, int i, int gen)
{
	char key[64], val[VAL_LEN];

	val_of(prefix, i, gen, val);
	return pdb_location_put(key_of(prefix, i, key, sizeof(key)), val, VAL_LEN);
}

/* Whether the record of (prefix, i) is there with generation gen. */
static bool rec_is(const char *prefix, int i, int gen)
{
	char key[64], buf[VAL_LEN + 16];
	size_t len;

	if (pdb_location_get(key_of(prefix, i, key, sizeof(key)), buf, sizeof(buf), &len) < 0)
		return false;
	return val_is(buf, len, prefix, i, gen);
}

/* The index in "mNNNNNN gen G |..." of a loaded record, or -1. */
static int loaded_index(const void *v, size_t len, int *gen)
{
	char head[48];
	int idx;

	if (len != VAL_LEN)
		return -1;
	memcpy(head, v, sizeof(head) - 1);
	head[sizeof(head) - 1] = '\0';
	if (sscanf(head, "m%6d gen %d", &idx, gen) != 2)
		return -1;
	return idx;
}

/* ---- environment ----------------------------------------------------- */

static void test_open_creates_env(void)
{
	char path[400], file[300];
	struct stat st;

	env_fresh("open");
	OK(env_open(PDB_RECOVER), "open creates the directory and the environment");
	OK(pdb_is_open(), "open afterwards");
	OK(stat(env_path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
	   "the directory is made 0700");
	snprintf(path, sizeof(path), "%s/location.db", env_path);
	OK(access(path, F_OK) == 0, "location.db exists");
	snprintf(path, sizeof(path), "%s/subscriber.db", env_path);
	OK(access(path, F_OK) == 0, "subscriber.db exists");
	IS_INT(pdb_open(env_path, 0, err, sizeof(err)), -EBUSY, "a second open is refused");
	pdb_close();
	OK(!pdb_is_open(), "closed");
	pdb_close();
	IS_INT(pdb_location_put(SLICE_LIT("a"), "x", 1), -EBADF, "no handle: -EBADF");
	IS_INT(pdb_failchk(), -EBADF, "failchk without a handle: -EBADF");

	snprintf(file, sizeof(file), "%s/open/plain", root);
	close(open(file, O_CREAT | O_WRONLY, 0600));
	IS_INT(pdb_open(file, 0, err, sizeof(err)), -ENOTDIR, "a file is not an environment");
	HAS_STR(err, file, "the error names the path");
	snprintf(path, sizeof(path), "%s/below", file);
	OK(pdb_open(path, 0, err, sizeof(err)) < 0 && !pdb_is_open(),
	   "a path below a file fails");
	HAS_STR(err, "mkdir", "the error names the failed call");
}

/* ---- subscribers ----------------------------------------------------- */

static struct pdb_subscriber sub_make(const char *user, const char *domain,
				      const char *realm, char hex)
{
	struct pdb_subscriber s;

	memset(&s, 0, sizeof(s));
	snprintf(s.user, sizeof(s.user), "%s", user);
	snprintf(s.domain, sizeof(s.domain), "%s", domain);
	snprintf(s.realm, sizeof(s.realm), "%s", realm);
	memset(s.ha1_md5, hex, 32);
	memset(s.ha1_sha256, hex + 1, 64);
	return s;
}

struct seen {
	char names[8][400];
	int n, stop_at, stop_with;
};

static int collect(const struct pdb_subscriber *s, void *arg)
{
	struct seen *seen = arg;

	if (seen->n < 8)
		snprintf(seen->names[seen->n], sizeof(seen->names[0]), "%s@%s/%s", s->user,
			 s->domain, s->realm);
	seen->n++;
	return seen->n == seen->stop_at ? seen->stop_with : 0;
}

static void test_subscriber_store(void)
{
	struct pdb_subscriber s = sub_make("alice", "Example.COM", "realm1", '1'), got;
	struct seen seen = { .stop_at = -1 };

	env_fresh("sub");
	if (!env_open(PDB_RECOVER))
		return;
	IS_INT(pdb_subscriber_put(&s), 0, "put alice@Example.COM");
	IS_INT(pdb_subscriber_get(SLICE_LIT("alice"), SLICE_LIT("example.com"), &got), 0,
	       "get with the domain in lower case");
	OK(strcmp(got.user, "alice") == 0 && strcmp(got.domain, "example.com") == 0 &&
	   strcmp(got.realm, "realm1") == 0 && strcmp(got.ha1_md5, s.ha1_md5) == 0 &&
	   strcmp(got.ha1_sha256, s.ha1_sha256) == 0, "every field comes back");
	IS_INT(pdb_subscriber_get(SLICE_LIT("alice"), SLICE_LIT("EXAMPLE.com"), &got), 0,
	       "the domain is case-insensitive");
	IS_INT(pdb_subscriber_get(SLICE_LIT("Alice"), SLICE_LIT("example.com"), &got), -ENOENT,
	       "the user is case-sensitive");
	IS_INT(pdb_subscriber_get(SLICE_LIT("bob"), SLICE_LIT("example.com"), &got), -ENOENT,
	       "unknown user: -ENOENT");
	IS_INT(pdb_subscriber_del(SLICE_LIT("bob"), SLICE_LIT("example.com")), -ENOENT,
	       "removing an unknown user: -ENOENT");
	IS_INT(pdb_subscriber_get(SLICE_LIT("a"), SLICE_LIT("b@example.com"), &got), -EINVAL,
	       "a domain with '@' is refused");

	s = sub_make("bob", "example.com", "realm1", 'A');
	IS_INT(pdb_subscriber_put(&s), -EINVAL, "upper-case hex is not an HA1");
	s = sub_make("", "example.com", "realm1", '2');
	IS_INT(pdb_subscriber_put(&s), -EINVAL, "an empty user is refused");
	s = sub_make("carol", "example.com", "realm1", '3');
	IS_INT(pdb_subscriber_put(&s), 0, "put carol");
	s = sub_make("bob", "example.com", "realm1", '2');
	IS_INT(pdb_subscriber_put(&s), 0, "put bob");

	IS_INT(pdb_subscriber_list(collect, &seen), 0, "list walks to the end");
	IS_INT(seen.n, 3, "three subscribers listed");
	OK(strcmp(seen.names[0], "alice@example.com/realm1") == 0 &&
	   strcmp(seen.names[1], "bob@example.com/realm1") == 0 &&
	   strcmp(seen.names[2], "carol@example.com/realm1") == 0, "in key order");
	seen = (struct seen){ .stop_at = 2, .stop_with = 7 };
	IS_INT(pdb_subscriber_list(collect, &seen), 7, "fn's non-zero stops the walk");
	IS_INT(seen.n, 2, "after two");

	s = sub_make("alice", "example.com", "realm2", '4');
	IS_INT(pdb_subscriber_put(&s), 0, "put replaces");
	pdb_subscriber_get(SLICE_LIT("alice"), SLICE_LIT("example.com"), &got);
	OK(strcmp(got.realm, "realm2") == 0 && got.ha1_md5[0] == '4', "with the new record");
	IS_INT(pdb_subscriber_del(SLICE_LIT("alice"), SLICE_LIT("Example.Com")), 0, "del");
	IS_INT(pdb_subscriber_get(SLICE_LIT("alice"), SLICE_LIT("example.com"), &got), -ENOENT,
	       "gone after del");
	seen = (struct seen){ .stop_at = -1 };
	pdb_subscriber_list(collect, &seen);
	IS_INT(seen.n, 2, "two left");
	pdb_close();
}

static void test_auth_lookup(void)
{
	struct pdb_subscriber s = sub_make("bob", "example.com", "realm1", '5');
	char ha1[65];

	env_fresh("lookup");
	if (!env_open(PDB_RECOVER))
		return;
	pdb_subscriber_put(&s);
	IS_INT(pdb_auth_lookup(SLICE_LIT("bob"), SLICE_LIT("EXAMPLE.COM"), SIP_AUTH_MD5, ha1,
			       "realm1"), 0, "lookup MD5");
	OK(strcmp(ha1, s.ha1_md5) == 0, "the MD5 HA1");
	IS_INT(pdb_auth_lookup(SLICE_LIT("bob"), SLICE_LIT("example.com"), SIP_AUTH_SHA256, ha1,
			       NULL), 0, "lookup SHA-256 without a realm check");
	OK(strcmp(ha1, s.ha1_sha256) == 0, "the SHA-256 HA1");
	IS_INT(pdb_auth_lookup(SLICE_LIT("bob"), SLICE_LIT("example.com"), SIP_AUTH_MD5, ha1,
			       "other"), -ENOENT, "a subscriber of another realm is unknown");
	IS_INT(pdb_auth_lookup(SLICE_LIT("eve"), SLICE_LIT("example.com"), SIP_AUTH_MD5, ha1,
			       NULL), -ENOENT, "an unknown user");
	IS_INT(pdb_auth_lookup(SLICE_NULL, SLICE_LIT("example.com"), SIP_AUTH_MD5, ha1, NULL),
	       -ENOENT, "an empty user is unknown");
	pdb_close();
}

/* ---- location -------------------------------------------------------- */

static void test_location_basic(void)
{
	char buf[16];
	size_t len;

	env_fresh("loc");
	if (!env_open(PDB_RECOVER))
		return;
	IS_INT(pdb_location_put(SLICE_LIT("sip:a@x"), "one", 3), 0, "put");
	IS_INT(pdb_location_get(SLICE_LIT("sip:a@x"), buf, sizeof(buf), &len), 0, "get");
	OK(len == 3 && memcmp(buf, "one", 3) == 0, "the value");
	IS_INT(pdb_location_put(SLICE_LIT("sip:a@x"), "four", 4), 0, "put again replaces");
	pdb_location_get(SLICE_LIT("sip:a@x"), buf, sizeof(buf), &len);
	OK(len == 4 && memcmp(buf, "four", 4) == 0, "the new value");
	IS_INT(pdb_location_get(SLICE_LIT("sip:a@x"), buf, 2, &len), -ENOSPC,
	       "a short buffer: -ENOSPC");
	IS_INT(len, 4, "with the size needed");
	IS_INT(pdb_location_get(SLICE_LIT("sip:b@x"), buf, sizeof(buf), &len), -ENOENT,
	       "absent: -ENOENT");
	IS_INT(pdb_location_count(), 1, "count 1");
	IS_INT(pdb_location_del(SLICE_LIT("sip:a@x")), 0, "del");
	IS_INT(pdb_location_get(SLICE_LIT("sip:a@x"), buf, sizeof(buf), &len), -ENOENT,
	       "gone");
	IS_INT(pdb_location_del(SLICE_LIT("sip:a@x")), 0, "deleting an absent AOR is fine");
	IS_INT(pdb_location_count(), 0, "count 0");
	IS_INT(pdb_location_put(SLICE_NULL, "x", 1), -EINVAL, "an empty AOR is refused");
	pdb_close();
}

struct load_check {
	unsigned char *seen;
	long bad, dup, big, stop_after, calls;
};

static int load_checker(const void *v, size_t len, void *arg)
{
	struct load_check *lc = arg;
	int gen, idx = loaded_index(v, len, &gen);

	lc->calls++;
	if (len > (1u << 20))
		lc->big++;
	else if (idx < 0 || idx >= MANY || !val_is(v, len, "m", idx, gen) ||
		 gen != (idx % 10 == 0 ? 2 : 1))
		lc->bad++;
	else if (lc->seen[idx]++)
		lc->dup++;
	return lc->calls == lc->stop_after;
}

static void test_location_many(void)
{
	struct load_check lc = { .seen = calloc(MANY, 1) };
	size_t big_len = 6u << 20;
	char *big = calloc(1, big_len);
	long expect = 0, wrong = 0;
	int bad = 0;

	env_fresh("many");
	if (!env_open(PDB_RECOVER))
		goto out;
	for (int i = 0; i < MANY; i++)
		bad += put_rec("m", i, i % 10 == 0 ? 2 : 1) != 0;
	IS_INT(bad, 0, "%d puts", MANY);
	for (int i = 0; i < MANY; i += 7)
		bad += pdb_location_del(key_of("m", i, (char[64]){ 0 }, 64)) != 0;
	IS_INT(bad, 0, "every 7th deleted");
	IS_INT(pdb_location_put(SLICE_LIT("big@example.com"), big, big_len), 0,
	       "a 6 MB record (larger than the bulk buffer)");
	expect = MANY - (MANY + 6) / 7 + 1;
	IS_INT(pdb_location_count(), expect, "count");
	IS_INT(pdb_location_load(load_checker, &lc), expect, "load visits every record");
	IS_INT(lc.bad, 0, "each with its current value");
	IS_INT(lc.dup, 0, "once");
	IS_INT(lc.big, 1, "the big record too");
	for (int i = 0; i < MANY; i++)
		wrong += (lc.seen[i] != 0) != (i % 7 != 0);
	IS_INT(wrong, 0, "exactly the records not deleted");
	lc = (struct load_check){ .seen = lc.seen, .stop_after = 100 };
	memset(lc.seen, 0, MANY);
	IS_INT(pdb_location_load(load_checker, &lc), 100, "fn's non-zero stops the load");
	pdb_close();
out:
	free(lc.seen);
	free(big);
}

/* ---- several processes ----------------------------------------------- */

/* A writer process: its own handle, PER_WRITER records of its own, every
 * one read back, and a shared hot key written each time. */
static void writer_child(int w)
{
	char prefix[8], hot[VAL_LEN];
	int bad = 0;

	snprintf(prefix, sizeof(prefix), "w%d-", w);
	if (pdb_open(env_path, 0, err, sizeof(err)) < 0)
		_exit(2);
	for (int i = 0; i < PER_WRITER; i++) {
		val_of(prefix, i, 1, hot);
		bad += put_rec(prefix, i, 1) != 0;
		bad += pdb_location_put(SLICE_LIT("hot@example.com"), hot, VAL_LEN) != 0;
		bad += !rec_is(prefix, i, 1);
	}
	pdb_close();
	_exit(bad ? 1 : 0);
}

static void test_concurrent_writers(void)
{
	pid_t pids[WRITERS];
	int ok_children = 0, missing = 0;

	env_fresh("writers");
	if (!env_open(PDB_RECOVER))
		return;
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		if (pids[w] == 0)
			writer_child(w);
	}
	for (int w = 0; w < WRITERS; w++) {
		int status;

		waitpid(pids[w], &status, 0);
		ok_children += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	IS_INT(ok_children, WRITERS, "%d writers, each with its own handle, all succeed",
	       WRITERS);
	for (int w = 0; w < WRITERS; w++) {
		char prefix[8];

		snprintf(prefix, sizeof(prefix), "w%d-", w);
		for (int i = 0; i < PER_WRITER; i++)
			missing += !rec_is(prefix, i, 1);
	}
	IS_INT(missing, 0, "the parent sees every record");
	IS_INT(pdb_location_count(), WRITERS * PER_WRITER + 1, "count");
	IS_INT(pdb_failchk(), 0, "failchk after clean exits");
	pdb_close();
}

/* A child that puts "k<i>" with its own handle and writes i to fd after
 * each put returned; it stops (outside the library) after pause_at. */
static void streaming_child(int fd, const char *prefix, int pause_at)
{
	if (pdb_open(env_path, 0, err, sizeof(err)) < 0)
		_exit(2);
	for (int i = 0;; i++) {
		if (put_rec(prefix, i, 1) != 0)
			_exit(1);
		if (write(fd, &i, sizeof(i)) != sizeof(i))
			_exit(1);
		if (i == pause_at)
			for (;;)
				pause();
	}
}

struct streamer {
	pid_t pid;
	int fd;
	int acked;              /* highest index acknowledged, -1 none */
};

static void stream_start(struct streamer *s, const char *prefix, int pause_at)
{
	int fds[2];

	if (pipe(fds) < 0)
		return;
	s->acked = -1;
	s->pid = fork();
	if (s->pid == 0) {
		close(fds[0]);
		streaming_child(fds[1], prefix, pause_at);
	}
	close(fds[1]);
	s->fd = fds[0];
}

/* Reads acknowledgements until at least upto, or EOF. */
static void stream_read(struct streamer *s, int upto)
{
	int i;

	while (s->acked < upto && read(s->fd, &i, sizeof(i)) == sizeof(i))
		s->acked = i;
}

static void stream_kill(struct streamer *s)
{
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	stream_read(s, INT32_MAX);      /* what it acknowledged before dying */
	close(s->fd);
}

static int stream_missing(const struct streamer *s, const char *prefix)
{
	int missing = 0;

	for (int i = 0; i <= s->acked; i++)
		missing += !rec_is(prefix, i, 1);
	return missing;
}

static void test_failchk_after_kill(void)
{
	struct streamer s;

	env_fresh("failchk");
	if (!env_open(PDB_RECOVER))
		return;
	stream_start(&s, "f", 300);
	stream_read(&s, 300);
	stream_kill(&s);
	IS_INT(s.acked, 300, "the child acknowledged 301 puts, then was killed");
	IS_INT(pdb_failchk(), 0, "failchk after a writer was killed between puts");
	IS_INT(stream_missing(&s, "f"), 0, "every acknowledged record is there");
	IS_INT(put_rec("f", 5, 1), 0, "puts go on");
	IS_INT(put_rec("parent", 1, 1), 0, "new records too");
	OK(rec_is("parent", 1, 1), "and read back");
	pdb_close();
}

/* Another process with its own handle, idle (outside the library) until
 * told to put one record; it answers the put's status. */
struct bystander {
	pid_t pid;
	int go, answer;
};

static void bystander_run(int go, int answer)
{
	int rc = pdb_open(env_path, 0, err, sizeof(err));
	char c;

	if (write(answer, &rc, sizeof(rc)) != sizeof(rc) || rc < 0)
		_exit(1);
	if (read(go, &c, 1) == 1)
		rc = put_rec("bystander", 0, 1);
	_exit(write(answer, &rc, sizeof(rc)) == sizeof(rc) ? 0 : 1);
}

static bool bystander_start(struct bystander *b)
{
	int go[2], answer[2], rc = -1;

	if (pipe(go) < 0 || pipe(answer) < 0)
		return false;
	b->pid = fork();
	if (b->pid == 0) {
		close(go[1]);
		close(answer[0]);
		bystander_run(go[0], answer[1]);
	}
	close(go[0]);
	close(answer[1]);
	b->go = go[1];
	b->answer = answer[0];
	return read(b->answer, &rc, sizeof(rc)) == sizeof(rc) && rc == 0;
}

/* Has it put; the put's status, or 1 when it did not answer within 5 s. */
static int bystander_put(struct bystander *b)
{
	struct pollfd pfd = { .fd = b->answer, .events = POLLIN };
	int rc = 1;

	if (write(b->go, "g", 1) == 1 && poll(&pfd, 1, 5000) == 1 &&
	    read(b->answer, &rc, sizeof(rc)) != sizeof(rc))
		rc = 1;
	kill(b->pid, SIGKILL);
	waitpid(b->pid, NULL, 0);
	close(b->go);
	close(b->answer);
	return rc;
}

struct midput_result {
	int released, recovered, missing, bad, bystander_bad;
};

/* Three rounds of: a writer killed after 200 acknowledged puts, failchk, a
 * put by another process (it must work, or fail at once with -EIO after
 * failchk said -EIO), recovery when failchk says so, then every
 * acknowledged record checked. */
static void midput_rounds(struct midput_result *res)
{
	for (int r = 0; r < 3; r++) {
		struct bystander b = { .pid = -1, .go = -1, .answer = -1 };
		struct streamer s;
		char prefix[8];
		int rc;

		snprintf(prefix, sizeof(prefix), "r%d-", r);
		if (!bystander_start(&b)) {
			res->bystander_bad++;
			continue;
		}
		stream_start(&s, prefix, -1);
		stream_read(&s, 200);
		stream_kill(&s);
		rc = pdb_failchk();
		res->released += rc == 0;
		res->bystander_bad += bystander_put(&b) != (rc == 0 ? 0 : -EIO);
		if (rc == -EIO) {
			pdb_close();
			res->recovered += env_open(PDB_RECOVER);
		}
		res->missing += stream_missing(&s, prefix);
		res->bad += put_rec(prefix, 0, 1) != 0 || !rec_is(prefix, 0, 1);
	}
}

/* A writer killed at an arbitrary point, usually inside the library: the
 * master either releases it (failchk 0) or must recover (-EIO), after
 * which every acknowledged record is there and writes work. The master's
 * part runs in a child of its own that leaves with _exit: Berkeley DB does
 * not free all of a panicked handle's memory, which LeakSanitizer would
 * report. */
static void test_kill_mid_put(void)
{
	struct midput_result res = { 0 };
	int fds[2];
	pid_t master;

	env_fresh("midput");
	if (pipe(fds) < 0)
		return;
	master = fork();
	if (master == 0) {
		close(fds[0]);
		log_threshold = -1;     /* the "run recovery" errors are expected */
		if (env_open(PDB_RECOVER))
			midput_rounds(&res);
		pdb_close();
		_exit(write(fds[1], &res, sizeof(res)) == sizeof(res) ? 0 : 1);
	}
	close(fds[1]);
	OK(read(fds[0], &res, sizeof(res)) == sizeof(res), "the master's results");
	close(fds[0]);
	waitpid(master, NULL, 0);
	tap_diag("kill in mid-put: %d released by failchk, %d recovered", res.released,
		 res.recovered);
	IS_INT(res.released + res.recovered, 3, "each kill: failchk 0, or -EIO then recovery");
	IS_INT(res.missing, 0, "no acknowledged record lost");
	IS_INT(res.bad, 0, "writes work afterwards");
	IS_INT(res.bystander_bad, 0, "another process's put works, or fails at once after -EIO");
}

static void test_recover_after_kill_all(void)
{
	struct streamer s[2];
	int missing = 0;

	env_fresh("killall");
	if (!env_open(PDB_RECOVER))
		return;
	pdb_close();            /* only the writers hold the environment */
	stream_start(&s[0], "a", -1);
	stream_start(&s[1], "b", -1);
	stream_read(&s[0], 500);
	stream_read(&s[1], 500);
	stream_kill(&s[0]);
	stream_kill(&s[1]);
	OK(s[0].acked >= 500 && s[1].acked >= 500, "two writers acknowledged %d and %d puts",
	   s[0].acked + 1, s[1].acked + 1);
	OK(env_open(PDB_RECOVER), "open with recovery after every holder was killed");
	missing = stream_missing(&s[0], "a") + stream_missing(&s[1], "b");
	IS_INT(missing, 0, "every acknowledged put is there");
	OK(pdb_location_count() >= s[0].acked + s[1].acked + 2, "count covers them");
	IS_INT(put_rec("a", 0, 2), 0, "writes work");
	pdb_close();
}

static void test_clean_reopen(void)
{
	struct pdb_subscriber s = sub_make("dave", "example.org", "r", '6'), got;
	int missing = 0;

	env_fresh("reopen");
	if (!env_open(PDB_RECOVER))
		return;
	pdb_subscriber_put(&s);
	for (int i = 0; i < 1000; i++)
		put_rec("c", i, 1);
	pdb_close();
	OK(env_open(0), "reopen without recovery");
	for (int i = 0; i < 1000; i++)
		missing += !rec_is("c", i, 1);
	IS_INT(missing, 0, "every record kept");
	IS_INT(pdb_subscriber_get(SLICE_LIT("dave"), SLICE_LIT("example.org"), &got), 0,
	       "the subscriber kept");
	pdb_close();
	OK(env_open(PDB_RECOVER), "reopen with recovery");
	IS_INT(pdb_location_count(), 1000, "every record still there");
	pdb_close();
}

/* ---- pinholectl user ------------------------------------------------- */

static struct pinhole_conf conf;

/* "user add a@b pw" -> ctl_dispatch; rc, *result (caller frees). */
static int dispatch(const char *line, json_t **result)
{
	char buf[512], *argv[CTL_MAX_ARGS], *save = NULL, *w;
	struct ctl_ctx ctx = { &conf };
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (w = strtok_r(buf, " ", &save); w && argc < CTL_MAX_ARGS;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = strcmp(w, "''") == 0 ? w + 2 : w;
	err[0] = '\0';
	return ctl_dispatch(&ctx, argc, (const char *const *)argv, result, err, sizeof(err));
}

static int dispatch_err(const char *line)
{
	json_t *r = NULL;
	int rc = dispatch(line, &r);

	json_decref(r);
	return rc;
}

static void hex_digest(const EVP_MD *md, const char *text, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	EVP_Digest(text, strlen(text), d, &len, md, NULL);
	for (unsigned i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static const char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void test_ctl_user_add(void)
{
	struct pdb_subscriber got;
	char md5[65] = "", sha[129] = "";
	json_t *r = NULL;

	IS_INT(dispatch("user add alice@Example.COM s3cr3t", &r), 0, "user add");
	OK(strcmp(str_of(r, "user"), "alice") == 0 &&
	   strcmp(str_of(r, "domain"), "example.com") == 0 &&
	   strcmp(str_of(r, "realm"), "pinhole.test") == 0, "replies user, domain, realm");
	json_decref(r);
	IS_INT(pdb_subscriber_get(SLICE_LIT("alice"), SLICE_LIT("example.com"), &got), 0,
	       "stored");
	hex_digest(EVP_md5(), "alice:pinhole.test:s3cr3t", md5);
	hex_digest(EVP_sha256(), "alice:pinhole.test:s3cr3t", sha);
	OK(strcmp(got.ha1_md5, md5) == 0, "HA1 MD5 of user:realm:password");
	OK(strcmp(got.ha1_sha256, sha) == 0, "HA1 SHA-256 of user:realm:password");
	OK(strcmp(got.realm, "pinhole.test") == 0, "with the configured realm");
}

static void test_ctl_user_add_errors(void)
{
	char line[400], user[200];

	IS_INT(dispatch_err("user add alice secret"), -EINVAL, "no '@'");
	HAS_STR(err, "USER@DOMAIN", "says what is expected");
	IS_INT(dispatch_err("user add @example.com secret"), -EINVAL, "empty user");
	IS_INT(dispatch_err("user add alice@ secret"), -EINVAL, "empty domain");
	IS_INT(dispatch_err("user add a@b@c secret"), -EINVAL, "two '@'");
	IS_INT(dispatch_err("user add al<ice@example.com secret"), -EINVAL, "'<' in the user");
	HAS_STR(err, "not allowed in a SIP user", "says the character is not allowed");
	IS_INT(dispatch_err("user add al%41ice@example.com secret"), -EINVAL,
	       "escapes are refused");
	IS_INT(dispatch_err("user add alice@exa_mple.com secret"), -EINVAL, "bad domain");
	HAS_STR(err, "host name", "says the domain is not a host");
	memset(user, 'u', 150);
	user[150] = '\0';
	snprintf(line, sizeof(line), "user add %s@example.com secret", user);
	IS_INT(dispatch_err(line), -EINVAL, "a 150-character user");
	HAS_STR(err, "shorter than", "says it is too long");
	IS_INT(dispatch_err("user add alice@example.com ''"), -EINVAL, "empty password");
	IS_INT(dispatch_err("user add alice@example.com"), -EINVAL, "missing password");
	IS_INT(dispatch_err("user add bob@[2001:db8::1] pw"), 0, "an IPv6 domain is fine");
}

static void test_ctl_user_list_rm(void)
{
	json_t *r = NULL, *row;
	bool no_ha1 = true;
	size_t i;

	dispatch_err("user add carol@example.com pw");
	IS_INT(dispatch("user list", &r), 0, "user list");
	IS_INT(json_array_size(r), 3, "three subscribers");
	json_array_foreach(r, i, row)
		no_ha1 = no_ha1 && json_object_size(row) == 3 &&
			 !json_object_get(row, "ha1_md5");
	OK(no_ha1, "rows hold user, domain, realm only");
	OK(strcmp(str_of(json_array_get(r, 0), "user"), "alice") == 0, "alice first");
	json_decref(r);
	IS_INT(dispatch_err("user rm carol@EXAMPLE.com"), 0, "user rm");
	IS_INT(dispatch_err("user rm carol@example.com"), -ENOENT, "again: -ENOENT");
	HAS_STR(err, "no such user", "says no such user");
	IS_INT(dispatch_err("user rm carol"), -EINVAL, "rm checks USER@DOMAIN");
	IS_INT(dispatch("user list", &r), 0, "user list");
	IS_INT(json_array_size(r), 2, "two left");
	json_decref(r);
}

static void test_ctl_help(void)
{
	json_t *r = NULL, *row;
	int found = 0;
	size_t i;

	IS_INT(dispatch("help", &r), 0, "help");
	json_array_foreach(r, i, row)
		found += strcmp(str_of(row, "usage"), "user add USER@DOMAIN PASSWORD") == 0 ||
			 strcmp(str_of(row, "usage"), "user rm USER@DOMAIN") == 0 ||
			 strcmp(str_of(row, "usage"), "user list") == 0;
	IS_INT(found, 3, "help lists user add, rm and list");
	json_decref(r);
}

static void test_ctl_user(void)
{
	conf_defaults(&conf);
	snprintf(conf.auth.realm, sizeof(conf.auth.realm), "pinhole.test");
	env_fresh("ctl");
	snprintf(conf.db.path, sizeof(conf.db.path), "%s", env_path);
	if (!env_open(PDB_RECOVER))
		return;
	test_ctl_user_add();
	test_ctl_user_add_errors();
	test_ctl_user_list_rm();
	test_ctl_help();
	pdb_close();
	IS_INT(dispatch_err("user list"), -ENXIO, "without a handle");
	HAS_STR(err, "not open", "says the database is not open");
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/test_db.XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	log_set_level(LOG_LEVEL_ERR);
	alarm(120);             /* a process waiting forever on a dead one's mutex fails */
	test_open_creates_env();
	test_subscriber_store();
	test_auth_lookup();
	test_location_basic();
	test_location_many();
	test_concurrent_writers();
	test_failchk_after_kill();
	test_kill_mid_put();
	test_recover_after_kill_all();
	test_clean_reopen();
	test_ctl_user();
	rm_tree(root);
	return tap_done();
}
