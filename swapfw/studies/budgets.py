"""Deployment budgets and objectives of a search: parameters, FLOPs, latency and memory.

A constrained search (``--max-params``, ``--max-flops``, ``--max-latency-ms``, ``--max-memory-mb``)
measures each candidate's costs before it is scored: one over a budget is never scored and never
counted against ``--budget``, and the search reports how many it turned away (``rejected``). With
``--objectives proxy,latency`` (any of ``OBJECTIVES``) its answer is the Pareto front of what it
scored. Every figure describes the *sized* network, the one the user trains and ships.
"""

from __future__ import annotations

import json
import math
import random

from ..errors import PluginFailure, SwapfwError
from ..graph.importers import space_input_shape, space_params
from ..plugins import call, check_options, get_registry, get_space
from ..scoring.costs import MB, check_device, machine, peak_memory_bytes, sized_ir
from ..version import __version__

#: what a budget or an objective may name, minimised; the proxy's score is maximised
QUANTITIES = {
    "params": "parameters of the sized network (as score reports params)",
    "flops": "multiply-accumulates of one sample (as score reports flops)",
    "latency": "milliseconds per batch of --latency-batch, measured by --latency-runtime on --latency-device",
    "memory": "peak MB of an inference at --latency-batch: weights plus the most activations alive at once",
}
OBJECTIVES = ("proxy", *QUANTITIES)
#: quantity -> the search setting that limits it (and its option: dashes for underscores)
LIMITS = {"params": "max_params", "flops": "max_flops", "latency": "max_latency_ms", "memory": "max_memory_mb"}
#: architectures sampled to tell a budget no architecture meets before any work
FEASIBILITY_SAMPLE = 32
#: mutations tried, from the smallest sampled, to find a smaller architecture before refusing a budget
DESCENT_STEPS = 64


def option(quantity: str) -> str:
    return "--" + LIMITS[quantity].replace("_", "-")


def shown(quantity: str, value: float) -> str:
    """A cost as a person reads it: counts with separators, milliseconds and megabytes to 4 figures."""
    if quantity in ("params", "flops"):
        return f"{value:,.0f}"
    return f"{value:.4g} {'ms' if quantity == 'latency' else 'MB'}"


def check_objectives(objectives: list[str] | None) -> None:
    """Objectives named are known, distinct and at least two (one is a plain search)."""
    if objectives is None:
        return
    unknown = [o for o in objectives if o not in OBJECTIVES]
    if unknown:
        raise SwapfwError(f"unknown objective {unknown[0]!r} (known: {', '.join(OBJECTIVES)})")
    if len(set(objectives)) != len(objectives) or len(objectives) < 2:
        raise SwapfwError(f"--objectives needs two or more distinct objectives, e.g. proxy,latency (got "
                          f"{','.join(objectives)})")


def check_limits(settings) -> None:
    for quantity, name in LIMITS.items():
        limit = getattr(settings, name)
        if limit is not None and not (isinstance(limit, (int, float)) and math.isfinite(limit) and limit > 0):
            raise SwapfwError(f"{option(quantity)} must be a positive number, got {limit!r}")
    if settings.latency_batch < 1:
        raise SwapfwError("--latency-batch must be at least 1")
    if settings.latency_threads is not None and settings.latency_threads < 1:
        raise SwapfwError("--latency-threads must be at least 1")


def deployed_shape(settings, space) -> tuple:
    """The per-sample input latency and memory are measured on: ``--latency-input-shape``, else the
    sized network's own (the space's input shape for its build options)."""
    if settings.latency_input_shape is not None:
        return tuple(settings.latency_input_shape)
    return tuple(space_input_shape(space, settings.sized_options()))


class Latency:
    """``latency(arch)`` -> milliseconds per batch, from the latency meter the user named, each
    architecture measured once per device, runtime, batch, threads and machine (the score cache
    keeps them, so a rerun or a resumed search measures nothing twice)."""

    def __init__(self, settings, cache):
        import torch

        registry = get_registry()
        name = settings.latency_runtime or registry.default("latency_meters")
        self.entry = registry.entry("latency_meters", name)
        obj = self.entry.obj
        self.options = {k: str(v) for k, v in settings.latency_options.items()}
        check_options(self.entry, self.options)
        here = getattr(obj, "measures_here", True) is not False
        self.device = check_device(settings.latency_device or settings.device) if here else (
            settings.latency_device or settings.device)
        self.threads = settings.latency_threads or (torch.get_num_threads() if here else None)
        self.batch = settings.latency_batch
        sized = settings.sized_options()
        space = get_space(settings.space, sized)
        shape = deployed_shape(settings, space)
        self.input_shape = list(shape)
        self.measured_by = machine(self.device) if here else (getattr(obj, "description", "") or name)
        self.measure = call(self.entry, "open", space, dict(self.options), device=self.device, batch=self.batch,
                            threads=self.threads, build=lambda arch: space.build(arch, **sized), input_shape=shape)
        self.cache, self.space_name = cache, settings.space
        what = {"options": self.options, "device": self.device, "batch": self.batch, "threads": self.threads,
                "build": sized, "input_shape": self.input_shape}
        self.key = (f"latency {name} {json.dumps(what, sort_keys=True)}",
                    f"swapfw {__version__}; {self.entry.distribution}; {self.measured_by}")

    def describe(self) -> dict:
        """What measured the latencies, for the report."""
        return {"runtime": self.entry.name, "device": self.device, "batch": self.batch, "threads": self.threads,
                "input_shape": self.input_shape, "machine": self.measured_by, "options": self.options}

    def __call__(self, arch: str) -> float:
        key = (self.key[0], self.space_name, arch, 0, self.key[1])
        stored = self.cache.get_evaluation(key)
        if stored is not None:
            return float(stored[0])
        try:
            milliseconds = float(self.measure(arch))
        except SwapfwError:
            raise
        except Exception as exc:
            raise PluginFailure(f"{self.entry.name} ({self.entry.distribution})", exc) from exc
        if not (math.isfinite(milliseconds) and milliseconds >= 0):
            raise SwapfwError(f"latency meter {self.entry.name} gave {milliseconds} ms for {arch}")
        self.cache.put_evaluation(key, (milliseconds, 0.0, None))
        self.cache.commit()
        return milliseconds


class Costs:
    """Each architecture's deployment costs, measured once and only where a budget or an objective
    reads them; ``over(arch)`` says which budget an architecture breaks (None: within all)."""

    def __init__(self, settings, cache):
        self.settings = settings
        self.limits = {q: float(getattr(settings, name)) for q, name in LIMITS.items()
                       if getattr(settings, name) is not None}
        self.objectives = list(settings.objectives or [])
        self.needed = set(self.limits) | {o for o in self.objectives if o != "proxy"}
        self.sized = settings.sized_options()
        self.space = get_space(settings.space, self.sized)
        self.latency = Latency(settings, cache) if "latency" in self.needed else None
        self.values: dict[str, dict] = {}

    @property
    def active(self) -> bool:
        return bool(self.needed)

    def measure(self, arch: str, quantities=None) -> dict:
        """The costs of ``arch`` named (default: every one a budget or an objective reads), cheapest first."""
        wanted = self.needed if quantities is None else quantities
        known = self.values.setdefault(arch, {})
        for quantity in [q for q in QUANTITIES if q in wanted]:
            if quantity not in known:
                known[quantity] = self._measure(quantity, arch)
        return {q: known[q] for q in wanted}

    def cost(self, arch: str, quantity: str) -> float:
        """One cost of ``arch`` (measured once)."""
        return self.measure(arch, [quantity])[quantity]

    def row(self, arch: str, score: float) -> dict:
        """A scored architecture's objectives (``--objectives``; none given: the proxy alone): the
        proxy's score and the costs named."""
        objectives = self.objectives or ["proxy"]
        costs = self.measure(arch, [o for o in objectives if o != "proxy"])
        return {o: score if o == "proxy" else costs[o] for o in objectives}

    def _measure(self, quantity: str, arch: str) -> float:
        name = self.settings.space
        if quantity == "params":
            return space_params(name, arch, self.sized)
        if quantity == "flops":
            return sized_ir(f"{name}:{arch}", self.sized, not getattr(self.space, "module_activations", False)).flops
        if quantity == "memory":
            shape = deployed_shape(self.settings, self.space)
            build = lambda: self.space.build(arch, **self.sized)  # noqa: E731
            return peak_memory_bytes(build, shape, self.settings.latency_batch) / MB
        return self.latency(arch)

    def over(self, arch: str) -> str | None:
        """The first budget ``arch`` breaks, as a short reason; None where it keeps to every one.
        Cheap costs are checked first, so an architecture over its FLOPs is never timed."""
        for quantity in [q for q in QUANTITIES if q in self.limits]:
            value = self.cost(arch, quantity)
            if value > self.limits[quantity]:
                limit = shown(quantity, self.limits[quantity])
                return f"{quantity} {shown(quantity, value)} > {option(quantity)} {limit}"
        return None

    def check_feasible(self, seed: int) -> None:
        """Refuse, before any scoring, budgets that no architecture meets: among FEASIBILITY_SAMPLE
        sampled architectures and, failing that, along mutations that lower the broken cost from
        the smallest of them (a latency from the fewest FLOPs found)."""
        if not self.limits:
            return
        archs = _sample_up_to(self.space, FEASIBILITY_SAMPLE, seed)
        sampled = len(archs)
        if any(self.over(arch) is None for arch in archs):
            return
        rng = random.Random(seed)
        for quantity in [q for q in QUANTITIES if q in self.limits]:
            guide = "flops" if quantity == "latency" else quantity
            best = min(archs, key=lambda a: self.cost(a, guide))
            for _ in range(DESCENT_STEPS):
                if self.over(best) is None:
                    return
                child = self.space.mutate(best, rng, kind=rng.choice(("op", "connectivity")))
                if self.cost(child, guide) <= self.cost(best, guide):
                    best = child
            value = self.cost(best, quantity)
            if value > self.limits[quantity]:
                raise SwapfwError(f"no architecture of {self.settings.space} found within {option(quantity)} "
                                  f"{shown(quantity, self.limits[quantity])}: the smallest of {sampled} sampled and "
                                  f"{DESCENT_STEPS} mutations has {quantity} {shown(quantity, value)}")
            archs = [best]
        raise SwapfwError(f"no architecture of {self.settings.space} found within every budget at once "
                          f"({', '.join(f'{option(q)} {shown(q, v)}' for q, v in self.limits.items())})")

    def state(self) -> dict:
        return self.values

    def restore(self, values: dict) -> None:
        for arch, known in values.items():
            self.values.setdefault(arch, {}).update(known)


def _sample_up_to(space, count: int, seed: int) -> list[str]:
    """``count`` sampled architectures, or as many as a small space holds."""
    while True:
        try:
            return space.sample(count, seed)
        except SwapfwError:
            if count == 1:
                raise
            count = max(1, count // 2)


def pareto_front(rows: dict[str, dict], objectives: list[str]) -> list[dict]:
    """The non-dominated architectures of ``rows`` (arch -> objective values; proxy maximised, the
    rest minimised), by pymoo's non-dominated sorting, ordered by the first cost objective."""
    import numpy as np
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    archs = list(rows)
    if not archs:
        return []
    minimised = np.array([[-rows[a][o] if o == "proxy" else rows[a][o] for o in objectives] for a in archs], float)
    front = NonDominatedSorting().do(minimised, only_non_dominated_front=True)
    order = next((o for o in objectives if o != "proxy"), objectives[0])
    members = sorted((archs[i] for i in front), key=lambda a: (rows[a][order], a))
    return [{"arch": a, "objectives": {o: rows[a][o] for o in objectives}} for a in members]


def plot_front(report: dict, path: str) -> None:
    """A scatter of every architecture scored within budget (grey) and the front (a line), the
    first cost objective across, the proxy (or the other objective) up."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SwapfwError("--plot needs matplotlib (pip install 'swapfw[plot]')") from None
    objectives = report["objectives"]
    x = next(o for o in objectives if o != "proxy")
    y = "proxy" if "proxy" in objectives else next(o for o in objectives if o != x)
    scored = report["scored_objectives"]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.scatter([r[x] for r in scored], [r[y] for r in scored], s=10, c="0.7", label=f"scored ({len(scored)})")
    front = report["front"]
    ax.plot([m["objectives"][x] for m in front], [m["objectives"][y] for m in front], "o-", c="tab:red",
            drawstyle="steps-post" if y == "proxy" else "default", label=f"Pareto front ({len(front)})")
    unit = {"latency": " (ms)", "memory": " (MB)"}
    ax.set_xlabel(x + unit.get(x, ""))
    ax.set_ylabel(f"{report['proxy']}" if y == "proxy" else y + unit.get(y, ""))
    ax.set_title(f"{report['space']}: {', '.join(objectives)}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise SwapfwError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
