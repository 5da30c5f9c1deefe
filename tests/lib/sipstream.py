"""Scripted SIP byte streams, for stream-level tests of sipmasq's TCP
transport (framing, keep-alives, malformed input) that sipp cannot send.

Run as a script inside a namespace (lib.netns.ns_argv), with the steps as
JSON on stdin; prints one JSON result per step:

  python3 sipstream.py HOST PORT < steps.json

Steps (NAME names a TCP connection, several may be open at once):
  ["open", NAME]                    connect to HOST:PORT        -> null
  ["send", NAME, TEXT]              send TEXT (latin-1)          -> null or "error: ..."
  ["recv", NAME, UNTIL, TIMEOUT]    read until UNTIL is in the data, or
                                    until EOF when UNTIL is null,
                                    at most TIMEOUT s -> {"data", "eof"}
  ["udp", TEXT, TIMEOUT]            send TEXT as one UDP datagram from an
                                    ephemeral port, wait for one answer
                                    -> {"data", "seconds"} ("" when none
                                    came; seconds: how long it took)
"""

import json
import socket
import sys
import time


def recv(sock, until, timeout):
    deadline = time.monotonic() + timeout
    data, eof = b"", False
    while until is None or until.encode("latin-1") not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except OSError:
            eof = True
            break
        if not chunk:
            eof = True
            break
        data += chunk
    return {"data": data.decode("latin-1"), "eof": eof}


def udp(host, port, text, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        start = time.monotonic()
        s.sendto(text.encode("latin-1"), (host, port))
        try:
            data = s.recv(65536).decode("latin-1")
        except socket.timeout:
            data = ""
        return {"data": data, "seconds": time.monotonic() - start}


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    conns, out = {}, []
    for step in json.load(sys.stdin):
        op = step[0]
        if op == "open":
            conns[step[1]] = socket.create_connection((host, port), timeout=5)
            out.append(None)
        elif op == "send":
            try:
                conns[step[1]].sendall(step[2].encode("latin-1"))
                out.append(None)
            except OSError as e:
                out.append("error: %s" % e)
        elif op == "recv":
            out.append(recv(conns[step[1]], step[2], step[3]))
        elif op == "udp":
            out.append(udp(host, port, step[1], step[2]))
        else:
            raise SystemExit("unknown step %r" % (op,))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
