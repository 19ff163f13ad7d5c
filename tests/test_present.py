"""`mlcl-train slides` and `mlcl-train report`: a deck and a page of runs, complete or not."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.inspect.summary import Layer
from mlcl_train.present.content import Content
from mlcl_train.present.slides import build_deck, layer_rows, slide_rows

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def three_runs(trained_runs, tmp_path_factory) -> Path:
    """The two trained runs and a copy of one marked interrupted after epoch 1 of 5."""
    runs = shutil.copytree(trained_runs[0], tmp_path_factory.mktemp("present") / "runs")
    stopped = shutil.copytree(next(runs.glob("*-hidden16")), runs / "20261127-100000-stopped")
    summary = json.loads((stopped / "summary.json").read_text())
    summary.update(name="stopped", status="interrupted", epochs=5, epochs_done=1)
    (stopped / "summary.json").write_text(json.dumps(summary))
    metrics = (stopped / "metrics.csv").read_text().splitlines()
    (stopped / "metrics.csv").write_text("\n".join(metrics[:2]) + "\n")
    (stopped / "config.yaml").write_text(
        (stopped / "config.yaml").read_text().replace("name: hidden16", "name: stopped")
    )
    return runs


@pytest.fixture(scope="module")
def deck(three_runs) -> tuple[Presentation, str]:
    out = three_runs.parent / "deck.pptx"
    result = runner.invoke(app, ["slides", str(three_runs), "-o", str(out), "--title", "Hidden width"])
    assert result.exit_code == 0, result.output
    return Presentation(str(out)), result.stdout


def best_name(runs: Path) -> str:
    summaries = [json.loads((r / "summary.json").read_text()) for r in runs.iterdir()]
    return max(summaries, key=lambda s: s["best_acc"])["name"]


def titles(prs: Presentation) -> list[str]:
    return [slide.shapes.title.text_frame.text for slide in prs.slides]


def texts(slide) -> str:
    """All text on a slide, tables included."""
    out = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            out.append(shape.text_frame.text)
        if shape.has_table:
            out += [cell.text for row in shape.table.rows for cell in row.cells]
    return "\n".join(out)


@pytest.mark.slow
def test_slides_title_table_one_slide_per_run_curves_and_confusion(deck, three_runs):
    prs, stdout = deck
    best = best_name(three_runs)
    at = titles(prs).index("Appendix")
    assert titles(prs)[:at] == [
        "Hidden width",
        "Setup: what every run shares",
        "What each change did",
        "Comparison",
        "Test accuracy: the baseline and the best runs",
        f"Confusion matrix: {best}",
        f"Most confident mistakes: {best}",
        "Findings",
        "Takeaways",
    ]
    assert sorted(titles(prs)[at + 1:]) == ["hidden16", "hidden32", "stopped"]  # the table fit the talk's slide
    assert stdout.strip().endswith(f"({len(prs.slides)} slides)") and len(prs.slides) == 13
    table = texts(prs.slides[3])
    assert all(name in table for name in ("hidden16", "hidden32", "stopped")) and "interrupted" in table
    assert "Compared: model.hidden" in texts(prs.slides[0])


def test_slides_show_layers_status_and_embed_images(deck):
    prs, _ = deck
    runs = {slide.shapes.title.text_frame.text: slide for slide in list(prs.slides)[-3:]}
    assert "status: interrupted, 1 of 5 epochs done" in texts(runs["stopped"])
    assert "status:" not in texts(runs["hidden32"])  # said only when a run is not completed
    layers = texts(runs["hidden32"])
    assert "fc1" in layers and "Linear" in layers and "hidden: [32]" in layers
    for slide in [*list(prs.slides)[4:7], *list(prs.slides)[-3:]]:  # curves, confusion, mistakes; each run
        pictures = [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) == 1 and pictures[0].image.blob[:8] == PNG, slide.shapes.title.text_frame.text


def test_slides_are_16_9_and_nothing_leaves_the_slide_or_is_small(deck):
    prs, _ = deck
    assert round(prs.slide_width / prs.slide_height, 2) == round(16 / 9, 2)
    for slide in prs.slides:
        for shape in slide.shapes:
            assert shape.left >= 0 and shape.top >= 0, shape.name
            assert shape.left + shape.width <= prs.slide_width and shape.top + shape.height <= prs.slide_height, (
                shape.name
            )
            frames = (
                [c.text_frame for r in shape.table.rows for c in r.cells]
                if shape.has_table
                else ([shape.text_frame] if shape.has_text_frame else [])
            )
            sizes = [run.font.size.pt for f in frames for p in f.paragraphs for run in p.runs if run.text.strip()]
            small_ok = shape.has_table or (  # the model's YAML, and the notes under the comparison table
                shape.has_text_frame and shape.text_frame.text.startswith(("model:", "Same for all runs", "Not shown")))
            small_ok |= slide.shapes.title.text_frame.text in ("Setup: what every run shares", "Findings", "Takeaways")
            assert min(sizes, default=18) >= (14 if small_ok else 18), shape.name


def test_long_tables_go_on_few_slides_with_the_columns_that_fit_and_the_others_named():
    keys = [f"model.key_number_{i}" for i in range(12)]
    rows = [[f"run{r}", *(f"value-{r}-{i}" for i in range(12)), f"{90 + r / 10:.2f}"] for r in range(30)]
    content = Content(
        title="t",
        subtitle=[],
        headers=["run", *keys, "best_acc"],
        rows=rows,
        same=[("status", "completed")],
        best=0,
        notes=[],
        runs=[],
        all_curves=None,
        confusion_title="c",
        mistakes_title="m",
        confusion_lines=["no weights"],
    )
    prs = build_deck(content)
    appendix = titles(prs).index("Appendix")
    tables = [s for s in list(prs.slides)[appendix:] if s.shapes.title.text_frame.text.startswith("Comparison")]
    grids = [next(shape for shape in t.shapes if shape.has_table).table for t in tables]
    assert len(tables) <= 3 and sum(len(g.rows) - 1 for g in grids) == 30
    shown = [[c.text.replace("\u200b", "") for c in g.rows[0].cells] for g in grids]
    assert all(h[:2] == ["run", "model.key_number_0"] and h[-1] == "best_acc" for h in shown)
    left_out = [k for k in keys if k not in shown[0]]
    assert left_out and f"Not shown ({len(left_out)}, see mlcl-train compare): {left_out[0]}" in texts(tables[-1])
    assert "Same for all runs: status completed" in texts(tables[-1])
    for g in grids:
        assert sum(col.width for col in g.columns) <= prs.slide_width


def test_rows_share_the_slides_evenly_with_fewer_on_the_last():
    assert [len(r) for r in slide_rows(10, 8, 8)] == [5, 5]  # never 8 + 2
    assert [len(r) for r in slide_rows(12, 15, 12)] == [12]
    assert [len(r) for r in slide_rows(30, 15, 10)] == [10, 10, 10]
    assert [len(r) for r in slide_rows(31, 15, 3)] == [14, 14, 3]
    assert [r.start for r in slide_rows(31, 15, 3)] == [0, 14, 28]


def test_a_long_layer_list_is_cut_in_the_middle_with_the_total_kept():
    layers = [Layer(f"fc{i}", "Linear", (2, 8), 1000 + i) for i in range(30)]
    rows = layer_rows(layers, 9)
    assert len(rows) == 10 and rows[0][0] == "fc0" and rows[-2][0] == "fc29"
    assert rows[-1] == ("total", "", "", f"{sum(1000 + i for i in range(30)):,}")
    hidden = next(r for r in rows if r[0] == "...")
    assert hidden[1] == "22 more"
    assert sum(int(r[3].replace(",", "")) for r in rows[:-1]) == sum(1000 + i for i in range(30))
    assert layer_rows(layers[:3], 9) == [
        ("fc0", "Linear", "(N, 8)", "1,000"),
        ("fc1", "Linear", "(N, 8)", "1,001"),
        ("fc2", "Linear", "(N, 8)", "1,002"),
        ("total", "", "", "3,003"),
    ]


@pytest.mark.slow
def test_missing_weights_and_a_run_without_an_epoch_are_said_on_the_slides(three_runs, tmp_path):
    runs = shutil.copytree(three_runs, tmp_path / "runs")
    best = best_name(three_runs)
    next(runs.glob(f"*-{best}")).joinpath("model.pt").unlink()
    fresh = runs / "20261127-120000-fresh"
    fresh.mkdir()
    shutil.copy(next(runs.glob("*-hidden16")) / "config.yaml", fresh / "config.yaml")
    result = runner.invoke(app, ["slides", str(runs), "-o", str(tmp_path / "d.pptx")])
    assert result.exit_code == 0, result.output
    slides = {s.shapes.title.text_frame.text: s for s in Presentation(str(tmp_path / "d.pptx")).slides}
    assert "has no saved weights (model.pt)" in texts(slides[f"Confusion matrix: {best}"])
    assert f"Most confident mistakes: {best}" not in slides
    fresh_slide = next(s for s in slides.values() if "folder: 20261127-120000-fresh" in texts(s))
    assert "status: incomplete, 0 of 2 epochs done" in texts(fresh_slide) and "No finished epoch yet" in texts(
        fresh_slide
    )


class Page(HTMLParser):
    """Headings, tables (rows of cell texts), image sources and every link-like attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[str, str]] = []
        self.tables: list[list[list[str]]] = []
        self.sources: list[str] = []
        self.alts: list[str] = []
        self.links: list[str] = []
        self.tags: list[str] = []
        self._text: list[str] | None = None
        self.data: list[str] = []

    def text(self) -> str:
        """Every text of the page, in order."""
        return " ".join(self.data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href", "srcset", "action")]
        if tag == "img":
            self.sources.append(dict(attrs).get("src") or "")
            self.alts.append(dict(attrs).get("alt") or "")
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self.tables[-1].append([])
        if tag in ("h1", "h2", "h3", "td", "th"):
            self._text = []

    def handle_data(self, data: str) -> None:
        self.data.append(data)
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3"):
            self.headings.append((tag, "".join(self._text or [])))
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._text or []))
        if tag in ("h1", "h2", "h3", "td", "th"):
            self._text = None


@pytest.mark.slow
def test_report_is_one_self_contained_page(three_runs, tmp_path):
    out = tmp_path / "share" / "report.html"
    result = runner.invoke(app, ["report", str(three_runs), "-o", str(out)])
    assert result.exit_code == 0 and result.stdout == f"wrote {out}\n", result.output
    page = Page()
    page.feed(out.read_text(encoding="utf-8"))
    best = best_name(three_runs)
    h2 = [text for tag, text in page.headings if tag == "h2"]
    talk = ["Setup: what every run shares", "What each change did", "Comparison",
            "Test accuracy: the baseline and the best runs", f"Confusion matrix: {best}", "Findings", "Takeaways"]
    assert h2[:7] == talk and h2[7] == "Appendix"
    assert sorted(h2[8:]) == ["hidden16", "hidden32", "stopped"]  # 3 runs: the talk's curves show them all
    text = page.text()
    assert "training images: " in text and "epochs: " in text  # the setup the runs share
    comparison = page.tables[0]
    assert sorted(row[0] for row in comparison[1:]) == ["hidden16", "hidden32", "stopped"]
    assert "model.hidden" in comparison[0] and any("fc1" in row for t in page.tables[1:] for row in t)
    assert len(page.sources) == 1 + 1 + 2 + 3  # changes, curves, confusion and mistakes, then the runs' curves
    assert all(src.startswith("data:image/png;base64,") for src in page.sources)
    assert all(base64.b64decode(src.split(",", 1)[1])[:8] == PNG for src in page.sources)
    assert not [link for link in page.links if "http:" in link or "https:" in link or "//" in link.split(",")[0]]
    assert "script" not in page.tags and "link" not in page.tags and "style" in page.tags


def test_a_korean_report_says_its_own_words_in_korean(three_runs, tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(three_runs), "-o", str(out), "--lang", "ko", "--title", "구조 실험"])
    assert result.exit_code == 0, result.output
    page = Page()
    page.feed(out.read_text(encoding="utf-8"))
    h2 = [text for tag, text in page.headings if tag == "h2"]
    assert h2[:3] == ["실험 설정: 모든 실행이 같은 것", "각 변경의 효과", "비교"] and "부록" in h2
    assert page.headings[0] == ("h1", "구조 실험") and '<html lang="ko">' in out.read_text(encoding="utf-8")
    text = page.text()
    assert "중단됨, 에폭 1/5 완료: 중간에 멈췄습니다" in text and "(에폭 2/2)" in text
    assert "출력 형태" in text and "합계" in text
    for english in ("Setup", "What each change did", "Findings", "Takeaways", "Model", "Layers", "Made by",
                    "(epoch", "epochs done", "optimistic", "output shape", "loss and accuracy", "comparing",
                    "interrupted:"):
        assert english not in page.text() and english not in " ".join(page.alts), english


def test_wrong_output_names_and_missing_runs_are_one_line(tmp_path):
    cases = [
        (["slides", str(tmp_path), "-o", str(tmp_path / "d.pdf")], "a deck is written as .pptx"),
        (["report", str(tmp_path), "-o", str(tmp_path / "r.txt")], "written as .html"),
        (["slides", str(tmp_path / "none"), "-o", str(tmp_path / "d.pptx")], "no such folder"),
        (["report", str(tmp_path), "-o", str(tmp_path / "r.html")], "no run folders"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1, args


@pytest.mark.slow
def test_the_confusion_slide_names_the_epoch_its_weights_reproduce(trained_runs):
    """The deck is built from a snapshot: the record and model.pt's bytes, read once. The epoch it names is the
    one whose recorded accuracy the weights reproduce, so a run still training cannot contradict itself."""
    import dataclasses

    from mlcl_train.present.content import best_run_eval, read_weights
    from mlcl_train.runs.store import read_run

    run = read_run(next(trained_runs[0].glob("*-hidden32")))
    weights = read_weights(run)
    _, lines, images = best_run_eval(run, "hidden32", weights)
    assert lines[0].startswith("Its weights after epoch 2 classify") and set(images) == {"confusion", "mistakes"}
    older = dataclasses.replace(run, metrics=run.metrics[:1], epochs=1)  # the record read before epoch 2 ended
    _, lines, _ = best_run_eval(older, "hidden32", weights)
    assert lines[0].startswith("Its weights as last saved classify")


@pytest.mark.slow
def test_slides_and_report_show_their_progress_on_stderr(three_runs, tmp_path):
    result = runner.invoke(app, ["report", str(three_runs), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert "run 1 of 3:" in result.stderr and "evaluating the weights of the best run" in result.stderr
    assert result.stdout == f"wrote {tmp_path / 'r.html'}\n"


@pytest.mark.parametrize("command,name", [("slides", "deck.pptx"), ("report", "page.html"), ("plot", "c.png")])
def test_an_output_that_is_a_fifo_is_replaced_not_written_into(three_runs, tmp_path, command, name):
    """Opening a FIFO to write blocks until a reader comes (and Ctrl-C waits behind it): the file goes beside
    it and is renamed over it, as a link or a half-written file would be."""
    import os
    import stat

    out = tmp_path / name
    os.mkfifo(out)
    done = subprocess.run([sys.executable, "-m", "mlcl_train", command, str(three_runs), "-o", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISREG(out.stat().st_mode) and out.stat().st_size > 1000
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left beside it
