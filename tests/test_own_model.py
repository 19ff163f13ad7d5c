"""A model class in a Python file of the user's own, named by a config: `model: {name: my_models.py:TinyNet}`."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.models import _MODELS, model_args, register_model

runner = CliRunner()

MY_MODELS = '''
import torch
from torch import nn


class TinyNet(nn.Module):
    """One conv layer and a linear layer."""

    def __init__(self, width: int = 4, dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1, stride=2)
        self.drop = nn.Dropout(dropout)
        self.fc1 = nn.Linear(width * 14 * 14, 10)

    def forward(self, x):
        return self.fc1(self.drop(torch.relu(self.conv1(x)).flatten(1)))


class FiveClasses(TinyNet):
    def forward(self, x):
        return super().forward(x)[:, :5]


class NeedsDepth(TinyNet):
    def __init__(self, depth: int):
        super().__init__()


class Plain:
    pass
'''


@pytest.fixture
def own_config(make_config, tmp_path):
    """make_config with the model TinyNet from models/my_models.py, named relative to the config."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "my_models.py").write_text(MY_MODELS)

    def make(**model):
        defaults = {} if "name" in model else {"name": "models/my_models.py:TinyNet", "width": 3}
        return make_config(model={**defaults, **model})

    return make


@pytest.mark.slow
def test_a_class_of_my_own_trains_and_every_command_reads_its_run(own_config, tmp_path):
    config = own_config()
    args = ["train", "--config", str(config), "--runs-dir", str(tmp_path / "runs"), "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "runs").iterdir())
    saved = yaml.safe_load((run / "config.yaml").read_text())["model"]
    assert saved == {"name": f"{tmp_path / 'models' / 'my_models.py'}:TinyNet", "width": 3, "dropout": 0.0}
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["params"] == 3 * 9 + 3 + 3 * 196 * 10 + 10
    compare = runner.invoke(app, ["compare", str(tmp_path / "runs"), "--format", "json"])
    assert json.loads(compare.stdout)[0]["model"] == saved["name"]
    table = runner.invoke(app, ["summary", "--config", str(config)])
    assert table.exit_code == 0 and "conv1" in table.stdout and "(N, 3, 14, 14)" in table.stdout
    evaluated = runner.invoke(app, ["eval", str(run), "-o", str(tmp_path / "eval")])
    assert evaluated.exit_code == 0 and f"(the run recorded {summary['final_acc']:.3f}%)" in evaluated.stdout
    listed = runner.invoke(app, ["models", f"{tmp_path}/models/my_models.py:TinyNet"])
    assert listed.stdout.splitlines()[1:] == ["    width: int = 4", "    dropout: float = 0.0"]


@pytest.mark.parametrize("model, message", [
    ({"name": "models/missing.py:TinyNet"}, "model file not found"),
    ({"name": "models/my_models.py:Tiny"}, "has no class 'Tiny'; it defines: FiveClasses, NeedsDepth, Plain, TinyNet"),
    ({"name": "models/my_models.py:Plain"}, "Plain in"),
    ({"name": "models/my_models.py:FiveClasses"},
     "returns (2, 5) for images (2, 1, 28, 28); it must return class scores (2, 10)"),
    ({"name": "models/my_models.py:NeedsDepth"}, "model.depth: required by model"),
    ({"widht": 3}, "did you mean 'model.width'"),
    ({"width": "wide"}, "model.width: expected int"),
    ({"dropout": 2.0}, "building it fails: ValueError: dropout probability"),
    ({"width": 0}, "the forward pass on images (2, 1, 28, 28) fails: RuntimeError"),
])
def test_a_wrong_class_of_my_own_is_one_clear_line(own_config, tmp_path, model, message):
    args = ["summary", "--config", str(own_config(**model))]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_class_registered_with_the_decorator_is_checked_from_its_init():
    from torch import nn

    class Wide(nn.Module):
        def __init__(self, width: int = 64, scale: float = 1.0) -> None:
            super().__init__()

    try:
        register_model(Wide)
        assert [(a.name, a.type, a.default) for a in model_args("Wide")] == [("width", int, 64), ("scale", float, 1.0)]
    finally:
        del _MODELS["Wide"]


def test_a_class_of_my_own_is_read_by_attribute_like_a_registered_model(own_config):
    """The resolved config's model section is a frozen record of the class's arguments, as for `mlp`."""
    import dataclasses

    from mlcl_train.config.loader import load_config

    model = load_config(own_config(dropout=0.25)).model
    assert model.name.endswith("my_models.py:TinyNet") and (model.width, model.dropout) == (3, 0.25)
    assert [f.name for f in dataclasses.fields(model)] == ["name", "width", "dropout"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.width = 5


# ---------------------------------------------------------------- a run folder from someone else

EVIL = MY_MODELS + '''
import pathlib
pathlib.Path(__file__).with_name("IMPORTED").write_text("ran")
'''


@pytest.fixture
def received_run(own_config, tmp_path):
    """A trained run of TinyNet whose config.yaml is then made to name evil.py beside it, as a run sent by
    someone else would: evil.py writes IMPORTED next to itself when it is imported."""
    config = own_config()
    assert runner.invoke(app, ["train", "--config", str(config), "--runs-dir", str(tmp_path / "runs"),
                               "--no-progress"]).exit_code == 0
    run = next((tmp_path / "runs").iterdir())
    (run / "evil.py").write_text(EVIL)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["model"]["name"] = "evil.py:TinyNet"
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    return run


@pytest.mark.parametrize("command", [
    ["predict", "{run}", "{image}"], ["export", "{run}", "-o", "{tmp}/m.onnx"], ["eval", "{run}", "-o", "{tmp}/e"],
    ["resume", "{run}", "--epochs", "3", "--no-progress"], ["demo", "{run}", "--port", "0"],
])
@pytest.mark.slow
def test_a_received_runs_own_model_file_is_not_imported(received_run, tmp_path, command, monkeypatch):
    from PIL import Image

    Image.new("L", (28, 28), 0).save(tmp_path / "d.png")
    monkeypatch.chdir(tmp_path)  # eval, as every command, finds evil.py in the run folder, not here
    args = [a.format(run=received_run, image=tmp_path / "d.png", tmp=tmp_path) for a in command]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert not (received_run / "IMPORTED").exists()
    assert str(received_run / "evil.py") in result.stderr and "--trust-code" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_api_neither_imports_it_and_trust_code_does(received_run):
    from mlcl_train import load_run
    from mlcl_train.core.errors import UserError

    with pytest.raises(UserError, match="trust_code=True"):
        load_run(received_run).net  # noqa: B018  (the property loads the model)
    assert not (received_run / "IMPORTED").exists()
    assert load_run(received_run).load_model(trust_code=True).fc1.out_features == 10
    assert (received_run / "IMPORTED").exists()


@pytest.mark.slow
def test_the_file_i_trained_with_is_imported_and_an_edited_one_is_not(own_config, tmp_path):
    config = own_config()
    assert runner.invoke(app, ["train", "--config", str(config), "--runs-dir", str(tmp_path / "runs"),
                               "--no-progress"]).exit_code == 0
    run = next((tmp_path / "runs").iterdir())
    assert runner.invoke(app, ["export", str(run), "-o", str(tmp_path / "m.onnx")]).exit_code == 0
    with open(tmp_path / "models" / "my_models.py", "a") as f:
        f.write("\nprint('changed after training')\n")
    result = runner.invoke(app, ["export", str(run), "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2 and "or changed since" in result.stderr


def test_a_model_file_that_calls_exit_is_one_line_and_a_failure(own_config, tmp_path):
    (tmp_path / "models" / "quits.py").write_text("raise SystemExit(0)\n")
    result = runner.invoke(app, ["summary", "--config", str(own_config(name="models/quits.py:Net"))])
    assert result.exit_code == 2 and "SystemExit" in result.stderr, result.output


def test_override_keys_that_are_not_names_are_one_clear_error():
    from mlcl_train import train
    from mlcl_train.core.errors import UserError

    with pytest.raises(UserError, match="config key 1: keys are dotted names"):
        train("mlp_deep", {1: 2})
