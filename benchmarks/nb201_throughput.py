"""NB201 architectures scored per second on this machine, against plain forward passes.

    python benchmarks/nb201_throughput.py [--archs 50] [--batch 16] [--device cpu] [--space-option cells=1]
                                          [--unsettled]

For each sampled architecture: build and initialise the network (``prepare``), count SWAP on a
batch (NB201 being a ``module_activations`` space, that first count also records the IR from
module hooks: no trace and no forward pass of its own); separately time a plain
``torch.no_grad`` forward of the same network and batch.
The process is settled first (``swapfw.settle_process()``: heap reuse, a frozen GC), as
``run_task`` settles every process that scores a correlation or a search; ``--unsettled`` leaves
it at Python's and glibc's defaults, for the comparison. Both the scoring and the plain forward
run in that same process.
Prints the mean seconds of each step, archs/s, the SWAP count over the forward (the engine's own
overhead), all per-arch work over the forward (what a correlation run pays), and the peak memory.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from swapfw.scoring.data import load_batch
from swapfw.scoring.network import prepare
from swapfw.plugins import get
from swapfw.running.process import settle_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=50)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--space-option", action="append", default=[], help="KEY=INT, e.g. cells=1")
    parser.add_argument("--unsettled", action="store_true", help="leave malloc and the GC at their defaults")
    args = parser.parse_args()
    settled = {"malloc": False, "gc_frozen": False} if args.unsettled else settle_process()
    options = {k: int(v) for k, v in (o.split("=") for o in args.space_option)}
    space = get("spaces", "nb201")
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    inputs = load_batch("gaussian", args.batch, space.input_shape, args.seed).inputs.to(args.device)
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # after the imports and the batch
    steps = {"prepare": [], "swap": [], "forward": []}
    for arch in space.sample(args.archs, args.seed):
        tick = time.perf_counter()
        network = prepare(f"nb201:{arch}", seed=args.seed, device=args.device, build_options=options)
        steps["prepare"].append(time.perf_counter() - tick)
        tick = time.perf_counter()
        network.count(inputs)
        sync()
        steps["swap"].append(time.perf_counter() - tick)
        with torch.no_grad():
            network.loaded.module(inputs)  # warm, then time
            sync()
            tick = time.perf_counter()
            network.loaded.module(inputs)
            sync()
        steps["forward"].append(time.perf_counter() - tick)
    mean = {k: statistics.mean(v) for k, v in steps.items()}
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, "
          f"batch {args.batch}, {args.archs} NB201 archs, build options {options or 'full C=16 N=5'}, "
          f"process settled: {', '.join(k for k, v in settled.items() if v) or 'no'}")
    print(f"mean seconds per arch: build+init {mean['prepare']:.4f}  SWAP count (and IR) {mean['swap']:.4f}  "
          f"plain forward {mean['forward']:.4f}")
    total = sum(sum(steps[k]) for k in ("prepare", "swap"))
    print(f"SWAP count / forward: {mean['swap'] / mean['forward']:.2f}   "
          f"all per-arch work / forward: {total / sum(steps['forward']):.2f}   archs scored per second: {args.archs / total:.2f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = (f"   peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MB"
           if args.device.startswith("cuda") else "")
    print(f"peak RSS {peak_mb:.0f} MB, {peak_mb - before_mb:.0f} MB above the imports (the most one architecture "
          f"held, networks being freed between architectures){gpu}")


if __name__ == "__main__":
    main()
