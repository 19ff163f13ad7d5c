"""mlcl-train: train, compare and present MNIST model-structure experiments from YAML configs.

    from mlcl_train import train, compare, load_run     # the Python API (mlcl_train.api), for notebooks
    run = train("mlp_deep", epochs=3)

The API is imported on first use, so `import mlcl_train` (and the command line) stays free of torch.
`train` and `compare` are also the names of modules of this package: as attributes of the package
they are the API's functions; the modules are imported as `from mlcl_train.train import ...`.
"""

import sys
import types

__version__ = "0.1.0"

API = ("train", "resume", "compare", "load_run", "slides")  # mlcl_train.api's public functions


def __getattr__(name: str) -> object:
    if name in API:
        from mlcl_train import api

        return getattr(api, name)
    raise AttributeError(f"module 'mlcl_train' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *API])


class _Package(types.ModuleType):
    """The package, whose API names stay the API's functions when the modules of the same name are imported."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in API and isinstance(value, types.ModuleType):
            return  # the import system binding mlcl_train.train (the module): it stays in sys.modules only
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
