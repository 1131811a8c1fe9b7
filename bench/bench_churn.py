"""Churn benchmark: flip a veth wiring back and forth while ``vethpeer list --json`` runs, and
count the pairs it reports that never existed.

What it builds (every namespace carries a random prefix such as ``vpc3f2a``): namespaces A, B, C
and D, and a flipper thread that alternates between two wirings as fast as ``ip -batch`` can:

* state 1: ``A:X(ifindex 10) <-> B:Y(20)``;
* state 2: ``A:X(10) <-> D:W(20)`` and ``B:Z(20) <-> C:V(10)`` (the freed ifindexes reused).

``--filler`` empty namespaces (300 by default) are made between A and B, so that a reader spends a
while between the two, as on a node with hundreds of pods.

A tool that checks only one side of a pair, or mixes reads from before and after a flip, reports
``X <-> Z`` or ``X <-> Y`` at the wrong moment; vethpeer must report only X<->Y, X<->W or Z<->V,
and ends it cannot prove as unresolved. The figures printed: runs, pairs seen, wrong pairs (must
be 0), ends left unresolved by reason.

    sudo python bench/bench_churn.py                     # 100 runs of this tree
    sudo python bench/bench_churn.py --runs 50 --src /path/to/other/src   # another tree

Bounded: at most ``--runs`` runs and ``--seconds`` seconds; everything is removed in a ``finally``
block, also on Ctrl-C. Exit codes: 0 no wrong pair, 1 wrong pairs seen, 2 not root.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from typing import Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

End = Tuple[str, str]  # (namespace key A/B/C/D, ifname)

VALID: Set[FrozenSet[End]] = {
    frozenset({("A", "X"), ("B", "Y")}),
    frozenset({("A", "X"), ("D", "W")}),
    frozenset({("B", "Z"), ("C", "V")}),
}


def ip_batch(lines: Sequence[str]) -> None:
    subprocess.run(["ip", "-force", "-batch", "-"], input="".join(line + "\n" for line in lines), text=True,
                   capture_output=True, check=False)


class World:
    def __init__(self, prefix: str, filler: int = 0, rooted: bool = False) -> None:
        self.prefix = prefix
        self.rooted = rooted
        self.names = {key: f"{prefix}{key.lower()}" for key in "ABCD"}
        # Empty namespaces made between A and B, so that a reader takes a while to get from one
        # to the other (on a real node hundreds of pods sit in between).
        self.filler = [f"{prefix}a{i:04d}" for i in range(filler)]
        self.by_name = {name: key for key, name in self.names.items()}
        self.flips = 0
        self.stop = threading.Event()

    def build(self) -> None:
        n = self.names
        ip_batch([f"netns add {n['A']}", *(f"netns add {name}" for name in self.filler),
                  *(f"netns add {n[key]}" for key in "BCD")])
        if self.rooted:
            # A veth from root into every namespace, as on a container host: root then has an id
            # for each, and vethpeer watches them all through root's socket (the hub).
            everyone = [*self.names.values(), *self.filler]
            ip_batch([f"link add {self.prefix}r{i} type veth peer name up0 netns {name}"
                      for i, name in enumerate(everyone)])
        for line in self.state1():
            subprocess.run(["ip", *line.split()], capture_output=True, check=True)

    def state1(self) -> List[str]:
        n = self.names
        return [f"-n {n['A']} link add X index 10 type veth peer name Y index 20 netns {n['B']}"]

    def state2(self) -> List[str]:
        n = self.names
        return [f"-n {n['A']} link add X index 10 type veth peer name W index 20 netns {n['D']}",
                f"-n {n['B']} link add Z index 20 type veth peer name V index 10 netns {n['C']}"]

    def flip_forever(self) -> None:
        n = self.names
        while not self.stop.is_set():
            # ip -batch does not take -n per line: one batch per namespace, run back to back.
            subprocess.run(["ip", "-n", n["A"], "link", "del", "X"], capture_output=True, check=False)
            for line in self.state2():
                subprocess.run(["ip", *line.split()], capture_output=True, check=False)
            self.flips += 1
            subprocess.run(["ip", "-n", n["A"], "link", "del", "X"], capture_output=True, check=False)
            subprocess.run(["ip", "-n", n["B"], "link", "del", "Z"], capture_output=True, check=False)
            for line in self.state1():
                subprocess.run(["ip", *line.split()], capture_output=True, check=False)
            self.flips += 1

    def remove(self) -> None:
        ip_batch([f"netns del {name}" for name in (*self.names.values(), *self.filler)])

    def key(self, link: Dict[str, object]) -> Optional[End]:
        netns = link.get("netns")
        name = netns.get("name") if isinstance(netns, dict) else None
        if not isinstance(name, str) or name not in self.by_name or link.get("ifname") == "up0":
            return None  # (up0: the --rooted veths, not part of the flipping wiring)
        return (self.by_name[name], str(link.get("ifname")))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=100, help="vethpeer runs (default 100)")
    parser.add_argument("--seconds", type=float, default=120.0, help="stop after this long (default 120)")
    parser.add_argument("--src", help="run the vethpeer in this src directory (default: the installed one)")
    parser.add_argument("--filler", type=int, default=300,
                        help="empty namespaces read between A and B (default 300)")
    parser.add_argument("--rooted", action="store_true",
                        help="give every namespace a veth to the root namespace (a container host's "
                             "shape: vethpeer then watches them all through root's socket)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_churn.py needs root (it creates namespaces)", file=sys.stderr)
        return 2
    world = World("vpc" + secrets.token_hex(2), args.filler, args.rooted)
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = args.src
    cmd = [sys.executable, "-m", "vethpeer", "list", "--json", "-q"]
    runs = 0
    seen = 0
    wrong: List[str] = []
    reasons: collections.Counter[str] = collections.Counter()
    flipper = threading.Thread(target=world.flip_forever, daemon=True)
    started = time.monotonic()
    try:
        world.build()
        flipper.start()
        while runs < args.runs and time.monotonic() - started < args.seconds:
            try:
                result = subprocess.run(cmd, capture_output=True, env=env, check=False,
                                        timeout=max(1.0, args.seconds - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                print(f"run {runs + 1} still running when --seconds ran out: stopped")
                break
            runs += 1
            if result.returncode != 0:
                print(f"run {runs}: exit {result.returncode}: {result.stderr.decode(errors='replace')[-300:]}")
                continue
            document = json.loads(result.stdout)
            for pair in document["pairs"]:
                a, b = world.key(pair["a"]), world.key(pair["b"])
                if a is None and b is None:
                    continue
                seen += 1
                if a is None or b is None or frozenset({a, b}) not in VALID:
                    wrong.append(f"run {runs}: {a} <-> {b}")
            for item in document["unresolved"]:
                if world.key(item["link"]) is not None:
                    reasons[item["reason"]] += 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        world.stop.set()
        if flipper.is_alive():
            flipper.join(timeout=30)
        world.remove()
    took = time.monotonic() - started
    print(f"{runs} runs in {took:.1f} s while the wiring flipped {world.flips} times "
          f"({args.src or 'installed vethpeer'})")
    print(f"pairs of ours reported: {seen}; wrong pairs: {len(wrong)}")
    for line in wrong[:20]:
        print(f"  {line}")
    print("unresolved ends of ours by reason: " + (", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "none"))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
