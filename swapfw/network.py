"""A network ready to score: its module with initialised weights, its IR and its site binding.

The binding is made on first use, so metrics that never read activation patterns (params,
synflow, ...) also work on a model with no activation to score.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from .binding import Binding, bind
from .errors import SwapfwError
from .importers import LoadedModel, load_model
from .ir import ModelIR, build_ir
from .plugins import get_registry
from .probe import Probe
from .weights import initialise

DEFAULT_INPUT_SHAPE = (3, 32, 32)


@dataclass
class Network:
    loaded: LoadedModel
    ir: ModelIR
    device: torch.device
    settings: dict = field(default_factory=dict)  # protocol settings proxies may read (mu, sigma, repeats)
    memo: dict = field(default_factory=dict)  # results shared between proxies on the same batch
    binariser: str | None = None  # --binariser: serve every site it handles

    @functools.cached_property
    def binding(self) -> Binding:
        """Which binariser reads which value; an error here if no site can be read."""
        return bind(self.ir, get_registry(), self.binariser)

    @functools.cached_property
    def probe(self) -> Probe:
        """The instrumented model, built once: rewriting the fx graph costs more than a small forward."""
        return Probe(self.ir, self.binding.points)

    @property
    def module(self) -> nn.Module:
        return self.ir.module

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.ir.input_shape


def resolve_input_shape(declared, requested, default=None) -> tuple[int, ...]:
    """The per-sample input shape: what the user asked for, checked against what the model declares."""
    if requested is not None:
        requested = tuple(int(d) for d in requested)
        if any(d < 1 for d in requested):
            raise SwapfwError(f"--input-shape must be positive, got {','.join(map(str, requested))}")
        if declared is not None:
            if len(declared) != len(requested) or any(d is not None and d != r for d, r in zip(declared, requested)):
                shown = ",".join("?" if d is None else str(d) for d in declared)
                raise SwapfwError(f"--input-shape {','.join(map(str, requested))} does not match the model's input {shown}")
        return requested
    if declared is None:
        return tuple(default or DEFAULT_INPUT_SHAPE)
    if any(d is None for d in declared):
        shown = ",".join("?" if d is None else str(d) for d in declared)
        raise SwapfwError(f"the model's input shape {shown} has symbolic dims: give --input-shape C,H,W")
    return tuple(declared)


def prepare(model, *, input_shape=None, init: str = "random", seed: int = 0, device: str = "cpu",
            binariser: str | None = None, build_options: dict | None = None, settings: dict | None = None) -> Network:
    """Load, initialise, trace and bind a model; the one-way path import -> IR -> binding."""
    loaded = load_model(model, build_options)
    shape = resolve_input_shape(loaded.input_shape, input_shape, loaded.default_shape)
    initialise(loaded.module, init, seed)
    dev = _device(device)
    loaded.module.to(dev)
    example = torch.randn((2, *shape), generator=torch.Generator().manual_seed(seed)).to(dev)
    ir = build_ir(loaded.module, example, constants_are_weights=loaded.origin == "onnx")
    settings = dict(settings or {}, init=init)
    return Network(loaded, ir, dev, settings, binariser=binariser)


def _device(name: str) -> torch.device:
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise SwapfwError(f"unknown device {name!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SwapfwError("--device cuda asked for, but torch sees no CUDA device here")
    return dev
