"""Why a test may skip, and when a skip is a failure.

A skipped test proves nothing, so a skip must say why, and under CI=true
(scripts/run-tests.sh in CI) only one kind of skip passes: the machine
cannot run the test (not root, a kernel without BTF, a sanitizer build that
valgrind cannot run). Its reason starts with CANNOT_RUN. Every other skip
(a binary or tool not built, a package not installed) is something the
machine could run once built or installed: conftest.py turns it into a
failure under CI=true. pytest -ra prints every skip's reason, and the
terminal summary counts them.

The kernel engine's tests skip on what the daemon has (was it built with
the eBPF fast path?), not on whether a helper tool happens to exist: a
daemon with the engine and no tests/unit/smq_kern_tool is a broken build,
not a reason to skip.
"""

import os

import pytest

from . import netns

CANNOT_RUN = "cannot run on this machine: "
CI = os.environ.get("CI") == "true"

TOOL = os.path.join(netns.REPO, "tests", "unit", "smq_kern_tool")


def allowed_under_ci(reason):
    """True for a skip reason that CI=true accepts (see the module doc)."""
    return reason.startswith(CANNOT_RUN)


def machine_cannot_bpf():
    """Why this machine cannot load XDP/tc programs, or None when it can
    (root and a kernel with BTF, which the CO-RE programs need)."""
    if os.geteuid() != 0:
        return "not root (eBPF and network namespaces need it)"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "the kernel has no BTF (/sys/kernel/btf/vmlinux): the CO-RE programs cannot load"
    return None


def daemon_has_kernel_engine(path):
    """True when the daemon binary at path was built with the eBPF fast
    path: the programs (and their map names) are embedded in it."""
    try:
        with open(path, "rb") as f:
            return b"smq_streams" in f.read()
    except OSError:
        return False


def kernel_engine_missing(daemon, needs=(TOOL,)):
    """None when the kernel engine's tests can run: daemon was built with
    the eBPF fast path and the helper programs `needs` are built. Else the
    skip reason, prefixed CANNOT_RUN only when the machine is the reason."""
    if not os.path.isfile(daemon):
        return "daemon binary %s not found: build it (make) or set SIPMASQ_BIN" % daemon
    if not daemon_has_kernel_engine(daemon):
        why = machine_cannot_bpf()
        if why:
            return CANNOT_RUN + why
        return ("%s was built without the eBPF fast path (configure found no clang, "
                "bpftool or libbpf), which this machine could run" % daemon)
    for path in needs:
        if not os.access(path, os.X_OK):
            return ("%s has the eBPF fast path but %s is not built (make builds it)"
                    % (daemon, path))
    return None


def kernel_engine_marker(daemon, needs=(TOOL,)):
    """A skipif marker for the kernel engine's tests (kernel_engine_missing)."""
    reason = kernel_engine_missing(daemon, needs)
    return pytest.mark.skipif(reason is not None, reason=reason or "")
