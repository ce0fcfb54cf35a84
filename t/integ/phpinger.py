"""A background OPTIONS sender for tests that must prove nothing is lost."""
import threading
import time

from phtest import options_msg, status_of, udp_socket


class Pinger(threading.Thread):
    """Sends OPTIONS continuously; counts requests that got no 200."""

    def __init__(self, port, interval=0.01):
        super().__init__(daemon=True)
        self.port, self.interval = port, interval
        self.sent, self.lost, self.stop_flag = 0, 0, False

    def run(self):
        s = udp_socket()
        s.settimeout(3.0)
        while not self.stop_flag:
            s.sendto(options_msg(self.port), ("127.0.0.1", self.port))
            self.sent += 1
            try:
                if status_of(s.recvfrom(70000)[0]) != 200:
                    self.lost += 1
            except OSError:
                self.lost += 1
            time.sleep(self.interval)
