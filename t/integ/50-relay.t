#!/usr/bin/env python3
"""The relay's processes and sockets in a real pinhole: the master binds
every port of relay.ports before forking (a port another program holds
only takes its session's four ports out of service, with a warning), the
relay workers drop and count datagrams for ports without a session,
`relay list` and the relay.sessions gauge answer, and a reload that
changes workers.relay or a relay worker killed with SIGKILL never unbinds
a port. Forwarding itself is tested with a forked relay worker in
t/unit/test_relay_fwd.c; sessions made through SIP and the rtpproxy
protocol in 51-53."""
import errno
import os
import random
import shutil
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import Server, Tap, wait_for  # noqa: E402

NPORTS = 40


def bindable(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError as e:
        if e.errno != errno.EADDRINUSE:
            raise
        return False
    finally:
        s.close()


def free_range(sip_port):
    for _ in range(100):
        base = random.randrange(20000, 30000, 4)   # below the ephemeral ports
        if not base <= sip_port < base + NPORTS and \
                all(bindable(p) for p in range(base, base + NPORTS)):
            return base
    raise RuntimeError("no free range of %d ports" % NPORTS)


def relay_workers(srv):
    return sorted((p["generation"], p["index"]) for p in srv.ps()
                  if p["role"] == "relay" and p["state"] == "running")


def relay_conf(base, workers):
    return dict(workers_relay=workers,
                extra='relay = { mode = "nat"; address = "127.0.0.1"; ports = [ %d, %d ]; '
                      'timeout = 60; control = ""; };' % (base, base + NPORTS - 1))


def dropped(srv):
    return srv.stats("relay")["relay.dropped"]


def stray_counted(srv, port, tap, name):
    """A datagram to a port without a session is dropped and counted."""
    before = dropped(srv)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"\x80" + b"x" * 171, ("127.0.0.1", port))
    s.settimeout(0.3)
    try:
        s.recvfrom(2048)
        answered = True
    except socket.timeout:
        answered = False
    s.close()
    got = wait_for(lambda: dropped(srv) >= before + 1, timeout=3)
    tap.ok(got and not answered, name, "dropped %d -> %d, answered %s" % (before, dropped(srv), answered))


def main():
    tap = Tap()
    srv = Server()
    base = free_range(srv.port)
    srv.write_conf(**relay_conf(base, 2))
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("127.0.0.1", base + 5))
    srv.start()
    try:
        log = srv.log_text()
        tap.ok("1 port(s) of %d..%d in use by other programs; 9 of 10 sessions left" %
               (base, base + NPORTS - 1) in log,
               "a port held by another program takes one session out, with a warning", log)
        tap.eq(relay_workers(srv), [(1, 0), (1, 1)], "two relay workers")
        tap.ok(not any(bindable(p) for p in range(base, base + NPORTS) if p != base + 5),
               "every other port of relay.ports is bound by pinhole")
        r = srv.ctl_json("relay", "list")
        tap.eq((r["sessions"], r["legs"]), (0, []), "relay list: no session")
        rc, out, err = srv.ctl("relay", "list", "no-such-call")
        tap.ok(rc != 0 and "no relay session" in err, "relay list CALL-ID of no session fails",
               "rc=%d err=%s" % (rc, err))
        tap.eq(srv.stats("relay").get("relay.sessions"), 0, "gauge relay.sessions")
        stray_counted(srv, base, tap, "a datagram to a port without a session is dropped and counted")
        stray_counted(srv, base + 39, tap, "on the last port (the other worker's slice) too")

        srv.write_conf(**relay_conf(base, 3))
        os.kill(srv.proc.pid, signal.SIGHUP)
        got = wait_for(lambda: relay_workers(srv) == [(2, 0), (2, 1), (2, 2)], timeout=10)
        tap.ok(got, "reload to workers.relay = 3: three relay workers of generation 2",
               relay_workers(srv))
        tap.ok(not bindable(base) and not bindable(base + 39), "the ports stayed bound")
        stray_counted(srv, base + 20, tap, "the new generation serves the ports")

        victim = [p for p in srv.ps() if p["role"] == "relay" and p["index"] == 0][0]
        os.kill(victim["pid"], signal.SIGKILL)
        got = wait_for(lambda: [p for p in srv.ps() if p["role"] == "relay" and p["index"] == 0
                                and p["pid"] != victim["pid"] and p["state"] == "running"],
                       timeout=5)
        tap.ok(got, "a killed relay worker is respawned")
        tap.ok(not bindable(base), "its ports stayed bound")
        stray_counted(srv, base, tap, "and are served again")
        tap.eq(srv.stop(), 0, "graceful stop")
        tap.ok(all(bindable(p) for p in range(base, base + NPORTS) if p != base + 5),
               "the ports are free after the stop")
    finally:
        srv.stop()
        squatter.close()
        shutil.rmtree(srv.tmp, ignore_errors=True)
    tap.done()


main()
