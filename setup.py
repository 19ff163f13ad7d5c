"""Packaging beyond pyproject.toml: the wheel carries the repository's config folders inside the
package, so that an installed mlcl-train finds them by name (configs/ -> mlcl_train/configs/).
The folders are those of mlcl_train.shipped.FOLDERS; a clone uses them where they are.
"""

import sys
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from mlcl_train.shipped import FOLDERS  # noqa: E402  (no third-party imports: safe before install)

SHIPPED = {  # package name inside the wheel -> its folder in the repository, subfolders included
    f"mlcl_train.{'.'.join(sub.relative_to(HERE).parts)}": sub.relative_to(HERE).as_posix()
    for folder in FOLDERS
    for sub in [HERE / folder, *sorted(p for p in (HERE / folder).rglob("*") if p.is_dir())]
    if "__pycache__" not in sub.parts
}

setup(
    packages=[*find_packages(include=["mlcl_train*"]), "mlcl_train.mnist", *SHIPPED],
    package_dir=SHIPPED,
    package_data={
        "mlcl_train.mnist": ["*.gz", "MD5SUMS.uncompressed", "README.md"],
        **{name: ["*"] for name in SHIPPED},  # every file: configs, sweep specs, their READMEs
    },
)
