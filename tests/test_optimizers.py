"""torch's optimizers without the torch._dynamo import: the same numbers, and no import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mlcl_train.config.optim import OPTIMIZERS, torch_arguments
from mlcl_train.config.schema import resolve
from mlcl_train.training import optimizers
from mlcl_train.training.engine import _build, build_model, make_optimizer


def trained(name: str, eager: bool, steps: int = 5) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """A small model after `steps` steps of the named optimizer (torch's class, or its eager variant)."""
    cfg = resolve({"model": {"name": "mlp", "hidden": [16]},
                   "train": {"optimizer": {"name": name, "lr": 0.05, "weight_decay": 0.01}}})
    model = build_model(cfg)
    optimizer = _build(OPTIMIZERS[name], model.parameters(), cfg.train.optimizer, {}, eager=eager)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x, y = torch.randn(8, 1, 28, 28, generator=g), torch.randint(0, 10, (8,), generator=g)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model, optimizer


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_the_eager_variant_gives_the_same_weights_and_state_as_torchs_class(name: str) -> None:
    reference, ref_opt = trained(name, eager=False)
    model, opt = trained(name, eager=True)
    assert type(opt) is not type(ref_opt) and isinstance(opt, type(ref_opt))
    assert type(opt).__name__ == type(ref_opt).__name__
    for a, b in zip(reference.parameters(), model.parameters(), strict=True):
        assert torch.equal(a, b)
    state, ref_state = opt.state_dict(), ref_opt.state_dict()
    assert state["param_groups"] == ref_state["param_groups"]
    for key, value in ref_state["state"].items():
        for k, v in value.items():
            assert torch.equal(torch.as_tensor(state["state"][key][k]), torch.as_tensor(v)), (key, k)


def test_the_eager_variant_loads_torchs_state_and_steps_without_gradients_recorded() -> None:
    _, ref_opt = trained("adam", eager=False)
    model, opt = trained("adam", eager=True, steps=1)
    opt.load_state_dict(ref_opt.state_dict())
    assert opt.state_dict()["state"][0]["step"] == ref_opt.state_dict()["state"][0]["step"]
    opt.step()  # under torch's grad mode for step: no graph is built through the update
    assert all(not p.grad_fn for p in model.parameters())


def test_a_class_without_torchs_wrappers_is_kept_as_it_is() -> None:
    class Plain(torch.optim.Optimizer):
        pass

    for name in list(vars(Plain)):
        assert optimizers._unwrapped(vars(Plain)[name]) is None
    torch.optim.RMSprop([torch.zeros(1, requires_grad=True)])  # its first instance hooks the class's step
    optimizers.eager.cache_clear()
    for cls in (torch.optim.Adam, torch.optim.RMSprop):
        step = optimizers.eager(cls).step
        assert step is not cls.step and step.__code__ not in optimizers.WRAPPERS
    assert optimizers.WRAPPERS  # torch's two wrappers were found in this torch


def test_a_compiled_run_keeps_torchs_classes() -> None:
    base = {"model": {"name": "mlp", "hidden": [8]}, "train": {"optimizer": {"name": "adam"}}}
    cfg = resolve(base)
    assert type(make_optimizer(cfg, build_model(cfg))) is optimizers.eager(torch.optim.Adam)
    cfg = resolve({**base, "train": {**base["train"], "compile": True}})
    assert type(make_optimizer(cfg, build_model(cfg))) is torch.optim.Adam
    assert torch_arguments  # the registry's arguments reach both alike (test_engine checks their values)


def test_a_training_command_never_imports_torch_dynamo(tmp_path: Path) -> None:
    """Its import takes over a second of start-up; a run without compile has no use for it."""
    code = (
        "import sys\n"
        "from mlcl_train.cli.app import main\n"
        "sys.argv = ['mlcl-train', 'train', '--config', 'speedrun', '--set', 'data.train_subset=1024', "
        "'--set', 'train.batch_size=64', '--runs-dir', sys.argv[1]]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('dynamo' if 'torch._dynamo' in sys.modules else 'no dynamo')\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "no dynamo", done.stdout[-1000:]
