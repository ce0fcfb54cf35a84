#!/usr/bin/env python3
"""SIP over TLS with a certificate the test makes with openssl: an OPTIONS
over TLS answered on its connection (TLS 1.2 or 1.3, counters); a TLS 1.1
client refused; a plain TCP client on the TLS port cut off without an
answer; a TLS handshake that never completes (a silent client, and one
that stops in the middle of its ClientHello) cut off after
tcp.message_timeout while another TLS client is served meanwhile; sips
(RFC 5630): refused with 480 over UDP, carried over TLS with a sips
Record-Route, 480 for a callee reached over UDP; connections pinhole
opens for transport=tls, to a server whose certificate chains to
tls.ca_list and to one whose certificate does not; and sipp registering
and calling over TLS. Debian's sipp is built without
OpenSSL (-t l1 is refused), so sipp runs over TCP (-t t1) into a TLS
bridge (phtls.TlsBridge) that verifies pinhole's certificate and carries
each sipp connection over its own TLS connection."""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import Tap, free_port, header, status_of, udp_socket, wait_for  # noqa: E402
from phtls import StreamPeer, TlsBridge, client_context, stream_server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MESSAGE_TIMEOUT = 2
_n = [0]


def options(port, peer_port, transport="TLS"):
    _n[0] += 1
    return ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/%s 127.0.0.1:%d;branch=z9hG4bK-p61-%d-%d;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:tester@localhost>;tag=t%d\r\n"
            "To: <sip:127.0.0.1:%d>\r\n"
            "Call-ID: p61-%d-%d\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n" % (port, transport, peer_port, os.getpid(), _n[0], _n[0],
                                           port, os.getpid(), _n[0])).encode()


def stat(srv, name):
    return srv.stats(name.split(".")[0]).get(name, 0)


def test_options(tap, srv, ctx):
    hs = stat(srv, "tls.handshakes")
    p = StreamPeer(srv.tls_port, ctx)
    tap.ok(p.sock.version() in ("TLSv1.2", "TLSv1.3"), "TLS 1.2 or 1.3 negotiated",
           p.sock.version())
    p.send(options(srv.tls_port, p.port))
    r = p.recv(2.0)
    tap.eq(status_of(r), 200, "OPTIONS over TLS answered 200 on the connection")
    tap.ok(r and header(r, "via").startswith("SIP/2.0/TLS "), "Via kept", r and header(r, "via"))
    tap.ok(stat(srv, "tls.handshakes") > hs, "tls.handshakes counted")
    tap.ok(stat(srv, "core.rcv_msgs_tls") >= 1, "core.rcv_msgs_tls counted")
    p.close()


def test_tls11_refused(tap, srv):
    warnings.simplefilter("ignore", DeprecationWarning)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError) as e:
        tap.skip("a TLS 1.1 client is refused", "this Python cannot offer TLS 1.1: %s" % e)
        return
    try:
        p = StreamPeer(srv.tls_port, ctx)
        tap.ok(False, "a TLS 1.1 client is refused", "negotiated %s" % p.sock.version())
        p.close()
    except ssl.SSLError as e:
        if "NO_PROTOCOLS_AVAILABLE" in str(e) or "no protocols available" in str(e):
            tap.skip("a TLS 1.1 client is refused", "the local OpenSSL will not offer it")
        else:
            tap.ok("PROTOCOL_VERSION" in str(e) or "protocol version" in str(e),
                   "a TLS 1.1 client is refused by pinhole (protocol version alert)", str(e))
    except OSError as e:
        tap.ok(True, "a TLS 1.1 client is refused (connection closed: %s)" % e)


def test_plain_tcp_on_tls_port(tap, srv):
    hf = stat(srv, "tls.handshake_failures")
    p = StreamPeer(srv.tls_port)
    p.send(options(srv.tls_port, p.port, "TCP"))
    data = b""
    deadline = time.time() + 3
    closed = False
    while time.time() < deadline and not closed:
        p.sock.settimeout(max(deadline - time.time(), 0.01))
        try:
            chunk = p.sock.recv(65536)
        except socket.timeout:
            break
        except OSError:
            closed = True
            break
        closed = not chunk
        data += chunk
    tap.ok(closed, "a plain TCP client on the TLS port is cut off at once")
    tap.ok(b"SIP/2.0" not in data, "and gets no SIP answer", data[:80])
    tap.ok(stat(srv, "tls.handshake_failures") > hf, "tls.handshake_failures counted")
    p.close()


def test_stalled_handshakes(tap, srv, ctx):
    silent = StreamPeer(srv.tls_port)
    half = StreamPeer(srv.tls_port)
    # A TLS record header announcing 512 bytes of ClientHello, then nothing.
    half.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    started = time.time()
    other = StreamPeer(srv.tls_port, ctx)
    other.send(options(srv.tls_port, other.port))
    tap.eq(status_of(other.recv(2.0)), 200,
           "another TLS client is served while two handshakes hang")
    tap.ok(silent.closed_by_peer(MESSAGE_TIMEOUT + 4), "a silent client is cut off")
    took = time.time() - started
    tap.ok(MESSAGE_TIMEOUT - 0.5 <= took <= MESSAGE_TIMEOUT + 3,
           "after about tcp.message_timeout (%d s): %.1f s" % (MESSAGE_TIMEOUT, took))
    tap.ok(half.closed_by_peer(2), "a half-sent ClientHello is cut off too")
    other.send(options(srv.tls_port, other.port))
    tap.eq(status_of(other.recv(2.0)), 200, "the served client's connection is still up")
    for p in (silent, half, other):
        p.close()


def sip_request(method, ruri, transport, port, user, to, callid, extra=""):
    _n[0] += 1
    return ("%s %s SIP/2.0\r\n"
            "Via: SIP/2.0/%s 127.0.0.1:%d;branch=z9hG4bK-p61s-%d-%d;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:%s@localhost>;tag=s%d\r\n"
            "To: <%s>\r\n"
            "Call-ID: %s\r\n"
            "CSeq: 1 %s\r\n"
            "Contact: <sip:%s@127.0.0.1:%d;transport=%s>\r\n"
            "%s"
            "Content-Length: 0\r\n\r\n" % (method, ruri, transport, port, os.getpid(), _n[0],
                                             user, _n[0], to, callid, method, user, port,
                                             transport.lower(), extra)).encode()


def first_final(peer, timeout=2.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = peer.recv(max(deadline - time.time(), 0.01))
        if r is None or (status_of(r) or 0) >= 200:
            return r
    return None


def test_sips(tap, srv, ctx):
    """sips: TLS on both legs (RFC 5630), sips Record-Route."""
    u = udp_socket()
    u.sendto(sip_request("INVITE", "sips:erin@localhost", "UDP", u.getsockname()[1], "alice",
                         "sips:erin@localhost", "p61-sips-udp-%d" % os.getpid()),
             ("127.0.0.1", srv.port))
    r = None
    deadline = time.time() + 2
    while time.time() < deadline and (r is None or status_of(r) < 200):
        u.settimeout(max(deadline - time.time(), 0.01))
        try:
            r = u.recvfrom(70000)[0]
        except OSError:
            break
    tap.ok(r and r.startswith(b"SIP/2.0 480 SIPS Requires TLS"),
           "a sips INVITE over UDP is refused: 480 SIPS Requires TLS", r and r[:60])
    u.close()

    callee = StreamPeer(srv.tls_port, ctx)
    callee.send(sip_request("REGISTER", "sip:localhost", "TLS", callee.port, "erin",
                            "sip:erin@localhost", "p61-reg-erin-%d" % os.getpid()))
    tap.eq(status_of(callee.recv(2.0)), 200, "erin registers over TLS")
    caller = StreamPeer(srv.tls_port, ctx)
    callid = "p61-sips-%d" % os.getpid()
    caller.send(sip_request("INVITE", "sips:erin@localhost", "TLS", caller.port, "alice",
                            "sips:erin@localhost", callid))
    inv = callee.recv(2.0)
    tap.ok(inv and inv.startswith(b"INVITE sip:erin@127.0.0.1:%d;transport=tls" % callee.port),
           "a sips INVITE over TLS reaches the TLS callee", inv and inv[:80])
    tap.eq(inv and header(inv, "record-route"), "<sips:127.0.0.1:%d;lr>" % srv.tls_port,
           "with a sips Record-Route")
    if inv:
        callee.send(b"SIP/2.0 486 Busy Here\r\n" + b"\r\n".join(
            line for line in inv.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]
            if line.split(b":")[0].lower() in (b"via", b"from", b"to", b"call-id", b"cseq")) +
            b"\r\nContent-Length: 0\r\n\r\n")
        first_final(caller)

    u = udp_socket()
    u.sendto(sip_request("REGISTER", "sip:localhost", "UDP", u.getsockname()[1], "frank",
                         "sip:frank@localhost", "p61-reg-frank-%d" % os.getpid())
             .replace(b";transport=udp", b""), ("127.0.0.1", srv.port))
    u.settimeout(2)
    tap.eq(status_of(u.recvfrom(70000)[0]), 200, "frank registers over UDP")
    caller.send(sip_request("INVITE", "sips:frank@localhost", "TLS", caller.port, "alice",
                            "sips:frank@localhost", callid + "-f"))
    r = first_final(caller)
    tap.eq(status_of(r), 480, "a sips INVITE to a binding reached over UDP: 480")
    for p in (callee, caller):
        p.close()
    u.close()


class TlsServer:
    """A TLS UA listening on 127.0.0.1 with cert/key: the first message it
    receives on the first connection that completes a handshake."""

    def __init__(self, cert, key):
        import threading
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.port = self.lsock.getsockname()[1]
        self.msg = None
        self.handshake_errors = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.lsock.settimeout(4)
        deadline = time.time() + 4
        while time.time() < deadline and self.msg is None:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                t = self.ctx.wrap_socket(c, server_side=True)
            except (ssl.SSLError, OSError):
                self.handshake_errors += 1
                c.close()
                continue
            t.settimeout(2)
            try:
                self.msg = t.recv(65536)
            except OSError:
                pass
            t.close()

    def wait(self):
        self.thread.join(5)
        self.lsock.close()
        return self.msg


def test_outgoing(tap, srv):
    """pinhole opens TLS itself for transport=tls, verifying the server."""
    from phtls import make_cert
    good = TlsServer(srv.cert, srv.key)
    u = udp_socket()
    ruri = "sip:svc@127.0.0.1:%d;transport=tls" % good.port
    u.sendto(sip_request("INVITE", ruri, "UDP", u.getsockname()[1], "alice", ruri,
                         "p61-out-%d" % os.getpid()), ("127.0.0.1", srv.port))
    got = good.wait()
    tap.ok(got and got.startswith(b"INVITE " + ruri.encode()),
           "transport=tls: pinhole connects over TLS, the server gets the INVITE",
           got and got[:80])
    tap.ok(got and header(got, "via").startswith("SIP/2.0/TLS 127.0.0.1:%d;" % srv.tls_port),
           "its Via names the TLS socket", got and header(got, "via"))
    tap.eq(got and headers_rr(got), ["<sip:127.0.0.1:%d;transport=tls;r2=on;lr>" % srv.tls_port,
                                     "<sip:127.0.0.1:%d;r2=on;lr>" % srv.port],
           "UDP->TLS: two Record-Routes, the TLS one first")

    vf = stat(srv, "tls.verify_failures")
    rogue_cert, rogue_key = make_cert(srv.tmp, "rogue")
    rogue = TlsServer(rogue_cert, rogue_key)
    ruri = "sip:svc@127.0.0.1:%d;transport=tls" % rogue.port
    u.sendto(sip_request("INVITE", ruri, "UDP", u.getsockname()[1], "alice", ruri,
                         "p61-rogue-%d" % os.getpid()), ("127.0.0.1", srv.port))
    tap.ok(rogue.wait() is None and rogue.handshake_errors >= 1,
           "a server whose certificate is not in tls.ca_list never gets the request")
    tap.ok(wait_for(lambda: stat(srv, "tls.verify_failures") > vf, 3),
           "tls.verify_failures counted")
    u.close()


def headers_rr(msg):
    from phtest import headers
    out = []
    for v in headers(msg, "record-route"):
        out += [x.strip() for x in v.split(",")]
    return out


class Sipp:
    def __init__(self, srv, name, args):
        self.dir = os.path.join(srv.tmp, name)
        os.makedirs(self.dir)
        cmd = ["sipp", "-t", "t1", "-i", "127.0.0.2", "-nostdin", "-timeout", "20",
               "-trace_msg", "-message_file", "messages.log", "-trace_err",
               "-error_file", "errors.log"] + args
        self.out = open(os.path.join(self.dir, "stdout"), "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.dir, stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def wait(self, timeout=30):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.out.close()
        return rc

    def text(self, name):
        try:
            with open(os.path.join(self.dir, name), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def registered(srv, aor):
    rc, out, _ = srv.ctl("ul", "show", aor)
    return rc == 0 and "transport=tls" in out


def test_sipp_call(tap, srv):
    if not shutil.which("sipp"):
        tap.skip("sipp registers and calls over TLS", "sipp not installed")
        return
    hs = stat(srv, "tls.handshakes")
    callee_port, caller_port = free_port(), free_port()
    callee_bridge = TlsBridge(srv.tls_port, srv.cert, bind=("127.0.0.1", callee_port))
    caller_bridge = TlsBridge(srv.tls_port, srv.cert, bind=("127.0.0.1", caller_port))
    callee = Sipp(srv, "callee", ["-sf", os.path.join(HERE, "sipp", "tls_callee.xml"),
                                  "-oocsf", os.path.join(HERE, "sipp", "tls_callee_call.xml"),
                                  "-s", "bob", "-p", str(callee_port), "-m", "1", "-d", "6000",
                                  "127.0.0.1:%d" % callee_bridge.port])
    ok = tap.ok(wait_for(lambda: registered(srv, "bob@localhost"), 10),
                "sipp registers over TLS (binding with transport=tls)")
    rc_caller = None
    if ok:
        caller = Sipp(srv, "caller", ["-sf", os.path.join(ROOT, "contrib", "sipp", "uac_call.xml"),
                                      "-s", "bob", "-key", "domain", "localhost", "-d", "200",
                                      "-p", str(caller_port), "-m", "1",
                                      "127.0.0.1:%d" % caller_bridge.port])
        rc_caller = caller.wait()
        tap.eq(rc_caller, 0, "sipp calls over TLS: INVITE, 200, ACK, BYE, 200")
        if rc_caller != 0:
            tap.diag(caller.text("stdout")[-1500:] + caller.text("errors.log")[-1500:])
    rc_callee = callee.wait()
    tap.eq(rc_callee, 0 if ok else rc_callee, "the callee took the call over its TLS connection")
    if rc_callee != 0:
        tap.diag(callee.text("stdout")[-1500:] + callee.text("errors.log")[-1500:])
    tap.ok(callee_bridge.tls_ok == 1 and caller_bridge.tls_ok == (1 if ok else 0) and
           stat(srv, "tls.handshakes") >= hs + callee_bridge.tls_ok + caller_bridge.tls_ok,
           "every sipp message went over TLS (one verified connection per sipp)")
    callee_bridge.stop()
    caller_bridge.stop()


def main():
    tap = Tap()
    srv = stream_server(tap, tls=True, extra="tcp = { message_timeout = %d; };" % MESSAGE_TIMEOUT)
    try:
        srv.start()
        ctx = client_context(srv.cert)
        test_options(tap, srv, ctx)
        test_tls11_refused(tap, srv)
        test_plain_tcp_on_tls_port(tap, srv)
        test_stalled_handshakes(tap, srv, ctx)
        test_sips(tap, srv, ctx)
        test_outgoing(tap, srv)
        test_sipp_call(tap, srv)
        tap.ok(srv.proc.poll() is None, "pinhole still running")
    except (OSError, RuntimeError, ssl.SSLError) as e:
        tap.ok(False, "error: %s" % e)
    finally:
        srv.stop()
        if tap.failed:
            tap.diag(srv.log_text()[-3000:])
        shutil.rmtree(srv.tmp, ignore_errors=True)
    tap.done()


main()
