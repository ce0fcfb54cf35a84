#!/usr/bin/env python3
"""The NAT keepalive pinger on loopback: 10,000 NATed bindings (REGISTERs
with a private Via and Contact, all sent from one UDP sink, so the sink is
every binding's received address) and nat.keepalive.interval = 10 s. The
pings leave evenly (no second sees more than twice the average), each
binding once per interval; answers are counted as pongs; answers from
another address are counted as bad and keep nothing alive; with timeout =
25 s the bindings whose pings go unanswered are removed, the others stay."""
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import Server, Tap, register_msg, udp_socket  # noqa: E402

USERS = 10000
INTERVAL = 10
TIMEOUT = 25
WRONG = 1          # this user's pings are answered from another socket
RURI = re.compile(rb"^OPTIONS sip:ka(\d+)@")
REG_TO = re.compile(rb"\r\nTo: <sip:ka(\d+)@")


def user(i):
    return "ka%05d" % i


def register_all(srv, sink):
    """Registers every user from the sink (answering the pings that start
    meanwhile); the set of users that got 200."""
    ok = set()
    for attempt in range(3):
        todo = [i for i in range(USERS) if i not in ok]
        for start in range(0, len(todo), 400):
            chunk = todo[start:start + 400]
            for i in chunk:
                sink.sock.sendto(register_msg(srv.port, user(i),
                                              contacts=["<sip:%s@10.0.2.15:5060>" % user(i)],
                                              callid="ka-reg-%d" % i, cseq=1 + attempt,
                                              via_host="10.0.2.15", rport=False),
                                 ("127.0.0.1", srv.port))
            deadline = time.time() + 2
            sink.run(deadline, stop=lambda: all(i in ok for i in chunk), registered=ok)
        if len(ok) == USERS:
            break
    return ok


def answer(req):
    """A 200 to a ping: its Via, From, To, Call-ID and CSeq copied."""
    keep = [ln for ln in req.split(b"\r\n")[1:]
            if ln.split(b":")[0].lower() in (b"via", b"from", b"to", b"call-id", b"cseq")]
    return b"SIP/2.0 200 OK\r\n" + b"\r\n".join(keep) + b"\r\nContent-Length: 0\r\n\r\n"


class Sink:
    """Receives the pings, answers those of even users (and WRONG's from
    another socket), records (time, user) of each."""

    def __init__(self, sock, other):
        self.sock, self.other = sock, other
        self.pings, self.answered, self.wrong = [], 0, 0

    def run(self, until, stop=None, registered=None):
        self.sock.settimeout(0.05)
        while time.time() < until and not (stop and stop()):
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            if data.startswith(b"SIP/2.0 200 ") and registered is not None:
                m = REG_TO.search(data)
                if m:
                    registered.add(int(m.group(1)))
                continue
            m = RURI.match(data)
            if m:
                self.ping(data, addr, int(m.group(1)))

    def ping(self, data, addr, i):
        self.pings.append((time.time(), i))
        if i == WRONG:
            self.other.sendto(answer(data), addr)
            self.wrong += 1
        elif i % 2 == 0:
            self.sock.sendto(answer(data), addr)
            self.answered += 1


def test_even(tap, sink, t0):
    window = [(t, i) for t, i in sink.pings if t0 <= t < t0 + INTERVAL]
    per_second = [0] * INTERVAL
    for t, _ in window:
        per_second[int(t - t0)] += 1
    avg = len(window) / INTERVAL
    tap.diag("pings per second over one interval: %s (average %.0f)" % (per_second, avg))
    tenth = [0] * (INTERVAL * 10)
    for t, _ in window:
        tenth[int((t - t0) * 10)] += 1
    tap.diag("per 100 ms: %s" % tenth)
    tap.ok(max(per_second) <= 2 * avg and min(per_second) > 0,
           "no second sees more than twice the average")
    users = {i for _, i in window}
    tap.ok(len(users) >= USERS * 0.99, "each binding pinged within one interval (%d)" % len(users))
    last, close = {}, 0
    for t, i in sink.pings:
        if i in last and t - last[i] < INTERVAL * 0.8:
            close += 1
        last[i] = t
    tap.eq(close, 0, "no binding pinged twice within 0.8 interval")


def main():
    tap = Tap()
    srv = Server(extra="nat = { keepalive = { interval = %d; timeout = %d; }; };" % (INTERVAL, TIMEOUT))
    sink, other = udp_socket(), udp_socket()
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    with srv:
        s = Sink(sink, other)
        ok = register_all(srv, s)
        tap.eq(len(ok), USERS, "%d NATed bindings registered from the sink" % USERS)
        st = srv.stats("usrloc")
        tap.eq(st.get("usrloc.contacts"), USERS, "the location table holds them")
        t0 = time.time() + 0.5
        s.run(t0 + INTERVAL + 1)
        test_even(tap, s, t0)
        st = srv.stats("nat")
        tap.ok(st["nat.pings_sent"] >= len(s.pings), "nat.pings_sent counts them", st)
        tap.ok(st["nat.pongs"] >= s.answered * 0.99 and st["nat.pongs"] <= s.answered,
               "answers counted as pongs (%d of %d)" % (st["nat.pongs"], s.answered))
        tap.ok(st["nat.bad_pongs"] >= s.wrong >= 1, "answers from another address: bad pongs", st)
        half = USERS // 2

        checked = [0]

        def dropped():
            if time.time() - checked[0] < 0.5:
                return False
            checked[0] = time.time()
            return srv.stats("nat")["nat.bindings_dropped"] >= half
        s.run(t0 + TIMEOUT + INTERVAL + 5, stop=dropped)
        stopped = time.time()
        st = srv.stats()
        tap.eq(st["nat.bindings_dropped"], half, "unanswered bindings dropped after the timeout")
        tap.eq(st["usrloc.contacts"], half, "the answered half stays")
        rc, _, _ = srv.ctl("nat", "show", "%s@localhost" % user(WRONG))
        tap.ok(rc != 0, "answers from the wrong address kept nothing alive")
        rc, out, _ = srv.ctl("nat", "show", "%s@localhost" % user(2), json_out=True)
        b = next(iter(out["bindings"].values())) if rc == 0 else {}
        ago = b.get("last_keepalive_ago_s")
        tap.ok(ago is not None and ago <= INTERVAL + 1 + time.time() - stopped and
               b.get("rtt_ms") is not None,
               "nat show: an answering binding's last keepalive and round trip", b)
        tap.ok(srv.proc.poll() is None, "pinhole still running")
    tap.done()


main()
