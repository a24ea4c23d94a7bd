"""The hooks a swapfw plugin may implement: one per plugin kind.

Each hook receives a ``register`` callable; the plugin calls it once per object it
provides. What an object of each kind must provide is one protocol each in
``swapfw.contracts`` (checked at registration); ``docs/writing-plugins.md`` walks through
an example of every kind.
"""

import pluggy

hookspec = pluggy.HookspecMarker("swapfw")
hookimpl = pluggy.HookimplMarker("swapfw")


@hookspec
def register_spaces(register):
    """Register search spaces: ``swapfw.contracts.Space``."""


@hookspec
def register_proxies(register):
    """Register proxies: training-free metrics, a network and a batch in, a float out.

    ``swapfw.contracts.Proxy``; derived, population-level and parametrised ones meet
    ``DerivedProxy``, ``PopulationProxy`` and ``ParametrisedProxy``.
    """


@hookspec
def register_searchers(register):
    """Register searchers: strategies that explore a space with a scoring function (``contracts.Searcher``)."""


@hookspec
def register_binarisers(register):
    """Register binarisers: an activation site's values -> sample-wise bits (``contracts.Binariser``)."""


@hookspec
def register_evaluators(register):
    """Register evaluators: costly, real evaluations a search spends a few of (``contracts.Evaluator``):
    training an architecture, or looking a trained result up."""


@hookspec
def register_latency_meters(register):
    """Register latency meters: how long one architecture's network takes to run a batch, measured on a
    device with a runtime, or looked up in a table or predicted (``contracts.LatencyMeter``)."""


@hookspec
def register_executors(register):
    """Register executors: where scoring tasks run, this process, worker processes or a cluster.

    ``swapfw.contracts.Executor``; its ``open(spec)`` returns a ``contracts.Pool``.
    """
