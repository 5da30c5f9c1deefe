"""Fixtures of the sipmasq end-to-end suite (run as root: pytest-3 tests/).

Every test gets its own topology (three network namespaces built by
scripts/topology.sh with a session-unique prefix), its own processes
(killed by process group at teardown, whatever the outcome) and its own
temporary directory (kept by pytest for inspection; the paths and the tail
of every daemon log are printed when a test fails).

Fixtures:
  procs     ProcessGroup: every background process of the test.
  topology  lib.netns.Topology, namespaces .lan .gw .wan.
  kamailio  lib.kamailio.Kamailio running in .wan (registrar 198.51.100.2).
  sipp      lib.sipp.Sipp factory (run/start sipp scenarios in a namespace).
  sipmasq   factory: sipmasq(**config_overrides) -> lib.sipmasq.Sipmasq
            started in .gw; skips the test when the binary is missing.
  capture   factory: capture(ns, iface) -> lib.capture.Capture (tshark).
  counter   factory: counter(ns, dport, src=None, sport=None) -> UdpCounter.
"""

import itertools
import os
import re
import random
import string
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lib import netns, skips  # noqa: E402
from lib.capture import Capture  # noqa: E402
from lib.counters import UdpCounter  # noqa: E402
from lib.kamailio import Kamailio  # noqa: E402
from lib.sipmasq import Sipmasq, binary  # noqa: E402
from lib.sipp import Sipp  # noqa: E402

# "smq" + 4 random characters + a per-test counter: at most 10 characters.
SESSION_TAG = "smq" + "".join(random.choice(string.ascii_lowercase) for _ in range(4))
_test_numbers = itertools.count(1)


def pytest_configure(config):
    if os.geteuid() != 0:
        raise pytest.UsageError("the end-to-end tests need root (network namespaces)")


def _skip_reason(rep):
    """The reason of a skipped report (pytest stores (path, line, reason))."""
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the item so fixtures can tell, at
    teardown, whether the test failed. Under CI=true a skip that the
    machine could run (lib/skips.py) is turned into a failure."""
    outcome = yield
    rep = outcome.get_result()
    if (skips.CI and rep.skipped and not hasattr(rep, "wasxfail")
            and not skips.allowed_under_ci(_skip_reason(rep))):
        rep.outcome = "failed"
        rep.longrepr = ("CI=true: a skip of a test this machine can run is a failure: %s"
                        % _skip_reason(rep))
    setattr(item, "rep_" + rep.when, rep)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Count the skips by reason (pytest -ra lists each one): a growing
    count is a loss of coverage that a green run would hide."""
    skipped = terminalreporter.stats.get("skipped", [])
    counts = {}
    for rep in skipped:
        reason = _skip_reason(rep)
        counts[reason] = counts.get(reason, 0) + 1
    terminalreporter.write_sep("=", "skips: %d" % len(skipped))
    for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line("%4d  %s" % (n, reason))


def _failed(request):
    rep = getattr(request.node, "rep_call", None)
    setup = getattr(request.node, "rep_setup", None)
    return (rep is not None and rep.failed) or (setup is not None and setup.failed)


def _session_namespaces():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines()
            if line.startswith(SESSION_TAG)]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """Last line of defence: nothing of this session survives it.  Runs
    after pytest's own sessionfinish, which (after ^C) tears down the
    fixtures of the interrupted test."""
    for ns in _session_namespaces():
        netns.kill_netns_pids(ns)
        subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


def _tail(path, n=4000):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return "(no file)"
    return data[-n:].decode("utf-8", "replace")


SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: ")


@pytest.fixture
def procs():
    group = netns.ProcessGroup()
    yield group
    group.stop_all()


@pytest.fixture
def topology(procs, request, tmp_path):
    prefix = "%s%d" % (SESSION_TAG, next(_test_numbers))
    topo = netns.Topology(prefix)
    topo.tmp_path = tmp_path
    topo.down()
    topo.up()
    yield topo
    procs.stop_all()
    for ns in (topo.lan, topo.gw, topo.wan):
        netns.kill_netns_pids(ns)
    topo.down()
    if _failed(request):
        print("\n=== test files kept in %s ===" % tmp_path)


@pytest.fixture
def kamailio(topology, procs, tmp_path, request):
    kam = Kamailio(procs, topology.wan, tmp_path).start()
    yield kam
    if _failed(request):
        print("\n=== kamailio log (tail) %s ===\n%s" % (kam.log_path, _tail(kam.log_path)))
    kam.stop()


@pytest.fixture
def sipp(procs, tmp_path):
    return Sipp(procs, tmp_path)


def sipmasq_instances(procs, ns, tmp_path, request, defaults=None):
    """Generator behind the sipmasq fixtures: yields start(**overrides),
    which starts a daemon in namespace ns with the default test
    configuration updated by defaults then overrides; on teardown stops and
    unpins every instance, prints their config and log when the test failed,
    and fails the test if a daemon died or a sanitizer reported."""
    if not _have_binary():
        pytest.skip("sipmasq binary not found at %s: build it (make) or set SIPMASQ_BIN"
                    % binary())
    instances = []

    def start(etc_files=None, syslog_dir=None, **overrides):
        cfg = dict(defaults or {})
        cfg.update(overrides)
        s = Sipmasq(procs, ns, tmp_path, cfg, name="sipmasq%d" % len(instances),
                    etc_files=etc_files, syslog_dir=syslog_dir)
        instances.append(s)
        return s.start()
    yield start
    died = ["%s rc=%s" % (s.name, s.proc.popen.returncode) for s in instances
            if s.proc is not None and not s.proc.alive()]
    for s in instances:
        s.stop()
        s.remove_pins()
    # A sanitizer build (./configure --enable-sanitizers) reports to the log.
    reports = [s.name for s in instances if SANITIZER_REPORT.search(s.log())]
    if _failed(request) or died or reports:
        for s in instances:
            print("\n=== sipmasq config %s ===\n%s" % (s.conf_path, _tail(s.conf_path)))
            print("=== sipmasq log (tail) %s ===\n%s" % (s.log_path, _tail(s.log_path, 12000)))
    if died:
        pytest.fail("sipmasq exited during the test: %s" % ", ".join(died))
    if reports:
        pytest.fail("sanitizer report in the log of %s" % ", ".join(reports))


@pytest.fixture
def sipmasq(topology, procs, tmp_path, request):
    """Factory: sipmasq(**overrides) starts a daemon in the gateway with the
    default test configuration (see lib/sipmasq.py) updated by overrides
    (None deletes a key) and waits until it is ready. etc_files={"hosts":
    text, ...} gives the daemon its own /etc files, syslog_dir=DIR a /dev
    whose "log" is a test's syslog socket (Sipmasq.argv, lib/syslog.py)."""
    yield from sipmasq_instances(procs, topology.gw, tmp_path, request)


@pytest.fixture
def capture(procs, tmp_path):
    """Factory: capture(ns, iface, name='capture') starts tshark; call
    .stop() (or .packets()/.sip_messages()) to finish."""
    caps = []

    def start(ns, iface, name="capture"):
        c = Capture(procs, ns, iface, os.path.join(str(tmp_path), name + ".pcap"),
                    os.path.join(str(tmp_path), name + ".tshark.log"))
        caps.append(c)
        return c
    yield start
    for c in caps:
        c.stop()


@pytest.fixture
def counter():
    """Factory: counter(ns, dport, src=None, sport=None) -> UdpCounter."""
    return UdpCounter


def _have_binary():
    path = binary()
    return os.path.isfile(path) and os.access(path, os.X_OK)


def pytest_collection_modifyitems(session, config, items):
    """Run the harness checks first (when they fail, nothing else counts)
    and skip the daemon's tests up front when there is no daemon."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("harness") else 1)
    if not _have_binary():
        skip = pytest.mark.skip(reason="sipmasq binary not found at %s: build it (make) "
                                "or set SIPMASQ_BIN" % binary())
        for item in items:
            if "sipmasq" in getattr(item, "fixturenames", ()):
                item.add_marker(skip)
