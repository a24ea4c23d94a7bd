"""TransNAS-Bench-101 (Duan et al., CVPR 2021) as two swapfw search spaces.

``transnas-micro``: the cell-level space. Every network has the benchmark's fixed skeleton
``64-41414`` (base width 64; five stages of two cells, digits as in the macro space below) and
one cell, a DAG of 4 nodes whose 6 edges (0->1), (0->2), (1->2), (0->3), (1->3), (2->3) carry
ops ``0`` none, ``1`` skip, ``2`` conv1x1, ``3`` conv3x3: 4**6 = 4,096 cells. The string is
``64-41414-a_bc_def``: ``a`` is the edge into node 1, ``bc`` those into node 2 (from 0, 1),
``def`` those into node 3 (from 0, 1, 2).

``transnas-macro``: the macro-level space. ``64-<digits>-basic``: one digit per stage of two
ResNet basic blocks; ``1`` keeps the width and resolution, ``2`` doubles the width, ``3`` halves
the resolution, ``4`` does both. The benchmark holds every string of 4 to 6 digits with 1 to 4
downsamplings (digits 3, 4) and 1 to 3 width doublings (digits 2, 4): 3,256 networks.

The networks follow the benchmark's own code (github.com/yawen-d/TransNASBench,
``lib/models``): a stem (conv3x3/2 to 32 channels, BN, ReLU-conv3x3/2-BN to 64), the stages,
and the task's head. ``build(arch, task=...)`` gives one of four tasks:

- ``class_object`` (default) and ``class_scene``: global average pooling and a linear layer.
  The benchmark's configs train on its "final5k" label subsets, 75 object and 47 scene classes
  (the paper's 100 and 63 are Taskonomy's selections before that; NASLib builds 100 and 63):
  ``classes=N`` overrides.
- ``jigsaw``: the encoder runs on each of 9 tiles, their features are concatenated and pooled,
  and a linear layer classifies the permutation (1,000 of them). The benchmark feeds tiles of
  64x64 cut from the cells of a 3x3 grid over the image; here the network takes the image and
  uses the 9 grid cells (row-major) as the tiles, so ``--input-shape 3,192,192`` gives the
  benchmark's 64x64 tiles and the default 256x256 gives 85x85 ones.
- ``autoencoder``: the benchmark's GenerativeDecoder (conv/deconv layers with BN and LeakyReLU,
  tanh output) maps the encoder's features back to a 3-channel image of the input's size.
  The benchmark trains it as a GAN generator; its discriminator is not part of the network.

The benchmark's inputs are 256x256 crops of Taskonomy images (``input_shape``). Taskonomy is
not available here: score on ``--data images:DIR`` or ``cifar10:PATH`` (resized to the input
shape by swapfw) or on gaussian noise.
"""

from __future__ import annotations

import functools
import itertools
import operator
import random
from collections import OrderedDict

import torch
import torch.nn as nn

from swapfw import SwapfwError, hookimpl
from swapfw.plugin_api import (EdgeCells, FactorizedReduce, Preset, Zero, bad_arch, check_mutation_kind,
                               check_sample_count, ops_of_number, part_params, positive_option, relu_conv_bn)

BASE_CHANNELS = 64
MICRO_SKELETON = "41414"
#: the micro cell's op vocabulary, indexed by the digit in the string
MICRO_OPS = ("none", "skip_connect", "conv1x1", "conv3x3")
#: (target, source) of each cell edge, in string order
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
MICRO_FORM = "64-41414-A_BC_DEF with A..F digits 0-3 (0 none, 1 skip, 2 conv1x1, 3 conv3x3)"
MICRO_SIZE = len(MICRO_OPS) ** len(EDGES)

#: the macro stage types, indexed by digit - 1
MACRO_OPS = ("plain", "double_channels", "stride2", "double_channels_stride2")
MACRO_LENGTHS = (4, 5, 6)
MACRO_DOWNSAMPLINGS = (1, 4)  # inclusive range of digits 3 and 4
MACRO_DOUBLINGS = (1, 3)  # inclusive range of digits 2 and 4
MACRO_FORM = ("64-D...D-basic with 4 to 6 digits D in 1-4 (1 plain, 2 double channels, 3 stride 2, 4 both), "
              "1 to 4 of them 3 or 4 and 1 to 3 of them 2 or 4")

#: the benchmark's output size per task: classes or permutations (None: the image itself)
TASKS = {"class_object": 75, "class_scene": 47, "jigsaw": 1000, "autoencoder": None}
JIGSAW_TILES = 3  # per side
DATA_NOTE = ("TransNAS-Bench-101 was trained on Taskonomy images, which are not available here: "
             "the batch is whatever --data gives, resized to the network's input")


def _bad(space: str, form: str, arch: object, reason: str) -> SwapfwError:
    """One-line error naming the string, what is wrong, and the form expected."""
    return bad_arch(f"TransNAS-Bench-101 {space}", arch, reason, form)


def _fields(space: str, form: str, arch: object) -> list[str]:
    if not isinstance(arch, str):
        raise _bad(space, form, arch, f"it is a {type(arch).__name__}, not a string")
    text = arch.strip()
    if not text:
        raise _bad(space, form, arch, "it is empty")
    if any(c.isspace() for c in text):
        raise _bad(space, form, arch, "it contains white space")
    fields = text.split("-")
    if len(fields) != 3:
        raise _bad(space, form, arch, f"it has {len(fields)} '-'-separated fields, not 3")
    if fields[0] != str(BASE_CHANNELS):
        raise _bad(space, form, arch,
                   f"the base width is {fields[0]!r}; the benchmark's networks all have {BASE_CHANNELS}")
    return fields


# --- micro strings ---------------------------------------------------------------------------


def parse_micro(arch: str) -> tuple[str, ...]:
    """``64-41414-a_bc_def`` -> the 6 op names in edge order; strict."""
    _, skeleton, cell = _fields("micro", MICRO_FORM, arch)
    if cell == "basic":
        raise _bad("micro", MICRO_FORM, arch, "it is a macro-space string (use transnas-macro)")
    if skeleton != MICRO_SKELETON:
        raise _bad("micro", MICRO_FORM, arch,
                   f"the skeleton is {skeleton!r}; the cell space fixes it to {MICRO_SKELETON}")
    groups = cell.split("_")
    if len(groups) != 3:
        raise _bad("micro", MICRO_FORM, arch, f"the cell {cell!r} has {len(groups)} '_'-separated nodes, not 3")
    for node, group in enumerate(groups, 1):
        if len(group) != node:
            raise _bad("micro", MICRO_FORM, arch, f"node {node} has {len(group)} inputs ({group!r}), needs {node}")
        for digit in group:
            if digit not in "0123":
                raise _bad("micro", MICRO_FORM, arch, f"op {digit!r} is not one of 0, 1, 2, 3")
    return tuple(MICRO_OPS[int(d)] for d in "".join(groups))


def format_micro(ops) -> str:
    """The 6 op names (or digits 0-3) in edge order -> the benchmark's string."""
    ops = tuple(ops)
    digits = []
    for op in ops:
        if op in MICRO_OPS:
            digits.append(str(MICRO_OPS.index(op)))
        elif isinstance(op, int) and not isinstance(op, bool) and 0 <= op < len(MICRO_OPS):
            digits.append(str(op))
        else:
            digits = None
            break
    if digits is None or len(digits) != len(EDGES):
        raise SwapfwError(f"a TransNAS-Bench-101 micro cell needs 6 ops from {', '.join(MICRO_OPS)}, got {ops!r}")
    text = "".join(digits)
    return f"{BASE_CHANNELS}-{MICRO_SKELETON}-{text[0]}_{text[1:3]}_{text[3:]}"


# --- macro strings ---------------------------------------------------------------------------


def _macro_problem(digits: tuple[int, ...]) -> str | None:
    """Why a digit sequence is not in the benchmark's macro space, or None if it is."""
    if len(digits) not in MACRO_LENGTHS:
        return f"it has {len(digits)} stages; the benchmark's have {MACRO_LENGTHS[0]} to {MACRO_LENGTHS[-1]}"
    if any(d not in (1, 2, 3, 4) for d in digits):
        return "stage digits must be 1, 2, 3 or 4"
    down = sum(d in (3, 4) for d in digits)
    lo, hi = MACRO_DOWNSAMPLINGS
    if not lo <= down <= hi:
        return f"it downsamples {down} times (digits 3, 4); the benchmark's networks do {lo} to {hi}"
    double = sum(d in (2, 4) for d in digits)
    lo, hi = MACRO_DOUBLINGS
    if not lo <= double <= hi:
        return f"it doubles the width {double} times (digits 2, 4); the benchmark's networks do {lo} to {hi}"
    return None


def parse_macro(arch: str) -> tuple[int, ...]:
    """``64-<digits>-basic`` -> the stage digits (1-4); strict, with the benchmark's limits."""
    _, skeleton, cell = _fields("macro", MACRO_FORM, arch)
    if cell != "basic":
        hint = " (a cell-space string: use transnas-micro)" if "_" in cell else ""
        raise _bad("macro", MACRO_FORM, arch, f"the cell is {cell!r}, not 'basic'{hint}")
    if not skeleton or any(c not in "1234" for c in skeleton):
        raise _bad("macro", MACRO_FORM, arch, f"the skeleton {skeleton!r} is not a string of digits 1-4")
    digits = tuple(int(c) for c in skeleton)
    problem = _macro_problem(digits)
    if problem:
        raise _bad("macro", MACRO_FORM, arch, problem)
    return digits


def format_macro(digits) -> str:
    """Stage digits (ints 1-4) -> the benchmark's string; refuses sequences outside the space."""
    digits = tuple(digits)
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in digits) or _macro_problem(digits):
        raise SwapfwError(f"not a TransNAS-Bench-101 macro skeleton: {digits!r}; expected {MACRO_FORM}")
    return f"{BASE_CHANNELS}-{''.join(map(str, digits))}-basic"


@functools.cache
def macro_archs() -> tuple[str, ...]:
    """All 3,256 macro strings: by length, then digits in numeric order (not the API's index order)."""
    return tuple(format_macro(d) for n in MACRO_LENGTHS for d in itertools.product((1, 2, 3, 4), repeat=n)
                 if _macro_problem(d) is None)


# --- the network -----------------------------------------------------------------------------


def _micro_edge(op: str, cin: int, cout: int, stride: int) -> nn.Module:
    """One cell edge, as the benchmark's: ``none`` gives zeros of the edge's output shape (the
    benchmark allocates them; a zeroed slice, expanded, gives the same values and traces), ``skip``
    a FactorizedReduce where the shape changes, a conv a ReLUConvBN."""
    if op == "none":
        return Zero(stride, cout if cin != cout else None)
    if op == "skip_connect":
        return nn.Identity() if stride == 1 and cin == cout else FactorizedReduce(cin, cout, stride)
    return relu_conv_bn(cin, cout, 1 if op == "conv1x1" else 3, stride)


def micro_edges(ops: tuple[str, ...], cin: int, cout: int, stride: int) -> list[tuple[str, int, int, int]]:
    """``(op, in, out, stride)`` of each edge of a cell: the edges from node 0 change width and resolution."""
    return [(op, cin, cout, stride) if source == 0 else (op, cout, cout, 1) for op, (_, source) in zip(ops, EDGES)]


class MicroCell(nn.Module):
    """Node j = sum of its incoming edges; edges from node 0 change width and resolution; output node 3."""

    def __init__(self, ops: tuple[str, ...], cin: int, cout: int, stride: int):
        super().__init__()
        self.edges = nn.ModuleList(_micro_edge(*args) for args in micro_edges(ops, cin, cout, stride))

    def forward(self, x):
        nodes = [x]
        for target in (1, 2, 3):
            first = target * (target - 1) // 2  # index in EDGES of the edge target <- 0
            terms = [self.edges[first + source](nodes[source]) for source in range(target)]
            nodes.append(functools.reduce(operator.add, terms))
        return nodes[3]


class BasicBlock(nn.Module):
    """The benchmark's ResNetBasicblock: two ReLUConvBN 3x3, a 1x1 conv-BN shortcut where the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv_a = relu_conv_bn(cin, cout, 3, stride)
        self.conv_b = relu_conv_bn(cout, cout, 3)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))


class Encoder(nn.Module):
    """The benchmark's MacroNet backbone: stem to 1/4 resolution, then two blocks per skeleton digit."""

    def __init__(self, skeleton: tuple[int, ...], cell_ops: tuple[str, ...] | None, channels: int = BASE_CHANNELS):
        super().__init__()
        self.stem = _encoder_stem(channels)
        stages, width = encoder_layout(skeleton, channels)
        self.layers = nn.Sequential(*(nn.Sequential(*(_block(cell_ops, *args) for args in blocks)) for blocks in stages))
        self.out_channels, self.base_channels = width, channels
        self.downsamplings = sum(d > 2 for d in skeleton)
        for m in self.modules():  # the benchmark's _kaiming_init (swapfw's own init replaces it when scoring)
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.layers(self.stem(x))


def _encoder_stem(channels: int) -> nn.Sequential:
    """Stem to 1/4 resolution: a stride-2 conv to half the width, BN, a stride-2 ReLU-conv-BN to the width."""
    half = max(1, channels // 2)
    return nn.Sequential(nn.Conv2d(3, half, 3, 2, 1, bias=False), nn.BatchNorm2d(half),
                         relu_conv_bn(half, channels, 3, 2))


def encoder_layout(skeleton: tuple[int, ...], channels: int) -> tuple[list[list[tuple[int, int, int]]], int]:
    """The blocks ``(in, out, stride)`` of each stage, two per skeleton digit (even digits double the
    width, digits above 2 halve the resolution, in the stage's first block), and the last width."""
    stages, width = [], channels
    for digit in skeleton:
        out = width * 2 if digit % 2 == 0 else width
        stages.append([(width, out, 2 if digit > 2 else 1), (out, out, 1)])
        width = out
    return stages, width


def _block(cell_ops: tuple[str, ...] | None, cin: int, cout: int, stride: int) -> nn.Module:
    """A macro stage's ResNet block, or a micro network's cell."""
    return BasicBlock(cin, cout, stride) if cell_ops is None else MicroCell(cell_ops, cin, cout, stride)


def count_params(skeleton: tuple[int, ...], cell_ops: tuple[str, ...] | None, task: str, classes: int | None,
                 channels: int = BASE_CHANNELS) -> int:
    """The parameters of ``build_network(...)`` without building it: its parts' counts (``part_params``:
    the stem, each ResNet block or cell edge, the decoder) summed over the encoder's layout and the head.
    ``--mu auto`` sizes 1,000 architectures; building each took 0.13 s."""
    stages, width = encoder_layout(skeleton, channels)
    total = part_params(_encoder_stem, channels)
    for cin, cout, stride in (args for blocks in stages for args in blocks):
        total += (part_params(BasicBlock, cin, cout, stride) if cell_ops is None
                  else sum(part_params(_micro_edge, *edge) for edge in micro_edges(cell_ops, cin, cout, stride)))
    if task == "autoencoder":
        return total + part_params(GenerativeDecoder, width, 2 + sum(d > 2 for d in skeleton), channels / BASE_CHANNELS)
    features = width * JIGSAW_TILES ** 2 if task == "jigsaw" else width
    return total + features * classes + classes  # the linear head


class Classifier(nn.Module):
    """``class_object`` / ``class_scene``: the benchmark's FFDecoder on the encoder."""

    def __init__(self, encoder: Encoder, classes: int):
        super().__init__()
        self.encoder = encoder
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(encoder.out_channels, classes)

    def forward(self, x):
        return self.fc(self.pool(self.encoder(x)).flatten(1))


class Jigsaw(nn.Module):
    """``jigsaw``: the benchmark's SiameseNet: the encoder on each tile, features concatenated, a linear layer.

    The tiles are the cells of a 3x3 grid over the input, row-major (a remainder of the size
    modulo 3 is dropped); the benchmark calls the encoder tile by tile, and so does this.
    """

    def __init__(self, encoder: Encoder, classes: int):
        super().__init__()
        self.encoder = encoder
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(encoder.out_channels * JIGSAW_TILES ** 2, classes)

    def forward(self, x):
        h, w = x.shape[2] // JIGSAW_TILES, x.shape[3] // JIGSAW_TILES
        features = [self.encoder(x[:, :, i * h:(i + 1) * h, j * w:(j + 1) * w])
                    for i in range(JIGSAW_TILES) for j in range(JIGSAW_TILES)]
        return self.fc(self.pool(torch.cat(features, dim=1)).flatten(1))


def _conv_layer(cin: int, cout: int, norm: bool = True, act: nn.Module | None = None) -> nn.Sequential:
    """The benchmark's ConvLayer: conv3x3 with bias, then BN and the activation where given."""
    layers = [nn.Conv2d(cin, cout, 3, 1, 1)] + ([nn.BatchNorm2d(cout)] if norm else []) + ([act] if act else [])
    return nn.Sequential(*layers)


def _deconv_layer(cin: int, cout: int) -> nn.Sequential:
    """The benchmark's DeconvLayer: 3x3 transposed conv doubling the size, BN, LeakyReLU(0.2)."""
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1), nn.BatchNorm2d(cout),
                         nn.LeakyReLU(0.2))


class GenerativeDecoder(nn.Sequential):
    """The benchmark's 14-layer GenerativeDecoder, upsampling ``upsamplings`` times (2 to 6).

    The benchmark derives the count as int(log2(256 / w)), w the encoder's output size for a
    224 input; w = 56 // 2**d after d downsamplings, which gives 2 + d for d = 0..4, so the
    output has the input's size for any input divisible by 2**(2 + d).
    """

    def __init__(self, cin: int, upsamplings: int, scale: float = 1.0):
        if not 2 <= upsamplings <= 6:
            raise SwapfwError(f"the TransNAS-Bench-101 decoder upsamples 2 to 6 times, not {upsamplings}")

        def w(width: int) -> int:  # the benchmark's widths, scaled with the encoder's base width
            return max(1, round(width * scale))

        def leaky():
            return nn.LeakyReLU(0.2)

        def up_or_conv(cin_, cout_, up):
            return _deconv_layer(cin_, cout_) if up else _conv_layer(cin_, cout_, act=leaky())

        layers = [
            ("conv1", _conv_layer(cin, w(1024), act=leaky())),
            ("conv2", _conv_layer(w(1024), w(1024), act=leaky())),
            ("conv3", up_or_conv(w(1024), w(512), upsamplings == 6)),
            ("conv4", _conv_layer(w(512), w(512), act=leaky())),
            ("conv5", up_or_conv(w(512), w(256), upsamplings >= 5)),
            ("conv6", _conv_layer(w(256), w(128), act=leaky())),
            ("conv7", up_or_conv(w(128), w(64), upsamplings >= 4)),
            ("conv8", _conv_layer(w(64), w(64), act=leaky())),
            ("conv9", up_or_conv(w(64), w(32), upsamplings >= 3)),
            ("conv10", _conv_layer(w(32), w(32), act=leaky())),
            ("conv11", _deconv_layer(w(32), w(16))),
            ("conv12", _conv_layer(w(16), w(32), act=leaky())),
            ("conv13", _deconv_layer(w(32), w(16))),
            ("conv14", _conv_layer(w(16), 3, norm=False, act=nn.Tanh())),
        ]
        super().__init__(OrderedDict(layers))


class Autoencoder(nn.Module):
    """``autoencoder``: the encoder and the benchmark's GenerativeDecoder (the GAN's generator)."""

    def __init__(self, encoder: Encoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = GenerativeDecoder(encoder.out_channels, 2 + encoder.downsamplings,
                                         encoder.base_channels / BASE_CHANNELS)

    def forward(self, x):
        return self.decoder(self.encoder(x))


def build_network(skeleton: tuple[int, ...], cell_ops: tuple[str, ...] | None, task: str,
                  classes: int | None, channels: int = BASE_CHANNELS) -> nn.Module:
    encoder = Encoder(skeleton, cell_ops, channels)
    if task == "autoencoder":
        return Autoencoder(encoder)
    if task == "jigsaw":
        return Jigsaw(encoder, classes)
    return Classifier(encoder, classes)


def _task_options(space: str, task, classes) -> tuple[str, int | None]:
    """Build options come from users: refuse what would build a network the benchmark does not have."""
    if task not in TASKS:
        raise SwapfwError(f"TransNAS-Bench-101 {space} task must be one of {', '.join(TASKS)}, not {task!r}")
    if TASKS[task] is None:
        if classes is not None:
            raise SwapfwError(f"the {task} task reconstructs the image: it takes no classes option")
        return task, None
    if classes is None:
        return task, TASKS[task]
    return task, positive_option("TransNAS-Bench-101", "classes", classes)


def _width(channels) -> int:
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 2:
        raise SwapfwError(f"TransNAS-Bench-101 channels must be an integer of at least 2, got {channels!r}")
    return channels


#: scoring protocols (``swapfw protocols transnas-micro``), the default first: all at 64x64 (the
#: images here are 32x32 CIFAR-10; the benchmark's Taskonomy images are 256x256), sized as the
#: benchmark network
PROTOCOLS = {
    "narrow": Preset("the network at base width 16 instead of 64, 64x64, 16 image-like samples; sizes of the "
                     "width-64 network", build={"channels": 16}, size_build={}, batch=16, repeats=1,
                     data="imagelike", input_shape=(3, 64, 64)),
    "benchmark": Preset("the benchmark network at 64x64 (jigsaw: tiles of 21x21), 16 image-like "
                        "samples", batch=16, data="imagelike", input_shape=(3, 64, 64)),
}


# --- the plugins -----------------------------------------------------------------------------


class _Networks:
    """What both spaces build from an architecture: ``_network_args`` turns it and the options into
    ``build_network``'s arguments."""

    def build(self, arch: str, *, task: str = "class_object", classes: int | None = None,
              channels: int = BASE_CHANNELS) -> nn.Module:
        """The exact benchmark network for ``task``, randomly initialised (as the benchmark does);
        ``channels`` narrows the base width (64) for a cheaper scoring network, the decoder with it."""
        return build_network(*self._network_args(arch, task, classes, channels))

    def count_params(self, arch: str, *, task: str = "class_object", classes: int | None = None,
                     channels: int = BASE_CHANNELS) -> int:
        """The parameter count of ``build(arch, ...)``, without building it."""
        return count_params(*self._network_args(arch, task, classes, channels))


class TransNASMicroSpace(_Networks, EdgeCells):
    name = "transnas-micro"
    label = "TransNAS-Bench-101 micro"  # in messages
    edge_count = len(EDGES)
    module_activations = True  # every activation is an nn.ReLU: module hooks see them all
    data_note = DATA_NOTE
    description = "TransNAS-Bench-101 cell space: skeleton 64-41414, 6 edges x 4 ops, 4,096 archs"
    input_shape = (3, 256, 256)
    ops = MICRO_OPS
    protocols = PROTOCOLS
    #: chosen by benchmarks/default_ranking.py on the four tasks' development splits
    default_proxy = "calibrated:jacov+meco"

    def parse(self, arch: str) -> tuple[str, ...]:
        """The 6 op names in edge order (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2)."""
        return parse_micro(arch)

    def format(self, ops) -> str:
        """Inverse of parse (also takes the digits 0-3)."""
        return format_micro(ops)

    def canonical(self, arch: str) -> str:
        """The normalised string; nothing merges. Cells that compute the same function mostly
        still differ in parameters and activation sites (a conv cut off by ``none`` edges still
        counts). The one exact equivalence: with edge 2->3 ``none``, node 2 is dead and edge
        1->2 being ``none`` or ``skip`` (both parameter-free there) makes no difference; those
        256 pairs stay apart because the benchmark trained and lists both."""
        return format_micro(parse_micro(arch))

    @staticmethod
    def _network_args(arch: str, task, classes, channels) -> tuple:
        cell = parse_micro(arch)
        task, classes = _task_options("micro", task, classes)
        return tuple(int(d) for d in MICRO_SKELETON), cell, task, classes, _width(channels)

    def enumerate(self) -> list[str]:
        """All 4,096 cells, the digits counting up from 0_00_000 (edge order, first edge most significant)."""
        return [format_micro(ops_of_number(n, len(EDGES), MICRO_OPS)) for n in range(MICRO_SIZE)]

    #: NASLib's op indices (naslib/search_spaces/transbench101): the six edge digits, in string order
    formats = ("naslib",)

    def encode(self, arch: str, fmt: str) -> str:
        """``naslib``: the op-index tuple, e.g. ``(1, 3, 2, 2, 3, 3)``."""
        _naslib_only("micro", fmt)
        return "(" + ", ".join(str(MICRO_OPS.index(op)) for op in parse_micro(arch)) + ")"

    def decode(self, value: str, fmt: str) -> str:
        """The string of NASLib op indices (a tuple or six digits)."""
        _naslib_only("micro", fmt)
        digits = _digits(value)
        if len(digits) != len(EDGES) or any(d > 3 for d in digits):
            raise SwapfwError(f"NASLib TransNAS micro op indices are six digits 0-3, not {value!r}")
        return format_micro([MICRO_OPS[d] for d in digits])


class TransNASMacroSpace(_Networks):
    name = "transnas-macro"
    module_activations = True  # every activation is an nn.ReLU: module hooks see them all
    data_note = DATA_NOTE
    description = "TransNAS-Bench-101 macro space: 4-6 stages of ResNet blocks, 3,256 archs"
    input_shape = (3, 256, 256)
    ops = MACRO_OPS
    protocols = PROTOCOLS
    default_proxy = "swap"  # chosen by benchmarks/default_ranking.py on the four tasks' development splits

    def parse(self, arch: str) -> tuple[int, ...]:
        """The stage digits: 1 plain, 2 double channels, 3 stride 2, 4 both (``ops[digit - 1]``)."""
        return parse_macro(arch)

    def format(self, digits) -> str:
        """Inverse of parse."""
        return format_macro(digits)

    def canonical(self, arch: str) -> str:
        """The normalised string; every valid skeleton is a different network, so nothing merges."""
        return format_macro(parse_macro(arch))

    @staticmethod
    def _network_args(arch: str, task, classes, channels) -> tuple:
        skeleton = parse_macro(arch)
        task, classes = _task_options("macro", task, classes)
        return skeleton, None, task, classes, _width(channels)

    def enumerate(self) -> list[str]:
        """All 3,256 skeletons: by length, then in numeric order."""
        return list(macro_archs())

    def sample(self, count: int, seed: int) -> list[str]:
        """``count`` distinct archs drawn uniformly, the same for the same seed."""
        archs = macro_archs()
        check_sample_count("TransNAS-Bench-101 macro", count, len(archs))
        return random.Random(seed).sample(archs, count)

    def mutate(self, arch: str, rng: random.Random, kind: str = "op") -> str:
        """``op``: one stage gets a different digit. ``connectivity``: a stage is inserted or
        removed, or where no such change stays in the space, two different stages swap places.
        The child is drawn uniformly from the valid candidates and always differs from ``arch``."""
        digits = parse_macro(arch)
        check_mutation_kind("TransNAS-Bench-101 macro", kind)
        if kind == "op":
            candidates = {digits[:i] + (d,) + digits[i + 1:] for i in range(len(digits)) for d in (1, 2, 3, 4)}
        else:
            candidates = {digits[:i] + (d,) + digits[i:] for i in range(len(digits) + 1) for d in (1, 2, 3, 4)}
            candidates |= {digits[:i] + digits[i + 1:] for i in range(len(digits))}
            if not any(_macro_problem(c) is None for c in candidates - {digits}):
                candidates = set()
                for i, j in itertools.combinations(range(len(digits)), 2):
                    swapped = list(digits)
                    swapped[i], swapped[j] = swapped[j], swapped[i]
                    candidates.add(tuple(swapped))
        valid = sorted(c for c in candidates if c != digits and _macro_problem(c) is None)
        if not valid:
            raise SwapfwError(f"no {kind} mutation of {arch!r} stays in the TransNAS-Bench-101 macro space")
        return format_macro(rng.choice(valid))

    def crossover(self, a: str, b: str, rng: random.Random) -> tuple[str, str]:
        """One-point crossover for sequences of different lengths: a[:i] + b[j:] and b[:j] + a[i:],
        the cut points drawn among those whose both children are valid and not just the parents;
        the parents come back unchanged when there are none."""
        pa, pb = parse_macro(a), parse_macro(b)
        pairs = []
        for i in range(len(pa) + 1):
            for j in range(len(pb) + 1):
                c, d = pa[:i] + pb[j:], pb[:j] + pa[i:]
                if {c, d} != {pa, pb} and _macro_problem(c) is None and _macro_problem(d) is None:
                    pairs.append((c, d))
        if not pairs:
            return format_macro(pa), format_macro(pb)
        c, d = rng.choice(pairs)
        return format_macro(c), format_macro(d)

    #: NASLib's op indices: the skeleton digits padded with zeros to six
    formats = ("naslib",)

    def encode(self, arch: str, fmt: str) -> str:
        """``naslib``: e.g. ``(4, 1, 4, 1, 4, 0)`` for ``64-41414-basic``."""
        _naslib_only("macro", fmt)
        digits = parse_macro(arch)
        return "(" + ", ".join(map(str, digits + (0,) * (max(MACRO_LENGTHS) - len(digits)))) + ")"

    def decode(self, value: str, fmt: str) -> str:
        """The string of NASLib op indices: six digits 0-4, the zeros (missing stages) last."""
        _naslib_only("macro", fmt)
        digits = _digits(value)
        if len(digits) != max(MACRO_LENGTHS) or any(d > 4 for d in digits) or \
                any(d and not all(digits[:i]) for i, d in enumerate(digits)):
            raise SwapfwError(f"NASLib TransNAS macro op indices are six digits 0-4, zeros last, not {value!r}")
        return format_macro(tuple(d for d in digits if d))


def _naslib_only(level: str, fmt: str) -> None:
    if fmt != "naslib":
        raise SwapfwError(f"TransNAS-Bench-101 {level} has no encoding {fmt!r} (known: naslib)")


def _digits(value) -> list[int]:
    """``(1, 3, 2)``, ``[1, 3, 2]`` or ``132`` -> [1, 3, 2]; a non-digit gives a list that fails the checks."""
    text = str(value).strip().strip("()[] ")
    parts = text.replace(",", " ").split() if ("," in text or " " in text) else list(text)
    return [int(p) if p.isdigit() and len(p) == 1 else 99 for p in parts]


@hookimpl
def register_spaces(register):
    register(TransNASMicroSpace())
    register(TransNASMacroSpace())
