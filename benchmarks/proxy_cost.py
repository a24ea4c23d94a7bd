"""Seconds per architecture for every installed proxy on the same NB201 networks and batch.

    python benchmarks/proxy_cost.py [--archs 20] [--batch 32] [--proxies all] [--device cpu] [--out FILE]

Each proxy runs on the same networks, inputs and seed; a plain ``torch.no_grad`` forward pass
of the same network and batch is timed beside them (the floor any data-driven metric pays; one
untimed pass first). Prints mean seconds per architecture, the ratio to the forward pass, the most
memory a step took above what the process held before it (``common.PeakMemory``; on the CPU a lower
bound, the steps sharing one process) and what each proxy needs, cheapest first. Network building
is shared by all proxies and shown apart. The labelled CIFAR-10 images come from ``SWAPFW_DATA``
(``--images`` for others): the gradient metrics need labels.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

from common import PeakMemory, data_path, forward_seconds, parser, publish, set_threads, synchronize, table, tracked
from swapfw.plugins import get
from swapfw.scoring.data import load_batch
from swapfw.scoring.network import prepare
from swapfw.scoring.proxies import expand, is_population, parts_of, proxy_entry, run_proxy


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--archs", type=int, default=20)
    options.add_argument("--batch", type=int, default=32)
    options.add_argument("--proxies", default="all")
    options.add_argument("--images", default=str(data_path("cifar10", "test.npz")),
                         help="labelled CIFAR-10 (.npz or batches folder; default: SWAPFW_DATA's)")
    options.add_argument("--device", default="cpu")
    options.add_argument("--seed", type=int, default=0)
    args = options.parse_args()
    threads = set_threads(args.threads)
    if not Path(args.images).exists():
        sys.exit(f"skipped: labelled images not found at {args.images} (the gradient metrics need labels; set "
                 "SWAPFW_DATA or --images)")
    names = [n for n in expand(args.proxies.split(",")) if not is_population(n) and not parts_of(n)]
    space = get("spaces", "nb201")
    batch = load_batch(f"cifar10:{args.images}", args.batch, space.input_shape, args.seed)
    seconds = {n: [] for n in ["(build network)", "(plain forward)", *names]}
    peak_mb = {n: 0.0 for n in seconds}
    for arch in tracked(space.sample(args.archs, args.seed), "NB201 architectures"):
        with PeakMemory(args.device) as peak:
            tick = time.perf_counter()
            network = prepare(f"nb201:{arch}", seed=args.seed, device=args.device)
            seconds["(build network)"].append(time.perf_counter() - tick)
        peak_mb["(build network)"] = max(peak_mb["(build network)"], peak.mb)
        with PeakMemory(args.device) as peak:
            seconds["(plain forward)"].append(forward_seconds(network.loaded.module, batch.inputs.to(network.device),
                                                              args.device))
        peak_mb["(plain forward)"] = max(peak_mb["(plain forward)"], peak.mb)
        for name in names:
            network.memo.clear()  # swap and patterns share one count; time each on its own
            with PeakMemory(args.device) as peak:
                tick = time.perf_counter()
                run_proxy(name, network, batch, args.seed)
                synchronize(args.device)
                seconds[name].append(time.perf_counter() - tick)
            peak_mb[name] = max(peak_mb[name], peak.mb)
    forward = statistics.mean(seconds["(plain forward)"])
    memory = "peak GPU MB" if args.device.startswith("cuda") else "peak RSS MB"
    print(f"torch {torch.__version__}, device {args.device}, threads {threads}, "
          f"{args.archs} NB201 archs (C=16, N=5), batch {args.batch} CIFAR-10 images")
    rows = [[name, round(statistics.mean(times), 4), round(statistics.mean(times) / forward, 1), round(peak_mb[name]),
             _needs(name)] for name, times in sorted(seconds.items(), key=lambda item: statistics.mean(item[1]))]
    result = table(f"Seconds per architecture of every proxy, {args.archs} NB201 networks (C=16, N=5), batch "
                   f"{args.batch} CIFAR-10 images, device {args.device}, {threads} thread(s), cheapest first",
                   ["proxy", "s/arch", "x forward", memory, "needs"], rows,
                   ["(plain forward): the floor, a torch.no_grad forward of the same network and batch",
                    "memory: the most a step took above what the process held before it (on the CPU a lower bound: "
                    "the steps share one process)"])
    publish(args, "proxy_cost", [result], {"seconds": seconds, "peak_mb": peak_mb}, device=args.device,
            doc=__doc__)


def _needs(name: str) -> str:
    if name.startswith("("):
        return ""
    needs = set(getattr(proxy_entry(name).obj, "needs", ()))
    return ",".join(sorted(needs)) or "-"


if __name__ == "__main__":
    main()
