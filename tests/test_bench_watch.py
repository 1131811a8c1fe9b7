"""bench/bench_watch.py's judging: how watch events are matched to the kernel changes the bench made.

No root needed: the lines and kernel times are made up here, in the shapes the watch contract gives.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))

import bench_scale
import bench_watch

PREFIX = "vpwtest"
PLAN = bench_scale.Plan(PREFIX, 4)
CHURN = bench_watch.Churn(PREFIX)


def netns(name: Optional[str], inode: int, label: Optional[str] = None) -> Dict[str, Any]:
    return {"inode": inode, "dev": 4, "name": name, "root": False, "label": label or name, "owners": []}


ROOT_NS = {"inode": 1, "dev": 4, "name": None, "root": True, "label": "root", "owners": []}


def link(ifname: str, ns: Dict[str, Any]) -> Dict[str, Any]:
    return {"ifname": ifname, "ifindex": 2, "netns": ns}


def line(at: float, event: str, **fields: Any) -> bench_watch.Line:
    doc = dict({"version": 1, "time": "2026-11-28T04:00:00.000000Z", "event": event}, **fields)
    return bench_watch.Line(at, doc, json.dumps(doc).encode())


def churn_pair(k: int, ns: Dict[str, Any]) -> Dict[str, Any]:
    return {"a": link("eth0", ns), "b": link(CHURN.host(k), ROOT_NS)}


def judge(lines: Any, changes: Dict[bench_watch.ChangeKey, float],
          inodes: Optional[bench_watch.Inodes] = None) -> bench_watch.Matching:
    return bench_watch.match(PLAN, CHURN, lines, changes, 0.0, {0, 1, 2}, inodes or bench_watch.Inodes())


def test_every_change_matched_gives_latencies_and_nothing_missed() -> None:
    ns0 = netns(CHURN.ns(0), 100)
    changes = {("netns-appeared", 0): 10.0, ("pair-appeared", 0): 10.1,
               ("pair-vanished", 0): 13.0, ("netns-vanished", 0): 12.9}
    lines = [line(10.3, "netns-appeared", netns=ns0), line(10.4, "pair-appeared", **churn_pair(0, ns0)),
             line(13.2, "pair-vanished", **churn_pair(0, ns0)), line(13.5, "netns-vanished", netns=ns0)]
    m = judge(lines, changes)
    assert not m.missed and not m.wrong and not m.spurious
    assert [round(v, 3) for v in m.latencies["pair-appeared"]] == [0.3]
    assert [round(v, 3) for v in m.latencies["netns-vanished"]] == [0.6]


def test_a_change_without_its_event_is_missed() -> None:
    ns0 = netns(CHURN.ns(0), 100)
    changes = {("pair-appeared", 0): 10.0, ("pair-vanished", 0): 13.0}
    m = judge([line(10.4, "pair-appeared", **churn_pair(0, ns0))], changes)
    assert m.missed == [("pair-vanished", 0)]


def test_a_pair_the_bench_did_not_make_is_wrong() -> None:
    # eth0 of churn namespace 1 paired with the root end of churn namespace 0
    m = judge([line(10.0, "pair-appeared", **churn_pair(0, netns(CHURN.ns(1), 101)))], {})
    assert len(m.wrong) == 1
    built = {"a": link("eth0", netns(PLAN.ns(0), 50)), "b": link(PLAN.host(0), ROOT_NS)}
    crossed = {"a": link("eth0", netns(PLAN.ns(0), 50)), "b": link(PLAN.host(1), ROOT_NS)}
    m = judge([line(10.0, "pair-appeared", **built), line(10.0, "pair-appeared", **crossed)], {})
    assert m.wrong == [f"eth0@{PLAN.ns(0)} <-> {PLAN.host(1)}@root"]


def test_other_tools_events_are_not_judged_and_built_pairs_must_stay_quiet() -> None:
    foreign = {"a": link("eth0", netns("someone-else", 7)), "b": link("veth9", ROOT_NS)}
    built = {"a": link("eth0", netns(PLAN.ns(2), 52)), "b": link(PLAN.host(2), ROOT_NS)}
    m = judge([line(10.0, "pair-appeared", **foreign), line(10.0, "pair-vanished", **built)], {})
    assert not m.wrong and m.foreign == 1
    assert m.spurious == [f"pair-vanished {PLAN.host(2)}@root, eth0@{PLAN.ns(2)}"]


def test_a_nameless_namespace_is_found_by_an_inode_it_had_even_when_reused() -> None:
    inodes = bench_watch.Inodes()
    inodes.add(500, CHURN.ns(0), 10.0)
    inodes.free(CHURN.ns(0), 13.0)
    inodes.add(500, CHURN.ns(2), 14.0)  # the kernel gave the freed inode to the next namespace
    nameless = netns(None, 500, label="pid 42 fd 7")
    changes = {("pair-vanished", 0): 13.0, ("pair-appeared", 2): 14.0, ("netns-vanished", 0): 12.9}
    lines = [line(14.5, "pair-appeared", **churn_pair(2, nameless)),
             line(15.0, "pair-vanished", **churn_pair(0, nameless)),  # late, after the reuse
             line(15.1, "netns-vanished", netns=nameless)]
    m = judge(lines, changes, inodes)
    assert not m.wrong and not m.missed, (m.wrong, m.missed)
    assert m.misnamed == 3
    # a namespace of another tool that got our old inode long after ours were gone is not ours
    inodes.free(CHURN.ns(2), 17.0)
    m = judge([line(200.0, "netns-appeared", netns=netns(None, 500, label="pid 9 fd 3"))], {}, inodes)
    assert m.foreign == 1


def test_quantile_and_rss_flatness() -> None:
    assert bench_watch.quantile([0.1, 0.2, 0.3, 0.4, 5.0], 0.5) == 0.3
    samples = [(float(t), 0, 1000 + (50 if t == 5 else 0)) for t in range(0, 40)]
    start, peak, after, end, spread, window = bench_watch.rss_figures(samples, 0.0, 10.0, 39.0)
    assert (start, peak, after, end) == (1000, 1050, 1000, 1000)
    assert spread == 0.0 and window == 20.0
    growing = [(float(t), 0, 1000 + 10 * t) for t in range(0, 40)]
    assert bench_watch.rss_figures(growing, 0.0, 10.0, 39.0)[4] > bench_watch.FLAT_TOLERANCE


def test_an_event_after_the_grace_period_is_missed_but_counted_late() -> None:
    ns0 = netns(CHURN.ns(0), 100)
    changes = {("pair-appeared", 0): 10.0}
    lines = [line(30.0, "pair-appeared", **churn_pair(0, ns0))]
    m = bench_watch.match(PLAN, CHURN, lines, changes, 0.0, {0}, bench_watch.Inodes(), until=20.0)
    assert m.missed == [("pair-appeared", 0)] and m.late == 1
    assert not m.latencies["pair-appeared"]
    assert not judge(lines, changes).missed  # without a deadline it counts
