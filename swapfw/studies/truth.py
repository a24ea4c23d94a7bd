"""Ground-truth tables: architecture -> metric, read from a CSV. Used to evaluate, never to tune."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import SwapfwError
from .encodings import ARCH, to_arch

ARCH_COLUMNS = ("arch", "arch_str")


@dataclass
class Truth:
    """Metric values keyed by the space's canonical architecture string, in file order.

    Rows naming the same network (the same canonical form: NB101's isomorphic specs, say) are
    one architecture; their values are averaged and ``merged`` counts the extra rows.
    """

    metric: str
    values: dict[str, float]
    path: str
    merged: int = 0


def load_truth(path: str, metric: str, space, arch_column: str | None = None, arch_format: str = ARCH) -> Truth:
    """Read ``metric`` for every row of ``path``; architectures, in encoding ``arch_format`` (the
    space's own string by default), are canonicalised by ``space``."""
    file = Path(path)
    if not file.is_file():
        raise SwapfwError(f"ground-truth file {path} does not exist")
    with open(file, newline="") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        column = arch_column or next((c for c in ARCH_COLUMNS if c in columns), None)
        if column is None or column not in columns:
            wanted = arch_column or " or ".join(ARCH_COLUMNS)
            raise SwapfwError(f"{path} has no architecture column {wanted} (columns: {', '.join(columns)}); "
                              "name it with --arch-column")
        if metric not in columns:
            raise SwapfwError(f"{path} has no column {metric!r} (columns: {', '.join(columns)})")
        rows: dict[str, list[float]] = {}
        for line, row in enumerate(reader, start=2):
            arch = _canonical(space, row[column], arch_format, path, line)
            rows.setdefault(arch, []).append(_number(row[metric], path, line, metric))
    if not rows:
        raise SwapfwError(f"{path} has no rows")
    values = {arch: _mean(found) for arch, found in rows.items()}
    return Truth(metric, values, str(path), merged=sum(len(found) - 1 for found in rows.values()))


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _canonical(space, text: str, fmt: str, path: str, line: int) -> str:
    try:
        return to_arch(space, text, fmt)
    except SwapfwError as exc:
        raise SwapfwError(f"{path}:{line}: {exc}") from None


def _number(text: str, path: str, line: int, metric: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise SwapfwError(f"{path}:{line}: {metric} is {text!r}, not a number") from None
    return value if math.isfinite(value) else math.nan
