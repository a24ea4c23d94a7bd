"""``zico``: ZiCo, zero-shot inverse coefficient of variation of gradients (Li et al., ICLR 2023).

Definition as in the authors' code (SLDGroup/ZiCo, ``ZeroShotProxy/compute_zico.py``):
for every conv and linear layer, with g its weight gradients of the loss on each of several
batches,

    nsr(layer) = sum over weight entries with std(g) > 0 of  mean(|g|) / std(g)

(mean of the absolute gradient, population std, both across batches), and

    ZiCo = sum over layers with nsr > 0 of log(nsr(layer)).

Choices:

- The authors feed several mini-batches; swapfw has one batch, so it is split into
  ``SPLITS = 2`` halves, each a mini-batch of its own (the paper's minimum of two).
- The gradients of each half are taken from zero (the authors' loop never calls zero_grad,
  so its later "batches" hold cumulative sums; the paper's definition, and other ports, use
  per-batch gradients).
- Cross-entropy loss, PyTorch's default initialisation, BatchNorm in train mode, as the
  authors ran NAS-Bench-201. A layer whose weights get no gradient is left out.
- Each half's gradient is a mean over its samples, so it may be accumulated over smaller
  chunks when the half does not fit in memory (``fit_in_memory``).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from swapfw import hookimpl
from swapfw.plugin_api import SwapfwError
from swapfw.plugin_api import chunks, finite_or_nan, fresh_for, labels, loss_gradients, model_dtype, weighted_layers

SPLITS = 2
def split_gradients(model: nn.Module, layers: list[nn.Module], x: torch.Tensor, y: torch.Tensor,
                    name: str) -> list[torch.Tensor | None]:
    """Each layer's flat weight gradient of the mean loss on (x, y); None where it gets none."""
    loss_gradients(model, x, y, name)
    return [None if m.weight.grad is None else m.weight.grad.detach().flatten().double().clone() for m in layers]


def layer_nsr(grads: torch.Tensor) -> float:
    """sum of mean|g| / std(g) over entries with std > 0; ``grads`` is (batches, entries)."""
    std = grads.std(0, unbiased=False)
    keep = std > 0
    if not bool(keep.any()):
        return 0.0
    return float((grads.abs().mean(0)[keep] / std[keep]).sum())


def zico_value(per_split: list[list[torch.Tensor | None]]) -> float:
    """Sum of log nsr over layers that have gradients in every split and a positive nsr; NaN on overflow."""
    total = 0.0
    for layer in zip(*per_split):
        if any(g is None for g in layer):
            continue
        if not all(bool(torch.isfinite(g).all()) for g in layer):
            return math.nan  # overflowed gradients: no meaningful ratio
        nsr = layer_nsr(torch.stack(layer))
        if nsr > 0:
            total += math.log(nsr)
    return total


class ZiCo:
    name = "zico"
    description = "sum over layers of log(sum mean|grad| / std(grad)) across mini-batches (ZiCo, 2023)"
    needs = frozenset({"gradients", "targets"})
    init = "default"
    bn = "train"
    precision = "float32"

    def score(self, network, batch, *, seed):
        y = labels(batch, self.name)
        if batch.inputs.shape[0] < SPLITS:
            raise SwapfwError(f"proxy 'zico' compares gradients of {SPLITS} parts of the batch: "
                              f"use --batch {SPLITS} or more")
        model = fresh_for(self, network, seed)
        x = batch.inputs.to(device=network.device, dtype=model_dtype(model))
        y = y.to(network.device)
        layers = weighted_layers(model)
        if not layers:
            raise SwapfwError("proxy 'zico' needs conv or linear layers, and this model has none")
        per_split = [split_gradients(model, layers, xs, ys, self.name)
                     for xs, ys in zip(chunks(x, SPLITS), chunks(y, SPLITS))]
        return finite_or_nan(zico_value(per_split))


@hookimpl
def register_proxies(register):
    register(ZiCo())
