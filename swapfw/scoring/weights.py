"""Weight initialisation: the paper's random initialisation, or the weights a file carries.

``random`` draws conv and linear weights from N(0, 1) with zero biases and sets BatchNorm
to weight 1, bias 0, as the authors' code does, from a seeded generator (their code never
applies its seed). BatchNorm then normalises with the batch's own statistics (train mode):
running statistics of an untrained network carry no information, and the authors' code
scores in train mode too. Dropout is switched off so the same seed gives the same score.
A network with no normalisation layer at all (an ONNX export whose BatchNorm the exporter
folded into the convolutions, say) would overflow to inf under N(0, 1) weights, so its weights
are drawn from N(0, 2/fan_in) instead (He); a bias-free ReLU chain has the same patterns under
both, since ReLU is positively homogeneous.
``keep`` leaves the weights alone and runs the model in eval mode, exactly as a file defines it.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import SwapfwError

INIT_MODES = ("random", "keep")
_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)


def initialise(module: nn.Module, mode: str, seed: int) -> nn.Module:
    if mode not in INIT_MODES:
        raise SwapfwError(f"--init must be one of {', '.join(INIT_MODES)}, got {mode!r}")
    module.eval()
    if mode == "keep":
        return module
    generator = torch.Generator().manual_seed(seed)
    normalised = any(isinstance(sub, _NORMS) for sub in module.modules())
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, (nn.modules.conv._ConvNd, nn.Linear)):
                std = 1.0 if normalised else (2.0 / max(1, sub.weight[0].numel())) ** 0.5
                _draw_normal(sub.weight, std, generator)
                if sub.bias is not None:
                    sub.bias.zero_()
            elif isinstance(sub, _NORMS) and getattr(sub, "weight", None) is not None:
                sub.weight.fill_(1.0)
                sub.bias.zero_()
            if isinstance(sub, nn.modules.batchnorm._BatchNorm):
                sub.train()
    return module


def _draw_normal(weight: torch.Tensor, std: float, generator: torch.Generator) -> None:
    """N(0, std^2) into ``weight``: a contiguous float32 weight at std 1 is filled in place (the
    same draws, half the time: no temporary and no copy); anything else is drawn apart and cast."""
    if (std == 1.0 and weight.dtype == torch.float32 == torch.get_default_dtype() and weight.is_contiguous()
            and weight.device.type == "cpu"):
        weight.normal_(generator=generator)
    else:
        weight.copy_(torch.randn(weight.shape, generator=generator) * std)
