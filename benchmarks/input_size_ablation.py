"""The paper's Table 3 ablation: standard patterns |A| against SWAP at several input sizes.

    python benchmarks/input_size_ablation.py [--samples 300] [--batch 32] [--sizes 3,16,32]

|A| (Definition 3.1) counts distinct whole-network patterns among the S samples, so it is
capped at S and collapses to it as inputs grow; SWAP keeps discriminating. Prints, per input
size, the mean of each metric and its Spearman rho with NB201 CIFAR-10 validation accuracy.
The paper's 15x15 cannot pass NB201's reduction blocks (the conv branch gives 8x8, the
avg-pool shortcut 7x7), so the default middle size is 16x16.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from swapfw.studies.correlate import CorrelateSettings, correlate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--sizes", default="3,16,32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default=None)
    args = parser.parse_args()
    print(f"NB201, {args.samples} archs (seed {args.seed}), S = {args.batch} CIFAR-10 images, full network")
    print(f"{'input':>7} {'mean |A|':>10} {'rho |A|':>8} {'mean SWAP':>12} {'rho SWAP':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        report = correlate(CorrelateSettings(
            space="nb201", truth=str(DATA / "nb201" / "nb201.csv"), metric="cifar10_val",
            proxies=["patterns", "swap"], samples=args.samples, seeds=[args.seed],
            data=f"cifar10:{DATA / 'cifar10' / 'test.npz'}", batch=args.batch, input_shape=(3, size, size),
            cache=args.cache))
        scores = report["per_seed"][0]["scores"]
        print(f"{size:>3}x{size:<3} {statistics.mean(scores['patterns']):>10.1f} "
              f"{report['proxies']['patterns']['spearman_mean']:>8.3f} {statistics.mean(scores['swap']):>12.1f} "
              f"{report['proxies']['swap']['spearman_mean']:>9.3f}")


if __name__ == "__main__":
    main()
