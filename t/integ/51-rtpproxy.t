#!/usr/bin/env python3
"""The rtpproxy control protocol on relay.control against a running pinhole:
every command over UDP (V, VF, U, L, Q, I, D, X), RTP relayed both ways
for a session made with U and L, malformed commands and their E-codes,
commands for unknown sessions, retransmitted cookies answered from the
reply cache without running twice (counted), port exhaustion answered
with E72 while the relay keeps serving, and the control counters. Two
relay workers watch the control socket, so a retransmission may reach
the worker that did not run the command: the reply cache is in shm."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import Server, Tap, free_port, free_port_range  # noqa: E402

NPORTS = 12          # three sessions of four ports (RTP+RTCP per leg)


class Control:
    """A client of relay.control: cmd() sends with a fresh cookie and
    returns the reply text after the cookie (None when nothing came)."""

    def __init__(self, port):
        self.addr = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.n = 0

    def raw(self, data, timeout=1.0):
        self.sock.sendto(data, self.addr)
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode()
        except socket.timeout:
            return None

    def cmd(self, text, cookie=None, timeout=1.0):
        if cookie is None:
            self.n += 1
            cookie = "%d_%d" % (os.getpid(), self.n)
        reply = self.raw(("%s %s" % (cookie, text)).encode(), timeout)
        if reply is None:
            return None
        if not reply.startswith(cookie + " "):
            return "BAD COOKIE: " + reply
        return reply[len(cookie) + 1:].rstrip("\n")


def udp(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    s.settimeout(1.0)
    return s


def rtp(seq, payload=b"x" * 160):
    return bytes([0x80, 0, seq >> 8, seq & 255]) + b"\0\0\0\0" + b"\x12\x34\x56\x78" + payload


def receive(sock, timeout=1.0):
    sock.settimeout(timeout)
    try:
        return sock.recvfrom(2048)
    except socket.timeout:
        return None, None


def check_version(t, c):
    t.eq(c.cmd("V"), "20040107", "V: protocol version 20040107")
    for date, want in (("20040107", "1"), ("20050322", "1"), ("20060704", "1"),
                       ("20080403", "1"), ("20071116", "0"), ("20081102", "0"),
                       ("20081224", "0"), ("20150420", "0"), ("99999999", "0")):
        t.eq(c.cmd("VF %s" % date), want, "VF %s: %s" % (date, want))


def create_call(t, c, call, a, b):
    """U then L for call between sockets a and b; (port a sends to, port b
    sends to) from the replies."""
    ua = c.cmd("U %s 127.0.0.1 %d fa;1" % (call, a.getsockname()[1]))
    parts = (ua or "").split()
    t.ok(len(parts) == 2 and parts[1] == "127.0.0.1" and parts[0].isdigit(),
         "U: 'PORT 127.0.0.1'", ua)
    lb = c.cmd("L %s 127.0.0.1 %d fa;1 tb;1" % (call, b.getsockname()[1]))
    parts_l = (lb or "").split()
    t.ok(len(parts_l) == 2 and parts_l[1] == "127.0.0.1" and parts_l[0].isdigit(),
         "L: 'PORT 127.0.0.1'", lb)
    if len(parts) != 2 or len(parts_l) != 2:
        return None, None
    return int(parts_l[0]), int(parts[0])


def check_rtp(t, a, b, to_b, to_a, rng):
    """a sends to to_b (arrives at b), b to to_a (arrives at a)."""
    lo, hi = rng
    t.ok(lo <= to_b < hi and lo <= to_a < hi and to_a % 2 == 0 and to_b % 2 == 0
         and to_a != to_b, "relay ports even, distinct, inside relay.ports",
         "%s %s in %s" % (to_a, to_b, rng))
    got_b = got_a = 0
    for i in range(5):
        a.sendto(rtp(i, b"from-a-%d" % i), ("127.0.0.1", to_b))
        data, src = receive(b)
        if data and data.endswith(b"from-a-%d" % i) and src == ("127.0.0.1", to_a):
            got_b += 1
        b.sendto(rtp(i, b"from-b-%d" % i), ("127.0.0.1", to_a))
        data, src = receive(a)
        if data and data.endswith(b"from-b-%d" % i) and src == ("127.0.0.1", to_b):
            got_a += 1
    t.eq(got_b, 5, "RTP from a reaches b, from the port b sends to (symmetric)")
    t.eq(got_a, 5, "RTP from b reaches a, from the port a sends to")


def check_query_info(t, c, call):
    # a relay worker counts a packet when its send completes, which it
    # learns at its next round (up to 2 ms after the packet left)
    deadline = time.time() + 1
    while True:
        q = c.cmd("Q %s fa;1 tb;1" % call)
        f = (q or "").split()
        done = len(f) == 5 and all(x.isdigit() for x in f) and int(f[3]) >= 10
        if done or time.time() > deadline:
            break
        time.sleep(0.01)
    t.ok(len(f) == 5 and all(x.isdigit() for x in f), "Q: five numbers", q)
    if len(f) == 5:
        t.ok(50 <= int(f[0]) <= 60, "Q: ttl within relay.timeout", q)
        t.ok(int(f[1]) >= 5 and int(f[2]) >= 5 and int(f[3]) >= 10,
             "Q: packets from each party and relayed counted", q)
    qv = c.cmd("Qv %s tb fa" % call)
    t.ok(qv is not None and qv.startswith("ttl=") and "npkts_ina=" in qv and "ndropped=" in qv,
         "Qv: name=value pairs", qv)
    t.eq(c.cmd("Q %s fa tb rtpa_nlost" % call), "E62", "Q of a counter pinhole lacks: E62")
    info = c.cmd("I") or ""
    t.ok("sessions created: " in info and "active sessions: 1\n" in info + "\n",
         "I: sessions created and one active session", info)


def check_retransmit(t, c, srv, call, a):
    before = srv.stats("relay")
    cookie = "%d_re" % os.getpid()
    text = "U %s 127.0.0.1 %d re;1" % (call, a.getsockname()[1])
    first = c.cmd(text, cookie=cookie)
    again = c.cmd(text, cookie=cookie)
    t.ok(first is not None and first == again, "retransmitted U: the same answer", (first, again))
    after = srv.stats("relay")
    t.eq(after["relay.control_retransmits"] - before["relay.control_retransmits"], 1,
         "retransmission counted in relay.control_retransmits")
    t.eq(after["relay.sessions_created"] - before["relay.sessions_created"], 1,
         "retransmitted U not executed twice: one session created")
    other = Control(c.addr[1])
    third = other.cmd(text, cookie=cookie)
    t.ok(third is not None and third == first,
         "same cookie from another source: executed (an update of the same session)", third)
    t.eq(c.cmd("D %s re" % call), "0", "D of the retransmitted session")


def check_malformed(t, c):
    t.eq(c.raw(b"lonelycookie"), "lonelycookie E5\n", "cookie without a command: E5")
    t.eq(c.raw(b"   \r\n", timeout=0.5), None, "empty datagram: no answer")
    for text, code, what in (("Z", "E0", "unknown command"),
                             ("P cid pname 0 ft", "E0", "play (not implemented)"),
                             ("V 1", "E1", "V with an argument"),
                             ("VF", "E1", "VF without a date"),
                             ("Vx", "E2", "V with a modifier"),
                             ("U cid 1.2.3.4", "E1", "U without port and tag"),
                             ("L cid 1.2.3.4 4000 a b c", "E1", "L with too many arguments"),
                             ("L cid 1.2.3.4 4000 a", "E1", "L without the to tag"),
                             ("D cid", "E1", "D without tag"),
                             ("Dx cid t", "E8", "D with an unknown modifier"),
                             ("Ue cid 1.2.3.4 4000 t", "E11", "U asking for bridging"),
                             ("Uz cid 1.2.3.4 4000 t", "E13", "U with z and no ptime"),
                             ("Uc cid 1.2.3.4 4000 t", "E14", "U with c and no codecs"),
                             ("Ix", "E18", "I with an unknown modifier"),
                             ("Qx cid t", "E19", "Q with an unknown modifier"),
                             ("U cid 1.2.3.4 4000 t;0", "E5", "media number 0"),
                             ("U cid 1.2.3.4 4000 %s" % ("t" * 200), "E31", "tag too long"),
                             ("X junk", "E1", "X with an argument")):
        t.eq(c.cmd(text), code, "%s: %s" % (what, code))


def check_unknown(t, c):
    t.eq(c.cmd("D nosuchcall ft"), "E50", "D of an unknown session: E50")
    t.eq(c.cmd("Q nosuchcall ft tt"), "E50", "Q of an unknown session: E50")
    t.eq(c.cmd("L nosuchcall 127.0.0.1 4000 ft;1 tt;1"), "0",
         "L of an unknown session: port 0 (rtpproxy's answer), nothing created")
    info = c.cmd("I") or ""
    t.ok("active sessions: 0" in info, "no session after the unknown-session commands", info)


def check_delete(t, c, call, a, b, to_b):
    t.eq(c.cmd("D %s fa tb" % call), "0", "D: 0")
    t.eq(c.cmd("Q %s fa tb" % call), "E50", "Q after D: E50")
    a.sendto(rtp(99, b"after-delete"), ("127.0.0.1", to_b))
    data, _ = receive(b, 0.5)
    t.ok(data is None, "RTP no longer relayed after D")
    t.eq(c.cmd("D %s fa tb" % call), "E50", "D again: E50")


def check_exhaustion(t, c, a):
    replies = [c.cmd("U full-%d 127.0.0.1 %d f;1" % (i, a.getsockname()[1])) for i in range(5)]
    ok = [r for r in replies if r and r.split()[0].isdigit() and r.split()[0] != "0"]
    t.ok(len(ok) == NPORTS // 4, "as many sessions as relay.ports holds", replies)
    t.ok(replies[-1] == "E72", "then no free ports: E72", replies)
    t.eq(c.cmd("V"), "20040107", "the control socket keeps serving after E72")
    t.eq(c.cmd("X"), "0", "X: 0")
    info = c.cmd("I") or ""
    t.ok("active sessions: 0" in info, "X deleted every session", info)
    again = c.cmd("U full-again 127.0.0.1 %d f;1" % a.getsockname()[1])
    t.ok(again is not None and again.split()[0].isdigit() and again != "0",
         "after X the ports are free again", again)
    c.cmd("X")


def check_counters(t, srv, commands_before):
    st = srv.stats("relay")
    t.ok(st["relay.control_commands"] - commands_before >= 40,
         "relay.control_commands counts the commands", st["relay.control_commands"])
    t.ok(st["relay.control_errors"] >= 20, "relay.control_errors counts the E answers",
         st["relay.control_errors"])


def main():
    t = Tap()
    base = free_port_range(NPORTS)
    ctl_port = free_port()
    extra = ('relay = { mode = "never"; address = "127.0.0.1"; ports = [ %d, %d ]; '
             'timeout = 60; control = "udp:127.0.0.1:%d"; };' % (base, base + NPORTS - 1, ctl_port))
    srv = Server(t, workers_relay=2, extra=extra)
    try:
        srv.start()
        c = Control(ctl_port)
        commands_before = srv.stats("relay")["relay.control_commands"]
        check_version(t, c)
        a, b = udp(), udp()
        call = "rtpp-%d@test" % os.getpid()
        to_b, to_a = create_call(t, c, call, a, b)
        if to_b is not None:
            check_rtp(t, a, b, to_b, to_a, (base, base + NPORTS))
            check_query_info(t, c, call)
            check_retransmit(t, c, srv, call, a)
            check_delete(t, c, call, a, b, to_b)
        check_malformed(t, c)
        check_unknown(t, c)
        check_exhaustion(t, c, a)
        check_counters(t, srv, commands_before)
        t.ok(srv.proc.poll() is None, "pinhole still running")
    except Exception as e:  # noqa: BLE001
        t.ok(False, "test ran without exception", "%s\n%s" % (e, srv.log_text()[-3000:]))
    finally:
        srv.stop()
    t.done()


if __name__ == "__main__":
    main()
