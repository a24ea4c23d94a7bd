"""DARTS under the SWAP authors' protocol (``paper``) with many re-initialisations, against its floor.

    python benchmarks/darts_repeats.py [--archs 20] [--repeats 32] [--threads 1] [--unsettled]

``paper`` scores one reduction cell at C=3 on 16 image-like samples and averages SWAP over R
re-initialisations. Per sampled genotype this prints the seconds of ``swapfw.score`` as a user
calls it (build, R re-initialisations and counts, parameters and FLOPs of the sized C=36
network), of its R counts alone, and of the floor: R plain forward passes of the same network
and batch (no initialisation, no count), and the process's peak resident memory, in total and
above what it held after the imports and the batch. The process is settled first, as ``run_task``
settles every scoring process (``--unsettled``: left at the defaults).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

import swapfw
from swapfw.plugins import get
from swapfw.running.process import settle_process
from swapfw.scoring.data import load_batch
from swapfw.scoring.network import measure_patterns, prepare
from swapfw.scoring.presets import resolve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unsettled", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settled = {"malloc": False, "gc_frozen": False} if args.unsettled else settle_process()
    space = get("spaces", "darts")
    preset = resolve(space, "paper", repeats=args.repeats)
    inputs = load_batch(preset.data, preset.batch, space.input_shape, args.seed).inputs
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    steps = {"score": [], "counts": [], "forwards": []}
    for arch in space.sample(args.archs, args.seed):
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
        with torch.no_grad():
            tick = time.perf_counter()
            for _ in range(args.repeats):
                network.loaded.module(inputs)
            steps["forwards"].append(time.perf_counter() - tick)
    mean = {k: statistics.mean(v) for k, v in steps.items()}
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args.archs} DARTS genotypes, protocol "
          f"paper (C=3, one reduction cell, S={preset.batch}), R={args.repeats} re-initialisations, "
          f"process settled: {', '.join(k for k, v in settled.items() if v) or 'no'}")
    print(f"mean seconds per genotype: swapfw.score {mean['score']:.3f}   R re-initialisations and counts "
          f"{mean['counts']:.3f}   floor, R plain forwards {mean['forwards']:.3f}")
    print(f"score / floor {mean['score'] / mean['forwards']:.2f}   counts / floor "
          f"{mean['counts'] / mean['forwards']:.2f}   one forward {mean['forwards'] / args.repeats * 1e3:.1f} ms")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:.0f} MB, {peak_mb - before_mb:.0f} MB above the imports and the batch")


if __name__ == "__main__":
    main()
