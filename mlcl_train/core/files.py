"""Reading files a user names: regular files only, with a size limit, as one clear error otherwise.

    text = read_text(Path("configs/mlp_deep.yaml"), limit=CONFIG_LIMIT)

A FIFO, /dev/zero or a directory (also through a symlink) would block or read forever;
here each is a UserError that says what the path is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from mlcl_train.core.errors import UserError

CONFIG_LIMIT = 4 * 2**20  # bytes; a config or summary.json is a few KB
KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device",
         stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def open_regular(path: Path, error: type[UserError] = UserError) -> BinaryIO:
    """Open a regular file for reading in binary; anything else raises `error` saying what it is."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: opening a FIFO does not wait for a writer
    except FileNotFoundError:
        raise error(f"{path} does not exist") from None
    except OSError as err:
        raise error(f"cannot read {path}: {err.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        target = f" (a link to {os.path.realpath(path)})" if path.is_symlink() else ""
        kind = KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise error(f"{path}{target} is {kind}, not a file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_bytes(path: Path, limit: int, error: type[UserError] = UserError) -> bytes:
    """The whole of a regular file of at most `limit` bytes."""
    with open_regular(path, error) as f:
        data = f.read(limit + 1)  # +1: a file that grows past the limit while read is still refused
    if len(data) > limit:
        raise error(f"{path} is larger than {limit / 2**20:g} MB; this is not the file expected here")
    return data


def read_text(path: Path, limit: int = CONFIG_LIMIT, error: type[UserError] = UserError) -> str:
    """A regular file of at most `limit` bytes, decoded as UTF-8."""
    data = read_bytes(path, limit, error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{path} is not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); "
                    "save it as UTF-8") from None


def write_atomically(target: Path, data: bytes) -> None:
    """data into target through a temporary file beside it, synced and renamed: target is whole or as it was.

    A link at target is replaced, never written through. On any failure (a full disk, Ctrl-C) the temporary
    file is removed and the error raised, an OSError naming target."""
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.filename is None:  # os.write names no file
            raise OSError(err.errno, err.strerror, str(target)) from None
        raise


def write_output(target: Path, data: bytes) -> None:
    """A file a command was asked to write (its -o): its folder made, the file written whole through
    write_atomically (a FIFO or a link there is replaced, never written into); an OSError is one UserError."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, data)
    except OSError as err:
        raise UserError(f"cannot write {target}: {err.strerror or err}") from None
