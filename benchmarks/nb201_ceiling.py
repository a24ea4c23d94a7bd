"""The ceiling of proxy-driven search on NB201: how good is what each proxy ranks first?

    python benchmarks/nb201_ceiling.py                          # the 1,000-arch reference sample, protocol tiny
    python benchmarks/nb201_ceiling.py --samples all --executor processes --workers 16

Scores a set of NB201 architectures with every listed proxy and aggregate (through the score
cache: a killed run resumes, a rerun prints at once), then prints per proxy: Spearman's rho
with ``cifar10_val`` (what a default may be chosen on), and the ground-truth accuracy of the
proxy's top-1 and the mean of its top-10 and top-100 (``cifar10_val`` to choose;
``cifar10_test`` and ``cifar100_test`` to report). A searcher that maximises a proxy can do no
better than that proxy's top-1; the ``oracle`` row is the set's own best.

By default the set is the calibrated proxies' reference sample (1,000 architectures sampled
with the reference seed), so the aggregates' references cost nothing extra; ``--samples all``
scores all 15,625. Writes ``nb201_ceiling.json`` (every row) and ``nb201_ceiling.csv`` (every
score).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

import torch

from swapfw.plugins import get
from swapfw.running.executors import ExecutorSpec, open_pool
from swapfw.scoring.proxies import proxy_plan
from swapfw.studies.correlate import CorrelateSettings, correlate
from swapfw.studies.evaluate import NoCache, Scorer
from swapfw.studies.reference import reference_archs

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PROXIES = ("swap,regswap,params,flops,synflow,meco,nwot,jacov,zico,zen,snip,grad_norm,"
           "az_expressivity,az_progressivity,az_trainability")
AGGREGATES = ("calibrated:regswap+zico,calibrated:regswap+meco,calibrated:regswap+zico+meco,"
              "calibrated:swap+params+zico,calibrated:regswap+zen,"
              "calibrated:az_expressivity+az_progressivity+az_trainability+flops,calibrated:synflow+nwot,"
              "calibrated:regswap+synflow,calibrated:regswap+nwot,calibrated:regswap+synflow+nwot,"
              "calibrated:swap+synflow+nwot+params,calibrated:regswap+jacov+synflow,calibrated:swap+flops,"
              "calibrated:regswap+flops,calibrated:meco+zico+synflow+nwot")
REPORT = ("cifar10_val", "cifar10_test", "cifar100_test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", default="1000", help="architectures: N of the reference sample, or all")
    parser.add_argument("--protocol", default=None, help="NB201 scoring protocol (default: the space's)")
    parser.add_argument("--proxies", default=PROXIES)
    parser.add_argument("--aggregates", default=AGGREGATES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default=None)
    parser.add_argument("--executor", default="local")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--cost", type=int, default=20,
                        help="architectures (outside the set, uncached, one thread) to time each proxy on")
    parser.add_argument("--out", default="nb201_ceiling")
    args = parser.parse_args()
    table = DATA / "nb201" / "nb201.csv"
    if not table.exists():
        sys.exit(f"skipped: {table} is absent (../shared/data)")
    with open(table, newline="") as fh:
        rows = {row["arch_str"]: row for row in csv.DictReader(fh)}
    out = Path(args.out)
    if args.samples == "all":
        truth = table
    else:  # the reference sample's rows, so that the aggregates' references are these very scores
        chosen = reference_archs(get("spaces", "nb201"), int(args.samples))
        truth = out.with_suffix(".truth.csv")
        with open(truth, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(next(iter(rows.values()))))
            writer.writeheader()
            writer.writerows(rows[arch] for arch in chosen)
    proxies = [p for p in args.proxies.split(",") + args.aggregates.split(",") if p]
    settings = CorrelateSettings(space="nb201", truth=str(truth), metric="cifar10_val", proxies=proxies,
                                 samples=len(rows) if args.samples == "all" else int(args.samples),
                                 seeds=[args.seed], protocol=args.protocol, cache=args.cache,
                                 data=f"cifar10:{DATA / 'cifar10' / 'test.npz'}")
    report = correlate(settings, executor=ExecutorSpec(args.executor, workers=args.workers))
    run = report["per_seed"][0]
    archs, scores = run["archs"], run["scores"]
    costs = _costs(settings, proxies, args.cost, args.seed)
    results = [_row("oracle", None, None, archs, [float(rows[a]["cifar10_val"]) for a in archs], rows)]
    for name in proxies:
        results.append(_row(name, report["proxies"][name]["spearman_mean"], _cost(name, costs), archs, scores[name],
                            rows))
    print(f"NB201, {len(archs)} architectures, protocol {report['protocol']}, data {report['data']}, "
          f"S = {report['batch']}, {report['repeats']} initialisation(s), seed {args.seed}")
    print(f"per-architecture cost: {args.cost} architectures outside the set, uncached, one thread; a proxy's "
          f"s/arch is its own time, an aggregate's the sum of its parts'; building the networks: "
          f"{costs['build']:.3f} s/arch more")
    print(f"{'proxy':<56}{'rho val':>8}{'s/arch':>8}   top-1 / top-10 / top-100 accuracy: "
          + " | ".join(REPORT))
    for row in results:
        tops = " | ".join(" / ".join(f"{row[f'top{k}_{m}']:.2f}" for k in (1, 10, 100)) for m in REPORT)
        rho = "" if row["rho"] is None else f"{row['rho']:.3f}"
        cost = "" if row["seconds_per_arch"] is None else f"{row['seconds_per_arch']:.3f}"
        print(f"{row['proxy']:<56}{rho:>8}{cost:>8}   {tops}")
    out.with_suffix(".json").write_text(json.dumps({"protocol": report["protocol"], "data": report["data"],
                                                    "batch": report["batch"], "repeats": report["repeats"],
                                                    "build_seconds_per_arch": costs["build"],
                                                    "archs": len(archs), "rows": results}, indent=1))
    with open(out.with_suffix(".csv"), "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["arch", *proxies, *REPORT])
        for i, arch in enumerate(archs):
            writer.writerow([arch, *(scores[p][i] for p in proxies), *(rows[arch][m] for m in REPORT)])


def _costs(settings, proxies, count: int, seed: int) -> dict[str, float]:
    """Seconds per architecture of each measured proxy, and of building the networks (key ``build``)."""
    measured, _ = proxy_plan(proxies)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with open_pool(ExecutorSpec("local", threads=1)) as pool:
            scorer = Scorer(settings, measured, seed, NoCache(), pool)
            scorer.measure_many(get("spaces", "nb201").sample(count, 10_000 + seed))  # not the reference seed's
    finally:
        torch.set_num_threads(threads)
    return {"build": scorer.build_seconds / count, **{p: s / count for p, s in scorer.seconds.items()}}


def _cost(name: str, costs: dict[str, float]) -> float:
    """A proxy's own time; an aggregate's, the sum over the proxies it measures (each once)."""
    return sum(costs[leaf] for leaf in proxy_plan([name])[0])


def _row(name, rho, seconds, archs, values, rows) -> dict:
    """Accuracy of the top-k by ``values`` (ties broken by order in the set; NaN ranks last)."""
    order = sorted(range(len(archs)), key=lambda i: (values[i] == values[i], values[i]), reverse=True)
    row = {"proxy": name, "rho": rho, "seconds_per_arch": seconds, "top1_arch": archs[order[0]]}
    for metric in REPORT:
        accs = [float(rows[archs[i]][metric]) for i in order]
        for k in (1, 10, 100):
            row[f"top{k}_{metric}"] = statistics.mean(accs[:k])
    return row


if __name__ == "__main__":
    main()
