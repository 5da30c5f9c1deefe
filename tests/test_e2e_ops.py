"""Running sipmasq as a service: the pid_file lock (one live sipmasq per
pid file), the privilege drop of `user` (uid, groups and capabilities of
the running process, a call still relayed by the kernel), the smq-streams
table of the pinned stream map, and the systemd unit."""

import os
import subprocess

from lib import netns
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
