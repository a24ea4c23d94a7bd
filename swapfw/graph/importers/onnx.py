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
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from ...errors import SwapfwError

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
    from .onnx_converters import register_once

    register_once()
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
