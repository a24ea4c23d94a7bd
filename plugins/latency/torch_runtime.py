"""``torch``: latency of the network as PyTorch runs it (eager, eval mode, no gradients).

Method: the network is built as the user's space options make it, moved to the device, and run
on a batch of random inputs ``warmup`` times untimed, then ``runs`` times timed; the latency is
the median of the timed runs, in milliseconds per batch (CUDA synchronised around each run).
"""

import torch

from swapfw import SwapfwError, hookimpl
from swapfw.plugin_api import median_milliseconds, torch_threads

RUNS, WARMUP = 30, 5


def counts(options: dict) -> tuple[int, int]:
    """(runs, warmup) from the meter's options, checked."""
    try:
        runs, warmup = int(options.get("runs", RUNS)), int(options.get("warmup", WARMUP))
    except ValueError:
        raise SwapfwError(f"latency options runs and warmup take whole numbers, got {options}") from None
    if runs < 1 or warmup < 0:
        raise SwapfwError(f"latency needs runs >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    return runs, warmup


class TorchLatency:
    name = "torch"
    description = "PyTorch eager on the device: median of timed runs after warm-up"
    options = {"runs": f"timed runs; their median is the latency (default {RUNS})",
               "warmup": f"untimed runs first (default {WARMUP})"}
    default = True

    def open(self, space, options, *, device, batch, threads, build, input_shape):
        runs, warmup = counts(options)
        dev = torch.device(device)
        sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

        def measure(arch):
            with torch_threads(threads), torch.no_grad():
                module = build(arch).to(dev).eval()
                inputs = torch.randn((batch, *input_shape), generator=torch.Generator().manual_seed(0)).to(dev)
                return median_milliseconds(lambda: module(inputs), warmup=warmup, runs=runs, synchronise=sync)

        return measure


@hookimpl
def register_latency_meters(register):
    register(TorchLatency())
