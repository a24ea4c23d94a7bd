"""swapfw: training-free NAS around SWAP-Score. import -> IR -> patterns -> score -> studies.

The public API mirrors the ``swapfw`` command, one function per command (``swapfw.api``):
``score``, ``correlate``, ``search``, ``convert``, ``export``, ``protocols``, ``space_info``,
``run_spec`` and ``plugin_info``. Plugin authors import ``hookimpl`` from here and everything
else they need from ``swapfw.plugin_api``.
"""

from .errors import SwapfwError
from .hookspecs import hookimpl
from .version import __version__

#: name -> (module, attribute): loaded on first use, so ``from swapfw import hookimpl`` in a plugin
#: does not import torch
_LAZY = {
    **{name: ("api", name) for name in ("score", "correlate", "search", "convert", "export", "protocols",
                                        "space_info", "run_spec", "plugin_info", "Result", "CorrelationResult",
                                        "SearchResult", "SpecResult")},
    "ScoreResult": ("scoring.score", "ScoreResult"),
    "prepare": ("scoring.network", "prepare"),
    "Network": ("scoring.network", "Network"),
    "load_model": ("graph.importers", "load_model"),
    "build_ir": ("graph.ir", "build_ir"),
    "ExecutorSpec": ("running.executors", "ExecutorSpec"),
    "settle_process": ("running.process", "settle_process"),
    "list_plugins": ("plugins", "names"),
    "get_plugin": ("plugins", "get"),
    "select_plugins": ("plugins", "select"),
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'swapfw' has no attribute {name!r}")
    import importlib

    module, attribute = _LAZY[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), attribute)


__all__ = [*_LAZY, "hookimpl", "SwapfwError", "__version__"]
