"""The DARTS cell space (Liu et al., ICLR 2019), also the space of NAS-Bench-301, as a swapfw space.

An architecture is a pair of cells, ``normal`` and ``reduce``. Each cell has two inputs (nodes 0
and 1: the outputs of the two previous cells) and four intermediate nodes 2..5; node ``i`` sums
two edges, each an ``(op, input)`` pair reading a node ``< i``; the cell's output concatenates
nodes 2..5. Architectures are written as the DARTS ``Genotype`` repr, the form NAS-Bench-301 and
the DARTS code print::

    Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ... 8 pairs], normal_concat=[2, 3, 4, 5],
             reduce=[... 8 pairs], reduce_concat=[2, 3, 4, 5])

(on one line; pairs 2k and 2k+1 are the two edges of node k + 2; ``range(2, 6)`` is accepted for
a concat). Strings are read with ``ast`` and ``ast.literal_eval`` on each part, never ``eval``.

The network is the DARTS evaluation network (``NetworkCIFAR``/``NetworkImageNet`` of
quark0/darts ``cnn/model.py`` with the ops of ``cnn/operations.py``), written anew here. The
auxiliary head and drop path are training-only and are not built: this is the inference network.

NAS-Bench-301 samples 2 distinct inputs per node and one of 7 ops per edge (no ``none``); the
SWAP paper's DARTS set also has ``none`` edges and nodes reading one input twice, which parse
and build too.
"""

from __future__ import annotations

import ast
import json
import math
import random
from typing import NamedTuple

import torch
import torch.nn as nn

from swapfw import SwapfwError, hookimpl
from swapfw.plugin_api import (FactorizedReduce, Preset, Zero, bad_arch, check_mutation_kind, check_sample_count,
                               part_params, positive_option, relu_conv_bn, shown)

#: DARTS ``PRIMITIVES``, in its order
OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
       "dil_conv_3x3", "dil_conv_5x5")
#: the ops ``sample`` and ``mutate`` use by default: NAS-Bench-301's, i.e. all but ``none``
SAMPLE_OPS = OPS[1:]
NODES = (2, 3, 4, 5)
CONCAT = (2, 3, 4, 5)
CELLS = ("normal", "reduce")
FORM = ("Genotype(normal=[(OP, INPUT) x 8], normal_concat=[2, 3, 4, 5], reduce=[(OP, INPUT) x 8], "
        "reduce_concat=[2, 3, 4, 5]) where pairs 2k, 2k+1 feed node k+2 from nodes INPUT < k+2")
MAX_LENGTH = 4000  # a genotype is ~560 characters; refuse to hand ast megabytes of text


class Genotype(NamedTuple):
    """A parsed architecture: 8 ``(op, input)`` pairs per cell; concats are always (2, 3, 4, 5)."""

    normal: tuple[tuple[str, int], ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[tuple[str, int], ...]
    reduce_concat: tuple[int, ...]


def _bad(arch: object, reason: str) -> SwapfwError:
    """One-line error naming the string, what is wrong, and the form expected."""
    return bad_arch("DARTS", arch, reason, f"{FORM}, OP one of {', '.join(OPS)}")


# --- strings -----------------------------------------------------------------------------------


def _literal(arch: str, node: ast.AST, what: str):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise _bad(arch, f"{what} is not a literal") from None


def _edges(arch: str, cell: str, node: ast.AST) -> tuple[tuple[str, int], ...]:
    """A cell's 8 pairs, checked: known ops, each input a node before the one it feeds."""
    pairs = _literal(arch, node, cell)
    if not isinstance(pairs, (list, tuple)):
        raise _bad(arch, f"{cell} is a {type(pairs).__name__}, not a list of (op, input) pairs")
    if len(pairs) != 2 * len(NODES):
        raise _bad(arch, f"{cell} has {len(pairs)} pairs, needs 8 (2 for each of nodes 2..5)")
    edges = []
    for k, pair in enumerate(pairs):
        target = NODES[k // 2]
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise _bad(arch, f"{cell} pair {k} {pair!r} is not an (op, input) pair")
        op, source = pair
        if op not in OPS:
            raise _bad(arch, f"unknown op {op!r} in {cell}")
        if isinstance(source, bool) or not isinstance(source, int) or not 0 <= source < target:
            raise _bad(arch, f"{cell} pair {k} {tuple(pair)!r} feeds node {target}, so its input must be "
                             f"a node 0..{target - 1}, not {source!r}")
        edges.append((op, source))
    return tuple(edges)


def _concat(arch: str, cell: str, node: ast.AST) -> tuple[int, ...]:
    """``[2, 3, 4, 5]``, ``(2, 3, 4, 5)`` or ``range(2, 6)``: DARTS cells concatenate all 4 nodes."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" \
            and not node.keywords and 1 <= len(node.args) <= 3:
        bounds = [_literal(arch, a, f"{cell}_concat") for a in node.args]
        if not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds) or \
                (len(bounds) == 3 and bounds[2] == 0):
            raise _bad(arch, f"{cell}_concat range bounds must be integers, with a non-zero step")
        value = tuple(range(*bounds))
    else:
        value = _literal(arch, node, f"{cell}_concat")
    if not isinstance(value, (list, tuple)) or tuple(value) != CONCAT:
        raise _bad(arch, f"{cell}_concat is {value!r}; cells of this space concatenate nodes [2, 3, 4, 5]")
    return CONCAT


def parse_arch(arch: str) -> Genotype:
    """String -> Genotype; strict, because a typo must not score a different network."""
    if not isinstance(arch, str):
        raise _bad(arch, f"it is a {type(arch).__name__}, not a string")
    text = arch.strip()
    if not text:
        raise _bad(arch, "it is empty")
    if len(text) > MAX_LENGTH:
        raise _bad(arch, f"it is {len(text):,} characters long, a genotype has under {MAX_LENGTH:,}")
    try:
        tree = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise _bad(arch, "it is not valid Genotype(...) syntax") from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "Genotype"):
        raise _bad(arch, "it is not a Genotype(...) call")
    fields = list(Genotype._fields)
    if len(tree.args) > len(fields):
        raise _bad(arch, f"it has {len(tree.args)} positional fields, a Genotype has 4")
    given = dict(zip(fields, tree.args))
    for keyword in tree.keywords:
        if keyword.arg not in fields:
            raise _bad(arch, f"unknown field {keyword.arg or '**'!r}")
        if keyword.arg in given:
            raise _bad(arch, f"field {keyword.arg!r} is given twice")
        given[keyword.arg] = keyword.value
    missing = [f for f in fields if f not in given]
    if missing:
        raise _bad(arch, f"it lacks {', '.join(missing)}")
    return Genotype(_edges(arch, "normal", given["normal"]), _concat(arch, "normal", given["normal_concat"]),
                    _edges(arch, "reduce", given["reduce"]), _concat(arch, "reduce", given["reduce_concat"]))


def format_genotype(genotype) -> str:
    """A genotype (ours, a DARTS namedtuple, or anything with normal/reduce pair lists) -> the string."""
    try:
        normal, reduce = list(map(tuple, genotype.normal)), list(map(tuple, genotype.reduce))
        concats = [tuple(getattr(genotype, f"{cell}_concat", CONCAT)) for cell in CELLS]
    except (AttributeError, TypeError):
        raise SwapfwError(f"DARTS format needs a genotype with normal and reduce pair lists, got {shown(genotype)}") \
            from None
    text = (f"Genotype(normal={[(op, source) for op, source in normal]!r}, normal_concat={list(concats[0])!r}, "
            f"reduce={[(op, source) for op, source in reduce]!r}, reduce_concat={list(concats[1])!r})")
    parse_arch(text)  # the same checks as for user strings
    return text


def canonical_genotype(genotype: Genotype) -> Genotype:
    """The representative of the genotypes that build the same network.

    A node sums its two edges, so their order does not matter: each node's pair is sorted by
    (input, op). A ``none`` edge is zero whatever it reads (every node of a cell has the same
    shape once strided), so its input is set to 0.
    """
    def cell(edges):
        edges = [("none", 0) if op == "none" else (op, source) for op, source in edges]
        return tuple(e for k in range(0, len(edges), 2) for e in sorted(edges[k:k + 2], key=lambda e: (e[1], e[0])))

    return Genotype(cell(genotype.normal), CONCAT, cell(genotype.reduce), CONCAT)


# --- the network ---------------------------------------------------------------------------


def _dw_pw(channels: int, kernel: int, stride: int, dilation: int) -> list[nn.Module]:
    """ReLU, depthwise kxk conv, pointwise 1x1 conv: the common part of SepConv and DilConv."""
    return [nn.ReLU(),
            nn.Conv2d(channels, channels, kernel, stride=stride, padding=dilation * (kernel // 2), dilation=dilation,
                      groups=channels, bias=False),
            nn.Conv2d(channels, channels, 1, bias=False)]


def sep_conv(channels: int, kernel: int, stride: int) -> nn.Sequential:
    """DARTS SepConv: the (ReLU, depthwise, pointwise, BN) block twice; only the first strides."""
    return nn.Sequential(*_dw_pw(channels, kernel, stride, 1), nn.BatchNorm2d(channels),
                         *_dw_pw(channels, kernel, 1, 1), nn.BatchNorm2d(channels))


def dil_conv(channels: int, kernel: int, stride: int) -> nn.Sequential:
    """DARTS DilConv: ReLU, depthwise conv of dilation 2, pointwise conv, BN."""
    return nn.Sequential(*_dw_pw(channels, kernel, stride, 2), nn.BatchNorm2d(channels))


def factorized_reduce(cin: int, cout: int) -> FactorizedReduce:
    """DARTS' FactorizedReduce: halves the resolution, the second 1x1 conv on the input cropped by
    one pixel; like DARTS it needs an even channel count and an even input size."""
    if cout % 2:
        raise SwapfwError(f"DARTS FactorizedReduce needs an even channel count, got {cout}")
    return FactorizedReduce(cin, cout, pad=False)


def _preprocess(cin: int, cout: int) -> nn.Sequential:
    """The cells' 1x1 ReLUConvBN preprocessing of an input."""
    return relu_conv_bn(cin, cout, 1)


def edge_op(op: str, channels: int, stride: int) -> nn.Module:
    """One edge's module, as DARTS ``OPS[op](C, stride, affine=True)``; pools carry no BN."""
    if op == "none":
        return Zero(stride)
    if op == "skip_connect":
        return nn.Identity() if stride == 1 else factorized_reduce(channels, channels)
    if op == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    kind, _, size = op.rpartition("_")
    kernel = int(size[0])
    if kind == "sep_conv":
        return sep_conv(channels, kernel, stride)
    if kind == "dil_conv":
        return dil_conv(channels, kernel, stride)
    raise SwapfwError(f"unknown DARTS op {op!r}")


class Cell(nn.Module):
    """A DARTS cell: preprocess both inputs to ``channels``, 4 nodes of 2 summed edges, concat nodes 2..5.

    In a reduction cell the edges reading the cell inputs (0, 1) have stride 2. After a reduction
    cell, input 0 is at twice the resolution of input 1 and is reduced by a FactorizedReduce.
    """

    def __init__(self, edges, c_prev_prev: int, c_prev: int, channels: int, reduction: bool, reduction_prev: bool):
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (factorized_reduce if reduction_prev else _preprocess)(c_prev_prev, channels)
        self.preprocess1 = _preprocess(c_prev, channels)
        self.ops = nn.ModuleList(edge_op(op, channels, 2 if reduction and source < 2 else 1) for op, source in edges)
        self.inputs = tuple(source for _, source in edges)
        self.multiplier = len(CONCAT)

    def forward(self, s0, s1):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for k in range(0, len(self.inputs), 2):
            first = self.ops[k](states[self.inputs[k]])
            second = self.ops[k + 1](states[self.inputs[k + 1]])
            states.append(first + second)
        return torch.cat([states[i] for i in CONCAT], dim=1)


class DartsNetwork(nn.Module):
    """The DARTS evaluation network: stem, ``layers`` cells, global average pool, linear classifier.

    Reduction cells sit at ``layers // 3`` and ``2 * layers // 3`` and double the cell width; each
    cell reads the outputs of the two cells before it. ``imagenet`` uses DARTS' 224x224 stems (an
    8x downsampling in three stride-2 convs) in place of the CIFAR 3x3 conv to ``3 * channels``.
    Returns the logits only (DARTS also returns the auxiliary logits, None at inference).
    Without a ``stem`` both inputs of the first cell are the image, as in the SWAP authors'
    scoring network (``Network(3, 10, 1, genotype)`` of pym1024/SWAP: one reduction cell).
    """

    def __init__(self, genotype: Genotype, classes: int, channels: int, layers: int, imagenet: bool,
                 stem: bool = True):
        super().__init__()
        self.imagenet, self.has_stem = imagenet, stem
        stems, cells, last = layout(channels, layers, imagenet, stem)
        for name, (kind, cin, cout) in stems.items():
            setattr(self, name, _stem(kind, cin, cout))
        self.cells = nn.ModuleList(Cell(genotype.reduce if reduction else genotype.normal, c_prev_prev, c_prev, width,
                                        reduction, reduction_prev)
                                   for reduction, c_prev_prev, c_prev, width, reduction_prev in cells)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)  # = DARTS' AvgPool2d(7) on ImageNet's 7x7 maps at 224
        self.classifier = nn.Linear(last, classes)

    def forward(self, x):
        if not self.has_stem:
            s0 = s1 = x
        elif self.imagenet:
            s0 = self.stem0(x)
            s1 = self.stem1(s0)
        else:
            s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(self.global_pooling(s1).flatten(1))


def layout(channels: int, layers: int, imagenet: bool, stem: bool):
    """The network's shape without its modules: ``{stem name: (kind, in, out)}``, one ``(reduction,
    c_prev_prev, c_prev, width, reduction_prev)`` per cell, and the classifier's input width.

    Reduction cells sit at ``layers // 3`` and ``2 * layers // 3`` and double the width; each cell
    reads the outputs of the two cells before it (the stem's, for the first two).
    """
    if not stem:  # the SWAP authors' scoring network: the cells read the image itself
        stems, c_prev_prev, c_prev, reduction_prev = {}, 3, 3, False
    elif imagenet:
        stems = {"stem0": ("imagenet0", 3, channels), "stem1": ("imagenet1", channels, channels)}
        c_prev_prev = c_prev = channels
        reduction_prev = True  # stem0's output is at twice stem1's resolution
    else:
        stems = {"stem": ("cifar", 3, 3 * channels)}
        c_prev_prev = c_prev = 3 * channels
        reduction_prev = False
    width, cells = channels, []
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        width *= 2 if reduction else 1
        cells.append((reduction, c_prev_prev, c_prev, width, reduction_prev))
        reduction_prev = reduction
        c_prev_prev, c_prev = c_prev, len(CONCAT) * width
    return stems, cells, c_prev


def _stem(kind: str, cin: int, cout: int) -> nn.Sequential:
    """CIFAR's 3x3 conv stem, or one of ImageNet's two (an 8x downsampling in three stride-2 convs)."""
    if kind == "cifar":
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout))
    if kind == "imagenet0":
        return nn.Sequential(nn.Conv2d(cin, cout // 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout // 2),
                             nn.ReLU(), nn.Conv2d(cout // 2, cout, 3, stride=2, padding=1, bias=False),
                             nn.BatchNorm2d(cout))
    return nn.Sequential(nn.ReLU(), nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout))


def count_params(genotype: Genotype, classes: int, channels: int, layers: int, imagenet: bool, stem: bool) -> int:
    """The parameters of ``DartsNetwork(genotype, ...)`` without building it: the sum over its layout
    of its parts' counts (an edge op, a preprocessing, a stem; ``part_params``). A search sizes every
    architecture it meets (``params``, the regulariser; ``--mu auto`` sizes 1,000): building the
    trained-size network for that took 0.14 s each, this takes well under a millisecond."""
    stems, cells, last = layout(channels, layers, imagenet, stem)
    total = sum(part_params(_stem, *spec) for spec in stems.values()) + last * classes + classes
    for reduction, c_prev_prev, c_prev, width, reduction_prev in cells:
        total += part_params(factorized_reduce if reduction_prev else _preprocess, c_prev_prev, width)
        total += part_params(_preprocess, c_prev, width)
        for op, source in (genotype.reduce if reduction else genotype.normal):
            total += part_params(edge_op, op, width, 2 if reduction and source < 2 else 1)
    return total


def _off(name: str, value, why: str) -> None:
    if value not in (0, False, None):  # 0.0 == 0 too
        raise SwapfwError(f"DARTS {name}={value!r} is not supported: {why}; leave it at 0")


DATASETS = ("cifar", "imagenet")
DEFAULT_CLASSES = {"cifar": 10, "imagenet": 1000}
INPUT_SHAPES = {"cifar": (3, 32, 32), "imagenet": (3, 224, 224)}


# --- the plugin ------------------------------------------------------------------------------


def _pair_count(node: int, distinct: bool) -> int:
    """Unordered input pairs of a node (the order of a node's two edges does not matter)."""
    return math.comb(node, 2) if distinct else math.comb(node + 1, 2)


#: the network regularisation sizes and params/flops describe: DARTS' CIFAR-10 evaluation network
TRAINED = {"channels": 36, "layers": 20}

#: scoring protocols (``swapfw protocols darts``), the default first
PROTOCOLS = {
    "reduced": Preset("the reduced DARTS network C=16 with 8 cells (normal and reduction cells), 32 image-like "
                      "samples",
                      build={"channels": 16, "layers": 8}, size_build=TRAINED, batch=32, data="imagelike"),
    "paper": Preset("the SWAP authors' scoring network: one reduction cell at C=3 reading the image (no stem; the "
                    "normal cell is not built), 16 image-like samples, mean of 8 initialisations",
                    build={"channels": 3, "layers": 1, "stem": 0}, size_build=TRAINED, batch=16, repeats=8,
                    data="imagelike"),
    "benchmark": Preset("DARTS' CIFAR-10 evaluation network (C=36, 20 cells), 32 image-like samples",
                        build=TRAINED, batch=32, data="imagelike"),
}


class DartsSpace:
    """The DARTS / NAS-Bench-301 cell space.

    ``sample_ops`` are the ops that ``sample`` draws and ``mutate`` introduces: NAS-Bench-301's 7
    (no ``none``) by default. Every string of the 8 DARTS ops parses and builds regardless.
    """

    name = "darts"
    description = "DARTS / NAS-Bench-301 cells: normal + reduction cell, 4 nodes x 2 (op, input) edges each"
    input_shape = INPUT_SHAPES["cifar"]
    ops = OPS
    protocols = PROTOCOLS
    module_activations = True  # every activation is an nn.ReLU: module hooks see them all
    #: the default ranking: the best mean Spearman rho over the DARTS set and NB301 development
    #: splits, a tie to the cheaper (benchmarks/default_ranking.py); SWAP is not part of it
    default_proxy = "meco"

    def __init__(self, sample_ops: tuple[str, ...] = SAMPLE_OPS):
        if not sample_ops or any(op not in OPS for op in sample_ops) or len(set(sample_ops)) != len(sample_ops):
            raise SwapfwError(f"DARTS sample ops must be distinct ops from {', '.join(OPS)}, got {sample_ops!r}")
        self.sample_ops = tuple(sample_ops)
        # sample draws 2 distinct inputs per node and an op per edge, independently per cell
        per_cell = 1
        for node in NODES:
            per_cell *= _pair_count(node, True) * len(self.sample_ops) ** 2
        self.size = per_cell ** 2  # distinct inputs, so no pair is counted twice

    def parse(self, arch: str) -> Genotype:
        """The Genotype: 8 ``(op, input)`` pairs per cell, in string order."""
        return parse_arch(arch)

    def format(self, genotype) -> str:
        """Inverse of parse (also accepts a DARTS ``genotypes.Genotype``)."""
        return format_genotype(genotype)

    def features(self, arch: str) -> dict[str, float]:
        """How many edges of each cell carry each op: what a search spending real evaluations learns from."""
        genotype = self.parse(arch)
        return {f"{cell} {op}": float(sum(o == op for o, _ in getattr(genotype, cell))) for cell in CELLS
                for op in OPS}

    def canonical(self, arch: str) -> str:
        """The same string for every string building the same network: each node's two edges
        sorted by (input, op), ``none`` edges reading node 0, concats written [2, 3, 4, 5]."""
        return format_genotype(canonical_genotype(parse_arch(arch)))

    def input_shape_for(self, dataset: str = "cifar", **_options) -> tuple[int, int, int]:
        """The per-sample input a build with these options expects (224x224 for ImageNet)."""
        return INPUT_SHAPES[_dataset(dataset)]

    def build(self, arch: str, *, classes: int | None = None, channels: int = 16, layers: int = 8,
              dataset: str = "cifar", stem: int = 1, auxiliary: int = 0, drop_path: float = 0,
              **unknown) -> nn.Module:
        """The DARTS network for ``arch``, randomly initialised.

        The defaults (``channels=16``, ``layers=8``) are the reduced network the SWAP paper scores
        DARTS-space cells with, for speed. The DARTS CIFAR-10 evaluation network is
        ``channels=36, layers=20`` (3.3M parameters for DARTS-V2), the ImageNet one
        ``dataset=imagenet, channels=48, layers=14, classes=1000`` (score it with
        ``--input-shape 3,224,224``); NAS-Bench-301 trained ``channels=32, layers=8``.
        ``classes`` defaults to 10 (CIFAR) or 1000 (ImageNet). ``stem=0`` leaves the stem out, so
        the first cell reads the image (the SWAP authors' scoring network is ``channels=3,
        layers=1, stem=0``). ``auxiliary`` and ``drop_path`` are training-time options of DARTS
        and must stay 0 here.
        """
        return DartsNetwork(*self._network_args(arch, classes=classes, channels=channels, layers=layers,
                                                dataset=dataset, stem=stem, auxiliary=auxiliary, drop_path=drop_path,
                                                **unknown))

    def count_params(self, arch: str, **options) -> int:
        """The parameter count of ``build(arch, **options)``, without building it (``count_params``)."""
        return count_params(*self._network_args(arch, **options))

    @staticmethod
    def _network_args(arch: str, *, classes: int | None = None, channels: int = 16, layers: int = 8,
                      dataset: str = "cifar", stem: int = 1, auxiliary: int = 0, drop_path: float = 0, **unknown):
        """The checked arguments of ``DartsNetwork`` for ``build``'s options."""
        if unknown:
            raise SwapfwError(f"unknown DARTS build option(s) {', '.join(sorted(unknown))}; known: classes, "
                              "channels, layers, dataset (cifar|imagenet), stem (0|1), auxiliary (0), drop_path (0)")
        dataset = _dataset(dataset)
        classes = DEFAULT_CLASSES[dataset] if classes is None else positive_option("DARTS", "classes", classes)
        channels, layers = positive_option("DARTS", "channels", channels), positive_option("DARTS", "layers", layers)
        _off("auxiliary", auxiliary, "the auxiliary head is a training-time tower that inference does not run, "
                                     "and DARTS excludes it from its parameter counts")
        _off("drop_path", drop_path, "drop path is a training-time regulariser; scoring uses the inference network")
        if dataset == "imagenet" and channels % 2:
            raise SwapfwError(f"DARTS ImageNet channels must be even (its stem halves them and its first cell "
                              f"reduces them with a FactorizedReduce), got {channels}")
        if stem not in (0, 1):
            raise SwapfwError(f"DARTS stem must be 0 (none: the cells read the image) or 1, got {stem!r}")
        if not stem and dataset == "imagenet":
            raise SwapfwError("DARTS stem=0 is for 32x32 inputs: the ImageNet network needs its stems to downsample")
        return parse_arch(arch), classes, channels, layers, dataset == "imagenet", bool(stem)

    def sample(self, count: int, seed: int) -> list[str]:
        """``count`` distinct canonical archs, the same for the same seed.

        Uniform over NAS-Bench-301's space: each node of each cell reads 2 distinct earlier nodes
        (each pair equally likely) through ops drawn uniformly from ``sample_ops``.
        """
        check_sample_count("DARTS", count, self.size)
        rng = random.Random(seed)
        seen: dict[str, None] = {}
        while len(seen) < count:
            cells = [tuple(edge for node in NODES
                           for edge in zip((rng.choice(self.sample_ops), rng.choice(self.sample_ops)),
                                           sorted(rng.sample(range(node), 2))))
                     for _ in CELLS]
            seen.setdefault(format_genotype(canonical_genotype(Genotype(cells[0], CONCAT, cells[1], CONCAT))))
        return list(seen)

    def mutate(self, arch: str, rng: random.Random, kind: str = "op") -> str:
        """Change one edge of one cell; the result's canonical string always differs from ``arch``'s.

        ``op``: the edge gets a different op from ``sample_ops``. ``connectivity``: the edge reads
        a different earlier node; a node whose two inputs differ keeps them different (so node 2,
        reading 0 and 1, cannot move), and ``none`` edges, which read nothing, are not moved.
        """
        genotype = canonical_genotype(parse_arch(arch))
        check_mutation_kind("DARTS", kind)
        cells = {"normal": list(genotype.normal), "reduce": list(genotype.reduce)}
        if kind == "op":
            cell = rng.choice(CELLS)
            k = rng.randrange(len(cells[cell]))
            op, source = cells[cell][k]
            choices = [o for o in self.sample_ops if o != op]
            if not choices:
                raise SwapfwError(f"DARTS op mutation needs a second op besides {op!r}")
            new = rng.choice(choices)
            cells[cell][k] = (new, 0 if new == "none" else source)
        else:
            moves = []
            for cell in CELLS:
                edges = cells[cell]
                for k, (op, source) in enumerate(edges):
                    if op == "none":
                        continue
                    other = edges[k ^ 1][1]
                    node = NODES[k // 2]
                    keep_distinct = edges[k ^ 1][1] != source
                    targets = [s for s in range(node) if s != source and not (keep_distinct and s == other)]
                    moves += [(cell, k, s) for s in targets]
            if not moves:
                raise SwapfwError(f"DARTS architecture {shown(arch)} has no edge whose input can change")
            cell, k, source = rng.choice(moves)
            cells[cell][k] = (cells[cell][k][0], source)
        return format_genotype(canonical_genotype(Genotype(tuple(cells["normal"]), CONCAT,
                                                           tuple(cells["reduce"]), CONCAT)))

    #: encodings besides the genotype string
    formats = ("nb301",)

    def encode(self, arch: str, fmt: str) -> str:
        """``nb301``: the NAS-Bench-301 configuration (JSON) its surrogate and dataset are keyed by."""
        if fmt != "nb301":
            raise SwapfwError(f"DARTS has no encoding {fmt!r} (known: nb301)")
        return json.dumps(genotype_to_nb301(canonical_genotype(parse_arch(arch))), sort_keys=True)

    def decode(self, value: str, fmt: str) -> str:
        """The genotype of a NAS-Bench-301 configuration (a JSON object)."""
        if fmt != "nb301":
            raise SwapfwError(f"DARTS has no encoding {fmt!r} (known: nb301)")
        try:
            config = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            config = None
        if not isinstance(config, dict):
            raise SwapfwError(f"a NAS-Bench-301 configuration is a JSON object of {NB301_PREFIX}... keys, "
                              f"not {shown(value)}")
        return format_genotype(canonical_genotype(nb301_to_genotype(config)))

    def crossover(self, a: str, b: str, rng: random.Random) -> tuple[str, str]:
        """Uniform crossover by node: for each cell and node the first child takes the node's two
        edges from a or b at random, the second child from the other parent."""
        pa, pb = canonical_genotype(parse_arch(a)), canonical_genotype(parse_arch(b))
        first, second = {}, {}
        for cell in CELLS:
            x, y = getattr(pa, cell), getattr(pb, cell)
            one, two = [], []
            for k in range(0, len(x), 2):
                take = rng.random() < 0.5
                one += (y if take else x)[k:k + 2]
                two += (x if take else y)[k:k + 2]
            first[cell], second[cell] = tuple(one), tuple(two)
        return tuple(format_genotype(Genotype(c["normal"], CONCAT, c["reduce"], CONCAT)) for c in (first, second))


#: prefix of the DARTS keys in a NAS-Bench-301 configuration (its ConfigSpace)
NB301_PREFIX = "NetworkSelectorDatasetInfo:darts:"


def genotype_to_nb301(genotype: Genotype) -> dict:
    """The NAS-Bench-301 configuration of a genotype: ``edge_{cell}_{k}`` -> op, where edges are
    numbered node by node (node 2: 0-1, node 3: 2-4, node 4: 5-8, node 5: 9-13, one per input), and
    ``inputs_node_{cell}_{node}`` -> ``"i_j"`` for nodes 3-5. Needs two distinct inputs per node and
    no ``none`` edge, as every NAS-Bench-301 architecture has."""
    config = {}
    for cell in CELLS:
        edges, start = getattr(genotype, cell), 0
        for k, node in enumerate(NODES):
            pair = edges[2 * k:2 * k + 2]
            if pair[0][1] == pair[1][1] or any(op == "none" for op, _ in pair):
                raise SwapfwError(f"node {node} of the {cell} cell reads {pair!r}: NAS-Bench-301 configurations "
                                  "need two distinct inputs per node and no 'none' edge")
            config.update({f"{NB301_PREFIX}edge_{cell}_{start + source}": op for op, source in pair})
            if node > 2:
                config[f"{NB301_PREFIX}inputs_node_{cell}_{node}"] = "_".join(str(s) for s in sorted(p[1] for p in pair))
            start += node
    return config


def nb301_to_genotype(config: dict) -> Genotype:
    """Inverse of ``genotype_to_nb301``; keys of the configuration outside the DARTS cell are ignored."""
    cells = {}
    for cell in CELLS:
        edges, start = [], 0
        for node in NODES:
            key = f"{NB301_PREFIX}inputs_node_{cell}_{node}"
            inputs = (0, 1) if node == 2 else _config_inputs(config.get(key), key, node)
            for source in inputs:
                op = config.get(f"{NB301_PREFIX}edge_{cell}_{start + source}")
                if op not in OPS:
                    raise SwapfwError(f"NAS-Bench-301 configuration lacks a DARTS op for "
                                      f"{NB301_PREFIX}edge_{cell}_{start + source}")
                edges.append((op, source))
            start += node
        cells[cell] = tuple(edges)
    return Genotype(cells["normal"], CONCAT, cells["reduce"], CONCAT)


def _config_inputs(value, key: str, node: int) -> tuple[int, int]:
    try:
        first, second = (int(part) for part in str(value).split("_"))
    except (TypeError, ValueError):
        raise SwapfwError(f"NAS-Bench-301 configuration: {key} is {value!r}, not two inputs like '0_2'") from None
    if not 0 <= first < second < node:
        raise SwapfwError(f"NAS-Bench-301 configuration: {key} is {value!r}; node {node} reads two distinct "
                          f"nodes below it")
    return first, second


def _dataset(dataset) -> str:
    if dataset not in DATASETS:
        raise SwapfwError(f"DARTS dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    return dataset


@hookimpl
def register_spaces(register):
    register(DartsSpace())
