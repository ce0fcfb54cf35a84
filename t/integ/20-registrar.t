#!/usr/bin/env python3
"""The registrar over UDP against a running pinhole (RFC 3261 §10.3): every
rule, NAT bindings, Path, limits, expiry, `ul` commands, statistics and the
RFC 4475 messages that concern a registrar."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import (CONFORMANCE_DIR, Server, Tap, header, headers, register_msg,  # noqa: E402
                    status_of, udp_socket, wait_for)

DOMAINS = ["127.0.0.1", "localhost", "example.com"]


def contact_expires(resp):
    """{contact uri: expires} from a 200's Contact headers."""
    out = {}
    for c in headers(resp, "contact"):
        m = re.match(r"<([^>]*)>.*;expires=(\d+)", c)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def reg(srv, *a, **k):
    return srv.sip(register_msg(srv.port, *a, **k))


def test_basic(tap, srv):
    r = reg(srv, "alice")
    tap.eq(status_of(r), 200, "REGISTER: 200")
    ce = contact_expires(r)
    tap.ok(3590 <= ce.get("sip:alice@127.0.0.1:5099", 0) <= 3600, "default expires 3600", ce)
    r = reg(srv, "alice", contacts=["<sip:alice@127.0.0.1:5098>;expires=120"])
    ce = contact_expires(r)
    tap.ok(len(ce) == 2 and 110 <= ce["sip:alice@127.0.0.1:5098"] <= 120,
           "Contact expires parameter wins; 200 lists every binding", ce)
    r = reg(srv, "alice", contacts=["<sip:alice@127.0.0.1:5097>"], expires=300)
    tap.ok(290 <= contact_expires(r).get("sip:alice@127.0.0.1:5097", 0) <= 300, "Expires header used")
    r = reg(srv, "alice", contacts=["<sip:alice@127.0.0.1:5096>"], expires=999999)
    tap.ok(contact_expires(r).get("sip:alice@127.0.0.1:5096", 0) <= 86400, "expires capped at max_expires")
    r = reg(srv, "alice", contacts=[])
    tap.ok(status_of(r) == 200 and len(contact_expires(r)) == 4, "no Contact: a query listing the bindings")
    r = reg(srv, "alice", contacts=["<sip:alice@127.0.0.1:5095>"], expires=30)
    tap.ok(status_of(r) == 423 and header(r, "min-expires") == "60", "below min_expires: 423 with Min-Expires")
    r = reg(srv, "alice", contacts=["<sip:alice@127.0.0.1:5096>;expires=0"])
    tap.ok("sip:alice@127.0.0.1:5096" not in contact_expires(r), "expires=0 removes one binding")
    r = reg(srv, "alice", contacts=["*"])
    tap.eq(status_of(r), 400, "Contact * without Expires: 0: 400")
    r = reg(srv, "alice", contacts=["*", "<sip:alice@127.0.0.1:5000>"], expires=0)
    tap.eq(status_of(r), 400, "Contact * with another Contact: 400")
    r = reg(srv, "alice", contacts=["*"], expires=0)
    tap.ok(status_of(r) == 200 and not contact_expires(r), "Contact * with Expires 0 removes all")
    r = reg(srv, "bob", contacts=["<sip:bob@127.0.0.1:1>", "<sip:bob@127.0.0.1:2>;q=0.5",
                                  "<sip:bob@127.0.0.1:3>"])
    tap.ok(len(contact_expires(r)) == 3 and any(";q=0.500" in c for c in headers(r, "contact")),
           "several contacts in one request, q kept", headers(r, "contact"))


def test_ordering(tap, srv):
    r = reg(srv, "carol", callid="carol-1", cseq=5, branch="z9hG4bK-carol-5")
    tap.eq(status_of(r), 200, "first REGISTER of a Call-ID")
    r = reg(srv, "carol", callid="carol-1", cseq=5, branch="z9hG4bK-carol-5")
    tap.eq(status_of(r), 200, "a retransmission (same branch) is answered the same")
    r = reg(srv, "carol", callid="carol-1", cseq=5, branch="z9hG4bK-carol-5b")
    tap.eq(status_of(r), 400, "same Call-ID and CSeq, new transaction: 400")
    r = reg(srv, "carol", callid="carol-1", cseq=4)
    tap.eq(status_of(r), 400, "same Call-ID, lower CSeq: 400")
    r = reg(srv, "carol", callid="carol-1", cseq=6)
    tap.eq(status_of(r), 200, "same Call-ID, higher CSeq: 200")
    r = reg(srv, "carol", callid="carol-2", cseq=1)
    tap.eq(status_of(r), 200, "another Call-ID may use any CSeq")


def test_limits(tap, srv):
    contacts = ["<sip:dave@127.0.0.1:%d>" % (6000 + i) for i in range(11)]
    r = reg(srv, "dave", contacts=contacts)
    tap.eq(status_of(r), 403, "more than max_contacts: 403")
    rc, out, err = srv.ctl("ul", "show", "dave@localhost")
    tap.ok(rc != 0, "and nothing was stored")
    r = reg(srv, "dave", contacts=contacts[:10])
    tap.eq(status_of(r), 200, "exactly max_contacts: 200")
    r = reg(srv, "erin", to_uri="tel:+15551234")
    tap.eq(status_of(r), 400, "To with a tel: URI: 400")
    r = reg(srv, "erin", domain="elsewhere.example")
    tap.ok(status_of(r) in (403, 501), "REGISTER for a domain not served here is refused")
    r = reg(srv, "erin", to_uri="sip:erin@elsewhere.example")
    tap.eq(status_of(r), 403, "To in a domain not served here: 403")
    r = reg(srv, "erin", contacts=["<sip:%s@127.0.0.1>" % ("x" * 600)])
    tap.eq(status_of(r), 400, "oversized Contact: 400")
    r = reg(srv, "erin", contacts=["<sip:erin@127.0.0.1>;expires=99999999999"])
    tap.eq(status_of(r), 400, "absurd expires: 400")
    r = reg(srv, "erin", contacts=["<sip:erin@127.0.0.1>;q=5"])
    tap.eq(status_of(r), 400, "absurd q: 400")
    r = reg(srv, "erin", contacts=["<mailto:erin@example.com>"])
    tap.eq(status_of(r), 400, "non-SIP Contact: 400")
    r = reg(srv, "erin", extra="Require: frobnication\r\n")
    tap.ok(status_of(r) == 420 and header(r, "unsupported") == "frobnication", "unknown Require: 420")


def test_nat_and_path(tap, srv):
    s = udp_socket()
    data = register_msg(srv.port, "frank", contacts=["<sip:frank@10.0.2.15:5060>"],
                        via_host="10.0.2.15", rport=False)
    r = srv.sip(data, sock=s)
    port = s.getsockname()[1]
    c = headers(r, "contact") if r else []
    tap.ok(status_of(r) == 200 and any('received="sip:127.0.0.1:%d"' % port in x for x in c),
           "NATed REGISTER: 200 carries received on the contact", c)
    rc, ul, _ = srv.ctl("ul", "show", "frank@localhost", json_out=True)
    b = ul["bindings"][0] if rc == 0 and ul["bindings"] else {}
    tap.ok(b.get("received") == "127.0.0.1:%d" % port and "nat" in b.get("flags", []) and
           "keepalive" in b.get("flags", []), "ul show: received address, nat and keepalive flags", b)
    tap.eq(b.get("contact"), "sip:frank@10.0.2.15:5060", "the Contact is kept as sent")
    r = reg(srv, "grace", extra="Path: <sip:edge.example.com;lr>\r\nSupported: path\r\n")
    tap.eq(header(r, "path"), "<sip:edge.example.com;lr>", "Path stored and echoed")
    rc, ul, _ = srv.ctl("ul", "show", "grace@localhost", json_out=True)
    tap.ok(rc == 0 and ul["bindings"][0]["path"] == "<sip:edge.example.com;lr>", "ul show lists the Path")
    s2 = udp_socket()
    srv.sip(register_msg(srv.port, "henry", via_port=s2.getsockname()[1]), sock=s2)
    rc, ul, _ = srv.ctl("ul", "show", "henry@localhost", json_out=True)
    tap.ok(rc == 0 and "nat" not in ul["bindings"][0]["flags"], "a UA on its own address is not NATed")


def test_ul_commands(tap, srv):
    rc, out, _ = srv.ctl("ul", "add", "ivan@localhost", "sip:ivan@127.0.0.1:7000", "600")
    tap.eq(rc, 0, "ul add")
    r = reg(srv, "ivan", contacts=[])
    tap.ok(600 >= contact_expires(r).get("sip:ivan@127.0.0.1:7000", 0) >= 590, "the added binding is served")
    rc, out, _ = srv.ctl("ul", "show")
    tap.ok(rc == 0 and "ivan@localhost" in out, "ul show lists every AOR")
    rc, _, _ = srv.ctl("ul", "rm", "ivan@localhost", "sip:ivan@127.0.0.1:7000")
    tap.eq(rc, 0, "ul rm AOR CONTACT")
    rc, _, err = srv.ctl("ul", "show", "ivan@localhost")
    tap.ok(rc == 1, "the AOR is gone")
    rc, _, err = srv.ctl("ul", "rm", "nobody@localhost")
    tap.ok(rc == 1 and err, "ul rm of an unknown AOR: error")
    rc, _, err = srv.ctl("ul", "add", "nodomain", "sip:x@y")
    tap.ok(rc == 1 and "AOR" in err, "ul add with a bad AOR: error")
    rc, _, err = srv.ctl("ul", "add", "x@localhost", "not a uri")
    tap.ok(rc == 1, "ul add with a bad contact: error")


def test_expiry(tap):
    srv = Server(domains=DOMAINS, extra="registrar = { min_expires = 1; default_expires = 60; };")
    with srv:
        r = reg(srv, "kate", contacts=["<sip:kate@127.0.0.1:1>;expires=1", "<sip:kate@127.0.0.1:2>;expires=60"])
        tap.eq(len(contact_expires(r)), 2, "two bindings, one expiring in 1 s")
        time.sleep(2.5)
        r = reg(srv, "kate", contacts=[])
        tap.eq(list(contact_expires(r)), ["sip:kate@127.0.0.1:2"], "the expired binding is not served")
        gone = wait_for(lambda: srv.stats("usrloc")["usrloc.contacts"] == 1, timeout=10)
        tap.ok(gone, "the timer removed it from the table (usrloc.contacts 1)")


def test_stats(tap, srv):
    st = srv.stats()
    tap.ok(st["registrar.accepted_regs"] > 10, "registrar.accepted_regs counts")
    tap.ok(st["registrar.rejected_regs"] > 5, "registrar.rejected_regs counts")
    tap.ok(st["usrloc.registered_users"] >= 5 and st["usrloc.contacts"] >= 10,
           "usrloc.registered_users and usrloc.contacts")


def test_rfc4475(tap, srv):
    folder = os.path.join(CONFORMANCE_DIR, "rfc4475")
    if not os.path.isdir(folder):
        tap.skip("RFC 4475 registrar messages", "conformance corpus not found at %s" % CONFORMANCE_DIR)
        return

    def send(name):
        with open(os.path.join(folder, name), "rb") as f:
            return srv.sip(f.read())
    r = send("escnull.dat")
    c = headers(r, "contact") if r else []
    tap.ok(status_of(r) == 200 and len(contact_expires(r)) == 2, "escnull: two bindings", c)
    rc, ul, _ = srv.ctl("ul", "show", "null-%00-null@example.com", json_out=True)
    tap.ok(rc == 0 and len(ul["bindings"]) == 2, "escnull: the AOR user is not truncated at %00")
    r = send("cparam01.dat")
    tap.ok(status_of(r) == 200 and all("unknownparam" not in k for k in contact_expires(r)),
           "cparam01: unknownparam is not a URI parameter", headers(r, "contact") if r else None)
    r = send("cparam02.dat")
    tap.ok(status_of(r) == 200 and any("unknownparam" in k for k in contact_expires(r)),
           "cparam02: the URI parameter is kept", headers(r, "contact") if r else None)
    r = send("regescrt.dat")
    tap.ok(status_of(r) == 200 and any("?Route=" in k for k in contact_expires(r)),
           "regescrt: the escaped Route stays in the contact URI", headers(r, "contact") if r else None)
    tap.eq(status_of(send("unksm2.dat")), 400, "unksm2: non-SIP To rejected 400")


def main():
    tap = Tap()
    with Server(domains=DOMAINS) as srv:
        test_basic(tap, srv)
        test_ordering(tap, srv)
        test_limits(tap, srv)
        test_nat_and_path(tap, srv)
        test_ul_commands(tap, srv)
        test_rfc4475(tap, srv)
        test_stats(tap, srv)
    test_expiry(tap)
    tap.done()


main()
