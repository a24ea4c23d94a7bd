"""Proxies from the pattern engine: ``swap`` (SWAP-Score) and ``patterns`` (|A|, Definition 3.1)."""

from swapfw import hookimpl
from swapfw.score import count_patterns


class SwapScore:
    name = "swap"
    description = "distinct sample-wise activation patterns (SWAP-Score)"
    needs = frozenset({"patterns"})

    def score(self, network, batch, *, seed):
        return count_patterns(network, batch.inputs).swap


class StandardPatterns:
    name = "patterns"
    description = "distinct whole-network activation patterns among the samples, |A|"
    needs = frozenset({"patterns"})

    def score(self, network, batch, *, seed):
        return count_patterns(network, batch.inputs).standard_patterns


@hookimpl
def register_proxies(register):
    register(SwapScore())
    register(StandardPatterns())
