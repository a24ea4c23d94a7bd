"""onnx2torch's module classes in the core op vocabulary (``swapfw.graph.ops``).

onnx2torch converts most ONNX ops to torch modules of its own; the IR needs their canonical
type (an activation site, a weighted op for FLOPs, a constant...). Classes are matched by
name, so nothing here imports onnx2torch. A new converter whose module is an activation or a
weighted op adds its class here.
"""

from __future__ import annotations

import torch
import torch.nn as nn

#: onnx2torch class name -> canonical op type
ONNX2TORCH = {
    "OnnxErf": "erf", "OnnxHardSigmoid": "hardsigmoid", "OnnxPReLU": "prelu", "OnnxClip": "clip",
    "OnnxMatMul": "matmul", "OnnxGemm": "linear", "OnnxBatchNorm": "batchnorm",
    "OnnxGlobalAveragePoolWithKnownInputShape": "avgpool", "OnnxGlobalAveragePool": "avgpool",
    "OnnxConstant": "constant", "OnnxCopyIdentity": "identity", "OnnxReshape": "reshape",
    "OnnxFlatten": "flatten", "OnnxConcat": "concat", "OnnxTranspose": "transpose",
}

_BINARY_MATH = {torch.add: "add", torch.sub: "sub", torch.mul: "mul", torch.div: "div"}


def onnx_module_type(module: nn.Module) -> tuple[str, dict] | None:
    """(canonical type, attributes) of an onnx2torch module; None for any other module."""
    cls = type(module).__name__
    if cls == "OnnxBinaryMathOperation":  # Div is a private wrapper around torch.div
        function = module.math_op_function
        return _BINARY_MATH.get(function, "div" if "div" in getattr(function, "__name__", "") else cls.lower()), {}
    kind = ONNX2TORCH.get(cls)
    if kind is None:
        return None
    if kind == "clip":
        return "clip", {"min": module.min_val, "max": module.max_val}
    return kind, {}
