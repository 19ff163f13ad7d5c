"""Text measured with the deck's real fonts, so that every text box is laid out to fit.

    width_in("98.12%", 14)                       # inches the text takes at 14 pt
    wrap("Compared: model.hidden, ...", 18, 6.0)  # the lines it wraps into in a 6-inch box
    cut("a long label", 18, 3.0)                 # the text, cut with an ellipsis to one line of 3 inches

The deck names Arial and Courier New, which Office has on Windows and macOS, and measures them with
the advance widths of Liberation Sans and Liberation Mono, their metric-compatible free twins
(fonts.json, written by present/fontmetrics.py): what fits here fits in PowerPoint, and LibreOffice
draws them in the Liberation fonts themselves. Hangul and other wide East Asian characters are
drawn in the East Asian typeface the deck names (Malgun Gothic) and measured as one em each, the
widest its glyphs are; so is any other character the table lacks.
"""

from __future__ import annotations

import json
from functools import lru_cache

from mlcl_train.present.fontmetrics import TABLE

FONT, MONO = "Arial", "Courier New"
EAST_ASIAN = "Malgun Gothic"  # <a:ea>: Office's Korean font on Windows; its glyphs are at most 1 em wide
LINE = 1.2  # a line's height, times the font size (single spacing)
BREAKS = (" ", "\u200b")  # where a line may break: a space, or a zero-width space (after _ and . in headers)


@lru_cache(maxsize=1)
def _table() -> dict[str, dict]:
    """fonts.json, read once."""
    return json.loads(TABLE.read_text(encoding="utf-8"))


@lru_cache(maxsize=8)
def _widths(font: str, bold: bool) -> tuple[int, dict[str, int]]:
    """The font's units per em and its advance widths by character (fonts.json)."""
    entry = _table()[f"{font}{' Bold' if bold else ''}"]
    return entry["units_per_em"], {chr(int(cp)): w for cp, w in entry["widths"].items()}


def width_in(text: str, pt: float, bold: bool = False, font: str = FONT) -> float:
    """Inches the text takes on one line (a wide East Asian character, or one the table lacks: one em)."""
    em, widths = _widths(font, bold)
    units = sum(widths.get(ch, em) for ch in text if ch != "\u200b")
    return units / em * pt / 72


def line_in(pt: float) -> float:
    """Inches a line of text takes."""
    return LINE * pt / 72


def wrap(text: str, pt: float, width: float, bold: bool = False, font: str = FONT) -> list[str]:
    """The lines text wraps into at `width` inches: at spaces, a word wider than the line broken where it must."""
    lines: list[str] = []
    current = ""
    for word in _words(text):
        trial = current + word
        if current and width_in(trial.rstrip(), pt, bold, font) > width:
            lines.append(current.rstrip())
            current, trial = "", word.lstrip()
        while width_in(trial.rstrip(), pt, bold, font) > width and len(trial) > 1:  # a word wider than a line
            n = max(i for i in range(1, len(trial) + 1) if i == 1 or width_in(trial[:i], pt, bold, font) <= width)
            lines.append(trial[:n])
            trial = trial[n:]
        current = trial
    return [*lines, current.rstrip()] if current or not lines else lines


def fits(text: str, pt: float, width: float, bold: bool = False, font: str = FONT, lines: int = 1) -> bool:
    """Whether text takes at most `lines` lines at `width` inches, no word broken."""
    whole = all(width_in(w.strip(" "), pt, bold, font) <= width for w in _words(text))
    return whole and len(wrap(text, pt, width, bold, font)) <= lines


def cut(text: str, pt: float, width: float, bold: bool = False, font: str = FONT) -> str:
    """The text on one line of `width` inches: whole, or cut with an ellipsis."""
    if width_in(text, pt, bold, font) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest start that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if width_in(text[:mid].rstrip() + "\u2026", pt, bold, font) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "\u2026"


def cut_middle(text: str, pt: float, width: float, bold: bool = False, font: str = FONT) -> str:
    """The text on one line of `width` inches, its end kept: a label's name is cut before the keys after it."""
    if width_in(text, pt, bold, font) <= width:
        return text
    name, space, keys = text.partition(" ")
    tail = space + keys if keys and width_in(space + keys, pt, bold, font) <= 0.8 * width else ""
    return cut(name if tail else text, pt, width - width_in(tail, pt, bold, font), bold, font) + tail


def height_in(lines: list[str], pt: float, width: float, bold: bool = False, font: str = FONT) -> float:
    """Inches the paragraphs take at `width` inches, wrapped."""
    return sum(len(wrap(line, pt, width, bold, font)) for line in lines) * line_in(pt)


def _words(text: str) -> list[str]:
    """text split after each break point, keeping the break with the word before it."""
    words, current = [], ""
    for ch in text:
        current += ch
        if ch in BREAKS:
            words.append(current)
            current = ""
    return [*words, current] if current else words

