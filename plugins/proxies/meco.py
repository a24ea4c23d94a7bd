"""``meco``: MeCo, the minimum eigenvalue of feature-map correlation (Jiang et al., NeurIPS 2023).

"MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum Eigenvalue of
Correlation"; definition taken from the authors' code (github.com/HamsterMimi/MeCo,
``correlation/NAS_Bench_201.py``, measure ``meco``, and the zero-cost-nas ``meco.py``):

- one forward pass of ONE sample (the first of the batch; the authors' NB201 runs used a
  batch of one CIFAR image), the network freshly initialised with PyTorch's defaults
  (their ``init_net(..., 'none')``) and in train mode;
- a forward hook on EVERY module (``net.named_modules()``: leaves, containers, the root),
  whose output's first sample is reshaped to (C, rest) - channels by spatial positions;
- the Pearson correlation matrix of the C rows, NaN/inf entries (constant channels) set to 0;
- its minimum eigenvalue; MeCo is the sum over modules, NaN results dropped.

Choices, where the code leaves room:
- the main MeCo is implemented, not MeCo_opt (8 sampled channels rescaled by C/8); the main
  one has no channel-count factor: a layer's term is the plain minimum eigenvalue;
- eigenvalues by ``eigvalsh`` in float64 (the matrix is symmetric; the authors call the general
  ``eig`` in float32 and take the real part - the same numbers up to rounding);
- a module output with one value per channel (e.g. the logits, pooled features) gives the
  zero matrix in the authors' code, hence 0: it is skipped, which is the same sum;
- only modules are seen: a functional op (``F.relu``) adds no term, exactly as in the original.
A forward that overflows gives NaN correlations, zeroed as in the original; a sum that is
itself not finite is reported as NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from swapfw import hookimpl
from swapfw.plugin_api import batchnorm_eval, finite_or_nan, fresh_for


class MeCo:
    name = "meco"
    description = "sum over modules of the min eigenvalue of the channel correlation of one sample (MeCo, 2023)"
    needs = frozenset()
    init = "default"
    bn = "train"
    precision = "float32"

    def score(self, network, batch, *, seed):
        model = fresh_for(self, network, seed)
        sample = batch.inputs[:1].to(network.device)
        try:
            return finite_or_nan(meco_of(model, sample))
        except ValueError as exc:
            if "more than 1 value per channel" not in str(exc):
                raise
        # One sample reaching a 1x1 feature map leaves BatchNorm one value per channel, which
        # train mode cannot normalise: there the fresh copy's BatchNorm runs in eval mode
        # (running statistics 0/1, so it only applies its affine weights).
        batchnorm_eval(model)
        return finite_or_nan(meco_of(model, sample))


def meco_of(model: nn.Module, sample: torch.Tensor) -> float:
    """MeCo of ``model`` on ``sample`` (a batch whose first sample is used): sum of per-module terms."""
    terms: list[float] = []

    def hook(module, inputs, output):
        feature = _first_tensor(output)
        if feature is not None:
            terms.append(min_correlation_eigenvalue(feature[0]))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            model(sample)
    finally:
        for handle in handles:
            handle.remove()
    finite = [t for t in terms if not math.isnan(t)]
    return float(sum(finite))


def min_correlation_eigenvalue(feature: torch.Tensor) -> float:
    """Smallest eigenvalue of the Pearson correlation between the rows of ``feature`` (C, ...).

    Rows with no variance give NaN correlations; they are set to 0, as in the original. A
    feature with one value per row gives the zero matrix, hence 0; one row gives [[1]].
    """
    if feature.dim() < 1:
        return math.nan
    rows = feature.detach().reshape(feature.shape[0], -1).to(torch.float64)
    if rows.shape[1] < 2:
        return 0.0
    corr = torch.corrcoef(rows).reshape(rows.shape[0], rows.shape[0])
    corr = torch.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)
    return float(torch.linalg.eigvalsh(corr)[0])


def _first_tensor(output):
    """The module's output tensor (the first tensor of a tuple output); its first sample is used."""
    if isinstance(output, torch.Tensor):
        return output if output.dim() >= 2 else None
    if isinstance(output, (tuple, list)):
        for item in output:
            if isinstance(item, torch.Tensor):
                return item if item.dim() >= 2 else None
    return None


@hookimpl
def register_proxies(register):
    register(MeCo())
