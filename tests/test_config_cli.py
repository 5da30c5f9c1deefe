"""Command line and configuration errors of the sipmasq daemon.

Runs the real binary (env SIPMASQ_BIN, default <repo>/sipmasq) with
configuration files written into pytest's tmp_path and checks the exit status
(2 = configuration or usage error) and that stderr points at FILE:LINE and the
bad value. No network traffic: the only socket the daemon may open is on lo.
"""
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SIPMASQ = Path(os.environ.get("SIPMASQ_BIN", REPO / "sipmasq"))

pytestmark = pytest.mark.skipif(
    not (SIPMASQ.is_file() and os.access(SIPMASQ, os.X_OK)),
    reason=f"daemon binary {SIPMASQ} not found: run make, or set SIPMASQ_BIN",
)

# A daemon that accepts a bad file would run until killed: never wait long.
TIMEOUT = 10


def run(*args, timeout=TIMEOUT):
    """Run the daemon with args; returns the CompletedProcess (text mode)."""
    return subprocess.run(
        [str(SIPMASQ), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_udp_port():
    """A UDP port on 127.0.0.1 that nobody is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_conf(tmp_path, lines, name="sipmasq.conf"):
    """Write lines (a list of str) to tmp_path/name; returns the path.

    Line numbers in the file are list index + 1.
    """
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def line_of(lines, prefix):
    """1-based line number of the first line that starts with prefix."""
    for i, line in enumerate(lines, 1):
        if line.startswith(prefix):
            return i
    raise AssertionError(f"{prefix!r} not in the test's own file")


def valid_lines():
    """A complete configuration on lo that the daemon accepts."""
    return [
        "# sipmasq test configuration",
        "if_inbound = lo",
        "if_outbound = lo",
        f"sip_listen_port = {free_udp_port()}",
        "rtp_port_low = 40000",
        "rtp_port_high = 40019",
        "daemonize = 0",
    ]


def run_bad_config(tmp_path, lines):
    path = write_conf(tmp_path, lines)
    proc = run("--foreground", "-c", str(path))
    return path, proc


def assert_config_error(proc, path, line, value):
    assert proc.returncode == 2, (
        f"exit status {proc.returncode}, expected 2\nstderr:\n{proc.stderr}")
    assert f"{path}:{line}" in proc.stderr, (
        f"stderr does not name {path}:{line}:\n{proc.stderr}")
    assert value in proc.stderr, (
        f"stderr does not name the value {value!r}:\n{proc.stderr}")


def test_bad_port(tmp_path):
    lines = valid_lines()
    lines[line_of(lines, "sip_listen_port") - 1] = "sip_listen_port = 70000"
    path, proc = run_bad_config(tmp_path, lines)
    assert_config_error(proc, path, line_of(lines, "sip_listen_port"), "70000")


def test_rtp_port_low_above_high(tmp_path):
    lines = [line for line in valid_lines() if not line.startswith("rtp_port")]
    lines += ["rtp_port_low = 8000", "rtp_port_high = 7000"]
    path, proc = run_bad_config(tmp_path, lines)
    # Reported at the later of the two lines, the one that broke the range.
    assert_config_error(proc, path, line_of(lines, "rtp_port_high"), "7000")
    assert "8000" in proc.stderr


def test_missing_if_inbound(tmp_path):
    lines = [line for line in valid_lines() if not line.startswith("if_inbound")]
    path, proc = run_bad_config(tmp_path, lines)
    assert proc.returncode == 2, proc.stderr
    assert str(path) in proc.stderr, proc.stderr
    assert "if_inbound" in proc.stderr, proc.stderr


def test_non_numeric_rtp_timeout(tmp_path):
    lines = valid_lines() + ["rtp_timeout = soon"]
    path, proc = run_bad_config(tmp_path, lines)
    assert_config_error(proc, path, line_of(lines, "rtp_timeout"), "'soon'")


def test_all_errors_reported_at_once(tmp_path):
    """A bad line does not hide the next one."""
    lines = valid_lines() + ["rtp_timeout = soon", "default_expires = never"]
    path, proc = run_bad_config(tmp_path, lines)
    assert_config_error(proc, path, line_of(lines, "rtp_timeout"), "soon")
    assert_config_error(proc, path, line_of(lines, "default_expires"), "never")


def test_unknown_interface(tmp_path):
    lines = valid_lines()
    lines[line_of(lines, "if_inbound") - 1] = "if_inbound = nosuchif0"
    path, proc = run_bad_config(tmp_path, lines)
    assert proc.returncode == 2, (
        f"exit status {proc.returncode}, expected 2\nstderr:\n{proc.stderr}")
    assert "nosuchif0" in proc.stderr, proc.stderr


def test_unreadable_config_file(tmp_path):
    missing = tmp_path / "no-such-file.conf"
    proc = run("--foreground", "-c", str(missing))
    assert proc.returncode == 2, proc.stderr
    assert str(missing) in proc.stderr, proc.stderr


def test_unknown_option_is_usage_error():
    proc = run("--no-such-option")
    assert proc.returncode == 2, proc.stderr


def test_help():
    proc = run("--help")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr
    assert re.search(r"(^|\s)-c\b", text), f"--help does not list -c:\n{text}"
    assert "--config" in text, text


def test_version():
    m = re.search(r"AC_INIT\(\[sipmasq\],\s*\[([^\]]+)\]",
                  (REPO / "configure.ac").read_text())
    assert m, "no version in configure.ac"
    proc = run("-v")
    assert proc.returncode == 0, proc.stderr
    assert m.group(1) in proc.stdout + proc.stderr, (
        f"-v does not print version {m.group(1)}:\n{proc.stdout}{proc.stderr}")


def test_unknown_directive_is_only_a_warning(tmp_path):
    """Unknown and unsupported directives warn; the daemon still starts.

    The daemon runs until `timeout 2` stops it: exit status 124 is the pass
    condition (2 would mean the configuration was refused).
    """
    lines = valid_lines() + [
        "no_such_directive = 1",
        "chrootjail = /var/empty",  # a siproxd directive not supported yet
    ]
    path = write_conf(tmp_path, lines)
    proc = subprocess.run(
        ["timeout", "2", str(SIPMASQ), "--foreground", "-c", str(path)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 124, (
        f"exit status {proc.returncode}, expected 124 (still running)\n"
        f"stderr:\n{proc.stderr}")
    unknown = line_of(lines, "no_such_directive")
    assert f"{path}:{unknown}" in proc.stderr, proc.stderr
    assert "no_such_directive" in proc.stderr, proc.stderr
    jail = line_of(lines, "chrootjail")
    assert f"{path}:{jail}" in proc.stderr, proc.stderr
    assert "not supported" in proc.stderr, proc.stderr


def test_proxy_auth_errors(tmp_path):
    pwfile = tmp_path / "passwd"
    pwfile.write_text("# users\nalice s3cret\nbob\n")
    lines = valid_lines() + ["proxy_auth_realm = gw", f"proxy_auth_pwfile = {pwfile}"]
    _, proc = run_bad_config(tmp_path, lines)
    assert_config_error(proc, pwfile, 3, "expected 'user password'")

    lines = valid_lines() + ["proxy_auth_realm = gw"]
    path, proc = run_bad_config(tmp_path, lines)
    assert_config_error(proc, path, len(lines), "proxy_auth_passwd or proxy_auth_pwfile")

    lines = valid_lines() + ["proxy_auth_realm = gw",
                             f"proxy_auth_pwfile = {tmp_path / 'missing'}"]
    path, proc = run_bad_config(tmp_path, lines)
    assert_config_error(proc, path, len(lines), "missing")


def test_mask_host_without_masked_host(tmp_path):
    """mask_host/masked_host are parallel lists: a mask_host without its
    partner is a configuration error at its line."""
    lines = valid_lines() + ["mask_host = 10.0.0.1", "masked_host = voip.example.test",
                             "mask_host = 10.0.0.9"]
    path, proc = run_bad_config(tmp_path, lines)
    assert_config_error(proc, path, len(lines), "mask_host '10.0.0.9' (entry 2) has no partner")
