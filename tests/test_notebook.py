"""The example notebook, run top to bottom in a real Jupyter kernel, and the notebook's interrupt."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient

pytestmark = pytest.mark.slow  # subprocesses, a browser, a kernel or a build

ROOT = Path(__file__).parents[1]
NOTEBOOK = ROOT / "docs" / "homework2.ipynb"


def outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def test_the_committed_notebook_has_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert outputs(nb) == []
    assert all(c.execution_count is None for c in nb.cells if c.cell_type == "code")


def test_the_notebook_runs_top_to_bottom_in_a_kernel(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "EPOCHS = 10" in params[0].source and "SUBSET = None" in params[0].source
    params[0].source = "EPOCHS = 2\nSUBSET = 1000"
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    text = "".join(out.get("text", "") for out in outputs(nb) if out.output_type == "stream" and out.name == "stdout")
    assert text.count("===== [Epochs] 2/2 =====") == 3 and text.count("[Test Result]") == 6
    bars = "".join(out.get("text", "") for out in outputs(nb) if out.output_type == "stream" and out.name == "stderr")
    widgets = [out for out in outputs(nb) if "application/vnd.jupyter.widget-view+json" in out.get("data", {})]
    assert "16/16" in bars or widgets  # progress is on in a notebook: widgets, or text where ipywidgets is missing
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert [name.split("-", 2)[2] for name in runs] == ["hw2_baseline", "mlp_deep", "mlp_wide"]
    for run in (tmp_path / "runs").iterdir():
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["epochs_done"] == 2
    results = [out.data for out in outputs(nb) if out.output_type in ("execute_result", "display_data")]
    tables = [d["text/html"] for d in results if "<table>" in d.get("text/html", "")]
    assert tables and "mlp_wide" in tables[0] and "[1024, 512]" in tables[0]  # a column for model.hidden
    assert any("image/png" in d for d in results)  # the curves, inline
    assert any("Linear(in_features=784" in d.get("text/plain", "") for d in results)  # load_run(...).net
    assert (tmp_path / "results.pptx").stat().st_size > 10_000


def test_interrupting_the_kernel_leaves_a_run_that_resume_continues(tmp_path: Path, make_config) -> None:
    config = make_config(train={"epochs": 1000})  # far more than it gets to do before the interrupt
    runs = tmp_path / "runs"
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        code = f"from mlcl_train import resume, train\nrun = train({str(config)!r}, runs_dir='runs')"
        msg_id = kc.execute(code, stop_on_error=False)  # the kernel then runs the next cell, as after a stop button
        metrics = wait_for(lambda: next(runs.glob("*/metrics.csv"), None))
        wait_for(lambda: len(metrics.read_text().splitlines()) >= 2)  # a header and one finished epoch
        km.interrupt_kernel()
        reply = shell_reply(kc, msg_id)
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        assert "continue it with resume(" in reply["content"]["evalue"]
        run = metrics.parent
        summary = json.loads((run / "summary.json").read_text())
        done = summary["epochs_done"]
        assert summary["status"] == "interrupted" and done >= 1
        assert "Interrupted (SIGINT)" in (run / "log.txt").read_text()

        reply = shell_reply(kc, kc.execute(f"run = resume({str(run)!r}, epochs={done + 1}); assert run.epochs == "
                                           f"{done + 1} and run.status == 'completed', run"))
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def wait_for(probe, seconds: float = 300) -> object:
    """Poll until probe() gives something (a generous bound: the machine may be busy)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail("the kernel did not get there")


def shell_reply(kc, msg_id: str) -> dict:
    while True:
        msg = kc.get_shell_msg(timeout=300)
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg
