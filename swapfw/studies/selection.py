"""Which architectures a search spends its real evaluations on, starting from those its proxy scored.

- ``top``: the proxy's best K, in its order: the baseline every cleverer choice must beat.
- ``climb``: a hill climb by real evaluations. The proxy's best ``CLIMB_START`` are evaluated; then
  each step draws one-step mutations (``Space.mutate``) of the best evaluated architecture, scores
  them with the search's proxies (through the cache), and evaluates the one the climb's proxy ranks
  first (the space's ``climb_proxy``, which the search then measures beside its own, else the
  search's proxy). Where
  the neighbours of the best are all evaluated it climbs from the next best. The proxy screens the
  whole space; the evaluations decide among close neighbours, which is where a proxy's ranking is
  too coarse to.
- ``learned``: RoBoT's idea (He et al., ICLR 2024) over this search's architectures. A weighted sum
  of every proxy value the search measured and of the space's architecture features
  (``Space.features``: how often each operation occurs), each min-max normalised over the pool,
  ranks the pool; Bayesian optimisation over the weights (each in [-1, 1]; a Gaussian process with
  an upper-confidence-bound acquisition, scikit-learn) proposes weights, their first-ranked
  architecture is evaluated, and its value is what those weights scored. Weights whose first pick
  was evaluated already cost no evaluation. When the optimisation steps are spent, the best
  weights' ranking fills the evaluations left. It learns from each evaluation which proxies and
  which architecture features to trust, where ``top`` trusts the proxy alone.

Both are deterministic for a seed, so a resumed search makes the same choices.
"""

from __future__ import annotations

import math
import random
import warnings
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # numpy is imported where it is used: the CLI reads SELECTIONS at start-up
    import numpy as np

#: selection -> what it does, for --help and the docs
SELECTIONS = {
    "top": "the proxy's best K architectures",
    "climb": "a hill climb by real evaluations from the proxy's best, the proxy ordering each step's neighbours",
    "learned": "Bayesian optimisation over weights of the proxies and the space's architecture features (RoBoT)",
}
#: the selection a search with an evaluator uses unless told: chosen on NB201's cifar10_val
#: (benchmarks/hybrid_search.py, docs/searching.md)
DEFAULT_SELECTION = "climb"
#: the proxy's best architectures ``climb`` evaluates before it climbs: one, which climbed highest on
#: NB201's cifar10_val at K = 10 with its default ranking (1, 2 and 3 tried; equal at K = 20)
CLIMB_START = 1
#: one-step mutations ``climb`` draws around the architecture it climbs from, each step
NEIGHBOURS = 60
#: random weight vectors the acquisition is maximised over, each step
CANDIDATES = 4000
#: UCB's exploration weight (RoBoT's, bayes_opt's default)
KAPPA = 2.576


def measured_beside(selection: str | None, space) -> list[str]:
    """Proxies a selection reads beside the search's own, which the search therefore measures too:
    ``climb``'s ordering proxy where the space declares one (``climb_proxy``)."""
    order = getattr(space, "climb_proxy", None) if selection == "climb" else None
    return [order] if order else []


def select(selection: str, pool: dict[str, dict], proxy: str, space, count: int, evaluate: Callable, seed: int,
           measure: Callable | None = None, allowed: Callable | None = None) -> None:
    """Spend up to ``count`` evaluations (``evaluate(arch) -> value or None where it failed``) on
    architectures of ``pool`` (arch -> its proxy values, ``proxy`` the search's) and, for ``climb``,
    their neighbours (``measure(archs) -> {arch: proxy values}`` for those that scored, ``allowed(arch)``
    False for one outside the search's size target)."""
    if not pool:
        return None
    if selection == "top":
        return _top(pool, proxy, count, evaluate)
    if selection == "climb":
        order = getattr(space, "climb_proxy", None)
        order = order if order in next(iter(pool.values())) else proxy
        return _climb(pool, proxy, order, space, count, evaluate, seed, measure or (lambda archs: {}),
                      allowed or (lambda arch: True))
    return _learned(pool, getattr(space, "features", None), count, evaluate, seed)


def ranking(pool: dict[str, dict], proxy: str) -> list[str]:
    """The pool best first by ``proxy`` (ties: the order the search met them)."""
    return sorted(pool, key=lambda a: -_finite(pool[a].get(proxy), -math.inf))


def _top(pool: dict[str, dict], proxy: str, count: int, evaluate: Callable) -> None:
    for arch in ranking(pool, proxy)[:count]:
        evaluate(arch)


def _climb(pool: dict[str, dict], proxy: str, order: str, space, count: int, evaluate: Callable, seed: int,
           measure: Callable, allowed: Callable) -> None:
    rng = random.Random(seed)
    ranked = ranking(pool, proxy)
    values: dict[str, float | None] = {}
    for arch in ranked[:min(CLIMB_START, count)]:
        values[arch] = evaluate(arch)
    while len(values) < count:
        climbed = sorted((a for a in values if values[a] is not None), key=lambda a: -values[a])
        neighbours = {}
        for base in climbed:
            drawn = dict.fromkeys(space.canonical(space.mutate(base, rng)) for _ in range(NEIGHBOURS))
            fresh = [a for a in drawn if a not in values]
            neighbours = {a: v for a, v in (measure(fresh) if fresh else {}).items() if allowed(a)}
            if neighbours:
                break
        if neighbours:
            arch = max(neighbours, key=lambda a: _finite(neighbours[a].get(order), -math.inf))
        else:  # nothing new around any evaluated architecture: the proxy's ranking goes on
            arch = next((a for a in ranked if a not in values), None)
            if arch is None:
                return
        values[arch] = evaluate(arch)


def _learned(pool: dict[str, dict], features: Callable | None, count: int, evaluate: Callable, seed: int) -> None:
    import numpy as np

    archs = list(pool)
    matrix = normalised(archs, pool, features)
    rng = np.random.default_rng(seed)
    tried: list[np.ndarray] = []
    scored: list[float] = []
    picked: dict[str, float | None] = {}
    best_weights, best_value = None, -math.inf
    for step in range(count):
        weights = _propose(tried, scored, matrix.shape[1], rng, seed)
        arch = archs[int(np.argmax(matrix @ weights))]
        if arch not in picked:
            picked[arch] = evaluate(arch)
        value = picked[arch]
        value = min((v for v in picked.values() if v is not None), default=0.0) if value is None else value
        tried.append(weights)
        scored.append(value)
        if value >= best_value:
            best_value, best_weights = value, weights
        if len(picked) >= count:
            return
    for index in np.argsort(-(matrix @ best_weights), kind="stable"):
        if len(picked) >= count:
            return
        if archs[index] not in picked:
            picked[archs[index]] = evaluate(archs[index])


def fit_weights(matrix: np.ndarray, labels, seed: int, steps: int = 40) -> np.ndarray:
    """Weights whose weighted sum of ``matrix``'s columns ranks its rows as ``labels`` do (Spearman's
    rho), found by the same Bayesian optimisation: the learned ranking as a predictor fitted on
    labelled architectures (``benchmarks/predictor_study.py``). The optimisation starts from each
    column alone, so on the labelled rows it does at least as well as the best single column."""
    import numpy as np

    from scipy.stats import spearmanr

    rng = np.random.default_rng(seed)
    tried: list[np.ndarray] = []
    scored: list[float] = []
    alone = list(np.eye(matrix.shape[1]))
    for _ in range(max(steps, len(alone))):
        weights = alone.pop(0) if alone else _propose(tried, scored, matrix.shape[1], rng, seed)
        rho = spearmanr(matrix @ weights, labels).statistic
        tried.append(weights)
        scored.append(float(rho) if math.isfinite(rho) else -1.0)
    return tried[int(np.argmax(scored))]


def _propose(tried: list, scored: list, dims: int, rng: np.random.Generator, seed: int) -> np.ndarray:
    """The next weights: random in [-1, 1] at first, then the upper confidence bound of a Gaussian
    process fitted to the weights tried and what each scored, maximised over random candidates."""
    import numpy as np

    if not tried:
        return rng.uniform(-1, 1, dims)
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import Matern

    gp = GaussianProcessRegressor(Matern(nu=2.5), alpha=1e-6, normalize_y=True, n_restarts_optimizer=2,
                                  random_state=seed)
    with warnings.catch_warnings():  # few points: the kernel's bounds are often reached, which is fine
        warnings.simplefilter("ignore")
        gp.fit(np.array(tried), np.array(scored))
    candidates = rng.uniform(-1, 1, (CANDIDATES, dims))
    mean, std = gp.predict(candidates, return_std=True)
    return candidates[int(np.argmax(mean + KAPPA * std))]


def normalised(archs: list[str], pool: dict[str, dict], features: Callable | None) -> np.ndarray:
    """One column per proxy value and architecture feature, min-max scaled to [0, 1] over the pool
    (a value that is not finite, or a constant column, counts 0)."""
    import numpy as np

    described = {a: features(a) for a in archs} if features else {a: {} for a in archs}
    proxies = sorted({name for values in pool.values() for name in values})
    names = sorted({name for row in described.values() for name in row})
    columns = [[_finite(pool[a].get(n), math.nan) for a in archs] for n in proxies]
    columns += [[_finite(described[a].get(n), math.nan) for a in archs] for n in names]
    matrix = np.array(columns, dtype=float).T
    for j in range(matrix.shape[1]):
        column = matrix[:, j]
        ok = np.isfinite(column)
        low, high = (column[ok].min(), column[ok].max()) if ok.any() else (0.0, 0.0)
        matrix[:, j] = np.where(ok, (column - low) / (high - low), 0.0) if high > low else 0.0
    return matrix


def _finite(value, fallback: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return fallback
    return value if math.isfinite(value) else fallback
