#!/usr/bin/env python3
"""The stateful proxy with raw UDP sockets: a callee registers (behind a
pretend NAT: its Via port is not its source port), a caller calls it, the
test answers for the callee and checks what each side receives: 100
Trying, the forwarded INVITE (our Via, Record-Route with lr, Max-Forwards
minus one, the NATed caller's Contact fixed), 180/200 with our Via gone
and the NATed callee's Contact fixed, ACK and BYE along the Record-Route;
retransmissions absorbed; CANCEL -> 200 and 487; no answer -> 408 after a
short tm.fr_inv; a 6xx on one branch of a fork cancelling the other;
404/480/407 with authentication on; Max-Forwards 0 -> 483; a location loop
and a Route loop -> 482; responses matching no transaction dropped and
counted; and the RFC 4475 messages a proxy must handle: zeromf, dblreq,
intmeth, esc02, bcast, invut."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import (CONFORMANCE_DIR, Server, Tap, digest_authorization, header,  # noqa: E402
                    headers, register_msg, status_of, udp_socket)

DOMAINS = ["127.0.0.1", "example.com", "registrar.example.com"]
TM = "tm = { fr_inv = 2; fr = 4; };"
_n = [0]


def port_of(sock):
    return sock.getsockname()[1]


def recv(sock, timeout=1.0, skip_provisional=False):
    """The next message on sock (keepalive OPTIONS pings skipped), or None."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(deadline - time.time(), 0.01))
        try:
            data = sock.recvfrom(70000)[0]
        except OSError:
            return None
        if data.startswith(b"OPTIONS ") and b"pinger" in data:
            continue
        if skip_provisional and re.match(rb"SIP/2.0 1\d\d ", data):
            continue
        return data
    return None


def request(method, ruri, sock, branch=None, callid=None, cseq=1, extra="", to_tag="",
            from_user="alice", mf=70, contact=True, body=b""):
    """A request as the caller on sock sends it (Via port 5060: NAT detected)."""
    _n[0] += 1
    branch = branch or "z9hG4bK-p31-%d-%d" % (os.getpid(), _n[0])
    lines = ["%s %s SIP/2.0" % (method, ruri),
             "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=%s;rport" % branch,
             "Max-Forwards: %d" % mf,
             "From: <sip:%s@example.com>;tag=c%d" % (from_user, os.getpid()),
             "To: <%s>%s" % (ruri.split(";")[0], ";tag=" + to_tag if to_tag else ""),
             "Call-ID: %s" % (callid or "p31-%d-%d" % (os.getpid(), _n[0])),
             "CSeq: %d %s" % (cseq, method)]
    if contact:
        lines.append("Contact: <sip:%s@10.0.0.5:5060>" % from_user)
    text = "\r\n".join(lines) + "\r\n" + extra + "Content-Length: %d\r\n\r\n" % len(body)
    return text.encode() + body


def response_to(req, code, reason, to_tag, contact=None):
    """What a UAS answers to req: its Vias, From, To (tagged), Call-ID, CSeq."""
    head = req.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    out = [b"SIP/2.0 %d %s" % (code, reason.encode())]
    for line in head[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"via", b"v", b"from", b"f", b"call-id", b"i", b"cseq", b"record-route"):
            out.append(line)
        elif name in (b"to", b"t"):
            out.append(line if b"tag=" in line else line + b";tag=" + to_tag.encode())
    if contact:
        out.append(b"Contact: " + contact.encode())
    return b"\r\n".join(out) + b"\r\nContent-Length: 0\r\n\r\n"


def register(srv, sock, user, domain="example.com", contact=None, q=None):
    c = contact or "<sip:%s@10.0.0.99:5099>" % user
    if q:
        c += ";q=%s" % q
    return status_of(srv.sip(register_msg(srv.port, user, domain=domain, contacts=[c]), sock=sock))


def send(srv, sock, data):
    sock.sendto(data, ("127.0.0.1", srv.port))


def first_line(msg):
    return msg.split(b"\r\n", 1)[0].decode("utf-8", "replace") if msg else None


def test_call(tap, srv):
    caller, callee = udp_socket(), udp_socket()
    tap.eq(register(srv, callee, "bob"), 200, "callee registers (NATed: Via port 5060)")
    inv = request("INVITE", "sip:bob@example.com", caller)
    send(srv, caller, inv)
    r = recv(caller)
    tap.eq(status_of(r), 100, "caller: 100 Trying")
    fwd = recv(callee)
    tap.ok(fwd and fwd.startswith(b"INVITE sip:bob@10.0.0.99:5099 SIP/2.0"),
           "callee gets the INVITE at its NAT address, Request-URI its contact", first_line(fwd))
    vias = headers(fwd, "via")
    tap.ok(len(vias) == 2 and "127.0.0.1:%d" % srv.port in vias[0] and "z9hG4bK" in vias[0],
           "our Via on top", vias)
    tap.ok("received=127.0.0.1" not in vias[1] and "rport=%d" % port_of(caller) in vias[1],
           "the caller's Via got rport", vias[1])
    rr = header(fwd, "record-route") or ""
    tap.ok(re.match(r"<sip:127\.0\.0\.1:%d;lr;nat=yes>$" % srv.port, rr), "Record-Route with lr, nat=yes", rr)
    tap.eq(header(fwd, "max-forwards"), "69", "Max-Forwards decremented")
    tap.eq(header(fwd, "contact"), "<sip:alice@127.0.0.1:%d>" % port_of(caller),
           "the NATed caller's Contact fixed")
    send(srv, caller, inv)
    tap.eq(status_of(recv(caller)), 100, "a retransmitted INVITE gets the 100 again")
    tap.ok(recv(callee, 0.3) is None, "and is absorbed, not forwarded")
    send(srv, callee, response_to(fwd, 180, "Ringing", "b1", "<sip:bob@10.0.0.99:5099>"))
    r = recv(caller)
    tap.eq(status_of(r), 180, "caller: 180")
    tap.ok(r and len(headers(r, "via")) == 1, "with our Via removed")
    ok = response_to(fwd, 200, "OK", "b1", "<sip:bob@10.0.0.99:5099>")
    send(srv, callee, ok)
    r = recv(caller)
    tap.eq(status_of(r), 200, "caller: 200")
    tap.eq(header(r, "contact"), "<sip:bob@127.0.0.1:%d>" % port_of(callee),
           "the NATed callee's Contact fixed in the 200")
    tap.eq(header(r, "record-route"), rr, "Record-Route comes back")
    send(srv, callee, ok)
    tap.eq(status_of(recv(caller)), 200, "a retransmitted 200 is relayed as well")
    target = header(r, "contact")[1:-1]
    callid = header(inv, "call-id")
    send(srv, caller, request("ACK", target, caller, callid=callid, to_tag="b1",
                              extra="Route: %s\r\n" % rr))
    ack = recv(callee)
    tap.ok(ack and ack.startswith(b"ACK sip:bob@127.0.0.1:%d" % port_of(callee)),
           "ACK for the 2xx reaches the callee along the Record-Route", first_line(ack))
    tap.ok(ack and not header(ack, "route"), "our Route value removed")
    send(srv, caller, request("BYE", target, caller, callid=callid, cseq=2, to_tag="b1",
                              extra="Route: %s\r\n" % rr))
    bye = recv(callee)
    tap.ok(bye and bye.startswith(b"BYE "), "BYE reaches the callee", first_line(bye))
    send(srv, callee, response_to(bye, 200, "OK", "b1"))
    tap.eq(status_of(recv(caller)), 200, "caller: 200 for the BYE")


def test_cancel(tap, srv):
    caller, callee = udp_socket(), udp_socket()
    register(srv, callee, "carol")
    inv = request("INVITE", "sip:carol@example.com", caller)
    send(srv, caller, inv)
    fwd = recv(callee)
    send(srv, callee, response_to(fwd, 180, "Ringing", "c1"))
    tap.eq(status_of(recv(caller, skip_provisional=False) and recv(caller)), 180, "ringing")
    branch = re.search(rb"branch=([^;\r]+)", inv).group(1).decode()
    send(srv, caller, request("CANCEL", "sip:carol@example.com", caller, branch=branch,
                              callid=header(inv, "call-id"), contact=False))
    tap.eq(status_of(recv(caller)), 200, "CANCEL: 200")
    c = recv(callee)
    tap.ok(c and c.startswith(b"CANCEL sip:carol@10.0.0.99:5099"), "callee gets a CANCEL", first_line(c))
    send(srv, callee, response_to(c, 200, "OK", "c1"))
    send(srv, callee, response_to(fwd, 487, "Request Terminated", "c1"))
    a = recv(callee)
    tap.ok(a and a.startswith(b"ACK "), "its 487 is ACKed hop by hop", first_line(a))
    r = recv(caller)
    tap.eq(status_of(r), 487, "caller: 487")
    send(srv, caller, request("ACK", "sip:carol@example.com", caller, branch=branch,
                              callid=header(inv, "call-id"), to_tag="c1", contact=False))
    tap.ok(recv(callee, 0.3) is None, "the caller's ACK for the 487 is absorbed")


def test_no_answer(tap, srv):
    caller, callee = udp_socket(), udp_socket()
    register(srv, callee, "dave")
    send(srv, caller, request("INVITE", "sip:dave@example.com", caller))
    fwd = recv(callee)
    send(srv, callee, response_to(fwd, 180, "Ringing", "d1"))
    t0 = time.time()
    r = recv(caller, 5.0, skip_provisional=True)
    tap.eq(status_of(r), 408, "no answer: 408")
    tap.ok(1.5 < time.time() - t0 < 4.0, "after tm.fr_inv (2 s): %.1f s" % (time.time() - t0))
    c = recv(callee)
    tap.ok(c and c.startswith(b"CANCEL "), "the callee's branch is cancelled", first_line(c))


def test_fork_6xx(tap, srv):
    caller, a, b = udp_socket(), udp_socket(), udp_socket()
    register(srv, a, "erin", contact="<sip:erin@10.0.0.1:5060>")
    register(srv, b, "erin", contact="<sip:erin@10.0.0.2:5060>")
    send(srv, caller, request("INVITE", "sip:erin@example.com", caller))
    fa, fb = recv(a), recv(b)
    tap.ok(fa and fb and fa.startswith(b"INVITE ") and fb.startswith(b"INVITE "),
           "both bindings ring in parallel")
    send(srv, b, response_to(fb, 180, "Ringing", "e2"))
    send(srv, a, response_to(fa, 603, "Decline", "e1"))
    ack, cancel = recv(a), recv(b)
    tap.ok(ack and ack.startswith(b"ACK "), "the 603 is ACKed", first_line(ack))
    tap.ok(cancel and cancel.startswith(b"CANCEL "), "the other branch is cancelled", first_line(cancel))
    send(srv, b, response_to(fb, 487, "Request Terminated", "e2"))
    r = recv(caller, 2.0, skip_provisional=True)
    tap.eq(status_of(r), 603, "caller: the 603 (best response), not the 487")


def test_codes(tap, srv):
    caller = udp_socket()
    send(srv, caller, request("INVITE", "sip:nobody@example.com", caller))
    tap.eq(status_of(recv(caller, skip_provisional=True)), 480, "not registered: 480")
    send(srv, caller, request("INVITE", "sip:bob@example.com", caller, mf=0))
    tap.eq(status_of(recv(caller)), 483, "Max-Forwards 0: 483")
    before = srv.stats("tm")["tm.unmatched_replies"]
    send(srv, caller, b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKph1.2.3.4.5\r\n"
         b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\nCall-ID: x\r\n"
         b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n" % srv.port)
    time.sleep(0.2)
    tap.eq(srv.stats("tm")["tm.unmatched_replies"], before + 1,
           "a response matching no transaction is dropped and counted")


def test_loops(tap, srv):
    caller, reg = udp_socket(), udp_socket()
    contact = "<sip:loopy@127.0.0.1:%d>" % srv.port
    r = srv.sip(register_msg(srv.port, "loopy", domain="127.0.0.1", contacts=[contact],
                             via_port=port_of(reg)), sock=reg)
    tap.eq(status_of(r), 200, "a binding that points at the proxy itself")
    send(srv, caller, request("INVITE", "sip:loopy@127.0.0.1", caller))
    tap.eq(status_of(recv(caller, 3.0, skip_provisional=True)), 482, "location loop: 482")
    send(srv, caller, request("MESSAGE", "sip:zed@example.net", caller,
                              extra="Route: <sip:localhost:%d;lr>\r\n" % srv.port))
    tap.eq(status_of(recv(caller, 3.0, skip_provisional=True)), 482,
           "a Route naming the proxy under another name: 482")


def test_auth(tap):
    with Server(domains=DOMAINS, extra=TM + " auth = { register = true; invite = true; };") as srv:
        srv.ctl("user", "add", "alice@example.com", "secret")
        srv.ctl("user", "add", "bob@example.com", "builder")
        caller = udp_socket()
        inv = request("INVITE", "sip:bob@example.com", caller)
        send(srv, caller, inv)
        r = recv(caller, skip_provisional=True)
        tap.eq(status_of(r), 407, "auth.invite: INVITE from a local user without credentials: 407")
        chs = headers(r, "proxy-authenticate") if r else []
        tap.ok(chs and "Digest" in chs[0], "with Proxy-Authenticate", chs)
        for nc, user, want, name in ((1, "bob", 480, "a subscriber not registered: 480"),
                                     (2, "nobody", 404, "no such subscriber: 404")):
            ruri = "sip:%s@example.com" % user
            cred = digest_authorization(chs[0], "alice", "secret", "INVITE", ruri, nc=nc,
                                        header="Proxy-Authorization")
            send(srv, caller, request("INVITE", ruri, caller, extra=cred))
            tap.eq(status_of(recv(caller, skip_provisional=True)), want, name)


def conformance(name):
    with open(os.path.join(CONFORMANCE_DIR, "rfc4475", name), "rb") as f:
        return f.read()


def test_rfc4475(tap, srv):
    if not os.path.isdir(os.path.join(CONFORMANCE_DIR, "rfc4475")):
        tap.skip("RFC 4475 messages", "no corpus at %s" % CONFORMANCE_DIR)
        return
    s, joe, weird, user = udp_socket(), udp_socket(), udp_socket(), udp_socket()
    send(srv, s, conformance("zeromf.dat"))
    tap.eq(status_of(recv(s)), 483, "zeromf: 483, not forwarded")
    register(srv, joe, "joe")
    send(srv, s, conformance("dblreq.dat"))
    tap.eq(status_of(recv(s)), 200, "dblreq: the REGISTER is processed")
    tap.ok(recv(joe, 0.5) is None, "and the octets after it are not forwarded as an INVITE")
    odd = "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    r = srv.sip(register_msg(srv.port, "x", domain="example.com", contacts=["<sip:odd@10.0.0.7>"],
                             to_uri="sip:%s@example.com" % odd), sock=weird)
    tap.eq(status_of(r), 200, "the intmeth user registers")
    send(srv, s, conformance("intmeth.dat"))
    fwd = recv(weird)
    tap.ok(fwd and fwd.startswith(b"!interesting-Method0123456789_*+`.%indeed'~ sip:odd@10.0.0.7"),
           "intmeth: the unknown method is proxied unchanged", first_line(fwd))
    tap.eq(header(fwd, "max-forwards") if fwd else None, "254", "Max-Forwards 255 -> 254")
    send(srv, weird, response_to(fwd, 200, "OK", "w1"))
    tap.eq(status_of(recv(s)), 200, "and its answer relayed")
    send(srv, s, conformance("esc02.dat"))
    tap.eq(status_of(recv(s)), 501, "esc02: RE%47IST%45R is an unknown method (501), not REGISTER")
    rc, out, _ = srv.ctl("ul", "show", "resource@example.com")
    tap.ok("alias" not in out, "and registered nothing")
    before = srv.stats("tm")["tm.unmatched_replies"]
    send(srv, s, conformance("bcast.dat"))
    time.sleep(0.2)
    tap.eq(srv.stats("tm")["tm.unmatched_replies"], before + 1,
           "bcast: a response to a broadcast Via is dropped and counted")
    register(srv, user, "user")
    send(srv, s, conformance("invut.dat"))
    tap.eq(status_of(recv(s)), 100, "invut: 100 Trying")
    fwd = recv(user)
    tap.ok(fwd and fwd.startswith(b"INVITE ") and b"application/unknownformat" in fwd and
           fwd.endswith(b"<audio>\r\n <pcmu port=\"443\"/>\r\n</audio>\r\n"),
           "invut: forwarded with its unknown body untouched")


def main():
    tap = Tap()
    with Server(domains=DOMAINS, extra=TM) as srv:
        test_call(tap, srv)
        test_cancel(tap, srv)
        test_no_answer(tap, srv)
        test_fork_6xx(tap, srv)
        test_codes(tap, srv)
        test_loops(tap, srv)
        test_rfc4475(tap, srv)
        stats = srv.ctl_json("tm", "stats")
        tap.ok(stats["total"] >= 10 and stats["2xx"] >= 3 and stats["4xx"] >= 3 and
               stats["6xx"] == 1 and stats["timeouts"] >= 1,
               "pinholectl tm stats counts transactions and replies by class", stats)
        core = srv.stats("core")
        tap.ok(core["core.fwd_requests"] >= 10 and core["core.drop_requests"] >= 2,
               "core.fwd_requests and core.drop_requests move", core)
        tap.ok(srv.options_ok(), "server still answers")
    test_auth(tap)
    tap.done()


main()
