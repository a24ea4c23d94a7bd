"""NAS-Bench-201 (Dong & Yang, ICLR 2020) as a swapfw search space.

A cell is a DAG of 4 nodes; each of its 6 edges ``j <- i`` (i < j) carries one of 5 ops, so the
space holds 5**6 = 15,625 architectures. An architecture string lists the edges node by node:
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, where ``op~i`` is the op on the edge from node i.
"""

from __future__ import annotations

import functools
import itertools
import operator
import random

import torch.nn as nn

from swapfw import SwapfwError, hookimpl
from swapfw.plugin_api import EdgeCells, Preset, Zero, bad_arch, part_params, positive_option, relu_conv_bn

#: the NB201 op set, in the benchmark's own order (its generation order depends on it)
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: (target, source) of each edge, in string order
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
FORM = "|OP~0|+|OP~0|OP~1|+|OP~0|OP~1|OP~2|"
SIZE = len(OPS) ** len(EDGES)
#: seed of the benchmark's one shuffle of its generated list (AutoDL-Projects, NAS-Bench-201 meta info)
OFFICIAL_SHUFFLE_SEED = 88


def _bad(arch: object, reason: str) -> SwapfwError:
    """One-line error naming the string, what is wrong, and the form expected."""
    return bad_arch("NB201", arch, reason, f"{FORM} with OP one of {', '.join(OPS)}")


def _parse_node(arch: str, target: int, text: str) -> list[str]:
    """The ops of one node's ``|op~0|op~1|...|`` group, checked edge by edge."""
    if len(text) < 2 or not (text.startswith("|") and text.endswith("|")):
        raise _bad(arch, f"node {target} {text!r} is not enclosed in | bars")
    edges = text[1:-1].split("|")
    if len(edges) != target:
        raise _bad(arch, f"node {target} has {len(edges)} inputs, needs {target}")
    ops = []
    for source, edge in enumerate(edges):
        op, sep, index = edge.partition("~")
        if not sep:
            raise _bad(arch, f"edge {edge!r} of node {target} lacks ~INPUT")
        if index != str(source):
            raise _bad(arch, f"edge {edge!r} of node {target} must read from node {source}, not {index!r}")
        if op not in OPS:
            raise _bad(arch, f"unknown op {op!r}")
        ops.append(op)
    return ops


def parse_arch(arch: str) -> tuple[str, ...]:
    """String -> the 6 ops in edge order; strict, because a typo must not score a different net."""
    if not isinstance(arch, str) or not arch.strip():
        raise _bad(arch, "it is empty" if isinstance(arch, str) else f"it is a {type(arch).__name__}, not a string")
    nodes = arch.strip().split("+")
    if len(nodes) != 3:
        raise _bad(arch, f"it has {len(nodes)} '+'-separated nodes, NB201 cells have 3")
    return tuple(op for target, text in enumerate(nodes, 1) for op in _parse_node(arch, target, text))


def format_ops(ops) -> str:
    """The 6 ops in edge order -> the benchmark's string (inverse of parse_arch)."""
    ops = tuple(ops)
    if len(ops) != len(EDGES) or any(op not in OPS for op in ops):
        raise SwapfwError(f"NB201 needs 6 ops from {', '.join(OPS)}, got {ops!r}")
    groups = [[f"{ops[k]}~{source}" for k, (t, source) in enumerate(EDGES) if t == target] for target in (1, 2, 3)]
    return "+".join("|" + "|".join(group) + "|" for group in groups)


@functools.cache
def official_order() -> tuple[str, ...]:
    """All 15,625 strings in the benchmark's index order.

    NAS-Bench-201 generated every cell as the product over edges in edge order with ops in
    ``OPS`` order, then shuffled that list once with Python's ``random`` seeded 88; the index
    is the position after the shuffle (checked against the published index in the tests).
    """
    archs = [format_ops(ops) for ops in itertools.product(OPS, repeat=len(EDGES))]
    random.Random(OFFICIAL_SHUFFLE_SEED).shuffle(archs)
    return tuple(archs)


#: NASLib's op order and edge order for NB201 op indices (naslib/search_spaces/nasbench201/conversions.py)
NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
NASLIB_EDGES = ((1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2))


@functools.cache
def _official_index() -> dict[str, int]:
    return {arch: index for index, arch in enumerate(official_order())}


# --- the network ---------------------------------------------------------------------------


def _edge_op(op: str, channels: int) -> nn.Module:
    """One edge's module; cells keep their width, so pooling needs no 1x1 preprocessing."""
    if op == "none":
        return Zero()
    if op == "skip_connect":
        return nn.Identity()
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    return relu_conv_bn(channels, channels, 1 if op == "nor_conv_1x1" else 3)


class Cell(nn.Module):
    """Node j = sum of its incoming edges; the output is node 3."""

    def __init__(self, ops: tuple[str, ...], channels: int):
        super().__init__()
        self.edges = nn.ModuleList(_edge_op(op, channels) for op in ops)

    def forward(self, x):
        nodes = [x]
        for target in (1, 2, 3):
            first = target * (target - 1) // 2  # index in EDGES of the edge target <- 0
            terms = [self.edges[first + source](nodes[source]) for source in range(target)]
            nodes.append(functools.reduce(operator.add, terms))
        return nodes[3]


class Reduction(nn.Module):
    """NB201's ResNetBasicblock at stride 2: halves the resolution, changes the width."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv_a = relu_conv_bn(cin, cout, 3, stride=2)
        self.conv_b = relu_conv_bn(cout, cout, 3)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x):
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The benchmark's TinyNetwork: stem, 3 stages of cells joined by reductions, BN-ReLU head.

    It returns the logits only (the benchmark's module also returns the pooled features).
    """

    def __init__(self, ops: tuple[str, ...], classes: int = 10, channels: int = 16, cells: int = 5):
        super().__init__()
        self.stem = _stem(channels)
        body, width = layout(channels, cells)
        self.cells = nn.Sequential(*(Reduction(*widths) if kind == "reduction" else Cell(ops, *widths)
                                     for kind, widths in body))
        self.lastact = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, classes)

    def forward(self, x):
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.pool(x).flatten(1))


def _stem(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))


def layout(channels: int, cells: int) -> tuple[list[tuple[str, tuple[int, ...]]], int]:
    """The body in build order, ``("cell", (width,))`` or ``("reduction", (in, out))``: 3 stages of
    ``cells`` cells, a reduction doubling the width between stages; and the last width."""
    body, width = [], channels
    for stage in range(3):
        if stage:
            body.append(("reduction", (width, 2 * width)))
            width *= 2
        body += [("cell", (width,))] * cells
    return body, width


def count_params(ops: tuple[str, ...], classes: int, channels: int, cells: int) -> int:
    """The parameters of ``NB201Network(ops, ...)`` without building it: its parts' counts
    (``part_params``) summed over its layout (``--mu auto`` sizes 1,000 architectures; building each
    took 0.035 s)."""
    body, width = layout(channels, cells)
    total = part_params(_stem, channels) + 2 * width + width * classes + classes  # + head BN and classifier
    for kind, widths in body:
        total += (part_params(Reduction, *widths) if kind == "reduction"
                  else sum(part_params(_edge_op, op, *widths) for op in ops))
    return total


def _sizes(classes, channels, cells) -> tuple[int, int, int]:
    """The build options, checked: they come from users."""
    return tuple(positive_option("NB201", name, value)
                 for name, value in (("classes", classes), ("channels", channels), ("cells", cells)))


# --- the plugin ------------------------------------------------------------------------------


#: scoring protocols (``swapfw protocols nb201``), the default first; every one regularises and
#: reports params/flops with the size of the benchmark network (C=16, N=5) that was trained
PROTOCOLS = {
    "tiny": Preset("the cell in a TinyNetwork of C=3, one cell per stage, 16 image-like samples, mean of 4 "
                   "initialisations", build={"channels": 3, "cells": 1}, size_build={}, batch=16, repeats=4,
                   data="imagelike"),
    "small": Preset("the cell in a TinyNetwork of C=8, one cell per stage, 16 image-like samples, mean of 4 "
                    "initialisations", build={"channels": 8, "cells": 1}, size_build={}, batch=16, repeats=4,
                    data="imagelike"),
    "benchmark": Preset("the benchmark network (C=16, N=5), 32 image-like samples (16 saturate its 2^16 patterns)",
                        batch=32, data="imagelike"),
}


class NB201Space(EdgeCells):
    name = "nb201"
    label = "NB201"  # in messages
    edge_count = len(EDGES)
    module_activations = True  # every activation is an nn.ReLU: module hooks see them all
    description = "NAS-Bench-201 cells: 6 edges x 5 ops, 15,625 archs"
    input_shape = (3, 32, 32)
    ops = OPS
    protocols = PROTOCOLS
    #: the default ranking: the best mean Spearman rho on the development split's cifar10_val
    #: (benchmarks/default_ranking.py, docs/protocols.md "The default ranking")
    default_proxy = "calibrated:meco+swap"
    #: what orders the neighbours of a climb by real evaluations (``--selection climb``; the search
    #: measures it beside its proxy): the best on cifar10_val of six proxy values (docs/searching.md)
    climb_proxy = "synflow"

    def parse(self, arch: str) -> tuple[str, ...]:
        """The 6 op names in edge order (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2)."""
        return parse_arch(arch)

    def format(self, ops) -> str:
        """Inverse of parse."""
        return format_ops(ops)

    def canonical(self, arch: str) -> str:
        """The normalised string; NB201's index has no isomorphism reduction, so nothing merges."""
        return format_ops(parse_arch(arch))

    def build(self, arch: str, *, classes: int = 10, channels: int = 16, cells: int = 5) -> nn.Module:
        """The exact benchmark network (C=16, N=5 by default), randomly initialised."""
        return NB201Network(parse_arch(arch), *_sizes(classes, channels, cells))

    def count_params(self, arch: str, *, classes: int = 10, channels: int = 16, cells: int = 5) -> int:
        """The parameter count of ``build(arch, ...)``, without building it."""
        return count_params(parse_arch(arch), *_sizes(classes, channels, cells))

    def enumerate(self) -> list[str]:
        """All 15,625 architectures in the official index order (see ``official_order``)."""
        return list(official_order())

    #: encodings besides the string: the benchmark's index, NASLib's op indices
    formats = ("index", "naslib")

    def encode(self, arch: str, fmt: str) -> str:
        """``index``: the official NB201 index; ``naslib``: NASLib's op-index tuple, e.g. ``(0, 0, 0, 0, 4, 3)``."""
        ops = parse_arch(arch)
        if fmt == "index":
            return str(_official_index()[format_ops(ops)])
        if fmt == "naslib":
            return "(" + ", ".join(str(NASLIB_OPS.index(ops[EDGES.index(edge)])) for edge in NASLIB_EDGES) + ")"
        raise SwapfwError(f"NB201 has no encoding {fmt!r} (known: {', '.join(self.formats)})")

    def decode(self, value: str, fmt: str) -> str:
        """The string of an ``index`` (0-15624) or of NASLib op indices (a tuple, or six digits as in
        NAS-Bench-Suite-Zero's tables: ``000043``)."""
        text = str(value).strip()
        if fmt == "index":
            if not text.isdigit() or (text.startswith("0") and text != "0") or not 0 <= int(text) < SIZE:
                raise SwapfwError(f"an NB201 index is an integer from 0 to {SIZE - 1}, not {value!r}")
            return official_order()[int(text)]
        if fmt == "naslib":
            digits = [d for d in text.strip("()[] ").replace(",", " ").split() if d] if "," in text or " " in text \
                else list(text)
            if len(digits) != len(EDGES) or any(d not in "01234" or len(d) != 1 for d in digits):
                raise SwapfwError(f"NASLib NB201 op indices are six digits 0-4 (e.g. (0, 0, 0, 0, 4, 3) or 000043), "
                                  f"not {value!r}")
            ops = [None] * len(EDGES)
            for edge, digit in zip(NASLIB_EDGES, digits):
                ops[EDGES.index(edge)] = NASLIB_OPS[int(digit)]
            return format_ops(ops)
        raise SwapfwError(f"NB201 has no encoding {fmt!r} (known: {', '.join(self.formats)})")


@hookimpl
def register_spaces(register):
    register(NB201Space())
