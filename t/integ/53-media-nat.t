#!/usr/bin/env python3
"""Media through pinhole's relay across a real NAT (t/integ/phnat.py): alice
on the private LAN (10.0.2.15) and bob on the public side register and
alice calls bob through pinhole, both as raw-socket phones in this process
(t/integ/phrtp.py opens their sockets inside the namespaces). Checked: the
SDP each side receives points at the relay (c=, o=, m= port, a=rtcp, the
a=nortpproxy:yes marker) while the private address never crosses; RTP from
each side reaches the other through the relay, in both directions (RTCP
too), which for alice is only possible through the NAT's public address the
relay latched, as `pinholectl relay list` shows; a re-INVITE moving alice's
media to a new port keeps the relay ports, media follows the new port and
the relay re-latches; bob puts alice on hold (a=sendonly / a=recvonly: only
bob's packets are forwarded) and resumes; with the relay's only session
taken a second call gets a 503; BYE removes the session, and so do a 486
and a CANCEL (the next call gets the freed ports each time); a late offer
(SDP in the 200 and the ACK) is relayed and bob's BYE ends it; bob calling
alice is relayed too (the callee's binding is NATed); and with relay.mode =
"never" (a reload) the SDP crosses untouched. Needs root (skipped
otherwise)."""
import os
import re
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import phnat  # noqa: E402
import phrtp  # noqa: E402
from phtest import PINHOLE, Server, Tap, wait_for  # noqa: E402

DOMAIN = phnat.WAN_IP
PROXY = (phnat.WAN_IP, 5060)
RELAY_PORTS = (35000, 35003)   # one session: exhaustion is easy to reach
ALICE_SIP, BOB_SIP = (phnat.LAN_IP, 5060), (phnat.WAN_IP, 5070)
ALICE_RTP, ALICE_RTP2, BOB_RTP = 40000, 40010, 42000


class NsServer(Server):
    """pinhole inside the public namespace with one relay worker."""

    def __init__(self, bed):
        self.bed = bed
        Server.__init__(self, None, text="")
        self.write_mode("nat")

    def write_mode(self, mode):
        self.write_conf(text="""# 53-media-nat.t
listen = ( { proto = "udp"; address = "%s"; port = 5060; } );
domains = [ "%s" ];
workers = { udp = 2; tcp = 0; tls = 0; relay = 1; };
shm_size = "32M";
db = { path = "%s/db"; location = "memory"; };
ctl = { fifo = "%s/pinhole.fifo"; };
pid_file = "%s/pinhole.pid";
log = { level = "info"; target = "stderr"; };
relay = { mode = "%s"; address = "%s"; ports = [ %d, %d ]; timeout = 60; control = ""; };
nat = { keepalive = { interval = 600; }; };
""" % ((phnat.WAN_IP, DOMAIN, self.tmp, self.tmp, self.tmp, mode, phnat.WAN_IP) + RELAY_PORTS))

    def start(self, timeout=10):
        self.log = open(self.log_path, "ab")
        self.proc = self.bed.popen(self.bed.wan, [PINHOLE, "-F", "-f", self.conf_path],
                                   stdout=self.log, stderr=self.log, start_new_session=True)
        up = wait_for(lambda: self.proc.poll() is None and os.path.exists(self.fifo) and
                      self.ctl("uptime")[0] == 0, timeout=timeout)
        if not up:
            raise RuntimeError("pinhole did not come up:\n" + self.log_text())
        return self


# ---- a raw-socket SIP phone -------------------------------------------------

class Msg:
    def __init__(self, data):
        text = data.decode("utf-8", "replace")
        head, _, self.body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.start = lines[0]
        self.headers = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:] if ":" in l]
        self.is_response = self.start.startswith("SIP/2.0 ")
        self.status = int(self.start[8:11]) if self.is_response else 0
        self.method = None if self.is_response else self.start.split()[0]

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def get(self, name):
        v = self.all(name)
        return v[0] if v else None

    def cseq(self):
        return self.get("CSeq") or ""

    def tag(self, name):
        m = re.search(r";\s*tag=([^;>\s]+)", self.get(name) or "")
        return m.group(1) if m else None


def sdp(ip, port, direction="sendrecv", version=1):
    return ("v=0\r\no=%s 4711 %d IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=rtcp:%d\r\na=%s\r\n"
            % ("ph", version, ip, ip, port, port + 1, direction))


def sdp_media(body):
    """(c= address, m= port, a=rtcp port or None, has marker, direction) of an SDP."""
    c = re.findall(r"^c=IN IP4 (\S+)", body, re.M)
    m = re.search(r"^m=audio (\d+) ", body, re.M)
    r = re.search(r"^a=rtcp:(\d+)", body, re.M)
    o = re.search(r"^o=\S+ \S+ \S+ IN IP4 (\S+)", body, re.M)
    d = re.search(r"^a=(sendrecv|sendonly|recvonly|inactive)", body, re.M)
    return {"c": c, "port": int(m.group(1)) if m else None, "rtcp": int(r.group(1)) if r else None,
            "o": o.group(1) if o else None, "marker": "a=nortpproxy:yes" in body,
            "dir": d.group(1) if d else None}


class Phone:
    """A UA on one UDP socket: requests it sends, responses it waits for,
    requests it receives (others, like keepalive OPTIONS, are answered 200)."""

    def __init__(self, sock, user, addr):
        self.sock, self.user, self.addr = sock, user, addr
        self.n = 0
        self.pending = []

    def uri(self):
        return "sip:%s@%s:%d" % (self.user, self.addr[0], self.addr[1])

    def branch(self):
        self.n += 1
        return "z9hG4bK-%s-%d-%d" % (self.user, os.getpid(), self.n)

    def send(self, text, dst=PROXY):
        self.sock.sendto(text.encode(), dst)

    def recv(self, want, timeout=3.0):
        """The first message for which want(msg) is true; others queue."""
        for i, (m, src) in enumerate(self.pending):
            if want(m):
                del self.pending[i]
                return m, src
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                break
            m = Msg(data)
            if want(m):
                return m, src
            if not m.is_response and m.method == "OPTIONS":
                self.send(self.reply_text(m, 200, "OK"), src)
            else:
                self.pending.append((m, src))
        return None, None

    def response(self, method, min_status=200, timeout=3.0, call_id=None):
        return self.recv(lambda m: m.is_response and m.cseq().endswith(method) and
                         m.status >= min_status and call_id in (None, m.get("Call-ID")),
                         timeout)[0]

    def request(self, method, timeout=3.0, call_id=None):
        return self.recv(lambda m: not m.is_response and m.method == method and
                         call_id in (None, m.get("Call-ID")), timeout)

    def register(self):
        cid = "reg-%s-%d" % (self.user, os.getpid())
        self.send("REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=%s;rport\r\n"
                  "Max-Forwards: 70\r\nFrom: <sip:%s@%s>;tag=r%s\r\nTo: <sip:%s@%s>\r\n"
                  "Call-ID: %s\r\nCSeq: 1 REGISTER\r\nContact: <%s>\r\nExpires: 300\r\n"
                  "Content-Length: 0\r\n\r\n"
                  % (DOMAIN, self.addr[0], self.addr[1], self.branch(), self.user, DOMAIN,
                     self.user, self.user, DOMAIN, cid, self.uri()))
        r = self.response("REGISTER")
        return r is not None and r.status == 200

    def reply_text(self, req, code, reason, body="", to_tag=None, extra=""):
        to = req.get("To")
        if to_tag and "tag=" not in to:
            to += ";tag=" + to_tag
        lines = ["SIP/2.0 %d %s" % (code, reason)]
        lines += ["Via: " + v for v in req.all("Via")]
        lines += ["Record-Route: " + v for v in req.all("Record-Route")]
        lines += ["From: " + req.get("From"), "To: " + to, "Call-ID: " + req.get("Call-ID"),
                  "CSeq: " + req.cseq(), "Contact: <%s>" % self.uri()]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(extra + "Content-Length: %d" % len(body.encode()))
        return "\r\n".join(lines) + "\r\n\r\n" + body


class Dialog:
    """One side's view of a dialog: tags, remote target, route set, CSeq."""

    def __init__(self, phone, call_id, local_tag, remote_uri, local_uri):
        self.phone, self.call_id, self.local_tag = phone, call_id, local_tag
        self.remote_uri, self.local_uri = remote_uri, local_uri
        self.remote_tag, self.target, self.routes, self.cseq = None, None, [], 1

    def request_text(self, method, body="", cseq=None, branch=None):
        p = self.phone
        lines = ["%s %s SIP/2.0" % (method, self.target),
                 "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (p.addr[0], p.addr[1],
                                                             branch or p.branch()),
                 "Max-Forwards: 70"]
        lines += ["Route: " + r for r in self.routes]
        lines += ["From: <%s>;tag=%s" % (self.local_uri, self.local_tag),
                  "To: <%s>%s" % (self.remote_uri,
                                  ";tag=" + self.remote_tag if self.remote_tag else ""),
                  "Call-ID: " + self.call_id, "CSeq: %d %s" % (cseq or self.cseq, method),
                  "Contact: <%s>" % p.uri()]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body.encode()))
        return "\r\n".join(lines) + "\r\n\r\n" + body


def invite(caller, callee, call_id, offer, timeout=3.0):
    """caller calls callee through pinhole: (caller's dialog, callee's
    dialog, the INVITE the callee got, its source)."""
    aor = lambda p: "sip:%s@%s" % (p.user, DOMAIN)  # noqa: E731
    a = Dialog(caller, call_id, caller.user[0] + "-" + call_id, aor(callee), aor(caller))
    a.target = aor(callee)
    a.inv_branch = caller.branch()
    caller.send(a.request_text("INVITE", offer, branch=a.inv_branch))
    inv, src = callee.request("INVITE", timeout, call_id=call_id)
    if not inv:
        return a, None, None, None
    b = Dialog(callee, call_id, callee.user[0] + "-" + call_id, aor(caller), aor(callee))
    b.remote_tag, b.routes = inv.tag("From"), inv.all("Record-Route")
    b.target = re.search(r"<([^>]+)>", inv.get("Contact")).group(1)
    return a, b, inv, src


def answer(bob, b, inv, src, body):
    bob.send(bob.reply_text(inv, 200, "OK", body, to_tag=b.local_tag), src)


def take_200(alice, a):
    ok = alice.response("INVITE", call_id=a.call_id)
    if ok and ok.status == 200:
        a.remote_tag = ok.tag("To")
        a.routes = list(reversed(ok.all("Record-Route")))
        a.target = re.search(r"<([^>]+)>", ok.get("Contact")).group(1)
    return ok


def ack(phone, d):
    phone.send(d.request_text("ACK", cseq=d.cseq))


def reinvite(caller, d, callee, body, answer_body):
    """In-dialog INVITE from caller's dialog d answered by callee:
    (request the callee got, 200 the caller got)."""
    d.cseq += 1
    caller.send(d.request_text("INVITE", body))
    req, src = callee.request("INVITE")
    if not req:
        return None, None
    callee.send(callee.reply_text(req, 200, "OK", answer_body, to_tag=None), src)
    ok = caller.response("INVITE", call_id=d.call_id)
    if ok and ok.status == 200:
        ack(caller, d)
        callee.request("ACK")
    return req, ok


def reinvite_refused(caller, d, callee, body, code, reason):
    """In-dialog INVITE from caller's dialog d that callee refuses with
    code: the final response the caller got (ACKed)."""
    d.cseq += 1
    d.inv_branch = caller.branch()
    caller.send(d.request_text("INVITE", body, branch=d.inv_branch))
    req, src = callee.request("INVITE")
    if not req:
        return None
    callee.send(callee.reply_text(req, code, reason, to_tag=None), src)
    r = caller.response("INVITE", call_id=d.call_id)
    if r is not None:
        caller.send(ack_for_failure(d, r))
    callee.request("ACK", 1.0)
    return r


# ---- the test ---------------------------------------------------------------------

def relay_list(srv):
    rc, out, err = srv.ctl("relay", "list", json_out=True)
    return out if rc == 0 else None


def in_range(port):
    return port is not None and RELAY_PORTS[0] <= port <= RELAY_PORTS[1]


def from_relay(got, ssrc):
    """Packets of ssrc that came from the relay's address."""
    return [g for g in got if g[1] == ssrc and g[0][0] == phnat.WAN_IP and in_range(g[0][1])]


def check_offer_answer(tap, inv, ok):
    o, a = sdp_media(inv.body), sdp_media(ok.body if ok else "")
    tap.ok(o["c"] == [phnat.WAN_IP] and in_range(o["port"]) and o["marker"],
           "bob's INVITE: c= is the relay, m= a relay port, marker added", inv.body)
    tap.ok(o["o"] == phnat.WAN_IP and o["rtcp"] == (o["port"] or 0) + 1,
           "bob's INVITE: o= address is the relay, a=rtcp is the relay's RTP port + 1", inv.body)
    tap.ok(phnat.LAN_IP not in inv.body, "alice's private address does not reach bob")
    tap.ok(ok is not None and a["c"] == [phnat.WAN_IP] and in_range(a["port"]) and
           a["port"] != o["port"] and a["marker"],
           "alice's 200: the answer points at the relay's other leg", ok.body if ok else None)
    tap.ok(ok is not None and str(BOB_RTP) not in ok.body, "bob's own media port does not reach alice")
    return o["port"], a["port"]


def check_media(tap, alice_rtp, to_bob_leg, bob_rtp, to_alice_leg, what):
    """alice sends to the relay port bob's SDP gave her, bob to the one
    alice's SDP gave him; each must get the other's packets."""
    a_got, b_got = phrtp.exchange(alice_rtp, (phnat.WAN_IP, to_bob_leg),
                                  bob_rtp, (phnat.WAN_IP, to_alice_leg))
    tap.ok(len(from_relay(b_got, alice_rtp.ssrc)) >= 5,
           "%s: alice's RTP reaches bob from the relay" % what, b_got)
    tap.ok(len(from_relay(a_got, bob_rtp.ssrc)) >= 5,
           "%s: bob's RTP reaches alice through the NAT from the relay" % what, a_got)
    return a_got, b_got


def legs(srv, call_id):
    """The legs `pinholectl relay list` shows for call_id, by tag."""
    lst = relay_list(srv)
    return {l["tag"]: l for l in (lst or {}).get("legs", []) if l.get("call_id") == call_id}


def check_latched(tap, srv, a, b, what):
    """relay list: alice's leg latched at the NAT's public address (not
    the private one of her SDP), bob's at his own; both forwarded packets.
    Returns alice's latched address."""
    ls = legs(srv, a.call_id)
    la, lb = ls.get(a.local_tag, {}), ls.get(b.local_tag, {})
    tap.ok(la.get("latched", "").startswith(phnat.NAT_WAN_IP + ":") and
           la.get("sdp", "").startswith(phnat.LAN_IP + ":"),
           "%s: relay list shows alice latched at the NAT's public address" % what, ls)
    tap.ok(lb.get("latched") == "%s:%d" % (phnat.WAN_IP, BOB_RTP) and
           la.get("packets", 0) > 0 and lb.get("packets", 0) > 0,
           "%s: bob latched at his own address, packets counted on both legs" % what, ls)
    tap.ok(la.get("host") == phnat.NAT_WAN_IP and lb.get("host") == phnat.WAN_IP and
           not la.get("provisional") and not lb.get("provisional"),
           "%s: each leg knows its party's signalling host (alice: the NAT's), "
           "both latches final" % what, ls)
    return la.get("latched")


def test_call(tap, bed, srv, alice, bob, arts):
    a_rtp, a_rtp2, b_rtp, a_rtcp, b_rtcp = arts
    a, b, inv, src = invite(alice, bob, "media-1", sdp(phnat.LAN_IP, ALICE_RTP))
    if not tap.ok(inv is not None, "alice's INVITE reaches bob"):
        return
    answer(bob, b, inv, src, sdp(phnat.WAN_IP, BOB_RTP))
    ok = take_200(alice, a)
    ack(alice, a)
    tap.ok(bob.request("ACK")[0] is not None, "the ACK follows the route set to bob")
    to_alice_leg, to_bob_leg = check_offer_answer(tap, inv, ok)
    check_media(tap, a_rtp, to_bob_leg, b_rtp, to_alice_leg, "call")
    a_got, b_got = phrtp.exchange(a_rtcp, (phnat.WAN_IP, to_bob_leg + 1),
                                  b_rtcp, (phnat.WAN_IP, to_alice_leg + 1))
    tap.ok(len(from_relay(b_got, a_rtcp.ssrc)) >= 5 and len(from_relay(a_got, b_rtcp.ssrc)) >= 5,
           "RTCP to the a=rtcp ports both sides got reaches the other side's RTCP port",
           (a_got, b_got))
    first = check_latched(tap, srv, a, b, "call")

    # alice moves her media to a new port: same relay ports, media follows.
    req, ok2 = reinvite(alice, a, bob, sdp(phnat.LAN_IP, ALICE_RTP2, version=2),
                        sdp(phnat.WAN_IP, BOB_RTP, version=2))
    tap.ok(req is not None and sdp_media(req.body)["port"] == to_alice_leg and
           ok2 is not None and sdp_media(ok2.body)["port"] == to_bob_leg,
           "re-INVITE to a new port: both sides keep their relay ports",
           (req.body if req else None, ok2.body if ok2 else None))
    a_got, b_got = check_media(tap, a_rtp2, to_bob_leg, b_rtp, to_alice_leg, "after re-INVITE")
    tap.ok(not [g for g in a_rtp.drain(0.1) if g[1] == b_rtp.ssrc],
           "nothing goes to alice's old port any more")
    moved = check_latched(tap, srv, a, b, "after re-INVITE")
    tap.ok(moved and moved != first, "alice's leg re-latched to her new NAT mapping (%s -> %s)"
           % (first, moved))

    # bob holds alice (re-INVITE from the callee's side), then resumes.
    req, ok3 = reinvite(bob, b, alice, sdp(phnat.WAN_IP, BOB_RTP, "sendonly", 3),
                        sdp(phnat.LAN_IP, ALICE_RTP2, "recvonly", 3))
    tap.ok(req is not None and sdp_media(req.body)["dir"] == "sendonly" and
           sdp_media(req.body)["port"] == to_bob_leg and
           ok3 is not None and sdp_media(ok3.body)["dir"] == "recvonly" and
           sdp_media(ok3.body)["port"] == to_alice_leg,
           "hold from bob: a=sendonly/recvonly cross, relay ports kept",
           (req.body if req else None, ok3.body if ok3 else None))
    b_rtp.send((phnat.WAN_IP, to_alice_leg), 5)
    a_rtp2.send((phnat.WAN_IP, to_bob_leg), 5)
    tap.ok(len(from_relay(a_rtp2.drain(0.3), b_rtp.ssrc)) >= 5,
           "on hold: bob's (sendonly) packets still reach alice")
    tap.ok(not from_relay(b_rtp.drain(0.3), a_rtp2.ssrc),
           "on hold: alice's (recvonly) packets are not forwarded to bob")
    req, ok4 = reinvite(bob, b, alice, sdp(phnat.WAN_IP, BOB_RTP, "sendrecv", 4),
                        sdp(phnat.LAN_IP, ALICE_RTP2, "sendrecv", 4))
    tap.ok(req is not None and ok4 is not None, "bob resumes")
    check_media(tap, a_rtp2, to_bob_leg, b_rtp, to_alice_leg, "resumed")

    # alice offers a hold that bob refuses: the call stays as it was
    # (RFC 3264 §8), the relay too, so bob's media still reaches alice.
    r = reinvite_refused(alice, a, bob, sdp(phnat.LAN_IP, ALICE_RTP2, "sendonly", 5), 488,
                         "Not Acceptable Here")
    tap.ok(r is not None and r.status == 488, "alice's hold refused: the 488 reaches her",
           r and r.start)
    check_media(tap, a_rtp2, to_bob_leg, b_rtp, to_alice_leg, "after the refused hold")

    test_exhausted(tap, srv, alice, bob)

    # BYE from alice removes the session.
    a.cseq += 1
    alice.send(a.request_text("BYE"))
    bye, src = bob.request("BYE")
    if bye:
        bob.send(bob.reply_text(bye, 200, "OK"), src)
    tap.ok(bye is not None and alice.response("BYE") is not None, "BYE crosses, 200 comes back")
    a_got, b_got = phrtp.exchange(a_rtp2, (phnat.WAN_IP, to_bob_leg), b_rtp,
                                  (phnat.WAN_IP, to_alice_leg))
    tap.ok(not from_relay(a_got, b_rtp.ssrc) and not from_relay(b_got, a_rtp2.ssrc),
           "after BYE the relay forwards nothing", (a_got, b_got))
    tap.ok(relay_list(srv) is not None and not legs(srv, a.call_id),
           "relay list: the session is gone", relay_list(srv))


def test_exhausted(tap, srv, alice, bob):
    """The one relay session is taken: a second call gets a 503."""
    a, b, inv, src = invite(alice, bob, "media-full", sdp(phnat.LAN_IP, ALICE_RTP), timeout=1.0)
    r = alice.response("INVITE", call_id=a.call_id)
    tap.ok(inv is None and r is not None and r.status == 503 and
           "Media Relay Ports Exhausted" in r.start,
           "relay ports exhausted: 503 with a clear reason, the callee never rings",
           r.start if r else None)
    if r is not None:
        alice.send(ack_for_failure(a, r))
    st = srv.stats()
    tap.ok(st.get("relay.ports_exhausted", 0) >= 1, "counted in relay.ports_exhausted",
           {k: v for k, v in st.items() if k.startswith("relay.")})


def ack_for_failure(d, r):
    """The ACK of a non-2xx final to d's INVITE (same branch, §17.1.1.3)."""
    text = d.request_text("ACK", cseq=d.cseq, branch=d.inv_branch)
    return re.sub(r"^To: .*$", "To: " + r.get("To"), text, count=1, flags=re.M)


def relayed_call_rings(tap, alice, bob, call_id, what):
    """alice calls bob; True when bob's INVITE carried a relay port."""
    a, b, inv, src = invite(alice, bob, call_id, sdp(phnat.LAN_IP, ALICE_RTP))
    ok = inv is not None and in_range(sdp_media(inv.body)["port"])
    tap.ok(ok, "%s: the call gets the relay's ports" % what, inv.body if inv else None)
    return a, b, inv, src


def test_failures_free(tap, alice, bob):
    """A busy callee (486) and a CANCEL end the call's session: the one
    relay session is free again for the next call each time."""
    a, b, inv, src = relayed_call_rings(tap, alice, bob, "media-busy", "after BYE")
    if inv is None:
        return
    bob.send(bob.reply_text(inv, 486, "Busy Here", to_tag=b.local_tag), src)
    r = alice.response("INVITE", call_id=a.call_id)
    tap.ok(r is not None and r.status == 486, "486 from bob reaches alice", r and r.start)
    if r is not None:
        alice.send(ack_for_failure(a, r))
    a, b, inv, src = relayed_call_rings(tap, alice, bob, "media-cancel", "after the 486")
    if inv is None:
        return
    bob.send(bob.reply_text(inv, 180, "Ringing", to_tag=b.local_tag), src)
    alice.send(a.request_text("CANCEL", cseq=a.cseq, branch=a.inv_branch))
    can, csrc = bob.request("CANCEL")
    if can is not None:
        bob.send(bob.reply_text(can, 200, "OK"), csrc)
        bob.send(bob.reply_text(inv, 487, "Request Terminated", to_tag=b.local_tag), src)
    r = alice.response("INVITE", call_id=a.call_id)
    tap.ok(can is not None and r is not None and r.status == 487, "CANCEL crosses, 487 comes back")
    if r is not None:
        alice.send(ack_for_failure(a, r))
    a, b, inv, src = relayed_call_rings(tap, alice, bob, "media-last", "after the CANCEL")
    if inv is not None:
        bob.send(bob.reply_text(inv, 486, "Busy Here", to_tag=b.local_tag), src)
        r = alice.response("INVITE", call_id=a.call_id)
        if r is not None:
            alice.send(ack_for_failure(a, r))


def test_late_offer(tap, alice, bob, arts):
    """An INVITE without SDP: bob's 200 carries the offer, alice's ACK the
    answer; both are relayed, media flows, and bob's BYE ends it."""
    a_rtp, _, b_rtp = arts[:3]
    a, b, inv, src = invite(alice, bob, "media-late", "")
    if not tap.ok(inv is not None and not inv.body, "late offer: an INVITE without SDP reaches bob"):
        return
    answer(bob, b, inv, src, sdp(phnat.WAN_IP, BOB_RTP))
    ok = take_200(alice, a)
    offer = sdp_media(ok.body if ok else "")
    tap.ok(ok is not None and offer["c"] == [phnat.WAN_IP] and in_range(offer["port"]) and
           offer["marker"], "late offer: the offer in bob's 200 points at the relay",
           ok.body if ok else None)
    alice.send(a.request_text("ACK", sdp(phnat.LAN_IP, ALICE_RTP), cseq=a.cseq))
    ackm = bob.request("ACK", call_id=a.call_id)[0]
    answer_ = sdp_media(ackm.body if ackm else "")
    tap.ok(ackm is not None and answer_["c"] == [phnat.WAN_IP] and in_range(answer_["port"]) and
           answer_["port"] != offer["port"] and phnat.LAN_IP not in ackm.body,
           "late offer: the answer in alice's ACK points at the relay",
           ackm.body if ackm else "no ACK reached bob")
    if ok is None or ackm is None:
        return
    check_media(tap, a_rtp, offer["port"], b_rtp, answer_["port"], "late offer")
    b.cseq += 1
    bob.send(b.request_text("BYE"))
    bye, bsrc = alice.request("BYE")
    if bye:
        alice.send(alice.reply_text(bye, 200, "OK"), bsrc)
    tap.ok(bye is not None and bob.response("BYE") is not None, "bob's BYE crosses the NAT to alice")
    a_got, b_got = phrtp.exchange(a_rtp, (phnat.WAN_IP, offer["port"]), b_rtp,
                                  (phnat.WAN_IP, answer_["port"]))
    tap.ok(not from_relay(a_got, b_rtp.ssrc) and not from_relay(b_got, a_rtp.ssrc),
           "after bob's BYE the relay forwards nothing", (a_got, b_got))


def test_callee_nated(tap, srv, alice, bob, arts):
    """bob on the public side calls alice behind the NAT: the relay is used
    because the callee's binding is NATed; media both ways; alice hangs up."""
    a_rtp, _, b_rtp = arts[:3]
    b, a, inv, src = invite(bob, alice, "media-rev", sdp(phnat.WAN_IP, BOB_RTP))
    if not tap.ok(inv is not None, "bob calls alice: the INVITE crosses the NAT"):
        return
    offer = sdp_media(inv.body)
    tap.ok(offer["c"] == [phnat.WAN_IP] and in_range(offer["port"]) and str(BOB_RTP) not in inv.body,
           "callee NATed: the offer alice gets points at the relay", inv.body)
    answer(alice, a, inv, src, sdp(phnat.LAN_IP, ALICE_RTP))
    ok = take_200(bob, b)
    ans = sdp_media(ok.body if ok else "")
    tap.ok(ok is not None and ans["c"] == [phnat.WAN_IP] and in_range(ans["port"]) and
           phnat.LAN_IP not in ok.body, "alice's answer reaches bob pointing at the relay",
           ok.body if ok else None)
    if ok is None:
        return
    ack(bob, b)
    alice.request("ACK", call_id=b.call_id)
    check_media(tap, a_rtp, ans["port"], b_rtp, offer["port"], "callee NATed")
    a.cseq += 1
    alice.send(a.request_text("BYE"))
    bye, bsrc = bob.request("BYE", call_id=a.call_id)
    if bye:
        bob.send(bob.reply_text(bye, 200, "OK"), bsrc)
    tap.ok(bye is not None and not legs(srv, a.call_id), "alice's BYE ends it, session gone")


def test_never(tap, srv, alice, bob):
    srv.write_mode("never")
    rc = srv.ctl("reload")[0]
    tap.ok(rc == 0, "reload to relay.mode = never")
    time.sleep(1.0)
    a, b, inv, src = invite(alice, bob, "media-2", sdp(phnat.LAN_IP, ALICE_RTP))
    ok = None
    if inv is not None:
        answer(bob, b, inv, src, sdp(phnat.WAN_IP, BOB_RTP))
        ok = take_200(alice, a)
        ack(alice, a)
    tap.ok(inv is not None and sdp_media(inv.body)["c"] == [phnat.LAN_IP] and
           sdp_media(inv.body)["port"] == ALICE_RTP and not sdp_media(inv.body)["marker"],
           "mode never: the offer crosses untouched", inv.body if inv else None)
    tap.ok(ok is not None and sdp_media(ok.body)["port"] == BOB_RTP,
           "mode never: the answer crosses untouched", ok.body if ok else None)


def main():
    tap = Tap()
    reason = phnat.unavailable()
    if reason:
        tap.skip("media relay through a real NAT", reason)
        tap.done()
    bed, srv, socks = phnat.NatBed(), None, []
    try:
        bed.setup()
        srv = NsServer(bed).start()

        def sock(ns, addr):
            s = phrtp.ns_socket(ns, bind=addr)
            socks.append(s)
            return s
        alice = Phone(sock(bed.lan, ALICE_SIP), "alice", ALICE_SIP)
        bob = Phone(sock(bed.wan, BOB_SIP), "bob", BOB_SIP)
        arts = (phrtp.RtpPeer(sock(bed.lan, (phnat.LAN_IP, ALICE_RTP)), 0xa11ce),
                phrtp.RtpPeer(sock(bed.lan, (phnat.LAN_IP, ALICE_RTP2)), 0xa11cf),
                phrtp.RtpPeer(sock(bed.wan, (phnat.WAN_IP, BOB_RTP)), 0xb0b),
                phrtp.RtpPeer(sock(bed.lan, (phnat.LAN_IP, ALICE_RTP + 1)), 0xa11ce, rtcp=True),
                phrtp.RtpPeer(sock(bed.wan, (phnat.WAN_IP, BOB_RTP + 1)), 0xb0b, rtcp=True))
        tap.ok(alice.register(), "alice registers through the NAT")
        tap.ok(bob.register(), "bob registers on the public side")
        test_call(tap, bed, srv, alice, bob, arts)
        test_failures_free(tap, alice, bob)
        test_late_offer(tap, alice, bob, arts)
        test_callee_nated(tap, srv, alice, bob, arts)
        test_never(tap, srv, alice, bob)
    finally:
        for s in socks:
            s.close()
        if srv:
            srv.stop()
            shutil.rmtree(srv.tmp, ignore_errors=True)
        bed.teardown()
    tap.done()


main()
