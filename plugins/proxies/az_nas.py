"""AZ-NAS (Lee & Ham, CVPR 2024, "AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture
Search"): four per-network components and their population-level rank aggregation.

Definitions from the authors' code (github.com/cvlab-yonsei/AZ-NAS,
``NB201/ZeroShotProxy/compute_az_nas_score.py``, ``NB201/custom/tss_model.py``, and the
aggregation in ``NB201/tss_general.ipynb``):

- features: the stem's output and the output of every block (NB201: each of the 17 cells,
  reductions included); ``blocks`` below says how blocks are found in any model;
- ``az_expressivity``: for each feature (B, C, H, W), the channel covariance over the B*H*W
  positions, its eigenvalues s normalised to p = s / sum(s), the entropy -sum p log(p + 1e-8);
  summed over the features;
- ``az_progressivity``: the smallest increase of that entropy from one feature to the next;
- ``az_trainability``: for each pair of consecutive features, a Rademacher (+-1) gradient g_out
  at the later one is backpropagated to the earlier one (g_in, pixel-unshuffled to the same
  resolution across a stride); with s the largest singular value of E[g_in g_out^T] the pair
  scores -s - 1/(s + 1e-6) + 2 (0 when the block preserves gradient norms, lower otherwise);
  the mean over pairs. A block that is exactly the identity (g_in == g_out) scores -inf, as in
  the authors' code, so such a network is -inf: a value with an order (rank aggregation puts it
  last), not an overflow;
- ``az_complexity``: FLOPs (the IR's multiply-accumulates per sample; the authors take the
  benchmark's FLOPs, which rank the same);
- ``az_nas``: sum over the four of log(rank / N), ranks ascending within the scored population
  (see ``ranking``).

Protocol: the network in train mode (BatchNorm on batch statistics), weights re-drawn from
``seed`` with Kaiming-normal fan-in (conv and linear weights; biases 0), as the authors'
``init_model(model, 'kaiming_norm_fanin')``; with ``--init keep`` the given weights are used.
The authors fed a batch of 64 Gaussian images (``--data gaussian --batch 64``); any batch works.

Choices where the paper or code leave room:
- a feature that is constant (e.g. after a cell whose inputs are all ``none``) has no spectrum;
  the authors' code divides 0 by 0, gets NaN and ranks the whole network last. Here its entropy
  is 0 (a spectrum with no spread carries no information), which ranks such networks last
  among the connected ones while keeping the value finite;
- pairs whose features are not connected in the graph, or whose resolutions are not an integer
  stride apart, are skipped; NaN when no pair is left;
- eigen/singular values in float64.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from swapfw import hookimpl
from swapfw.plugin_api import finite_or_nan, fresh_for

from .ranking import rank_aggregate
from .size import Flops

COMPONENTS = ("az_expressivity", "az_progressivity", "az_trainability", "az_complexity")
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


# --- the fresh network -------------------------------------------------------------------------

# --- features at block boundaries ----------------------------------------------------------------

def blocks(model: nn.Module) -> list[nn.Module]:
    """The outermost composite modules: modules with children that are not mere containers.

    NB201: the 17 cells (``Cell``/``Reduction``); torchvision ResNets: the BasicBlocks/Bottlenecks;
    MobileNetV2: the InvertedResiduals. The stem (a Sequential) is not a block: its output is
    the first feature, as the input of the first block.
    """
    found: list[nn.Module] = []

    def visit(module: nn.Module) -> None:
        for child in module.children():
            if any(True for _ in child.children()) and not isinstance(child, _CONTAINERS):
                found.append(child)
            else:
                visit(child)

    visit(model)
    return found


def _fallback_layers(model: nn.Module) -> list[nn.Module]:
    """Models without composite blocks (plain chains, ONNX imports): every conv layer."""
    return [m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)]


def block_features(model: nn.Module, inputs: torch.Tensor) -> list[torch.Tensor]:
    """The input of the first block (unless it is the image) and every block's 4-D output, in order.

    Each recorded tensor is handed on as a clone, so an in-place op further on cannot change it
    and gradients from a later feature reach it through the clone.
    """
    units = blocks(model)
    if len(units) < 2:
        units = _fallback_layers(model)
    features: list[torch.Tensor] = []

    def before(module, args):
        if features or not args or not _is_map(args[0]) or args[0] is inputs:
            return None
        features.append(args[0])
        return (args[0].clone(), *args[1:])

    def after(module, args, output):
        if not _is_map(output):
            return None
        features.append(output)
        return output.clone()

    handles = [u.register_forward_pre_hook(before) for u in units[:1]]
    handles += [u.register_forward_hook(after) for u in units]
    try:
        model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return features


def _is_map(value) -> bool:
    return isinstance(value, torch.Tensor) and value.dim() == 4 and value.is_floating_point()


# --- the three feature-based components ----------------------------------------------------------

def spectral_entropy(feature: torch.Tensor) -> float:
    """Entropy of the normalised eigenvalues of the channel covariance of ``feature`` (B, C, H, W).

    0 for a constant feature (no spread); NaN for a non-finite one.
    """
    rows = feature.detach().permute(0, 2, 3, 1).reshape(-1, feature.shape[1]).to(torch.float64)
    if not torch.isfinite(rows).all():
        return math.nan
    rows = rows - rows.mean(dim=0, keepdim=True)
    eig = torch.linalg.eigvalsh(rows.T @ rows / rows.shape[0]).clamp(min=0)
    total = eig.sum()
    if total <= 0:
        return 0.0
    p = eig / total
    return float(-(p * torch.log(p + 1e-8)).sum())


def expressivity_and_progressivity(features: list[torch.Tensor]) -> tuple[float, float]:
    """Sum of the features' spectral entropies, and the smallest step between consecutive ones."""
    entropies = [spectral_entropy(f) for f in features]
    if not entropies:
        return math.nan, math.nan
    steps = [b - a for a, b in zip(entropies, entropies[1:])]
    return float(sum(entropies)), (float(min(steps)) if steps else math.nan)


def pair_trainability(f_in: torch.Tensor, f_out: torch.Tensor, generator: torch.Generator) -> float | None:
    """-s - 1/(s + 1e-6) + 2 for the block from ``f_in`` to ``f_out``; None when not comparable."""
    signs = torch.randint(0, 2, f_out.shape, generator=generator, device=f_out.device)
    g_out = (signs * 2 - 1).to(f_out.dtype)
    if not (f_in.requires_grad and f_out.requires_grad):
        return None
    g_in = torch.autograd.grad(f_out, f_in, g_out, retain_graph=True, allow_unused=True)[0]
    if g_in is None:
        return None
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return -math.inf
    (hi, wi), (ho, wo) = g_in.shape[2:], g_out.shape[2:]
    if (hi, wi) != (ho, wo):
        if hi % ho or wi % wo or hi // ho != wi // wo:
            return None
        g_in = F.pixel_unshuffle(g_in, hi // ho)
    a = g_in.permute(0, 2, 3, 1).reshape(-1, g_in.shape[1]).to(torch.float64)
    b = g_out.permute(0, 2, 3, 1).reshape(-1, g_out.shape[1]).to(torch.float64)
    s = float(torch.linalg.svdvals(a.T @ b / b.shape[0]).max())
    return -s - 1.0 / (s + 1e-6) + 2.0


def trainability(features: list[torch.Tensor], seed: int) -> float:
    """Mean pair score over consecutive features, last pair first (the authors' order)."""
    if len(features) < 2:
        return math.nan
    generator = torch.Generator(device=features[0].device).manual_seed(seed)
    scores = []
    for i in reversed(range(1, len(features))):
        score = pair_trainability(features[i - 1], features[i], generator)
        if score is not None:
            scores.append(score)
    if not scores:
        return math.nan
    if -math.inf in scores:
        return -math.inf
    return finite_or_nan(sum(scores) / len(scores))


def az_components(proxy, network, batch, seed: int) -> dict[str, float]:
    """Expressivity, progressivity and trainability from one forward pass, shared by the three proxies."""
    key = ("az_nas", id(batch.inputs), seed)
    if key not in network.memo:
        model = fresh_for(proxy, network, seed)
        model.requires_grad_(True)  # gradients must reach the features even in a frozen model
        features = block_features(model, batch.inputs.to(network.device))
        expressivity, progressivity = expressivity_and_progressivity(features)
        values = {"az_expressivity": finite_or_nan(expressivity),
                  "az_progressivity": finite_or_nan(progressivity),
                  "az_trainability": trainability(features, seed)}
        network.memo[key] = (batch.inputs, values)  # keep the inputs alive so their id is not reused
    return network.memo[key][1]


# --- the proxies ---------------------------------------------------------------------------------

class _FeatureComponent:
    needs = frozenset()
    init = "kaiming"  # the authors' Kaiming-normal fan-in
    bn = "train"
    precision = "float32"

    def score(self, network, batch, *, seed):
        return az_components(self, network, batch, seed)[self.name]


class Expressivity(_FeatureComponent):
    name = "az_expressivity"
    description = "sum over blocks of the entropy of the feature covariance spectrum (AZ-NAS, 2024)"


class Progressivity(_FeatureComponent):
    name = "az_progressivity"
    description = "smallest block-to-block increase of the feature spectrum entropy (AZ-NAS, 2024)"


class Trainability(_FeatureComponent):
    name = "az_trainability"
    description = "mean over blocks of -s-1/s+2, s the top singular value of the gradient map (AZ-NAS, 2024)"


class Complexity(Flops):
    """AZ-NAS's complexity is the network's FLOPs: the ``flops`` proxy under the component's name."""

    name = "az_complexity"
    description = "FLOPs, AZ-NAS's complexity component (2024)"
    role = None  # the flops proxy plays the role; this is the same value under the component's name


class AzNas:
    name = "az_nas"
    description = "AZ-NAS: sum of log(rank/N) of expressivity, progressivity, trainability, FLOPs (2024)"
    needs = frozenset()
    population = True
    derived_from = COMPONENTS

    def combine_population(self, values: dict, settings: dict) -> list[float]:
        return rank_aggregate([values[part] for part in self.derived_from])


@hookimpl
def register_proxies(register):
    for proxy in (Expressivity(), Progressivity(), Trainability(), Complexity(), AzNas()):
        register(proxy)
