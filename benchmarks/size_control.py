"""Model-size control (paper Fig. 5b/8): with mu = sigma set, the size SWAP-NAS finds follows mu.

    python benchmarks/size_control.py [--space nb201] [--mus 0.2,0.5,0.8,1.1,1.4] [--seeds 5] [--cycles 10]
        [--out FILE]
    python benchmarks/size_control.py --space darts --mus 0.2,0.25,0.3,0.35,0.4 --batch 32

Each search is swap-nas scoring with regularised SWAP (``--proxy``; the space's own search proxy,
an aggregate for NB201, would blur what mu does). Prints, per mu (millions of parameters), the
mean ± std size of the architectures found over the seeds, and the Spearman correlation between
mu and the found sizes over all runs.
"""

from __future__ import annotations

import statistics

from scipy import stats

import swapfw
from common import Progress, parser, publish, set_threads, table, tracked


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--space", default="nb201")
    options.add_argument("--mus", default="0.2,0.5,0.8,1.1,1.4")
    options.add_argument("--seeds", type=int, default=5)
    options.add_argument("--population", type=int, default=10)
    options.add_argument("--cycles", type=int, default=10)
    options.add_argument("--mutations", type=int, default=4)
    options.add_argument("--proxy", default="regswap", help="the proxy the search scores with (default: regswap)")
    options.add_argument("--protocol", default=None, help="the space's scoring protocol (default: its default)")
    options.add_argument("--data", default=None, help="default: the protocol's")
    options.add_argument("--batch", type=int, default=None, help="default: the protocol's")
    options.add_argument("--sigma", type=float, default=None, help="fixed sigma (default: sigma = mu)")
    options.add_argument("--cache", default=None, help="score cache (default: swapfw's)")
    args = options.parse_args()
    set_threads(args.threads)
    sigma = "mu" if args.sigma is None else args.sigma
    print(f"{args.space}: swap-nas with {args.proxy}, sigma = {sigma}, population {args.population}, cycles "
          f"{args.cycles}, {args.seeds} seeds, protocol {args.protocol or 'default'}, "
          f"data {args.data or 'from the protocol'}")
    mus = [float(m) for m in args.mus.split(",")]
    found: dict[float, list[float]] = {mu: [] for mu in mus}
    progress = Progress(every=60)
    for mu, seed in tracked([(mu, seed) for mu in mus for seed in range(args.seeds)], "searches", every=0):
        report = swapfw.search(space=args.space, searcher="swap-nas", proxy=args.proxy, mu=mu,
                               sigma=args.sigma or mu, seed=seed, population=args.population, cycles=args.cycles,
                               mutations=args.mutations, data=args.data, batch=args.batch, cache=args.cache,
                               protocol=args.protocol, threads=args.threads, progress=progress)
        found[mu].append(report.best["params"] / 1e6)
    xs = [mu for mu in mus for _ in found[mu]]
    ys = [size for mu in mus for size in found[mu]]
    rho = float(stats.spearmanr(xs, ys).statistic)
    made = table(f"Size found against mu: {args.space}, swap-nas with {args.proxy}, sigma = {sigma}, population "
                 f"{args.population}, cycles {args.cycles}, {args.seeds} seeds, protocol {args.protocol or 'default'}",
                 ["mu (M)", "found params mean (M)", "std (M)", "seeds"],
                 [[mu, round(statistics.mean(found[mu]), 3), round(statistics.stdev(found[mu]), 3)
                   if len(found[mu]) > 1 else None, len(found[mu])] for mu in mus],
                 [f"Spearman(mu, found params) over all runs = {rho:.3f}",
                  f"data {args.data or 'as the protocol says'}, batch {args.batch or 'as the protocol says'}"])
    publish(args, "size_control", [made], {"found_millions": {str(mu): v for mu, v in found.items()},
                                           "spearman": rho}, doc=__doc__)


if __name__ == "__main__":
    main()
