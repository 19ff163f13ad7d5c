"""Every registered model with its defaults: forward and backward on a batch; and the new families' checks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import yaml
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.core.errors import UserError
from mlcl_train.models import create_model, list_models, resolve_model_config


def build(name: str, **args):
    """A model from a `model:` section, resolved as a config would be."""
    cfg = resolve_model_config({"name": name, **args})
    return create_model(cfg.pop("name"), **cfg)


@pytest.mark.parametrize("name", list_models())
def test_every_model_trains_one_step_with_its_defaults(name):
    torch.manual_seed(0)
    model = build(name).train()
    out = model(torch.randn(4, 1, 28, 28))
    assert out.shape == (4, 10)
    assert torch.isfinite(out).all()
    F.cross_entropy(out, torch.tensor([0, 3, 7, 9])).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} gets no gradient"
        assert torch.isfinite(p.grad).all(), f"{pname} has a non-finite gradient"
        assert p.grad.abs().sum() > 0, f"{pname} gets an all-zero gradient"


@pytest.mark.parametrize("name, args", [
    ("rnn", {"cell": "gru", "bidirectional": True, "layers": 2, "pool": "mean", "patch": 7}),
    ("rnn", {"cell": "rnn", "bidirectional": True, "pool": "last"}),
    ("attention_rnn", {"score": "dot", "bidirectional": True, "patch": 4}),
    ("vit", {"patch": 4, "dim": 24, "heads": 3, "depth": 1, "dropout": 0.1}),
    ("resnet", {"blocks": [2, 1], "widths": [8, 8], "batch_norm": False}),
    ("resnet", {"stem_stride": 2, "blocks": [1, 1, 1, 1, 1], "widths": [4, 4, 4, 4, 4]}),  # 14 -> 7 -> 4 -> 2 -> 1
    ("lenet5", {"activation": "relu", "pool": "max", "dropout": 0.5}),
])
def test_model_variants_give_class_scores(name, args):
    out = build(name, **args).train()(torch.randn(3, 1, 28, 28))
    assert out.shape == (3, 10) and torch.isfinite(out).all()


def test_rnn_reads_rows_and_patches_in_reading_order():
    from mlcl_train.models._modules import to_sequence

    x = torch.arange(784.0).view(1, 1, 28, 28)
    rows = to_sequence(x, None)
    assert rows.shape == (1, 28, 28) and torch.equal(rows[0, 5], x[0, 0, 5])
    patches = to_sequence(x, 7)
    assert patches.shape == (1, 16, 49)
    assert torch.equal(patches[0, 1], x[0, 0, :7, 7:14].reshape(49))  # second patch: top row, second column
    assert torch.equal(patches[0, 4], x[0, 0, 7:14, :7].reshape(49))  # fifth patch: second row, first column


def test_rnn_last_state_matches_the_final_hidden_state():
    torch.manual_seed(0)
    model = build("rnn", cell="lstm", hidden=8, layers=2, bidirectional=True).eval()
    x = torch.randn(2, 1, 28, 28)
    states, (h_n, _) = model.rnn(x.view(2, 28, 28))
    pooled = model.pool(states)
    assert torch.allclose(pooled, torch.cat([h_n[-2], h_n[-1]], dim=1))  # the top layer's two directions


def test_attention_weights_are_a_distribution_over_the_steps():
    model = build("attention_rnn", hidden=8, patch=7).eval()
    model(torch.randn(5, 1, 28, 28))
    weights = model.pool.weights
    assert weights.shape == (5, 16)
    assert (weights >= 0).all() and torch.allclose(weights.sum(1), torch.ones(5))


@pytest.mark.parametrize("name, args, message", [
    ("vit", {"patch": 5}, "model.patch: 28 is not divisible by 5"),
    ("vit", {"dim": 30, "heads": 4}, "model.dim: 30 is not divisible by model.heads 4"),
    ("rnn", {"patch": 3}, "model.patch: 28 is not divisible by 3"),
    ("attention_rnn", {"patch": 6}, "model.patch"),
    ("resnet", {"blocks": [1, 1], "widths": [8, 16, 32]}, "model.widths: 3 widths for 2 stages"),
    ("rnn", {"cell": "transformer"}, "model.cell: unknown value 'transformer'"),
    ("rnn", {"pool": "max"}, "model.pool: unknown value 'max'"),
    ("lenet5", {"pool": "none"}, "model.pool: unknown value 'none'"),
    ("vit", {"heads": 0}, "model.heads: 0 is out of range"),
    ("resnet", {"blocks": []}, "model.blocks: must not be empty"),
])
def test_bad_model_arguments_name_the_key(name, args, message):
    with pytest.raises(UserError, match=message.replace(".", r"\.").replace("(", r"\(")):
        build(name, **args)


def with_model(path, model):
    """The config at path with its `model:` section replaced (make_config merges into an mlp section)."""
    cfg = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**cfg, "model": model}))
    return path


def test_cli_reports_a_bad_patch_as_one_line(make_config, tmp_path):
    path = with_model(make_config(), {"name": "vit", "patch": 6})
    result = CliRunner().invoke(app, ["train", "--config", str(path), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "error: model.patch: 28 is not divisible by 6" in result.output
    assert "Traceback" not in result.output


def test_new_families_train_through_the_cli(make_config, tmp_path):
    path = with_model(make_config(train={"epochs": 1, "optimizer": {"name": "adam", "lr": 0.01}}),
                      {"name": "attention_rnn", "cell": "gru", "hidden": 8, "patch": 14})
    result = CliRunner().invoke(app, ["train", "--config", str(path), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "[Test Result]" in result.output


# ---------------------------------------------------------------- the `residual` layer word


def sequential(*layers):
    return build("sequential", layers=list(layers))


def test_residual_with_the_same_shape_adds_its_input():
    model = sequential({"residual": [{"conv2d": {"out_channels": 1, "padding": 1}}]}, "flatten", {"linear": 10})
    block = model.res1
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        body = block.body(x)
        assert body.abs().sum() > 0  # a body that is not zero, so that leaving out either term shows
        assert torch.allclose(block(x), block.after(body + x))  # after(body(x) + x): the block adds its input
        assert not torch.allclose(block(x), block.after(body))
    assert sum(p.numel() for p in block.shortcut.parameters()) == 0  # identity shortcut


def test_residual_projects_the_input_where_the_shape_changes():
    model = sequential(
        {"residual": [{"conv2d": {"out_channels": 8, "stride": 2, "padding": 1}}, "relu"]},  # (N,1,28,28)->(N,8,14,14)
        {"residual": [{"conv2d": [8, 3, 2, 1]}]},  # 14 -> 7
        {"residual": [{"conv2d": [8, 3, 2, 1]}]},  # 7 -> 4: a ceil-strided shortcut
        "flatten",
        {"residual": [{"linear": 16}]},  # 128 -> 16: a linear shortcut
        {"linear": 10},
    )
    assert model.res1.shortcut.kernel_size == (1, 1) and model.res1.shortcut.stride == (2, 2)
    assert model.res3.shortcut.out_channels == 8
    assert model.res4.shortcut.in_features == 128 and model.res4.shortcut.out_features == 16
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_residual_nests_and_names_its_layers_by_role():
    inner = {"residual": ["relu", {"conv2d": [1, 3, 1, 1]}]}
    model = sequential({"residual": [inner, "relu"]}, "flatten", {"linear": 10})
    names = [name for name, _ in model.named_parameters()]
    assert "res1.body.res1.body.conv1.weight" in names


@pytest.mark.parametrize(
    "layer, message",
    [
        (
            {"residual": ["flatten", {"linear": 10}]},
            r"model\.layers\[0\] \(residual\): its layers turn shape \(N, 1, 28, 28\) into \(N, 10\)",
        ),
        (
            {"residual": {"layers": [{"conv2d": 4}], "project": False}},
            r"\(N, 1, 28, 28\) into \(N, 4, 26, 26\).*project: true",
        ),
        ({"residual": [{"linear": 5}]}, r"model\.layers\[0\] \(residual\)\.layers\[0\] \(linear\): needs flat input"),
        ({"residual": []}, r"must not be empty"),
    ],
)
def test_residual_errors_say_which_layer_and_which_shapes(layer, message):
    with pytest.raises(UserError, match=message):
        sequential(layer, "flatten", {"linear": 10})
