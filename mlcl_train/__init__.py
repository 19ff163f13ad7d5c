"""mlcl-train: train, compare and present MNIST model-structure experiments from YAML configs.

    from mlcl_train import train, compare, load_run     # the Python API (mlcl_train.api), for notebooks
    run = train("mlp_deep", epochs=3)

The API is imported on first use, so `import mlcl_train` (and the command line) stays free of torch.
`train` and `compare` also name modules of this package (the training loop, the compare command).
As names of the package they are the API's functions, which read as those modules too: calling
`train(...)` calls api.train, and any attribute is the module's, so code written for the module
(`from mlcl_train import train as training; training.setup(cfg)`) keeps working.
"""

import sys
import types
from typing import Any

__version__ = "0.1.0"

API = ("train", "resume", "compare", "load_run", "slides")  # mlcl_train.api's public functions


def _api() -> types.ModuleType:
    from mlcl_train import api

    return api


class _Both:
    """An API function that is also the module of the same name: called, it is the function; read, the module."""

    __slots__ = ("_name",)  # no __dict__ of its own: vars() and monkeypatch see the module's

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def _module(self) -> types.ModuleType:
        import importlib

        return importlib.import_module(f"mlcl_train.{object.__getattribute__(self, '_name')}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(_api(), self._name)(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        if attr == "_name":  # not set yet (a copy being made): no module to ask
            raise AttributeError(attr)
        return getattr(self._module(), attr)

    def __setattr__(self, attr: str, value: Any) -> None:  # monkeypatch and mock patch the module
        setattr(self._module(), attr, value)

    def __delattr__(self, attr: str) -> None:
        delattr(self._module(), attr)

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]  # help(train) in a notebook: the function's
        return getattr(_api(), self._name).__doc__

    @property
    def __wrapped__(self) -> Any:  # inspect.signature(train): the function's
        return getattr(_api(), self._name)

    def __repr__(self) -> str:
        return f"<mlcl_train.{self._name}: the function mlcl_train.api.{self._name} and the module's names>"


train = _Both("train")
compare = _Both("compare")


def __getattr__(name: str) -> object:
    if name in API:
        return getattr(_api(), name)
    raise AttributeError(f"module 'mlcl_train' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *API})


class _Package(types.ModuleType):
    """The package, whose `train` and `compare` stay _Both when the modules of those names are imported."""

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(self.__dict__.get(name), _Both) and isinstance(value, types.ModuleType):
            return  # the import system binding mlcl_train.train (the module), which _Both reads through
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
