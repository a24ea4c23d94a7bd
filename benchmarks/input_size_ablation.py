"""The paper's Table 3 ablation: standard patterns |A| against SWAP at several input sizes.

    python benchmarks/input_size_ablation.py [--samples 300] [--batch 32] [--sizes 3,16,32] [--protocol benchmark]
        [--out FILE]

|A| (Definition 3.1) counts distinct whole-network patterns among the S samples, so it is
capped at S and collapses to it as inputs grow; SWAP keeps discriminating. Prints, per input
size, the mean of each metric and its Spearman rho with NB201 CIFAR-10 validation accuracy.
The paper's 15x15 cannot pass NB201's reduction blocks (the conv branch gives 8x8, the
avg-pool shortcut 7x7), so the default middle size is 16x16. The network is the full benchmark
network (protocol ``benchmark``: C=16, N=5, one initialisation), as in the paper. Needs
``nb201/nb201.csv`` and ``cifar10/test.npz`` under ``SWAPFW_DATA``.
"""

from __future__ import annotations

import statistics

import swapfw
from common import Progress, cifar10_data, need_data, parser, publish, set_threads, table
def main() -> None:
    options = parser(__doc__)
    options.add_argument("--samples", type=int, default=300)
    options.add_argument("--batch", type=int, default=32)
    options.add_argument("--sizes", default="3,16,32")
    options.add_argument("--seed", type=int, default=0)
    options.add_argument("--protocol", default="benchmark", help="NB201 scoring protocol (default: the full network)")
    options.add_argument("--cache", default=None, help="score cache (default: swapfw's)")
    args = options.parse_args()
    set_threads(args.threads)
    truth, data = str(need_data("nb201", "nb201.csv")), cifar10_data()
    print(f"NB201, {args.samples} archs (seed {args.seed}), S = {args.batch} CIFAR-10 images, protocol {args.protocol}")
    rows, raw = [], []
    for size in (int(s) for s in args.sizes.split(",")):
        result = swapfw.correlate(space="nb201", truth=truth, metric="cifar10_val", proxies=["patterns", "swap"],
                                  samples=args.samples, seeds=[args.seed], protocol=args.protocol, data=data,
                                  batch=args.batch,
                                  input_shape=(3, size, size), cache=args.cache, threads=args.threads,
                                  progress=Progress(every=30))
        scores = result.report["per_seed"][0]["scores"]
        rows.append([f"{size}x{size}", round(statistics.mean(scores["patterns"]), 1),
                     round(result.proxies["patterns"]["spearman_mean"], 3), round(statistics.mean(scores["swap"]), 1),
                     round(result.proxies["swap"]["spearman_mean"], 3)])
        raw.append({"size": size, **result.to_dict()})
    made = table(f"|A| against SWAP by input size: NB201, {args.samples} architectures (seed {args.seed}), S = "
                 f"{args.batch} CIFAR-10 images, protocol {args.protocol}",
                 ["input", "mean |A|", "rho |A|", "mean SWAP", "rho SWAP"], rows, ["rho: Spearman with cifar10_val"])
    publish(args, "input_size_ablation", [made], raw, doc=__doc__)


if __name__ == "__main__":
    main()
