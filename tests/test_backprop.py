"""The worked backpropagation example: the homework's answer, the hand-written chain rule
against torch autograd (the micrograd test), and the `backprop` command."""

from __future__ import annotations

import os
import random

import pytest
import torch
from typer.testing import CliRunner

from mlcl_train.cli.app import app
from mlcl_train.lessons import backprop as bp

# The homework's answer to 6 decimals: the weights after one iteration with eta = 10.
HOMEWORK_ANSWER = {"w11h": 0.102859, "w12h": 0.308578, "w21h": 0.304236, "w22h": 0.412707,
                   "w11o": 0.479393, "w12o": 0.682946}


def homework(**changes: float) -> bp.Step:
    p = bp.load_params(None, changes)
    w_h, w_o, x, y = bp.homework_net(p)
    return bp.step(w_h, w_o, x, y, p["eta"])


def updated(s: bp.Step) -> dict[str, float]:
    return {name: new for name, _, _, new in bp._weights(s)}


def loss(w_h: bp.Matrix, w_o: bp.Matrix, x: list[float], y: list[float]) -> float:
    return bp.step(w_h, w_o, x, y, eta=1.0).loss


def test_homework_answer() -> None:
    s = homework()
    assert s.o[0] == pytest.approx(0.637516, abs=1e-6)
    assert updated(s) == pytest.approx(HOMEWORK_ANSWER, abs=1e-6)


def test_homework_gradients_match_finite_differences() -> None:
    """Another route to the same answer: dE/dw by central differences of the loss."""
    s, eps = homework(), 1e-6
    for layer, grads in (("w_h", s.grad_h), ("w_o", s.grad_o)):
        for i, row in enumerate(grads):
            for j, g in enumerate(row):
                plus, minus = ([[list(r) for r in getattr(s, k)] for k in ("w_h", "w_o")] for _ in range(2))
                plus[layer == "w_o"][i][j] += eps
                minus[layer == "w_o"][i][j] -= eps
                numeric = (loss(*plus, s.x, s.y) - loss(*minus, s.x, s.y)) / (2 * eps)
                assert g == pytest.approx(numeric, rel=1e-6, abs=1e-12), (layer, i, j)


@pytest.mark.parametrize("seed", range(5))
def test_hand_gradients_match_torch_autograd(seed: int) -> None:
    rng = random.Random(seed)
    n_in, n_hidden, n_out = (rng.randint(1, 4) for _ in range(3))
    w_h = [[rng.gauss(0, 1) for _ in range(n_in)] for _ in range(n_hidden)]
    w_o = [[rng.gauss(0, 1) for _ in range(n_hidden)] for _ in range(n_out)]
    x = [rng.uniform(-2, 2) for _ in range(n_in)]
    y = [rng.random() for _ in range(n_out)]
    eta = rng.uniform(0.1, 10)
    s = bp.step(w_h, w_o, x, y, eta)

    t_h = torch.tensor(w_h, dtype=torch.float64, requires_grad=True)
    t_o = torch.tensor(w_o, dtype=torch.float64, requires_grad=True)
    t_x, t_y = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    out = torch.sigmoid(t_o @ torch.sigmoid(t_h @ t_x))
    t_loss = 0.5 * ((out - t_y) ** 2).sum()
    t_loss.backward()

    assert s.o == pytest.approx(out.tolist(), rel=1e-12)
    assert s.loss == pytest.approx(t_loss.item(), rel=1e-12)
    assert torch.allclose(torch.tensor(s.grad_h, dtype=torch.float64), t_h.grad, rtol=1e-10, atol=1e-14)
    assert torch.allclose(torch.tensor(s.grad_o, dtype=torch.float64), t_o.grad, rtol=1e-10, atol=1e-14)
    assert torch.allclose(torch.tensor(s.new_h, dtype=torch.float64), t_h.detach() - eta * t_h.grad, rtol=1e-10)
    assert torch.allclose(torch.tensor(s.new_o, dtype=torch.float64), t_o.detach() - eta * t_o.grad, rtol=1e-10)


def test_iterations_chain_and_bring_the_output_toward_the_target() -> None:
    p = bp.load_params(None, {})
    steps = bp.train(*bp.homework_net(p), p["eta"], 20)
    assert steps[1].w_h == steps[0].new_h and steps[1].w_o == steps[0].new_o
    assert abs(steps[-1].o[0] - 0.7) < abs(steps[0].o[0] - 0.7)
    assert steps[-1].loss < steps[0].loss


def test_sigmoid_is_stable_for_large_inputs() -> None:
    assert bp.sigmoid(1000.0) == 1.0 and bp.sigmoid(-1000.0) == 0.0
    assert bp.sigmoid(0.0) == 0.5


# ---------------------------------------------------------------- the command


def run(*args: str):
    return CliRunner().invoke(app, ["backprop", *args])


def test_cli_prints_the_worked_homework() -> None:
    result = run()
    assert result.exit_code == 0, result.output
    out = result.output
    assert "wij^h goes into hidden node i from input j" in out
    assert "delta_o  = (o - y) * o * (1 - o)" in out
    assert "v_h1 = w11h * x1 + w12h * x2 = 0.1 * 0.2 + 0.3 * 0.6" in out
    for name, value in HOMEWORK_ANSWER.items():
        assert f"{name} = {bp.load_params(None, {})[name]:g} -> {value:g}" in out


def test_cli_options_override_the_file(tmp_path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text("w11h: 0.5\nx1: 1.0\neta: 0.5\nsteps: 3\n")
    result = run("--from", str(path), "--eta", "2")
    assert result.exit_code == 0, result.output
    p = bp.load_params(None, {"w11h": 0.5, "x1": 1.0, "eta": 2.0})
    steps = bp.train(*bp.homework_net(p), 2.0, 3)
    assert "x1 = 1   x2 = 0.6   y = 0.7   eta = 2" in result.output
    assert "Iterations 1-3" in result.output
    assert f"w11h = 0.5 -> {bp.num(steps[-1].new_h[0][0])}" in result.output


@pytest.mark.parametrize("args, content, message", [
    (["--eta", "0"], None, "eta: 0.0 is out of range; it must be > 0"),
    (["--steps", "0"], None, "steps: 0 is out of range; it must be >= 1"),
    (["--w11o", "nan"], None, "w11o: nan is not a finite number"),
    ([], "w11h: 0.1\nw12: 0.2\n", "unknown key 'w12'"),
    ([], "eta: 1\nsteps: 2.5\n", "steps: expected int, got 2.5"),
    ([], "x1: [0.2, 0.6]\n", "x1: expected float"),
    ([], "- 1\n", "must hold a YAML mapping"),
    ([], "x1: [\n", "YAML syntax error"),
    ([], "eta: 1\neta: 2\n", "duplicate key 'eta' (on line 1 and line 2)"),
    ([], 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]\n' + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)) + "x1: *i\n",
     "aliases (*name) expand to more than 100,000 values"),
])
def test_cli_bad_input_is_one_line(tmp_path, args, content, message) -> None:
    if content is not None:
        (tmp_path / "net.yaml").write_text(content)
        args = [*args, "--from", str(tmp_path / "net.yaml")]
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_cli_unknown_key_names_the_closest(tmp_path) -> None:
    (tmp_path / "net.yaml").write_text("etta: 1\n")
    result = run("--from", str(tmp_path / "net.yaml"))
    assert result.exit_code == 2 and "did you mean 'eta'?" in result.stderr


@pytest.mark.parametrize("kind, message", [("fifo", "is a FIFO (named pipe), not a file"),
                                           ("link", "(a link to /dev/zero) is a character device")])
def test_cli_from_a_fifo_or_device_errors_at_once(tmp_path, kind: str, message: str) -> None:
    path = tmp_path / "net.yaml"
    os.mkfifo(path) if kind == "fifo" else path.symlink_to("/dev/zero")
    result = run("--from", str(path))
    assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1


def test_cli_missing_file(tmp_path) -> None:
    result = run("--from", str(tmp_path / "none.yaml"))
    assert result.exit_code == 2 and "none.yaml: does not exist" in result.stderr
