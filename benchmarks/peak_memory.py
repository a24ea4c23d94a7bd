"""The memory one step of a benchmark needs: ``with PeakMemory(device) as peak: step()``, then ``peak.mb``.

On CUDA: peak allocated GPU memory above what was allocated before the step. On the CPU: the
peak resident memory sampled (every 0.5 ms, Linux /proc/self/statm) during the step above the
resident memory before it; ``ru_maxrss`` cannot say this, as it keeps the process's all-time peak.
Memory the allocator kept from earlier steps and reuses does not show, so in a process that has
run other steps the CPU figure is a lower bound; a fresh process per step gives the full figure.
"""

from __future__ import annotations

import resource
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import torch


class PeakMemory:
    def __init__(self, device: str = "cpu"):
        self.cuda = str(device).startswith("cuda")
        self.mb = 0.0

    def __enter__(self) -> "PeakMemory":
        if self.cuda:
            torch.cuda.synchronize()
            self._before = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            return self
        self._before = self._peak = rss_bytes()
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._done.is_set():
            self._peak = max(self._peak, rss_bytes())
            time.sleep(0.0005)

    def __exit__(self, *exc) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            self.mb = (torch.cuda.max_memory_allocated() - self._before) / 2**20
            return
        self._done.set()
        self._sampler.join()
        self.mb = (max(self._peak, rss_bytes()) - self._before) / 2**20


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def in_fresh_process(step, *args):
    """``step(*args)`` in a new (spawned) process: a memory figure no earlier step's freed memory hides."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(step, *args).result()
