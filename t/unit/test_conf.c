/*
 * test_conf.c — the configuration loader, its checks and its queries.
 *
 * Each test writes a temporary file under /tmp, loads it with conf_load and
 * checks the struct or the exact "FILE:LINE: path: reason" lines. Runs from
 * the repository root (the sample conf/pinhole.conf is loaded by path, the
 * man page conf/pinhole.conf.5 is checked against the option table).
 */
#include "../../conf/conf.h"
#include "../../conf/options.h"
#include "tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static struct pinhole_conf conf;
static struct conf_errors errs;
static char tmp_path[64];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		tap_diag("cannot write %s", path);
}

/* Loads text from a fresh temporary file (its name in tmp_path). */
static int load_text(const char *text)
{
	int fd, rc;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/pinhole-conf-XXXXXX");
	fd = mkstemp(tmp_path);
	if (fd < 0) {
		tap_diag("mkstemp: %s", strerror(errno));
		return -errno;
	}
	close(fd);
	write_file(tmp_path, text);
	rc = conf_load(tmp_path, &conf, &errs);
	unlink(tmp_path);
	return rc;
}

/* Compares errs.text with want, where each "FILE" stands for the file name. */
static void is_errors(const char *want, const char *name)
{
	char expanded[4096];
	size_t n = 0;

	for (const char *p = want; *p && n + sizeof(tmp_path) < sizeof(expanded); p++) {
		if (strncmp(p, "FILE", 4) == 0) {
			n += (size_t)snprintf(expanded + n, sizeof(expanded) - n, "%s", tmp_path);
			p += 3;
		} else {
			expanded[n++] = *p;
		}
	}
	expanded[n] = '\0';
	if (!OK(strcmp(errs.text, expanded) == 0, "%s", name))
		tap_diag("  got:\n%s  want:\n%s", errs.text, expanded);
}

/* text has exactly one problem, the line "FILE:" + want. */
static void one_error(const char *text, const char *want)
{
	char line[1024];
	int rc = load_text(text);

	snprintf(line, sizeof(line), "FILE:%s\n", want);
	if (!OK(rc == -EINVAL && errs.count == 1, "one error: %s", want))
		tap_diag("  rc %d, %u errors:\n%s", rc, errs.count, errs.text);
	is_errors(line, "  its text");
}

static void loads(const char *text, const char *name)
{
	int rc = load_text(text);

	if (!OK(rc == 0 && errs.count == 0, "loads: %s", name))
		tap_diag("  rc %d:\n%s", rc, errs.text);
}

/* ---- valid files ------------------------------------------------------ */

static void test_sample_loads(void)
{
	int rc = conf_load("conf/pinhole.conf", &conf, &errs);

	if (!OK(rc == 0 && errs.count == 0, "conf/pinhole.conf loads"))
		tap_diag("  rc %d:\n%s", rc, errs.text);
	IS_INT(conf.nlisten, 1, "sample: one listener");
	IS_INT(conf.listen[0].proto, CONF_PROTO_UDP, "sample: udp");
	OK(strcmp(conf.listen[0].address, "127.0.0.1") == 0, "sample: on loopback");
	OK(strcmp(conf.db.path, "/tmp/pinhole-db") == 0, "sample: db under /tmp");
	OK(strcmp(conf.ctl.fifo, "/tmp/pinhole.fifo") == 0, "sample: fifo under /tmp");
	OK(strcmp(conf.pid_file, "/tmp/pinhole.pid") == 0, "sample: pid file under /tmp");
	OK(!conf.log.syslog, "sample: logs to stderr");
	OK(conf.path[0] == '/' && strstr(conf.path, "conf/pinhole.conf"),
	   "path is made absolute");
}

static void test_empty_file_gives_defaults(void)
{
	static struct pinhole_conf def;

	loads("", "empty file");
	conf_defaults(&def);
	memset(conf.path, 0, sizeof(conf.path));
	OK(memcmp(&conf, &def, sizeof(def)) == 0, "empty file == conf_defaults");
	IS_INT(conf.nlisten, 1, "default: one listener");
	IS_INT(conf.listen[0].proto, CONF_PROTO_UDP, "default listener udp");
	OK(strcmp(conf.listen[0].address, "127.0.0.1") == 0, "default listener 127.0.0.1");
	IS_INT(conf.listen[0].port, 5060, "default listener port 5060");
	OK(conf.advertise[0] == '\0', "default advertise empty");
	IS_INT(conf.ndomains, 2, "default: two domains");
	OK(strcmp(conf.domains[0], "127.0.0.1") == 0 && strcmp(conf.domains[1], "localhost") == 0,
	   "default domains 127.0.0.1, localhost");
	OK(conf.workers.udp == 4 && conf.workers.tcp == 2 && conf.workers.tls == 2 &&
	   conf.workers.relay == 2, "default workers 4/2/2/2");
	IS_INT(conf.shm_size, 256ull << 20, "default shm_size 256M");
	OK(conf.registrar.default_expires == 3600 && conf.registrar.min_expires == 60 &&
	   conf.registrar.max_expires == 86400 && conf.registrar.max_contacts == 10,
	   "default registrar");
	OK(strcmp(conf.auth.realm, "localhost") == 0 && !conf.auth.reg && !conf.auth.invite &&
	   conf.auth.nonce_ttl == 300, "default auth");
	IS_INT(conf.nat.detect, 19, "default nat.detect");
	OK(conf.nat.keepalive.interval == 30 && conf.nat.keepalive.method == CONF_KA_OPTIONS &&
	   strcmp(conf.nat.keepalive.from, "sip:pinger@localhost") == 0 &&
	   conf.nat.keepalive.nated_only && conf.nat.keepalive.timeout == 0,
	   "default keepalive");
	OK(conf.relay.mode == CONF_RELAY_NAT && strcmp(conf.relay.address, "127.0.0.1") == 0 &&
	   conf.relay.port_min == 30000 && conf.relay.port_max == 39999 &&
	   conf.relay.timeout == 60 && strcmp(conf.relay.control, "udp:127.0.0.1:22222") == 0,
	   "default relay");
	OK(strcmp(conf.db.path, "/var/lib/pinhole") == 0 &&
	   conf.db.location == CONF_LOC_WRITE_THROUGH, "default db");
	OK(!conf.tls.certificate[0] && !conf.tls.private_key[0] && !conf.tls.ca_list[0] &&
	   !conf.tls.verify_client, "default tls");
	OK(strcmp(conf.ctl.fifo, "/run/pinhole/pinhole.fifo") == 0, "default ctl.fifo");
	OK(conf.log.level == LOG_LEVEL_INFO && !conf.log.syslog, "default log");
	OK(!conf.user[0] && !conf.group[0], "default user, group empty");
	OK(strcmp(conf.pid_file, "/run/pinhole/pinhole.pid") == 0, "default pid_file");
}

static const char full_conf[] =
	"listen = ( { proto = \"udp\"; address = \"10.0.0.1\"; port = 5070; },\n"
	"           { proto = \"TCP\"; address = \"::1\"; },\n"
	"           { proto = \"tls\"; address = \"10.0.0.1\"; } );\n"
	"advertise = \"203.0.113.5\";\n"
	"domains = ( \"example.com\", \"Sip.Example.com\", \"2001:db8::1\" );\n"
	"workers = { udp = 8; tcp = 3; tls = 1; relay = 5; };\n"
	"shm_size = \"1G\";\n"
	"registrar = { default_expires = 1800; min_expires = 30; max_expires = 7200;\n"
	"              max_contacts = 3; };\n"
	"auth = { realm = \"example.com\"; register = true; invite = TRUE; nonce_ttl = 60; };\n"
	"nat = { detect = 0x3f;\n"
	"        keepalive = { interval = 15; method = \"crlf\"; from = \"sips:ka@example.com\";\n"
	"                      nated_only = false; timeout = 120; }; };\n"
	"relay = { mode = \"always\"; address = \"2001:db8::2\"; ports = [ 20000, 20999 ];\n"
	"          timeout = 30; control = \"udp:[::1]:7722\"; };\n"
	"db = { path = \"/srv/pinhole/db\"; location = \"write-back\"; };\n"
	"tls = { certificate = \"/etc/pinhole/cert.pem\"; private_key = \"/etc/pinhole/key.pem\";\n"
	"        ca_list = \"/etc/pinhole/ca.pem\"; verify_client = true; };\n"
	"ctl = { fifo = \"/run/p/ctl.fifo\"; };\n"
	"log = { level = \"debug\"; target = \"syslog\"; };\n"
	"user = \"pinhole\"; group = \"pinhole\";\n"
	"pid_file = \"/run/p/p.pid\";\n";

static void test_every_key_lands(void)
{
	loads(full_conf, "every key set");
	IS_INT(conf.nlisten, 3, "three listeners");
	OK(conf.listen[0].proto == CONF_PROTO_UDP && conf.listen[0].port == 5070 &&
	   strcmp(conf.listen[0].address, "10.0.0.1") == 0, "listen[0]");
	OK(conf.listen[1].proto == CONF_PROTO_TCP && conf.listen[1].port == 5060 &&
	   strcmp(conf.listen[1].address, "::1") == 0, "listen[1]: TCP, port defaults to 5060");
	OK(conf.listen[2].proto == CONF_PROTO_TLS && conf.listen[2].port == 5061,
	   "listen[2]: tls port defaults to 5061");
	OK(strcmp(conf.advertise, "203.0.113.5") == 0, "advertise");
	IS_INT(conf.ndomains, 3, "three domains (a list works too)");
	OK(strcmp(conf.domains[1], "Sip.Example.com") == 0, "domain kept as written");
	OK(conf.workers.udp == 8 && conf.workers.tcp == 3 && conf.workers.tls == 1 &&
	   conf.workers.relay == 5, "workers");
	IS_INT(conf.shm_size, 1ull << 30, "shm_size 1G");
	OK(conf.registrar.default_expires == 1800 && conf.registrar.min_expires == 30 &&
	   conf.registrar.max_expires == 7200 && conf.registrar.max_contacts == 3, "registrar");
	OK(strcmp(conf.auth.realm, "example.com") == 0 && conf.auth.reg && conf.auth.invite &&
	   conf.auth.nonce_ttl == 60, "auth (TRUE accepted)");
	IS_INT(conf.nat.detect, 63, "nat.detect from hex");
	OK(conf.nat.keepalive.interval == 15 && conf.nat.keepalive.method == CONF_KA_CRLF &&
	   strcmp(conf.nat.keepalive.from, "sips:ka@example.com") == 0 &&
	   !conf.nat.keepalive.nated_only && conf.nat.keepalive.timeout == 120, "keepalive");
	OK(conf.relay.mode == CONF_RELAY_ALWAYS && strcmp(conf.relay.address, "2001:db8::2") == 0 &&
	   conf.relay.port_min == 20000 && conf.relay.port_max == 20999 &&
	   conf.relay.timeout == 30 && strcmp(conf.relay.control, "udp:[::1]:7722") == 0, "relay");
	OK(strcmp(conf.db.path, "/srv/pinhole/db") == 0 &&
	   conf.db.location == CONF_LOC_WRITE_BACK, "db");
	OK(strcmp(conf.tls.certificate, "/etc/pinhole/cert.pem") == 0 &&
	   strcmp(conf.tls.private_key, "/etc/pinhole/key.pem") == 0 &&
	   strcmp(conf.tls.ca_list, "/etc/pinhole/ca.pem") == 0 && conf.tls.verify_client, "tls");
	OK(strcmp(conf.ctl.fifo, "/run/p/ctl.fifo") == 0, "ctl.fifo");
	OK(conf.log.level == LOG_LEVEL_DBG && conf.log.syslog, "log");
	OK(strcmp(conf.user, "pinhole") == 0 && strcmp(conf.group, "pinhole") == 0, "user, group");
	OK(strcmp(conf.pid_file, "/run/p/p.pid") == 0, "pid_file");
}

static void test_sizes(void)
{
	loads("shm_size = \"4m\";", "lower-case suffix");
	IS_INT(conf.shm_size, 4ull << 20, "4m");
	loads("shm_size = \"64G\";", "the maximum");
	IS_INT(conf.shm_size, 64ull << 30, "64G");
	loads("shm_size = 8388608;", "plain bytes");
	IS_INT(conf.shm_size, 8ull << 20, "8388608 bytes");
	loads("shm_size = 5000000000;", "a literal beyond 32 bits without L");
	IS_INT(conf.shm_size, 5000000000ull, "5000000000 read at full width");
	loads("shm_size = 5000000000L;", "an L literal");
	IS_INT(conf.shm_size, 5000000000ull, "5000000000L");
	loads("shm_size = \"6144K\";", "K suffix");
	IS_INT(conf.shm_size, 6144ull << 10, "6144K");
}

static void test_include_relative_to_file(void)
{
	char dir[] = "/tmp/pinhole-conf-dir-XXXXXX", main_path[96], inc_path[96];

	if (!OK(mkdtemp(dir) != NULL, "temp dir"))
		return;
	snprintf(main_path, sizeof(main_path), "%s/main.conf", dir);
	snprintf(inc_path, sizeof(inc_path), "%s/workers.conf", dir);
	write_file(main_path, "@include \"workers.conf\"\nshm_size = \"8M\";\n");
	write_file(inc_path, "workers = { udp = 2; };\n");
	IS_INT(conf_load(main_path, &conf, &errs), 0, "include found next to the file");
	IS_INT(conf.workers.udp, 2, "included value lands");
	write_file(inc_path, "\nworkers = { udp = 0; };\n");
	IS_INT(conf_load(main_path, &conf, &errs), -EINVAL, "error in an included file");
	OK(strstr(errs.text, "workers.conf:2: workers.udp: 0 is out of range (1..64)\n") != NULL,
	   "reported with the included file's name and line");
	unlink(inc_path);
	unlink(main_path);
	rmdir(dir);
}

/* ---- invalid files ---------------------------------------------------- */

static void test_syntax_error(void)
{
	one_error("workers = {\n udp = ;\n};\n", "2: syntax error: syntax error");
	one_error("log = { level = \"info\";\n level = \"debug\"; };\n",
		  "2: syntax error: duplicate setting name");
}

static void test_cannot_open(void)
{
	IS_INT(conf_load("/nonexistent/pinhole.conf", &conf, &errs), -ENOENT, "missing file: -ENOENT");
	IS_INT(errs.count, 1, "  one error");
	OK(strcmp(errs.text, "/nonexistent/pinhole.conf: cannot open: No such file or directory\n") == 0,
	   "  FILE: cannot open: strerror");
	IS_INT(conf_load("/tmp", &conf, &errs), -EISDIR, "a directory: -EISDIR");
	OK(strcmp(errs.text, "/tmp: cannot read: Is a directory\n") == 0, "  FILE: cannot read: strerror");
}

static void test_nul_bytes_rejected(void)
{
	char path[] = "/tmp/pinhole-conf-XXXXXX";
	int fd = mkstemp(path);

	if (!OK(fd >= 0 && write(fd, "shm_size = \"8M\";\0x", 17) == 17, "file with a NUL byte"))
		return;
	close(fd);
	IS_INT(conf_load(path, &conf, &errs), -EINVAL, "  rejected");
	IS_INT(errs.count, 1, "  one error");
	OK(strstr(errs.text, ": not a configuration file (NUL bytes or over 1048576 bytes)\n") != NULL,
	   "  says why");
	unlink(path);
}

static void test_unknown_keys(void)
{
	one_error("workers = { udp = 2; };\nshm_sise = \"8M\";\n", "2: shm_sise: unknown key");
	one_error("nat = {\n  keepalive = {\n    intervall = 10;\n  };\n};\n",
		  "3: nat.keepalive.intervall: unknown key");
	one_error("registrar = { max_contact = 3; };\n", "1: registrar.max_contact: unknown key");
	one_error("listen = ( { address = \"127.0.0.1\";\n  prot = \"udp\"; } );\n",
		  "2: listen[0].prot: unknown key");
	one_error("tls = { cert = \"/x\"; };", "1: tls.cert: unknown key");
}

static void test_wrong_types(void)
{
	one_error("workers = { udp = \"4\"; };", "1: workers.udp: expected an integer");
	one_error("relay = { timeout = 1.5; };", "1: relay.timeout: expected an integer");
	one_error("auth = { register = 1; };", "1: auth.register: expected true or false");
	one_error("auth = { realm = 5; };", "1: auth.realm: expected a string");
	one_error("log = { level = 3; };",
		  "1: log.level: expected a string: \"err\", \"warn\", \"info\" or \"debug\"");
	one_error("nat = 19;", "1: nat: expected a group { ... }");
	one_error("listen = { proto = \"udp\"; address = \"127.0.0.1\"; };",
		  "1: listen: expected a list ( { proto = ...; address = ...; port = ...; }, ... )");
	one_error("listen = ( \"127.0.0.1\" );",
		  "1: listen[0]: expected a group { proto = ...; address = ...; port = ...; }");
	one_error("domains = \"example.com\";", "1: domains: expected an array of strings");
	one_error("domains = [ \"a\", \"b\" ];\ndomains2 = 1;", "2: domains2: unknown key");
	one_error("domains = ( \"a\", 5 );", "1: domains[1]: expected a string");
	one_error("relay = { ports = 30000; };",
		  "1: relay.ports: expected an array [first, last] of two ports");
	one_error("relay = { ports = [ 30000, 30001, 30002 ]; };",
		  "1: relay.ports: expected an array [first, last] of two ports");
	one_error("shm_size = true;",
		  "1: shm_size: expected a size: an integer or a string such as \"256M\"");
}

static void test_out_of_range(void)
{
	one_error("workers = { udp = 0; };", "1: workers.udp: 0 is out of range (1..64)");
	one_error("workers = { tcp = 65; };", "1: workers.tcp: 65 is out of range (0..64)");
	one_error("workers = { relay = -1; };", "1: workers.relay: -1 is out of range (0..64)");
	one_error("listen = ( { address = \"127.0.0.1\"; port = 0; } );",
		  "1: listen[0].port: 0 is out of range (1..65535)");
	one_error("listen = ( { address = \"127.0.0.1\";\n port = 65536; } );",
		  "2: listen[0].port: 65536 is out of range (1..65535)");
	one_error("listen = ( { address = \"127.0.0.1\"; port = 4294972356; } );",
		  "1: listen[0].port: 4294972356 is out of range (1..65535)");
	one_error("nat = { detect = 64; };", "1: nat.detect: 64 is out of range (0..63)");
	one_error("nat = { keepalive = { interval = 3601; }; };",
		  "1: nat.keepalive.interval: 3601 is out of range (1..3600)");
	one_error("nat = { keepalive = { timeout = 86401; }; };",
		  "1: nat.keepalive.timeout: 86401 is out of range (0..86400)");
	one_error("registrar = { max_contacts = 0; };",
		  "1: registrar.max_contacts: 0 is out of range (1..64)");
	one_error("auth = { nonce_ttl = 5; };", "1: auth.nonce_ttl: 5 is out of range (10..86400)");
	one_error("relay = { timeout = 0; };", "1: relay.timeout: 0 is out of range (1..86400)");
	one_error("relay = { ports = [ 80, 1101 ]; };",
		  "1: relay.ports[0]: 80 is out of range (1024..65535)");
	one_error("relay = { ports = [ 65000, 65537 ]; };",
		  "1: relay.ports[1]: 65537 is out of range (1024..65535)");
	one_error("shm_size = \"2M\";", "1: shm_size: \"2M\" is out of range (4M..64G)");
	one_error("shm_size = \"65G\";", "1: shm_size: \"65G\" is out of range (4M..64G)");
	one_error("shm_size = 4194303;", "1: shm_size: 4194303 is out of range (4M..64G)");
	one_error("workers = { udp = 99999999999999999999; };",
		  "1: workers.udp: too large, out of range (1..64)");
}

static void test_bad_enums(void)
{
	one_error("listen = ( { proto = \"sctp\"; address = \"127.0.0.1\"; } );",
		  "1: listen[0].proto: bad value \"sctp\", expected \"udp\", \"tcp\" or \"tls\"");
	one_error("relay = { mode = \"sometimes\"; };",
		  "1: relay.mode: bad value \"sometimes\", expected \"nat\", \"always\" or \"never\"");
	one_error("db = { location = \"disk\"; };",
		  "1: db.location: bad value \"disk\", expected \"memory\", \"write-through\" or "
		  "\"write-back\"");
	one_error("nat = { keepalive = { method = \"ping\"; }; };",
		  "1: nat.keepalive.method: bad value \"ping\", expected \"options\" or \"crlf\"");
	one_error("log = { level = \"verbose\"; };",
		  "1: log.level: bad value \"verbose\", expected \"err\", \"warn\", \"info\" or "
		  "\"debug\"");
	one_error("log = { target = \"file\"; };",
		  "1: log.target: bad value \"file\", expected \"stderr\" or \"syslog\"");
}

static void test_bad_addresses(void)
{
	one_error("listen = ( { address = \"localhost\"; } );",
		  "1: listen[0].address: \"localhost\" is not an IPv4 or IPv6 address");
	one_error("listen = ( { address = \"1.2.3\"; } );",
		  "1: listen[0].address: \"1.2.3\" is not an IPv4 or IPv6 address");
	one_error("listen = ( { address = \"[::1]\"; } );",
		  "1: listen[0].address: \"[::1]\" is not an IPv4 or IPv6 address");
	one_error("listen = ( { proto = \"udp\"; port = 5060; } );",
		  "1: listen[0]: missing key \"address\"");
	one_error("advertise = \"sip.example.com\";",
		  "1: advertise: \"sip.example.com\" is not an IPv4 or IPv6 address");
	one_error("relay = { address = \"\"; };",
		  "1: relay.address: \"\" is not an IPv4 or IPv6 address");
	one_error("relay = { control = \"tcp:127.0.0.1:22222\"; };",
		  "1: relay.control: \"tcp:127.0.0.1:22222\" is not \"udp:ADDRESS:PORT\" or \"\"");
	one_error("relay = { control = \"udp:127.0.0.1\"; };",
		  "1: relay.control: \"udp:127.0.0.1\" is not \"udp:ADDRESS:PORT\" or \"\"");
	one_error("relay = { control = \"udp:::1:22222\"; };",
		  "1: relay.control: \"udp:::1:22222\" is not \"udp:ADDRESS:PORT\" or \"\"");
	one_error("relay = { control = \"udp:127.0.0.1:0\"; };",
		  "1: relay.control: \"udp:127.0.0.1:0\" is not \"udp:ADDRESS:PORT\" or \"\"");
	loads("relay = { control = \"\"; };", "relay.control may be empty");
	loads("relay = { control = \"udp:[::1]:22222\"; };", "relay.control with IPv6");
}

static void test_bad_strings(void)
{
	one_error("nat = { keepalive = { from = \"pinger@localhost\"; }; };",
		  "1: nat.keepalive.from: \"pinger@localhost\" is not a sip: or sips: URI");
	one_error("db = { path = \"var/db\"; };", "1: db.path: \"var/db\" is not an absolute path");
	one_error("pid_file = \"\";", "1: pid_file: \"\" is not an absolute path");
	one_error("tls = { ca_list = \"ca.pem\"; };",
		  "1: tls.ca_list: \"ca.pem\" is not an absolute path");
	one_error("user = \"no body\";", "1: user: \"no body\" is not a user or group name");
	one_error("auth = { realm = \"a\\\"b\"; };",
		  "1: auth.realm: \"a\"b\" is not a realm (no quotes, backslashes or control "
		  "characters)");
	one_error("domains = [ \"ok.example.com\",\n \"bad domain\" ];",
		  "2: domains[1]: \"bad domain\" is not a host name or IP address");
}

static void test_bad_shm_size_suffix(void)
{
	one_error("shm_size = \"256X\";",
		  "1: shm_size: \"256X\" is not a size (a number with an optional K, M or G suffix)");
	one_error("shm_size = \"12MB\";",
		  "1: shm_size: \"12MB\" is not a size (a number with an optional K, M or G suffix)");
	one_error("shm_size = \"M\";",
		  "1: shm_size: \"M\" is not a size (a number with an optional K, M or G suffix)");
}

static void test_relay_ports(void)
{
	one_error("relay = { ports = [ 30001, 30010 ]; };",
		  "1: relay.ports: the first port (30001) must be even");
	one_error("relay = { ports = [ 40000, 30001 ]; };",
		  "1: relay.ports: the first port (40000) must be lower than the last (30001)");
	one_error("relay = { ports = [ 30000, 30010 ]; };",
		  "1: relay.ports: 30000..30010 holds an odd number of ports (11); end the range "
		  "on an odd port");
	one_error("workers = { relay = 2; };\nrelay = { ports = [ 30000, 30005 ]; };",
		  "2: relay.ports: 30000..30005 holds 6 ports; 2 relay workers need at least 8 "
		  "(4 each)");
	one_error("relay = { ports = [ 30000, 30007 ]; };\nworkers = { relay = 3; };",
		  "1: relay.ports: 30000..30007 holds 8 ports; 3 relay workers need at least 12 "
		  "(4 each)");
	loads("relay = { ports = [ 30000, 30007 ]; };", "4 ports each for 2 workers");
	one_error("relay = { ports = [ 5000, 5999 ]; };",
		  "1: relay.ports: 5000..5999 includes the port of listen[0] (udp 127.0.0.1:5060)");
	one_error("listen = ( { address = \"0.0.0.0\";\n port = 31000; } );",
		  "1: listen[0]: udp 0.0.0.0:31000 is inside relay.ports (30000..39999)");
	loads("listen = ( { address = \"127.0.0.2\"; port = 31000; } );",
	      "listen port in the relay range on another address");
}

static void test_cross_field_expires(void)
{
	one_error("registrar = { min_expires = 7200; };",
		  "1: registrar.min_expires: 7200 is greater than registrar.default_expires (3600)");
	one_error("registrar = {\n default_expires = 90000; };",
		  "2: registrar.default_expires: 90000 is greater than registrar.max_expires (86400)");
	one_error("registrar = {\n max_expires = 600; };",
		  "2: registrar.max_expires: 600 is less than registrar.default_expires (3600)");
	loads("registrar = { min_expires = 60; default_expires = 60; max_expires = 60; };",
	      "equal expires are fine");
}

static void test_duplicate_listen(void)
{
	one_error("listen = ( { address = \"127.0.0.1\"; },\n"
		  "           { address = \"127.0.0.1\"; port = 5060; } );",
		  "2: listen[1]: duplicate of listen[0] (udp 127.0.0.1:5060)");
	one_error("listen = ( { proto = \"tcp\"; address = \"::1\"; port = 5070; },\n"
		  "           { proto = \"tls\"; address = \"0:0::1\"; port = 5070; } );\n"
		  "tls = { certificate = \"/c.pem\"; private_key = \"/k.pem\"; };",
		  "2: listen[1]: tls [0:0::1]:5070 uses the same TCP port as listen[0] (tcp)");
	loads("listen = ( { proto = \"udp\"; address = \"127.0.0.1\"; },\n"
	      "           { proto = \"tcp\"; address = \"127.0.0.1\"; } );",
	      "udp and tcp on one port");
	IS_INT(conf.nlisten, 2, "  two listeners");
}

static void test_tls_listen_needs_certificate(void)
{
	one_error("listen = ( { address = \"127.0.0.1\"; },\n"
		  "  { proto = \"tls\"; address = \"127.0.0.1\"; } );",
		  "2: listen[1]: a tls listener needs tls.certificate and tls.private_key");
	one_error("listen = ( { proto = \"tls\"; address = \"127.0.0.1\"; } );\n"
		  "tls = { certificate = \"/c.pem\"; };",
		  "1: listen[0]: a tls listener needs tls.private_key");
	loads("listen = ( { proto = \"tls\"; address = \"127.0.0.1\"; } );\n"
	      "tls = { certificate = \"/c.pem\"; private_key = \"/k.pem\"; };",
	      "tls listener with certificate and key");
	one_error("tls = {\n verify_client = true; };",
		  "2: tls.verify_client: true needs tls.ca_list (the CAs client certificates "
		  "must chain to)");
}

static void test_other_cross_checks(void)
{
	one_error("listen = ( { proto = \"tcp\"; address = \"127.0.0.1\"; } );\n"
		  "workers = { tcp = 0; };",
		  "1: listen[0]: a tcp listener needs workers.tcp of at least 1");
	one_error("workers = {\n relay = 0; };",
		  "2: workers.relay: no relay workers, but relay.mode is not \"never\"");
	one_error("relay = { mode = \"never\"; };\nworkers = { relay = 0; };",
		  "2: workers.relay: no relay workers, but relay.control is set");
	loads("relay = { mode = \"never\"; control = \"\"; };\nworkers = { relay = 0; };",
	      "no relay at all");
	one_error("nat = { keepalive = { interval = 60;\n timeout = 30; }; };",
		  "2: nat.keepalive.timeout: 30 is shorter than nat.keepalive.interval (60)");
	one_error("listen = ( { address = \"127.0.0.1\"; port = 5060; },\n"
		  "           { address = \"127.0.0.1\"; port = 5062; } );\n"
		  "workers = { udp = 64; };",
		  "3: workers.udp: 132 processes (per listener 64 udp, 2 tcp, 2 tls workers "
		  "for 2/0/0 udp/tcp/tls listeners, 2 relay, timer, ctl), at most 127");
	one_error("listen = ( { proto = \"tcp\"; address = \"127.0.0.1\"; port = 5060; },\n"
		  "           { proto = \"tcp\"; address = \"127.0.0.1\"; port = 5062; },\n"
		  "           { proto = \"udp\"; address = \"127.0.0.1\"; port = 5060; } );\n"
		  "workers = { tcp = 42; udp = 40; };",
		  "4: workers.udp: 128 processes (per listener 40 udp, 42 tcp, 2 tls workers "
		  "for 1/2/0 udp/tcp/tls listeners, 2 relay, timer, ctl), at most 127");
}

static void test_too_many_entries(void)
{
	char text[2048];
	size_t n = 0;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "domains = [");
	for (int i = 0; i <= CONF_MAX_DOMAINS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"d%d.example.com\"",
				      i ? ", " : "", i);
	snprintf(text + n, sizeof(text) - n, "];\n");
	one_error(text, "1: domains: 33 entries, at most 32");

	n = (size_t)snprintf(text, sizeof(text), "listen = (");
	for (int i = 0; i <= CONF_MAX_LISTEN; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "%s{ address = \"127.0.0.1\"; port = %d; }", i ? ", " : "",
				      5060 + i);
	snprintf(text + n, sizeof(text) - n, ");\n");
	one_error(text, "1: listen: 17 entries, allowed 1..16");
	one_error("listen = ( );", "1: listen: 0 entries, allowed 1..16");
	loads("domains = [ ];", "no domains at all");
	IS_INT(conf.ndomains, 0, "  zero domains");
}

static void test_overlong_strings(void)
{
	static char text[8192], longname[4200];

	memset(longname, 'a', 256);
	longname[256] = '\0';
	snprintf(text, sizeof(text), "domains = [ \"%s\" ];", longname);
	one_error(text, "1: domains[0]: too long (256 characters, at most 255)");
	snprintf(text, sizeof(text), "auth = { realm = \"%s\"; };", longname);
	one_error(text, "1: auth.realm: too long (256 characters, at most 255)");
	longname[0] = '/';
	memset(longname + 1, 'p', 4095);
	longname[4096] = '\0';
	snprintf(text, sizeof(text), "db = { path = \"%s\"; };", longname);
	one_error(text, "1: db.path: too long (4096 characters, at most 4095)");
	snprintf(text, sizeof(text), "user = \"%.64s\";", longname + 1);
	one_error(text, "1: user: too long (64 characters, at most 63)");
	longname[4095] = '\0';
	snprintf(text, sizeof(text), "db = { path = \"%s\"; };", longname);
	loads(text, "db.path of 4095 characters fits");
}

static void test_several_errors_at_once(void)
{
	int rc = load_text("workers = { udp = 0; tcp = 100; };\n"
			   "shm_size = \"1X\";\n"
			   "bogus = 1;\n"
			   "log = { level = \"loud\"; };\n"
			   "registrar = { min_expires = 4000; };\n");

	IS_INT(rc, -EINVAL, "several errors: -EINVAL");
	IS_INT(errs.count, 6, "  six errors counted");
	is_errors("FILE:1: workers.udp: 0 is out of range (1..64)\n"
		  "FILE:1: workers.tcp: 100 is out of range (0..64)\n"
		  "FILE:2: shm_size: \"1X\" is not a size (a number with an optional K, M or G suffix)\n"
		  "FILE:3: bogus: unknown key\n"
		  "FILE:4: log.level: bad value \"loud\", expected \"err\", \"warn\", \"info\" or \"debug\"\n"
		  "FILE:5: registrar.min_expires: 4000 is greater than registrar.default_expires (3600)\n",
		  "  all six, in file order, cross-field checks last");
}

static void test_errors_overflow_is_counted(void)
{
	static char text[40000];
	size_t n = 0;

	for (int i = 0; i < 400; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "unknown_key_%03d = 1;\n", i);
	IS_INT(load_text(text), -EINVAL, "400 errors: -EINVAL");
	IS_INT(errs.count, 400, "  all counted");
	OK(errs.len < sizeof(errs.text) && errs.text[errs.len] == '\0' &&
	   errs.text[errs.len - 1] == '\n', "  text holds whole lines only");
}

/* ---- queries -------------------------------------------------------------- */

static void test_restart_only_changes(void)
{
	static struct pinhole_conf a, b;
	char buf[256];

	conf_defaults(&a);
	conf_defaults(&b);
	IS_INT(conf_restart_only_changes(&a, &b, buf, sizeof(buf)), 0, "same config: none");
	OK(buf[0] == '\0', "  empty list");
	b.workers.udp = 9;
	b.registrar.max_contacts = 2;
	b.log.level = LOG_LEVEL_DBG;
	b.relay.mode = CONF_RELAY_ALWAYS;
	strcpy(b.domains[0], "example.com");
	IS_INT(conf_restart_only_changes(&a, &b, buf, sizeof(buf)), 0,
	       "reloadable changes only: none");
	b.shm_size *= 2;
	b.listen[0].port = 5080;
	strcpy(b.db.path, "/srv/db");
	b.db.location = CONF_LOC_MEMORY;
	strcpy(b.tls.certificate, "/c.pem");
	b.tls.verify_client = true;
	strcpy(b.ctl.fifo, "/x.fifo");
	strcpy(b.user, "nobody");
	strcpy(b.group, "nogroup");
	strcpy(b.pid_file, "/x.pid");
	b.relay.port_max = 39997;
	strcpy(b.relay.address, "127.0.0.2");
	b.relay.control[0] = '\0';
	IS_INT(conf_restart_only_changes(&a, &b, buf, sizeof(buf)), 13, "13 restart-only changes");
	if (!OK(strcmp(buf, "listen, shm_size, relay.address, relay.ports, relay.control, "
			    "db.path, db.location, tls.certificate, tls.verify_client, ctl.fifo, "
			    "user, group, pid_file") == 0, "  named in table order"))
		tap_diag("  got '%s'", buf);
	IS_INT(conf_restart_only_changes(&a, &b, buf, 12), 13, "small buffer: still counted");
	OK(strlen(buf) == 11, "  truncated, terminated");
	conf_defaults(&b);
	b.nlisten = 2;
	b.listen[1] = b.listen[0];
	b.listen[1].proto = CONF_PROTO_TCP;
	IS_INT(conf_restart_only_changes(&a, &b, buf, sizeof(buf)), 1, "a listener added");
	OK(strcmp(buf, "listen") == 0, "  named listen");
}

static void test_is_local_domain(void)
{
	loads("listen = ( { address = \"192.0.2.10\"; },\n"
	      "           { proto = \"tcp\"; address = \"2001:db8::10\"; } );\n"
	      "advertise = \"203.0.113.7\";\n"
	      "domains = [ \"example.com\", \"2001:DB8::99\" ];\n", "local domain config");
	OK(conf_is_local_domain(&conf, SLICE_LIT("example.com")), "a domain");
	OK(conf_is_local_domain(&conf, SLICE_LIT("EXAMPLE.Com")), "case-insensitive");
	OK(!conf_is_local_domain(&conf, SLICE_LIT("example.co")), "a prefix is not");
	OK(!conf_is_local_domain(&conf, SLICE_LIT("xexample.com")), "a suffix match is not");
	OK(!conf_is_local_domain(&conf, SLICE_LIT("")), "empty host is not");
	OK(conf_is_local_domain(&conf, SLICE_LIT("192.0.2.10")), "a listen address");
	OK(conf_is_local_domain(&conf, SLICE_LIT("[2001:db8::10]")), "a bracketed IPv6 listen address");
	OK(conf_is_local_domain(&conf, SLICE_LIT("2001:db8:0::10")), "IPv6 compared as addresses");
	OK(conf_is_local_domain(&conf, SLICE_LIT("[2001:db8::99]")), "an IPv6 domain");
	OK(conf_is_local_domain(&conf, SLICE_LIT("203.0.113.7")), "the advertise address");
	OK(!conf_is_local_domain(&conf, SLICE_LIT("192.0.2.11")), "another IP is not");
	OK(!conf_is_local_domain(&conf, SLICE_LIT("localhost")), "localhost not listed here");
	OK(!conf_is_local_domain(&conf, slice_make("example.com\0x", 13)), "embedded NUL is not");
}

/* The configured addresses are compared in the binary form stored at load:
 * any spelling of the same address matches, and listen entries carried
 * into another configuration (as a reload keeps them) keep theirs. */
static void test_local_addresses_stored(void)
{
	static struct pinhole_conf other;

	loads("listen = ( { address = \"192.0.2.10\"; },\n"
	      "           { proto = \"tcp\"; address = \"2001:db8::10\"; } );\n"
	      "advertise = \"2001:db8::7\";\n"
	      "domains = [ \"example.com\", \"198.51.100.1\" ];\n", "addresses config");
	IS_INT(conf.ndomain_ips, 2, "the IP domain and advertise stored, not the name");
	OK(conf_is_local_domain(&conf, SLICE_LIT("[2001:DB8:0:0::10]")), "listen IPv6 respelled");
	OK(conf_is_local_domain(&conf, SLICE_LIT("::ffff:192.0.2.10")), "listen IPv4 v4-mapped");
	OK(conf_is_local_domain(&conf, SLICE_LIT("2001:db8:0::7")), "advertise respelled");
	OK(conf_is_local_domain(&conf, SLICE_LIT("::ffff:198.51.100.1")), "IP domain v4-mapped");
	OK(!conf_is_local_domain(&conf, SLICE_LIT("2001:db8::8")), "a neighbour is not");
	other = conf;
	loads("listen = ( { address = \"192.0.2.20\"; } );\n", "another listen address");
	memcpy(other.listen, conf.listen, sizeof(other.listen));
	other.nlisten = conf.nlisten;
	OK(conf_is_local_domain(&other, SLICE_LIT("::ffff:192.0.2.20")),
	   "listen entries copied with their binary address");
	OK(!conf_is_local_domain(&other, SLICE_LIT("::ffff:192.0.2.10")), "and the old one gone");
	conf_defaults(&other);
	OK(conf_is_local_domain(&other, SLICE_LIT("::ffff:127.0.0.1")), "defaults stored too");
	IS_INT(other.ndomain_ips, 1, "  the default domain 127.0.0.1");
}

static void test_proto_names(void)
{
	OK(strcmp(conf_proto_name(CONF_PROTO_UDP), "udp") == 0, "udp");
	OK(strcmp(conf_proto_name(CONF_PROTO_TCP), "tcp") == 0, "tcp");
	OK(strcmp(conf_proto_name(CONF_PROTO_TLS), "tls") == 0, "tls");
	OK(strcmp(conf_proto_name((enum conf_proto)7), "?") == 0, "out of range");
}

/* ---- the man page ------------------------------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0;

	if (f && getdelim(&text, &cap, '\0', f) < 0) {
		free(text);
		text = NULL;
	}
	if (f)
		fclose(f);
	return text;
}

/* The entry ".TP\n.B path\n" up to the next ".TP" or ".S" macro. */
static bool man_entry(const char *man, const char *path, char *buf, size_t cap)
{
	char head[CONF_PATH_LEN + 16];
	const char *p, *end;

	snprintf(head, sizeof(head), ".TP\n.B %s\n", path);
	p = strstr(man, head);
	if (!p)
		return false;
	p += strlen(head);
	end = p + strlen(p);
	for (const char *q = p; *q; q++)
		if (q[0] == '\n' && q[1] == '.' && (q[2] == 'S' || (q[2] == 'T' && q[3] == 'P'))) {
			end = q;
			break;
		}
	snprintf(buf, cap, "%.*s", (int)(end - p), p);
	return true;
}

static void test_man_page_documents_every_key(void)
{
	char *man = slurp("conf/pinhole.conf.5");
	char entry[2048];

	if (!OK(man != NULL, "conf/pinhole.conf.5 readable"))
		return;
	for (size_t i = 0; i < conf_noptions; i++) {
		const struct conf_option *o = &conf_options[i];
		const char *want = o->flags & CONF_RELOAD ? "reload: yes" : "reload: no";

		if (!OK(man_entry(man, o->path, entry, sizeof(entry)), "man page documents %s",
			o->path))
			continue;
		OK(strstr(entry, want) != NULL, "  %s: %s", o->path, want);
	}
	for (size_t i = 0; i < conf_listen_noptions; i++)
		OK(man_entry(man, conf_listen_options[i].path, entry, sizeof(entry)),
		   "man page documents listen's %s", conf_listen_options[i].path);
	free(man);
}

int main(void)
{
	test_sample_loads();
	test_empty_file_gives_defaults();
	test_every_key_lands();
	test_sizes();
	test_include_relative_to_file();
	test_syntax_error();
	test_cannot_open();
	test_nul_bytes_rejected();
	test_unknown_keys();
	test_wrong_types();
	test_out_of_range();
	test_bad_enums();
	test_bad_addresses();
	test_bad_strings();
	test_bad_shm_size_suffix();
	test_relay_ports();
	test_cross_field_expires();
	test_duplicate_listen();
	test_tls_listen_needs_certificate();
	test_other_cross_checks();
	test_too_many_entries();
	test_overlong_strings();
	test_several_errors_at_once();
	test_errors_overflow_is_counted();
	test_restart_only_changes();
	test_is_local_domain();
	test_local_addresses_stored();
	test_proto_names();
	test_man_page_documents_every_key();
	return tap_done();
}
