"""``vethpeer watch --live``: a top-like table of the pairs, redrawn on every change; q quits.

Plain ANSI (alternate screen, clear, home): no curses, so nothing beyond the standard streams.
The watch runs in a thread that only hands events over; the main thread reads keys (stdin in
cbreak mode) and draws. The terminal (cbreak, the hidden cursor, the alternate screen) is put back
on every way out: q, the end of the watch, Ctrl-C (exit 130), SIGTERM (143) and SIGHUP (129).
Names are escaped as everywhere; lines are cut to the terminal's width in columns (a wide
character takes two) and the table to its height.
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import shutil
import signal
import sys
import threading
import time
from typing import Any, Iterator, List, Optional, Union

from ..events import Event
from ..model import Topology
from .table import _master, _ns
from .text import Style, cut, escape, printable_in, table
from .watch import render_text

RECENT = 6


def _pump(events: Iterator[Event], out: queue.Queue[Union[Event, BaseException, None]]) -> None:
    try:
        for event in events:
            out.put(event)
    except Exception as error:  # noqa: BLE001 - handed to the main thread, which raises it
        out.put(error)
        return
    out.put(None)


def draw(topology: Optional[Topology], chosen: Any, recent: List[str], width: int, height: int,
         encoding: Optional[str], note: Optional[str] = None) -> str:
    """The whole screen as text (no escape sequences but the final clear-and-home)."""
    style = Style(False, encoding=encoding)
    head = f"vethpeer watch  {time.strftime('%H:%M:%S')}  (q quits)"
    lines: List[str] = []
    if topology is None:
        lines.append(head)
        lines.append("scanning...")
    else:
        netns = chosen.chosen(topology) if chosen.spec is not None else None
        pairs = [pair for pair in topology.pairs
                 if chosen.spec is None or netns in (pair.a.netns, pair.b.netns)]
        where = ""
        if chosen.spec is not None:
            where = (f" in {escape(topology.namespace(netns).label)}" if netns is not None
                     else f" ({escape(note or chosen.spec + ': not there')})")
        lines.append(f"{head}  {len(pairs)} pairs{where}, {len(topology.unresolved)} unresolved, "
                     f"{len(topology.namespaces)} namespaces")
        lines.append("")
        rows = []
        for pair in pairs:
            a, b = topology.link(pair.a), topology.link(pair.b)
            rows.append([_ns(topology, pair.a), escape(a.name), _master(topology, pair.a),
                         _ns(topology, pair.b), escape(b.name), _master(topology, pair.b)])
        room = max(1, height - len(lines) - 3 - min(len(recent), RECENT))
        shown = rows[:room - 1] if len(rows) > room - 1 else rows
        body = table(["NETNS", "IFNAME", "MASTER", "PEER NETNS", "PEER IFNAME", "PEER MASTER"], shown, style)
        lines.extend(body.rstrip("\n").split("\n"))
        if len(shown) < len(rows):
            lines.append(f"... {len(rows) - len(shown)} more")
    if recent:
        lines.append("")
        lines.extend(recent[-RECENT:])
    lines = [cut(printable_in(line, encoding), width) for line in lines[:height]]
    return "\x1b[H\x1b[2J" + "\r\n".join(lines)


def _terminal_size(out: Any) -> os.terminal_size:
    """The terminal's own size: the tty is asked first, since COLUMNS and LINES in the environment
    (what shutil.get_terminal_size prefers) are often stale or inherited from elsewhere, and a table
    cut to them runs past the edge."""
    try:
        return os.get_terminal_size(out.fileno())
    except (OSError, ValueError, AttributeError):
        return shutil.get_terminal_size()


class _Signalled(Exception):
    """SIGTERM or SIGHUP arrived: unwind (restoring the terminal) and exit 128 + its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.code = 128 + signum


def _raise_signalled(signum: int, _frame: Any) -> None:
    raise _Signalled(signum)


def run(events: Iterator[Event], chosen: Any, encoding: Optional[str] = None) -> int:
    previous = {signum: signal.signal(signum, _raise_signalled) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return _run(events, chosen, encoding)
    except _Signalled as stop:
        return stop.code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run(events: Iterator[Event], chosen: Any, encoding: Optional[str] = None) -> int:
    handed: queue.Queue[Union[Event, BaseException, None]] = queue.Queue()
    threading.Thread(target=_pump, args=(events, handed), daemon=True, name="vethpeer-watch").start()
    stdin = sys.stdin
    saved = None
    fd: Optional[int] = None
    if stdin is not None and stdin.isatty():
        import termios
        import tty

        fd = stdin.fileno()
        saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
    out = sys.stdout
    out.write("\x1b[?1049h\x1b[?25l")
    topology: Optional[Topology] = None
    recent: List[str] = []
    note: Optional[str] = None
    try:
        dirty = True
        size = None
        while True:
            now_size = _terminal_size(out)
            if dirty or now_size != size:
                size = now_size
                out.write(draw(topology, chosen, recent, size.columns, size.lines, encoding, note))
                out.flush()
                dirty = False
            if fd is not None:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    key = os.read(fd, 32)
                    if not key or b"q" in key or b"Q" in key:
                        return 0
            else:
                time.sleep(0.1)
            while True:
                try:
                    item = handed.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    return 0
                if isinstance(item, BaseException):
                    raise item
                dirty = True
                if item.after is not None:
                    topology = item.after
                if item.kind == "synced" and item.topology is not None:
                    # The very check `watch` makes (an ambiguous selector ends it, exit 2).
                    note = chosen.check(item.topology)
                if item.kind not in ("state", "synced") and chosen.shows(item):
                    recent.append(render_text(item).rstrip("\n"))
                    del recent[:-RECENT]
    finally:
        with contextlib.suppress(OSError, ValueError):
            out.write("\x1b[?25h\x1b[?1049l")
            out.flush()
        if saved is not None and fd is not None:
            import termios

            with contextlib.suppress(OSError):
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
