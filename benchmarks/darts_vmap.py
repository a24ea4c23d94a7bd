"""The issue's question: R initialisations of a small network as one batched call, measured.

    python benchmarks/darts_vmap.py [--archs 10] [--repeats 32] [--threads 1]

For the SWAP authors' DARTS scoring network (``paper``: one reduction cell at C=3, no stem) and
16 image-like samples: R sequential ``torch.no_grad`` forwards of R differently initialised copies,
against one ``torch.func.vmap`` call of ``functional_call`` over the R stacked parameter sets that
also returns every ReLU input (what a count would read). BatchNorm runs on batch statistics in
both (``replace_all_batch_norm_modules_``, as scoring does). Prints the mean seconds of each and
the largest output difference: vmap computes through other kernels, so its values match the
sequential ones only to rounding, and patterns of values near zero could differ.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch.func import functional_call, replace_all_batch_norm_modules_, stack_module_state, vmap

from swapfw.plugins import get
from swapfw.running.process import settle_process
from swapfw.scoring.data import load_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    settle_process()
    torch.set_num_threads(args.threads)
    space = get("spaces", "darts")
    x = load_batch("imagelike", 16, (3, 32, 32), 0).inputs
    sequential, batched, differences = [], [], []
    for arch in space.sample(args.archs, 0):
        base = space.build(arch, channels=3, layers=1, stem=0).train()
        replace_all_batch_norm_modules_(base)
        models = [copy.deepcopy(base) for _ in range(args.repeats)]
        with torch.no_grad():
            for model in models:
                for p in model.parameters():
                    p.normal_()
        params, buffers = stack_module_state(models)
        relus = [m for m in base.modules() if isinstance(m, torch.nn.ReLU)]

        def forward(p, b, inputs):
            taken = []
            handles = [r.register_forward_pre_hook(lambda mod, a: taken.append(a[0])) for r in relus]
            try:
                return functional_call(base, (p, b), (inputs,)), taken
            finally:
                for handle in handles:
                    handle.remove()

        with torch.no_grad():
            for _ in range(2):  # the second of two runs is timed
                tick = time.perf_counter()
                outputs = torch.stack([model(x) for model in models])
                one = time.perf_counter() - tick
                tick = time.perf_counter()
                together, _ = vmap(forward, in_dims=(0, 0, None))(params, buffers, x)
                two = time.perf_counter() - tick
        sequential.append(one)
        batched.append(two)
        differences.append(float((together - outputs).abs().max() / outputs.abs().max()))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.archs} DARTS genotypes, "
          f"paper network, S=16, R={args.repeats}")
    print(f"R sequential forwards {statistics.mean(sequential):.4f} s   one vmapped call (with every ReLU input) "
          f"{statistics.mean(batched):.4f} s   ratio {statistics.mean(sequential) / statistics.mean(batched):.2f}")
    print(f"largest output difference, relative to the largest output: {max(differences):.2e}")


if __name__ == "__main__":
    main()
