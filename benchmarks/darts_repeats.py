"""DARTS under the SWAP authors' protocol (``paper``) with many re-initialisations, against its floor.

    python benchmarks/darts_repeats.py [--archs 20] [--repeats 32] [--threads 1] [--unsettled] [--out FILE]

``paper`` scores one reduction cell at C=3 on 16 image-like samples and averages SWAP over R
re-initialisations. Per sampled genotype this prints the seconds of ``swapfw.score`` as a user
calls it (build, R re-initialisations and counts, parameters and FLOPs of the sized C=36
network), of its R counts alone, and of the floor: R plain forward passes of the same network
and batch (no initialisation, no count), and the process's peak resident memory, in total and
above what it held after the imports and the batch. The process is settled first, as ``run_task``
settles every scoring process (``--unsettled``: left at the defaults).
"""

from __future__ import annotations

import statistics
import time

import torch

import swapfw
from common import forward_seconds, parser, peak_rss_mb, publish, set_threads, settle, table, tracked
from swapfw.plugins import get
from swapfw.scoring.data import load_batch
from swapfw.scoring.network import measure_patterns, prepare
from swapfw.scoring.presets import resolve


def main() -> None:
    options = parser(__doc__, threads=1, settle=True)
    options.add_argument("--archs", type=int, default=20)
    options.add_argument("--repeats", type=int, default=32)
    options.add_argument("--seed", type=int, default=0)
    args = options.parse_args()
    threads = set_threads(args.threads)
    settled = settle(args)
    space = get("spaces", "darts")
    preset = resolve(space, "paper", repeats=args.repeats)
    inputs = load_batch(preset.data, preset.batch, space.input_shape, args.seed).inputs
    before_mb = peak_rss_mb()
    steps = {"score": [], "counts": [], "forwards": []}
    for arch in tracked(space.sample(args.archs, args.seed), "DARTS genotypes"):
        model = f"darts:{arch}"
        tick = time.perf_counter()
        swapfw.score(model, protocol="paper", repeats=args.repeats, seed=args.seed)
        steps["score"].append(time.perf_counter() - tick)
        network = prepare(model, seed=args.seed, build_options=preset.build_options,
                          size_options=preset.size_options)
        network.count(inputs)  # the first count (records the IR), so the timed ones are the repeats
        tick = time.perf_counter()
        measure_patterns(network, inputs, seed=args.seed + 1, repeats=args.repeats)
        steps["counts"].append(time.perf_counter() - tick)
        steps["forwards"].append(forward_seconds(network.loaded.module, inputs, passes=args.repeats, warm=False))
    mean = {k: statistics.mean(v) for k, v in steps.items()}
    peak_mb = peak_rss_mb()
    print(f"torch {torch.__version__}, threads {threads}, {args.archs} DARTS genotypes, protocol paper (C=3, one "
          f"reduction cell, S={preset.batch}), R={args.repeats} re-initialisations, process settled: {settled}")
    result = table(
        f"DARTS, protocol paper (C=3, one reduction cell, S={preset.batch}), R={args.repeats} re-initialisations, "
        f"{args.archs} genotypes: mean seconds per genotype against the floor",
        ["threads", "process settled", "swapfw.score s", "R re-initialisations and counts s",
         "floor: R plain forwards s", "score / floor", "counts / floor", "one forward ms", "peak RSS MB",
         "above the imports and the batch MB"],
        [[threads, settled, round(mean["score"], 3), round(mean["counts"], 3), round(mean["forwards"], 3),
          round(mean["score"] / mean["forwards"], 2), round(mean["counts"] / mean["forwards"], 2),
          round(mean["forwards"] / args.repeats * 1e3, 1), round(peak_mb), round(peak_mb - before_mb)]],
        ["swapfw.score as a user calls it: build, R re-initialisations and counts, parameters and FLOPs of the sized "
         "C=36 network", "the floor runs the network the counts ran (BatchNorm on batch statistics), with no "
         "initialisation and no count"])
    publish(args, "darts_repeats", [result], {"seconds": steps}, doc=__doc__)


if __name__ == "__main__":
    main()
