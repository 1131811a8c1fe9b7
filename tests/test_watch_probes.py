"""bench/watch_probes.py's judging of one round (two changes): timed, superseded, cancelled, missed.

No root needed: the watcher's lines are made up here, in the shapes the watch contract gives.
"""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))

import watch_probes as wp


def link(name: str) -> Dict[str, Any]:
    return {"ifname": name, "ifindex": 2, "netns": {"name": "n1"}}


def printed(*docs: Any) -> wp.Lines:
    return wp.Lines([SimpleNamespace(doc=doc, read_at=at) for at, doc in docs])


def change(kind: str, *names: str, started: float = 10.0, index: int = 0) -> wp.Change:
    return wp.Change(kind, wp.expect(kind, *names), started=started, index=index, ends=set(names))


def judged(first: Optional[wp.Change], second: Optional[wp.Change], lines: wp.Lines) -> wp.Results:
    results = wp.Results()
    made: List[wp.Change] = [c for c in (first, second) if c is not None]
    wp.judge(first, second, {id(c): lines.find(c) for c in made}, lines, results)
    return results


def test_each_change_timed_by_its_own_line_and_filed_under_what_came_before() -> None:
    lines = printed((10.1, {"event": "end-moved", "link": link("e1")}),
                    (10.2, {"event": "end-renamed", "link": link("e2")}))
    results = judged(change("end-moved", "e1"), change("end-renamed", "e1", "e2", started=10.05), lines)
    assert {k: [round(v, 3) for v in vs] for k, vs in results.latencies.items()} == {
        ("end-moved", wp.QUIET): [0.1], ("end-renamed", "end-moved"): [0.15]}
    assert not results.missed and not results.superseded


def test_a_move_and_a_rename_seen_by_one_scan_time_the_move_by_the_line_that_shows_it() -> None:
    # One scan saw both: the end-moved names the end by its new name, so the move's own matcher
    # (the old name) never matches; the line still shows the move.
    lines = printed((10.3, {"event": "end-moved", "link": link("e2")}),
                    (10.3, {"event": "end-renamed", "link": link("e2")}))
    results = judged(change("end-moved", "e1"), change("end-renamed", "e1", "e2", started=10.01), lines)
    assert results.superseded == [("end-moved", "end-renamed")]
    assert round(results.latencies[("end-moved", wp.QUIET)][0], 3) == 0.3
    assert not results.missed


def test_a_change_undone_at_once_is_cancelled_not_missed_and_an_unrelated_silence_is_missed() -> None:
    quiet = printed()
    undone = judged(change("netns-appeared", "ns9"), change("netns-vanished", "ns9", started=10.01), quiet)
    assert undone.cancelled == [("netns-appeared", "netns-vanished"), ("netns-vanished", "netns-appeared")]
    assert not undone.missed
    # Two changes to different things, neither said: both missed (with what was printed meanwhile).
    lost = judged(change("end-moved", "e1"), change("end-renamed", "e7", "e8"), quiet)
    assert lost.missed == [("end-moved", wp.QUIET), ("end-renamed", "end-moved")]
    assert len(lost.missed_detail) == 2
    # Not inverse (a move then a rename): silence is a miss even for one end.
    silent = judged(change("end-moved", "e1"), change("end-renamed", "e1", "e2"), quiet)
    assert len(silent.missed) == 2


def test_the_report_fails_on_a_slow_kind_a_miss_or_a_kind_never_seen() -> None:
    results = wp.Results(rounds=1)
    for kind in wp.KINDS:
        results.add(kind, wp.QUIET, 0.1)
    text, ok = wp.report(results, 0.5)
    assert ok and "none missed" in text
    results.add("end-moved", "pair-appeared", 0.9)  # one slow sample of 12 moves: p95 is it
    for _ in range(10):
        results.add("end-moved", wp.QUIET, 0.1)
    assert not wp.report(results, 0.5)[1]
    fresh = wp.Results(rounds=1)
    fresh.add("end-moved", wp.QUIET, 0.1)
    text, ok = wp.report(fresh, 0.5)
    assert not ok and "pair-appeared" in text  # kinds not seen
    fresh.add("end-renamed", wp.QUIET, None)
    assert "missed (no line" in wp.report(fresh, 0.5)[0]
