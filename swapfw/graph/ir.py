"""Graph IR: any model as one networkx DiGraph, with params, FLOPs, shapes and activation sites.

The IR is built from the model's torch.fx graph (onnx2torch already returns a GraphModule;
plain modules are traced). When fx cannot trace a model, a module-hook fallback records the
leaf modules in execution order instead; ``ModelIR.note`` says so, because that IR sees only
activations that are modules and its edges follow execution order rather than data flow.
"""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import dataclass

import networkx as nx
import torch
import torch.fx
import torch.nn as nn
from torch.fx.passes.shape_prop import ShapeProp

from ..errors import SwapfwError, is_out_of_memory
from . import ops
from .sites import Site, find_sites


@dataclass
class ModelIR:
    """The model as a graph: node name -> {op, type, target, attrs, params, flops, shape}."""

    graph: nx.DiGraph
    module: nn.Module
    sites: list[Site]
    traced: bool
    note: str = ""
    params: int = 0
    input_shape: tuple[int, ...] = ()

    @property
    def flops(self) -> int:
        """Multiply-accumulates of one sample, summed over conv, linear and matmul nodes."""
        return int(sum(d["flops"] for _, d in self.graph.nodes(data=True)))

    def activation_types(self) -> dict[str, int]:
        """Every activation-like op in the model with its count, handled or not."""
        counts: dict[str, int] = {}
        for site in self.sites:
            counts[site.kind] = counts.get(site.kind, 0) + 1
        return counts

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, data in self.graph.nodes(data=True):
            counts[data["type"]] = counts.get(data["type"], 0) + 1
        return counts


def build_ir(module: nn.Module, example: torch.Tensor, constants_are_weights: bool = False,
             trace: bool = True) -> ModelIR:
    """Trace ``module`` (or take its fx graph) and describe it; ``example`` fixes the shapes.

    ``constants_are_weights``: count float constant tensors (not just nn.Parameters) as
    parameters. ONNX has no such distinction: an initializer that feeds a MatMul is a weight,
    and onnx2torch keeps it as a buffer. ``trace=False``: describe the module from hooks on its
    leaf modules in one forward pass instead, for a model whose activations are all modules
    (a search space's ``module_activations``): no trace, no shape propagation.
    """
    if not trace and not isinstance(module, torch.fx.GraphModule):
        return _hook_ir(module, example, None)
    try:
        gm = module if isinstance(module, torch.fx.GraphModule) else torch.fx.symbolic_trace(module)
    except Exception as exc:  # fx cannot trace data-dependent control flow and friends
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return _hook_ir(module, example, reason)
    with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):  # ShapeProp prints tracebacks
        try:
            ShapeProp(gm).propagate(example)
        except Exception as exc:
            raise run_error(exc.__cause__ or exc, example) from None
    graph = _fx_to_networkx(gm, constants_are_weights)
    total = sum(p.numel() for p in module.parameters())
    if constants_are_weights:  # parameters are counted once above; add the constant weights
        constants = {str(n.target): _fetch_attr(gm, n.target) for n in gm.graph.nodes if n.op == "get_attr"}
        total += sum(v.numel() for v in constants.values() if _is_weight(v) and not isinstance(v, nn.Parameter))
    return ModelIR(graph, gm, find_sites(graph), traced=True, params=total,
                   input_shape=tuple(example.shape[1:]))


def output_tensors(output) -> list[torch.Tensor]:
    """The tensors of a model's output, however it nests them (tuples, lists, dicts)."""
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, (tuple, list)):
        return [t for o in output for t in output_tensors(o)]
    if isinstance(output, dict):
        return [t for o in output.values() for t in output_tensors(o)]
    return []


def run_error(exc: Exception, example: torch.Tensor) -> SwapfwError:
    """The one-line error for a model that fails on ``example`` (out of memory, or anything else)."""
    if is_out_of_memory(exc):
        return SwapfwError(f"out of memory running the model on {example.device}: lower --batch or the input size")
    return SwapfwError(f"the model does not run on an input of shape {tuple(example.shape)}: "
                       f"{type(exc).__name__}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _fx_to_networkx(gm: torch.fx.GraphModule, constants_are_weights: bool) -> nx.DiGraph:
    modules = dict(gm.named_modules())
    graph = nx.DiGraph()
    for node in gm.graph.nodes:
        op_type, attrs = _classify(node, modules, gm)
        shape = _shape(node)
        params = _node_params(node, modules, gm, constants_are_weights)
        graph.add_node(node.name, op=node.op, type=op_type, target=str(node.target), attrs=attrs,
                       params=params, shape=shape, flops=0)
        for pred in node.all_input_nodes:
            graph.add_edge(pred.name, node.name)
    for name, data in graph.nodes(data=True):
        data["flops"] = _node_flops(data, [graph.nodes[p] for p in graph.predecessors(name)], modules)
    return graph


def _classify(node: torch.fx.Node, modules: dict, gm: torch.fx.GraphModule) -> tuple[str, dict]:
    if node.op == "placeholder":
        return "input", {}
    if node.op == "output":
        return "output", {}
    if node.op == "get_attr":
        value = _fetch_attr(gm, node.target)
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            return "constant", {"value": float(value.reshape(()).item())}
        return "constant", {}
    if node.op == "call_module":
        op_type, attrs = ops.module_type(modules[node.target])
        attrs = dict(attrs, module=node.target)
        return op_type, attrs
    if node.op == "call_function":
        return ops.function_type(node.target, node.args, node.kwargs)
    return ops.method_type(node.target, node.args, node.kwargs)


def _fetch_attr(gm: nn.Module, target: str):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _shape(node: torch.fx.Node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta")
    shape = getattr(meta, "shape", None)
    return tuple(int(d) for d in shape) if shape is not None else None


def _node_params(node: torch.fx.Node, modules: dict, gm: nn.Module, constants_are_weights: bool) -> int:
    if node.op == "call_module":
        return sum(p.numel() for p in modules[node.target].parameters())
    if node.op == "get_attr":
        value = _fetch_attr(gm, node.target)
        if isinstance(value, nn.Parameter) or (constants_are_weights and _is_weight(value)):
            return value.numel()
    return 0


def _is_weight(value) -> bool:
    """A float tensor of more than one element: a weight when it comes from an ONNX initializer."""
    return isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel() > 1


def _per_sample(shape: tuple[int, ...] | None) -> int:
    if not shape:
        return 0
    return math.prod(shape[1:]) if len(shape) > 1 else 1


def _node_flops(data: dict, preds: list[dict], modules: dict) -> int:
    """Multiply-accumulates for one sample: conv, linear and matmul; elementwise ops count 0."""
    kind, out = data["type"], _per_sample(data["shape"])
    if kind == "conv":
        weight = _weight_shape(data, preds, modules)
        return out * math.prod(weight[1:]) if weight else 0
    if kind == "linear":
        weight = _weight_shape(data, preds, modules)
        return out * weight[-1] if weight else 0
    if kind == "matmul" and preds and preds[0]["shape"]:
        return out * preds[0]["shape"][-1]
    return 0


def _weight_shape(data: dict, preds: list[dict], modules: dict) -> tuple[int, ...] | None:
    module = modules.get(data["attrs"].get("module", ""))
    weight = getattr(module, "weight", None)
    if isinstance(weight, torch.Tensor):
        return tuple(weight.shape)
    if len(preds) > 1 and preds[1]["shape"]:  # functional form: (input, weight, ...)
        return preds[1]["shape"]
    return None


def hook_node(path: str, call: int) -> str:
    """The hook IR's name for call ``call`` of the leaf module at ``path``."""
    return path if call == 0 else f"{path}#{call}"


def leaf_modules(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules a hook IR is made of: those with no children (the root itself excluded)."""
    return [(path, leaf) for path, leaf in module.named_modules() if path and not any(True for _ in leaf.children())]


@dataclass(frozen=True)
class Leaf:
    """A leaf module as the hook IR describes it."""

    path: str
    module: nn.Module
    type: str
    attrs: dict


class LeafRecorder:
    """Records a hook IR while forward passes run: each leaf module call, in execution order.

    ``with LeafRecorder(model) as recorder: model(x)``, then ``recorder.ir(input_shape)``. Any
    forward will do, so a pass that is needed anyway (the first pattern count) can build the IR
    instead of a pass of its own; ``leaves`` describes the leaf modules for such a pass. A hook
    only notes the call; the graph is made when ``ir`` is asked for, which a scoring run that
    needs no IR (SWAP alone) never does.
    """

    def __init__(self, module: nn.Module):
        self.module = module
        self.leaves = [Leaf(path, leaf, *_described(path, leaf)) for path, leaf in leaf_modules(module)]
        self._calls: list[tuple[Leaf, int, tuple[int, ...] | None]] = []  # (leaf, call, output shape)
        self._count: dict[str, int] = {}
        self._handles: list = []

    def __enter__(self) -> "LeafRecorder":
        self._handles = [leaf.module.register_forward_hook(self._hook(leaf)) for leaf in self.leaves]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _hook(self, leaf: Leaf):
        def hook(mod, inputs, output):
            call = self._count.get(leaf.path, 0)
            self._count[leaf.path] = call + 1
            self._calls.append((leaf, call, tuple(output.shape) if isinstance(output, torch.Tensor) else None))
        return hook

    def ir(self, input_shape: tuple[int, ...], note: str = "") -> ModelIR:
        """The IR of the calls recorded so far: a chain of leaf calls, execution order."""
        graph = nx.DiGraph()
        names = []
        for leaf, call, shape in self._calls:
            params = sum(p.numel() for p in leaf.module.parameters()) if call == 0 else 0
            data = dict(op="call_module", type=leaf.type, target=leaf.path, attrs=leaf.attrs,
                        params=params, shape=shape, flops=0, call=call)
            data["flops"] = _node_flops(data, [], {leaf.path: leaf.module})
            names.append((hook_node(leaf.path, call), data))
        graph.add_nodes_from(names)
        graph.add_edges_from((a, b) for (a, _), (b, _) in zip(names, names[1:]))
        total = sum(p.numel() for p in self.module.parameters())
        return ModelIR(graph, self.module, find_sites(graph), traced=False, note=note, params=total,
                       input_shape=tuple(input_shape))


def _described(path: str, leaf: nn.Module) -> tuple[str, dict]:
    op_type, attrs = ops.module_type(leaf)
    return op_type, dict(attrs, module=path)


def _hook_ir(module: nn.Module, example: torch.Tensor, reason: str | None) -> ModelIR:
    """IR from forward hooks on leaf modules: execution order, module activations only. The
    fallback where fx cannot trace (``reason`` says why, in the note), or chosen (``reason`` None)."""
    try:
        with LeafRecorder(module) as recorder, torch.no_grad():
            module(example)
    except Exception as exc:
        raise run_error(exc, example) from None
    note = (f"torch.fx could not trace this model ({reason}); fell back to module hooks: only "
            "activations that are nn.Modules are seen, and IR edges follow execution order") if reason else ""
    return recorder.ir(tuple(example.shape[1:]), note)
