"""The exit codes and the program's name."""

from __future__ import annotations

EXIT_OK = 0


EXIT_NOT_FOUND = 1


EXIT_USAGE = 2


EXIT_FAILURE = 3


EXIT_NETNS_UNREADABLE = 4


EXIT_OUTPUT = 5


EXIT_NO_GRAPHVIZ = 6


EXIT_NOT_FOUND_INCOMPLETE = 7


EXIT_INTERRUPTED = 130


PROG = "vethpeer"


EXIT_CODES_HELP = ("Exit codes: 0 answer, 1 interface not found, 2 usage error, 3 scan failed, "
                   "4 the --netns namespace could not be read, 5 output could not be written, "
                   "6 graph could not be drawn (Graphviz missing or failed), 7 not found in the namespaces that "
                   "could be read but some could not be read (run as root), 130 interrupted.")
