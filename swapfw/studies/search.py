"""The search loop around a searcher plugin: scoring through the cache, budgets, history.

A searcher gets the space, an ``evaluate(archs) -> scores`` function and its options; it never
sees the cache, the proxy or the data. ``evaluate`` canonicalises each architecture, reuses a
score already seen in this run or in the cache, and counts what it actually computed.

With an evaluator (``--evaluator``), the search then spends ``--evaluations K`` real evaluations
on the architectures its proxy scored (``selection``), and its answer is the best evaluated one.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..errors import SwapfwError
from ..graph.importers import space_params
from ..patterns.count import saturation_note
from ..plugins import call, get_registry, get_space
from ..running.executors import ExecutorSpec, open_pool
from ..scoring.proxies import DEFAULT, derive, is_population, parts_of, proxy_entry, resolve_default, role_proxy
from . import budgets, reference
from .cache import ScoreCache
from .evaluate import NoCache, Scorer, ScoringSettings, resolve
from .evaluations import Evaluations
from .selection import DEFAULT_SELECTION, SELECTIONS, measured_beside, select
from .truth import load_truth

#: cycles of a search given neither --cycles nor --budget
DEFAULT_CYCLES = 50


@dataclass(kw_only=True)
class SearchSettings(ScoringSettings):
    """A scoring protocol (space, data, batch, ...) plus the searcher, its proxy and its options."""

    searcher: str | None = None  # None: the searcher that declares itself the default
    proxy: str | None = None  # None or "default": the space's default_proxy, else the default proxy
    population: int = 20
    cycles: int | None = None  # None: as many as the budget allows, or DEFAULT_CYCLES without a budget
    sample_size: int = 5
    mutations: int = 4
    crossover_prob: float = 0.5
    mu: float | str = "auto"
    sigma: float | str = "auto"
    seed: int = 0
    cache: str | None = None  # None: the default cache file; "": no cache
    budget: int | None = None  # distinct architectures scored (computed or from the cache), then stop
    evaluator: str | None = None  # a real evaluation to spend ``evaluations`` of after the proxy search
    evaluator_options: dict = field(default_factory=dict)
    evaluations: int | None = None
    selection: str | None = None  # None: DEFAULT_SELECTION where an evaluator is given
    max_params: float | None = None  # budgets: a candidate over one is never scored (``budgets``)
    max_flops: float | None = None
    max_latency_ms: float | None = None
    max_memory_mb: float | None = None
    objectives: list | None = None  # two or more of budgets.OBJECTIVES: the answer is a Pareto front
    latency_runtime: str | None = None  # a latency meter; None: the one that declares itself the default
    latency_device: str | None = None  # None: the search's device
    latency_batch: int = 1
    latency_threads: int | None = None  # None: the runtime's own thread count
    latency_input_shape: tuple | None = None  # per sample, for latency and memory; None: the sized network's own
    latency_options: dict = field(default_factory=dict)

    def check(self) -> None:
        if is_population(self.proxy):
            raise SwapfwError(f"proxy {self.proxy!r} ranks architectures against each other, so it has no value "
                              "for one candidate: search with a per-network proxy (e.g. regswap)")
        if self.cycles is None and self.budget is None:
            raise SwapfwError("a search without --cycles needs a --budget of distinct architectures to end it")
        for name in ("population", "cycles", "sample_size", "mutations"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise SwapfwError(f"--{name.replace('_', '-')} must be at least 1")
        if self.sample_size > self.population:
            raise SwapfwError("--sample-size cannot exceed --population")
        if not 0.0 <= self.crossover_prob <= 1.0:
            raise SwapfwError("--crossover-prob must be between 0 and 1")
        if self.budget is not None and self.budget < self.population:
            raise SwapfwError("--budget must cover at least the initial --population")
        if (self.evaluator is None) != (self.evaluations is None):
            raise SwapfwError("--evaluator and --evaluations go together: name the real evaluation and how many "
                              "to spend")
        if self.evaluations is not None and self.evaluations < 1:
            raise SwapfwError("--evaluations must be at least 1")
        if self.selection is not None and self.selection not in SELECTIONS:
            raise SwapfwError(f"unknown selection {self.selection!r} (known: {', '.join(SELECTIONS)})")
        if self.selection is not None and self.evaluator is None:
            raise SwapfwError("--selection chooses what an --evaluator evaluates: give --evaluator and --evaluations")
        if self.evaluator_options and self.evaluator is None:
            raise SwapfwError("--evaluator-option needs an --evaluator")
        budgets.check_objectives(self.objectives)
        budgets.check_limits(self)


class BudgetSpent(SwapfwError):
    """Raised by the evaluator when the budget is used up; the search ends with the best so far."""


class Stalled(BudgetSpent):
    """Raised when a search bounded only by its budget meets no new architecture for STALLED_CYCLES
    cycles (its space, or the part it can reach, is spent): it ends with the best so far, and says so."""


#: cycles without a new architecture after which a search bounded only by its budget ends
STALLED_CYCLES = 100


class Evaluator:
    """``evaluate(archs)``: the proxy's score for each architecture, counted and de-duplicated."""

    def __init__(self, settings: SearchSettings, space, cache, pool, progress=None, costs=None):
        self.settings, self.space = settings, space
        self.costs = costs or budgets.Costs(settings, cache)
        self.rejected: dict[str, str] = {}  # over a budget: never scored, never counted (arch -> why)
        beside = measured_beside(settings.selection if settings.evaluator else None, space)  # proxy_plan de-duplicates
        self.scorer = Scorer(settings, [settings.proxy, *beside], settings.seed, cache, pool)
        self.derivation = reference.derivation(settings, [settings.proxy], settings.mu, settings.sigma, cache, pool,
                                               progress)
        self.mu, self.sigma = self.derivation.mu, self.derivation.sigma
        self.seen: dict[str, tuple[float, dict]] = {}
        self.replaying: set[str] = set()  # restored scores not yet met again in the replay
        self.evaluations = self.cached = self.repeated = 0
        self.neighbours: dict[str, tuple[float, dict]] = {}  # scored beside the budget by a climb (selection climb)
        self.best: tuple[str, float] | None = None

    def state(self) -> dict:
        return {"seen": {a: [score, values] for a, (score, values) in self.seen.items()},
                "neighbours": {a: [score, values] for a, (score, values) in self.neighbours.items()},
                "evaluations": self.evaluations, "cached": self.cached, "costs": self.costs.state()}

    def restore(self, state: dict) -> None:
        """Scores from a checkpoint: replaying the seeded searcher over them rebuilds its state exactly."""
        self.seen = {a: (score, values) for a, (score, values) in state["seen"].items()}
        self.replaying = set(self.seen)
        self.neighbours = {a: (score, values) for a, (score, values) in state.get("neighbours", {}).items()}
        self.evaluations, self.cached = state["evaluations"], state["cached"]
        self.costs.restore(state.get("costs", {}))  # measured before the restart: not measured again
        if self.seen:  # the first of the highest scores, as the running maximum would have kept
            arch = max(self.seen, key=lambda a: self.seen[a][0])
            self.best = (arch, self.seen[arch][0])

    def known(self, arch: str) -> bool:
        """True once ``arch`` has been scored in this run (as a searcher met it: a resumed run's
        restored scores count only when its replay reaches them, so resuming changes no decision)."""
        canonical = self.space.canonical(arch)
        return (canonical in self.seen and canonical not in self.replaying) or canonical in self.rejected

    @property
    def met(self) -> int:
        """Distinct architectures the searcher has met in this run (restored ones once the replay reaches them)."""
        return len(self.seen) - len(self.replaying)

    @property
    def remaining(self) -> int | None:
        """Distinct architectures the budget still allows (None: no budget)."""
        return None if self.settings.budget is None else max(0, self.settings.budget - len(self.seen))

    def __call__(self, archs: list[str]) -> list[float]:
        """Scores in order; the architectures not seen yet are scored together, as one batch of tasks."""
        canonical = [self.space.canonical(arch) for arch in archs]
        new = [arch for arch in dict.fromkeys(canonical) if arch not in self.seen and not self.rejects(arch)]
        room = len(new) if self.settings.budget is None else max(0, self.settings.budget - len(self.seen))
        self._score(new[:room])
        if room < len(new):
            raise BudgetSpent
        fresh = set(new)
        for arch in canonical:
            if arch in self.rejected:
                continue
            if arch in fresh:
                fresh.discard(arch)
            elif arch in self.replaying:  # counted as an evaluation before the restart
                self.replaying.discard(arch)
            else:
                self.repeated += 1
        return [-math.inf if arch in self.rejected else self.seen[arch][0] for arch in canonical]

    def rejects(self, arch: str) -> bool:
        """True where ``arch`` breaks a budget (measured once; it is then never scored)."""
        if arch not in self.rejected and self.costs.limits:
            reason = self.costs.over(arch)
            if reason:
                self.rejected[arch] = reason
        return arch in self.rejected

    def objectives(self, archs: list[str]) -> list[dict | None]:
        """Each architecture's objectives (``settings.objectives``: the proxy's score, counted against
        the budget as ``evaluate`` counts it, and its costs), None for one over a budget or that failed:
        what a multi-objective searcher reads."""
        return [self.costs.row(self.space.canonical(arch), score) if math.isfinite(score) else None
                for arch, score in zip(archs, self(archs))]

    def _score(self, archs: list[str]) -> None:
        for arch, scored in self._measure(archs, counted=True).items():
            self.seen[arch] = scored
            if self.best is None or scored[0] > self.best[1]:
                self.best = (arch, scored[0])

    def _measure(self, archs: list[str], counted: bool = False) -> dict[str, tuple[float, dict]]:
        """(score, values) of ``archs``; ``counted``: the search's own, in ``evaluations`` and ``cached``."""
        if not archs:
            return {}
        measured, computed = self.scorer.measure_many(archs)
        failed = {f.arch for f in self.scorer.failures}
        scored = {}
        for arch in archs:
            self.evaluations += counted and arch in computed
            self.cached += counted and arch not in computed
            values = derive(measured[arch], self.scorer.derived, self.derivation)
            scored[arch] = (-math.inf if arch in failed else values[self.settings.proxy], values)  # never chosen
        return scored

    def neighbour_values(self, archs: list[str]) -> dict[str, dict]:
        """The proxy values of architectures a climb of real evaluations met (selection ``climb``),
        those that scored: new ones are scored beside the budget and kept apart from the search's
        own, so they change neither its answer nor a resumed run's replay."""
        self.neighbours.update(self._measure([a for a in archs if a not in self.seen and a not in self.neighbours]))
        found = {a: self.seen.get(a) or self.neighbours[a] for a in archs}
        return {a: values for a, (score, values) in found.items() if math.isfinite(score)}

    def scored(self, arch: str) -> tuple[float, dict]:
        """(score, proxy values) of an architecture the search or a climb scored."""
        canonical = self.space.canonical(arch)
        return self.seen.get(canonical) or self.neighbours[canonical]

    def params(self, arch: str) -> int:
        """The parameter count of the network the protocol sizes (the one the user trains)."""
        values = self.scored(arch)[1]
        if role_proxy("parameter_count") in values:
            return int(values[role_proxy("parameter_count")])
        return space_params(self.settings.space, self.space.canonical(arch), self.settings.sized_options())


class Checkpoint:
    """Every score of the run so far, written atomically after each cycle.

    Searchers are deterministic given their seed and the scores they are handed, so a resumed
    run replays the finished cycles from these scores (nothing is recomputed) and continues
    from exactly the state the killed run had.
    """

    def __init__(self, path: str, settings: SearchSettings):
        self.path = Path(path)
        self.fingerprint = {k: v for k, v in asdict(settings).items() if k != "cache"}

    def load(self) -> dict | None:
        if not self.path.exists():
            return None
        try:
            state = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise SwapfwError(f"checkpoint {self.path} is unreadable ({exc}); remove it to start afresh") from None
        if state.get("settings") != json.loads(json.dumps(self.fingerprint)):
            raise SwapfwError(f"checkpoint {self.path} belongs to a search with other settings; "
                              "use another file or the same options")
        return state

    def save(self, evaluator: "Evaluator", history: list[float], evaluations: Evaluations | None = None) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        spent = {"evaluated": [r.to_dict() for r in evaluations.kept()]} if evaluations else {}
        tmp.write_text(json.dumps({"settings": self.fingerprint, "history": history, **evaluator.state(), **spent}))
        os.replace(tmp, self.path)


def _notes(evaluate: Evaluator, samples: int) -> list[str]:
    swap = role_proxy("swap_score")
    swaps = [values[swap] for _, values in evaluate.seen.values() if swap in values]
    note = saturation_note(swaps, samples)
    return [note] if note else []


def _meaning(proxy: str) -> str:
    """What the proxy's score is, in its plugin's words (``calibrated:`` names its parts)."""
    described = getattr(proxy_entry(proxy).obj, "description", "") or ""
    parts = parts_of(proxy)
    return f"{described} ({', '.join(parts)})" if parts and described else described


def search(settings: SearchSettings, progress=None, truth: tuple[str, str, str | None] | None = None,
           checkpoint: str | None = None, executor: ExecutorSpec | None = None) -> dict:
    """Run the searcher; ``progress(0, total, label)`` once the settings are checked, ``progress(n,
    total, label)`` after each cycle (``total``: cycles, or the budget's architectures when no cycles
    are set).
    ``truth`` = (file, metric[, arch column[, arch format]]).

    The initial population and each cycle's offspring go to the executor as one batch each.
    """
    settings = resolve(settings)
    registry = get_registry()
    space = get_space(settings.space, settings.build_options)
    settings = replace(settings, proxy=resolve_default([settings.proxy or DEFAULT], space)[0],
                       searcher=settings.searcher or _default_searcher(registry, settings.objectives),
                       cycles=DEFAULT_CYCLES if settings.cycles is None and settings.budget is None else settings.cycles)
    settings.check()
    if settings.evaluator:
        settings = replace(settings, selection=settings.selection or DEFAULT_SELECTION)
    entry = registry.entry("searchers", settings.searcher)
    table = load_truth(*truth[:2], space, *truth[2:]) if truth else None  # fail early on a bad file
    spec = replace(executor or ExecutorSpec(), device=settings.device).resolved()
    cache = ScoreCache(settings.cache) if settings.cache != "" else NoCache()
    try:  # a bad evaluator option, an absent latency device or a budget nothing meets fail here, before any scoring
        evaluations = (Evaluations(settings.evaluator, settings.evaluator_options, settings.space, space, settings.seed,
                                   settings.device, cache, settings.build_options) if settings.evaluator else None)
        costs = budgets.Costs(settings, cache)
        costs.check_feasible(settings.seed)
    except BaseException:
        cache.close()
        raise
    start = time.perf_counter()
    history: list[float] = []
    saver = Checkpoint(checkpoint, settings) if checkpoint else None
    state = saver.load() if saver else None
    total = settings.cycles if settings.cycles is not None else settings.budget
    label = f"{settings.searcher} on {settings.space}"
    try:
        with open_pool(spec) as pool:
            evaluate = Evaluator(settings, space, cache, pool, progress, costs)
            if progress:
                progress(0, total, label)  # settings accepted, reference work done: the search starts
            if state:
                evaluate.restore(state)
                if evaluations:
                    evaluations.restore(state.get("evaluated", []))

            shown = [0]  # distinct architectures the progress bar has counted (runs bounded by a budget)
            stall = {"met": evaluate.met, "cycles": 0}

            def on_cycle(best_score: float) -> None:
                history.append(best_score)
                if saver:
                    saver.save(evaluate, history, evaluations)
                if progress:
                    progress(1 if settings.cycles is not None else len(evaluate.seen) - shown[0], total, label)
                    shown[0] = len(evaluate.seen)
                stall["cycles"] = 0 if evaluate.met > stall["met"] else stall["cycles"] + 1
                stall["met"] = evaluate.met
                if settings.cycles is None and stall["cycles"] >= STALLED_CYCLES:
                    raise Stalled(f"{settings.searcher} met no new architecture in {STALLED_CYCLES} cycles: "
                                  f"stopped after {evaluate.met} of the budget's {settings.budget}")

            stopped = None
            try:
                call(entry, "run", space, evaluate, settings, random.Random(settings.seed), on_cycle)
            except Stalled as exc:
                stopped = str(exc)
            except BudgetSpent:
                pass
            if saver:  # the last cycle's scores too, where the budget ended it
                saver.save(evaluate, history, evaluations)
            if evaluations:
                _spend(settings, space, evaluate, evaluations, saver, history, progress)
            workers = pool.workers
        if evaluate.best is None:  # every candidate broke a budget
            raise SwapfwError(f"no architecture within the budgets was met: {len(evaluate.rejected)} candidates "
                              f"turned away (e.g. {next(iter(evaluate.rejected.values()), '-')}); loosen a budget")
        best_arch, best_score = evaluate.best  # the best scored architecture, whatever the searcher returned
    except BaseException:
        cache.close()
        raise
    try:  # the report measures the answer's costs (latency in the cache) before the cache closes
        return _report(settings, space, evaluate, evaluations, table, spec, workers, start, history, stopped,
                       best_arch, best_score)
    finally:
        cache.close()


def _report(settings, space, evaluate, evaluations, table, spec, workers, start, history, stopped, best_arch,
            best_score) -> dict:
    """What ``search`` returns (``--format json``)."""
    failed = [asdict(f) for f in evaluate.scorer.failures]
    report = {"space": settings.space, "searcher": settings.searcher, "proxy": settings.proxy, "seed": settings.seed,
              "protocol": settings.protocol, "proxy_means": _meaning(settings.proxy),
              "best": {"arch": best_arch, "score": best_score, "params": evaluate.params(best_arch)},
              "evaluations": evaluate.evaluations, "cached": evaluate.cached, "repeated": evaluate.repeated,
              "mu": evaluate.mu, "sigma": evaluate.sigma, "seconds": round(time.perf_counter() - start, 2),
              "history": history, "executor": {"name": spec.name, "workers": workers}, "failed": failed,
              "memory": evaluate.scorer.memory, "notes": _notes(evaluate, settings.batch)}
    if stopped:
        report["notes"].append(stopped)
    if failed:
        report["notes"].append(f"{len(failed)} architectures failed twice and were never chosen, e.g. "
                               f"{failed[0]['arch']}: {failed[0]['error']}")
    if evaluations:
        report["proxy_best"] = report["best"]
        found = evaluations.best()
        if found is None:
            report["notes"].append("no evaluation succeeded: the answer is the proxy's best")
        else:
            report["best"] = {"arch": found.arch, "score": evaluate.scored(found.arch)[0],
                              "params": evaluate.params(found.arch), "value": found.value}
        report.update({"evaluator": settings.evaluator, "evaluator_options": evaluations.options,
                       "selection": settings.selection,
                       "evaluated": [{**r.to_dict(), "score": evaluate.scored(r.arch)[0]}
                                     for r in evaluations.results],
                       "neighbours_scored": len(evaluate.neighbours), "evaluation_cost": evaluations.cost()})
        failures = [r for r in evaluations.results if r.error]
        if failures:
            report["notes"].append(f"{len(failures)} evaluations failed, e.g. {failures[0].arch}: {failures[0].error}")
    _deployment(report, settings, evaluate)
    if table is not None:  # looked up after the search, never used by it
        report["truth"] = {"metric": table.metric, "value": table.values.get(space.canonical(report["best"]["arch"]))}
        if evaluations:
            report["truth"]["proxy_best_value"] = table.values.get(space.canonical(report["proxy_best"]["arch"]))
    return report


def _default_searcher(registry, objectives) -> str:
    """The searcher used where none is named: the default one, or, for a search with objectives, the
    one installed searcher that searches for a Pareto front (``multi_objective``)."""
    if not objectives:
        return registry.default("searchers")
    multi = [n for n in registry.names("searchers") if getattr(registry.get("searchers", n), "multi_objective", False)]
    if len(multi) != 1:
        raise SwapfwError("--objectives: name the searcher with --searcher (" + (
            f"multi-objective ones installed: {', '.join(multi)})" if multi else "none installed searches for a "
            "Pareto front; a single-objective one gives the front of what it scores)"))
    return multi[0]


def _deployment(report: dict, settings: SearchSettings, evaluate: Evaluator) -> None:
    """The budgets, the costs of the best architecture, who measured latency, and the Pareto front."""
    costs = evaluate.costs
    if not costs.active:
        return
    if costs.limits:
        report["budgets"] = {budgets.LIMITS[q]: v for q, v in costs.limits.items()}
        report["rejected"] = len(evaluate.rejected)
    report["best"]["costs"] = costs.measure(evaluate.space.canonical(report["best"]["arch"]))
    if costs.latency:
        report["latency"] = costs.latency.describe()
    if settings.objectives:
        rows = {arch: costs.row(arch, score) for arch, (score, _) in evaluate.seen.items() if math.isfinite(score)}
        report["objectives"] = list(settings.objectives)
        report["front"] = budgets.pareto_front(rows, settings.objectives)
        report["scored_objectives"] = list(rows.values())


def _within_size(settings: SearchSettings, evaluate: Evaluator, pool: dict) -> list[str]:
    """The architectures within a size target given as numbers (--mu, --sigma: (params in M - mu)^2 <=
    sigma, where the size factor is at least 1/e), so that what the evaluations choose keeps to it;
    empty where no target was given (``auto`` is none) or none is within it."""
    if not all(isinstance(v, (int, float)) for v in (settings.mu, settings.sigma)):
        return []
    return [arch for arch in pool if (evaluate.params(arch) / 1e6 - settings.mu) ** 2 <= settings.sigma]


def _spend(settings: SearchSettings, space, evaluate: Evaluator, evaluations: Evaluations, saver, history: list,
           progress) -> None:
    """Spend the evaluations on the architectures the proxy scored (failed ones left out; with a size
    target the user gave, those within it; a climb's neighbours within the budgets), saving the
    checkpoint after each, so a killed search never pays for one again."""
    pool = {arch: values for arch, (score, values) in evaluate.seen.items() if math.isfinite(score)}
    within = _within_size(settings, evaluate, pool)
    if within:
        pool = {arch: pool[arch] for arch in within}
    label = f"{settings.evaluator} evaluations"
    if progress:
        progress(0, settings.evaluations, label)

    def spend(arch: str) -> float | None:
        known = arch in evaluations.done
        result = evaluations(arch)
        if not known:
            if saver:
                saver.save(evaluate, history, evaluations)
            if progress:
                progress(1, settings.evaluations, label)
        return result.value

    def allowed(arch: str) -> bool:  # a climb's neighbour keeps to the size target and every budget
        return ((not within or bool(_within_size(settings, evaluate, {arch: None})))
                and not evaluate.rejects(space.canonical(arch)))

    select(settings.selection, pool, settings.proxy, space, settings.evaluations, spend, settings.seed,
           evaluate.neighbour_values, allowed)
