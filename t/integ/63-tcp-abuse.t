#!/usr/bin/env python3
"""Slow and abusive TCP clients, each cut off without affecting the others:
a client trickling one byte per second is closed at tcp.message_timeout
while another is answered at once; a header block over tcp.max_header and
a Content-Length over tcp.max_message close the connection; a client
flooding pipelined requests gets every answer while another client of the
same worker is served between its reads; a silent
connection is closed at tcp.idle_timeout; connections past
tcp.max_connections are refused (tcp.rejected). Then 10,000 idle
connections (RLIMIT_NOFILE raised for the test and the server): all are
held, listed by `pinholectl tcp list`, and new and old connections are
still answered at once."""
import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtcp import Stream, cleanup, request, status, tcp_conf  # noqa: E402
from phtest import Server, Tap, wait_for  # noqa: E402

IDLE = 10000


def options(srv, s):
    return request("OPTIONS", "sip:127.0.0.1:%d" % srv.port, sent_by=s.local)


def answered(srv, timeout=1.0):
    s = Stream(srv.port)
    t0 = time.time()
    s.send(options(srv, s))
    ok = status(s.read_msg(timeout)) == 200
    s.close()
    return ok, time.time() - t0


def test_slow(tap, srv):
    slow = Stream(srv.port)
    msg = options(srv, slow)
    state = {"sent": 0, "closed_at": None}
    t0 = time.time()

    def trickle():
        for i in range(len(msg)):
            try:
                slow.send(msg[i:i + 1])
            except OSError:
                state["closed_at"] = time.time() - t0
                return
            state["sent"] += 1
            time.sleep(1)

    th = threading.Thread(target=trickle, daemon=True)
    th.start()
    time.sleep(1.2)
    ok, took = answered(srv)
    tap.ok(ok and took < 0.5, "while a client sends one byte per second, another is answered "
           "at once (%.3f s)" % took)
    closed = slow.closed(6)
    took = time.time() - t0
    tap.ok(closed and 2 <= took <= 5.5,
           "the one-byte-per-second client is cut at tcp.message_timeout (%.1f s, %d bytes)"
           % (took, state["sent"]))
    tap.ok(srv.stats("tcp").get("tcp.timeouts", 0) >= 1, "counted in tcp.timeouts")


def test_limits(tap, srv):
    before = srv.stats("tcp").get("tcp.bad_frames", 0)
    big = Stream(srv.port)
    big.send(b"OPTIONS sip:127.0.0.1 SIP/2.0\r\n" + b"X-Fill: " + b"a" * 3000 + b"\r\n")
    tap.ok(big.closed(3), "a header block over tcp.max_header closes the connection")
    huge = Stream(srv.port)
    huge.send(options(srv, huge).replace(b"Content-Length: 0", b"Content-Length: 100000"))
    tap.ok(huge.closed(3), "a Content-Length over tcp.max_message closes the connection")
    tap.ok(srv.stats("tcp").get("tcp.bad_frames", 0) >= before + 2, "counted in tcp.bad_frames")
    ok, took = answered(srv)
    tap.ok(ok, "others are still answered")


def test_flood(tap, srv):
    flood = Stream(srv.port)
    n = 4000
    data = b"".join(options(srv, flood) for _ in range(n))
    th = threading.Thread(target=flood.send, args=(data,), daemon=True)
    th.start()
    time.sleep(0.05)
    ok, took = answered(srv)
    tap.ok(ok and took < 0.5, "while a client floods %d pipelined requests (%d KB), another on "
           "the same worker is answered (%.3f s)" % (n, len(data) // 1024, took))
    got = 0
    while got < n and status(flood.read_msg(5)) == 200:
        got += 1
    tap.eq(got, n, "the flooding client gets every answer")
    flood.close()


def test_idle(tap, srv):
    s = Stream(srv.port)
    t0 = time.time()
    closed = s.closed(8)
    took = time.time() - t0
    tap.ok(closed and 2.5 <= took <= 5.5, "a silent connection is closed at tcp.idle_timeout "
           "(%.1f s)" % took)


def test_max_connections(tap, srv):
    held = [Stream(srv.port) for _ in range(20)]
    time.sleep(0.3)
    extra = [Stream(srv.port) for _ in range(5)]
    refused = sum(1 for s in extra if s.closed(2))
    tap.eq(refused, 5, "connections past tcp.max_connections (20) are closed at once")
    tap.ok(srv.stats("tcp").get("tcp.rejected", 0) >= 5, "counted in tcp.rejected")
    for s in held + extra:
        s.close()


def open_many(port, n):
    socks = []
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
        if i % 500 == 499:
            time.sleep(0.05)
    return socks


def test_idle_10k(tap):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = IDLE + 200
    if hard < need:
        tap.skip("10,000 idle connections", "RLIMIT_NOFILE hard limit %d < %d" % (hard, need))
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    srv = Server(tap, text="")
    srv.write_conf(text=tcp_conf(srv.port, srv.tmp, tcp="max_connections = 12000;"))
    socks = []
    try:
        srv.start()
        t0 = time.time()
        socks = open_many(srv.port, IDLE)
        held = wait_for(lambda: srv.stats("tcp").get("tcp.accepted", 0) >= IDLE, timeout=30,
                        step=0.2)
        tap.ok(held, "%d idle connections accepted (%.1f s)" % (IDLE, time.time() - t0),
               srv.stats("tcp"))
        rc, rows, err = srv.ctl("tcp", "list", json_out=True, timeout_ms=20000)
        tap.ok(rc == 0 and len(rows) == IDLE and len({r["owner"] for r in rows}) == 2,
               "tcp list shows all of them, over both workers",
               "rc %s, %s rows" % (rc, len(rows) if rc == 0 else err))
        ok, took = answered(srv)
        tap.ok(ok and took < 1, "a new connection is answered at once (%.3f s)" % took)
        old = []
        for s in socks[::2500]:
            s.setblocking(True)
            old.append(Stream(srv.port, sock=s))
        for s in old:
            s.send(options(srv, s))
        tap.ok(all(status(s.read_msg(2)) == 200 for s in old),
               "idle connections opened first are answered too")
        tap.eq(srv.stats("tcp").get("tcp.rejected", 0), 0, "none refused")
    finally:
        for s in socks:
            s.close()
        srv.stop()
        cleanup(tap, srv)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def main():
    tap = Tap()
    srv = Server(tap, text="")
    srv.write_conf(text=tcp_conf(srv.port, srv.tmp, tcp_workers=1,
                                 tcp="message_timeout = 3; idle_timeout = 4; max_header = 2048; "
                                 "max_message = 4096; max_connections = 20;"))
    try:
        srv.start()
        test_slow(tap, srv)
        test_limits(tap, srv)
        test_flood(tap, srv)
        test_idle(tap, srv)
        test_max_connections(tap, srv)
    finally:
        srv.stop()
        cleanup(tap, srv)
    test_idle_10k(tap)
    tap.done()


main()
