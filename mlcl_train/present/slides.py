"""A PowerPoint deck of runs: title, comparison table, one slide per run, all curves, confusion matrix.

    mlcl-train slides runs/ -o results.pptx --title "Homework 2: model structure"

16:9 slides; tables at 14 pt, text at 18 pt or more. Long tables go on several slides (8 runs
per slide; columns that do not fit move to another slide), long layer lists are cut in the middle.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any, Iterable

from mlcl_train.errors import UserError
from mlcl_train.model_summary import Layer, display_rows
from mlcl_train.present.content import Content, RunContent, gather, is_number, shorten, total_params
from mlcl_train.runs import RunRecord

WIDTH, HEIGHT, MARGIN = 13.333, 7.5, 0.5  # inches
TOP = 1.25  # below the title
BOTTOM = HEIGHT - 0.3
TABLE_PT, BODY_PT, TITLE_PT = 14, 18, 30
ROWS_PER_SLIDE = 8
ROW_IN = 0.32  # a 14 pt table row with small margins
LINE_IN = 0.32  # a line of 18 pt text
MONO = "Courier New"  # on every system (Liberation Mono stands in on Linux)
BEST_FILL, HEAD_FILL, ODD_FILL, EVEN_FILL = "D9EAD3", "3B5B7A", "EEF2F6", "FFFFFF"
WARN = "A61C00"  # text of a run that is not completed
MODEL_LINES = 9  # of the model's YAML on a run's slide
CELL_CHARS = 30  # a longer table value (a model.layers list) is cut, with its run's slide showing it all


def write_slides(records: list[RunRecord], output: str | Path, title: str | None = None,
                 filters: Iterable[str] = (), device: str = "cpu", where: str = "runs") -> tuple[Path, int]:
    """Gather the runs' content and write the deck; returns its path and the number of slides."""
    output = check_output(output)
    prs = build_deck(gather(records, title, filters, device, where))
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        prs.save(output)
    except OSError as err:
        raise UserError(f"cannot write {output}: {err.strerror}") from None
    return output, len(prs.slides)


def check_output(output: str | Path) -> Path:
    """The deck's path, if it names a .pptx file."""
    output = Path(output)
    if output.suffix.lower() != ".pptx":
        raise UserError(f"-o {output}: a deck is written as .pptx, e.g. -o results.pptx")
    return output


def build_deck(content: Content) -> Any:
    """The Presentation object, slide by slide."""
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(WIDTH), Inches(HEIGHT)
    title_slide(prs, content)
    table_slides(prs, content)
    for part in content.sweeps:
        sweep_slides(prs, part)
    for run in content.runs:
        run_slide(prs, run)
    if content.all_curves is not None:
        slide = new_slide(prs, "Test accuracy of all runs")
        picture(slide, content.all_curves, MARGIN, TOP, WIDTH - 2 * MARGIN, BOTTOM - TOP)
    confusion_slides(prs, content)
    return prs


# ---------------------------------------------------------------- slides


def title_slide(prs: Any, content: Content) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[0])
    head, sub = slide.shapes.title, slide.placeholders[1]
    place(head, MARGIN, 1.6, WIDTH - 2 * MARGIN, 2.0)
    write(head.text_frame, [content.title], 40, bold=True)
    place(sub, MARGIN, 3.9, WIDTH - 2 * MARGIN, 3.0)
    write(sub.text_frame, content.subtitle, 22)


def table_slides(prs: Any, content: Content) -> None:
    """The comparison table, 8 runs a slide; columns that do not fit go to a further slide."""
    rows = [[shorten(v, CELL_CHARS) for v in row] for row in content.rows]
    groups = column_groups(content.headers, rows)
    size = -(-len(rows) // -(-len(rows) // ROWS_PER_SLIDE))  # as even as the slides allow: 10 runs are 5 + 5
    chunks = [range(i, min(i + size, len(rows))) for i in range(0, len(rows), size)]
    parts = [(chunk, cols) for chunk in chunks for cols in groups]
    below = ["Same for all runs: " + ", ".join(f"{k} {v}" for k, v in content.same)] if content.same else []
    for n, (chunk, cols) in enumerate(parts, 1):
        slide = new_slide(prs, "Comparison" + (f" ({n}/{len(parts)})" if len(parts) > 1 else ""))
        best = chunk.index(content.best) if content.best in chunk else None
        right = None if content.numeric is None else {i for i, c in enumerate(cols) if content.numeric[c]}
        height = table(slide, [content.headers[c] for c in cols], [[rows[r][c] for c in cols] for r in chunk],
                       MARGIN, TOP, WIDTH - 2 * MARGIN, best=best, right=right)
        if n == len(parts):
            notes_below(slide, below, content.notes, TOP + height + 0.25)


def sweep_slides(prs: Any, part: Any) -> None:
    """A sweep: its grouped table (8 points a slide), then its metric against each swept key."""
    rows = [[shorten(v, CELL_CHARS) for v in row] for row in part.rows]
    chunks = [rows[i : i + ROWS_PER_SLIDE] for i in range(0, len(rows), ROWS_PER_SLIDE)] or [[]]
    right = {i for i, num in enumerate(part.numeric) if num}
    for n, chunk in enumerate(chunks, 1):
        slide = new_slide(prs, f"Sweep {part.name}" + (f" ({n}/{len(chunks)})" if len(chunks) > 1 else ""))
        height = table(slide, part.headers, chunk, MARGIN, TOP, WIDTH - 2 * MARGIN, best=0 if n == 1 else None,
                       right=right)
        notes_below(slide, [part.line], [], TOP + height + 0.25)
    if part.figure is not None:
        slide = new_slide(prs, f"Sweep {part.name}: accuracy against each swept key")
        picture(slide, part.figure, MARGIN, TOP, WIDTH - 2 * MARGIN, BOTTOM - TOP)


def notes_below(slide: Any, same: list[str], notes: list[str], top: float) -> None:
    """Under the table: the columns that are the same for all runs, then (in red) the runs not completed."""
    room = int((BOTTOM - top) / LINE_IN) - len(same)
    if len(notes) > room:
        notes = [*notes[: room - 1], f"and {len(notes) - room + 1} more"]
    box = textbox(slide, MARGIN, top, WIDTH - 2 * MARGIN, BOTTOM - top)
    for i, line in enumerate([*same, *notes]):
        span(
            box.paragraphs[0] if i == 0 else box.add_paragraph(), line, BODY_PT, color=WARN if i >= len(same) else None
        )


def run_slide(prs: Any, run: RunContent) -> None:
    """The model's YAML and layers on the left; its results and curves on the right."""
    slide = new_slide(prs, run.label)
    structure(slide, run, MARGIN, 5.6)
    results(slide, run, MARGIN + 5.9, WIDTH - 2 * MARGIN - 5.9)


def structure(slide: Any, run: RunContent, left: float, width: float) -> None:
    """The config's model section, then the layer table (cut in the middle if it is long)."""
    chars = int((width - 0.3) / (0.6 * TABLE_PT / 72))  # of the monospaced font
    yaml_lines = clip([shorten(line, chars) for line in run.model_yaml.splitlines()], MODEL_LINES)
    write(textbox(slide, left, TOP, width, 0.25 * len(yaml_lines) + 0.1), yaml_lines, TABLE_PT, font=MONO)
    top = TOP + 0.25 * len(yaml_lines) + 0.3
    if not run.layers:
        write(textbox(slide, left, top, width, 1.0), [run.layers_note], TABLE_PT)
        return
    fit = max(int((BOTTOM - top) / ROW_IN) - 3, 3)  # less the header (two lines) and the total row
    table(
        slide,
        ["layer", "type", "output shape", "params"],
        layer_rows(run.layers, fit),
        left,
        top,
        width,
        right={3},
        total=True,
    )


def results(slide: Any, run: RunContent, left: float, width: float) -> None:
    """The run's facts, one a line (status in red unless completed), and its curves below them."""
    facts = [(n, f"{n}: {v}") for n, v in run.facts if n != "status" or run.status_note]
    chars = int(width / char_in(BODY_PT))
    height = LINE_IN * sum(-(-len(text) // chars) for _, text in facts)  # wrapped lines
    box = textbox(slide, left, TOP, width, height)
    for i, (name, text) in enumerate(facts):
        span(
            box.paragraphs[0] if i == 0 else box.add_paragraph(),
            text,
            BODY_PT,
            color=WARN if name == "status" else None,
        )
    top = TOP + height + 0.3
    if run.curves is not None:
        picture(slide, run.curves, left, top, width, BOTTOM - top)
    else:
        write(textbox(slide, left, top + 0.5, width, 1.0), ["No finished epoch yet: no curves"], BODY_PT)


def confusion_slides(prs: Any, content: Content) -> None:
    """The best run's confusion matrix with what it says; its most confident mistakes on a slide of their own."""
    slide = new_slide(prs, content.confusion_title)
    if "confusion" not in content.images:
        write(textbox(slide, MARGIN, 2.5, WIDTH - 2 * MARGIN, 2.0), content.confusion_lines, BODY_PT + 2)
        return
    picture(slide, content.images["confusion"], MARGIN - 0.2, TOP - 0.1, 6.8, BOTTOM - TOP + 0.2)
    left = MARGIN + 6.9
    box = textbox(slide, left, TOP + 0.3, WIDTH - MARGIN - left, BOTTOM - TOP - 0.3)
    write(box, content.confusion_lines, BODY_PT, gap=12)
    if "mistakes" in content.images:
        slide = new_slide(prs, content.mistakes_title)
        picture(slide, content.images["mistakes"], MARGIN, TOP, WIDTH - 2 * MARGIN, BOTTOM - TOP)


# ---------------------------------------------------------------- layout


def char_in(pt: float, bold: bool = False) -> float:
    """Inches an average character takes (wide enough for DejaVu Sans, where Calibri is missing)."""
    return (0.64 if bold else 0.58) * pt / 72


def column_groups(headers: list[str], rows: list[list[str]], width: float = WIDTH - 2 * MARGIN) -> list[list[int]]:
    """Column indexes per slide, the first (run) column on each; as few slides as fit, evenly filled."""
    widths = [column_width(h, [r[i] for r in rows]) for i, h in enumerate(headers)]

    def pack(limit: float) -> list[list[int]]:
        groups, used = [[0]], widths[0]
        for i in range(1, len(widths)):
            if used + widths[i] > limit and len(groups[-1]) > 1:
                groups.append([0])
                used = widths[0]
            groups[-1].append(i)
            used += widths[i]
        return groups

    fewest = len(pack(width))
    limit = widths[0] + sum(widths[1:]) / fewest  # the even share of each slide
    while len(pack(limit)) > fewest:
        limit += 0.2
    return pack(min(limit, width))


def column_width(header: str, values: list[str]) -> float:
    """Inches a column needs at TABLE_PT: its longest value or header piece (headers wrap at _ and .)."""
    piece = max(len(p) for p in wrap_points(header).split("\u200b"))
    return max([len(v) * char_in(TABLE_PT) for v in values] + [piece * char_in(TABLE_PT, bold=True)]) + 0.2


def header_lines(header: str, width: float) -> int:
    """Lines a header takes in a column `width` inches wide."""
    lines, used = 1, 0.0
    for piece in wrap_points(header).split("\u200b"):
        need = len(piece) * char_in(TABLE_PT, bold=True)
        if used and used + need > width - 0.2:
            lines, used = lines + 1, 0.0
        used += need
    return lines


def wrap_points(header: str) -> str:
    """A header that may break after _ and . (a zero-width space there)."""
    return header.replace("_", "_\u200b").replace(".", ".\u200b")


def layer_rows(layers: list[Layer], fit: int) -> list[tuple[str, str, str, str]]:
    """The layer table and a total row, as text; if more than `fit` layers, the middle ones become one row."""
    total = total_params(layers)
    rows = display_rows(layers)
    if len(layers) > fit:
        first, last = fit - 1 - (fit - 1) // 2, len(layers) - (fit - 1) // 2  # one row for the layers between
        hidden = layers[first:last]
        rows = [*rows[:first], ("...", f"{len(hidden)} more layers", "", f"{total_params(hidden):,}"), *rows[last:]]
    return [*rows, ("total", "", "", f"{total:,}")]


def clip(lines: list[str], most: int) -> list[str]:
    return lines if len(lines) <= most else [*lines[: most - 1], f"  ... ({len(lines) - most + 1} more lines)"]


# ---------------------------------------------------------------- shapes


def new_slide(prs: Any, title: str) -> Any:
    """A slide with only a title, left-aligned across the top."""
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    place(slide.shapes.title, MARGIN, 0.25, WIDTH - 2 * MARGIN, 0.9)
    write(
        slide.shapes.title.text_frame,
        [shorten(title, 80)],
        TITLE_PT if len(title) <= 50 else 24,
        bold=True,
        align="left",
    )
    return slide


def table(
    slide: Any,
    headers: list[str],
    rows: list[list[str]] | list[tuple[str, ...]],
    left: float,
    top: float,
    width: float,
    best: int | None = None,
    right: set[int] | None = None,
    total: bool = False,
) -> float:
    """A table at TABLE_PT, columns as wide as their text needs (stretched to width); returns its height in inches."""
    from pptx.util import Inches

    needs = [column_width(h, [r[i] for r in rows]) for i, h in enumerate(headers)]
    widths = [need * width / sum(needs) for need in needs]
    head = ROW_IN + 0.24 * (max(header_lines(h, w) for h, w in zip(headers, widths, strict=False)) - 1)
    shape = slide.shapes.add_table(
        len(rows) + 1, len(headers), Inches(left), Inches(top), Inches(width), Inches(head + ROW_IN * len(rows))
    )
    grid = shape.table
    for i, w in enumerate(widths):
        grid.columns[i].width = Inches(w)
    numeric = right if right is not None else {i for i in range(len(headers)) if all(is_number(r[i]) for r in rows)}
    for r, values in enumerate([[wrap_points(h) for h in headers], *rows]):
        grid.rows[r].height = Inches(head if r == 0 else ROW_IN)
        highlight = best is not None and r == best + 1
        fill = HEAD_FILL if r == 0 else BEST_FILL if highlight else (ODD_FILL if r % 2 else EVEN_FILL)
        strong = r == 0 or highlight or (total and r == len(rows))
        for c, text in enumerate(values):
            cell_text(grid.cell(r, c), text, fill, strong, white=r == 0, right=c in numeric)
    return head + ROW_IN * len(rows)


def cell_text(cell: Any, text: str, fill: str, bold: bool, white: bool, right: bool) -> None:
    from pptx.dml.color import RGBColor
    from pptx.enum.text import PP_ALIGN
    from pptx.util import Inches

    cell.fill.solid()
    cell.fill.fore_color.rgb = RGBColor.from_string(fill)
    cell.margin_top = cell.margin_bottom = Inches(0.03)
    cell.margin_left = cell.margin_right = Inches(0.08)
    para = cell.text_frame.paragraphs[0]
    para.alignment = PP_ALIGN.RIGHT if right else PP_ALIGN.LEFT
    span(para, text, TABLE_PT, bold=bold, color="FFFFFF" if white else "000000")


def textbox(slide: Any, left: float, top: float, width: float, height: float) -> Any:
    from pptx.util import Inches

    frame = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height)).text_frame
    frame.word_wrap = True
    return frame


def write(
    frame: Any,
    lines: list[str],
    pt: int,
    bold: bool = False,
    font: str | None = None,
    color: str | None = None,
    align: str | None = None,
    gap: float = 0,
) -> None:
    """Replace a text frame's text with lines, one paragraph each (`gap` points between them)."""
    from pptx.enum.text import PP_ALIGN
    from pptx.util import Pt

    frame.clear()
    frame.word_wrap = True
    for i, line in enumerate(lines):
        para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        if align:
            para.alignment = getattr(PP_ALIGN, align.upper())
        para.space_after = Pt(gap)
        span(para, line, pt, bold=bold, font=font, color=color)


def span(para: Any, text: str, pt: int, bold: bool = False, font: str | None = None, color: str | None = None) -> None:
    from pptx.dml.color import RGBColor
    from pptx.util import Pt

    run = para.add_run()
    run.text = text
    run.font.size = Pt(pt)
    run.font.bold = bold
    if font:
        run.font.name = font
    if color:
        run.font.color.rgb = RGBColor.from_string(color)


def picture(slide: Any, data: bytes, left: float, top: float, width: float, height: float) -> None:
    """A PNG as large as fits the box, keeping its shape, centered in it."""
    from pptx.util import Inches

    w, h = struct.unpack(">II", data[16:24])  # the PNG header's width and height
    scale = min(width / w, height / h)
    slide.shapes.add_picture(
        io.BytesIO(data),
        Inches(left + (width - w * scale) / 2),
        Inches(top + (height - h * scale) / 2),
        Inches(w * scale),
        Inches(h * scale),
    )


def place(shape: Any, left: float, top: float, width: float, height: float) -> None:
    from pptx.util import Inches

    shape.left, shape.top, shape.width, shape.height = Inches(left), Inches(top), Inches(width), Inches(height)
