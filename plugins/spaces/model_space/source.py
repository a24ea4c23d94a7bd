"""The user's model as one torch.fx GraphModule: the template every variant is copied from.

Every choice kind edits the same graph by node and module name, so the model is traced once:
an ONNX file is already a GraphModule (onnx2torch); a torch module is traced with a tracer
that keeps parameterised layers whole (timm's ``BatchNormAct2d`` is a BatchNorm subclass, and
inlining it would hide its running statistics from Torch-Pruning).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.fx
import torch.nn as nn

from swapfw import SwapfwError
from swapfw.plugin_api import error_line

#: layer classes (and their subclasses) kept as one call_module node
LEAVES = (nn.modules.conv._ConvNd, nn.Linear, nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm,
          nn.ReLU, nn.ReLU6, nn.Hardswish, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Hardsigmoid)


class LeafTracer(torch.fx.Tracer):
    """Keeps subclasses of parameterised torch layers as modules, so their buffers stay visible."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, LEAVES) or super().is_leaf_module(m, qualname)


@dataclass
class Template:
    """The traced model, the per-sample input shape it was analysed at, and a fixed example batch."""

    graph_module: torch.fx.GraphModule
    input_shape: tuple[int, ...]
    example: torch.Tensor
    origin: str  # "onnx" | "python" | "space"
    hidden: bool  # a kept leaf has child modules (activations the IR cannot see in this trace)


def load_template(source: str, input_shape: tuple[int, ...] | None) -> Template:
    """Load ``source`` (``PATH.onnx`` or ``package.module:callable``, as ``swapfw score`` takes) and trace it."""
    from swapfw.plugin_api import load_model, resolve_input_shape

    if source.partition(":")[0] == "model":
        raise SwapfwError("a model space cannot be derived from another model-space architecture; "
                          "export it first (swapfw export) and use the .onnx file as source")
    loaded = load_model(source)
    declared = loaded.input_shape
    if input_shape is None and declared is not None and any(d is None for d in declared):
        shown = ",".join("?" if d is None else str(d) for d in declared)
        raise SwapfwError(f"{source}: the input shape {shown} has symbolic dims: give --space-option "
                          "input_shape=C,H,W")
    if loaded.fixed_batch is not None:
        raise SwapfwError(f"{source} fixes its batch at {loaded.fixed_batch} in a way swapfw cannot free (it scores "
                          "such a file a batch at a time); a model space needs a batch of any size: export the model "
                          "with a dynamic batch axis")
    shape = resolve_input_shape(declared, input_shape, loaded.default_shape, ids=loaded.takes_ids)
    module = loaded.module.eval()
    graph_module = module if isinstance(module, torch.fx.GraphModule) else _trace(module, source)
    example = loaded.example(shape, 0)
    try:
        with torch.no_grad():
            graph_module(example)
    except Exception as exc:
        raise SwapfwError(f"{source} does not run on a batch of 2 inputs of shape {','.join(map(str, shape))} "
                          f"({error_line(exc)[:200]}); an ONNX export with a fixed batch size bakes it into "
                          "Reshape targets: export with a dynamic batch axis") from None
    normalise_reshapes(graph_module, example)
    hidden = any(isinstance(m, LEAVES) and any(True for _ in m.children()) for m in graph_module.modules())
    return Template(graph_module.eval(), tuple(shape), example, loaded.origin, hidden)


def _trace(module: nn.Module, source: str) -> torch.fx.GraphModule:
    try:
        graph = LeafTracer().trace(module)
    except Exception as exc:
        raise SwapfwError(f"torch.fx cannot trace {source} ({error_line(exc)[:200]}); the model "
                          "space edits the traced graph: export the model to ONNX and use that as source") from None
    return torch.fx.GraphModule(module, graph, type(module).__name__)


def shapes(graph_module: torch.fx.GraphModule, example: torch.Tensor) -> dict[torch.fx.Node, tuple[int, ...]]:
    """Output shape of every tensor-valued node for ``example``."""
    from torch.fx.passes.shape_prop import ShapeProp

    with torch.no_grad():
        ShapeProp(graph_module).propagate(example)
    return {n: tuple(n.meta["tensor_meta"].shape) for n in graph_module.graph.nodes
            if hasattr(n.meta.get("tensor_meta"), "shape")}


def get_attr(root: nn.Module, target: str):
    """The object at a dotted attribute path (a get_attr node's target)."""
    for part in target.split("."):
        root = getattr(root, part)
    return root


def normalise_reshapes(graph_module: torch.fx.GraphModule, example: torch.Tensor) -> int:
    """Un-bake onnx2torch's constant Reshape targets, so that channels can change.

    The exporters write the batch and channel counts into Reshape constants ([2, 512] for a
    (2, 512, 1, 1) input); leading dims equal to the input's become 0 (ONNX: copy the dim) and a
    single remaining dim -1. Of a target that splits channels (a channel shuffle) only the batch is freed.
    Returns how many were rewritten.
    """
    found = shapes(graph_module, example)
    count = 0
    for node in list(graph_module.graph.nodes):
        if node.op != "call_module" or type(graph_module.get_submodule(node.target)).__name__ != "OnnxReshape":
            continue
        value, target = node.args[0], node.args[1]
        if getattr(target, "op", None) != "get_attr" or value not in found:
            continue
        wanted = [int(v) for v in get_attr(graph_module, target.target).tolist()]
        have = list(found[value])
        same = 0
        while same < min(len(wanted), len(have)) and wanted[same] == have[same]:
            same += 1
        rest = wanted[same:]
        # one dim left: -1, so channels may change; several (a channel split): only the batch is freed
        new = [0] * same + (rest if len(rest) > 1 else [-1] if rest else [])
        if new == wanted:
            continue
        name = f"_model_space_reshape_{count}"
        graph_module.register_buffer(name, torch.tensor(new, dtype=torch.int64))
        with graph_module.graph.inserting_before(node):
            node.replace_input_with(target, graph_module.graph.get_attr(name))
        count += 1
    if count:
        graph_module.graph.eliminate_dead_code()
        graph_module.recompile()
    return count
