"""Regularised SWAP (Definitions 3.4-3.5): steer model size with f(theta) = exp(-(theta-mu)^2/sigma).

theta is the parameter count in millions (the authors' code uses thousands; the paper's
definition and its reported mu/sigma values are in millions).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from ..errors import SwapfwError


def size_factor(params: int, mu: float, sigma: float) -> float:
    """f(theta) for a model with ``params`` parameters."""
    if sigma <= 0:
        raise SwapfwError(f"sigma must be positive, got {sigma}")
    theta = params / 1e6
    return math.exp(-((theta - mu) ** 2) / sigma)


def auto_mu_sigma(sizes: Sequence[int]) -> tuple[float, float]:
    """mu and sigma from the parameter counts of architectures sampled from a space.

    The rule uses model sizes alone, never ground truth: mu = sigma = the largest sampled size
    in millions, so the factor peaks at the space's large end and decays over its range.
    """
    if not sizes:
        raise SwapfwError("auto mu/sigma needs at least one sampled architecture size")
    top = max(sizes) / 1e6
    return top, top


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


#: Architectures sampled to derive mu and sigma for a single SPACE:ARCH score.
AUTO_SAMPLES = 1000


def fill_auto(mu, sigma, sizes: Callable[[], Sequence[int]]) -> tuple:
    """Replace 'auto' in mu or sigma by auto_mu_sigma(sizes()); sizes are computed only when asked."""
    if "auto" not in (mu, sigma):
        return mu, sigma
    auto_mu, auto_sigma = auto_mu_sigma(sizes())
    return (auto_mu if mu == "auto" else mu), (auto_sigma if sigma == "auto" else sigma)


def space_sizes(space, build_options: dict | None = None, samples: int | None = None, seed: int = 0) -> list[int]:
    """Parameter counts of ``samples`` (default AUTO_SAMPLES) architectures of ``space``, kept per process."""
    samples = samples or AUTO_SAMPLES
    key = (space.name, tuple(sorted((build_options or {}).items())), samples, seed)
    if key not in _space_sizes:
        _space_sizes[key] = [space_params(space, arch, build_options or {}) for arch in space.sample(samples, seed)]
    return _space_sizes[key]


_space_sizes: dict[tuple, list[int]] = {}


def space_params(space, arch: str, build_options: dict) -> int:
    """Parameter count of one architecture: the space's own count where it has one (``count_params``,
    no build), else built on the meta device where the builder allows (shapes only: no memory, no
    initialisation), else built for real."""
    if hasattr(space, "count_params"):
        return int(space.count_params(arch, **build_options))
    try:
        with torch.device("meta"):
            return sum(p.numel() for p in space.build(arch, **build_options).parameters())
    except SwapfwError:
        raise
    except Exception:
        return sum(p.numel() for p in space.build(arch, **build_options).parameters())


def resolve_mu_sigma(mu, sigma, space, build_options: dict | None = None) -> tuple[float | None, float | None]:
    """Numbers (or None) pass through; 'auto' takes the space's sampled sizes (needs a space)."""
    mu, sigma = parse_mu_sigma(mu), parse_mu_sigma(sigma)
    if "auto" in (mu, sigma) and space is None:
        raise SwapfwError("--mu/--sigma auto derive from a search space's sampled sizes: score a SPACE:ARCH "
                          "model, or give numbers")
    return fill_auto(mu, sigma, lambda: space_sizes(space, build_options))
