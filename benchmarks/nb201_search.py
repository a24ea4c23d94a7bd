"""NB201 search quality: ground truth of what each searcher finds with each proxy, over seeds, at
equal budgets of distinct architectures.

    python benchmarks/nb201_search.py                                   # the default proxy, 10 seeds
    python benchmarks/nb201_search.py --proxies regswap,calibrated:regswap+zico --budgets 200,500,1000 \\
        --searchers swap-nas,swap-nas-paper,aging-evolution,random --seeds 10

Each (proxy, searcher, budget) runs with seeds 0..N-1 on the CIFAR-10 batch under the space's
default protocol (or ``--protocol``); the found architecture's ``cifar10_test``,
``cifar100_test`` and ``cifar10_val`` accuracies are looked up afterwards (never during the
search). Prints mean ± std per (proxy, searcher, budget) over every run ``--out`` holds, the
distinct architectures scored, and the seconds per run; every run is kept in ``--out`` as it
ends, so a killed benchmark resumes where it stopped (and a second command with other searchers
or seeds adds its rows to the same file). Scores go through the score cache, so runs that meet
an architecture already scored with the same seed reuse its value. Needs ``nb201/nb201.csv`` and
``cifar10/test.npz`` under ``SWAPFW_DATA``.
"""

from __future__ import annotations

import csv
import statistics

import swapfw
from common import (Progress, cifar10_data, need_data, parser, previous_raw, publish, set_threads, table, tracked,
                    write_results)
from swapfw.plugins import get_space
from swapfw.scoring.proxies import default_proxy

METRICS = ("cifar10_test", "cifar100_test", "cifar10_val")


def main() -> None:
    options = parser(__doc__, threads=1)
    options.add_argument("--seeds", type=int, default=10)
    options.add_argument("--searchers", default="swap-nas,aging-evolution,random")
    options.add_argument("--proxies", default=None, help="comma-separated (default: the space's search proxy)")
    options.add_argument("--budgets", default="1000", help="distinct architectures per run, comma-separated")
    options.add_argument("--protocol", default=None)
    options.add_argument("--population", type=int, default=20)
    options.add_argument("--mutations", type=int, default=4)
    options.add_argument("--cache", default=None, help="score cache (default: swapfw's)")
    args = options.parse_args()
    set_threads(args.threads)  # one by default: as the per-architecture costs
    table_path, data = need_data("nb201", "nb201.csv"), cifar10_data()
    with open(table_path, newline="") as fh:
        truth = {row["arch_str"]: row for row in csv.DictReader(fh)}
    runs = previous_raw(args, "nb201_search", {"runs": []})["runs"]
    done = {(r["proxy"], r["searcher"], r["budget"], r["seed"], r["protocol_asked"]) for r in runs}
    print(f"NB201, population {args.population}, mutations {args.mutations}, {args.seeds} seeds, "
          f"CIFAR-10 batch, protocol {args.protocol or 'default'}")
    todo = [(proxy, name, budget, seed)
            for proxy in (args.proxies or default_proxy(get_space("nb201", {}))).split(",")
            for budget in (int(b) for b in args.budgets.split(","))
            for name in args.searchers.split(",") for seed in range(args.seeds)
            if (proxy, name, budget, seed, args.protocol) not in done]
    progress = Progress(every=60)
    for proxy, name, budget, seed in tracked(todo, "search runs", every=0):
        report = swapfw.search(space="nb201", searcher=name, proxy=proxy, seed=seed, population=args.population,
                               mutations=args.mutations, cache=args.cache, budget=budget, protocol=args.protocol,
                               data=data, threads=args.threads, progress=progress)
        row = truth[report.best["arch"]]
        runs.append({"proxy": proxy, "searcher": name, "budget": budget, "seed": seed,
                     "protocol_asked": args.protocol, "protocol": report.protocol, "arch": report.best["arch"],
                     "distinct": report.evaluations + report.cached, "seconds": report.seconds,
                     **{m: float(row[m]) for m in METRICS}})
        write_results(args, "nb201_search", [_table(runs)], {"runs": runs}, quiet=True)
    made = _table(runs)
    publish(args, "nb201_search", [made], {"runs": runs}, doc=__doc__)


def _table(runs: list[dict]) -> dict:
    """Mean ± std per (proxy, searcher, budget, protocol) over every run kept."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        groups.setdefault((run["proxy"], run["searcher"], run["budget"], run["protocol"]), []).append(run)
    rows = []
    for (proxy, searcher, budget, protocol), mine in groups.items():
        row = [proxy, searcher, budget, protocol, len(mine)]
        for metric in METRICS:
            values = [r[metric] for r in mine]
            row += [round(statistics.mean(values), 2), round(statistics.pstdev(values), 2)]
        rows.append(row + [round(statistics.mean(r["distinct"] for r in mine)),
                           round(statistics.mean(r["seconds"] for r in mine), 1)])
    return table("What each searcher finds on NB201 (ground truth of the best architecture found), CIFAR-10 batch",
                 ["proxy", "searcher", "budget", "protocol", "seeds",
                  *(f"{m} {part}" for m in METRICS for part in ("mean", "std")), "distinct", "s/run"], rows,
                 ["std: over the seeds (population standard deviation); budget and distinct: distinct architectures "
                  "scored per run (cached values count)", "accuracies are looked up after the search, never during it"])


if __name__ == "__main__":
    main()
