"""swapfw against a naive SWAP scorer (what the authors' code does), end to end, side by side.

    python benchmarks/naive_baseline.py [--archs 20] [--batch 16 64] [--seed 0]

The naive scorer is written here, after pym1024/SWAP's ``src/metrics/swap.py``: forward hooks on
every ``nn.ReLU`` module keep each output, the outputs are flattened per sample and concatenated
into the float matrix, ``sign`` binarises it, and ``torch.unique(dim=0)`` over its V x S transpose
counts the distinct patterns. Both score the same NB201 architectures (the benchmark network,
C=16, N=5) on the same Gaussian batch on one thread, interleaved architecture by architecture:
the naive scorer builds the network, initialises it as the authors do and counts; swapfw runs
``swapfw.score('nb201:ARCH', protocol='benchmark', data='gaussian', batch=S, repeats=1)``.
Printed: mean seconds per architecture, the ratio, and each side's peak resident memory, measured
in a fresh process per side (``--side naive|swapfw`` runs one side alone and prints its peak), in
total and above what the process held after its imports (one process per side and batch).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


def naive_swap(network: nn.Module, inputs: torch.Tensor) -> int:
    """The authors' count: hooks on ReLU modules, the float V x S matrix, torch.unique."""
    features: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda mod, i, out: features.append(out.detach()))
             for m in network.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            network(inputs)
    finally:
        for hook in hooks:
            hook.remove()
    matrix = torch.sign(torch.cat([f.view(inputs.shape[0], -1) for f in features], 1)).T
    return torch.unique(matrix, dim=0).size(0)


def authors_init(network: nn.Module) -> nn.Module:
    """Conv and linear weights N(0, 1), zero biases, BatchNorm 1 / 0, train mode (batch statistics)."""
    for m in network.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return network.train()


def naive(arch: str, inputs: torch.Tensor, seed: int) -> int:
    from swapfw.plugins import get

    torch.manual_seed(seed)
    return naive_swap(authors_init(get("spaces", "nb201").build(arch)), inputs)


def ours(arch: str, batch: int, seed: int) -> float:
    import swapfw

    return swapfw.score(f"nb201:{arch}", protocol="benchmark", data="gaussian", batch=batch, repeats=1,
                        seed=seed).swap


def side(name: str, archs: list[str], batch: int, seed: int) -> dict:
    from swapfw.scoring.data import load_batch

    import swapfw  # noqa: F401 - both sides pay the same imports before the baseline is read

    inputs = load_batch("gaussian", batch, (3, 32, 32), seed).inputs
    before = _peak_mb()
    start = time.perf_counter()
    for arch in archs:
        naive(arch, inputs, seed) if name == "naive" else ours(arch, batch, seed)
    seconds = (time.perf_counter() - start) / len(archs)
    return {"side": name, "batch": batch, "seconds": seconds, "peak_rss_mb": _peak_mb(), "before_mb": before}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=20)
    parser.add_argument("--batch", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--side", choices=["naive", "swapfw"], help="run one side alone (for its peak memory)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from swapfw.plugins import get
    from swapfw.scoring.data import load_batch

    archs = get("spaces", "nb201").sample(args.archs, args.seed)
    if args.side:
        print(json.dumps([side(args.side, archs, b, args.seed) for b in args.batch]))
        return 0
    print(f"{args.archs} NB201 architectures (C=16, N=5), one thread, interleaved; peak RSS from one process per side")
    print(f"{'batch':>5} {'naive s/arch':>13} {'swapfw s/arch':>14} {'speed-up':>9} {'naive peak MB':>14} "
          f"{'swapfw peak MB':>15}   (MB above the imports, which both processes hold)")
    peaks = {}
    for name in ("naive", "swapfw"):
        for batch in args.batch:  # a process per side and batch: peak RSS only ever grows
            command = [sys.executable, __file__, "--side", name, "--archs", str(args.archs), "--seed", str(args.seed),
                       "--batch", str(batch)]
            (row,) = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
            peaks[(name, batch)] = (row["peak_rss_mb"], row["peak_rss_mb"] - row["before_mb"])
    for batch in args.batch:
        inputs = load_batch("gaussian", batch, (3, 32, 32), args.seed).inputs
        times = {"naive": 0.0, "swapfw": 0.0}
        naive(archs[0], inputs, args.seed), ours(archs[0], batch, args.seed)  # warm-up: imports, first trace
        for arch in archs:
            start = time.perf_counter()
            naive(arch, inputs, args.seed)
            times["naive"] += time.perf_counter() - start
            start = time.perf_counter()
            ours(arch, batch, args.seed)
            times["swapfw"] += time.perf_counter() - start
        n, s = times["naive"] / len(archs), times["swapfw"] / len(archs)
        (naive_peak, naive_own), (our_peak, our_own) = peaks[("naive", batch)], peaks[("swapfw", batch)]
        print(f"{batch:>5} {n:>13.3f} {s:>14.3f} {n / s:>8.2f}x {naive_peak:>8.0f} ({naive_own:>4.0f}) "
              f"{our_peak:>9.0f} ({our_own:>4.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
