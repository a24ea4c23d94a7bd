"""Rank aggregation shared by the population-level proxies ``az_nas`` and ``rank_agg:A+B+...``.

Definition (AZ-NAS, Lee & Ham, CVPR 2024, Eq. 12; the authors' NB201 code
``np.log(stats.rankdata(score) / N)`` summed over the proxies; VKDNW, CVPR 2025, Eq. 15 uses
the same sum of log-ranks):

    aggregate(i) = sum over parts m of  log(rank_m(i) / N)

``rank_m`` ranks part m's values ascending (the largest value gets rank N), ties share their
average rank (``scipy.stats.rankdata``'s default), and N is the number of architectures ranked.
The log makes the sum non-linear: an architecture that is poor in any one part is pulled far
down, which is why AZ-NAS prefers it to a plain sum of ranks (TE-NAS).

Missing values: an architecture with NaN in any part gets NaN, and the others are ranked
among the complete architectures only (N counts those), so a failed architecture neither
takes a rank nor shifts anyone else's. Infinities are values with an order, not failures:
``az_trainability`` is -inf by its authors' definition for a network with an exact identity
block, and -inf simply takes the lowest rank, as in the authors' code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

from swapfw.plugin_api import SwapfwError


def rank_aggregate(columns: Sequence[Sequence[float]]) -> list[float]:
    """Sum of log(rank / N) over ``columns`` (one sequence per part, one value per architecture)."""
    if not columns:
        raise SwapfwError("rank aggregation needs at least one part")
    if len({len(column) for column in columns}) != 1:
        raise SwapfwError("rank aggregation needs the same number of values in every part")
    table = np.array([[_as_float(v) for v in column] for column in columns], dtype=float)
    complete = ~np.isnan(table).any(axis=0)
    result = np.full(table.shape[1], math.nan)
    count = int(complete.sum())
    if count:
        ranks = np.stack([rankdata(row[complete]) for row in table])
        result[complete] = np.log(ranks / count).sum(axis=0)
    return [float(v) for v in result]


def _as_float(value) -> float:
    """A part's value as a float; None (a value that was never measured) counts as NaN."""
    return math.nan if value is None else float(value)


def parse_parts(argument: str, proxy: str) -> tuple[str, ...]:
    """``"regswap+flops"`` -> ("regswap", "flops"); refuses empty, blank and repeated parts.

    Whether each part names a known proxy is checked by the core, which knows the registry.
    """
    text = (argument or "").strip()
    usage = f"use {proxy}:PROXY+PROXY, e.g. {proxy}:swap+flops"
    if not text:
        raise SwapfwError(f"{proxy} needs the proxies to combine: {usage}")
    parts = tuple(part.strip() for part in text.split("+"))
    if any(not part for part in parts):
        raise SwapfwError(f"{proxy}:{argument} has an empty part: {usage}")
    if any(any(ch.isspace() for ch in part) for part in parts):
        raise SwapfwError(f"{proxy}:{argument}: a proxy name has no spaces: {usage}")
    repeated = sorted({part for part in parts if parts.count(part) > 1})
    if repeated:
        raise SwapfwError(f"{proxy}:{argument} lists {', '.join(repeated)} more than once")
    return parts
