"""The content of `slides` as one self-contained HTML page: inline CSS, images as data: URIs.

    mlcl-train report runs/ -o report.html     # mail it, or put it on a wiki; it needs no network

Same order as the deck: the talk (setup, what each change did, comparison, curves of the baseline and
the best runs, the best model's confusion matrix and mistakes, findings, takeaways), then the appendix
(sweeps, one section per run, all runs' curves). Layer tables are shown whole here.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Callable, Iterable

from mlcl_train import __version__
from mlcl_train.core.errors import UserError
from mlcl_train.core.files import write_output
from mlcl_train.core.values import shorten
from mlcl_train.inspect.summary import display_rows
from mlcl_train.present.content import (
    Content,
    RunContent,
    change_lines,
    gather,
    is_number,
    setup_lines,
    total_params,
)
from mlcl_train.present.words import layer_headers, words
from mlcl_train.runs.labels import shorten_label
from mlcl_train.runs.store import RunRecord

CELL_CHARS = 40  # a longer value in the comparison is cut (the run's section shows its model whole)
LABEL_CHARS = 48  # a longer run label is cut in the comparison (its section's heading shows it whole)

CSS = """
body { font: 16px/1.45 system-ui, sans-serif; color: #1b1b1b; margin: 0; background: #f4f6f8; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 32px; margin: 8px 0 4px; }
h2 { font-size: 24px; margin: 36px 0 10px; border-bottom: 2px solid #3b5b7a; }
h3 { font-size: 18px; margin: 14px 0 6px; } .sub { color: #555; margin: 2px 0; }
table { border-collapse: collapse; font-size: 15px; margin: 6px 0; }
th { background: #3b5b7a; color: #fff; text-align: left; vertical-align: bottom; }
th, td { padding: 4px 8px; } td { white-space: nowrap; }
tr:nth-child(even) td { background: #eef2f6; } tr.best td { background: #d9ead3; font-weight: bold; }
tr.total td { font-weight: bold; border-top: 1px solid #999; } .num { text-align: right; }
.warn { color: #a61c00; font-weight: bold; } .ok { color: #1d5e20; }
pre { background: #f4f6f8; padding: 8px 12px; font-size: 14px; }
.cols { display: flex; gap: 32px; flex-wrap: wrap; align-items: flex-start; } .cols > div { flex: 1 1 420px; }
img { max-width: 100%; height: auto; } dl { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; }
dt { color: #555; } dd { margin: 0; } footer { margin-top: 40px; color: #777; font-size: 13px; }
.scroll { overflow-x: auto; }
"""


def write_report(
    records: list[RunRecord],
    output: str | Path,
    title: str | None = None,
    filters: Iterable[str] = (),
    device: str = "cpu",
    where: str = "runs",
    progress: Callable[[str], None] | None = None,
    baseline: str | None = None,
    lang: str = "en",
    columns: Iterable[str] = (),
) -> Path:
    """Gather the runs' content and write the page; returns its path."""
    output = check_output(output)
    page = render(gather(records, title, filters, device, where, progress, baseline, lang, columns))
    write_output(output, page.encode("utf-8"))
    return output


def check_output(output: str | Path) -> Path:
    """The page's path, if it names a .html file."""
    output = Path(output)
    if output.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"-o {output}: the report is written as .html, e.g. -o report.html")
    return output


def render(content: Content) -> str:
    """The whole page as a string: the talk's sections in the deck's order, then the appendix."""
    e, say = html.escape, words(content.lang)
    parts = [f"<h1>{e(content.title)}</h1>", *(f'<p class="sub">{e(line)}</p>' for line in content.subtitle)]
    parts += talk(content)
    parts += [f'<h2 id="appendix">{e(say("appendix"))}</h2>', f'<p class="sub">{e(say("appendix_page"))}</p>']
    for part in content.sweeps:  # a sweep: one grouped table and its figure, not a section per trial
        parts += [f"<h2>{e(say('sweep', name=part.name))}</h2>", f"<p>{e(part.line)}</p>",
                  '<div class="scroll">' + table(part.headers, part.rows, 0, numeric=part.numeric) + "</div>"]
        parts += [image(part.figure, say("sweep_params", name=part.name))] if part.figure is not None else []
    parts += [run_section(run, i, say) for i, run in enumerate(content.runs, 1)]
    if content.all_curves is not None and len(content.runs) > len(content.story.best_few) + 1:
        parts += [f'<h2 id="curves-all">{e(say("all_curves"))}</h2>', image(content.all_curves, say("all_curves"))]
    folders = ", ".join(sorted({str(r.record.path.parent) for r in content.runs}))
    parts.append(f"<footer>{e(say('made_by', version=__version__, folders=folders))}</footer>")
    return (
        f'<!DOCTYPE html>\n<html lang="{e(content.lang)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{e(content.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(parts) + "\n</main>\n</body>\n</html>\n"
    )


def talk(content: Content) -> list[str]:
    """The talk's sections: setup, what each change did, comparison, curves, the best model, findings, takeaways."""
    e, say, several = html.escape, words(content.lang), len(content.runs) > 1
    lines, fairness = setup_lines(content)
    parts = [f'<h2 id="setup">{e(say("setup"))}</h2>', bullets(lines),
             f'<p class="{"warn" if content.story.outside else "ok"}">{e(fairness)}</p>']
    if several:
        parts.append(f'<h2 id="changes">{e(say("changes"))}</h2>')
        parts += [image(content.bars, say("changes"))] if content.bars is not None else []
        parts.append(bullets(change_lines(content)))
    parts += comparison(content)
    if content.best_curves is not None:
        parts += [f'<h2 id="curves">{e(say("curves"))}</h2>', image(content.best_curves, say("curves"))]
    parts += [f'<h2 id="confusion">{e(content.confusion_title)}</h2>', '<div class="cols">']
    if "confusion" in content.images:
        parts.append(f"<div>{image(content.images['confusion'], content.confusion_title, 560)}</div>")
    parts.append(f"<div>{bullets(content.confusion_lines)}</div></div>")
    if "mistakes" in content.images:
        mistakes = content.images["mistakes"]
        parts += [f"<h3>{e(content.mistakes_title)}</h3>", image(mistakes, content.mistakes_title, 900)]
    if several:
        findings = [line for _, line in content.story.findings] or [say("no_findings")]
        parts += [f'<h2 id="findings">{e(say("findings"))}</h2>', bullets(findings)]
    return [*parts, f'<h2 id="takeaways">{e(say("takeaways"))}</h2>', bullets(content.takeaways)]


def comparison(content: Content) -> list[str]:
    """The comparison table (one row per run, best first, every run), what all runs share, and the runs not
    completed."""
    e, say = html.escape, words(content.lang)
    return [
        f'<h2 id="comparison">{e(say("comparison"))}</h2>',
        '<div class="scroll">' + table(content.headers, content.rows, content.best, numeric=content.numeric) + "</div>",
        *([f"<p>{e(say('same_all') + ', '.join(f'{k} {v}' for k, v in content.same))}</p>"] if content.same else []),
        *(f'<p class="warn">{e(note)}</p>' for note in content.notes),
    ]


def bullets(lines: list[str]) -> str:
    """Lines as a bulleted list."""
    return "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"


def run_section(run: RunContent, n: int, say: Callable[..., str]) -> str:
    """A run: its status if not completed, model YAML and layers beside its results and curves."""
    e = html.escape
    status = f'<p class="warn">{e(run.facts[0][1])}: {e(run.status_note)}</p>' if run.status_note else ""
    total = (say("total"), "", "", f"{total_params(run.layers):,}")
    layers = (
        table(layer_headers(say), [*display_rows(run.layers), total], total=True)
        if run.layers
        else f"<p>{e(run.layers_note)}</p>"
    )
    facts = "".join(f"<dt>{e(name)}</dt><dd>{e(value)}</dd>" for name, value in run.facts)
    curves = (
        image(run.curves, say("curves_alt", label=run.label))
        if run.curves
        else f"<p>{e(say('no_epoch'))}</p>"
    )
    return (
        f'<h2 id="run-{n}">{e(run.label)}</h2>{status}<div class="cols">'
        f"<div><h3>{e(say('model_h'))}</h3><pre>{e(run.model_yaml)}</pre><h3>{e(say('layers_h'))}</h3>{layers}</div>"
        f"<div><h3>{e(say('results_h'))}</h3><dl>{facts}</dl>{curves}</div></div>"
    )


def table(
    headers: list[str],
    rows: list[list[str]] | list[tuple[str, ...]],
    best: int | None = None,
    total: bool = False,
    numeric: list[bool] | None = None,
) -> str:
    """An HTML table; numeric (else number-like) columns right-aligned, the `best` row (or a last total row) marked."""
    e = html.escape
    if numeric is None:
        numeric = [all(is_number(r[i]) for r in rows) for i in range(len(headers))]
    breakable = [e(h).replace("_", "_<wbr>").replace(".", ".<wbr>") for h in headers]  # long keys wrap
    head = "".join(f"<th{' class=num' if num else ''}>{h}</th>" for h, num in zip(breakable, numeric, strict=False))
    body = []
    for i, row in enumerate(rows):
        mark = ' class="best"' if i == best else ' class="total"' if total and i == len(rows) - 1 else ""
        pairs = enumerate(zip(row, numeric, strict=False))
        cells = "".join(cell(v, num, label=c == 0 and not total) for c, (v, num) in pairs)
        body.append(f"<tr{mark}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def cell(text: str, numeric: bool, label: bool = False) -> str:
    """A table cell; a long value (a list of layers) is cut, a run's label before its keys; whole in its tooltip."""
    short = shorten_label(text, LABEL_CHARS) if label else shorten(text, CELL_CHARS, "...")
    tip = f' title="{html.escape(text)}"' if short != text else ""
    return f"<td{' class=num' if numeric else ''}{tip}>{html.escape(short)}</td>"


def image(data: bytes, alt: str, most: int = 1100) -> str:
    """A PNG inside the page as a data: URI, at most `most` pixels wide."""
    src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(alt)}" style="width: {most}px" src="{src}">'
