"""Zero-cost proxies as NAS-Bench-Suite-Zero ran them (NASLib ``predictors/pruners/measures``,
itself based on zero-cost-nas, Abdelfattah et al. 2021).

``grad_norm``, ``snip``, ``grasp``, ``fisher``, ``plain``: loss gradients of one labelled batch;
``synflow``: the data-free path norm; ``l2_norm``: weight norms; ``jacov``, ``epe_nas``: input
Jacobians; ``nwot``: the NASWOT activation-code kernel.

Protocol, as in the suite: PyTorch's default initialisers (``init = "default"``), BatchNorm on
batch statistics (``bn = "train"``; synflow removes it), cross-entropy loss, float32 (synflow
float64). Per-weight metrics are summed over the weights of every conv and linear layer
(NASLib's ``get_layer_metric_array`` then ``sum_arr``); NASLib finds only ``nn.Conv2d`` and
``nn.Linear``, we take every ``_ConvNd`` so 1-D/3-D convolutions count too. Where NASLib writes
-1e8 for an overflow we return NaN.

Memory: the metrics that are sums over the batch accumulate their gradients part by part
(``fit_in_memory``), each part's loss weighted by its share of the batch, so the gradients equal
the whole batch's whatever the split (up to BatchNorm's batch statistics, which see one part).

The batch is the caller's: the published NAS-Bench-Suite-Zero values were computed on 32 images
(their jacov never exceeds -32, and it is at most about -S for S samples; nwot and epe_nas match
in scale at 32, not 64). The size-dependent metrics (nwot, jacov, epe_nas) scale with it.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
import torch.nn as nn

from swapfw import hookimpl
from swapfw.plugin_api import SwapfwError
from swapfw.plugin_api import (chunks, finite_or_nan, fit_in_memory, fresh_for, fresh_probe, labels, logits,
                          loss_gradients, model_dtype, part_loss, weighted_layers)
from swapfw.plugin_api import TapPoint

# Activations NASLib's nwot hooks: every module whose type name contains "ReLU".
RELU_KINDS = frozenset({"relu", "relu6", "clip", "leaky_relu", "prelu"})
JACOV_K = 1e-5  # NASLib's eigenvalue offset in jacov and epe_nas


# --- shared pieces ----------------------------------------------------------------------------


def layer_sum(model: nn.Module, per_layer) -> float:
    """``per_layer(weight, grad)`` summed over conv/linear layers; a layer without gradient adds 0."""
    total = 0.0
    with torch.no_grad():
        for layer in weighted_layers(model):
            if layer.weight.grad is not None:
                total += float(per_layer(layer.weight, layer.weight.grad))
    return total


def labelled(proxy, network, batch, seed):
    """The fresh model and the batch's inputs and labels on its device (labels checked first)."""
    y = labels(batch, proxy.name).to(network.device)
    model = fresh_for(proxy, network, seed)
    return model, batch.inputs.to(network.device, model_dtype(model)), y


def input_jacobian(model: nn.Module, x: torch.Tensor) -> tuple[np.ndarray, int]:
    """d(sum of the logits)/d(input), one flattened row per sample, and the number of outputs.

    As NASLib: one backward of the whole batch, so BatchNorm's batch statistics couple samples.
    """
    x = x.detach().clone().requires_grad_(True)
    scores = logits(model(x))
    scores.backward(torch.ones_like(scores))
    return x.grad.detach().flatten(1).double().cpu().numpy(), int(scores.shape[-1])


@contextlib.contextmanager
def quiet_numpy():
    """Constant Jacobian rows make corrcoef divide by zero: the NaN is the answer, not news."""
    with np.errstate(all="ignore"):
        yield


# --- gradient metrics -------------------------------------------------------------------------


class _LabelledGradients:
    """What the metrics that backpropagate a labelled batch's loss declare (the Suite-Zero protocol)."""

    needs = frozenset({"gradients", "targets"})
    init = "default"
    bn = "train"
    precision = "float32"


class _LossGradientProxy(_LabelledGradients):
    def score(self, network, batch, *, seed):
        model, x, y = labelled(self, network, batch, seed)
        loss_gradients(model, x, y, self.name)
        return finite_or_nan(layer_sum(model, self.per_layer))


class GradNorm(_LossGradientProxy):
    """Sum over conv/linear layers of ||dL/dW||_2 (Abdelfattah et al. 2021; NASLib grad_norm.py).

    NASLib takes the norm of each layer's weight gradient (not one global norm), then sums.
    """

    name = "grad_norm"
    description = "sum of per-layer L2 norms of the loss gradient (Abdelfattah et al., 2021)"

    @staticmethod
    def per_layer(w, g):
        return g.norm()


class Snip(_LossGradientProxy):
    """Sum of |dL/dW ⊙ W| (SNIP, Lee et al. 2019, as zero-cost-nas/NASLib snip.py).

    They read the gradient of a multiplicative mask at 1, which equals dL/dW ⊙ W.
    """

    name = "snip"
    description = "sum of |gradient x weight| (SNIP, Lee et al., 2019)"

    @staticmethod
    def per_layer(w, g):
        return (g * w).abs().sum()


class Plain(_LossGradientProxy):
    """Sum of dL/dW ⊙ W, signed (NASLib plain.py; Abdelfattah et al. 2021's baseline)."""

    name = "plain"
    description = "sum of gradient x weight, signed (Abdelfattah et al., 2021)"

    @staticmethod
    def per_layer(w, g):
        return (g * w).sum()


class Grasp(_LabelledGradients):
    """Sum of -W ⊙ (H g) over conv/linear weights (GraSP, Wang et al. 2020, as NASLib grasp.py).

    g = dL/dW without graph; then z = Σ g · dL/dW (with graph), backward: W.grad = H g.
    NASLib's defaults: temperature T = 1, one iteration, conv/linear weights only; its sign
    (-θ Hg, higher is better) differs from the GraSP paper's pruning score (θ Hg, lower kept).
    """

    name = "grasp"
    description = "-weight x Hessian-gradient product (GraSP, Wang et al., 2020)"

    def score(self, network, batch, *, seed):
        model, x, y = labelled(self, network, batch, seed)
        weights = [layer.weight for layer in weighted_layers(model)]

        def compute(parts):
            model.zero_grad(set_to_none=True)
            pieces = list(zip(chunks(x, parts), chunks(y, parts)))
            g = [torch.zeros_like(w) for w in weights]
            for xp, yp in pieces:
                grads = torch.autograd.grad(part_loss(model, xp, yp, len(x)), weights, allow_unused=True)
                g = [a + b if b is not None else a for a, b in zip(g, grads)]
            for xp, yp in pieces:
                grads = torch.autograd.grad(part_loss(model, xp, yp, len(x)), weights,
                                            create_graph=True, allow_unused=True)
                z = sum((gw.detach() * gf).sum() for gw, gf in zip(g, grads) if gf is not None)
                if isinstance(z, torch.Tensor) and z.requires_grad:
                    z.backward()

        fit_in_memory(compute, len(x), self.name)
        return finite_or_nan(-layer_sum(model, lambda w, hg: (w * hg).sum()))


class Fisher(_LabelledGradients):
    """Fisher information of the layer outputs (Theis et al. 2018; Turner et al. 2020; NASLib fisher.py).

    Per conv/linear output a (every call) with loss gradient g: g_nk = Σ_spatial a·g per sample n
    and channel k, fisher_k = 0.5 · mean_n g_nk², taken on the layer's output (NASLib hooks an
    identity placed after the layer; a tensor hook on the output sees the same gradient; like
    NASLib we keep the output without a copy, which an in-place ReLU after the layer leaves
    unchanged in a·g, as g is 0 where the ReLU cuts).
    NASLib then broadcasts each channel's value to the channel's weights and sums those, so a
    channel counts fan-in times (in_channels/groups · kernel elements); we keep that factor, as
    the published values have it (``fan_in_weighted = False`` gives the plain channel sum).
    """

    name = "fisher"
    description = "Fisher information of layer outputs, per channel (Theis et al., 2018)"
    fan_in_weighted = True

    def score(self, network, batch, *, seed):
        model, x, y = labelled(self, network, batch, seed)
        layers = weighted_layers(model)
        totals = {id(layer): 0.0 for layer in layers}

        def watch(layer):
            def hook(module, inputs, output):
                if isinstance(output, torch.Tensor) and output.requires_grad:
                    act = output.detach()
                    output.register_hook(lambda grad: self._add(totals, layer, act, grad.detach(), len(x)))
            return hook

        def compute(parts):
            for key in totals:
                totals[key] = 0.0
            model.zero_grad(set_to_none=True)
            for xp, yp in zip(chunks(x, parts), chunks(y, parts)):
                part_loss(model, xp, yp, len(x)).backward()

        handles = [layer.register_forward_hook(watch(layer)) for layer in layers]
        try:
            fit_in_memory(compute, len(x), self.name)
        finally:
            for handle in handles:
                handle.remove()
        return finite_or_nan(sum(totals.values()))

    def _add(self, totals, layer, act, grad, samples):
        """0.5 · Σ_n g_nk² / samples for each channel k, summed (times fan-in), into the layer's total."""
        product = act * grad
        if isinstance(layer, nn.Linear):  # channels last: (N, ..., out)
            g_nk = product.reshape(product.shape[0], -1, product.shape[-1]).sum(1)
        else:  # conv: (N, C, spatial...)
            g_nk = product.flatten(2).sum(2) if product.dim() > 2 else product
        value = 0.5 * float(g_nk.pow(2).sum()) / samples
        if self.fan_in_weighted:
            value *= layer.weight[0].numel()
        totals[id(layer)] += value


# --- data-free and weight metrics -------------------------------------------------------------


class Synflow:
    """Σ |θ ⊙ dR/dθ| over conv/linear weights, R = sum of the output of |θ|-network on ones.

    Tanaka et al. 2020, as zero-cost-nas/NASLib synflow.py: BatchNorm removed, float64, every
    state_dict tensor replaced by its absolute value, input of ones of shape (1, C, H, W).
    We return the raw sum (the metric of both codebases); NASLib's ZeroCost predictor logs it
    afterwards (log s for s > 0), which the published table holds: monotone, same ranking.
    """

    name = "synflow"
    description = "synaptic flow: sum |theta x dR/dtheta| of the |theta| network on ones (Tanaka et al., 2020)"
    needs = frozenset({"gradients"})
    init = "default"
    bn = "none"
    precision = "float64"

    def score(self, network, batch, *, seed):
        model = fresh_for(self, network, seed)
        with torch.no_grad():
            for tensor in model.state_dict().values():
                if tensor.is_floating_point():
                    tensor.abs_()
        model.zero_grad(set_to_none=True)
        ones = torch.ones((1, *batch.inputs.shape[1:]), dtype=torch.float64, device=network.device)
        logits(model(ones)).sum().backward()
        return finite_or_nan(layer_sum(model, lambda w, g: (w * g).abs().sum()))


class L2Norm:
    """Sum over conv/linear layers of ||W||_2 (NASLib l2_norm.py): weights only, no gradient."""

    name = "l2_norm"
    description = "sum of per-layer weight L2 norms (NAS-Bench-Suite-Zero)"
    needs = frozenset()
    init = "default"
    bn = "train"
    precision = "float32"

    def score(self, network, batch, *, seed):
        model = fresh_for(self, network, seed)
        with torch.no_grad():
            return finite_or_nan(sum(float(layer.weight.norm()) for layer in weighted_layers(model)))


# --- Jacobian metrics -------------------------------------------------------------------------


def jacov_score(jacobian: np.ndarray) -> float:
    """-Σ (log(v + k) + 1/(v + k)) over the eigenvalues v of the samples' correlation matrix."""
    with quiet_numpy():
        corr = np.corrcoef(jacobian)
        if not np.all(np.isfinite(corr)):
            return math.nan
        v = np.linalg.eigvalsh(corr)
        return float(-np.sum(np.log(v + JACOV_K) + 1.0 / (v + JACOV_K)))


class Jacov:
    """Jacobian covariance (Mellor et al. 2021 v1; NASLib jacov.py, from zero-cost-nas jacob_cov).

    J = d(Σ logits)/dx per sample (one backward of the batch, BatchNorm in train mode),
    correlation matrix of the S rows, eigenvalues v, score = -Σ (log(v + 1e-5) + 1/(v + 1e-5)).
    NASLib uses ``np.linalg.eig``; the matrix is symmetric, so we use ``eigvalsh`` (real values).
    A constant Jacobian row (NaN correlation) gives NaN, as NASLib's exception path does.
    """

    name = "jacov"
    description = "Jacobian covariance of the batch (Mellor et al., 2021, v1)"
    needs = frozenset({"gradients"})
    init = "default"
    bn = "train"
    precision = "float32"

    def score(self, network, batch, *, seed):
        model = fresh_for(self, network, seed)
        jacobian, _ = input_jacobian(model, batch.inputs.to(network.device))
        return finite_or_nan(jacov_score(jacobian))


def epe_score(jacobian: np.ndarray, targets: np.ndarray, classes: int) -> float:
    """EPE-NAS: per class c, s_c = Σ log(|corr of its Jacobians| + k); combined as NASLib does.

    ≤ 100 classes: Σ_c |s_c|. More: s_c divided by the class's sample count, then
    Σ_c Σ_c' |s_c - s_c'| / (number of classes seen); single-sample classes are left out there.
    """
    per_class = {}
    with quiet_numpy():
        for c in np.unique(targets):
            rows = jacobian[targets == c]
            if len(rows) == 1:
                if classes > 100:
                    continue  # NASLib: len() of the 0-d corrcoef fails, the class is skipped
                per_class[c] = float(np.log(1.0 + JACOV_K))  # corrcoef of one row is 1
                continue
            s = float(np.sum(np.log(np.abs(np.corrcoef(rows)) + JACOV_K)))
            per_class[c] = s / len(rows) if classes > 100 else s
        values = np.array(list(per_class.values()))
        if classes <= 100:
            return float(np.sum(np.abs(values)))
        return float(np.sum(np.abs(values[:, None] - values[None, :])) / max(1, len(values)))


class EpeNas(_LabelledGradients):
    """EPE-NAS (Lopes et al. 2021, as NASLib epe_nas.py from the authors' search.py).

    Input Jacobians as jacov, grouped by label; each class's Jacobian correlation matrix gives
    s_c = Σ log(|corr| + 1e-5). The number of classes is the model's output width.
    """

    name = "epe_nas"
    description = "per-class Jacobian correlation (EPE-NAS, Lopes et al., 2021)"

    def score(self, network, batch, *, seed):
        y = labels(batch, self.name)
        model = fresh_for(self, network, seed)
        jacobian, classes = input_jacobian(model, batch.inputs.to(network.device))
        return finite_or_nan(epe_score(jacobian, y.cpu().numpy(), classes))


# --- activation codes -------------------------------------------------------------------------


def relu_points(network) -> list[TapPoint]:
    """The input of every ReLU-like activation site (module or functional), as the probe reads it."""
    points = []
    for site in network.ir.sites:
        if site.kind in RELU_KINDS:
            points.append(TapPoint(site.input) if site.input is not None else TapPoint(site.output, "input"))
    if not points:
        kinds = ", ".join(sorted(network.ir.activation_types())) or "none"
        raise SwapfwError(f"nwot needs ReLU-like activations; this model has {kinds}")
    return points


def hamming_kernel(codes: torch.Tensor) -> torch.Tensor:
    """K[i, j] = number of units where samples i and j agree: c cᵀ + (1-c)(1-c)ᵀ, in float64.

    Written as 2 c cᵀ - r_i - r_j + units (r: active counts), one matmul instead of two; float32
    counts are exact below 2^24 units per sample, so float64 is used only above that.
    """
    c = codes.flatten(1)
    c = c.to(torch.float32 if c.shape[1] < 2**24 else torch.float64)
    both = (c @ c.T).double()
    active = c.sum(1, dtype=torch.float64)
    return 2 * both - active[:, None] - active[None, :] + c.shape[1]


class Nwot:
    """NASWOT (Mellor et al. 2021 v2, as NASLib nwot.py): log|det K| of the activation-code kernel.

    Codes: the input of every ReLU-like activation > 0 (NASLib hooks modules whose type name
    contains "ReLU"; we read the IR's activation sites, so functional ReLUs count too).
    K = Σ_sites c cᵀ + (1-c)(1-c)ᵀ; score = slogdet(K)'s log-magnitude. A singular K gives NaN.
    """

    name = "nwot"
    description = "log-determinant of the ReLU code kernel (NASWOT, Mellor et al., 2021)"
    needs = frozenset({"patterns"})
    init = "default"
    bn = "train"
    precision = "float32"

    def score(self, network, batch, *, seed):
        points = relu_points(network)
        model = fresh_for(self, network, seed)
        x = batch.inputs.to(network.device)
        kernel = torch.zeros((len(x), len(x)), dtype=torch.float64, device=network.device)

        def sink(index, value):
            nonlocal kernel
            kernel = kernel + hamming_kernel(value > 0)

        with torch.no_grad():
            fresh_probe(network, model, points).run(x, sink)
        _, logdet = torch.linalg.slogdet(kernel.cpu())
        return finite_or_nan(logdet)


PROXIES = (GradNorm, Snip, Grasp, Fisher, Plain, Synflow, L2Norm, Jacov, Nwot, EpeNas)


@hookimpl
def register_proxies(register):
    for proxy in PROXIES:
        register(proxy())
