"""Our training-free metrics against NAS-Bench-Suite-Zero's published values on NB201.

    python benchmarks/suite_zero_check.py [--limit 200] [--datasets cifar10,cifar100,ImageNet16-120]
        [--metrics all] [--batch 32] [--seed 0] [--cache FILE] [--out FILE]

For each dataset and metric, over the same architectures: (a) Spearman between our values and
the published ones, (b) our Spearman with Suite-Zero's accuracy column (``val_accuracy_naslib``)
next to the published values' Spearman with it. Protocol as close to Suite-Zero as we can get:
one batch of 32 labelled CIFAR-10 images, cross-entropy, PyTorch's default initialisation,
seed 0. The batch is 32, not NASLib's default 64, because the published values say so: jacov
is at most about -S for S samples and the published jacov never exceeds -32.2, and our nwot
matches the published one to 1% at S = 32 but doubles at S = 64. Only CIFAR-10 images exist
here, so the CIFAR-100 and ImageNet16-120 networks (100 and 120 classes; 16x16 input for
ImageNet16-120) see CIFAR-10 images (resized): their (b) columns measure that mismatch too.
Scores go through the swapfw score cache, so a killed run resumes. The architectures are a
seeded sample of the published table's rows, scored through the ``Scorer`` that ``correlate``
uses (not ``swapfw.correlate``, whose sample and truth file would be others). Needs
``nb201/suite_zero_proxies.csv`` and ``cifar10/test.npz`` under ``SWAPFW_DATA``.
"""

from __future__ import annotations

import csv
import math
import random
import sys
from pathlib import Path

from scipy import stats

from common import Progress, data_path, parser, publish, set_threads, table
from swapfw.plugins import get_registry
from swapfw.running.executors import ExecutorSpec, open_pool
from swapfw.studies.cache import ScoreCache
from swapfw.studies.evaluate import Scorer, ScoringSettings

PUBLISHED = ["flops", "params", "synflow", "snip", "grasp", "fisher", "grad_norm", "jacov", "nwot", "epe_nas",
             "l2_norm", "plain", "zen"]
DATASETS = {"cifar10": (10, (3, 32, 32)), "cifar100": (100, (3, 32, 32)), "ImageNet16-120": (120, (3, 16, 16))}
ACCURACY = "val_accuracy_naslib"


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _rho(x: list[float], y: list[float]) -> tuple[float, int]:
    pairs = [(a, b) for a, b in zip(x, y) if math.isfinite(a) and math.isfinite(b)]
    if len(pairs) < 3:
        return math.nan, len(pairs)
    a, b = zip(*pairs)
    return float(stats.spearmanr(a, b).statistic), len(pairs)


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--published", default=str(data_path("nb201", "suite_zero_proxies.csv")))
    options.add_argument("--images", default=str(data_path("cifar10", "test.npz")))
    options.add_argument("--datasets", default=",".join(DATASETS))
    options.add_argument("--metrics", default="all", help="comma-separated, or all published ones we have")
    options.add_argument("--limit", type=int, default=None, help="architectures per dataset (seeded sample)")
    options.add_argument("--batch", type=int, default=32)
    options.add_argument("--seed", type=int, default=0)
    options.add_argument("--device", default="cpu")
    options.add_argument("--cache", default=None, help="score cache (default: swapfw's)")
    options.add_argument("--executor", default="local", help="local, processes or ray (as for swapfw correlate)")
    options.add_argument("--workers", default=None, type=int, help="tasks at once for processes / ray")
    args = options.parse_args()
    set_threads(args.threads)
    if not Path(args.published).is_file() or not Path(args.images).is_file():
        sys.exit(f"skipped: published values or CIFAR-10 images missing ({args.published}, {args.images}; set "
                 "SWAPFW_DATA)")
    with open(args.published, newline="") as fh:
        rows = list(csv.DictReader(fh))
    installed = set(get_registry().names("proxies"))
    metrics = [m for m in (PUBLISHED if args.metrics == "all" else args.metrics.split(",")) if m in installed]
    cache = ScoreCache(args.cache)
    results = {}
    try:
        with open_pool(ExecutorSpec(args.executor, args.workers, device=args.device)) as pool:
            for dataset in args.datasets.split(","):
                results[dataset] = _check(dataset, rows, metrics, args, cache, pool)
    finally:
        cache.close()
    print(f"NAS-Bench-Suite-Zero check: batch {args.batch} CIFAR-10 images, seed {args.seed}, "
          f"accuracy column {ACCURACY}")
    made = table(
        f"Our metrics against NAS-Bench-Suite-Zero's published values on NB201: batch {args.batch} CIFAR-10 images, "
        f"seed {args.seed}, accuracy column {ACCURACY}",
        ["dataset", "metric", "n", "rho(ours,pub)", "rho(ours,acc)", "rho(pub,acc)", "diff", "NaN"],
        [[dataset, m, s["n"], round(s["vs_published"], 3), round(s["ours_vs_accuracy"], 3),
          round(s["published_vs_accuracy"], 3), round(s["ours_vs_accuracy"] - s["published_vs_accuracy"], 3),
          s["not_finite"]] for dataset, result in results.items() for m, s in result["summary"].items()],
        ["rho: Spearman over the same architectures; diff: rho(ours,acc) - rho(pub,acc); NaN: our values that are "
         "not finite", "CIFAR-100 and ImageNet16-120 networks see CIFAR-10 images (the only ones here)"])
    publish(args, "suite_zero_check", [made], results, device=args.device, doc=__doc__)


def _check(dataset: str, rows: list[dict], metrics: list[str], args, cache, pool) -> dict:
    classes, shape = DATASETS[dataset]
    chosen = [r for r in rows if r["dataset"] == dataset]
    if args.limit:
        chosen = random.Random(args.seed).sample(chosen, min(args.limit, len(chosen)))
    protocol = ScoringSettings("nb201", f"cifar10:{args.images}", args.batch, 1, build_options={"classes": classes},
                               input_shape=shape, device=args.device, protocol="benchmark")
    scorer = Scorer(protocol, metrics, args.seed, cache, pool)
    archs = [r["arch_str"] for r in chosen]
    progress = Progress(f"{dataset}: architectures", len(archs))
    progress(0, len(archs))
    values, _ = scorer.measure_many(archs, lambda _arch: progress(1))
    ours = {m: [values[a][m] for a in archs] for m in metrics}
    accuracy = [_number(r[ACCURACY]) for r in chosen]
    summary = {}
    for m in metrics:
        published = [_number(r[m]) for r in chosen]
        published = [math.nan if v == -1e8 else v for v in published]  # Suite-Zero's failure sentinel
        rho_pub, n = _rho(ours[m], published)
        summary[m] = {"n": n, "vs_published": rho_pub, "ours_vs_accuracy": _rho(ours[m], accuracy)[0],
                      "published_vs_accuracy": _rho(published, accuracy)[0],
                      "not_finite": sum(not math.isfinite(v) for v in ours[m]),
                      "seconds": round(scorer.seconds.get(m, 0.0), 3)}  # computed here, not from the cache
    return {"archs": archs, "values": ours, "summary": summary}


if __name__ == "__main__":
    main()
