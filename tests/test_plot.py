"""`mlcl-train plot`: learning curves and gradient norms of runs as one image."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from mlcl_train.cli.app import app

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


def test_plot_writes_curves_accuracy_and_grad_norm_pngs(trained_runs, tmp_path):
    runs = sorted(trained_runs[0].iterdir())
    for extra, name in (([], "curves.png"), (["--acc-only"], "acc.png"), (["--grad-norms"], "grads.png")):
        out = tmp_path / "figs" / name
        result = runner.invoke(app, ["plot", *map(str, runs), "-o", str(out), *extra])
        assert result.exit_code == 0, result.output
        assert out.read_bytes()[:8] == PNG and out.stat().st_size > 10_000
        assert result.stdout == f"wrote {out}\n"


def test_plot_leaves_out_runs_without_an_epoch_and_says_so(trained_runs, tmp_path):
    runs = shutil.copytree(trained_runs[0], tmp_path / "runs")
    fresh = next(runs.iterdir())
    (fresh / "metrics.csv").write_text("epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n")
    result = runner.invoke(app, ["plot", str(runs), "-o", str(tmp_path / "p.png")])
    assert result.exit_code == 0 and f"note: {fresh.name} has no finished epoch" in result.stderr


def test_plot_errors_are_one_line(trained_runs, tmp_path):
    runs = shutil.copytree(trained_runs[0], tmp_path / "runs")
    bare = next(runs.iterdir())
    (bare / "grad_norms.csv").unlink()
    cases = [([str(bare), "--grad-norms", "-o", str(tmp_path / "g.png")], "train.log_grad_norms=true"),
             ([str(runs), "-o", str(tmp_path / "p.xyz")], "cannot write .xyz"),
             ([str(tmp_path / "none"), "-o", str(tmp_path / "n.png")], "no such folder")]
    for args, message in cases:
        result = runner.invoke(app, ["plot", *args])
        assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1, args


def test_a_single_epoch_is_drawn_between_whole_epochs(trained_runs, tmp_path):
    from mlcl_train.inspect.plot import curves_figure, pyplot
    from mlcl_train.runs.store import read_runs

    run = shutil.copytree(next(trained_runs[0].iterdir()), tmp_path / "run")
    lines = (run / "metrics.csv").read_text().splitlines()
    (run / "metrics.csv").write_text("\n".join(lines[:2]) + "\n")
    plt = pyplot()
    fig, _ = curves_figure(plt, read_runs([run]), ["one epoch"], acc_only=False)
    assert [ax.get_xlim() for ax in fig.axes] == [(0.0, 2.0), (0.0, 2.0)]
    plt.close(fig)


@pytest.mark.slow
def test_many_runs_keep_the_figure_bounded_with_distinct_styles_and_a_note(tmp_path):
    from conftest import many_runs
    from PIL import Image

    runs = many_runs(tmp_path / "runs", 25)
    sizes = {}
    for count in (2, 12, 25):
        out = tmp_path / f"p{count}.png"
        result = runner.invoke(app, ["plot", *map(str, sorted(runs.iterdir())[:count]), "-o", str(out)])
        assert result.exit_code == 0, result.output
        sizes[count] = Image.open(out).size
        left_out = "note: 5 of 25 runs left out" in result.stderr
        assert left_out == (count == 25)
    assert all(w <= 2000 and h <= 1500 for w, h in sizes.values()), sizes  # was 12,113 px wide for 12 runs


def test_legend_labels_are_short_and_styles_distinct_for_twenty_runs(tmp_path):
    from conftest import many_runs

    from mlcl_train.inspect.plot import curves_figure, pyplot
    from mlcl_train.runs.labels import run_labels
    from mlcl_train.runs.store import read_runs

    records = read_runs([many_runs(tmp_path / "runs", 20)])
    plt = pyplot()
    fig, notes = curves_figure(plt, records, run_labels(records), acc_only=True)
    lines = fig.axes[0].get_lines()
    styles = {(line.get_color(), line.get_linestyle(), line.get_marker()) for line in lines}
    assert len(lines) == 20 and len(styles) == 20 and notes == []
    assert max(len(part) for line in lines for part in line.get_label().splitlines()) <= 36  # wrapped
    assert "(" not in lines[0].get_label()
    plt.close(fig)


def test_the_curves_speak_the_language_they_are_given(tmp_path):
    from conftest import fake_run

    from mlcl_train.inspect.plot import curves_figure, pyplot, speaking
    from mlcl_train.present.words import chart_words
    from mlcl_train.runs.store import read_runs

    fake_run(tmp_path / "runs", 0, "기준", [])
    runs = read_runs([tmp_path / "runs"])
    plt = pyplot()
    with speaking(chart_words("ko")):
        fig, _ = curves_figure(plt, runs, ["기준"], acc_only=False)
    loss, acc = fig.axes
    assert (acc.get_title(), acc.get_xlabel(), acc.get_ylabel()) == ("테스트 정확도", "에폭", "정확도 (%)")
    assert loss.get_title() == "손실" and "학습 손실" in [t.get_text() for t in fig.legends[0].get_texts()]
    fig, _ = curves_figure(plt, runs, ["base"], acc_only=True)
    assert (fig.axes[0].get_title(), fig.axes[0].get_xlabel()) == ("Test accuracy", "epoch")


def test_the_evaluation_figures_speak_the_language_of_the_block_they_are_drawn_in():
    import numpy as np

    from mlcl_train.inspect.plot import confusion_figure, mistakes_figure, pyplot, speaking
    from mlcl_train.present.words import chart_words

    plt, classes = pyplot(), [str(i) for i in range(10)]
    with speaking(chart_words("ko")):
        fig = confusion_figure(plt, np.eye(10, dtype=int) * 5, classes, "t")
        grid = mistakes_figure(plt, np.zeros((1, 28, 28)), [7], [2], [0.9], classes, "m")
    assert (fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()) == ("예측", "정답")
    assert grid.axes[0].get_title() == "정답 7\n예측 2 (90%)"
    fig = confusion_figure(plt, np.eye(10, dtype=int) * 5, classes, "t")  # outside the block: English again
    assert fig.axes[0].get_xlabel() == "predicted"
