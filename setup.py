"""Packaging beyond pyproject.toml: the wheel carries the repository's config folders inside the
package, so that an installed mlcl-train finds them by name (configs/ -> mlcl_train/_shipped/configs/).
The folders are those of mlcl_train.core.shipped.FOLDERS; a clone (and an editable install) uses them
where they are.
"""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from mlcl_train.core.shipped import FOLDERS, INSIDE  # noqa: E402  (no third-party imports: safe before install)

SHIPPED = {  # package name inside the wheel -> its folder in the repository, subfolders included
    f"mlcl_train.{INSIDE}.{'.'.join(sub.relative_to(HERE).parts)}": sub.relative_to(HERE).as_posix()
    for folder in FOLDERS
    for sub in [HERE / folder, *sorted(p for p in (HERE / folder).rglob("*") if p.is_dir())]
    if "__pycache__" not in sub.parts
}


class BuildPy(build_py):
    """build_py that adds the shipped folders, with every file in them, to what pyproject.toml packages."""

    def finalize_options(self) -> None:
        dist = self.distribution
        dist.packages = list(dict.fromkeys([*(dist.packages or []), *SHIPPED]))
        dist.package_dir = {**(dist.package_dir or {}), **SHIPPED}
        dist.package_data = {**(dist.package_data or {}), **{name: ["*"] for name in SHIPPED}}
        super().finalize_options()


setup(cmdclass={"build_py": BuildPy})
