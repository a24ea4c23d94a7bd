"""Write a model (typically a searched ``SPACE:ARCH``) to a file that trains elsewhere.

``onnx``: the legacy TorchScript exporter at opset 17 with a dynamic batch axis, which keeps
BatchNormalization as its own node; initializers stay graph inputs, because otherwise the
exporter merges weights that happen to be equal (every BatchNorm starts at 1 and 0), which a
training framework would then tie. The file imports back through ``swapfw score``.
``torch``: a TorchScript module (``torch.jit.trace``), loadable with ``torch.jit.load``
without swapfw installed. Weights are the network's default PyTorch initialisation.
"""

from __future__ import annotations

import warnings

import torch

from ..errors import SwapfwError
from .importers import load_model, resolve_input_shape

FORMATS = ("onnx", "torch")
OPSET = 17


def export(model: str, fmt: str, out: str, *, build_options: dict | None = None, input_shape=None) -> dict:
    if fmt not in FORMATS:
        raise SwapfwError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    loaded = load_model(model, build_options)
    shape = resolve_input_shape(loaded.input_shape, input_shape, loaded.default_shape)
    module = loaded.module.eval()
    example = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "onnx":
                torch.onnx.export(module, (example,), out, dynamo=False, opset_version=OPSET,
                                  input_names=["input"], output_names=["output"], keep_initializers_as_inputs=True,
                                  dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
            else:
                torch.jit.trace(module, example).save(out)
    except OSError as exc:
        raise SwapfwError(f"cannot write {out}: {exc.strerror or exc}") from None
    return {"model": model, "format": fmt, "path": out, "input_shape": list(shape),
            "params": sum(p.numel() for p in module.parameters())}
