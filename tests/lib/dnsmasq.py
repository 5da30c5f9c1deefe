"""A DNS server for the end-to-end tests: dnsmasq in a namespace, answering
only from its command line and an additional hosts file (which reload()
re-reads after set_host()), never forwarding anywhere except where a test
says (--server=/domain/addr#port); plus SilentDns, a "server" that reads
queries and never answers (a dead or hanging DNS).

Names under .test that it does not know get NXDOMAIN (--local=/test/).
Records have TTL 0 (dnsmasq's default --local-ttl): nothing is cached.
"""

import os
import signal

from . import netns

SILENT_DNS = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("listening", flush=True)
while True:
    data, peer = s.recvfrom(4096)
    print("query from %s:%d, %d bytes" % (peer[0], peer[1], len(data)), flush=True)
"""


class Dnsmasq:
    """dnsmasq --no-daemon on ip:53 in ns; hosts: {name: ip}; srv: list of
    (service_name, target, port, priority, weight); servers: list of
    (domain, "ip#port") to forward to; extra: more options."""

    def __init__(self, procs, ns, tmpdir, ip, hosts, srv=(), servers=(), extra=()):
        self.procs, self.ns, self.ip = procs, ns, ip
        self.dir = os.path.join(str(tmpdir), "dnsmasq")
        os.makedirs(self.dir, exist_ok=True)
        self.hosts_path = os.path.join(self.dir, "hosts")
        self.log_path = os.path.join(self.dir, "dnsmasq.log")
        self.hosts = dict(hosts)
        self.srv = list(srv)
        self.servers = list(servers)
        self.extra = list(extra)     # more dnsmasq options, e.g. --address=/d/ip
        self.proc = None

    def _write_hosts(self):
        tmp = self.hosts_path + ".tmp"
        with open(tmp, "w") as f:
            for name, ip in self.hosts.items():
                f.write("%s %s\n" % (ip, name))
        os.rename(tmp, self.hosts_path)

    def start(self, timeout=10):
        self._write_hosts()
        argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--port=53", "--listen-address=%s" % self.ip,
                "--bind-interfaces", "--pid-file", "--user=root", "--group=root",
                "--log-queries", "--log-facility=-", "--local=/test/",
                "--addn-hosts=%s" % self.hosts_path]
        for name, target, port, prio, weight in self.srv:
            argv.append("--srv-host=%s,%s,%d,%d,%d" % (name, target, port, prio, weight))
        for domain, server in self.servers:
            argv.append("--server=/%s/%s" % (domain, server))
        argv += self.extra
        self.proc = self.procs.start(self.ns, argv, self.log_path, name="dnsmasq")
        netns.wait_for(lambda: not self.proc.alive() or netns.udp_bound(self.ns, self.ip, 53),
                       timeout, what="dnsmasq to listen")
        assert self.proc.alive(), "dnsmasq died at start:\n" + self.proc.output()[-3000:]
        return self

    def set_host(self, name, ip):
        """Point name at ip and make dnsmasq re-read its hosts file."""
        self.hosts[name] = ip
        self._write_hosts()
        mark = len(self.proc.output())
        self.proc.send_signal(signal.SIGHUP)
        netns.wait_for(lambda: "read %s" % self.hosts_path in self.proc.output()[mark:],
                       10, what="dnsmasq to re-read its hosts file")

    def output(self):
        return self.proc.output() if self.proc else ""


class SilentDns:
    """A UDP socket on ip:port in ns that logs every query and answers none."""

    def __init__(self, procs, ns, tmpdir, ip, port):
        self.procs, self.ns, self.ip, self.port = procs, ns, ip, port
        self.log_path = os.path.join(str(tmpdir), "silent-dns.log")
        self.proc = None

    def start(self, timeout=10):
        self.proc = self.procs.start(self.ns, ["python3", "-c", SILENT_DNS, self.ip,
                                               str(self.port)], self.log_path,
                                     name="silent-dns")
        netns.wait_for(lambda: not self.proc.alive() or "listening" in self.proc.output(),
                       timeout, what="the silent DNS server")
        assert self.proc.alive(), self.proc.output()
        return self

    def queries(self):
        return self.proc.output().count("query from")
