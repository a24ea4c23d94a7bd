"""Checks, evolutionary operators and counting helpers that search-space plugins share.

A space is a plugin with its own encoding; what several encodings have in common (a cell as
a tuple of one op per edge, the checks on a searcher's requests, counting parameters by parts)
lives here once.
"""

from __future__ import annotations

import functools
import random
from typing import Callable, Sequence

import torch

from .errors import SwapfwError

MUTATION_KINDS = ("op", "connectivity")


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
