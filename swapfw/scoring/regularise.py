"""Regularised SWAP (Definitions 3.4-3.5): steer model size with f(theta) = exp(-(theta-mu)^2/sigma).

theta is the parameter count in millions (the authors' code uses thousands; the paper's
definition and its reported mu/sigma values are in millions).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from ..errors import SwapfwError


def size_factor(params: int, mu: float, sigma: float) -> float:
    """f(theta) for a model with ``params`` parameters."""
    if sigma <= 0:
        raise SwapfwError(f"sigma must be positive, got {sigma}")
    theta = params / 1e6
    return math.exp(-((theta - mu) ** 2) / sigma)


def auto_mu_sigma(sizes: Sequence[int]) -> tuple[float, float]:
    """mu and sigma from the parameter counts of architectures sampled from a space.

    The rule uses model sizes alone, never ground truth: mu = the largest sampled size in millions
    and sigma = mu squared, so the factor is exp(-(theta/mu - 1)^2), a function of the size relative
    to the space's largest: the same width on a space of 1 M parameters as on one of 50 M. It ranked
    the development splits best of the rules measured (benchmarks/mu_sigma_rules.py; mu = sigma,
    the earlier rule, made the factor outrank SWAP on the large spaces).
    """
    if not sizes:
        raise SwapfwError("auto mu/sigma needs at least one sampled architecture size")
    top = max(sizes) / 1e6
    return top, top * top


def parse_mu_sigma(text: str | float | None) -> float | str | None:
    """A CLI value: a number, 'auto', or None (no regularisation)."""
    if text is None or isinstance(text, float):
        return text
    if isinstance(text, int) and not isinstance(text, bool):
        return float(text)
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise SwapfwError(f"mu/sigma must be a number or 'auto', got {text!r}") from None


def fill_auto(mu, sigma, sizes: Callable[[], Sequence[int]]) -> tuple:
    """Replace 'auto' in mu or sigma by auto_mu_sigma(sizes()); sizes are computed only when asked.

    ``sizes`` is always ``swapfw.studies.reference.sizes``: the parameter counts of the space's
    reference architectures, one definition for ``score``, ``correlate`` and ``search``."""
    if "auto" not in (mu, sigma):
        return mu, sigma
    auto_mu, auto_sigma = auto_mu_sigma(sizes())
    return (auto_mu if mu == "auto" else mu), (auto_sigma if sigma == "auto" else sigma)
