"""What an ONNX model takes: the input swapfw fills with samples, and the inputs it binds.

A transformer export takes token ids (int64) and often an attention mask, token type ids or
position ids beside them. The ids get integer samples below the vocabulary size, read from the
embedding table the ids index; the companions are bound inside the graph to what a plain
forward pass uses (a mask of ones, type 0, positions 0..L-1), shaped like the ids. Any other
extra input is an error that names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ...errors import SwapfwError
from .onnx_batch import real_inputs

#: what a companion input is bound to, by its name
_COMPANIONS = (
    (re.compile(r"(attention|input|padding)?_?mask", re.I), "ones", "a mask of ones"),
    (re.compile(r"(token_?type|segment)_?ids?", re.I), "zeros", "type 0"),
    (re.compile(r"position_?ids?", re.I), "positions", "positions 0..L-1"),
)
_INTEGER = {6: "int32", 7: "int64"}  # onnx TensorProto element types
_FLOAT = {1: "float32", 10: "float16", 11: "float64", 16: "bfloat16"}


@dataclass(frozen=True)
class InputSpec:
    """The input swapfw fills: per-sample shape (None where symbolic), dtype, vocabulary for ids."""

    name: str
    shape: tuple[int | None, ...] | None
    dtype: str  # "float32" | "int64" | ...
    vocab: int | None = None  # rows of the embedding the ids index, where the graph says


def _roles(model, path) -> tuple[str, dict]:
    """(the input filled with samples, {companion input: its role}). The filled input is the one
    real input that is not a companion (the only input, whatever its name, when there is one)."""
    inputs = real_inputs(model)
    if not inputs:
        raise SwapfwError(f"{path}: the ONNX model has no inputs")
    if len(inputs) == 1:
        return inputs[0].name, {}
    roles = {i.name: _companion(i.name) for i in inputs}
    filled = [i for i in inputs if roles[i.name] is None]
    if not filled:
        names = ", ".join(i.name for i in inputs)
        raise SwapfwError(f"{path}: every input ({names}) looks like a mask or id companion; none takes the samples")
    if len(filled) > 1:
        raise SwapfwError(f"{path}: the model has {len(inputs)} inputs; swapfw fills one with samples "
                          f"({filled[0].name!r}) and binds attention masks, token type and position ids, "
                          f"but cannot fill {', '.join(repr(i.name) for i in filled[1:])}")
    return filled[0].name, {i: role for i, role in roles.items() if role is not None}


def sample_feeds(model, samples: np.ndarray, path="the model") -> dict[str, np.ndarray]:
    """Every input of the file as it is for ``samples``: the companions hold what the import binds
    them to (ones, zeros, positions 0..L-1), to run the unchanged file (onnxruntime) on the same work."""
    from onnx import helper

    main, roles = _roles(model, path)
    feeds = {main: samples}
    for vi in real_inputs(model):
        if vi.name in roles:
            dtype = helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
            value = {"ones": np.ones(samples.shape), "zeros": np.zeros(samples.shape),
                     "positions": np.broadcast_to(np.arange(samples.shape[-1]), samples.shape)}[roles[vi.name]]
            feeds[vi.name] = np.ascontiguousarray(value, dtype=dtype)
    return feeds


def bind_companions(model, path) -> tuple[object, list[str]]:
    """Bind every input but the filled one; (model, notes). Errors name an input that can be neither."""
    from onnx import helper, numpy_helper

    main, roles = _roles(model, path)
    if not roles:
        return model, []
    inputs = real_inputs(model)
    nodes, notes = [], []
    for vi in inputs:
        role = roles.get(vi.name)
        if role is None:
            continue
        element = vi.type.tensor_type.elem_type
        if element not in _INTEGER and element not in _FLOAT:
            raise SwapfwError(f"{path}: cannot fill input {vi.name!r} (element type {element})")
        dtype = helper.tensor_dtype_to_np_dtype(element)
        shape = f"__swapfw_{vi.name}_shape"
        fill = np.array([0 if role == "zeros" else 1], dtype=dtype)
        target = vi.name if role != "positions" else f"__swapfw_{vi.name}_ones"
        nodes += [helper.make_node("Shape", [main], [shape], name=f"{shape}_node"),
                  helper.make_node("ConstantOfShape", [shape], [target], value=numpy_helper.from_array(fill),
                                   name=f"{target}_node")]
        if role == "positions":  # cumulative sum of ones along the sequence, minus one
            axis, one = f"__swapfw_{vi.name}_axis", f"__swapfw_{vi.name}_one"
            model.graph.initializer.extend([numpy_helper.from_array(np.array(-1, dtype=np.int64), axis),
                                            numpy_helper.from_array(np.array(1, dtype=dtype), one)])
            summed = f"__swapfw_{vi.name}_cumsum"
            nodes += [helper.make_node("CumSum", [target, axis], [summed], name=f"{summed}_node"),
                      helper.make_node("Sub", [summed, one], [vi.name], name=f"__swapfw_{vi.name}_positions")]
        notes.append(f"input {vi.name!r} bound to {dict((r, d) for _, r, d in _COMPANIONS)[role]} shaped like {main!r}")
    keep = [i for i in model.graph.input if roles.get(i.name) is None]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    body = nodes + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(body)
    return model, notes


def _companion(name: str) -> str | None:
    for pattern, role, _ in _COMPANIONS:
        if pattern.fullmatch(name):
            return role
    return None


def input_spec(model, path) -> InputSpec:
    """The one input left after binding: its per-sample shape, dtype and (for ids) vocabulary."""
    (vi,) = real_inputs(model)
    if not vi.type.HasField("tensor_type"):
        raise SwapfwError(f"{path}: the model input {vi.name!r} is not a tensor")
    tt = vi.type.tensor_type
    element = tt.elem_type
    if element in _INTEGER:
        dtype = _INTEGER[element]
    elif element in _FLOAT:
        dtype = _FLOAT[element]
    else:
        raise SwapfwError(f"{path}: swapfw cannot fill the model input {vi.name!r} (element type {element}: "
                          "neither float nor integer ids)")
    shape = None
    if tt.HasField("shape"):
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim]
        shape = tuple(dims[1:])
    return InputSpec(vi.name, shape, dtype, _vocabulary(model, vi.name) if dtype in _INTEGER.values() else None)


def _vocabulary(model, name: str) -> int | None:
    """Rows of the table a Gather indexes with the ids (through Casts), where it is an initializer."""
    from .onnx_batch import constants

    tables = constants(model)
    aliases = {name}
    for node in model.graph.node:
        if node.op_type == "Cast" and node.input and node.input[0] in aliases:
            aliases.update(node.output)
        elif node.op_type == "Gather" and len(node.input) > 1 and node.input[1] in aliases:
            table = tables.get(node.input[0])
            if table is not None and table.ndim == 2:
                return int(table.shape[0])
    return None
