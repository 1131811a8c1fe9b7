"""Latency of every watch event kind on a quiet host, and right after each other kind (issue 25).

Used by bench_watch.py (``--probes ROUNDS``, ``--probes-only``). Each round makes one change on a
quiet host (nothing changed for ``gap`` seconds and every earlier event already read), then at once,
without waiting, a second one, often to the same device (a move then a rename of the moved end; a
new pair then a move of one of its ends). For each change the latency is from just before its
``ip`` command started to the bench reading the watcher's line for it: the first change's is
filed under "after quiet", the second's under the kind of the change before it.

The changes, each made with one ``ip`` command (names carry the bench's prefix, so its cleanup
removes whatever a failed run leaves):

==================  ===========================================================================
pair-appeared       a new veth between two of the bench's namespaces (root has no nsid for
                    such a pair until something links them), or between root and one
pair-vanished       a probe pair deleted
end-moved           a probe end moved to another of the bench's namespaces (or root)
end-renamed         a probe end renamed
master-changed      a probe end in root plugged into the probe bridge, or out of it
master-renamed      the probe bridge renamed (it has a probe end as a port)
netns-appeared      ``ip netns add``
netns-vanished      ``ip netns del`` of such a namespace
end-unresolved      ``ip netns del`` of a namespace the bench still holds with a socket: its
                    root end's peer is in a namespace no one can name
end-resolved        that namespace bind-mounted under /run/netns again (from the socket's
                    SIOCGSKNS)
end-vanished        that unresolved root end deleted
==================  ===========================================================================
"""

from __future__ import annotations

import ctypes
import os
import random
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

CLONE_NEWNET = 0x40000000
SIOCGSKNS = 0x894C
QUIET = "after quiet"
#: How long one event may take before it counts as missed (well past the 5 s safety rescan).
WAIT_S = 15.0
#: How long after one change's line the other's may still come (a late event shows as missed).
LINGER_S = 3.0
KINDS = ("pair-appeared", "pair-vanished", "end-moved", "end-renamed", "master-changed", "master-renamed",
         "netns-appeared", "netns-vanished", "end-unresolved", "end-resolved", "end-vanished")

Matcher = Callable[[Dict[str, Any]], bool]
#: Changes that undo each other: made to one thing and seen by one scan, they are no event at all.
INVERSE = ({"netns-appeared", "netns-vanished"}, {"master-changed"}, {"end-resolved", "end-unresolved"},
           {"pair-appeared", "pair-vanished"}, {"end-moved"})


def _names(doc: Dict[str, Any]) -> List[Optional[str]]:
    out = [doc[key].get("ifname") for key in ("a", "b", "link") if isinstance(doc.get(key), dict)]
    if isinstance(doc.get("netns"), dict):
        out.append(doc["netns"].get("name"))
    return out


def expect(kind: str, *names: str) -> Matcher:
    wanted = set(names)
    return lambda doc: doc.get("event") == kind and bool(wanted.intersection(_names(doc)))


@dataclass
class Change:
    kind: str
    matcher: Matcher
    started: float = 0.0
    index: int = 0  # how many lines the watcher had printed when the command started
    command: str = ""
    #: The ends it touched, by every name they had: two changes to one end that one scan sees
    #: are one event for the end state (a new pair moved at once is a pair-appeared where it
    #: went; a moved pair deleted at once only vanishes).
    ends: Set[str] = field(default_factory=set)


@dataclass
class Results:
    #: (kind, what came just before it: QUIET or a kind) -> latencies in seconds
    latencies: Dict[Tuple[str, str], List[float]] = field(default_factory=dict)
    missed: List[Tuple[str, str]] = field(default_factory=list)
    superseded: List[Tuple[str, str]] = field(default_factory=list)
    cancelled: List[Tuple[str, str]] = field(default_factory=list)
    #: For each missed change: its command and the lines the watcher printed in its window.
    missed_detail: List[str] = field(default_factory=list)
    failed: List[str] = field(default_factory=list)
    rounds: int = 0

    def add(self, kind: str, before: str, value: Optional[float]) -> None:
        if value is None:
            self.missed.append((kind, before))
        else:
            self.latencies.setdefault((kind, before), []).append(value)


class Lines:
    """What the watcher printed: the list its reader thread appends lines (``.doc``, ``.read_at``:
    the parsed object or None, the time.time() the bench read it) to."""

    def __init__(self, lines: List[Any]) -> None:
        self.lines = lines

    def count(self) -> int:
        return len(self.lines)

    def find(self, change: Change) -> Optional[float]:
        """When the line for ``change`` was read (time.time()), None if it has not come yet."""
        for line in self.lines[change.index:]:
            if line.doc is not None and change.matcher(line.doc):
                return float(line.read_at)
        return None

    def wait(self, changes: Sequence[Change]) -> Dict[int, Optional[float]]:
        """When each change's line was read (by ``id``), waiting until every one has come, or
        ``LINGER_S`` after the last that came, or ``WAIT_S`` after the first change if none has."""
        found: Dict[int, Optional[float]] = {id(change): None for change in changes}
        last = None
        give_up = min(change.started for change in changes) + WAIT_S
        while True:
            for change in changes:
                if found[id(change)] is None:
                    found[id(change)] = self.find(change)
                    if found[id(change)] is not None:
                        last = time.time()
            now = time.time()
            if all(v is not None for v in found.values()) or now > give_up \
                    or (last is not None and now - last > LINGER_S):
                return found
            time.sleep(0.005)


    def mentions(self, index: int, names: Set[str]) -> Optional[float]:
        """When the first line printed since ``index`` that names any of ``names`` (an end, a
        namespace) was read; None if none does."""
        for line in self.lines[index:]:
            if line.doc is not None and names.intersection(_names(line.doc)):
                return float(line.read_at)
        return None


class Hidden:
    """A namespace only the bench's socket holds: made, hidden (``ip netns del``), shown again."""

    def __init__(self) -> None:
        self.sock: Optional[socket.socket] = None

    def hold(self, path: str) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        made: List[socket.socket] = []
        errors: List[str] = []

        def inside() -> None:  # setns moves only this thread
            fd = os.open(path, os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    errors.append(os.strerror(ctypes.get_errno()))
                    return
            finally:
                os.close(fd)
            made.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))

        thread = threading.Thread(target=inside)
        thread.start()
        thread.join()
        if errors or not made:
            raise RuntimeError(f"could not hold {path}: {errors}")
        self.sock = made[0]

    def bind(self, target: str) -> None:
        """Bind-mount the held namespace at ``target`` (an ``ip netns`` name's file)."""
        import fcntl

        assert self.sock is not None
        fd = fcntl.ioctl(self.sock.fileno(), SIOCGSKNS)
        try:
            open(target, "w").close()
            done = subprocess.run(["mount", "--bind", f"/proc/self/fd/{fd}", target], check=False,
                                  capture_output=True, text=True, pass_fds=(fd,))
            if done.returncode != 0:
                raise RuntimeError(f"mount --bind of the held namespace at {target}: {done.stderr.strip()}")
        finally:
            os.close(fd)

    def release(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Probes:
    """The probe objects and the changes that can be made to them now."""

    def __init__(self, prefix: str, spaces: Sequence[str], rng: random.Random) -> None:
        self.prefix, self.spaces, self.rng = prefix, list(spaces), rng
        self.counter = 0
        self.where: Dict[str, Optional[str]] = {}  # probe end -> its namespace (None: root)
        self.peer: Dict[str, str] = {}
        self.plugged: Dict[str, bool] = {}
        self.bridge = self.fresh("b")
        self.made_ns: List[str] = []
        self.hidden = Hidden()
        self.hidden_end: Optional[str] = None  # the root end whose peer is in the hidden namespace
        self.hidden_ns: Optional[str] = None  # its /run/netns name, while it has one
        self.hidden_state = "none"  # none, shown, hidden, revealed
        self.last_end: Optional[str] = None
        self.last_command = ""
        #: Every name an end had (a pair deleted right after a rename vanishes under the old one).
        self.aliases: Dict[str, Set[str]] = {}

    def fresh(self, letter: str) -> str:
        self.counter += 1
        return f"{self.prefix}p{letter}{self.counter}"

    # -- running ip ---------------------------------------------------------------------------------
    def ip(self, netns: Optional[str], *args: str) -> None:
        cmd = ["ip", *(["-n", netns] if netns else []), *args]
        self.last_command = " ".join(cmd)
        result = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {result.stderr.strip()}")

    def setup(self) -> None:
        self.ip(None, "link", "add", self.bridge, "type", "bridge")
        # A root end on the bridge from the start, so the bridge can always be renamed.
        end = self._pair(None, self.spaces[0])
        self.ip(None, "link", "set", end, "master", self.bridge)
        self.plugged[end] = True

    def _pair(self, a_ns: Optional[str], b_ns: Optional[str]) -> str:
        a, b = self.fresh("e"), self.fresh("e")
        args = ["link", "add", a, "type", "veth", "peer", "name", b]
        if b_ns != a_ns:
            args += ["netns", b_ns or "1"]
        self.ip(a_ns, *args)
        self.where[a], self.where[b] = a_ns, b_ns
        self.peer[a], self.peer[b] = b, a
        self.plugged[a] = self.plugged[b] = False
        self.last_end = b
        return a

    def _forget(self, end: str) -> None:
        for table in (self.where, self.peer, self.plugged, self.aliases):
            table.pop(end, None)
        if self.last_end == end:
            self.last_end = None

    def _end(self, same: bool, where: Optional[Callable[[str], bool]] = None) -> Optional[str]:
        ends = [e for e in self.where if where is None or where(e)]
        if same and self.last_end in ends:
            return self.last_end
        # The end that keeps the bridge busy stays: a bridge rename needs a port.
        ends = [e for e in ends if not (self.plugged[e] and sum(self.plugged.values()) == 1)]
        return self.rng.choice(ends) if ends else None

    # -- the changes: each returns what to wait for, or None when it cannot be made now ---------------
    def new_pair(self, same: bool) -> Optional[Change]:
        if len(self.where) > 40:
            return None
        a_ns, b_ns = self.rng.sample([None, *self.spaces], 2)
        a = self._pair(a_ns, b_ns)
        return Change("pair-appeared", expect("pair-appeared", a), ends={a, self.peer[a]})

    def delete(self, same: bool) -> Optional[Change]:
        end = self._end(same, lambda e: not self.plugged[e] and e != self.hidden_end)
        if end is None or len(self.where) < 6:
            return None
        self.ip(self.where[end], "link", "del", end)
        peer = self.peer[end]
        names = self.aliases.get(end, {end}) | self.aliases.get(peer, {peer})
        self._forget(end)
        self._forget(peer)
        return Change("pair-vanished", expect("pair-vanished", *names), ends=names)

    def move(self, same: bool) -> Optional[Change]:
        end = self._end(same, lambda e: e != self.hidden_end)
        if end is None:
            return None
        there = self.rng.choice([s for s in [None, *self.spaces] if s != self.where[end]])
        self.ip(self.where[end], "link", "set", end, "netns", there or "1")
        self.where[end], self.plugged[end] = there, False
        self.last_end = end
        return Change("end-moved", expect("end-moved", end), ends={end})

    def rename(self, same: bool) -> Optional[Change]:
        end = self._end(same)
        if end is None:
            return None
        new = self.fresh("e")
        self.ip(self.where[end], "link", "set", end, "name", new)
        self.where[new] = self.where.pop(end)
        self.peer[new] = self.peer.pop(end)
        self.plugged[new] = self.plugged.pop(end)
        self.aliases[new] = self.aliases.pop(end, {end}) | {new}
        if self.peer[new]:  # "" for the hidden end: its peer is in no namespace the bench can name
            self.peer[self.peer[new]] = new
        if self.hidden_end == end:
            self.hidden_end = new
        self.last_end = new
        return Change("end-renamed", expect("end-renamed", new), ends={end, new})

    def plug(self, same: bool) -> Optional[Change]:
        end = self._end(same, lambda e: self.where[e] is None)
        if end is None:
            return None
        if self.plugged[end]:
            self.ip(None, "link", "set", end, "nomaster")
        else:
            self.ip(None, "link", "set", end, "master", self.bridge)
        self.plugged[end] = not self.plugged[end]
        self.last_end = end
        return Change("master-changed", expect("master-changed", end), ends={end})

    def rename_bridge(self, same: bool) -> Optional[Change]:
        if not any(self.plugged.values()):
            return None
        new, old = self.fresh("b"), self.bridge
        self.ip(None, "link", "set", self.bridge, "name", new)
        self.bridge = new
        return Change("master-renamed", expect("master-renamed", new), ends={old, new})

    def add_netns(self, same: bool) -> Optional[Change]:
        if len(self.made_ns) > 5:
            return None
        name = self.fresh("n")
        self.ip(None, "netns", "add", name)
        self.made_ns.append(name)
        return Change("netns-appeared", expect("netns-appeared", name), ends={name})

    def del_netns(self, same: bool) -> Optional[Change]:
        if not self.made_ns:
            return None
        name = self.made_ns.pop(self.rng.randrange(len(self.made_ns)))
        self.ip(None, "netns", "del", name)
        return Change("netns-vanished", expect("netns-vanished", name), ends={name})

    def hide(self, same: bool) -> Optional[Change]:
        """A root end whose peer's namespace only the bench's socket holds: made (not timed), then
        the namespace's name deleted (timed: end-unresolved)."""
        if self.hidden_state == "none":
            name = self.fresh("h")
            self.ip(None, "netns", "add", name)
            end = self.fresh("e")
            self.ip(None, "link", "add", end, "type", "veth", "peer", "name", self.fresh("e"), "netns", name)
            self.hidden.hold(f"/run/netns/{name}")
            self.hidden_end, self.hidden_ns, self.hidden_state = end, name, "shown"
            self.where[end], self.peer[end], self.plugged[end] = None, "", False
            return Change("pair-appeared", expect("pair-appeared", end), ends={end})
        if self.hidden_state in ("shown", "revealed"):
            assert self.hidden_ns is not None and self.hidden_end is not None
            self.ip(None, "netns", "del", self.hidden_ns)
            self.hidden_ns, self.hidden_state = None, "hidden"
            return Change("end-unresolved", expect("end-unresolved", self.hidden_end), ends={self.hidden_end})
        return None

    def reveal(self, same: bool) -> Optional[Change]:
        if self.hidden_state != "hidden" or self.hidden_end is None:
            return None
        name = self.fresh("h")
        self.hidden.bind(f"/run/netns/{name}")
        self.last_command = f"mount --bind <the held namespace> /run/netns/{name}"
        self.hidden_ns, self.hidden_state = name, "revealed"
        return Change("end-resolved", expect("end-resolved", self.hidden_end), ends={self.hidden_end})

    def drop_hidden(self, same: bool) -> Optional[Change]:
        if self.hidden_state != "hidden" or self.hidden_end is None:
            return None
        end = self.hidden_end
        self.ip(None, "link", "del", end)
        self._forget(end)
        self.hidden.release()
        self.hidden_end, self.hidden_state = None, "none"
        return Change("end-vanished", expect("end-vanished", end), ends={end})

    def changes(self) -> List[Callable[[bool], Optional[Change]]]:
        return [self.new_pair, self.delete, self.move, self.rename, self.plug, self.rename_bridge, self.add_netns,
                self.del_netns, self.hide, self.reveal, self.drop_hidden]

    def cleanup(self) -> None:
        if self.hidden_ns is not None:
            subprocess.run(["ip", "netns", "del", self.hidden_ns], check=False, capture_output=True)
        self.hidden.release()
        for name in self.made_ns:
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        # What is in root goes now (the bench's cleanup would wait 30 s for it to go by itself).
        for name in [self.bridge, *(end for end, netns in self.where.items() if netns is None)]:
            subprocess.run(["ip", "link", "del", name], check=False, capture_output=True)


def _make(probes: Probes, lines: Lines, same: bool) -> Optional[Change]:
    choices = probes.changes()
    probes.rng.shuffle(choices)
    for make in choices:
        index, started = lines.count(), time.time()
        change = make(same)
        if change is None:
            continue
        change.index, change.started, change.command = index, started, probes.last_command
        return change
    return None


def judge(first: Optional[Change], second: Optional[Change], found: Dict[int, Optional[float]], lines: Lines,
          results: Results) -> None:
    """File one round's two changes: timed by their own line; or, when the other change touched the
    same end and one scan saw both, by the first line that names the end (superseded); or not at
    all when the second undid the first (cancelled: no event is right); else missed."""
    for change, before, other in ((first, QUIET, second), (second, first.kind if first else QUIET, first)):
        if change is None:
            continue
        read_at = found[id(change)]
        same = other is not None and bool(change.ends & other.ends)
        if read_at is None and other is not None and same:
            shown = lines.mentions(change.index, change.ends | other.ends)
            if shown is not None:
                results.superseded.append((change.kind, other.kind))
                results.add(change.kind, before, shown - change.started)
                continue
            if {change.kind, other.kind} in INVERSE:
                results.cancelled.append((change.kind, other.kind))
                continue
        results.add(change.kind, before, None if read_at is None else read_at - change.started)
        if read_at is None:
            window = [line.doc for line in lines.lines[change.index:] if line.doc is not None
                      and line.read_at <= change.started + WAIT_S]
            results.missed_detail.append(f"{change.kind} after `{change.command}`; the lines: "
                                         + "; ".join(f"{d.get('event')} {_names(d)}" for d in window))


def _forced(probes: Probes, lines: Lines, make: Callable[[bool], Optional[Change]]) -> Optional[Change]:
    """That change, to the end the change before it touched."""
    index, started = lines.count(), time.time()
    change = make(True)
    if change is not None:
        change.index, change.started, change.command = index, started, probes.last_command
    return change


def run(prefix: str, spaces: Sequence[str], lines: Lines, rounds: int, gap: float, seed: int,
        say: Callable[[str], None]) -> Results:
    rng = random.Random(seed)
    probes = Probes(prefix, spaces, rng)
    results = Results()
    try:
        probes.setup()
        time.sleep(gap)
        for number in range(rounds):
            if number % 4 == 1:  # the two sequences issue 25 names, every other round
                first, second = _forced(probes, lines, probes.move), _forced(probes, lines, probes.rename)
            elif number % 4 == 3:
                first, second = _forced(probes, lines, probes.new_pair), _forced(probes, lines, probes.move)
            else:
                first = _make(probes, lines, same=False)
                second = _make(probes, lines, same=rng.random() < 0.6)
            made = [change for change in (first, second) if change is not None]
            judge(first, second, lines.wait(made) if made else {}, lines, results)
            results.rounds += 1
            if number % 20 == 19:
                say(f"  probes: {number + 1}/{rounds} rounds")
            time.sleep(gap)  # quiet again before the next round's first change
    except RuntimeError as error:
        results.failed.append(str(error))
    finally:
        probes.cleanup()
    return results


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _row(label: str, values: Sequence[float]) -> str:
    if not values:
        return f"  {label:32s} {'-':>4s}"
    p50, p95, top = (1000 * _quantile(values, 0.5), 1000 * _quantile(values, 0.95), 1000 * max(values))
    return f"  {label:32s} {len(values):4d} {p50:7.0f} {p95:7.0f} {top:7.0f}"


def report(results: Results, target_s: float) -> Tuple[str, bool]:
    header = f"  {'':32s} {'n':>4s} {'p50 ms':>7s} {'p95 ms':>7s} {'max ms':>7s}"
    lines = [f"event latency on a quiet host, per kind and per what came just before it "
             f"({results.rounds} rounds; from the ip command's start to the line read):", header]
    worst = 0.0
    by_kind: Dict[str, List[float]] = {}
    by_before: Dict[str, List[float]] = {}
    for (kind, before), values in results.latencies.items():
        by_kind.setdefault(kind, []).extend(values)
        by_before.setdefault(before, []).extend(values)
    for kind in KINDS:
        values = by_kind.get(kind, [])
        lines.append(_row(kind, values))
        if values:
            worst = max(worst, _quantile(values, 0.95))
    lines.append("  by what came just before:")
    for before in (QUIET, *KINDS):
        if before in by_before:
            lines.append(_row(f"after {before}" if before != QUIET else before, by_before[before]))
    lines.append("  the two sequences of issue 25:")
    for kind, before in (("end-renamed", "end-moved"), ("end-moved", "pair-appeared")):
        lines.append(_row(f"{kind} right after {before}", results.latencies.get((kind, before), [])))
    covered = [kind for kind in KINDS if kind in by_kind]
    lines.append(f"  missed (no line within {WAIT_S:.0f} s, or {LINGER_S:.0f} s after the other change's): "
                 f"{len(results.missed)}"
                 + (f" {results.missed[:10]}" if results.missed else ""))
    lines += [f"    {detail}" for detail in results.missed_detail[:10]]
    lines.append(f"  superseded (two changes to one end in one scan: one event for the end state, which times "
                 f"both): "
                 f"{len(results.superseded)}" + (f" {results.superseded[:10]}" if results.superseded else ""))
    lines.append(f"  cancelled (a change undone at once, both seen by one scan: no event, rightly): "
                 f"{len(results.cancelled)}" + (f" {results.cancelled[:10]}" if results.cancelled else ""))
    if results.failed:
        lines.append(f"  the probes stopped: {results.failed[0]}")
    ok = not results.missed and not results.failed and len(covered) == len(KINDS) and worst < target_s
    lines.append(f"  every kind p95 < {target_s * 1000:.0f} ms, none missed, all {len(KINDS)} kinds seen: "
                 f"{'met' if ok else 'NOT met'} (worst p95 {worst * 1000:.0f} ms; kinds not seen: "
                 f"{[k for k in KINDS if k not in covered] or 'none'})")
    return "\n".join(lines), ok
