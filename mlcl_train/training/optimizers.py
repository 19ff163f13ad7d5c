"""torch's optimizers without their import of torch._dynamo, for runs that do not compile.

    eager(torch.optim.Adam)(model.parameters(), lr=1e-3)   # an Adam that never imports torch._dynamo

torch wraps Optimizer.add_param_group, zero_grad, state_dict and load_state_dict in
torch._disable_dynamo, and every optimizer's step in a wrapper that calls
torch._dynamo.graph_break(). Both import torch._dynamo on their first call, which takes 1.1-1.2 s of
a training command's start-up on a 2-core CPU (benchmarks/startup_phases.py). Outside torch.compile
neither wrapper changes what runs: disabling dynamo only matters to code dynamo compiles, and a
graph break outside compilation does nothing. So a run that does not compile uses a subclass whose
methods are torch's own functions without those two wrappers, step under the grad mode its wrapper
sets. A run with train.compile keeps torch's classes, and so does a torch whose wrappers differ from
the two known here: nothing is changed then, only the import is paid.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import torch


def _wrappers() -> dict[Any, str]:
    """The code of torch's two wrappers that import torch._dynamo (a wrapper's name is its function's)."""
    from torch.optim import optimizer

    found = {}
    for kind, wrap in (("plain", "_disable_dynamo"), ("grad mode", "_use_grad_for_differentiable")):
        maker = getattr(torch, wrap, None) or getattr(optimizer, wrap, None)
        code = getattr(maker(_nothing), "__code__", None) if callable(maker) else None
        if code is not None:
            found[code] = kind
    return found


def _nothing() -> None:
    pass


@functools.cache
def eager(cls: type) -> type:
    """cls, or a subclass of it of the same name whose methods skip torch's dynamo wrappers."""
    overrides, seen = {}, set()
    for klass in cls.__mro__:
        for name, attr in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)
            inner = None if isinstance(attr, (staticmethod, classmethod)) else _unwrapped(attr)
            if inner is not None:
                overrides[name] = inner
    if not overrides:
        return cls
    return type(cls.__name__, (cls,), {"__module__": __name__, "__qualname__": cls.__qualname__, **overrides})


def _unwrapped(attr: Any) -> Callable[..., Any] | None:
    """The function a dynamo wrapper wraps, ready to stand in for the wrapper; None for anything else."""
    while getattr(attr, "hooked", False):  # torch's profiling hook, put around a class's step by its first instance
        attr = getattr(attr, "__wrapped__", None)
    kind = WRAPPERS.get(getattr(attr, "__code__", None))
    inner = getattr(attr, "__wrapped__", None)
    if kind is None or not callable(inner):
        return None
    if kind == "plain":
        return inner

    @functools.wraps(inner)
    def in_grad_mode(self: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
        with torch.set_grad_enabled(self.defaults["differentiable"]):
            return inner(self, *args, **kwargs)

    return in_grad_mode


WRAPPERS = _wrappers()
