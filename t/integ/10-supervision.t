#!/usr/bin/env python3
"""Supervision: kill -9 of each kind of child. The master respawns it within
a second, `pinholectl ps` shows the restart, shared-memory counters survive,
and OPTIONS keep being answered throughout."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import Server, Tap, free_port, wait_for  # noqa: E402
from phpinger import Pinger  # noqa: E402


def gone(pid):
    """The process has exited (reaped, or a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(") ", 1)[1][0] == "Z"
    except OSError:
        return True


def tls_files(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return cert, key


def slot_of(ps, role, index):
    for p in ps:
        if p["role"] == role and p["index"] == index and p["state"] == "running":
            return p
    return None


def main():
    tap = Tap()
    srv = Server(workers_udp=2)
    cert, key = tls_files(srv.tmp)
    tport = free_port()
    text = open(srv.conf_path).read().replace(
        'listen = ( { proto = "udp"; address = "127.0.0.1"; port = %d; } );' % srv.port,
        'listen = ( { proto = "udp"; address = "127.0.0.1"; port = %d; },\n'
        '           { proto = "tcp"; address = "127.0.0.1"; port = %d; },\n'
        '           { proto = "tls"; address = "127.0.0.1"; port = %d; } );' % (srv.port, tport, tport + 1))
    text = text.replace("tcp = 0; tls = 0; relay = 0;", "tcp = 1; tls = 1; relay = 1;")
    text += 'tls = { certificate = "%s"; private_key = "%s"; };\n' % (cert, key)
    srv.write_conf(text=text)
    srv.start()
    try:
        ps = srv.ps()
        roles = sorted(set(p["role"] for p in ps))
        tap.eq(roles, sorted(["master", "udp", "tcp", "tls", "timer", "relay", "ctl"]),
               "every role runs")
        pinger = Pinger(srv.port, retransmit=True)
        pinger.start()
        for role in ["udp", "tcp", "tls", "timer", "relay", "ctl"]:
            before = srv.stats("core")["core.rcv_requests"]
            victim = slot_of(srv.ps(), role, 0)
            os.kill(victim["pid"], signal.SIGKILL)
            t0 = time.time()
            # Ask ps only once the victim is gone: a ctl still dying may
            # take a request off the FIFO and never answer it.
            wait_for(lambda: gone(victim["pid"]), timeout=5)

            def respawned():
                try:
                    p = slot_of(srv.ps(), role, 0)
                except RuntimeError:
                    return None
                return p if p and p["pid"] != victim["pid"] else None
            new = wait_for(respawned, timeout=5)
            # ctl answers the ps query itself, so its new FIFO must be up too
            limit = 5.0 if role == "ctl" else 2.5
            tap.ok(new is not None and time.time() - t0 < limit,
                   "%s#0 respawned after kill -9 (%.1f s)" % (role, time.time() - t0))
            tap.ok(new is not None and new["restarts"] == victim["restarts"] + 1,
                   "ps shows the restart of %s#0" % role, "%r -> %r" % (victim, new))
            after = srv.stats("core")["core.rcv_requests"]
            tap.ok(after >= before, "counters survive the %s crash (%d -> %d)" % (role, before, after))
            tap.ok("killed by signal 9" in srv.log_text(), "the crash of %s is logged" % role)
        time.sleep(0.3)
        pinger.stop_flag = True
        pinger.join()
        tap.ok(pinger.sent > 20 and pinger.lost == 0,
               "OPTIONS answered throughout, UDP retransmissions included (%d sent, %d lost, "
               "%d retransmitted)" % (pinger.sent, pinger.lost, pinger.retransmitted))
        rc = srv.stop()
        tap.eq(rc, 0, "graceful stop with SIGTERM exits 0")
        tap.eq([p for p in os.listdir("/proc") if p.isdigit() and _is_child_of(int(p), srv.proc.pid)], [],
               "no child outlives the master")
    finally:
        srv.stop()
    tap.done()


def _is_child_of(pid, ppid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1]) == ppid
    except (OSError, ValueError, IndexError):
        return False


main()
