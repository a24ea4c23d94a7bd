"""NB201 search quality: ground truth of what each searcher finds, over seeds, same budget.

    python benchmarks/nb201_search.py [--seeds 10] [--searchers swap-nas,random] [--cycles 50] [--budget N]

Each searcher runs with every seed on the real CIFAR-10 batch; the found architecture's
CIFAR-10 and CIFAR-100 test accuracies are looked up afterwards (never during the search).
Prints mean ± std per searcher, proxy evaluations per run and seconds per run.
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

from swapfw.studies.search import SearchSettings, search

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--searchers", default="swap-nas,random")
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--mutations", type=int, default=4)
    parser.add_argument("--budget", type=int, default=None, help="distinct architectures scored per run")
    parser.add_argument("--cache", default=None)
    args = parser.parse_args()
    with open(DATA / "nb201" / "nb201.csv", newline="") as fh:
        truth = {row["arch_str"]: row for row in csv.DictReader(fh)}
    print(f"NB201, population {args.population}, cycles {args.cycles}, mutations {args.mutations}, budget {args.budget}, "
          f"{args.seeds} seeds, CIFAR-10 batch of 16, proxy regswap (auto mu/sigma)")
    print(f"{'searcher':<16} {'cifar10_test':>16} {'cifar100_test':>16} {'evaluations':>12} {'s/run':>7}")
    for name in args.searchers.split(","):
        c10, c100, evals, secs = [], [], [], []
        for seed in range(args.seeds):
            report = search(SearchSettings(space="nb201", searcher=name, seed=seed, population=args.population,
                                           cycles=args.cycles, mutations=args.mutations, cache=args.cache,
                                           budget=args.budget,
                                           data=f"cifar10:{DATA / 'cifar10' / 'test.npz'}"))
            row = truth[report["best"]["arch"]]
            c10.append(float(row["cifar10_test"]))
            c100.append(float(row["cifar100_test"]))
            evals.append(report["evaluations"] + report["cached"])
            secs.append(report["seconds"])
        print(f"{name:<16} {statistics.mean(c10):>8.2f} ± {statistics.stdev(c10):<5.2f} "
              f"{statistics.mean(c100):>8.2f} ± {statistics.stdev(c100):<5.2f} {statistics.mean(evals):>12.0f} "
              f"{statistics.mean(secs):>7.1f}")


if __name__ == "__main__":
    main()
