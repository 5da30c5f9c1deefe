"""A siproxd.conf that siproxd loads must load and work: lines that
sipmasq once refused with exit status 2 (issue 11, 2.5) and siproxd's
defaults and small semantics (2.6), each checked end to end.

Measured on siproxd 0.8.5dev in the same topology: it starts with
`rtp_timeout = 0`, `registration_file =`, `hosts_allow_reg = NAME/32`
(NAME resolved at each check, a name that does not resolve matching
nothing), and without default_expires a REGISTER without expiry reaches
Kamailio with 3600 s."""

import os
import signal

from lib import flows, netns
from lib.flows import ALICE, BOB, CAROL
from lib.syslog import SyslogSink

# The gateway's own hosts file: the phone's name, no DNS server at all
# (nothing listens on 127.0.0.1:53 in the namespace).
HOSTS = "127.0.0.1 localhost\n10.0.0.2 alice-phone.lan.test\n"
RESOLV = "nameserver 127.0.0.1\n"


def test_siproxd_lines_load_and_work(topology, kamailio, sipp, sipmasq):
    smq = sipmasq(etc_files={"hosts": HOSTS, "resolv.conf": RESOLV},
                  rtp_timeout=0,
                  registration_file="",
                  hosts_allow_reg="alice-phone.lan.test/32, nowhere.invalid/32",
                  default_expires=None,          # siproxd's default: 3600
                  log_calls=None,
                  load_plugin="plugin_logcall.la")
    log = smq.log()
    assert "ERROR" not in log, log[-3000:]
    assert "access list: alice-phone.lan.test is 10.0.0.2" in log, log[-3000:]
    assert "host name 'nowhere.invalid' not resolved yet" in log, log[-3000:]

    # alice's address is named in hosts_allow_reg: she may register, and a
    # REGISTER without expiry gets siproxd's default_expires, 3600.
    res = sipp.run(topology.lan, "register_noexpires", ALICE.ip, ALICE.port, flows.REGISTRAR,
                   rsa=flows.OUTBOUND_PROXY,
                   keys={"user": ALICE.user, "domain": flows.DOMAIN})
    assert res.ok, res.describe()
    sent = [c for aor, cs in kamailio.location().items() if aor.startswith("alice")
            for c in cs]
    assert sent and all(3500 < c["expires"] <= 3600 for c in sent), sent
    # carol's is not: refused, never registered.
    res = flows.register(sipp, topology, CAROL, timeout=5)
    assert not res.ok, res.describe()
    assert kamailio.active_contacts("carol") == [], kamailio.location()

    # load_plugin = plugin_logcall.la: call start and end are logged.
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=1000)
    uac_res, _ = flows.finished_ok(uac, uas)
    cid = flows.first_sent(uac_res, "INVITE").call_id
    assert smq.call_end(cid)["reason"] == "bye"

    # registration_file = (empty): nothing saved.
    assert not [f for f in os.listdir(smq.dir) if f.startswith("registrations")], \
        os.listdir(smq.dir)


def test_sigusr1_does_not_kill(topology, kamailio, sipp, sipmasq):
    """SIGUSR1, whose default action kills, is ignored (logged)."""
    smq = sipmasq()
    smq.proc.send_signal(signal.SIGUSR1)
    netns.wait_for(lambda: "SIGUSR1 received" in smq.log() or not smq.alive(), 5,
                   what="SIGUSR1 logged")
    assert smq.alive()
    assert flows.register(sipp, topology, ALICE).ok


def test_foreground_logs_to_syslog_too(topology, sipmasq, tmp_path):
    """siproxd logs to syslog also while in the foreground, filtered by
    silence_log (1: everything but DEBUG; 4: nothing)."""
    sink = SyslogSink(tmp_path)
    try:
        smq = sipmasq(syslog_dir=sink.dir, silence_log=1)
        netns.wait_for(lambda: "ready: SIP on UDP port 5060" in sink.text(), 5,
                       what="the 'ready' line on syslog")
        assert "ready: SIP on UDP port 5060" in smq.log()   # stderr as well
        assert "<29>" in sink.text() or "<30>" in sink.text(), sink.lines[:5]  # LOG_DAEMON
        assert not [l for l in sink.lines if l.startswith("<31>")], \
            [l for l in sink.lines if l.startswith("<31>")][:3]   # no DEBUG at 1
        smq.stop()

        sink.lines.clear()
        sipmasq(syslog_dir=sink.dir, silence_log=4)    # nothing to syslog
        assert sink.lines == [], sink.lines[:3]
    finally:
        sink.close()


def _saved_aors(smq):
    try:
        with open(smq.config["registration_file"]) as f:
            return sorted(l.split()[3] for l in f if l.strip() and not l.startswith("#"))
    except FileNotFoundError:
        return []


def test_autosave_coalesces_writes_and_flushes_on_exit(topology, kamailio, sipp, sipmasq):
    """autosave_registrations = N: at most one write per N s (the first
    change after a quiet period at once), the rest when the period ends or
    at exit."""
    smq = sipmasq(autosave_registrations=4)
    assert flows.register(sipp, topology, ALICE).ok
    assert _saved_aors(smq) == ["sip:alice@198.51.100.2"]      # written at once
    assert flows.register(sipp, topology, CAROL).ok
    assert _saved_aors(smq) == ["sip:alice@198.51.100.2"]      # held back
    netns.wait_for(lambda: len(_saved_aors(smq)) == 2, 8, what="the period's write")

    smq.stop()
    smq.config["autosave_registrations"] = "300"
    smq.start()
    # The file read back holds both; a change within the period of the
    # previous one waits for the exit.
    assert flows.register(sipp, topology, ALICE, expires=0).ok
    assert flows.register(sipp, topology, CAROL, expires=0).ok
    assert len(_saved_aors(smq)) == 1, _saved_aors(smq)        # first change only
    smq.stop()
    assert _saved_aors(smq) == [], _saved_aors(smq)             # flushed on exit
