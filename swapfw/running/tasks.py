"""One scoring task and the function that runs it, wherever an executor puts it.

A task is one architecture of one space with the proxies still missing for it, plus every
setting that changes their values: so a worker needs nothing from the driver besides the task
(and the plugins installed where it runs). One network is built per task and shared by its
proxies, which is why a task carries several proxies rather than one.
"""

from __future__ import annotations

import functools
import resource
import sys
import time
from dataclasses import dataclass, field, replace

import torch

from ..errors import error_line
from ..plugins import adopt_worker_state
from ..scoring.data import Batch, load_batch
from .process import settle_process


@dataclass(frozen=True)
class Task:
    space: str
    arch: str
    proxies: tuple[str, ...]
    data: str
    batch: int
    seed: int
    input_shape: tuple[int, ...]
    device: str = "cpu"
    repeats: int = 1
    binariser: str | None = None
    build_options: tuple[tuple[str, object], ...] = ()  # sorted items: hashable and picklable
    size_options: tuple[tuple[str, object], ...] | None = None  # the sized network's; None: the scored one
    plugins: tuple = ()  # ``swapfw.plugins.worker_state()`` of the driver: the worker loads the same plugins

    def without(self, done) -> "Task":
        """The same task for the proxies not in ``done``."""
        return replace(self, proxies=tuple(p for p in self.proxies if p not in done))


@dataclass
class TaskResult:
    """Values of the proxies that ran; ``errors`` names those that raised (one line each).

    ``seconds`` is each proxy's time and ``build_seconds`` the network's (load, init, trace):
    together the task's cost, apart from how it was shipped. ``peak_rss_mb`` is the peak resident
    memory of the process that ran it, so far (what a worker needs), and ``peak_gpu_mb`` the GPU
    memory the task itself allocated at most (what decides how many workers share a GPU).
    """

    values: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    build_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    peak_gpu_mb: float = 0.0


@functools.lru_cache(maxsize=8)
def task_batch(data: str, samples: int, shape: tuple[int, ...], seed: int) -> Batch:
    """The input batch, loaded once per worker for all the tasks that share it."""
    return load_batch(data, samples, shape, seed)


def run_task(task: Task) -> TaskResult:
    """Build the network once and run each proxy on it; a proxy that raises is reported, not fatal."""
    from ..scoring.network import prepare
    from ..scoring.proxies import run_proxy

    settle_process()  # once per process: heap reuse and a frozen GC (values are unchanged)
    result, tick = TaskResult(), time.perf_counter()
    try:
        adopt_worker_state(task.plugins)  # the driver's plugin selection and code-registered plugins
    except Exception as exc:
        result.errors = {p: error_line(exc) for p in task.proxies}
        return result
    gpu = _gpu_of(task.device)
    if gpu is not None:
        torch.cuda.reset_peak_memory_stats(gpu)
        before = torch.cuda.memory_allocated(gpu)
    try:
        batch = task_batch(task.data, task.batch, tuple(task.input_shape), task.seed)
        network = prepare(f"{task.space}:{task.arch}", input_shape=task.input_shape, seed=task.seed,
                          device=task.device, binariser=task.binariser, build_options=dict(task.build_options),
                          size_options=None if task.size_options is None else dict(task.size_options),
                          settings={"repeats": task.repeats})
    except Exception as exc:  # the whole task failed: every proxy reports it
        result.errors = {p: error_line(exc) for p in task.proxies}
    else:
        result.build_seconds = time.perf_counter() - tick
        for proxy in task.proxies:
            tick = time.perf_counter()
            try:
                result.values[proxy] = run_proxy(proxy, network, batch, task.seed)
            except Exception as exc:
                result.errors[proxy] = error_line(exc)
            result.seconds[proxy] = time.perf_counter() - tick
    result.peak_rss_mb = _peak_rss_mb()
    if gpu is not None:
        result.peak_gpu_mb = (torch.cuda.max_memory_allocated(gpu) - before) / 2**20
    return result


def _gpu_of(device: str) -> torch.device | None:
    """The CUDA device a task runs on, if any and if it exists (a bad device fails in ``prepare``)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        return None
    if dev.type != "cuda" or not torch.cuda.is_available():
        return None
    index = torch.cuda.current_device() if dev.index is None else dev.index
    return torch.device("cuda", index) if index < torch.cuda.device_count() else None


def _peak_rss_mb() -> float:
    """This process's peak resident memory since it started (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024
