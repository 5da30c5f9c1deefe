"""Smoke run of the benchmark harness (scripts/bench/run.sh --smoke).

Checks that the harness still works end to end, not the speed: the run
exits 0 and writes a well-formed result.json in which every engine has
non-zero figures (forwarded rate, delay, CPU, calls held, daemon memory),
SIP call setups and registrations succeeded, the markdown table names each
engine with its ratio to userspace, and the plot is a PNG.
"""

import json
import os
import subprocess

import pytest

from lib import skips
from lib.sipmasq import binary

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
XDPGEN = os.path.join(TOP, "scripts", "bench", "xdpgen")
ENGINES = ("userspace", "tc", "xdp")

pytestmark = skips.kernel_engine_marker(binary(), needs=(XDPGEN,))


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("bench"))
    r = subprocess.run([os.path.join(TOP, "scripts", "bench", "run.sh"), "--smoke", "-o", out],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    with open(os.path.join(out, "result.json")) as f:
        res = json.load(f)
    with open(os.path.join(out, "result.md")) as f:
        md = f.read()
    with open(os.path.join(out, "throughput.png"), "rb") as f:
        png = f.read(8)
    return res, md, png, r.stdout


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
