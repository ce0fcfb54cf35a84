#!/usr/bin/env python3
"""RFC 4475 and RFC 5118 torture messages sent to a real pinhole over UDP.

Each request must get the response code the manifest asks of a
proxy/registrar: requests for local users that are not registered get
480 (after 100 Trying for an INVITE, whose answer is read from a socket
of its own), REGISTER for other domains 501; regaut01's unknown scheme is
ignored as RFC 4475 §3.3.7 allows, since auth.register is off here.
Requests the proxy forwards get no final answer within the test: sdp01
and ipv4-mapped-ipv6 go to user@example.com (registered by regescrt.dat,
at a socket already closed), mpart01 along its strict Route to
127.0.0.1:5080. wsinv's Route names services.example.com, one of the
domains here, so it is popped and the request is for a local user.
Responses and malformed responses must be dropped, and counted.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import CONFORMANCE_DIR, Server, Tap, status_of, udp_socket  # noqa: E402

# file -> expected status, or None for "no final response" (dropped, or
# forwarded and not answered in time).
# A tuple lists the acceptable codes where the RFC allows either.
RFC4475 = {
    "wsinv.dat": 480, "intmeth.dat": 480, "esc01.dat": 480, "escnull.dat": 200,
    "esc02.dat": 501, "lwsdisp.dat": 480, "longreq.dat": 480, "dblreq.dat": 200,
    "semiuri.dat": 480, "transports.dat": 480, "mpart01.dat": None,
    "unreason.dat": None, "noreason.dat": None,
    "badinv01.dat": 400, "clerr.dat": 400, "ncl.dat": 400, "scalar02.dat": 400,
    "scalarlg.dat": None, "quotbal.dat": 400, "ltgtruri.dat": 400, "lwsruri.dat": 400,
    "lwsstart.dat": 400, "trws.dat": 400, "escruri.dat": 400, "baddate.dat": 480,
    "regbadct.dat": 400, "badaspec.dat": 400, "baddn.dat": 400, "badvers.dat": 505,
    "mismatch01.dat": 400, "mismatch02.dat": 501, "bigcode.dat": None,
    "badbranch.dat": 480, "insuf.dat": 400, "unkscm.dat": 416, "novelsc.dat": 416,
    "unksm2.dat": 400, "bext01.dat": 420, "invut.dat": 480, "regaut01.dat": 200,
    "multi01.dat": 400, "mcl01.dat": 400, "bcast.dat": None, "zeromf.dat": 483,
    "cparam01.dat": 200, "cparam02.dat": 200, "regescrt.dat": 200, "sdp01.dat": None,
    "inv2543.dat": 480, "test.dat": (400, None),
}
RFC5118 = {
    "ipv6-good.dat": 200, "ipv6-bad.dat": 400, "port-ambiguous.dat": 501,
    "port-unambiguous.dat": 200, "via-received-param-with-delim.dat": 405,
    "via-received-param-no-delim.dat": 200, "ipv6-in-sdp.dat": 480,
    "mult-ip-in-header.dat": 480, "mult-ip-in-sdp.dat": 480,
    "ipv4-mapped-ipv6.dat": None, "ipv6-bug-abnf-3-colons.dat": 480,
    "ipv6-correct-abnf-2-colons.dat": 480,
}
DOMAINS = ["127.0.0.1", "localhost", "example.com", "example.net", "example.org",
           "services.example.com",
           "company.com", "chair-dnrc.example.com", "registrar.example.com",
           "jasomi.com", "host.example.net", "2001:db8::10", "2001:db8::192.0.2.1",
           "2001:db8:::192.0.2.1"]


def manifest(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            if line.strip():
                rows.append(line.rstrip("\n").split("\t"))
    return rows


def run_set(tap, srv, sock, folder, expected, manifest_rows):
    files = [r[0] for r in manifest_rows]
    tap.ok(sorted(files) == sorted(expected), "%s: expectations cover the manifest" % folder,
           "manifest %s vs table %s" % (sorted(files), sorted(expected)))
    for name in files:
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
        want = expected.get(name, "missing")
        accept = want if isinstance(want, tuple) else (want,)
        got = final_status(srv, data, 0.4 if None in accept else 2.0)
        tap.ok(got in accept, "%s -> %s" % (name, want), "got %r" % (got,))


def final_status(srv, data, timeout):
    """The first final status answering data, from a socket of its own (a
    stateful INVITE answer is retransmitted until ACKed, and 100 Trying
    comes first)."""
    sock = udp_socket()
    try:
        sock.sendto(data, ("127.0.0.1", srv.port))
        deadline = time.time() + timeout
        while time.time() < deadline:
            sock.settimeout(max(deadline - time.time(), 0.01))
            try:
                code = status_of(sock.recvfrom(70000)[0])
            except OSError:
                return None
            if code is None or code >= 200:
                return code
        return None
    finally:
        sock.close()


def main():
    tap = Tap()
    d4475 = os.path.join(CONFORMANCE_DIR, "rfc4475")
    d5118 = os.path.join(CONFORMANCE_DIR, "rfc5118")
    if not os.path.isdir(d4475):
        tap.skip("RFC 4475/5118 torture messages", "conformance corpus not found at %s" % CONFORMANCE_DIR)
        tap.done()
    with Server(domains=DOMAINS) as srv:
        before = srv.stats("core")
        sock = udp_socket()
        run_set(tap, srv, sock, d4475, RFC4475, manifest(os.path.join(d4475, "MANIFEST.tsv")))
        if os.path.isdir(os.path.join(d5118, "wire")):
            run_set(tap, srv, sock, os.path.join(d5118, "wire"), RFC5118,
                    manifest(os.path.join(d5118, "MANIFEST.tsv")))
        else:
            tap.skip("RFC 5118 wire messages", "no wire/ folder in %s" % d5118)
        time.sleep(0.2)
        after = srv.stats("core")
        dropped = after["core.drop_replies"] - before.get("core.drop_replies", 0)
        tap.ok(dropped >= 5, "dropped responses are counted (core.drop_replies +%d)" % dropped)
        bad = after["core.bad_msg_hdr"] - before.get("core.bad_msg_hdr", 0)
        tap.ok(bad >= 15, "malformed messages are counted (core.bad_msg_hdr +%d)" % bad)
        tap.ok(srv.options_ok(), "server still answers after the torture set")
    tap.done()


main()
