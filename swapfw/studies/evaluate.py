"""Score architectures of one space under one protocol, through the score cache.

Shared by ``correlate`` and ``search``: their settings extend ``ScoringSettings`` (the space, the
named protocol and the options that override its fields); ``resolve`` fills in what the
protocol fixes, once, before any scoring. The work itself runs on an executor's pool
(``swapfw.running.executors``). Derived proxies (``derived_from``) are not scored here: their
parts are, and the caller combines them once it knows mu and sigma (``swapfw.scoring.proxies``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

from ..errors import SwapfwError
from ..graph.importers import space_input_shape
from ..plugins import get_registry, get_space, worker_state
from ..running.executors import Failure, dispatch
from ..running.tasks import Task, TaskResult, task_batch
from ..scoring import presets
from ..scoring.proxies import needs_targets, proxy_entry, proxy_plan
from ..version import __version__


@dataclass
class ScoringSettings:
    """What a score depends on besides its architecture, proxy and seed.

    ``protocol`` names one of the space's protocols (``swapfw protocols SPACE``; None: its
    default); ``data``, ``batch``, ``repeats``, ``input_shape`` left at None take the protocol's
    value, and ``build_options`` override its scoring network's. ``correlate``'s and ``search``'s
    settings extend this; a script can score with it alone.
    """

    space: str
    data: str | None = None
    batch: int | None = None
    repeats: int | None = None
    build_options: dict = field(default_factory=dict)
    input_shape: tuple[int, ...] | None = None
    binariser: str | None = None
    device: str = "cpu"
    protocol: str | None = None
    size_options: dict | None = None  # set by resolve: the build options of the sized network

    def sized_options(self) -> dict:
        """Build options of the network whose size mu/sigma regularise (the trained network)."""
        return self.build_options if self.size_options is None else self.size_options


def resolve(settings):
    """A copy of ``settings`` with the protocol's values in every field the user left open.

    Idempotent: resolving resolved settings changes nothing.
    """
    space = get_registry().get("spaces", settings.space)
    resolved = presets.resolve(space, settings.protocol, build_options=settings.build_options, batch=settings.batch,
                               repeats=settings.repeats, data=settings.data, input_shape=settings.input_shape)
    return dataclasses.replace(settings, protocol=resolved.name, data=resolved.data, batch=resolved.batch,
                               repeats=resolved.repeats, build_options=resolved.build_options,
                               input_shape=resolved.input_shape, size_options=resolved.size_options)


def provenance(settings, proxy: str) -> str:
    """Who computed a value: swapfw's version and the distributions (with versions) of the proxy,
    the space and a binariser named with ``--binariser``, so upgrading any of them never serves a
    value the old one computed (part of every cache key)."""
    registry = get_registry()
    parts = [f"swapfw {__version__}", proxy_entry(proxy).distribution,
             registry.entry("spaces", settings.space).distribution]
    if settings.binariser:
        parts.append(registry.entry("binarisers", settings.binariser).distribution)
    return "; ".join(parts)


def protocol_key(settings) -> str:
    """Every setting besides space/arch/proxy/data/batch/seed that changes a score."""
    return json.dumps({"protocol": settings.protocol, "repeats": settings.repeats, "build": settings.build_options,
                       "size": settings.size_options, "binariser": settings.binariser,
                       "input_shape": list(settings.input_shape or ()), "device": settings.device}, sort_keys=True)


class NoCache:
    def get(self, key):
        return None

    def put(self, key, value):
        pass

    def get_evaluation(self, key):
        return None

    def put_evaluation(self, key, result):
        pass

    def commit(self):
        pass

    def close(self):
        pass


class Scorer:
    """Measured proxy values per architecture for one seed, through the cache and an executor's pool.

    Only this driver reads and writes the cache: workers get tasks for what is missing and send
    values back, which are stored as they arrive, so a killed run loses nothing it finished.
    """

    def __init__(self, settings, proxies: list[str], seed: int, cache, pool):
        settings = resolve(settings)
        space = get_space(settings.space, settings.build_options)
        self.settings, self.seed, self.cache, self.pool = settings, seed, cache, pool
        self.measured, self.derived = proxy_plan(proxies)
        self.shape = tuple(settings.input_shape or space_input_shape(space, settings.build_options))
        self.batch = task_batch(settings.data, settings.batch, self.shape, seed)
        self.protocol = protocol_key(settings)
        self.provenance = {proxy: provenance(settings, proxy) for proxy in self.measured}
        self.plugins = worker_state()  # what a worker must load: the same plugins as this process
        unlabelled = needs_targets(self.measured) if self.batch.targets is None else []
        if unlabelled:
            raise SwapfwError(f"{', '.join(unlabelled)} need labelled data: use --data cifar10:PATH "
                              f"(the {self.batch.source} batch has no labels)")
        self.seconds: dict[str, float] = {}
        self.build_seconds = 0.0  # networks built for the tasks (the proxies' time is in ``seconds``)
        self.peak_rss_mb = 0.0  # the most resident memory a process that ran a task held
        self.peak_gpu_mb = 0.0  # the most GPU memory one task allocated
        self.cached = 0  # values the cache gave
        self.failures: list[Failure] = []

    @property
    def memory(self) -> dict[str, float]:
        """What one worker needs, from the tasks scored so far (reports carry it as ``memory``)."""
        return {"peak_process_rss_mb": round(self.peak_rss_mb, 1), "peak_task_gpu_mb": round(self.peak_gpu_mb, 1)}

    def _key(self, arch: str, proxy: str) -> tuple:
        s = self.settings
        return (s.space, arch, proxy, self.batch.source, s.batch, self.seed, self.protocol, self.provenance[proxy])

    def _task(self, arch: str, proxies: list[str]) -> Task:
        s = self.settings
        return Task(s.space, arch, tuple(proxies), s.data, s.batch, self.seed, self.shape, s.device, s.repeats,
                    s.binariser, tuple(sorted(s.build_options.items())),
                    None if s.size_options is None else tuple(sorted(s.size_options.items())), self.plugins)

    def measure(self, arch: str) -> dict[str, float]:
        return self.measure_many([arch])[0][arch]

    def measure_many(self, archs: list[str], on_done=None) -> tuple[dict[str, dict[str, float]], set[str]]:
        """Values of every measured proxy per architecture, and the architectures that needed computing.

        Cached values are reused; the rest go to the pool as one batch of tasks. A proxy that
        failed twice is NaN here and listed in ``failures``; it is not cached, so a rerun retries it.
        """
        values = {a: {p: self.cache.get(self._key(a, p)) for p in self.measured} for a in dict.fromkeys(archs)}
        tasks = []
        for arch, known in values.items():
            missing = [p for p, v in known.items() if v is None]
            self.cached += len(self.measured) - len(missing)
            if missing:
                tasks.append(self._task(arch, missing))
            elif on_done:
                on_done(arch)

        def store(task: Task, result: TaskResult) -> None:
            for proxy, value in result.values.items():
                values[task.arch][proxy] = value
                self.cache.put(self._key(task.arch, proxy), value)
                self.seconds[proxy] = self.seconds.get(proxy, 0.0) + result.seconds.get(proxy, 0.0)
            self.build_seconds += result.build_seconds
            self.peak_rss_mb = max(self.peak_rss_mb, result.peak_rss_mb)
            self.peak_gpu_mb = max(self.peak_gpu_mb, result.peak_gpu_mb)
            self.cache.commit()

        failures = dispatch(self.pool, tasks, store, (lambda task: on_done(task.arch)) if on_done else None)
        for failure in failures:
            values[failure.arch][failure.proxy] = math.nan
        self.failures += failures
        return values, {t.arch for t in tasks}
