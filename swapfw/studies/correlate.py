"""Rank correlation of proxies with ground truth over architectures sampled from a table.

For each seed: draw ``samples`` architectures from the ground-truth table, draw the input
batch with the same seed, score every proxy (through the score cache), then take Spearman's
rho and Kendall's tau against the metric. Ground truth is only read after scoring.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy import stats

from ..errors import SwapfwError
from ..patterns.count import saturation_note
from ..plugins import get_space
from ..running.executors import ExecutorSpec, open_pool
from ..scoring.proxies import (DEFAULT, combine_columns, default_proxy, expand, headline_proxies, proxy_plan,
                               resolve_default, role_proxy)
from ..scoring.regularise import parse_mu_sigma
from ..version import __version__
from . import reference
from .cache import ScoreCache
from .evaluate import NoCache, Scorer, ScoringSettings, resolve
from .truth import Truth, load_truth


@dataclass(kw_only=True)
class CorrelateSettings(ScoringSettings):
    """A scoring protocol (space, data, batch, ...) plus what to correlate with what."""

    truth: str
    metric: str
    proxies: list[str] | None = None  # None: default, then the headline roles' (swap, regularised, params, flops)
    samples: int = 1000
    seeds: list[int] = field(default_factory=lambda: [0])
    arch_column: str | None = None
    arch_format: str = "arch"  # the truth table's encoding of architectures (swapfw convert SPACE --help)
    mu: float | str = "auto"
    sigma: float | str = "auto"
    cache: str | None = None  # None: the default cache file; "" : no cache


def _choose(truth: Truth, samples: int, seed: int) -> list[str]:
    archs = list(truth.values)
    if not 1 <= samples <= len(archs):
        raise SwapfwError(f"--samples must be between 1 and the {len(archs)} architectures in {truth.path}")
    return random.Random(seed).sample(archs, samples)


def _correlations(scores: list[float], truth: list[float]) -> tuple[float, float, int]:
    pairs = [(s, t) for s, t in zip(scores, truth) if math.isfinite(s) and math.isfinite(t)]
    missing = len(scores) - len(pairs)
    if len(pairs) < 3 or len({s for s, _ in pairs}) < 2:
        return math.nan, math.nan, missing
    x, y = zip(*pairs)
    return float(stats.spearmanr(x, y).statistic), float(stats.kendalltau(x, y).statistic), missing


class Correlation:
    """A checked correlation job: everything that can be wrong with the settings fails here."""

    def __init__(self, settings: CorrelateSettings):
        requested = expand(settings.proxies or [DEFAULT, *headline_proxies()])
        settings = self.settings = resolve(replace(settings, proxies=requested))
        self.space = get_space(settings.space, settings.build_options)
        # what each requested name computes: ``default`` is the space's default ranking, reported under its own name
        self.default = default_proxy(self.space)
        self.names = {name: self.default if name == DEFAULT else name for name in requested}
        self.computed = resolve_default(requested, self.space)
        self.truth = load_truth(settings.truth, settings.metric, self.space, settings.arch_column,
                                settings.arch_format)
        self.measured, self.derived = proxy_plan(self.computed)
        self.mu, self.sigma = parse_mu_sigma(settings.mu), parse_mu_sigma(settings.sigma)
        self.swap = role_proxy("swap_score")  # its values say whether patterns saturated
        self.samples = {seed: _choose(self.truth, settings.samples, seed) for seed in settings.seeds}

    @property
    def total(self) -> int:
        return sum(len(archs) for archs in self.samples.values())

    def run(self, progress=None, executor: ExecutorSpec | None = None) -> dict:
        """Score, then correlate; ``progress(0, total, label)`` once the work starts, ``progress(1,
        total, label)`` after each of the ``total`` architectures is scored.

        Each seed's architectures go to the executor's pool as one batch; what failed twice is
        NaN in the scores and listed under ``failed``.
        """
        settings, start = self.settings, time.perf_counter()
        spec = replace(executor or ExecutorSpec(), device=settings.device).resolved()
        cache = ScoreCache(settings.cache) if settings.cache != "" else NoCache()
        per_seed, seconds, cached, failed = [], {}, 0, []
        memory = {"peak_process_rss_mb": 0.0, "peak_task_gpu_mb": 0.0}
        try:
            with open_pool(spec) as pool:
                label = f"{settings.space} vs {settings.metric}"
                derivation = reference.derivation(settings, self.computed, self.mu, self.sigma, cache, pool,
                                                  progress)
                if progress:
                    progress(0, self.total, label)
                for seed, archs in self.samples.items():
                    scorer = Scorer(settings, self.computed, seed, cache, pool)
                    measured, _ = scorer.measure_many(archs, (lambda _arch: progress(1, self.total, label)) if progress else None)
                    values = {p: [measured[a][p] for a in archs] for p in self.measured}
                    cached += scorer.cached
                    for proxy, spent in scorer.seconds.items():
                        seconds[proxy] = seconds.get(proxy, 0.0) + spent
                    failed += [{"seed": seed, **asdict(f)} for f in scorer.failures]
                    memory = {k: max(v, scorer.memory[k]) for k, v in memory.items()}
                    per_seed.append(self._correlate_seed(seed, archs, values, derivation))
                workers = pool.workers
        finally:
            cache.close()
        seconds = {name: seconds.get(computed, 0.0) for name, computed in self.names.items()}
        report = _report(settings, self.truth, per_seed, seconds, cached, time.perf_counter() - start)
        if DEFAULT in self.names:
            report["default"] = self.default
        report["executor"] = {"name": spec.name, "workers": workers}
        report["memory"] = memory  # what one worker needs: resident memory of a scoring process, GPU memory of a task
        report["failed"] = failed
        if failed:
            report["notes"].append(f"{len(failed)} proxy values failed twice and are NaN (not cached: a rerun retries "
                                   f"them), e.g. {failed[0]['arch']} {failed[0]['proxy']}: {failed[0]['error']}")
        return report

    def _correlate_seed(self, seed: int, archs: list[str], values: dict, derivation) -> dict:
        """Derived proxies from measured ones, then the correlations; truth is read only here."""
        for name in self.derived:
            values[name] = combine_columns(name, values, derivation)
        targets = [self.truth.values[a] for a in archs]
        swaps = [v for v in values.get(self.swap, []) if math.isfinite(v)]
        values = {name: values[computed] for name, computed in self.names.items()}
        names = self.settings.proxies
        return {"seed": seed, "mu": derivation.mu, "sigma": derivation.sigma, "archs": archs, "truth": targets,
                "swap_max": max(swaps, default=0.0),
                "scores": {p: values[p] for p in names},
                "correlations": {p: _correlations(values[p], targets) for p in names}}


def correlate(settings: CorrelateSettings, progress=None, executor: ExecutorSpec | None = None) -> dict:
    """Check the settings, score every sampled architecture and correlate with the truth."""
    return Correlation(settings).run(progress, executor)


def _report(settings: CorrelateSettings, truth: Truth, per_seed: list[dict], seconds: dict, cached: int,
            wall: float) -> dict:
    proxies = {}
    for name in settings.proxies:
        rho = [s["correlations"][name][0] for s in per_seed]
        tau = [s["correlations"][name][1] for s in per_seed]
        proxies[name] = {"spearman_mean": _mean(rho), "spearman_std": _std(rho), "kendall_mean": _mean(tau),
                         "kendall_std": _std(tau), "seconds": round(seconds.get(name, 0.0), 3),
                         "not_finite": sum(s["correlations"][name][2] for s in per_seed)}
        proxies[name]["n"] = settings.samples * len(per_seed) - proxies[name]["not_finite"]
    return {"space": settings.space, "truth": settings.truth, "metric": settings.metric, "samples": settings.samples,
            "seeds": list(settings.seeds), "proxies": proxies, "protocol": settings.protocol, "data": settings.data,
            "batch": settings.batch, "repeats": settings.repeats, "build_options": settings.build_options,
            "size_options": settings.size_options,
            "mu": [s["mu"] for s in per_seed], "sigma": [s["sigma"] for s in per_seed],
            "cached_values": cached, "wall_seconds": round(wall, 2), "version": __version__,
            "notes": _notes(settings, truth) + _saturation(per_seed, settings.batch) + _not_finite(proxies, settings),
            "per_seed": per_seed}


def _not_finite(proxies: dict, settings: CorrelateSettings) -> list[str]:
    """A note per proxy that was not finite on some architectures: its correlation is over fewer."""
    total = settings.samples * len(settings.seeds)
    return [f"{name} is not finite on {r['not_finite']} of {total} architectures: its correlation uses the other "
            f"{r['n']}" for name, r in proxies.items() if r["not_finite"]]


def _mean(xs: list[float]) -> float:
    finite = [x for x in xs if math.isfinite(x)]
    return float(np.mean(finite)) if finite else math.nan


def _std(xs: list[float]) -> float:
    finite = [x for x in xs if math.isfinite(x)]
    return float(np.std(finite)) if finite else math.nan


def _saturation(per_seed: list[dict], samples: int) -> list[str]:
    note = saturation_note([s["swap_max"] for s in per_seed], samples)
    return [note] if note else []


def _notes(settings: CorrelateSettings, truth: Truth) -> list[str]:
    notes = []
    if truth.merged:
        notes.append(f"{truth.merged} rows of {truth.path} name an architecture already listed (same canonical "
                     f"form); {len(truth.values)} distinct architectures, duplicates' values averaged")
    metric = settings.metric.lower()
    if settings.data.startswith("cifar10:") and metric.startswith(("cifar100", "imagenet")):
        notes.append(f"the input batch is CIFAR-10 images; the metric {settings.metric} is for another dataset "
                     "whose images are not available here")
    data_note = getattr(get_space(settings.space, settings.build_options), "data_note", None)
    if data_note:
        notes.append(data_note)
    return notes
