"""The building blocks search spaces share: checks, evolutionary operators, counting by parts,
and the cell ops of the NAS benchmarks.

A space is a plugin with its own encoding; what several have in common (one-line errors about
an architecture string or a build option, a cell as a tuple of one op per edge, the checks on a
searcher's requests, counting parameters by parts, ``none``/``skip``/ReLU-conv-BN edges) lives
here once, and plugins reach it through ``swapfw.plugin_api``.
"""

from __future__ import annotations

import functools
import random
from typing import Callable, Sequence

import torch
import torch.nn as nn

from .errors import SwapfwError

MUTATION_KINDS = ("op", "connectivity")


# --- one-line errors about what a user gave -----------------------------------------------------


def shown(value: object, limit: int = 120) -> str:
    """``repr(value)`` cut to ``limit`` characters and kept on one line, for an error message."""
    text = repr(value).replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def bad_arch(space: str, arch: object, reason: str, expected: str, limit: int = 120) -> SwapfwError:
    """One line naming the architecture string, what is wrong with it, and the form expected:
    ``bad SPACE architecture 'ARCH': REASON; expected EXPECTED``."""
    return SwapfwError(f"bad {space} architecture {shown(arch, limit)}: {reason}; expected {expected}")


def positive_option(space: str, name: str, value) -> int:
    """A build option that must be a positive integer (build options come from users: refuse what
    would build a nonsense network)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SwapfwError(f"{space} {name} must be a positive integer, got {value!r}")
    return value


# --- evolutionary operators ---------------------------------------------------------------------


def check_sample_count(space: str, count, size: int) -> None:
    """``count`` distinct architectures must exist; ``space`` names the space in the message."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= size:
        raise SwapfwError(f"{space} can sample 1 to {size:,} distinct architectures, not {count!r}")


def check_mutation_kind(space: str, kind) -> None:
    if kind not in MUTATION_KINDS:
        raise SwapfwError(f"{space} mutation kind must be 'op' or 'connectivity', not {kind!r}")


def mutate_edge(ops: Sequence[str], choices: Sequence[str], rng: random.Random, kind: str) -> list[str]:
    """One random edge of a cell of edge ops changed, so the result always differs.

    ``op``: the edge gets a different op from ``choices``. ``connectivity``: where wiring is
    an op named ``none`` (``choices[0]``), the edge toggles between ``none`` and another op.
    """
    ops = list(ops)
    edge = rng.randrange(len(ops))
    if kind == "op":
        ops[edge] = rng.choice([op for op in choices if op != ops[edge]])
    else:
        ops[edge] = rng.choice(choices[1:]) if ops[edge] == choices[0] else choices[0]
    return ops


def uniform_crossover(a: Sequence, b: Sequence, rng: random.Random) -> tuple[list, list]:
    """Each position of the first child from a or b at random; the second child gets the other."""
    swap = [rng.random() < 0.5 for _ in a]
    return [y if s else x for x, y, s in zip(a, b, swap)], [x if s else y for x, y, s in zip(a, b, swap)]


@functools.lru_cache(maxsize=8192)
def part_params(make: Callable[..., torch.nn.Module], *args) -> int:
    """Parameters of the module ``make(*args)``, built once per process on the meta device (no
    memory, no random draws) and remembered: a space's ``count_params`` sums its parts with it, so
    sizing a network costs a few lookups instead of building a thousand modules."""
    with torch.device("meta"):
        return sum(p.numel() for p in make(*args).parameters())


def ops_of_number(number: int, edges: int, choices: Sequence[str]) -> tuple[str, ...]:
    """The cell at position ``number`` of the product order of ``edges`` edges over ``choices``
    (edge 0 most significant): sampling a cell space needs no list of it."""
    digits = []
    for _ in range(edges):
        number, digit = divmod(number, len(choices))
        digits.append(choices[digit])
    return tuple(reversed(digits))


class EdgeCells:
    """``sample``, ``mutate`` and ``crossover`` of a space whose architecture is a cell of one op per
    edge (NAS-Bench-201, TransNAS-Bench-101 micro). The space mixes this in and sets ``label`` (its
    name in messages), ``ops`` (the choices, ``none`` first where wiring is an op) and
    ``edge_count``, and has ``parse`` (string -> ops) and ``format`` (ops -> string)."""

    label: str
    ops: Sequence[str]
    edge_count: int

    def sample(self, count: int, seed: int) -> list[str]:
        """``count`` distinct archs drawn uniformly, the same for the same seed."""
        size = len(self.ops) ** self.edge_count
        check_sample_count(self.label, count, size)
        return [self.format(ops_of_number(n, self.edge_count, self.ops)) for n in random.Random(seed).sample(range(size), count)]

    def mutate(self, arch: str, rng: random.Random, kind: str = "op") -> str:
        """Change one random edge; the result always differs from ``arch``. ``op``: the edge gets a
        different op; ``connectivity``: wiring being the op ``none`` (a missing edge), the edge
        toggles between ``none`` and a random other op."""
        ops = self.parse(arch)
        check_mutation_kind(self.label, kind)
        return self.format(mutate_edge(ops, self.ops, rng, kind))

    def crossover(self, a: str, b: str, rng: random.Random) -> tuple[str, str]:
        """Uniform crossover: each edge of the first child comes from a or b, the second gets the other."""
        first, second = uniform_crossover(self.parse(a), self.parse(b), rng)
        return self.format(first), self.format(second)

    def features(self, arch: str) -> dict[str, float]:
        """How many edges carry each op: what a search spending real evaluations learns from beside the proxies."""
        ops = list(self.parse(arch))
        return {f"edges {op}": float(ops.count(op)) for op in self.ops}


# --- cell ops of the NAS benchmarks (NAS-Bench-201, DARTS, TransNAS-Bench-101) --------------------


def relu_conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """ReLU, bias-free kxk conv ('same' padding), affine BatchNorm: the benchmarks' ReLUConvBN."""
    return nn.Sequential(nn.ReLU(), nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(cout))


class Zero(nn.Module):
    """The ``none`` op: zeros of the edge's output shape, computed as ``mul(0.)`` of the input so
    torch.fx traces it. ``stride`` subsamples like the edge's other ops; ``channels``, given only
    where the edge changes width (TransNAS-Bench-101), is the output's width."""

    def __init__(self, stride: int = 1, channels: int | None = None):
        super().__init__()
        self.stride, self.channels = stride, channels

    def forward(self, x):
        if self.channels is not None:  # a Python constant, so torch.fx traces a single branch
            return x[:, :1, ::self.stride, ::self.stride].mul(0.0).expand(-1, self.channels, -1, -1)
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, ::self.stride, ::self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    """``skip`` where resolution (or width) changes: ReLU, two 1x1 strided convs to ``cout // 2``
    and ``cout - cout // 2`` channels, the second on the input shifted by one pixel, concatenated,
    BatchNorm (DARTS and TransNAS-Bench-101).

    ``pad``: shift by padding a zero row and column first, so any input size works (TransNAS-Bench-101);
    False: by cropping the first row and column, as DARTS does (even input sizes only). Both give the
    same values on even sizes, but not to the last bit (the second convolution sees another size), so
    each benchmark keeps its own form.
    """

    def __init__(self, cin: int, cout: int, stride: int = 2, pad: bool = True):
        super().__init__()
        self.relu = nn.ReLU()
        self.convs = nn.ModuleList([nn.Conv2d(cin, cout // 2, 1, stride, bias=False),
                                    nn.Conv2d(cin, cout - cout // 2, 1, stride, bias=False)])
        self.pad = nn.ConstantPad2d((0, 1, 0, 1), 0.0) if pad else None
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        x = self.relu(x)
        shifted = (x if self.pad is None else self.pad(x))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](shifted)], dim=1))
