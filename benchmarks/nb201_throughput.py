"""NB201 architectures scored per second on this machine, against plain forward passes.

    python benchmarks/nb201_throughput.py [--archs 50] [--batch 16] [--device cpu] [--space-option cells=1]
                                          [--threads N] [--unsettled] [--out FILE]

For each sampled architecture: build and initialise the network (``prepare``), count SWAP on a
batch (NB201 being a ``module_activations`` space, that first count also records the IR from
module hooks: no trace and no forward pass of its own); separately time a plain
``torch.no_grad`` forward of the same network and batch (the floor; one untimed pass first).
The process is settled first (``swapfw.settle_process()``: heap reuse, a frozen GC), as
``run_task`` settles every process that scores a correlation or a search; ``--unsettled`` leaves
it at Python's and glibc's defaults, for the comparison. Both the scoring and the plain forward
run in that same process.
Prints the mean seconds of each step, archs/s, the SWAP count over the forward (the engine's own
overhead), all per-arch work over the forward (what a correlation run pays), and the peak memory.
"""

from __future__ import annotations

import statistics
import time

import torch

from common import forward_seconds, parser, peak_rss_mb, publish, set_threads, settle, synchronize, table, tracked
from swapfw.plugins import get
from swapfw.scoring.data import load_batch
from swapfw.scoring.network import prepare


def main() -> None:
    options = parser(__doc__, settle=True)
    options.add_argument("--archs", type=int, default=50)
    options.add_argument("--batch", type=int, default=16)
    options.add_argument("--device", default="cpu")
    options.add_argument("--seed", type=int, default=0)
    options.add_argument("--space-option", action="append", default=[], help="KEY=INT, e.g. cells=1")
    args = options.parse_args()
    settled = settle(args)
    threads = set_threads(args.threads)
    build = {k: int(v) for k, v in (o.split("=") for o in args.space_option)}
    space = get("spaces", "nb201")
    inputs = load_batch("gaussian", args.batch, space.input_shape, args.seed).inputs.to(args.device)
    before_mb = peak_rss_mb()  # after the imports and the batch
    steps = {"prepare": [], "swap": [], "forward": []}
    for arch in tracked(space.sample(args.archs, args.seed), "NB201 architectures"):
        tick = time.perf_counter()
        network = prepare(f"nb201:{arch}", seed=args.seed, device=args.device, build_options=build)
        steps["prepare"].append(time.perf_counter() - tick)
        tick = time.perf_counter()
        network.count(inputs)
        synchronize(args.device)
        steps["swap"].append(time.perf_counter() - tick)
        steps["forward"].append(forward_seconds(network.loaded.module, inputs, args.device))
    mean = {k: statistics.mean(v) for k, v in steps.items()}
    total = sum(sum(steps[k]) for k in ("prepare", "swap"))
    peak_mb = peak_rss_mb()
    cuda = args.device.startswith("cuda")
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    print(f"torch {torch.__version__}, device {args.device}, threads {threads}, batch {args.batch}, {args.archs} NB201 "
          f"archs, build options {build or 'full C=16 N=5'}, process settled: {settled}")
    result = table(
        f"NB201 end to end against a plain forward pass (the floor): {args.archs} architectures, "
        f"batch {args.batch} Gaussian, {'build options ' + str(build) if build else 'C=16, N=5'}, device {args.device}",
        ["threads", "process settled", "build + init s", "first count (with IR) s", "plain forward s",
         "count / forward", "all work / forward", "archs/s", "peak RSS MB", "above the imports MB"]
        + (["peak GPU MB"] if cuda else []),
        [[threads, settled, round(mean["prepare"], 4), round(mean["swap"], 4), round(mean["forward"], 4),
          round(mean["swap"] / mean["forward"], 2), round(total / sum(steps["forward"]), 2),
          round(args.archs / total, 2), round(peak_mb), round(peak_mb - before_mb)]
         + ([round(gpu_mb)] if cuda else [])],
        ["mean seconds per architecture; all work = build + init + count",
         "above the imports: the most one architecture held, networks being freed between architectures"])
    publish(args, "nb201_throughput", [result], {"seconds": steps, "build_options": build}, device=args.device,
            doc=__doc__)


if __name__ == "__main__":
    main()
