#!/usr/bin/env python3
"""sipmasq benchmark harness (docs/benchmarks.md); run through scripts/bench/run.sh.

Per media engine (xdp, tc, userspace) on the test topology (scripts/topology.sh):
calls set up through sipmasq with sipp (scripts/bench/sipp/uac_hold.xml,
uas_hold.xml), then RTP-shaped load (172-byte UDP payloads) both ways: from
the phone (10.0.0.2) to the calls' private relay ports and from the far end
(198.51.100.2) to their public ones, out of lan0 and wan0, and counted by XDP
sinks on the far ends (wan0, lan0) that also histogram one-way delay. The
load comes from the first generator the kernel allows (GENERATORS, probed at
start): XDP live frames (scripts/bench/xdpgen: BPF_PROG_TEST_RUN with
BPF_F_TEST_XDP_LIVE_FRAMES), else AF_PACKET (scripts/bench/afpgen:
PACKET_QDISC_BYPASS, sendmmsg); same frames, pacing and payload. The
gateway's veths run threaded NAPI pinned to CPU 1 with sipmasq; the
generator spins on CPU 0.

Figures per engine: max forwarded pps (the highest stepped paced rate passing
3 of 3 repeats with < 0.1% loss, counted per stream, and p99 one-way delay
<= 20 ms over the step), one-way delay p50/p99 at 50% of it, CPU of every
consumer of the gateway's work (relay, NAPI threads, ksoftirqd) per packet
forwarded and per 1000 streams at 50 pps (phones shape), concurrent calls
held (measured per call), the delay from a stream's first packet to kernel
forwarding, relay RSS and kernel map memory per 1000 calls. With --peers,
rtpengine (userspace relay, ng protocol) and siproxd run the same way in
the same run. SIP (userspace engine): call setups/s at increasing rates
until a call fails, registrations/s. Every figure is printed with its ratio
to rtpengine (--peers), else to sipmasq's userspace engine, of the same run.

Writes OUT/result.json, OUT/result.md, OUT/load.dat and OUT/throughput.png.
Root only; only namespaces of its own receive traffic; removes them on exit.
Exit status 77 (and no result) when the kernel allows no generator or no
sink: the message names the refused calls.
"""
import argparse
import glob
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH = os.path.join(TOP, "scripts", "bench")
XDPGEN = os.path.join(BENCH, "xdpgen")
# The load generators, in order of preference: name, binary, what it needs
# from the kernel. Same command line (`send ...`) and result line; exit
# status XG_EXIT_REFUSED (xdpgen.h) when the kernel refuses the call.
GENERATORS = [
    ("xdp-live-frames", XDPGEN, "BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES"),
    ("af-packet", os.path.join(BENCH, "afpgen"),
     "socket(AF_PACKET, SOCK_RAW), PACKET_QDISC_BYPASS, sendmmsg"),
]
XG_EXIT_REFUSED = 3
# bench.py's exit status when no generator (or no sink) is allowed: the
# automake convention for "skipped", which the smoke test reads.
EXIT_NO_GENERATOR = 77
# As the test suite: CI's second pass runs a sanitizer build.
SIPMASQ = os.environ.get("SIPMASQ_BIN", os.path.join(TOP, "sipmasq"))
GEN_CPU, GW_CPU = "0", "1"
PHONE, PHONE_RTP = "10.0.0.2", 40000
FAR, FAR_RTP = "198.51.100.2", 40002
LOSS_MAX = 0.001
# A step passes only with its p99 one-way delay within this bound (µs),
# measured over the step's frames (a G.711 jitter buffer's order).
P99_MAX_US = 20000
BURST = 16   # frames the generator sends back to back (xdpgen.h: xg_pace_due)
# The phones shape: each stream its own 20 ms clock, every frame late by up
# to this much (xg_jitter), one frame at a time.
PHONE_PPS, PHONE_JITTER_NS = 50, 2000000
# A step counts only when the generator sent at least this share of the
# offered rate (it loses its core now and then, and catches up at most
# XG_LAG_MAX frames).
GEN_SHORT = 0.98
# A rate is the max only when it passes this many repeats out of as many.
REPEATS = 3
# Frames arriving later than this after the step's last send are late (lost),
# not delivered: no settle time counts (the delay bound itself).
GRACE_S = P99_MAX_US / 1e6
# Between arming the sink and the generator's first frame: its process start
# (and, for xdpgen, its BPF load).
START_LEAD_S = 0.4
# sipmasq's rtp_latch_window for the bench: longer than a run (it counts
# from a call's last offer/answer; the default, 10 s, is shorter than the
# set-up of 10,000 calls at 1000/s).
LATCH_WINDOW_S = 3600
# How far the kernel's count of the frames that reached the gateway may be
# from the generator's "sent" (SIP and ARP on the same interfaces).
SENT_CHECK_TOL, SENT_CHECK_SLACK = 0.002, 20
# The daemon holds 4 sockets per call (RTP and RTCP on both legs), whatever
# the engine: the calls one run can hold are bounded by RLIMIT_NOFILE.
NOFILE_HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
MAX_CALLS = (NOFILE_HARD - 512) // 4

FULL = dict(rates=[10000, 20000, 30000, 40000, 50000, 75000, 100000, 150000, 200000,
                   300000, 400000, 600000, 800000, 1000000, 1200000, 1500000, 2000000],
            step_s=2.0, calls=10000, setup_cps=1000, hold_s=30.0, cpu_streams=1000, perf=True,
            sip_rates=[500, 1000, 2000, 3000, 4000], sip_s=3.0,
            reg_rates=[500, 1000, 2000, 4000, 6000, 8000], ceiling_s=2.0, repeats=REPEATS,
            # siproxd crashes above about 256 calls (select(), FD_SETSIZE).
            peer_calls={"siproxd": 200},
            peer_rates={"siproxd": [5000, 10000, 20000, 40000, 60000, 80000, 100000, 150000,
                                    200000, 300000]})
SMOKE = dict(rates=[2000, 4000], step_s=0.5, calls=10, setup_cps=50, hold_s=1.0,
             cpu_streams=10, sip_rates=[20], sip_s=1.0, reg_rates=[20], ceiling_s=1.0,
             repeats=REPEATS,
             peer_calls={"siproxd": 10}, peer_rates={"siproxd": [2000, 4000]})
PEERS = ("rtpengine", "siproxd")
SIPMASQ_ENGINES = ("xdp", "tc", "userspace")


def log(msg):
    print(msg, flush=True)


class Topology:
    """The test topology under a prefix of this process; down() removes it."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.procs = []
        subprocess.run([os.path.join(TOP, "scripts", "topology.sh"), "up", prefix], check=True)

    def netns(self, ns):
        return "--net=/run/netns/%s-%s" % (self.prefix, ns)

    def cmd(self, ns, argv, cpu=None, nice=False):
        pre = ["nsenter", self.netns(ns), "--"] + (["nice", "-n", "-20"] if nice else [])
        return pre + (["taskset", "-c", cpu] if cpu else []) + argv

    def run(self, ns, argv, cpu=None, timeout=120, check=True, nice=False):
        r = subprocess.run(self.cmd(ns, argv, cpu, nice), capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode:
            raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), r.returncode, r.stderr.strip()))
        return r.stdout

    def popen(self, ns, argv, cpu=None, **kw):
        p = subprocess.Popen(self.cmd(ns, argv, cpu), **kw)
        self.procs.append(p)
        return p

    def sysfs(self, ns, path, value):
        # nsenter --net keeps the host's /sys; ip netns exec remounts it.
        subprocess.run(["ip", "netns", "exec", "%s-%s" % (self.prefix, ns), "sh", "-c",
                        "echo %s > %s" % (value, path)], check=True)

    def mac(self, ns, ifname):
        out = subprocess.run(["ip", "-n", "%s-%s" % (self.prefix, ns), "-j", "link", "show",
                              ifname], capture_output=True, text=True, check=True).stdout
        return json.loads(out)[0]["address"]

    def down(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        subprocess.run([os.path.join(TOP, "scripts", "topology.sh"), "down", self.prefix])


def napi_threads():
    """pid -> name of the threaded NAPI kernel threads."""
    out = {}
    for d in glob.glob("/proc/[0-9]*/comm"):
        try:
            with open(d) as f:
                name = f.read().strip()
        except OSError:
            continue
        if name.startswith("napi/"):
            out[int(d.split("/")[2])] = name
    return out


def threaded_napi(topo, ns, ifname):
    """Gives ifname NAPI (GRO) and a NAPI thread pinned to GW_CPU; returns its pids."""
    before = napi_threads()
    topo.run(ns, [XDPGEN, "gro", ifname])
    topo.sysfs(ns, "/sys/class/net/%s/threaded" % ifname, 1)
    pids = [p for p, n in napi_threads().items()
            if p not in before and n.startswith("napi/%s-" % ifname)]
    for p in pids:
        subprocess.run(["taskset", "-pc", GW_CPU, str(p)], capture_output=True)
        # Above the daemon: its once-a-second pass over every offloaded
        # stream (map reads, ~10 ms at 2000 calls) must not hold up the
        # rings, as softirq preempts a daemon on a real gateway.
        realtime(p, 20)
    return pids


def realtime(pid, prio=10):
    """SCHED_FIFO: the builds and tests of others sharing the machine must not
    preempt the gateway's work (the kernel still keeps 5% for them)."""
    subprocess.run(["chrt", "-f", "-p", str(prio), str(pid)], capture_output=True)


def cpu_seconds(pids):
    """CPU time of the processes (all threads), seconds, from schedstat (ns;
    utime/stime tick at 10 ms, too coarse for a smoke run)."""
    total = 0
    for p in pids:
        for st in glob.glob("/proc/%d/task/*/schedstat" % p):
            try:
                with open(st) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return total / 1e9


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"VmRSS:\s+(\d+)", f.read())
    return int(m.group(1)) if m else 0


class Sink:
    """xdpgen sink on the far ends: counts the bench frames of an armed step
    (per stream: duplicates, reordering; apart: frames of a previous step and
    frames arriving after the step's end) and their delay."""

    def __init__(self, topo, ns, ifname, other=()):
        self.p = topo.popen(ns, [XDPGEN, "sink", ifname] + list(other), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
        self._read()

    def _read(self):
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("xdpgen sink exited")
        return json.loads(line)

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self._read()

    def arm(self, start_ns, end_ns):
        """A step: frames sent from start_ns on, arriving until end_ns
        (CLOCK_MONOTONIC, as time.monotonic_ns())."""
        return self.ask("arm %d %d" % (start_ns, end_ns))

    def streams(self, n):
        """Frames delivered per stream (duplicates not counted), streams 0..n."""
        return self.ask("streams %d" % n)["unique"]


def link_stats(topo, ns):
    """ifname -> (rx packets, rx dropped, tx packets, tx dropped) in ns."""
    out = subprocess.run(["ip", "-n", "%s-%s" % (topo.prefix, ns), "-s", "-j", "link", "show"],
                         capture_output=True, text=True, check=True).stdout
    res = {}
    for l in json.loads(out):
        st = l.get("stats64", {})
        rx, tx = st.get("rx", {}), st.get("tx", {})
        res[l["ifname"]] = (rx.get("packets", 0), rx.get("dropped", 0), tx.get("packets", 0),
                            tx.get("dropped", 0))
    return res


def gateway_counters(topo):
    """Packets the gateway's interfaces received (and dropped on receive),
    and what the generator's interfaces transmitted (and dropped)."""
    gw, lan, wan = link_stats(topo, "gw"), link_stats(topo, "lan"), link_stats(topo, "wan")
    z = (0, 0, 0, 0)
    g = [gw.get("gwlan", z)[i] + gw.get("gwwan", z)[i] for i in range(4)]
    t = [lan.get("lan0", z)[i] + wan.get("wan0", z)[i] for i in range(4)]
    return {"gw_rx": g[0], "gw_rx_dropped": g[1], "gen_tx": t[2], "gen_tx_dropped": t[3]}


def step_figures(sent, snap, per_stream=None, nstreams=0):
    """The loss accounting of one step, from the generator's result line
    (sent) and the sink's snapshot (snap, per_stream: frames delivered per
    stream without duplicates). Frames of a previous step and frames after
    the step's end are never delivered. More delivered than sent, on the
    whole or on one stream, is an error, never 0% loss. Returns a dict:
    lost, loss (None on an error), error (or None), duplicates, reordered,
    streams_lossy."""
    n_sent = sent["sent"]
    unique = snap["received"] - snap["duplicates"]
    res = {"sent": n_sent, "received": snap["received"], "delivered": unique,
           "lost": n_sent - unique, "duplicates": snap["duplicates"],
           "reordered": snap["reordered"], "too_old": snap.get("too_old", 0),
           "prev_step": snap["prev_step"], "after_end": snap["after_end"],
           "delay_overflow": snap["overflow"], "error": None}
    errors = []
    if unique > n_sent:
        errors.append("%d frames delivered of %d sent" % (unique, n_sent))
    if per_stream is not None and nstreams:
        # Frame i of the generator went to stream i % nstreams.
        base, extra = divmod(n_sent, nstreams)
        lossy, over = 0, 0
        for i, got in enumerate(per_stream[:nstreams]):
            want = base + (1 if i < extra else 0)
            if got > want:
                over += 1
            elif got < want:
                lossy += 1
        res["streams_lossy"] = lossy
        if over:
            errors.append("%d streams delivered more than was sent on them" % over)
    if errors:
        res["error"] = "; ".join(errors)
    res["loss"] = None if errors else (round(res["lost"] / n_sent, 6) if n_sent else 1.0)
    return res


class Gateway:
    """sipmasq with one media engine in the gateway namespace."""

    def __init__(self, topo, work, engine, calls):
        self.topo, self.work, self.engine = topo, work, engine
        self.sock = os.path.join(work, "ctl-%s.sock" % engine)
        self.log_path = os.path.join(work, "sipmasq-%s.log" % engine)
        self.pin = "/sys/fs/bpf/%s" % topo.prefix
        conf = os.path.join(work, "sipmasq-%s.conf" % engine)
        # 4 ports per call (RTP and RTCP on both legs), plus slack.
        high = min(20000 + calls * 4 + 400, 65000)
        with open(conf, "w") as f:
            f.write("if_inbound = gwlan\nif_outbound = gwwan\nrtp_port_low = 20000\n"
                    "rtp_port_high = %d\nrtp_engine = %s\nbpf_pin_dir = %s\n"
                    # The bench prepares its veths like NICs (XDP on the
                    # peers, full checksums): it may force native XDP there.
                    "rtp_xdp_veth = 1\n"
                    "control_socket = %s\nrtp_timeout = 300\n"
                    # One phone and one far end make all the load: lift the
                    # per-source flood limits and the table limits.
                    "max_registrations = 1000000\nmax_calls = 1000000\n"
                    "sip_rate_limit = 0\nsip_rate_limit_registered = 0\n"
                    # Setting up 10,000 calls at 1000/s takes 10 s, the
                    # default window: the first calls' streams would no
                    # longer latch when the load starts.
                    "rtp_latch_window = %d\n"
                    % (high, engine, self.pin, self.sock, LATCH_WINDOW_S))
        self.logf = open(self.log_path, "w")
        # The userspace relay holds 4 sockets per call.
        self.p = topo.popen("gw", ["prlimit", "--nofile=%d" % NOFILE_HARD, SIPMASQ,
                                   "--foreground", "-c", conf],
                            cpu=GW_CPU, stdout=self.logf, stderr=subprocess.STDOUT)
        for _ in range(100):
            if "ready" in self.log():
                break
            if self.p.poll() is not None:
                raise RuntimeError("sipmasq exited: %s" % self.log()[-2000:])
            time.sleep(0.1)
        else:
            raise RuntimeError("sipmasq not ready: %s" % self.log()[-2000:])
        self.pid = self._daemon_pid()
        realtime(self.pid)

    def _daemon_pid(self):
        # prlimit and nsenter exec; the pid is the daemon's, but check.
        for _ in range(20):
            try:
                with open("/proc/%d/comm" % self.p.pid) as f:
                    if f.read().strip() == "sipmasq":
                        return self.p.pid
            except OSError:
                pass
            time.sleep(0.05)
        return self.p.pid

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def ctl(self, cmd):
        out = subprocess.run([os.path.join(TOP, "sipmasqctl"), "-s", self.sock, "--json", cmd],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        return json.loads(out)

    def pids(self):
        return [self.pid]

    def setup(self, n, cps):
        """n calls through sipmasq with sipp: (Streams in call order, seconds)."""
        _, secs = setup_calls(self.topo, self, self.work, n, cps)
        return relay_ports(self), secs

    def alive(self, streams):
        """How many of the calls of streams the daemon still holds."""
        have = set(relay_ports(self).priv)
        return sum(1 for p in streams.priv if p in have)

    def map_memory(self):
        """bytes_memlock and max_entries of the pinned maps."""
        total, entries = 0, 0
        for path in glob.glob(os.path.join(self.pin, "*")):
            r = subprocess.run(["bpftool", "-j", "map", "show", "pinned", path],
                               capture_output=True, text=True)
            if r.returncode:
                continue
            m = json.loads(r.stdout)
            total += int(m.get("bytes_memlock", 0))
            if m.get("name") == "smq_streams":
                entries = int(m.get("max_entries", 0))
        return total, entries

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
        self.logf.close()
        shutil.rmtree(self.pin, ignore_errors=True)


RTPENGINE = os.environ.get("RTPENGINE_BIN", "/usr/bin/rtpengine")
SIPROXD = os.environ.get("SIPROXD_BIN", "/var/tmp/smq-bench-peers/siproxd/sbin/siproxd")
NG = "127.0.0.1:2223"
# The caller's From (uac_hold.xml): sipmasq needs no registration; siproxd
# proxies only for a registered AOR (reg_uac.xml's first: bench1@FAR).
FROM_AOR = "sip:bench@%s" % PHONE
SIPROXD_AOR = "sip:bench1@%s" % FAR


class RtpEngine:
    """rtpengine (Debian's rtpengine-daemon) as the gateway's relay: its
    userspace relay (--table=-1: no kernel forwarding), one worker thread,
    pinned and prioritised as sipmasq; calls set up through its ng control
    protocol with the bench call flow's offer and answer (ng_calls.py)."""

    engine = "rtpengine"

    def __init__(self, topo, work, calls):
        self.topo, self.work = topo, work
        self.log_path = os.path.join(work, "rtpengine.log")
        self.logf = open(self.log_path, "w")
        topo.run("gw", ["ip", "link", "set", "lo", "up"])
        high = min(20000 + calls * 4 + 400, 65000)
        self.p = topo.popen("gw", ["prlimit", "--nofile=%d" % NOFILE_HARD, RTPENGINE,
                                   "--foreground", "--log-stderr", "--config-file=none",
                                   "--table=-1", "--interface=priv/10.0.0.1",
                                   "--interface=pub/198.51.100.1", "--listen-ng=" + NG,
                                   "--port-min=20000", "--port-max=%d" % high,
                                   "--num-threads=1", "--timeout=3600",
                                   "--silent-timeout=3600", "--log-level=4"],
                            cpu=GW_CPU, stdout=self.logf, stderr=subprocess.STDOUT)
        time.sleep(1.0)
        if self.p.poll() is not None:
            raise RuntimeError("rtpengine exited: %s" % self.log()[-2000:])
        self.pid = self.p.pid
        realtime(self.pid)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def pids(self):
        return [self.pid]

    def setup(self, n, cps):
        t0 = time.time()
        out = self.topo.run("gw", [sys.executable, os.path.join(BENCH, "ng_calls.py"), NG,
                                   str(n), "%s:%d" % (PHONE, PHONE_RTP),
                                   "%s:%d" % (FAR, FAR_RTP)], timeout=60 + n / 50)
        pairs = json.loads(out)
        return Streams([a for a, _ in pairs], [b for _, b in pairs]), time.time() - t0

    def alive(self, streams):
        return None   # not asked: its calls time out only after an hour

    def map_memory(self):
        return 0, 0

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
        self.logf.close()


class Siproxd:
    """siproxd (built from ../shared/peers, a black box) as the gateway: SIP
    proxy and its own RTP relay; calls set up with sipp through it as
    through sipmasq; the relay ports are read from the SDP sipp received
    (-trace_msg), the private one in the 200 at the phone, the public one in
    the INVITE at the far end."""

    engine = "siproxd"

    def __init__(self, topo, work, calls):
        self.topo, self.work = topo, work
        if not os.access(SIPROXD, os.X_OK):
            raise RuntimeError("%s missing: scripts/bench/build-siproxd.sh (or SIPROXD_BIN)"
                               % SIPROXD)
        self.log_path = os.path.join(work, "siproxd.log")
        self.logf = open(self.log_path, "w")
        conf = os.path.join(work, "siproxd.conf")
        high = min(20000 + calls * 4 + 400, 65000)
        with open(conf, "w") as f:
            f.write("if_inbound = gwlan\nif_outbound = gwwan\nsip_listen_port = 5060\n"
                    "daemonize = 0\nsilence_log = 0\nrtp_proxy_enable = 1\n"
                    "rtp_port_low = 20000\nrtp_port_high = %d\nrtp_timeout = 3600\n"
                    "registration_file = %s/siproxd_registrations\n"
                    "pid_file = %s/siproxd.pid\ndebug_level = 0\n" % (high, work, work))
        self.p = topo.popen("gw", [SIPROXD, "-c", conf], cpu=GW_CPU, stdout=self.logf,
                            stderr=subprocess.STDOUT)
        time.sleep(1.0)
        if self.p.poll() is not None:
            raise RuntimeError("siproxd exited: %s" % self.log()[-2000:])
        self.pid = self.p.pid
        realtime(self.pid)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def pids(self):
        return [self.pid]

    def setup(self, n, cps):
        scen = os.path.join(BENCH, "sipp")
        tdir = os.path.join(self.work, "siproxd-sipp")
        os.makedirs(tdir, exist_ok=True)
        uas_log, uac_log = os.path.join(tdir, "uas.log"), os.path.join(tdir, "uac.log")
        # siproxd proxies only for registered phones (it tells outgoing
        # requests by their source matching a registered Contact): the
        # phone registers once, through it, with a sipp registrar.
        reg = [sipp(self.topo, "wan", ["-sf", os.path.join(scen, "reg_uas.xml"), "-i", FAR,
                                       "-p", "5060", "-m", "1"])]
        time.sleep(0.3)
        reg.append(sipp(self.topo, "lan", ["-sf", os.path.join(scen, "reg_uac.xml"), "-i",
                                           PHONE, "-p", "5063", "-rsa", "10.0.0.1:5060",
                                           "-key", "domain", FAR, "-m", "1", FAR]))
        if wait_all(reg, 15) != [0, 0]:
            raise RuntimeError("the phone's REGISTER through siproxd failed: %s"
                               % self.log()[-2000:])
        sipp(self.topo, "wan", ["-sf", os.path.join(scen, "uas_hold.xml"), "-i", FAR, "-p",
                                "5070", "-mp", "16000", "-key", "rtpport", str(FAR_RTP),
                                "-m", str(n), "-trace_msg", "-message_file", uas_log])
        time.sleep(0.3)
        sipp(self.topo, "lan", ["-sf", os.path.join(scen, "uac_hold.xml"), "-i", PHONE,
                                "-p", "5062", "-mp", "6000", "-rsa", "10.0.0.1:5060",
                                "-key", "to", "sip:bench@%s:5070" % FAR,
                                "-key", "from", SIPROXD_AOR, "-key", "rtpport",
                                str(PHONE_RTP), "-d", "3600000", "-m", str(n), "-l", str(n),
                                "-r", str(cps), "-trace_msg", "-message_file", uac_log,
                                FAR + ":5070"])
        t0 = time.time()
        deadline = t0 + 30 + 3.0 * n / cps
        priv, pub = {}, {}
        while time.time() < deadline:
            priv = sdp_ports(uac_log, "SIP/2.0 200")
            pub = sdp_ports(uas_log, "INVITE ")
            if len(set(priv) & set(pub)) >= n:
                break
            time.sleep(0.5)
        ids = [c for c in priv if c in pub]
        return Streams([priv[c] for c in ids], [pub[c] for c in ids]), time.time() - t0

    def alive(self, streams):
        return None if self.p.poll() is None else 0

    def map_memory(self):
        return 0, 0

    def stop(self):
        RtpEngine.stop(self)


def sdp_ports(path, first_line):
    """Call-ID -> audio port of the SDP of the messages starting with
    first_line in a sipp message trace, in order of appearance."""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return {}
    out = {}
    # Each message of the trace follows a line of dashes and a line saying
    # whether it was sent or received.
    for msg in re.split(r"^-{20,}.*$", text, flags=re.M):
        if "received" not in msg.split("\n\n", 1)[0]:
            continue
        m = re.search(r"^" + re.escape(first_line), msg, re.M)
        if not m:
            continue
        msg = msg[m.start():]
        cid = re.search(r"^Call-ID:\s*(\S+)", msg, re.M | re.I)
        port = re.search(r"^m=audio (\d+)", msg, re.M)
        if cid and port:
            out.setdefault(cid.group(1), int(port.group(1)))
    return out


def sipp(topo, ns, argv):
    # sipp's socket buffers default to 64 KiB: at 2000 calls/s its bursts
    # overflow them and calls fail in sipp, not in sipmasq.
    return topo.popen(ns, ["sipp", "-buff_size", "8388608"] + argv + ["-nostdin"],
                      stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)


def wait_all(procs, timeout):
    """Exit codes of the processes, None for those killed at the timeout."""
    end = time.time() + timeout
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=max(0.1, end - time.time())))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            codes.append(None)
    return codes


def setup_calls(topo, gw, work, n, cps):
    """n calls through sipmasq, held; returns how many and how long it took."""
    scen = os.path.join(BENCH, "sipp")
    sipp(topo, "wan", ["-sf", os.path.join(scen, "uas_hold.xml"), "-i", FAR, "-p", "5070",
                       "-mp", "16000", "-key", "rtpport", str(FAR_RTP), "-m", str(n)])
    time.sleep(0.3)
    sipp(topo, "lan", ["-sf", os.path.join(scen, "uac_hold.xml"), "-i", PHONE, "-p", "5062",
                       "-mp", "6000", "-rsa", "10.0.0.1:5060",
                       "-key", "to", "sip:bench@%s:5070" % FAR, "-key", "from", FROM_AOR,
                       "-key", "rtpport", str(PHONE_RTP),
                       "-d", "3600000", "-m", str(n), "-l", str(n), "-r", str(cps),
                       FAR + ":5070"])
    t0 = time.time()
    deadline = t0 + 30 + 3.0 * n / cps
    have = 0
    while time.time() < deadline:
        have = gw.ctl("stats").get("calls", 0)
        if have >= n:
            break
        time.sleep(0.5)
    return have, time.time() - t0


class Streams:
    """The relay ports of the calls' media: private (where the phone sends)
    and public (where the far end sends), one of each per call, in call
    order: priv[i] and pub[i] are call i's. The generator numbers the
    streams priv[0..n) then pub[0..n): call i is streams i and n + i."""

    def __init__(self, priv, pub):
        self.priv, self.pub = priv, pub

    def __len__(self):
        return len(self.priv) + len(self.pub)

    def calls(self, n):
        return Streams(self.priv[:n], self.pub[:n])


def relay_ports(gw):
    priv, pub = [], []
    for c in gw.ctl("calls")["calls"]:
        for s in c["streams"]:
            priv.append(int(s["private"]["relay"].rsplit(":", 1)[1]))
            pub.append(int(s["public"]["relay"].rsplit(":", 1)[1]))
    return Streams(priv, pub)


class Load:
    """Runs the generator (gen: result of choose_generator) against a port
    list and reads the sink."""

    def __init__(self, topo, work, sink, gen):
        self.topo, self.work, self.sink, self.gen = topo, work, sink, gen
        self.lan_mac = topo.mac("gw", "gwlan")
        self.wan_mac = topo.mac("gw", "gwwan")
        # The gateway's addresses: where each direction's frames go.
        self.dst = ("10.0.0.1", "198.51.100.1")

    def _ports(self, name, ports):
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            f.write("".join("%d\n" % p for p in ports))
        return "@" + path

    def settle(self, limit_s=20.0):
        """Waits until nothing arrives any more (an overloaded userspace relay
        has up to a socket buffer per port queued): those frames arrive after
        the step's end and count as late, not delivered, and must not reach
        the next step (where they would count as a previous step's)."""
        last, end = None, time.time() + limit_s
        while True:
            time.sleep(0.3)
            got = self.sink.ask("snap")
            if (last is not None and got["after_end"] == last) or time.time() > end:
                return got
            last = got["after_end"]

    def run(self, streams, rate, secs, burst=BURST, jitter_ns=0, per_stream=False,
            fault=None):
        """rate (pps) spread over all streams, both directions: private ones
        out of lan0, public ones out of wan0, in bursts of burst or (jitter_ns)
        each stream on its own clock. The sink is armed for the step: frames
        sent from its start, arriving until GRACE_S after its last send.
        fault: extra environment of the generator (XG_DROP, XG_DUP)."""
        argv = [self.gen["binary"], "send", str(int(rate)), str(secs), str(burst),
                "lan0", self.lan_mac, "%s:%d" % (PHONE, PHONE_RTP), self.dst[0],
                self._ports("priv", streams.priv)]
        if streams.pub:
            argv += [self.topo.netns("wan").split("=", 1)[1], "wan0", self.wan_mac,
                     "%s:%d" % (FAR, FAR_RTP), self.dst[1], self._ports("pub", streams.pub)]
        start = time.monotonic_ns() + int(START_LEAD_S * 1e9)
        end = start + int((secs + GRACE_S) * 1e9)
        self.sink.arm(start, end)
        env = ["env", "XG_START_NS=%d" % start, "XG_JITTER_NS=%d" % jitter_ns]
        env += ["%s=%d" % kv for kv in (fault or {}).items()]
        c0 = gateway_counters(self.topo)
        out = self.topo.run("lan", env + argv, cpu=GEN_CPU, timeout=secs + 30, nice=True)
        sent = json.loads(out)
        # The step's own figures: everything the sink took until its end.
        wait = end / 1e9 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        got = self.sink.ask("snap")
        pst = self.sink.streams(len(streams)) if per_stream else None
        late = self.settle()
        c1 = gateway_counters(self.topo)
        fig = step_figures(sent, got, pst, len(streams))
        fig["after_end"] = late["after_end"]
        cnt = {k: c1[k] - c0[k] for k in c0}
        # The generator's "sent" against the kernel's counters: what reached
        # the gateway's interfaces (or was dropped there, or by the veth
        # when its ring was full) must be what the generator says it sent.
        seen = cnt["gw_rx"] + cnt["gw_rx_dropped"] + cnt["gen_tx_dropped"]
        fig["sent_check"] = dict(cnt, seen=seen,
                                 ratio=round(seen / sent["sent"], 4) if sent["sent"] else None)
        fig.update({"offered_pps": int(rate), "sent_pps": int(sent["rate"]),
                    "forwarded_pps": int(fig["delivered"] / sent["seconds"])
                    if sent["seconds"] else 0,
                    "shape": "phones" if jitter_ns else "bursts of %d" % burst,
                    "p50_us": got["p50_us"], "p99_us": got["p99_us"],
                    "p999_us": got["p999_us"], "max_us": got["max_us"],
                    "late_start_ms": round(sent.get("late_start_ns", 0) / 1e6, 1),
                    "generator_short": sent["rate"] < GEN_SHORT * rate if rate else False})
        fig["sent_check"]["ok"] = (sent["sent"] > 0 and abs(seen - sent["sent"]) <=
                                   SENT_CHECK_TOL * sent["sent"] + SENT_CHECK_SLACK)
        if pst is not None:
            fig["per_stream"] = pst
        fig["passed"], fig["why_failed"] = verdict(fig)
        return fig


def perf_start(work, target, secs):
    """perf record -e cpu-clock (the VM has no hardware counters) of target
    (["-C", cpu] or ["-p", pid]) for secs; perf_top() reads it."""
    data = os.path.join(work, "perf.data")
    return data, subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-o", data] + target +
                                  ["--", "sleep", str(secs)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)


def perf_top(rec, comms=r"(napi/gw|sipmasq|ksoftirqd)"):
    """Top symbols with their share of all samples, of the gateway's own
    threads only (others share the CPU)."""
    data, p = rec
    p.wait()
    out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                          "--sort", "comm,sym", "--percent-limit", "0.5"],
                         capture_output=True, text=True).stdout
    top = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[.\]\s+(.+)", line)
        if m and re.match(comms, m.group(2)):
            top.append({"pct": float(m.group(1)), "comm": m.group(2), "sym": m.group(3).strip()})
    return top[:15]


def perf_profile(load, streams, rate, secs):
    """Where the gateway's CPU (GW_CPU) goes at rate."""
    rec = perf_start(load.work, ["-C", GW_CPU], secs)
    load.run(streams, rate, secs)
    return perf_top(rec)


def offload_delay(gw, load, port, rate=20000):
    """How long after its first RTP packet a stream is forwarded in the
    kernel: the first packet latches in the daemon, which then installs the
    map entries; until then the daemon relays. Measured as the packets the
    daemon relayed on a fresh stream sent at rate (resolution 1/rate)."""
    load.run(Streams([port], []), rate, 0.5)
    for c in gw.ctl("calls")["calls"]:
        for s in c["streams"]:
            leg = s["private"]
            if leg["relay"].endswith(":%d" % port):
                # forwarded_packets includes the kernel's.
                daemon = leg["forwarded_packets"] - leg["kernel_packets"]
                return {"pps": rate, "daemon_packets": daemon,
                        "kernel_packets": leg["kernel_packets"],
                        "first_packet_to_kernel_ms": round(1000.0 * daemon / rate, 2)}
    return {}


def verdict(step):
    """(passed, why not): < 0.1% loss and p99 <= P99_MAX_US over the step,
    no duplicate, no accounting error, the generator's "sent" confirmed by
    the gateway's counters, and at (nearly) the offered rate."""
    why = []
    if step["error"]:
        why.append(step["error"])
    elif step["loss"] >= LOSS_MAX:
        why.append("loss %.3f%%" % (100 * step["loss"]))
    if step["duplicates"]:
        why.append("%d duplicates" % step["duplicates"])
    if step["p99_us"] < 0 or step["p99_us"] > P99_MAX_US:
        why.append("p99 %s" % ("past the histogram" if step["p99_us"] < 0
                               else "%d us" % step["p99_us"]))
    if step["generator_short"]:
        why.append("generator short (%d of %d pps)" % (step["sent_pps"], step["offered_pps"]))
    if not step["sent_check"]["ok"]:
        why.append("gateway saw %s of the frames sent" % step["sent_check"]["ratio"])
    return not why, "; ".join(why) or None


def passed(step):
    return step["passed"]


class NoGenerator(Exception):
    """The kernel refuses every load generator, or the sinks."""


def gen_send(topo, binary, rate, secs, burst, port="@", jitter_ns=0):
    """One send of binary out of lan0 into the gateway (which has nothing on
    port): (exit status, result line or None, last line of stderr)."""
    if port == "@":
        # As many streams as a run's calls: 2000 ports nobody listens on.
        path = "/tmp/%s-ceiling-ports" % topo.prefix
        with open(path, "w") as f:
            f.write("".join("%d\n" % p for p in range(30000, 32000)))
        port = "@" + path
    else:
        path = None
    r = subprocess.run(topo.cmd("lan", ["env", "XG_JITTER_NS=%d" % jitter_ns,
                                        binary, "send", str(int(rate)), str(secs), str(burst),
                                        "lan0", topo.mac("gw", "gwlan"),
                                        "%s:%d" % (PHONE, PHONE_RTP), "10.0.0.1", port],
                                cpu=GEN_CPU, nice=True),
                       capture_output=True, text=True, timeout=secs + 30)
    if path:
        os.unlink(path)
    err = (r.stderr.strip().splitlines() or [""])[-1]
    return r.returncode, json.loads(r.stdout) if r.returncode == 0 else None, err


def probe_sink(topo):
    """Starts and stops an XDP sink on wan0; raises NoGenerator if the
    kernel refuses it (BPF_PROG_LOAD or the XDP attach)."""
    p = subprocess.Popen(topo.cmd("wan", [XDPGEN, "sink", "wan0"]), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate("", timeout=30)
    if p.returncode == XG_EXIT_REFUSED:
        raise NoGenerator("the kernel refuses the XDP sink: %s" % err.strip())
    if p.returncode or "ready" not in out:
        raise RuntimeError("xdpgen sink: exit %d: %s" % (p.returncode, err.strip()))


def choose_generator(prefix, secs, only=None):
    """The first generator of GENERATORS (or only the one named only) that
    the kernel allows, found by a tiny run (50 frames), with its own ceiling
    into a gateway that drops everything: unpaced, then paced at that rate
    in bursts of BURST as the steps are (the figure the steps can reach).
    Raises NoGenerator naming the refused calls; a generator failing for any
    other reason is a fault (RuntimeError), not a fallback."""
    topo = Topology(prefix)
    try:
        threaded_napi(topo, "gw", "gwlan")
        probe_sink(topo)
        refused = {}
        for name, binary, needs in GENERATORS:
            if only and name != only:
                continue
            rc, _, err = gen_send(topo, binary, 1000, 0.05, 1)
            if rc == XG_EXIT_REFUSED:
                refused[name] = err
                log("generator %s refused by the kernel: %s" % (name, err))
                continue
            if rc:
                raise RuntimeError("generator %s: exit %d: %s" % (name, rc, err))
            why = ("the first of %s the kernel allows" % ", ".join(n for n, _, _ in GENERATORS)
                   if not refused else "; ".join("%s refused: %s" % kv for kv in refused.items()))
            if only:
                why = "asked for (-g %s)" % only
            rc, free, err = gen_send(topo, binary, 0, secs, 1)
            if rc:
                raise RuntimeError("generator %s: exit %d: %s" % (name, rc, err))
            # The ceiling as the steps load it: paced in bursts of BURST,
            # the highest rate it keeps within GEN_SHORT of, stepping down
            # from its unpaced rate.
            paced_tries, ceiling = [], 0
            for f in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05):
                rate = int(free["rate"] * f)
                rc, paced, err = gen_send(topo, binary, rate, secs, BURST)
                if rc:
                    raise RuntimeError("generator %s: exit %d: %s" % (name, rc, err))
                paced_tries.append({"offered_pps": rate, "sent_pps": int(paced["rate"])})
                if paced["rate"] >= GEN_SHORT * rate:
                    ceiling = rate
                    break
            # The same for the phones shape (one frame at a time, jitter):
            # what the calls-held tries can load.
            phones = 0
            for f in (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05):
                rate = int((ceiling or free["rate"]) * f)
                rc, paced, err = gen_send(topo, binary, rate, secs, 1,
                                          jitter_ns=PHONE_JITTER_NS)
                if rc:
                    raise RuntimeError("generator %s: exit %d: %s" % (name, rc, err))
                paced_tries.append({"offered_pps": rate, "sent_pps": int(paced["rate"]),
                                    "shape": "phones"})
                if paced["rate"] >= GEN_SHORT * rate:
                    phones = rate
                    break
            return {"name": name, "binary": binary, "needs": needs, "why": why,
                    "refused": refused, "unpaced_pps": int(free["rate"]),
                    "ceiling_pps": ceiling, "phones_ceiling_pps": phones,
                    "ceiling_tries": paced_tries,
                    "ceiling_rule": "highest paced rate (bursts of %d) sent within %d%%"
                                    % (BURST, round(100 * (1 - GEN_SHORT)))}
        raise NoGenerator("the kernel refuses %s: " % ("the load generator asked for" if only
                                                       else "every load generator") +
                          "; ".join("%s: %s" % kv for kv in refused.items()))
    finally:
        topo.down()


def ksoftirqd_threads():
    """pids of the ksoftirqd threads: softirq work the gateway's interfaces
    hand over to them is the gateway's CPU too."""
    out = []
    for d in glob.glob("/proc/[0-9]*/comm"):
        try:
            with open(d) as f:
                if f.read().startswith("ksoftirqd/"):
                    out.append(int(d.split("/")[2]))
        except OSError:
            continue
    return out


class CpuMeter:
    """CPU time of every consumer of the gateway's work: the relay's
    processes, the gateway's NAPI threads and the ksoftirqd threads."""

    def __init__(self, relay, napi):
        self.groups = {"relay": relay.pids(), "napi": napi, "ksoftirqd": ksoftirqd_threads()}
        self.t0 = time.time()
        self.c0 = {k: cpu_seconds(v) for k, v in self.groups.items()}

    def stop(self, packets):
        """CPU of each group over the interval, and ns per packet forwarded."""
        el = time.time() - self.t0
        used = {k: cpu_seconds(v) - self.c0[k] for k, v in self.groups.items()}
        total = sum(used.values())
        res = {"%s_core_pct" % k: round(100.0 * v / el, 2) for k, v in used.items()}
        res.update(core_pct=round(100.0 * total / el, 2), forwarded_packets=packets,
                   ns_per_packet=round(total * 1e9 / packets) if packets else None)
        return res


def forwarded(step):
    """Packets the relay forwarded in a step: delivered in time or late."""
    return step["delivered"] + step["after_end"]


def log_step(engine, st):
    log("  %s %7d pps (%s): sent %7d fwd %7d loss %s p50 %d us p99 %d us%s"
        % (engine, st["offered_pps"], st["shape"], st["sent_pps"], st["forwarded_pps"],
           "%.4f%%" % (100 * st["loss"]) if st["loss"] is not None else "ERROR",
           st["p50_us"], st["p99_us"], "" if st["passed"] else " FAIL: %s" % st["why_failed"]))


def search_max(engine, load, ports, rates, secs, repeats):
    """The highest offered rate that passes `repeats` of `repeats` trials
    (bursts of BURST), stepping up; stops at saturation (>= 5% loss or an
    accounting error) or after two failing rates in a row. Returns (steps, best): best is {offered_pps, forwarded_pps
    (median of the repeats), spread: min/max of forwarded and p99} or None."""
    steps, best, fails = [], None, 0
    for rate in rates:
        trials = []
        for r in range(repeats):
            st = load.run(ports, rate, secs)
            st["repeat"] = r + 1
            steps.append(st)
            trials.append(st)
            log_step(engine, st)
            if not st["passed"]:
                break
        if all(t["passed"] for t in trials) and len(trials) == repeats:
            fw = sorted(t["forwarded_pps"] for t in trials)
            best, fails = {"offered_pps": rate, "forwarded_pps": fw[len(fw) // 2],
                           "repeats": repeats,
                           "forwarded_spread": [fw[0], fw[-1]],
                           "p99_spread_us": [min(t["p99_us"] for t in trials),
                                             max(t["p99_us"] for t in trials)]}, 0
            continue
        # A generator falling short once (it lost its core on a shared
        # machine) fails the rate like any other failure: two in a row stop.
        last = trials[-1]
        if last["loss"] is None or last["loss"] >= 0.05:
            break
        fails += 1
        if fails >= 2:
            break
    return steps, best


def hold_calls(relay, load, ports, n, secs):
    """n calls (2 streams each, 50 pps, the phones shape) held for secs,
    counted per call: a call is held when neither of its streams lost 0.1%
    of its frames and the relay still has it at the end. Returns the try's
    figures; all_held when every call was held and the p99 within bound."""
    sub = ports.calls(n)
    st = load.run(sub, n * 2 * PHONE_PPS, secs, burst=1, jitter_ns=PHONE_JITTER_NS,
                  per_stream=True)
    per = st.pop("per_stream")
    base, extra = divmod(st["sent"], 2 * n)
    want = [base + (1 if i < extra else 0) for i in range(2 * n)]
    alive = relay.alive(sub)
    held = 0
    for c in range(n):
        sent_c = want[c] + want[n + c]
        got_c = min(per[c], want[c]) + min(per[n + c], want[n + c])
        if sent_c and (sent_c - got_c) / sent_c < LOSS_MAX:
            held += 1
    if alive is not None:
        held = min(held, alive)
    p99_ok = 0 <= st["p99_us"] <= P99_MAX_US
    res = {"calls": n, "held": held, "still_set_up": alive, "seconds": secs,
           "loss": st["loss"], "p99_us": st["p99_us"], "duplicates": st["duplicates"],
           "sent_pps": st["sent_pps"], "generator_short": st["generator_short"],
           "after_end": st["after_end"], "prev_step": st["prev_step"],
           "error": st["error"],
           # At the calls' real rate: a generator falling short loads fewer
           # packets than the calls would send.
           "all_held": held == n and p99_ok and not st["error"] and not st["generator_short"]}
    log("  hold %d calls %.0f s: %d held (per call < 0.1%% loss), loss %s, p99 %d us%s"
        % (n, secs, held, st["loss"], st["p99_us"],
           "" if res["all_held"] else " FAIL: %s" % st["why_failed"]))
    return res


def start_relay(engine, topo, work, calls):
    if engine == "rtpengine":
        return RtpEngine(topo, work, calls)
    if engine == "siproxd":
        return Siproxd(topo, work, calls)
    return Gateway(topo, work, engine, calls)


def run_engine(engine, prefix, work, cfg, gen):
    """Every figure of one relay: a sipmasq engine (xdp, tc, userspace) or a
    peer (rtpengine, siproxd) in the same topology, with the same generator
    and sinks."""
    res = {"engine": engine}
    topo = Topology(prefix)
    gw = None
    peer = engine in PEERS
    calls = cfg.get("peer_calls", {}).get(engine, cfg["calls"])
    rates = cfg.get("peer_rates", {}).get(engine, cfg["rates"])
    try:
        napi = threaded_napi(topo, "gw", "gwlan") + threaded_napi(topo, "gw", "gwwan")
        # Both far ends run the sink in native XDP, which also lets the XDP
        # engine redirect to them (a veth takes XDP frames only then).
        sink = Sink(topo, "wan", "wan0", (topo.netns("lan").split("=", 1)[1], "lan0"))
        gw = start_relay(engine, topo, work, calls)
        if not peer:
            res["engine_log"] = [l for l in gw.log().splitlines() if "rtp engine" in l]
            res["rtp_latch_window_s"] = LATCH_WINDOW_S
        rss0 = rss_kib(gw.pid)
        ports, setup_s = gw.setup(calls, cfg["setup_cps"])
        # Before `sipmasqctl calls` could run again: the daemon's JSON answer
        # for every call raises its heap's high-water mark (~5 KiB a call).
        mem_kib = rss_kib(gw.pid) - rss0
        ncalls = len(ports.priv)
        res["calls_set_up"] = ncalls
        res["call_setup_s"] = round(setup_s, 1)
        log("  %s: %d calls set up in %.1f s" % (engine, ncalls, setup_s))
        if not ncalls:
            raise RuntimeError("no call set up: %s" % gw.log()[-2000:])
        load = Load(topo, work, sink, gen)
        if engine in ("xdp", "tc"):
            res["offload"] = offload_delay(gw, load, ports.priv[0])
        # Latch every stream (the first packets go through the daemon,
        # which then offloads the stream), and let the offload settle.
        load.run(ports, min(20000, 2 * len(ports)), 1.0)
        time.sleep(1.0)

        map_bytes, map_entries = gw.map_memory()
        res["memory"] = {
            "rss_kib_per_1000_calls": round(mem_kib * 1000.0 / ncalls, 1),
            # A call is 2 streams (one per direction) in the terms.
            "rss_bytes_per_stream": round(mem_kib * 1024.0 / (2 * ncalls), 1),
            "kernel_map_bytes": map_bytes, "kernel_map_entries": map_entries,
            "kernel_map_kib_per_1000_calls":
                round(map_bytes / 1024.0 * 4000.0 / map_entries, 1) if map_entries else 0}

        steps, best = search_max(engine, load, ports, rates, cfg["step_s"], cfg["repeats"])
        res["steps"] = steps
        res["max"] = best
        res["max_pps"] = best["forwarded_pps"] if best else 0
        res["max_pps_offered"] = best["offered_pps"] if best else 0
        res["generator_short_steps"] = sum(1 for s in steps if s["generator_short"])

        if best:
            half = best["offered_pps"] / 2
            cpu = CpuMeter(gw, napi)
            # The traffic shape of the search (bursts of BURST), so that
            # half its rate is half the load; a frame also waits for those
            # before it in its burst, as behind a NIC's moderation.
            st = load.run(ports, half, cfg["step_s"] * 1.5)
            res["latency_at_half_max"] = {k: st[k] for k in
                                          ("offered_pps", "loss", "p50_us", "p99_us", "p999_us",
                                           "max_us", "delay_overflow", "passed")}
            c = cpu.stop(forwarded(st))
            res["latency_at_half_max"]["ns_per_packet"] = c["ns_per_packet"]
            res["latency_at_half_max"]["cpu"] = c

        # 1000 streams of phones (each its own 20 ms clock), CPU per packet
        # forwarded.
        n = min(cfg["cpu_streams"] // 2, ncalls) * 2
        cpu = CpuMeter(gw, napi)
        st = load.run(ports.calls(n // 2), n * PHONE_PPS, cfg["step_s"] * 1.5, burst=1,
                      jitter_ns=PHONE_JITTER_NS)
        c = cpu.stop(forwarded(st))
        res["cpu"] = dict(c, streams=n, pps=n * PHONE_PPS, loss=st["loss"], shape="phones",
                          core_pct_per_1000_streams=round(c["core_pct"] * 1000.0 / n, 2))
        if cfg.get("perf") and best:
            res["perf_at_half_max"] = perf_profile(load, ports, best["offered_pps"] / 2,
                                                   cfg["step_s"])

        # Concurrent G.711 calls held, measured: every call set up first,
        # then fewer (90% of those held) if not all were held; at most 3 tries.
        res["calls_held"] = {"calls": 0, "tried": []}
        # No more calls than the generator can load in the phones shape
        # (measured at start): above it every try falls short.
        n = min(ncalls, gen.get("phones_ceiling_pps", 0) // (2 * PHONE_PPS) or ncalls)
        for _ in range(3):
            t = hold_calls(gw, load, ports, n, cfg["hold_s"])
            res["calls_held"]["tried"].append(t)
            if t["all_held"]:
                res["calls_held"].update(calls=n, seconds=cfg["hold_s"], loss=t["loss"],
                                         p99_us=t["p99_us"])
                break
            # 90% of the calls held, or of what the relay forwarded when a
            # saturated relay spread its loss over every call (none held).
            fwd = int(n * (1 - t["loss"]) * 0.9) if t["loss"] is not None else 0
            n = min(n - 1, max(int(t["held"] * 0.9), fwd))
            if n <= 0:
                break
    finally:
        if gw:
            gw.stop()
        topo.down()
    return res


def sip_rates(prefix, work, cfg):
    """Call setups/s and registrations/s through sipmasq (userspace engine)."""
    topo = Topology(prefix)
    scen = os.path.join(BENCH, "sipp")
    res = {"calls": [], "registrations": []}
    gw = None
    try:
        n_max = int(max(cfg["sip_rates"]) * cfg["sip_s"])
        gw = Gateway(topo, work, "userspace", min(n_max, 10000))
        for rate in cfg["sip_rates"]:
            n = int(rate * cfg["sip_s"])
            uas = sipp(topo, "wan", ["-sf", os.path.join(scen, "uas_hold.xml"), "-i", FAR,
                                     "-p", "5070", "-mp", "16000", "-key", "rtpport",
                                     str(FAR_RTP), "-m", str(n)])
            time.sleep(0.3)
            t0 = time.time()
            rec = perf_start(work, ["-p", str(gw.pid)], cfg["sip_s"])
            uac = sipp(topo, "lan", ["-sf", os.path.join(scen, "uac_hold.xml"), "-i", PHONE,
                                     "-p", "5062", "-mp", "6000", "-rsa", "10.0.0.1:5060",
                                     "-key", "to", "sip:bench@%s:5070" % FAR,
                                "-key", "from", SIPROXD_AOR, "-key", "rtpport",
                                     str(PHONE_RTP), "-d", "0", "-m", str(n), "-r", str(rate),
                                     "-l", str(n), "-recv_timeout", "10000", FAR + ":5070"])
            code = wait_all([uac], cfg["sip_s"] + 40)[0]
            el = time.time() - t0
            wait_all([uas], 5)
            ok = code == 0
            top = perf_top(rec)
            res["calls"].append({"offered_cps": rate, "calls": n, "achieved_cps": round(n / el),
                                 "all_succeeded": ok})
            if ok:
                res["perf_daemon_at_max_cps"] = top
            log("  sip %5d calls/s offered: %d calls in %.1f s, %s"
                % (rate, n, el, "all succeeded" if ok else "FAILED (sipp exit %s)" % code))
            if not ok:
                break
        good = [r["achieved_cps"] for r in res["calls"] if r["all_succeeded"]]
        res["max_cps"] = max(good) if good else 0
        for rate in cfg["reg_rates"]:
            n = int(rate * cfg["sip_s"])
            uas = sipp(topo, "wan", ["-sf", os.path.join(scen, "reg_uas.xml"), "-i", FAR,
                                     "-p", "5060", "-m", str(n)])
            time.sleep(0.3)
            t0 = time.time()
            uac = sipp(topo, "lan", ["-sf", os.path.join(scen, "reg_uac.xml"), "-i", PHONE,
                                     "-p", "5063", "-rsa", "10.0.0.1:5060", "-key", "domain", FAR,
                                     "-m", str(n), "-r", str(rate), "-l", str(n),
                                     "-recv_timeout", "10000", FAR])
            code = wait_all([uac], cfg["sip_s"] + 40)[0]
            el = time.time() - t0
            wait_all([uas], 5)
            ok = code == 0
            res["registrations"].append({"offered_rps": rate, "registrations": n,
                                         "achieved_rps": round(n / el), "all_succeeded": ok})
            log("  sip %5d registrations/s offered: %d in %.1f s, %s"
                % (rate, n, el, "all succeeded" if ok else "FAILED (sipp exit %s)" % code))
            if not ok:
                break
        good = [r["achieved_rps"] for r in res["registrations"] if r["all_succeeded"]]
        res["max_rps"] = max(good) if good else 0
        res["bindings"] = gw.ctl("stats").get("registrations", 0)
    finally:
        if gw:
            gw.stop()
        topo.down()
    return res


# Figures of the summary: (label, path in an engine's result, unit).
FIGURES = [
    ("max forwarded pps, < 0.1% loss and p99 <= 20 ms, 3 of 3 repeats", ("max_pps",), "pps"),
    ("one-way delay p50 at 50% of max", ("latency_at_half_max", "p50_us"), "µs"),
    ("one-way delay p99 at 50% of max", ("latency_at_half_max", "p99_us"), "µs"),
    ("gateway CPU per 1000 streams at 50 pps (phones)", ("cpu", "core_pct_per_1000_streams"),
     "% core"),
    ("gateway CPU per packet forwarded at 50 pps a stream", ("cpu", "ns_per_packet"), "ns"),
    ("gateway CPU per packet forwarded at 50% of max", ("latency_at_half_max", "ns_per_packet"),
     "ns"),
    ("concurrent calls held (measured per call, phones)", ("calls_held", "calls"), "calls"),
    ("calls set up", ("calls_set_up",), "calls"),
    ("first RTP packet to kernel forwarding", ("offload", "first_packet_to_kernel_ms"), "ms"),
    ("relay RSS per 1000 calls", ("memory", "rss_kib_per_1000_calls"), "KiB"),
    ("relay RSS per stream (2 a call)", ("memory", "rss_bytes_per_stream"), "bytes"),
    ("kernel map memory per 1000 calls", ("memory", "kernel_map_kib_per_1000_calls"), "KiB"),
]


# Figures a generator-bound run understates: the max rate.
GEN_BOUND = ("max_pps",)


def dig(d, path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def summarise(result):
    """Adds ratios (to rtpengine when it ran, else to sipmasq's userspace
    engine) and returns the markdown report."""
    engines = result["engines"]
    order = SIPMASQ_ENGINES + PEERS
    names = [e for e in order if e in engines]
    base_name = "rtpengine" if "rtpengine" in engines and "error" not in engines["rtpengine"] \
        else "userspace"
    base = engines.get(base_name, {})
    result["ratio_base"] = base_name
    lines = ["| figure | " + " | ".join(names) + " |",
             "| --- |" + " ---: |" * len(names)]
    ratios = {}
    gen = result.get("generator_ceiling_pps", 0)
    # Bound by the generator: it does not reach twice the figure, or the
    # engine passed every step up to one where the generator fell short.
    bound = []
    for e in names:
        steps = engines[e].get("steps") or []
        if engines[e].get("max_pps") and (
                gen < 2 * engines[e]["max_pps"] or
                (steps and steps[-1]["generator_short"] and steps[-1]["loss"] is not None
                 and steps[-1]["loss"] < LOSS_MAX)):
            bound.append(e)
    for e in names:
        engines[e]["generator_bound"] = e in bound
    # Calls held short of the calls set up where a try's generator fell
    # short of the calls' rate: the relay may hold more.
    g_phones = result.get("generator", {}).get("phones_ceiling_pps", 0)
    calls_bound = [e for e in names if dig(engines[e], ("calls_held", "calls")) is not None
                   and dig(engines[e], ("calls_held", "calls")) != engines[e].get("calls_set_up")
                   and (any(t.get("generator_short") for t in
                            dig(engines[e], ("calls_held", "tried")) or []) or
                        2 * PHONE_PPS * engines[e].get("calls_set_up", 0) > g_phones)]
    for label, path, unit in FIGURES:
        cells = []
        for e in names:
            v, b = dig(engines[e], path), dig(base, path)
            if v is None:
                cells.append("n/a")
                continue
            r = (v / b) if b else None
            ratios.setdefault(e, {})[path[-1]] = round(r, 2) if r is not None else None
            mark = ((e in bound and path[0] in GEN_BOUND) or
                    (e in calls_bound and path[0] == "calls_held"))
            cells.append("%s %s (%s)%s" % (format(v, ",") if isinstance(v, int) else v, unit,
                                            "%.2fx" % r if r is not None else "n/a x",
                                            " †" if mark else ""))
        lines.append("| %s | %s |" % (label, " | ".join(cells)))
    # The spread of the max over its repeats, and the phones' max.
    cells = []
    for e in names:
        m = engines[e].get("max")
        cells.append("%s-%s pps, p99 %s-%s µs" % (format(m["forwarded_spread"][0], ","),
                                                  format(m["forwarded_spread"][1], ","),
                                                  *m["p99_spread_us"]) if m else "n/a")
    lines.append("| spread of the max over its %d repeats | %s |"
                 % (result.get("config", {}).get("repeats", REPEATS), " | ".join(cells)))
    result["ratios"] = ratios
    result["ratios_to_userspace"] = ratios if base_name == "userspace" else None
    g = result.get("generator", {})
    g_phones = g.get("phones_ceiling_pps", 0)
    md = ["Generator: %s (%s; needs %s). Its ceiling on one core, paced in bursts of %d as "
          "the steps run, sent within %d%% of the offered rate: %s pps (unpaced %s pps); "
          "in the phones shape: %s pps."
          % (g.get("name"), g.get("why"), g.get("needs"), BURST,
             round(100 * (1 - GEN_SHORT)), format(gen, ","),
             format(g.get("unpaced_pps", 0), ","), format(g.get("phones_ceiling_pps", 0), ",")),
          "",
          "A step passes with < %.1f%% loss (per stream sequence numbers: duplicates and "
          "frames of a previous step never count as delivered, frames later than %d ms after "
          "the step's last send are lost), p99 one-way delay <= %d ms over the step, no "
          "duplicate, and the generator's sent count confirmed by the gateway's receive "
          "counters. Ratios are to %s, measured in the same run."
          % (100 * LOSS_MAX, P99_MAX_US // 1000, P99_MAX_US // 1000, base_name), ""]
    md += lines
    if bound:
        md += ["", "† generator-bound (the generator does not reach 2x the figure, or fell "
               "short of the next offered rate without loss): %s; the engine may do more."
               % ", ".join(bound)]
    if calls_bound:
        md += ["", "† on calls held: the generator fell short of the calls' rate (phones "
               "ceiling %s pps) on a try: %s; the relay may hold more."
               % (format(g_phones, ","), ", ".join(calls_bound))]
    errs = ["%s: %s" % (e, engines[e]["error"]) for e in names if "error" in engines[e]]
    if errs:
        md += ["", "Failed: " + "; ".join(errs)]
    sip = result.get("sip")
    if sip and "max_cps" in sip:
        md += ["", "SIP through sipmasq (userspace engine): %s call setups/s with no failed "
               "call (INVITE/200/ACK/BYE), %s registrations/s." % (sip["max_cps"], sip["max_rps"])]
    return "\n".join(md) + "\n"


def plot(result, out):
    dat = os.path.join(out, "load.dat")
    with open(dat, "w") as f:
        for e, r in result["engines"].items():
            f.write("# %s\n" % e)
            for s in r.get("steps", []):
                f.write("%d %d %d\n" % (s["offered_pps"], s["forwarded_pps"], s["p99_us"]))
            f.write("\n\n")
    names = list(result["engines"])
    fwd = ", ".join("'%s' index %d using ($1/1000):($2/1000) with linespoints title '%s'"
                    % (dat, i, e) for i, e in enumerate(names))
    lat = ", ".join("'%s' index %d using ($1/1000):3 with linespoints title '%s'"
                    % (dat, i, e) for i, e in enumerate(names))
    script = """set terminal pngcairo size 1000,800 noenhanced
set output '%s'
set multiplot layout 2,1 title 'sipmasq relay, 172-byte RTP both ways, by rtp_engine'
set grid
set key left top
set logscale x
set logscale y
set xlabel 'offered load (kpps)'
set ylabel 'forwarded (kpps)'
plot %s
set ylabel 'one-way delay p99 (us)'
plot %s
unset multiplot
""" % (os.path.join(out, "throughput.png"), fwd, lat)
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if r.returncode:
        log("gnuplot failed: %s" % r.stderr.strip())


def own_autogroup():
    """A scheduler autogroup of its own at nice -20: with autogroups, nice
    only weighs within a session, and the generator (nice -20 as well) would
    get 1/N of its core against the N sessions of others on a shared
    machine, and fall short of the offered rate."""
    try:
        os.setsid()
    except OSError:
        pass   # already a session leader
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write("-20")
    except OSError:
        pass   # no CONFIG_SCHED_AUTOGROUP


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="a few seconds, small numbers")
    ap.add_argument("-e", "--engines", default="userspace tc xdp")
    ap.add_argument("-o", "--out", default="bench-result")
    ap.add_argument("--calls", type=int, help="calls set up per engine")
    ap.add_argument("--rates", help="offered rates to step through, pps, space-separated")
    ap.add_argument("--no-sip", action="store_true", help="skip the SIP rates")
    ap.add_argument("--peers", action="store_true",
                    help="also rtpengine (userspace relay, ng protocol) and siproxd, same run")
    ap.add_argument("--repeats", type=int, help="trials a rate must pass (default 3)")
    ap.add_argument("-g", "--generator", choices=[g[0] for g in GENERATORS],
                    help="use this load generator only (default: the first the kernel allows)")
    a = ap.parse_args()
    cfg = dict(SMOKE if a.smoke else FULL)
    if a.calls:
        cfg["calls"] = a.calls
    if cfg["calls"] > MAX_CALLS:
        log("%d calls asked, %d possible: RLIMIT_NOFILE hard limit %d, 4 sockets a call"
            % (cfg["calls"], MAX_CALLS, NOFILE_HARD))
        cfg["calls"] = MAX_CALLS
    if a.rates:
        cfg["rates"] = [int(x) for x in a.rates.split()]
    if a.repeats:
        cfg["repeats"] = a.repeats
    engines = a.engines.split() + (list(PEERS) if a.peers else [])
    for f in [g[1] for g in GENERATORS] + [SIPMASQ, os.path.join(TOP, "sipmasqctl")]:
        if not os.access(f, os.X_OK):
            sys.exit("%s is missing: build first (scripts/setup.sh; ./configure; make)" % f)
    os.makedirs(a.out, exist_ok=True)
    own_autogroup()
    work = tempfile.mkdtemp(prefix="sipmasq-bench.")
    prefix = "smqb%d" % (os.getpid() % 100000)
    t0 = time.time()
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "nofile_hard_limit": NOFILE_HARD,
              "kernel": os.uname().release, "cpus": os.cpu_count(),
              "mode": "smoke" if a.smoke else "full", "config": cfg, "engines": {}}
    gen = None
    if engines:
        try:
            gen = choose_generator(prefix, cfg["ceiling_s"], a.generator)
        except NoGenerator as ex:
            shutil.rmtree(work, ignore_errors=True)
            log("no load generator: %s" % ex)
            sys.exit(EXIT_NO_GENERATOR)
        result["generator"] = {k: v for k, v in gen.items() if k != "binary"}
        result["generator_ceiling_pps"] = gen["ceiling_pps"]
        log("generator: %s (%s); ceiling %d pps paced, %d unpaced"
            % (gen["name"], gen["why"], gen["ceiling_pps"], gen["unpaced_pps"]))
    if a.peers and not os.access(RTPENGINE, os.X_OK):
        sys.exit("%s is missing: apt-get install rtpengine-daemon" % RTPENGINE)
    for e in engines:
        log("== engine %s" % e)
        try:
            result["engines"][e] = run_engine(e, prefix, work, cfg, gen)
        except Exception as ex:   # noqa: BLE001 - one engine failing must not lose the rest
            log("  %s failed: %s" % (e, ex))
            result["engines"][e] = {"engine": e, "error": str(ex)}
    if not a.no_sip:
        log("== SIP")
        try:
            result["sip"] = sip_rates(prefix, work, cfg)
        except Exception as ex:   # noqa: BLE001
            log("  SIP failed: %s" % ex)
            result["sip"] = {"error": str(ex)}
    result["seconds"] = round(time.time() - t0)
    md = summarise(result)
    with open(os.path.join(a.out, "result.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(a.out, "result.md"), "w") as f:
        f.write(md)
    plot(result, a.out)
    shutil.rmtree(work, ignore_errors=True)
    log("\n" + md + "\nwritten: %s/result.json result.md throughput.png (%d s)"
        % (a.out, result["seconds"]))


if __name__ == "__main__":
    main()
