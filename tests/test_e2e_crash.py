"""Crash safety: sipmasq killed with SIGKILL again and again under load.

Two phones call two far ends (alice -> bob, carol -> dave, echoing RTP)
on the tc kernel engine while lib/register_load.py keeps refreshing ten
more registrations through sipmasq. The test kills the daemon with SIGKILL
KILLS times at random moments (fixed seed) and starts it again each time.
It checks that:

  - right after each kill the registration file is whole (the atomic
    temp + fsync + rename of daemon/base/statefile.c), and after each restart
    sipmasqctl lists every registration of before the first kill and the
    restarted daemon adopted both calls;
  - every REGISTER of the load got its 200 OK (retransmissions bridge the
    restarts; nothing is lost);
  - both calls kept their audio: the kernel forwarded it while no daemon
    ran, every far end got (nearly) all of it, and no far end saw a gap of
    1 s or more.
"""

import os
import random
import signal
import sys
import time


from lib import flows, kernel, netns, skips
from lib import sipmasq as smqlib
from lib.flows import ALICE, BOB, CAROL, DAVE, RELAY_PORTS

pytestmark = skips.kernel_engine_marker(smqlib.binary())

KILLS = 5
LOAD_USERS = 10
LOAD_BASE_PORT = 5100           # load user i registers 10.0.0.2:5100+i
AUDIO_PKTS = 667                # 20 s of audio
CALL_MS = 20600                 # BYE 0.6 s after the audio
CALLS = ((ALICE, BOB), (CAROL, DAVE))
REG_FIELDS = 6                  # token expires src aor contact user
LOAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "register_load.py")


def registrations(smq):
    return {(r["aor"], r["contact"], r["smqid"]) for r in smq.ctl("registrations")["registrations"]}


def file_bindings(path):
    """Lines of the registration file, each checked to be a whole record."""
    with open(path) as f:
        lines = [ln for ln in f.read().splitlines() if ln and not ln.startswith("#")]
    for ln in lines:
        assert len(ln.split()) == REG_FIELDS, "torn registration line: %r" % ln
    return lines


def rtp_times(cap, dst, dport):
    return [p.ts for p in cap.rtp_packets()
            if p.dst == dst and p.dport == dport
            and RELAY_PORTS[0] <= p.sport <= RELAY_PORTS[1]]


def state_has_calls(path, n):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return False
    return text.count("\ncall ") + text.startswith("call ") >= n and \
        text.count("stream ") >= n


def test_sigkill_under_load(topology, kamailio, sipp, sipmasq, counter, capture, procs,
                            tmp_path):
    rnd = random.Random(6)
    smq = sipmasq(rtp_engine="tc")
    assert smq.ctl("stats")["engine"] == "tc"
    reg_file = smq.config["registration_file"]
    state_file = reg_file + ".calls"
    for ua in (ALICE, CAROL):
        res = flows.register(sipp, topology, ua)
        assert res.ok, res.describe()
    # The load: first round registers everybody, then refreshes until the
    # kills are over.
    load = procs.start(topology.lan, [sys.executable, LOAD, ALICE.ip, str(LOAD_BASE_PORT),
                                      str(LOAD_USERS), flows.DOMAIN, flows.OUTBOUND_PROXY,
                                      "120"], os.path.join(str(tmp_path), "load.log"),
                       name="register_load")
    netns.wait_for(lambda: len(smq.ctl("registrations")["registrations"]) >= 2 + LOAD_USERS
                   or not load.alive(), 20, interval=0.2, what="the load's registrations")
    before = registrations(smq)
    assert len(before) == 2 + LOAD_USERS, before

    caps = {"wan": capture(topology.wan, "wan0", "far_ends"),
            "lan": capture(topology.lan, "lan0", "phones")}
    got = {ua.user: flows.relay_counter(counter, topology, ua) for c in CALLS for ua in c}
    sent = {ua.user: counter(topology.lan, None, src=ua.ip, sport=ua.media, chain="OUTPUT")
            for ua, _ in CALLS}
    kernel.write_audio_pcap(os.path.join(str(tmp_path), kernel.AUDIO_NAME), AUDIO_PKTS)
    pairs = []
    for caller, callee in CALLS:
        uas = sipp.start_server(topology.wan, "uas_echo_ring", callee.ip, callee.port,
                                media_port=callee.media, rtp_echo=True, duration_ms=100,
                                timeout=60)
        uac = flows.start_caller(sipp, topology, caller, flows.uri_of(callee),
                                 scenario="uac_call_pcap", duration_ms=CALL_MS, timeout=60)
        pairs.append((uac, uas))
    # Both calls latched, offloaded and saved before the first kill.
    netns.wait_for(lambda: len(kernel.dump_streams(smq.config["bpf_pin_dir"]) or []) >= 4,
                   10, interval=0.2, what="kernel entries of both calls")
    netns.wait_for(lambda: state_has_calls(state_file, len(CALLS)), 5, interval=0.2,
                   what="both calls in the call state file")
    time.sleep(0.5)   # latches reach the file within 200 ms (CALL_STATE_COALESCE_MS)

    for k in range(KILLS):
        time.sleep(rnd.uniform(0.3, 1.2))
        smq.stop(sig=signal.SIGKILL)
        assert len(file_bindings(reg_file)) >= 2 + LOAD_USERS, "kill %d" % k
        time.sleep(rnd.uniform(0.1, 0.6))
        mark = len(smq.log())
        smq.start()
        log = smq.log()[mark:]
        assert "%d call(s) adopted" % len(CALLS) in log, "kill %d:\n%s" % (k, log[-4000:])
        assert "unreadable" not in log, log[-4000:]
        missing = before - registrations(smq)
        assert not missing, "kill %d lost registrations: %s" % (k, missing)

    for uac, uas in pairs:
        flows.finished_ok(uac, uas)
    load.send_signal(signal.SIGTERM)
    load.wait(timeout=30)
    out = load.output()
    assert '"failed": []' in out, "REGISTERs failed across the restarts: %s" % out[-3000:]
    assert not before - registrations(smq)

    for caller, callee in CALLS:
        n = sent[caller.user].packets()
        assert n == AUDIO_PKTS, (caller.user, n)
        for ua, side in ((callee, "wan"), (caller, "lan")):
            # Echoed audio: at most a few packets lost per takeover.
            assert got[ua.user].packets() >= n - 2 * KILLS, (ua.user, got[ua.user].packets(), n)
            times = rtp_times(caps[side], ua.ip, ua.media)
            gap = kernel.max_gap(times)
            assert gap < 1.0, "%s: %.2fs without audio; per 0.5 s: %s" % (
                ua.user, gap, kernel.gap_report(times, min(times)))
