"""The hooks a swapfw plugin may implement: one per plugin kind.

Each hook receives a ``register`` callable; the plugin calls it once per object it
provides. An object needs a ``name`` attribute; what else each kind offers is in the
README's Plugins section (proxies: ``swapfw.proxies`` and ``swapfw.fresh``).
"""

import pluggy

hookspec = pluggy.HookspecMarker("swapfw")
hookimpl = pluggy.HookimplMarker("swapfw")


@hookspec
def register_spaces(register):
    """Register search spaces (parse, format, sample, mutate, crossover, build)."""


@hookspec
def register_proxies(register):
    """Register proxies: training-free metrics that map a network and a batch to a float.

    A proxy declares ``needs`` (``gradients``, ``targets``, ``patterns``) and, for its fresh copy
    of the network, ``init``, ``bn`` and ``precision``; a derived one names ``derived_from``.
    """


@hookspec
def register_searchers(register):
    """Register searchers: strategies that explore a space with a scoring function."""


@hookspec
def register_binarisers(register):
    """Register binarisers: turn an activation site's values into sample-wise bits."""


@hookspec
def register_executors(register):
    """Register executors: where scoring tasks run (this process, worker processes, a cluster).

    An executor has ``open(spec) -> pool``; see ``swapfw.executors`` for what a pool does.
    """
