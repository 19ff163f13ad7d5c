"""A PowerPoint deck of runs shaped as a 5-10 minute talk, with the per-run slides behind an appendix.

    mlcl-train slides runs/ -o results.pptx --baseline hw2_baseline --lang ko

Title; setup (what the runs share, a warning where they differ outside model.*); what each change did
(a bar per run against the baseline); the comparison; curves of the baseline and the best runs; the best
model's confusion matrix and mistakes; findings; takeaways. Then "Appendix": the whole comparison,
sweeps, one slide per run, every run's curves. At most 10 slides before the appendix, whatever the
number of runs; speaker notes on every slide.

16:9 slides in Arial (code in Courier New), with Malgun Gothic as the East Asian typeface for Hangul. Every text is
measured (present/typeset.py) and laid out to fit its box: titles shrink, the comparison shows the
columns that fit (in the order they matter) and lists the others below, a long layer table gets a
smaller font or two columns.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any, Callable, Iterable

from mlcl_train.core.errors import UserError
from mlcl_train.core.files import write_output
from mlcl_train.inspect.summary import Layer, display_rows
from mlcl_train.present import typeset
from mlcl_train.present.content import (
    DELTA,
    Content,
    RunContent,
    change_lines,
    gather,
    is_number,
    setup_lines,
    total_params,
)
from mlcl_train.present.words import layer_headers, words
from mlcl_train.runs.store import RunRecord

WIDTH, HEIGHT, MARGIN = 13.333, 7.5, 0.5  # inches
TOP = 1.25  # below the title
BOTTOM = HEIGHT - 0.3
TABLE_PT, BODY_PT = 14, 18  # points: tables, text
TITLE_SIZES = (30, 26, 22, 18)  # a slide title; a long one shrinks, then takes two lines, then is cut
LAYER_SIZES = (14, 12, 11, 10)  # a long layer table shrinks before it takes two columns
TWO_COLUMNS_IN = 9.0  # the left of a run's slide when its layer table takes two columns
CELL_PAD = (0.08, 0.03)  # a table cell's left/right and top/bottom margins, inches
BOX_PAD = (0.1, 0.05)  # a text box's (python-pptx's defaults)
SLACK = 0.04  # inches added to every measured width: renderers differ a little
MONO = typeset.MONO
EAST_ASIAN = typeset.EAST_ASIAN  # Office's Korean font on Windows (macOS substitutes Apple SD Gothic Neo)
BEST_FILL, HEAD_FILL, ODD_FILL, EVEN_FILL = "D9EAD3", "3B5B7A", "EEF2F6", "FFFFFF"
WARN = "A61C00"  # text of a run that is not completed
MODEL_LINES = 9  # of the model's YAML on a run's slide (3 when the layer table needs the room)
LABEL_IN = 4.2  # a longer run label is cut before its keys in the comparison (its slide's title shows it whole)
CELL_IN = 2.6  # a longer table value (a model.layers list) is cut, with its run's slide showing it all


def write_slides(records: list[RunRecord], output: str | Path, title: str | None = None,
                 filters: Iterable[str] = (), device: str = "cpu", where: str = "runs",
                 progress: Callable[[str], None] | None = None, baseline: str | None = None,
                 appendix: bool = True, lang: str = "en", columns: Iterable[str] = ()) -> tuple[Path, int]:
    """Gather the runs' content and write the deck; returns its path and the number of slides."""
    output = check_output(output)
    prs = build_deck(gather(records, title, filters, device, where, progress, baseline, lang, columns), appendix)
    data = io.BytesIO()
    prs.save(data)
    write_output(output, data.getvalue())
    return output, len(prs.slides)


def check_output(output: str | Path) -> Path:
    """The deck's path, if it names a .pptx file."""
    output = Path(output)
    if output.suffix.lower() != ".pptx":
        raise UserError(f"-o {output}: a deck is written as .pptx, e.g. -o results.pptx")
    return output


def build_deck(content: Content, appendix: bool = True) -> Any:
    """The Presentation object, slide by slide: the talk, then (unless `appendix` is False) the appendix."""
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(WIDTH), Inches(HEIGHT)
    title_slide(prs, content)
    setup_slide(prs, content)
    several = len(content.runs) > 1  # one run changes nothing against itself
    if several:
        changes_slide(prs, content)
    table_slides(prs, content, talk=True)
    curves_slide(prs, content, best=True)
    confusion_slides(prs, content)
    if several:
        findings_slide(prs, content)
    takeaways_slide(prs, content)
    if appendix:
        divider_slide(prs, content)
        table_slides(prs, content)
        for part in content.sweeps:
            sweep_slides(prs, part, content.lang)
        for run in content.runs:
            run_slide(prs, run)
        if len(content.runs) > len(content.story.best_few) + 1:  # more runs than the talk's curves show
            curves_slide(prs, content)
    return prs


def speaker_notes(slide: Any, text: str) -> None:
    """What to say on this slide, with its numbers (PowerPoint's notes pane)."""
    slide.notes_slide.notes_text_frame.text = text


def title_slide(prs: Any, content: Content) -> None:
    """The title; below it, one line each: what was compared, the best run, the date."""
    slide = prs.slides.add_slide(prs.slide_layouts[0])
    head, sub = slide.shapes.title, slide.placeholders[1]
    width = WIDTH - 2 * MARGIN
    place(head, MARGIN, 1.6, width, 2.0)
    text, pt = sized(content.title, (40, 34, 28, 24), inner(width), lines=2, bold=True)
    write(head.text_frame, [text], pt, bold=True)
    place(sub, MARGIN, 3.9, width, 3.0)
    lines = list(content.subtitle)
    if content.compared:
        lines[0] = listing(words(content.lang)("compared"), content.compared, 22, inner(width), content.lang)
    write(sub.text_frame, [typeset.cut(line, 22, inner(width)) for line in lines], 22)
    say = words(content.lang)
    runs = say("run_1") if len(content.runs) == 1 else say("runs_n", n=len(content.runs))
    best = content.runs[content.best].record.best_acc if content.best is not None and content.runs else None
    speaker_notes(slide, say("note_title", runs=runs, acc=f"{best:.2f}%" if best is not None else "-")
                  + "".join(f"\n{line}" for line in story_lines(content)))


def story_lines(content: Content) -> list[str]:
    """The baseline and the best run, one line each (the title slide's notes)."""
    say, story = words(content.lang), content.story
    if story is None or story.baseline is None:
        return []
    base = content.runs[story.baseline].record
    lines = [say("baseline_is", label=content.runs[story.baseline].label, acc=base.best_acc or 0.0)]
    best = next((c for c in story.changes if c.index != story.baseline and c.delta is not None), None)
    if best is not None:
        lines.append(say("best_is", label=best.label, acc=content.runs[best.index].record.best_acc, d=best.delta))
    return lines


def setup_slide(prs: Any, content: Content) -> None:
    """What every run shares, one line each; in red, the keys outside model.* in which the runs differ."""
    from pptx.util import Pt

    say, story = words(content.lang), content.story
    slide = new_slide(prs, say("setup"))
    width = WIDTH - 2 * MARGIN
    lines, warn = setup_lines(content)
    pt = next((p for p in (BODY_PT + 2, BODY_PT, 16, 14) if typeset.height_in([*lines, warn], p, inner(width))
               + 8 / 72 * (len(lines) + 1) <= BOTTOM - TOP - 2 * BOX_PAD[1] - 0.2), 14)
    box = textbox(slide, MARGIN, TOP, width, BOTTOM - TOP)
    for i, line in enumerate([*lines, warn]):
        para = box.paragraphs[0] if i == 0 else box.add_paragraph()
        para.space_after = Pt(8)
        span(para, clip(line, pt, inner(width), 3), pt, color=WARN if story.outside and i == len(lines) else None,
             bold=i == len(lines) and bool(story.outside))
    recipe = "; ".join(f"{say(phrase)} {value}" for phrase, value in story.setup)
    speaker_notes(slide, say("note_setup", recipe=recipe, fair=warn))


def changes_slide(prs: Any, content: Content) -> None:
    """Each run's accuracy as a bar, labelled with its change against the baseline and its points over it."""
    say, story = words(content.lang), content.story
    slide = new_slide(prs, say("changes"))
    if content.bars is not None:
        picture(slide, content.bars, MARGIN, TOP, WIDTH - 2 * MARGIN, BOTTOM - TOP)
    base = content.runs[story.baseline].record.best_acc if story.baseline is not None else None
    told = change_lines(content)
    speaker_notes(slide, say("note_changes", acc=base or 0.0, top="; ".join(told[:3]) or "-")
                  + "".join(f"\n{line}" for line in told))


def findings_slide(prs: Any, content: Content) -> None:
    """Sentences computed from pairs of runs that differ in one key."""
    say = words(content.lang)
    lines = [line for _, line in content.story.findings] or [say("no_findings")]
    bullets_slide(prs, say("findings"), lines, say("note_findings") + "\n" + "\n".join(lines))


def takeaways_slide(prs: Any, content: Content) -> None:
    """The closing slide: lines to edit."""
    say = words(content.lang)
    bullets_slide(prs, say("takeaways"), content.takeaways, say("note_takeaways") + "\n" + "\n".join(content.takeaways))


def bullets_slide(prs: Any, title: str, lines: list[str], notes: str) -> None:
    """A slide of short paragraphs at the largest size at which they all fit."""
    from pptx.util import Pt

    slide = new_slide(prs, title)
    width, height = WIDTH - 2 * MARGIN, BOTTOM - TOP - 0.2
    gap = 14
    shown = [f"\u2022 {line}" for line in lines]
    pt = next((p for p in (24, 22, BODY_PT, 16, 14) if typeset.height_in(shown, p, inner(width))
               + gap / 72 * len(shown) <= height - 2 * BOX_PAD[1]), 14)
    box = textbox(slide, MARGIN, TOP + 0.2, width, height)
    for i, line in enumerate(shown):
        para = box.paragraphs[0] if i == 0 else box.add_paragraph()
        para.space_after = Pt(gap)
        span(para, clip(line, pt, inner(width), 3), pt)
    speaker_notes(slide, notes)


def divider_slide(prs: Any, content: Content) -> None:
    """"Appendix", large, across the middle of the slide."""
    say = words(content.lang)
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    width = WIDTH - 2 * MARGIN
    place(slide.shapes.title, MARGIN, 2.4, width, 1.4)
    write(slide.shapes.title.text_frame, [say("appendix")], 44, bold=True)
    write(textbox(slide, MARGIN, 4.0, width, 0.8), [say("appendix_sub")], 22, align="center")
    speaker_notes(slide, say("note_appendix"))


def table_slides(prs: Any, content: Content, talk: bool = False) -> None:
    """The comparison: each run's label, the headline numbers and the differing keys that fit (in the order they
    matter), as many runs a slide as fit; the keys left out, the values all runs share and the runs not completed
    below. In the talk (`talk`), one slide: the runs that fit, the others named as in the appendix."""
    say = words(content.lang)
    pt, width = TABLE_PT, WIDTH - 2 * MARGIN
    rows = [[typeset.cut_middle(row[0], pt, LABEL_IN, bold=True),  # measured bold: the best row is
             *(typeset.cut(v, pt, CELL_IN, bold=True) for v in row[1:])] for row in content.rows]
    cols = pick_columns(content.headers, rows, width, pt)
    headers, rows = [content.headers[c] for c in cols], [[r[c] for c in cols] for r in rows]
    left_out = [h for i, h in enumerate(content.headers) if i not in cols]
    below = [
        *([say("same_all") + ", ".join(f"{k} {v}" for k, v in content.same)] if content.same else []),
        *([say("not_shown", n=len(left_out)) + ", ".join(left_out)] if left_out else []),
    ]
    below = [clip(line, pt, inner(width), 2) for line in below]
    notes = [typeset.cut(note, pt, inner(width)) for note in content.notes]
    room = BOTTOM - TOP - header_height(headers, column_widths(headers, rows, width, pt), pt) - 0.1
    full = max(int(room / row_height(pt)), 1)  # rows on a slide without the lines below the table
    room -= 0.2 + typeset.height_in(below, pt, inner(width)) + typeset.line_in(pt) * min(len(notes), 3) + 2 * BOX_PAD[1]
    last = max(int(room / row_height(pt)), 1)
    chunks = slide_rows(len(rows), full, last)
    if talk and len(chunks) > 1:  # the talk's one slide: the best runs and the baseline; all in the appendix
        below = [clip(say("more_rows", n=len(rows) - (last - 1)), pt, inner(width), 1), *below]
        last = max(int((room - typeset.line_in(pt)) / row_height(pt)), 1)
        base = content.story.baseline if content.story is not None else None
        keep = [r for r in range(len(rows)) if r != base][: last - (base is not None)]
        chunks = [sorted([*keep, *([base] if base is not None else [])])]
    elif not talk and len(chunks) == 1:
        return  # the whole table fit the talk's slide
    right = {i for i, c in enumerate(cols) if content.numeric[c]} if content.numeric is not None else None
    for n, chunk in enumerate(chunks, 1):
        slide = new_slide(prs, say("comparison") + (f" ({n}/{len(chunks)})" if len(chunks) > 1 else ""))
        best = chunk.index(content.best) if content.best in chunk else None
        height = table(slide, headers, [rows[r] for r in chunk], MARGIN, TOP, width, pt, best=best, right=right)
        if n == len(chunks):
            notes_below(slide, below, notes, TOP + height + 0.2, pt, say)
        speaker_notes(slide, say("note_table", columns=", ".join(headers)) + "".join(
            f"\n{rows[r][0]}: " + ", ".join(f"{h} {v}" for h, v in zip(headers[1:], rows[r][1:], strict=True))
            for r in chunk))


def sweep_slides(prs: Any, part: Any, lang: str = "en") -> None:
    """A sweep: its grouped table (as many points a slide as fit), then its metric against each swept key."""
    say = words(lang)
    pt, width = TABLE_PT, WIDTH - 2 * MARGIN
    rows = [[typeset.cut(v, pt, CELL_IN, bold=True) for v in row] for row in part.rows]
    line = [clip(part.line, pt, inner(width), 2)]
    room = BOTTOM - TOP - header_height(part.headers, column_widths(part.headers, rows, width, pt), pt) - 0.3
    room -= typeset.height_in(line, pt, inner(width)) + 2 * BOX_PAD[1]
    size = max(int(room / row_height(pt)), 1)
    chunks = [range(i, min(i + size, len(rows))) for i in range(0, len(rows), size)] or [range(0)]
    right = {i for i, num in enumerate(part.numeric) if num}
    for n, chunk in enumerate(chunks, 1):
        slide = new_slide(prs, say("sweep", name=part.name) + (f" ({n}/{len(chunks)})" if len(chunks) > 1 else ""))
        height = table(slide, part.headers, [rows[r] for r in chunk], MARGIN, TOP, width, pt,
                       best=0 if n == 1 else None, right=right)
        notes_below(slide, line, [], TOP + height + 0.2, pt, say)
        speaker_notes(slide, say("note_sweep", line=part.line))
    if part.figure is not None:
        slide = new_slide(prs, say("sweep_params", name=part.name))
        picture(slide, part.figure, MARGIN, TOP, width, BOTTOM - TOP)
        speaker_notes(slide, say("note_sweep", line=part.line))


def slide_rows(count: int, full: int, last: int) -> list[range]:
    """Rows per slide, as even as the slides allow (20 runs are 10 + 10): at most `full` a slide, `last` on the last."""
    slides = 1 if count <= last else 1 + -(-(count - last) // full)
    even = -(-count // slides)
    sizes = [even] * (slides - 1) + [count - even * (slides - 1)]
    if sizes[-1] > last:  # the last slide holds fewer: the others take the rest evenly
        rest = count - last
        sizes = [rest // (slides - 1) + (i < rest % (slides - 1)) for i in range(slides - 1)] + [last]
    starts = [sum(sizes[:i]) for i in range(slides)]
    return [range(start, start + size) for start, size in zip(starts, sizes, strict=True)]


def notes_below(slide: Any, same: list[str], notes: list[str], top: float, pt: int, say: Callable[..., str]) -> None:
    """Under the table: the keys left out and the values all runs share, then (in red) the runs not completed."""
    width = WIDTH - 2 * MARGIN
    room = int((BOTTOM - top - 2 * BOX_PAD[1] - typeset.height_in(same, pt, inner(width))) / typeset.line_in(pt))
    if len(notes) > room:
        notes = [*notes[: max(room - 1, 0)], say("n_notes", n=len(notes) - max(room - 1, 0))]
    if not same and not notes:
        return
    box = textbox(slide, MARGIN, top, width, BOTTOM - top)
    for i, line in enumerate([*same, *notes]):
        span(box.paragraphs[0] if i == 0 else box.add_paragraph(), line, pt, color=WARN if i >= len(same) else None)


def run_slide(prs: Any, run: RunContent) -> None:
    """The model's YAML and its whole layer table on the left; its results and curves on the right."""
    slide = new_slide(prs, run.label)
    plan = layer_plan(run)
    structure(slide, run, plan)
    left = MARGIN + plan["width"] + 0.3
    results(slide, run, left, WIDTH - MARGIN - left)
    speaker_notes(slide, f"{run.label}: " + "; ".join(f"{name} {value}" for name, value in run.facts) + ".")


def curves_slide(prs: Any, content: Content, best: bool = False) -> None:
    """Every run's test accuracy in one figure; with `best`, the baseline's and the best few runs'."""
    say = words(content.lang)
    data = content.best_curves if best else content.all_curves
    if data is None:
        return
    slide = new_slide(prs, say("curves") if best else say("all_curves"))
    picture(slide, data, MARGIN, TOP, WIDTH - 2 * MARGIN, BOTTOM - TOP)
    story = content.story
    shown = [i for i in [story.baseline, *story.best_few] if i is not None] if best else range(len(content.runs))
    records = [(content.runs[i].label, content.runs[i].record) for i in shown]
    lines = [f"{label} " + say("acc_at", acc=r.best_acc, at=say("epoch_n", epoch=r.best_epoch))
             for label, r in records if r.best_acc is not None]
    speaker_notes(slide, say("note_curves", lines="; ".join(lines)))


def confusion_slides(prs: Any, content: Content) -> None:
    """The best run's confusion matrix with what it says; its most confident mistakes on a slide of their own."""
    say = words(content.lang)
    slide = new_slide(prs, content.confusion_title)
    speaker_notes(slide, say("note_confusion", lines="\n".join(content.confusion_lines)))
    if "confusion" not in content.images:
        write(textbox(slide, MARGIN, 2.5, WIDTH - 2 * MARGIN, 2.0),
              [typeset.cut(line, BODY_PT, inner(WIDTH - 2 * MARGIN)) for line in content.confusion_lines], BODY_PT)
        return
    picture(slide, content.images["confusion"], MARGIN - 0.2, TOP - 0.1, 6.8, BOTTOM - TOP + 0.2)
    left = MARGIN + 6.9
    width, height = WIDTH - MARGIN - left, BOTTOM - TOP - 0.3
    gap = 12
    pt = next((p for p in (BODY_PT, 16, 14, 12) if typeset.height_in(content.confusion_lines, p, inner(width))
               + gap / 72 * len(content.confusion_lines) <= height - 2 * BOX_PAD[1]), 12)
    write(textbox(slide, left, TOP + 0.3, width, height), content.confusion_lines, pt, gap=gap)
    if "mistakes" in content.images:
        slide = new_slide(prs, content.mistakes_title)
        picture(slide, content.images["mistakes"], MARGIN, TOP, WIDTH - 2 * MARGIN, BOTTOM - TOP)
        speaker_notes(slide, say("note_mistakes"))


# ---------------------------------------------------------------- a run's slide


def layer_plan(run: RunContent) -> dict[str, Any]:
    """How a run's model fits the left of its slide: font size, one or two layer tables, YAML lines, width.

    The first that fits the whole table: 14 to 10 pt, each beside 9 lines of YAML, then beside 3; then two
    tables side by side on a wider left; else two tables with the middle layers as one "... more" row."""
    headers = layer_headers(run.say)
    rows = [*display_rows(run.layers), (run.say("total"), "", "", f"{total_params(run.layers):,}")]
    plans = [(1, 5.6, most, pt) for pt in LAYER_SIZES for most in (MODEL_LINES, 3)]
    for columns, width, most, pt in [*plans, *((2, TWO_COLUMNS_IN, 3, pt) for pt in LAYER_SIZES[1:])]:
        yaml_lines = clip_lines(run.model_yaml.splitlines(), most, run.say)
        top = TOP + yaml_height(yaml_lines, pt) + 0.2
        halves = split_rows(rows, columns)
        each = (width - 0.2 * (columns - 1)) / columns
        if all(fits_table(headers, half, each, BOTTOM - top, pt) for half in halves):
            return {"pt": pt, "halves": halves, "yaml": yaml_lines, "width": width, "top": top, "headers": headers}
    pt, width = LAYER_SIZES[-1], TWO_COLUMNS_IN
    yaml_lines = clip_lines(run.model_yaml.splitlines(), 3, run.say)
    top = TOP + yaml_height(yaml_lines, pt) + 0.2
    fit_rows = 2 * (int((BOTTOM - top - header_height(headers, [1.0] * 4, pt)) / row_height(pt)) - 1)
    return {"pt": pt, "halves": split_rows(layer_rows(run.layers, fit_rows, run.say), 2), "yaml": yaml_lines,
            "width": width, "top": top, "headers": headers}


def structure(slide: Any, run: RunContent, plan: dict[str, Any]) -> None:
    """The config's model section, then the layer table (in two columns, or cut in the middle, if it is long)."""
    pt, width, top = plan["pt"], plan["width"], plan["top"]
    yaml_lines = [typeset.cut(line, pt, inner(width), font=MONO) for line in plan["yaml"]]
    write(textbox(slide, MARGIN, TOP, width, top - TOP - 0.1), yaml_lines, pt, font=MONO)
    if not run.layers:
        write(textbox(slide, MARGIN, top, width, BOTTOM - top), [clip(run.layers_note, pt, inner(width), 4)], pt)
        return
    halves = plan["halves"]
    each = (width - 0.2 * (len(halves) - 1)) / len(halves)
    for i, half in enumerate(halves):
        table(slide, plan["headers"], half, MARGIN + i * (each + 0.2), top, each, pt, right={3},
              total=i == len(halves) - 1)


def results(slide: Any, run: RunContent, left: float, width: float) -> None:
    """The run's facts, one a line (status in red unless completed), and its curves below them."""
    pt = BODY_PT if width > 5 else 16 if width > 4 else 14
    shown = run.facts if run.status_note else run.facts[1:]  # the first fact is the status, shown when not completed
    facts = [fitted(f"{n}: {v}", pt, inner(width), 2) for n, v in shown]
    height = typeset.height_in(facts, pt, inner(width)) + 2 * BOX_PAD[1] + 0.05
    box = textbox(slide, left, TOP, width, height)
    for i, text in enumerate(facts):
        red = i == 0 and run.status_note
        span(box.paragraphs[0] if i == 0 else box.add_paragraph(), text, pt, color=WARN if red else None)
    top = TOP + height + 0.2
    if run.curves is not None:
        picture(slide, run.curves, left, top, width, BOTTOM - top)
    else:
        write(textbox(slide, left, top + 0.5, width, 1.0), [run.no_curves], pt)


# ---------------------------------------------------------------- layout


def inner(width: float) -> float:
    """The text width of a text box `width` inches wide."""
    return width - 2 * BOX_PAD[0]


def sized(text: str, sizes: Iterable[int], width: float, lines: int = 1, bold: bool = False) -> tuple[str, int]:
    """The text at the largest size at which it fits one line (else `lines` lines); else cut at the smallest."""
    sizes = list(sizes)
    for most in range(1, lines + 1):
        for pt in sizes:
            if typeset.fits(text, pt, width, bold, lines=most):
                return text, pt
    return clip(text, sizes[-1], width, lines, bold), sizes[-1]


def fitted(text: str, pt: float, width: float, lines: int) -> str:
    """The text if it wraps into at most `lines` lines, no word broken; else cut to one line."""
    return text if typeset.fits(text, pt, width, lines=lines) else typeset.cut(text, pt, width)


def clip(text: str, pt: float, width: float, lines: int, bold: bool = False) -> str:
    """The text, cut with an ellipsis so that it wraps into at most `lines` lines, no word wider than a line."""
    if typeset.fits(text, pt, width, bold, lines=lines):
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest start that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if typeset.fits(text[:mid].rstrip() + "\u2026", pt, width, bold, lines=lines):
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "\u2026"


def listing(prefix: str, items: list[str], pt: float, width: float, lang: str = "en") -> str:
    """prefix and as many items as fit one line, then "and N more"."""
    for n in range(len(items), 0, -1):
        more = words(lang)("and_more", n=len(items) - n) if n < len(items) else ""
        text = prefix + ", ".join(items[:n]) + more
        if typeset.width_in(text, pt) <= width:
            return text
    return typeset.cut(prefix + ", ".join(items), pt, width)


def pick_columns(headers: list[str], rows: list[list[str]], width: float, pt: int) -> list[int]:
    """The comparison's columns that fit `width`, taken in the order they come (content.table puts the run, its
    accuracy and the keys the accuracy varies most with first)."""
    need = [column_need(h, [r[i] for r in rows], pt) for i, h in enumerate(headers)]
    headline = [headers.index(h) for h in ("best_acc", DELTA) if h in headers]  # always kept
    chosen: list[int] = []
    for i in dict.fromkeys([0, *headline, *range(len(headers))]):
        if sum(need[c] for c in chosen) + need[i] <= width:
            chosen.append(i)
    return sorted(chosen)


def column_need(header: str, values: list[str], pt: float) -> float:
    """Inches a column needs: its longest value, or its longest header piece (headers wrap after _ and .), in bold."""
    pieces = wrap_points(header).split("\u200b")
    longest = max(typeset.width_in(text, pt, bold=True) for text in [*values, *pieces])  # bold: headers, best, total
    return longest + 2 * CELL_PAD[0] + SLACK


def column_widths(headers: list[str], rows: list[list[str]] | list[tuple[str, ...]], width: float,
                  pt: float) -> list[float]:
    """Each column's width: what it needs, the spare room shared out in proportion."""
    needs = [column_need(h, [r[i] for r in rows], pt) for i, h in enumerate(headers)]
    return [need * width / sum(needs) for need in needs] if sum(needs) <= width else needs


def header_height(headers: list[str], widths: list[float], pt: float) -> float:
    lines = max(len(typeset.wrap(wrap_points(h), pt, w - 2 * CELL_PAD[0] - SLACK, bold=True))
                for h, w in zip(headers, widths, strict=True))
    return lines * typeset.line_in(pt) + 2 * CELL_PAD[1] + 0.02


def row_height(pt: float) -> float:
    return typeset.line_in(pt) + 2 * CELL_PAD[1] + 0.02


def fits_table(headers: list[str], rows: list[tuple[str, ...]], width: float, height: float, pt: float) -> bool:
    needs = [column_need(h, [r[i] for r in rows], pt) for i, h in enumerate(headers)]
    return sum(needs) <= width and header_height(headers, needs, pt) + row_height(pt) * len(rows) <= height


def split_rows(rows: list[Any], columns: int) -> list[list[Any]]:
    """Rows in `columns` parts of (nearly) equal length, in order."""
    size = -(-len(rows) // columns)
    return [rows[i: i + size] for i in range(0, len(rows), size)]


def yaml_height(lines: list[str], pt: float) -> float:
    return typeset.line_in(pt) * len(lines) + 2 * BOX_PAD[1] + 0.05


def wrap_points(header: str) -> str:
    """A header that may break after _ and . (a zero-width space there)."""
    return header.replace("_", "_\u200b").replace(".", ".\u200b")


def layer_rows(
    layers: list[Layer], fit_rows: int, say: Callable[..., str] = words("en")
) -> list[tuple[str, str, str, str]]:
    """The layer table and a total row, as text; if more than `fit_rows` layers, the middle ones become one row."""
    total = total_params(layers)
    rows = display_rows(layers)
    if len(layers) > fit_rows:
        first, last = fit_rows - 1 - (fit_rows - 1) // 2, len(layers) - (fit_rows - 1) // 2
        hidden = layers[first:last]
        rows = [*rows[:first], ("...", say("n_more", n=len(hidden)), "", f"{total_params(hidden):,}"), *rows[last:]]
    return [*rows, (say("total"), "", "", f"{total:,}")]


def clip_lines(lines: list[str], most: int, say: Callable[..., str]) -> list[str]:
    return lines if len(lines) <= most else [*lines[: most - 1], say("more_lines", n=len(lines) - most + 1)]


# ---------------------------------------------------------------- shapes


def new_slide(prs: Any, title: str) -> Any:
    """A slide with only a title, left-aligned across the top: one line if it fits at 18 pt or more, else two."""
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    width = WIDTH - 2 * MARGIN
    place(slide.shapes.title, MARGIN, 0.25, width, 0.9)
    text, pt = sized(title, TITLE_SIZES, inner(width), lines=2, bold=True)
    write(slide.shapes.title.text_frame, [text], pt, bold=True, align="left")
    return slide


def table(
    slide: Any,
    headers: list[str],
    rows: list[list[str]] | list[tuple[str, ...]],
    left: float,
    top: float,
    width: float,
    pt: float = TABLE_PT,
    best: int | None = None,
    right: set[int] | None = None,
    total: bool = False,
) -> float:
    """A table at `pt`, columns as wide as their measured text needs (stretched to width); returns its height."""
    from pptx.util import Inches

    widths = column_widths(headers, rows, width, pt)
    head, row = header_height(headers, widths, pt), row_height(pt)
    shape = slide.shapes.add_table(
        len(rows) + 1, len(headers), Inches(left), Inches(top), Inches(sum(widths)), Inches(head + row * len(rows))
    )
    grid = shape.table
    for i, w in enumerate(widths):
        grid.columns[i].width = Inches(w)
    numeric = right if right is not None else {i for i in range(len(headers)) if all(is_number(r[i]) for r in rows)}
    for r, values in enumerate([[wrap_points(h) for h in headers], *rows]):
        grid.rows[r].height = Inches(head if r == 0 else row)
        highlight = best is not None and r == best + 1
        fill = HEAD_FILL if r == 0 else BEST_FILL if highlight else (ODD_FILL if r % 2 else EVEN_FILL)
        strong = r == 0 or highlight or (total and r == len(rows))
        for c, text in enumerate(values):
            cell_text(grid.cell(r, c), text, pt, fill, strong, white=r == 0, right=c in numeric)
    return head + row * len(rows)


def cell_text(cell: Any, text: str, pt: float, fill: str, bold: bool, white: bool, right: bool) -> None:
    from pptx.dml.color import RGBColor
    from pptx.enum.text import PP_ALIGN
    from pptx.util import Inches

    cell.fill.solid()
    cell.fill.fore_color.rgb = RGBColor.from_string(fill)
    cell.margin_top = cell.margin_bottom = Inches(CELL_PAD[1])
    cell.margin_left = cell.margin_right = Inches(CELL_PAD[0])
    para = cell.text_frame.paragraphs[0]
    para.alignment = PP_ALIGN.RIGHT if right else PP_ALIGN.LEFT
    span(para, text, pt, bold=bold, color="FFFFFF" if white else "000000")


def textbox(slide: Any, left: float, top: float, width: float, height: float) -> Any:
    from pptx.util import Inches

    frame = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height)).text_frame
    frame.word_wrap = True
    return frame


def write(
    frame: Any,
    lines: list[str],
    pt: float,
    bold: bool = False,
    font: str = typeset.FONT,
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


def span(
    para: Any, text: str, pt: float, bold: bool = False, font: str = typeset.FONT, color: str | None = None
) -> None:
    from pptx.dml.color import RGBColor
    from pptx.util import Pt

    run = para.add_run()
    run.text = text
    run.font.size = Pt(pt)
    run.font.bold = bold
    run.font.name = font  # measured with this font's metrics (present/typeset.py)
    if color:
        run.font.color.rgb = RGBColor.from_string(color)
    east_asian(run, EAST_ASIAN)


def east_asian(run: Any, typeface: str) -> None:
    """The typeface Office draws Hangul (and other East Asian text) in: <a:ea> after the run's <a:latin>."""
    from pptx.oxml.ns import qn

    props = run._r.get_or_add_rPr()
    ea = props.find(qn("a:ea"))
    if ea is None:
        ea = props.makeelement(qn("a:ea"), {})
        props.find(qn("a:latin")).addnext(ea)
    ea.set("typeface", typeface)


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
