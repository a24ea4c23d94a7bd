"""Which scoring protocol ranks each space best? SWAP and regularised SWAP under a handful of named
protocols and inputs, on the development splits only (NB201: its validation column).

Every variant is a space's named protocol (``swapfw protocols SPACE``) with at most a field or two
overridden; ground truth only ranks these few presets, it never fits a number. Scores go through
the score cache, so a killed run resumes and a rerun prints the table at once.

    python benchmarks/protocol_study.py [--out FILE]          # every split
    python benchmarks/protocol_study.py --splits darts,nb301 --seeds 0,1,2
    python benchmarks/protocol_study.py --spaces nb101 --executor processes --workers 8 --threads 1

Prints, per split and variant: Spearman's rho of swap, regswap (mu and sigma auto, from the sampled
sizes of the sized network) and params, and the seconds per architecture spent on swap. Every row
is kept in ``--out`` as it ends (a rerun of a variant replaces its row). Needs ``dev/`` (the
development splits), ``nb201/nb201.csv`` and ``cifar10/test.npz`` under ``SWAPFW_DATA``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import swapfw
from common import Progress, data_path, need_data, parser, previous_raw, publish, set_threads, table, write_results

REAL = f"cifar10:{data_path('cifar10', 'test.npz')}"
#: the SWAP authors' batch: the first 16 CIFAR-10 images, unshuffled (written by ``authors_batch``)
AUTHORS = "authors-batch"

#: split -> (space, truth file, metric, extra build options, architectures)
SPLITS = {
    "nb201": ("nb201", "nb201/nb201.csv", "cifar10_val", {}, 500),
    "darts": ("darts", "dev/darts_cifar10.csv", "val_accuracy", {}, 200),
    "nb301": ("darts", "dev/nb301_cifar10.csv", "val_accuracy", {}, None),
    "nb101": ("nb101", "dev/nb101_cifar10.csv", "val_accuracy", {}, None),
    **{f"{level}_{task}": (f"transnas-{level}", f"dev/transnas_{level}_{task}.csv", "val_metric", {"task": task}, None)
       for level in ("micro", "macro") for task in ("class_object", "class_scene", "jigsaw", "autoencoder")},
}

#: space -> variants: (label, protocol, overrides of its fields)
VARIANTS = {
    "nb201": [
        ("benchmark S16 gaussian", "benchmark", {"batch": 16, "data": "gaussian"}),
        ("benchmark S16 images", "benchmark", {"batch": 16, "data": REAL}),
        ("benchmark S16", "benchmark", {"batch": 16}),
        ("benchmark", "benchmark", {}),
        ("benchmark images", "benchmark", {"data": REAL}),
        ("tiny R1", "tiny", {"repeats": 1}),
        ("tiny", "tiny", {}),
        ("tiny R8", "tiny", {"repeats": 8}),
        ("tiny gaussian", "tiny", {"data": "gaussian"}),
        ("tiny images", "tiny", {"data": REAL}),
        ("small", "small", {}),
        ("C16 N1 R1", "tiny", {"build_options": {"channels": 16, "cells": 1}, "repeats": 1}),
        ("C16 N2 R1", "tiny", {"build_options": {"channels": 16, "cells": 2}, "repeats": 1}),
        ("C8 N5 R1", "tiny", {"build_options": {"channels": 8, "cells": 5}, "repeats": 1}),
    ],
    "darts": [
        ("reduced S16 gaussian", "reduced", {"batch": 16, "data": "gaussian"}),
        ("reduced", "reduced", {}),
        ("paper R1", "paper", {"repeats": 1}),
        ("paper", "paper", {}),
        ("paper R32", "paper", {"repeats": 32}),
        ("paper S32", "paper", {"batch": 32}),
        ("paper gaussian", "paper", {"data": "gaussian"}),
        ("paper images", "paper", {"data": REAL}),
        ("paper authors' batch R32", "paper", {"data": AUTHORS, "repeats": 32}),
        ("paper L3", "paper", {"build_options": {"layers": 3}}),
        ("paper L5", "paper", {"build_options": {"layers": 5}}),
    ],
    "nb101": [
        ("benchmark", "benchmark", {}),
        ("benchmark images", "benchmark", {"data": REAL}),
        ("reduced R1", "reduced", {"repeats": 1}),
        ("reduced", "reduced", {}),
        ("reduced images", "reduced", {"data": REAL}),
        ("reduced C8", "reduced", {"build_options": {"channels": 8}}),
    ],
    "transnas-micro": [
        ("benchmark", "benchmark", {}),
        ("benchmark images", "benchmark", {"data": REAL}),
        ("narrow R1", "narrow", {"repeats": 1}),
        ("narrow", "narrow", {}),
        ("narrow images", "narrow", {"data": REAL}),
    ],
}
VARIANTS["transnas-macro"] = VARIANTS["transnas-micro"]


def authors_batch(folder: Path) -> str:
    """The first 16 CIFAR-10 test images, normalised, as a ``tensor:`` batch (the authors used the first
    16 training images; the training set is not here)."""
    import numpy as np

    from swapfw.scoring.data import CIFAR10_MEAN, CIFAR10_STD

    path = folder / "authors_batch.npy"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with np.load(need_data("cifar10", "test.npz")) as data:
            x = data["x"][:16].astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        x = (x - np.array(CIFAR10_MEAN, np.float32).reshape(1, 3, 1, 1)) / np.array(CIFAR10_STD, np.float32).reshape(1, 3, 1, 1)
        np.save(path, np.ascontiguousarray(x))
    return f"tensor:{path}"


def run_variant(split: str, label: str, protocol: str, overrides: dict, args) -> dict:
    space, truth, metric, build, samples = SPLITS[split]
    overrides = dict(overrides)
    if overrides.get("data") == AUTHORS:
        overrides["data"] = authors_batch(Path(args.work))
    build = {**build, **overrides.pop("build_options", {})}
    proxies = ["swap", "regswap", "params"]
    count = args.samples or samples
    truth = need_data(*truth.split("/"))
    start = time.perf_counter()
    report = swapfw.correlate(space=space, truth=str(truth), metric=metric, proxies=proxies,
                              samples=count or _distinct(space, truth, metric, build), seeds=args.seeds,
                              protocol=protocol, space_options=build, cache=args.cache, executor=args.executor,
                              workers=args.workers,
                              threads=args.threads, progress=Progress(every=60), **overrides)
    archs = report.samples * len(report.seeds)
    return {"split": split, "variant": label, "protocol": protocol, "overrides": overrides, "build": build,
            "archs": report.samples, "seeds": report.seeds, "data": report.data, "batch": report.batch,
            "repeats": report.repeats,
            **{f"rho_{p}": report.proxies[p]["spearman_mean"] for p in proxies},
            **{f"std_{p}": report.proxies[p]["spearman_std"] for p in proxies},
            "swap_seconds_per_arch": report.proxies["swap"]["seconds"] / archs,
            "wall_seconds": round(time.perf_counter() - start, 1), "notes": report.notes}


def _distinct(space: str, path: Path, metric: str, build: dict) -> int:
    """Distinct architectures of a truth table (rows naming one network count once)."""
    from swapfw.plugins import get_space
    from swapfw.studies.truth import load_truth

    return len(load_truth(str(path), metric, get_space(space, build)).values)


def main() -> None:
    options = parser(__doc__, threads=1)
    options.add_argument("--splits", default=",".join(SPLITS), help="comma-separated splits")
    options.add_argument("--spaces", default=None, help="every split of these spaces instead (e.g. transnas-micro)")
    options.add_argument("--samples", type=int, default=None, help="architectures per split (default: all; NB201 500)")
    options.add_argument("--seeds", default="0")
    options.add_argument("--cache", default=None, help="score cache (default: swapfw's)")
    options.add_argument("--only", default=None, help="comma-separated variant labels to run")
    options.add_argument("--work", default="/tmp/swapfw_protocol_study", help="where the authors' batch is written")
    options.add_argument("--executor", default="local", help="local, processes or ray: a larger machine scores in parallel")
    options.add_argument("--workers", type=int, default=None, help="the executor's workers (default: its own)")
    args = options.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    need_data("dev"), need_data("cifar10", "test.npz")
    set_threads(args.threads)
    results = previous_raw(args, "protocol_study", [])
    only = set(args.only.split(",")) if args.only else None
    splits = args.splits.split(",")
    if args.spaces:
        unknown = set(args.spaces.split(",")) - set(VARIANTS)
        if unknown:
            sys.exit(f"no development split of space(s) {', '.join(sorted(unknown))} (known: {', '.join(VARIANTS)})")
        splits = [split for split, spec in SPLITS.items() if spec[0] in args.spaces.split(",")]
    for split in splits:
        space = SPLITS[split][0]
        for label, protocol, overrides in VARIANTS[space]:
            if only and label not in only:
                continue
            row = run_variant(split, label, protocol, overrides, args)
            print(f"{split}, {label}: swap {row['rho_swap']:.3f}, regswap {row['rho_regswap']:.3f}, params "
                  f"{row['rho_params']:.3f} ({row['wall_seconds']} s)", file=sys.stderr, flush=True)
            results = [r for r in results if (r["split"], r["variant"], r["seeds"]) != (split, label, row["seeds"])]
            results.append(row)
            write_results(args, "protocol_study", _tables(results), results, quiet=True)
    publish(args, "protocol_study", _tables(results), results, doc=__doc__)


def _tables(results: list[dict]) -> list[dict]:
    """One table per split, its variants in the order they are listed (every row kept)."""
    order = {(space, label): i for space, variants in VARIANTS.items() for i, (label, _, _) in enumerate(variants)}
    tables = []
    for split in [s for s in SPLITS if any(r["split"] == s for r in results)]:
        space, _, metric, _, _ = SPLITS[split]
        rows = sorted((r for r in results if r["split"] == split),
                      key=lambda r: (order.get((space, r["variant"]), len(order)), r["seeds"]))
        notes = sorted({f"{r['variant']}: {note}" for r in rows for note in r["notes"] if "ceiling" in note})
        tables.append(table(
            f"{split} ({space}, {metric})",
            ["variant", "seeds", "archs", "swap", "regswap", "params", "s/arch", "data", "S", "R"],
            [[r["variant"], ",".join(map(str, r["seeds"])), r["archs"], round(r["rho_swap"], 3),
              round(r["rho_regswap"], 3), round(r["rho_params"], 3), round(r["swap_seconds_per_arch"], 3),
              _data(r["data"]), r["batch"], r["repeats"]] for r in rows],
            ["swap, regswap, params: Spearman's rho with the split's metric (mean over the seeds); s/arch: seconds "
             "per architecture spent on swap", *notes]))
    return tables


def _data(source: str) -> str:
    return "images" if source.startswith("cifar10:") else "authors' batch" if source.startswith("tensor:") else source


if __name__ == "__main__":
    main()
