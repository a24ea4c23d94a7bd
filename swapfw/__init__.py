"""swapfw: training-free NAS around SWAP-Score. import -> IR -> engine -> score."""

from .hookspecs import hookimpl
from .errors import SwapfwError

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy so that ``from swapfw import hookimpl`` in a plugin does not import torch-heavy modules.
    if name == "score":
        from .scoring import score
        return score
    if name == "ScoreResult":
        from .scoring import ScoreResult
        return ScoreResult
    if name in ("prepare", "Network"):
        from . import network
        return getattr(network, name)
    if name == "load_model":
        from .importers import load_model
        return load_model
    if name == "build_ir":
        from .ir import build_ir
        return build_ir
    if name == "ExecutorSpec":
        from .executors import ExecutorSpec
        return ExecutorSpec
    if name in ("list_plugins", "get_plugin"):
        from . import plugins
        return {"list_plugins": plugins.names, "get_plugin": plugins.get}[name]
    raise AttributeError(name)


__all__ = ["score", "ScoreResult", "prepare", "Network", "load_model", "build_ir",
           "list_plugins", "get_plugin", "ExecutorSpec", "hookimpl", "SwapfwError"]
