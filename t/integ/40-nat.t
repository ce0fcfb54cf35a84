#!/usr/bin/env python3
"""Through a real NAT (t/integ/phnat.py: network namespaces, iptables
MASQUERADE --random): a sipp phone on the private LAN registers its private
Contact with pinhole on the public side; pinhole's binding shows the NAT's
public address; a sipp phone on the public side calls it and the INVITE
(and the BYE) cross the NAT to it; keepalive OPTIONS cross the NAT too and
their answers are recorded; after the NAT forgets its mappings and the
phone registers again, the binding, calls and pings follow the new
mapping. Needs root (skipped with the reason otherwise)."""
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import phnat  # noqa: E402
from phtest import PINHOLE, Server, Tap, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
AOR = "alice@" + phnat.WAN_IP
UA_MS = 5000


class NsServer(Server):
    """pinhole inside the public namespace, on 203.0.113.1:5060."""

    def __init__(self, bed, tap=None):
        self.bed = bed
        Server.__init__(self, tap, text="")
        self.write_conf(text="""# 40-nat.t
listen = ( { proto = "udp"; address = "%s"; port = 5060; } );
domains = [ "%s" ];
workers = { udp = 2; tcp = 0; tls = 0; relay = 0; };
shm_size = "16M";
db = { path = "%s/db"; location = "memory"; };
ctl = { fifo = "%s/pinhole.fifo"; };
pid_file = "%s/pinhole.pid";
log = { level = "info"; target = "stderr"; };
relay = { mode = "never"; control = ""; };
nat = { keepalive = { interval = 2; method = "options"; }; };
""" % (phnat.WAN_IP, phnat.WAN_IP, self.tmp, self.tmp, self.tmp))

    def start(self, timeout=10):
        self.log = open(self.log_path, "ab")
        self.proc = self.bed.popen(self.bed.wan, [PINHOLE, "-F", "-f", self.conf_path],
                                   stdout=self.log, stderr=self.log, start_new_session=True)
        up = wait_for(lambda: self.proc.poll() is None and os.path.exists(self.fifo) and
                      self.ctl("uptime")[0] == 0, timeout=timeout)
        if not up:
            raise RuntimeError("pinhole did not come up in %s:\n%s" % (self.bed.wan, self.log_text()))
        return self


def start_ua(bed, tmp, tag):
    """The phone: registers, then for UA_MS ms answers pings and calls."""
    wd = os.path.join(tmp, tag)
    os.makedirs(wd, exist_ok=True)
    log = os.path.join(wd, "ua.log")
    p = bed.popen(bed.lan, ["sipp", "-sf", os.path.join(HERE, "sipp", "nat_ua.xml"),
                            "-oocsf", os.path.join(HERE, "sipp", "nat_ua_ooc.xml"),
                            "-s", "alice", "-i", phnat.LAN_IP, "-p", "5060", "-m", "1",
                            "-d", str(UA_MS), "-timeout", "30s", "-nostdin", "-trace_msg",
                            "-message_file", log, "%s:5060" % phnat.WAN_IP],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=wd)
    return p, log


def finish(p, log):
    """Exit status of a sipp run and the messages it saw."""
    try:
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    try:
        with open(log, errors="replace") as f:
            return rc, f.read()
    except OSError:
        return rc, ""


def call(bed, tmp, tag):
    """A phone on the public side calls alice: INVITE, 200, ACK, BYE."""
    wd = os.path.join(tmp, tag)
    os.makedirs(wd, exist_ok=True)
    log = os.path.join(wd, "caller.log")
    p = bed.popen(bed.wan, ["sipp", "-sf", os.path.join(HERE, "sipp", "nat_caller.xml"),
                            "-s", "alice", "-i", phnat.WAN_IP, "-p", "5070", "-m", "1",
                            "-timeout", "20s", "-nostdin", "-trace_msg", "-message_file", log,
                            "%s:5060" % phnat.WAN_IP],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=wd)
    return finish(p, log)


def registered(srv, before):
    """Waits until the registrar accepted one more REGISTER than before."""
    return wait_for(lambda: srv.stats("registrar").get("registrar.accepted_regs", 0) > before,
                    timeout=5)


def accepted(srv):
    return srv.stats("registrar").get("registrar.accepted_regs", 0)


def test_call(tap, bed, srv, ua, what):
    """Calls the phone while it runs (ua: its Popen and log)."""
    rc, log = call(bed, srv.tmp, what.replace(" ", "-"))
    tap.eq(rc, 0, "%s: a public phone calls the phone behind the NAT (INVITE, 200, ACK, BYE)" % what)
    rc, log = finish(*ua)
    tap.eq(rc, 0, "%s: the phone took the call and answered the pings (sipp exit 0)" % what)
    tap.ok(re.search(r"^INVITE sip:alice@10\.0\.2\.15:5060 SIP/2\.0", log, re.M) and
           re.search(r"^BYE sip:alice@", log, re.M),
           "%s: INVITE and BYE crossed the NAT to the phone" % what)
    return log


def nat_show(srv):
    rc, out, err = srv.ctl("nat", "show", AOR, json_out=True)
    if rc != 0:
        return {}
    return next(iter(out["bindings"].values()), {})


def received_port(b):
    m = re.match(r"^203\.0\.113\.2:(\d+)$", b.get("received") or "")
    return int(m.group(1)) if m else None


def test_register_and_ping(tap, bed, srv):
    ua = start_ua(bed, srv.tmp, "first")
    tap.ok(registered(srv, 0), "the phone behind the NAT registers")
    log = test_call(tap, bed, srv, ua, "first mapping")
    b = nat_show(srv)
    port = received_port(b)
    tap.ok(port is not None, "pinhole sees the NAT's public address as received", b)
    tap.eq(b.get("declared"), "10.0.2.15:5060", "and the private Contact as declared")
    tap.ok(b.get("nat") and {"contact_private", "via_host_differs"} <= set(b.get("nat_tests", [])),
           "flagged as NATed by the private Contact and the Via host", b.get("nat_tests"))
    tap.ok("behind NAT" in b.get("verdict", "") and "203.0.113.2:%s" % port in b.get("verdict", ""),
           "verdict: behind NAT, calls go to the public address", b.get("verdict"))
    tap.ok("sport=5060 dport=%d" % port in bed.mappings(),
           "that is the NAT's mapping of the phone (conntrack)", bed.mappings())
    tap.ok(re.search(r"OPTIONS sip:alice@10\.0\.2\.15:5060 SIP/2\.0", log) is not None,
           "keepalive OPTIONS crossed the NAT to the phone's private address")
    st = srv.stats("nat")
    tap.ok(st.get("nat.pongs", 0) >= 1 and st.get("nat.bad_pongs", 1) == 0,
           "the phone's answers came back through the NAT and were counted", st)
    tap.ok(b.get("last_keepalive_ago_s") is not None and b.get("rtt_ms", 0) > 0,
           "nat show: last keepalive and round trip", b)
    return port, st.get("nat.pongs", 0)


def test_new_mapping(tap, bed, srv, old_port, old_pongs):
    bed.flush_nat()
    tap.ok("dport=%d" % old_port not in bed.mappings(), "NAT mappings flushed")
    before = accepted(srv)
    ua = start_ua(bed, srv.tmp, "second")
    tap.ok(registered(srv, before), "the phone registers again")
    log = test_call(tap, bed, srv, ua, "new mapping")
    b = nat_show(srv)
    port = received_port(b)
    tap.ok(port is not None and port != old_port,
           "the binding follows the new mapping (%s -> %s)" % (old_port, port), b)
    tap.ok("sport=5060 dport=%s" % port in bed.mappings(), "which is the NAT's new mapping")
    tap.ok("OPTIONS sip:alice@10.0.2.15:5060" in log, "pings reach the phone through it")
    pongs = wait_for(lambda: srv.stats("nat").get("nat.pongs", 0) > old_pongs, timeout=2)
    tap.ok(pongs, "and their answers are counted")


def main():
    tap = Tap()
    reason = phnat.unavailable() or (None if shutil.which("sipp") else "sipp not installed")
    if reason:
        tap.skip("NAT traversal through a real NAT", reason)
        tap.done()
    bed, srv = phnat.NatBed(), None
    try:
        bed.setup()
        srv = NsServer(bed).start()
        port, pongs = test_register_and_ping(tap, bed, srv)
        if port is not None:
            test_new_mapping(tap, bed, srv, port, pongs)
    finally:
        if srv:
            srv.stop()
        bed.teardown()
    tap.done()


main()
