"""``torch``: latency of the network as PyTorch runs it (eager, eval mode, no gradients).

Method: the network is built as the user's space options make it, moved to the device, and run
on a batch of random inputs ``warmup`` times untimed (and for at least 0.2 s), then timed at least
``runs`` times and for at least ``seconds``; the latency is the median of the timed runs, in
milliseconds per batch (CUDA synchronised around each run).
"""

import torch

from swapfw import SwapfwError, hookimpl
from swapfw.plugin_api import check_timing, median_milliseconds, torch_threads

RUNS, WARMUP, SECONDS = 30, 5, 0.25
#: the options both bundled meters take
OPTIONS = {"runs": f"timed runs at least; their median is the latency (default {RUNS})",
           "seconds": f"the timed runs span at least this long (default {SECONDS})",
           "warmup": f"untimed runs first (default {WARMUP})"}


def method(options: dict) -> dict:
    """``median_milliseconds``' runs, warmup and seconds from the meter's options, checked."""
    try:
        runs, warmup = int(options.get("runs", RUNS)), int(options.get("warmup", WARMUP))
        seconds = float(options.get("seconds", SECONDS))
    except ValueError:
        raise SwapfwError(f"latency options runs and warmup take whole numbers, seconds a number, "
                          f"got {options}") from None
    check_timing(runs, warmup, seconds)
    return {"runs": runs, "warmup": warmup, "seconds": seconds}


class TorchLatency:
    name = "torch"
    description = "PyTorch eager on the device: median of timed runs after warm-up"
    options = OPTIONS
    default = True

    def open(self, space, options, *, device, batch, threads, build, input_shape):
        timing = method(options)
        dev = torch.device(device)
        sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

        def measure(arch):
            with torch_threads(threads), torch.no_grad():
                module = build(arch).to(dev).eval()
                inputs = torch.randn((batch, *input_shape), generator=torch.Generator().manual_seed(0)).to(dev)
                return median_milliseconds(lambda: module(inputs), synchronise=sync, **timing)

        return measure


@hookimpl
def register_latency_meters(register):
    register(TorchLatency())
