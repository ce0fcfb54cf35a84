"""phrtp — RTP probes for pinhole's media relay tests, and UDP sockets
opened inside a network namespace (t/integ/phnat.py) from this process.

ns_socket() enters the namespace with setns(2) only for the socket() call
and returns to the test's own namespace, so one Python process can play
phones on both sides of the NAT. An RtpPeer sends numbered RTP packets
(RFC 3550 header, PCMU, its own SSRC) and collects what arrives with the
source address, so a test can tell whose packets came from where; RTCP
peers send sender reports numbered the same way.
"""
import ctypes
import os
import select
import socket
import struct
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: %s" % os.strerror(err))


def ns_socket(ns, family=socket.AF_INET, kind=socket.SOCK_DGRAM, bind=None):
    """A socket created in network namespace ns (a name under /run/netns),
    bound to bind when given."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/%s" % ns, os.O_RDONLY)
    try:
        _setns(target)
        try:
            s = socket.socket(family, kind)
            if bind:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(bind)
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)
    return s


def rtp_packet(ssrc, seq, ts, payload=b"\xff" * 160, pt=0):
    """One RTP packet: version 2, no padding/extension/CSRC, marker 0."""
    return struct.pack("!BBHII", 0x80, pt & 0x7f, seq & 0xffff, ts & 0xffffffff,
                       ssrc & 0xffffffff) + payload


def rtcp_packet(ssrc, seq):
    """An RTCP sender report (RFC 3550 §6.4.1) without report blocks; the
    RTP timestamp field carries seq so the receiver can count them."""
    return struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc & 0xffffffff, 0, 0, seq, 0, 0)


def rtp_parse(data):
    """(ssrc, seq) of an RTP packet or of an rtcp_packet, or None."""
    if len(data) >= 28 and data[0] >> 6 == 2 and data[1] == 200:
        ssrc, seq = struct.unpack("!I8xI", data[4:20])
        return ssrc, seq
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    _, _, seq, _, ssrc = struct.unpack("!BBHII", data[:12])
    return ssrc, seq


class RtpPeer:
    """An RTP (or, with rtcp, RTCP) socket of one party: send() numbered
    packets to an address, drain() what arrived since the last drain."""

    def __init__(self, sock, ssrc, rtcp=False):
        self.sock = sock
        self.ssrc = ssrc
        self.seq = 0
        self.rtcp = rtcp

    @property
    def port(self):
        return self.sock.getsockname()[1]

    def send(self, dst, count=5, gap=0.01):
        for _ in range(count):
            self.seq += 1
            self.sock.sendto(rtcp_packet(self.ssrc, self.seq) if self.rtcp else
                             rtp_packet(self.ssrc, self.seq, self.seq * 160), dst)
            if gap:
                time.sleep(gap)

    def drain(self, wait=0.3):
        """Packets received within wait seconds of the last one (at least
        wait in all): a list of (source address, ssrc, seq)."""
        got = []
        deadline = time.time() + wait
        while True:
            left = deadline - time.time()
            if left <= 0:
                return got
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return got
            data, src = self.sock.recvfrom(2048)
            p = rtp_parse(data)
            if p:
                got.append((src, p[0], p[1]))

    def close(self):
        self.sock.close()


def exchange(a, a_dst, b, b_dst, count=5, settle=0.3):
    """a sends count packets to a_dst, then b to b_dst, then both again;
    returns (what a received, what b received). a goes first so a relay
    can latch a's address before b's packets need it."""
    a.send(a_dst, count)
    time.sleep(0.05)
    b.send(b_dst, count)
    a.send(a_dst, count)
    return a.drain(settle), b.drain(settle)
