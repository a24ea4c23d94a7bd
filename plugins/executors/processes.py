"""``processes``: worker processes on this machine, through pebble's process pool.

pebble replaces a worker that dies (killed, out of memory) and fails only the task it was
running, where the standard library's pools either break as a whole or hang on that task.
Workers are spawned, not forked, so CUDA works in them; each gets ``cores // workers`` torch
threads (so the machine is not oversubscribed) or ``--threads``, and, with several GPUs
visible and ``--device cuda``, one GPU each.
"""

from __future__ import annotations

import multiprocessing
import signal
from concurrent.futures import as_completed

import torch
from pebble import ProcessExpired, ProcessPool

from swapfw import hookimpl
from swapfw.plugin_api import error_line
from swapfw.plugin_api import cores
from swapfw.plugin_api import run_task


def _gpus(device: str) -> int:
    """GPUs to spread over: only for a bare ``cuda`` (``cuda:1`` pins one device)."""
    return torch.cuda.device_count() if device == "cuda" and torch.cuda.is_available() else 0


def _setup_worker(threads: int, started, gpus: int) -> None:
    torch.set_num_threads(threads)
    if gpus > 1:
        with started.get_lock():  # the n-th worker started takes GPU n mod gpus
            index, started.value = started.value, started.value + 1
        torch.cuda.set_device(index % gpus)


class ProcessesPool:
    def __init__(self, spec):
        gpus = _gpus(spec.device)
        self.workers = spec.workers or (gpus if gpus > 1 else cores())
        self.threads = spec.threads or max(1, cores() // self.workers)
        context = multiprocessing.get_context("spawn")
        started = context.Value("i", 0)
        self._pool = ProcessPool(max_workers=self.workers, initializer=_setup_worker,
                                 initargs=(self.threads, started, gpus), context=context)

    def run(self, tasks):
        futures = {self._pool.schedule(run_task, args=(task,)): i for i, task in enumerate(tasks)}
        try:
            for future in as_completed(futures):
                yield futures[future], _outcome(future)
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        self._pool.stop()
        self._pool.join()


def _outcome(future):
    try:
        return future.result()
    except ProcessExpired as exc:
        if exc.exitcode == -signal.SIGKILL:
            return "worker process killed (SIGKILL: the kernel's out-of-memory killer, or a user)"
        return f"worker process died (exit code {exc.exitcode})"
    except Exception as exc:  # the task could not be sent or its result not returned
        return error_line(exc)


class Processes:
    name = "processes"
    description = "worker processes on this machine (--workers N; one per GPU with --device cuda)"
    open = ProcessesPool  # open(spec) -> a pool


@hookimpl
def register_executors(register):
    register(Processes())
