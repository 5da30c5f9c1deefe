"""Run sipp 3.6.1 user agents from tests/sipp/*.xml inside a namespace.

Each run gets its own files in the test's temporary directory: the screen
output (``NAME.out``), the message trace (``NAME.msg``, from -trace_msg) and
the error trace (``NAME.err``).  ``SippRun.result()`` waits (bounded) and
returns a ``SippResult`` with the exit code and parsed messages.

sipp exit codes: 0 all calls succeeded, 1 at least one call failed,
97 stopped by a command, 99 normal exit without calls processed,
255/-1 fatal error, 254/-2 fatal error binding a socket.
"""

import os
import re
import subprocess

from . import netns
from .sipmsg import SipMessage

SCENARIOS = os.path.join(netns.REPO, "tests", "sipp")


class SippResult:
    """Outcome of one sipp run."""

    def __init__(self, name, rc, out_path, msg_path, err_path):
        self.name = name
        self.rc = rc
        self.out_path = out_path
        self.msg_path = msg_path
        self.err_path = err_path

    @staticmethod
    def _read(path):
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    @property
    def output(self):
        return self._read(self.out_path)

    @property
    def trace(self):
        return self._read(self.msg_path)

    @property
    def errors(self):
        return self._read(self.err_path)

    @property
    def ok(self):
        return self.rc == 0

    def messages(self):
        """List of (direction, SipMessage); direction is 'sent' or 'received'."""
        return parse_trace(self.trace)

    def received(self):
        return [m for d, m in self.messages() if d == "received"]

    def sent(self):
        return [m for d, m in self.messages() if d == "sent"]

    def describe(self):
        """Everything useful to print when an assertion on this run fails."""
        return ("sipp %s rc=%s\n--- screen (tail) ---\n%s\n--- errors ---\n%s\n"
                "--- messages ---\n%s" % (self.name, self.rc, self.output[-3000:],
                                          self.errors[-3000:], self.trace[-8000:]))


_TRACE_HDR = re.compile(
    r"^-{20,} [^\n]*\n(UDP|TCP) message (sent|received)[^\n]*\n\n", re.M)


def parse_trace(text):
    """Split a sipp -trace_msg file into (direction, SipMessage) tuples."""
    out = []
    parts = list(_TRACE_HDR.finditer(text))
    for i, m in enumerate(parts):
        end = parts[i + 1].start() if i + 1 < len(parts) else len(text)
        body = text[m.end():end].strip("\n")
        if not body.strip():
            continue
        out.append((m.group(2), SipMessage(body)))
    return out


class SippRun:
    """A sipp process started in the background."""

    def __init__(self, proc, name, out_path, msg_path, err_path, timeout):
        self.proc = proc
        self.name = name
        self.out_path = out_path
        self.msg_path = msg_path
        self.err_path = err_path
        self.timeout = timeout

    def kill(self):
        """Stop sipp now (e.g. a UAS that must not have been called) and
        return its SippResult (rc of the killed process)."""
        rc = self.proc.stop(timeout=2)
        return SippResult(self.name, rc, self.out_path, self.msg_path, self.err_path)

    def result(self, timeout=None):
        """Wait for sipp to exit (at most timeout s, default its own timeout
        plus a margin); kill it on expiry (rc None)."""
        if timeout is None:
            timeout = self.timeout + 10
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.stop()
            rc = None
        else:
            self.proc.stop()
        return SippResult(self.name, rc, self.out_path, self.msg_path, self.err_path)


class Sipp:
    """Factory for sipp runs bound to one test's tmp dir and process group."""

    def __init__(self, procs, tmpdir):
        self.procs = procs
        self.tmpdir = str(tmpdir)
        self.count = 0

    def start(self, ns, scenario, local_ip, local_port, remote, rsa=None,
              keys=None, media_ip=None, media_port=None, rtp_echo=False,
              duration_ms=None, timeout=20, calls=1, extra=(), transport="u1"):
        """Start sipp in ns with tests/sipp/SCENARIO.xml (or SCENARIO
        itself when it is a path ending in .xml); return a SippRun.

        remote: "host:port" the scenario addresses (UAC) or None (UAS mode:
        sipp only answers).  rsa: send everything to this "host:port"
        instead (the outbound proxy).  keys: dict for -key (scenario
        keywords).  duration_ms: -d, the length of <pause/> steps.
        timeout: seconds after which sipp gives up and fails.
        transport: sipp -t: "u1" UDP, "t1" one TCP connection.
        """
        self.count += 1
        if scenario.endswith(".xml"):   # a scenario file of the test's own
            path, scenario = scenario, os.path.basename(scenario)[:-4]
        else:
            path = os.path.join(SCENARIOS, scenario + ".xml")
        name = "%02d-%s-%s-%s" % (self.count, scenario, local_ip, local_port)
        base = os.path.join(self.tmpdir, name)
        out_path, msg_path, err_path = base + ".out", base + ".msg", base + ".err"
        argv = ["sipp", "-sf", path,
                "-i", local_ip, "-p", str(local_port), "-t", transport,
                "-m", str(calls), "-l", str(calls), "-nostdin",
                "-timeout", "%ds" % timeout, "-timeout_error",
                "-recv_timeout", "8000",
                "-trace_msg", "-message_file", msg_path,
                "-trace_err", "-error_file", err_path,
                "-mi", media_ip or local_ip]
        if media_port is not None:
            argv += ["-mp", str(media_port)]
        if rtp_echo:
            argv.append("-rtp_echo")
        if duration_ms is not None:
            argv += ["-d", str(duration_ms)]
        if rsa:
            argv += ["-rsa", rsa]
        for k, v in (keys or {}).items():
            argv += ["-key", k, str(v)]
        argv += list(extra)
        if remote:
            argv.append(remote)
        proc = self.procs.start(ns, argv, out_path, name="sipp " + name,
                                cwd=self.tmpdir)
        run = SippRun(proc, name, out_path, msg_path, err_path, timeout)
        return run

    def start_server(self, ns, scenario, local_ip, local_port, **kw):
        """Start a UAS and wait until it listens on local_ip:local_port."""
        run = self.start(ns, scenario, local_ip, local_port, None, **kw)
        try:
            netns.wait_for(lambda: netns.udp_bound(ns, local_ip, local_port)
                           or not run.proc.alive(), 5,
                           what="sipp %s to listen" % scenario)
        except TimeoutError:
            pass
        if not run.proc.alive():
            raise AssertionError("sipp UAS died at start:\n" +
                                 run.result(1).describe())
        return run

    def run(self, ns, scenario, local_ip, local_port, remote, **kw):
        """Run a sipp to completion; return its SippResult."""
        return self.start(ns, scenario, local_ip, local_port, remote, **kw).result()
