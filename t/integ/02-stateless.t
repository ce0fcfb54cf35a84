#!/usr/bin/env python3
"""The stateless behaviour of a UDP pinhole: answers to requests addressed
to the server and the proxy's stateless refusals for users, RFC 3261
§18.2.2 / RFC 3581 reply routing, and bad input (dropped and counted,
never a crash)."""
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import (Server, Tap, header, options_msg, register_msg, request_msg,  # noqa: E402
                    status_of, udp_socket)


def via_of(resp):
    return header(resp, "via") or ""


def test_options_self(tap, srv):
    r = srv.sip(options_msg(srv.port))
    tap.eq(status_of(r), 200, "OPTIONS to the server: 200")
    tap.ok(header(r, "allow") and "OPTIONS" in header(r, "allow"), "200 carries Allow")
    tap.ok(header(r, "supported") is not None, "200 carries Supported")
    tap.ok(header(r, "to") and ";tag=" in header(r, "to"), "200 To has a tag")


def test_rport_filled(tap, srv):
    s = udp_socket()
    r = srv.sip(options_msg(srv.port, rport=True), sock=s)
    port = s.getsockname()[1]
    tap.ok(r is not None and ";rport=%d" % port in via_of(r),
           "rport filled with the source port (RFC 3581)", via_of(r or b""))
    tap.ok(r is not None and "received=" not in via_of(r),
           "no received= when the sent-by host is the source")
    s.close()


def test_nat_forces_rport(tap, srv):
    data = options_msg(srv.port, rport=False).replace(b"SIP/2.0/UDP 127.0.0.1:5060", b"SIP/2.0/UDP 10.0.2.15:5060")
    s = udp_socket()
    r = srv.sip(data, sock=s)
    v = via_of(r or b"")
    tap.ok(r is not None, "NATed Via without rport: reply still reaches the source")
    tap.ok("received=127.0.0.1" in v and ";rport=%d" % s.getsockname()[1] in v,
           "NAT detection adds received and forces rport", v)
    s.close()


def test_via_port_routing(tap):
    """Without rport and without NAT detection the reply goes to the
    sent-by port, not to the source port (RFC 3261 §18.2.2)."""
    with Server(extra="nat = { detect = 0; };") as srv:
        sender, listener = udp_socket(), udp_socket()
        lport = listener.getsockname()[1]
        sender.sendto(options_msg(srv.port, rport=False, via_port=lport), ("127.0.0.1", srv.port))
        listener.settimeout(2)
        try:
            r = listener.recvfrom(70000)[0]
        except socket.timeout:
            r = None
        tap.eq(status_of(r), 200, "reply sent to the Via sent-by port")
        sender.settimeout(0.3)
        try:
            extra = sender.recvfrom(70000)[0]
        except socket.timeout:
            extra = None
        tap.ok(extra is None, "and not to the source port")


def test_user_requests(tap, srv):
    r = srv.sip(request_msg("MESSAGE", "sip:alice@localhost"))
    tap.eq(status_of(r), 480, "MESSAGE for a local user not registered: 480")
    tap.ok(r and ";tag=" in (header(r, "to") or ""), "480 To has a tag")
    req = request_msg("MESSAGE", "sip:bob@localhost")
    r1, r2 = srv.sip(req), srv.sip(req)
    tap.ok(r1 and r2 and header(r1, "to") == header(r2, "to"),
           "a retransmission gets the same To tag")
    r = srv.sip(register_msg(srv.port, "alice"))
    tap.eq(status_of(r), 200, "REGISTER for a local domain: the registrar answers 200")
    r = srv.sip(request_msg("MESSAGE", "sip:carol@elsewhere.example").replace(
        b"sip:tester@127.0.0.1", b"sip:tester@other.example"))
    tap.eq(status_of(r), 403, "from another domain to another domain: 403 (no open relay)")
    r = srv.sip(request_msg("CANCEL", "sip:alice@localhost"))
    tap.eq(status_of(r), 481, "CANCEL without a transaction: 481")
    r = srv.sip(request_msg("ACK", "sip:alice@localhost"), timeout=0.3)
    tap.ok(r is None, "ACK is never answered")


def test_policy_codes(tap, srv):
    r = srv.sip(request_msg("FROBNICATE", "sip:127.0.0.1"))
    tap.eq(status_of(r), 501, "unknown method for the server: 501")
    tap.ok(r and header(r, "allow"), "501 carries Allow")
    r = srv.sip(request_msg("INVITE", "sip:alice@localhost").replace(b"Max-Forwards: 70", b"Max-Forwards: 0"))
    tap.eq(status_of(r), 483, "Max-Forwards 0 on a request to forward: 483")
    r = srv.sip(options_msg(srv.port).replace(b"Max-Forwards: 70", b"Max-Forwards: 0"))
    tap.eq(status_of(r), 200, "Max-Forwards 0 on OPTIONS for the server itself: 200")
    r = srv.sip(request_msg("INVITE", "sip:alice@localhost", extra="Proxy-Require: foo, bar\r\n"))
    tap.eq(status_of(r), 420, "unknown Proxy-Require: 420")
    tap.eq(header(r, "unsupported") if r else None, "foo, bar", "420 lists the tags in Unsupported")
    r = srv.sip(options_msg(srv.port, extra="Require: 100rel\r\n"))
    tap.eq(status_of(r), 420, "unknown Require on OPTIONS for the server: 420")
    r = srv.sip(request_msg("INVITE", "tel:+15551234"))
    tap.eq(status_of(r), 416, "tel: Request-URI: 416")
    r = srv.sip(request_msg("OPTIONS", "im:alice@localhost"))
    tap.eq(status_of(r), 416, "im: Request-URI: 416")


def test_bad_input(tap, srv):
    before = srv.stats("core")
    r = srv.sip(options_msg(srv.port) + b"INVITE sip:x@y SIP/2.0\r\n\r\n")
    tap.eq(status_of(r), 200, "trailing octets after Content-Length are ignored")
    bad = re.sub(rb"Call-ID: [^\r]*\r\n", b"", request_msg("INVITE", "sip:alice@localhost"))
    r = srv.sip(bad)
    tap.eq(status_of(r), 400, "missing Call-ID: 400")
    tap.ok(r and b"Call-ID" in r.split(b"\r\n")[0], "the 400 reason names the defect",
           r.split(b"\r\n")[0] if r else None)
    r = srv.sip(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx\r\n\r\n", timeout=0.3)
    tap.ok(r is None, "malformed response dropped")
    r = srv.sip(bytes(range(256)) * 4, timeout=0.3)
    tap.ok(r is None, "binary garbage dropped")
    r = srv.sip(b"\r\n\r\n", timeout=0.3)
    tap.ok(r is None, "keepalive CRLFs dropped")
    after = srv.stats("core")
    tap.ok(after["core.drop_replies"] > before["core.drop_replies"], "dropped responses counted")
    tap.ok(after["core.bad_msg_hdr"] >= before["core.bad_msg_hdr"] + 3, "malformed messages counted")
    tap.ok(srv.options_ok(), "server still answers")


def main():
    tap = Tap()
    with Server() as srv:
        test_options_self(tap, srv)
        test_rport_filled(tap, srv)
        test_nat_forces_rport(tap, srv)
        test_user_requests(tap, srv)
        test_policy_codes(tap, srv)
        test_bad_input(tap, srv)
    test_via_port_routing(tap)
    tap.done()


main()
