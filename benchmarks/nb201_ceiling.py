"""The ceiling of proxy-driven search on NB201: how good is what each proxy ranks first?

    python benchmarks/nb201_ceiling.py [--out FILE]             # the 1,000-arch reference sample, protocol tiny
    python benchmarks/nb201_ceiling.py --samples all --executor processes --workers 16

Scores a set of NB201 architectures with every listed proxy and aggregate (through the score
cache: a killed run resumes, a rerun prints at once), then prints per proxy: Spearman's rho
with ``cifar10_val`` (what a default may be chosen on), and the ground-truth accuracy of the
proxy's top-1 and the mean of its top-10 and top-100 (``cifar10_val`` to choose;
``cifar10_test`` and ``cifar100_test`` to report). A searcher that maximises a proxy can do no
better than that proxy's top-1; the ``oracle`` row is the set's own best.

By default the set is the calibrated proxies' reference sample (1,000 architectures sampled
with the reference seed), so the aggregates' references cost nothing extra; ``--samples all``
scores all 15,625. ``--out`` keeps every row, ``--scores FILE`` every score (CSV). Needs
``nb201/nb201.csv`` and ``cifar10/test.npz`` under ``SWAPFW_DATA``.
"""

from __future__ import annotations

import csv
import statistics
import tempfile
from pathlib import Path

import swapfw
from common import Progress, cifar10_data, need_data, parser, publish, set_threads, table
from swapfw.plugins import get
from swapfw.running.executors import ExecutorSpec, open_pool
from swapfw.scoring.proxies import proxy_plan
from swapfw.studies.evaluate import NoCache, Scorer, ScoringSettings
from swapfw.studies.reference import reference_archs

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
    options = parser(__doc__)
    options.add_argument("--samples", default="1000", help="architectures: N of the reference sample, or all")
    options.add_argument("--protocol", default=None, help="NB201 scoring protocol (default: the space's)")
    options.add_argument("--proxies", default=PROXIES)
    options.add_argument("--aggregates", default=AGGREGATES)
    options.add_argument("--seed", type=int, default=0)
    options.add_argument("--cache", default=None, help="score cache (default: swapfw's)")
    options.add_argument("--executor", default="local")
    options.add_argument("--workers", type=int, default=None)
    options.add_argument("--cost", type=int, default=20,
                         help="architectures (outside the set, uncached, one thread) to time each proxy on")
    options.add_argument("--scores", default=None, help="write every architecture's scores and accuracies (CSV)")
    args = options.parse_args()
    set_threads(args.threads)
    table_path, data = need_data("nb201", "nb201.csv"), cifar10_data()
    with open(table_path, newline="") as fh:
        rows = {row["arch_str"]: row for row in csv.DictReader(fh)}
    proxies = [p for p in args.proxies.split(",") + args.aggregates.split(",") if p]
    with tempfile.TemporaryDirectory() as work:
        if args.samples == "all":
            truth = table_path
        else:  # the reference sample's rows, so that the aggregates' references are these very scores
            chosen = reference_archs(get("spaces", "nb201"), int(args.samples))
            truth = Path(work) / "truth.csv"
            with open(truth, "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(next(iter(rows.values()))))
                writer.writeheader()
                writer.writerows(rows[arch] for arch in chosen)
        report = swapfw.correlate(space="nb201", truth=str(truth), metric="cifar10_val", proxies=proxies,
                                  samples=len(rows) if args.samples == "all" else int(args.samples),
                                  seeds=[args.seed], protocol=args.protocol, cache=args.cache, data=data,
                                  executor=args.executor, workers=args.workers, threads=args.threads,
                                  progress=Progress(every=60))
    run = report.report["per_seed"][0]
    archs, scores = run["archs"], run["scores"]
    costs = _costs(ScoringSettings(space="nb201", protocol=args.protocol, data=data), proxies, args.cost, args.seed)
    results = [_row("oracle", None, None, archs, [float(rows[a]["cifar10_val"]) for a in archs], rows)]
    for name in proxies:
        results.append(_row(name, report.proxies[name]["spearman_mean"], _cost(name, costs), archs, scores[name],
                            rows))
    print(f"NB201, {len(archs)} architectures, protocol {report.protocol}, data {report.data}, "
          f"S = {report.batch}, {report.repeats} initialisation(s), seed {args.seed}")
    made = table(
        f"What each proxy ranks first: NB201, {len(archs)} architectures, protocol {report.protocol}, CIFAR-10 batch "
        f"(S = {report.batch}, {report.repeats} initialisation(s)), seed {args.seed}",
        ["proxy", "rho val", "s/arch", *(f"{m} top-{k}" for m in REPORT for k in (1, 10, 100))],
        [[row["proxy"], None if row["rho"] is None else round(row["rho"], 3),
          None if row["seconds_per_arch"] is None else round(row["seconds_per_arch"], 3),
          *(round(row[f"top{k}_{m}"], 2) for m in REPORT for k in (1, 10, 100))] for row in results],
        ["rho val: Spearman with cifar10_val; top-k: the mean accuracy of the proxy's k best (ties broken by order "
         "in the set); oracle: the set's own best",
         f"s/arch: a proxy's own time on {args.cost} architectures outside the set, uncached, one thread; an "
         f"aggregate's, the sum of its parts'; building the networks adds {costs['build']:.3f} s/arch"])
    publish(args, "nb201_ceiling", [made], {
        "protocol": report.protocol, "data": report.data, "batch": report.batch, "repeats": report.repeats,
        "build_seconds_per_arch": costs["build"], "archs": len(archs), "rows": results}, doc=__doc__)
    if args.scores:
        with open(args.scores, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["arch", *proxies, *REPORT])
            for i, arch in enumerate(archs):
                writer.writerow([arch, *(scores[p][i] for p in proxies), *(rows[arch][m] for m in REPORT)])


def _costs(settings: ScoringSettings, proxies, count: int, seed: int) -> dict[str, float]:
    """Seconds per architecture of each measured proxy, and of building the networks (key ``build``)."""
    measured, _ = proxy_plan(proxies)
    threads = set_threads(None)
    set_threads(1)
    try:
        with open_pool(ExecutorSpec("local", threads=1)) as pool:
            scorer = Scorer(settings, measured, seed, NoCache(), pool)
            scorer.measure_many(get("spaces", "nb201").sample(count, 10_000 + seed))  # not the reference seed's
    finally:
        set_threads(threads)
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
