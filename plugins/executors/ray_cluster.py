"""``ray``: tasks on a Ray cluster, or on a Ray instance started here when no address is given.

Ray is an optional extra (``pip install 'swapfw[ray]'``), imported only when this executor is
opened. Each task asks Ray for ``--threads`` CPUs (default 1) and, with ``--device cuda``,
one GPU; Ray's own retries are off so that swapfw's rule (retry once, then report) holds on
every executor. swapfw must be installed on every node, and a ``--data`` path must be
readable there.
"""

from __future__ import annotations

import logging
import socket

from swapfw import hookimpl
from swapfw.plugin_api import SwapfwError, error_line
from swapfw.plugin_api import cores
from swapfw.plugin_api import run_task


def _ray():
    try:
        import ray
    except ImportError:
        raise SwapfwError("the ray executor needs Ray: pip install 'swapfw[ray]'") from None
    return ray


def _remote_task(task, threads: int):
    import torch

    torch.set_num_threads(threads)
    return run_task(task)


class RayPool:
    def __init__(self, spec):
        ray = self.ray = _ray()
        self.started = not ray.is_initialized()
        if self.started:
            _start(ray, spec)
        self.threads = spec.threads or 1
        resources = ray.cluster_resources()
        self.workers = max(1, int(resources.get("CPU", 1)) // self.threads)
        gpus = 1 if spec.device.startswith("cuda") else 0
        if gpus:  # tasks asking for a GPU the cluster lacks would wait forever
            if not resources.get("GPU"):
                self.close()
                raise SwapfwError("--device cuda, but the Ray cluster has no GPU")
            self.workers = min(self.workers, int(resources["GPU"]))
        self._remote = ray.remote(_remote_task).options(num_cpus=self.threads, num_gpus=gpus, max_retries=0)

    def run(self, tasks):
        ray = self.ray
        refs = {self._remote.remote(task, self.threads): i for i, task in enumerate(tasks)}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=len(pending), timeout=0.5)
                for ref in done:
                    yield refs[ref], self._outcome(ref)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def _outcome(self, ref):
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None)
            return error_line(cause) if isinstance(cause, BaseException) else f"{type(exc).__name__} (a Ray worker failed)"

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def _check_reachable(address: str) -> None:
    """Fail in seconds, on one line, where Ray itself would retry for minutes and log to stderr."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local" or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise SwapfwError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def _start(ray, spec) -> None:
    options = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
    if spec.address:
        _check_reachable(spec.address)
        options["address"] = spec.address
    else:
        options["num_cpus"] = spec.workers or cores()
    try:
        ray.init(**options)
    except Exception as exc:
        where = f"the Ray cluster at {spec.address}" if spec.address else "a local Ray instance"
        hint = (" (a cluster with token authentication needs RAY_AUTH_MODE=token and its token here; "
                "on its head node --ray-address auto finds both)") if spec.address else ""
        raise SwapfwError(f"could not start or join {where}: {error_line(exc)}{hint}") from None


class Ray:
    name = "ray"
    description = "tasks on a Ray cluster (--ray-address ADDR; a local instance without one); needs swapfw[ray]"
    open = RayPool  # open(spec) -> a pool


@hookimpl
def register_executors(register):
    register(Ray())
