"""``calibrated:A+B+...``: AZ-NAS's log-rank aggregation with ranks taken against a fixed reference
sample of the space, so every architecture has its own score.

``rank_agg:A+B`` ranks the architectures of one run against each other, so its values exist
only inside that run (and ``search`` cannot use it). Here each part's value is turned into its
quantile among the part's values over ``REFERENCE`` architectures of the space (sampled and
scored with a fixed seed under the same protocol, once, and kept in the score cache), and the
quantiles are combined as AZ-NAS combines ranks:

    calibrated(i) = sum over parts m of  log(q_m(i)),   q = (below + equal / 2 + 1/2) / (n + 1)

``below``/``equal`` count the reference values under/at the architecture's, n the reference
size: the mid-rank among the reference plus the architecture itself, always inside (0, 1), so
an architecture beyond every reference value still gets a finite score. Over a population the
ranking equals ``rank_agg``'s as n grows.
"""

from __future__ import annotations

import bisect
import math

from swapfw import hookimpl
from swapfw.plugin_api import SwapfwError

from .ranking import parse_parts

#: architectures in the reference sample
REFERENCE = 1000


def quantile(value: float, reference: list[float]) -> float:
    """Mid-rank quantile of ``value`` among the sorted ``reference`` values, in (0, 1)."""
    below = bisect.bisect_left(reference, value)
    equal = bisect.bisect_right(reference, value) - below
    return (below + equal / 2 + 0.5) / (len(reference) + 1)


class CalibratedAggregate:
    name = "calibrated"
    description = (f"sum of log quantiles of the listed proxies against {REFERENCE:,} reference architectures "
                   "of the space (AZ-NAS's aggregation, one score per architecture)")
    needs = frozenset()
    reference = REFERENCE
    derived_from: tuple[str, ...] = ()

    def __init__(self, parts: tuple[str, ...] = ()):
        self.derived_from = tuple(parts)
        if parts:
            self.name = f"calibrated:{'+'.join(parts)}"

    def configure(self, argument: str) -> "CalibratedAggregate":
        """``"regswap+meco"`` -> a proxy combining those proxies (names checked by the core)."""
        return CalibratedAggregate(parse_parts(argument, "calibrated"))

    def combine(self, values: dict, settings: dict) -> float:
        reference = settings.get("reference")
        if not reference:
            raise SwapfwError(f"{self.name} needs its reference sample's values")
        return sum(math.log(quantile(values[part], reference[part])) for part in self.derived_from)


@hookimpl
def register_proxies(register):
    register(CalibratedAggregate())
