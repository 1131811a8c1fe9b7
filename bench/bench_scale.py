"""Scale benchmark for ``vethpeer list --json``: wall time and peak RSS on a host with many namespaces.

What it builds (every name carries a random prefix such as ``vpb3f2a``, made at start):

* N network namespaces ``<prefix>n<i>``, each holding an ``eth0`` veth whose other end
  ``<prefix>h<i>`` sits in the root namespace, enslaved to the bridge ``<prefix>br0`` (a Linux bridge
  takes at most 1023 ports, so above N=1000 there is one bridge ``<prefix>br<k>`` per 1000 namespaces);
* N/10 namespace-to-namespace veth pairs, ``<prefix>x<i>`` in namespace i and ``<prefix>y<i>``
  in namespace i + N/2, for i < N/10.

All of it is created by one ``ip -batch -`` process and removed again in a ``finally`` block (also
on Ctrl-C or SIGTERM), after which the benchmark waits for the asynchronous namespace teardown and
deletes any leftover interface with the prefix. Nothing without the prefix is ever touched.

What it measures, in the same run and on the same host state:

* ``vethpeer list --json -q``: wall time (interpreter start included) of each run, measured with
  ``time.perf_counter`` around the child process, and the child's peak RSS (``ru_maxrss`` from
  ``os.wait4``); median, min and max over ``--repeat`` runs (default 5) after one untimed warm-up run;
* the iproute2 baseline: ``ip -j -d link show`` in the root namespace plus
  ``ip -all netns exec ip -j -d link show`` for every named namespace, timed together (default 3 runs);
* the ratio of the two medians.

The package's bytecode is compiled first (``python -m compileall -q`` on the installed package): a
normal ``pip install`` does that, while this environment may set PYTHONDONTWRITEBYTECODE=1, so timing
without it would measure the compiler. The JSON of the warm-up run is checked against what was built.

Run it as root with the interpreter that has vethpeer installed::

    sudo python bench/bench_scale.py --n 1000
    sudo /path/to/venv/bin/python bench/bench_scale.py --n 3000 --repeat 3
    sudo python bench/bench_scale.py --n 100 --repeat 2 --no-baseline

Exit codes: 0 all built pairs reported correctly and cleanup complete, 1 mismatches, a failed build
or an incomplete cleanup, 2 not root or vethpeer not importable, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Dict, List, NoReturn, Optional, Sequence, Tuple

IFNAMSIZ = 15  # longest interface name the kernel accepts
# A Linux bridge takes at most 1023 ports (BR_MAX_PORTS is 1024, port 0 is reserved; the 1024th
# enslave fails with EXFULL), so above N=1000 the host ends are spread over one bridge per 1000.
PORTS_PER_BRIDGE = 1000
CLEANUP_WAIT_S = 30.0  # how long to wait for asynchronous namespace teardown
POLL_S = 0.2
ROOT = "<root>"  # namespace key of the root namespace in the correctness check
MAX_LISTED = 20  # mismatches printed before "... and N more"

# Targets, as given for a 2-core machine.
TARGET_1000_WALL_S = 0.300
AIM_1000_WALL_S = 0.150
TARGET_SPEEDUP = 10.0
TARGET_RSS_MB = 40.0
TARGET_3000_WALL_S = 1.0

EndKey = Tuple[str, str]  # (namespace name or ROOT, ifname)


@dataclass(frozen=True)
class Plan:
    """Names of everything the benchmark builds, derived from one prefix."""

    prefix: str
    n: int
    #: "bridge": every namespace on a root bridge plus N/10 namespace pairs (the default);
    #: "hubless": N/2 namespace-to-namespace pairs wired identically, nothing in the root namespace.
    shape: str = "bridge"

    @property
    def n_bridges(self) -> int:
        if self.shape == "hubless":
            return 0
        return (self.n + PORTS_PER_BRIDGE - 1) // PORTS_PER_BRIDGE

    def bridge(self, k: int) -> str:
        return f"{self.prefix}br{k}"

    def bridge_of(self, i: int) -> str:
        """The bridge that namespace i's host-side veth is enslaved to."""
        return self.bridge(i // PORTS_PER_BRIDGE)

    def bridges(self) -> List[str]:
        return [self.bridge(k) for k in range(self.n_bridges)]

    @property
    def half(self) -> int:
        return self.n // 2

    @property
    def n_cross(self) -> int:
        return self.n // 10

    @property
    def n_pairs(self) -> int:
        if self.shape == "hubless":
            return self.n // 2
        return self.n + self.n_cross

    def ns(self, i: int) -> str:
        return f"{self.prefix}n{i}"

    def host(self, i: int) -> str:
        return f"{self.prefix}h{i}"

    def cross_a(self, i: int) -> str:
        return f"{self.prefix}x{i}"

    def cross_b(self, i: int) -> str:
        return f"{self.prefix}y{i}"

    def longest_ifname(self) -> int:
        last = self.n - 1
        names = [self.bridge(max(0, self.n_bridges - 1)), self.host(last), self.cross_a(last), self.cross_b(last)]
        return max(len(name) for name in names)


@dataclass(frozen=True)
class Run:
    seconds: float
    maxrss_kb: int
    returncode: int


@dataclass(frozen=True)
class Stats:
    median: float
    low: float
    high: float
    count: int

    def text(self, unit: str = "s", digits: int = 3) -> str:
        return (f"median {self.median:.{digits}f} {unit} (min {self.low:.{digits}f}, "
                f"max {self.high:.{digits}f}, {self.count} runs)")


# ----------------------------------------------------------------------------- host helpers


def _raise_interrupt(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt


def run_ip_batch(lines: Sequence[str], force: bool) -> subprocess.CompletedProcess[str]:
    """Run ``ip [-force] -batch -`` with one command a line."""
    cmd = ["ip", "-force", "-batch", "-"] if force else ["ip", "-batch", "-"]
    return subprocess.run(cmd, input="".join(line + "\n" for line in lines), text=True,
                          capture_output=True, check=False)


def root_links() -> List[str]:
    """Names of all interfaces in the root namespace."""
    out = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, check=True).stdout
    return [link["ifname"] for link in json.loads(out or "[]")]


def netns_names() -> List[str]:
    """Names of all named network namespaces (as ``ip netns list`` shows them)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def with_prefix(names: Sequence[str], prefix: str) -> List[str]:
    return [name for name in names if name.startswith(prefix)]


def make_prefix() -> str:
    """A short random prefix that no existing interface or namespace starts with."""
    taken = root_links() + netns_names()
    for _ in range(20):
        prefix = "vpb" + secrets.token_hex(2)
        if not with_prefix(taken, prefix):
            return prefix
    raise RuntimeError("could not find an unused name prefix")


# ----------------------------------------------------------------------------- build / cleanup


def build_commands(plan: Plan) -> List[str]:
    if plan.shape == "hubless":
        # Every pair has the same ifindexes (2 and 2) and the same relative nsids (0 and 0), and no
        # namespace knows another beyond its partner: no hub can tell the pairs apart.
        lines = [f"netns add {plan.ns(i)}" for i in range(plan.n)]
        lines += [f"link add eth1 netns {plan.ns(2 * i)} type veth peer name eth1 netns {plan.ns(2 * i + 1)}"
                  for i in range(plan.n // 2)]
        return lines
    lines = [f"link add {bridge} type bridge" for bridge in plan.bridges()]
    for i in range(plan.n):
        lines.append(f"netns add {plan.ns(i)}")
        lines.append(f"link add {plan.host(i)} type veth peer name eth0 netns {plan.ns(i)}")
        lines.append(f"link set {plan.host(i)} master {plan.bridge_of(i)}")
    for i in range(plan.n_cross):
        lines.append(f"link add {plan.cross_a(i)} netns {plan.ns(i)} type veth "
                     f"peer name {plan.cross_b(i)} netns {plan.ns(i + plan.half)}")
    return lines


def build(plan: Plan) -> bool:
    lines = build_commands(plan)
    start = time.perf_counter()
    result = run_ip_batch(lines, force=False)
    took = time.perf_counter() - start
    if result.returncode != 0:
        print(f"build FAILED after {took:.1f} s (ip -batch exit {result.returncode}): "
              f"{result.stderr.strip()[:500]}", file=sys.stderr)
        return False
    print(f"built {plan.n} namespaces, {plan.n_pairs} veth pairs and {plan.n_bridges} bridge(s) "
          f"{', '.join(plan.bridges())} in {took:.1f} s ({len(lines)} commands, one ip -batch)")
    return True


def wait_for_root_links_gone(prefix: str, timeout: float) -> List[str]:
    """Poll until no root-namespace interface carries the prefix; return what is left."""
    deadline = time.monotonic() + timeout
    while True:
        left = with_prefix(root_links(), prefix)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(POLL_S)


def cleanup(plan: Plan) -> bool:
    """Remove every namespace and interface carrying the plan's prefix. True if nothing is left."""
    start = time.perf_counter()
    namespaces = with_prefix(netns_names(), plan.prefix)
    lines = [f"netns del {name}" for name in namespaces]
    present = set(root_links())
    lines += [f"link del {bridge}" for bridge in plan.bridges() if bridge in present]
    if lines:
        result = run_ip_batch(lines, force=True)
        if result.returncode != 0:
            print(f"cleanup: ip -batch exit {result.returncode}: {result.stderr.strip()[:300]}",
                  file=sys.stderr)
    deleted = time.perf_counter() - start
    left = wait_for_root_links_gone(plan.prefix, CLEANUP_WAIT_S)
    gone = time.perf_counter() - start
    if left:
        print(f"cleanup: {len(left)} interfaces with prefix {plan.prefix} still present after "
              f"{CLEANUP_WAIT_S:.0f} s; deleting them explicitly", file=sys.stderr)
        run_ip_batch([f"link del {name}" for name in left], force=True)
        left = wait_for_root_links_gone(plan.prefix, 5.0)
    left_ns = with_prefix(netns_names(), plan.prefix)
    if left_ns:
        run_ip_batch([f"netns del {name}" for name in left_ns], force=True)
        left_ns = with_prefix(netns_names(), plan.prefix)
    print(f"cleanup: deleted {len(namespaces)} namespaces in {deleted:.1f} s; root-namespace interfaces "
          f"with the prefix gone after {gone:.1f} s")
    if left or left_ns:
        print(f"cleanup INCOMPLETE: interfaces {left[:10]} namespaces {left_ns[:10]} remain "
              f"(prefix {plan.prefix})", file=sys.stderr)
        return False
    return True


def cleanup_uninterrupted(plan: Plan) -> bool:
    """Run cleanup with SIGINT/SIGTERM ignored, so a second Ctrl-C cannot leave half of it behind."""
    old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    old_term = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        return cleanup(plan)
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


# ----------------------------------------------------------------------------- timing


def ensure_bytecode() -> None:
    import vethpeer

    pkg_dir = os.path.dirname(vethpeer.__file__)
    subprocess.run([sys.executable, "-m", "compileall", "-q", pkg_dir], check=True)
    print(f"bytecode: ran python -m compileall -q {pkg_dir} (as pip install would), so no run pays "
          f"for compiling")


def vethpeer_command() -> List[str]:
    script = os.path.join(os.path.dirname(sys.executable), "vethpeer")
    if os.access(script, os.X_OK):
        return [script]
    return [sys.executable, "-m", "vethpeer"]


def run_once(cmd: Sequence[str], out_path: str, err_path: str) -> Run:
    """Run cmd with stdout/stderr to files; wall time around the child and its peak RSS."""
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: tell Popen
    return Run(seconds, usage.ru_maxrss, proc.returncode)


def check_ok(run: Run, cmd: Sequence[str], err_path: str) -> None:
    if run.returncode != 0:
        with open(err_path, errors="replace") as err:
            tail = err.read()[-500:]
        raise RuntimeError(f"{' '.join(cmd)} exited {run.returncode}: {tail.strip()}")


def stats(values: Sequence[float]) -> Stats:
    return Stats(statistics.median(values), min(values), max(values), len(values))


def time_compare(repeat: int, workdir: str, other_src: str) -> Tuple[List[Run], List[Run]]:
    """This tree against another source tree, in the same run, runs interleaved so that both see
    the same machine load. Both run as ``python -m vethpeer`` with PYTHONPATH at their src."""
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    subprocess.run([sys.executable, "-m", "compileall", "-q", here, other_src], check=True)
    cmd = [sys.executable, "-m", "vethpeer", "list", "--json", "-q"]
    envs = {"this": dict(os.environ, PYTHONPATH=here), "other": dict(os.environ, PYTHONPATH=other_src)}
    runs: Dict[str, List[Run]] = {"this": [], "other": []}
    err_path = os.path.join(workdir, "compare.err")
    for env in envs.values():  # warm-up, untimed
        subprocess.run(cmd, env=env, capture_output=True, check=False)
    for k in range(repeat):
        for name, env in envs.items():
            out_path = os.path.join(workdir, f"compare-{name}.json")
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                start = time.perf_counter()
                proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
                _, status, usage = os.wait4(proc.pid, 0)
                seconds = time.perf_counter() - start
            runs[name].append(Run(seconds, usage.ru_maxrss, os.waitstatus_to_exitcode(status)))
        print(f"  round {k + 1}/{repeat}: this {runs['this'][-1].seconds:.3f} s, "
              f"other {runs['other'][-1].seconds:.3f} s")
    return runs["this"], runs["other"]


def time_vethpeer(repeat: int, workdir: str) -> Tuple[List[Run], str, Run]:
    """Warm-up run (its output is kept for the correctness check), then `repeat` timed runs."""
    cmd = [*vethpeer_command(), "list", "--json", "-q"]
    print(f"vethpeer: {' '.join(cmd)}")
    out_path = os.path.join(workdir, "vethpeer-warmup.json")
    err_path = os.path.join(workdir, "vethpeer.err")
    warm = run_once(cmd, out_path, err_path)
    check_ok(warm, cmd, err_path)
    print(f"  warm-up run (untimed): {warm.seconds:.3f} s, peak RSS {warm.maxrss_kb / 1024:.1f} MB")
    runs = []
    for k in range(repeat):
        run = run_once(cmd, os.path.join(workdir, "vethpeer.json"), err_path)
        check_ok(run, cmd, err_path)
        print(f"  run {k + 1}/{repeat}: {run.seconds:.3f} s, peak RSS {run.maxrss_kb / 1024:.1f} MB")
        runs.append(run)
    return runs, out_path, warm


def time_ip_loop(repeat: int, workdir: str) -> List[float]:
    """The iproute2 way: root namespace, then every named namespace through ip -all netns exec."""
    root_cmd = ["ip", "-j", "-d", "link", "show"]
    all_cmd = ["ip", "-all", "netns", "exec", "ip", "-j", "-d", "link", "show"]
    print(f"baseline: {' '.join(root_cmd)} + {' '.join(all_cmd)}")
    err_path = os.path.join(workdir, "ip.err")
    times = []
    for k in range(repeat):
        first = run_once(root_cmd, os.path.join(workdir, "ip-root.json"), err_path)
        check_ok(first, root_cmd, err_path)
        rest = run_once(all_cmd, os.path.join(workdir, "ip-all.txt"), err_path)
        check_ok(rest, all_cmd, err_path)
        total = first.seconds + rest.seconds
        print(f"  run {k + 1}/{repeat}: {total:.3f} s (root {first.seconds:.3f} s)")
        times.append(total)
    return times


# ----------------------------------------------------------------------------- correctness


def end_key(link: Dict[str, Any]) -> EndKey:
    netns = link["netns"]
    if netns.get("root"):
        return (ROOT, link["ifname"])
    return (netns.get("name") or f"inode:{netns.get('inode')}", link["ifname"])


def expected_pairs(plan: Plan) -> List[Tuple[EndKey, EndKey]]:
    if plan.shape == "hubless":
        return [((plan.ns(2 * i), "eth1"), (plan.ns(2 * i + 1), "eth1")) for i in range(plan.n // 2)]
    pairs = [((plan.ns(i), "eth0"), (ROOT, plan.host(i))) for i in range(plan.n)]
    pairs += [((plan.ns(i), plan.cross_a(i)), (plan.ns(i + plan.half), plan.cross_b(i)))
              for i in range(plan.n_cross)]
    return pairs


def is_ours(key: EndKey, prefix: str) -> bool:
    return key[0].startswith(prefix) or key[1].startswith(prefix)


def fmt(key: EndKey) -> str:
    return f"{key[1]}@{'root' if key[0] == ROOT else key[0]}"


def check_pairs(plan: Plan, doc: Dict[str, Any]) -> List[str]:
    """Every built pair present exactly once, as built; host ends on the bridge; none unresolved."""
    seen: Dict[EndKey, List[EndKey]] = {}
    links: Dict[EndKey, Dict[str, Any]] = {}
    for pair in doc.get("pairs", []):
        ka, kb = end_key(pair["a"]), end_key(pair["b"])
        if not (is_ours(ka, plan.prefix) or is_ours(kb, plan.prefix)):
            continue
        seen.setdefault(ka, []).append(kb)
        seen.setdefault(kb, []).append(ka)
        links[ka], links[kb] = pair["a"], pair["b"]
    problems: List[str] = []
    expected = expected_pairs(plan)
    for a, b in expected:
        for end, other in ((a, b), (b, a)):
            found = seen.get(end, [])
            if found != [other]:
                what = "missing" if not found else "paired with " + ", ".join(fmt(k) for k in found)
                problems.append(f"{fmt(end)}: {what}; expected {fmt(other)}")
                break
    for i in range(plan.n if plan.shape == "bridge" else 0):
        host = links.get((ROOT, plan.host(i)))
        want = plan.bridge_of(i)
        if host is not None and host.get("master") != want:
            problems.append(f"{plan.host(i)}@root: master {host.get('master')!r}, expected {want!r}")
    built = {end for pair in expected for end in pair}
    problems += [f"unexpected pair end {fmt(k)} <-> {', '.join(fmt(o) for o in v)}"
                 for k, v in seen.items() if k not in built]
    problems += [f"{fmt(end_key(item['link']))}: in unresolved ({item.get('reason')})"
                 for item in doc.get("unresolved", []) if end_key(item["link"]) in built]
    return problems


def check_output(plan: Plan, path: str) -> List[str]:
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        return [f"could not read vethpeer JSON: {exc}"]
    if doc.get("version") != 1:
        return [f"unexpected JSON version {doc.get('version')!r}"]
    warnings = doc.get("warnings", [])
    print(f"vethpeer reported {len(doc.get('pairs', []))} pairs in total, {len(doc.get('unresolved', []))} "
          f"unresolved, {len(warnings)} warnings" + (f": {warnings[:3]}" if warnings else ""))
    return check_pairs(plan, doc)


# ----------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def target_lines(n: int, wall: float, rss_mb: float, speedup: Optional[float]) -> List[str]:
    lines = [f"Targets (2 cores; this machine has {os.cpu_count()}): "
             f"N=1000 < {TARGET_1000_WALL_S:.3f} s wall "
             f"(aim {AIM_1000_WALL_S:.3f}), >= {TARGET_SPEEDUP:.0f}x faster than the ip loop, "
             f"< {TARGET_RSS_MB:.0f} MB RSS; N=3000 < {TARGET_3000_WALL_S:.0f} s"]
    sp = "not measured (--no-baseline)" if speedup is None else verdict(speedup >= TARGET_SPEEDUP)
    if n == 1000:
        lines += [f"  N=1000 wall < {TARGET_1000_WALL_S:.3f} s: {verdict(wall < TARGET_1000_WALL_S)}; "
                  f"aim {AIM_1000_WALL_S:.3f} s: {verdict(wall < AIM_1000_WALL_S)}",
                  f"  N=1000 speed-up >= {TARGET_SPEEDUP:.0f}x: {sp}",
                  f"  N=1000 peak RSS < {TARGET_RSS_MB:.0f} MB: {verdict(rss_mb < TARGET_RSS_MB)}"]
    elif n == 3000:
        lines += [f"  N=3000 wall < {TARGET_3000_WALL_S:.0f} s: {verdict(wall < TARGET_3000_WALL_S)}",
                  f"  (N=1000 thresholds, for reference: speed-up >= {TARGET_SPEEDUP:.0f}x {sp}; "
                  f"RSS < {TARGET_RSS_MB:.0f} MB {verdict(rss_mb < TARGET_RSS_MB)})"]
    else:
        lines.append(f"  no target is defined for N={n}; run with --n 1000 or --n 3000 to evaluate them")
    return lines


def summary(plan: Plan, vp: Stats, rss: Stats, ip: Optional[Stats], problems: Optional[List[str]]) -> str:
    speedup = ip.median / vp.median if ip is not None else None
    lines = [f"N={plan.n} namespaces, {plan.n_pairs} pairs built",
             f"vethpeer list --json: {vp.text()}, peak RSS {rss.median:.1f} MB "
             f"(median; min {rss.low:.1f}, max {rss.high:.1f})"]
    if ip is not None and speedup is not None:
        lines += [f"ip -all netns exec ip -j -d link show: {ip.text()}", f"speed-up: {speedup:.1f}x"]
    else:
        lines.append("ip -all netns exec ip -j -d link show: skipped (--no-baseline)")
    if problems is not None:
        lines.append(f"correctness: all {plan.n_pairs} pairs correct" if not problems
                     else f"correctness: {len(problems)} MISMATCHES")
    lines += target_lines(plan.n, vp.median, rss.median, speedup)
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=1000, help="namespaces to build (default 1000)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed runs of each command (default 5 for vethpeer, 3 for the ip loop)")
    parser.add_argument("--keep", action="store_true", help="do not clean up (debugging); prints the prefix")
    parser.add_argument("--no-baseline", action="store_true", help="skip the slow ip -all netns exec loop")
    parser.add_argument("--shape", choices=("bridge", "hubless"), default="bridge",
                        help="bridge: every namespace on a root bridge plus N/10 namespace pairs (default); "
                             "hubless: N/2 identically wired namespace pairs and nothing else")
    parser.add_argument("--compare", metavar="SRC",
                        help="also time another source tree (its src/ directory) in the same run, "
                             "interleaved with this one, e.g. a checkout of an earlier commit")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def measure(plan: Plan, args: argparse.Namespace, workdir: str) -> Tuple[str, Optional[List[str]]]:
    ensure_bytecode()
    runs, out_path, _ = time_vethpeer(args.repeat or 5, workdir)
    problems = check_output(plan, out_path)
    if problems:
        print(f"{len(problems)} mismatches:")
        for line in problems[:MAX_LISTED]:
            print(f"  {line}")
        if len(problems) > MAX_LISTED:
            print(f"  ... and {len(problems) - MAX_LISTED} more")
    else:
        print(f"all {plan.n_pairs} pairs correct")
    if args.compare:
        this, other = time_compare(args.repeat or 5, workdir, args.compare)
        a, b = stats([r.seconds for r in this]), stats([r.seconds for r in other])
        print(f"compare: this tree {a.text()}\n         {args.compare} {b.text()}\n"
              f"         ratio of medians {a.median / b.median:.3f}")
    ip = None if args.no_baseline else stats(time_ip_loop(args.repeat or 3, workdir))
    vp = stats([run.seconds for run in runs])
    rss = stats([run.maxrss_kb / 1024 for run in runs])
    return summary(plan, vp, rss, ip, problems), problems


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench_scale.py needs root (it creates namespaces); run: sudo python bench/bench_scale.py",
              file=sys.stderr)
        return 2
    try:
        import vethpeer  # noqa: F401
    except ImportError:
        print(f"vethpeer is not importable by {sys.executable}; run with the venv's python", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_interrupt)
    plan = Plan(make_prefix(), args.n, args.shape)
    if plan.longest_ifname() > IFNAMSIZ:
        print(f"--n {args.n} makes interface names longer than {IFNAMSIZ} characters", file=sys.stderr)
        return 2
    print(f"prefix {plan.prefix}: building N={plan.n} namespaces ...", flush=True)
    result: Optional[Tuple[str, Optional[List[str]]]] = None
    status = 1
    cleaned = True
    try:
        if build(plan):
            with tempfile.TemporaryDirectory(prefix="vethpeer-bench-") as workdir:
                result = measure(plan, args, workdir)
            status = 1 if result[1] else 0
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        status = 130
    finally:
        if args.keep:
            print(f"--keep: left everything in place; prefix {plan.prefix} (namespaces {plan.ns(0)}..., "
                  f"bridges {', '.join(plan.bridges())})")
        else:
            cleaned = cleanup_uninterrupted(plan)
    if result is not None:
        print("\n" + result[0])
    if not cleaned and status == 0:
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
