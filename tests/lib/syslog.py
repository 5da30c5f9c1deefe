"""A syslog receiver for the tests: a UNIX datagram socket "log" in a
directory that the daemon gets as its /dev (Sipmasq(syslog_dir=...)), so
that syslog(3) calls of the daemon arrive here. The host has no /dev/log,
and the test must not touch the host's."""

import os
import socket
import threading


class SyslogSink:
    def __init__(self, tmpdir):
        self.dir = os.path.join(str(tmpdir), "dev")
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "log")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.lines = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.lines.append(data.decode("utf-8", "replace"))

    def text(self):
        return "\n".join(self.lines)

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()
