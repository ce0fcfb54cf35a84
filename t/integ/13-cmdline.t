#!/usr/bin/env python3
"""The pinhole command line: -V, -c on valid and invalid files, startup
errors, daemon mode with its pid file, graceful stop."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import PINHOLE, ROOT, Server, Tap, wait_for  # noqa: E402


def run(*args):
    p = subprocess.run([PINHOLE] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def run_daemon(srv):
    """Starts pinhole without -F; its stderr (kept by the daemon) goes to a file."""
    log = os.path.join(srv.tmp, "daemon.log")
    with open(log, "ab") as f:
        rc = subprocess.run([PINHOLE, "-f", srv.conf_path], stdout=f, stderr=f, timeout=20).returncode
    return rc, open(log).read()


INVALID = [
    ("syntax error", "workers = { udp = 2;; };", ":1: syntax error"),
    ("unknown key", "wokers = { udp = 2; };", ":1: wokers: unknown key"),
    ("out of range", "workers = { udp = 0; };", ":1: workers.udp:"),
    ("wrong type", 'workers = { udp = "two"; };', ":1: workers.udp:"),
    ("bad enum", 'db = { location = "sometimes"; };', ":1: db.location:"),
    ("bad address", 'listen = ( { proto = "udp"; address = "not-an-ip"; port = 5060; } );', "listen"),
    ("bad size", 'shm_size = "12Q";', ":1: shm_size:"),
    ("second line", '\nnat = { detect = 99; };', ":2: nat.detect:"),
]


def main():
    tap = Tap()
    rc, out, _ = run("-V")
    tap.ok(rc == 0 and out.startswith("pinhole "), "-V prints the version")
    rc, out, err = run("-c", "-f", os.path.join(ROOT, "conf", "pinhole.conf"))
    tap.ok(rc == 0 and "OK" in out, "-c accepts the sample config", err)
    srv = Server()
    for name, text, want in INVALID:
        with open(srv.conf_path, "w") as f:
            f.write(text + "\n")
        rc, out, err = run("-c", "-f", srv.conf_path)
        tap.ok(rc == 1 and (srv.conf_path + want) in err if want.startswith(":") else rc == 1 and want in err,
               "-c rejects: %s" % name, "rc=%d err=%s" % (rc, err))
    rc, out, err = run("-c", "-f", os.path.join(srv.tmp, "missing.conf"))
    tap.ok(rc == 1 and "missing.conf" in err, "-c on a missing file names it")
    rc, out, err = run("-f", srv.conf_path, "-F")
    tap.ok(rc == 1 and srv.conf_path in err, "start with an invalid file: exit 1 naming it")
    tls_listen = 'listen = ( { proto = "tls"; address = "127.0.0.1"; port = 5061; } );\n'
    garbage = os.path.join(srv.tmp, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("not a certificate\n")
    for name, tls, want in [
            ("tls listener without tls.*", "", "tls.certificate"),
            ("unreadable certificate", 'tls = { certificate = "%s"; private_key = "%s"; };' % (garbage, garbage),
             garbage)]:
        with open(srv.conf_path, "w") as f:
            f.write(tls_listen + tls + "\n")
        rc, out, err = run("-c", "-f", srv.conf_path)
        tap.ok(rc == 1 and want in err, "-c loads the TLS files: %s" % name, "rc=%d err=%s" % (rc, err))
    rc, _, _ = run()
    tap.eq(rc, 2, "no arguments: usage, exit 2")

    srv.write_conf()
    busy = Server()
    with busy:
        text = open(srv.conf_path).read().replace("port = %d" % srv.port, "port = %d" % busy.port)
        with open(srv.conf_path, "w") as f:
            f.write(text)
        rc, out, err = run("-F", "-f", srv.conf_path)
        tap.ok(rc == 1 and "bind" in err and str(busy.port) in err,
               "a busy port: exit 1 naming the socket", err)
    srv.write_conf()

    rc, err = run_daemon(srv)
    pidfile = os.path.join(srv.tmp, "pinhole.pid")
    tap.ok(rc == 0 and wait_for(lambda: os.path.exists(pidfile)), "daemon mode returns and writes the pid file")
    pid = int(open(pidfile).read())
    tap.ok(wait_for(lambda: srv.options_ok()), "the daemon serves")
    rc, err = run_daemon(srv)
    tap.ok(rc == 1 and "already running" in err, "a second instance refuses to start", err)
    os.kill(pid, signal.SIGTERM)
    gone = wait_for(lambda: not os.path.exists("/proc/%d" % pid), timeout=20)
    tap.ok(gone, "SIGTERM stops the daemon")
    tap.ok(not os.path.exists(pidfile), "and removes its pid file")
    time.sleep(0.1)
    test_drop_privileges(tap)
    tap.done()


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return None


def test_drop_privileges(tap):
    """user/group: every process runs as that user, the FIFO directory is
    made for it, and the server still serves and answers pinholectl."""
    import pwd
    if os.getuid() != 0:
        tap.skip("privileges dropped to user/group", "needs root to switch users")
        return
    nobody = pwd.getpwnam("nobody").pw_uid
    srv = Server()
    os.chmod(srv.tmp, 0o755)
    srv.fifo = os.path.join(srv.tmp, "run", "pinhole.fifo")
    text = open(srv.conf_path).read().replace(os.path.join(srv.tmp, "pinhole.fifo"), srv.fifo)
    srv.write_conf(text=text + 'user = "nobody";\ngroup = "nogroup";\n')
    with srv:
        pids = [p["pid"] for p in srv.ps()]
        tap.ok(pids and all(uid_of(p) == nobody for p in pids),
               "every process runs as nobody after startup")
        tap.ok(srv.options_ok(), "the unprivileged server serves")
        tap.eq(os.stat(os.path.dirname(srv.fifo)).st_uid, nobody, "the FIFO directory belongs to nobody")


main()
