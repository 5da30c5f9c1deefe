"""Kamailio registrar/proxy on the public side (198.51.100.2:5060).

Runs tests/kamailio/kamailio.cfg in the foreground inside the wan
namespace, with its runtime directory, pid file and ctl socket in the
test's temporary directory, and reads the location table with kamcmd.
"""

import os
import re
import subprocess

from . import netns

CFG = os.path.join(netns.REPO, "tests", "kamailio", "kamailio.cfg")
ADDR = "198.51.100.2"
PORT = 5060


class Kamailio:
    """One Kamailio instance; start() blocks until it answers over ctl."""

    def __init__(self, procs, ns, tmpdir, addr=ADDR, name="kamailio"):
        self.procs = procs
        self.ns = ns
        self.addr = addr
        self.dir = os.path.join(str(tmpdir), name)
        os.makedirs(self.dir, exist_ok=True)
        self.cfg = CFG
        if addr != ADDR:   # a second registrar: the same script on another address
            self.cfg = os.path.join(self.dir, "kamailio.cfg")
            with open(CFG) as src, open(self.cfg, "w") as dst:
                dst.write(src.read().replace(ADDR, addr))
        self.ctl = os.path.join(self.dir, "kamailio_ctl")
        self.log_path = os.path.join(self.dir, "kamailio.log")
        self.proc = None

    def start(self, timeout=15):
        argv = ["kamailio", "-DD", "-E", "-f", self.cfg, "-Y", self.dir,
                "-P", os.path.join(self.dir, "kamailio.pid"),
                "-m", "32", "-M", "4", "-A", 'CTL_SOCK="unix:%s"' % self.ctl]
        self.proc = self.procs.start(self.ns, argv, self.log_path, name="kamailio")

        def ready():
            if not self.proc.alive():
                return True
            return (os.path.exists(self.ctl) and netns.udp_bound(self.ns, self.addr, PORT)
                    and self._kamcmd_ok())
        netns.wait_for(ready, timeout, interval=0.1, what="kamailio to start")
        if not self.proc.alive():
            raise AssertionError("kamailio died at start:\n" + self.proc.output()[-4000:])
        return self

    def _kamcmd_ok(self):
        try:
            return self.kamcmd("core.version", check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def stop(self):
        if self.proc:
            self.proc.stop()

    def kamcmd(self, *args, check=True):
        """Run kamcmd over the ctl socket (no namespace needed: unix socket)."""
        return subprocess.run(["kamcmd", "-s", "unix:" + self.ctl] + list(args),
                              capture_output=True, text=True, timeout=5, check=check)

    def location(self):
        """The location table: {aor: [{'address':..., 'expires':...}, ...]}.

        'expires' is the remaining lifetime in seconds (int) when Kamailio
        prints a number, else the string it prints ('permanent', 'expired',
        'deleted').
        """
        out = self.kamcmd("ul.dump").stdout
        table = {}
        aor = None
        contact = None
        for line in out.splitlines():
            line = line.strip()
            m = re.match(r"^AoR: (.*)$", line)
            if m:
                aor = m.group(1)
                table.setdefault(aor, [])
                continue
            m = re.match(r"^Address: (.*)$", line)
            if m and aor is not None:
                contact = {"address": m.group(1)}
                table[aor].append(contact)
                continue
            m = re.match(r"^Expires: (.*)$", line)
            if m and contact is not None:
                v = m.group(1)
                contact["expires"] = int(v) if re.match(r"^-?\d+$", v) else v
        return table

    def active_contacts(self, user):
        """Addresses of the unexpired bindings of AOR user (with or without
        the domain part, depending on Kamailio's use_domain)."""
        table = self.location()
        out = []
        for aor, contacts in table.items():
            if aor.split("@")[0] != user:
                continue
            for c in contacts:
                e = c.get("expires")
                if e == "permanent" or (isinstance(e, int) and e > 0):
                    out.append(c["address"])
        return out

    def output(self):
        return self.proc.output() if self.proc else ""
