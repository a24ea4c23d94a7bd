"""The issue's question: R initialisations of a small network as one batched call, measured.

    python benchmarks/darts_vmap.py [--archs 10] [--repeats 32] [--threads 1] [--out FILE]

For the SWAP authors' DARTS scoring network (``paper``: one reduction cell at C=3, no stem) and
16 image-like samples: R sequential ``torch.no_grad`` forwards of R differently initialised copies,
against one ``torch.func.vmap`` call of ``functional_call`` over the R stacked parameter sets that
also returns every ReLU input (what a count would read); the R sequential forwards are the floor
(the same floor ``darts_repeats.py`` times). BatchNorm runs on batch statistics in both
(``replace_all_batch_norm_modules_``, as scoring does). Prints the mean seconds of each and the
largest output difference: vmap computes through other kernels, so its values match the
sequential ones only to rounding, and patterns of values near zero could differ. Also prints the
most memory each way needs above the prepared copies (``common.PeakMemory``), on the first
genotype, each way in a fresh process so that neither reuses the other's freed memory.
"""

from __future__ import annotations

import copy
import statistics
import time

import torch
from torch.func import functional_call, replace_all_batch_norm_modules_, stack_module_state, vmap

from common import PeakMemory, in_fresh_process, parser, publish, set_threads, table, tracked
from swapfw.plugins import get
from swapfw.running.process import settle_process
from swapfw.scoring.data import load_batch


def main() -> None:
    options = parser(__doc__, threads=1)
    options.add_argument("--archs", type=int, default=10)
    options.add_argument("--repeats", type=int, default=32)
    args = options.parse_args()
    settle_process()
    threads = set_threads(args.threads)
    archs = get("spaces", "darts").sample(args.archs, 0)
    sequential, batched, differences = [], [], []
    for arch in tracked(archs, "DARTS genotypes"):
        models, forward, x = _prepared(arch, args.repeats)
        with torch.no_grad():
            for _ in range(2):  # the second of two runs is timed
                tick = time.perf_counter()
                outputs = torch.stack([model(x) for model in models])
                one = time.perf_counter() - tick
                tick = time.perf_counter()
                together, _ = forward()
                two = time.perf_counter() - tick
        sequential.append(one)
        batched.append(two)
        differences.append(float((together - outputs).abs().max() / outputs.abs().max()))
    peaks = [in_fresh_process(peak_mb, way, archs[0], args.repeats, threads) for way in ("sequential", "vmap")]
    print(f"torch {torch.__version__}, {threads} thread(s), {args.archs} DARTS genotypes, paper network, S=16, "
          f"R={args.repeats}")
    floor = statistics.mean(sequential)
    result = table(
        f"R={args.repeats} initialisations of the paper network (S=16), {args.archs} DARTS genotypes: "
        "sequential forwards (the floor) against one vmapped call",
        ["way", "mean s", "floor / this", "peak RSS MB above the prepared copies"],
        [["R sequential forwards (the floor)", round(floor, 4), 1.0, round(peaks[0])],
         ["one vmapped call (with every ReLU input)", round(statistics.mean(batched), 4),
          round(floor / statistics.mean(batched), 2), round(peaks[1])]],
        [f"{threads} torch thread(s); the second of two runs timed", "memory: the first genotype, each way in a "
         "fresh process", f"largest output difference, relative to the largest output: {max(differences):.2e}"])
    publish(args, "darts_vmap", [result], {"sequential_seconds": sequential, "vmap_seconds": batched,
                                           "relative_differences": differences, "peak_mb": peaks}, doc=__doc__)


def _prepared(arch, repeats: int):
    """R differently initialised copies of the paper network, and the vmapped call over them."""
    space = get("spaces", "darts")
    x = load_batch("imagelike", 16, (3, 32, 32), 0).inputs
    base = space.build(arch, channels=3, layers=1, stem=0).train()
    replace_all_batch_norm_modules_(base)
    models = [copy.deepcopy(base) for _ in range(repeats)]
    with torch.no_grad():
        for model in models:
            for p in model.parameters():
                p.normal_()
    params, buffers = stack_module_state(models)
    relus = [m for m in base.modules() if isinstance(m, torch.nn.ReLU)]

    def one_call(p, b, inputs):
        taken = []
        handles = [r.register_forward_pre_hook(lambda mod, a: taken.append(a[0])) for r in relus]
        try:
            return functional_call(base, (p, b), (inputs,)), taken
        finally:
            for handle in handles:
                handle.remove()

    return models, lambda: vmap(one_call, in_dims=(0, 0, None))(params, buffers, x), x


def peak_mb(way: str, arch, repeats: int, threads: int) -> float:
    """Memory the R forwards (``sequential``) or the one vmapped call (``vmap``) need above the copies."""
    settle_process()
    set_threads(threads)
    models, forward, x = _prepared(arch, repeats)
    with torch.no_grad(), PeakMemory() as peak:
        torch.stack([model(x) for model in models]) if way == "sequential" else forward()
    return peak.mb


if __name__ == "__main__":
    main()
