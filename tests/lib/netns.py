"""Run commands and long-lived processes inside the test network namespaces.

Everything goes through ``nsenter --net=/run/netns/NS``: unlike
``ip netns exec`` it keeps the host's mount namespace, so /sys/fs/bpf pins
made by the daemon stay visible (see docs in /work/shared/TESTING.md).

Long-lived processes are started in their own session (process group) and
registered in a ``ProcessGroup`` so that a fixture can kill all of them,
children included, even when a test fails half-way.
"""

import os
import signal
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOPOLOGY = os.path.join(REPO, "scripts", "topology.sh")


def ns_argv(ns, argv):
    """Return argv prefixed so that it runs in network namespace ``ns``."""
    return ["nsenter", "--net=/run/netns/%s" % ns, "--"] + list(argv)


def run_in(ns, argv, timeout=10, check=True):
    """Run argv in namespace ns; return the CompletedProcess (text output)."""
    return subprocess.run(ns_argv(ns, argv), capture_output=True, text=True,
                          timeout=timeout, check=check)


def udp_bound(ns, ip, port):
    """True when some socket in ns is bound to UDP ip:port (or *:port)."""
    out = run_in(ns, ["ss", "-H", "-lun"], check=False).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        local = fields[3]
        host, _, p = local.rpartition(":")
        if p == str(port) and host in (ip, "0.0.0.0", "*"):
            return True
    return False


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    """Poll predicate() until it is true; raise TimeoutError after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class Proc:
    """A process started in a namespace, in its own process group.

    stdout and stderr both go to ``log_path``.
    """

    def __init__(self, ns, argv, log_path, name=None, cwd=None, env=None):
        self.ns = ns
        self.argv = list(argv)
        self.log_path = log_path
        self.name = name or os.path.basename(argv[0])
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(
            ns_argv(ns, argv) if ns else self.argv, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd, env=env,
            start_new_session=True)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def wait(self, timeout):
        """Wait up to timeout s; return the exit code or raise TimeoutExpired."""
        return self.popen.wait(timeout=timeout)

    def send_signal(self, sig):
        """Send sig to the whole process group (nsenter and its child)."""
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, sig=signal.SIGTERM, timeout=5):
        """Stop the process group: sig, then SIGKILL after timeout s.

        Return the exit code of the main process.
        """
        if self.alive():
            self.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Always sweep the group: children may outlive the leader.
        self.send_signal(signal.SIGKILL)
        try:
            rc = self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None
        self._log.close()
        return rc

    def output(self):
        """The log file's content so far (text, undecodable bytes replaced)."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""


class ProcessGroup:
    """Tracks Procs so that teardown can kill every one of them."""

    def __init__(self):
        self.procs = []

    def start(self, ns, argv, log_path, name=None, **kw):
        p = Proc(ns, argv, log_path, name=name, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            try:
                p.stop(timeout=3)
            except Exception:  # teardown must go on
                pass
        self.procs = []


class Topology:
    """The three namespaces built by scripts/topology.sh for one prefix."""

    LAN_GW = "10.0.0.1"
    PHONE1 = "10.0.0.2"
    PHONE2 = "10.0.0.3"
    GW_PUBLIC = "198.51.100.1"
    WAN = "198.51.100.2"

    def __init__(self, prefix):
        self.prefix = prefix
        self.lan = prefix + "-lan"
        self.gw = prefix + "-gw"
        self.wan = prefix + "-wan"

    def up(self):
        subprocess.run([TOPOLOGY, "up", self.prefix], check=True, timeout=30,
                       capture_output=True, text=True)

    def down(self):
        subprocess.run([TOPOLOGY, "down", self.prefix], check=False, timeout=30,
                       capture_output=True)


def kill_netns_pids(ns):
    """SIGKILL every process whose network namespace is ns (last resort)."""
    try:
        out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                             text=True, timeout=5).stdout
    except (subprocess.SubprocessError, OSError):
        return
    for pid in out.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
