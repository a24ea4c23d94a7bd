"""Choice points found in the model's graph IR: what a variant of the model may change.

Four kinds, each listed in the IR's topological order (the fx graph's node order):

* ``width``: a channel group (``width.py``) keeps a ratio of its channels;
* ``kernel``: a square spatial convolution (odd k >= 3) takes another odd size, padded so its
  output shape stays (``p' = p + d (k' - k) / 2``: same-padding stays same-padding), with its
  groups kept, so a depthwise convolution stays depthwise;
* ``depth``: a residual block ``out = x + f(x)`` whose branch f is entered only from x and left
  only through the addition, with x, f(x) and the sum of one shape, may be dropped (out = x);
* ``activation``: an activation site of the IR (a module, a function, or a decomposed form such
  as ``x * sigmoid(x)``) of one of the kinds in ``ACTIVATIONS`` may become another of them.

A point whose IR nodes all lie inside dropped blocks is *dead*: it changes nothing, so the
canonical string resets it to the original's value.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import torch.nn as nn

KINDS = ("width", "kernel", "depth", "activation")
#: the kinds a space varies unless ``kinds=`` says otherwise: what a smaller model to deploy changes.
#: Chosen on benchmarks/model_search.py --kinds (results: model_search_kinds): with activations the
#: found variants trained no better (resnet18 and mobilenet_v2 at half size) and mixed several
#: activation functions; widths alone trained worse. ``kinds=width+kernel+depth+activation`` adds them.
DEFAULT_KINDS = ("width", "kernel", "depth")
LETTERS = {"width": "w", "kernel": "k", "depth": "d", "activation": "a"}
ACTIVATIONS = ("relu", "relu6", "hardswish", "gelu", "silu")
RATIOS = (0.25, 0.5, 0.75, 1.0)
KERNELS = (3, 5, 7)


@dataclass(frozen=True)
class Block:
    """A droppable residual block: ``add`` = ``skip`` + (the branch's output)."""

    add: str
    skip: str
    branch: frozenset


@dataclass(frozen=True)
class ChoicePoint:
    kind: str
    key: str  # what it edits: a group's root module, a conv module, a block's add node, a site's output node
    location: str  # where it is, for people
    options: tuple  # the values sample and mutate draw from; the original's is one of them
    default: object  # the original's value
    nodes: frozenset  # the IR nodes it lives in
    detail: object = None  # the WidthGroup, the Block, or the IR Site


def kernel_points(graph_module, ir, kernels) -> list[ChoicePoint]:
    """Square odd spatial nn.Conv2d layers (k >= 3); options keep the output shape (padding >= 0)."""
    calls: dict[str, list[str]] = {}
    for name, data in ir.graph.nodes(data=True):
        if data["op"] == "call_module" and data["type"] == "conv":
            calls.setdefault(data["target"], []).append(name)
    points = []
    for target, nodes in calls.items():
        conv = graph_module.get_submodule(target)
        if type(conv) is not nn.Conv2d or not isinstance(conv.padding, tuple) or conv.padding_mode != "zeros":
            continue
        (k, k2), (p, p2), (d, d2) = conv.kernel_size, conv.padding, conv.dilation
        if k != k2 or p != p2 or d != d2 or k < 3 or k % 2 == 0:
            continue
        options = tuple(sorted(o for o in {k, *kernels} if o % 2 == 1 and o >= 1 and p + d * (o - k) // 2 >= 0))
        if len(options) < 2:
            continue
        depthwise = ", depthwise" if conv.groups == conv.in_channels == conv.out_channels > 1 else ""
        points.append(ChoicePoint("kernel", target, f"{target} ({k}x{k}, {conv.in_channels}->{conv.out_channels}"
                                  f"{depthwise})", options, k, frozenset(nodes)))
    return points


def residual_blocks(ir) -> list[Block]:
    """Additions ``skip + f(skip)`` whose branch is single-entry, single-exit and shape-preserving."""
    graph = ir.graph
    constant = {n for n, d in graph.nodes(data=True) if d["type"] == "constant"}
    blocks = []
    for add, data in graph.nodes(data=True):
        if data["type"] != "add":
            continue
        values = [p for p in graph.predecessors(add) if p not in constant]
        if len(values) != 2 or data["shape"] is None \
                or not all(graph.nodes[v]["shape"] == data["shape"] for v in values):
            continue
        for skip, out in (values, values[::-1]):
            if skip not in nx.ancestors(graph, out):
                continue
            branch = (nx.ancestors(graph, out) & nx.descendants(graph, skip) | {out}) - constant
            entered = all(p == skip or p in branch or p in constant for b in branch for p in graph.predecessors(b))
            left = all(s in branch or s == add for b in branch for s in graph.successors(b))
            if entered and left:
                blocks.append(Block(add, skip, frozenset(branch)))
                break
    return blocks


def depth_points(ir) -> list[ChoicePoint]:
    points = []
    for block in residual_blocks(ir):
        modules = sorted({ir.graph.nodes[n]["target"] for n in block.branch
                          if ir.graph.nodes[n]["op"] == "call_module"})
        shown = f"{modules[0]} .. {modules[-1]}" if len(modules) > 1 else (modules[0] if modules else "")
        shape = "x".join(map(str, ir.graph.nodes[block.add]["shape"][1:]))
        points.append(ChoicePoint("depth", block.add, f"{block.add}: {shown} ({len(block.branch)} nodes, {shape})",
                                  (0, 1), 1, frozenset(block.branch | {block.add}), block))
    return points


def activation_points(ir, activations) -> list[ChoicePoint]:
    points = []
    for site in ir.sites:
        if site.kind not in ACTIVATIONS or site.input is None:
            continue
        before = ir.graph.nodes[site.input]
        where = before["target"] if before["op"] == "call_module" else site.input
        options = tuple(a for a in ACTIVATIONS if a in set(activations) | {site.kind})
        if len(options) < 2:
            continue
        points.append(ChoicePoint("activation", site.output, f"{site.kind} after {where}", options, site.kind,
                                  frozenset(site.nodes), site))
    return points


def width_points(graph_module, ir, groups, ratios) -> list[ChoicePoint]:
    calls: dict[str, list[str]] = {}
    for name, data in ir.graph.nodes(data=True):
        if data["op"] == "call_module":
            calls.setdefault(data["target"], []).append(name)
    points = []
    options = tuple(sorted(set(ratios) | {1.0}))
    for group in groups:
        others = [p for p in group.producers if p != group.root]
        tied = f"; with {', '.join(others[:3])}{' +%d more' % (len(others) - 3) if len(others) > 3 else ''}" \
            if others else ""
        nodes = frozenset(n for p in group.producers for n in calls.get(p, ()))
        points.append(ChoicePoint("width", group.root, f"{group.root} ({group.channels} ch{tied})", options, 1.0,
                                  nodes, group))
    return points


def dead(points: list[ChoicePoint], values: list) -> list[bool]:
    """Which points lie wholly inside the dropped blocks (their value changes nothing)."""
    dropped = set()
    for point, value in zip(points, values):
        if point.kind == "depth" and value == 0:
            dropped |= point.detail.branch
    return [bool(dropped) and bool(p.nodes) and p.nodes <= dropped for p in points]
