"""The errors the command line turns into exit codes (``cli``): raised wherever the fault is found."""

from __future__ import annotations


class UsageError(Exception):
    """A user mistake: reported in one line, exit code 2."""


class NetnsUnreadable(Exception):
    """The namespace --netns names exists but could not be read: exit code 4."""


class OutputError(Exception):
    """stdout refused the answer: exit code 5."""


class DrawError(Exception):
    """Graphviz is missing or failed to draw: exit code 6."""
