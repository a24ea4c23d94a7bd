"""Model-size control (paper Fig. 5b/8): with mu = sigma set, the size SWAP-NAS finds follows mu.

    python benchmarks/size_control.py [--space nb201] [--mus 0.2,0.5,0.8,1.1,1.4] [--seeds 5] [--cycles 10]
    python benchmarks/size_control.py --space darts --mus 0.2,0.25,0.3,0.35,0.4 --batch 32

Prints, per mu (millions of parameters), the mean ± std size of the architectures found over
the seeds, and the Spearman correlation between mu and the found sizes over all runs.
"""

from __future__ import annotations

import argparse
import statistics

from scipy import stats

from swapfw.studies.search import SearchSettings, search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="nb201")
    parser.add_argument("--mus", default="0.2,0.5,0.8,1.1,1.4")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--population", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--mutations", type=int, default=4)
    parser.add_argument("--protocol", default=None, help="the space's scoring protocol (default: its default)")
    parser.add_argument("--data", default=None, help="default: the protocol's")
    parser.add_argument("--batch", type=int, default=None, help="default: the protocol's")
    parser.add_argument("--sigma", type=float, default=None, help="fixed sigma (default: sigma = mu)")
    parser.add_argument("--cache", default=None)
    args = parser.parse_args()
    sigma = "mu" if args.sigma is None else args.sigma
    print(f"{args.space}: swap-nas with sigma = {sigma}, population {args.population}, cycles {args.cycles}, "
          f"{args.seeds} seeds, protocol {args.protocol or 'default'}, data {args.data or 'from the protocol'}")
    print(f"{'mu (M)':>7} {'found params (M)':>20}")
    xs, ys = [], []
    for mu in (float(m) for m in args.mus.split(",")):
        found = []
        for seed in range(args.seeds):
            report = search(SearchSettings(space=args.space, mu=mu, sigma=args.sigma or mu, seed=seed, population=args.population,
                                           cycles=args.cycles, mutations=args.mutations, data=args.data,
                                           batch=args.batch, cache=args.cache, protocol=args.protocol))
            found.append(report["best"]["params"] / 1e6)
        xs += [mu] * len(found)
        ys += found
        print(f"{mu:>7.2f} {statistics.mean(found):>12.3f} ± {statistics.stdev(found):.3f}")
    print(f"Spearman(mu, found params) = {stats.spearmanr(xs, ys).statistic:.3f}")


if __name__ == "__main__":
    main()
