"""Run labels: the name, and where names repeat the few abbreviated keys that tell the runs apart."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mlcl_train.runs.labels import differing_keys, run_labels
from mlcl_train.runs.store import RunRecord


def record(folder: str, name: str, **config) -> RunRecord:
    base = {"name": name, "seed": 1, "model": {"name": "mlp", "hidden": [512, 256], "activation": "relu"},
            "train": {"epochs": 10, "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.0}}}
    for dotted, value in config.items():
        *path, last = dotted.split("__")
        section = base
        for part in path:
            section = section.setdefault(part, {})
        section[last] = value
    return RunRecord(path=Path("runs") / folder, status="completed", name=name, model="mlp", params=1, epochs=10,
                     epochs_planned=10, final_acc=90.0, best_acc=90.0, best_epoch=10, test_loss=0.3,
                     sec_per_epoch=1.0, config=base)


def test_repeated_names_get_the_few_keys_that_tell_them_apart_abbreviated():
    runs = [
        record("20261127-100000-mlp_deep", "mlp_deep"),
        record("20261127-100100-mlp_deep", "mlp_deep", train__optimizer__lr=0.05),
        record("20261127-100200-mlp_deep", "mlp_deep", model__hidden=[1024, 512]),
        record("20261127-100300-cnn", "cnn", model__name="cnn"),
    ]
    assert run_labels(runs) == ["mlp_deep", "mlp_deep lr=0.05", "mlp_deep hidden=[1024,512]", "cnn"]
    assert run_labels(runs[::-1]) == ["cnn", "mlp_deep hidden=[1024,512]", "mlp_deep lr=0.05", "mlp_deep"]


def test_a_section_of_another_name_is_named_and_identical_configs_are_numbered():
    adam = {"name": "adam", "lr": 0.001, "betas": [0.9, 0.999]}
    runs = [
        record("20261127-100000-mlp_deep", "mlp_deep"),
        record("20261127-100100-mlp_deep", "mlp_deep", train__optimizer=adam),
        record("20261127-100200-mlp_deep", "mlp_deep", train__optimizer__lr=0.05),
        record("20261127-100300-mlp_deep", "mlp_deep", train__optimizer__lr=0.05),
    ]
    labels = run_labels(runs)
    assert labels[:2] == ["mlp_deep lr=0.01", "mlp_deep optimizer=adam lr=0.001"]  # 0.05 is the most common lr
    assert labels[2:] == ["mlp_deep #1", "mlp_deep #2"]  # the same config twice
    assert len(set(labels)) == 4 and all(len(label) < 40 for label in labels)


def test_long_values_are_cut_and_key_order_does_not_follow_the_runs_order():
    layers = [{"conv2d": {"out_channels": 8 * i, "kernel_size": 3}} for i in range(1, 9)]
    runs = [
        record("20261127-100000-seq", "seq", model__layers=layers),
        record("20261127-100100-seq", "seq", model__layers=layers[:3]),
    ]
    labels = run_labels(runs)
    assert labels[0] == "seq" and len(labels[1]) <= 40 and labels[1].endswith("\u2026")
    assert differing_keys(runs) == differing_keys(runs[::-1])
    assert differing_keys(runs)[0].startswith("model.")


def test_a_label_is_shortened_in_its_name_so_that_its_keys_stay():
    from mlcl_train.runs.labels import shorten_label as shorten

    long = "sequential_with_a_rather_long_descriptive_name_for_testing optimizer=sgd"
    assert shorten(long, 48) == "sequential_with_a_rather_long_des\u2026 optimizer=sgd" and len(shorten(long, 48)) == 48
    assert shorten("mlp_deep lr=0.05", 48) == "mlp_deep lr=0.05"
    assert shorten("x" * 60, 20) == "x" * 19 + "\u2026"


def trial(folder: str, sweep: str, point: dict, seed: int) -> RunRecord:
    run = record(folder, folder.split("-", 2)[2], seed=seed)
    return replace(run, sweep=sweep, point=point, seed=seed)


def test_a_sweep_trial_is_labelled_by_its_swept_values_and_seed():
    runs = [trial("20261127-100000-tiny-0-s1", "tiny", {"model.hidden": [512]}, 1),
            trial("20261127-100001-tiny-0-s2", "tiny", {"model.hidden": [512]}, 2),
            trial("20261127-100002-tiny-1-s1", "tiny", {"model.hidden": [64], "train.optimizer.lr": 0.05}, 1),
            record("20261127-100300-mlp_deep", "mlp_deep")]
    assert run_labels(runs) == ["hidden=[512] s1", "hidden=[512] s2", "hidden=[64] lr=0.05 s1", "mlp_deep"]
    other = trial("20261127-100400-wide-0-s1", "wide", {"model.hidden": [512]}, 1)
    assert run_labels([runs[0], other]) == ["tiny hidden=[512] s1", "wide hidden=[512] s1"]


def test_a_count_of_one_is_singular():
    from mlcl_train.core.values import plural

    assert [plural(n, "seed") for n in (0, 1, 2)] == ["0 seeds", "1 seed", "2 seeds"]


def test_a_change_of_section_is_told_by_its_name_and_the_parameters_both_runs_have():
    from mlcl_train.runs.labels import changes_against

    base = record("20261127-100000-base", "base", train__scheduler=None)
    cosine = record("20261127-100100-cos", "cos", train__scheduler={"name": "cosine", "t_max": None, "eta_min": 0})
    assert changes_against(cosine, base) == ["scheduler none -> cosine"]
    assert changes_against(base, cosine) == ["scheduler cosine -> none"]
    base = record("20261127-100000-base", "base")
    cnn = record("20261127-100200-cnn", "cnn", model__name="cnn", model__channels=[32, 64], model__activation="tanh")
    assert changes_against(cnn, base) == ["model mlp -> cnn", "activation relu -> tanh"]
    adam = record("20261127-100300-adam", "adam", train__optimizer={"name": "adam", "lr": 0.01, "betas": [0.9, 0.99]})
    assert changes_against(adam, base) == ["optimizer sgd -> adam"]


def test_a_baseline_named_by_its_config_is_the_oldest_run_of_that_name_not_a_label_that_reads_alike():
    from mlcl_train.runs.labels import find_baseline

    runs = [
        record("20261127-100000-hw", "hw"),  # the homework's weak model, trained first
        record("20261127-100100-hw", "hw", model__activation="sigmoid"),
        record("20261127-100200-hw", "hw", model__activation="sigmoid", model__output="logits"),
        record("20261127-100300-hw", "hw", model__activation="tanh", model__output="logits"),
    ]
    labels = run_labels(runs)
    assert labels[0] != "hw" and "hw" in labels  # the label "hw" is another run's
    assert find_baseline(runs, labels, "hw") == 0
    assert find_baseline(runs, labels, labels[0]) == 0 and find_baseline(runs, labels, "20261127-100200-hw") == 2


def test_the_baseline_of_a_sweep_is_its_first_point_and_seed_whichever_worker_started_first():
    """Two workers start trials in the same second or so: the folder times do not say which point came first."""
    from mlcl_train.runs.labels import find_baseline

    def trial(folder: str, index: int, seed: int, hidden: int) -> RunRecord:
        return replace(record(folder, f"tiny-{index}-s{seed}", model__hidden=[hidden], seed=seed), sweep="tiny",
                       seed=seed, point={"model.hidden": [hidden]})

    runs = [
        trial("20261207-184559-tiny-0-s2", 0, 2, 8),
        trial("20261207-184558-tiny-1-s1", 1, 1, 16),  # the oldest folder
        trial("20261207-184559-tiny-1-s2", 1, 2, 16),
        trial("20261207-184559-tiny-0-s1", 0, 1, 8),
    ]
    labels = run_labels(runs)
    assert find_baseline(runs, labels, None) == 3
    assert find_baseline([*runs, record("20261207-090000-mlp", "mlp")], [*labels, "mlp"], None) == 4  # not one sweep
