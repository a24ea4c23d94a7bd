"""Import an ONNX file as a ``torch.fx.GraphModule``.

``onnx2torch.convert`` alone cannot read the files that current exporters write:

* the legacy TorchScript exporter (``torch.onnx.export(..., dynamo=False)``) de-duplicates equal
  initializers and feeds the duplicates to Conv through ``Identity`` nodes, which onnx2torch's
  Conv converter cannot follow (``KeyError 'onnx::Conv_197'``, ``'features.3.expand1x1.bias'``);
* the dynamo exporter (the default since torch 2.9) writes opset-18 ops that onnx2torch 1.5 has no
  converter for (``ReduceMean`` with the axes as an input, ``Split`` with ``num_outputs``) and
  ``Reshape`` with ``allowzero=1``.

So the graph is normalised first, with ``onnxslim`` restricted to constant folding and dead-node
elimination (which removes the ``Identity`` nodes).  Its fusion passes, common-subexpression
elimination and weight tying are switched off so that activation nodes (Relu, Clip, Erf, Mul, ...)
stay separate nodes and BatchNormalization is not folded by us.  A small hand-written pass then
drops ``allowzero=1`` from Reshapes whose constant target shape has no zero (where it has no
effect).  A few missing converters are registered with onnx2torch's own registry below.

Every failure -- missing file, not ONNX, truncated, unsupported op, conversion error -- is
raised as a one-line :class:`SwapfwError`.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import SwapfwError

__all__ = ["load_onnx"]

_MAX_MSG = 300

# onnxslim passes that may fuse or merge nodes; conversion does not need any of them.
_SLIM_SKIP = ["graph_fusion", "subexpression_elimination", "weight_tying"]


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def load_onnx(path: str | os.PathLike) -> tuple[torch.nn.Module, tuple[int | None, ...] | None]:
    """Return (torch module, input shape without batch dim; None entries where a dim is symbolic).

    The module is the ``torch.fx.GraphModule`` built by ``onnx2torch.convert`` from the
    normalised graph, switched to eval mode.  The shape is read from the single graph input
    (``None`` if the file declares no shape for it); its first (batch) dim is dropped.
    Raises :class:`SwapfwError` with a one-line message on any problem.
    """
    p = Path(os.fspath(path))
    model = _read_model(p)
    _check_structure(model, p)
    input_shape = _input_shape(model, p)

    try:
        normalised = _normalise(model)
    except Exception:  # onnxslim choked; try the raw graph, the checks below explain failures.
        normalised = model
    _fix_reshape_allowzero(normalised)

    _check_supported_ops(normalised, p)
    module = _convert(normalised, p)
    return module, input_shape


# --------------------------------------------------------------------------------------------
# reading and validation
# --------------------------------------------------------------------------------------------


def _one_line(exc: BaseException | str) -> str:
    text = exc if isinstance(exc, str) else (str(exc) or type(exc).__name__)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MSG else text[: _MAX_MSG - 3] + "..."


def _read_model(p: Path):
    import onnx
    from google.protobuf.message import DecodeError

    if not p.exists():
        raise SwapfwError(f"ONNX file not found: {p}")
    if p.is_dir():
        raise SwapfwError(f"expected an ONNX file but {p} is a directory")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise SwapfwError(f"cannot read {p}: {_one_line(exc.strerror or exc)}") from None

    if not data:
        raise SwapfwError(f"{p} is empty, not an ONNX file")
    if data[:4] == b"PK\x03\x04" or data[:1] == b"\x80":
        raise SwapfwError(
            f"{p} is not an ONNX file (it looks like a PyTorch checkpoint or zip/pickle archive; "
            "export the model with torch.onnx.export first)"
        )
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, TypeError, RuntimeError):
        if data[:1] == b"\x08":  # ModelProto field 1 (ir_version), as every ONNX writer starts
            raise SwapfwError(f"{p} is a truncated or corrupt ONNX file (protobuf parsing failed)") from None
        raise SwapfwError(f"{p} is not an ONNX file (it cannot be parsed as an ONNX model)") from None

    if not model.HasField("graph") or not model.opset_import or model.ir_version <= 0:
        raise SwapfwError(f"{p} is not an ONNX file (no ONNX graph or opset found in it)")

    try:
        from onnx.external_data_helper import load_external_data_for_model, uses_external_data

        if any(uses_external_data(t) for t in model.graph.initializer):
            load_external_data_for_model(model, str(p.parent))
    except Exception as exc:  # missing/short .data file, path escaping the folder, ...
        raise SwapfwError(f"cannot load the external weight data of {p}: {_one_line(exc)}") from None
    return model


def _check_structure(model, p: Path) -> None:
    """Cheap SSA check: catches graphs cut short (a truncation that happened to parse)."""
    g = model.graph
    if not g.node:
        raise SwapfwError(f"{p} contains an empty ONNX graph (no nodes)")
    if not g.output:
        raise SwapfwError(f"{p} is a truncated or corrupt ONNX file (its graph has no outputs)")
    known = {i.name for i in g.input} | {t.name for t in g.initializer} | {t.name for t in g.sparse_initializer}
    known.add("")
    for node in g.node:
        known.update(node.output)
    for index, node in enumerate(g.node):
        for name in node.input:
            if name not in known:
                raise SwapfwError(
                    f"{p} is a truncated or corrupt ONNX file: {node.op_type} node "
                    f"{node.name or '#' + str(index)!r} reads tensor {name!r} that nothing produces"
                )
    for out in g.output:
        if out.name not in known:
            raise SwapfwError(f"{p} is a truncated or corrupt ONNX file: graph output {out.name!r} is never produced")


def _real_inputs(model):
    inits = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def _input_shape(model, p: Path) -> tuple[int | None, ...] | None:
    inputs = _real_inputs(model)
    if not inputs:
        raise SwapfwError(f"{p}: the ONNX model has no inputs; swapfw needs a model with exactly one input")
    if len(inputs) > 1:
        names = ", ".join(i.name for i in inputs)
        raise SwapfwError(
            f"{p}: the ONNX model has {len(inputs)} inputs ({_one_line(names)}); "
            "swapfw supports single-input models only"
        )
    inp = inputs[0]
    if not inp.type.HasField("tensor_type"):
        raise SwapfwError(f"{p}: the model input {inp.name!r} is not a tensor")
    tt = inp.type.tensor_type
    if not tt.HasField("shape"):
        return None
    dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim]
    return tuple(dims[1:])


# --------------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet():
    """Silence Python warnings raised while onnxslim works (it sets its own loggers to ERROR)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _normalise(model):
    """Fold constants and drop Identity/Dropout nodes with onnxslim, nothing more."""
    import onnxslim

    with _quiet():
        out = onnxslim.slim(model, skip_optimizations=list(_SLIM_SKIP))
    if out is None:
        raise RuntimeError("onnxslim returned no model")
    return out


def _fix_reshape_allowzero(model) -> None:
    """Drop ``allowzero=1`` where it cannot matter: the target shape is a constant without 0.

    onnx2torch refuses ``allowzero=1``; the dynamo exporter sets it on every Reshape.  With no 0
    in the shape the two semantics coincide.
    """
    from onnx import numpy_helper

    consts: dict[str, Any] = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and len(node.output) == 1:
            for a in node.attribute:
                if a.name == "value":
                    consts[node.output[0]] = a.t
    for node in model.graph.node:
        if node.op_type != "Reshape" or node.domain not in ("", "ai.onnx") or len(node.input) < 2:
            continue
        attrs = [a for a in node.attribute if a.name == "allowzero"]
        if not attrs or attrs[0].i == 0 or node.input[1] not in consts:
            continue
        try:
            shape = numpy_helper.to_array(consts[node.input[1]])
        except Exception:
            continue
        if (shape != 0).all():
            node.attribute.remove(attrs[0])


# --------------------------------------------------------------------------------------------
# conversion
# --------------------------------------------------------------------------------------------


def _opsets(model) -> dict[str, int]:
    return {("" if o.domain == "ai.onnx" else o.domain): o.version for o in model.opset_import}


def _check_supported_ops(model, p: Path) -> None:
    from onnx2torch.node_converters.registry import get_converter

    opsets = _opsets(model)
    missing: dict[str, None] = {}
    for node in model.graph.node:
        domain = "" if node.domain == "ai.onnx" else node.domain
        version = opsets.get(domain)
        where = f"domain {domain!r}, " if domain else ""
        if version is None:
            missing[f"{node.op_type} ({where}no opset imported for its domain)"] = None
            continue
        try:
            get_converter(operation_type=node.op_type, version=version, domain=domain)
        except NotImplementedError:
            missing[f"{node.op_type} ({where}opset {version})"] = None
    if missing:
        ops = ", ".join(missing)
        raise SwapfwError(f"{p}: unsupported ONNX op(s) that onnx2torch cannot convert: {_one_line(ops)}")


def _convert(model, p: Path) -> torch.fx.GraphModule:
    import onnx2torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = onnx2torch.convert(model)
    except Exception as exc:
        raise SwapfwError(
            f"{p}: cannot convert the ONNX graph to PyTorch ({type(exc).__name__}: {_one_line(exc)})"
        ) from None
    return module.eval()


# --------------------------------------------------------------------------------------------
# extra onnx2torch converters for ops current exporters write (opset 18+)
# --------------------------------------------------------------------------------------------


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


def _register_extra_converters() -> None:
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


_register_extra_converters()
