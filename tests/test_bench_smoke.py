"""Smoke run of the benchmark harness (scripts/bench/run.sh --smoke), and
the frames of its load generators.

Checks that the harness still works end to end, not the speed: the run
exits 0 and writes a well-formed result.json in which every engine has
non-zero figures (forwarded rate, delay, CPU, calls held, daemon memory),
SIP call setups and registrations succeeded, the markdown table names each
engine with its ratio to userspace, and the plot is a PNG. The run uses
whichever load generator the machine allows (XDP live frames, else
AF_PACKET) and must say which and why; it is skipped only when the kernel
refuses every generator (run.sh exits 77 naming the refused calls).

Each generator, where the kernel allows it, is also checked frame by frame
against a capture on the gateway: both directions, round robin over the
streams, per-stream sequence numbers from 0 without a gap, the RTP
sequence number and timestamp, the send time, the paced rate.
"""

import json
import os
import subprocess
import sys

import pytest

from lib import netns
from lib import skips
from lib.sipmasq import binary

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BENCH = os.path.join(TOP, "scripts", "bench")
XDPGEN = os.path.join(BENCH, "xdpgen")
AFPGEN = os.path.join(BENCH, "afpgen")
ENGINES = ("userspace", "tc", "xdp")
# scripts/bench/bench.py: GENERATORS, XG_EXIT_REFUSED, EXIT_NO_GENERATOR.
GENERATORS = {"xdp-live-frames": XDPGEN, "af-packet": AFPGEN}
EXIT_REFUSED, EXIT_NO_GENERATOR = 3, 77

pytestmark = skips.kernel_engine_marker(binary(), needs=tuple(GENERATORS.values()))


def no_generator(message):
    """Skips (or fails, SIPMASQ_BENCH_REQUIRED=1) a run the kernel allows no
    generator for: the machine cannot run the benchmark, which is a
    limitation of the machine, not a fault of sipmasq or the harness."""
    reason = (skips.CANNOT_RUN + "%s. A limitation of this machine (its kernel's lockdown, "
              "an LSM, a container's policy), not a fault of sipmasq or of the benchmark"
              % message)
    if os.environ.get("CI") == "true":
        # Legitimate in CI too: no change to sipmasq can make it pass here.
        # Visible in the summary (-ra); SIPMASQ_BENCH_REQUIRED=1 fails instead.
        reason += "; CI on this machine does not cover the benchmark"
    if os.environ.get("SIPMASQ_BENCH_REQUIRED") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("bench"))
    r = subprocess.run([os.path.join(BENCH, "run.sh"), "--smoke", "-o", out],
                       capture_output=True, text=True, timeout=300)
    if r.returncode == EXIT_NO_GENERATOR:
        no_generator(r.stdout.strip().splitlines()[-1])
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    with open(os.path.join(out, "result.json")) as f:
        res = json.load(f)
    with open(os.path.join(out, "result.md")) as f:
        md = f.read()
    with open(os.path.join(out, "throughput.png"), "rb") as f:
        png = f.read(8)
    return res, md, png, r.stdout


def test_generator_named_with_its_reason(result):
    res, md, _, log = result
    gen = res["generator"]
    assert gen["name"] in GENERATORS, gen
    assert gen["why"] and gen["needs"]
    assert "generator: %s (%s)" % (gen["name"], gen["why"]) in log
    assert "Generator: %s" % gen["name"] in md
    # The fallback only on a refusal, which names the refused call.
    if gen["name"] == "af-packet":
        assert "BPF_F_TEST_XDP_LIVE_FRAMES" in gen["refused"]["xdp-live-frames"], gen
    else:
        assert gen["refused"] == {}
    assert 0 < gen["ceiling_pps"] <= 1.2 * gen["unpaced_pps"]


def test_generator_bound_figures_are_marked():
    """summarise() marks an engine's max rate and calls held with a † where
    the generator's ceiling is under twice the max rate, and only there."""
    sys.path.insert(0, BENCH)
    try:
        import bench
    finally:
        sys.path.remove(BENCH)

    def engine(max_pps):
        return {"max_pps": max_pps, "calls_held": {"calls": max_pps // 100},
                "steps": [{"generator_short": False, "loss": 0.5}]}
    res = {"generator": {"name": "af-packet", "why": "test", "needs": "x",
                         "unpaced_pps": 1000000},
           "generator_ceiling_pps": 1000000,
           "engines": {"userspace": engine(100000), "xdp": engine(800000)}}
    md = bench.summarise(res)
    assert res["engines"]["xdp"]["generator_bound"]
    assert not res["engines"]["userspace"]["generator_bound"]
    rows = {line.split("|")[1].strip(): line.split("|")[2:4] for line in md.splitlines()
            if line.startswith("| ")}
    xdp_max, user_max = rows["max forwarded pps, < 0.1% loss"]
    assert xdp_max.strip().endswith("†") and "†" not in user_max, md
    assert rows["concurrent calls held, < 0.1% loss"][0].strip().endswith("†"), md
    assert "†" not in "".join(rows["one-way delay p50 at 50% of max"]), md
    assert "generator-bound" in md and "af-packet" in md


def test_every_engine_has_nonzero_figures(result):
    res, _, _, log = result
    assert res["generator_ceiling_pps"] > 0
    for e in ENGINES:
        r = res["engines"][e]
        assert "error" not in r, "%s: %s\n%s" % (e, r.get("error"), log)
        assert r["calls_set_up"] == res["config"]["calls"]
        assert r["max_pps"] > 0, log
        assert r["steps"] and all(s["received"] > 0 for s in r["steps"])
        assert r["latency_at_half_max"]["p99_us"] >= r["latency_at_half_max"]["p50_us"] > 0
        assert r["cpu"]["ns_per_packet"] > 0
        assert r["calls_held"]["calls"] > 0
        assert r["memory"]["rss_kib_per_1000_calls"] > 0
    for e in ("tc", "xdp"):
        assert res["engines"][e]["memory"]["kernel_map_bytes"] > 0


def test_ratios_to_userspace(result):
    res, md, _, _ = result
    assert res["ratios_to_userspace"]["userspace"]["max_pps"] == 1.0
    for e in ("tc", "xdp"):
        assert res["ratios_to_userspace"][e]["max_pps"] > 0
    header = md.splitlines()[2]
    assert all(e in header for e in ENGINES), md
    assert "1.00x" in md


def test_sip_rates_and_plot(result):
    res, _, png, _ = result
    assert res["sip"]["max_cps"] > 0 and res["sip"]["max_rps"] > 0
    assert res["sip"]["bindings"] > 0
    assert png == b"\x89PNG\r\n\x1a\n"


# Captures the generators' frames in the gateway's namespace (both of its
# interfaces) until none came for 0.5 s after the first, or 10 s; prints
# one JSON list of what it saw of each bench frame.
CAPTURE = r"""
import json, socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))   # ETH_P_ALL
s.settimeout(0.1)
print("ready", flush=True)
out, last, end = [], None, time.monotonic() + 10
while time.monotonic() < end and (last is None or time.monotonic() - last < 0.5):
    try:
        fr, addr = s.recvfrom(2048)
    except socket.timeout:
        continue
    now = time.monotonic_ns()
    if addr[2] == socket.PACKET_OUTGOING or len(fr) < 74 or fr[12:14] != b"\x08\x00":
        continue
    seq, sent, stream, magic = struct.unpack_from("=IQII", fr, 54)
    if fr[23] != 17 or magic != 0x58474E31:
        continue
    last = time.monotonic()
    out.append({"ifname": addr[0], "len": len(fr), "dport": struct.unpack_from("!H", fr, 36)[0],
                "rtp_seq": struct.unpack_from("!H", fr, 44)[0],
                "rtp_ts": struct.unpack_from("!I", fr, 46)[0], "seq": seq, "stream": stream,
                "delay_ns": now - sent})
print(json.dumps(out))
"""


def mac(ns, ifname):
    out = subprocess.run(["ip", "-n", ns, "-j", "link", "show", ifname], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)[0]["address"]


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_frames(name, topology):
    """2000 pps for 0.5 s in bursts of 4 over 3 streams out of lan0 and 2
    out of wan0 (the second direction, from its own namespace), captured
    on gwlan and gwwan."""
    lan_ports, wan_ports = [7001, 7002, 7003], [7004, 7005]
    ports = lan_ports + wan_ports
    cap = subprocess.Popen(netns.ns_argv(topology.gw, [sys.executable, "-c", CAPTURE]),
                           stdout=subprocess.PIPE, text=True)
    try:
        assert cap.stdout.readline().strip() == "ready"
        r = netns.run_in(topology.lan, [
            GENERATORS[name], "send", "2000", "0.5", "4",
            "lan0", mac(topology.gw, "gwlan"), "10.0.0.2:40000", "10.0.0.1",
            ",".join(map(str, lan_ports)),
            "/run/netns/%s" % topology.wan, "wan0", mac(topology.gw, "gwwan"),
            "198.51.100.2:40002", "198.51.100.1", ",".join(map(str, wan_ports))],
            timeout=30, check=False)
        if r.returncode == 0:
            frames = json.loads(cap.communicate(timeout=30)[0])
    finally:
        if cap.poll() is None:
            cap.kill()
            cap.wait()
    if r.returncode == EXIT_REFUSED:
        pytest.skip(skips.CANNOT_RUN + "the kernel refuses %s: %s" % (name, r.stderr.strip()))
    assert r.returncode == 0, r.stderr
    sent = json.loads(r.stdout)
    assert sent["streams"] == 5
    # Paced: the first burst leaves when 4 frames are due.
    assert 900 <= sent["sent"] <= 1010, sent
    assert len(frames) == sent["sent"], "captured %d of %d" % (len(frames), sent["sent"])
    by_stream = {}
    for f in frames:
        by_stream.setdefault(f["stream"], []).append(f)
    assert sorted(by_stream) == list(range(5))
    counts = [len(v) for v in by_stream.values()]
    assert max(counts) - min(counts) <= 1, counts   # round robin
    for stream, fs in by_stream.items():
        assert [f["seq"] for f in fs] == list(range(len(fs))), stream
        for f in fs:
            assert f["ifname"] == ("gwlan" if stream < 3 else "gwwan"), f
            assert f["dport"] == ports[stream], f
            assert f["len"] == 214, f
            assert f["rtp_seq"] == f["seq"] & 0xFFFF and f["rtp_ts"] == f["seq"] * 160, f
            # Sent on this host's monotonic clock, a moment before capture.
            assert 0 < f["delay_ns"] < 100_000_000, f
