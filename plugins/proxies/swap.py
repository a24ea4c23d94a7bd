"""Proxies from the pattern engine: ``swap`` (SWAP-Score), ``patterns`` (|A|) and ``regswap``.

``swap`` and ``patterns`` average over ``network.settings["repeats"]`` re-initialisations.
``regswap`` is derived: SWAP times the size factor f(theta) with ``mu``/``sigma`` from the
network's settings (Definitions 3.4-3.5).
"""

from swapfw import SwapfwError, hookimpl
from swapfw.plugin_api import size_factor
from swapfw.plugin_api import measure_patterns


def _patterns(network, batch, seed):
    return measure_patterns(network, batch.inputs, seed=seed, repeats=network.settings.get("repeats", 1))


class SwapScore:
    name = "swap"
    description = "distinct sample-wise activation patterns (SWAP-Score)"
    needs = frozenset({"patterns"})
    role = "swap_score"

    def score(self, network, batch, *, seed):
        return _patterns(network, batch, seed).swap


class StandardPatterns:
    name = "patterns"
    description = "distinct whole-network activation patterns among the samples, |A|"
    needs = frozenset({"patterns"})
    role = "standard_patterns"

    def score(self, network, batch, *, seed):
        return _patterns(network, batch, seed).standard_patterns


class RegularisedSwap:
    name = "regswap"
    description = "SWAP x exp(-((params in M - mu)^2 / sigma))"
    needs = frozenset({"patterns", "regularisation"})
    derived_from = ("swap", "params")
    role = "regularised_swap"
    default = True

    def combine(self, values, settings):
        mu, sigma = settings.get("mu"), settings.get("sigma")
        if not isinstance(mu, float) or not isinstance(sigma, float):
            raise SwapfwError("regswap needs numeric mu and sigma (--mu/--sigma)")
        return values["swap"] * size_factor(int(values["params"]), mu, sigma)


@hookimpl
def register_proxies(register):
    register(SwapScore())
    register(StandardPatterns())
    register(RegularisedSwap())
