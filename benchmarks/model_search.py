"""Search your own model: does the model space find a better variant than uniform width scaling?

    python benchmarks/model_search.py                                  # CPU configuration (below)
    python benchmarks/model_search.py --device cuda --seeds 3 --epochs 10 --train 8000 --cycles 30

For each model (torchvision resnet18 and mobilenet_v2 with 10 classes, and timm efficientnet_b0
exported to ONNX at opset 13 and searched from that file) and each target fraction of the
original's parameters:

1. ``swapfw search --space model`` with swap-nas and regularised SWAP, mu = the target in
   millions and sigma derived from sampled sizes alone (``sigma_from_sizes``);
2. the uniform baseline: every width group at one keep-ratio, found by bisection to have the
   found variant's parameter count (kernels, depth and activations as the original);
3. SWAP of both (same batch, seed and protocol), and both trained from scratch on CIFAR-10 images
   of ``../shared/data/cifar10/test.npz`` (the file is sorted by class: per class, the first
   ``--train``/10 images train and the last ``--test``/10 test), with the same optimiser, epochs
   and seeds.

Prints a table and writes every number to ``--out`` (JSON). Skips, saying so, when the data are
absent.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "cifar10" / "test.npz"
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


# --- the models (sources as `swapfw score` takes them) ---------------------------------------------


def resnet18():
    import torchvision

    return torchvision.models.resnet18(num_classes=10)


def mobilenet_v2():
    import torchvision

    return torchvision.models.mobilenet_v2(num_classes=10)


def export_efficientnet_b0(work: Path) -> str:
    """timm efficientnet_b0, 10 classes, exported once to ONNX (opset 13) at 32x32."""
    import timm

    path = work / "efficientnet_b0.onnx"
    if not path.exists():
        model = timm.create_model("efficientnet_b0", pretrained=False, num_classes=10).eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.randn(1, 3, 32, 32),), str(path), dynamo=False, opset_version=13,
                              input_names=["x"], output_names=["y"])
    return str(path)


def sources(names: list[str], work: Path) -> dict[str, str]:
    known = {"resnet18": "model_search:resnet18", "mobilenet_v2": "model_search:mobilenet_v2",
             "efficientnet_b0.onnx": None}
    out = {}
    for name in names:
        if name not in known:
            raise SystemExit(f"unknown model {name!r} (known: {', '.join(known)})")
        out[name] = known[name] or export_efficientnet_b0(work)
    return out


# --- sizes ---------------------------------------------------------------------------------------


def params(space, arch: str) -> int:
    return sum(p.numel() for p in space.build(arch).parameters())


def sigma_from_sizes(sizes: list[int], mu: float) -> float:
    """The sharpest sigma (millions squared) at which every sampled size still scores above zero.

    regswap = swap * exp(-(theta - mu)^2 / sigma): with sigma = max (theta - mu)^2 / 350 the farthest
    sampled variant keeps a factor of exp(-350) (a float, so candidates far from the target still
    rank by distance), and a variant within a few per cent of mu loses little. Sizes only, never
    accuracy.
    """
    return max((s / 1e6 - mu) ** 2 for s in sizes) / 350.0


def uniform_baseline(space, target: int, steps: int = 24) -> tuple[str, int]:
    """The original with every width group at one keep-ratio r, r bisected to ``target`` parameters."""
    count = sum(p.kind == "width" for p in space.points)
    lo, hi, best = 0.0, 1.0, None
    for _ in range(steps):
        r = round((lo + hi) / 2, 3)
        arch = space.canonical(f"w:{r}*{count}")
        size = params(space, arch)
        if best is None or abs(size - target) < abs(best[1] - target):
            best = (arch, size)
        if size > target:
            hi = r
        else:
            lo = r
        if hi - lo < 1e-3:
            break
    return best


# --- short training ----------------------------------------------------------------------------


def load_cifar(train: int, test: int):
    """The file is sorted by class, so the split is per class: its first train/10 images train,
    its last test/10 test (8,000 and 2,000: 800 and 200 of each class)."""
    data = np.load(DATA)
    x = torch.tensor(data["x"]).permute(0, 3, 1, 2).float().div(255)
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    y = torch.tensor(data["y"]).long()
    first, last = [], []
    for c in range(10):
        index = torch.nonzero(y == c).flatten()
        first.append(index[:train // 10])
        last.append(index[len(index) - test // 10:])
    first, last = torch.cat(first), torch.cat(last)
    return (x[first], y[first]), (x[last], y[last])


def train_and_test(space, arch: str, seed: int, data, epochs: int, device: str, batch: int = 128) -> float:
    """Test accuracy after training from a seeded default initialisation: SGD with Nesterov momentum
    0.9, lr 0.05 on a cosine schedule, weight decay 5e-4, random horizontal flips."""
    (x, y), (xt, yt) = data
    torch.manual_seed(seed)
    model = space.build(arch).to(device).train()
    steps = epochs * math.ceil(len(x) / batch)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=0.05, total_steps=steps, pct_start=0.15)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch):
            index = order[start:start + batch]
            inputs, targets = x[index], y[index]
            flip = torch.rand(len(index), generator=generator) < 0.5
            inputs = torch.where(flip.view(-1, 1, 1, 1), inputs.flip(3), inputs)
            loss = F.cross_entropy(model(inputs.to(device)), targets.to(device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(xt), 500):
            correct += (model(xt[start:start + 500].to(device)).argmax(1).cpu() == yt[start:start + 500]).sum().item()
    return correct / len(xt)


# --- one model -----------------------------------------------------------------------------------


def run_model(name: str, source: str, args, data) -> list[dict]:
    from swapfw.plugins import get_space
    from swapfw.scoring.score import score
    from swapfw.studies.search import SearchSettings, search

    tick = time.perf_counter()
    space = get_space("model", {"source": source})
    bind_s = time.perf_counter() - tick
    original = space.params
    tick = time.perf_counter()
    sizes = [params(space, a) for a in space.sample(args.size_samples, 0)]
    sizes_s = time.perf_counter() - tick
    print(f"\n{name}: {original / 1e6:.3f} M params, {space.describe()['per_kind']}, analysed in {bind_s:.1f} s; "
          f"{len(sizes)} sampled sizes {min(sizes) / 1e6:.2f}-{max(sizes) / 1e6:.2f} M ({sizes_s:.1f} s)", flush=True)
    rows = []
    for fraction in args.fractions:
        target = fraction * original
        mu = target / 1e6
        sigma = sigma_from_sizes(sizes, mu)
        settings = SearchSettings(space="model", build_options={"source": source}, mu=mu, sigma=sigma,
                                  data=f"cifar10:{DATA}", batch=args.batch, population=args.population,
                                  cycles=args.cycles, mutations=args.mutations, sample_size=args.sample_size,
                                  seed=0, device=args.device, cache="")
        tick = time.perf_counter()
        report = search(settings)
        search_s = time.perf_counter() - tick
        found = report["best"]["arch"]
        found_params = report["best"]["params"]
        uniform, uniform_params = uniform_baseline(space, found_params)
        swaps = {}
        for label, arch in (("found", found), ("uniform", uniform)):
            result = score(f"model:{arch}", build_options={"source": source}, data=f"cifar10:{DATA}",
                           batch=args.batch, seed=0, device=args.device)
            swaps[label] = result.swap
        accuracy, train_s = {"found": [], "uniform": []}, 0.0
        for seed in range(args.seeds):
            for label, arch in (("found", found), ("uniform", uniform)):
                tick = time.perf_counter()
                accuracy[label].append(train_and_test(space, arch, seed, data, args.epochs, args.device))
                train_s += time.perf_counter() - tick
        row = {"model": name, "source": source, "fraction": fraction, "original_params": original,
               "target_params": round(target), "mu": mu, "sigma": sigma, "found": found, "found_params": found_params,
               "found_vs_target": found_params / target - 1, "uniform": uniform, "uniform_params": uniform_params,
               "uniform_ratio": float(uniform.split("|")[0].split(":")[1].split("*")[0]),
               "swap_found": swaps["found"], "swap_uniform": swaps["uniform"],
               "accuracy_found": accuracy["found"], "accuracy_uniform": accuracy["uniform"],
               "evaluations": report["evaluations"], "search_seconds": round(search_s, 1),
               "train_seconds": round(train_s, 1)}
        rows.append(row)
        print(_line(row), flush=True)
    return rows


def _mean(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * statistics.mean(values):.1f} ± {100 * statistics.stdev(values):.1f}"


HEADER = (f"{'model':<21}{'target':>7}{'found M':>9}{'vs target':>10}{'uniform r':>10}{'uniform M':>10}"
          f"{'SWAP found':>11}{'SWAP unif.':>11}{'acc found %':>13}{'acc unif. %':>13}{'search s':>9}{'train s':>8}")


def _line(row: dict) -> str:
    return (f"{row['model']:<21}{row['fraction']:>7.0%}{row['found_params'] / 1e6:>9.3f}"
            f"{row['found_vs_target']:>+10.1%}"
            f"{row['uniform_ratio']:>10.3f}{row['uniform_params'] / 1e6:>10.3f}{row['swap_found']:>11,}"
            f"{row['swap_uniform']:>11,}{_mean(row['accuracy_found']):>13}{_mean(row['accuracy_uniform']):>13}"
            f"{row['search_seconds']:>9.0f}{row['train_seconds']:>8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet18,mobilenet_v2,efficientnet_b0.onnx")
    parser.add_argument("--fractions", default="0.5,0.25", type=lambda t: [float(x) for x in t.split(",")])
    parser.add_argument("--population", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--mutations", type=int, default=4)
    parser.add_argument("--sample-size", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16, help="SWAP's samples S")
    parser.add_argument("--size-samples", type=int, default=30, help="sampled variants whose sizes set sigma")
    parser.add_argument("--seeds", type=int, default=1, help="training seeds per variant")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train", type=int, default=4000, help="training images (the first of each class)")
    parser.add_argument("--test", type=int, default=2000, help="test images (the last of each class)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", default="/tmp/swapfw_model_search", help="where the ONNX export is written")
    parser.add_argument("--out", default="model_search.json")
    args = parser.parse_args()
    if not DATA.is_file():
        print(f"skipped: the CIFAR-10 images are not at {DATA} (../shared/data is absent)")
        return
    if args.train + args.test > 10000:
        raise SystemExit("--train + --test must not exceed the file's 10,000 images")
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(HERE))  # `model_search:resnet18` names this file's factories
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = load_cifar(args.train, args.test)
    print(f"config: {vars(args)}")
    start, rows = time.perf_counter(), []
    for name, source in sources(args.models.split(","), work).items():
        rows += run_model(name, source, args, data)
    wall = time.perf_counter() - start
    print(f"\n{HEADER}")
    for row in rows:
        print(_line(row))
    print(f"wall time {wall / 60:.1f} min")
    report = {"config": vars(args), "wall_seconds": round(wall, 1), "rows": rows}
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
