"""Benchmark for ``vethpeer graph`` and ``vethpeer trace`` on a host with many namespaces.

Rendering is pure (a snapshot in, text out), so the host is built once, saved with ``--save``, removed
again, and every timed run answers ``--load`` from that file: the figures are the graph's own cost
(interpreter start, loading and resolving the snapshot included), not the scan's (bench_scale.py
measures that).

What it builds: bench_scale.py's default shape (same code, same prefix rules, same cleanup): N
namespaces with an ``eth0`` whose peer is a port of one root bridge (per 1000), plus N/10
namespace-to-namespace pairs. Or pass ``--load FILE`` to time a snapshot you already have (no root
needed then).

What it measures, each as the median/min/max wall time of ``--repeat`` child processes after one
untimed warm-up:

* ``vethpeer --load SNAP graph --format dot`` (also ``mermaid`` and ``json``);
* ``vethpeer --load SNAP trace eth0 --netns <first namespace>``: a walk through the 1000-port bridge;
* in-process, once: load+resolve, graph build, DOT render, split out.

It checks the DOT: one node per non-loopback interface of the snapshot, one veth edge per pair.

    sudo .venv/bin/python bench/bench_graph.py --n 1000
    .venv/bin/python bench/bench_graph.py --load host.json --repeat 5

Exit codes: 0 measured and within target, 1 a check failed or a target was missed, 2 usage (not root
without --load), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from typing import List, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_scale  # the sibling script, found through the line above

TARGET_DOT_1000_S = 1.0


def timed(cmd: Sequence[str], repeat: int) -> List[float]:
    subprocess.run(cmd, capture_output=True, check=True)  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def show(what: str, times: List[float]) -> float:
    median = statistics.median(times)
    print(f"{what:<48} median {median:.3f} s  (min {min(times):.3f}, max {max(times):.3f}, n={len(times)})")
    return median


def save_host(n: int, path: str) -> Optional[str]:
    """Build bench_scale's host, save its snapshot to ``path``, remove it; the first namespace's name."""
    plan = bench_scale.Plan(bench_scale.make_prefix(), n)
    print(f"prefix {plan.prefix}: building N={n} namespaces ...", flush=True)
    try:
        if not bench_scale.build(plan):
            return None
        subprocess.run([*bench_scale.vethpeer_command(), "--save", path, "-q", "--json", "list"],
                       stdout=subprocess.DEVNULL, check=True)
    finally:
        bench_scale.cleanup_uninterrupted(plan)
    return plan.ns(0)


def in_process(path: str) -> None:
    from vethpeer import graph, resolve, snapshot
    from vethpeer.edges import is_loopback
    from vethpeer.render.graph import formats

    start = time.perf_counter()
    with open(path, encoding="utf-8") as handle:
        topology = resolve.resolve(snapshot.loads(handle.read()))
    loaded = time.perf_counter()
    built = graph.build(topology)
    drawn = time.perf_counter()
    text = formats()["dot"].render(built)
    done = time.perf_counter()
    print(f"in-process: load+resolve {loaded - start:.3f} s, graph build {drawn - loaded:.3f} s, "
          f"DOT render {done - drawn:.3f} s ({len(built.nodes)} nodes, {len(built.edges)} edges, "
          f"{len(text) / 1e6:.1f} MB)")
    links = sum(1 for link in topology.links.values() if not is_loopback(link))
    nodes = len(re.findall(r"^ +l_\d+_\d+_\d+ \[", text, re.M))
    veth = text.count("[dir=none")
    if nodes != links or veth != len(topology.pairs):
        raise SystemExit(f"DOT check FAILED: {nodes} interface nodes for {links} interfaces, "
                         f"{veth} veth edges for {len(topology.pairs)} pairs")
    print(f"DOT check: {nodes} interface nodes, {veth} veth edges, as in the snapshot")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="namespaces to build (default 1000)")
    parser.add_argument("--load", metavar="FILE", help="time this snapshot instead of building a host")
    parser.add_argument("--netns", metavar="NS", help="with --load: the namespace whose eth0 trace starts at")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    if args.load is None and os.geteuid() != 0:
        print("bench_graph.py builds namespaces: run it as root, or give --load FILE", file=sys.stderr)
        return 2
    bench_scale.ensure_bytecode()
    with tempfile.TemporaryDirectory(prefix="vethpeer-bench-graph-") as workdir:
        path = args.load or os.path.join(workdir, "host.json")
        first = args.netns
        if args.load is None:
            try:
                first = save_host(args.n, path)
            except KeyboardInterrupt:
                return 130
            if first is None:
                return 1
        size = os.path.getsize(path)
        print(f"snapshot {path}: {size / 1e6:.1f} MB")
        in_process(path)
        cmd = [*bench_scale.vethpeer_command(), "--load", path, "-q"]
        dot = show("graph --format dot", timed([*cmd, "graph", "--format", "dot"], args.repeat))
        show("graph --format mermaid", timed([*cmd, "graph", "--format", "mermaid"], args.repeat))
        show("graph --format json", timed([*cmd, "graph", "--format", "json"], args.repeat))
        show("list --json (for comparison)", timed([*cmd, "--json", "list"], args.repeat))
        if first:
            show(f"trace eth0 --netns {first}", timed([*cmd, "trace", "eth0", "--netns", first], args.repeat))
    verdict = "within" if dot < TARGET_DOT_1000_S else "OVER"
    print(f"graph --format dot: {dot:.3f} s, {verdict} the {TARGET_DOT_1000_S:.1f} s target for N=1000")
    return 0 if dot < TARGET_DOT_1000_S else 1


if __name__ == "__main__":
    sys.exit(main())
