"""Converters onnx2torch 1.5 lacks for ops that exporters write, old and new.

Registered through onnx2torch's own registry, and only where it has no converter of its own,
so a newer onnx2torch release takes precedence. Where onnx2torch has a converter that refuses
one form of an op (AveragePool with asymmetric pads, Flatten on an axis other than 1, Reshape
with ``allowzero=1``), that form is handled here and every other node still goes to onnx2torch.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
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
    """ONNX Reduce*-18: constant axes (``None``: all axes; negative axes count from the end), or
    axes given at run time as a second input (empty: all axes, or none with ``noop``)."""

    def __init__(self, operation_type: str, axes: list[int] | None, keepdims: bool, noop: bool = False):
        super().__init__()
        self.operation_type = operation_type
        self.axes = axes
        self.keepdims = keepdims
        self.noop = noop

    def forward(self, input_tensor: torch.Tensor, axes: torch.Tensor | None = None) -> torch.Tensor:
        rank = input_tensor.dim()
        chosen = self.axes if axes is None else ([int(a) for a in axes.reshape(-1).tolist()] or None)
        if chosen is None and axes is not None and self.noop:
            return input_tensor
        dims = list(range(rank)) if chosen is None else sorted({a % rank for a in chosen})
        return _REDUCE_FNS[self.operation_type](input_tensor, dims, self.keepdims)


def _reduce18(node, graph):
    """Opset-18 Reduce*: the axes are an optional input, not an attribute; folded in where constant."""
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult, get_const_value

    keepdims = bool(node.attributes.get("keepdims", 1))
    noop = bool(node.attributes.get("noop_with_empty_axes", 0))
    axes = None
    if len(node.input_values) > 1 and node.input_values[1]:
        try:
            axes = get_const_value(node.input_values[1], graph)
        except KeyError:  # computed at run time: the module takes them as its second input
            module = _Reduce18(node.operation_type, None, keepdims, noop)
            mapping = OnnxMapping(inputs=tuple(node.input_values[:2]), outputs=node.output_values)
            return OperationConverterResult(torch_module=module, onnx_mapping=mapping)
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


class _PadAxes(nn.Module):
    """ONNX Pad-18 with an ``axes`` input: pads (begins, ends) for the listed axes only."""

    _MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}

    def __init__(self, mode: str):
        super().__init__()
        if mode not in self._MODES:
            raise NotImplementedError(f"Pad mode {mode!r} is not supported")
        self.mode = self._MODES[mode]

    def forward(self, x, pads, value=None, axes=None):
        rank = x.dim()
        pads = [int(p) for p in pads.tolist()]
        listed = [int(a) % rank for a in axes.tolist()]
        begins, ends = dict(zip(listed, pads[:len(listed)])), dict(zip(listed, pads[len(listed):]))
        torch_pads = []  # torch lists the last axis first, (begin, end) per axis
        for axis in reversed(range(min(listed), rank)):
            torch_pads += [begins.get(axis, 0), ends.get(axis, 0)]
        if self.mode != "constant":
            return torch.nn.functional.pad(x, torch_pads, mode=self.mode)
        fill = 0.0 if value is None or value.numel() == 0 else value.item()
        return torch.nn.functional.pad(x, torch_pads, mode="constant", value=fill)


def _pad_axes(node):
    """Pad-18/19 with an ``axes`` input; without one, onnx2torch's Pad-13 (which refuses ``wrap``)."""
    if len(node.input_values) > 3 and node.input_values[3]:
        return _PadAxes(node.attributes.get("mode", "constant"))
    return None


def _avgpool_guard(node) -> None:  # AveragePool-19 added ``dilations``
    if any(d != 1 for d in node.attributes.get("dilations", [])):
        raise NotImplementedError("AveragePool with dilations is not supported")


def _resize_guard(node) -> None:  # Resize-18 added antialias, axes, keep_aspect_ratio_policy; 19 a mode
    a = node.attributes
    if a.get("antialias", 0) or a.get("axes") is not None or a.get("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise NotImplementedError("Resize with antialias, axes or a keep_aspect_ratio_policy is not supported")
    if a.get("coordinate_transformation_mode") == "half_pixel_symmetric":
        raise NotImplementedError("Resize with coordinate_transformation_mode half_pixel_symmetric is not supported")


class _ScatterND(nn.Module):
    """ONNX ScatterND with any reduction (onnx2torch 1.5 takes only ``none``)."""

    _REDUCE = {"mul": "prod", "max": "amax", "min": "amin"}

    def __init__(self, reduction: str):
        super().__init__()
        if reduction not in ("none", "add", *self._REDUCE):
            raise NotImplementedError(f"ScatterND with reduction {reduction!r} is not supported")
        self.reduction = reduction

    def forward(self, data, indices, updates):
        k = indices.shape[-1]
        lead = data.shape[:k]
        index = indices.reshape(-1, k) % torch.tensor(lead, device=indices.device)
        linear = torch.zeros(index.shape[0], dtype=torch.int64, device=indices.device)
        for axis in range(k):  # row-major position among the first k dims
            linear = linear * lead[axis] + index[:, axis]
        out = data.clone().reshape(-1, *data.shape[k:])
        rows = updates.reshape(index.shape[0], *data.shape[k:]).to(out.dtype)
        if self.reduction == "none":
            out[linear] = rows
        elif self.reduction == "add":
            out.index_add_(0, linear, rows)
        else:
            out.index_reduce_(0, linear, rows, self._REDUCE[self.reduction], include_self=True)
        return out.reshape(data.shape)


def _scatter_nd(node):
    reduction = node.attributes.get("reduction", "none")
    return None if reduction == "none" else _ScatterND(reduction)


class _AsymmetricAvgPool(nn.Module):
    """AveragePool with different pads before and after: pad explicitly, then pool; without
    ``count_include_pad`` divide by the number of real elements under the kernel."""

    def __init__(self, kernel, strides, pads, count_include_pad: bool, ceil_mode: bool):
        super().__init__()
        rank = len(kernel)
        self.kernel, self.strides, self.ceil_mode = list(kernel), list(strides), ceil_mode
        self.torch_pads = [p for b, e in zip(reversed(pads[:rank]), reversed(pads[rank:])) for p in (b, e)]
        self.count_include_pad = count_include_pad
        self.pool = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[rank]

    def forward(self, x):
        pooled = self.pool(F.pad(x, self.torch_pads), self.kernel, self.strides, 0, self.ceil_mode, True)
        if self.count_include_pad:
            return pooled
        ones = F.pad(torch.ones_like(x[:1, :1]), self.torch_pads)
        return pooled / self.pool(ones, self.kernel, self.strides, 0, self.ceil_mode, True)


def _asymmetric_avgpool(node):
    a = node.attributes
    rank = len(a["kernel_shape"])
    pads = list(a.get("pads", []))
    if a.get("auto_pad", "NOTSET") != "NOTSET" or not pads or pads[:rank] == pads[rank:]:
        return None
    return _AsymmetricAvgPool(a["kernel_shape"], a.get("strides", [1] * rank), pads,
                              bool(a.get("count_include_pad", 0)), bool(a.get("ceil_mode", 0)))


class _Flatten(nn.Module):
    """ONNX Flatten on any axis: (prod(dims[:axis]), prod(dims[axis:])), a negative axis from the end."""

    def __init__(self, axis: int):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        axis = self.axis % x.dim() if self.axis < 0 else self.axis
        return x.reshape(math.prod(x.shape[:axis]), -1)


def _flatten(node):
    axis = node.attributes.get("axis", 1)
    return None if axis == 1 else _Flatten(axis)


class _ReshapeAllowZero(nn.Module):
    """Reshape with ``allowzero=1``: a 0 in the target is a 0-sized dim, torch.reshape's own rule."""

    def forward(self, x, shape):
        return torch.reshape(x, [int(d) for d in shape.tolist()])


def _reshape(node):
    return _ReshapeAllowZero() if node.attributes.get("allowzero", 0) == 1 else None


def _special_case(op_type: str, versions, make_module) -> None:
    """Handle the nodes ``make_module`` returns a module for; hand the others to onnx2torch's converter.

    onnx2torch's registry refuses a second converter for a key, so its entry is wrapped in place;
    on a release whose registry looks different the special case is skipped.
    """
    from onnx2torch.node_converters import registry
    from onnx2torch.utils.common import OperationConverterResult, onnx_mapping_from_node

    table = getattr(registry, "_CONVERTER_REGISTRY", None)
    if not isinstance(table, dict):
        return
    for version in versions:
        key = registry.OperationDescription(domain="", operation_type=op_type, version=version)
        original = table.get(key)
        if original is None or getattr(original, "swapfw_special_case", False):
            continue

        def convert(node, graph, _original=original):
            module = make_module(node)
            if module is None:
                return _original(node, graph)
            return OperationConverterResult(torch_module=module, onnx_mapping=onnx_mapping_from_node(node))

        convert.swapfw_special_case = True
        table[key] = convert


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
    _register("Pad", (18, 19), _same_as("Pad", 13))  # an axes input: special-cased below
    _register("AveragePool", (19,), _same_as("AveragePool", 11, _avgpool_guard))
    _register("Resize", (18, 19), _same_as("Resize", 13, _resize_guard))
    _register("ScatterND", (18,), _same_as("ScatterND", 16))  # 18 adds max/min: special-cased below
    for op in ("GreaterOrEqual", "LessOrEqual"):  # 16 only widens the accepted types
        _register(op, (16,), _same_as(op, 12))
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
    _special_case("AveragePool", (7, 10, 11, 19), _asymmetric_avgpool)
    _special_case("Flatten", (1, 9, 11, 13, 21, 23), _flatten)
    _special_case("Reshape", (14, 19, 21, 23), _reshape)
    _special_case("ScatterND", (16, 18), _scatter_nd)
    _special_case("Pad", (18, 19), _pad_axes)

