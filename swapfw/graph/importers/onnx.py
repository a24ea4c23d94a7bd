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
effect).  Missing converters are registered with onnx2torch's own registry (``onnx_converters``).

Files as model zoos and deployment pipelines write them need more, done here in this order:
an opset onnx2torch cannot read (7, 8) is converted by onnx's version converter; companion
inputs of token ids (attention mask, type and position ids) are bound inside the graph
(``onnx_inputs``); a fixed batch is made symbolic (``onnx_batch``) and checked, or, where that
does not hold, the samples run through the file a batch at a time (``OnnxImport.fixed_batch``).
Each step leaves a one-line note that the score's output shows.

Every failure -- missing file, not ONNX, truncated, unsupported op, conversion error -- is
raised as a one-line :class:`SwapfwError`.
"""

from __future__ import annotations

import contextlib
import copy
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ...errors import SwapfwError
from ..exported import read_onnx
from ..ir import output_tensors
from .onnx_batch import constants, fixed_batch, make_symbolic
from .onnx_inputs import InputSpec, bind_companions, input_spec

__all__ = ["OnnxImport", "load_onnx"]

_MAX_MSG = 300

# onnxslim passes that may fuse or merge nodes; conversion does not need any of them.
_SLIM_SKIP = ["graph_fusion", "subexpression_elimination", "weight_tying"]


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


@dataclass
class OnnxImport:
    """An imported file: the module, the input swapfw fills, and what the import did to get there."""

    module: torch.nn.Module
    input: InputSpec
    notes: list[str] = field(default_factory=list)  # one line per change: opset, bound inputs, batch
    fixed_batch: int | None = None  # run the samples this many at a time (the file's batch could not be freed)
    opset: int = 0  # the file's own opset
    recorded: dict = field(default_factory=dict)  # what swapfw export recorded for scoring (graph.exported)


def load_onnx(path: str | os.PathLike) -> OnnxImport:
    """Import ``path``: read, up-convert an old opset where onnx2torch needs it, bind companion inputs,
    free a fixed batch, normalise and convert to a ``torch.fx.GraphModule`` in eval mode.

    Raises :class:`SwapfwError` with a one-line message on any problem.
    """
    from .onnx_converters import register_once

    register_once()
    p = Path(os.fspath(path))
    model = _read_model(p)
    _check_structure(model, p)
    recorded = read_onnx(model)
    opset = _opsets(model).get("", 0)
    notes: list[str] = []
    model = _upgraded(model, p, notes)
    model, bound = bind_companions(model, p)
    notes += bound
    spec = input_spec(model, p)
    batch = fixed_batch(model)
    if batch is not None:
        module = _free_batch(model, batch, spec, p, notes)
        if module is not None:
            return OnnxImport(module, spec, notes, None, opset, recorded)
    normalised = _normalised(model)
    _check_supported_ops(normalised, p)
    module = _convert(normalised, p)
    if batch is not None:
        notes.append(f"fixed batch of {batch}: the samples run {batch} at a time through the file as it is")
    return OnnxImport(module, spec, notes, batch, opset, recorded)


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
            f"{p} is neither ONNX nor TorchScript (it looks like a PyTorch checkpoint or pickle: "
            "save the model with torch.jit.save or torch.onnx.export)"
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


# --------------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet():
    """Silence Python warnings raised while onnxslim works (it sets its own loggers to ERROR)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _normalised(model):
    """``_normalise`` where onnxslim can, the raw graph where it chokes (the checks explain failures);
    then ``allowzero`` dropped where it cannot matter."""
    try:
        out = _normalise(copy.deepcopy(model))  # onnxslim edits the model it is given
    except Exception:
        out = copy.deepcopy(model)
    _fix_reshape_allowzero(out)
    return out


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
    consts = constants(model)
    for node in model.graph.node:
        if node.op_type != "Reshape" or node.domain not in ("", "ai.onnx") or len(node.input) < 2:
            continue
        attrs = [a for a in node.attribute if a.name == "allowzero"]
        if not attrs or attrs[0].i == 0 or node.input[1] not in consts:
            continue
        try:
            shape = consts[node.input[1]]
        except Exception:
            continue
        if (shape != 0).all():
            node.attribute.remove(attrs[0])


# --------------------------------------------------------------------------------------------
# old opsets and fixed batches
# --------------------------------------------------------------------------------------------

#: the opset an old file is converted to where onnx2torch cannot read its ops as they are
UPGRADE_TO = 13


#: ops normalisation removes, so onnx2torch never needs to read them
_REMOVED = ("Identity", "Dropout")


def _upgraded(model, p: Path, notes: list[str]):
    """The model, or, where its opset is below ``UPGRADE_TO`` and onnx2torch cannot read its ops,
    the model converted by onnx's version converter (the original opset noted)."""
    missing = [m for m in _unsupported_ops(model) if m.split(" ")[0] not in _REMOVED]
    version = _opsets(model).get("", 0)
    if not missing or not 0 < version < UPGRADE_TO:
        return model
    import onnx.version_converter

    try:
        with _quiet():
            converted = onnx.version_converter.convert_version(model, UPGRADE_TO)
    except Exception as exc:
        raise SwapfwError(f"{p}: unsupported ONNX op(s) that onnx2torch cannot convert: {_one_line(', '.join(missing))}; "
                          f"onnx's version converter cannot take opset {version} to {UPGRADE_TO} either "
                          f"({type(exc).__name__}: {_one_line(exc)})") from None
    notes.append(f"opset {version} converted to {UPGRADE_TO} by onnx's version converter "
                 f"(onnx2torch reads no {', '.join(sorted({m.split(' ')[0] for m in missing}))} at opset {version})")
    return converted


#: a fixed batch and the same batch freed agree when outputs match to this (relative to their scale)
BATCH_CHECK_TOLERANCE = 1e-4


def _free_batch(model, batch: int, spec: InputSpec, p: Path, notes: list[str]):
    """The module with the fixed batch made symbolic, where it runs a batch of 2B exactly as two
    batches of B (the file's own); None where it does not (the caller runs B samples at a time)."""
    try:
        with _quiet():
            freed, rewritten = make_symbolic(model, batch, _normalise)
        _fix_reshape_allowzero(freed)
    except Exception:
        return None
    _check_supported_ops(freed, p)
    try:
        module = _convert(freed, p)
        same = _same_per_sample(module, spec, batch)
    except Exception:
        return None
    if not same:
        return None
    notes.append(f"fixed batch of {batch} made symbolic ({rewritten} batch-carrying constant(s) rewritten; "
                 f"a batch of {2 * batch} matches {batch} at a time)")
    return module


def _same_per_sample(module, spec: InputSpec, batch: int) -> bool:
    """Do 2B samples in one call give the outputs that two calls of B give?"""
    from . import CHECK_LENGTH, example_inputs

    shape = tuple(CHECK_LENGTH if d is None else d for d in (spec.shape or ()))
    x = example_inputs(shape, 2 * batch, 0, spec.dtype, spec.vocab)
    with torch.no_grad():
        together = output_tensors(module(x))
        apart = [output_tensors(module(x[:batch])), output_tensors(module(x[batch:]))]
    if len(together) != len(apart[0]):
        return False
    for whole, first, second in zip(together, *apart):
        if whole.shape[:1] != (2 * batch,) or first.shape[:1] != (batch,):
            return False
        split = torch.cat([first, second]).to(torch.float64)
        scale = float(split.abs().max()) if split.numel() else 0.0
        if not torch.allclose(whole.to(torch.float64), split, rtol=BATCH_CHECK_TOLERANCE,
                              atol=BATCH_CHECK_TOLERANCE * max(scale, 1e-6)):
            return False
    return True


# --------------------------------------------------------------------------------------------
# conversion
# --------------------------------------------------------------------------------------------


def _opsets(model) -> dict[str, int]:
    return {("" if o.domain == "ai.onnx" else o.domain): o.version for o in model.opset_import}


def _check_supported_ops(model, p: Path) -> None:
    missing = _unsupported_ops(model)
    if missing:
        raise SwapfwError(f"{p}: unsupported ONNX op(s) that onnx2torch cannot convert: {_one_line(', '.join(missing))}")


def _unsupported_ops(model) -> list[str]:
    """'Op (opset N)' for every op type onnx2torch has no converter for, in graph order."""
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
    return list(missing)


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
