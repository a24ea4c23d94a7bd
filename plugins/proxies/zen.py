"""``zen``: Zen-Score (Lin et al., "Zen-NAS", ICCV 2021), as NAS-Bench-Suite-Zero computed it.

The definition follows the authors' code (idstcv/ZenNAS ``compute_zen_score.py``) and its
NASLib port (``naslib/predictors/pruners/measures/zen.py``), which agree:

- weights: conv and linear N(0, 1), BatchNorm weight 1 and bias 0 (``init = "paper"``; on a
  network without any normalisation layer swapfw's paper init draws He-scaled weights instead,
  where N(0, 1) would overflow);
  BatchNorm in train mode with its running statistics reset, so they start at mean 0, var 1;
- inputs: Gaussian x and eps with the batch's shape (the batch's images are not used),
  mixed as x' = x + alpha * eps with alpha = 0.01;
- f(.) is the feature map fed to the network's last global average pooling;
- score = log( mean over samples of sum |f(x) - f(x')| ) + sum over BatchNorm layers of
  log( sqrt( mean(running_var) ) ), the running variances being those left by the two
  forward passes (each updates them once, with the layer's own momentum).

The code's distance is the L1 norm per sample averaged over the batch (the paper writes a
Frobenius norm) and is not divided by alpha (a constant shift); both as in the code. NASLib's
default is one repeat (ZenNAS's own script averages 32), so the score is one draw. A network
whose feature map does not depend on its input (log 0) is NaN, where NASLib wrote -1e8.

The pooling is found in the IR: the last ``avgpool``/``mean`` (or ONNX ReduceMean) node that
keeps the batch and channel axes and collapses every axis after them. Its input is read with
the swapfw probe on a fresh copy of the network, so the original module is never run.
"""

from __future__ import annotations

import math

import networkx as nx
import torch
import torch.nn as nn

from swapfw import hookimpl
from swapfw.plugin_api import SwapfwError, is_out_of_memory
from swapfw.plugin_api import finite_or_nan, fresh_for, fresh_probe, model_dtype
from swapfw.plugin_api import Probe, TapPoint

ALPHA = 0.01  # mixup_gamma of the authors and NASLib
_POOL_TYPES = ("avgpool", "mean")


def is_global_pool(data: dict, source: dict | None) -> bool:
    """Does this IR node average away every axis after (batch, channel)?

    ``source`` is the node feeding it (None in a hook IR, whose edges follow execution order
    and so say nothing about the input's shape).
    """
    kind = str(data.get("type", ""))
    if kind not in _POOL_TYPES and "reducemean" not in kind:
        return False
    out = data.get("shape")
    if not out or len(out) < 2 or any(d != 1 for d in out[2:]):
        return False
    if source is None:
        return data.get("op") == "call_module"
    shape = source.get("shape")
    return bool(shape) and len(shape) >= 3 and shape[0] == out[0] and shape[1] == out[1]


def feature_tap(network) -> TapPoint:
    """Where the probe reads the feature map: the input of the last global average pooling."""
    graph = network.ir.graph
    hook_ir = not network.ir.traced
    found = None
    for name in nx.topological_sort(graph):
        data = graph.nodes[name]
        if hook_ir:
            if is_global_pool(data, None):
                found = TapPoint(name, "input")
            continue
        source = _data_input(graph, name)
        if source is not None and is_global_pool(data, graph.nodes[source]):
            found = TapPoint(source, "value")
    if found is None:
        raise SwapfwError("proxy 'zen' needs the feature map before a global average pooling, and this model "
                          "has none (no average pooling or mean that reduces every spatial axis to 1)")
    return found


def _data_input(graph, name: str) -> str | None:
    """The first predecessor that carries data (fx keeps the argument order)."""
    for pred in graph.predecessors(name):
        if graph.nodes[pred]["type"] != "constant":
            return pred
    return None


def batchnorm_term(model: nn.Module) -> float:
    """Sum over BatchNorm layers of log sqrt(mean running_var) (Zen-NAS's BN scaling factor)."""
    total = 0.0
    for sub in model.modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm) and sub.running_var is not None:
            variance = float(sub.running_var.double().mean())
            if not variance > 0 or not math.isfinite(variance):
                return math.nan
            total += 0.5 * math.log(variance)
    return total


def gaussian_pair(shape, seed: int, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """x and eps ~ N(0, 1), from a stream of their own (not the one the weights are drawn from)."""
    generator = torch.Generator().manual_seed((seed * 1_000_003 + 7919) & 0x7FFFFFFF)
    x = torch.randn(shape, generator=generator)
    eps = torch.randn(shape, generator=generator)
    return x.to(device=device, dtype=dtype), eps.to(device=device, dtype=dtype)


def _features(probe: Probe, inputs: torch.Tensor) -> torch.Tensor:
    captured: list[torch.Tensor] = []
    probe.run(inputs, lambda index, value: captured.append(value.detach().clone()))
    if not captured:
        raise SwapfwError("proxy 'zen': the global average pooling was not reached in the forward pass")
    return captured[-1]


class ZenScore:
    name = "zen"
    description = "log change of the pre-pooling features under a small input perturbation + BN scales (Zen-NAS, 2021)"
    needs = frozenset()
    init = "paper"
    bn = "train"
    precision = "float32"

    def score(self, network, batch, *, seed):
        tap = feature_tap(network)
        model = fresh_for(self, network, seed)
        probe = fresh_probe(network, model, [tap])
        dtype = model_dtype(model)
        x, eps = gaussian_pair(tuple(batch.inputs.shape), seed, dtype, network.device)
        try:
            with torch.no_grad():
                base = _features(probe, x)
                mixed = _features(probe, x + ALPHA * eps)
        except Exception as exc:
            if is_out_of_memory(exc):
                raise SwapfwError(f"out of memory computing 'zen' on a batch of {x.shape[0]}: lower --batch") from None
            raise
        distance = float((base - mixed).abs().flatten(1).sum(1).mean())
        if not math.isfinite(distance) or distance <= 0:
            return math.nan  # the features ignore the input (NASLib: log 0 -> -1e8)
        return finite_or_nan(math.log(distance) + batchnorm_term(model))


@hookimpl
def register_proxies(register):
    register(ZenScore())
