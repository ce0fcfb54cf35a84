#!/usr/bin/env python3
"""SIP over TCP (RFC 3261 §18.3): a server with UDP and TCP on one port and
two TCP workers. Raw clients check that requests are answered on their own
connection, pipelined and split messages are framed by Content-Length, a
double CRLF is answered with a CRLF (RFC 5626 §4.4.1) and a message without
Content-Length gets 400 and a close. A client behind NAT (private Contact)
registers over TCP and receives a call over its own connection from a UDP
caller; a TCP caller reaches a UDP callee; pinhole opens a connection to a
non-NATed TCP contact; CRLF keepalives reach the stream binding;
`pinholectl tcp list` shows owners, peers and directions. A kill -9 of a
TCP worker removes its connections and only them; a binding on a dead
connection gets 480 and the worker is respawned. At a reload the
connections move to the new generation's workers, with their ids and a
half-received message. sipp over TCP (-t t1)
registers and calls, TCP caller to UDP callee and the reverse. Through the
real NAT of t/integ/phnat.py (when root) a phone registers over TCP and
takes a call over its connection."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import phnat  # noqa: E402
from phtcp import (Stream, answer, cleanup, first_line, invite, register, request,  # noqa: E402
                   status, tcp_conf, top_via)
from phtest import PINHOLE, Server, Tap, free_port, recv_response, udp_socket, wait_for  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))


def tcp_list(srv):
    rc, out, err = srv.ctl("tcp", "list", json_out=True)
    return out if rc == 0 else []


def conn_of(srv, stream):
    port = stream.local[1]
    for r in tcp_list(srv):
        if r["peer"] == "127.0.0.1:%d" % port:
            return r
    return None


def udp_final(sock, timeout=5):
    """The first final response arriving on a UDP socket."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = recv_response(sock, deadline - time.time())
        if r is None:
            return None
        if status(r) and status(r) >= 200:
            return r
    return None


def udp_request(sock, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            data, src = sock.recvfrom(70000)
        except socket.timeout:
            return None, None
        if not data.startswith(b"SIP/2.0"):
            return data, src
    return None, None


def test_framing(tap, srv):
    s = Stream(srv.port)
    opt = lambda: request("OPTIONS", "sip:127.0.0.1:%d" % srv.port, sent_by=s.local)  # noqa: E731
    s.send(opt())
    r = s.read_msg()
    tap.eq(status(r), 200, "OPTIONS over TCP: 200 on the same connection")
    tap.ok(top_via(r).startswith("SIP/2.0/TCP"), "the response keeps the TCP Via", top_via(r))
    a, b, c = opt(), opt(), opt()
    s.send(a + b + c[:10])
    time.sleep(0.1)
    s.send(c[10:40])
    time.sleep(0.1)
    s.send(c[40:])
    got = [s.read_msg() for _ in range(3)]
    tap.ok([status(x) for x in got] == [200] * 3,
           "two pipelined requests and one split in three segments: three answers",
           [first_line(x) for x in got])
    cseqs = [re.search(rb"CSeq: (\d+)", x).group(1) if x else None for x in got]
    tap.ok(cseqs == sorted(cseqs) and None not in cseqs, "answered in order", cseqs)
    s.send(b"\r\n\r\n")
    tap.ok(s.wait_pong(), "a double CRLF is answered with a CRLF (RFC 5626 4.4.1)")
    s.send(opt())
    tap.eq(status(s.read_msg()), 200, "the connection goes on after the keepalive")
    n = Stream(srv.port)
    s.close()
    n.send(request("OPTIONS", "sip:127.0.0.1:%d" % srv.port, sent_by=n.local).replace(b"Content-Length: 0\r\n", b""))
    tap.eq(status(n.read_msg()), 400, "a message without Content-Length on a stream: 400")
    tap.ok(n.closed(), "and the connection is closed (its framing is lost)")


def test_nated_callee(tap, srv):
    """alice is behind NAT (private Contact) and registered over TCP."""
    alice = Stream(srv.port)
    alice.send(register("alice", "sip:alice@10.0.2.15:5060;transport=tcp",
                        sent_by=("10.0.2.15", 5060)))
    tap.eq(status(alice.read_msg()), 200, "a NATed client registers over TCP")
    row = conn_of(srv, alice)
    tap.ok(row and row["proto"] == "tcp" and row["direction"] == "in" and
           row["owner"].startswith("tcp#"), "tcp list: its connection, owner, peer", row)
    st = srv.stats("tcp")
    tap.ok(st.get("tcp.connections") == len(tcp_list(srv)) and st.get("tcp.accepted", 0) >= 1,
           "stats tcp: the tcp.connections gauge matches tcp list, tcp.accepted counts", st)
    ul = srv.ctl_json("ul", "show", "alice@localhost")
    tap.ok("127.0.0.1:%d" % alice.local[1] in str(ul), "the binding's received is the connection's peer")
    caller = udp_socket()
    caller.sendto(invite("alice", "UDP", caller.getsockname()), ("127.0.0.1", srv.port))
    inv = alice.read_msg(5, want="INVITE")
    tap.ok(inv is not None, "a UDP caller's INVITE reaches alice over her own connection")
    tap.ok(inv and top_via(inv).startswith("SIP/2.0/TCP"), "with pinhole's Via for TCP",
           inv and top_via(inv))
    again = alice.read_msg(1.7, want="INVITE")
    tap.ok(again is None, "not retransmitted over TCP (no Timer A, RFC 3261 17.1.1.2)")
    if inv:
        alice.send(answer(inv, 200))
    tap.eq(status(udp_final(caller)), 200, "alice's 200 reaches the UDP caller")
    return alice, caller


def test_udp_callee(tap, srv):
    bob = udp_socket()
    bob.sendto(register("bob", "sip:bob@127.0.0.1:%d" % bob.getsockname()[1], "UDP",
                        bob.getsockname()), ("127.0.0.1", srv.port))
    tap.eq(status(udp_final(bob)), 200, "bob registers over UDP")
    c = Stream(srv.port)
    c.send(invite("bob", "TCP", c.local))
    inv, src = udp_request(bob)
    tap.ok(inv and inv.startswith(b"INVITE"), "a TCP caller's INVITE reaches bob over UDP")
    if inv:
        bob.sendto(answer(inv, 200), src)
    r = c.read_msg(5)
    while r is not None and status(r) and status(r) < 200:
        r = c.read_msg(5)
    tap.eq(status(r), 200, "bob's 200 reaches the caller on its TCP connection")
    c.send(invite("bob", "TCP", c.local))
    inv, src = udp_request(bob)
    if inv:
        bob.sendto(answer(inv, 486, "Busy Here"), src)
    r = c.read_msg(5)
    while r is not None and status(r) and status(r) < 200:
        r = c.read_msg(5)
    tap.eq(status(r), 486, "bob's 486 reaches the TCP caller")
    again = c.read_msg(1.7)
    tap.ok(again is None, "the unacknowledged 486 is not retransmitted over TCP (no Timer G, RFC 3261 17.2.1)",
           again and first_line(again))
    c.close()
    bob.close()


def test_outgoing(tap, srv):
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(4)
    port = lst.getsockname()[1]
    reg = udp_socket()
    reg.sendto(register("dave", "sip:dave@127.0.0.1:%d;transport=tcp" % port, "UDP",
                        reg.getsockname()), ("127.0.0.1", srv.port))
    tap.eq(status(udp_final(reg)), 200, "dave registers a TCP Contact (not NATed)")
    reg.sendto(invite("dave", "UDP", reg.getsockname()), ("127.0.0.1", srv.port))
    lst.settimeout(5)
    try:
        conn, _ = lst.accept()
    except socket.timeout:
        conn = None
    tap.ok(conn is not None, "pinhole opens a TCP connection to dave's Contact")
    if conn is None:
        return
    d = Stream(0, sock=conn)
    inv = d.read_msg(5, want="INVITE")
    tap.ok(inv is not None, "and sends the INVITE on it")
    rows = [r for r in tcp_list(srv) if r["peer"] == "127.0.0.1:%d" % port]
    tap.ok(rows and rows[0]["direction"] == "out", "tcp list: the connection is outgoing", rows)
    if inv:
        d.send(answer(inv, 486, "Busy Here"))
    tap.eq(status(udp_final(reg)), 486, "dave's answer on that connection reaches the caller")
    d.close()
    lst.close()
    reg.close()


def test_keepalive(tap, srv, alice):
    tap.ok(alice.wait_pong(4), "keepalives to the stream binding are CRLFCRLF on its connection")
    tap.ok(srv.stats("nat").get("nat.pings_sent", 0) >= 1, "and counted in nat.pings_sent")


def owner_pid(srv, stream):
    row = wait_for(lambda: conn_of(srv, stream), timeout=2)
    return row and row["pid"]


def two_workers(srv):
    """Registered clients until two of them belong to different workers."""
    seen = {}
    for i in range(40):
        s = Stream(srv.port)
        user = "k%d" % i
        s.send(register(user, "sip:%s@10.0.2.15:5060;transport=tcp" % user,
                        sent_by=("10.0.2.15", 5060)))
        if status(s.read_msg()) != 200:
            continue
        pid = owner_pid(srv, s)
        if pid and pid not in seen:
            seen[pid] = (s, user)
        if len(seen) == 2:
            return list(seen.items())
    return list(seen.items())


def test_kill(tap, srv):
    pairs = two_workers(srv)
    if not tap.ok(len(pairs) == 2, "connections spread over both TCP workers"):
        return
    (vpid, (victim, vuser)), (spid, (survivor, suser)) = pairs
    before = len(tcp_list(srv))
    os.kill(vpid, signal.SIGKILL)
    tap.ok(victim.closed(5), "kill -9 of a TCP worker: its connections close")
    gone = wait_for(lambda: not [r for r in tcp_list(srv) if r["pid"] == vpid], timeout=5)
    tap.ok(gone, "and leave the connection table")
    left = tcp_list(srv)
    tap.ok(0 < len(left) < before and conn_of(srv, survivor),
           "the other worker's connections stay (%d of %d)" % (len(left), before))
    survivor.send(request("OPTIONS", "sip:127.0.0.1:%d" % srv.port, sent_by=survivor.local))
    tap.eq(status(survivor.read_msg()), 200, "and keep working")
    caller = udp_socket()
    caller.sendto(invite(vuser, "UDP", caller.getsockname()), ("127.0.0.1", srv.port))
    tap.eq(status(udp_final(caller)), 480, "a call to a binding on a dead connection: 480")
    caller.sendto(invite(suser, "UDP", caller.getsockname()), ("127.0.0.1", srv.port))
    inv = survivor.read_msg(5, want="INVITE")
    tap.ok(inv is not None, "a call to a binding on a live connection still reaches it")
    if inv:
        survivor.send(answer(inv, 486, "Busy Here"))
        udp_final(caller)
    back = wait_for(lambda: len([p for p in srv.ps() if p.get("role") == "tcp" and
                                 p.get("state") == "running" and p.get("pid") != vpid]) == 2,
                    timeout=5)
    tap.ok(back, "the master respawns the worker")
    n = Stream(srv.port)
    n.send(request("OPTIONS", "sip:127.0.0.1:%d" % srv.port, sent_by=n.local))
    tap.eq(status(n.read_msg()), 200, "new connections are served")
    caller.close()


def test_reload(tap, srv):
    erin = Stream(srv.port)
    erin.send(register("erin", "sip:erin@10.0.2.15:5060;transport=tcp",
                       sent_by=("10.0.2.15", 5060)))
    tap.eq(status(erin.read_msg()), 200, "erin registers over TCP")
    before = wait_for(lambda: conn_of(srv, erin), timeout=2)
    half = request("OPTIONS", "sip:127.0.0.1:%d" % srv.port, sent_by=erin.local)
    erin.send(half[:30])
    time.sleep(0.2)
    rc, out, err = srv.ctl("reload")
    tap.ok(rc == 0, "reload", err)
    moved = wait_for(lambda: (conn_of(srv, erin) or {}).get("pid") not in (None, before["pid"]),
                     timeout=8)
    after = conn_of(srv, erin)
    tap.ok(moved and after["id"] == before["id"],
           "at a reload the connection moves to a worker of the new generation, same id",
           (before, after))
    erin.send(half[30:])
    tap.eq(status(erin.read_msg()), 200, "a message begun before the reload is completed after it")
    caller = udp_socket()
    caller.sendto(invite("erin", "UDP", caller.getsockname()), ("127.0.0.1", srv.port))
    inv = erin.read_msg(5, want="INVITE")
    tap.ok(inv is not None, "and the binding still reaches erin over it")
    if inv:
        erin.send(answer(inv, 486, "Busy Here"))
    tap.eq(status(udp_final(caller)), 486, "her answer reaches the caller")
    caller.close()


# ---- sipp over TCP ---------------------------------------------------------

def scenario(tmp, name):
    """A contrib/sipp scenario whose Contacts carry ;transport=[transport],
    so in-dialog requests to it take its transport."""
    with open(os.path.join(ROOT, "contrib", "sipp", name + ".xml")) as f:
        text = f.read()
    text = re.sub(r"(Contact: <sip:[^>;]*)>", r"\1;transport=[transport]>", text)
    path = os.path.join(tmp, name + "-tcp.xml")
    with open(path, "w") as f:
        f.write(text)
    return path


def sipp(srv, name, port, user, transport, args, remote=True, tag=""):
    wd = os.path.join(srv.tmp, "sipp-%s-%s%s" % (name, user, tag))
    os.makedirs(wd, exist_ok=True)
    cmd = ["sipp", "-sf", scenario(srv.tmp, name), "-s", user, "-key", "domain", "localhost",
           "-i", "127.0.0.1", "-p", str(port), "-t", transport, "-nostdin", "-timeout", "20s",
           "-trace_err", "-error_file", "errors.log", "-trace_msg", "-message_file",
           "messages.log"] + list(args)
    if remote:
        cmd.append("127.0.0.1:%d" % srv.port)
    return subprocess.Popen(cmd, cwd=wd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL), wd


def sipp_wait(p, timeout=30):
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()


def output(p, timeout=20):
    """What a helper process printed; killed if it runs too long."""
    try:
        return p.communicate(timeout=timeout)[0].decode()
    except subprocess.TimeoutExpired:
        p.kill()
        return p.communicate()[0].decode() + " (killed)"


def sipp_diag(wd):
    try:
        with open(os.path.join(wd, "errors.log"), errors="replace") as f:
            return f.read()[-2000:]
    except OSError:
        return ""


def sipp_call(tap, srv, caller_t, callee_t, what):
    """callee registers over callee_t and answers; caller calls over caller_t."""
    up, cp = free_port(), free_port()
    user = "s" + what.replace(" ", "")
    p, wd = sipp(srv, "register_contact", up, user, callee_t, ["-m", "1"], tag="r")
    tap.eq(sipp_wait(p), 0, "%s: sipp callee registers over %s" % (what, callee_t), )
    uas, uwd = sipp(srv, "uas_answer", up, user, callee_t,
                    ["-m", "1", "-d", "200", "-set", "linger", "0"], remote=False)
    time.sleep(0.5)
    uac, cwd = sipp(srv, "uac_call", cp, user, caller_t, ["-m", "1", "-d", "200"])
    rc = sipp_wait(uac)
    tap.eq(rc, 0, "%s: the call completes (INVITE, 200, ACK, BYE, 200)" % what, )
    if rc != 0:
        tap.diag(sipp_diag(cwd))
    urc = sipp_wait(uas, 10)
    tap.eq(urc, 0, "%s: the callee saw INVITE, ACK and BYE" % what)
    if urc != 0:
        tap.diag(sipp_diag(uwd))


def test_sipp(tap, srv):
    if not shutil.which("sipp"):
        tap.skip("sipp over TCP", "sipp not installed")
        return
    sipp_call(tap, srv, "t1", "t1", "tcp to tcp")
    sipp_call(tap, srv, "t1", "u1", "tcp to udp")
    sipp_call(tap, srv, "u1", "t1", "udp to tcp")


# ---- through a real NAT ----------------------------------------------------

def test_real_nat(tap):
    reason = phnat.unavailable() or (None if shutil.which("sipp") else "sipp not installed")
    if reason:
        tap.skip("a phone behind a real NAT registers over TCP and takes a call", reason)
        return
    bed, srv, helpers = phnat.NatBed(), None, []
    spawn = lambda ns, cmd, **kw: helpers.append(bed.popen(ns, cmd, **kw)) or helpers[-1]  # noqa: E731
    try:
        bed.setup()
        srv = Server(tap, text="")
        srv.write_conf(text="""# 60-tcp.t behind NAT
listen = ( { proto = "udp"; address = "%s"; port = 5060; },
           { proto = "tcp"; address = "%s"; port = 5060; } );
domains = [ "%s" ];
workers = { udp = 1; tcp = 2; tls = 0; relay = 0; };
shm_size = "32M";
db = { path = "%s/db"; location = "memory"; };
ctl = { fifo = "%s/pinhole.fifo"; };
pid_file = "%s/pinhole.pid";
relay = { mode = "never"; control = ""; };
nat = { keepalive = { interval = 2; }; };
""" % ((phnat.WAN_IP,) * 3 + (srv.tmp,) * 3))
        srv.log = open(srv.log_path, "ab")
        srv.proc = bed.popen(bed.wan, [PINHOLE, "-F", "-f", srv.conf_path], stdout=srv.log,
                             stderr=srv.log, start_new_session=True)
        up = wait_for(lambda: os.path.exists(srv.fifo) and srv.ctl("uptime")[0] == 0, 10)
        if not tap.ok(up, "pinhole runs on the public side"):
            return
        wd = os.path.join(srv.tmp, "nat-ua")
        os.makedirs(wd)
        ua = spawn(bed.lan, ["sipp", "-sf", scenario(srv.tmp, "register_contact"), "-s",
                                 "alice", "-key", "domain", phnat.WAN_IP, "-i", phnat.LAN_IP,
                                 "-p", "5060", "-t", "t1", "-m", "1", "-nostdin",
                                 "-timeout", "20s", "%s:5060" % phnat.WAN_IP],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=wd)
        tap.eq(sipp_wait(ua), 0, "a phone behind the NAT registers over TCP")
        # the registering sipp has exited: its connection is gone, the binding unreachable
        caller = spawn(bed.wan, ["python3", "-c", NAT_CALLER, phnat.WAN_IP, "alice"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = output(caller)
        tap.ok("480" in out, "once its connection is closed the binding gets 480, no new "
               "connection through the NAT", out)
        phone = spawn(bed.lan, ["python3", "-c", NAT_PHONE, phnat.WAN_IP],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(1.5)
        caller = spawn(bed.wan, ["python3", "-c", NAT_CALLER, phnat.WAN_IP, "carol"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        cout = output(caller)
        pout = output(phone)
        tap.ok("registered" in pout and "INVITE via SIP/2.0/TCP 203.0.113.1" in pout,
               "a phone keeping its TCP connection takes the call over it", pout)
        tap.ok("final 200" in cout, "and the caller gets its 200", cout)
        tap.ok("ping" in pout, "CRLF keepalives cross the NAT on the connection", pout)
    finally:
        for p in helpers:
            if p.poll() is None:
                p.kill()
                p.wait()
        if srv and srv.proc:
            srv.stop()
        if srv:
            cleanup(tap, srv)
        bed.teardown()


NAT_PHONE = r"""
import socket, sys, time
sys.path.insert(0, %r)
from phtcp import Stream, register, answer, status, top_via
s = Stream(5060, host=sys.argv[1])
s.send(register("carol", "sip:carol@10.0.2.15:5060;transport=tcp", sent_by=("10.0.2.15", 5060),
                domain=sys.argv[1]))
if status(s.read_msg()) == 200:
    print("registered", flush=True)
inv = s.read_msg(10, want="INVITE")
if inv:
    print("INVITE via", top_via(inv), flush=True)
    s.send(answer(inv, 200))
if s.wait_pong(4):
    print("ping", flush=True)
""" % HERE

NAT_CALLER = r"""
import socket, sys, time
sys.path.insert(0, %r)
from phtcp import invite, status
host, user = sys.argv[1], sys.argv[2]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((host, 0))
u.sendto(invite(user, "UDP", u.getsockname()).replace(b"@localhost", b"@" + host.encode()),
         (host, 5060))
u.settimeout(8)
try:
    while True:
        r = u.recv(65536)
        if status(r) and status(r) >= 200:
            print("final", status(r), flush=True)
            break
except socket.timeout:
    print("no final", flush=True)
""" % HERE


def main():
    tap = Tap()
    srv = Server(tap, text="")
    srv.write_conf(text=tcp_conf(srv.port, srv.tmp, tcp="message_timeout = 3;", nat_detect=1,
                                 nat="keepalive = { interval = 1; };"))
    try:
        srv.start()
        test_framing(tap, srv)
        alice, caller = test_nated_callee(tap, srv)
        test_udp_callee(tap, srv)
        test_outgoing(tap, srv)
        test_keepalive(tap, srv, alice)
        test_kill(tap, srv)
        test_reload(tap, srv)
        test_sipp(tap, srv)
    finally:
        srv.stop()
        cleanup(tap, srv)
    test_real_nat(tap)
    tap.done()


main()
