"""NAS-Bench-101 (Ying et al., ICML 2019) as a swapfw search space.

A cell ("module") is a DAG of at most 7 vertices and 9 edges: vertex 0 is the input, the last
vertex the output, and every vertex in between runs one of 3 ops. An architecture string is the
spec as JSON, as the benchmark's API takes it::

    {"matrix": [[0,1,1,0], [0,0,0,1], [0,0,0,1], [0,0,0,0]],
     "ops": ["input", "conv3x3-bn-relu", "maxpool3x3", "output"]}

``matrix[i][j] == 1`` is an edge i -> j (upper triangular, so the vertex order is topological);
matrices of any size from 2x2 are read. As the official ``ModelSpec`` does, vertices not on an
input -> output path are pruned first and the limits (7 vertices, 9 edges) apply to what is left.

The benchmark holds each cell once per isomorphism class (423,624 classes): it enumerated the
matrices of each size in the order of their edge bit mask (edge i -> j is bit i + j(j-1)/2) and
their op labellings in ``itertools.product`` order over ``OPS``, and kept the first member of
every class (google-research/nasbench ``scripts/generate_graphs.py``). ``canonical`` returns
that very member, so a canonical string is the benchmark's own stored spec, and building it gives
the network whose ``trainable_parameters`` and accuracies the benchmark publishes.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import operator
import random
from dataclasses import dataclass

import torch
import torch.nn as nn

from swapfw import SwapfwError, hookimpl
from swapfw.plugin_api import Preset, bad_arch, check_mutation_kind, check_sample_count, part_params, positive_option

INPUT, OUTPUT = "input", "output"
#: the benchmark's ``available_ops``, in its order (the canonical labelling depends on it)
OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
MAX_VERTICES = 7
MAX_EDGES = 9
#: distinct cells (isomorphism classes) in the benchmark
SIZE = 423_624
#: BatchNorm as the benchmark's TF code: epsilon 1e-5, moving averages kept with decay 0.997,
#: which is PyTorch momentum 1 - 0.997 (PyTorch weighs the new batch by ``momentum``)
BN_EPS = 1e-5
BN_MOMENTUM = 1 - 0.997
FORM = ('{"matrix": VxV upper-triangular 0/1 adjacency, "ops": ["input", OP, ..., "output"]} '
        f"(at most {MAX_VERTICES} vertices and {MAX_EDGES} edges after pruning)")


@dataclass(frozen=True)
class Spec:
    """A pruned, valid cell: the adjacency matrix (tuple rows) and one op per vertex."""

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    @property
    def vertices(self) -> int:
        return len(self.ops)

    @property
    def edges(self) -> int:
        return sum(map(sum, self.matrix))


class _Invalid(Exception):
    """A reason a spec is not in the space; ``parse`` turns it into a one-line SwapfwError."""


def _bad(arch: object, reason: str) -> SwapfwError:
    """One-line error naming the string, what is wrong, and the form expected."""
    return bad_arch("NB101", arch, reason, f"{FORM} with OP one of {', '.join(OPS)}", limit=160)


# --- specs: read, prune, check ---------------------------------------------------------------


def _read_matrix(matrix) -> list[list[int]]:
    if not isinstance(matrix, list) or not matrix:
        raise _Invalid("'matrix' must be a non-empty list of rows")
    size = len(matrix)
    rows = []
    for i, row in enumerate(matrix):
        if not isinstance(row, list) or len(row) != size:
            raise _Invalid(f"'matrix' must be square, row {i} is not a list of {size} entries")
        for j, entry in enumerate(row):
            if isinstance(entry, bool) or entry not in (0, 1) or not isinstance(entry, int):
                raise _Invalid(f"matrix entry [{i}][{j}] is {entry!r}, entries must be 0 or 1")
        rows.append(list(row))
    return rows


def _read_ops(ops, size: int) -> list[str]:
    if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
        raise _Invalid("'ops' must be a list of op names")
    if len(ops) != size:
        raise _Invalid(f"'ops' has {len(ops)} entries for a {size}x{size} matrix")
    if size < 2:
        raise _Invalid("a cell needs at least the input and the output vertex")
    if ops[0] != INPUT or ops[-1] != OUTPUT:
        raise _Invalid(f"the first op must be 'input' and the last 'output', got {ops[0]!r} and {ops[-1]!r}")
    for v, op in enumerate(ops[1:-1], 1):
        if op not in OPS:
            raise _Invalid(f"unknown op {op!r} at vertex {v}")
    return list(ops)


def _prune(matrix: list[list[int]], ops: list[str]) -> Spec:
    """Keep the vertices on some input -> output path (the official ModelSpec's pruning)."""
    size = len(ops)
    for i in range(size):
        for j in range(i + 1):
            if matrix[i][j]:
                raise _Invalid(f"matrix is not upper triangular (entry [{i}][{j}] is 1)")
    forward, stack = {0}, [0]
    while stack:
        v = stack.pop()
        for w in range(v + 1, size):
            if matrix[v][w] and w not in forward:
                forward.add(w)
                stack.append(w)
    backward, stack = {size - 1}, [size - 1]
    while stack:
        v = stack.pop()
        for w in range(v):
            if matrix[w][v] and w not in backward:
                backward.add(w)
                stack.append(w)
    if size - 1 not in forward:
        raise _Invalid("no path leads from the input to the output")
    keep = sorted(forward & backward)
    return Spec(tuple(tuple(matrix[i][j] for j in keep) for i in keep), tuple(ops[i] for i in keep))


def _check(spec: Spec) -> Spec:
    """The benchmark's limits, on the pruned cell (as ``NASBench._check_spec``)."""
    if spec.vertices > MAX_VERTICES:
        raise _Invalid(f"{spec.vertices} vertices after pruning, NB101 allows at most {MAX_VERTICES}")
    if spec.edges > MAX_EDGES:
        raise _Invalid(f"{spec.edges} edges after pruning, NB101 allows at most {MAX_EDGES}")
    return spec


def make_spec(matrix, ops) -> Spec:
    """Matrix and ops (nested lists) -> the pruned, checked Spec; ``_Invalid`` if not in the space."""
    if isinstance(matrix, tuple):
        matrix = list(matrix)
    if isinstance(matrix, list):
        matrix = [list(row) if isinstance(row, tuple) else row for row in matrix]
    rows = _read_matrix(matrix)
    return _check(_prune(rows, _read_ops(list(ops) if isinstance(ops, tuple) else ops, len(rows))))


def parse_arch(arch: str) -> Spec:
    """String -> the pruned, valid Spec; strict, because a typo must not score a different net."""
    if not isinstance(arch, str) or not arch.strip():
        raise _bad(arch, "it is empty" if isinstance(arch, str) else f"it is a {type(arch).__name__}, not a string")
    try:
        data = json.loads(arch)
    except json.JSONDecodeError as exc:
        raise _bad(arch, f"it is not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise _bad(arch, f"it is a JSON {type(data).__name__}, not an object")
    if set(data) != {"matrix", "ops"}:
        keys = ", ".join(repr(k) for k in data) or "none"
        raise _bad(arch, f"it must have exactly the keys 'matrix' and 'ops', has {keys}")
    try:
        return make_spec(data["matrix"], data["ops"])
    except _Invalid as exc:
        raise _bad(arch, str(exc)) from None


def format_spec(spec) -> str:
    """A pruned valid spec (Spec or (matrix, ops)) -> its compact JSON string (inverse of parse)."""
    try:
        matrix, ops = (spec.matrix, spec.ops) if isinstance(spec, Spec) else spec
        checked = make_spec(matrix, ops)
    except (_Invalid, TypeError, ValueError) as exc:
        raise SwapfwError(f"not an NB101 spec: {exc}") from None
    if checked.vertices != len(ops):
        raise SwapfwError(f"not a pruned NB101 spec: {len(ops) - checked.vertices} vertices lie on no "
                          "input -> output path (format the parsed spec)")
    return _dumps(checked)


def _dumps(spec: Spec) -> str:
    return json.dumps({"matrix": [list(row) for row in spec.matrix], "ops": list(spec.ops)}, separators=(",", ":"))


# --- isomorphism: the benchmark's representative ----------------------------------------------


def _edge_bit(i: int, j: int) -> int:
    """Bit of edge i -> j in the benchmark's generation mask (graph_util.gen_is_edge_fn)."""
    return 1 << (i + j * (j - 1) // 2)


def representative(spec: Spec) -> Spec:
    """The member of ``spec``'s isomorphism class that the benchmark stores.

    The benchmark kept, per class, the first graph of its enumeration: smallest edge bit mask,
    then smallest op labelling (indices into ``OPS``). Relabellings of the interior vertices that
    keep the matrix upper triangular are exactly the class's members of this size (input and
    output are the unique source and sink), so the representative is the minimum over them; at
    most 5! = 120 orders.
    """
    n = spec.vertices
    edges = [(i, j) for i in range(n) for j in range(n) if spec.matrix[i][j]]
    best_key, best_order = None, None
    for inner in itertools.permutations(range(1, n - 1)):
        order = (0, *inner, n - 1)  # new position -> old vertex
        place = {old: new for new, old in enumerate(order)}
        if any(place[i] >= place[j] for i, j in edges):
            continue
        key = (sum(_edge_bit(place[i], place[j]) for i, j in edges), tuple(OPS.index(spec.ops[v]) for v in inner))
        if best_key is None or key < best_key:
            best_key, best_order = key, order
    order = best_order
    matrix = tuple(tuple(spec.matrix[a][b] for b in order) for a in order)
    return Spec(matrix, tuple(spec.ops[v] for v in order))


@functools.lru_cache(maxsize=65536)
def module_hash(spec: Spec) -> str:
    """The benchmark's own hash of a cell (nasbench ``ModelSpec.hash_spec``): MD5 of a
    Weisfeiler-Lehman refinement over (out-degree, in-degree, op label) per vertex, with the input
    labelled -1, the output -2 and the ops by their index in ``OPS``; isomorphic cells share it."""
    n = spec.vertices
    labels = [-1] + [OPS.index(op) for op in spec.ops[1:-1]] + [-2]
    ins = [sum(spec.matrix[w][v] for w in range(n)) for v in range(n)]
    outs = [sum(spec.matrix[v]) for v in range(n)]
    hashes = [hashlib.md5(str((outs[v], ins[v], labels[v])).encode()).hexdigest() for v in range(n)]
    for _ in range(n):
        hashes = [hashlib.md5(("".join(sorted(hashes[w] for w in range(n) if spec.matrix[w][v])) + "|" +
                               "".join(sorted(hashes[w] for w in range(n) if spec.matrix[v][w])) + "|" +
                               hashes[v]).encode()).hexdigest() for v in range(n)]
    return hashlib.md5(str(sorted(hashes)).encode()).hexdigest()


def canonical_arch(arch: str) -> str:
    """The benchmark's stored spec of ``arch``'s class, as compact JSON."""
    return _dumps(representative(parse_arch(arch)))


# --- the network -----------------------------------------------------------------------------


class ConvBnRelu(nn.Sequential):
    """The benchmark's conv_bn_relu: 'same' convolution without bias, BatchNorm, ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM), nn.ReLU())


def vertex_channels(cin: int, cout: int, matrix) -> list[int]:
    """Output channels of every vertex (model_builder.compute_vertex_channels).

    The output's ``cout`` channels are split evenly over the vertices that feed it, the first
    ``cout % fan_in`` of them (in vertex order) taking one extra; every other interior vertex gets
    the largest width among the interior vertices it feeds.
    """
    n = len(matrix)
    channels = [0] * n
    channels[0], channels[-1] = cin, cout
    if n == 2:
        return channels
    feeding = [v for v in range(1, n - 1) if matrix[v][n - 1]]
    width, extra = divmod(cout, len(feeding))
    for k, v in enumerate(feeding):
        channels[v] = width + (k < extra)
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            channels[v] = max(channels[w] for w in range(v + 1, n - 1) if matrix[v][w])
    if min(channels[1:-1]) < 1:
        raise SwapfwError(f"NB101 cell cannot split {cout} channels over its {len(feeding)} output inputs: "
                          f"use channels >= {len(feeding)}")
    return channels


def _vertex_op(op: str, channels: int) -> nn.Module:
    if op == "conv3x3-bn-relu":
        return ConvBnRelu(channels, channels, 3)
    if op == "conv1x1-bn-relu":
        return ConvBnRelu(channels, channels, 1)
    return nn.MaxPool2d(3, stride=1, padding=1)  # maxpool3x3, 'same'; keeps the width


class Cell(nn.Module):
    """One module (model_builder.build_module).

    A vertex sums its inputs: interior tensors truncated to its width (their first channels),
    then a 1x1 conv-BN-ReLU projection of the cell input where the input feeds it. The output
    concatenates the interior vertices that feed it, in vertex order, and adds a projection of the
    cell input where the input feeds the output directly.
    """

    def __init__(self, spec: Spec, cin: int, cout: int):
        super().__init__()
        n, matrix = spec.vertices, spec.matrix
        self.matrix = matrix
        self.channels = vertex_channels(cin, cout, matrix)
        self.projections = nn.ModuleDict({str(t): ConvBnRelu(cin, self.channels[t], 1)
                                          for t in range(1, n) if matrix[0][t]})
        self.vertex_ops = nn.ModuleDict({str(t): _vertex_op(spec.ops[t], self.channels[t]) for t in range(1, n - 1)})

    def forward(self, x):
        n, matrix, channels = len(self.matrix), self.matrix, self.channels
        values = [x]
        for t in range(1, n - 1):
            terms = [values[s] if channels[s] == channels[t] else values[s][:, :channels[t]]
                     for s in range(1, t) if matrix[s][t]]
            if matrix[0][t]:
                terms.append(self.projections[str(t)](x))
            values.append(self.vertex_ops[str(t)](functools.reduce(operator.add, terms)))
        last = n - 1
        feeding = [values[t] for t in range(1, last) if matrix[t][last]]
        if not feeding:
            return self.projections[str(last)](x)
        out = feeding[0] if len(feeding) == 1 else torch.cat(feeding, dim=1)
        if matrix[0][last]:
            out = out + self.projections[str(last)](x)
        return out


class NB101Network(nn.Module):
    """The benchmark's network: stem conv3x3-BN-ReLU, ``stacks`` stacks of ``cells`` cells with a
    2x2 stride-2 max-pool and doubled width before every stack but the first, global average
    pool, dense head. Builds ``spec`` exactly as given (no relabelling)."""

    def __init__(self, spec: Spec, classes: int = 10, channels: int = 128, stacks: int = 3, cells: int = 3):
        super().__init__()
        self.stem = ConvBnRelu(3, channels, 3)
        body, width = layout(channels, stacks, cells)
        self.cells = nn.Sequential(*(Cell(spec, *widths) if widths else nn.MaxPool2d(2, stride=2, ceil_mode=True)
                                     for widths in body))  # the pool: TF 'same' on odd sizes too
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, classes)

    def forward(self, x):
        return self.classifier(self.pool(self.cells(self.stem(x))).flatten(1))


def layout(channels: int, stacks: int, cells: int) -> tuple[list[tuple[int, ...]], int]:
    """The body in build order, ``(cin, cout)`` per cell and ``()`` for the max-pool that halves the
    resolution (and precedes a doubled width) before every stack but the first; the last width."""
    body, width = [], channels
    for stack in range(stacks):
        cin = width
        if stack:
            body.append(())
            width *= 2
        for _ in range(cells):
            body.append((cin, width))
            cin = width
    return body, width


def count_params(spec: Spec, classes: int, channels: int, stacks: int, cells: int) -> int:
    """The parameters of ``NB101Network(spec, ...)`` without building it: the conv-BN-ReLUs' counts
    (``part_params``) summed over the cells' projections and vertex ops (``--mu auto`` sizes 1,000
    architectures; building each took 0.03-0.04 s)."""
    body, width = layout(channels, stacks, cells)
    total = part_params(ConvBnRelu, 3, channels, 3) + width * classes + classes
    n, matrix = spec.vertices, spec.matrix
    for widths in filter(None, body):
        cin, cout = widths
        vertex = vertex_channels(cin, cout, matrix)
        total += sum(part_params(ConvBnRelu, cin, vertex[t], 1) for t in range(1, n) if matrix[0][t])
        total += sum(part_params(ConvBnRelu, vertex[t], vertex[t], KERNELS[spec.ops[t]])
                     for t in range(1, n - 1) if spec.ops[t] in KERNELS)
    return total


#: the kernel of each vertex op that has parameters (maxpool3x3 has none)
KERNELS = {"conv3x3-bn-relu": 3, "conv1x1-bn-relu": 1}


def _sizes(classes, channels, stacks, cells) -> tuple[int, int, int, int]:
    """The build options, checked: they come from users."""
    return tuple(positive_option("NB101", name, value) for name, value in
                 (("classes", classes), ("channels", channels), ("stacks", stacks), ("cells", cells)))


# --- operators -------------------------------------------------------------------------------


def _padded(spec: Spec, rng: random.Random) -> tuple[list[list[int]], list[str]]:
    """``spec`` as a 7-vertex matrix: unused vertices (random ops, no edges) sit before the output."""
    n, pad = spec.vertices, MAX_VERTICES - spec.vertices
    where = list(range(n - 1)) + [MAX_VERTICES - 1]  # old vertex -> new index
    matrix = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
    for i in range(n):
        for j in range(n):
            matrix[where[i]][where[j]] = spec.matrix[i][j]
    ops = list(spec.ops[:-1]) + [rng.choice(OPS) for _ in range(pad)] + [OUTPUT]
    return matrix, ops


def _try(matrix, ops) -> Spec | None:
    try:
        return make_spec(matrix, ops)
    except _Invalid:
        return None


UPPER = tuple((i, j) for j in range(MAX_VERTICES) for i in range(j))


#: scoring protocols (``swapfw protocols nb101``), the default first; all sized as the benchmark network
PROTOCOLS = {
    "reduced": Preset("the cell in a network of 16 stem channels, one cell per stack, 16 image-like samples, mean "
                      "of 4 initialisations", build={"channels": 16, "cells": 1}, size_build={}, batch=16, repeats=4,
                      data="imagelike"),
    "benchmark": Preset("the benchmark network (128 stem channels, 3 stacks x 3 cells), 32 image-like samples "
                        "(16 saturate its 2^16 patterns)", batch=32, data="imagelike"),
}


class NB101Space:
    name = "nb101"
    module_activations = True  # every activation is an nn.ReLU: module hooks see them all
    protocols = PROTOCOLS
    description = "NAS-Bench-101 cells: DAGs of <= 7 vertices and <= 9 edges over 3 ops, 423,624 archs"
    input_shape = (3, 32, 32)
    ops = OPS
    #: the default ranking, chosen on the development split by benchmarks/default_ranking.py
    #: (docs/protocols.md, "The default ranking"): regswap alone ranks as the parameter count does,
    #: and SWAP is not part of the best choice
    default_proxy = "calibrated:az_expressivity+params"
    #: draws of random specs allowed per architecture requested before sample gives up
    MAX_DRAWS_PER_ARCH = 2000
    #: draws of a crossover before it returns the parents
    MAX_TRIES = 5000

    def parse(self, arch: str) -> Spec:
        """The pruned, valid spec (vertices kept in the string's order)."""
        return parse_arch(arch)

    def features(self, arch: str) -> dict[str, float]:
        """How many vertices carry each op, and the cell's edges: what a search spending real
        evaluations learns from."""
        spec = self.parse(arch)
        return {**{f"vertices {op}": float(spec.ops.count(op)) for op in OPS},
                "edges": float(sum(map(sum, spec.matrix)))}

    def format(self, spec) -> str:
        """Inverse of parse: the compact JSON of a pruned spec."""
        return format_spec(spec)

    def canonical(self, arch: str) -> str:
        """The benchmark's own stored spec of the arch's isomorphism class (pruned, relabelled)."""
        if not isinstance(arch, str):
            parse_arch(arch)  # raises the one-line error (and keeps unhashable values out of the cache)
        return canonical_arch(arch)

    def build(self, arch: str, *, classes: int = 10, channels: int = 128, stacks: int = 3, cells: int = 3) -> nn.Module:
        """The benchmark network of ``canonical(arch)`` (what the benchmark trained), randomly initialised.

        Isomorphic strings build the same network: the benchmark trained one member per class,
        and where the output's width does not split evenly the member decides which vertices get
        the extra channel.
        """
        spec = representative(parse_arch(arch))
        return NB101Network(spec, *_sizes(classes, channels, stacks, cells))

    def count_params(self, arch: str, *, classes: int = 10, channels: int = 128, stacks: int = 3,
                     cells: int = 3) -> int:
        """The parameter count of ``build(arch, ...)``, without building it."""
        return count_params(representative(parse_arch(arch)), *_sizes(classes, channels, stacks, cells))

    #: encodings besides the spec: the benchmark's module hash (one way: a hash names a cell of the
    #: benchmark's table, which is not here to look it up in)
    formats = ("hash",)

    def encode(self, arch: str, fmt: str) -> str:
        """``hash``: the 32-character module hash the benchmark's dataset is keyed by."""
        if fmt != "hash":
            raise SwapfwError(f"NB101 has no encoding {fmt!r} (known: hash)")
        return module_hash(parse_arch(arch))

    def decode(self, value: str, fmt: str) -> str:
        """Not invertible without the benchmark's table: a one-line error saying what to do instead."""
        if fmt != "hash":
            raise SwapfwError(f"NB101 has no encoding {fmt!r} (known: hash)")
        raise SwapfwError(f"an NB101 module hash ({str(value)[:40]}) cannot be turned back into a cell without the "
                          "benchmark's table: give the spec ({\"matrix\": ..., \"ops\": ...}) instead")

    def sample(self, count: int, seed: int) -> list[str]:
        """``count`` distinct canonical archs, the same for the same seed.

        Each draw is the benchmark's own random spec (NASBench.ipynb ``random_spec``): every
        upper-triangular entry of a 7x7 matrix and every interior op uniform, pruned, kept if
        valid and not drawn before.
        """
        check_sample_count("NB101", count, SIZE)
        rng = random.Random(seed)
        found: dict[str, None] = {}
        for _ in range(self.MAX_DRAWS_PER_ARCH * count):
            bits = rng.getrandbits(len(UPPER))
            matrix = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
            for k, (i, j) in enumerate(UPPER):
                matrix[i][j] = (bits >> k) & 1
            ops = [INPUT] + [rng.choice(OPS) for _ in range(MAX_VERTICES - 2)] + [OUTPUT]
            spec = _try(matrix, ops)
            if spec is not None:
                found.setdefault(_dumps(representative(spec)))
                if len(found) == count:
                    return list(found)
        raise SwapfwError(f"NB101 sampling found only {len(found):,} distinct architectures of {count:,} "
                          f"in {self.MAX_DRAWS_PER_ARCH * count:,} draws")

    def mutate(self, arch: str, rng: random.Random, kind: str = "op") -> str:
        """A different valid arch one step away, canonical.

        ``op``: one interior vertex of the cell gets a different op (a cell with no interior
        vertex has none to change, so it mutates its connectivity instead). ``connectivity``: one
        edge of the cell, seen as a 7-vertex matrix whose unused vertices carry random ops, is
        flipped, trying the 21 edges in random order until the pruned result is valid and not
        isomorphic to ``arch``; where no single flip does (the bare input -> output cell), two.
        """
        check_mutation_kind("NB101", kind)
        spec = representative(parse_arch(arch))
        here = _dumps(spec)
        if kind == "op" and spec.vertices > 2:
            ops = list(spec.ops)
            v = rng.randrange(1, spec.vertices - 1)
            ops[v] = rng.choice([op for op in OPS if op != ops[v]])
            return _dumps(representative(make_spec(spec.matrix, ops)))
        matrix, ops = _padded(spec, rng)
        singles = [(edge,) for edge in UPPER]
        pairs = list(itertools.combinations(UPPER, 2))
        for moves in (singles, pairs):
            rng.shuffle(moves)
            for flips in moves:
                trial = [row[:] for row in matrix]
                for i, j in flips:
                    trial[i][j] ^= 1
                child = _try(trial, ops)
                if child is not None and (text := _dumps(representative(child))) != here:
                    return text
        raise SwapfwError(f"NB101 found no valid connectivity mutation of {here}")

    def crossover(self, a: str, b: str, rng: random.Random) -> tuple[str, str]:
        """Uniform crossover on 7-vertex matrices: each edge entry and interior op of the first
        child comes from a or b, the second child takes the other; redrawn until both children are
        valid (the parents, canonical, if no draw is)."""
        pa, pb = representative(parse_arch(a)), representative(parse_arch(b))
        for _ in range(self.MAX_TRIES):
            (ma, oa), (mb, ob) = _padded(pa, rng), _padded(pb, rng)
            first = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
            second = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
            for i, j in UPPER:
                x, y = (ma[i][j], mb[i][j]) if rng.random() < 0.5 else (mb[i][j], ma[i][j])
                first[i][j], second[i][j] = x, y
            ops1, ops2 = [INPUT], [INPUT]
            for v in range(1, MAX_VERTICES - 1):
                x, y = (oa[v], ob[v]) if rng.random() < 0.5 else (ob[v], oa[v])
                ops1.append(x)
                ops2.append(y)
            c1, c2 = _try(first, ops1 + [OUTPUT]), _try(second, ops2 + [OUTPUT])
            if c1 is not None and c2 is not None:
                return _dumps(representative(c1)), _dumps(representative(c2))
        return _dumps(pa), _dumps(pb)


@hookimpl
def register_spaces(register):
    register(NB101Space())
