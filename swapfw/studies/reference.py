"""The space's reference sample: what ``auto`` mu/sigma and calibrated proxies compare with.

One sample per space and protocol: ``REFERENCE_ARCHS`` architectures drawn with
``REFERENCE_SEED`` from the space alone (never from ground truth), the first of them sized for
``--mu/--sigma auto`` (the paper's rule: the size distribution of 1,000 randomly sampled
architectures, ``regularise.auto_mu_sigma``) and as many as a calibrated proxy declares
(``reference``) scored for it, under the same protocol, with ``REFERENCE_SEED`` as the scoring
seed too. ``derivation`` makes what derived proxies read from it, once per run, for ``score``,
``correlate`` and ``search`` alike, so one architecture has one regularised SWAP and one
calibrated score in every command. Values come from, and go to, the score cache like any other.
"""

from __future__ import annotations

import math

from ..errors import SwapfwError
from ..graph.importers import space_params
from ..plugins import get_space
from ..scoring import regularise
from ..scoring.proxies import (Derivation, calibrated, derive, needs_regularisation, parts_of, proxy_plan,
                               reference_size, role_proxy)
from .evaluate import Scorer, resolve

#: the seed the reference architectures are sampled (and scored) with: a fixed, documented choice
REFERENCE_SEED = 0
#: the reference architectures whose sizes ``--mu/--sigma auto`` read
AUTO_SAMPLES = 1000


def reference_archs(space, count: int) -> list[str]:
    """The first ``count`` architectures of the space's reference sample."""
    return [space.canonical(arch) for arch in space.sample(count, REFERENCE_SEED)]


def _reporter(progress, total: int, label: str):
    """``on_done`` for ``measure_many`` that advances ``progress`` under ``label`` (None without one)."""
    if progress is None:
        return None
    progress(0, total, label)
    return lambda _arch: progress(1, total, label)


def sizes(settings, cache, pool, progress=None) -> list[int]:
    """The parameter counts ``--mu/--sigma auto`` read: the sized network of each of the first
    AUTO_SAMPLES reference architectures, through the one route of every sized count
    (``graph.importers.space_params``). A space that counts without building is counted here
    (well under a second); another is sized by tasks of the ``params`` role's proxy through the
    executor and the score cache, so they are built once, ever. ``progress`` as the API's."""
    settings = resolve(settings)
    archs = reference_archs(get_space(settings.space, settings.build_options), AUTO_SAMPLES)
    if hasattr(get_space(settings.space, settings.sized_options()), "count_params"):
        return [space_params(settings.space, arch, settings.sized_options()) for arch in archs]
    params = role_proxy("parameter_count")
    on_done = _reporter(progress, len(archs), f"sizing {len(archs)} reference architectures for --mu/--sigma auto")
    measured, _ = Scorer(settings, [params], REFERENCE_SEED, cache, pool).measure_many(archs, on_done)
    return [int(values[params]) for values in measured.values() if math.isfinite(values[params])]


def measure(settings, names: list[str], cache, pool, mu, sigma, progress=None) -> dict[str, dict[str, list[float]]]:
    """``{proxy: {part: sorted finite values over the reference sample}}`` for the calibrated ``names``."""
    space = get_space(settings.space, settings.build_options)
    references = {}
    for name in calibrated(names):
        parts = parts_of(name)
        _, nested = proxy_plan(list(parts))
        if calibrated(nested):
            raise SwapfwError(f"proxy {name!r} calibrates a part that is calibrated itself ({', '.join(calibrated(nested))})")
        scorer = Scorer(settings, list(parts), REFERENCE_SEED, cache, pool)
        archs = reference_archs(space, reference_size(name))
        label = f"scoring {len(archs)} reference architectures for {name} (cached after the first run)"
        measured, _ = scorer.measure_many(archs, _reporter(progress, len(archs), label))
        rows = [derive(values, scorer.derived, Derivation(mu, sigma)) for values in measured.values()]
        references[name] = {part: sorted(v for v in (row[part] for row in rows) if math.isfinite(v)) for part in parts}
        empty = [part for part, values in references[name].items() if not values]
        if empty:
            raise SwapfwError(f"proxy {name!r}: no finite value of {', '.join(empty)} over the reference sample")
    return references


def derivation(settings, names: list[str], mu, sigma, cache, pool, progress=None) -> Derivation:
    """What the derived proxies among ``names`` (and their parts) read: mu and sigma, ``auto``
    replaced by the reference sizes' rule where a proxy needs regularisation (else None), and the
    reference samples of calibrated proxies. ``progress(advance, total, label)`` shows that work."""
    mu, sigma = regularise.parse_mu_sigma(mu), regularise.parse_mu_sigma(sigma)
    if not needs_regularisation(names):
        mu = sigma = None
    elif mu is None or sigma is None:
        raise SwapfwError("regularised SWAP needs both --mu and --sigma (numbers, or auto)")
    mu, sigma = regularise.fill_auto(mu, sigma, lambda: sizes(settings, cache, pool, progress))
    _, derived = proxy_plan(names)
    return Derivation(mu, sigma, measure(settings, derived, cache, pool, mu, sigma, progress))
