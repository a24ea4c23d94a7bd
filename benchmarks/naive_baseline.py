"""swapfw against a naive SWAP scorer (what the authors' code does), end to end, side by side.

    python benchmarks/naive_baseline.py [--archs 20] [--batch 16 64] [--seed 0] [--threads 1] [--out FILE]

The naive scorer is written here, after pym1024/SWAP's ``src/metrics/swap.py``: forward hooks on
every ``nn.ReLU`` module keep each output, the outputs are flattened per sample and concatenated
into the float matrix, ``sign`` binarises it, and ``torch.unique(dim=0)`` over its V x S transpose
counts the distinct patterns. Both score the same NB201 architectures (the benchmark network,
C=16, N=5) on the same Gaussian batch on one thread, interleaved architecture by architecture:
the naive scorer builds the network, initialises it as the authors do and counts; swapfw runs
``swapfw.score('nb201:ARCH', protocol='benchmark', data='gaussian', batch=S, repeats=1)``; the
floor is a plain ``torch.no_grad`` forward of the same network (initialised as the authors do,
BatchNorm on batch statistics) and batch, one untimed pass first.
Printed: mean seconds per architecture, the ratios, and each side's peak resident memory, measured
in a fresh process per side and batch (``common.in_fresh_process``), in total and above what the
process held after its imports.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from common import (forward_seconds, in_fresh_process, parser, peak_rss_mb, publish, set_threads, table,  # noqa: E402
                    tracked)


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


def side(name: str, archs: list[str], batch: int, seed: int, threads: int) -> dict:
    """One side alone, in a fresh process: its peak resident memory, and what it held after the imports."""
    from swapfw.plugins import get
    from swapfw.scoring.data import load_batch

    import swapfw  # noqa: F401 - both sides pay the same imports (and plugins) before the baseline is read

    set_threads(threads)
    get("spaces", "nb201")
    inputs = load_batch("gaussian", batch, (3, 32, 32), seed).inputs
    before = peak_rss_mb()
    start = time.perf_counter()
    for arch in archs:
        naive(arch, inputs, seed) if name == "naive" else ours(arch, batch, seed)
    seconds = (time.perf_counter() - start) / len(archs)
    return {"side": name, "batch": batch, "seconds": seconds, "peak_rss_mb": peak_rss_mb(), "before_mb": before}


def main() -> int:
    options = parser(__doc__, threads=1)
    options.add_argument("--archs", type=int, default=20)
    options.add_argument("--batch", type=int, nargs="+", default=[16, 64])
    options.add_argument("--seed", type=int, default=0)
    args = options.parse_args()
    threads = set_threads(args.threads)
    from swapfw.plugins import get
    from swapfw.scoring.data import load_batch

    archs = get("spaces", "nb201").sample(args.archs, args.seed)
    print(f"{args.archs} NB201 architectures (C=16, N=5), {threads} thread(s), interleaved; peak RSS from one process "
          "per side and batch")
    peaks = {}
    for name in ("naive", "swapfw"):
        for batch in args.batch:  # a process per side and batch: peak RSS only ever grows
            peaks[(name, batch)] = in_fresh_process(side, name, archs, batch, args.seed, threads)
    rows, raw = [], {"sides": list(peaks.values()), "seconds": {}}
    for batch in args.batch:
        inputs = load_batch("gaussian", batch, (3, 32, 32), args.seed).inputs
        times = {"naive": [], "swapfw": [], "forward": []}
        naive(archs[0], inputs, args.seed), ours(archs[0], batch, args.seed)  # warm-up: imports, first trace
        for arch in tracked(archs, f"batch {batch}"):
            start = time.perf_counter()
            naive(arch, inputs, args.seed)
            times["naive"].append(time.perf_counter() - start)
            start = time.perf_counter()
            ours(arch, batch, args.seed)
            times["swapfw"].append(time.perf_counter() - start)
            torch.manual_seed(args.seed)
            times["forward"].append(forward_seconds(authors_init(get("spaces", "nb201").build(arch)), inputs))
        raw["seconds"][batch] = times
        n, s, f = (sum(times[k]) / len(archs) for k in ("naive", "swapfw", "forward"))
        naive_side, our_side = peaks[("naive", batch)], peaks[("swapfw", batch)]
        rows.append([batch, round(n, 3), round(s, 3), round(f, 3), round(n / s, 2), round(n / f, 2), round(s / f, 2),
                     round(naive_side["peak_rss_mb"]), round(naive_side["peak_rss_mb"] - naive_side["before_mb"]),
                     round(our_side["peak_rss_mb"]), round(our_side["peak_rss_mb"] - our_side["before_mb"])])
    result = table(
        f"swapfw against a naive scorer (the authors' way), {args.archs} NB201 architectures (C=16, N=5), Gaussian "
        f"batch, {threads} thread(s)",
        ["S", "naive s/arch", "swapfw s/arch", "floor: forward s/arch", "speed-up", "naive / forward",
         "swapfw / forward", "naive peak MB", "naive above the imports MB", "swapfw peak MB",
         "swapfw above the imports MB"], rows,
        ["each scorer's time includes building and initialising the network; the forward does not",
         "peak RSS of a fresh process per side and batch; above the imports: above what it held after the imports, "
         "which both sides hold"])
    publish(args, "naive_baseline", [result], raw, doc=__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
