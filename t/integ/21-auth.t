#!/usr/bin/env python3
"""Digest authentication of REGISTER (RFC 2617 / RFC 7616, MD5 and
SHA-256, qop=auth) against a running pinhole with subscribers added by
`pinholectl user add`, with raw messages and with sipp's [authentication]."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import (CONFORMANCE_DIR, Server, Tap, digest_authorization, free_port,  # noqa: E402
                    headers, register_msg, status_of, udp_socket)

HERE = os.path.dirname(os.path.abspath(__file__))


def challenge_of(resp, alg):
    for c in headers(resp, "www-authenticate"):
        if ("algorithm=%s" % alg).lower() in c.lower().replace('"', ""):
            return c
    return None


def auth_register(srv, sock, user, password, alg="MD5", auth_user=None, nc=1, mutate=None,
                  callid=None, cseq=2):
    first = srv.sip(register_msg(srv.port, user, callid=callid, cseq=cseq - 1), sock=sock)
    ch = challenge_of(first, alg) if first else None
    if not ch:
        return first, None
    cred = digest_authorization(ch, auth_user or user, password, "REGISTER", "sip:localhost", nc=nc)
    if mutate:
        cred = mutate(cred)
    r = srv.sip(register_msg(srv.port, user, extra=cred, callid=callid, cseq=cseq), sock=sock)
    return r, cred


def test_users(tap, srv):
    tap.eq(srv.ctl("user", "add", "alice@localhost", "wonderland")[0], 0, "user add alice")
    tap.eq(srv.ctl("user", "add", "bob@localhost", "builder")[0], 0, "user add bob")
    rc, users, _ = srv.ctl("user", "list", json_out=True)
    tap.ok(rc == 0 and sorted(u["user"] for u in users) == ["alice", "bob"], "user list")
    tap.ok("wonderland" not in open(os.path.join(srv.tmp, "db", "subscriber"), "rb").read().decode("latin-1")
           if os.path.exists(os.path.join(srv.tmp, "db", "subscriber")) else True,
           "no clear password in the database")


def test_challenge(tap, srv):
    s = udp_socket()
    r = srv.sip(register_msg(srv.port, "alice"), sock=s)
    tap.eq(status_of(r), 401, "REGISTER without credentials: 401")
    chs = headers(r, "www-authenticate")
    tap.ok(len(chs) == 2 and "MD5" in chs[0] and "SHA-256" in chs[1] and all('qop="auth"' in c for c in chs),
           "challenges for MD5 then SHA-256 (auth.algorithms default), qop=auth", chs)
    for alg in ("MD5", "SHA-256"):
        r, _ = auth_register(srv, s, "alice", "wonderland", alg=alg, callid="alice-%s" % alg)
        tap.eq(status_of(r), 200, "correct %s credentials: 200" % alg)
    r, _ = auth_register(srv, s, "alice", "wrong", callid="alice-wrong")
    tap.eq(status_of(r), 401, "wrong password: 401 again")
    r, _ = auth_register(srv, s, "alice", "builder", auth_user="bob", callid="alice-as-bob")
    tap.eq(status_of(r), 403, "credentials of another user: 403")
    r, cred = auth_register(srv, s, "bob", "builder", callid="bob-1", cseq=2)
    tap.eq(status_of(r), 200, "bob registers")
    r = srv.sip(register_msg(srv.port, "bob", extra=cred, callid="bob-1", cseq=3), sock=s)
    tap.eq(status_of(r), 401, "a replayed nonce-count: 401")
    r, _ = auth_register(srv, s, "bob", "builder", callid="bob-forged",
                         mutate=lambda c: c.replace('nonce="', 'nonce="0'))
    tap.eq(status_of(r), 401, "a forged nonce: 401")
    r, _ = auth_register(srv, s, "bob", "builder", callid="bob-realm",
                         mutate=lambda c: c.replace('realm="localhost"', 'realm="other"'))
    tap.eq(status_of(r), 401, "credentials for another realm: 401")
    r, _ = auth_register(srv, s, "bob", "builder", callid="bob-bad",
                         mutate=lambda c: c.replace("Digest ", "Digest ,,"))
    tap.eq(status_of(r), 400, "malformed credentials: 400")
    r, _ = auth_register(srv, s, "zed", "nope", callid="zed-1")
    tap.eq(status_of(r), 401, "unknown user: challenged again")
    rc, _, _ = srv.ctl("ul", "show", "zed@localhost")
    tap.ok(rc == 1, "no binding written for an unauthenticated user")
    st = srv.stats("auth")
    tap.ok(st["auth.challenges"] >= 5 and st["auth.failures"] >= 3, "auth counters", st)


def test_regaut01(tap, srv):
    path = os.path.join(CONFORMANCE_DIR, "rfc4475", "regaut01.dat")
    if not os.path.exists(path):
        tap.skip("regaut01", "conformance corpus not found at %s" % CONFORMANCE_DIR)
        return
    data = open(path, "rb").read().replace(b"example.com", b"localhost")
    r = srv.sip(data)
    tap.ok(status_of(r) == 401 and headers(r, "www-authenticate"),
           "regaut01: an unknown scheme gets a new challenge")


def test_sipp(tap, srv):
    if not shutil.which("sipp"):
        tap.skip("sipp registers with digest auth", "sipp (Debian sip-tester) not installed")
        return
    for user, password in (("alice", "wonderland"), ("bob", "builder")):
        p = subprocess.run(["sipp", "-sf", os.path.join(HERE, "sipp", "reg_auth.xml"),
                            "-s", user, "-au", user, "-ap", password,
                            "-i", "127.0.0.1", "-p", str(free_port()), "-m", "1",
                            "-timeout", "20s", "-nostdin", "127.0.0.1:%d" % srv.port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, cwd=srv.tmp)
        tap.eq(p.returncode, 0, "sipp [authentication] registers %s" % user)
    rc, ul, _ = srv.ctl("ul", "show", "bob@localhost", json_out=True)
    tap.ok(rc == 0 and any(b["user_agent"] == "sipp" for b in ul["bindings"]), "sipp's binding is stored")


def main():
    tap = Tap()
    with Server(extra='auth = { register = true; realm = "localhost"; };') as srv:
        test_users(tap, srv)
        test_challenge(tap, srv)
        test_regaut01(tap, srv)
        test_sipp(tap, srv)
    tap.done()


main()
