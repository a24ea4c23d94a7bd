"""The search loop around a searcher plugin: scoring through the cache, budgets, history.

A searcher gets the space, an ``evaluate(archs) -> scores`` function and its options; it never
sees the cache, the proxy or the data. ``evaluate`` canonicalises each architecture, reuses a
score already seen in this run or in the cache, and counts what it actually computed.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..errors import SwapfwError
from ..graph.importers import space_params
from ..patterns.count import saturation_note
from ..plugins import call, get_registry, get_space
from ..running.executors import ExecutorSpec, open_pool
from ..scoring.proxies import derive, is_population, parts_of, proxy_entry, role_proxy
from . import reference
from .cache import ScoreCache
from .evaluate import NoCache, Scorer, ScoringSettings, resolve
from .truth import load_truth

#: cycles of a search given neither --cycles nor --budget
DEFAULT_CYCLES = 50


def default_proxy(space) -> str:
    """The proxy a search of ``space`` scores with when none is given: the space's ``search_proxy``,
    else the proxy that declares itself the default."""
    return getattr(space, "search_proxy", None) or get_registry().default("proxies")


@dataclass(kw_only=True)
class SearchSettings(ScoringSettings):
    """A scoring protocol (space, data, batch, ...) plus the searcher, its proxy and its options."""

    searcher: str | None = None  # None: the searcher that declares itself the default
    proxy: str | None = None  # None: the space's search_proxy, else the default proxy
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


class BudgetSpent(SwapfwError):
    """Raised by the evaluator when the budget is used up; the search ends with the best so far."""


class Stalled(BudgetSpent):
    """Raised when a search bounded only by its budget meets no new architecture for STALLED_CYCLES
    cycles (its space, or the part it can reach, is spent): it ends with the best so far, and says so."""


#: cycles without a new architecture after which a search bounded only by its budget ends
STALLED_CYCLES = 100


class Evaluator:
    """``evaluate(archs)``: the proxy's score for each architecture, counted and de-duplicated."""

    def __init__(self, settings: SearchSettings, space, cache, pool, progress=None):
        self.settings, self.space = settings, space
        self.scorer = Scorer(settings, [settings.proxy], settings.seed, cache, pool)
        self.derivation = reference.derivation(settings, [settings.proxy], settings.mu, settings.sigma, cache, pool,
                                               progress)
        self.mu, self.sigma = self.derivation.mu, self.derivation.sigma
        self.seen: dict[str, tuple[float, dict]] = {}
        self.replaying: set[str] = set()  # restored scores not yet met again in the replay
        self.evaluations = self.cached = self.repeated = 0
        self.best: tuple[str, float] | None = None

    def state(self) -> dict:
        return {"seen": {a: [score, values] for a, (score, values) in self.seen.items()},
                "evaluations": self.evaluations, "cached": self.cached}

    def restore(self, state: dict) -> None:
        """Scores from a checkpoint: replaying the seeded searcher over them rebuilds its state exactly."""
        self.seen = {a: (score, values) for a, (score, values) in state["seen"].items()}
        self.replaying = set(self.seen)
        self.evaluations, self.cached = state["evaluations"], state["cached"]
        if self.seen:  # the first of the highest scores, as the running maximum would have kept
            arch = max(self.seen, key=lambda a: self.seen[a][0])
            self.best = (arch, self.seen[arch][0])

    def known(self, arch: str) -> bool:
        """True once ``arch`` has been scored in this run (as a searcher met it: a resumed run's
        restored scores count only when its replay reaches them, so resuming changes no decision)."""
        canonical = self.space.canonical(arch)
        return canonical in self.seen and canonical not in self.replaying

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
        new = [arch for arch in dict.fromkeys(canonical) if arch not in self.seen]
        room = len(new) if self.settings.budget is None else max(0, self.settings.budget - len(self.seen))
        self._score(new[:room])
        if room < len(new):
            raise BudgetSpent
        fresh = set(new)
        for arch in canonical:
            if arch in fresh:
                fresh.discard(arch)
            elif arch in self.replaying:  # counted as an evaluation before the restart
                self.replaying.discard(arch)
            else:
                self.repeated += 1
        return [self.seen[arch][0] for arch in canonical]

    def _score(self, archs: list[str]) -> None:
        if not archs:
            return
        measured, computed = self.scorer.measure_many(archs)
        failed = {f.arch for f in self.scorer.failures}
        for arch in archs:
            self.evaluations += arch in computed
            self.cached += arch not in computed
            values = derive(measured[arch], self.scorer.derived, self.derivation)
            score = -math.inf if arch in failed else values[self.settings.proxy]  # never chosen
            self.seen[arch] = (score, values)
            if self.best is None or score > self.best[1]:
                self.best = (arch, score)

    def params(self, arch: str) -> int:
        """The parameter count of the network the protocol sizes (the one the user trains)."""
        values = self.seen[self.space.canonical(arch)][1]
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

    def save(self, evaluator: "Evaluator", history: list[float]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"settings": self.fingerprint, "history": history, **evaluator.state()}))
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
    settings = replace(settings, proxy=settings.proxy or default_proxy(space),
                       searcher=settings.searcher or registry.default("searchers"),
                       cycles=DEFAULT_CYCLES if settings.cycles is None and settings.budget is None else settings.cycles)
    settings.check()
    entry = registry.entry("searchers", settings.searcher)
    table = load_truth(*truth[:2], space, *truth[2:]) if truth else None  # fail early on a bad file
    spec = replace(executor or ExecutorSpec(), device=settings.device).resolved()
    cache = ScoreCache(settings.cache) if settings.cache != "" else NoCache()
    start = time.perf_counter()
    history: list[float] = []
    saver = Checkpoint(checkpoint, settings) if checkpoint else None
    state = saver.load() if saver else None
    total = settings.cycles if settings.cycles is not None else settings.budget
    label = f"{settings.searcher} on {settings.space}"
    try:
        with open_pool(spec) as pool:
            evaluate = Evaluator(settings, space, cache, pool, progress)
            if progress:
                progress(0, total, label)  # settings accepted, reference work done: the search starts
            if state:
                evaluate.restore(state)

            shown = [0]  # distinct architectures the progress bar has counted (runs bounded by a budget)
            stall = {"met": evaluate.met, "cycles": 0}

            def on_cycle(best_score: float) -> None:
                history.append(best_score)
                if saver:
                    saver.save(evaluate, history)
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
            workers = pool.workers
        best_arch, best_score = evaluate.best  # the best scored architecture, whatever the searcher returned
    finally:
        cache.close()
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
    if table is not None:  # looked up after the search, never used by it
        report["truth"] = {"metric": table.metric, "value": table.values.get(space.canonical(best_arch))}
    return report
