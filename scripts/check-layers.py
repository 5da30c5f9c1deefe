#!/usr/bin/env python3
"""Check sipmasq's layer rule (docs/architecture.md) and that no two files
of the daemon depend on each other in a cycle.

1. Includes: a file may include headers of its own layer or of layers
   below it, never above (read from the '#include "..."' lines).
2. Calls: with the objects built (after make), the symbols each object
   needs from another object (nm) give a file graph: an edge that points
   up a layer, or any cycle, fails.

Exit 0 when clean, 1 with one line per violation. Usage:
  scripts/check-layers.py [TOP [BUILDDIR]]   (default: this repository)
"""

import os
import re
import subprocess
import sys

# Layers, lowest first. A path belongs to the first prefix that matches.
LAYERS = [
    ("include/", 0),
    ("daemon/base/", 1),
    ("kmod-free-fallback/", 2),   # engines that need no kernel module
    ("daemon/kernel/", 2),        # the eBPF engine's loader
    ("bpf/", 2),                  # skeletons included by the loader
    ("daemon/config/", 3),
    ("daemon/sip/", 4),
    ("daemon/dns/", 5),
    ("daemon/transport/", 6),
    ("daemon/media/", 7),
    ("daemon/proxy/", 8),
    ("daemon/main/", 9),
    ("daemon/sipmasqctl/", 9),
]
NAMES = {0: "abi", 1: "base", 2: "engines", 3: "config", 4: "sip", 5: "dns",
         6: "transport", 7: "media", 8: "proxy", 9: "main"}
SOURCE_DIRS = ("daemon", "kmod-free-fallback", "include")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer(path):
    for prefix, rank in LAYERS:
        if path.startswith(prefix):
            return rank
    return None


def sources(top):
    for d in SOURCE_DIRS:
        for root, _, files in os.walk(os.path.join(top, d)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(root, f), top)


def check_includes(top):
    bad = []
    for path in sources(top):
        mine = layer(path)
        with open(os.path.join(top, path), errors="replace") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            theirs = layer(inc)
            if mine is None or theirs is None:
                continue
            if theirs > mine:
                bad.append("%s includes %s: %s may not depend on %s (a layer above)"
                           % (path, inc, NAMES[mine], NAMES[theirs]))
    return bad


def nm(obj):
    out = subprocess.run(["nm", "-g", obj],
                         capture_output=True, text=True).stdout
    defined, needed = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            needed.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRVW":
            defined.add(parts[2])
    return defined, needed


def objects(top, build):
    """(source path, object path) of every built daemon/engine object."""
    for path in sources(top):
        if not path.endswith(".c"):
            continue
        stem = os.path.splitext(path)[0]
        d, base = os.path.split(stem)
        for cand in (stem + ".o", os.path.join(d, "sipmasq-" + base + ".o"),
                     os.path.join(d, "libsipmasq_a-" + base + ".o")):
            obj = os.path.join(build, cand)
            if os.path.exists(obj):
                yield path, obj
                break


def sccs(graph):
    """Tarjan's strongly connected components with more than one node."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check_calls(top, build):
    objs = list(objects(top, build))
    if not objs:
        return None
    owner, needs = {}, {}
    for src, obj in objs:
        defined, needed = nm(obj)
        for sym in defined:
            owner.setdefault(sym, src)
        needs[src] = needed
    graph, bad = {}, []
    for src, needed in needs.items():
        for sym in sorted(needed):
            dst = owner.get(sym)
            if not dst or dst == src:
                continue
            graph.setdefault(src, set()).add(dst)
            if layer(dst) > layer(src):
                bad.append("%s calls %s() of %s: %s may not depend on %s (a layer above)"
                           % (src, sym, dst, NAMES[layer(src)], NAMES[layer(dst)]))
    for comp in sccs(graph):
        bad.append("cycle between files: " + " <-> ".join(comp))
    return bad, len(objs)


def main():
    top = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                          os.path.join(os.path.dirname(__file__), ".."))
    build = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else top
    bad = check_includes(top)
    calls = check_calls(top, build)
    if calls is None:
        print("check-layers: no objects built in %s: call graph not checked" % build)
    else:
        bad += calls[0]
    for line in bad:
        print("check-layers: " + line)
    print("check-layers: %d violation(s); includes of %d files%s" % (
        len(bad), len(list(sources(top))),
        "" if calls is None else ", calls between %d objects" % calls[1]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
