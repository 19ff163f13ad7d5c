"""The configs that come with mlcl-train: found by name, and copied into a folder by `mlcl-train init`.

    mlcl-train --config mlp_deep                   # configs/mlp_deep.yaml, when ./mlp_deep is no file
    mlcl-train --config lessons/vanishing_relu     # configs/lessons/vanishing_relu.yaml
    mlcl-train init my_course                      # my_course/configs/..., to edit

A clone has them in its own folders (configs/); an installed wheel carries the same folders
inside the package (mlcl_train/_shipped/configs/), where setup.py puts every folder named in FOLDERS.
A name is looked up here only when no such file exists, so a clone's files and the user's own
always come first.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from glob import glob as files_glob
from pathlib import Path, PurePosixPath

from mlcl_train.core.errors import UserError
from mlcl_train.core.files import KINDS, open_regular, write_atomically

PACKAGE = Path(__file__).resolve().parents[1]
FOLDERS = ("configs", "sweeps")  # repository folders shipped inside the package (setup.py reads this)
INSIDE = "_shipped"  # where the wheel carries them: mlcl_train/_shipped/configs/, ...
SUFFIXES = (".yaml", ".yml")


def folder(name: str) -> Path | None:
    """Where a shipped folder is: inside the installed package, else in the clone the package runs from."""
    inside = PACKAGE / INSIDE / name
    if inside.is_dir():
        return inside
    clone = PACKAGE.parent
    return clone / name if (clone / name).is_dir() and (clone / "pyproject.toml").is_file() else None


def location() -> str:
    """The shipped configs' folder, for --help and `models`."""
    found = folder(FOLDERS[0])
    return str(found) if found else "(none found in this installation)"


def configs() -> dict[str, Path]:
    """Every shipped config by its name in the clone: {'configs/mlp_deep.yaml': path, ...}."""
    out: dict[str, Path] = {}
    for name in FOLDERS:
        root = folder(name)
        for path in sorted(root.rglob("*")) if root else ():
            if path.suffix in SUFFIXES and path.is_file():
                out[f"{name}/{path.relative_to(root).as_posix()}"] = path
    return out


def find(name: str | Path) -> Path | None:
    """The shipped config a name means: 'mlp_deep', 'mlp_deep.yaml', 'configs/mlp_deep.yaml',
    'lessons/vanishing_relu' or just 'vanishing_relu' when only one shipped config has that name."""
    text = PurePosixPath(Path(name).as_posix())
    stem = str(text.with_suffix("")) if text.suffix in SUFFIXES else str(text)
    if stem.startswith(("/", "..")) or not stem or stem == ".":
        return None
    shipped = {key.rsplit(".", 1)[0]: path for key, path in configs().items()}
    for key in (stem, f"{FOLDERS[0]}/{stem}"):
        if key in shipped:
            return shipped[key]
    ends = [key for key in shipped if key.endswith(f"/{stem}") and key.startswith(f"{FOLDERS[0]}/")]
    if len(ends) > 1:
        raise UserError(f"--config {name}: several shipped configs have that name: {', '.join(ends)}; name one")
    return shipped[ends[0]] if ends else None


def glob(pattern: str) -> list[Path]:
    """Shipped configs matching a glob such as 'configs/lessons/*.yaml' or 'lessons/*' (not those starting with _)."""
    patterns = [pattern, f"{FOLDERS[0]}/{pattern}"]
    return [
        path for key, path in configs().items()
        if not path.name.startswith("_") and any(fnmatch.fnmatchcase(key, p) or fnmatch.fnmatchcase(
            key.rsplit(".", 1)[0], p) for p in patterns)
    ]


def expand(patterns: list[str]) -> list[Path]:
    """Config paths from --config values; a value with *, ? or [ is a glob of files (leaving out names that start
    with _), else of the shipped configs."""
    paths: list[Path] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            matches = sorted(p for p in files_glob(pattern) if not Path(p).name.startswith("_"))
            matches = matches or glob(pattern)
            if not matches:
                raise UserError(f"--config {pattern!r} matches no file")
            paths += map(Path, matches)
        else:
            paths.append(Path(pattern))
    return paths


def names() -> list[str]:
    """The short names of the shipped configs a user can pass to --config, for messages."""
    prefix = f"{FOLDERS[0]}/"
    return [key.removeprefix(prefix).rsplit(".", 1)[0] for key, path in configs().items()
            if key.startswith(prefix) and not path.name.startswith("_")]


def copy_into(dest: str | Path, force: bool = False) -> tuple[list[Path], list[Path]]:
    """Copy every shipped folder into dest (dest/configs/...); returns (written, kept): an existing
    file that differs is kept unless force, one that is the same is left alone.

    Each file is written whole or not at all (a temporary file renamed over the target), so a full
    disk leaves no empty config behind. A symlink in place of a config is replaced by the file with
    --force (never written through); a folder, FIFO or device in its place is an error."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise UserError(f"{dest} is a file; name a folder to copy the configs into")
    written, kept = [], []
    for name in FOLDERS:
        root = folder(name)
        if root is None:
            raise UserError(f"this installation of mlcl-train has no {name}/ folder to copy; reinstall it")
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            target = dest / name / path.relative_to(root)
            data = path.read_bytes()
            state = _existing(target, data, dest)
            if state == "same":
                continue
            if state == "differs" and not force:
                kept.append(target)
                continue
            _write_atomically(target, data)
            written.append(target)
    return written, kept


def _existing(target: Path, data: bytes, dest: Path) -> str:
    """What is at target: "missing", "same" (a regular file holding data), "differs" (another file or a link)."""
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise UserError(f"cannot read {target}: {err.strerror}") from None
    inside = dest.resolve()
    if not target.parent.resolve().is_relative_to(inside):  # configs/ itself a link out of the folder
        raise UserError(f"{target.parent} leads out of {dest} (a symlink to {target.parent.resolve()}); "
                        "remove the link, then run init again")
    if mode is None:
        return "missing"
    if stat.S_ISLNK(mode):
        return "differs"  # not followed: it may lead anywhere
    if not stat.S_ISREG(mode):
        kind = KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise UserError(f"{target} is {kind}, not a config file; move it away, then run init again")
    with open_regular(target) as f:
        return "same" if f.read(len(data) + 1) == data else "differs"


def _write_atomically(target: Path, data: bytes) -> None:
    """data into target, whole or not at all (never through a link); a failure is one UserError."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, data)
    except OSError as err:
        raise UserError(f"cannot write {target}: {err.strerror}") from None
