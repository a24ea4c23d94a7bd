"""The paper's mu/sigma rule, measured: which rule, from model sizes alone, makes regularised SWAP rank
each development split best?

    python benchmarks/mu_sigma_rules.py [--out FILE]                       # every split, seeds 0-2
    python benchmarks/mu_sigma_rules.py --splits nb101,darts --archs 150 --threads 1

For each development split (NB201: its ``cifar10_val`` column; never a test column), every
architecture (or ``--archs`` of them, drawn with seed 0) is scored with ``swap`` under the space's
default protocol for each seed, through the score cache (a killed run resumes, a rerun prints at
once). The space's reference sample (the 1,000 architectures ``auto`` reads, ``swapfw.studies.
reference``) gives the size distribution: parameter counts of the sized network, in millions. Each
rule turns that distribution into mu and sigma without looking at any accuracy, and regularised
SWAP, swap x exp(-(theta - mu)^2 / sigma), is ranked against the split's validation column
(Spearman's rho, the mean over seeds). The table shows every rule per split, their mean over the
splits, and swap and the parameter count alone beside them. ``auto`` is ``largest, sigma=largest^2``,
chosen here (it was ``largest``).
"""

from __future__ import annotations

import math
import statistics

import numpy as np

import swapfw
from common import (Progress, need_data, parser, previous_raw, publish, set_threads, spearman, table,
                    write_results)
from protocol_study import SPLITS
from swapfw.plugins import get_space
from swapfw.studies import reference
from swapfw.studies.correlate import CorrelateSettings
from swapfw.studies.evaluate import resolve
from swapfw.studies.truth import load_truth

NAME = "mu_sigma_rules"


def _stats(sizes: list[float]) -> dict:
    values = np.array(sizes)
    return {"largest": float(values.max()), "q90": float(np.quantile(values, 0.9)),
            "q75": float(np.quantile(values, 0.75)), "median": float(np.median(values)),
            "mean": float(values.mean()), "sd": float(values.std())}


#: rule -> (mu, sigma) from the reference sizes' statistics (millions; sigma in millions squared)
RULES = {
    "largest": lambda s: (s["largest"], s["largest"]),
    "q90": lambda s: (s["q90"], s["q90"]),
    "q75": lambda s: (s["q75"], s["q75"]),
    "median": lambda s: (s["median"], s["median"]),
    "mean": lambda s: (s["mean"], s["mean"]),
    "mean+sd": lambda s: (s["mean"] + s["sd"], s["mean"] + s["sd"]),
    "mean+2sd": lambda s: (s["mean"] + 2 * s["sd"], s["mean"] + 2 * s["sd"]),
    "largest, sigma=2sd^2": lambda s: (s["largest"], 2 * s["sd"] ** 2),
    "q90, sigma=2sd^2": lambda s: (s["q90"], 2 * s["sd"] ** 2),
    "largest, sigma=largest^2": lambda s: (s["largest"], s["largest"] ** 2),
}


def measured(split: str, seeds: list[int], cache: str | None, most: int | None) -> dict:
    """Per seed: the architectures (all of the split's, or ``most`` drawn with the seed), their swap
    values, sized parameter counts (millions) and labels; and the reference sample's size statistics."""
    space_name, truth, metric, build, _ = SPLITS[split]
    path = str(need_data(*truth.split("/")))
    count = len(load_truth(path, metric, get_space(space_name, build)).values)
    result = swapfw.correlate(space=space_name, truth=path, metric=metric, proxies="swap",
                              samples=min(count, most or count), seeds=seeds, space_options=build, cache=cache,
                              progress=Progress(every=60))
    settings = resolve(CorrelateSettings(space=space_name, truth=path, metric=metric, build_options=build))
    sized = get_space(space_name, settings.sized_options())
    runs = [{"seed": run["seed"], "archs": run["archs"], "labels": run["truth"], "swap": run["scores"]["swap"],
             "params": [sized.count_params(arch, **settings.sized_options()) / 1e6 for arch in run["archs"]]}
            for run in result.report["per_seed"]]
    stats = _stats([p / 1e6 for p in reference.sizes(settings, None, None)])
    return {"split": split, "protocol": settings.protocol, "reference": stats, "rho": rhos(stats, runs)}


def rhos(stats: dict, runs: list[dict]) -> dict[str, list[float]]:
    """Spearman's rho per rule (and of swap and params alone), one per seed."""
    out = {}
    for rule, make in RULES.items():
        mu, sigma = make(stats)
        out[rule] = [spearman([s * math.exp(-((p - mu) ** 2) / sigma) for s, p in zip(run["swap"], run["params"])],
                          run["labels"]) for run in runs]
    out["swap"] = [spearman(run["swap"], run["labels"]) for run in runs]
    out["params"] = [spearman(run["params"], run["labels"]) for run in runs]
    return out


def summary(raw: dict) -> dict:
    splits = list(raw)
    per = {split: {name: statistics.mean(values) for name, values in raw[split]["rho"].items()} for split in splits}
    names = [*RULES, "swap", "params"]
    means = {name: statistics.mean(per[s][name] for s in splits) for name in names}
    rows = [[name, *(round(per[s][name], 3) for s in splits), round(means[name], 3)]
            for name in sorted(names, key=lambda n: -means[n])]
    return table("Regularised SWAP's Spearman rho on each development split under mu/sigma rules from sizes alone "
                 "(mean over seeds), best mean first", ["rule", *splits, "mean"], rows,
                 ["rules use the space's 1,000-architecture reference sample's sized parameter counts, never "
                  "accuracies; auto is 'largest'; swap and params: no regularisation, the size alone",
                  "reference sizes (M): " + "; ".join(
                      f"{s} largest {raw[s]['reference']['largest']:.3g}, median {raw[s]['reference']['median']:.3g}"
                      for s in splits)])


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--splits", default=",".join(SPLITS))
    options.add_argument("--seeds", default="0,1,2")
    options.add_argument("--archs", type=int, default=None,
                         help="at most this many architectures of each split per seed (default: all)")
    options.add_argument("--cache", default=None, help="score cache (default: swapfw's own)")
    args = options.parse_args()
    set_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    raw = previous_raw(args, NAME, {})
    for split in args.splits.split(","):
        if split not in SPLITS:
            raise SystemExit(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
        if split in raw:
            continue
        raw[split] = measured(split, seeds, args.cache, args.archs)
        write_results(args, NAME, [], raw, quiet=True)
        print(f"{split} done", flush=True)
    publish(args, NAME, [summary(raw)], raw, doc=__doc__)


if __name__ == "__main__":
    main()
