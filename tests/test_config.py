"""The config: defaults, extends, --set, and one clear error for every kind of bad input."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.config.loader import load_config, merge, parse_set, to_yaml
from mlcl_train.config.schema import MISSING, Config, as_dict, flatten, known_keys, lookup, resolve
from mlcl_train.core.errors import UserError

CONFIGS = Path(__file__).parent.parent / "configs"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_fill_every_key() -> None:
    cfg = resolve({"name": "x"})
    assert as_dict(cfg.train.optimizer) == {
        "name": "sgd",
        "lr": 0.01,
        "momentum": 0.0,
        "weight_decay": 0.0,
        "nesterov": False,
    }
    assert cfg.model.hidden == [512, 256]
    assert cfg.eval.batch_size == 1000


def test_name_defaults_to_file_stem(tmp_path: Path) -> None:
    assert load_config(write(tmp_path / "my_exp.yaml", "seed: 3\n")).name == "my_exp"


def test_extends_deep_merges_and_this_file_wins(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "train: {epochs: 3, optimizer: {name: sgd, lr: 0.5, momentum: 0.9}}\n")
    cfg = load_config(write(tmp_path / "child.yaml", "extends: base.yaml\ntrain: {optimizer: {lr: 0.1}}\n"))
    assert cfg.train.epochs == 3
    assert cfg.train.optimizer.lr == 0.1
    assert cfg.train.optimizer.momentum == 0.9


def test_changing_a_sections_name_replaces_it() -> None:
    merged = merge({"optimizer": {"name": "sgd", "momentum": 0.9}}, {"optimizer": {"name": "adam"}})
    assert merged == {"optimizer": {"name": "adam"}}
    assert resolve({"train": merged}).train.optimizer.betas == [0.9, 0.999]


def test_set_overrides_with_yaml_values(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "model: {name: mlp}\n")
    cfg = load_config(path, ["model.hidden=[1024,512]", "train.optimizer.lr=5e-2", "train.optimizer.name=adam"])
    assert cfg.model.hidden == [1024, 512]
    assert cfg.train.optimizer.name == "adam"
    assert not hasattr(cfg.train.optimizer, "momentum")


def test_float_written_like_1e_minus_3_is_a_number() -> None:
    assert resolve({"train": {"optimizer": {"lr": "1e-3"}}}).train.optimizer.lr == 0.001


HOMEWORK = sorted(CONFIGS.glob("hw2_*.yaml")) + [CONFIGS / "mlp_deep.yaml"]


@pytest.mark.parametrize("path", HOMEWORK, ids=lambda p: p.name)
def test_homework_configs_differ_only_in_name_and_model(path: Path) -> None:
    """The README's rule: every homework config shares _homework2.yaml's recipe; only the model changes."""
    base = flatten(load_config(CONFIGS / "hw2_baseline.yaml"))
    other = flatten(load_config(path))
    differ = {key.split(".")[0] for key in base.keys() | other.keys() if base.get(key) != other.get(key)}
    assert differ <= {"name", "model"}


def test_every_family_has_a_homework_variant() -> None:
    families = {load_config(p).model.name for p in HOMEWORK}
    assert {"mlp", "cnn", "lenet5", "resnet", "rnn", "vit"} <= families


def test_the_resolved_config_is_frozen_and_read_by_attribute() -> None:
    cfg = resolve({"train": {"optimizer": "adam"}, "model": {"name": "cnn"}})
    assert cfg.train.optimizer.lr == 0.001 and cfg.model.name == "cnn" and cfg.data.val_split == 0
    assert cfg.train.early_stop.patience is None and cfg.model.channels == [32, 64]
    for section, key in [(cfg, "seed"), (cfg.train, "epochs"), (cfg.train.optimizer, "lr"), (cfg.model, "channels")]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(section, key, 1)


def test_the_defaults_are_the_schemas_classes() -> None:
    """Config() is the default config: the dataclasses' defaults are the ones resolve fills in."""
    assert resolve({}) == Config()
    assert Config().train.optimizer == resolve({"train": {"optimizer": "sgd"}}).train.optimizer
    assert Config().model == resolve({"model": "mlp"}).model


def test_dotted_keys_list_and_read_a_config_resolved_or_read_back() -> None:
    """flatten lists a config's dotted keys and lookup reads one, alike for a Config and its config.yaml."""
    cfg = resolve({"train": {"optimizer": {"name": "adam", "lr": 0.05}}})
    on_disk = yaml.safe_load(to_yaml(cfg))
    assert flatten(cfg) == flatten(on_disk)
    assert flatten(cfg)["train.optimizer.lr"] == 0.05 and flatten(cfg)["train.scheduler"] is None
    assert list(flatten(cfg))[:4] == ["name", "seed", "device", "data.dataset"]
    for key in ("train.optimizer.lr", "model.hidden", "data.augment.shift", "train.early_stop.patience"):
        assert lookup(cfg, key) == lookup(on_disk, key) == flatten(cfg)[key]
    assert lookup(cfg, "train.optimizer.momentum") is MISSING and lookup(on_disk, "train.nope", None) is None
    assert {"train.optimizer.betas", "train.scheduler.t_max", "data.augment.elastic"} <= set(known_keys())
    assert "train.optimizer" not in known_keys() and "train.optimizer" in known_keys(sections=True)


def test_the_config_is_read_by_attribute_only() -> None:
    cfg = resolve({"train": {"optimizer": "adam"}})
    with pytest.raises(TypeError):
        cfg["train"]  # noqa: B018
    with pytest.raises(TypeError):
        cfg.train["optimizer"]  # noqa: B018


@pytest.mark.parametrize("path", sorted(p for p in CONFIGS.rglob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_resolves(path: Path) -> None:
    """Each config resolves, and its resolved YAML (what a run folder keeps) resolves to the same config."""
    cfg = load_config(path)
    assert resolve(yaml.safe_load(to_yaml(cfg))) == cfg


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"trian": {}}, "unknown key 'trian'; did you mean 'train'?"),
        ({"train": {"epoch": 3}}, "unknown key 'train.epoch'; did you mean 'train.epochs'?"),
        (
            {"model": {"hiden": [3]}},
            "unknown key 'model.hiden' (not an argument of model 'mlp'); did you mean 'model.hidden'?",
        ),
        ({"train": {"epochs": "ten"}}, "train.epochs: expected int, got 'ten' (string)"),
        ({"model": {"batch_norm": "yes"}}, "model.batch_norm: expected bool, got 'yes' (string)"),
        ({"train": {"epochs": 0}}, "train.epochs: 0 is out of range; it must be >= 1"),
        ({"train": {"batch_size": 0}}, "train.batch_size: 0 is out of range; it must be >= 1"),
        ({"train": {"optimizer": {"lr": 0}}}, "train.optimizer.lr: 0.0 is out of range; it must be > 0"),
        ({"model": {"dropout": 1.0}}, "model.dropout: 1.0 is out of range; it must be < 1"),
        ({"model": {"dropout": -0.1}}, "model.dropout: -0.1 is out of range; it must be >= 0"),
        ({"model": {"hidden": []}}, "model.hidden: must not be empty"),
        ({"model": {"name": "mpl"}}, "model.name: unknown model 'mpl'; valid: "),
        ({"model": {"activation": "relu6"}}, "unknown value 'relu6'; did you mean 'relu'? valid: sigmoid"),
        ({"train": {"loss": "hinge"}}, "train.loss: unknown value 'hinge'; valid: cross_entropy, nll, mse"),
        (
            {"train": {"optimizer": {"name": "adamm"}}},
            "train.optimizer.name: unknown value 'adamm'; did you mean 'adam'?",
        ),
        ({"train": {"optimizer": {"name": "adam", "momentum": 0.9}}}, "unknown key 'train.optimizer.momentum'"),
        (
            {"train": {"scheduler": {"name": "cosin"}}},
            "train.scheduler.name: unknown value 'cosin'; did you mean 'cosine'?",
        ),
        ({"device": "gpu"}, "device: unknown device 'gpu'; valid: auto, cpu, cuda, cuda:N, mps"),
        ({"data": {"dataset": "cifar"}}, "data.dataset: unknown value 'cifar'; valid: mnist, fashion_mnist"),
        ({"seed": 2**64 - 1}, "seed: 18446744073709551615 is out of range; it must be < 4294967296"),
        ({"seed": -1}, "seed: -1 is out of range; it must be >= 0"),
        ({"seed": 1e23}, "seed: expected int, got 1e+23 (number)"),
        ({"train": {"optimizer": {"nesterov": True}}},
         "train.optimizer.nesterov: Nesterov momentum needs momentum > 0"),
        ({"train": {"optimizer": {"momentum": 0.9, "dampening": 0.1}}}, "unknown key 'train.optimizer.dampening'"),
        ({"model": ["mlp"]}, "model: expected a model name or a mapping with a 'name' key, got ['mlp']"),
        ({"model": 5}, "model: expected a model name or a mapping with a 'name' key, got 5"),
        ({"model": "mpl"}, "model.name: unknown model 'mpl'"),
        ({"train": {"loss": "nll", "label_smoothing": 0.1}},
         "train.label_smoothing applies to cross_entropy only, not to train.loss nll"),
        ({"train": {"label_smoothing": 1.0}}, "train.label_smoothing: 1.0 is out of range; it must be < 1"),
        ({"train": {"optimizer": "adadelta", "scheduler": "onecycle"}},
         "train.scheduler.cycle_momentum: adadelta has no momentum to cycle"),
    ],
)
def test_bad_values_name_the_key(raw: dict, message: str) -> None:
    with pytest.raises(UserError) as err:
        resolve(raw)
    assert message in str(err.value)


@pytest.mark.parametrize(
    "item, message",
    [
        ("train.epochs", "expected KEY=VALUE"),
        ("=3", "expected KEY=VALUE"),
        ("train..epochs=3", "expected KEY=VALUE"),
        ("model.hidden=[1,", "not valid YAML"),
    ],
)
def test_bad_set_items(item: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_set(item)


@pytest.mark.parametrize(
    "files, start, message",
    [
        ({}, "missing.yaml", "config file not found: "),
        ({"empty.yaml": ""}, "empty.yaml", "is empty"),
        ({"list.yaml": "- a\n- b\n"}, "list.yaml", "must hold a YAML mapping"),
        ({"bad.yaml": "model:\n  name: mlp\n hidden: [1\n"}, "bad.yaml", "bad.yaml:3:"),
        ({"bin.yaml": b"\xff\xfe\x00binary"}, "bin.yaml", "is not UTF-8 text"),
        ({"a.yaml": "extends: nothere.yaml\n"}, "a.yaml", "'extends' names"),
        (
            {"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: a.yaml\n"},
            "a.yaml",
            "'extends' makes a cycle: a.yaml -> b.yaml -> a.yaml",
        ),
        ({"self.yaml": "extends: self.yaml\n"}, "self.yaml", "'extends' makes a cycle"),
    ],
)
def test_bad_files_through_the_cli(tmp_path: Path, files: dict, start: str, message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    result = CliRunner().invoke(app, ["train", "--config", str(tmp_path / start), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_directory_as_config(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["show-config", "--config", str(tmp_path)])
    assert result.exit_code == 2
    assert "is a directory" in result.stderr


def test_show_config_prints_the_resolved_yaml() -> None:
    result = CliRunner().invoke(
        app, ["show-config", "--config", str(CONFIGS / "mlp_deep.yaml"), "--set", "train.epochs=3"]
    )
    assert result.exit_code == 0, result.output
    cfg = yaml.safe_load(result.stdout)
    assert cfg["train"]["epochs"] == 3 and cfg["model"]["batch_norm"] is True
    assert resolve(cfg) == load_config(CONFIGS / "mlp_deep.yaml", ["train.epochs=3"])


def test_set_of_an_unknown_key_through_the_cli(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "seed: 1\n")
    result = CliRunner().invoke(app, ["show-config", "--config", str(path), "--set", "train.lrr=3"])
    assert result.exit_code == 2
    assert "unknown key 'train.lrr'" in result.stderr


def test_a_key_in_the_wrong_section_names_where_it_belongs() -> None:
    with pytest.raises(UserError, match="unknown key 'train.lr'; did you mean 'train.optimizer.lr'?"):
        resolve({"train": {"lr": 0.1}})
    with pytest.raises(UserError, match="unknown key 'epochs'; did you mean 'train.epochs'?"):
        resolve({"epochs": 3})


def test_named_section_shorthand_then_arguments_keeps_the_name(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "train: {optimizer: {name: sgd, momentum: 0.9}}\n")
    cfg = load_config(path, ["train.optimizer=adam", "train.optimizer.lr=0.003"])
    assert cfg.train.optimizer.name == "adam" and cfg.train.optimizer.lr == 0.003
    with pytest.raises(
        UserError, match=r"unknown key 'train.optimizer.momentum' \(not an argument of adam\); valid: lr, betas"
    ):
        load_config(path, ["train.optimizer=adam", "train.optimizer.momentum=0.9"])


def test_scheduler_arguments_without_a_scheduler(tmp_path: Path) -> None:
    with pytest.raises(
        UserError, match="train.scheduler: gamma given but no train.scheduler.name; set it to one of step"
    ):
        resolve({"train": {"scheduler": {"gamma": 0.5}}})


def test_model_shorthand_is_a_name_like_optimizer_shorthand(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path / "c.yaml", "model: cnn\n"), ["model.batch_norm=false"])
    assert cfg.model.name == "cnn" and cfg.model.batch_norm is False
    assert resolve({"model": "mlp"}).model == resolve({"model": {"name": "mlp"}}).model


def test_seed_and_nesterov_are_checked_before_any_data_loads(tmp_path: Path) -> None:
    """A bad seed or SGD setting is a config error (exit 2, no run folder), not a failed run."""
    for line in ("seed: 18446744073709551615", "train: {optimizer: {name: sgd, nesterov: true}}"):
        config = write(tmp_path / "c.yaml", f"data: {{root: {tmp_path / 'nodata'}}}\n{line}\n")
        result = CliRunner().invoke(app, ["train", "--config", str(config), "--runs-dir", str(tmp_path / "runs")])
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1 and "data.root" not in result.stderr
        assert not (tmp_path / "runs").exists()


def _bomb(levels: int) -> str:
    text = 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels + 1):
        text += f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n"
    return text + f"name: *a{levels}\n"


HUGE = "x" * 3_000_000  # within the file size limit, far beyond what a message may quote


@pytest.mark.parametrize(
    "text, message",
    [
        ("train: {epochs: 1}\nseed: 2\ntrain: {epochs: 3}\n",
         "c.yaml:3:1: duplicate key 'train' (on line 1 and line 3)"),
        ("model:\n  name: mlp\n  hidden: [8]\n  hidden: [9]\n", "duplicate key 'hidden' (on line 3 and line 4)"),
        (_bomb(9), "aliases (*name) expand to more than 100,000 values"),
        ("a: &a [*a]\n", "an alias refers to a value that contains it"),
        ("seed: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 100 levels deep"),
        ("seed: " + "9" * 5000 + "\n", "an integer of 5000 digits"),
        (f"seed: {HUGE}\n", "seed: expected int, got 'xxxxxxxx"),
        (f"? {HUGE}\n: 1\n", "unknown key 'xxxxxxxx"),
        (f"model: {{name: {HUGE}}}\n", "model.name: unknown model 'xxxx"),
    ],
    ids=["duplicate", "duplicate-nested", "alias-bomb", "alias-cycle", "deep", "digits", "huge-value", "huge-key",
         "huge-name"],
)
def test_hostile_yaml_is_one_short_line(tmp_path: Path, text: str, message: str) -> None:
    """Each is refused with one line that quotes at most 80 characters of any value."""
    config = write(tmp_path / "c.yaml", text)
    result = CliRunner().invoke(app, ["show-config", "--config", str(config)])
    assert result.exit_code == 2, result.output[-300:]
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and len(result.stderr) < 300 + len(str(config))


def test_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yaml", "train:\n  <<: {epochs: 2, batch_size: 8}\n  epochs: 3\n")
    assert load_config(config).train.epochs == 3


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: Path("/dev/zero"), "/dev/zero is a character device, not a file"),
        (lambda d: (d / "z.yaml").symlink_to("/dev/zero") or d / "z.yaml",
         "(a link to /dev/zero) is a character device"),
        (lambda d: os.mkfifo(d / "f.yaml") or d / "f.yaml", "is a FIFO (named pipe), not a file"),
        (lambda d: write(d / "big.yaml", "#" * (5 * 2**20)), "is larger than 4 MB"),
        (lambda d: write(d / "c.yaml", "extends: sub\n") if (d / "sub").mkdir() is None else None,
         "sub, which is a directory"),
        (lambda d: write(d / "c.yaml", "extends: /dev/zero\n"),
         "'extends' names /dev/zero, which is not a regular file"),
        (lambda d: (d / "l.yaml").write_bytes("name: caf\xe9\n".encode("latin-1")) and d / "l.yaml",
         "l.yaml is not UTF-8 text (byte 0xe9 at offset 9)"),
    ],
    ids=["dev-zero", "link-to-dev-zero", "fifo", "too-large", "extends-directory", "extends-dev-zero", "latin-1"],
)
def test_config_that_is_not_a_regular_file(tmp_path: Path, make, message: str) -> None:
    """Devices, FIFOs and huge files are refused at once, without reading them."""
    config = make(tmp_path)
    result = CliRunner().invoke(app, ["train", "--config", str(config), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output[-300:]
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_set_keeps_every_value_whatever_the_order(tmp_path):
    from mlcl_train.config.loader import load_config

    path = tmp_path / "c.yaml"
    path.write_text("train: {optimizer: {name: sgd, lr: 0.01, momentum: 0.9}}\n")
    lr, adam = "train.optimizer.lr=0.05", "train.optimizer=adam"
    for sets in ([lr, adam], [adam, lr]):
        optimizer = load_config(path, sets).train.optimizer
        assert optimizer.name == "adam" and optimizer.lr == 0.05, sets


def test_did_you_mean_knows_case_sections_at_the_top_and_no_far_fetched_names(tmp_path):
    from mlcl_train.config.loader import load_config

    cases = {
        "model: {name: mlp, activation: ReLU}": "did you mean 'relu'?",
        "model: {name: mlp, output: Softmax}": "did you mean 'softmax'?",
        "optimizer: adam": "did you mean 'train.optimizer'?",
        "scheduler: cosine": "did you mean 'train.scheduler'?",
    }
    for text, hint in cases.items():
        path = tmp_path / "c.yaml"
        path.write_text(text + "\n")
        with pytest.raises(UserError, match=re.escape(hint)):
            load_config(path)
    path.write_text("model: {name: mlp, activation: lstm}\n")
    with pytest.raises(UserError) as err:
        load_config(path)
    assert "did you mean" not in str(err.value)


def test_an_unquoted_list_in_set_gets_a_hint_to_quote_it():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "mlcl_train", "--config", "configs/mlp_deep.yaml", "--set",
                             "model.hidden=[1024,", "512]"], capture_output=True, text=True,
                            cwd=Path(__file__).parent.parent)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "quote the whole value, e.g. --set 'model.hidden=[1024, 512]'" in result.stderr
