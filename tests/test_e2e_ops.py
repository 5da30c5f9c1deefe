"""Running sipmasq as a service: the pid_file lock (one live sipmasq per
pid file), the privilege drop of `user` (uid, groups and capabilities of
the running process, a call still relayed by the kernel), the smq-streams
table of the pinned stream map, and the systemd unit."""

import json
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from lib import flows, kernel, netns
from lib.flows import ALICE, BOB
from lib.sipmasq import binary


def _start_second(smq, timeout=10):
    """Run a second sipmasq on smq's configuration; return its result."""
    return subprocess.run(netns.ns_argv(smq.ns, [binary(), "--foreground", "-c", smq.conf_path]),
                          capture_output=True, text=True, timeout=timeout)


def test_pid_file_refuses_a_second_sipmasq(sipmasq, tmp_path):
    pid_file = str(tmp_path / "sipmasq.pid")
    # A pid file left by a crashed sipmasq (nobody holds its lock): taken over.
    with open(pid_file, "w") as f:
        f.write("999999\n")
    smq = sipmasq(pid_file=pid_file)
    pid = smq.proc.popen.pid
    with open(pid_file) as f:
        assert f.read() == "%d\n" % pid

    second = _start_second(smq)
    assert second.returncode == 1, (second.returncode, second.stderr)
    assert ("pid_file %s is locked by a running sipmasq (pid %d)" % (pid_file, pid)) \
        in second.stderr, second.stderr
    assert smq.alive(), "the first sipmasq must keep running"
    with open(pid_file) as f:
        assert f.read() == "%d\n" % pid, "the refused start must not touch the file"

    assert smq.stop() == 0
    assert not os.path.exists(pid_file), "a clean stop removes the pid file"


def _status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


CAP_NET_ADMIN, CAP_BPF = 12, 39


def test_user_drops_root_and_keeps_only_the_engine_caps(topology, kamailio, sipp, sipmasq):
    """user = nobody: after start-up the process is nobody (real, effective,
    saved and filesystem ids; no other group), holds only CAP_NET_ADMIN and
    CAP_BPF (bounding set too), and the kernel engine still forwards a call
    through the descriptors it opened as root; a clean stop still detaches
    and unpins."""
    nobody = pwd.getpwnam("nobody")
    state = tempfile.mkdtemp(prefix="smq-state-", dir="/tmp")   # nobody's state dir
    try:
        os.chown(state, nobody.pw_uid, nobody.pw_gid)
        smq = sipmasq(user="nobody", rtp_engine="tc",
                      registration_file=os.path.join(state, "registrations"))
        st = _status(smq.proc.popen.pid)
        uid, gid = str(nobody.pw_uid), str(nobody.pw_gid)
        assert st["Uid"].split() == [uid] * 4, st["Uid"]
        assert st["Gid"].split() == [gid] * 4, st["Gid"]
        assert st["Groups"].split() == [gid], st["Groups"]
        want = (1 << CAP_NET_ADMIN) | (1 << CAP_BPF)
        for k in ("CapPrm", "CapEff", "CapBnd"):
            assert int(st[k], 16) == want, (k, st[k])
        assert int(st["CapInh"], 16) == 0 and int(st["CapAmb"], 16) == 0, st
        assert st["NoNewPrivs"] == "1", st["NoNewPrivs"]
        assert "running as nobody (uid %s, gid %s), capabilities: " \
            "cap_net_admin,cap_bpf=ep" % (uid, gid) in smq.log(), smq.log()[-3000:]
        # The control socket changed hands with the rest.
        sock = os.stat(smq.config["control_socket"])
        assert (sock.st_uid, sock.st_gid) == (nobody.pw_uid, nobody.pw_gid)

        # A call: registered (the file is written as nobody), latched and
        # forwarded by the tc program through the maps opened as root.
        assert flows.register(sipp, topology, ALICE).ok
        netns.wait_for(lambda: os.path.exists(os.path.join(state, "registrations")), 3,
                       what="the registration file written as nobody")
        assert os.stat(os.path.join(state, "registrations")).st_uid == nobody.pw_uid
        uas = flows.start_callee(sipp, topology, BOB)
        uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=3000)
        uac_res, uas_res = uac.result(), uas.result()
        assert uac_res.ok and uas_res.ok, uac_res.describe() + uas_res.describe()
        end = smq.call_end(flows.first_sent(uac_res, "INVITE").call_id)
        assert end["engine"] == "tc", end
        assert end["p2p_kernel"] > 50 and end["p2r_kernel"] > 50, end

        pin_dir = smq.config["bpf_pin_dir"]
        assert smq.stop() == 0
        assert "ERROR" not in smq.log(), smq.log()[-3000:]
        # Unpinned (the emptied directory itself may stay: its parent is root's).
        assert not os.path.isdir(pin_dir) or os.listdir(pin_dir) == [], os.listdir(pin_dir)
        for ifname in ("gwlan", "gwwan"):
            assert kernel.attachments(topology.gw, ifname) == {"xdp": None, "tc": []}, ifname
    finally:
        shutil.rmtree(state, ignore_errors=True)


def test_sd_notify_ready_and_stopping(tmp_path, topology):
    """Type=notify: READY=1 once serving, STOPPING=1 when the stop begins,
    on the socket systemd names in NOTIFY_SOCKET."""
    import signal
    import socket
    from lib.sipmasq import Sipmasq
    ldd = subprocess.run(["ldd", binary()], capture_output=True, text=True).stdout
    if "libsystemd" not in ldd:
        pytest.skip("sipmasq built without libsystemd (configure --with-systemd=no)")
    smq = Sipmasq(None, topology.gw, tmp_path)
    smq.write_config()
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    with open(smq.log_path, "w") as log:
        proc = subprocess.Popen(netns.ns_argv(smq.ns, [binary(), "--foreground", "-c",
                                                       smq.conf_path]),
                                stdout=log, stderr=log, env=env)
    try:
        ready = sock.recv(4096).decode()
        assert "READY=1" in ready.split("\n"), ready
        assert "STATUS=serving; media in the kernel engine" in ready, ready
        assert "ready" in smq.log(), "READY=1 must come after the 'ready' line"
        proc.send_signal(signal.SIGTERM)
        stopping = sock.recv(4096).decode()
        assert stopping == "STOPPING=1", stopping
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
        smq.remove_pins()


def _unit_for_here(tmp_path):
    """etc/sipmasq.service.in with this build's paths, and the man pages of
    its Documentation= where `man` finds them."""
    with open(os.path.join(netns.REPO, "etc", "sipmasq.service.in")) as f:
        text = f.read()
    text = text.replace("@sbindir@", os.path.dirname(binary())) \
               .replace("@sysconfdir@", str(tmp_path))
    unit = tmp_path / "sipmasq.service"
    unit.write_text(text)
    for sec, page in (("8", "sipmasq.8"), ("5", "sipmasq.conf.5"), ("8", "sipmasqctl.8")):
        os.makedirs(tmp_path / "man" / ("man" + sec), exist_ok=True)
        shutil.copy(os.path.join(netns.REPO, "docs", page), tmp_path / "man" / ("man" + sec))
    return unit, dict(os.environ, MANPATH=str(tmp_path / "man"))


def test_systemd_unit_verifies(tmp_path):
    assert shutil.which("systemd-analyze"), "systemd-analyze missing (Debian: systemd)"
    unit, env = _unit_for_here(tmp_path)
    res = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                         text=True, timeout=60, env=env)
    assert res.returncode == 0 and not res.stderr.strip(), (res.returncode, res.stderr)
    text = unit.read_text()
    caps = "CAP_NET_BIND_SERVICE CAP_NET_ADMIN CAP_BPF CAP_PERFMON"
    assert "\nAmbientCapabilities=%s\n" % caps in text
    assert "\nCapabilityBoundingSet=%s\n" % caps in text
    assert "\nType=notify\n" in text and "\nUser=sipmasq\n" in text
    # The score docs/operations.md quotes.
    sec = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                         capture_output=True, text=True, timeout=60, env=env)
    assert "Overall exposure level for sipmasq.service: 1.9" in sec.stdout, sec.stdout[-500:]


SMQ_STREAMS = os.path.join(netns.REPO, "scripts", "smq-streams")


def test_smq_streams_renders_a_live_kernel_call(topology, kamailio, sipp, sipmasq, tmp_path):
    """scripts/smq-streams: the pinned smq_streams map of a tc-engine call
    as a table whose rows match sipmasqctl's streams, with and without the
    BTF names in bpftool's dump."""
    smq = sipmasq(rtp_engine="tc")
    pin_dir = smq.config["bpf_pin_dir"]
    assert flows.register(sipp, topology, ALICE).ok
    flows.start_callee(sipp, topology, BOB)
    flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=8000)
    ctl = {}

    def offloaded():
        ctl["rows"] = {r["direction"]: r for r in smq.ctl("streams")["streams"]}
        return (len(ctl["rows"]) == 2 and all(r["in_kernel"] and r["kernel_packets"] > 10
                                               for r in ctl["rows"].values()))
    netns.wait_for(offloaded, 6, interval=0.2, what="both directions in the kernel")
    # In the gateway's namespace, as on a gateway: egress ifindex -> name.
    out = subprocess.run(netns.ns_argv(smq.ns, [SMQ_STREAMS, pin_dir]), capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["FROM", "RELAY-IN", "RELAY-OUT", "TO", "KIND", "EGRESS",
                                "PACKETS", "BYTES", "IDLE", "COOKIE"], lines
    rows = {(r[0], r[1]): r for r in (ln.split() for ln in lines[1:])}
    for d in ctl["rows"].values():
        row = rows.get((d["source"], d["relay_in"]))
        assert row, (d, out.stdout)
        egress = "gwwan" if d["direction"] == "private->public" else "gwlan"
        assert row[2:6] == [d["relay_out"], d["destination"], "RTP", egress], (row, d)
        assert int(row[6]) > 10 and int(row[7]) >= 160 * int(row[6]), row
        # Idle since the kernel's last packet: what sipmasqctl said a moment
        # before, give or take the time between the two reads.
        assert row[8].endswith("s") and \
            float(row[8][:-1]) <= d["idle_ms"] / 1000 + 2, (row, d)
        priv = int(ctl["rows"]["private->public"]["relay_in"].rsplit(":", 1)[1])
        pub = int(ctl["rows"]["public->private"]["relay_in"].rsplit(":", 1)[1])
        assert row[9] == "%d/%d" % (priv, pub), row
    # The same dump without BTF names: decoded from the raw bytes alike.
    dump = json.loads(subprocess.run(["bpftool", "-j", "map", "dump", "pinned",
                                      os.path.join(pin_dir, "smq_streams")],
                                     capture_output=True, text=True, check=True).stdout)
    assert all("formatted" in e for e in dump)
    raw = tmp_path / "raw.json"
    raw.write_text(json.dumps([{"key": e["key"], "value": e["value"]} for e in dump]))
    with_btf = tmp_path / "btf.json"
    with_btf.write_text(json.dumps(dump))

    def table(path):
        res = subprocess.run([SMQ_STREAMS, "-f", str(path)], capture_output=True, text=True,
                             check=True)
        return [ln.split()[:8] + ln.split()[9:] for ln in res.stdout.splitlines()]   # no IDLE
    assert table(raw) == table(with_btf) and len(table(raw)) == 1 + len(dump)


def test_unknown_user_is_a_config_error(tmp_path, topology):
    from lib.sipmasq import Sipmasq
    smq = Sipmasq(None, topology.gw, tmp_path, {"user": "no-such-user-smq"})
    smq.write_config()
    res = _start_second(smq)
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "%s: user no-such-user-smq: no such user" % smq.conf_path in res.stderr, res.stderr


def test_user_handover_keeps_the_call(topology, kamailio, sipp, sipmasq):
    """An upgrade of a sipmasq that dropped root: SIGUSR2 as nobody saves
    the call and leaves the fast path attached; the next sipmasq (root at
    start) adopts the pins nobody owns now, drops root again, and the call
    ends normally with the kernel's counts."""
    import signal
    nobody = pwd.getpwnam("nobody")
    state = tempfile.mkdtemp(prefix="smq-state-", dir="/tmp")
    try:
        os.chown(state, nobody.pw_uid, nobody.pw_gid)
        smq = sipmasq(user="nobody", rtp_engine="tc",
                      registration_file=os.path.join(state, "registrations"))
        assert flows.register(sipp, topology, ALICE).ok
        uas = flows.start_callee(sipp, topology, BOB)
        uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=6000)
        netns.wait_for(lambda: [r["in_kernel"] for r in smq.ctl("streams")["streams"]]
                       == [True, True], 6, interval=0.2, what="the call in the kernel")
        mark = len(smq.log())
        assert smq.stop(sig=signal.SIGUSR2) == 0
        log = smq.log()[mark:]
        assert "left attached for the next sipmasq" in log and "ERROR" not in log, log
        assert os.stat(os.path.join(state, "registrations.calls")).st_uid == nobody.pw_uid

        mark = len(smq.log())
        smq.start()
        log = smq.log()[mark:]
        assert "1 call(s) adopted" in log and "running as nobody" in log, log[-3000:]
        uac_res, uas_res = uac.result(), uas.result()
        assert uac_res.ok and uas_res.ok, uac_res.describe() + uas_res.describe()
        end = smq.call_end(flows.first_sent(uac_res, "INVITE").call_id)
        assert end["reason"] == "bye" and end["engine"] == "tc", end
        assert end["p2p_kernel"] > 100 and end["p2r_kernel"] > 100, end
        assert "WARNING" not in smq.log()[mark:] and "ERROR" not in smq.log()[mark:], \
            smq.log()[mark:][-3000:]
    finally:
        shutil.rmtree(state, ignore_errors=True)


UNIT_CAPS = "+net_bind_service,+net_admin,+bpf,+perfmon"


def test_unit_capabilities_suffice_for_the_kernel_engine(topology, kamailio, sipp, procs,
                                                         tmp_path):
    """What sipmasq.service does: start as an unprivileged user with only
    CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_BPF and CAP_PERFMON (ambient
    and bounding) and a pin directory made the user's beforehand (its
    ExecStartPre). SIP on 5060, the programs pass the verifier without
    CAP_SYS_ADMIN, and a call is forwarded in the kernel."""
    from lib.sipmasq import Sipmasq
    nobody = pwd.getpwnam("nobody")
    state = tempfile.mkdtemp(prefix="smq-unit-", dir="/tmp")
    # Configuration and log where nobody can read them (not in tmp_path).
    smq = Sipmasq(procs, topology.gw, state, {
        "rtp_engine": "tc", "registration_file": os.path.join(state, "registrations"),
        "control_socket": os.path.join(state, "sipmasq.sock")})
    pin_dir = smq.config["bpf_pin_dir"]
    try:
        os.chown(state, nobody.pw_uid, nobody.pw_gid)
        os.mkdir(pin_dir, 0o700)
        os.chown(pin_dir, nobody.pw_uid, nobody.pw_gid)
        smq.write_config()
        argv = ["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid,
                "--clear-groups", "--inh-caps=" + UNIT_CAPS, "--ambient-caps=" + UNIT_CAPS,
                "--bounding-set=-all," + UNIT_CAPS, "--no-new-privs",
                binary(), "--foreground", "-c", smq.conf_path]
        proc = procs.start(topology.gw, argv, smq.log_path, name="sipmasq")
        netns.wait_for(lambda: "ready" in smq.log() or not proc.alive(), 10,
                       what="sipmasq ready")
        assert proc.alive(), smq.log()[-3000:]
        log = smq.log()
        assert "fast path attached to gwlan (tc)" in log, log[-3000:]
        assert "fast path attached to gwwan (tc)" in log, log[-3000:]
        st = _status(proc.popen.pid)
        assert st["Uid"].split()[0] == str(nobody.pw_uid), st["Uid"]

        assert flows.register(sipp, topology, ALICE).ok
        uas = flows.start_callee(sipp, topology, BOB)
        uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=3000)
        uac_res, uas_res = uac.result(), uas.result()
        assert uac_res.ok and uas_res.ok, uac_res.describe() + uas_res.describe()
        smq.proc = proc
        end = smq.call_end(flows.first_sent(uac_res, "INVITE").call_id)
        assert end["engine"] == "tc" and end["p2p_kernel"] > 50 and end["p2r_kernel"] > 50, end
        assert proc.stop() == 0
        assert "kernel engine: stopped, fast path detached and unpinned" in smq.log()
        for ifname in ("gwlan", "gwwan"):
            assert kernel.attachments(topology.gw, ifname) == {"xdp": None, "tc": []}, ifname
    finally:
        smq.remove_pins()
        shutil.rmtree(state, ignore_errors=True)
