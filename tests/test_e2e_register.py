"""Registrations through sipmasq: Contact masquerading, unregister, expiry,
and registrations surviving a restart (registration_file)."""

import os
import re
import time

from lib import flows, netns
from lib.flows import ALICE, CAROL, ERIN

# sipmasq's public Contact for a phone: sip:USER@198.51.100.1:5060;smqid=TOKEN
PUBLIC_CONTACT = re.compile(r"^sip:(?P<user>[^@]+)@198\.51\.100\.1:5060;(?:[^;]*;)*?"
                            r"smqid=(?P<token>[^;>\s]+)")


def _public_contacts(kamailio, user):
    contacts = kamailio.active_contacts(user)
    matches = [PUBLIC_CONTACT.match(c) for c in contacts]
    assert contacts and all(matches), \
        "location of %s should hold sipmasq's public contact only: %s" % (user, contacts)
    return [m.group("token") for m in matches]


def test_register_rewrites_contact(topology, kamailio, sipp, sipmasq):
    sipmasq()
    res = flows.register(sipp, topology, ALICE, expires=600)
    assert res.ok, res.describe()

    tokens = _public_contacts(kamailio, "alice")
    assert len(tokens) == 1

    # The phone gets its own Contact back, not the public one.
    ok = flows.received_responses(res, 200, "REGISTER")
    assert ok, res.describe()
    contacts = ok[0].all("contact")
    assert contacts and all("sip:alice@10.0.0.2:5060" in c for c in contacts), contacts
    assert not any("smqid" in c or "198.51.100.1" in c for c in contacts), contacts


def test_binding_tokens_are_unique(topology, kamailio, sipp, sipmasq):
    sipmasq()
    assert flows.register(sipp, topology, ALICE).ok
    assert flows.register(sipp, topology, CAROL).ok
    # The same AOR from the second phone is a second binding.
    alice_on_phone2 = flows.UA("lan", CAROL.ip, CAROL.port, CAROL.media, "alice")
    res = flows.register(sipp, topology, alice_on_phone2)
    assert res.ok, res.describe()

    alice = _public_contacts(kamailio, "alice")
    carol = _public_contacts(kamailio, "carol")
    assert len(alice) == 2 and len(carol) == 1, kamailio.location()
    tokens = alice + carol
    assert len(set(tokens)) == 3, tokens


def test_unregister_empties_location(topology, kamailio, sipp, sipmasq):
    sipmasq()
    assert flows.register(sipp, topology, ALICE).ok
    assert len(_public_contacts(kamailio, "alice")) == 1
    res = flows.register(sipp, topology, ALICE, expires=0)
    assert res.ok, res.describe()
    assert kamailio.active_contacts("alice") == [], kamailio.location()


def test_registration_expires(topology, kamailio, sipp, sipmasq):
    """sipmasq's own binding ends when the registrar's answer says (5 s):
    sipmasqctl lists it, then stops listing it and counts no registration,
    neither early nor late (the registrar forgetting it proves nothing about
    sipmasq)."""
    smq = sipmasq()
    start = time.monotonic()
    res = flows.register(sipp, topology, ALICE, expires=5)
    assert res.ok, res.describe()
    answered = time.monotonic()
    regs = smq.ctl("registrations")["registrations"]
    assert [r["aor"] for r in regs] == [ALICE.aor] and 3 <= regs[0]["expires_in"] <= 5, regs
    assert smq.ctl("stats")["registrations"] == 1
    netns.wait_for(lambda: smq.ctl("registrations")["registrations"] == [], 10, interval=0.1,
                   what="sipmasq to drop alice's binding at its expiry")
    now = time.monotonic()
    # Whole seconds on the wall clock: the binding lives more than 4 s and
    # at most 5 s (plus a poll) after the answer.
    assert now - start >= 4 and now - answered <= 5.5, \
        "sipmasq dropped the 5 s binding %.1f s after the REGISTER, %.1f s after its 200" % (
            now - start, now - answered)
    assert smq.ctl("stats")["registrations"] == 0
    netns.wait_for(lambda: kamailio.active_contacts("alice") == [], 10, interval=0.2,
                   what="the registrar to drop alice's binding too")


def test_restart_keeps_registrations(topology, kamailio, sipp, sipmasq, counter):
    smq = sipmasq()
    assert flows.register(sipp, topology, ALICE).ok
    tokens = _public_contacts(kamailio, "alice")

    rc = smq.stop()
    assert rc == 0, "sipmasq should exit 0 on SIGTERM, got %s\n%s" % (rc, smq.log()[-4000:])
    reg_file = smq.config["registration_file"]
    assert os.path.isfile(reg_file) and os.path.getsize(reg_file) > 0, \
        "registration_file %s missing or empty after shutdown" % reg_file
    smq.start()

    # The phone did not re-register: Kamailio still routes to the old public
    # contact, which the restarted sipmasq must map back to the phone.
    assert _public_contacts(kamailio, "alice") == tokens
    at_alice = flows.relay_counter(counter, topology, ALICE)
    at_erin = flows.relay_counter(counter, topology, ERIN)
    uas = flows.start_callee(sipp, topology, ALICE)
    uac = flows.start_caller(sipp, topology, ERIN, ALICE.aor)
    uac_res, uas_res = flows.finished_ok(uac, uas)
    flows.assert_relayed(at_alice, at_erin)


def test_new_public_address_is_followed(topology, kamailio, sipp, sipmasq):
    """if_outbound's address changes (a ppp0 reconnecting): sipmasq reads it
    again within seconds and registers with the new one."""
    smq = sipmasq()
    netns.run_in(topology.gw, ["ip", "addr", "flush", "dev", "gwwan"])
    netns.run_in(topology.gw, ["ip", "addr", "add", "198.51.100.9/24", "dev", "gwwan"])
    netns.wait_for(lambda: "public interface gwwan: address 198.51.100.9" in smq.log(), 8,
                   interval=0.2, what="sipmasq to notice the new public address")
    res = flows.register(sipp, topology, ALICE, expires=600)
    assert res.ok, res.describe()
    contacts = kamailio.active_contacts("alice")
    assert contacts and all("@198.51.100.9:5060;" in c for c in contacts), contacts
