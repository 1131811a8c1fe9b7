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
from typing import Callable, List, Optional, Sequence

from ..errors import DrawError, NetnsUnreadable, OutputError, UsageError
from ..render.text import escape
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
from .output import (
    _say,
    _silence_stdout,
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

def run(argv: Optional[Sequence[str]] = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["__complete"]:
        return _complete(words[1:])
    args = build_parser().parse_args(words)
    command = args.command or "list"
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
        return demo.run(as_json=getattr(args, "json", False), wait=args.wait, graph=args.graph)

    early = _early_mountinfo(args, command)
    from .answer import answer  # the scan, the selection, the rendering: what parsing does not need

    return answer(args, command, early)


def _early_mountinfo(args: argparse.Namespace, command: str) -> Optional[Callable[[], str]]:
    """For a ``peer``, ``show`` or ``trace`` question the targeted read may answer (see
    ``answer``), the mount table read from now on, while the pipeline is imported
    (``host.early``); a whole read reads its own, after it starts watching for namespaces made
    meanwhile."""
    if command not in ("peer", "show", "trace") or any(
            getattr(args, option, None) for option in ("load", "save", "json")):
        return None
    from ..host.early import EarlyRead

    proc = getattr(args, "proc", None) or os.path.join(getattr(args, "root", None) or "/", "proc")
    return EarlyRead(os.path.join(proc, "self/mountinfo")).text


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
    from ..host import ops

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
        from ..select import denied

        reason = error.strerror or str(error)
        hint = " (try as root)" if denied(error) else ""
        _say(f"{PROG}: error: cannot scan this host: {escape(reason)}{hint}")
        return EXIT_FAILURE
