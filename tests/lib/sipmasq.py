"""Start the sipmasq daemon in the gateway namespace and read its log.

The daemon runs as ``$SIPMASQ_BIN --foreground -c CONF`` (default: the
binary at the repository root) with stderr in a log file.  It is "ready"
when the log says ``ready`` or something in the gateway namespace is bound
to UDP port 5060.
"""

import json
import subprocess
import os
import shutil
import re
import signal

from . import netns

DEFAULT_BIN = os.path.join(netns.REPO, "sipmasq")

DEFAULT_CONFIG = {
    "if_inbound": "gwlan",
    "if_outbound": "gwwan",
    "sip_listen_port": "5060",
    "rtp_proxy_enable": "1",
    "rtp_port_low": "7070",
    "rtp_port_high": "7089",
    "rtp_timeout": "30",
    "default_expires": "600",
    "log_calls": "1",
    "debug_level": "0xffffffff",
}

READY = re.compile(r"\bready\b")
CALL_START = re.compile(
    r"call start: Call-ID=(?P<callid>\S+) from=(?P<from_>\S+) to=(?P<to>\S+) "
    r"direction=(?P<direction>outgoing|incoming)")
CALL_END = re.compile(
    r"call end: Call-ID=(?P<callid>\S+) reason=(?P<reason>\w+) "
    r"duration=(?P<duration>\d+)s "
    r"private->public=(?P<p2p_pkts>\d+)pkts/(?P<p2p_bytes>\d+)B "
    r"public->private=(?P<p2r_pkts>\d+)pkts/(?P<p2r_bytes>\d+)B "
    r"kernel=(?P<p2p_kernel>\d+)/(?P<p2r_kernel>\d+)pkts "
    r"dropped=(?P<p2p_dropped>\d+)/(?P<p2r_dropped>\d+)pkts engine=(?P<engine>\S+)")


def binary():
    """Path of the daemon under test (SIPMASQ_BIN overrides the default)."""
    return os.environ.get("SIPMASQ_BIN", DEFAULT_BIN)


def _intify(d):
    return {k: (int(v) if v.isdigit() else v) for k, v in d.items()}


class Sipmasq:
    """One daemon instance (can be restarted with the same config)."""

    def __init__(self, procs, ns, tmpdir, overrides=None, name="sipmasq", etc_files=None,
                 syslog_dir=None):
        self.name = name
        # {"hosts": text, "resolv.conf": text}: files the daemon sees in
        # /etc instead of the host's, as `ip netns exec` would give it from
        # /etc/netns/NS/ (see argv()).
        self.etc_files = dict(etc_files or {})
        # A directory holding a syslog socket "log" (lib/syslog.py): it is
        # the daemon's /dev, so that syslog(3) reaches the test.
        self.syslog_dir = syslog_dir
        self.procs = procs
        self.ns = ns
        self.dir = os.path.join(str(tmpdir), name)
        os.makedirs(self.dir, exist_ok=True)
        self.conf_path = os.path.join(self.dir, "sipmasq.conf")
        self.log_path = os.path.join(self.dir, "sipmasq.log")
        self.config = dict(DEFAULT_CONFIG)
        self.config["registration_file"] = os.path.join(self.dir, "registrations")
        # Pins of this instance only: runs and tests never share kernel state.
        self.config["bpf_pin_dir"] = "/sys/fs/bpf/%s-%s" % (ns, name)
        self.config["control_socket"] = os.path.join(self.dir, "control.sock")
        for k, v in (overrides or {}).items():
            if v is None:
                self.config.pop(k, None)
            elif isinstance(v, (list, tuple)):
                self.config[k] = [str(i) for i in v]   # repeated directive
            else:
                self.config[k] = str(v)
        self.proc = None
        self.starts = 0

    def write_config(self):
        with open(self.conf_path, "w") as f:
            f.write("# written by tests/lib/sipmasq.py\n")
            for k, v in self.config.items():
                for item in v if isinstance(v, (list, tuple)) else [v]:
                    f.write("%s = %s\n" % (k, item))   # a list: one line each

    def start(self, timeout=10):
        """Start the daemon and wait until it is ready; raise with its log
        if it exits or does not become ready in time."""
        self.write_config()
        self.starts += 1
        with open(self.log_path, "a") as f:
            f.write("==== test harness: start #%d ====\n" % self.starts)
        mark = len(self.log())
        self.proc = self.procs.start(self.ns, self.argv(), self.log_path, name="sipmasq")

        def ready():
            # The 'ready' line comes after the engine is attached and saved
            # calls are adopted: a bound port alone is too early.
            return not self.proc.alive() or bool(READY.search(self.log()[mark:]))
        try:
            netns.wait_for(ready, timeout, interval=0.05, what="sipmasq to be ready")
        except TimeoutError:
            raise AssertionError("sipmasq not ready after %ds:\n%s" % (timeout, self.log()[-6000:]))
        if not self.proc.alive():
            raise AssertionError("sipmasq exited at start (rc=%s):\n%s"
                                 % (self.proc.popen.returncode, self.log()[-6000:]))
        return self

    def argv(self):
        """The daemon's command line. With etc_files or syslog_dir, it runs
        in a mount namespace of its own (unshare -m, private propagation)
        where each file is bind-mounted over its /etc counterpart (the
        gateway's own hosts file and resolv.conf, as `ip netns exec` gives
        them) and syslog_dir over /dev, while /sys/fs/bpf stays the
        host's (pins remain visible)."""
        cmd = [binary(), "--foreground", "-c", self.conf_path]
        if not self.etc_files and not self.syslog_dir:
            return cmd
        mounts = []
        if self.syslog_dir:
            for dev in ("null", "zero", "random", "urandom", "full"):
                open(os.path.join(self.syslog_dir, dev), "a").close()
                mounts.append("mount --bind /dev/%s %s/%s" % (dev, self.syslog_dir, dev))
            mounts.append("mount --rbind %s /dev" % self.syslog_dir)
        for fname, text in sorted(self.etc_files.items()):
            path = os.path.join(self.dir, "etc-" + fname)
            with open(path, "w") as f:
                f.write(text)
            mounts.append("mount --bind %s /etc/%s" % (path, fname))
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                " && ".join(mounts) + ' && exec "$@"', "sh"] + cmd

    def stop(self, sig=signal.SIGTERM, timeout=5):
        """Stop the daemon; return its exit code (None if it had to be killed
        and still did not exit)."""
        if self.proc is None:
            return None
        rc = self.proc.stop(sig=sig, timeout=timeout)
        self.proc = None
        return rc

    def ctl(self, command, timeout=5):
        """Run sipmasqctl --json COMMAND against this instance; return the
        parsed JSON answer (raises with the output when it fails)."""
        return json.loads(self.ctl_text("--json", *command.split(" ", 1), timeout=timeout))

    def ctl_text(self, *args, timeout=5):
        """Run sipmasqctl ARGS against this instance; return its stdout
        (raises with the output when it fails)."""
        ctl = os.path.join(os.path.dirname(binary()), "sipmasqctl")
        res = subprocess.run([ctl, "-s", self.config["control_socket"]] + list(args),
                             capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise AssertionError("sipmasqctl %s failed (rc=%d): %s%s"
                                 % (" ".join(args), res.returncode, res.stdout, res.stderr))
        return res.stdout

    def remove_pins(self):
        """Remove what a killed daemon left pinned (a clean stop leaves nothing)."""
        pin_dir = self.config.get("bpf_pin_dir")
        if pin_dir and os.path.isdir(pin_dir):
            shutil.rmtree(pin_dir, ignore_errors=True)

    def restart(self):
        self.stop()
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def call_starts(self):
        return [_intify(m.groupdict()) for m in CALL_START.finditer(self.log())]

    def call_ends(self):
        return [_intify(m.groupdict()) for m in CALL_END.finditer(self.log())]

    def call_end(self, callid, timeout=5):
        """Wait (bounded) for the 'call end' line of callid and return it."""
        found = []

        def seen():
            found[:] = [e for e in self.call_ends() if e["callid"] == callid]
            return bool(found)
        try:
            netns.wait_for(seen, timeout, interval=0.1, what="call end of %s" % callid)
        except TimeoutError:
            raise AssertionError("no 'call end' line for Call-ID=%s in the log:\n%s"
                                 % (callid, self.log()[-6000:]))
        return found[-1]

    def call_start(self, callid):
        starts = [s for s in self.call_starts() if s["callid"] == callid]
        assert starts, "no 'call start' line for Call-ID=%s in the log:\n%s" % (
            callid, self.log()[-6000:])
        return starts[-1]
