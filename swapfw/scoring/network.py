"""A network ready to score: its module with initialised weights, its IR and its site binding.

The binding is made on first use, so metrics that never read activation patterns (params,
synflow, ...) also work on a model with no activation to score.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn

from ..errors import SwapfwError
from ..graph.importers import LoadedModel, load_model, parse_space_model, resolve_input_shape, space_params, take_ids
from ..graph.ir import ModelIR, build_ir
from ..patterns.binding import Binding, KindRule, bind
from ..patterns.count import count_patterns, count_recording_ir
from ..patterns.engine import PatternCounts
from ..patterns.probe import Probe
from ..plugins import get_registry
from .costs import sized_ir, torch_device
from .weights import initialise


@dataclass
class Network:
    loaded: LoadedModel
    device: torch.device
    example: torch.Tensor  # two samples of the input; fixes the IR's shapes where it is built on its own
    settings: dict = field(default_factory=dict)  # protocol settings proxies may read (mu, sigma, repeats)
    memo: dict = field(default_factory=dict)  # results shared between proxies on the same batch
    binariser: str | None = None  # --binariser: serve every site it handles
    size_options: dict | None = None  # build options of the network params/flops describe; None: this one
    build_options: dict = field(default_factory=dict)  # build options of this network (a SPACE:ARCH model's)
    built_ir: ModelIR | None = None  # the IR, once built (see ``ir``)
    recorded: Callable[[], ModelIR] | None = None  # makes the IR the first count recorded

    @property
    def ir(self) -> ModelIR:
        """The model's IR. A traced model gets it in ``prepare``; a model described by module hooks
        (a ``module_activations`` space) records it during its first pattern count and makes the
        graph the first time it is asked for, or runs a small forward pass of its own when something
        asks before any count."""
        if self.built_ir is None and self.recorded is not None:
            self.built_ir, self.recorded = self.recorded(), None
        if self.built_ir is None:
            with _buffers_kept(self.loaded.module):  # asked for by a proxy: leave its BatchNorm statistics alone
                self.built_ir = build_ir(self.loaded.module, self.example, trace=False)
        return self.built_ir

    @functools.cached_property
    def binding(self) -> Binding:
        """Which binariser reads which value; an error here if no site can be read."""
        return bind(self.ir, get_registry(), self.binariser)

    @functools.cached_property
    def probe(self) -> Probe:
        """The instrumented model, built once: rewriting the fx graph costs more than a small forward."""
        return Probe(self.ir, self.binding.points)

    @property
    def sized_params(self) -> int:
        """Parameters of the network the protocol sizes, for ``params`` and the regulariser. A
        SPACE:ARCH model takes the one route of every sized count (``graph.importers.space_params``:
        this network where it is the sized one, else the space's count without building it);
        another model counts its IR (an ONNX file's constant weights included)."""
        in_space = parse_space_model(self.loaded.source) if self.loaded.origin == "space" else None
        if in_space is not None:
            return space_params(*in_space, self.build_options if self.size_options is None else self.size_options,
                                built=self.loaded.module if self.size_options is None else None)
        return self.built_ir.params if self.built_ir is not None else _params(self.loaded.module)

    @functools.cached_property
    def sized_ir(self) -> ModelIR:
        """The IR of the network the protocol sizes (for its FLOPs): ``costs.sized_ir``. On the meta
        device the same pass runs through Python decompositions at 2-4 times the cost."""
        if self.size_options is None:
            return self.ir
        return sized_ir(self.loaded.source, self.size_options, traced=_traced(self.loaded))

    @property
    def module(self) -> nn.Module:
        """The module proxies run: the traced GraphModule, or the model itself on the hook route."""
        return self.built_ir.module if self.built_ir is not None else self.loaded.module

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.example.shape[1:])

    def count(self, inputs: torch.Tensor) -> PatternCounts:
        """The patterns of one forward pass of ``inputs`` with the weights the network has now (or of
        one pass per group of samples, for a model that takes a fixed number at a time)."""
        if self.built_ir is None and self.recorded is None and self.loaded.fixed_batch is None:
            return self._count_recording_ir(inputs)
        return count_patterns(self.probe, self.binding.binarisers, inputs, self.device, self.loaded.fixed_batch)

    def _count_recording_ir(self, inputs: torch.Tensor) -> PatternCounts:
        """The first count on the hook route: the same pass records the IR, so finding the sites
        costs no forward pass of its own. Its taps are numbered in the order the pass met them,
        which is the order ``bind`` gives the recorded IR's sites (execution order both; the
        tests hold every space to it), so ``per_tap`` means the same as a later count's."""
        counts, self.recorded, _ = count_recording_ir(self.loaded.module, KindRule(get_registry(), self.binariser),
                                                      inputs, self.device)
        return counts


def prepare(model, *, input_shape=None, init: str = "random", seed: int = 0, device: str = "cpu",
            binariser: str | None = None, build_options: dict | None = None, size_options: dict | None = None,
            settings: dict | None = None, ids: bool = False) -> Network:
    """Load, initialise and describe a model; the one-way path import -> IR -> binding.

    ``ids``: the user's data is token ids, so a torch module takes them (see ``take_ids``).

    ``size_options``: build options of the network ``params``, ``flops`` and the regulariser
    describe, where a protocol scores a smaller proxy network (a SPACE:ARCH model only).
    """
    loaded = load_model(model, build_options, input_shape)
    if ids:
        take_ids(loaded)
    shape = resolve_input_shape(loaded.input_shape, input_shape, loaded.default_shape, ids=loaded.takes_ids)
    initialise(loaded.module, init, seed)
    dev = torch_device(device)
    if not _all_on(loaded.module, dev):  # walking every module to move nothing costs ~2 ms an NB201 network
        loaded.module.to(dev)
    example = loaded.example(shape, seed).to(dev)
    ir = (build_ir(loaded.module, example, constants_are_weights=loaded.origin == "onnx")
          if _traced(loaded) else None)  # the hook route records its IR in the first count
    settings = dict(settings or {}, init=init)
    if size_options is not None and loaded.origin != "space":
        raise SwapfwError("size options describe a search space's network: they apply to SPACE:ARCH models only")
    return Network(loaded, dev, example, settings, binariser=binariser, size_options=size_options,
                   build_options=dict(build_options or {}), built_ir=ir)


@contextlib.contextmanager
def _buffers_kept(module: nn.Module):
    """Put every buffer (BatchNorm running statistics, ...) back as it was after the block."""
    saved = [(buffer, buffer.clone()) for buffer in module.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


def _all_on(module: nn.Module, dev: torch.device) -> bool:
    return all(t.device == dev for t in itertools.chain(module.parameters(), module.buffers()))


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _traced(loaded: LoadedModel) -> bool:
    """Trace with torch.fx unless the model's space says module hooks see every activation."""
    return not getattr(loaded.space, "module_activations", False)


@dataclass
class PatternSummary:
    """Pattern counts averaged over ``repeats`` re-initialisations (exact integers for one)."""

    swap: float
    standard_patterns: float
    values: int


def measure_patterns(network: Network, inputs: torch.Tensor, *, seed: int, repeats: int = 1) -> PatternSummary:
    """SWAP and |A| averaged over re-initialisations; shared by every proxy on the same batch.

    Repeat r draws its weights from seed ``seed`` for r = 0 (so one repeat equals plain
    scoring) and from a seed derived from (seed, r) after that.
    """
    key = (id(inputs), seed, repeats)
    if key in network.memo:
        return network.memo[key][1]
    if repeats < 1:
        raise SwapfwError(f"--repeats must be at least 1, got {repeats}")
    if repeats > 1 and network.settings.get("init") == "keep":
        raise SwapfwError("--repeats re-initialises the weights; it cannot be combined with --init keep")
    counts = []
    for r in range(repeats):
        if network.settings.get("init", "random") == "random":
            initialise(network.loaded.module, "random", seed if r == 0 else hash((seed, r)) & 0x7FFFFFFF)
        counts.append(network.count(inputs))
    summary = PatternSummary(sum(c.swap for c in counts) / repeats,
                             sum(c.standard_patterns for c in counts) / repeats, counts[0].values)
    network.memo[key] = (inputs, summary)  # keep inputs alive so its id is not reused
    return summary
