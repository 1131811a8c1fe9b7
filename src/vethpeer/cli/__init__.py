"""The command line: argument parsing, exit codes and error messages, and the glue that runs each
command (scan or load, select, render). What ``--netns`` names is ``select``'s; the errors that
become exit codes are ``errors``'.

Exit codes: 0 an answer was given; 1 the interface was found nowhere; 2 a usage error (including
a --netns that names no namespace, and a snapshot that cannot be loaded); 3 the host could not be
scanned at all; 4 the namespace named by --netns exists but could not be read (it says why);
5 the output could not be written (a full disk, a closed stdout); 6 the picture could not be drawn
(``graph --format svg/png`` without Graphviz's ``dot``, or ``dot`` failed); 7 the interface was
found in none of the namespaces that could be read, and some could not be read (absence not
proven: typically not run as root); 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional, Sequence, Tuple

from .. import resolve, scanner
from .. import snapshot as snapshot_io
from ..errors import DrawError, NetnsUnreadable, OutputError, UsageError
from ..host import ops
from ..model import NamespaceId, Topology
from ..render.formats import FORMATS
from ..render.text import Style, escape, style_for
from ..resolve import Pairing
from ..select import denied, netns_choice
from .codes import (
    EXIT_CODES_HELP,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_NETNS_UNREADABLE,
    EXIT_NO_GRAPHVIZ,
    EXIT_NOT_FOUND,
    EXIT_NOT_FOUND_INCOMPLETE,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    PROG,
)
from .commands import (
    _chosen_netns,
    _find,
    _graph_command,
    _matches,
    _not_found,
    _not_found_code,
    _trace_command,
    _watch_command,
)
from .output import (
    _print_warnings,
    _say,
    _silence_stdout,
    _unread_hint,
    _write_output,
    access_summary,
    guard_standard_fds,
    missing_capabilities,
)
from .parser import build_parser

__all__ = [
    "EXIT_CODES_HELP",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_NETNS_UNREADABLE",
    "EXIT_NOT_FOUND",
    "EXIT_NOT_FOUND_INCOMPLETE",
    "EXIT_NO_GRAPHVIZ",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_USAGE",
    "PROG",
    "access_summary",
    "build_parser",
    "guard_standard_fds",
    "main",
    "missing_capabilities",
    "run",
]

#: What the last one-shot run built. The command line ends with os._exit once its output is
#: flushed (``__main__._exit_now``), so nothing of it is freed object by object; a library caller
#: of ``main()`` holds one run's worth at most.
_KEPT: List[object] = []


def run(argv: Optional[Sequence[str]] = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["__complete"]:
        return _complete(words[1:])
    args = build_parser().parse_args(words)
    command = args.command or "list"
    form = FORMATS["json" if getattr(args, "json", False) else "text"]
    quiet = getattr(args, "quiet", False)
    load = getattr(args, "load", None)
    save = getattr(args, "save", None)

    if command == "completion":
        from .. import completion

        _write_output(completion.script(args.shell, PROG))
        return EXIT_OK
    if command == "demo":
        from .. import demo

        if args.graph is not None:
            from ..render import graph as graph_render

            if args.graph not in graph_render.formats():
                raise UsageError(f"--graph {args.graph}: expected one of {', '.join(graph_render.formats())}")
        return demo.run(as_json=form.name == "json", wait=args.wait, graph=args.graph)

    root = getattr(args, "root", None) or "/"
    proc = getattr(args, "proc", None) or os.path.join(root, "proc")
    if command == "watch":
        with ops.gc_resumed():  # long-running: its memory must stay bounded between scans
            return _watch_command(args, form, root, proc)
    if load is None:
        for option, directory in (("--root", root), ("--proc", proc)):
            if not os.path.isdir(directory):
                raise UsageError(f"{option} {directory}: not a directory")
    spec = getattr(args, "netns", None)
    wanted, by_owner, extra_paths = netns_choice(spec if load is None else None, root, proc)
    if load is not None and save is not None:
        raise UsageError("--load and --save do not go together")

    snap, pairing = _scan_or_load(args, command, load, save, spec, extra_paths, root, proc)
    access = access_summary(snap)
    if access is not None:
        snap = snap._replace(warnings=(access, *snap.warnings))
        if not quiet:
            # The first thing said: everything below is a small part of the host.
            _say(f"{PROG}: warning: {escape(access)}")
    topology = resolve.resolve(snap, pairing)
    # Kept until the process ends (see _KEPT): freed on the way out of this function, a scan of
    # 1000 namespaces took 15-20 ms, after the answer was complete.
    _KEPT[:] = [snap, pairing, topology]
    style = style_for(sys.stdout)
    said = 1 if access is not None else 0  # warnings already on stderr

    return _answer(args, command, topology, spec, by_owner, wanted, style, said)


def _answer(args: argparse.Namespace, command: str, topology: Topology, spec: Optional[str], by_owner: bool,
            wanted: Optional[NamespaceId], style: Style, said: int) -> int:
    """Select, render and write what ``command`` asks of the Topology; the exit code."""
    form = FORMATS["json" if getattr(args, "json", False) else "text"]
    quiet = getattr(args, "quiet", False)
    status = EXIT_OK
    if command in ("peer", "show"):
        netns = _chosen_netns(topology, spec, by_owner, wanted, quiet)
        found = _find(topology, args.ifname, netns)
        matches = _matches(topology, found)
        output = (form.show if command == "show" else form.peer)(topology, matches, style)
        if not found:
            _write_output(output)
            _say(_not_found(topology, args.ifname, netns))
            _print_warnings(topology, quiet, said)
            return _not_found_code(topology, netns)
    elif command == "trace":
        return _trace_command(topology, args, _chosen_netns(topology, spec, by_owner, wanted, quiet, said),
                              form, style, quiet, said)
    elif command == "graph":
        return _graph_command(topology, args, _chosen_netns(topology, spec, by_owner, wanted, quiet, said),
                              form, quiet, said)
    elif command == "namespaces":
        output = form.namespaces(topology, style)
    else:
        output = form.list(topology, style, _unread_hint(topology))
    _write_output(output)
    _print_warnings(topology, quiet, said)
    return status


def _scan_or_load(args: argparse.Namespace, command: str, load: Optional[str], save: Optional[str],
                  spec: Optional[str], extra_paths: List[str], root: str,
                  proc: str) -> Tuple[snapshot_io.Snapshot, Optional[Pairing]]:
    """The snapshot to answer from: ``--load``'s, or this host's (saved with ``--save``), with the
    pairing the reader already drove over it."""
    pairing = None
    if load is not None:
        try:
            snap = snapshot_io.load_file(load)
        except ValueError as error:
            raise UsageError(str(error)) from None
    else:
        try:
            snap, pairing = scanner.read_host(netns_paths=extra_paths, addresses=command != "namespaces",
                                              sockets=getattr(args, "sockets", False), root=root, proc=proc)
        except ValueError as error:
            raise UsageError(f"--netns {spec}: {error}") from None
        lacking = missing_capabilities(getattr(args, "sockets", False))
        if lacking:
            snap = snap._replace(warnings=(*snap.warnings, *lacking))
        if save is not None:
            try:
                with open(save, "w", encoding="utf-8") as handle:
                    handle.write(snapshot_io.dumps(snap))
            except OSError as error:
                raise UsageError(f"cannot write {save}: {error.strerror}") from None
    return snap, pairing


def _complete(words: List[str]) -> int:
    """``__complete SHELL ...``, what the completion scripts ask: one candidate per line. Says
    nothing on stderr and exits 0 whatever happens (a shell prompt is no place for errors)."""
    from .. import completion

    if not words or words[0] not in completion.SHELLS:
        return EXIT_USAGE
    try:
        found = completion.complete(build_parser(), words[0], words[1:])
    except Exception:  # noqa: BLE001 - nothing to offer rather than a traceback under the prompt
        found = []
    if found:
        _write_output("\n".join(found) + "\n")
    return EXIT_OK


#: The exit code each error the command line reports becomes.
_EXIT_FOR = ((UsageError, EXIT_USAGE), (NetnsUnreadable, EXIT_NETNS_UNREADABLE), (OutputError, EXIT_OUTPUT),
             (DrawError, EXIT_NO_GRAPHVIZ))


def main(argv: Optional[Sequence[str]] = None) -> int:
    guard_standard_fds()
    try:
        # A one-shot run allocates and drops; the collector only costs it time (see gc_paused).
        # watch turns it back on for itself.
        with ops.gc_paused():
            return run(argv)
    except (UsageError, NetnsUnreadable, OutputError, DrawError) as error:
        # The message may quote what the user typed: escaped, it stays one harmless line.
        _say(f"{PROG}: error: {escape(str(error))}")
        return next(code for kind, code in _EXIT_FOR if isinstance(error, kind))
    except KeyboardInterrupt:
        _say(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`vethpeer list | head`): not an error worth a traceback.
        _silence_stdout()
        return EXIT_OK
    except OSError as error:
        reason = error.strerror or str(error)
        hint = " (try as root)" if denied(error) else ""
        _say(f"{PROG}: error: cannot scan this host: {escape(reason)}{hint}")
        return EXIT_FAILURE
