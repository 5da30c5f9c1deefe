"""A full call under valgrind: no memory errors, nothing definitely lost.

sipmasq (rtp_engine = userspace, so that every packet goes through the
daemon's own code) runs under valgrind --leak-check=full; alice registers,
calls bob with audio both ways and hangs up; then SIGTERM. The daemon must
exit 0 (valgrind's --error-exitcode=99 turns any memory error or definite
leak into 99) and valgrind's summary must show nothing definitely lost.
Skipped when valgrind is not installed (scripts/setup.sh installs it) and
for a sanitizer build.
"""

import os
import shutil
import signal
import stat

import pytest

from lib import flows, sipmasq as smqlib, skips
from lib.flows import ALICE, BOB

VALGRIND = shutil.which("valgrind")
pytestmark = pytest.mark.skipif(not VALGRIND, reason="valgrind not installed")


def sanitized(path):
    """True for a build with AddressSanitizer (./configure
    --enable-sanitizers), which cannot run under valgrind: the ASan pass of
    scripts/run-tests.sh checks leaks with LeakSanitizer instead."""
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def valgrind_wrapper(tmp_path):
    """A directory holding 'sipmasq' (valgrind running the real binary,
    its report in valgrind.log there) and 'sipmasqctl' (the real one), for
    SIPMASQ_BIN. Returns (wrapper path, report path)."""
    real = smqlib.binary()
    d = os.path.join(str(tmp_path), "vg")
    os.makedirs(d, exist_ok=True)
    report = os.path.join(d, "valgrind.log")
    wrapper = os.path.join(d, "sipmasq")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec %s --leak-check=full --errors-for-leak-kinds=definite "
                "--error-exitcode=99 --log-file=%s %s \"$@\"\n" % (VALGRIND, report, real))
    os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
    os.symlink(os.path.join(os.path.dirname(real), "sipmasqctl"),
               os.path.join(d, "sipmasqctl"))
    return wrapper, report


def test_call_under_valgrind(topology, kamailio, sipp, sipmasq, counter, tmp_path,
                             monkeypatch):
    if sanitized(smqlib.binary()):
        pytest.skip(skips.CANNOT_RUN + "a sanitizer build does not run under valgrind "
                    "(LeakSanitizer checks this pass)")
    wrapper, report = valgrind_wrapper(tmp_path)
    monkeypatch.setenv("SIPMASQ_BIN", wrapper)
    smq = sipmasq(rtp_engine="userspace")
    res = flows.register(sipp, topology, ALICE, timeout=20)
    assert res.ok, res.describe()
    at_bob = flows.relay_counter(counter, topology, BOB)
    at_alice = flows.relay_counter(counter, topology, ALICE)
    # No sipp retransmissions: valgrind makes sipmasq slow enough (the
    # first INVITE can take more than T1) that sipmasq, a stateless proxy,
    # forwards a retransmitted INVITE, which the sipp callee takes for an
    # unexpected message while it waits for the ACK.
    uas = sipp.start_server(topology.wan, "uas_echo", BOB.ip, BOB.port,
                            media_port=BOB.media, rtp_echo=True, timeout=30, extra=("-nr",))
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), timeout=30,
                             extra=("-nr",))
    uac_res, _ = flows.finished_ok(uac, uas)
    assert smq.call_end(flows.first_sent(uac_res, "INVITE").call_id)["reason"] == "bye"
    flows.assert_relayed(at_alice, at_bob)
    assert smq.ctl("stats")["calls"] == 0

    rc = smq.stop(sig=signal.SIGTERM, timeout=60)
    with open(report) as f:
        text = f.read()
    assert rc == 0, "exit status %s under valgrind:\n%s" % (rc, text[-6000:])
    assert "ERROR SUMMARY: 0 errors" in text, text[-6000:]
    assert ("definitely lost: 0 bytes" in text
            or "no leaks are possible" in text), text[-6000:]
