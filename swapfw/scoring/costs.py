"""What a network costs where it is deployed: FLOPs, peak memory and measured latency.

Budgets and objectives of a search (``studies.budgets``) read these; each one describes the
*sized* network (the one the user trains and ships), as ``params`` and ``flops`` do in ``score``.

- FLOPs: the multiply-accumulates of one sample, from the sized network's IR (``sized_ir``), the
  same figure ``score`` reports as ``flops``.
- Memory: the peak bytes of an inference at a batch, counted without running it: the network is
  built on the meta device (shapes only) and a forward pass records every tensor it allocates and
  frees. Parameters and buffers, plus the most activation bytes alive at one time.
- Latency: ``median_milliseconds`` times a callable as the latency meters do (warm-up runs, then
  the median of timed runs), and ``machine`` names what measured it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import statistics
import time
import weakref
from typing import Callable

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from ..errors import SwapfwError
from ..graph.importers import load_model, resolve_input_shape
from ..graph.ir import ModelIR, build_ir

MB = 1024 * 1024


def sized_ir(source: str, options: dict | None, traced: bool = True) -> ModelIR:
    """The IR of ``source`` (``SPACE:ARCH``) built with ``options``: built on the CPU and run on one
    sample of zeros in eval mode (FLOPs read shapes only). The global random state is left as it
    was, though PyTorch's default initialisers draw from it."""
    with torch.random.fork_rng(devices=[]):
        sized = load_model(source, options)
    shape = resolve_input_shape(sized.input_shape, None, sized.default_shape)
    with torch.no_grad():
        return build_ir(sized.module.eval(), torch.zeros((1, *shape)), trace=traced)


class _LiveBytes(TorchDispatchMode):
    """Bytes of the tensors ops have allocated and not yet freed, and their peak."""

    def __init__(self):
        super().__init__()
        self.live = self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if any(r.alias_info is not None for r in func._schema.returns):
            return out  # a view or an in-place op: its storage is counted already
        for tensor in tree_flatten(out)[0]:
            if not isinstance(tensor, torch.Tensor):
                continue
            size = tensor.untyped_storage().nbytes()
            self.live += size
            self.peak = max(self.peak, self.live)
            weakref.finalize(tensor, self._free, size)
        return out

    def _free(self, size: int) -> None:
        self.live -= size


def peak_memory_bytes(build: Callable[[], nn.Module], input_shape: tuple, batch: int) -> int:
    """Peak bytes of an inference of ``build()`` on ``batch`` samples of ``input_shape``: its
    parameters and buffers plus the largest total of activations alive at once (eval mode, no
    gradients), the input batch included. Counted on the meta device, so nothing is allocated and no weight initialised;
    a network that cannot run there is built and run on the CPU with the same count."""
    for device in ("meta", "cpu"):
        try:
            with torch.device(device), torch.random.fork_rng(devices=[]):
                module = build().eval()
            weights = sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))
            inputs = torch.zeros((batch, *input_shape), device=device)
            live = _LiveBytes()
            live.live = inputs.numel() * inputs.element_size()  # the input batch is held throughout
            with torch.no_grad(), live:
                out = module(inputs)
            del out
            return int(weights + live.peak)
        except SwapfwError:
            raise
        except Exception:
            if device == "cpu":
                raise
    raise AssertionError("unreachable")


#: the least time warm-up runs take before timing starts (a fresh network's first runs are slow for longer
#: than a fixed count of small ones)
WARMUP_SECONDS = 0.2


def check_timing(runs: int, warmup: int, seconds: float) -> None:
    """A one-line error unless ``median_milliseconds`` can time with these (a meter checks its options
    with it when opened, before any work)."""
    if not (runs >= 1 and warmup >= 0 and seconds >= 0):  # NaN fails too
        raise SwapfwError(f"latency needs runs >= 1, warmup >= 0 and seconds >= 0, got runs={runs}, "
                          f"warmup={warmup}, seconds={seconds}")


def median_milliseconds(run: Callable[[], object], *, warmup: int, runs: int, seconds: float = 0.0,
                        synchronise: Callable[[], None] = lambda: None) -> float:
    """The median wall time of ``run()`` in milliseconds over at least ``runs`` timed calls, and over
    more until they span ``seconds`` (a short network's few runs fall inside one slow moment of a
    shared machine; a longer window makes the median step over it), after untimed ones (caches,
    allocator and lazy initialisation settle in those): ``warmup`` of them, and more until
    WARMUP_SECONDS have passed where ``warmup`` is not zero."""
    check_timing(runs, warmup, seconds)
    start, done = time.perf_counter(), 0
    while done < warmup or (warmup and time.perf_counter() - start < WARMUP_SECONDS):
        run()
        done += 1
    synchronise()
    times, began, collecting = [], time.perf_counter(), gc.isenabled()
    gc.disable()  # as timeit does: a collection is the interpreter's pause, not the network's
    try:
        while len(times) < runs or time.perf_counter() - began < seconds:
            start = time.perf_counter()
            run()
            synchronise()
            times.append((time.perf_counter() - start) * 1000.0)
    finally:
        if collecting:
            gc.enable()
    return statistics.median(times)


def torch_device(name: str, option: str = "--device") -> torch.device:
    """``name`` as a torch device, if this machine has it; else a one-line error naming ``option``."""
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise SwapfwError(f"unknown device {name!r} ({option})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SwapfwError(f"{option} cuda asked for, but torch sees no CUDA device on this machine")
    return dev


def check_device(device: str) -> str:
    """``device`` if this machine has it and latency can be measured on it, else a one-line error (a
    latency measured elsewhere is not this machine's)."""
    if torch_device(device, "--latency-device").type not in ("cpu", "cuda"):
        raise SwapfwError(f"latency is measured on cpu or cuda, not {device!r}")
    return device


def machine(device: str) -> str:
    """The machine a latency on ``device`` describes: the CPU's model name and core count, or the GPU's name."""
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(torch.device(device))
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"{name}, {os.cpu_count()} cores"
