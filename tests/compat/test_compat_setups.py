"""siproxd's documented setups, each run with siproxd and with sipmasq."""

from compat import harness, steps


def test_standard(compat):
    """siproxd on the masquerading gateway: phones register through it at
    the provider, call out and in with audio; nothing private on the wire."""
    compat.run(steps.standard, conf=harness.base_conf())
