"""A fixed batch made symbolic, so that a file exported for one sample scores S samples at once.

Files from model zoos and deployment pipelines fix the batch (the input is ``1x3x224x224``) and
carry it in constants: a Reshape to ``[1, 9216]``, an Expand of a class token to ``[1, 1, 192]``, a
Tile, a ConstantOfShape. The rewrite makes dim 0 of the inputs and outputs symbolic, lets onnxslim
fold the shape arithmetic that does not involve it, and replaces each constant that carries the
batch with ``Concat(Shape(input)[0], rest)``. At the file's own batch the rewritten graph computes
exactly what the file does (the new shape is the old constant); the importer then checks that a
batch of 2B gives, sample for sample, what two batches of B give, and runs the samples B at a time
through the file as it is where that check fails.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping

import numpy as np

BATCH_DIM = "N"


def real_inputs(model) -> list:
    """Graph inputs that are not initializers (IR-3 files list their weights as inputs too)."""
    inits = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def fixed_batch(model) -> int | None:
    """The batch every input fixes in its first dim, else None (symbolic, absent or disagreeing)."""
    batches = set()
    for vi in real_inputs(model):
        dims = vi.type.tensor_type.shape.dim if vi.type.HasField("tensor_type") else []
        if not dims or not dims[0].HasField("dim_value") or dims[0].dim_value < 1:
            return None
        batches.add(dims[0].dim_value)
    return batches.pop() if len(batches) == 1 else None


class constants(Mapping):
    """Initializers and Constant-node values by tensor name, each made a numpy array when first
    read: the passes look at a few shape tensors, never copy every weight of the model."""

    def __init__(self, model):
        self._protos = {t.name: t for t in model.graph.initializer}
        for node in model.graph.node:
            if node.op_type == "Constant" and len(node.output) == 1:
                for a in node.attribute:
                    if a.name == "value":
                        self._protos[node.output[0]] = a.t
        self._arrays: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._arrays:
            from onnx import numpy_helper

            self._arrays[name] = numpy_helper.to_array(self._protos[name])
        return self._arrays[name]

    def __contains__(self, name) -> bool:
        return name in self._protos

    def __iter__(self):
        return iter(self._protos)

    def __len__(self) -> int:
        return len(self._protos)


def make_symbolic(model, batch: int, normalise) -> tuple[object, int]:
    """(a copy of ``model`` with a symbolic batch, how many batch-carrying constants were rewritten).

    ``normalise`` is the importer's constant folding (onnxslim), run after the batch dim is made
    symbolic so that only the batch's own shape arithmetic stays in the graph.
    """
    m = copy.deepcopy(model)
    _symbolic_io(m, batch)
    m = normalise(m)
    if m.ir_version < 4:  # onnxslim drops initializers from the inputs, which IR 3 requires
        m.ir_version = 4
    return _rewrite_constants(m, batch)


def _symbolic_io(model, batch: int) -> None:
    for vi in [*real_inputs(model), *model.graph.output]:
        dims = vi.type.tensor_type.shape.dim if vi.type.HasField("tensor_type") else []
        if dims and (not dims[0].HasField("dim_value") or dims[0].dim_value == batch):
            dims[0].Clear()
            dims[0].dim_param = BATCH_DIM
    del model.graph.value_info[:]  # intermediate shapes with the fixed batch would now be wrong


def _live(model) -> set[str]:
    """Tensors computed from a graph input (nodes are in topological order, as ONNX requires)."""
    live = {i.name for i in real_inputs(model)}
    for node in model.graph.node:
        if any(x in live for x in node.input if x):
            live.update(node.output)
    return live


def _rewrite_constants(model, batch: int) -> tuple[object, int]:
    from onnx import helper, numpy_helper

    g = model.graph
    consts, live = constants(model), _live(model)
    first = real_inputs(model)[0].name
    head: list = []
    before: dict[int, list] = {}  # node position -> new nodes to run just before it
    names = itertools.count()
    batch_name: list[str] = []

    def fresh(base: str) -> str:
        return f"__swapfw_{base}_{next(names)}"

    def batch_tensor() -> str:
        if not batch_name:
            shape, index, out = fresh("shape"), fresh("index"), fresh("batch")
            g.initializer.append(numpy_helper.from_array(np.array([0], dtype=np.int64), index))
            head.extend([helper.make_node("Shape", [first], [shape], name=fresh("Shape")),
                         helper.make_node("Gather", [shape, index], [out], axis=0, name=fresh("Gather"))])
            batch_name.append(out)
        return batch_name[0]

    def with_batch(rest: np.ndarray, position: int) -> str:
        """A tensor [N, *rest], computed just before the node at ``position``."""
        rest_name, out = fresh("rest"), fresh("shape_n")
        g.initializer.append(numpy_helper.from_array(rest.astype(np.int64), rest_name))
        before.setdefault(position, []).append(helper.make_node("Concat", [batch_tensor(), rest_name], [out], axis=0,
                                                                 name=fresh("Concat")))
        return out

    def leading(name: str) -> np.ndarray | None:
        value = consts.get(name)
        return None if value is None else value.astype(np.int64).reshape(-1)

    rewritten = 0
    nodes = list(g.node)  # protobuf hands out new wrappers on each access: positions, not ids, name nodes
    for position, node in enumerate(nodes):
        op, ins = node.op_type, node.input
        if op == "Reshape" and len(ins) > 1 and ins[0] in live:
            shape = leading(ins[1])
            if shape is not None and shape.size > 1 and shape[0] == batch:
                ins[1] = with_batch(shape[1:], position)
                rewritten += 1
        elif op in ("Expand", "ConstantOfShape"):
            k = 1 if op == "Expand" else 0
            if len(ins) <= k or (op == "Expand" and ins[0] in live):
                continue  # a live Expand broadcasts its own batch
            shape = leading(ins[k])
            if shape is not None and shape.size > 1 and shape[0] == batch:
                ins[k] = with_batch(shape[1:], position)
                rewritten += 1
        elif op == "Tile" and len(ins) > 1 and ins[0] in consts:
            reps, data = leading(ins[1]), consts[ins[0]]
            if reps is not None and reps.size and reps[0] == batch and data.ndim and data.shape[0] == 1:
                ins[1] = with_batch(reps[1:], position)
                rewritten += 1
        elif op == "Concat" and batch == 1 and any(x in live for x in ins):
            axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
            for j, x in enumerate(list(ins)):
                value = consts.get(x)
                if x in live or value is None or value.ndim < 1 or value.shape[0] != 1 or axis % value.ndim == 0:
                    continue
                out = fresh("broadcast")  # a constant operand with the batch of 1: as many copies as samples
                target = with_batch(np.array(value.shape[1:]), position)
                before.setdefault(position, []).append(helper.make_node("Expand", [x, target], [out], name=fresh("Expand")))
                ins[j] = out
                rewritten += 1
    ordered = list(head)
    for position, node in enumerate(nodes):
        ordered.extend(before.get(position, []))
        ordered.append(node)
    del g.node[:]
    g.node.extend(ordered)
    return model, rewritten
