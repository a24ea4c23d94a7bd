"""Search your own model: does the model space find a better variant than uniform width scaling?

    python benchmarks/model_search.py [--out FILE]                     # CPU configuration (below)
    python benchmarks/model_search.py --device cuda --seeds 3 --epochs 10 --train 8000 --cycles 30

For each model (torchvision resnet18 and mobilenet_v2 with 10 classes, and timm efficientnet_b0
exported to ONNX at opset 13 and searched from that file) and each target fraction of the
original's parameters:

1. ``swapfw search --space model`` with swap-nas and regularised SWAP, mu = the target in
   millions and sigma derived from sampled sizes alone (``sigma_from_sizes``);
2. the uniform baseline: every width group at one keep-ratio, found by bisection to have the
   found variant's parameter count (kernels, depth and activations as the original);
3. with ``--evaluations K``, the hybrid: the same search, then K of the architectures it scored
   trained (the ``train`` evaluator, validated on the ``--val``/10 images of each class after the
   training ones) and the best validated one kept;
4. SWAP of each (same batch, seed and protocol), and each trained from scratch on CIFAR-10 images
   of ``cifar10/test.npz`` (the file is sorted by class: per class, the first
   ``--train``/10 images train and the last ``--test``/10 test), with the train evaluator's
   recipe, epochs and seeds.

Prints a table and writes every number to ``--out`` (JSON). Needs ``cifar10/test.npz`` under
``SWAPFW_DATA`` (skips, saying so, when it is absent).
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from common import Progress, need_data, parser, publish, set_threads, table
HERE = Path(__file__).resolve().parent
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


def load_cifar(path: Path, train: int, test: int):
    """The file is sorted by class, so the split is per class: its first train/10 images train,
    its last test/10 test (8,000 and 2,000: 800 and 200 of each class)."""
    data = np.load(path)
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


def train_and_test(space, arch: str, seed: int, data, epochs: int, device: str) -> float:
    """Test accuracy (a fraction) after the train evaluator's recipe (one recipe for every row, and
    the one the hybrid's evaluations use): SGD with Nesterov momentum 0.9, lr 0.05 on a cosine
    schedule, weight decay 5e-4, batches of 128, random crops and flips."""
    from swapfw_plugins.evaluators.train import train_and_validate

    torch.manual_seed(seed)
    model = space.build(arch).to(device)
    settings = {"epochs": epochs, "steps": 0, "batch": 128, "lr": 0.05}
    return train_and_validate(model, data[0], data[1], settings, seed, device) / 100


# --- one model -----------------------------------------------------------------------------------


def run_model(name: str, source: str, args, data, images: str, kinds: str | None = None) -> list[dict]:
    import swapfw
    from swapfw.plugins import get_space

    options = {"source": source, **({"kinds": kinds} if kinds else {})}
    tick = time.perf_counter()
    space = get_space("model", options)
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
        tick = time.perf_counter()
        report = swapfw.search(space="model", space_options=options, mu=mu, sigma=sigma, data=images,
                               batch=args.batch, population=args.population, cycles=args.cycles,
                               mutations=args.mutations, sample_size=args.sample_size, seed=0, device=args.device,
                               no_cache=True, threads=args.threads, progress=Progress(every=60))
        search_s = time.perf_counter() - tick
        found = report["best"]["arch"]
        found_params = report["best"]["params"]
        uniform, uniform_params = uniform_baseline(space, found_params)
        variants = [("found", found), ("uniform", uniform)]
        hybrid = None
        if args.evaluations:  # the same search, then K finalists trained on images apart from the test ones
            tick = time.perf_counter()
            hybrid = swapfw.search(space="model", space_options=options, mu=mu, sigma=sigma, data=images,
                                   batch=args.batch, population=args.population, cycles=args.cycles,
                                   mutations=args.mutations, sample_size=args.sample_size, seed=0,
                                   device=args.device, no_cache=True, threads=args.threads, evaluator="train",
                                   evaluations=args.evaluations, selection=args.selection,
                                   evaluator_options={"data": images, "epochs": args.epochs, "subset": args.train,
                                                      "val": args.val}, progress=Progress(every=60)).to_dict()
            hybrid["search_seconds"] = round(time.perf_counter() - tick, 1)
            variants.append(("hybrid", hybrid["best"]["arch"]))
        swaps = {}
        for label, arch in variants:
            result = swapfw.score(f"model:{arch}", space_options=options, data=images,
                                  batch=args.batch, seed=0, device=args.device)
            swaps[label] = result.swap
        accuracy, train_s = {label: [] for label, _ in variants}, 0.0
        for seed in range(args.seeds):
            for label, arch in variants:
                tick = time.perf_counter()
                accuracy[label].append(train_and_test(space, arch, seed, data, args.epochs, args.device))
                train_s += time.perf_counter() - tick
        row = {"model": name, "source": source, "kinds": kinds or "+".join(space.describe()["per_kind"]),
               "fraction": fraction, "original_params": original,
               "target_params": round(target), "mu": mu, "sigma": sigma, "found": found, "found_params": found_params,
               "found_vs_target": found_params / target - 1, "uniform": uniform, "uniform_params": uniform_params,
               "uniform_ratio": float(uniform.split("|")[0].split(":")[1].split("*")[0]),
               "swap_found": swaps["found"], "swap_uniform": swaps["uniform"],
               "accuracy_found": accuracy["found"], "accuracy_uniform": accuracy["uniform"],
               "evaluations": report["evaluations"], "search_seconds": round(search_s, 1),
               "train_seconds": round(train_s, 1)}
        if hybrid:
            row.update({"hybrid": hybrid["best"]["arch"], "hybrid_params": hybrid["best"]["params"],
                        "swap_hybrid": swaps["hybrid"], "accuracy_hybrid": accuracy["hybrid"],
                        "hybrid_evaluated": hybrid["evaluated"], "hybrid_search_seconds": hybrid["search_seconds"],
                        "hybrid_selection": hybrid["selection"]})
        rows.append(row)
        print(f"{name} at {fraction:.0%}: found {found_params / 1e6:.3f} M, uniform {uniform_params / 1e6:.3f} M, "
              f"accuracy {statistics.mean(accuracy['found']):.3f} / {statistics.mean(accuracy['uniform']):.3f}",
              file=sys.stderr, flush=True)
    return rows


def _table(rows: list[dict], args) -> dict:
    hybrid = any("hybrid" in row for row in rows)
    columns = ["model", "kinds", "original M", "target", "found M", "vs target %", "uniform ratio", "uniform M",
               "SWAP found", "SWAP uniform", "acc found %", "acc uniform %", "acc std found", "acc std uniform",
               "search s", "train s"]
    if hybrid:
        columns[11:11] = ["hybrid M", "acc hybrid %"]
    made = []
    for row in rows:
        line = [row["model"], row["kinds"], round(row["original_params"] / 1e6, 3), f"{row['fraction']:.0%}",
                round(row["found_params"] / 1e6, 3), round(100 * row["found_vs_target"], 1), row["uniform_ratio"],
                round(row["uniform_params"] / 1e6, 3), row["swap_found"], row["swap_uniform"],
                round(100 * statistics.mean(row["accuracy_found"]), 1),
                round(100 * statistics.mean(row["accuracy_uniform"]), 1),
                _std(row["accuracy_found"]), _std(row["accuracy_uniform"]), row["search_seconds"], row["train_seconds"]]
        if hybrid:
            line[11:11] = ([round(row["hybrid_params"] / 1e6, 3), round(100 * statistics.mean(row["accuracy_hybrid"]), 1)]
                           if "hybrid" in row else [None, None])
        made.append(line)
    notes = ["mu = the target in millions, sigma from the sampled sizes alone (sigma_from_sizes)",
             "accuracy: mean over the training seeds (std in points where there are several)"]
    if hybrid:
        notes.append(f"hybrid: the same search, then {args.evaluations} finalists (selection "
                     f"{args.selection or 'the default'}) trained ({args.epochs} epochs on "
                     f"the {args.train} training images, validated on the next {args.val}), the best validated kept")
    return table(
        f"The variant found against the uniformly width-scaled original of the same size: swap-nas with regswap, "
        f"population {args.population}, {args.cycles} cycles, S = {args.batch}; trained {args.epochs} epoch(s) on "
        f"{args.train} CIFAR-10 images, tested on {args.test}, {args.seeds} training seed(s), device {args.device}",
        columns, made, notes)


def _std(values: list[float]) -> float | None:
    return round(100 * statistics.stdev(values), 1) if len(values) > 1 else None


def main() -> None:
    options = parser(__doc__, threads=1)
    options.add_argument("--models", default="resnet18,mobilenet_v2,efficientnet_b0.onnx")
    options.add_argument("--fractions", default="0.5,0.25", type=lambda t: [float(x) for x in t.split(",")])
    options.add_argument("--population", type=int, default=10)
    options.add_argument("--cycles", type=int, default=10)
    options.add_argument("--mutations", type=int, default=4)
    options.add_argument("--sample-size", type=int, default=5)
    options.add_argument("--batch", type=int, default=16, help="SWAP's samples S")
    options.add_argument("--size-samples", type=int, default=30, help="sampled variants whose sizes set sigma")
    options.add_argument("--seeds", type=int, default=1, help="training seeds per variant")
    options.add_argument("--epochs", type=int, default=2)
    options.add_argument("--train", type=int, default=4000, help="training images (the first of each class)")
    options.add_argument("--test", type=int, default=2000, help="test images (the last of each class)")
    options.add_argument("--selection", default=None,
                         help="which finalists the hybrid trains (swapfw search --selection; default: its default)")
    options.add_argument("--evaluations", type=int, default=0,
                         help="also the hybrid: the same search, then this many finalists trained (train evaluator, "
                              "validated on --val images after the training ones), the best kept")
    options.add_argument("--val", type=int, default=1000, help="the hybrid's validation images (after --train's)")
    options.add_argument("--device", default="cpu")
    options.add_argument("--kinds", default="",
                         help="choice kinds to compare, ';'-separated sets of +-joined kinds (e.g. "
                              "'width+kernel+depth+activation;width;width+kernel+depth'); empty: the space's default")
    options.add_argument("--work", default="/tmp/swapfw_model_search", help="where the ONNX export is written")
    args = options.parse_args()
    path = need_data("cifar10", "test.npz")
    if args.train + args.test + (args.val if args.evaluations else 0) > 10000:
        raise SystemExit("--train + --test (+ --val with --evaluations) must not exceed the file's 10,000 images")
    set_threads(args.threads)
    sys.path.insert(0, str(HERE))  # `model_search:resnet18` names this file's factories
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = load_cifar(path, args.train, args.test)
    print(f"config: {vars(args)}")
    start, rows = time.perf_counter(), []
    for name, source in sources(args.models.split(","), work).items():
        for kinds in args.kinds.split(";"):
            rows += run_model(name, source, args, data, f"cifar10:{path}", kinds or None)
    wall = time.perf_counter() - start
    made = _table(rows, args)
    made["notes"].append(f"wall time {wall / 60:.1f} min")
    publish(args, "model_search", [made], {"config": vars(args), "wall_seconds": round(wall, 1), "rows": rows},
            device=args.device, doc=__doc__)


if __name__ == "__main__":
    main()
