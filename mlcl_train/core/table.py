"""One table renderer for every table the command line prints: aligned text, markdown or csv.

    print(render(["layer", "params"], [["fc1", "401,920"]], "text", right={1}), end="")

Cells are display strings already; formatting numbers is the caller's job.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from typing import Collection, Sequence

FORMATS = ("text", "markdown", "csv")


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], fmt: str = "text", right: Collection[int] = (),
           rule: bool = True, indent: str = "") -> str:
    """The table as text ending in a newline; `right` holds the indexes of right-aligned columns."""
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerows([headers, *rows])
        return buf.getvalue()
    if fmt == "markdown":
        return markdown(headers, rows, right)
    assert fmt == "text", f"unknown table format {fmt!r}"
    widths = [max(map(width, col)) for col in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        pads = (" " * (w - width(x)) for x, w in zip(cells, widths, strict=True))
        aligned = (pad + x if i in right else x + pad for i, (x, pad) in enumerate(zip(cells, pads, strict=True)))
        return (indent + "  ".join(aligned)).rstrip() + "\n"

    return "".join(line(cells) for cells in [headers, *([["-" * w for w in widths]] if rule else []), *rows])


def width(text: str) -> int:
    """Columns text takes in a terminal: two for a wide character (Hangul, CJK), one for the others."""
    return len(text) + sum(unicodedata.east_asian_width(c) in "WF" for c in text if ord(c) > 0x10FF)


def markdown(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Collection[int] = ()) -> str:
    """A pipe table; `|` inside a cell is escaped."""

    def line(items: Sequence[str]) -> str:
        return "| " + " | ".join(x.replace("|", "\\|") for x in items) + " |"

    align = ["---:" if i in right else ":---" for i in range(len(headers))]
    return "\n".join([line(headers), "|" + "|".join(align) + "|", *map(line, rows)]) + "\n"
