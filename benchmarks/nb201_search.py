"""NB201 search quality: ground truth of what each searcher finds with each proxy, over seeds, at
equal budgets of distinct architectures.

    python benchmarks/nb201_search.py                                   # the default proxy, 10 seeds
    python benchmarks/nb201_search.py --proxies regswap,calibrated:regswap+zico --budgets 200,500,1000 \\
        --searchers swap-nas,swap-nas-paper,aging-evolution,random --seeds 10

Each (proxy, searcher, budget) runs with seeds 0..N-1 on the CIFAR-10 batch under the space's
default protocol (or ``--protocol``); the found architecture's ``cifar10_test`` and
``cifar100_test`` accuracies are looked up afterwards (never during the search). Prints mean ±
std per row, the distinct architectures scored, and the seconds per run; every run is kept in
``--out`` (JSON), so a killed benchmark resumes where it stopped. Scores go through the score
cache, so runs that meet an architecture already scored with the same seed reuse its value.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

import torch

from swapfw.plugins import get_space
from swapfw.studies.search import SearchSettings, default_proxy, search

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--searchers", default="swap-nas,aging-evolution,random")
    parser.add_argument("--proxies", default=None, help="comma-separated (default: the space's search proxy)")
    parser.add_argument("--budgets", default="1000", help="distinct architectures per run, comma-separated")
    parser.add_argument("--protocol", default=None)
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--mutations", type=int, default=4)
    parser.add_argument("--cache", default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one: as the per-architecture costs)")
    parser.add_argument("--out", default="nb201_search.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    table = DATA / "nb201" / "nb201.csv"
    if not table.exists():
        sys.exit(f"skipped: {table} is absent (../shared/data)")
    with open(table, newline="") as fh:
        truth = {row["arch_str"]: row for row in csv.DictReader(fh)}
    out = Path(args.out)
    runs = json.loads(out.read_text()) if out.exists() else []
    done = {(r["proxy"], r["searcher"], r["budget"], r["seed"], r["protocol_asked"]) for r in runs}
    print(f"NB201, population {args.population}, mutations {args.mutations}, {args.seeds} seeds, "
          f"CIFAR-10 batch, protocol {args.protocol or 'default'}")
    print(f"{'proxy':<34}{'searcher':<17}{'budget':>7} {'cifar10_test':>15} {'cifar100_test':>15} "
          f"{'distinct':>9}{'s/run':>8}")
    for proxy in (args.proxies or default_proxy(get_space("nb201", {}))).split(","):
        for budget in (int(b) for b in args.budgets.split(",")):
            for name in args.searchers.split(","):
                for seed in range(args.seeds):
                    if (proxy, name, budget, seed, args.protocol) in done:
                        continue
                    report = search(SearchSettings(
                        space="nb201", searcher=name, proxy=proxy, seed=seed, population=args.population,
                        mutations=args.mutations, cache=args.cache, budget=budget, cycles=None, protocol=args.protocol,
                        data=f"cifar10:{DATA / 'cifar10' / 'test.npz'}"))
                    row = truth[report["best"]["arch"]]
                    runs.append({"proxy": proxy, "searcher": name, "budget": budget, "seed": seed,
                                 "protocol_asked": args.protocol, "protocol": report["protocol"],
                                 "arch": report["best"]["arch"], "distinct": report["evaluations"] + report["cached"],
                                 "seconds": report["seconds"], "cifar10_test": float(row["cifar10_test"]),
                                 "cifar100_test": float(row["cifar100_test"]),
                                 "cifar10_val": float(row["cifar10_val"])})
                    out.write_text(json.dumps(runs, indent=1))
                mine = [r for r in runs if (r["proxy"], r["searcher"], r["budget"], r["protocol_asked"])
                        == (proxy, name, budget, args.protocol) and r["seed"] < args.seeds]
                c10 = [r["cifar10_test"] for r in mine]
                c100 = [r["cifar100_test"] for r in mine]
                print(f"{proxy:<34}{name:<17}{budget:>7} {statistics.mean(c10):>8.2f} ± {statistics.pstdev(c10):<4.2f} "
                      f"{statistics.mean(c100):>8.2f} ± {statistics.pstdev(c100):<4.2f} "
                      f"{statistics.mean(r['distinct'] for r in mine):>9.0f}"
                      f"{statistics.mean(r['seconds'] for r in mine):>8.1f}", flush=True)


if __name__ == "__main__":
    main()
