"""Every text on every slide fits its box, measured with the real font metrics of the font the deck names.

Decks of 1, 4 and 30 runs: long names, several --set variants of one config (as a sweep makes), a CNN
and long `sequential` models. The measuring here is written apart from the deck's layout code
(present/typeset.py): Pillow reads the TTF files of Liberation Sans and Liberation Mono, metric-compatible
with the Arial and Courier New the deck names (Debian's fonts-liberation, which CI installs), text wraps
at spaces (and zero-width spaces), a line is 1.2 times the font size, and a table row must hold its cell's lines.
"""

from __future__ import annotations

import os
import shutil
import unicodedata
from pathlib import Path

import pytest
from conftest import LONG_NAME, many_runs
from PIL import ImageFont
from pptx import Presentation
from pptx.util import Emu
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.present import fontmetrics

LIBERATION = [Path("/usr/share/fonts/truetype/liberation"), Path("/usr/share/fonts/truetype/liberation2")]
FONTS = {  # the fonts a deck may name -> their metric-compatible files
    (typeface, bold): next((d / file for d in LIBERATION if (d / file).is_file()), LIBERATION[0] / file)
    for (typeface, bold), file in fontmetrics.FILES.items()
}


@pytest.fixture(autouse=True)
def liberation_fonts() -> None:
    """The fonts to measure with; outside CI a machine without them skips, saying how to get them."""
    missing = [str(f) for f in FONTS.values() if not f.is_file()]
    if missing and os.environ.get("CI") == "true":
        pytest.fail(f"no {missing[0]}: .ci/run installs fonts-liberation")
    if missing:
        pytest.skip("no Liberation fonts to measure the deck with (apt-get install fonts-liberation)")
runner = CliRunner()


def inches(emu: int) -> float:
    return Emu(emu).inches


def text_width(text: str, font: str, bold: bool, pt: float) -> float:
    """Hangul and other wide characters are drawn in the East Asian typeface (<a:ea>), at most 1 em each."""
    face = ImageFont.truetype(str(FONTS[(font, bold)]), round(pt * 20))
    wide = [ch for ch in text if unicodedata.east_asian_width(ch) in "WF"]
    rest = "".join(ch for ch in text.replace("\u200b", "") if ch not in wide)
    return face.getlength(rest) / 20 / 72 + len(wide) * pt / 72


def wrapped_lines(text: str, font: str, bold: bool, pt: float, width: float, where: str) -> int:
    """Lines the text takes at `width` inches; a word wider than the line fails the test."""
    words = [w for w in text.replace("\u200b", "\u200b ").split(" ") if w]
    lines, current = 1, ""
    for word in words:
        assert text_width(word, font, bold, pt) <= width + 1e-6, f"{where}: {word!r} is wider than its box"
        trial = f"{current} {word}".strip() if not current.endswith("\u200b") else current + word
        if current and text_width(trial, font, bold, pt) > width:
            lines, current = lines + 1, word
        else:
            current = trial
    return lines


def paragraph_height(para, width: float, where: str) -> float:
    runs = [r for r in para.runs if r.text]
    if not runs:
        return 0.0
    font, size = runs[0].font, runs[0].font.size
    assert size is not None and font.name in {f for f, _ in FONTS}, f"{where}: text without a measured font or size"
    pt = size.pt
    lines = wrapped_lines("".join(r.text for r in runs), font.name, bool(font.bold), pt, width, where)
    after = para.space_after.pt / 72 if para.space_after is not None else 0.0
    return lines * 1.2 * pt / 72 + after


def check_frame(frame, width: float, height: float, where: str) -> None:
    inner_w = width - inches(frame.margin_left) - inches(frame.margin_right)
    inner_h = height - inches(frame.margin_top) - inches(frame.margin_bottom)
    used = sum(paragraph_height(p, inner_w, where) for p in frame.paragraphs)
    assert used <= inner_h + 0.02, f"{where}: text takes {used:.2f} in of a {inner_h:.2f} in box: {frame.text[:80]!r}"


def check_deck(path: Path) -> int:
    """Check every box of every slide; returns the number of slides."""
    prs = Presentation(str(path))
    slide_w, slide_h = inches(prs.slide_width), inches(prs.slide_height)
    for n, slide in enumerate(prs.slides, 1):
        boxes = [(s.name, *(inches(v) for v in (s.left, s.top, s.width, s.height))) for s in slide.shapes]
        for i, (a, al, at, aw, ah) in enumerate(boxes):
            for b, bl, bt, bw, bh in boxes[i + 1:]:
                apart = al + aw <= bl + 0.01 or bl + bw <= al + 0.01 or at + ah <= bt + 0.01 or bt + bh <= at + 0.01
                assert apart, f"slide {n}: {a} and {b} overlap"
        for shape in slide.shapes:
            where = f"slide {n} ({slide.shapes.title.text_frame.text[:40]!r}), {shape.name}"
            left, top, width, height = (inches(v) for v in (shape.left, shape.top, shape.width, shape.height))
            assert left >= 0 and top >= 0 and left + width <= slide_w + 0.01, f"{where}: off the slide sideways"
            if shape.has_text_frame:
                check_frame(shape.text_frame, width, height, where)
            if shape.has_table:
                grid = shape.table
                rows_h = sum(inches(r.height) for r in grid.rows)
                assert sum(inches(c.width) for c in grid.columns) <= width + 0.01, f"{where}: columns wider than table"
                assert top + rows_h <= slide_h - 0.2, f"{where}: the table runs off the slide"
                for r, row in enumerate(grid.rows):
                    for c, column in enumerate(grid.columns):
                        cell = grid.cell(r, c)
                        check_frame(cell.text_frame, inches(column.width) - inches(cell.margin_left)
                                    - inches(cell.margin_right) + 0.2, inches(row.height) - inches(cell.margin_top)
                                    - inches(cell.margin_bottom) + 0.1, f"{where} cell ({r}, {c})")
            else:
                assert top + height <= slide_h + 0.01, f"{where}: off the slide at the bottom"
    return len(prs.slides)


@pytest.mark.slow
@pytest.mark.parametrize("count", [4, 30])
def test_every_text_fits_its_box_in_decks_of_many_runs(tmp_path: Path, count: int):
    runs = many_runs(tmp_path / "runs", count)
    out = tmp_path / "deck.pptx"
    result = runner.invoke(app, ["slides", str(runs), "-o", str(out), "--title", "Model structure " * 6])
    assert result.exit_code == 0, result.output
    slides = check_deck(out)
    assert slides >= count + 3
    tables = [s for s in Presentation(str(out)).slides if s.shapes.title.text_frame.text.startswith("Comparison")]
    tables = tables[1:] if len(tables) > 1 else tables  # the talk's slide shows some; the appendix all
    assert len(tables) <= (1 if count <= 12 else 3)
    labels = [row.cells[0].text for t in tables for shape in t.shapes if shape.has_table
              for row in list(shape.table.rows)[1:]]
    assert len(labels) == count and len(set(labels)) == count  # cut before the keys that tell runs apart


@pytest.mark.slow
def test_every_text_fits_in_a_deck_of_one_trained_run(trained_runs, tmp_path: Path):
    run = shutil.copytree(next(trained_runs[0].glob("*-hidden16")), tmp_path / "runs" / "one")
    config = (run / "config.yaml").read_text().replace("name: hidden16", f"name: {LONG_NAME}")
    (run / "config.yaml").write_text(config)
    out = tmp_path / "deck.pptx"
    result = runner.invoke(app, ["slides", str(run), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert check_deck(out) >= 4


def test_the_check_finds_text_that_runs_off_its_box(tmp_path: Path):
    from pptx.util import Inches, Pt

    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    frame = slide.shapes.add_textbox(Inches(1), Inches(2), Inches(3), Inches(0.5)).text_frame
    frame.word_wrap = True
    run = frame.paragraphs[0].add_run()
    run.text, run.font.size, run.font.name = "words " * 20, Pt(18), "Arial"
    slide.shapes.title.text_frame.text = "t"
    slide.shapes.title.text_frame.paragraphs[0].runs[0].font.name = "Arial"
    slide.shapes.title.text_frame.paragraphs[0].runs[0].font.size = Pt(20)
    prs.save(tmp_path / "bad.pptx")
    with pytest.raises(AssertionError, match="takes"):
        check_deck(tmp_path / "bad.pptx")


def test_the_deck_measures_with_the_widths_of_the_metric_compatible_fonts():
    """fonts.json, which the deck's layout measures with, is what the TTF files say, character by character."""
    import json

    from mlcl_train.present import typeset

    table = json.loads(fontmetrics.TABLE.read_text(encoding="utf-8"))
    for (typeface, bold), path in FONTS.items():
        em, widths = fontmetrics.advances(path)
        entry = table[f"{typeface}{' Bold' if bold else ''}"]
        assert entry["units_per_em"] == em and {int(k): v for k, v in entry["widths"].items()} == widths, path
    for text, bold in (("Test accuracy: 98.23% (+41.2 points)", False), ("What each change did", True)):
        pt = 18  # the layout adds advances unkerned, as PowerPoint draws (kerning is off by default); Pillow kerns
        kerned = text_width(text, "Arial", bold, pt)
        assert kerned - 0.005 <= typeset.width_in(text, pt, bold) <= kerned * 1.01
    assert typeset.width_in("정확도", 20) == pytest.approx(3 * 20 / 72)  # Malgun Gothic: at most 1 em
