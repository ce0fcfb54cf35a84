#!/usr/bin/env python3
"""Calls between sipp user agents through pinhole's stateful proxy, with the
scenarios of contrib/sipp: callees register their own address
(register_contact.xml), each test under its own user, then a registered
caller calls user@localhost through pinhole. Covered: a call
INVITE/100/180/200/ACK/BYE/200 with the ACK and the BYE following the
Record-Route set; CANCEL before the answer; a busy callee (486 forwarded);
no answer (408 after tm.fr_inv, the ringing callee cancelled); an AOR never
registered (480) and, with subscribers, an unknown user (404) and a
subscriber not registered (480); forking to two bindings, one answering and
the other cancelled; a 603 on one branch cancelling the other; and 20 calls
with both user agents losing 10 % of their messages (sipp -lost), completed
through retransmissions. Each side's assertions come from sipp's exit
status and its message trace (-trace_msg)."""
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import (PINHOLE, Server, Tap, free_port, render_conf, request_msg,  # noqa: E402
                    status_of, udp_socket, wait_for)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = os.path.join(ROOT, "contrib", "sipp")
DOMAIN = "localhost"
FR_INV = 3
TM = "tm = { fr_inv = %d; };" % FR_INV
_runs = [0]


class Sipp:
    """One sipp process in a directory of its own under the server's tmp,
    with its message trace, error log and statistics file there."""

    def __init__(self, srv, scenario, port, args, remote=True, user="caller"):
        _runs[0] += 1
        self.name = "%02d-%s" % (_runs[0], scenario)
        self.dir = os.path.join(srv.tmp, self.name)
        os.makedirs(self.dir)
        self.port = port
        cmd = ["sipp", "-sf", os.path.join(SCENARIOS, scenario + ".xml"), "-s", user,
               "-key", "domain", DOMAIN, "-i", "127.0.0.1", "-p", str(port), "-nostdin",
               "-timeout", "40", "-trace_msg", "-message_file", "messages.log",
               "-trace_err", "-error_file", "errors.log",
               "-trace_stat", "-stf", "stat.csv"] + list(args)
        if remote:
            cmd.append("127.0.0.1:%d" % srv.port)
        self.out = open(os.path.join(self.dir, "stdout"), "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.dir, stdout=self.out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.rc = None

    def wait(self, timeout=60):
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.rc = self.proc.wait()
        self.out.close()
        return self.rc

    def listening(self):
        """True once sipp holds its UDP port."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", self.port))
            return False
        except OSError:
            return True
        finally:
            s.close()

    def stats(self):
        """The last line of sipp's statistics file as a dict of counters."""
        try:
            with open(os.path.join(self.dir, "stat.csv")) as f:
                rows = [line.rstrip("\n").split(";") for line in f if line.strip()]
        except OSError:
            return {}
        if len(rows) < 2:
            return {}
        return dict(zip(rows[0], rows[-1]))

    def count(self, name):
        try:
            return int(self.stats().get(name, "0"))
        except ValueError:
            return 0

    def messages(self):
        """[(direction, lost, text, time)] from the trace: direction "sent"
        or "recv", time in seconds of the day. sipp marks a message it
        drops on purpose (-lost) after the message when receiving; when
        sending it writes only the mark, listed as a lost "sent" with no
        text."""
        try:
            with open(os.path.join(self.dir, "messages.log"), encoding="latin-1") as f:
                text = f.read()
        except OSError:
            return []
        out = []
        parts = re.split(r"-{40,} [0-9-]+ ([0-9]+):([0-9]+):([0-9.]+)\n", text)
        for i in range(1, len(parts) - 3, 4):
            h, mi, sec, block = parts[i:i + 4]
            t = int(h) * 3600 + int(mi) * 60 + float(sec)
            m = re.match(r"UDP message (sent|received)[^\n]*\n\n", block)
            body = block[m.end():] if m else block
            mark = re.search(r"UDP message[^\n]*lost[^\n]*\s*$", body)
            if mark:
                body = body[:mark.start()]
            if m:
                out.append(("sent" if m.group(1) == "sent" else "recv",
                            bool(mark and "(recv)" in mark.group(0)), body.strip("\n"), t))
            if mark and "sending" in mark.group(0):
                out.append(("sent", True, "", t))
        return out

    def stop(self):
        """Ends a callee started without -m (SIGTERM)."""
        self.proc.terminate()
        return self.wait(10)

    def diag(self):
        lines = ["sipp %s exited %s" % (self.name, self.rc)]
        try:
            with open(os.path.join(self.dir, "errors.log"), encoding="latin-1") as f:
                lines += f.read().splitlines()[:40]
        except OSError:
            pass
        return "\n".join(lines)


def first_line(msg):
    return msg.split("\n", 1)[0].strip()


def hdrs(msg, name):
    """Every value of header name (long form) in a traced message."""
    out = []
    for line in msg.split("\n\n", 1)[0].split("\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            out.append(v.strip())
    return out


def pick(msgs, direction, start, cseq=None, lost=False):
    """Messages of one direction whose first line starts with start (and
    whose CSeq method is cseq, when given); lost ones only when asked."""
    return [t for d, lo, t, _ in msgs
            if d == direction and (lost or not lo) and first_line(t).startswith(start) and
            (cseq is None or any(c.endswith(" " + cseq) for c in hdrs(t, "CSeq")))]


def register(tap, srv, port, user):
    s = Sipp(srv, "register_contact", port, ["-m", "1"], remote=True, user=user)
    return tap.ok(s.wait(30) == 0, "%s registers 127.0.0.1:%d" % (user, port), s.diag())


def start_uas(tap, srv, scenario, port, user, calls, args=()):
    """A callee (already registered as user on port) waiting for calls."""
    uas = Sipp(srv, scenario, port, ["-m", str(calls)] + list(args), remote=False, user=user)
    if not wait_for(uas.listening, timeout=5):
        tap.diag("sipp %s does not listen on %d" % (scenario, port))
    return uas


def call(tap, srv, uac_scenario, callee, uas_list, calls=1, args=()):
    """The caller, registered first (one more binding of caller@localhost
    each time, under registrar.max_contacts), calls callee (-m calls) while
    the callees in uas_list answer; returns it once every process ended."""
    uac_port = free_port()
    register(tap, srv, uac_port, "caller")
    uac = Sipp(srv, uac_scenario, uac_port, ["-m", str(calls)] + list(args), user=callee)
    uac.wait()
    for uas in uas_list:
        uas.wait(30)
    return uac


def test_call(tap, srv):
    uas_port = free_port()
    register(tap, srv, uas_port, user="bob")
    before = srv.stats("core")["core.fwd_requests"]
    uas = start_uas(tap, srv, "uas_answer", uas_port, "bob", 3,
                    ["-d", "200", "-set", "linger", "0"])
    uac = call(tap, srv, "uac_call", "bob", [uas], calls=3, args=["-r", "10", "-d", "200"])
    tap.ok(uac.rc == 0 and uac.count("SuccessfulCall(C)") == 3,
           "3 calls INVITE/100/180/200/ACK/BYE/200 complete for the caller", uac.diag())
    tap.ok(uas.rc == 0 and uas.count("SuccessfulCall(C)") == 3,
           "and for the callee (each INVITE record-routed, ACK and BYE without Route)", uas.diag())
    rr = "<sip:127.0.0.1:%d;lr>" % srv.port
    got, sent = uas.messages(), uac.messages()
    invites = pick(got, "recv", "INVITE ")
    tap.ok(len(invites) == 3 and all(rr in hdrs(m, "Record-Route")[0] for m in invites),
           "the callee's INVITEs carry Record-Route %s" % rr,
           [hdrs(m, "Record-Route") for m in invites])
    tap.ok(all(hdrs(m, "Max-Forwards") == ["69"] and len(hdrs(m, "Via")) == 2 for m in invites),
           "with Max-Forwards 69 and the proxy's Via on top of the caller's")
    ok200 = pick(sent, "recv", "SIP/2.0 200", cseq="INVITE")
    tap.ok(ok200 and all(rr in ",".join(hdrs(m, "Record-Route")) for m in ok200),
           "the caller's 200s carry the Record-Route back")
    for method in ("ACK", "BYE"):
        out = pick(sent, "sent", method + " ")
        tap.ok(len(out) >= 3 and all(hdrs(m, "Route") == [rr] for m in out) and
               all(first_line(m).startswith("%s sip:bob@127.0.0.1:%d " % (method, uas_port))
                   for m in out),
               "the caller sends %s to the callee's Contact with Route %s" % (method, rr),
               [first_line(m) for m in out])
        came = pick(got, "recv", method + " ")
        top = [hdrs(m, "Via")[0] for m in came]
        tap.ok(len(came) >= 3 and all(not hdrs(m, "Route") for m in came) and
               all("127.0.0.1:%d;" % srv.port in v for v in top),
               "the callee receives the %s from pinhole, its Route entry removed" % method,
               [first_line(m) for m in came])
    fwd = srv.stats("core")["core.fwd_requests"] - before
    tap.ok(fwd >= 9, "pinhole forwarded INVITE, ACK and BYE of each call (core.fwd_requests +%d)"
           % fwd)


def test_cancel(tap, srv):
    uas_port = free_port()
    register(tap, srv, uas_port, user="carol")
    uas = start_uas(tap, srv, "uas_ring", uas_port, "carol", 1)
    uac = call(tap, srv, "uac_cancel", "carol", [uas], args=["-d", "300"])
    sent = uac.messages()
    tap.ok(uac.rc == 0 and pick(sent, "recv", "SIP/2.0 200", cseq="CANCEL") and
           pick(sent, "recv", "SIP/2.0 487", cseq="INVITE"),
           "CANCEL after the 180: the caller gets 200 for the CANCEL and 487 for the INVITE",
           uac.diag())
    tap.ok(uas.rc == 0 and pick(uas.messages(), "recv", "CANCEL "),
           "the CANCEL reaches the callee, whose 487 is ACKed by pinhole", uas.diag())
    cancel_matches_invite(tap, uas)


def cancel_matches_invite(tap, uas):
    """RFC 3261 section 9.1: the CANCEL a proxy sends has the Request-URI,
    the single top Via (branch) and the CSeq number of the INVITE."""
    got = uas.messages()
    inv, can = pick(got, "recv", "INVITE "), pick(got, "recv", "CANCEL ")
    same = bool(inv and can) and (
        first_line(can[0]).split()[1] == first_line(inv[0]).split()[1] and
        hdrs(can[0], "Via") == hdrs(inv[0], "Via")[:1] and
        hdrs(can[0], "CSeq")[0].split()[0] == hdrs(inv[0], "CSeq")[0].split()[0])
    tap.ok(same, "the CANCEL has the INVITE's Request-URI, top Via and CSeq number",
           [(first_line(m), hdrs(m, "Via"), hdrs(m, "CSeq")) for m in inv[:1] + can[:1]])


def test_busy(tap, srv):
    uas_port = free_port()
    register(tap, srv, uas_port, user="dave")
    uas = start_uas(tap, srv, "uas_busy", uas_port, "dave", 1)
    uac = call(tap, srv, "uac_busy", "dave", [uas])
    tap.ok(uac.rc == 0 and pick(uac.messages(), "recv", "SIP/2.0 486"),
           "busy callee: the 486 is forwarded to the caller", uac.diag())
    tap.ok(uas.rc == 0, "pinhole ACKs the callee's 486", uas.diag())


def test_no_answer(tap, srv, have_tm):
    if not have_tm:
        for name in ("no answer: 408", "after tm.fr_inv", "the ringing callee is cancelled",
                     "with a CANCEL matching the INVITE"):
            tap.skip(name, "this pinhole rejects tm.fr_inv")
        return
    uas_port = free_port()
    register(tap, srv, uas_port, user="erin")
    uas = start_uas(tap, srv, "uas_ring", uas_port, "erin", 1)
    uac = call(tap, srv, "uac_noanswer", "erin", [uas])
    sent = uac.messages()
    t_inv = [t for d, _, m, t in sent if d == "sent" and m.startswith("INVITE ")]
    t_408 = [t for d, _, m, t in sent if d == "recv" and m.startswith("SIP/2.0 408")]
    tap.ok(uac.rc == 0 and pick(sent, "recv", "SIP/2.0 180") and t_408,
           "no answer: 180, then 408 to the caller", uac.diag())
    waited = t_408[0] - t_inv[0] if t_inv and t_408 else -1
    tap.ok(FR_INV - 0.5 <= waited <= FR_INV + 2,
           "the 408 comes when tm.fr_inv (%d s) fires (after %.1f s)" % (FR_INV, waited))
    tap.ok(uas.rc == 0 and pick(uas.messages(), "recv", "CANCEL "),
           "the ringing callee gets a CANCEL and its 487 is ACKed", uas.diag())
    cancel_matches_invite(tap, uas)


def final_status(srv, ruri):
    """Sends an INVITE from a raw socket; returns the final status (after
    ACKing it, as a UAC must), or None."""
    sock = udp_socket()
    try:
        inv = request_msg("INVITE", ruri, extra="Contact: <sip:tester@127.0.0.1:%d>\r\n"
                          % sock.getsockname()[1])
        sock.sendto(inv, ("127.0.0.1", srv.port))
        deadline = time.time() + 5
        while time.time() < deadline:
            sock.settimeout(max(deadline - time.time(), 0.01))
            try:
                r = sock.recvfrom(70000)[0]
            except OSError:
                return None
            code = status_of(r)
            if code and code >= 200:
                sock.sendto(ack_for(inv, r), ("127.0.0.1", srv.port))
                return code
        return None
    finally:
        sock.close()


def ack_for(inv, resp):
    """The ACK of a non-2xx final response (RFC 3261 section 17.1.1.3)."""
    head = inv.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    to = [line for line in resp.split(b"\r\n") if line.lower().startswith(b"to:")][0]
    ruri = head[0].split(b" ")[1]
    keep = [line for line in head[1:] if line.split(b":", 1)[0].lower() in
            (b"via", b"from", b"call-id", b"max-forwards")]
    cseq = [line for line in head if line.lower().startswith(b"cseq:")][0]
    lines = [b"ACK " + ruri + b" SIP/2.0"] + keep + [to, cseq.replace(b"INVITE", b"ACK")]
    return b"\r\n".join(lines) + b"\r\nContent-Length: 0\r\n\r\n"


def test_unknown(tap, srv):
    tap.eq(final_status(srv, "sip:nobody@%s" % DOMAIN), 480, "a callee never registered: 480")
    with Server(extra=TM + ' auth = { register = true; invite = false; realm = "localhost"; };') \
            as asrv:
        asrv.ctl("user", "add", "bob@localhost", "builder")
        tap.eq(final_status(asrv, "sip:nobody@%s" % DOMAIN), 404,
               "with subscribers: an unknown callee gets 404")
        tap.eq(final_status(asrv, "sip:bob@%s" % DOMAIN), 480,
               "and a subscriber who is not registered 480")


def test_fork(tap, srv):
    ports = [free_port(), free_port()]
    for p in ports:
        register(tap, srv, p, "frank")
    answer = start_uas(tap, srv, "uas_answer", ports[0], "frank", 1,
                       ["-d", "1000", "-set", "linger", "0"])
    ring = start_uas(tap, srv, "uas_ring", ports[1], "frank", 1)
    uac = call(tap, srv, "uac_call", "frank", [answer, ring])
    tap.ok(uac.rc == 0 and len(pick(uac.messages(), "recv", "SIP/2.0 200", cseq="INVITE")) >= 1,
           "forking to two bindings: the call to the one that answers completes", uac.diag())
    tap.ok(pick(answer.messages(), "recv", "INVITE ") and pick(ring.messages(), "recv", "INVITE "),
           "both bindings got the INVITE")
    tap.ok(answer.rc == 0, "the answering binding gets ACK and BYE", answer.diag())
    tap.ok(ring.rc == 0 and pick(ring.messages(), "recv", "CANCEL "),
           "the other binding gets a CANCEL once the first answered", ring.diag())
    cancel_matches_invite(tap, ring)


def test_6xx(tap, srv):
    ports = [free_port(), free_port()]
    for p in ports:
        register(tap, srv, p, "grace")
    decline = start_uas(tap, srv, "uas_decline", ports[0], "grace", 1, ["-d", "1000"])
    ring = start_uas(tap, srv, "uas_ring", ports[1], "grace", 1)
    uac = call(tap, srv, "uac_decline", "grace", [decline, ring])
    sent = uac.messages()
    tap.ok(uac.rc == 0 and pick(sent, "recv", "SIP/2.0 603"),
           "a 603 on one branch is forwarded to the caller", uac.diag())
    tap.ok(not pick(sent, "recv", "SIP/2.0 487"), "and not the other branch's 487")
    tap.ok(decline.rc == 0, "pinhole ACKs the 603", decline.diag())
    tap.ok(ring.rc == 0 and pick(ring.messages(), "recv", "CANCEL "),
           "the ringing branch gets a CANCEL after the 6xx", ring.diag())
    cancel_matches_invite(tap, ring)


def test_lossy(tap, srv):
    """On a server with the default tm.fr_inv: with 10 % loss a 200 and its
    first retransmissions can all be lost for longer than 3 s."""
    calls = 20
    uas_port = free_port()
    register(tap, srv, uas_port, "heidi")
    before = srv.stats("tm")
    uas = start_uas(tap, srv, "uas_answer", uas_port, "heidi", calls,
                    ["-d", "100", "-lost", "10", "-set", "linger", "16000", "-fd", "1"])
    uac = call(tap, srv, "uac_call", "heidi", [], calls=calls,
               args=["-r", "10", "-d", "1000", "-lost", "10"])
    time.sleep(1.5)
    seen = uas.count("IncomingCall(C)")
    uas.stop()
    lost = sum(1 for s in (uac, uas) for _, lo, _, _ in s.messages() if lo)
    tap.ok(uac.rc == 0 and uac.count("SuccessfulCall(C)") == calls,
           "%d calls with 10 %% loss at both user agents all complete for the caller "
           "(%d messages lost)" % (calls, lost), uac.diag() + "\n" + uas.diag())
    tap.eq(seen, calls, "the callee saw all %d calls" % calls)
    byes = set(hdrs(m, "Call-ID")[0] for m in pick(uas.messages(), "recv", "BYE "))
    tap.eq(len(byes), calls, "and took the BYE of each")
    after = srv.stats("tm")
    retr = (after["tm.rcv_retransmissions"] - before["tm.rcv_retransmissions"],
            after["tm.retransmissions"] - before["tm.retransmissions"])
    tap.ok(lost > 0 and retr[0] + retr[1] > 0,
           "losses were repaired by retransmissions (pinhole absorbed %d, sent %d)" % retr)


def tm_accepted(tmp):
    """Whether this pinhole accepts tm.fr_inv (the proxy's timer keys)."""
    path = os.path.join(tmp, "tm-check.conf")
    with open(path, "w") as f:
        f.write(render_conf(free_port(), tmp, extra=TM))
    return subprocess.run([PINHOLE, "-c", "-f", path], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def main():
    tap = Tap()
    if not shutil.which("sipp"):
        tap.skip("calls through pinhole with sipp", "sipp (Debian sip-tester) not installed")
        tap.done()
    probe = Server()
    have_tm = tm_accepted(probe.tmp)
    shutil.rmtree(probe.tmp, ignore_errors=True)
    with Server(extra=TM if have_tm else "") as srv:
        test_call(tap, srv)
        test_cancel(tap, srv)
        test_busy(tap, srv)
        test_no_answer(tap, srv, have_tm)
        test_unknown(tap, srv)
        test_fork(tap, srv)
        test_6xx(tap, srv)
    with Server() as srv:
        test_lossy(tap, srv)
    tap.done()


main()
