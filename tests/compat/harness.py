"""The differential harness: one scenario, run once with siproxd and once with
sipmasq from the same siproxd.conf text, in the same topology, with the same
Kamailio registrar and the same sipp user agents; outcomes compared.

Pieces:
  Proxy    siproxd or sipmasq started in one namespace from a conf text.
  Rig      everything of one proxy's run: fresh namespaces (the gateway
           layout of scripts/topology.sh "up", or "up-nat"), Kamailio, sipp,
           counters, captures, the proxy; torn down by close().
  Outcome  ordered named checks of one run (ok + a short detail).
  base_conf, conf_text   the siproxd.conf text shared by both runs.

The conf text is byte for byte the same for both proxies (@RUN@ stands for
the run's own directory); sipmasq alone gets two trailing lines that keep
parallel test runs apart on one machine (its bpffs pin directory and its
control socket), which no migrating user needs.
"""

import os
import re
import shutil
import signal
import subprocess
import time

import conftest
from lib import netns
from lib.capture import Capture, private_leaks
from lib.counters import UdpCounter
from lib.kamailio import Kamailio
from lib.sipmasq import READY, binary as sipmasq_binary
from lib.sipp import Sipp

KINDS = ("siproxd", "sipmasq")

class Check:
    """One named outcome: ok (bool) and what was seen (short text)."""

    __slots__ = ("name", "ok", "detail")

    def __init__(self, name, ok, detail=""):
        self.name, self.ok, self.detail = name, bool(ok), detail

    def __repr__(self):
        return "%s=%s%s" % (self.name, "ok" if self.ok else "FAIL",
                            " (%s)" % self.detail if self.detail else "")


class Outcome:
    """The checks of one scenario run with one proxy, in order."""

    def __init__(self, kind):
        self.kind = kind
        self.checks = {}

    def add(self, name, ok, detail=""):
        """Record check `name`; returns ok so scenarios can branch on it."""
        self.checks[name] = Check(name, ok, detail)
        return bool(ok)

    def ok(self, name):
        c = self.checks.get(name)
        return c is not None and c.ok

    def failed(self):
        return [c for c in self.checks.values() if not c.ok]

    def summary(self, width=110):
        """'ok' or the failed checks with what was seen (each cut to width)."""
        bad = self.failed()
        if not bad:
            return "ok"
        return "; ".join("%s: %s" % (c.name, _cut(c.detail or "failed", width)) for c in bad)


def _cut(text, width):
    return text if len(text) <= width else text[:width - 3] + "..."


# --- the configuration text ------------------------------------------------

# Debug classes of siproxd's bit pattern that both daemons understand:
# NET SIP REG NOSPEC PROXY DNS CONFIG RTP ACCESS AUTH PLUGIN (no babble, no
# packet dumps): enough to see why a message went where it went.
DEBUG_LEVEL = "0x00001f7e"


def base_conf(layout="gw"):
    """The siproxd.conf directives of siproxd's standard setup, as a
    migrating user has them (ordered dict; @RUN@ and @PLUGINDIR@ are filled
    in per run)."""
    conf = {
        "if_inbound": "gwlan",
        "if_outbound": "gwwan",
        "sip_listen_port": "5060",
        "daemonize": "0",
        "silence_log": "1",
        "registration_file": "@RUN@/siproxd_registrations",
        "autosave_registrations": "300",
        "rtp_proxy_enable": "1",
        "rtp_port_low": "7070",
        "rtp_port_high": "7089",
        "rtp_timeout": "300",
        "default_expires": "600",
        "debug_level": DEBUG_LEVEL,
        "plugindir": "@PLUGINDIR@/",
        "load_plugin": "plugin_logcall.la",
    }
    if layout == "nat":
        conf.update({"if_inbound": "eth0", "if_outbound": "eth0",
                     "host_outbound": "198.51.100.1"})
    return conf


def conf_text(conf, extra_lines=()):
    """siproxd.conf text from an ordered dict (None values dropped, a list
    gives one line per item) plus raw lines (e.g. 'key =' with nothing)."""
    lines = ["# siproxd.conf of a compat scenario (tests/compat)"]
    for key, value in conf.items():
        if value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            lines.append("%s = %s" % (key, item))
    lines.extend(extra_lines)
    return "\n".join(lines) + "\n"


# --- the proxies -----------------------------------------------------------

def siproxd_paths(prefix):
    """(binary, plugin directory) of a siproxd install prefix."""
    return (os.path.join(prefix, "sbin", "siproxd"),
            os.path.join(prefix, "lib", "siproxd"))


class Proxy:
    """siproxd or sipmasq running in namespace ns from a siproxd.conf text.

    siproxd runs in the foreground (daemonize = 0 in the text) with its
    plugins from the build's lib directory; sipmasq with --foreground.
    With etc_netns set, the proxy sees the files of /etc/netns/NS/ over
    those of /etc, as `ip netns exec` arranges, but in a private mount
    namespace that keeps the host's /sys (and bpffs pins).
    start() never raises: started/start_error say how it went (a refused
    configuration is an outcome, not a harness error).
    """

    def __init__(self, kind, procs, ns, run_dir, text, siproxd_prefix, etc_netns=None,
                 listen_port=5060):
        assert kind in KINDS
        self.kind, self.procs, self.ns, self.dir = kind, procs, ns, run_dir
        self.siproxd_prefix = siproxd_prefix
        self.etc_netns = etc_netns
        self.listen_port = listen_port
        self.conf_path = os.path.join(run_dir, "siproxd.conf")
        self.log_path = os.path.join(run_dir, "%s.log" % kind)
        self.pin_dir = "/sys/fs/bpf/%s-compat" % ns
        self.text = text
        self.proc = None
        self.started = False
        self.signalled = False
        self.start_error = ""
        self.starts = 0
        with open(self.conf_path, "w") as f:
            f.write(text)
            if kind == "sipmasq":
                f.write("# test isolation only (several runs share this machine):\n"
                        "bpf_pin_dir = %s\ncontrol_socket = %s\n"
                        % (self.pin_dir, os.path.join(run_dir, "control.sock")))

    def argv(self):
        if self.kind == "siproxd":
            # Relative: siproxd keeps the -c path in a 64-byte buffer.
            argv = [siproxd_paths(self.siproxd_prefix)[0], "-c", "siproxd.conf"]
        else:
            argv = [sipmasq_binary(), "--foreground", "-c", "siproxd.conf"]
        if self.etc_netns:
            # What `ip netns exec` does for /etc, without its /sys remount.
            script = ('for f in "$0"/*; do mount --bind "$f" "/etc/${f##*/}" || exit 97; done; '
                      'exec "$@"')
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                    self.etc_netns] + argv
        return argv

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def start(self, timeout=10):
        """Start and wait until it serves (sipmasq: its 'ready' line;
        siproxd: its SIP port bound) or exits; returns self."""
        self.starts += 1
        with open(self.log_path, "a") as f:
            f.write("==== compat harness: start #%d of %s ====\n" % (self.starts, self.kind))
        mark = len(self.log())
        self.proc = self.procs.start(self.ns, self.argv(), self.log_path, name=self.kind,
                                     cwd=self.dir)

        def ready():
            if not self.proc.alive():
                return True
            if self.kind == "sipmasq":
                return bool(READY.search(self.log()[mark:]))
            return netns.udp_bound(self.ns, "0.0.0.0", self.listen_port)
        try:
            netns.wait_for(ready, timeout, interval=0.05, what="%s to serve" % self.kind)
        except TimeoutError:
            self.start_error = "not ready after %ds" % timeout
            return self
        if not self.proc.alive():
            self.start_error = "exited %s: %s" % (self.exit_status(),
                                                   last_error(self.log()[mark:]))
            return self
        if self.kind == "siproxd":
            time.sleep(0.2)   # it binds before it has read its registrations
        self.started = True
        return self

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def exit_status(self):
        """'rc=N' or 'killed by SIGX' once it exited (nsenter execs it)."""
        rc = self.proc.popen.poll() if self.proc else None
        if rc is None:
            return "running"
        if rc < 0:
            return "killed by %s" % signal.Signals(-rc).name
        return "rc=%d" % rc

    def send_signal(self, sig):
        """Send sig; an exit after it is the scenario's to judge."""
        self.signalled = True
        self.proc.send_signal(sig)

    def died(self):
        """True when it exited on its own (not stopped, not signalled)."""
        return (self.started and self.proc is not None and not self.proc.alive()
                and not self.signalled)

    def stop(self, sig=signal.SIGTERM, timeout=5):
        """Stop it; return its exit code (None when it had to be killed)."""
        if self.proc is None:
            return None
        rc = self.proc.stop(sig=sig, timeout=timeout)
        self.proc = None
        if os.path.isdir(self.pin_dir):
            shutil.rmtree(self.pin_dir, ignore_errors=True)
        return rc


_TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d\.\d+ ")
_ERROR_LINE = re.compile(r"^.*\b(ERROR|error|fatal|FATAL)\b.*$", re.M)


def last_error(log):
    """The last error line of a log, else its last line (for a one-line
    outcome)."""
    lines = [m.group(0) for m in _ERROR_LINE.finditer(log)]
    if not lines:
        lines = [line for line in log.strip().splitlines() if line.strip()] or ["(no output)"]
    return _TIMESTAMP.sub("", lines[-1].strip())[:200]


# --- one run ---------------------------------------------------------------

class NatTopology(netns.Topology):
    """siproxd's "in front of a NAT router" layout (topology.sh up-nat):
    lan, smq (the proxy, 10.0.0.5), rtr (the router) and wan."""

    def __init__(self, prefix):
        super().__init__(prefix)
        self.smq = prefix + "-smq"
        self.rtr = prefix + "-rtr"
        self.gw = None

    def up(self):
        subprocess.run([netns.TOPOLOGY, "up-nat", self.prefix], check=True, timeout=30,
                       capture_output=True, text=True)


class Rig:
    """Fresh namespaces, Kamailio, sipp and one proxy for one run.

    Attributes: kind, dir (this run's files), topo (lan, wan, and gw or
    smq/rtr), proxy_ns, proxy_ip (the phones' outbound proxy), public_ip
    (what the public side sees), sipp (lib.sipp.Sipp), kam (Kamailio once
    started), proxy (Proxy once started), outcome.
    """

    def __init__(self, kind, tmp_path, siproxd_prefix, layout="gw"):
        self.kind = kind
        self.layout = layout
        self.dir = os.path.join(str(tmp_path), kind)
        os.makedirs(self.dir, exist_ok=True)
        self.siproxd_prefix = siproxd_prefix
        self.procs = netns.ProcessGroup()
        prefix = "%s%d" % (conftest.SESSION_TAG, next(conftest._test_numbers))
        if layout == "nat":
            self.topo = NatTopology(prefix)
            self.proxy_ns, self.proxy_ip = self.topo.smq, "10.0.0.5"
        else:
            self.topo = netns.Topology(prefix)
            self.proxy_ns, self.proxy_ip = self.topo.gw, "10.0.0.1"
        self.public_ip = "198.51.100.1"
        self.sipp = Sipp(self.procs, self.dir)
        self.kam = None
        self.proxy = None
        self.proxies = []
        self.captures = []
        self.outcome = Outcome(kind)
        self.etc_netns_dirs = []
        self.topo.down()
        self.topo.up()

    @property
    def proxy_hostport(self):
        return "%s:5060" % self.proxy_ip

    def namespaces(self):
        t = self.topo
        return [ns for ns in (t.lan, t.gw, getattr(t, "smq", None), getattr(t, "rtr", None),
                              t.wan) if ns]

    def kamailio(self):
        self.kam = Kamailio(self.procs, self.topo.wan, self.dir).start()
        return self.kam

    def etc_netns(self, files):
        """Create /etc/netns/PROXY_NS/ with {name: content} (e.g. hosts,
        resolv.conf) the way an `ip netns exec` user does; returns the
        directory (removed at close)."""
        d = os.path.join("/etc/netns", self.proxy_ns)
        os.makedirs(d, exist_ok=True)
        self.etc_netns_dirs.append(d)
        for name, content in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(content)
        return d

    def conf_for(self, conf, extra_lines=()):
        text = conf_text(conf, extra_lines)
        return (text.replace("@RUN@", self.dir)
                .replace("@PLUGINDIR@", siproxd_paths(self.siproxd_prefix)[1]))

    def start_proxy(self, conf, extra_lines=(), etc_netns=None, name=None, kind=None,
                    check="start", timeout=10):
        """Start a proxy (this run's kind unless kind says otherwise) from
        conf (see conf_text; @RUN@ is this run's directory, shared by every
        proxy of the run); its conf and log go to DIR/name when name is
        given. Records `check` (unless None) and returns the Proxy."""
        kind = kind or self.kind
        run_dir = self.dir if name is None else os.path.join(self.dir, name)
        os.makedirs(run_dir, exist_ok=True)
        p = Proxy(kind, self.procs, self.proxy_ns, run_dir,
                  self.conf_for(conf, extra_lines), self.siproxd_prefix, etc_netns=etc_netns)
        self.proxies.append(p)
        self.proxy = p.start(timeout=timeout)
        if check:
            self.outcome.add(check, p.started, p.start_error)
        return p

    def capture(self, ns=None, iface="wan0", name="public"):
        """tshark on the public link (default: wan0 in the wan namespace)."""
        c = Capture(self.procs, ns or self.topo.wan, iface,
                    os.path.join(self.dir, name + ".pcap"),
                    os.path.join(self.dir, name + ".tshark.log"))
        self.captures.append(c)
        return c

    def counter(self, ns, dport, **kw):
        return UdpCounter(ns, dport, **kw)

    def leak_check(self, cap):
        """Record what the public link showed of private addresses in SIP:
        'no_private_route' (Request-URI, Contact, Route, Record-Route, SDP:
        what breaks calls) and 'no_private_via' (the phones' Via headers,
        which siproxd forwards as they are)."""
        msgs = cap.sip_messages()
        found = {"via": [], "route": []}
        for pkt, msg in msgs:
            for leak in private_leaks(msg):
                kind = "via" if leak.startswith("via:") else "route"
                found[kind].append("%s %s" % (msg.start.split(" SIP/")[0][:40], leak))
        for kind, leaks in found.items():
            self.outcome.add("no_private_" + kind, msgs and not leaks,
                             "%d SIP messages, %d with a private address%s" % (
                                 len(msgs), len(leaks), (": " + leaks[0]) if leaks else ""))

    def check_no_exit(self):
        """Record 'no_exit' failed when a proxy exited on its own during the
        run (a crash the scenario's other checks might not show)."""
        dead = ["%s %s" % (p.kind, p.exit_status()) for p in self.proxies if p.died()]
        if dead:
            self.outcome.add("no_exit", False, "exited: " + ", ".join(dead))

    def sanitizer_report(self):
        return [p.log_path for p in self.proxies
                if p.kind == "sipmasq" and conftest.SANITIZER_REPORT.search(p.log())]

    def logs(self):
        """Tails of the proxy logs and Kamailio's log, for a failure."""
        out = []
        for p in self.proxies:
            out.append("=== %s conf %s ===\n%s" % (p.kind, p.conf_path, p.text))
            out.append("=== %s log (tail) %s ===\n%s" % (p.kind, p.log_path, p.log()[-6000:]))
        if self.kam:
            out.append("=== kamailio log (tail) %s ===\n%s" % (
                self.kam.log_path, conftest._tail(self.kam.log_path, 2500)))
        return "\n".join(out)

    def close(self):
        """Stop every process, remove namespaces, pins and /etc/netns files."""
        for p in self.proxies:
            try:
                p.stop(timeout=3)
            except Exception:   # teardown goes on
                pass
        for c in self.captures:
            try:
                c.stop()
            except Exception:
                pass
        self.procs.stop_all()
        for ns in self.namespaces():
            netns.kill_netns_pids(ns)
        self.topo.down()
        for d in self.etc_netns_dirs:
            shutil.rmtree(d, ignore_errors=True)
