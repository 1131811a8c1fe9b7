"""``python -m vethpeer`` and the ``vethpeer`` console script.

Importing the CLI takes tens of milliseconds (argparse, json, the resolver): a Ctrl-C in that
time must end in the same one line and exit code 130 as one during the scan, not in a traceback,
so every import happens inside the handler, this module's own included (only ``sys``, which
the interpreter has loaded before any of our code, is imported outside it).
"""

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

EXIT_INTERRUPTED = 130


def main() -> int:
    try:
        import os

        from .cli import main as cli_main
    except KeyboardInterrupt:
        try:
            sys.stderr.write("vethpeer: interrupted\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_INTERRUPTED
    code = cli_main()
    _exit_now(code, os._exit)
    return code


def _exit_now(code: int, exit_now: "Callable[[int], object]") -> None:
    """End the process without tearing the interpreter down object by object: everything was
    written and every socket and namespace handle closed already, and freeing a scan of 1000
    namespaces one object at a time took 7-10 ms (strace: from the last write to exit_group).
    Returns only when the output streams cannot be flushed (then the usual exit reports it)."""
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return
    exit_now(code)


if __name__ == "__main__":
    sys.exit(main())
