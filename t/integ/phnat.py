"""phnat — a real NAT for pinhole's integration tests, built from network
namespaces (the classic Kamailio NAT how-to addressing):

    ph-lan-ID  10.0.2.15/24, default route via 10.0.2.1     (the phone's LAN)
    ph-nat-ID  10.0.2.1/24 | 203.0.113.2/24, ip_forward=1,
               iptables MASQUERADE --random out of the public side
    ph-wan-ID  203.0.113.1/24                                (where pinhole runs)

joined by two veth pairs. Names carry the test's pid so parallel runs do
not collide; teardown() removes everything and is safe to call twice (use
try/finally). Traffic stays inside the namespaces. Needs root.
"""
import os
import shutil
import subprocess

LAN_IP, NAT_LAN_IP, NAT_WAN_IP, WAN_IP = "10.0.2.15", "10.0.2.1", "203.0.113.2", "203.0.113.1"


def run(*cmd, check=True, timeout=20):
    p = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                                p.stderr.decode("utf-8", "replace").strip()))
    return p


def unavailable():
    """None when the bed can be built here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "needs root for network namespaces and iptables"
    for tool in ("ip", "iptables", "conntrack"):
        if not shutil.which(tool):
            return "%s not installed" % tool
    probe = "ph-probe-%d" % os.getpid()
    try:
        run("ip", "netns", "add", probe)
    except (RuntimeError, OSError) as e:
        return "ip netns does not work here: %s" % e
    try:
        r = run("ip", "netns", "exec", probe, "iptables", "-t", "nat", "-L", "-n", check=False)
        if r.returncode != 0:
            return "iptables nat table unavailable: %s" % r.stderr.decode().strip()
    finally:
        run("ip", "netns", "del", probe, check=False)
    return None


class NatBed:
    def __init__(self, tag=None):
        tag = tag or str(os.getpid())
        self.lan, self.nat, self.wan = ("ph-%s-%s" % (n, tag) for n in ("lan", "nat", "wan"))
        self.if_lan, self.if_nat_lan = "phl%sa" % tag[-7:], "phl%sb" % tag[-7:]
        self.if_nat_wan, self.if_wan = "phw%sa" % tag[-7:], "phw%sb" % tag[-7:]
        self.made = []

    def ns(self, name, *cmd, check=True, timeout=20):
        return run("ip", "netns", "exec", name, *cmd, check=check, timeout=timeout)

    def popen(self, name, cmd, **kw):
        return subprocess.Popen(["ip", "netns", "exec", name] + list(cmd), **kw)

    def setup(self):
        for n in (self.lan, self.nat, self.wan):
            run("ip", "netns", "add", n)
            self.made.append(n)
            self.ns(n, "ip", "link", "set", "lo", "up")
        run("ip", "link", "add", self.if_lan, "netns", self.lan, "type", "veth",
            "peer", "name", self.if_nat_lan, "netns", self.nat)
        run("ip", "link", "add", self.if_nat_wan, "netns", self.nat, "type", "veth",
            "peer", "name", self.if_wan, "netns", self.wan)
        self.addr(self.lan, self.if_lan, LAN_IP)
        self.addr(self.nat, self.if_nat_lan, NAT_LAN_IP)
        self.addr(self.nat, self.if_nat_wan, NAT_WAN_IP)
        self.addr(self.wan, self.if_wan, WAN_IP)
        self.ns(self.lan, "ip", "route", "add", "default", "via", NAT_LAN_IP)
        self.ns(self.nat, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        self.ns(self.nat, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", self.if_nat_wan,
                "-j", "MASQUERADE", "--random")
        return self

    def addr(self, ns, ifname, ip):
        self.ns(ns, "ip", "addr", "add", ip + "/24", "dev", ifname)
        self.ns(ns, "ip", "link", "set", ifname, "up")

    def flush_nat(self):
        """Forgets every NAT mapping (as if they had expired)."""
        self.ns(self.nat, "conntrack", "-F", check=False)

    def mappings(self):
        """The NAT's UDP conntrack entries, as text."""
        return self.ns(self.nat, "conntrack", "-L", "-p", "udp", check=False).stdout.decode()

    def teardown(self):
        for n in reversed(self.made):
            run("ip", "netns", "del", n, check=False)
        self.made = []

    def __enter__(self):
        try:
            return self.setup()
        except BaseException:
            self.teardown()
            raise

    def __exit__(self, *exc):
        self.teardown()
