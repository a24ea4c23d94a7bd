"""What every benchmark shares: where the data is, the repository root.

The benchmark data lives where ``SWAPFW_DATA`` points (docs/data.md says what it holds and
where each table comes from publicly); in a development checkout beside ``../shared/data`` that
folder is used when the variable is unset.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: the development checkout's data folder, used when SWAPFW_DATA is unset
FALLBACK_DATA = ROOT.parent / "shared" / "data"


def data_dir() -> Path:
    """The folder holding the benchmark data: ``SWAPFW_DATA``, else the development checkout's."""
    return Path(os.environ["SWAPFW_DATA"]) if os.environ.get("SWAPFW_DATA") else FALLBACK_DATA


def data_path(*parts: str) -> Path:
    """A path inside the data folder (it may not exist: see ``need_data``)."""
    return data_dir().joinpath(*parts)


def need_data(*parts: str) -> Path:
    """The path inside the data folder, or exit saying what is missing and how to point at it."""
    path = data_path(*parts)
    if not path.exists():
        sys.exit(f"skipped: {path} is absent (set SWAPFW_DATA to the folder holding the benchmark data; "
                 "docs/data.md)")
    return path
