"""The Python API, for notebooks and scripts: the command line's code, called from Python.

    from mlcl_train import train, compare, load_run
    base = train("hw2_baseline", epochs=3)                      # prints the homework's log; returns the run
    deep = train("mlp_deep", epochs=3, **{"model.hidden": [256]})
    compare(base, deep)                                         # a table in a notebook; .to_pandas() with pandas
    deep.plot()                                                 # the curves, inline in a notebook
    load_run(deep.path).net                                     # the trained nn.Module, loaded on first use

train() and resume() run what `mlcl-train train` and `mlcl-train resume` run (train.train_file,
train.resume); a config is a YAML file or a shipped config's name. In a notebook the progress bars
are widgets (tqdm.auto) and the homework's log lines print as on the command line. The notebook's
interrupt (Ctrl-C) stops after writing what is finished, leaves a run that resume() continues,
and is raised again as KeyboardInterrupt.
"""

from __future__ import annotations

import sys
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Iterator, Union

from mlcl_train.core.errors import SIGINT_EXIT, Failed, Stopped, UserError, ending
from mlcl_train.inspect.compare import NO_RUNS, cells, is_numeric, render, select, value
from mlcl_train.inspect.plot import in_notebook
from mlcl_train.runs.labels import MISSING, differing_keys, run_labels
from mlcl_train.runs.store import COLUMNS, RunRecord, is_run, read_run, read_runs

RunLike = Union[str, Path, RunRecord]


def train(
    config: str | Path,
    overrides: dict[str, Any] | None = None,
    *,
    epochs: int | None = None,
    device: str | None = None,
    name: str | None = None,
    runs_dir: str | Path = "runs",
    progress: bool | None = None,
    **keys: Any,
) -> Run:
    """Train a config (a YAML file, or a shipped config's name such as "mlp_deep") into a new run folder.

    overrides and keys set config keys by their dotted names, as --set does:
    train("mlp_deep", {"model.hidden": [256]}, epochs=3) or train("mlp_deep", **{"train.optimizer.lr": 0.05}).
    progress: bars (default: in a notebook, or when stderr is a terminal). Returns the run; a run
    that diverged is returned too (its status says so), any other failure raises.
    """
    if overrides is not None and not isinstance(overrides, dict):
        raise UserError(f"train(): overrides is a dict of dotted config keys, e.g. {{'model.hidden': [256]}}; "
                        f"got {type(overrides).__name__}")
    sets = {**(overrides or {}), **keys}
    sets.update({k: v for k, v in (("train.epochs", epochs), ("device", device)) if v is not None})
    from mlcl_train.training.loop import train_file

    return _training(train_file, config, (), runs_dir, _progress(progress), name, sets)


def resume(run: RunLike, epochs: int | None = None, progress: bool | None = None, trust_code: bool = False) -> Run:
    """Continue a stopped run from its last finished epoch, in the same folder; epochs extends it to that many.
    trust_code: import the run's own model file even if it is not one trained with here (models.trust)."""
    from mlcl_train.training.loop import resume as resume_run

    return _training(resume_run, _path(run), epochs, _progress(progress), trust_code)


def compare(
    *runs: RunLike,
    sort: str = "best_acc",
    reverse: bool = False,
    top: int | None = None,
    filter: str | Iterable[str] = (),  # as the command line's --filter
    runs_dir: str | Path = "runs",
) -> Table:
    """The runs given (records or folders), else every run in runs_dir, as a table, best first.

    sort, reverse, top and filter work as in `mlcl-train compare` (filter="mlp*", filter=["best_acc>=97"]).
    """
    filters = [filter] if isinstance(filter, str) else list(filter)
    return Table(select(_records(runs, runs_dir), sort, reverse, top, filters))


def load_run(path: str | Path) -> Run:
    """A run folder's record; its `.net` is the trained network, loaded on first use."""
    path = Path(path)
    if not path.is_dir() or not is_run(path):
        raise UserError(f"{path} is not a run folder; pass one such as runs/20261127-122101-mlp_deep")
    return Run.of(read_run(path))


def slides(
    *runs: RunLike,
    output: str | Path = "results.pptx",
    title: str | None = None,
    filter: str | Iterable[str] = (),
    runs_dir: str | Path = "runs",
    device: str = "cpu",
) -> Path:
    """Write the PowerPoint deck of `mlcl-train slides` for the runs given, else every run in runs_dir."""
    from mlcl_train.present.slides import write_slides

    filters = [filter] if isinstance(filter, str) else list(filter)
    where = ", ".join(str(_path(r)) for r in runs) or str(runs_dir)
    return write_slides(_records(runs, runs_dir), output, title, filters, device, where)[0]


class Run(RunRecord):
    """A run's record (runs.RunRecord, read once) with what a notebook does with a run."""

    @classmethod
    def of(cls, record: RunRecord) -> Run:
        return cls(**{name: getattr(record, name) for name in record.__dataclass_fields__})

    def plot(self, output: str | Path | None = None, acc_only: bool = False) -> None:
        """Loss and test accuracy per epoch: inline in a notebook; written to `output` (.png, .pdf, .svg) if given."""
        show_curves([self], output, acc_only)

    @cached_property
    def net(self) -> Any:
        """The trained network (an nn.Module on the CPU, in eval mode) after the last finished epoch, loaded
        on first use. (`model` is the model's name, as in every record.)"""
        return self.load_model()

    def load_model(self, weights: str = "last", device: str = "cpu", trust_code: bool = False) -> Any:
        """The trained network in eval mode: predict.load_model (weights "last": model.pt, "best": best.pt).
        A model file of the run's own is imported only if trained with here, or with trust_code=True."""
        from mlcl_train.serve.predict import load_model

        return load_model(self.path, weights, device, trust_code)

    def resume(self, epochs: int | None = None, progress: bool | None = None, trust_code: bool = False) -> Run:
        """Continue this run if it stopped (or extend it to `epochs`); returns the run as it ends."""
        return resume(self.path, epochs, progress, trust_code)

    def __repr__(self) -> str:
        best = "-" if self.best_acc is None else f"{self.best_acc:.2f}%"
        planned = "?" if self.epochs_planned is None else self.epochs_planned
        return f"<Run {self.path}: {self.status}, {self.epochs}/{planned} epochs, best test accuracy {best}>"

    def _repr_html_(self) -> str:
        return Table([self])._repr_html_()


class Table:
    """Runs as the rows of a table: HTML in a notebook, text when printed, a DataFrame with .to_pandas()."""

    def __init__(self, runs: list[RunRecord]) -> None:
        self.runs = [r if isinstance(r, Run) else Run.of(r) for r in runs]
        self.keys = differing_keys(self.runs)  # config keys whose values differ between the runs

    @property
    def columns(self) -> list[str]:
        return [*COLUMNS, *self.keys]

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One dict per run: the result columns and the differing config keys, as raw values."""
        return [{k: v for k in self.columns if (v := value(r, k)) is not MISSING} for r in self.runs]

    def to_pandas(self) -> Any:
        """The rows as a pandas DataFrame (pandas is not needed for anything else)."""
        try:
            import pandas
        except ImportError:
            raise UserError("to_pandas() needs pandas: pip install pandas") from None
        return pandas.DataFrame(self.rows, columns=self.columns)

    def plot(self, output: str | Path | None = None, acc_only: bool = False) -> None:
        """The runs' curves in one figure, as Run.plot draws one run's."""
        show_curves(self.runs, output, acc_only)

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)

    def __getitem__(self, i: int) -> Run:
        return self.runs[i]

    def __str__(self) -> str:
        return render(self.runs, "table", self.keys)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        from mlcl_train.present.report import table

        headers, rows = cells(self.runs, self.keys)
        return table(headers, rows, numeric=[is_numeric(self.runs, h) for h in headers])


def show_curves(runs: list[RunRecord], output: str | Path | None, acc_only: bool) -> None:
    """Draw plot's curves of the runs: shown in a notebook, written to output if given."""
    from mlcl_train.inspect.plot import check_format, curves_figure, pyplot, save
    from mlcl_train.present.content import png

    if output is None and not in_notebook():
        raise UserError("outside a notebook, pass a file to write: plot(output='curves.png')")
    plt, labels = pyplot(), run_labels(runs)
    if output is not None:
        check_format(plt, Path(output))
        save(plt, curves_figure(plt, runs, labels, acc_only)[0], Path(output))
    if in_notebook():
        from IPython.display import Image, display

        display(Image(png(plt, curves_figure(plt, runs, labels, acc_only)[0])))


def _training(work: Any, *args: Any) -> Run:
    """Run a training job; it ends by the command line's policy (errors.ending), as a notebook expects: a run that
    ran to its end (completed or diverged) is returned, Ctrl-C after the run began is KeyboardInterrupt (the run
    resumable), anything else is raised."""
    try:
        return Run.of(work(*args))
    except (Exception, Stopped) as err:
        end = ending(err)
        if end.returns_run:
            return Run.of(end.run)
        if end.code == SIGINT_EXIT and end.run is not None:
            raise KeyboardInterrupt(f"stopped; continue it with resume({str(end.run.path)!r})") from err
        if isinstance(err, Failed):  # the error itself, as a call without a run folder raises it
            raise err.error from None
        raise


def _progress(progress: bool | None) -> bool:
    return (in_notebook() or sys.stderr.isatty()) if progress is None else progress


def _path(run: RunLike) -> Path:
    return run.path if isinstance(run, RunRecord) else Path(run)


def _records(runs: tuple[RunLike, ...], runs_dir: str | Path) -> list[RunRecord]:
    """Fresh records of the runs given (a record is read again: its run may have gone on), else of runs_dir."""
    return read_runs([_path(r) for r in runs] or [runs_dir], NO_RUNS)
