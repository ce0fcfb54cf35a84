"""A background OPTIONS sender for tests that must prove nothing is lost."""
import threading
import time

from phtest import options_msg, recv_response, status_of, udp_socket


class Pinger(threading.Thread):
    """Sends OPTIONS continuously; counts requests that got no 200.

    With retransmit=True it behaves like a UDP user agent (RFC 3261 timer
    E): a request unanswered after 0.5 s is sent again, up to 4 times, and
    only a request unanswered after all of them counts as lost. That is
    the guarantee a server can give when a worker is killed holding a
    datagram: the retransmission finds another worker."""

    def __init__(self, port, interval=0.01, retransmit=False):
        super().__init__(daemon=True)
        self.port, self.interval, self.retransmit = port, interval, retransmit
        self.sent, self.lost, self.retransmitted, self.stop_flag = 0, 0, 0, False

    def run(self):
        s = udp_socket()
        while not self.stop_flag:
            msg = options_msg(self.port)
            self.sent += 1
            tries = 5 if self.retransmit else 1
            wait = 0.5 if self.retransmit else 3.0
            for attempt in range(tries):
                s.sendto(msg, ("127.0.0.1", self.port))
                r = recv_response(s, wait)
                if r is not None:
                    break
                self.retransmitted += 1
            if r is None or status_of(r) != 200:
                self.lost += 1
            time.sleep(self.interval)
