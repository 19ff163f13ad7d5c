"""One epoch (train + test evaluation) three ways, on the same model, batch size, optimizer and device:

1. mlcl-train's own training code (whole splits as tensors, batches sliced by a permutation);
2. the canonical pipeline: torchvision's datasets.MNIST with ToTensor + Normalize and a DataLoader;
3. the compute bound: the same optimizer steps and evaluation forward passes on pre-made batches.

    python benchmarks/bench_epoch.py --model mlp --repeats 3
    python benchmarks/bench_epoch.py --model cnn --repeats 3 --channels-last
    python benchmarks/bench_epoch.py --model mlp cnn --amp bf16 --skip-canonical --repeats 3
    python benchmarks/bench_epoch.py --model mlp cnn --device cuda --cuda-graphs --amp bf16 --skip-canonical
    python benchmarks/bench_epoch.py --model mlp --repeats 3 --augment   # (1) with and without augmentation

Prints the median seconds of each and the ratios (2)/(1) and (1)/(3). With --amp, (1) and (3) are
measured in float32 and in mixed precision, interleaved in the same process, and the speed-up is
printed; (2) stays float32. With --cuda-graphs, (1) is also measured with train.cuda_graphs (and in
the mixed precision, with --amp); the graph is captured before the timed epoch, as a run captures it
once, and the capture's time is printed apart. With --augment: (1) alone, without and with
data.augment {shift: 2, rotate: 10}, and their ratio.
"""

from __future__ import annotations

import argparse
import gzip
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from mlcl_train.config.loader import resolve
from mlcl_train.data.loader import BUNDLED, FILES, num_batches
from mlcl_train.training.engine import autocast, evaluate, loss_fn
from mlcl_train.training.loop import setup, train_epoch

MODELS = {
    # the homework's strong MLP without batch norm: 784-512-256-10, ReLU
    "mlp": {"name": "mlp", "hidden": [512, 256], "activation": "relu"},
    # the official PyTorch MNIST example's CNN
    "cnn": {"name": "sequential", "layers": [
        {"conv2d": {"out_channels": 32, "kernel_size": 3}}, "relu",
        {"conv2d": {"out_channels": 64, "kernel_size": 3}}, "relu",
        {"maxpool2d": 2}, {"dropout": 0.25}, "flatten",
        {"linear": 128}, "relu", {"dropout": 0.5}, {"linear": 10}, "log_softmax"]},
}


AUGMENT = {"shift": 2, "rotate": 10}  # what --augment times: the distortions most configs use


def config(model: str, device: str, channels_last: bool, compile_: bool, batch_size: int,
           amp: str | None = None, graphs: bool = False, augment: dict | None = None) -> dict:
    return resolve({
        "name": f"bench-{model}", "device": device, "model": MODELS[model], "data": {"augment": augment or {}},
        "train": {"epochs": 1, "batch_size": batch_size, "loss": "nll" if model == "cnn" else "cross_entropy",
                  "optimizer": {"name": "sgd", "lr": 0.01}, "channels_last": channels_last, "compile": compile_,
                  "amp": amp, "cuda_graphs": graphs},
    })


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


CAPTURES: list[float] = []  # seconds of each graph capture in ours()


def ours(cfg: dict) -> float:
    """One epoch through mlcl-train's train_epoch and evaluate."""
    s = setup(cfg)
    step_model = torch.compile(s.model) if cfg.train.compile else s.model
    if cfg.train.compile:  # compile outside the timed epoch: it is paid once per run
        train_epoch_warmup(s, step_model)
    if s.graph is not None:  # so is the graph's capture (which leaves the model and optimizer as they were)
        tic = time.perf_counter()
        bs = cfg.train.batch_size
        s.graph.capture(s.train.images[:bs], s.train.labels[:bs])
        sync(s.device)
        CAPTURES.append(time.perf_counter() - tic)
    tic = time.perf_counter()
    train_epoch(s, step_model, epoch=1, progress=False)
    evaluate(step_model, s.test, cfg.train.loss, cfg.eval.batch_size, amp=cfg.train.amp)
    sync(s.device)
    return time.perf_counter() - tic


def train_epoch_warmup(s, step_model) -> None:
    x, y = s.train.images[:64], s.train.labels[:64]
    with autocast(s.device, s.cfg.train.amp):
        loss = loss_fn(s.cfg.train.loss, step_model(x).float(), y)
    loss.backward()
    with torch.inference_mode(), autocast(s.device, s.cfg.train.amp):
        step_model.eval()(s.test.images[:1000])
    step_model.train()


def canonical(cfg: dict, raw_root: Path) -> float:
    """One epoch the way pytorch/examples mnist/main.py does it."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    s = setup(cfg)  # the same model, optimizer and device; its tensors are not used
    device, model, opt, loss = s.device, s.model, s.optimizer, cfg.train.loss
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST(str(raw_root), train=True, download=False, transform=transform)
    test_set = datasets.MNIST(str(raw_root), train=False, download=False, transform=transform)
    train_loader = DataLoader(train_set, batch_size=cfg.train.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=cfg.eval.batch_size)
    tic = time.perf_counter()
    model.train()
    for x, y in train_loader:
        x, y = x.to(device), y.to(device)
        opt.zero_grad()
        out = model(x)
        loss_fn(loss, out, y).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        for x, y in test_loader:
            x, y = x.to(device), y.to(device)
            out = model(x)
            loss_fn(loss, out, y).item()
            out.argmax(1).eq(y).sum().item()
    sync(device)
    return time.perf_counter() - tic


def bound(cfg: dict) -> float:
    """The same number of optimizer steps and evaluation forward passes, on pre-made batches."""
    s = setup(cfg)
    step_model = torch.compile(s.model) if cfg.train.compile else s.model
    if cfg.train.compile:
        train_epoch_warmup(s, step_model)
    bs, loss = cfg.train.batch_size, cfg.train.loss
    x, y = s.train.images[:bs].clone(), s.train.labels[:bs].clone()
    xe, ye = s.test.images[: cfg.eval.batch_size].clone(), s.test.labels[: cfg.eval.batch_size].clone()
    amp = autocast(s.device, cfg.train.amp)
    tic = time.perf_counter()
    step_model.train()
    for _ in range(num_batches(len(s.train), bs)):
        s.optimizer.zero_grad(set_to_none=True)
        with amp:
            step_loss = loss_fn(loss, step_model(x).float(), y)
        step_loss.backward()
        s.optimizer.step()
    step_model.eval()
    with torch.inference_mode(), amp:
        for _ in range(num_batches(len(s.test), cfg.eval.batch_size)):
            loss_fn(loss, step_model(xe).float(), ye)
    sync(s.device)
    return time.perf_counter() - tic


def raw_mnist(folder: Path) -> Path:
    """The bundled files, decompressed into torchvision's layout <folder>/MNIST/raw/."""
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in (n for pair in FILES.values() for n in pair):
        (raw / name).write_bytes(gzip.decompress((BUNDLED / f"{name}.gz").read_bytes()))
    return folder


def measure(args: argparse.Namespace, model: str, root: Path) -> None:
    """The repeats for one model, and its medians."""
    cfg = config(model, args.device, args.channels_last, args.compile, args.batch_size)
    amp_cfg = (config(model, args.device, args.channels_last, args.compile, args.batch_size, args.amp)
               if args.amp else None)
    graph_cfgs = {}
    if args.cuda_graphs:
        graph_cfgs["mlcl-train graphs"] = config(model, args.device, args.channels_last, args.compile,
                                                 args.batch_size, graphs=True)
        if args.amp:
            graph_cfgs[f"mlcl-train {args.amp} graphs"] = config(model, args.device, args.channels_last,
                                                                 args.compile, args.batch_size, args.amp, True)
    times: dict[str, list[float]] = {"mlcl-train": [], "canonical": [], "bound": []}
    if amp_cfg:
        times.update({f"mlcl-train {args.amp}": [], f"bound {args.amp}": []})
    times.update({name: [] for name in graph_cfgs})
    CAPTURES.clear()
    for i in range(args.repeats):
        times["mlcl-train"].append(ours(cfg))
        if amp_cfg:
            times[f"mlcl-train {args.amp}"].append(ours(amp_cfg))
        for name, graph_cfg in graph_cfgs.items():
            times[name].append(ours(graph_cfg))
        if not args.skip_canonical:
            times["canonical"].append(canonical(cfg, root))
        times["bound"].append(bound(cfg))
        if amp_cfg:
            times[f"bound {args.amp}"].append(bound(amp_cfg))
        print(f"repeat {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items() if v), flush=True)
    med = {k: statistics.median(v) for k, v in times.items() if v}
    flags = " ".join(f for f, on in (("channels-last", args.channels_last), ("compile", args.compile)) if on)
    print(f"\nmodel {model} {flags}| device {args.device} | batch {args.batch_size} | torch {torch.__version__} | "
          f"{torch.get_num_threads()} threads | {platform.processor() or platform.machine()}")
    for k, v in med.items():
        print(f"  {k:<21} {v:7.2f} s per epoch (median of {len(times[k])})")
    if CAPTURES:
        print(f"  graph capture (once per run, not in the epochs above): median {statistics.median(CAPTURES):.2f} s")
        print(f"  without / with graphs: mlcl-train {med['mlcl-train'] / med['mlcl-train graphs']:.2f}x")
    if "canonical" in med:
        print(f"  canonical / mlcl-train = {med['canonical'] / med['mlcl-train']:.2f}x")
    print(f"  mlcl-train / bound     = {med['mlcl-train'] / med['bound']:.3f}x")
    if amp_cfg:
        amp = args.amp
        print(f"  float32 / {amp}: mlcl-train {med['mlcl-train'] / med[f'mlcl-train {amp}']:.2f}x, "
              f"bound {med['bound'] / med[f'bound {amp}']:.2f}x")
    print(flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), nargs="+", default=["mlp"])
    parser.add_argument("--epochs", "--repeats", dest="repeats", type=int, default=3,
                        help="repeats of each measurement")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--amp", choices=["bf16", "fp16"], help="also measure (1) and (3) in this mixed precision")
    parser.add_argument("--cuda-graphs", action="store_true",
                        help="also measure (1) with train.cuda_graphs (CUDA only; elsewhere it is ignored)")
    parser.add_argument("--skip-canonical", action="store_true", help="skip (2), the slow one")
    parser.add_argument("--augment", action="store_true", help="time (1) without and with shift 2 + rotate 10")
    args = parser.parse_args()
    if args.augment:
        for model in args.model:
            augment_cost(args, model)
        return

    with tempfile.TemporaryDirectory() as tmp:
        root = raw_mnist(Path(tmp))
        for model in args.model:
            measure(args, model, root)


def augment_cost(args: argparse.Namespace, model: str) -> None:
    """(1) without and with augmentation, alternating, and the ratio of their medians."""
    plain = config(model, args.device, args.channels_last, args.compile, args.batch_size, args.amp)
    distorted = config(model, args.device, args.channels_last, args.compile, args.batch_size, args.amp,
                       augment=AUGMENT)
    times: dict[str, list[float]] = {"none": [], "shift+rotate": []}
    for i in range(args.repeats):
        times["none"].append(ours(plain))
        times["shift+rotate"].append(ours(distorted))
        print(f"repeat {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nmodel {model} | device {args.device} | batch {args.batch_size} | torch {torch.__version__} | "
          f"{torch.get_num_threads()} threads | {platform.processor() or platform.machine()}")
    for k, v in med.items():
        print(f"  {k:<13} {v:7.2f} s per epoch (median of {len(times[k])})")
    print(f"  shift+rotate / none = {med['shift+rotate'] / med['none']:.3f}x")


if __name__ == "__main__":
    main()
