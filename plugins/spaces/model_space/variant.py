"""Build the network one architecture names: a copy of the template, edited point by point.

Weights are re-initialised, as every training-free score re-initialises them anyway: a variant
needs no weight surgery beyond shapes. The order matters: widths and kernels replace modules
(by name); then blocks are dropped (their addition's users read the skip instead); then
activations are swapped, reading a dropped addition's replacement; then dead nodes and unused
modules go, and every layer with ``reset_parameters`` gets PyTorch's default initialisation.
"""

from __future__ import annotations

import copy

import torch
import torch.fx
import torch.nn as nn

from . import width as widths
from .choices import ChoicePoint

ACTIVATION_MODULES = {"relu": nn.ReLU, "relu6": nn.ReLU6, "hardswish": nn.Hardswish, "gelu": nn.GELU, "silu": nn.SiLU}


def build(template, points: list[ChoicePoint], values: list, retrace: bool = False) -> nn.Module:
    """The variant for ``values`` (one per point, canonical: dead points hold the original's value)."""
    # layers that are re-initialised below are copied without their weights (empty tensors, on the
    # default device: under torch.device("meta"), where sizes are counted, they cost nothing)
    blank = {id(p): nn.Parameter(torch.empty(p.shape, dtype=p.dtype), p.requires_grad) for m in template.modules()
             if hasattr(m, "reset_parameters") for p in m.parameters(recurse=False)}
    graph_module = copy.deepcopy(template, blank)
    chosen = [(p, v) for p, v in zip(points, values) if v != p.default]
    groups = [(p.detail, v) for p, v in zip(points, values) if p.kind == "width"]
    if any(v != 1.0 for _, v in groups):
        group_list = [g for g, _ in groups]
        widths.apply(graph_module, group_list, widths.keep_counts(group_list, [v for _, v in groups]))
    for point, value in chosen:
        if point.kind == "kernel":
            set_kernel(graph_module, point.key, value)
    nodes = {n.name: n for n in graph_module.graph.nodes}
    alias: dict[str, str] = {}  # a dropped addition -> the node that now carries its value
    for point, value in chosen:
        if point.kind == "depth":
            block = point.detail
            skip = _resolve(block.skip, alias)
            nodes[block.add].replace_all_uses_with(nodes[skip])
            alias[block.add] = skip
    if alias:
        _out_of_place(graph_module)
    for point, value in chosen:
        if point.kind == "activation":
            swap_activation(graph_module, nodes, point.detail, value, alias)
    graph_module.graph.eliminate_dead_code()
    graph_module.delete_all_unused_submodules()
    graph_module.recompile()
    for module in graph_module.modules():
        if hasattr(module, "reset_parameters") and any(True for _ in module.parameters(recurse=False)):
            module.reset_parameters()
    if retrace:  # the template kept layers with child modules whole; let the IR see inside them
        graph_module = torch.fx.symbolic_trace(graph_module)
    return graph_module.eval()


def _out_of_place(graph_module: torch.fx.GraphModule) -> None:
    """No activation works in place once a block is dropped: the block's input now reaches the next
    in-place ReLU directly, which would overwrite a value the previous activation's backward pass
    needs (the variant would score, and fail to train)."""
    for module in graph_module.modules():
        if getattr(module, "inplace", False) is True:
            module.inplace = False
    for node in graph_module.graph.nodes:
        if node.op == "call_function" and node.kwargs.get("inplace") is True:
            node.kwargs = {**node.kwargs, "inplace": False}
        elif node.op == "call_method" and isinstance(node.target, str) and node.target.endswith("_") \
                and not node.target.startswith("_") and hasattr(torch.Tensor, node.target[:-1]):
            node.target = node.target[:-1]  # x.relu_() -> x.relu()


def _resolve(name: str, alias: dict[str, str]) -> str:
    while name in alias:  # consecutive blocks chain: a block's skip may be a dropped addition
        name = alias[name]
    return name


def set_kernel(graph_module: torch.fx.GraphModule, target: str, kernel: int) -> None:
    """Replace a conv by one of kernel size ``kernel``, padded to keep its output shape and groups."""
    old = graph_module.get_submodule(target)
    padding = old.padding[0] + old.dilation[0] * (kernel - old.kernel_size[0]) // 2
    # skip_init: build() initialises every layer once at the end
    new = nn.utils.skip_init(nn.Conv2d, old.in_channels, old.out_channels, kernel, stride=old.stride,
                             padding=padding, dilation=old.dilation, groups=old.groups, bias=old.bias is not None,
                             device=old.weight.device, dtype=old.weight.dtype)
    parent, _, attr = target.rpartition(".")
    setattr(graph_module.get_submodule(parent) if parent else graph_module, attr, new)


def swap_activation(graph_module: torch.fx.GraphModule, nodes: dict, site, kind: str, alias: dict[str, str]) -> None:
    """Apply a new ``kind`` module to the site's pre-activation value; the site's users read it instead."""
    name = f"_model_space_{kind}_{site.output}"
    graph_module.add_submodule(name, ACTIVATION_MODULES[kind]())
    output = nodes[site.output]
    with graph_module.graph.inserting_after(output):
        new = graph_module.graph.call_module(name, (nodes[_resolve(site.input, alias)],))
    output.replace_all_uses_with(new)
    nodes[new.name] = new
    alias[site.output] = new.name  # a later site may read this one's value
