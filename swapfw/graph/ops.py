"""Canonical op types: one vocabulary for nodes from torch modules, functions, methods and onnx2torch.

Activation-site patterns and FLOP counting read only these names, so they work the same on a
traced torchvision model and on an imported ONNX file.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

# Activation kinds that a binariser may serve; the IR marks their inputs as activation sites.
PIECEWISE_LINEAR = ("relu", "relu6", "clip", "leaky_relu", "prelu", "hardswish", "hardsigmoid")
SMOOTH = ("gelu", "silu", "sigmoid", "tanh", "elu", "selu", "celu", "softplus", "mish", "softsign")
ACTIVATIONS = PIECEWISE_LINEAR + SMOOTH

_MODULES: list[tuple[type, str]] = [
    (nn.ReLU, "relu"), (nn.ReLU6, "relu6"), (nn.LeakyReLU, "leaky_relu"), (nn.PReLU, "prelu"),
    (nn.Hardswish, "hardswish"), (nn.Hardsigmoid, "hardsigmoid"), (nn.Hardtanh, "hardtanh"),
    (nn.GELU, "gelu"), (nn.SiLU, "silu"), (nn.Sigmoid, "sigmoid"), (nn.Tanh, "tanh"),
    (nn.ELU, "elu"), (nn.SELU, "selu"), (nn.CELU, "celu"), (nn.Softplus, "softplus"),
    (nn.Mish, "mish"), (nn.Softsign, "softsign"),
    (nn.modules.conv._ConvNd, "conv"), (nn.Linear, "linear"),
    (nn.modules.batchnorm._BatchNorm, "batchnorm"), (nn.LayerNorm, "layernorm"),
    (nn.GroupNorm, "groupnorm"), (nn.MaxPool2d, "maxpool"), (nn.AvgPool2d, "avgpool"),
    (nn.AdaptiveAvgPool2d, "avgpool"), (nn.Dropout, "dropout"), (nn.Identity, "identity"),
    (nn.Flatten, "flatten"), (nn.Softmax, "softmax"),
]

_FUNCTIONS: dict[Any, str] = {
    F.relu: "relu", torch.relu: "relu", torch.relu_: "relu", F.relu_: "relu", F.relu6: "relu6",
    F.leaky_relu: "leaky_relu", F.prelu: "prelu", F.hardswish: "hardswish",
    F.hardsigmoid: "hardsigmoid", F.hardtanh: "hardtanh", F.gelu: "gelu", F.silu: "silu",
    torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", torch.tanh: "tanh", F.tanh: "tanh",
    F.elu: "elu", F.selu: "selu", F.celu: "celu", F.softplus: "softplus", F.mish: "mish",
    torch.erf: "erf", torch.special.erf: "erf",
    torch.clamp: "clip", torch.clip: "clip", torch.clamp_min: "clip",
    operator.mul: "mul", torch.mul: "mul", operator.imul: "mul",
    operator.add: "add", torch.add: "add", operator.iadd: "add",
    operator.sub: "sub", torch.sub: "sub", operator.truediv: "div", torch.div: "div",
    F.conv1d: "conv", F.conv2d: "conv", F.conv3d: "conv", F.linear: "linear",
    torch.matmul: "matmul", operator.matmul: "matmul", torch.mm: "matmul", torch.bmm: "matmul",
    torch.cat: "concat", torch.flatten: "flatten",
    F.adaptive_avg_pool2d: "avgpool", F.avg_pool2d: "avgpool", F.max_pool2d: "maxpool",
}

_METHODS = {
    "relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "sigmoid_": "sigmoid", "tanh": "tanh",
    "erf": "erf", "clamp": "clip", "clamp_": "clip", "clip": "clip", "clamp_min": "clip",
    "clamp_min_": "clip", "mul": "mul", "mul_": "mul", "add": "add", "add_": "add", "sub": "sub",
    "div": "div", "matmul": "matmul", "view": "reshape", "reshape": "reshape", "flatten": "flatten",
    "mean": "mean", "size": "size",
}


#: functions that name the canonical type of modules from other libraries (importers register theirs)
_MODULE_TYPERS: list[Callable[[nn.Module], tuple[str, dict] | None]] = []


def register_module_typer(typer: Callable[[nn.Module], tuple[str, dict] | None]) -> None:
    """Let an importer name its own module classes: ``typer(module)`` -> (type, attrs), or None if not its own."""
    if typer not in _MODULE_TYPERS:
        _MODULE_TYPERS.append(typer)


def module_type(module: nn.Module) -> tuple[str, dict]:
    """Canonical type and the attributes that matter for sites and FLOPs."""
    for typer in _MODULE_TYPERS:
        named = typer(module)
        if named is not None:
            return named
    cls = type(module).__name__
    for klass, kind in _MODULES:
        if isinstance(module, klass):
            return kind, _module_attrs(kind, module)
    return _named_activation(cls) or cls.lower(), {}


def _named_activation(cls: str) -> str | None:
    """An activation module of another library, by its class name ending in ``Activation``:
    ``GELUActivation``, ``NewGELUActivation``, ``SiLUActivation`` (transformers) -> ``gelu``/``silu``."""
    name = cls.lower()
    if not name.endswith("activation"):
        return None
    name = name.removesuffix("activation")
    return next((kind for kind in sorted(ACTIVATIONS, key=len, reverse=True) if name.endswith(kind)), None)


def _module_attrs(kind: str, module: nn.Module) -> dict:
    if kind == "conv":
        return {"in_channels": module.in_channels, "out_channels": module.out_channels,
                "kernel_size": tuple(module.kernel_size), "stride": tuple(module.stride),
                "groups": module.groups}
    if kind == "linear":
        return {"in_features": module.in_features, "out_features": module.out_features}
    if kind == "hardtanh":
        return {"min": module.min_val, "max": module.max_val}
    if kind == "leaky_relu":
        return {"negative_slope": module.negative_slope}
    return {}


def function_type(target: Any, args: tuple, kwargs: dict) -> tuple[str, dict]:
    kind = _FUNCTIONS.get(target)
    if kind is None:
        return getattr(target, "__name__", str(target)), {}
    return kind, _call_attrs(kind, target, args, kwargs)


def method_type(name: str, args: tuple, kwargs: dict) -> tuple[str, dict]:
    kind = _METHODS.get(name, name)
    return kind, _call_attrs(kind, None, args, kwargs)


def _call_attrs(kind: str, target: Any, args: tuple, kwargs: dict) -> dict:
    if kind == "clip":
        if target is torch.clamp_min or (target is None and len(args) == 2 and "max" not in kwargs):
            lo, hi = (args[1] if len(args) > 1 else kwargs.get("min")), kwargs.get("max")
        else:
            lo = args[1] if len(args) > 1 else kwargs.get("min")
            hi = args[2] if len(args) > 2 else kwargs.get("max")
        return {"min": _number(lo), "max": _number(hi)}
    if kind == "hardtanh":
        lo = args[1] if len(args) > 1 else kwargs.get("min_val", -1.0)
        hi = args[2] if len(args) > 2 else kwargs.get("max_val", 1.0)
        return {"min": _number(lo), "max": _number(hi)}
    return {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def activation_kind(op_type: str, attrs: dict) -> str | None:
    """The activation kind of a single op, or None when it is not an activation."""
    if op_type in ("clip", "hardtanh"):
        lo, hi = attrs.get("min"), attrs.get("max")
        if lo != 0:
            return None
        return "relu6" if hi == 6 else "clip"
    return op_type if op_type in ACTIVATIONS else None
