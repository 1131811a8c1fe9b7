"""What the watch's own sockets cost everyone else: why ``watcher.OWN_WATCHES_MAX`` is 64.

A watch keeps a subscribed rtnetlink socket inside each namespace with no pair to the root one
(root's socket may hear nothing of it). Every link change on the host makes the kernel walk every
socket subscribed to rtnetlink's groups, in every namespace, so each such socket slows every
change a little, whoever makes it. This builds bench_scale's hubless world (N namespaces wired in
pairs, nothing in root, so every one of them would want its own socket), and times, interleaved
round by round, 2000 renames of a veth in the root namespace by one ``ip -batch``: with no watch
socket, and with one socket in each of the N namespaces (``Signals.watch_namespaces`` with the
limit raised to N). It prints the medians, the ratio, and how long making the sockets took.

    sudo python bench/bench_watch_sockets.py                 # N = 1000, 3000
    sudo python bench/bench_watch_sockets.py --n 300 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from typing import List, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_scale import (  # the sibling script, found through the path set above
    Plan,
    _raise_interrupt,
    build,
    cleanup_uninterrupted,
    make_prefix,
    run_ip_batch,
)

RENAMES = 2000


def renames(prefix: str) -> float:
    """Seconds that one ``ip -batch`` takes to rename a root veth RENAMES times, back and forth."""
    a, b, other = f"{prefix}ra", f"{prefix}rb", f"{prefix}rc"
    made = run_ip_batch([f"link add {a} type veth peer name {other}"], force=False)
    if made.returncode != 0:
        raise RuntimeError(f"cannot make {a}: {made.stderr.strip()}")
    try:
        lines = [f"link set {a} name {b}" if i % 2 == 0 else f"link set {b} name {a}" for i in range(RENAMES)]
        started = time.perf_counter()
        result = run_ip_batch(lines, force=False)
        took = time.perf_counter() - started
        if result.returncode != 0:
            raise RuntimeError(f"renames failed: {result.stderr.strip()[:300]}")
        return took
    finally:
        run_ip_batch([f"link del {a}", f"link del {b}"], force=True)


def one_size(n: int, repeat: int) -> bool:
    from vethpeer import resolve, scanner, watcher

    plan = Plan(make_prefix(), n, shape="hubless")
    try:
        if not build(plan):
            return False
        reading = scanner.read_host()
        topology = resolve.resolve(reading.snapshot, reading.pairing)
        watcher.OWN_WATCHES_MAX = n + 10
        without: List[float] = []
        with_sockets: List[float] = []
        made: List[float] = []
        for _ in range(repeat):
            without.append(renames(plan.prefix))
            signals = watcher.Signals()
            try:
                started = time.perf_counter()
                signals.watch_namespaces(topology)
                made.append(time.perf_counter() - started)
                sockets = len(signals.own)
                with_sockets.append(renames(plan.prefix))
            finally:
                signals.close()
        plain, loaded = statistics.median(without), statistics.median(with_sockets)
        print(f"N={n}: {RENAMES} renames {plain * 1000:.0f} ms without, {loaded * 1000:.0f} ms with {sockets} "
              f"sockets ({loaded / plain:.2f}x, {(loaded - plain) / RENAMES * 1e6:.0f} us more a change); "
              f"making them {statistics.median(made) * 1000:.0f} ms (medians of {repeat})")
        return True
    finally:
        cleanup_uninterrupted(plan)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 3000], help="namespaces (default 1000 3000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per size (default 3)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root: it builds namespaces and veth pairs", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        ok = all([one_size(n, args.repeat) for n in args.n])
    except KeyboardInterrupt:
        return 130
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
