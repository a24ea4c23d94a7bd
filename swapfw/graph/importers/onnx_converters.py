"""Converters onnx2torch 1.5 lacks for ops that current exporters write (opset 18 and newer).

Registered through onnx2torch's own registry, and only where it has no converter of its own,
so a newer onnx2torch release takes precedence.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn


def _register(op_type: str, versions, converter) -> None:
    """Register ``converter`` unless onnx2torch (a newer release) already has one."""
    from onnx2torch.node_converters.registry import add_converter, get_converter

    for v in versions:
        try:
            get_converter(operation_type=op_type, version=v)
        except NotImplementedError:
            add_converter(operation_type=op_type, version=v)(converter)


def _prod(x: torch.Tensor, dim: list[int], keepdim: bool) -> torch.Tensor:
    for d in sorted(dim, reverse=True):  # highest axis first, so the lower indices stay valid
        x = torch.prod(x, dim=d, keepdim=keepdim)
    return x


_REDUCE_FNS = {
    "ReduceL1": lambda x, dim, keepdim: torch.sum(torch.abs(x), dim=dim, keepdim=keepdim),
    "ReduceL2": lambda x, dim, keepdim: torch.sqrt(torch.sum(x * x, dim=dim, keepdim=keepdim)),
    "ReduceLogSum": lambda x, dim, keepdim: torch.log(torch.sum(x, dim=dim, keepdim=keepdim)),
    "ReduceLogSumExp": lambda x, dim, keepdim: torch.logsumexp(x, dim=dim, keepdim=keepdim),
    "ReduceMax": lambda x, dim, keepdim: torch.amax(x, dim=dim, keepdim=keepdim),
    "ReduceMean": lambda x, dim, keepdim: torch.mean(x, dim=dim, keepdim=keepdim),
    "ReduceMin": lambda x, dim, keepdim: torch.amin(x, dim=dim, keepdim=keepdim),
    "ReduceProd": _prod,
    "ReduceSumSquare": lambda x, dim, keepdim: torch.sum(x * x, dim=dim, keepdim=keepdim),
}


class _Reduce18(nn.Module):
    """ONNX Reduce*-18 with constant axes (``None``: all axes; negative axes count from the end)."""

    def __init__(self, operation_type: str, axes: list[int] | None, keepdims: bool):
        super().__init__()
        self.operation_type = operation_type
        self.axes = axes
        self.keepdims = keepdims

    def forward(self, input_tensor: torch.Tensor) -> torch.Tensor:
        rank = input_tensor.dim()
        dims = list(range(rank)) if self.axes is None else sorted({a % rank for a in self.axes})
        return _REDUCE_FNS[self.operation_type](input_tensor, dims, self.keepdims)


def _reduce18(node, graph):
    """Opset-18 Reduce*: the axes are an optional input (must be constant here), not an attribute."""
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult, get_const_value

    keepdims = bool(node.attributes.get("keepdims", 1))
    noop = node.attributes.get("noop_with_empty_axes", 0)
    axes = None
    if len(node.input_values) > 1 and node.input_values[1]:
        try:
            axes = get_const_value(node.input_values[1], graph)
        except KeyError as exc:
            raise NotImplementedError(f"{node.operation_type} with non-constant axes is not supported") from exc
        axes = [int(a) for a in torch.as_tensor(axes).reshape(-1).tolist()] or None
    mapping = OnnxMapping(inputs=(node.input_values[0],), outputs=node.output_values)
    if axes is None and noop:
        return OperationConverterResult(torch_module=nn.Identity(), onnx_mapping=mapping)
    module = _Reduce18(node.operation_type, axes, keepdims)
    return OperationConverterResult(torch_module=module, onnx_mapping=mapping)


class _Split18(nn.Module):
    """ONNX Split-18: explicit ``split`` sizes, else ``num_outputs`` chunks of ceil(len / n)."""

    def __init__(self, axis: int, num_outputs: int):
        super().__init__()
        self.axis = axis
        self.num_outputs = num_outputs

    def forward(self, input_tensor: torch.Tensor, split: torch.Tensor | None = None):
        if split is not None:
            return torch.split(input_tensor, split.tolist(), dim=self.axis)
        size = math.ceil(input_tensor.shape[self.axis] / self.num_outputs)
        return torch.split(input_tensor, size, dim=self.axis)


def _split18(node, graph):
    from onnx2torch.utils.common import OperationConverterResult, onnx_mapping_from_node

    del graph
    num = node.attributes.get("num_outputs", len(node.output_values))
    module = _Split18(axis=node.attributes.get("axis", 0), num_outputs=num)
    return OperationConverterResult(torch_module=module, onnx_mapping=onnx_mapping_from_node(node))


def _gelu20(node, graph):
    """ONNX Gelu-20 -> ``nn.GELU`` (exact erf form or tanh approximation)."""
    from onnx2torch.utils.common import OperationConverterResult, onnx_mapping_from_node

    del graph
    approximate = node.attributes.get("approximate", "none")
    if approximate not in ("none", "tanh"):
        raise NotImplementedError(f"Gelu approximate={approximate!r} is not supported")
    return OperationConverterResult(
        torch_module=nn.GELU(approximate=approximate), onnx_mapping=onnx_mapping_from_node(node)
    )


# Spec versions (up to opset 23) that only widened the accepted tensor types over the op's previous
# version (19/21/23: float8/int4/float4 tensors, 22: bfloat16); the converter for the previous
# version is exact for them.  Registered only where the signature is unchanged (checked below).
_TYPES_ONLY = {
    "Cast": (21, 23),  # Cast-19 (adds ``saturate``, float8 only) is registered by hand below
    "Constant": (19, 21, 23),
    "ConstantOfShape": (20, 21, 23),
    "Equal": (19,),
    "Flatten": (21, 23),
    "Identity": (19, 21, 23),
    "Reshape": (19, 21, 23),
    "Shape": (19, 21, 23),
    "Squeeze": (23,),
    "Transpose": (21, 23),
    "Unsqueeze": (21, 23),
    "Pad": (21, 23),
    **{op: (22,) for op in ("AveragePool", "Conv", "ConvTranspose", "Dropout", "Elu", "GlobalAveragePool",
                            "GlobalMaxPool", "HardSigmoid", "HardSwish", "InstanceNormalization", "MaxPool",
                            "Round", "Selu", "Softplus")},
}


def _previous_version(op_type: str, version: int) -> int | None:
    from onnx import defs

    try:
        return defs.get_schema(op_type, max_inclusive_version=version - 1, domain="").since_version
    except Exception:
        return None


def _same_signature(op_type: str, a: int, b: int) -> bool:
    from onnx import defs

    try:
        sa, sb = (defs.get_schema(op_type, max_inclusive_version=v, domain="") for v in (a, b))
    except Exception:
        return False
    sig = lambda s: (sorted(s.attributes), [i.name for i in s.inputs], [o.name for o in s.outputs])  # noqa: E731
    return sb.since_version == b and sig(sa) == sig(sb)


def _same_as(op_type: str, version: int, guard=None):
    """A converter that hands the node to the converter registered for ``version`` of the op."""
    from onnx2torch.node_converters.registry import get_converter

    def convert(node, graph):
        if guard is not None:
            guard(node)
        return get_converter(operation_type=op_type, version=version)(node, graph)

    return convert


def _pad_guard(node) -> None:  # Pad-18 added an ``axes`` input, Pad-19 the ``wrap`` mode
    if len(node.input_values) > 3 and node.input_values[3]:
        raise NotImplementedError("Pad with an axes input is not supported")


def _avgpool_guard(node) -> None:  # AveragePool-19 added ``dilations``
    if any(d != 1 for d in node.attributes.get("dilations", [])):
        raise NotImplementedError("AveragePool with dilations is not supported")


@functools.lru_cache(maxsize=None)
def register_once() -> None:
    """Add the converters; safe to call on every import."""
    from onnx2torch.node_converters.registry import get_converter

    for op in _REDUCE_FNS:
        _register(op, (18,), _reduce18)
    for op in ("ReduceMax", "ReduceMin"):  # 20 only widens the accepted types
        _register(op, (20,), _reduce18)
    _register("Split", (18,), _split18)
    _register("Gelu", (20,), _gelu20)
    _register("Pad", (18, 19), _same_as("Pad", 13, _pad_guard))  # 19: ``wrap`` mode, refused by Pad-13
    _register("AveragePool", (19,), _same_as("AveragePool", 11, _avgpool_guard))
    _register("Cast", (19,), _same_as("Cast", 13))  # ``saturate`` only matters for float8 targets
    for op, versions in _TYPES_ONLY.items():
        for v in versions:  # ascending, so 23 can lean on the 21 registered just before
            prev = _previous_version(op, v)
            if prev is None or not _same_signature(op, prev, v):
                continue
            try:
                get_converter(operation_type=op, version=prev)
            except NotImplementedError:
                continue
            _register(op, (v,), _same_as(op, prev))

