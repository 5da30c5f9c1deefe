"""siproxd's SIP tweaks, end to end: use_rport (which of sipmasq's own
Vias ask for rport, RFC 3581) and obscure_loops (see its tests below)."""

import pytest

from lib import flows
from lib.flows import ALICE, BOB, ERIN


def _top_via(result, method="INVITE"):
    return flows.received_requests(result, method)[0].all("via")[0]


@pytest.mark.parametrize("use_rport", [None, 0, 1, 2, 3])
def test_use_rport(topology, kamailio, sipp, sipmasq, use_rport):
    """Bit 0: rport in sipmasq's Via toward the private side; bit 1:
    toward the public side; unset = 3 (both)."""
    sipmasq(**({} if use_rport is None else {"use_rport": use_rport}))
    bits = 3 if use_rport is None else use_rport
    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()

    uas = flows.start_callee(sipp, topology, BOB)
    uac = flows.start_caller(sipp, topology, ALICE, flows.uri_of(BOB), duration_ms=500)
    _, uas_res = flows.finished_ok(uac, uas)
    public = _top_via(uas_res)
    assert "198.51.100.1:5060" in public and "z9hG4bKsmqO" in public, public
    assert (";rport" in public) == bool(bits & 2), public

    flows.wait_unbound(topology, ALICE)
    uas = flows.start_callee(sipp, topology, ALICE)
    uac = flows.start_caller(sipp, topology, ERIN, ALICE.aor, duration_ms=500)
    _, uas_res = flows.finished_ok(uac, uas)
    private = _top_via(uas_res)
    assert "10.0.0.1:5060" in private and "z9hG4bKsmqI" in private, private
    assert (";rport" in private) == bool(bits & 1), private
