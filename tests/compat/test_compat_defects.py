"""The situations of issue 11 section 2, tried as a siproxd user would, each
run with siproxd and with sipmasq from the same siproxd.conf. Each test is
marked with the item it shows (defect("11.N")); it fails until sipmasq's
fix for that item lands."""

import os
import subprocess
import signal
import time

import pytest

from compat import harness, steps
from lib import netns
from lib.flows import ALICE, BOB, CAROL

PROVIDER = "sip.provider.test"       # the registrar's name, in /etc/hosts only
HOSTS = ("127.0.0.1 localhost\n"
         "198.51.100.2 %s\n"
         "10.0.0.2 alice.lan.test\n" % PROVIDER)
NO_DNS = "nameserver 127.0.0.1\n"   # nothing listens there: no DNS at all


# --- 11.1: a request for a registered phone goes to its Contact --------------

def contact_port(rig):
    """The phone's REGISTER leaves from 10.0.0.2:5062, its Contact says
    :5060, where it listens: an incoming call must ring there."""
    run = steps.start_register(rig, ALICE, scenario="register_contact_port", port=5062,
                               keys={"contact_port": ALICE.port})
    if steps.check_registered(rig, {ALICE: run}):
        steps.call_in(rig, ua=ALICE).check()


@pytest.mark.defect("11.1")
def test_contact_port_differs_from_source_port(compat):
    compat.run(contact_port, conf=harness.base_conf())


# --- 11.2: the registrar's name in /etc/hosts, no DNS server -----------------

def hosts_file(rig):
    """The provider is known by a name that only the gateway's /etc/hosts
    has (ip netns's /etc/netns/NS/hosts), and no DNS server answers."""
    d = rig.etc_netns({"hosts": HOSTS, "resolv.conf": NO_DNS})
    if not rig.start_proxy(harness.base_conf(), etc_netns=d).started:
        return
    if steps.register(rig, domain=PROVIDER):
        for ua in (ALICE, CAROL):
            steps.wait_free(rig, ua)
        calls = [steps.call_out(rig, to="sip:bob@%s:%d" % (PROVIDER, BOB.port)),
                 steps.call_in(rig)]
        for c in calls:
            c.check()


@pytest.mark.defect("11.2")
def test_registrar_name_in_hosts_file(compat):
    compat.run(hosts_file)


def srv_refused(rig):
    """The gateway's DNS server (dnsmasq --address, in the wan namespace)
    answers A for the provider's name but REFUSED for SRV, as many servers
    do: the lookup must fall back to A (siproxd never asks for SRV)."""
    dns = rig.procs.start(rig.topo.wan, [
        "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--port=53", "--listen-address=198.51.100.2", "--bind-interfaces", "--pid-file",
        "--user=root", "--group=root", "--log-queries", "--log-facility=-",
        "--address=/%s/198.51.100.2" % PROVIDER], os.path.join(rig.dir, "dnsmasq.log"),
        name="dnsmasq")
    netns.wait_for(lambda: not dns.alive() or netns.udp_bound(rig.topo.wan, "198.51.100.2", 53),
                   5, what="dnsmasq to listen")
    d = rig.etc_netns({"hosts": "127.0.0.1 localhost\n",
                       "resolv.conf": "nameserver 198.51.100.2\n"})
    if rig.start_proxy(harness.base_conf(), etc_netns=d).started:
        if steps.register(rig, uas=(CAROL,), domain=PROVIDER):
            steps.wait_free(rig, CAROL)
            steps.call_in(rig).check()


@pytest.mark.defect("11.2")
def test_srv_refused_falls_back_to_a(compat):
    compat.run(srv_refused)


# --- 11.3: Digest with an MD5-only client -----------------------------------

def auth_conf():
    conf = harness.base_conf()
    conf.update({"proxy_auth_realm": "gateway.test", "proxy_auth_pwfile": "@RUN@/passwd"})
    return conf


def write_passwd(rig):
    with open(os.path.join(rig.dir, "passwd"), "w") as f:
        f.write("alice secret\ncarol secret\n")


def registrar_digest(rig):
    """Registrar mode: sipp (MD5 only) registers at the proxy's own address
    with Digest credentials from proxy_auth_pwfile; a call from outside
    to the phone's address at the gateway reaches it."""
    write_passwd(rig)
    if not rig.start_proxy(auth_conf()).started:
        return
    res = rig.sipp.run(rig.topo.lan, "register_auth", ALICE.ip, ALICE.port, rig.proxy_hostport,
                       keys={"user": ALICE.user, "domain": rig.proxy_ip, "expires": 600},
                       extra=["-au", "alice", "-ap", "secret"], timeout=5)
    challenges = [m.get("proxy-authenticate", "") for m in res.received() if m.code == 407]
    if rig.outcome.add("register", res.ok, "sipp rc=%s, answers %s, first challenge %s" % (
            res.rc, [m.code for m in res.received() if m.code],
            challenges[0][:60] if challenges else "none")):
        steps.wait_free(rig, ALICE)
        steps.call_in(rig, ua=ALICE, to="sip:alice@%s:5060" % rig.public_ip,
                      remote="%s:5060" % rig.public_ip).check()


@pytest.mark.defect("11.3")
def test_registrar_digest_md5_client(compat):
    compat.run(registrar_digest)


def auth_forwarded(rig):
    """proxy_auth_* set, and a phone that registers at the provider through
    the proxy without credentials: siproxd challenges only the REGISTERs it
    is the registrar for."""
    write_passwd(rig)
    if rig.start_proxy(auth_conf()).started and steps.register(rig, uas=(CAROL,)):
        steps.wait_free(rig, CAROL)
        steps.call_in(rig).check()


@pytest.mark.defect("11.3")
def test_proxy_auth_not_on_forwarded_register(compat):
    compat.run(auth_forwarded)


# --- 11.4: a registration file written by siproxd --------------------------

def handover_registrations(rig, writer, reader):
    """Proxy `writer` registers a phone and saves its registration_file on
    exit; proxy `reader` starts from the same siproxd.conf and an incoming
    call reaches the phone, which did not register again."""
    conf = harness.base_conf()
    old = rig.start_proxy(conf, kind=writer, name="before", check="writer_start")
    if not old.started or not steps.register(rig, uas=(CAROL,)):
        return
    old.stop()
    if writer == "sipmasq" and reader == "siproxd":
        # The rollback step of docs/siproxd-migration.md: sipmasq keeps its
        # own format and rewrites the file in siproxd's on demand.
        exp = subprocess.run(netns.ns_argv(rig.proxy_ns, [harness.sipmasq_binary(), "-c",
                                                    old.conf_path,
                                                    "--export-registrations=siproxd"]),
                             cwd=rig.dir, capture_output=True, text=True, timeout=20)
        if not rig.outcome.add("export", exp.returncode == 0, exp.stderr[-300:]):
            return
    path = os.path.join(rig.dir, "siproxd_registrations")
    saved = open(path).read() if os.path.exists(path) else ""
    if not rig.outcome.add("file_written", "carol" in saved, "%d bytes" % len(saved)):
        return
    if rig.start_proxy(conf, kind=reader, name="after").started:
        steps.wait_free(rig, CAROL)
        steps.call_in(rig).check()


@pytest.mark.defect("11.4")
def test_registration_file_from_siproxd(compat):
    """Upgrade: siproxd's file, loaded by this run's proxy."""
    compat.run(lambda rig: handover_registrations(rig, "siproxd", rig.kind))


@pytest.mark.defect("11.4")
def test_registration_file_back_to_siproxd(compat):
    """Rollback: this run's proxy's file, loaded by siproxd."""
    compat.run(lambda rig: handover_registrations(rig, rig.kind, "siproxd"))


def contact_params_dropped(rig):
    """A provider that drops the Contact's parameters: the INVITE for a
    registered phone arrives as sip:carol@PUBLIC:5060, the masqueraded
    Contact without anything added to it (sent here by the far end
    straight to the proxy's public address). siproxd finds the phone by
    the Request-URI's user."""
    if steps.register(rig, uas=(CAROL,)):
        steps.wait_free(rig, CAROL)
        steps.call_in(rig, to="sip:carol@%s:5060" % rig.public_ip,
                      remote="%s:5060" % rig.public_ip).check()


@pytest.mark.defect("11.4")
def test_incoming_without_contact_parameters(compat):
    compat.run(contact_params_dropped, conf=harness.base_conf())


# --- 11.5: configuration lines siproxd loads -------------------------------

CONF_LINES = {
    "rtp_timeout_0": ({"rtp_timeout": "0"}, ()),
    "registration_file_empty": ({"registration_file": None}, ("registration_file =",)),
    "acl_name_slash32": ({"hosts_allow_reg": "alice.lan.test/32,10.0.0.3/32"}, ()),
    "acl_name_unresolvable": ({"hosts_deny_sip": "nosuchhost.invalid/32"}, ()),
}


@pytest.mark.defect("11.5")
@pytest.mark.parametrize("variant", sorted(CONF_LINES))
def test_conf_line_siproxd_accepts(compat, variant):
    """The proxy starts from a siproxd.conf with this line (names resolve
    through the gateway's /etc/hosts, there is no DNS), phones register
    and call out."""
    overrides, extra = CONF_LINES[variant]

    def scenario(rig):
        conf = harness.base_conf()
        conf.update(overrides)
        d = rig.etc_netns({"hosts": HOSTS, "resolv.conf": NO_DNS})
        if rig.start_proxy(conf, extra_lines=extra, etc_netns=d).started and steps.register(rig):
            steps.wait_free(rig, ALICE)
            steps.call_out(rig).check()
    compat.run(scenario)


# --- 11.5 / 11.7: the outbound interface missing, or without its address -----

def until_registered(rig, timeout=12.0):
    """REGISTER user 'probe' every second until the registrar holds it at the
    proxy's public address; returns (status codes seen, ok)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        codes = steps.probe_register(rig, wait=1.0)
        seen.append(codes[-1] if codes else None)
        if any("@%s" % rig.public_ip in c for c in rig.kam.active_contacts("probe")):
            return seen, True
    return seen, False


def outbound_comes_later(rig, how):
    """Start while the outbound interface is missing (how='missing':
    if_outbound = ppp0, not there yet) or has no address (how='no_address'):
    the proxy must start and answer (siproxd: 408), then carry on once the
    interface is there: a REGISTER reaches the registrar with the public
    address, a call goes out with audio."""
    gw = rig.topo.gw
    conf = harness.base_conf()
    if how == "missing":
        conf["if_outbound"] = "ppp0"
    else:
        netns.run_in(gw, ["ip", "addr", "del", "198.51.100.1/24", "dev", "gwwan"])
    if not rig.start_proxy(conf).started:
        return
    codes = steps.probe_register(rig)
    rig.outcome.add("answers_408_while_down", 408 in codes, "answers %s" % (codes or "none"))
    if how == "missing":
        netns.run_in(gw, ["ip", "link", "set", "gwwan", "down"])
        netns.run_in(gw, ["ip", "link", "set", "gwwan", "name", "ppp0"])
        netns.run_in(gw, ["ip", "link", "set", "ppp0", "up"])
        netns.run_in(gw, ["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "ppp0",
                          "-j", "MASQUERADE"])
    else:
        netns.run_in(gw, ["ip", "addr", "add", "198.51.100.1/24", "dev", "gwwan"])
    seen, ok = until_registered(rig)
    if rig.outcome.add("recovers", ok, "answers after the interface came: %s" % seen):
        # siproxd proxies calls only for phones that registered through it.
        if steps.register(rig, uas=(ALICE,)):
            steps.wait_free(rig, ALICE)
            steps.call_out(rig).check()


@pytest.mark.defect("11.5")
def test_if_outbound_appears_later(compat):
    compat.run(lambda rig: outbound_comes_later(rig, "missing"))


@pytest.mark.defect("11.7")
def test_if_outbound_without_address(compat):
    compat.run(lambda rig: outbound_comes_later(rig, "no_address"))


def ifindex(ns, dev):
    return netns.run_in(ns, ["ip", "-o", "link", "show", dev]).stdout.split(":", 1)[0]


def ppp_reconnect(rig):
    """A PPP reconnect: the outbound interface goes away and comes back
    under the same name with a new ifindex (here: the veth pair to the
    provider deleted and created again). Calls afterwards carry audio
    (the kernel fast path must follow the new interface)."""
    gw, wan = rig.topo.gw, rig.topo.wan
    if not rig.start_proxy(harness.base_conf()).started:
        return
    before = ifindex(gw, "gwwan")
    netns.run_in(gw, ["ip", "link", "del", "gwwan"])
    time.sleep(1.0)   # down for a moment, as a PPP link is
    netns.run_in(gw, ["ip", "link", "add", "gwwan", "type", "veth", "peer", "name", "wan0",
                      "netns", wan])
    netns.run_in(gw, ["ip", "addr", "add", "198.51.100.1/24", "dev", "gwwan"])
    netns.run_in(wan, ["ip", "addr", "add", "198.51.100.2/24", "dev", "wan0"])
    netns.run_in(gw, ["ip", "link", "set", "gwwan", "up"])
    netns.run_in(wan, ["ip", "link", "set", "wan0", "up"])
    after = ifindex(gw, "gwwan")
    seen, ok = until_registered(rig)
    if rig.outcome.add("recovers", ok, "ifindex %s -> %s, answers %s" % (before, after, seen)):
        if steps.register(rig):
            steps.calls_both_ways(rig)


@pytest.mark.defect("11.5")
def test_ppp_reconnect_new_ifindex(compat):
    compat.run(ppp_reconnect)


# --- 11.6: defaults and small semantics --------------------------------------

def file_state(path):
    """(size, mtime in ns) of path, None when it does not exist."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns


def defaults(rig):
    """default_expires unset and a REGISTER without any expiry;
    autosave_registrations = 300 (the base configuration): no write of the
    registration file right after a REGISTER; the call log of load_plugin =
    plugin_logcall.la; SIGUSR1."""
    conf = harness.base_conf()
    conf["default_expires"] = None
    p = rig.start_proxy(conf)
    if not p.started:
        return
    path = os.path.join(rig.dir, "siproxd_registrations")
    before = file_state(path)
    run = steps.start_register(rig, CAROL, scenario="register_noexpires")
    res = run.result()
    time.sleep(0.3)
    after = file_state(path)
    rig.outcome.add("autosave_coalesced", after == before,
                    "registration file %s -> %s after a REGISTER" % (before, after))
    table = rig.kam.location()
    expires = [c.get("expires") for aor, cs in table.items() if aor.split("@")[0] == "carol"
               for c in cs]
    rig.outcome.add("default_expires_3600",
                    res.ok and any(isinstance(e, int) and 3000 < e <= 3600 for e in expires),
                    "sipp rc=%s, registrar expires %s" % (res.rc, expires or "none"))
    steps.wait_free(rig, CAROL)
    call = steps.call_in(rig)
    call.check()
    logged = [line for line in p.log().splitlines()
              if "Call:" in line or "call start:" in line]
    rig.outcome.add("call_logged", bool(logged), logged[0][-120:] if logged else "no call line")
    p.send_signal(signal.SIGUSR1)
    time.sleep(0.5)
    if rig.outcome.add("survives_sigusr1", p.alive(), p.exit_status()):
        codes = steps.probe_register(rig)
        rig.outcome.add("serves_after_sigusr1", 200 in codes, "answers %s" % codes)


@pytest.mark.defect("11.6")
def test_defaults_and_signals(compat):
    compat.run(defaults, siproxd_fails={
        "survives_sigusr1": "siproxd has no SIGUSR1 handler unless plugin_stats is "
                            "loaded: the default action ends it",
    }, sipmasq_must={"survives_sigusr1": "issue 11.6: SIGUSR1 must not kill the daemon"},
        deliberate={"autosave_coalesced": "sipmasq writes the first change after a quiet "
                    "period at once (a crash right after a REGISTER loses nothing) and "
                    "coalesces the rest to one write per autosave_registrations period; "
                    "siproxd waits for the period's end"})
