"""Reference samples: what a calibrated proxy compares each architecture's parts with.

A calibrated proxy (``calibrated:A+B``) turns each part into its quantile among the part's values
over a reference sample of the space (``reference`` architectures drawn with REFERENCE_SEED),
scored under the same protocol as the architecture itself, with REFERENCE_SEED as the scoring seed
too: one architecture has one score in ``score``, ``correlate`` and ``search`` alike, and the
sample is scored once per protocol, then reused by every run and seed. The sample is drawn from
the space alone (never from ground truth) and its values come from, and go to, the score cache
like any other.
"""

from __future__ import annotations

import math

from ..errors import SwapfwError
from ..plugins import get_space
from ..running.executors import ExecutorSpec, open_pool
from ..scoring import regularise
from ..scoring.proxies import calibrated, derive, parts_of, proxy_plan, reference_size, set_reference_provider
from .cache import ScoreCache
from .evaluate import Scorer, ScoringSettings

#: the seed the reference architectures are sampled with (a fixed, documented choice)
REFERENCE_SEED = 0


def reference_archs(space, count: int) -> list[str]:
    return [space.canonical(arch) for arch in space.sample(count, REFERENCE_SEED)]


def sizes(settings, cache, pool) -> list[int]:
    """The parameter counts ``--mu/--sigma auto`` read: the ``params`` proxy (the sized network's
    count) over the first AUTO_SAMPLES reference architectures, the architectures
    ``swapfw score --mu auto`` samples. A space that counts parameters without building
    (``count_params``) is counted here directly; otherwise each is a ``params`` task through the
    executor and the score cache, so a search pays for them once."""
    space = get_space(settings.space, settings.build_options)
    archs = reference_archs(space, regularise.AUTO_SAMPLES)
    if hasattr(space, "count_params"):  # counted here in well under a second: no task, nothing to cache
        sized = get_space(settings.space, settings.sized_options())
        return [regularise.space_params(sized, arch, settings.sized_options()) for arch in archs]
    scorer = Scorer(settings, ["params"], REFERENCE_SEED, cache, pool)
    measured, _ = scorer.measure_many(archs)
    counts = [values["params"] for values in measured.values()]
    return [int(v) for v in counts if math.isfinite(v)]


def measure(settings, names: list[str], cache, pool, mu, sigma) -> dict[str, dict[str, list[float]]]:
    """``{proxy: {part: sorted finite values over the reference sample}}`` for the calibrated ``names``."""
    space = get_space(settings.space, settings.build_options)
    references = {}
    for name in calibrated(names):
        parts = parts_of(name)
        _, nested = proxy_plan(list(parts))
        if calibrated(nested):
            raise SwapfwError(f"proxy {name!r} calibrates a part that is calibrated itself ({', '.join(calibrated(nested))})")
        scorer = Scorer(settings, list(parts), REFERENCE_SEED, cache, pool)
        measured, _ = scorer.measure_many(reference_archs(space, reference_size(name)))
        rows = [derive(values, scorer.derived, mu, sigma) for values in measured.values()]
        references[name] = {part: sorted(v for v in (row[part] for row in rows) if math.isfinite(v)) for part in parts}
        empty = [part for part, values in references[name].items() if not values]
        if empty:
            raise SwapfwError(f"proxy {name!r}: no finite value of {', '.join(empty)} over the reference sample")
    return references


def _provide(name: str, network) -> dict[str, list[float]]:
    """The reference of ``name`` for a network that ``swapfw.score`` prepared (SPACE:ARCH models only)."""
    scoring = network.settings.get("scoring")
    if scoring is None:
        raise SwapfwError(f"proxy {name!r} compares a network with a reference sample of its search space: "
                          "score a SPACE:ARCH model")
    settings = ScoringSettings(**scoring)
    cache = ScoreCache(None)
    try:
        with open_pool(ExecutorSpec(device=settings.device)) as pool:
            return measure(settings, [name], cache, pool, network.settings.get("mu"),
                           network.settings.get("sigma"))[name]
    finally:
        cache.close()


set_reference_provider(_provide)
