"""Fixtures of the compat suite: siproxd as the oracle of "drop-in".

  siproxd_prefix  (session) siproxd built once per run from the tarball named
                  by $SIPROXD_TARBALL (default ../shared/peers/siproxd-...tar.gz
                  beside the repository) by build_siproxd.sh, cached by the
                  tarball's hash. No tarball: the compat tests skip, naming
                  the variable; under CI=true they fail instead.
  compat          Compare bound to the test: compat.run(scenario, ...) runs the
                  scenario with siproxd and with sipmasq, side by side, each in
                  its own fresh namespaces, records both outcomes in the
                  session's table and fails the test when sipmasq does worse than siproxd (outside
                  the differences the test declares deliberate).

The marker defect("11.N") names the item of issue 11 a scenario shows. At
the end of the run the table (scenario x proxy x outcome) is printed and
written to $COMPAT_TABLE (default /tmp/sipmasq-compat-table.md); with
COMPAT_UPDATE_DOCS=1 it also replaces the table in docs/siproxd-migration.md.
"""

import concurrent.futures
import datetime
import json
import os
import subprocess

import pytest

import conftest as root   # tests/conftest.py (this directory is a package)
from compat import harness
from lib import netns

HERE = os.path.dirname(os.path.abspath(__file__))
TARBALL_VAR = "SIPROXD_TARBALL"
DEFAULT_TARBALL = os.path.join(os.path.dirname(netns.REPO), "shared", "peers",
                               "siproxd-0.8.5dev-b892b8e.tar.gz")
DOCS = os.path.join(netns.REPO, "docs", "siproxd-migration.md")
TABLE_BEGIN = "<!-- compat-table:begin (tests/compat, COMPAT_UPDATE_DOCS=1) -->"
TABLE_END = "<!-- compat-table:end -->"

# Session table: one row per scenario and proxy, in run order.
ROWS = []

# What siproxd does in every scenario that has the check (measured).
SIPROXD_ALWAYS_FAILS = {
    "no_private_via": "siproxd forwards the phones' own Via headers (10.x) to the "
                      "public side and adds its own on top",
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "defect(item): the scenario shows item N of issue 11 (\"11.N\"); "
        "it fails until sipmasq's fix for that item lands")


def _in_ci():
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def siproxd_prefix():
    """Install prefix of the siproxd built for this run (see module doc)."""
    tarball = os.environ.get(TARBALL_VAR, DEFAULT_TARBALL)
    if not os.path.isfile(tarball):
        why = ("siproxd tarball not found at %s: set %s to siproxd-0.8.5dev-b892b8e.tar.gz "
               "(see ../shared/peers/README.md)" % (tarball, TARBALL_VAR))
        if _in_ci():
            pytest.fail("CI=true and no reference peer: " + why)
        pytest.skip(why)
    res = subprocess.run([os.path.join(HERE, "build_siproxd.sh"), tarball],
                         capture_output=True, text=True, timeout=900)
    if res.returncode != 0:
        pytest.fail("building siproxd from %s failed:\n%s" % (tarball, res.stderr[-4000:]))
    prefix = res.stdout.strip().splitlines()[-1]
    binary = harness.siproxd_paths(prefix)[0]
    assert os.access(binary, os.X_OK), "no siproxd binary at %s" % binary
    return prefix


class Compare:
    """Runs one scenario with both proxies and judges sipmasq against siproxd."""

    def __init__(self, request, prefix, tmp_path):
        self.request = request
        self.prefix = prefix
        self.tmp_path = tmp_path
        marker = request.node.get_closest_marker("defect")
        self.defect = marker.args[0] if marker else ""
        self.name = request.node.name
        if self.name.startswith("test_"):
            self.name = self.name[5:]

    def run_one(self, kind, scenario, layout, conf, kamailio):
        rig = harness.Rig(kind, self.tmp_path, self.prefix, layout=layout)
        try:
            if kamailio:
                rig.kamailio()
            started = True
            if conf is not None:
                started = rig.start_proxy(conf).started
            if started:
                scenario(rig)
        except Exception as e:   # a broken step is an outcome, with its reason
            rig.outcome.add("error", False, "%s: %s" % (type(e).__name__, str(e)[:300]))
        finally:
            rig.check_no_exit()
            logs = rig.logs()
            sanitizer = rig.sanitizer_report()
            rig.close()
        if sanitizer:
            rig.outcome.add("sanitizer", False, "report in %s" % ", ".join(sanitizer))
        return rig.outcome, logs

    def run(self, scenario, conf=None, layout="gw", kamailio=True, siproxd_fails=None,
            deliberate=None, sipmasq_must=None):
        """Run scenario(rig) with siproxd and with sipmasq (at the same time
        unless COMPAT_SERIAL=1), each in a fresh Rig with Kamailio started
        (unless kamailio is False) and, when conf (see harness.conf_text) is
        given, the proxy started from it (check 'start'; the scenario runs
        only when it started).

        siproxd_fails: {check: what siproxd was measured doing}: checks
          siproxd fails by design; any other siproxd failure (or one of these
          passing) means the oracle or the harness changed, and fails the test.
        deliberate: {check: why}: sipmasq may fail these where siproxd passes
          (docs/siproxd-migration.md explains each).
        sipmasq_must: {check: why}: sipmasq must pass these even where
          siproxd does not (issue 11 asks for more than siproxd does).
        Fails the test when sipmasq fails a check siproxd passes.
        """
        siproxd_fails = dict(SIPROXD_ALWAYS_FAILS, **(siproxd_fails or {}))
        deliberate = deliberate or {}
        out, logs = {}, {}
        # The two runs share nothing (own namespaces, processes, files) and
        # mostly wait on real-time calls: side by side they take half the
        # time. COMPAT_SERIAL=1 runs them one after the other.
        workers = 1 if os.environ.get("COMPAT_SERIAL") == "1" else len(harness.KINDS)
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {kind: pool.submit(self.run_one, kind, scenario, layout, conf, kamailio)
                       for kind in harness.KINDS}
            for kind, fut in futures.items():
                out[kind], logs[kind] = fut.result()
        ref, smq = out["siproxd"], out["sipmasq"]

        oracle = []
        for c in ref.checks.values():
            if not c.ok and c.name not in siproxd_fails:
                oracle.append("siproxd failed %s (%s)" % (c.name, c.detail))
            if c.ok and c.name in siproxd_fails and c.name not in SIPROXD_ALWAYS_FAILS:
                oracle.append("siproxd now passes %s (measured before: %s)"
                              % (c.name, siproxd_fails[c.name]))
        worse, differs, better = [], [], []
        for c in ref.checks.values():
            s = smq.checks.get(c.name)
            s_ok = s is not None and s.ok
            s_detail = s.detail if s is not None else "not reached"
            if c.ok and not s_ok:
                if c.name in deliberate:
                    differs.append("%s (deliberate: %s)" % (c.name, deliberate[c.name]))
                else:
                    worse.append("%s: siproxd ok (%s), sipmasq %s" % (c.name, c.detail, s_detail))
            elif not c.ok and s_ok:
                better.append(c.name)
        for s in smq.checks.values():   # checks only sipmasq reached, e.g. a crash
            if s.name not in ref.checks and not s.ok:
                worse.append("%s: %s" % (s.name, s.detail))
        for name, why in (sipmasq_must or {}).items():
            if not smq.ok(name) and not (name in ref.checks and ref.ok(name)):
                s = smq.checks.get(name)
                worse.append("%s: %s (required: %s)" % (
                    name, s.detail if s else "not reached", why))

        if worse:
            verdict = "sipmasq worse"
        elif oracle:
            verdict = "oracle changed"
        elif differs:
            verdict = "deliberate difference"
        elif better:
            verdict = "sipmasq better"
        else:
            verdict = "same"
        for kind in harness.KINDS:
            ROWS.append({"scenario": self.name, "defect": self.defect, "proxy": kind,
                         "outcome": out[kind].summary(), "verdict": verdict,
                         "checks": {c.name: [c.ok, c.detail] for c in out[kind].checks.values()},
                         "note": "; ".join(differs + better) if kind == "sipmasq" else ""})

        if worse or oracle:
            for kind in harness.KINDS:
                print("\n##### %s: %r\n%s" % (kind, list(out[kind].checks.values()), logs[kind]))
            print("\n=== files kept in %s ===" % self.tmp_path)
            pytest.fail("; ".join(oracle + ["sipmasq worse than siproxd: " + w for w in worse]),
                        pytrace=False)
        return out


@pytest.fixture
def compat(request, siproxd_prefix, tmp_path):
    if not os.access(root.binary(), os.X_OK):
        pytest.skip("sipmasq binary not found at %s: build it (make) or set SIPMASQ_BIN"
                    % root.binary())
    return Compare(request, siproxd_prefix, tmp_path)


# --- the table -------------------------------------------------------------

def table_markdown():
    """The session's table in Markdown, newest run first line says when."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["Latest compat run: %s (`pytest-3 tests/compat`)." % stamp, "",
             "| scenario | issue 11 | proxy | outcome | verdict |",
             "| --- | --- | --- | --- | --- |"]
    for r in ROWS:
        outcome = r["outcome"].replace("|", "\\|")
        verdict = r["verdict"] + (" (%s)" % r["note"] if r["note"] else "")
        lines.append("| %s | %s | %s | %s | %s |" % (
            r["scenario"], r["defect"], r["proxy"], outcome,
            verdict if r["proxy"] == "sipmasq" else ""))
    return "\n".join(lines) + "\n"


def _update_docs(table):
    with open(DOCS) as f:
        text = f.read()
    start, end = text.find(TABLE_BEGIN), text.find(TABLE_END)
    if start < 0 or end < start:
        return "no %s marker in %s" % (TABLE_BEGIN, DOCS)
    text = text[:start + len(TABLE_BEGIN)] + "\n" + table + text[end:]
    with open(DOCS, "w") as f:
        f.write(text)
    return "updated %s" % DOCS


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not ROWS:
        return
    table = table_markdown()
    path = os.environ.get("COMPAT_TABLE", "/tmp/sipmasq-compat-table.md")
    with open(path, "w") as f:
        f.write(table)
    with open(path + ".json", "w") as f:   # every check with what was seen
        json.dump(ROWS, f, indent=1)
    tr = terminalreporter
    tr.section("siproxd vs sipmasq (compat)")
    for line in table.splitlines():
        tr.write_line(line)
    tr.write_line("(written to %s)" % path)
    if os.environ.get("COMPAT_UPDATE_DOCS") == "1":
        tr.write_line(_update_docs(table))
