#!/usr/bin/env python3
"""Registrations survive crashes and restarts (Berkeley DB): with
write-through every REGISTER answered 200 before a SIGKILL of every pinhole
process is there after restart; with write-back at most the flush interval
is lost; a SIGTERM restart keeps everything; `ul rm` is durable; expired
bindings are not loaded."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import Server, Tap, recv_response, register_msg, status_of, udp_socket, wait_for  # noqa: E402


def registered(srv):
    rc, ul, err = srv.ctl("ul", "show", json_out=True)
    if rc != 0:
        raise RuntimeError("ul show: " + err)
    if ul["truncated"]:
        raise RuntimeError("ul show truncated its list")
    return set(b["aor"] for b in ul["bindings"])


class Loader(threading.Thread):
    """Registers user0..userN-1 one after the other, remembering the 200s."""

    def __init__(self, srv, prefix, count):
        super().__init__(daemon=True)
        self.srv, self.prefix, self.count = srv, prefix, count
        self.ok = []

    def run(self):
        s = udp_socket()
        for i in range(self.count):
            time.sleep(0.001)
            user = "%s%d" % (self.prefix, i)
            try:
                s.sendto(register_msg(self.srv.port, user), ("127.0.0.1", self.srv.port))
                r = recv_response(s, 0.5)
            except OSError:
                return
            if r is None:
                return
            # the response must be this request's (keepalive pings also arrive)
            if status_of(r) == 200 and b"<sip:%s@localhost>" % user.encode() in r:
                self.ok.append(user + "@localhost")


def test_write_through(tap):
    srv = Server()
    text = open(srv.conf_path).read().replace('location = "memory"', 'location = "write-through"')
    srv.write_conf(text=text)
    srv.start()
    loader = Loader(srv, "wt", 3000)
    loader.start()
    wait_for(lambda: len(loader.ok) >= 300, timeout=30)
    srv.kill_all()
    loader.join()
    acked = set(loader.ok)
    tap.ok(len(acked) >= 300, "write-through: %d REGISTERs answered 200 before SIGKILL of every process" % len(acked))
    srv.start()
    have = registered(srv)
    missing = acked - have
    if not tap.ok(not missing, "every answered registration is there after restart (%d missing)"
                  % len(missing), sorted(missing)[:5]):
        tap.diag(srv.log_text()[-3000:])
    rc, _, _ = srv.ctl("ul", "rm", "wt0@localhost")
    tap.eq(rc, 0, "ul rm")
    srv.stop()
    srv.start()
    tap.ok("wt0@localhost" not in registered(srv), "ul rm is durable")
    srv.stop()


def test_write_back(tap):
    srv = Server()
    text = open(srv.conf_path).read().replace('location = "memory"', 'location = "write-back"')
    srv.write_conf(text=text)
    srv.start()
    first = Loader(srv, "wb", 200)
    first.run()
    tap.eq(len(first.ok), 200, "write-back: 200 registrations")
    time.sleep(7)
    second = Loader(srv, "late", 50)
    second.run()
    srv.kill_all()
    srv.start()
    have = registered(srv)
    tap.ok(set(first.ok) <= have, "registrations older than the flush interval survive SIGKILL (%d/%d)"
           % (len(set(first.ok) & have), len(first.ok)))
    third = Loader(srv, "term", 50)
    third.run()
    srv.stop()
    srv.start()
    have = registered(srv)
    tap.ok(set(third.ok) <= have and set(first.ok) <= have,
           "a SIGTERM restart keeps every registration (final flush)")
    srv.stop()


def test_expired_not_loaded(tap):
    srv = Server(extra="registrar = { min_expires = 1; };")
    text = open(srv.conf_path).read().replace('location = "memory"', 'location = "write-through"')
    srv.write_conf(text=text)
    srv.start()
    r = srv.sip(register_msg(srv.port, "brief", contacts=["<sip:brief@127.0.0.1:9>;expires=1"]))
    r2 = srv.sip(register_msg(srv.port, "lasting"))
    tap.ok(status_of(r) == 200 and status_of(r2) == 200, "two registrations, one for 1 s")
    srv.kill_all()
    time.sleep(1.5)
    srv.start()
    have = registered(srv)
    tap.ok("lasting@localhost" in have and "brief@localhost" not in have,
           "after restart the expired binding is not loaded", have)
    srv.stop()


def main():
    tap = Tap()
    test_write_through(tap)
    test_write_back(tap)
    test_expired_not_loaded(tap)
    tap.done()


main()
