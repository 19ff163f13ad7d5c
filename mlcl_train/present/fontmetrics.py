"""The advance widths of the deck's fonts, read from metric-compatible TTF files into fonts.json.

    python -m mlcl_train.present.fontmetrics /usr/share/fonts/truetype/liberation   # rewrite fonts.json

The deck names Arial and Courier New, which Office has on Windows and macOS. Liberation Sans and
Liberation Mono (Debian's fonts-liberation) are metric-compatible with them: every character has
the same advance width. fonts.json holds those widths (in font units) for the characters a deck
may show outside East Asian text, so that text is measured the same wherever mlcl-train runs,
without the fonts. tests/test_slides_fit.py checks the table against the TTF files where present.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TABLE = Path(__file__).with_name("fonts.json")
FILES = {  # (typeface the deck names, bold) -> its metric-compatible TTF file
    ("Arial", False): "LiberationSans-Regular.ttf",
    ("Arial", True): "LiberationSans-Bold.ttf",
    ("Courier New", False): "LiberationMono-Regular.ttf",
    ("Courier New", True): "LiberationMono-Bold.ttf",
}
RANGES = (  # the characters measured: Latin, Greek, Cyrillic, punctuation, symbols, arrows, math, boxes
    (0x20, 0x24F), (0x370, 0x4FF), (0x2000, 0x20CF), (0x2100, 0x22FF), (0x2500, 0x25FF),
)


def advances(ttf: Path) -> tuple[int, dict[int, int]]:
    """The font's units per em, and the advance width of each character of RANGES it has."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(ttf), lazy=True)
    cmap, hmtx = font.getBestCmap(), font["hmtx"]
    wanted = {cp for lo, hi in RANGES for cp in range(lo, hi + 1)}
    return font["head"].unitsPerEm, {cp: hmtx[name][0] for cp, name in cmap.items() if cp in wanted}


def table(folder: Path) -> dict[str, object]:
    """fonts.json's content from the TTF files in folder."""
    fonts: dict[str, object] = {}
    for (typeface, bold), file in FILES.items():
        em, widths = advances(folder / file)
        fonts[f"{typeface}{' Bold' if bold else ''}"] = {
            "file": file, "units_per_em": em, "widths": {str(cp): w for cp, w in sorted(widths.items())},
        }
    return fonts


if __name__ == "__main__":
    TABLE.write_text(json.dumps(table(Path(sys.argv[1])), separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {TABLE}")
