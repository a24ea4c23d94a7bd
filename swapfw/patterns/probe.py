"""Run a model and hand chosen intermediate values to a callback the moment they exist.

On a traced model the probe rewrites a copy of the fx graph, inserting one tap call after
each chosen node, so nothing is stored unless the callback keeps it. On a hook IR it uses
forward hooks (post-activation) and forward pre-hooks (pre-activation) on leaf modules.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch
import torch.fx
import torch.nn as nn

from ..graph.ir import ModelIR, hook_node

Sink = Callable[[int, torch.Tensor], None]


@dataclass(frozen=True)
class TapPoint:
    """A value in the model: the result of ``node``, or (hook IR only) the input of module ``node``."""

    node: str
    side: str = "value"  # "value" | "input"


class _Hub:
    sink: Sink | None = None


class _Tap(nn.Module):
    def __init__(self, hub: _Hub, index: int):
        super().__init__()
        self.hub, self.index = hub, index

    def forward(self, value):
        if isinstance(value, torch.Tensor):
            self.hub.sink(self.index, value)


class Probe:
    """``probe.run(batch, sink)`` runs the model, calling ``sink(i, value)`` for tap point i."""

    def __init__(self, ir: ModelIR, points: list[TapPoint]):
        self.ir, self.points, self._hub = ir, points, _Hub()
        self._runner = self._fx_runner() if ir.traced else self._hook_runner()

    def run(self, batch: torch.Tensor, sink: Sink):
        self._hub.sink = sink
        try:
            return self._runner(batch)
        finally:
            self._hub.sink = None

    def _fx_runner(self):
        gm = self.ir.module
        graph = copy.deepcopy(gm.graph)
        instrumented = torch.fx.GraphModule(gm, graph)
        nodes = {n.name: n for n in graph.nodes}
        for index, point in enumerate(self.points):
            target = f"_swapfw_tap_{index}"
            instrumented.add_submodule(target, _Tap(self._hub, index))
            with graph.inserting_after(nodes[point.node]):
                graph.call_module(target, (nodes[point.node],))
        instrumented.recompile()
        return instrumented

    def _hook_runner(self):
        model, graph, hub = self.ir.module, self.ir.graph, self._hub
        by_module: dict[tuple[str, int, str], int] = {}
        for index, point in enumerate(self.points):
            data = graph.nodes[point.node]
            by_module[(data["target"], data["call"], point.side)] = index
        modules = dict(model.named_modules())
        tapped = [(path, modules[path]) for path in sorted({key[0] for key in by_module})]
        lookup = lambda path, call, side: by_module.get((path, call, side))  # noqa: E731
        return lambda batch: run_with_module_taps(model, tapped, lookup, hub.sink, batch)


def run_with_module_taps(model: nn.Module, modules: list[tuple[str, nn.Module]],
                         lookup: Callable[[str, int, str], int | None], sink: Sink, batch: torch.Tensor):
    """Run ``model`` with hooks on ``modules`` (path, module): call ``call`` of the module at ``path``
    hands its input (side ``"input"``) or result (``"value"``) to ``sink`` as tap ``lookup(path, call, side)``,
    or to nobody where that is None."""
    calls: dict[str, int] = {}

    def pre(path):
        def hook(mod, inputs):
            index = lookup(path, calls.get(path, 0), "input")
            if index is not None and isinstance(inputs[0], torch.Tensor):
                sink(index, inputs[0])
        return hook

    def post(path):
        def hook(mod, inputs, output):
            call = calls.get(path, 0)
            calls[path] = call + 1
            index = lookup(path, call, "value")
            if index is not None and isinstance(output, torch.Tensor):
                sink(index, output)
        return hook

    handles = [module.register_forward_pre_hook(pre(path)) for path, module in modules]
    handles += [module.register_forward_hook(post(path)) for path, module in modules]
    try:
        return model(batch)
    finally:
        for handle in handles:
            handle.remove()


class TapsFoundWhileRunning:
    """Tap points numbered as a hook-IR model runs: every call of each chosen module, on the side
    chosen for it, in execution order. For the first count of a network whose IR is recorded by
    that same pass (the order is the order ``find_sites`` gives the recorded IR's sites)."""

    def __init__(self, choices: dict[str, tuple[object, str]]):
        self.choices = choices  # module path -> (binariser, side)
        self.points: list[TapPoint] = []
        self.binarisers: list = []

    def __call__(self, path: str, call: int, side: str) -> int | None:
        binariser, chosen_side = self.choices.get(path, (None, None))
        if chosen_side != side:
            return None
        self.points.append(TapPoint(hook_node(path, call), side))
        self.binarisers.append(binariser)
        return len(self.points) - 1
