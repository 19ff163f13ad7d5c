"""Ctrl-C and SIGTERM at any moment: a stop that nothing swallows, and sections that finish first.

    with signals.installed():          # SIGINT/SIGTERM now raise errors.Stopped (a BaseException)
        with signals.deferred():       # ...except in here: a signal waits for the block's end
            write_checkpoint_and_metrics()
        signals.hold()                 # ...and from here to release(), which raises one that came:
        make_run_folder()              # train makes the folder, then fit records a stop in it
        try:
            signals.release()
            train_epochs()
        except Stopped: ...

Stopped derives from BaseException, so a library's `except Exception` (tqdm's monitor thread
start, for one) cannot swallow it. Once a stop is raised, further signals wait: the code that
records the stop runs to its end. Signals reach the main thread only; elsewhere this is a no-op.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from mlcl_train.core.errors import Stopped

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Guard:
    def __init__(self) -> None:
        self.critical = 0  # nested deferred() blocks
        self.pending: int | None = None  # a signal that arrived in a deferred block
        self.stopping = False  # a Stopped was raised: later signals only wait
        self.held = False  # between hold() and release()

    def handle(self, signum: int, frame: Any) -> None:
        if self.critical or self.stopping:
            self.pending = self.pending or signum
            return
        self.stopping = True
        raise Stopped(signum)

    def reset(self) -> None:
        self.pending, self.stopping, self.critical, self.held = None, False, 0, False

    def raise_pending(self) -> None:
        if self.pending is not None and not self.critical and not self.stopping:
            signum, self.pending = self.pending, None
            self.stopping = True
            raise Stopped(signum)


_GUARD = _Guard()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def installed() -> Iterator[None]:
    """SIGINT and SIGTERM raise Stopped inside this block (a block inside another, or after
    install_for_process, changes nothing; a child process that set its own handler gets these again)."""
    if not _main_thread() or all(signal.getsignal(sig) == _GUARD.handle for sig in SIGNALS):
        yield
        return
    old = {sig: signal.signal(sig, _GUARD.handle) for sig in SIGNALS}
    _GUARD.reset()
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        _GUARD.reset()


@contextmanager
def deferred() -> Iterator[None]:
    """A signal inside the block waits for its end, then raises Stopped."""
    if not _main_thread():  # signals reach the main thread only; a worker thread must not hold them back
        yield
        return
    _GUARD.critical += 1
    try:
        yield
    finally:
        _GUARD.critical -= 1
    _GUARD.raise_pending()


def hold() -> None:
    """Signals wait from now until release(): for a span that is not one block (a run folder made, then fit)."""
    if _main_thread() and not _GUARD.held:
        _GUARD.held = True
        _GUARD.critical += 1


def release(stop: bool = True) -> None:
    """End hold(); raise Stopped for a signal that came meanwhile (unless stop is False: an error is on its way)."""
    if not _main_thread():
        return
    if _GUARD.held:
        _GUARD.held = False
        _GUARD.critical -= 1
    if stop:
        _GUARD.raise_pending()


def install_for_process() -> None:
    """For the command line: signals raise Stopped from now until the process ends."""
    if _main_thread():
        for sig in SIGNALS:
            signal.signal(sig, _GUARD.handle)
