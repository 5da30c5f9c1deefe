"""Direction rules: a request sipmasq cannot place on a path (from the
public side and not for a masqueraded contact, a REGISTER from the public
side, a request for sipmasq itself that names nobody it knows) gets a
clear SIP error back, never silence and never a relay into the LAN."""

import pytest

from lib import flows
from lib.flows import ALICE, DOMAIN, ERIN, GW_PUBLIC


def _invite(sipp, ns, ua, to, remote):
    return sipp.run(ns, "uac_call", ua.ip, ua.port, remote,
                    keys={"to": to, "from_user": ua.user, "domain": DOMAIN},
                    media_port=ua.media, duration_ms=500, timeout=10)


@pytest.mark.parametrize("to", [
    "sip:nobody@%s:5060" % GW_PUBLIC,                  # nobody registered
    "sip:alice@%s:5060;smqid=0badf00d" % GW_PUBLIC,    # unknown binding token
    "sip:alice@10.0.0.2:5060",                         # a private address itself
], ids=["unknown-user", "unknown-token", "private-address"])
def test_public_request_for_nobody_gets_404(topology, kamailio, sipp, sipmasq, to):
    smq = sipmasq()
    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()
    uas = flows.start_callee(sipp, topology, ALICE)
    res = _invite(sipp, topology.wan, ERIN, to, "%s:5060" % GW_PUBLIC)
    assert flows.received_responses(res, 404, "INVITE"), res.describe()
    assert not flows.received_requests(uas.kill(), "INVITE")
    assert not smq.call_starts()


def test_register_from_public_side_gets_403(topology, kamailio, sipp, sipmasq):
    sipmasq()
    res = sipp.run(topology.wan, "register", ERIN.ip, ERIN.port, "%s:5060" % GW_PUBLIC,
                   keys={"user": ERIN.user, "domain": GW_PUBLIC, "expires": 60})
    assert flows.received_responses(res, 403, "REGISTER"), res.describe()


def test_private_request_for_sipmasq_itself_gets_404(topology, kamailio, sipp, sipmasq):
    """A phone's INVITE addressed to sipmasq's own address, for a user
    sipmasq has no binding of: answered 404, not forwarded anywhere."""
    smq = sipmasq()
    res = _invite(sipp, topology.lan, ALICE, "sip:nobody@10.0.0.1:5060", "10.0.0.1:5060")
    assert flows.received_responses(res, 404, "INVITE"), res.describe()
    assert not smq.call_starts()
