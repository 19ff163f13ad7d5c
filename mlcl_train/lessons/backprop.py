"""Backpropagation worked by hand: the course's first homework, every number on paper.

    mlcl-train backprop                       # the homework: one iteration, eta = 10
    mlcl-train backprop --eta 1 --steps 20    # watch the output approach the target
    mlcl-train backprop --from my_net.yaml    # weights, input, target, eta, steps from a file

The net: inputs x -> hidden nodes h -> outputs o, every neuron sigmoid f(v) = 1 / (1 + e^-v),
no biases. Loss E = 1/2 sum (o - y)^2, so dE/do = o - y, the error. Plain Python, no torch:
the chain rule is written out, and tests check it against torch autograd.

Weight names: wij^h is the weight into hidden node i from input j, wij^o the weight into
output node i from hidden node j. i is the receiving node and j the sending node: row i,
column j of the matrix W in v = W x (the layout of torch's nn.Linear.weight). This is the
one reading under which the homework's names w11h, w12h, w21h, w22h, w11o, w12o all fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from mlcl_train.core import table
from mlcl_train.core.errors import UserError
from mlcl_train.core.files import read_text
from mlcl_train.core.values import Min, PositiveInt, coerce, unknown_key

Matrix = list[list[float]]  # rows = receiving nodes, columns = sending nodes


@dataclass(frozen=True)
class Finite:
    """A real number, not inf or nan."""

    def check(self, key: str, value: Any) -> None:
        if not math.isfinite(value):
            raise UserError(f"{key}: {value!r} is not a finite number")


Real = Annotated[float, Finite()]

# The homework's values; a --from file and the command-line options override them.
PARAMS: dict[str, tuple[Any, Any]] = {  # key: (type, default)
    "w11h": (Real, 0.1),
    "w12h": (Real, 0.3),
    "w21h": (Real, 0.3),
    "w22h": (Real, 0.4),
    "w11o": (Real, 0.4),
    "w12o": (Real, 0.6),
    "x1": (Real, 0.2),
    "x2": (Real, 0.6),
    "y": (Real, 0.7),
    "eta": (Annotated[float, Finite(), Min(0, strict=True)], 10.0),
    "steps": (PositiveInt, 1),
}


@dataclass
class Step:
    """Every number of one backpropagation iteration, in the order they are computed."""

    x: list[float]
    y: list[float]
    w_h: Matrix  # (H, I) before the update
    w_o: Matrix  # (O, H) before the update
    v_h: list[float]  # (H,) weighted sums into the hidden nodes
    h: list[float]  # (H,) f(v_h)
    v_o: list[float]  # (O,)
    o: list[float]  # (O,) f(v_o)
    error: list[float]  # (O,) o - y
    loss: float  # 1/2 sum error^2
    delta_o: list[float]  # (O,) dE/dv_o
    delta_h: list[float]  # (H,) dE/dv_h
    grad_h: Matrix  # (H, I) dE/dw_h
    grad_o: Matrix  # (O, H) dE/dw_o
    eta: float
    new_h: Matrix  # w_h - eta * grad_h
    new_o: Matrix


def sigmoid(v: float) -> float:
    """1 / (1 + e^-v), without overflow for large |v|."""
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    z = math.exp(v)
    return z / (1.0 + z)


def matvec(w: Matrix, x: list[float]) -> list[float]:
    """v_i = sum_j w_ij x_j."""
    return [sum(w_ij * x_j for w_ij, x_j in zip(row, x, strict=False)) for row in w]


def step(w_h: Matrix, w_o: Matrix, x: list[float], y: list[float], eta: float) -> Step:
    """One iteration: forward pass, error, local gradients by the chain rule, gradient descent."""
    v_h = matvec(w_h, x)
    h = [sigmoid(v) for v in v_h]
    v_o = matvec(w_o, h)
    o = [sigmoid(v) for v in v_o]
    error = [o_k - y_k for o_k, y_k in zip(o, y, strict=False)]
    loss = 0.5 * sum(e * e for e in error)
    # dE/dv_o = dE/do * do/dv_o, and the sigmoid's derivative is f(v) (1 - f(v)) = o (1 - o)
    delta_o = [e * o_k * (1 - o_k) for e, o_k in zip(error, o, strict=False)]
    # hidden node i feeds every output k through w_o[k][i] (the weights before this update)
    delta_h = [h_i * (1 - h_i) * sum(w_o[k][i] * d for k, d in enumerate(delta_o)) for i, h_i in enumerate(h)]
    # dE/dw_ij = delta of the receiving node i * value of the sending node j
    grad_o = [[d * h_j for h_j in h] for d in delta_o]
    grad_h = [[d * x_j for x_j in x] for d in delta_h]
    new_o = [[w - eta * g for w, g in zip(ws, gs, strict=False)] for ws, gs in zip(w_o, grad_o, strict=False)]
    new_h = [[w - eta * g for w, g in zip(ws, gs, strict=False)] for ws, gs in zip(w_h, grad_h, strict=False)]
    return Step(x, y, w_h, w_o, v_h, h, v_o, o, error, loss, delta_o, delta_h, grad_h, grad_o, eta, new_h, new_o)


def train(w_h: Matrix, w_o: Matrix, x: list[float], y: list[float], eta: float, steps: int) -> list[Step]:
    """`steps` iterations on the same example, each starting from the last one's weights."""
    out: list[Step] = []
    for _ in range(steps):
        out.append(step(w_h, w_o, x, y, eta))
        w_h, w_o = out[-1].new_h, out[-1].new_o
    return out


# ---------------------------------------------------------------- parameters


def load_params(path: Path | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The homework's values, overridden by a YAML file's keys, then by `overrides`; all checked."""
    from mlcl_train.config.loader import read_yaml

    if path is not None and (path.is_dir() or not path.exists()):
        what = "is a directory" if path.is_dir() else "does not exist"
        raise UserError(f"--from {path}: {what}; pass a YAML file of keys such as 'w11h: 0.1'")
    empty = path is None or not read_text(path).strip()  # a FIFO, a device or a huge file: one clear error
    raw = {} if empty else read_yaml(path)
    for key in raw:
        if key not in PARAMS:
            raise unknown_key(str(key), list(PARAMS), f" in {path}")
    raw = {**raw, **overrides}
    return {key: coerce(key, raw.get(key, default), tp) for key, (tp, default) in PARAMS.items()}


def homework_net(p: dict[str, Any]) -> tuple[Matrix, Matrix, list[float], list[float]]:
    """The 2-2-1 net of the parameters: (w_h, w_o, x, y)."""
    w_h = [[p["w11h"], p["w12h"]], [p["w21h"], p["w22h"]]]
    w_o = [[p["w11o"], p["w12o"]]]
    return w_h, w_o, [p["x1"], p["x2"]], [p["y"]]



# ---------------------------------------------------------------- the worked layout

Row = tuple[str, str, str, float]  # name = formula = formula with numbers = value


def render(steps: list[Step]) -> str:
    """The whole worked example: the net, the first iteration in full, then the updated weights."""
    first, last = steps[0], steps[-1]
    lines = [*_header(first), "", "Iteration 1", *_worked(first)]
    if len(steps) > 1:
        title = f"Iterations 1-{len(steps)}: o and E of each forward pass, the weights after each update"
        lines += ["", title, *_table(steps)]
    lines += ["", f"Updated weights after {_plural(len(steps), 'iteration')}"]
    before, after = _weights(first), _weights(last)
    width = max(len(num(w)) for _, w, _, _ in before)
    pairs = zip(before, after, strict=True)
    lines += [f"  {name} = {num(w).ljust(width)} -> {num(new)}" for (name, w, _, _), (*_, new) in pairs]
    return "\n".join(lines) + "\n"


def num(v: float) -> str:
    """6 significant digits: what a student writes down."""
    return f"{v:.6g}"


def _header(s: Step) -> list[str]:
    """The net, the weight convention, the loss and the given numbers."""
    n_i, n_h, n_o = len(s.x), len(s.h), len(s.o)
    o, y = ("o", "y") if n_o == 1 else ("ok", "yk")
    given = [f"{_in(j)} = {num(v)}" for j, v in enumerate(s.x)]
    given += [f"{_out('y', k, n_o)} = {num(v)}" for k, v in enumerate(s.y)]
    return [
        f"Net: {_plural(n_i, 'input')} -> {n_h} hidden -> {_plural(n_o, 'output')}; "
        "every neuron sigmoid f(v) = 1 / (1 + e^-v); no biases",
        "Weights: wij^h goes into hidden node i from input j; wij^o into output node i from hidden node j",
        f"Loss: E = 1/2 {'' if n_o == 1 else 'sum_k '}({o} - {y})^2, so dE/d{o} = {o} - {y}, the error",
        "Numbers are computed at full precision and shown to 6 significant digits.",
        "",
        "Given",
        "  " + "   ".join([*given, f"eta = {num(s.eta)}"]),
        "  " + "   ".join(f"{name} = {num(w)}" for name, w, _, _ in _weights(s)),
    ]


def _worked(s: Step) -> list[str]:
    """The five steps of one iteration, each a block of aligned `name = formula = numbers = value` rows."""
    return [
        "1. Forward pass: v = weighted sum of the inputs, node value = f(v)",
        *_align(_forward_rows(s)),
        "2. Error",
        *_align(_error_rows(s)),
        "3. Local gradients delta = dE/dv by the chain rule, output layer first; f'(v) = f(v) (1 - f(v))",
        "   (the hidden deltas use the output weights from before this update)",
        *_align(_delta_rows(s)),
        "4. Gradients: dE/dwij = delta of the receiving node i * value of the sending node j",
        *_align(_grad_rows(s)),
        "5. Updates: w <- w - eta * dE/dw",
        *_align(_update_rows(s)),
    ]


def _forward_rows(s: Step) -> list[Row]:
    rows: list[Row] = []
    inputs, hidden = [_in(j) for j in range(len(s.x))], [f"h{i + 1}" for i in range(len(s.h))]
    for i, (v, h) in enumerate(zip(s.v_h, s.h, strict=False)):
        rows += [
            _sum_row(f"v_h{i + 1}", [_w(i, j, "h") for j in range(len(s.x))], inputs, s.w_h[i], s.x, v),
            (f"h{i + 1}", f"f(v_h{i + 1})", f"f({num(v)})", h),
        ]
    for k, (v, o) in enumerate(zip(s.v_o, s.o, strict=False)):
        v_name = _out("v_o", k, len(s.o))
        rows += [
            _sum_row(v_name, [_w(k, i, "o") for i in range(len(s.h))], hidden, s.w_o[k], s.h, v),
            (_out("o", k, len(s.o)), f"f({v_name})", f"f({num(v)})", o),
        ]
    return rows


def _error_rows(s: Step) -> list[Row]:
    n = len(s.o)
    rows: list[Row] = [
        (_out("e", k, n), f"{_out('o', k, n)} - {_out('y', k, n)}", f"{num(s.o[k])} - {_p(s.y[k])}", s.error[k])
        for k in range(n)
    ]
    squares = " + ".join(f"{_out('e', k, n)}^2" for k in range(n))
    numbers = " + ".join(f"({num(v)})^2" for v in s.error)
    return [*rows, ("E", f"1/2 {_group(squares)}", f"1/2 {_group(numbers)}", s.loss)]


def _delta_rows(s: Step) -> list[Row]:
    n = len(s.o)
    rows: list[Row] = []
    for k, (o, y) in enumerate((_out("o", k, n), _out("y", k, n)) for k in range(n)):
        rows.append(
            (
                _out("delta_o", k, n),
                f"({o} - {y}) * {o} * (1 - {o})",
                f"{_p(s.error[k])} * {num(s.o[k])} * (1 - {num(s.o[k])})",
                s.delta_o[k],
            )
        )
    for i, (h, d) in enumerate(zip(s.h, s.delta_h, strict=False)):
        back = " + ".join(f"{_w(k, i, 'o')} * {_out('delta_o', k, n)}" for k in range(n))
        back_nums = " + ".join(f"{_p(s.w_o[k][i])} * {_p(s.delta_o[k])}" for k in range(n))
        rows.append(
            (
                f"delta_h{i + 1}",
                f"h{i + 1} * (1 - h{i + 1}) * {_group(back)}",
                f"{num(h)} * (1 - {num(h)}) * {_group(back_nums)}",
                d,
            )
        )
    return rows


def _grad_rows(s: Step) -> list[Row]:
    n = len(s.o)
    rows: list[Row] = [
        (f"dE/d{_w(k, i, 'o')}", f"{_out('delta_o', k, n)} * h{i + 1}", f"{_p(d)} * {num(h)}", s.grad_o[k][i])
        for k, d in enumerate(s.delta_o)
        for i, h in enumerate(s.h)
    ]
    rows += [
        (f"dE/d{_w(i, j, 'h')}", f"delta_h{i + 1} * {_in(j)}", f"{_p(d)} * {num(x)}", s.grad_h[i][j])
        for i, d in enumerate(s.delta_h)
        for j, x in enumerate(s.x)
    ]
    return rows


def _update_rows(s: Step) -> list[Row]:
    return [
        (name, f"{name} - eta * dE/d{name}", f"{num(w)} - {num(s.eta)} * {_p(g)}", new)
        for name, w, g, new in _weights(s)
    ]


def _table(steps: list[Step]) -> list[str]:
    head = ["step", "o", "E", *(name for name, *_ in _weights(steps[0]))]
    rows = [[str(n), " ".join(map(num, s.o)), num(s.loss), *(num(new) for *_, new in _weights(s))]
            for n, s in enumerate(steps, 1)]
    return table.render(head, rows, right=range(len(head)), rule=False, indent="  ").splitlines()


def _weights(s: Step) -> list[tuple[str, float, float, float]]:
    """(name, weight, dE/dweight, updated weight) of every weight, hidden layer first."""
    out = []
    for layer, w, g, new in (("h", s.w_h, s.grad_h, s.new_h), ("o", s.w_o, s.grad_o, s.new_o)):
        out += [(_w(i, j, layer), w[i][j], g[i][j], new[i][j]) for i in range(len(w)) for j in range(len(w[i]))]
    return out


def _sum_row(name: str, weights: list[str], inputs: list[str], w: list[float], x: list[float], v: float) -> Row:
    formula = " + ".join(f"{a} * {b}" for a, b in zip(weights, inputs, strict=False))
    return name, formula, " + ".join(f"{_p(a)} * {_p(b)}" for a, b in zip(w, x, strict=False)), v


def _align(rows: list[Row]) -> list[str]:
    """`  name = formula = numbers = value`, each column aligned."""
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    return ["  " + " = ".join(r[c].ljust(widths[c]) for c in range(3)) + " = " + num(r[3]) for r in rows]


def _w(i: int, j: int, layer: str) -> str:
    return f"w{i + 1}{j + 1}{layer}"


def _in(j: int) -> str:
    return f"x{j + 1}"


def _out(prefix: str, k: int, n: int) -> str:
    """o, y, e, delta_o for a single output; o1, o2, ... for several."""
    return prefix if n == 1 else f"{prefix}{k + 1}"


def _p(v: float) -> str:
    """A number, in parentheses when negative (it follows an operator)."""
    return f"({num(v)})" if v < 0 else num(v)


def _group(terms: str) -> str:
    """A sum in parentheses; a single term as it is."""
    return f"({terms})" if " + " in terms else terms


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
