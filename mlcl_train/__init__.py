"""mlcl-train: train, compare and present MNIST model-structure experiments from YAML configs.

    from mlcl_train import train, compare, load_run     # the Python API (mlcl_train.api), for notebooks
    run = train("mlp_deep", epochs=3)

The API's functions are read from mlcl_train.api on first use (a module __getattr__), so that
`import mlcl_train`, and the command line, stay free of torch until something trains.
"""

from __future__ import annotations

__version__ = "0.1.0"

API = ("train", "resume", "compare", "load_run", "slides")  # mlcl_train.api's public functions


def __getattr__(name: str) -> object:
    if name in API:
        from mlcl_train import api

        return getattr(api, name)
    raise AttributeError(f"module 'mlcl_train' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *API})
