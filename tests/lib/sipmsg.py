"""Tiny SIP/SDP text reader for assertions (not a SIP parser for production).

Good enough for messages produced by sipp, Kamailio and sipmasq: a start
line, headers (no folding), a blank line and an optional SDP body.
"""

import re

# Compact header forms (RFC 3261 section 7.3.3) mapped to full names.
_COMPACT = {"v": "via", "m": "contact", "f": "from", "t": "to", "i": "call-id",
            "l": "content-length", "c": "content-type", "k": "supported",
            "s": "subject", "e": "content-encoding", "o": "event",
            "r": "refer-to", "u": "allow-events"}

_REQUEST = re.compile(r"^([A-Z]+) (\S+) SIP/2\.0$")
_STATUS = re.compile(r"^SIP/2\.0 (\d{3})(?: (.*))?$")


def looks_like_sip(data):
    """True when bytes/str data starts with a SIP request or status line."""
    if isinstance(data, bytes):
        data = data[:200].decode("latin-1")
    first = data.split("\n", 1)[0].rstrip("\r")
    return bool(_REQUEST.match(first) or _STATUS.match(first))


class SipMessage:
    """One SIP message.

    Attributes: start (first line), method and ruri (requests), code
    (responses, int), headers (list of (lowercase full name, value)),
    body (str).
    """

    def __init__(self, text):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        text = text.replace("\r\n", "\n")
        head, _, body = text.partition("\n\n")
        lines = head.split("\n")
        self.text = text
        self.start = lines[0].strip()
        self.body = body
        self.method = self.ruri = None
        self.code = None
        m = _REQUEST.match(self.start)
        if m:
            self.method, self.ruri = m.group(1), m.group(2)
        m = _STATUS.match(self.start)
        if m:
            self.code = int(m.group(1))
        self.headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                continue
            name = name.strip().lower()
            name = _COMPACT.get(name, name)
            self.headers.append((name, value.strip()))

    @property
    def is_request(self):
        return self.method is not None

    def all(self, name):
        """Every value of header name (case-insensitive, compact forms ok)."""
        name = name.lower()
        name = _COMPACT.get(name, name)
        return [v for n, v in self.headers if n == name]

    def get(self, name, default=None):
        vals = self.all(name)
        return vals[0] if vals else default

    @property
    def call_id(self):
        return self.get("call-id")

    @property
    def cseq_method(self):
        cseq = self.get("cseq", "")
        parts = cseq.split()
        return parts[1] if len(parts) > 1 else None

    def sdp_lines(self):
        """SDP lines of the body as (type, value), e.g. ('c', 'IN IP4 x')."""
        out = []
        for line in self.body.split("\n"):
            line = line.strip()
            if len(line) > 2 and line[1] == "=":
                out.append((line[0], line[2:]))
        return out

    def sdp(self, kind):
        """Values of SDP lines of one type, e.g. sdp('m')."""
        return [v for t, v in self.sdp_lines() if t == kind]

    def sdp_audio_port(self):
        """Port of the first m=audio line, or None."""
        for m in self.sdp("m"):
            parts = m.split()
            if parts and parts[0] == "audio":
                return int(parts[1])
        return None

    def sdp_connection_ip(self):
        """Address of the first c= line, or None."""
        for c in self.sdp("c"):
            parts = c.split()
            if len(parts) >= 3:
                return parts[2]
        return None

    def __repr__(self):
        return "<SipMessage %s>" % self.start
