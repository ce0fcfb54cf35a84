#!/usr/bin/env python3
"""Reload: SIGHUP and `pinholectl reload` re-read the file. A valid file
starts a new generation with the new worker count and retires the old one
without losing a request; an invalid file keeps the running config and the
reason is logged and returned to pinholectl."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from phtest import Server, Tap, wait_for  # noqa: E402
from phpinger import Pinger  # noqa: E402


def udp_workers(srv):
    return sorted((p["generation"], p["index"]) for p in srv.ps()
                  if p["role"] == "udp" and p["state"] == "running")


def main():
    tap = Tap()
    srv = Server(workers_udp=2)
    srv.start()
    try:
        tap.eq(len(udp_workers(srv)), 2, "two udp workers at start")
        counter_before = srv.stats("core")["core.rcv_requests"]
        pinger = Pinger(srv.port)
        pinger.start()
        time.sleep(0.3)
        srv.write_conf(workers_udp=3)
        os.kill(srv.proc.pid, signal.SIGHUP)
        got = wait_for(lambda: udp_workers(srv) == [(2, 0), (2, 1), (2, 2)], timeout=10)
        tap.ok(got, "SIGHUP: ps shows 3 udp workers of generation 2", udp_workers(srv))
        time.sleep(0.3)
        srv.write_conf(workers_udp=1)
        rc, out, err = srv.ctl("reload")
        tap.eq(rc, 0, "pinholectl reload succeeds")
        got = wait_for(lambda: udp_workers(srv) == [(3, 0)], timeout=10)
        tap.ok(got, "pinholectl reload: 1 udp worker of generation 3", udp_workers(srv))
        time.sleep(0.3)
        pinger.stop_flag = True
        pinger.join()
        tap.ok(pinger.sent > 20 and pinger.lost == 0,
               "no request lost across two reloads (%d sent, %d lost)" % (pinger.sent, pinger.lost))
        tap.ok(srv.stats("core")["core.rcv_requests"] >= counter_before + pinger.sent,
               "counters survive reloads")

        srv.write_conf(text=open(srv.conf_path).read().replace("workers = {", "workers = {{"))
        rc, out, err = srv.ctl("reload")
        tap.ok(rc == 1 and "syntax error" in err and srv.conf_path in err,
               "pinholectl reload of a broken file fails with the reason", "rc=%d err=%s" % (rc, err))
        os.kill(srv.proc.pid, signal.SIGHUP)
        time.sleep(1)
        tap.ok("keeping the running configuration" in srv.log_text(), "SIGHUP with a broken file: logged")
        tap.eq(udp_workers(srv), [(3, 0)], "broken file: the running workers stay")
        tap.ok(srv.options_ok(), "broken file: still serving")

        srv.write_conf(workers_udp=1, extra='nat = { detect = 3; };', log_level="debug")
        text = open(srv.conf_path).read().replace('shm_size = "16M"', 'shm_size = "32M"')
        srv.write_conf(text=text)
        rc, out, err = srv.ctl("reload")
        tap.eq(rc, 0, "reload with a restart-only change succeeds")
        tap.ok(wait_for(lambda: "shm_size" in srv.log_text() and "need a restart" in srv.log_text()),
               "the restart-only change is named in the log")
        rc, shm_info, _ = srv.ctl("shm", json_out=True)
        tap.ok(rc == 0 and shm_info["size"] < 20 * 1024 * 1024, "shm size kept until restart")
        rc, out, _ = srv.ctl("log", "level")
        tap.ok(rc == 0 and "debug" in out, "log level from the reloaded file applies", out)
        tap.ok(srv.options_ok(), "serving after the last reload")
        tap.eq(srv.stop(), 0, "clean stop")
    finally:
        srv.stop()
    tap.done()


main()
