"""Seconds per architecture for every installed proxy on the same NB201 networks and batch.

    python benchmarks/proxy_cost.py [--archs 20] [--batch 32] [--proxies all] [--device cpu]

Each proxy runs on the same networks, inputs and seed; a plain ``torch.no_grad`` forward pass
of the same network and batch is timed beside them (the floor any data-driven metric pays).
Prints mean seconds per architecture, the ratio to the forward pass, the most memory a step took
above what the process held before it (``peak_memory.py``; on the CPU a lower bound, the steps
sharing one process) and what each proxy needs, cheapest first. Network building is shared by all
proxies and shown apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from peak_memory import PeakMemory
from swapfw.scoring.data import load_batch
from swapfw.scoring.network import prepare
from swapfw.plugins import get
from swapfw.scoring.proxies import expand, is_population, parts_of, proxy_entry
from swapfw.scoring.proxies import run_proxy

IMAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cifar10" / "test.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--proxies", default="all")
    parser.add_argument("--images", default=str(IMAGES), help="labelled CIFAR-10 (.npz or batches folder)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not Path(args.images).exists():
        sys.exit(f"labelled images not found at {args.images}: the gradient metrics need labels")
    names = [n for n in expand(args.proxies.split(",")) if not is_population(n) and not parts_of(n)]
    space = get("spaces", "nb201")
    batch = load_batch(f"cifar10:{args.images}", args.batch, space.input_shape, args.seed)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    seconds = {n: [] for n in ["(build network)", "(plain forward)", *names]}
    peak_mb = {n: 0.0 for n in seconds}
    for arch in space.sample(args.archs, args.seed):
        with PeakMemory(args.device) as peak:
            tick = time.perf_counter()
            network = prepare(f"nb201:{arch}", seed=args.seed, device=args.device)
            seconds["(build network)"].append(time.perf_counter() - tick)
        peak_mb["(build network)"] = max(peak_mb["(build network)"], peak.mb)
        with PeakMemory(args.device) as peak:
            seconds["(plain forward)"].append(_forward_seconds(network, batch, sync))
        peak_mb["(plain forward)"] = max(peak_mb["(plain forward)"], peak.mb)
        for name in names:
            network.memo.clear()  # swap and patterns share one count; time each on its own
            with PeakMemory(args.device) as peak:
                tick = time.perf_counter()
                run_proxy(name, network, batch, args.seed)
                sync()
                seconds[name].append(time.perf_counter() - tick)
            peak_mb[name] = max(peak_mb[name], peak.mb)
    _print(seconds, peak_mb, args)


def _forward_seconds(network, batch, sync) -> float:
    inputs = batch.inputs.to(network.device)
    with torch.no_grad():
        network.loaded.module(inputs)
        sync()
        tick = time.perf_counter()
        network.loaded.module(inputs)
        sync()
    return time.perf_counter() - tick


def _needs(name: str) -> str:
    if name.startswith("("):
        return ""
    needs = set(getattr(proxy_entry(name).obj, "needs", ()))
    return ",".join(sorted(needs)) or "-"


def _print(seconds: dict, peak_mb: dict, args) -> None:
    forward = statistics.mean(seconds["(plain forward)"])
    memory = "peak GPU MB" if args.device.startswith("cuda") else "peak RSS MB"
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, "
          f"{args.archs} NB201 archs (C=16, N=5), batch {args.batch} CIFAR-10 images")
    print(f"{'proxy':<18}{'s/arch':>10}{'x forward':>11}{memory:>13}  needs")
    for name, times in sorted(seconds.items(), key=lambda item: statistics.mean(item[1])):
        mean = statistics.mean(times)
        print(f"{name:<18}{mean:>10.4f}{mean / forward:>11.1f}{peak_mb[name]:>13.0f}  {_needs(name)}")


if __name__ == "__main__":
    main()
