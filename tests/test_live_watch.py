"""vethpeer watch on the real kernel: changes made while a watch runs come out as proven events."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Dict, Iterator, List, Optional

import pytest

import vethpeer
from lab import Lab
from vethpeer import watcher as watch_lib

pytestmark = pytest.mark.live

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
#: How long one change may take to come out: a debounce and a scan, on a test host that may hold
#: a thousand namespaces and other tests' churn (it takes well under a second when quiet).
WAIT_S = 30.0


class Watcher:
    """``vethpeer watch --json`` in a subprocess; its lines parsed into a queue as they come."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=SRC)
        self.process = subprocess.Popen([sys.executable, "-m", "vethpeer", "watch", "--json", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.lines: queue.Queue[Optional[Dict[str, Any]]] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.put(check_line(json.loads(raw)))
        self.lines.put(None)

    def next_matching(self, wanted: Any, timeout: float = WAIT_S) -> List[Dict[str, Any]]:
        """Every line up to and including the first for which ``wanted(line)`` holds."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no matching event within {timeout} s; saw {seen}") from None
            if line is None:
                raise AssertionError(f"watch ended; saw {seen}")
            seen.append(line)
            if wanted(line):
                return seen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.thread.join(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def check_line(line: Dict[str, Any]) -> Dict[str, Any]:
    """The contract: version, time, a known kind and its keys."""
    assert line["version"] == 1
    assert RFC3339.match(line["time"]), line["time"]
    kind = line["event"]
    assert kind in watch_lib.KINDS, kind
    links = {"pair-appeared": ("a", "b"), "pair-vanished": ("a", "b"), "end-moved": ("link",),
             "end-renamed": ("link",), "master-changed": ("link",), "master-renamed": ("link",),
             "end-unresolved": ("link",),
             "end-resolved": ("link",)}.get(kind, ())
    for key in links:
        assert {"ifname", "ifindex", "kind", "netns", "master", "addresses"} <= set(line[key]), line
        assert {"inode", "dev", "name", "root", "label", "owners"} <= set(line[key]["netns"])
    if kind == "end-moved":
        assert set(line["from"]) == {"netns", "ifindex"}
    if kind in ("end-renamed", "master-renamed"):
        assert isinstance(line["old_name"], str)
    if kind == "netns-changed":
        assert isinstance(line["old_label"], str) and "old_name" in line
    if kind == "master-changed":
        assert "old_master" in line and "new_master" in line
    if kind in ("netns-appeared", "netns-vanished", "netns-changed"):
        assert "owners" in line["netns"]
    if kind == "end-unresolved":
        assert {"reason", "detail"} <= set(line)
    if kind == "warning":
        assert isinstance(line["message"], str)
    if kind == "state":
        assert line["of"] in ("pair", "unresolved", "netns")
    return line


def ours(lab: Lab, line: Dict[str, Any]) -> bool:
    """Whether an event touches something this lab made (other tests may run on the host)."""
    for key in ("a", "b", "link"):
        link = line.get(key)
        if link and (link["ifname"].startswith(lab.prefix) or (link["netns"]["name"] or "").startswith(lab.prefix)):
            return True
    netns = line.get("netns")
    return bool(netns and (netns["name"] or "").startswith(lab.prefix))


def names(line: Dict[str, Any]) -> Any:
    if "a" in line:
        return {(line["a"]["ifname"], line["a"]["netns"]["name"]), (line["b"]["ifname"], line["b"]["netns"]["name"])}
    if "link" in line:
        return (line["link"]["ifname"], line["link"]["netns"]["name"])
    return line["netns"]["name"]


def test_created_moved_renamed_mastered_deleted_in_order(lab: Lab) -> None:
    watcher = Watcher("--events-only")
    try:
        watcher.next_matching(lambda line: line["event"] == "synced")
        a, b = lab.name("a"), lab.name("b")
        root_end, ns_end, renamed, bridge = (lab.link_name(s) for s in ("r", "n", "m", "br"))
        steps = []

        def expect(kind: str, what: Any) -> Dict[str, Any]:
            lines = watcher.next_matching(lambda line: ours(lab, line) and line["event"] == kind)
            mine = [line for line in lines if ours(lab, line)]
            # Nothing of ours happened in between (in particular no pair-vanished/appeared for a move).
            assert [(line["event"], names(line)) for line in mine[:-1]] == [], mine
            assert names(mine[-1]) == what, mine[-1]
            steps.append(kind)
            return mine[-1]

        lab.netns("a")
        expect("netns-appeared", a)
        lab.veth(root_end, None, ns_end, a)
        line = expect("pair-appeared", {(root_end, None), (ns_end, a)})
        assert {line["a"]["netns"]["root"], line["b"]["netns"]["root"]} == {True, False}
        lab.netns("b")
        expect("netns-appeared", b)
        lab.ip("-n", a, "link", "set", ns_end, "netns", b)
        line = expect("end-moved", (ns_end, b))
        assert line["from"]["netns"]["name"] == a
        lab.ip("-n", b, "link", "set", ns_end, "name", renamed)
        line = expect("end-renamed", (renamed, b))
        assert line["old_name"] == ns_end
        lab.ip("link", "add", bridge, "type", "bridge")
        lab.root_links.append(bridge)
        lab.ip("link", "set", root_end, "master", bridge)
        line = expect("master-changed", (root_end, None))
        assert line["old_master"] is None and line["link"]["master"] == bridge
        assert line["new_master"] == bridge
        # Re-plugged into another bridge: the old and the new master (before: only the old one).
        other, other_renamed = lab.link_name("b2"), lab.link_name("b3")
        lab.ip("link", "add", other, "type", "bridge")
        lab.root_links.extend([other, other_renamed])
        lab.ip("link", "set", root_end, "master", other)
        line = expect("master-changed", (root_end, None))
        assert (line["old_master"], line["new_master"]) == (bridge, other)
        # A renamed bridge is one event for the bridge (before: a master-changed per port).
        lab.ip("link", "set", other, "name", other_renamed)
        line = expect("master-renamed", (other_renamed, None))
        assert line["old_name"] == other
        lab.ip("link", "del", root_end)
        expect("pair-vanished", {(root_end, None), (renamed, b)})
        lab.forget_name(a)
        expect("netns-vanished", a)
        assert steps == ["netns-appeared", "pair-appeared", "netns-appeared", "end-moved", "end-renamed",
                         "master-changed", "master-changed", "master-renamed", "pair-vanished", "netns-vanished"]
        watcher.process.send_signal(signal.SIGINT)
        assert watcher.process.wait(timeout=WAIT_S) == 130
        assert watcher.process.stderr is not None
        assert watcher.process.stderr.read().decode() == "vethpeer: interrupted\n"
    finally:
        watcher.stop()


def test_initial_state_then_synced_and_the_api_ends_on_timeout(lab: Lab) -> None:
    a = lab.netns("a")
    lab.veth(lab.link_name("r"), None, lab.link_name("n"), a)
    started = time.monotonic()
    events = list(vethpeer.watch(timeout=0.5))
    assert time.monotonic() - started < 10
    synced = [i for i, event in enumerate(events) if event.kind == "synced"]
    assert len(synced) == 1
    state = events[:synced[0]]
    assert {e.kind for e in state} <= {"state", "warning"}
    pairs = [e for e in state if e.of == "pair"]
    mine = [e for e in pairs if e.topology is not None and e.a is not None and e.b is not None
            and {e.topology.link(e.a).name, e.topology.link(e.b).name} == {lab.link_name("r"), lab.link_name("n")}]
    assert len(mine) == 1
    assert any(e.of == "netns" and e.topology is not None and e.netns is not None
               and e.topology.namespace(e.netns).name == a for e in state)
    event = mine[0]
    with pytest.raises(AttributeError):
        event.kind = "x"  # type: ignore[misc]


def test_a_flood_of_changes_coalesces_and_none_is_missed(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    scans = []
    real = watch_lib.scanner.read_host

    def counting(**kwargs: Any) -> Any:
        scans.append(time.monotonic())
        return real(**kwargs)

    monkeypatch.setattr(watch_lib.scanner, "read_host", counting)
    wanted = {lab.name(f"f{i}") for i in range(40)}
    batch = "".join(f"netns add {name}\n" for name in sorted(wanted))
    events: Iterator[watch_lib.Event] = vethpeer.watch(include_initial=False, timeout=20)
    seen = set()
    try:
        for event in events:
            if event.kind == "synced":
                lab.namespaces.extend(sorted(wanted))
                subprocess.run(["ip", "-batch", "-"], input=batch.encode(), check=True)
                first = len(scans)
            if event.kind == "netns-appeared" and event.topology is not None and event.netns is not None:
                name = event.topology.namespace(event.netns).name
                if name in wanted:
                    seen.add(name)
                    if seen == wanted:
                        break
    finally:
        events.close()  # type: ignore[attr-defined]
    assert seen == wanted
    # 40 bind mounts, each a signal: a handful of scans, not 40.
    assert len(scans) - first <= 8, len(scans) - first


def test_count_ends_by_itself_and_netns_narrows(lab: Lab) -> None:
    a = lab.netns("a")
    lab.netns("other")
    watcher = Watcher("--events-only", "--count", "2", "--netns", a)
    try:
        watcher.next_matching(lambda line: line["event"] == "synced")
        lab.veth(lab.link_name("o"), None, lab.link_name("p"), lab.name("other"))  # not ours to show
        lab.veth(lab.link_name("r"), None, lab.link_name("n"), a)
        # Warnings about the whole host (another test's unreadable namespace) are shown too.
        first = [line for line in watcher.next_matching(lambda line: line["event"] != "warning")
                 if line["event"] != "warning"]
        assert [line["event"] for line in first] == ["pair-appeared"]
        assert a in {first[0]["a"]["netns"]["name"], first[0]["b"]["netns"]["name"]}
        lab.ip("-n", a, "link", "set", lab.link_name("n"), "name", lab.link_name("m"))
        second = [line for line in watcher.next_matching(lambda line: line["event"] != "warning")
                  if line["event"] != "warning"]
        assert [line["event"] for line in second] == ["end-renamed"]
        assert watcher.process.wait(timeout=WAIT_S) == 0
        assert watcher.lines.get(timeout=WAIT_S) is None
    finally:
        watcher.stop()


def test_timeout_ends_with_exit_0(lab: Lab) -> None:
    a = lab.netns("a")
    env = dict(os.environ, PYTHONPATH=SRC)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "vethpeer", "watch", "--timeout", "0.5", "--netns", a],
                            capture_output=True, env=env, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 15
    lines = result.stdout.decode().splitlines()
    assert "state netns" in lines[0] and a in lines[0]
    synced = [i for i, line in enumerate(lines) if "  synced  " in line]
    assert len(synced) == 1
    # Nothing happened to the namespace: after synced, at most warnings about the whole host.
    assert all("  warning  " in line for line in lines[synced[0] + 1:]), lines


def _tmux(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False)


def test_live_table_in_tmux_shows_a_new_pair_and_quits_on_q(lab: Lab) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("needs tmux (.ci/run installs it)")
    a = lab.netns("a")
    session = lab.name("live")
    command = (f"PYTHONPATH={shlex.quote(SRC)} {shlex.quote(sys.executable)} -m vethpeer watch --live "
               f"--netns {shlex.quote(a)}; echo EXIT=$?; sleep 30")
    assert _tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "30", command).returncode == 0
    try:
        def screen_shows(text: str) -> str:
            deadline = time.monotonic() + WAIT_S
            shown = ""
            while time.monotonic() < deadline:
                shown = _tmux("capture-pane", "-p", "-t", session).stdout
                if text in shown:
                    return shown
                time.sleep(0.05)
            raise AssertionError(f"{text!r} not on the screen:\n{shown}")

        screen_shows(f"0 pairs in {a}")
        root_end = lab.link_name("r")
        lab.veth(root_end, None, "eth0", a)
        shown = screen_shows(f"1 pairs in {a}")
        row = next(line for line in shown.splitlines() if line.startswith(a))
        assert row.split() == [a, "eth0", "-", "root", root_end, "-"]
        assert "pair-appeared" in shown
        _tmux("send-keys", "-t", session, "q")
        shown = screen_shows("EXIT=0")
        assert "NETNS" not in shown  # the alternate screen is gone with the table
    finally:
        _tmux("kill-session", "-t", session)


def test_a_reader_that_goes_away_ends_it_quietly(lab: Lab) -> None:
    env = dict(os.environ, PYTHONPATH=SRC)
    process = subprocess.Popen([sys.executable, "-m", "vethpeer", "watch", "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
    assert process.stdout is not None and process.stderr is not None
    assert json.loads(process.stdout.readline())["event"] == "state"
    process.stdout.close()
    lab.netns("late")  # something to write, should the initial state have fitted in the pipe
    assert process.wait(timeout=WAIT_S) == 0
    assert process.stderr.read() == b""
    process.stderr.close()


def test_a_reader_that_goes_away_ends_it_on_a_quiet_host(lab: Lab) -> None:
    """`watch --json | head -1` with nothing changing afterwards: the watch ends by itself (it
    used to run until the next change gave it something to write)."""
    env = dict(os.environ, PYTHONPATH=SRC)
    process = subprocess.Popen([sys.executable, "-m", "vethpeer", "watch", "--json", "--events-only"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert process.stdout is not None and process.stderr is not None
    assert json.loads(process.stdout.readline())["event"] == "synced"
    process.stdout.close()
    try:
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr.read() == b""
    process.stderr.close()


def test_count_counts_changes_not_a_start_up_warning(lab: Lab) -> None:
    """Before: `watch --count 1` ended on a warning printed at start (a stale /run/netns entry),
    before `synced` and before any change."""
    stale = f"/run/netns/{lab.prefix}-stale"
    open(stale, "w").close()
    try:
        watcher = Watcher("--count", "1", "--events-only", "--timeout", str(WAIT_S))
        try:
            seen = watcher.next_matching(lambda line: line["event"] == "synced")
            assert any(line["event"] == "warning" and stale in line["message"] for line in seen), seen
            name = lab.netns("cnt")
            lab.veth(lab.link_name("cn"), None, "eth0", name)
            seen = watcher.next_matching(lambda line: line["event"] not in ("warning", "state"))
            assert seen[-1]["event"] in ("pair-appeared", "netns-appeared"), seen
            assert watcher.process.wait(timeout=WAIT_S) == 0
        finally:
            watcher.stop()
    finally:
        os.unlink(stale)


def test_a_filtered_watch_sees_its_host_veth_unplugged_and_an_unresolved_end_vanish(lab: Lab) -> None:
    """Before: `watch -n NS` said nothing when NS's host veth left its bridge (the unfiltered watch
    did), and a deleted unresolved end was no event at all."""
    name = lab.netns("flt")
    host_end, bridge = lab.link_name("fh"), lab.link_name("fb")
    lab.veth(host_end, None, "eth0", name)
    lab.ip("link", "add", bridge, "type", "bridge")
    lab.root_links.append(bridge)
    lab.ip("link", "set", host_end, "master", bridge)
    # An end whose peer's namespace is held only by a socket: unresolved without --sockets.
    hidden = lab.netns("hid")
    lost_end = lab.link_name("lo")
    lab.veth(lost_end, None, "eth0", hidden)
    lab.holder("socket", f"/run/netns/{hidden}")
    lab.forget_name(hidden)
    filtered = Watcher("--events-only", "-n", name)
    unfiltered = Watcher("--events-only")
    try:
        for watcher in (filtered, unfiltered):
            watcher.next_matching(lambda line: line["event"] == "synced")
        lab.ip("link", "set", host_end, "nomaster")
        line = filtered.next_matching(lambda line: line["event"] == "master-changed")[-1]
        assert (line["link"]["ifname"], line["old_master"], line["new_master"]) == (host_end, bridge, None)
        lab.ip("link", "del", lost_end)
        line = unfiltered.next_matching(lambda line: line["event"] == "end-vanished"
                                        and line["link"]["ifname"] == lost_end)[-1]
        assert line["reason"] == "peer-netns-unreachable"
    finally:
        filtered.stop()
        unfiltered.stop()


def test_live_and_watch_agree_on_an_ambiguous_selector(lab: Lab, tmp_path: Any) -> None:
    """Before: `watch` exited 2 ('ambiguous'), `--live` drew '(docker:c0ffee: not there)'."""
    if shutil.which("tmux") is None:
        pytest.skip("needs tmux (.ci/run installs it)")
    root = tmp_path / "host"
    for suffix, name in (("1", "web-a"), ("2", "web-b")):
        netns = lab.netns(f"am{suffix}")
        state = root / "var/lib/docker/containers" / ("c0ffee" + suffix * 58)
        state.mkdir(parents=True)
        (state / "config.v2.json").write_text(json.dumps({
            "State": {"Running": True, "Pid": 0}, "Name": f"/{name}",
            "NetworkSettings": {"SandboxKey": f"/run/netns/{netns}"}, "Config": {"Labels": {}}}))
    tmp_path.chmod(0o755)
    args = ["--root", str(root), "--proc", "/proc", "--netns", "docker:c0ffee"]
    env = dict(os.environ, PYTHONPATH=SRC)
    plain = subprocess.run([sys.executable, "-m", "vethpeer", "watch", "--json", *args], capture_output=True,
                           text=True, env=env, timeout=WAIT_S, check=False)
    assert plain.returncode == 2 and "ambiguous" in plain.stderr, plain.stderr
    session = lab.name("amb")
    command = (f"PYTHONPATH={shlex.quote(SRC)} {shlex.quote(sys.executable)} -m vethpeer watch --live "
               f"{' '.join(shlex.quote(a) for a in args)} 2>&1; echo EXIT=$?; sleep 30")
    assert _tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "30", command).returncode == 0
    try:
        deadline = time.monotonic() + WAIT_S
        shown = ""
        while time.monotonic() < deadline and "EXIT=" not in shown:
            shown = _tmux("capture-pane", "-p", "-t", session).stdout
            time.sleep(0.05)
        assert "EXIT=2" in shown and "ambiguous" in shown, shown
    finally:
        _tmux("kill-session", "-t", session)


def _live_session(lab: Lab, session: str, width: int, *args: str) -> None:
    command = (f"PYTHONPATH={shlex.quote(SRC)} {shlex.quote(sys.executable)} -m vethpeer watch --live "
               f"{' '.join(shlex.quote(a) for a in args)}; echo EXIT=$?; stty -a; echo STTY-DONE; sleep 60")
    env_ok = _tmux("new-session", "-d", "-s", session, "-x", str(width), "-y", "30", command)
    assert env_ok.returncode == 0, env_ok.stderr


def _wait_screen(session: str, text: str, joined: bool = False) -> str:
    deadline = time.monotonic() + WAIT_S
    shown = ""
    while time.monotonic() < deadline:
        shown = _tmux("capture-pane", "-p", *(["-J"] if joined else []), "-t", session).stdout
        if text in shown:
            return shown
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not on the screen:\n{shown}")


@pytest.mark.parametrize("width", [44, 80, 200])
def test_live_lines_fit_the_terminal_in_columns(lab: Lab, width: int) -> None:
    """Before: lines were cut by characters, so wide ones ran past the edge and wrapped (54
    columns on a 44-column terminal)."""
    if shutil.which("tmux") is None:
        pytest.skip("needs tmux (.ci/run installs it)")
    from vethpeer.render.text import columns

    wide = lab.name("漢字" * 20)
    lab.ip("netns", "add", wide)
    lab.namespaces.append(wide)
    lab.veth(lab.link_name("wd"), None, "eth0", wide)
    session = lab.name(f"wide{width}")
    _live_session(lab, session, width, "--netns", wide)
    try:
        shown = _wait_screen(session, "1 pairs", joined=True)
        lines = shown.splitlines()
        assert any("漢字" in line for line in lines), shown
        assert max(columns(line) for line in lines) <= width, shown
    finally:
        _tmux("kill-session", "-t", session)


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)],
                         ids=["TERM", "HUP", "INT"])
def test_live_restores_the_terminal_on_a_signal(lab: Lab, signum: int, code: int) -> None:
    """Before: SIGTERM or SIGHUP killed it with the alternate screen on, the cursor hidden and the
    terminal in cbreak mode."""
    if shutil.which("tmux") is None:
        pytest.skip("needs tmux (.ci/run installs it)")
    session = lab.name(f"sig{code}")
    _live_session(lab, session, 80)
    try:
        _wait_screen(session, "(q quits)")
        shell = int(_tmux("display", "-p", "-t", session, "#{pane_pid}").stdout.strip())
        children = subprocess.run(["pgrep", "-P", str(shell)], capture_output=True, text=True, check=False)
        (pid,) = [int(p) for p in children.stdout.split()]
        os.kill(pid, signum)
        shown = _wait_screen(session, "STTY-DONE")  # the settings printed after it ended, in full
        assert f"EXIT={code}" in shown, shown
        settings = shown.split(f"EXIT={code}", 1)[1]
        assert re.search(r"(?<![-\w])icanon\b", settings) and re.search(r"(?<![-\w])echo\b", settings), settings
        state = _tmux("display", "-p", "-t", session, "#{alternate_on} #{cursor_flag}").stdout.split()
        assert state == ["0", "1"], state  # the alternate screen left, the cursor shown again
    finally:
        _tmux("kill-session", "-t", session)


def test_a_rename_right_after_a_move_is_said(lab: Lab) -> None:
    """Before: when one scan saw both, the rename was folded into the move and never reported."""
    a, b = lab.netns("ma"), lab.netns("mb")
    lab.veth(lab.link_name("ra"), None, "eth0", a)
    lab.veth(lab.link_name("rb"), None, "eth0", b)
    lab.ip("-n", a, "link", "add", "x1", "type", "veth", "peer", "name", "y1")
    watcher = Watcher("--events-only")
    try:
        watcher.next_matching(lambda line: line["event"] == "synced")
        for step, (src, dst) in enumerate(((a, b), (b, a), (a, b))):
            old, new = f"y{step + 1}", f"y{step + 2}"
            lab.ip("-n", src, "link", "set", old, "netns", dst)
            lab.ip("-n", dst, "link", "set", old, "name", new)
            seen = watcher.next_matching(lambda line, new=new: line["event"] == "end-renamed"
                                         and line["link"]["ifname"] == new)
            moved = [line for line in seen if line["event"] == "end-moved"]
            assert moved and moved[-1]["link"]["netns"]["name"] == dst, seen
            assert seen[-1]["old_name"] == old
    finally:
        watcher.stop()


def test_changes_between_namespaces_root_has_no_id_for_are_heard(lab: Lab) -> None:
    """Before: a new ns<->ns pair, a pair made inside such a namespace and a move between two of
    them came only with the next safety rescan (4 s here), root's socket hearing nothing of them.
    The safety rescan is pushed out of reach here: only a signal can bring them."""
    c, d = lab.netns("wc"), lab.netns("wd")
    seen: queue.Queue[Any] = queue.Queue()
    # (ends by itself: its fds closed)
    events = watch_lib.watch(include_initial=False, timeout=20.0, safety_s=(3600.0, 3600.0))

    def pump() -> None:
        for event in events:
            seen.put(event)
        seen.put(None)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()

    def expect(kind: str, name: str) -> None:
        deadline = time.monotonic() + 5.0  # normally 0.1 s; never without a signal (rescans are off)
        while time.monotonic() < deadline:
            try:
                event = seen.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            assert event is not None, f"the watch ended before {kind} {name}"
            names = {event.topology.links[ref].name for ref in (event.a, event.b, event.link)
                     if ref is not None and ref in event.topology.links}
            if event.kind == kind and name in names:
                return
        raise AssertionError(f"no {kind} for {name}")

    try:
        expect_synced = seen.get(timeout=WAIT_S)
        assert expect_synced is not None and expect_synced.kind == "synced"
        pa, pb, qa, qb = (lab.link_name(s) for s in ("pa", "pb", "qa", "qb"))
        lab.ip("link", "add", pa, "netns", c, "type", "veth", "peer", "name", pb, "netns", d)
        expect("pair-appeared", pa)
        lab.ip("-n", c, "link", "add", qa, "type", "veth", "peer", "name", qb)
        expect("pair-appeared", qa)
        lab.ip("-n", c, "link", "set", qb, "netns", d)
        expect("end-moved", qb)
    finally:
        thread.join(30)
