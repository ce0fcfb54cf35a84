#!/usr/bin/env python3
"""Transport switching through the proxy, with raw sockets: a caller on
TCP calling a callee on UDP, and a caller on UDP calling a callee on TCP.
Each side must receive the INVITE (or its responses) with two
Record-Route values, r2=on on both, the outgoing side first and the
TCP one carrying transport=tcp; our Via names the transport it leaves by;
ACK and BYE from the caller, and a BYE from the callee, follow the Route
set built from them, reach the other side over its own transport with
both of our values consumed; a NATed caller on TCP gets its Contact fixed
with transport=tcp and the callee's BYE back over its connection; a UDP
to UDP call keeps one Record-Route."""
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import Tap, header, headers, status_of, udp_socket  # noqa: E402
from phtls import StreamPeer, stream_server  # noqa: E402

_n = [0]


class UdpPeer:
    """A SIP peer on a UDP socket, with the stream peer's interface."""

    def __init__(self, srv_port):
        self.sock = udp_socket()
        self.srv_port = srv_port
        self.port = self.sock.getsockname()[1]

    def send(self, data):
        self.sock.sendto(data, ("127.0.0.1", self.srv_port))

    def recv(self, timeout=1.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(deadline - time.time(), 0.01))
            try:
                data = self.sock.recvfrom(70000)[0]
            except OSError:
                return None
            if data.startswith(b"OPTIONS ") and b"pinger" in data:
                continue
            return data
        return None

    def close(self):
        self.sock.close()


def proto(peer):
    return "UDP" if isinstance(peer, UdpPeer) else "TCP"


def contact_of(peer, user):
    return "<sip:%s@127.0.0.1:%d%s>" % (user, peer.port,
                                        "" if isinstance(peer, UdpPeer) else ";transport=tcp")


def request(peer, method, ruri, user, to, callid, cseq, to_tag="", routes=(), from_tag=None,
            cseq_method=None):
    """A request as peer sends it: Via and Contact with its real address
    and port, so pinhole sees no NAT."""
    _n[0] += 1
    lines = ["%s %s SIP/2.0" % (method, ruri),
             "Via: SIP/2.0/%s 127.0.0.1:%d;branch=z9hG4bK-p62-%d-%d;rport" % (
                 proto(peer), peer.port, os.getpid(), _n[0]),
             "Max-Forwards: 70",
             "From: <sip:%s@localhost>;tag=%s" % (user, from_tag or "f-" + user),
             "To: <%s>%s" % (to, ";tag=" + to_tag if to_tag else ""),
             "Call-ID: %s" % callid,
             "CSeq: %d %s" % (cseq, cseq_method or method),
             "Contact: %s" % contact_of(peer, user)]
    if routes:
        lines.append("Route: %s" % ", ".join(routes))
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


def response_to(req, code, reason, to_tag, contact=None):
    head = req.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    out = [b"SIP/2.0 %d %s" % (code, reason.encode())]
    for line in head[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"via", b"from", b"call-id", b"cseq", b"record-route"):
            out.append(line)
        elif name == b"to":
            out.append(line if b"tag=" in line else line + b";tag=" + to_tag.encode())
    if contact:
        out.append(b"Contact: " + contact.encode())
    return b"\r\n".join(out) + b"\r\nContent-Length: 0\r\n\r\n"


def register(tap, srv, peer, user):
    msg = request(peer, "REGISTER", "sip:localhost", user, "sip:%s@localhost" % user,
                  "reg-%s-%d" % (user, os.getpid()), 1).replace(
                      b"Content-Length", b"Expires: 300\r\nContent-Length")
    peer.send(msg)
    r = peer.recv(2.0)
    return tap.eq(status_of(r), 200, "%s registers over %s" % (user, proto(peer)))


def rr_values(msg):
    out = []
    for v in headers(msg, "record-route"):
        out += [x.strip() for x in re.split(r",(?=\s*<)", v)]
    return out


def first_line(msg):
    return msg.split(b"\r\n", 1)[0].decode() if msg else None


def expected_rr(port, out_proto, in_proto):
    def one(p):
        return "<sip:127.0.0.1:%d%s;r2=on;lr>" % (port, ";transport=tcp" if p == "TCP" else "")
    return [one(out_proto), one(in_proto)]


def recv_final(peer, timeout=2.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = peer.recv(max(deadline - time.time(), 0.01))
        if r is None:
            return None
        if r.startswith(b"SIP/2.0 ") and status_of(r) >= 200:
            return r
    return None


def call(tap, srv, caller, callee, callee_user):
    """One call from caller to callee: INVITE, 180, 200, ACK, BYE from the
    caller, then a re-INVITE-free second dialog ended by the callee."""
    cp, ep = proto(caller), proto(callee)
    what = "%s->%s" % (cp, ep)
    callid = "p62-%s-%d" % (what, os.getpid())
    ruri = "sip:%s@localhost" % callee_user
    caller.send(request(caller, "INVITE", ruri, "alice", ruri, callid, 1))
    tap.eq(status_of(caller.recv(2.0)), 100, "%s: caller gets 100 Trying over %s" % (what, cp))
    inv = callee.recv(2.0)
    tap.ok(inv and inv.startswith(b"INVITE sip:%s@127.0.0.1:%d" % (callee_user.encode(),
                                                                   callee.port)),
           "%s: callee gets the INVITE over %s" % (what, ep), first_line(inv))
    if not inv:
        return
    vias = headers(inv, "via")
    tap.ok(vias and vias[0].startswith("SIP/2.0/%s 127.0.0.1:%d;" % (ep, srv.port)),
           "%s: our Via names %s" % (what, ep), vias)
    want = expected_rr(srv.port, ep, cp)
    tap.eq(rr_values(inv), want, "%s: two Record-Routes, outgoing (%s) first, r2=on" % (what, ep))
    callee.send(response_to(inv, 180, "Ringing", "t-" + callee_user))
    callee.send(response_to(inv, 200, "OK", "t-" + callee_user, contact_of(callee, callee_user)))
    ok = recv_final(caller)
    tap.eq(status_of(ok), 200, "%s: caller gets the 200 over %s" % (what, cp))
    if not ok:
        return
    tap.eq(rr_values(ok), want, "%s: the 200 carries both Record-Routes to the caller" % what)
    # The caller's Route set is the Record-Route reversed (RFC 3261 §12.1.2).
    routes = list(reversed(rr_values(ok)))
    target = re.search(r"<([^>]+)>", header(ok, "contact")).group(1)
    caller.send(request(caller, "ACK", target, "alice", ruri, callid, 1, to_tag="t-" + callee_user,
                        routes=routes))
    ack = callee.recv(2.0)
    tap.ok(ack and ack.startswith(b"ACK " + target.encode()),
           "%s: the ACK follows the Route set to the callee over %s" % (what, ep), first_line(ack))
    tap.ok(ack is not None and not headers(ack, "route"), "%s: both Route values consumed" % what)
    caller.send(request(caller, "BYE", target, "alice", ruri, callid, 2, to_tag="t-" + callee_user,
                        routes=routes))
    bye = callee.recv(2.0)
    tap.ok(bye and bye.startswith(b"BYE ") and not headers(bye, "route"),
           "%s: the caller's BYE reaches the callee over %s, no Route left" % (what, ep),
           first_line(bye))
    if bye:
        tap.ok(headers(bye, "via")[0].startswith("SIP/2.0/%s" % ep), "%s: BYE Via %s" % (what, ep))
        callee.send(response_to(bye, 200, "OK", "t-" + callee_user))
        tap.eq(status_of(recv_final(caller)), 200, "%s: the BYE's 200 back over %s" % (what, cp))
    callee_bye(tap, srv, caller, callee, callee_user, what)


def callee_bye(tap, srv, caller, callee, callee_user, what):
    """A second call, hung up by the callee along the Record-Route in order."""
    callid = "p62b-%s-%d" % (what, os.getpid())
    ruri = "sip:%s@localhost" % callee_user
    caller.send(request(caller, "INVITE", ruri, "alice", ruri, callid, 1))
    inv = callee.recv(2.0)
    while inv and not inv.startswith(b"INVITE "):
        inv = callee.recv(2.0)
    if not tap.ok(inv is not None, "%s: second INVITE" % what):
        return
    callee.send(response_to(inv, 200, "OK", "t2", contact_of(callee, callee_user)))
    ok = recv_final(caller)
    if not tap.eq(status_of(ok), 200, "%s: second call answered" % what):
        return
    target = re.search(r"<([^>]+)>", header(inv, "contact")).group(1)
    ack_routes = list(reversed(rr_values(ok)))
    caller.send(request(caller, "ACK", re.search(r"<([^>]+)>", header(ok, "contact")).group(1),
                        "alice", ruri, callid, 1, to_tag="t2", routes=ack_routes))
    callee.recv(1.0)
    # The callee's Route set is the Record-Route in order; From/To swap.
    bye = request(callee, "BYE", target, callee_user, "sip:alice@localhost", callid, 1,
                  to_tag="f-alice", routes=rr_values(inv), from_tag="t2")
    callee.send(bye)
    got = caller.recv(2.0)
    while got and got.startswith(b"SIP/2.0 "):
        got = caller.recv(2.0)
    tap.ok(got and got.startswith(b"BYE " + target.encode()) and not headers(got, "route"),
           "%s: the callee's BYE reaches the caller over %s, both values consumed" % (
               what, proto(caller)), first_line(got))
    if got:
        caller.send(response_to(got, 200, "OK", "x"))
        tap.eq(status_of(recv_final(callee)), 200, "%s: its 200 back to the callee" % what)


def nated_tcp_caller(tap, srv):
    """A caller behind NAT on TCP (private Via and Contact without a
    transport): the callee sees its Contact fixed to the connection's
    address with transport=tcp, and the callee's BYE reaches it over that
    connection."""
    caller, callee = StreamPeer(srv.port), UdpPeer(srv.port)
    if not register(tap, srv, callee, "nat-bob"):
        return
    callid = "p62-nat-%d" % os.getpid()
    ruri = "sip:nat-bob@localhost"
    inv = ("INVITE %s SIP/2.0\r\n"
           "Via: SIP/2.0/TCP 10.0.0.5:5062;branch=z9hG4bK-p62n-%d\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:alice@localhost>;tag=f-nat\r\n"
           "To: <%s>\r\n"
           "Call-ID: %s\r\n"
           "CSeq: 1 INVITE\r\n"
           "Contact: <sip:alice@10.0.0.5:5062>\r\n"
           "Content-Length: 0\r\n\r\n" % (ruri, os.getpid(), ruri, callid)).encode()
    caller.send(inv)
    got = callee.recv(2.0)
    fixed = "<sip:alice@127.0.0.1:%d;transport=tcp>" % caller.port
    tap.eq(got and header(got, "contact"), fixed,
           "NATed TCP caller: Contact fixed to its connection, with transport=tcp")
    tap.ok(got and all("nat=yes" in v for v in rr_values(got)), "nat=yes on both Record-Routes")
    if not got:
        return
    callee.send(response_to(got, 200, "OK", "t-nat", contact_of(callee, "nat-bob")))
    ok = recv_final(caller)
    tap.eq(status_of(ok), 200, "NATed TCP caller: 200")
    bye = request(callee, "BYE", "sip:alice@127.0.0.1:%d;transport=tcp" % caller.port, "nat-bob",
                  "sip:alice@localhost", callid, 1, to_tag="f-nat", routes=rr_values(got),
                  from_tag="t-nat")
    callee.send(bye)
    b = caller.recv(2.0)
    while b and b.startswith(b"SIP/2.0 "):
        b = caller.recv(2.0)
    tap.ok(b and b.startswith(b"BYE sip:alice@127.0.0.1:%d;transport=tcp" % caller.port),
           "the callee's BYE reaches the NATed caller over its TCP connection", first_line(b))
    caller.close()
    callee.close()


def udp_to_udp(tap, srv):
    caller, callee = UdpPeer(srv.port), UdpPeer(srv.port)
    if register(tap, srv, callee, "carol"):
        caller.send(request(caller, "INVITE", "sip:carol@localhost", "alice",
                            "sip:carol@localhost", "p62-uu-%d" % os.getpid(), 1))
        inv = callee.recv(2.0)
        tap.eq(rr_values(inv) if inv else None, ["<sip:127.0.0.1:%d;lr>" % srv.port],
               "UDP->UDP: one Record-Route, no r2")
        if inv:
            callee.send(response_to(inv, 486, "Busy Here", "t-carol"))
            recv_final(caller)
    caller.close()
    callee.close()


def main():
    tap = Tap()
    srv = stream_server(tap)
    srv.start()
    try:
        callee = UdpPeer(srv.port)
        caller = StreamPeer(srv.port)
        if register(tap, srv, callee, "bob"):
            call(tap, srv, caller, callee, "bob")
        caller.close()
        callee.close()

        callee = StreamPeer(srv.port)
        caller = UdpPeer(srv.port)
        if register(tap, srv, callee, "dave"):
            call(tap, srv, caller, callee, "dave")
        caller.close()
        callee.close()
        nated_tcp_caller(tap, srv)
        udp_to_udp(tap, srv)
        tap.ok(srv.proc.poll() is None, "pinhole still running")
    except (OSError, socket.error) as e:
        tap.ok(False, "socket error: %s" % e)
    finally:
        srv.stop()
        if tap.failed:
            tap.diag(srv.log_text()[-3000:])
        import shutil
        shutil.rmtree(srv.tmp, ignore_errors=True)
    tap.done()


main()
