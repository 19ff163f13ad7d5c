"""`mlcl-train plot`: learning curves and gradient norms of runs as one image."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from mlcl_train.cli import app

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
    from mlcl_train.plot import curves_figure, pyplot
    from mlcl_train.runs import read_runs

    run = shutil.copytree(next(trained_runs[0].iterdir()), tmp_path / "run")
    lines = (run / "metrics.csv").read_text().splitlines()
    (run / "metrics.csv").write_text("\n".join(lines[:2]) + "\n")
    plt = pyplot()
    fig, _ = curves_figure(plt, read_runs([run]), ["one epoch"], acc_only=False)
    assert [ax.get_xlim() for ax in fig.axes] == [(0.0, 2.0), (0.0, 2.0)]
    plt.close(fig)
