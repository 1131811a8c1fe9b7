"""``python -m vethpeer`` and the ``vethpeer`` console script.

Importing the CLI takes tens of milliseconds (argparse, json, the resolver): a Ctrl-C in that
time must end in the same one line and exit code 130 as one during the scan, not in a traceback,
so the import happens inside the handler.
"""

import contextlib
import os
import sys

EXIT_INTERRUPTED = 130


def main() -> int:
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        with contextlib.suppress(OSError):
            os.write(2, b"vethpeer: interrupted\n")
        return EXIT_INTERRUPTED
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
