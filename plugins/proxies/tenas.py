"""TE-NAS's two indicators (Chen et al., "Neural Architecture Search on ImageNet in Four GPU
Hours: A Theoretically Inspired Perspective", ICLR 2021; code VITA-Group/TENAS):

``ntk``: minus the condition number of the empirical neural tangent kernel.
    As ``lib/procedures/ntk.py``: one forward of the batch in train mode (BatchNorm on batch
    statistics), then for every sample i a backward of its logits with a vector of ones,
    J[i] = d(sum_c out[i, c]) / d(theta), theta = every parameter named ``weight`` (conv,
    linear and normalisation gains, TE-NAS's ``'weight' in name``); Theta = J J^T and
    kappa = lambda_max / lambda_min. TE-NAS ranks lower kappa as better; every swapfw proxy
    ranks higher as better, so the proxy returns -kappa (always <= -1). A kernel that is
    singular (lambda_min <= 0, e.g. a network whose logits ignore the input) has no finite
    condition number: NaN.
    Choices: PyTorch's default initialisation (TE-NAS asks for Kaiming-normal, but its
    launcher's init name matches none of its branches, so its networks keep PyTorch's default);
    the scoring batch itself (TE-NAS: 72 training images for NAS-Bench-201, and 3 repeats
    that only draw new batches, which one swapfw batch cannot do: one evaluation here). The
    kernel is accumulated over blocks of parameters so that at most ``GRADIENT_BUDGET`` gradient
    entries are held at once (each block costs one backward per sample); its eigenvalues are
    taken in float64.

``linear_regions``: TE-NAS's ``Linear_Region_Collector``, the number of distinct activation
    patterns (every activation site concatenated, one pattern per sample) over its own input
    set: ``samples = 3000`` inputs fed in batches of ``batch_size = 1000`` (TE-NAS's input
    batch of 1000 and sample_batch 3), each batch normalised with its own statistics (train
    mode), under PyTorch's default initialisation (TE-NAS's effective one, as above). Where a
    batch of 1000 does not fit in memory, smaller batches are used (same samples; BatchNorm
    statistics then come from the smaller batches).
    What cannot follow TE-NAS for an arbitrary model: TE-NAS counts on a thin copy of its
    supernet (1 channel, one cell per stage, no stem) fed 1-channel 3x3 crops of training
    images, hooking nn.ReLU modules on 4-D tensors; swapfw counts on the model as it is, at
    its own input shape, on N(0, 1) inputs (the proxy sees one batch, not a data set), at
    every activation site the network's binding serves. A full-width network has so many
    units that almost every input gets its own pattern, so on such networks the count sits
    at (or next to) the number of samples.
    Sites and bits are the core's (the network's binding and its binarisers, as for
    ``patterns``); the count is the union over the batches, so each sample's pattern is kept
    as a 128-bit digest (``count_patterns`` counts within one forward only).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import torch
import torch.nn as nn

from swapfw import hookimpl
from swapfw.plugin_api import binarise
from swapfw.plugin_api import SwapfwError, is_out_of_memory
from swapfw.plugin_api import finite_or_nan, fresh_for, fresh_probe, logits, model_dtype
from swapfw.plugin_api import Probe
from swapfw.plugin_api import output_is_finite

#: gradient entries (samples x parameters) held at once while building the kernel
GRADIENT_BUDGET = 1 << 25


# --- ntk --------------------------------------------------------------------------------------


def kernel_parameters(model: nn.Module) -> list[nn.Parameter]:
    """TE-NAS's choice: every trainable parameter whose name ends in ``weight``."""
    return [p for name, p in model.named_parameters() if name.rsplit(".", 1)[-1] == "weight" and p.requires_grad]


def parameter_blocks(params: list[nn.Parameter], samples: int,
                     budget: int = GRADIENT_BUDGET) -> list[list[nn.Parameter]]:
    """Consecutive groups whose gradients for all samples fit in ``budget`` entries (a lone
    tensor larger than that is a block of its own)."""
    blocks, current, size = [], [], 0
    limit = max(1, budget // max(1, samples))
    for p in params:
        if current and size + p.numel() > limit:
            blocks.append(current)
            current, size = [], 0
        current.append(p)
        size += p.numel()
    if current:
        blocks.append(current)
    return blocks


def block_jacobian(out: torch.Tensor, block: list[nn.Parameter]) -> torch.Tensor:
    """(samples, entries of block): row i is d(sum_c out[i, c]) / d(block), zero where unused."""
    rows = torch.empty(out.shape[0], sum(p.numel() for p in block), dtype=out.dtype, device=out.device)
    for i in range(out.shape[0]):
        grads = torch.autograd.grad(out[i].sum(), block, retain_graph=True, allow_unused=True)
        rows[i] = torch.cat([torch.zeros(p.numel(), dtype=out.dtype, device=out.device) if g is None
                             else g.reshape(-1).to(out.dtype) for p, g in zip(block, grads)])
    return rows


def ntk_gram(out: torch.Tensor, params: list[nn.Parameter], budget: int = GRADIENT_BUDGET) -> torch.Tensor:
    """Theta = J J^T in float64, accumulated block by block of parameters."""
    samples = out.shape[0]
    gram = torch.zeros(samples, samples, dtype=torch.float64, device=out.device)
    for block in parameter_blocks(params, samples, budget):
        rows = block_jacobian(out, block)
        step = max(1, budget // max(1, samples) // 4)
        for start in range(0, rows.shape[1], step):
            part = rows[:, start:start + step].double()
            gram += part @ part.T
        del rows
    return gram


def condition_number(gram: torch.Tensor) -> float:
    """lambda_max / lambda_min of a symmetric PSD matrix; NaN when singular or not finite."""
    if not bool(torch.isfinite(gram).all()):
        return math.nan
    eigenvalues = torch.linalg.eigvalsh(gram)  # ascending
    low, high = float(eigenvalues[0]), float(eigenvalues[-1])
    if low <= 0 or high <= 0:
        return math.nan
    return high / low


class NtkCondition:
    name = "ntk"
    description = "minus the condition number of the empirical NTK, -lambda_max/lambda_min (TE-NAS, 2021)"
    needs = frozenset({"gradients"})
    init = "default"
    bn = "train"
    precision = "float32"

    def score(self, network, batch, *, seed):
        """-kappa of the kernel on the batch's inputs (labels are not used)."""
        if batch.inputs.shape[0] < 2:
            raise SwapfwError("proxy 'ntk' needs at least 2 samples for a kernel with a condition number")
        model = fresh_for(self, network, seed)
        dtype = model_dtype(model)
        x = batch.inputs.to(device=network.device, dtype=dtype)
        params = kernel_parameters(model)
        if not params:
            raise SwapfwError("proxy 'ntk' needs weights, and this model has no parameter named 'weight'")
        try:
            out = logits(model(x)).reshape(x.shape[0], -1)
            gram = ntk_gram(out, params)
        except Exception as exc:
            if is_out_of_memory(exc):
                raise SwapfwError(f"out of memory computing 'ntk' on a batch of {x.shape[0]} on {network.device}: "
                                  "lower --batch") from None
            raise
        return finite_or_nan(-condition_number(gram))


# --- linear regions ---------------------------------------------------------------------------


class PatternDigests:
    """Probe sink: one running 128-bit digest of each sample's whole-network pattern."""

    def __init__(self, binarisers: list, samples: int):
        self.binarisers, self.samples = binarisers, samples
        self.hashers = [hashlib.blake2b(digest_size=16) for _ in range(samples)]

    def __call__(self, index: int, value: torch.Tensor) -> None:
        bits = binarise(self.binarisers[index], value, self.samples)
        packed = np.packbits(bits.cpu().numpy(), axis=1)
        for hasher, row in zip(self.hashers, packed):
            hasher.update(row)

    def digests(self) -> set[bytes]:
        return {h.digest() for h in self.hashers}


def region_digests(probe: Probe, network, inputs: torch.Tensor) -> set[bytes] | None:
    """The distinct pattern digests of one batch; None when the network's output overflows."""
    sink = PatternDigests(network.binding.binarisers, inputs.shape[0])
    with torch.no_grad():
        output = probe.run(inputs, sink)
    return sink.digests() if output_is_finite(output) else None


def input_batches(samples: int, batch_size: int, shape: tuple[int, ...], seed: int):
    """N(0, 1) inputs in batches; sample i is the same whatever the batch size (drawn one by one)."""
    generator = torch.Generator().manual_seed((seed * 1_000_003 + 104729) & 0x7FFFFFFF)
    for start in range(0, samples, batch_size):
        count = min(batch_size, samples - start)
        yield torch.stack([torch.randn(shape, generator=generator) for _ in range(count)])


class LinearRegions:
    name = "linear_regions"
    description = "distinct activation patterns over TE-NAS's input set, 3 x 1000 samples (TE-NAS, 2021)"
    needs = frozenset({"patterns"})
    init = "default"
    bn = "train"
    precision = "float32"
    samples = 3000
    batch_size = 1000

    def score(self, network, batch, *, seed):
        """The count over the proxy's own inputs (the batch is not used); halves the batches on OOM."""
        batch_size = self.batch_size
        while True:
            try:
                return self._count(network, seed, batch_size)
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                if batch_size == 1:
                    raise SwapfwError("out of memory computing 'linear_regions' one sample at a time") from None
                batch_size = max(1, batch_size // 2)  # same samples; BN statistics over smaller batches
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()

    def _count(self, network, seed: int, batch_size: int) -> float:
        model = fresh_for(self, network, seed)
        dtype = model_dtype(model)
        probe = fresh_probe(network, model)
        seen: set[bytes] = set()
        for part in input_batches(self.samples, batch_size, tuple(network.input_shape), seed):
            found = region_digests(probe, network, part.to(device=network.device, dtype=dtype))
            if found is None:
                return math.nan
            seen |= found
        return float(len(seen))


@hookimpl
def register_proxies(register):
    register(NtkCondition())
    register(LinearRegions())
