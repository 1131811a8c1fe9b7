"""Making names safe to print: escaping control and non-printable characters, and colour."""

from __future__ import annotations

import os
from typing import Iterable, List, Optional, Sequence, TextIO

_UNDECODABLE = range(0xDC80, 0xDD00)  # surrogateescape: byte 0x80..0xff that was not UTF-8


def escape(text: str) -> str:
    r"""Render ``text`` so that it cannot control a terminal and can be read back unambiguously.

    ASCII control characters become ``\xNN``, other non-printable characters (C1 controls, bidi
    overrides, zero-width ones) ``\uNNNN``, and a byte that was not valid UTF-8 ``\xNN`` with NN
    >= 80, so ``\xNN`` never means two things; a backslash becomes ``\\``. Everything else prints
    as it is.
    """
    if text.isascii() and text.isprintable() and "\\" not in text:
        return text
    out: List[str] = []
    for char in text:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif code in _UNDECODABLE:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char.isprintable():
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def columns(text: str) -> int:
    """How many terminal columns ``text`` takes: East Asian wide and full-width characters two,
    combining and zero-width ones none (``wcswidth``'s rule, without the C library's locale)."""
    if text.isascii():
        return len(text)
    import unicodedata  # only for text that needs it: the ASCII path costs no import

    total = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


def cut(text: str, width: int) -> str:
    """The longest start of ``text`` that fits in ``width`` terminal columns (a wide character
    that would straddle the edge is left out whole)."""
    if text.isascii():
        return text[:width]
    used = 0
    for index, char in enumerate(text):
        step = columns(char)
        if used + step > width:
            return text[:index]
        used += step
    return text


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` terminal columns (on the left when ``right``)."""
    fill = " " * max(0, width - columns(text))
    return fill + text if right else text + fill


def printable_in(text: str, encoding: Optional[str]) -> str:
    r"""``text`` with every character ``encoding`` cannot represent written as ``\uNNNN``.

    A terminal in a Latin-1 or ASCII locale cannot show '漢': writing it would raise
    UnicodeEncodeError. Escaped text never holds a literal backslash sequence (``escape`` doubles
    backslashes), so ``\u6f22`` still reads back unambiguously.
    """
    if not encoding or text.isascii():
        return text
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        pass
    except LookupError:
        encoding = "ascii"
    out: List[str] = []
    for char in text:
        try:
            char.encode(encoding)
            out.append(char)
        except UnicodeEncodeError:
            # Never \xNN (codec's backslashreplace for U+0080..U+00FF): escape() means a byte that
            # was not UTF-8 by it.
            code = ord(char)
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def use_color(stream: TextIO) -> bool:
    """Colour on a terminal, unless NO_COLOR (no-color.org: any non-empty value) or TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def style_for(stream: TextIO) -> Style:
    """The Style for writing to ``stream``: colour as ``use_color`` says, cells made printable in
    its encoding."""
    return Style(use_color(stream), encoding=getattr(stream, "encoding", None))


class Style:
    """ANSI colour when enabled, plain text otherwise. Text is escaped before it is styled.

    ``encoding`` is the output's: table cells are made printable in it before they are aligned.
    """

    def __init__(self, enabled: bool, encoding: Optional[str] = None) -> None:
        self.enabled = enabled
        self.encoding = encoding

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled and text else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def warn(self, text: str) -> str:
        return self._wrap("33", text)

    def good(self, text: str) -> str:
        return self._wrap("32", text)

    def accent(self, text: str) -> str:
        return self._wrap("36", text)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], style: Style,
          right: Sequence[int] = (), styles: Optional[Sequence[Optional[str]]] = None) -> str:
    """Aligned columns. Cells must already be escaped; ``right`` lists right-aligned columns.

    ``styles`` names a Style method per column (or None) applied after padding, so colour codes
    never disturb the alignment.
    """
    body = [[printable_in(cell, style.encoding) for cell in row] for row in rows]
    widths = [columns(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], columns(cell))
    last = len(headers) - 1

    def line(cells: Sequence[str], header: bool) -> str:
        parts = []
        # Cells after the last non-empty one are dropped, and that one is not padded on the right,
        # so no line ends in blanks (not even inside colour codes).
        end = max((i for i, cell in enumerate(cells) if cell), default=-1)
        for i, cell in enumerate(cells[: end + 1]):
            padded = pad(cell, widths[i], right=True) if i in right else (
                cell if i in (last, end) else pad(cell, widths[i]))
            if header:
                padded = style.bold(padded)
            elif styles is not None and styles[i] is not None and cell:
                padded = getattr(style, str(styles[i]))(padded)
            parts.append(padded)
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers, True)] + [line(row, False) for row in body])
