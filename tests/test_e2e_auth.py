"""Digest proxy authentication (proxy_auth_realm): a REGISTER from the
private side for which sipmasq is the registrar is challenged with 407 and
one Proxy-Authenticate per algorithm (default MD5, then SHA-256); as in
siproxd, a REGISTER forwarded to a registrar is challenged only with
proxy_auth_forwarded = 1.  sipp 3.6 answers only the first challenge and
only with MD5: with the defaults it must register, as it does with
siproxd; a small raw-UDP client in this file answers the SHA-256 challenge
and replays a captured Proxy-Authorization."""

import ctypes
import hashlib
import os
import re
import socket
import threading
import time
import uuid

from lib import flows
from lib.flows import ALICE, CAROL, DOMAIN, OUTBOUND_PROXY, REGISTRAR

GW_PRIVATE = "10.0.0.1"
REALM = "sipmasq test gateway"
CLONE_NEWNET = 0x40000000


def _auth_config(tmp_path, pwfile, algorithms=None):
    cfg = {"proxy_auth_realm": REALM}
    if algorithms:
        cfg["proxy_auth_algorithms"] = algorithms
    if not pwfile:
        cfg["proxy_auth_passwd"] = "s3cret"
        return cfg
    path = os.path.join(str(tmp_path), "passwd")
    with open(path, "w") as f:
        f.write("# user password\nalice s3cret\ncarol c4rol\n")
    cfg["proxy_auth_pwfile"] = path
    return cfg


def _register(sipp, topology, ua, password, registrar_mode, expires=300):
    """sipp register_auth as ua with -au/-ap, to sipmasq itself
    (registrar mode) or to Kamailio through sipmasq."""
    domain = GW_PRIVATE if registrar_mode else DOMAIN
    remote = "%s:5060" % GW_PRIVATE if registrar_mode else REGISTRAR
    return sipp.run(ua.ns(topology), "register_auth", ua.ip, ua.port, remote,
                    rsa=None if registrar_mode else OUTBOUND_PROXY,
                    keys={"user": ua.user, "domain": domain, "expires": expires},
                    extra=("-au", ua.user, "-ap", password), timeout=10)


def _challenges(res):
    """The 407s sipp received, each as its list of Proxy-Authenticate values."""
    return [m.all("proxy-authenticate") for m in res.received() if m.code == 407]


def _aors(smq):
    return [r["aor"] for r in smq.ctl("registrations")["registrations"]]


def _assert_challenge(values, algorithms=("MD5", "SHA-256")):
    assert len(values) == len(algorithms), values
    for v, alg in zip(values, algorithms):
        assert "algorithm=%s" % alg in v, values
    for v in values:
        assert 'realm="%s"' % REALM in v and 'qop="auth"' in v, v


def test_registrar_mode_right_and_wrong_password(topology, sipp, sipmasq, tmp_path):
    """Out of the box (no proxy_auth_algorithms), an MD5-only client that
    reads the first challenge (sipp) registers, as with siproxd."""
    smq = sipmasq(**_auth_config(tmp_path, pwfile=True))

    res = _register(sipp, topology, CAROL, "wrong", registrar_mode=True)
    assert not res.ok, res.describe()
    assert len(_challenges(res)) == 2, res.describe()   # first try, then the wrong password
    assert not flows.received_responses(res, 200, "REGISTER"), res.describe()
    assert _aors(smq) == []
    assert re.search(r"authentication failed: REGISTER of user 'carol' from 10\.0\.0\.3:5060",
                     smq.log()), smq.log()[-3000:]

    res = _register(sipp, topology, ALICE, "s3cret", registrar_mode=True)
    assert res.ok, res.describe()
    _assert_challenge(_challenges(res)[0], ("MD5", "SHA-256"))
    assert _aors(smq) == ["sip:alice@%s" % GW_PRIVATE]


def test_forwarded_register_not_challenged_by_default(topology, kamailio, sipp, sipmasq,
                                                     capture, tmp_path):
    """siproxd (measured: proxy_auth_realm set, REGISTER to a registrar
    behind it) forwards the REGISTER unchallenged: the registrar does its
    own authentication. So does sipmasq unless proxy_auth_forwarded = 1."""
    sipmasq(**_auth_config(tmp_path, pwfile=False))
    wan = capture(topology.wan, "wan0", "wan")
    res = flows.register(sipp, topology, ALICE)
    assert res.ok, res.describe()
    assert not _challenges(res), res.describe()
    assert kamailio.active_contacts("alice"), kamailio.location()
    regs = [m for _, m in wan.sip_messages() if m.method == "REGISTER"]
    assert len(regs) == 1, regs


def test_outbound_proxy_mode(topology, kamailio, sipp, sipmasq, capture, tmp_path):
    cfg = _auth_config(tmp_path, pwfile=False, algorithms="MD5")
    cfg["proxy_auth_forwarded"] = 1
    sipmasq(**cfg)
    wan = capture(topology.wan, "wan0", "wan")

    res = _register(sipp, topology, CAROL, "wrong", registrar_mode=False)
    assert not res.ok, res.describe()
    assert len(_challenges(res)) == 2, res.describe()

    res = _register(sipp, topology, ALICE, "s3cret", registrar_mode=False)
    assert res.ok, res.describe()
    _assert_challenge(_challenges(res)[0], ("MD5",))
    assert kamailio.active_contacts("alice")
    assert kamailio.active_contacts("carol") == []

    # Only the authenticated REGISTER went on, without our credentials.
    regs = [m for _, m in wan.sip_messages() if m.method == "REGISTER"]
    assert len(regs) == 1, regs
    assert "sipp-register-auth" in regs[0].get("user-agent", ""), regs[0].text
    assert regs[0].all("proxy-authorization") == [], regs[0].text


# --- a raw UDP user agent in the private namespace -----------------------

def _udp_socket_in(ns, ip, port):
    """A UDP socket bound to ip:port inside network namespace ns: created
    by a thread that entered the namespace (setns affects that thread
    only; the socket stays in the namespace it was created in)."""
    out = {}

    def work():
        libc = ctypes.CDLL(None, use_errno=True)
        with open("/run/netns/%s" % ns) as f:
            if libc.setns(f.fileno(), CLONE_NEWNET) != 0:
                out["error"] = os.strerror(ctypes.get_errno())
                return
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip, port))
        s.settimeout(5)
        out["sock"] = s
    t = threading.Thread(target=work)
    t.start()
    t.join(10)
    assert "sock" in out, out.get("error", "setns thread did not finish")
    return out["sock"]


class RawUA:
    """Just enough of a UAC to REGISTER with hand-made credentials."""

    def __init__(self, sock, user, dest):
        self.sock, self.user, self.dest = sock, user, dest
        self.ip, self.port = sock.getsockname()
        self.call_id = uuid.uuid4().hex
        self.cseq = 0

    def register(self, authorization=None):
        """Send one REGISTER (new branch, next CSeq) and return the final
        response as (code, {lowercase header: [values]})."""
        self.cseq += 1
        lines = ["REGISTER sip:%s SIP/2.0" % GW_PRIVATE,
                 "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport"
                 % (self.ip, self.port, uuid.uuid4().hex),
                 "From: <sip:%s@%s>;tag=raw%d" % (self.user, GW_PRIVATE, os.getpid()),
                 "To: <sip:%s@%s>" % (self.user, GW_PRIVATE),
                 "Call-ID: %s" % self.call_id,
                 "CSeq: %d REGISTER" % self.cseq,
                 "Contact: <sip:%s@%s:%d>" % (self.user, self.ip, self.port),
                 "Expires: 300", "Max-Forwards: 70"]
        if authorization:
            lines.append("Proxy-Authorization: " + authorization)
        lines += ["Content-Length: 0", "", ""]
        self.sock.sendto("\r\n".join(lines).encode(), self.dest)
        for _ in range(10):   # skip provisional responses, bounded
            data, _ = self.sock.recvfrom(65535)
            head = data.decode("utf-8", "replace").split("\r\n\r\n")[0].split("\r\n")
            code = int(head[0].split()[1])
            if code >= 200:
                headers = {}
                for h in head[1:]:
                    name, _, value = h.partition(":")
                    headers.setdefault(name.strip().lower(), []).append(value.strip())
                return code, headers
        raise AssertionError("no final response")


def _param(challenge, name):
    m = re.search(r'%s="?([^",]+)"?' % name, challenge)
    assert m, (name, challenge)
    return m.group(1)


def _credentials(challenge, algorithm, user, password, nc="00000001", cnonce="0a4f113b"):
    """RFC 7616 3.4 with qop=auth, computed with hashlib."""
    h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algorithm]

    def hx(s):
        return h(s.encode()).hexdigest()
    realm, nonce, uri = _param(challenge, "realm"), _param(challenge, "nonce"), \
        "sip:%s" % GW_PRIVATE
    ha1 = hx("%s:%s:%s" % (user, realm, password))
    ha2 = hx("REGISTER:%s" % uri)
    response = hx(":".join([ha1, nonce, nc, cnonce, "auth", ha2]))
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", '
            'algorithm=%s, qop=auth, nc=%s, cnonce="%s"'
            % (user, realm, nonce, uri, response, algorithm, nc, cnonce))


def test_sha256_and_replay(topology, sipmasq, tmp_path):
    smq = sipmasq(**_auth_config(tmp_path, pwfile=False))
    ua = RawUA(_udp_socket_in(topology.lan, ALICE.ip, 5066), "alice",
               (GW_PRIVATE, 5060))
    try:
        code, hdrs = ua.register()
        assert code == 407, hdrs
        _assert_challenge(hdrs["proxy-authenticate"])
        sha = hdrs["proxy-authenticate"][1]

        creds = _credentials(sha, "SHA-256", "alice", "s3cret")
        code, hdrs = ua.register(creds)
        assert code == 200, hdrs
        assert _aors(smq) == ["sip:alice@%s" % GW_PRIVATE]

        # The same Proxy-Authorization again (same nonce, same nc): refused.
        code, hdrs = ua.register(creds)
        assert code == 407, hdrs
        assert "stale=true" not in ",".join(hdrs["proxy-authenticate"]), hdrs
        assert _param(hdrs["proxy-authenticate"][0], "nonce") != _param(sha, "nonce")
        assert "reuses a nonce count" in smq.log(), smq.log()[-3000:]

        # The next nonce count with the same nonce is fine.
        code, hdrs = ua.register(_credentials(sha, "SHA-256", "alice", "s3cret",
                                              nc="00000002"))
        assert code == 200, hdrs

        # A wrong password with SHA-256: 407 and no new binding for bob.
        bob = RawUA(ua.sock, "bob", ua.dest)
        code, hdrs = bob.register(_credentials(sha, "SHA-256", "bob", "guess",
                                               nc="00000003"))
        assert code == 407, hdrs
        assert _aors(smq) == ["sip:alice@%s" % GW_PRIVATE]
    finally:
        ua.sock.close()


def test_expired_nonce_gets_stale_challenge(topology, sipmasq, tmp_path):
    cfg = _auth_config(tmp_path, pwfile=False)
    cfg["proxy_auth_nonce_lifetime"] = 1
    smq = sipmasq(**cfg)
    ua = RawUA(_udp_socket_in(topology.lan, ALICE.ip, 5066), "alice",
               (GW_PRIVATE, 5060))
    try:
        code, hdrs = ua.register()
        assert code == 407, hdrs
        old = hdrs["proxy-authenticate"][0]   # MD5 this time
        time.sleep(2.5)   # past the 1 s lifetime, whatever the load

        # Right password, expired nonce: a new challenge with stale=true.
        code, hdrs = ua.register(_credentials(old, "MD5", "alice", "s3cret"))
        assert code == 407, hdrs
        _assert_challenge(hdrs["proxy-authenticate"])
        assert all("stale=true" in v for v in hdrs["proxy-authenticate"]), hdrs
        assert _aors(smq) == []

        # The fresh nonce, answered at once.  Under heavy load this could
        # itself be stale: then retry once more with the newest nonce.
        for _ in range(3):
            code, hdrs = ua.register(_credentials(hdrs["proxy-authenticate"][0], "MD5",
                                                  "alice", "s3cret"))
            if code != 407:
                break
            assert all("stale=true" in v for v in hdrs["proxy-authenticate"]), hdrs
        assert code == 200, hdrs
        assert _aors(smq) == ["sip:alice@%s" % GW_PRIVATE]
    finally:
        ua.sock.close()
