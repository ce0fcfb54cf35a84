"""phtcp — SIP over TCP for pinhole's integration tests: a stream client
that frames messages by Content-Length, raw SIP requests with a TCP Via,
and the answer a user agent gives to a request it receives. Only the
Python standard library is used.
"""
import os
import re
import shutil
import socket
import time

from phtest import peer_closes, read_some, render_conf

_seq = [0]


def tcp_conf(port, tmp, tcp_workers=2, tcp="", nat_detect=1, nat="", extra=""):
    """A server with UDP and TCP on the same port of 127.0.0.1."""
    text = render_conf(port, tmp, workers_udp=1, extra=extra)
    text = text.replace(
        'listen = ( { proto = "udp"; address = "127.0.0.1"; port = %d; } );' % port,
        'listen = ( { proto = "udp"; address = "127.0.0.1"; port = %d; },\n'
        '           { proto = "tcp"; address = "127.0.0.1"; port = %d; } );' % (port, port))
    text = text.replace("tcp = 0;", "tcp = %d;" % tcp_workers)
    return text + "tcp = { %s };\nnat = { detect = %d; %s };\n" % (tcp, nat_detect, nat)


class Stream:
    """One TCP connection speaking SIP: send(), read_msg(), closed()."""

    def __init__(self, port, host="127.0.0.1", sock=None):
        self.sock = sock or socket.create_connection((host, port), timeout=5)
        self.buf = b""
        self.pongs = 0

    @property
    def local(self):
        return self.sock.getsockname()

    def send(self, data):
        self.sock.sendall(data)

    def _frame(self):
        while self.buf.startswith(b"\r\n"):
            if self.buf.startswith(b"\r\n\r\n"):
                self.buf = self.buf[4:]
            else:
                self.buf = self.buf[2:]
            self.pongs += 1
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        m = re.search(rb"\r\n(?:Content-Length|l)[ \t]*:[ \t]*(\d+)", self.buf[:end + 2], re.I)
        n = end + 4 + (int(m.group(1)) if m else 0)
        if len(self.buf) < n:
            return None
        msg, self.buf = self.buf[:n], self.buf[n:]
        return msg

    def read_msg(self, timeout=3.0, want=None):
        """The next message (a request whose method is want, when given;
        others are skipped), or None."""
        deadline = time.time() + timeout
        while True:
            msg = self._frame()
            if msg is not None and (want is None or msg.startswith(want.encode() + b" ")):
                return msg
            if msg is not None:
                continue
            data = read_some(self.sock, deadline)
            if data is None:
                return None
            self.buf += data

    def wait_pong(self, timeout=3.0):
        """Reads until a lone CRLF (or CRLFCRLF) arrived."""
        start = self.pongs
        deadline = time.time() + timeout
        while self.pongs == start and time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, OSError):
                break
            if not data:
                break
            self.buf += data
            self._frame()
        return self.pongs > start

    def closed(self, timeout=3.0):
        """True once the server closed the connection (EOF or reset)."""
        got = bytearray()
        closed = peer_closes(self.sock, timeout, got)
        self.buf += bytes(got)
        return closed

    def close(self):
        self.sock.close()


def request(method, ruri, transport="TCP", sent_by=("127.0.0.1", 5060), extra="",
            body=b"", to=None, from_uri="sip:tester@127.0.0.1"):
    _seq[0] += 1
    n = _seq[0]
    head = ("%s %s SIP/2.0\r\n"
            "Via: SIP/2.0/%s %s:%d;branch=z9hG4bK-tcp-%d-%d;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <%s>;tag=t%d\r\n"
            "To: <%s>\r\n"
            "Call-ID: tcp-%d-%d\r\n"
            "CSeq: %d %s\r\n"
            "%s"
            "Content-Length: %d\r\n\r\n" % (method, ruri, transport, sent_by[0], sent_by[1],
                                            os.getpid(), n, from_uri, n, to or ruri,
                                            os.getpid(), n, n, method, extra, len(body)))
    return head.encode() + body


def register(user, contact, transport="TCP", sent_by=("127.0.0.1", 5060), expires=300,
             domain="localhost"):
    return request("REGISTER", "sip:" + domain, transport, sent_by,
                   "Contact: <%s>\r\nExpires: %d\r\n" % (contact, expires),
                   to="sip:%s@%s" % (user, domain), from_uri="sip:%s@%s" % (user, domain))


def invite(user, transport="TCP", sent_by=("127.0.0.1", 5060), contact=None):
    sdp = (b"v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           b"m=audio 40000 RTP/AVP 0\r\n")
    contact = contact or "sip:caller@%s:%d;transport=%s" % (sent_by[0], sent_by[1],
                                                            transport.lower())
    return request("INVITE", "sip:%s@localhost" % user, transport, sent_by,
                   "Contact: <%s>\r\nContent-Type: application/sdp\r\n" % contact, sdp)


def answer(req, code=200, reason="OK", tag="uas1"):
    """A user agent's response to req: its Via, From, To (tagged), Call-ID
    and CSeq, no body."""
    lines = req.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    keep = []
    for line in lines:
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"via", b"v", b"from", b"f", b"call-id", b"i", b"cseq", b"record-route"):
            keep.append(line)
        elif name in (b"to", b"t"):
            keep.append(line if b";tag=" in line else line + b";tag=" + tag.encode())
    return (b"SIP/2.0 %d %s\r\n" % (code, reason.encode()) + b"\r\n".join(keep) +
            b"\r\nContent-Length: 0\r\n\r\n")


def status(msg):
    if not msg or not msg.startswith(b"SIP/2.0 "):
        return None
    return int(msg[8:11])


def first_line(msg):
    return msg.split(b"\r\n", 1)[0].decode("utf-8", "replace") if msg else None


def top_via(msg):
    for line in msg.split(b"\r\n")[1:]:
        if line.lower().startswith(b"via:") or line.lower().startswith(b"v:"):
            return line.split(b":", 1)[1].strip().decode()
    return ""


def cleanup(tap, srv):
    """Checks the server's log for sanitizer reports (ASan builds), then
    removes the server's directory, kept (and named) when a test failed."""
    log = srv.log_text()
    bad = [l for l in log.splitlines() if "ERROR: AddressSanitizer" in l or "runtime error:" in l]
    tap.ok(not bad, "no memory or undefined-behaviour error in the server's log", "\n".join(bad))
    if tap.failed:
        tap.diag("server files kept in %s" % srv.tmp)
    else:
        shutil.rmtree(srv.tmp, ignore_errors=True)
