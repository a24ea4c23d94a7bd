"""What every training-free metric starts from: its own fresh copy of the network.

A metric that trains, rescales or backpropagates through a network must not leave a trace
on the next metric's network, so each gets a deep copy, re-initialised from the seed, in
the mode it declares on its proxy object:

- ``init``: ``"default"`` (PyTorch's own initialisers, as NAS-Bench-Suite-Zero and the
  zero-cost papers ran them), ``"kaiming"`` (Kaiming-normal fan-in, ReLU gain, zero biases,
  norm layers 1/0: the AZ-NAS and VKDNW authors' initialiser) or ``"paper"`` (swapfw's N(0, 1)
  protocol of SWAP-Score).
  A network scored with ``--init keep`` keeps its weights in every copy.
- ``bn``: ``"train"`` (batch statistics), ``"eval"`` or ``"none"`` (BatchNorm replaced by
  identity, as synflow is published).
- ``precision``: ``"float32"`` or ``"float64"``.

Also here: the labels a metric needs, the logits of a model's output, the conv and linear
layers per-weight metrics sum over, the loss gradients of a batch, and a batch split that
grows until a metric fits in memory.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F

from ..errors import SwapfwError, is_out_of_memory
from ..patterns.probe import Probe, TapPoint
from .weights import initialise

BN_MODES = ("train", "eval", "none")
PRECISIONS = {"float32": torch.float32, "float64": torch.float64}
_BATCHNORM = nn.modules.batchnorm._BatchNorm
WEIGHTED = (nn.modules.conv._ConvNd, nn.Linear)


def fresh_model(network, seed: int, *, init: str = "default", bn: str = "train",
                precision: str = "float32") -> nn.Module:
    """A deep copy of the network's module, re-initialised from ``seed``, in train mode."""
    if bn not in BN_MODES:
        raise SwapfwError(f"unknown BatchNorm mode {bn!r} (use {', '.join(BN_MODES)})")
    if precision not in PRECISIONS:
        raise SwapfwError(f"unknown precision {precision!r} (use {', '.join(PRECISIONS)})")
    model = copy.deepcopy(network.loaded.module)
    if network.settings.get("init", "random") != "keep":
        _reinitialise(model, init, seed)
    model.train()
    _disable_dropout(model)
    if bn == "none":
        _remove_batchnorm(model)
    elif bn == "eval":
        batchnorm_eval(model)
    return model.to(device=network.device, dtype=PRECISIONS[precision])


def fresh_for(proxy, network, seed: int) -> nn.Module:
    """The fresh copy a proxy object declares through its ``init``, ``bn`` and ``precision`` attributes."""
    return fresh_model(network, seed, init=getattr(proxy, "init", "default"), bn=getattr(proxy, "bn", "train"),
                       precision=getattr(proxy, "precision", "float32"))


def fresh_probe(network, model: nn.Module, points: list[TapPoint] | None = None) -> Probe:
    """A probe that taps ``model`` (a fresh copy) where the network's IR has ``points``.

    Default points: the network's binding. The IR's graph is copied, as a GraphModule owns its graph.
    """
    view = torch.fx.GraphModule(model, copy.deepcopy(network.ir.module.graph)) if network.ir.traced else model
    return Probe(dataclasses.replace(network.ir, module=view), network.binding.points if points is None else points)


def _reinitialise(model: nn.Module, init: str, seed: int) -> None:
    """Weights drawn from ``seed``; BatchNorm running statistics back to 0/1 (the copy carries what
    the original saw while its IR was built)."""
    if init == "paper":
        initialise(model, "random", seed)
    elif init == "kaiming":
        _kaiming_fan_in(model, seed)
    elif init == "default":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for sub in model.modules():
                if hasattr(sub, "reset_parameters") and callable(sub.reset_parameters):
                    sub.reset_parameters()
    else:
        raise SwapfwError(f"unknown metric init {init!r} (use default, kaiming or paper)")
    for sub in model.modules():
        if isinstance(sub, _BATCHNORM) and sub.track_running_stats:
            sub.reset_running_stats()


def _kaiming_fan_in(model: nn.Module, seed: int) -> None:
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for sub in model.modules():
            if isinstance(sub, WEIGHTED):
                nn.init.kaiming_normal_(sub.weight, mode="fan_in", nonlinearity="relu")
                if sub.bias is not None:
                    nn.init.zeros_(sub.bias)
            elif isinstance(sub, (_BATCHNORM, nn.GroupNorm)) and sub.affine:
                nn.init.ones_(sub.weight)
                nn.init.zeros_(sub.bias)


def _disable_dropout(model: nn.Module) -> None:
    """Dropout would make the same seed give different values."""
    for sub in model.modules():
        if isinstance(sub, nn.modules.dropout._DropoutNd):
            sub.eval()


def batchnorm_eval(model: nn.Module) -> None:
    """BatchNorm on its running statistics (a fresh copy's are 0/1: only the affine part acts)."""
    for sub in model.modules():
        if isinstance(sub, _BATCHNORM):
            sub.eval()


def _remove_batchnorm(model: nn.Module) -> None:
    for name, sub in list(model.named_modules()):
        if isinstance(sub, _BATCHNORM):
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, attr, nn.Identity())


def labels(batch, proxy: str) -> torch.Tensor:
    """The batch's labels; a clear error where the data has none."""
    if batch.targets is None:
        raise SwapfwError(f"proxy {proxy!r} needs labelled data: use --data cifar10:PATH "
                          f"(the {batch.source} batch has no labels)")
    return batch.targets


def logits(output) -> torch.Tensor:
    """The class scores of a model's output: the tensor itself, or the last tensor of a tuple."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        tensors = [t for t in output if isinstance(t, torch.Tensor)]
        if tensors:
            return tensors[-1]
    if isinstance(output, dict) and output:
        return logits(list(output.values()))
    raise SwapfwError(f"the model's output ({type(output).__name__}) holds no tensor")


def cross_entropy(output, targets: torch.Tensor) -> torch.Tensor:
    """The loss of the gradient metrics (NAS-Bench-Suite-Zero's choice for classification)."""
    scores = logits(output)
    if scores.dim() != 2:
        scores = scores.flatten(1)
    if targets.max() >= scores.shape[1]:
        raise SwapfwError(f"labels go up to {int(targets.max())} but the model has {scores.shape[1]} outputs")
    return F.cross_entropy(scores, targets.to(scores.device))


def weighted_layers(model: nn.Module) -> list[nn.Module]:
    """The conv and linear layers with a weight, in module order: what per-weight metrics sum over."""
    return [m for m in model.modules() if isinstance(m, WEIGHTED) and isinstance(getattr(m, "weight", None), torch.Tensor)]


def model_dtype(model: nn.Module) -> torch.dtype:
    """The model's float type (float64 copies take float64 inputs)."""
    return next((p.dtype for p in model.parameters()), torch.float32)


def part_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, samples: int) -> torch.Tensor:
    """A part's mean loss times its share of the batch: the parts then add up to the batch mean."""
    return cross_entropy(model(x), y) * (len(x) / samples)


def loss_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor, proxy: str) -> None:
    """Leave d(mean cross-entropy)/dθ of the batch in every ``.grad``, in parts if memory needs it."""
    def compute(parts):
        model.zero_grad(set_to_none=True)
        for xp, yp in zip(chunks(x, parts), chunks(y, parts)):
            part_loss(model, xp, yp, len(x)).backward()
    fit_in_memory(compute, len(x), proxy)


def chunks(tensor: torch.Tensor, parts: int) -> list[torch.Tensor]:
    """``tensor`` split along the batch into ``parts`` nearly equal pieces."""
    return list(torch.tensor_split(tensor, parts))


def fit_in_memory(compute, samples: int, proxy: str):
    """``compute(parts)`` with parts = 1, 2, 4, ... until it runs without running out of memory.

    Only metrics whose value is a sum over the batch (gradients accumulate) may use it.
    """
    parts = 1
    while True:
        try:
            return compute(parts)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            if parts >= samples:
                raise SwapfwError(f"out of memory computing {proxy!r} even one sample at a time: "
                                  "lower --batch or use a smaller model") from None
            parts = min(samples, parts * 2)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def finite_or_nan(value) -> float:
    """A metric's float; inf and NaN both become NaN so they are counted, never ranked."""
    value = float(value)
    return value if math.isfinite(value) else math.nan
