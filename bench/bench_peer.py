"""One question against the whole host: ``vethpeer peer``, ``show`` and ``trace`` against the seed's recipe.

Builds bench_scale's world (N pod-like namespaces, each ``eth0`` paired with a root veth on a bridge,
plus N/10 namespace-to-namespace pairs, so ifindexes collide everywhere) for each N asked, and
times, interleaved round by round so that every command sees the same machine:

- the recipe: ``ip netns exec POD ethtool -S eth0`` for ``peer_ifindex``, then ``ip -o link | grep``
  (one ``sh``; right here only because the root namespace is where the peer is);
- ``vethpeer peer eth0 --netns POD``, ``vethpeer peer HOSTVETH``, ``vethpeer show eth0 --netns POD``,
  ``vethpeer trace eth0 --netns POD``;
- ``vethpeer list --json``;
- ``vethpeer peer X --netns POD`` and ``vethpeer trace X --netns POD`` for an end of a pair between
  two pods (neither end in root: its namespace is found by the id the pod gives it).

Each round asks about another pod. It prints medians, ratios (to the recipe and to ``list``) and
peak RSS (through GNU time, ``/usr/bin/time``, where there is one: see ``measured``), and checks
every answer: the JSON forms of both ``peer`` questions against ``list
--json``'s pairs, and the text of every timed answer for the names it must show.

    sudo python bench/bench_peer.py                       # N = 1000, 3000, 10000
    sudo python bench/bench_peer.py --n 1000 --repeat 11
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_scale import (  # the sibling script, found through the path set above
    IFNAMSIZ,
    Plan,
    Run,
    Stats,
    _raise_interrupt,
    build,
    cleanup_uninterrupted,
    ensure_bytecode,
    make_prefix,
    run_once,
    stats,
    vethpeer_command,
)

#: Targets from issue 28 (2 cores).
RECIPE_BEATEN_AT = 1000
PEER_GROWTH_MAX = 1.2  # peer --netns at the largest N against its own time at the smallest
TARGETED_TO_LIST_MAX = 0.5
TARGETED_RSS_MB = 25.0

Check = Callable[[str, int], Optional[str]]

#: GNU time, to read a command's own peak RSS: a child forked from this (large) Python process
#: starts with its pages counted, so ``ru_maxrss`` from wait4 never reads below this process's own
#: size (measured: 18.5 MB for ``sh -c true``). Forked from ``time`` instead, it starts small.
GNU_TIME = "/usr/bin/time"


def measured(argv: List[str], out_path: str, err_path: str) -> Run:
    """Run ``argv`` (stdout and stderr to files): its wall time as seen from here, and its peak
    RSS as GNU time reports it (``ru_maxrss`` of the command itself)."""
    if not os.access(GNU_TIME, os.X_OK):
        return run_once(argv, out_path, err_path)
    rss_path = out_path + ".rss"
    run = run_once([GNU_TIME, "-f", "%M", "-o", rss_path, "--", *argv], out_path, err_path)
    try:
        with open(rss_path) as handle:
            kb = int(handle.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return run
    return Run(run.seconds, kb, run.returncode)


class Question:
    """One timed command, built for pod ``i``, and what its answer must show."""

    def __init__(self, name: str, argv: Callable[[int], List[str]], check: Check) -> None:
        self.name = name
        self.argv = argv
        self.check = check


def questions(plan: Plan) -> List[Question]:
    vp = vethpeer_command()

    def shows(*names: Callable[[int], str]) -> Check:
        def check(text: str, i: int) -> Optional[str]:
            missing = [name(i) for name in names if name(i) not in text]
            return f"does not show {', '.join(missing)}" if missing else None
        return check

    def cross(i: int) -> int:
        return i % max(1, plan.n_cross)

    def far(i: int) -> str:
        return plan.ns(cross(i) + plan.half)

    recipe = ("i=$(ip netns exec {ns} ethtool -S eth0 | sed -n 's/.*peer_ifindex: *//p'); "
              "ip -o link | grep \"^$i:\"")
    return [
        Question("recipe (ethtool + ip link | grep)", lambda i: ["sh", "-c", recipe.format(ns=plan.ns(i))],
                 shows(plan.host)),
        Question("peer eth0 --netns POD", lambda i: [*vp, "peer", "eth0", "--netns", plan.ns(i), "-q"],
                 shows(plan.host)),
        Question("peer HOSTVETH", lambda i: [*vp, "peer", plan.host(i), "-q"], shows(plan.ns)),
        Question("show eth0 --netns POD", lambda i: [*vp, "show", "eth0", "--netns", plan.ns(i), "-q"],
                 shows(plan.host)),
        Question("trace eth0 --netns POD", lambda i: [*vp, "trace", "eth0", "--netns", plan.ns(i), "-q"],
                 shows(plan.host, plan.bridge_of)),
        Question("list --json", lambda i: [*vp, "list", "--json", "-q"], shows(plan.host, plan.ns)),
        # A pair between two pods (x in pod j, y in pod j + N/2): neither end in root.
        Question("peer X --netns POD", lambda i: [*vp, "peer", plan.cross_a(cross(i)), "--netns", plan.ns(cross(i)),
                                                  "-q"], shows(lambda i: plan.cross_b(cross(i)), far)),
        Question("trace X --netns POD", lambda i: [*vp, "trace", plan.cross_a(cross(i)), "--netns",
                                                   plan.ns(cross(i)), "-q"], shows(far)),
    ]


def timed(plan: Plan, qs: List[Question], pods: List[int], workdir: str) -> Tuple[Dict[str, List[Run]], List[str]]:
    runs: Dict[str, List[Run]] = {q.name: [] for q in qs}
    problems: List[str] = []
    out_path, err_path = os.path.join(workdir, "out"), os.path.join(workdir, "err")
    for q in qs:  # warm-up, untimed: page cache, bytecode
        measured(q.argv(pods[0]), out_path, err_path)
    for k, i in enumerate(pods):
        line = []
        for q in qs:
            argv = q.argv(i)
            run = measured(argv, out_path, err_path)
            with open(out_path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
            if run.returncode != 0:
                with open(err_path, errors="replace") as handle:
                    problems.append(f"{q.name} (pod {i}) exited {run.returncode}: {handle.read()[-300:].strip()}")
            else:
                wrong = q.check(text, i)
                if wrong:
                    problems.append(f"{q.name} (pod {i}) {wrong}")
            runs[q.name].append(run)
            line.append(f"{run.seconds * 1000:.0f}")
        print(f"  round {k + 1}/{len(pods)} (pod {i}): " + " ".join(line) + " ms", flush=True)
    return runs, problems


def end(link: Dict[str, Any]) -> Tuple[str, str]:
    netns = link["netns"]
    return ("root" if netns["root"] else (netns.get("name") or str(netns["inode"])), link["ifname"])


def checked_against_list(plan: Plan, pods: List[int], workdir: str) -> List[str]:
    """Both ``peer`` questions' JSON answers against the pairs ``list --json`` gives."""
    vp = vethpeer_command()
    listed = subprocess.run([*vp, "list", "--json", "-q"], capture_output=True, text=True, check=False)
    peers: Dict[Tuple[str, str], Tuple[str, str]] = {}
    for pair in json.loads(listed.stdout)["pairs"]:
        a, b = end(pair["a"]), end(pair["b"])
        peers[a], peers[b] = b, a
    problems = []
    for i in sorted(set(pods)):
        for argv, asked in (([*vp, "peer", "eth0", "--netns", plan.ns(i), "--json", "-q"], (plan.ns(i), "eth0")),
                            ([*vp, "peer", plan.host(i), "--json", "-q"], ("root", plan.host(i)))):
            answer = subprocess.run(argv, capture_output=True, text=True, check=False)
            try:
                matches = json.loads(answer.stdout)["matches"]
                got = [(end(m["link"]), end(m["peer"]) if m["peer"] else None) for m in matches]
            except (ValueError, KeyError, TypeError):
                problems.append(f"{' '.join(argv[len(vp):])}: no JSON answer ({answer.stderr.strip()[-200:]})")
                continue
            if got != [(asked, peers.get(asked))]:
                problems.append(f"{' '.join(argv[len(vp):])}: {got} where list --json says {peers.get(asked)}")
    return problems


def report(n: int, runs: Dict[str, List[Run]]) -> Tuple[List[str], Dict[str, Tuple[Stats, Stats]]]:
    figures = {name: (stats([r.seconds for r in rs]), stats([r.maxrss_kb / 1024 for r in rs]))
               for name, rs in runs.items()}
    recipe = next(iter(figures.values()))[0].median
    listed = figures["list --json"][0].median
    lines = [f"N={n}: {'command':<36} {'median':>9} {'min':>9} {'x recipe':>9} {'x list':>7} {'peak RSS':>9}"]
    for name, (wall, rss) in figures.items():
        lines.append(f"{'':<{len(str(n)) + 4}}{name:<36} {wall.median * 1000:7.1f}ms {wall.low * 1000:7.1f}ms "
                     f"{wall.median / recipe:9.2f} {wall.median / listed:7.2f} {rss.median:7.1f}MB")
    return lines, figures


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def targets(by_n: Dict[int, Dict[str, Tuple[Stats, Stats]]]) -> List[str]:
    lines = ["Targets (issue 28, 2 cores):"]
    sizes = sorted(by_n)
    small, large = sizes[0], sizes[-1]
    peer = "peer eth0 --netns POD"
    recipe = "recipe (ethtool + ip link | grep)"
    if RECIPE_BEATEN_AT in by_n:
        f = by_n[RECIPE_BEATEN_AT]
        lines.append(f"  peer --netns faster than the recipe at N={RECIPE_BEATEN_AT}: "
                     f"{f[peer][0].median * 1000:.1f} against {f[recipe][0].median * 1000:.1f} ms: "
                     f"{verdict(f[peer][0].median < f[recipe][0].median)}")
    if large != small:
        growth = by_n[large][peer][0].median / by_n[small][peer][0].median
        lines.append(f"  peer --netns at N={large} within {PEER_GROWTH_MAX}x of N={small}: {growth:.2f}x: "
                     f"{verdict(growth <= PEER_GROWTH_MAX)}")
    for name in ("peer HOSTVETH", "show eth0 --netns POD", "trace eth0 --netns POD"):
        f = by_n[small]
        ratio = f[name][0].median / f["list --json"][0].median
        lines.append(f"  {name} <= {TARGETED_TO_LIST_MAX}x list at N={small}: {ratio:.2f}x: "
                     f"{verdict(ratio <= TARGETED_TO_LIST_MAX)}")
        if large != small:
            own = by_n[large][name][0].median / f[name][0].median
            whole = by_n[large]["list --json"][0].median / f["list --json"][0].median
            lines.append(f"    growth N={small} -> {large}: {own:.2f}x against list's {whole:.2f}x: "
                         f"{verdict(own < whole)}")
    rss = max(by_n[large][name][1].median for name in (peer, "peer HOSTVETH", "show eth0 --netns POD",
                                                        "trace eth0 --netns POD"))
    lines.append(f"  peak RSS of a targeted answer <= {TARGETED_RSS_MB:.0f} MB at N={large}: {rss:.1f} MB: "
                 f"{verdict(rss <= TARGETED_RSS_MB)}")
    return lines


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 3000, 10000],
                        help="world sizes, each built in turn (default 1000 3000 10000)")
    parser.add_argument("--repeat", type=int, default=7, help="rounds per size, each on another pod (default 7)")
    args = parser.parse_args(argv)
    if min(args.n) < 2 or args.repeat < 1:
        parser.error("--n must be at least 2 and --repeat at least 1")
    return args


def one_size(n: int, repeat: int) -> Tuple[Optional[Dict[str, Tuple[Stats, Stats]]], List[str], bool]:
    plan = Plan(make_prefix(), n)
    if plan.longest_ifname() > IFNAMSIZ:
        return None, [f"--n {n} makes interface names longer than {IFNAMSIZ} characters"], True
    print(f"prefix {plan.prefix}: building N={n} ...", flush=True)
    figures = None
    problems: List[str] = []
    try:
        if not build(plan):
            return None, ["build failed"], cleanup_uninterrupted(plan)
        pods = [random.randrange(n) for _ in range(repeat)]
        with tempfile.TemporaryDirectory(prefix="vethpeer-bench-") as workdir:
            qs = questions(plan)
            print("  columns: " + " | ".join(q.name for q in qs))
            runs, problems = timed(plan, qs, pods, workdir)
            problems += checked_against_list(plan, pods, workdir)
        lines, figures = report(n, runs)
        print("\n".join(lines), flush=True)
    finally:
        cleaned = cleanup_uninterrupted(plan)
    return figures, problems, cleaned


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench_peer.py needs root (it creates namespaces)", file=sys.stderr)
        return 2
    missing = [tool for tool in ("ip", "ethtool") if shutil.which(tool) is None]
    if missing:
        print(f"the recipe needs {', '.join(missing)}: apt-get install iproute2 ethtool", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_interrupt)
    ensure_bytecode()
    by_n: Dict[int, Dict[str, Tuple[Stats, Stats]]] = {}
    status = 0
    try:
        for n in args.n:
            figures, problems, cleaned = one_size(n, args.repeat)
            for problem in problems[:20]:
                print(f"  PROBLEM: {problem}")
            if problems or not cleaned:
                status = 1
            if figures is not None:
                by_n[n] = figures
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    if by_n:
        print("\n" + "\n".join(targets(by_n)))
        print(f"answers checked: {'all correct' if status == 0 else 'PROBLEMS above'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
