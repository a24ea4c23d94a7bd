"""Where scoring tasks run: an executor plugin opens a pool; ``dispatch`` drives it.

What an executor and its pool provide is ``swapfw.contracts.Executor`` and ``Pool``. Pools only
run tasks: the retry policy, the cache and the reporting are the driver's, here and in
``swapfw.studies.evaluate``, so every executor fails the same way.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace
from typing import Callable, Iterator

from .. import contracts
from ..errors import SwapfwError
from ..plugins import call, get_registry
from .tasks import Task, TaskResult

#: attempts per proxy of a task: the first run and one retry
ATTEMPTS = 2
#: stop the run when this many first attempts fail before any succeeds (a setting, not a task, is wrong)
FAIL_FAST = 3


def cores() -> int:
    """CPU cores this process may use (its affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class ExecutorSpec:
    """How the work is spread; never part of a score's key, since every executor gives the same values."""

    name: str | None = None  # None: the executor that declares itself the default
    workers: int | None = None  # tasks at once (processes: worker processes; ray: CPUs of a local instance)
    threads: int | None = None  # torch threads per task; the same count on every executor gives bit-identical values
    address: str | None = None  # a cluster to join (ray: ADDR of ``ray start --head``)
    device: str = "cpu"

    def check(self) -> None:
        for name in ("workers", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise SwapfwError(f"--{name} must be at least 1")

    def resolved(self) -> "ExecutorSpec":
        """The same spec with the default executor named where it names none."""
        return self if self.name else replace(self, name=get_registry().default("executors"))


@contextlib.contextmanager
def open_pool(spec: ExecutorSpec):
    """The executor's pool for the length of a run, closed however the run ends."""
    spec.check()
    spec = spec.resolved()
    entry = get_registry().entry("executors", spec.name)
    pool = call(entry, "open", spec)
    problems = contracts.check(contracts.Pool, pool)
    if problems:
        getattr(pool, "close", lambda: None)()
        raise SwapfwError(f"executor {spec.name!r} ({entry.distribution}) opened a pool that {'; '.join(problems)}")
    try:
        yield pool
    finally:
        pool.close()


@dataclass
class Failure:
    """A proxy of a task that failed on every attempt."""

    arch: str
    proxy: str
    error: str


def dispatch(pool, tasks: list[Task], on_result: Callable[[Task, TaskResult], None],
             on_finished: Callable[[Task], None] | None = None) -> list[Failure]:
    """Run ``tasks`` on ``pool``; a proxy that fails is retried once, then returned as a Failure.

    ``on_result`` gets every result with values (partial ones included) as it arrives, so a
    caller can store it at once; ``on_finished`` is called once per task when it is done.
    """
    failures: list[Failure] = []
    pending, attempt, succeeded, early_errors = list(tasks), 1, False, []
    while pending and attempt <= ATTEMPTS:
        retry = []
        for task, outcome in _outcomes(pool, pending):
            if isinstance(outcome, str):  # the task never reported: every proxy of it failed
                outcome = TaskResult(errors={p: outcome for p in task.proxies})
            if outcome.values:
                succeeded = True
                on_result(task, outcome)
            elif attempt == 1 and not succeeded:
                early_errors.append(next(iter(outcome.errors.values())))
                if len(early_errors) >= FAIL_FAST:
                    raise SwapfwError(f"the first {FAIL_FAST} tasks failed, e.g. {task.space}:{task.arch}: "
                                      f"{early_errors[0]}")
            if not outcome.errors:
                _finished(on_finished, task)
            elif attempt < ATTEMPTS:
                retry.append(task.without(outcome.values))
            else:
                failures += [Failure(task.arch, p, e) for p, e in outcome.errors.items()]
                _finished(on_finished, task)
        pending, attempt = retry, attempt + 1
    return failures


def _outcomes(pool, tasks: list[Task]) -> Iterator[tuple[Task, TaskResult | str]]:
    runs = iter(pool.run(tasks))
    try:
        for index, outcome in runs:
            yield tasks[index], outcome
    finally:
        getattr(runs, "close", lambda: None)()  # a generator cancels what is still queued


def _finished(on_finished, task: Task) -> None:
    if on_finished:
        on_finished(task)
