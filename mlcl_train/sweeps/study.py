"""Sweeps: train a sweep file's (point, seed) pairs with Optuna's samplers, pruners and storages.

    mlcl-train sweep sweeps/width_depth.yaml --workers 2
    mlcl-train sweep sweeps/width_depth.yaml --storage postgresql://user@db/sweeps   # on every host

Each trial is an ordinary run folder under runs/sweeps/<name>/. A worker claims a pair by creating
a RUNNING Optuna trial for it; of the claims on one pair, the lowest trial id that is finished or
alive wins and the others step back, so each pair trains once across workers and hosts. A claim
is dead when its process is gone (same host) or its heartbeat stopped (another host); running the
same command again retrains dead, failed and interrupted pairs and skips finished ones. Dead claims are
closed (FAIL, status "killed") by the next worker that sees them.

The run folders are the truth: a pair whose run folder finished is not trained again, even when the
storage is new, emptied or another one (its trial is recorded again from the run folder). A storage
keeps the sweep's method, metric and space; a sweep file of the same name that changes them is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.storages.journal import JournalFileOpenLock
from optuna.trial import FrozenTrial, TrialState

from mlcl_train.core.errors import Stopped, UserError
from mlcl_train.core.values import plural
from mlcl_train.inspect.groups import FINISHED
from mlcl_train.runs import store as runs
from mlcl_train.sweeps.spec import Range, Sweep, point_key

JOURNAL = "optuna.journal"  # the default storage, in the sweep's folder
HEARTBEAT = 10.0  # seconds between a running trial's heartbeats
GRACE = 60.0  # seconds without a heartbeat after which a trial on another host counts as dead
SETTLE = 0.5  # seconds a database claim waits for concurrent claims to commit before comparing them
CONNECT_TIMEOUT = 10  # seconds to connect to a database server (one that accepts and never answers included)
STATEMENT_TIMEOUT = 120  # seconds a database statement may take (waiting for the tables' creation lock included)
TABLES_LOCK = 0x6D6C636C  # the PostgreSQL advisory lock held while one process creates Optuna's tables

optuna.logging.set_verbosity(optuna.logging.WARNING)


# ---------------------------------------------------------------- storage and study


def open_storage(url: str | None, folder: Path) -> optuna.storages.BaseStorage:
    """The journal file in the sweep's folder, or the database at url; errors are one line."""
    if url is None:
        return open_journal(folder / JOURNAL)
    if url.split("://")[0] in ("postgresql", "postgres"):  # SQLAlchemy's default driver is psycopg2; ours is psycopg 3
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        return open_database(url)
    except ModuleNotFoundError as err:
        raise UserError(f"--storage {url.split(':')[0]}: needs the database driver ({err.name}); "
                        "install it with: pip install 'mlcl-train[postgres]'") from None
    except Exception as err:  # sqlalchemy's errors: bad URL, server down, wrong password, timeouts
        raise UserError(f"--storage: cannot open the database: {str(err).strip().splitlines()[0]}") from None


def open_journal(path: Path) -> optuna.storages.BaseStorage:
    """The journal file at path, read once through; a damaged one is a UserError saying how to go on."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path), FlockLock(str(path))))
    except IsADirectoryError:
        raise UserError(f"the sweep's journal {path} is a folder, not a file; move it away and run again") from None
    except OSError as err:
        raise UserError(f"cannot open the sweep's journal {path}: {err.strerror}; use a --runs-dir you can write "
                        "to (--status reads a sweep without writing)") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as err:  # not JSON, not UTF-8, not Optuna's
        raise UserError(f"the sweep's journal {path} is damaged ({type(err).__name__}); move it away "
                        f"(mv {path} {path}.damaged) and run again: what the run folders show finished "
                        "is not trained again") from None


def open_database(url: str) -> optuna.storages.RDBStorage:
    """Optuna's storage in a database, with connect and statement timeouts; on PostgreSQL, one process at a time
    creates the tables (an advisory lock), so that hosts starting together on a new database do not collide."""
    import sqlalchemy

    postgres = url.startswith("postgresql")
    options = f"-c statement_timeout={STATEMENT_TIMEOUT * 1000}"
    kwargs = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT, "options": options}} if postgres else {}
    if not postgres:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool, **kwargs)
    try:
        with engine.connect() as connection:  # the lock ends with this transaction
            connection.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"), {"key": TABLES_LOCK})
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    finally:
        engine.dispose()


class FlockLock(JournalFileOpenLock):
    """The journal's lock as an OS lock (flock) on `<journal>.flock`: the kernel releases it when its process
    dies, and a signal while waiting for it leaves another process's lock alone (Optuna's file locks can
    release the holder's lock then, and a SIGKILL leaves theirs in place for their grace period)."""

    def __init__(self, journal: str) -> None:
        self.path = journal + ".flock"
        self.fd: int | None = None

    def acquire(self) -> bool:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return True

    def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)  # closing the file releases the lock


def open_study(sweep: Sweep, storage: optuna.storages.BaseStorage) -> optuna.Study:
    """The sweep's study, created by whichever process comes first."""
    sampler = optuna.samplers.TPESampler() if sweep.method == "tpe" else optuna.samplers.RandomSampler()
    pruner: optuna.pruners.BasePruner = optuna.pruners.NopPruner()
    if sweep.pruner is not None:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=sweep.pruner.startup,  # steps are epochs, from 1:
                                             n_warmup_steps=sweep.pruner.warmup + 1)  # none pruned up to `warmup`
    for _ in range(3):  # two processes creating it at once: one gets DuplicatedStudyError, then loads it
        with contextlib.suppress(optuna.exceptions.DuplicatedStudyError):
            return optuna.create_study(storage=storage, study_name=sweep.name, direction=sweep.direction,
                                       sampler=sampler, pruner=pruner, load_if_exists=True)
    raise UserError(f"cannot create or load the study {sweep.name!r} in the storage")


def definition(sweep: Sweep) -> dict[str, Any]:
    """What a storage keeps of a sweep, to refuse another one of the same name: method, metric and space."""
    space = {k: dataclasses.asdict(v) if isinstance(v, Range) else v for k, v in sweep.space.items()}
    return json.loads(json.dumps({"method": sweep.method, "metric": sweep.metric, "space": space}, default=str))


def check_definition(study: optuna.Study, sweep: Sweep) -> None:
    """Refuse a sweep whose method, metric or space differ from the one of the same name in the storage."""
    mine, theirs = definition(sweep), study.user_attrs.get("sweep")
    if theirs is None:  # a new study, or one from before the storage kept its sweep: its trials' keys tell
        keys = next((list(t.params) for t in study.get_trials(deepcopy=False) if t.params), list(sweep.space))
        theirs = {**mine, "space": {k: mine["space"].get(k) for k in keys}}
    difference = _difference(theirs, mine)
    if difference:
        raise UserError(f"sweep {sweep.name}: the storage holds a sweep of this name with {difference}; to keep "
                        f"both, give this file another name (name: {sweep.name}_2) or another storage (--storage, "
                        "or another --runs-dir)")
    if "sweep" not in study.user_attrs:
        study.set_user_attr("sweep", mine)


def _difference(theirs: dict[str, Any], mine: dict[str, Any]) -> str:
    """The first difference between two sweep definitions, as text ('' when none)."""
    for field in ("method", "metric"):
        if theirs[field] != mine[field]:
            return f"{field} {theirs[field]} (this file: {mine[field]})"
    if list(theirs["space"]) != list(mine["space"]):
        return f"the keys {', '.join(theirs['space'])} (this file: {', '.join(mine['space'])})"
    for key, values in theirs["space"].items():
        if values is not None and values != mine["space"][key]:
            return f"{key}: {json.dumps(values)} (this file: {json.dumps(mine['space'][key])})"
    return ""


def distributions(sweep: Sweep) -> dict[str, BaseDistribution]:
    """Optuna's view of the space: a list is a categorical over its values as JSON text."""
    out: dict[str, BaseDistribution] = {}
    for key, values in sweep.space.items():
        if isinstance(values, Range):
            kind = IntDistribution if values.integer else FloatDistribution
            out[key] = kind(values.low, values.high, log=values.log)
        else:
            out[key] = CategoricalDistribution([json.dumps(v) for v in values])
    return out


def to_params(sweep: Sweep, point: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(sweep.space[k], Range) else json.dumps(v) for k, v in point.items()}


def to_point(sweep: Sweep, params: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(sweep.space[k], Range) else json.loads(v) for k, v in params.items()}


# ---------------------------------------------------------------- what is left to train


def close_dead(study: optuna.Study, trials: list[FrozenTrial]) -> None:
    """Close the claims whose worker is gone (FAIL, status "killed"), so that no trial stays RUNNING for good."""
    for t in trials:
        if t.state == TrialState.RUNNING and "unit" in t.user_attrs and not trial_alive(t):
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):  # another worker closed it first
                study._storage.set_trial_user_attr(t._trial_id, "status", "killed")
                study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)


def restore_from_runs(study: optuna.Study, sweep: Sweep, folder: Path) -> int:
    """Record in the storage the finished pairs that its trials lack but the run folders show; how many."""
    if not folder.is_dir():
        return 0
    trials = study.get_trials(deepcopy=False)
    known = {unit for unit, ts in claims(trials).items() if ts[0].user_attrs.get("status") in FINISHED}
    added = 0
    for r in runs.read_runs([folder], full=False):
        if r.sweep != sweep.name or r.status not in FINISHED or r.point is None or r.seed is None:
            continue
        unit = point_key(r.point, r.seed)
        if unit in known or not fits(sweep, r.point):
            continue
        value = getattr(r, sweep.metric)
        state = {"completed": TrialState.COMPLETE, "pruned": TrialState.PRUNED}.get(r.status, TrialState.FAIL)
        state = TrialState.FAIL if state == TrialState.COMPLETE and value is None else state
        attrs = {"unit": unit, "point": r.point, "seed": r.seed, "status": r.status, "founder": True, "run": r.run}
        study.add_trial(optuna.trial.create_trial(state=state, value=value if state == TrialState.COMPLETE else None,
                                                  params=to_params(sweep, r.point), distributions=distributions(sweep),
                                                  user_attrs=attrs))
        known.add(unit)
        added += 1
    return added


def finished_run(sweep: Sweep, folder: Path, index: int, point: dict[str, Any], seed: int) -> runs.RunRecord | None:
    """A run folder of this pair that finished (completed, pruned, diverged), or None: the run folders are the
    truth when a worker died between its run's end and telling the storage."""
    for path in sorted(folder.glob(f"*-{sweep.name}-{index}-s{seed}")):
        r = runs.read_run(path, full=False)
        if r.sweep == sweep.name and r.status in FINISHED and r.point == point and r.seed == seed:
            return r
    return None


def fits(sweep: Sweep, point: dict[str, Any]) -> bool:
    """Whether a point (from a run folder) lies in the sweep's space."""
    if set(point) != set(sweep.space):
        return False
    for key, values in sweep.space.items():
        v = point[key]
        if isinstance(values, Range):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not values.low <= v <= values.high:
                return False
        elif v not in values:
            return False
    return True


def trial_alive(t: FrozenTrial) -> bool:
    """Whether a RUNNING trial's worker still runs: its pid on this host, its heartbeat elsewhere."""
    a = t.user_attrs
    if a.get("host") == socket.gethostname():
        return a.get("pid") == os.getpid() or runs.alive({"host": a.get("host"), "pid": a.get("pid")})
    return time.time() - float(a.get("heartbeat", 0)) < GRACE


def claims(trials: list[FrozenTrial]) -> dict[str, list[FrozenTrial]]:
    """The live claims on each pair: finished, or running and alive; lowest trial id first."""
    out: dict[str, list[FrozenTrial]] = {}
    for t in sorted(trials, key=lambda t: t._trial_id):
        a = t.user_attrs
        if "unit" not in a or a.get("duplicate"):
            continue
        live = a.get("status") in FINISHED or (t.state == TrialState.RUNNING and trial_alive(t))
        if live:
            out.setdefault(a["unit"], []).append(t)
    return out


def founders(sweep: Sweep, trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """random and tpe: the trials that drew a new point, lowest id first, each point once, at most `trials`."""
    seen: set[str] = set()
    out = []
    for t in sorted(trials, key=lambda t: t._trial_id):
        if t.user_attrs.get("founder") and "point" in t.user_attrs:
            key = json.dumps(t.user_attrs["point"], sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(t)
    return out[: sweep.points_wanted]


def pairs(sweep: Sweep, trials: list[FrozenTrial]) -> list[tuple[int, dict[str, Any], int]]:
    """Every (point number, point, seed) known so far: a grid's all; random and tpe's drawn points."""
    points = sweep.points() if sweep.method == "grid" else [t.user_attrs["point"] for t in founders(sweep, trials)]
    return [(i, p, s) for i, p in enumerate(points) for s in sweep.seeds]


def plan(sweep: Sweep, trials: list[FrozenTrial]) -> tuple[list[tuple[int, dict[str, Any], int]], bool]:
    """(the pairs nobody has, whether a new point may be drawn)."""
    taken = claims(trials)
    known = pairs(sweep, trials)
    free = [p for p in known if point_key(p[1], p[2]) not in taken]
    drawn = sum(1 for t in trials if t.user_attrs.get("founder"))
    may_draw = sweep.method != "grid" and len(founders(sweep, trials)) < sweep.points_wanted
    return free, may_draw and drawn < 10 * sweep.points_wanted  # a small space: drawing stops at last


# ---------------------------------------------------------------- claiming a pair


def claim(
    study: optuna.Study, sweep: Sweep, database: bool, spread: bool
) -> tuple[int, int, dict[str, Any], int] | None:
    """Claim a free pair (or draw a new point): (trial id, point number, point, seed), or None when none is left.

    A lone worker takes the pairs in order; several (spread) take a random one of the first few."""
    rng = random.Random(os.getpid())
    while True:
        trials = study.get_trials(deepcopy=False)
        close_dead(study, trials)
        free, may_draw = plan(sweep, trials)
        if free:
            index, point, seed = free[rng.randrange(min(len(free), 4)) if spread else 0]
            trial_id = _create(study, sweep, point, seed)
        elif may_draw:
            trial_id, point = _draw(study, sweep)
            seed = sweep.seeds[0]
        else:
            return None
        if database:
            time.sleep(SETTLE)
        trials = study.get_trials(deepcopy=False)
        if sweep.method != "grid":
            points = [t.user_attrs["point"] for t in founders(sweep, trials)]
            index = points.index(point) if point in points else -1
        mine = claims(trials).get(point_key(point, seed), [])
        if index >= 0 and mine and mine[0]._trial_id == trial_id:
            return trial_id, index, point, seed
        study._storage.set_trial_user_attr(trial_id, "duplicate", True)  # another claim came first
        study._storage.set_trial_state_values(trial_id, TrialState.FAIL)


def _attrs(point: dict[str, Any], seed: int) -> dict[str, Any]:
    return {"unit": point_key(point, seed), "point": point, "seed": seed, "host": socket.gethostname(),
            "pid": os.getpid(), "heartbeat": time.time()}


def _create(study: optuna.Study, sweep: Sweep, point: dict[str, Any], seed: int) -> int:
    """A RUNNING trial for a known point, its attributes written with it in one step."""
    template = optuna.trial.create_trial(state=TrialState.RUNNING, params=to_params(sweep, point),
                                         distributions=distributions(sweep), user_attrs=_attrs(point, seed))
    return study._storage.create_new_trial(study._study_id, template_trial=template)


def _draw(study: optuna.Study, sweep: Sweep) -> tuple[int, dict[str, Any]]:
    """A new point from the sampler (random or tpe), as a RUNNING trial marked as its point's founder."""
    trial = study.ask(distributions(sweep))
    point = to_point(sweep, trial.params)
    for key, value in {**_attrs(point, sweep.seeds[0]), "founder": True}.items():
        trial.set_user_attr(key, value)
    return trial._trial_id, point


# ---------------------------------------------------------------- one trial


class Heartbeat:
    """Refreshes a trial's heartbeat in a thread while it trains."""

    def __init__(self, storage: optuna.storages.BaseStorage, trial_id: int) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, args=(storage, trial_id), daemon=True)

    def _beat(self, storage: optuna.storages.BaseStorage, trial_id: int) -> None:
        while not self.stop.wait(HEARTBEAT):
            with contextlib.suppress(Exception):  # a lost beat only makes the trial look dead sooner
                storage.set_trial_user_attr(trial_id, "heartbeat", time.time())

    def __enter__(self) -> "Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()


def run_trial(study: optuna.Study, sweep: Sweep, claimed: tuple[int, int, dict[str, Any], int], folder: Path,
              data_loader: Callable[..., Any]) -> str:
    """Train one claimed pair into a run folder; tell Optuna how it ended; returns its status."""
    from mlcl_train.core.errors import Diverged, Failed, Pruned, Stopped
    from mlcl_train.training.loop import train

    trial_id, index, point, seed = claimed
    trial = optuna.trial.Trial(study, trial_id)
    step_metric = "test_loss" if sweep.metric.endswith("_loss") else "test_acc"

    def on_epoch(done: runs.Epoch) -> None:  # as metrics.csv has it
        trial.report(float(getattr(done, step_metric)), done.epoch)
        if sweep.pruner is not None and trial.should_prune():
            raise Pruned

    meta = {"name": sweep.name, "point": point, "seed": seed, "trial": trial.number}
    status, value = "failed", None
    done = finished_run(sweep, folder, index, point, seed)
    if done is not None:  # trained, but its worker was killed before the storage heard of it: not again
        study._storage.set_trial_user_attr(trial_id, "status", done.status)
        study._storage.set_trial_user_attr(trial_id, "run", done.run)
        value = getattr(done, sweep.metric)
        if done.status == "completed" and value is not None:
            study.tell(trial, value)
        else:
            study.tell(trial, state=TrialState.PRUNED if done.status == "pruned" else TrialState.FAIL)
        return done.status
    try:
        with Heartbeat(study._storage, trial_id), open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            record = train(sweep.config(point, seed, index), folder, False, on_epoch, meta, data_loader)
        status, value = "completed", getattr(record, sweep.metric)
    except Pruned:
        status = "pruned"
    except Diverged:
        status = "diverged"
    except (Stopped, KeyboardInterrupt):
        status = "interrupted"
        raise
    except UserError:
        raise  # the same for every trial (data missing, ...): stop the worker
    except Exception as err:
        error = err.error if isinstance(err, Failed) else err  # Failed: an error once the trial's folder was made
        print(f"[{sweep.name}] trial {trial.number} failed: {type(error).__name__}: {error}", file=sys.stderr)
    finally:
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):  # closed as dead: the run folder tells
            study._storage.set_trial_user_attr(trial_id, "status", status)
            if status == "completed" and value is not None:
                study.tell(trial, value)
            else:
                study.tell(trial, state=TrialState.PRUNED if status == "pruned" else TrialState.FAIL)
    return status


# ---------------------------------------------------------------- workers


def cached_loader() -> Callable[..., Any]:
    """load_splits, remembering each data set it loaded: a worker reads and normalizes the data once."""
    from mlcl_train.data.loader import load_splits

    cache: dict[tuple[Any, ...], Any] = {}

    def load(dataset: str, root: str | None, device: Any, subset: int | None, val_split: int, seed: int) -> Any:
        key = (dataset, root, str(device), subset, val_split, seed if val_split else None)
        if key not in cache:
            cache[key] = load_splits(dataset, root, device, subset, val_split, seed)
        return cache[key]

    return load


def work(sweep: Sweep, url: str | None, runs_dir: Path, threads: int, spread: bool = True) -> int:
    """A worker: claim and train pairs until none is left; returns its exit code."""
    import torch

    torch.set_num_threads(threads)
    folder = sweep.folder(runs_dir)
    study = open_study(sweep, open_storage(url, folder))
    loader = cached_loader()
    try:
        while (claimed := claim(study, sweep, url is not None, spread)) is not None:
            status = run_trial(study, sweep, claimed, folder, loader)
            print(progress(sweep, study, claimed, status), file=sys.stderr, flush=True)
    except (KeyboardInterrupt, SystemExit):
        return 130
    except Stopped as stop:  # SIGINT or SIGTERM while a trial trained (mlcl_train.core.signals)
        return stop.exit_code
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    return 0


def progress(sweep: Sweep, study: optuna.Study, claimed: tuple[int, int, dict[str, Any], int], status: str) -> str:
    """One line on stderr after each trial: which one ended how, trials done of all, the best so far."""
    trials = study.get_trials(deepcopy=False)
    done = sum(1 for ts in claims(trials).values() if ts[0].user_attrs.get("status") in FINISHED)
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    best = ""
    if complete:
        pick = max if sweep.direction == "maximize" else min
        top = pick(complete, key=lambda t: t.value)
        best = f", best {sweep.metric} {top.value:.4g} ({_point_text(top.user_attrs.get('point', {}))})"
    _, index, point, seed = claimed
    return f"[{sweep.name}] {_point_text(point)} seed {seed}: {status}; {done}/{sweep.total} done{best}"


def _point_text(point: dict[str, Any]) -> str:
    from mlcl_train.inspect.compare import show

    return ", ".join(f"{k}={show(v)}" for k, v in point.items())


def check_writable(folder: Path) -> None:
    """A UserError unless files can be made in the sweep's folder (a read-only runs folder, a full disk)."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        raise UserError(f"cannot write in the sweep's folder {folder}: {err.strerror}; use a --runs-dir you can "
                        "write to (--status reads a sweep without writing)") from None


def thread_count(workers: int) -> int:
    """Threads per worker: OMP_NUM_THREADS when set, else this machine's cores split between workers."""
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // workers)


def die_with_parent(parent: int) -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux), as when the OOM killer takes the
    parent: a worker does not train on alone. SIGTERM marks its trial interrupted, as a Ctrl-C would."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def _worker_main(sweep: Sweep, url: str | None, runs_dir: Path, threads: int, gpu: str | None, parent: int) -> None:
    die_with_parent(parent)
    os.setpgrp()  # Ctrl-C reaches the parent only, which passes one SIGINT on to each worker
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu  # before torch is imported: this worker sees one GPU
    sys.exit(work(sweep, url, runs_dir, threads))


def run_sweep(sweep: Sweep, url: str | None, runs_dir: Path, workers: int, gpus: list[str] | None = None) -> int:
    """Train the sweep with `workers` processes on this machine (worker i on GPU gpus[i % len]); the exit code."""
    print(f"sweep {sweep.name}: {plural(sweep.total, 'trial')}, {plural(workers, 'worker')}", file=sys.stderr)
    study = _prepare(sweep, url, sweep.folder(runs_dir))
    free, may_draw = plan(sweep, study.get_trials(deepcopy=False))
    if not free and not may_draw:
        return 0  # all done (or in progress elsewhere): no worker needs to start
    threads = thread_count(workers)
    if workers == 1:
        if gpus:
            os.environ["CUDA_VISIBLE_DEVICES"] = gpus[0]
        return work(sweep, url, runs_dir, threads, spread="SLURM_ARRAY_TASK_ID" in os.environ or url is not None)
    devices = [gpus[i % len(gpus)] if gpus else None for i in range(workers)]
    procs = _start_workers(sweep, url, runs_dir, threads, devices)
    stopped = _join(procs)
    if stopped is not None:
        return 128 + stopped
    codes = [p.exitcode for p in procs]
    _report_killed(sweep, study, procs, codes)
    return 0 if all(c == 0 for c in codes) else 130 if 130 in codes else 1


def _prepare(sweep: Sweep, url: str | None, folder: Path) -> Any:
    """The sweep's study, checked against the sweep file, with the finished trials its run folders show."""
    check_writable(folder)
    study = open_study(sweep, open_storage(url, folder))  # created before the workers race
    check_definition(study, sweep)
    restored = restore_from_runs(study, sweep, folder)
    if restored:
        print(f"[{sweep.name}] the storage had no record of {restored} finished trial{'s' if restored > 1 else ''} "
              f"that the run folders in {folder} show (a new, emptied or other storage); recorded them from the "
              "run folders: they are not trained again", file=sys.stderr)
    return study


def _start_workers(
    sweep: Sweep, url: str | None, runs_dir: Path, threads: int, devices: list[str | None]
) -> list[Any]:
    """One worker process per device (None: no GPU of its own), started."""
    import multiprocessing

    fork = "fork" in multiprocessing.get_all_start_methods()
    if fork:  # imported once here, not by each worker at once; no tensor work before the fork (OpenMP, CUDA)
        import torch  # noqa: F401
    ctx = multiprocessing.get_context("fork" if fork else "spawn")
    procs = [ctx.Process(target=_worker_main, args=(sweep, url, runs_dir, threads, gpu, os.getpid()))
             for gpu in devices]
    for p in procs:
        p.start()
    return procs


def _join(procs: list[Any]) -> int | None:
    """Wait for the workers; on Ctrl-C or SIGTERM pass one signal on to each, wait again, and return its number."""
    stopped: list[int] = []

    def stop(signum: int, frame: Any) -> None:
        stopped.append(signum)
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, stop), signal.signal(signal.SIGINT, stop)
    try:
        for p in procs:
            p.join()
        return None
    except (KeyboardInterrupt, Stopped):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # one signal per worker; a second Ctrl-C waits too
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for p in procs:
            if p.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, stopped[0] if stopped else signal.SIGINT)
        for p in procs:
            p.join()
        return int(stopped[0] if stopped else signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, old[0])
        signal.signal(signal.SIGINT, old[1])


def _report_killed(sweep: Sweep, study: Any, procs: list[Any], codes: list[int | None]) -> None:
    """Close the claims of workers killed by a signal, and say how to train their trials."""
    if any(c is not None and c < 0 for c in codes):
        with contextlib.suppress(Exception):  # closing is a courtesy: the next worker to claim closes them too
            close_dead(study, study.get_trials(deepcopy=False))
    for p, code in zip(procs, codes, strict=True):
        if code is not None and code < 0:
            print(f"[{sweep.name}] worker {p.pid} was killed ({signal.Signals(-code).name}); "
                  "run the same command again to train its trial", file=sys.stderr)
