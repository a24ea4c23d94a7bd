"""VKDNW (Tybl & Neumann, CVPR 2025, "Training-free Neural Architecture Search through Variance
of Knowledge of Deep Network Weights"): how evenly the Fisher information spreads over weights.

Proxies here:
- ``vkdnw``: the paper's VKDNW(f) (Eq. 11), the plain metric: the entropy of the nine deciles
  of the Fisher information matrix's eigenvalues, normalised to sum 1;
- ``param_tensors``: the number of parameter tensors, the authors' layer count (their code:
  ``len(list(model.named_parameters()))``);
- ``vkdnw_single``: param_tensors + vkdnw, the paper's single-proxy ranking (Eq. 12): the layer
  count sorts networks by size and the entropy (at most log 9 ~ 2.2) orders those of one size.

The paper's headline NAS-Bench-201 numbers (e.g. Spearman 0.906 on ImageNet16-120, Table I)
are VKDNW_agg, a rank aggregation (the same log-rank sum as AZ-NAS, Eq. 15) of VKDNW_single with
jacov, AZ-NAS's expressivity and trainability, and FLOPs:
``rank_agg:vkdnw_single+jacov+az_expressivity+az_trainability+flops``
(VKDNW_single alone: Spearman 0.814 on ImageNet16-120). The plain entropy is nearly orthogonal
to size by design and correlates far less with accuracy on its own.

The Fisher matrix, as the authors' code computes it (github.com/ondratybl/VKDNW,
``NB201/ZeroShotProxy/compute_vkdnw_score.py``):
- over a few representative weights: the first element of each parameter tensor, at most
  128 tensors (the authors' ``params_grad_len``; they keep the first 128 on NB201 and a random
  128 on MobileNetV2, here 128 evenly spaced through the network, so every depth is seen);
- F = mean over samples n of J_n^T (diag(p_n) - p_n p_n^T) J_n, J_n the Jacobian of the logits
  with respect to those weights and p_n the softmax smoothed with alpha = 0.05
  (p = 0.95 softmax + 0.05 / K, the authors' value). This is the Fisher information of the
  model's own predictive distribution, so no labels are needed. (The authors' code forms
  (L J)^T (L J) with L the Cholesky factor of that covariance, which is J^T L^T L J rather than
  J^T L L^T J; this module implements the Fisher matrix the paper defines.);
- the network in eval mode (``model.eval()`` in the authors' ``get_fisher``), weights re-drawn
  Kaiming-normal fan-in from the seed (their ``kaiming_norm_fanin``); with ``--init keep`` the
  given weights are used. The authors fed 64 Gaussian images (``--data gaussian --batch 64``).
- eigenvalues by ``eigvalsh`` in float64 (symmetric PSD; the authors' singular values are the
  same numbers), clamped at 0; deciles 0.1..0.9 with linear interpolation (``torch.quantile``).
NaN when the forward overflows.
"""

from __future__ import annotations

import math

import torch
from torch.func import functional_call, jacrev, vmap

from swapfw import hookimpl
from swapfw.plugin_api import chunks, finite_or_nan, fit_in_memory, fresh_for, logits


MAX_WEIGHTS = 128
SMOOTHING = 0.05
DECILES = tuple(k / 10 for k in range(1, 10))


def chosen_parameters(names: list[str], limit: int = MAX_WEIGHTS) -> list[str]:
    """All names when there are at most ``limit``; else ``limit`` of them evenly spaced, in order."""
    if len(names) <= limit:
        return list(names)
    last = len(names) - 1
    return [names[round(i * last / (limit - 1))] for i in range(limit)]


def logit_jacobian(model: torch.nn.Module, inputs: torch.Tensor, names: list[str]) -> torch.Tensor:
    """(N, K, P): d logit_k(x_n) / d (first element of parameter p), per sample, for ``names``.

    Each chosen weight gets a zero-valued scalar added to its first element; the Jacobian with
    respect to those scalars is the Jacobian with respect to the weights. Samples are independent
    (the model is in eval mode), so ``vmap`` over them gives per-sample Jacobians.
    """
    params = {n: p.detach() for n, p in model.named_parameters()}
    buffers = {n: b.detach() for n, b in model.named_buffers()}
    masks = {n: _first_element_mask(params[n]) for n in names}

    def sample_logits(shifts, x):
        shifted = dict(params)
        for n, shift in shifts.items():
            shifted[n] = params[n] + shift * masks[n]
        return logits(functional_call(model, (shifted, buffers), (x.unsqueeze(0),))).reshape(-1)

    zero = {n: torch.zeros((), dtype=params[n].dtype, device=params[n].device) for n in names}
    per_name = vmap(jacrev(sample_logits), in_dims=(None, 0))(zero, inputs)
    return torch.stack([per_name[n] for n in names], dim=-1)


def _first_element_mask(tensor: torch.Tensor) -> torch.Tensor:
    mask = torch.zeros_like(tensor)
    mask.view(-1)[0] = 1
    return mask


def fisher_sum(model: torch.nn.Module, inputs: torch.Tensor, names: list[str]) -> torch.Tensor:
    """Sum over ``inputs`` of J^T (diag(p) - p p^T) J, in float64 (P, P)."""
    jac = logit_jacobian(model, inputs, names).to(torch.float64)
    with torch.no_grad():
        scores = logits(model(inputs)).reshape(inputs.shape[0], -1).to(torch.float64)
    classes = scores.shape[1]
    prob = torch.softmax(scores, dim=1) * (1 - SMOOTHING) + SMOOTHING / classes
    mean_row = torch.einsum("nk,nkp->np", prob, jac)  # sum_k p_k J_k
    weighted = torch.einsum("nk,nkp,nkq->pq", prob, jac, jac)
    return weighted - mean_row.T @ mean_row


def fisher_matrix(model, inputs: torch.Tensor, names: list[str], proxy: str) -> torch.Tensor:
    """The mean Fisher matrix over the batch, split into chunks until it fits in memory."""
    def compute(parts):
        return sum(fisher_sum(model, part, names) for part in chunks(inputs, parts))

    return fit_in_memory(compute, inputs.shape[0], proxy) / inputs.shape[0]


def decile_entropy(eigenvalues: torch.Tensor) -> float:
    """Entropy of the nine deciles of ``eigenvalues`` normalised to sum 1 (VKDNW's Eq. 11)."""
    values = eigenvalues.to(torch.float64).clamp(min=0)
    deciles = torch.quantile(values, torch.tensor(DECILES, dtype=torch.float64, device=values.device))
    share = deciles / (deciles.sum() + 1e-10)
    return float(-(share * torch.log(share + 1e-10)).sum())


class Vkdnw:
    name = "vkdnw"
    description = "entropy of the deciles of the Fisher information spectrum (VKDNW, 2025)"
    needs = frozenset()
    init = "kaiming"  # the authors' Kaiming-normal fan-in
    bn = "eval"
    precision = "float32"

    def score(self, network, batch, *, seed):
        key = ("vkdnw", id(batch.inputs), seed)
        if key not in network.memo:  # vkdnw_single asks again for the same network and batch
            network.memo[key] = (batch.inputs, self._measure(network, batch, seed))
        return network.memo[key][1]

    def _measure(self, network, batch, seed) -> float:
        model = fresh_for(self, network, seed)
        names = chosen_parameters([n for n, _ in model.named_parameters()])
        if not names:
            return math.nan
        fisher = fisher_matrix(model, batch.inputs.to(network.device), names, self.name)
        if not torch.isfinite(fisher).all():
            return math.nan
        return finite_or_nan(decile_entropy(torch.linalg.eigvalsh(fisher)))


class ParamTensors:
    name = "param_tensors"
    description = "number of parameter tensors (VKDNW's layer count)"
    needs = frozenset()

    def score(self, network, batch, *, seed):
        return sum(1 for _ in network.loaded.module.parameters())


class VkdnwSingle:
    name = "vkdnw_single"
    description = "param_tensors + vkdnw, VKDNW's single-proxy ranking (2025)"
    needs = frozenset()
    derived_from = ("param_tensors", "vkdnw")

    def combine(self, values, settings):
        return values["param_tensors"] + values["vkdnw"]


@hookimpl
def register_proxies(register):
    for proxy in (Vkdnw(), ParamTensors(), VkdnwSingle()):
        register(proxy)
