"""swapfw: training-free NAS around SWAP-Score. import -> IR -> engine -> score."""

from .errors import SwapfwError
from .hookspecs import hookimpl
from .version import __version__


def __getattr__(name):
    # Lazy so that ``from swapfw import hookimpl`` in a plugin does not import torch-heavy modules.
    if name == "score":
        from .scoring.score import score
        from .studies import reference  # noqa: F401  (measures calibrated proxies' reference samples)
        return score
    if name == "ScoreResult":
        from .scoring.score import ScoreResult
        return ScoreResult
    if name in ("prepare", "Network"):
        from .scoring import network
        return getattr(network, name)
    if name == "load_model":
        from .graph.importers import load_model
        return load_model
    if name == "build_ir":
        from .graph.ir import build_ir
        return build_ir
    if name == "ExecutorSpec":
        from .running.executors import ExecutorSpec
        return ExecutorSpec
    if name == "settle_process":
        from .running.process import settle_process
        return settle_process
    if name in ("list_plugins", "get_plugin"):
        from . import plugins
        return {"list_plugins": plugins.names, "get_plugin": plugins.get}[name]
    raise AttributeError(name)


__all__ = ["score", "ScoreResult", "prepare", "Network", "load_model", "build_ir",
           "list_plugins", "get_plugin", "ExecutorSpec", "settle_process", "hookimpl", "SwapfwError", "__version__"]
