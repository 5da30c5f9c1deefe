"""ua_string: the public side sees the configured User-Agent instead of the
private UA's, and nothing changes without it."""

from lib import flows
from lib.flows import ALICE, BOB


def _invite_at_bob(sipp, topology):
    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=500)
    _, uas_res = flows.finished_ok(uac, uas)
    return flows.received_requests(uas_res, "INVITE")[0]


def test_ua_string_replaces_user_agent(topology, kamailio, sipp, sipmasq):
    sipmasq(ua_string="Acme Gateway 1")
    invite = _invite_at_bob(sipp, topology)
    assert invite.all("user-agent") == ["Acme Gateway 1"], invite.text


def test_user_agent_untouched_without_ua_string(topology, kamailio, sipp, sipmasq):
    sipmasq()
    invite = _invite_at_bob(sipp, topology)
    assert invite.all("user-agent") == ["sipp-uac"], invite.text
