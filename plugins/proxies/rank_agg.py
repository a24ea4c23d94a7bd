"""``rank_agg:A+B+...``: any proxies combined by AZ-NAS's rank aggregation, across a population.

``rank_agg:regswap+flops`` gives architecture i the value log(rank_regswap(i)/N) +
log(rank_flops(i)/N), ranks ascending within the scored architectures (see ``ranking``).
It is a population-level proxy: its value for one architecture depends on the others scored
with it, so it only means something inside one correlate/search run, never as an absolute score.

Why this definition: it is the one published aggregation with a track record for combining
training-free proxies (AZ-NAS, CVPR 2024, Eq. 12; reused unchanged by VKDNW, CVPR 2025, Eq. 15,
for its VKDNW_agg); a plain sum of ranks (TE-NAS) forgives a network that is bad in one part.
Examples: AZ-NAS is ``rank_agg:az_expressivity+az_progressivity+az_trainability+az_complexity``
(also registered as ``az_nas``); VKDNW_agg is
``rank_agg:vkdnw_single+jacov+az_expressivity+az_trainability+flops``.
"""

from __future__ import annotations

from swapfw import hookimpl
from swapfw.plugin_api import SwapfwError

from .ranking import parse_parts, rank_aggregate


class RankAggregate:
    name = "rank_agg"
    description = "sum of log(rank/N) of the listed proxies within the population (AZ-NAS's aggregation, 2024)"
    needs = frozenset()
    population = True
    derived_from: tuple[str, ...] = ()

    def __init__(self, parts: tuple[str, ...] = ()):
        self.derived_from = tuple(parts)
        if parts:
            self.name = f"rank_agg:{'+'.join(parts)}"

    def configure(self, argument: str) -> "RankAggregate":
        """``"regswap+flops"`` -> a new object combining those proxies (names checked by the core)."""
        return RankAggregate(parse_parts(argument, "rank_agg"))

    def combine_population(self, values: dict, settings: dict) -> list[float]:
        """values[part][i] -> one aggregate per architecture; NaN where any part is NaN."""
        if not self.derived_from:
            raise SwapfwError("rank_agg needs the proxies to combine: use rank_agg:PROXY+PROXY")
        missing = [part for part in self.derived_from if part not in values]
        if missing:
            raise SwapfwError(f"{self.name} got no values for {', '.join(missing)}")
        return rank_aggregate([values[part] for part in self.derived_from])


@hookimpl
def register_proxies(register):
    register(RankAggregate())
