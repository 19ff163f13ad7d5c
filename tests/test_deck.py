"""The deck as a talk: at most 10 slides before the appendix, notes on every slide, the setup's values, every
change against the baseline, findings from one-key pairs, Korean with an East Asian typeface, text in its boxes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import fake_run, many_runs, write_run
from pptx import Presentation
from pptx.oxml.ns import qn
from test_slides_fit import check_deck
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.config.loader import load_config
from mlcl_train.runs.labels import changes_against
from mlcl_train.runs.store import read_runs

runner = CliRunner()
HOMEWORK = [  # (name, --set variants of the homework's baseline, accuracy)
    ("hw2_baseline", [], 11.0),
    ("relu", ["model.activation=relu"], 80.0),
    ("logits", ["model.output=logits"], 30.0),
    ("relu_logits", ["model.activation=relu", "model.output=logits"], 95.0),
    ("wide", ["model.activation=relu", "model.output=logits", "model.hidden=[512, 256]"], 97.0),
]
BASE = {"name": "mlp", "hidden": [128, 64], "activation": "sigmoid", "output": "softmax"}


def homework_runs(root: Path, extra: list[str] = ()) -> Path:
    for n, (name, sets, acc) in enumerate(HOMEWORK):
        fake_run(root / "runs", n, name, [*sets, "data.train_subset=3000", *extra], dict(BASE), acc=acc)
    return root / "runs"


def titles(prs) -> list[str]:
    return [slide.shapes.title.text_frame.text for slide in prs.slides]


def slides(runs: Path, out: Path, *options: str) -> Presentation:
    result = runner.invoke(app, ["slides", str(runs), "-o", str(out), *options])
    assert result.exit_code == 0, result.output
    return Presentation(str(out))


def all_text(slide) -> str:
    return "\n".join(shape.text_frame.text for shape in slide.shapes if shape.has_text_frame)


def cells(slide) -> str:
    """The text of every table cell on a slide."""
    return "\n".join(cell.text for shape in slide.shapes if shape.has_table for row in shape.table.rows
                     for cell in row.cells)


@pytest.fixture(scope="module")
def homework(tmp_path_factory) -> tuple[Path, Presentation]:
    root = tmp_path_factory.mktemp("deck")
    runs = homework_runs(root)
    return runs, slides(runs, root / "deck.pptx", "--baseline", "hw2_baseline")


@pytest.mark.slow
def test_the_talk_comes_first_and_the_appendix_after_its_divider(homework):
    runs, prs = homework
    shown = titles(prs)
    at = shown.index("Appendix")
    assert shown[1:3] == ["Setup: what every run shares", "What each change did"]
    assert shown[at - 2:at] == ["Findings", "Takeaways"] and at <= 10
    assert sorted(shown[at + 1:at + 6]) == sorted(name for name, _, _ in HOMEWORK)


def test_every_slide_has_speaker_notes(homework):
    _, prs = homework
    for n, slide in enumerate(prs.slides, 1):
        assert slide.has_notes_slide and slide.notes_slide.notes_text_frame.text.strip(), f"slide {n} has no notes"


def test_the_setup_says_what_the_runs_share_and_that_only_the_model_differs(homework):
    _, prs = homework
    setup = all_text(prs.slides[1])
    for line in ("data set: MNIST", "training images: 3,000", "epochs: 3", "optimizer: sgd", "learning rate: 0.01",
                 "batch size: 64", "seeds: 1"):
        assert line in setup
    assert "Only model.* differs" in setup and "Warning" not in setup


@pytest.mark.slow
def test_the_setup_warns_where_runs_differ_outside_the_model(tmp_path):
    runs = homework_runs(tmp_path)
    fake_run(runs, 9, "adam", ["train.optimizer=adam", "train.batch_size=128"], dict(BASE), acc=99.0)
    setup = all_text(slides(runs, tmp_path / "d.pptx", "--no-appendix").slides[1])
    assert "Warning: the runs differ outside model.*: train.batch_size, train.optimizer.name" in setup
    assert "optimizer: sgd (5), adam (1)" in setup


@pytest.mark.slow
def test_the_shipped_homework_variants_share_the_recipe_and_the_others_are_caught(tmp_path):
    """Every hw2_*.yaml beside mlp_deep.yaml: a fair comparison; cnn.yaml (Adam, cosine, batch 128) among them:
    the warning."""
    configs = Path(__file__).parent.parent / "configs"
    for n, path in enumerate(sorted(configs.glob("hw2_*.yaml")) + [configs / "mlp_deep.yaml"]):
        write_run(tmp_path / "runs", n, load_config(path))
    setup = all_text(slides(tmp_path / "runs", tmp_path / "fair.pptx", "--no-appendix").slides[1])
    assert "Only model.* differs" in setup and "Warning" not in setup
    write_run(tmp_path / "runs", 9, load_config(configs / "cnn.yaml"))
    setup = all_text(slides(tmp_path / "runs", tmp_path / "mixed.pptx", "--no-appendix").slides[1])
    assert "Warning: the runs differ outside model.*:" in setup and "train.optimizer.name" in setup


def test_every_change_against_the_baseline_is_in_the_deck_with_its_points(homework):
    runs, prs = homework
    records = read_runs([runs])
    base = next(r for r in records if r.name == "hw2_baseline")
    notes = prs.slides[2].notes_slide.notes_text_frame.text
    for run in records:
        if run is not base:
            change = ", ".join(changes_against(run, base))
            assert f"{run.name}: {change} ({run.best_acc - base.best_acc:+.1f} points)" in notes
    assert "activation sigmoid -> relu" in notes and "output softmax -> logits" in notes


def test_findings_come_from_pairs_that_differ_in_one_key(homework):
    _, prs = homework
    findings = all_text(prs.slides[titles(prs).index("Findings")])
    # relu - baseline and relu_logits - logits: (80 - 11 + 95 - 30) / 2 = 67.0; the test accuracy is acc + n % 7 / 10
    assert "activation sigmoid -> relu: +67.1 points (2 pairs)" in findings
    assert "hidden [128,64] -> [512,256]: +2.1 points (1 pair)" in findings


def test_the_table_leads_with_the_keys_accuracy_varies_with_and_the_points_over_the_baseline(homework):
    _, prs = homework
    table = next(s.table for s in prs.slides[titles(prs).index("Comparison")].shapes if s.has_table)
    headers = [cell.text.replace("\u200b", "") for cell in table.rows[0].cells]
    # accuracy spread over each key's values: activation 70.2 points, hidden 43.0, output 28.6
    assert headers[:6] == ["run", "best_acc", "vs baseline", "model.activation", "model.hidden", "model.output"]
    assert "model.name" not in headers  # the same in every run


@pytest.mark.parametrize("count", [1, 8, pytest.param(30, marks=pytest.mark.slow)])
def test_without_the_appendix_a_deck_has_at_most_10_slides(tmp_path, count):
    runs = many_runs(tmp_path / "runs", count)
    prs = slides(runs, tmp_path / "d.pptx", "--no-appendix")
    assert len(prs.slides) <= 10 and "Appendix" not in titles(prs)
    full = slides(runs, tmp_path / "full.pptx")
    assert len(full.slides) > len(prs.slides) + count  # the divider and a slide per run
    assert check_deck(tmp_path / "d.pptx") == len(prs.slides)


@pytest.mark.slow
def test_korean_deck_names_an_east_asian_typeface_and_fits(tmp_path):
    runs = tmp_path / "runs"
    for n, (name, acc) in enumerate([("기준모델", 11.0), ("렐루", 80.0), ("배치정규화_넓은모델", 97.0)]):
        fake_run(runs, n, name, [f"model.hidden=[{64 * (n + 1)}]"], dict(BASE), acc=acc)
    out = tmp_path / "ko.pptx"
    prs = slides(runs, out, "--lang", "ko", "--baseline", "기준모델", "--title", "과제 2: 모델 구조 실험")
    assert titles(prs)[:3] == ["과제 2: 모델 구조 실험", "실험 설정: 모든 실행이 같은 것", "각 변경의 효과"]
    spans = [r for slide in prs.slides for shape in slide.shapes if shape.has_text_frame
             for p in shape.text_frame.paragraphs for r in p.runs]
    assert spans and all(r._r.rPr.find(qn("a:ea")).get("typeface") == "Malgun Gothic" for r in spans)
    assert "기준 모델: 기준모델" in prs.slides[0].notes_slide.notes_text_frame.text
    check_deck(out)


@pytest.mark.slow
def test_a_korean_deck_says_the_status_and_the_confusion_lines_in_korean(tmp_path):
    """The red status of a run not completed, the confusion matrix's lines, the table's notes, a run's facts and
    its layer table: no English."""
    runs = homework_runs(tmp_path)
    summary = next(runs.glob("*-relu")) / "summary.json"
    summary.write_text(summary.read_text().replace('"status": "completed"', '"status": "interrupted"'))
    (next(runs.glob("*-logits")) / "config.yaml").write_text("model: [")
    prs = slides(runs, tmp_path / "ko.pptx", "--lang", "ko", "--baseline", "hw2_baseline")
    text = "\n".join(all_text(slide) + cells(slide) + slide.notes_slide.notes_text_frame.text for slide in prs.slides)
    assert "중단됨, 에폭 3/3 완료" in text and "중간에 멈췄습니다" in text
    assert "혼동 행렬 없음" in text and "모든 실행에서 같음: " in text
    assert "최종 정확도: " in text and "(에폭 3/3)" in text and "테스트 (검증 세트 없음: 낙관적)" in text
    assert "출력 형태" in text and "합계" in text and "상태: 중단됨" in text and "레이어 표 없음: " in text
    assert "MNIST: 실행 5개 비교" in text and "(읽을 수 있는 config.yaml 없음)" in text
    for english in ("epochs done", "No confusion matrix", "Same for all runs", "stopped early", "continue it",
                    "(epoch", "of 3)", "optimistic", "output shape", "total", "comparing", "No layer table",
                    "no readable"):
        assert english not in text, english


def test_figures_find_a_korean_font_or_say_there_is_none(capsys):
    from mlcl_train.inspect.plot import font_families

    families = font_families()
    if len(families) == 1:
        if os.environ.get("CI") == "true":
            pytest.fail("no Korean font: .ci/run installs fonts-nanum")
        assert "no Korean font found" in capsys.readouterr().err
        pytest.skip("no Korean font on this machine (apt-get install fonts-nanum)")
    assert families[0] == "DejaVu Sans" and families[1]


def test_an_unknown_baseline_or_language_is_one_line(homework, tmp_path):
    runs, _ = homework
    result = runner.invoke(app, ["slides", str(runs), "-o", str(tmp_path / "d.pptx"), "--baseline", "nope"])
    assert result.exit_code != 0 and "--baseline nope: no such run" in result.output
    result = runner.invoke(app, ["slides", str(runs), "-o", str(tmp_path / "d.pptx"), "--lang", "fr"])
    assert result.exit_code != 0 and "--lang fr: unknown language; valid: en, ko" in result.output

