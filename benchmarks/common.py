"""What every benchmark shares: the data folder, threads, peak memory, and results as JSON.

- **Data**: the benchmark tables live where ``SWAPFW_DATA`` points (``docs/data.md`` says what
  each holds and where it comes from publicly); in a development checkout with ``../shared/data``
  beside it, that folder is used when the variable is unset. ``need_data`` exits with one line
  saying what is missing.
- **Options**: ``parser(doc)`` gives every script ``--out FILE`` (write the results as JSON) and
  ``--threads N`` (torch threads; default: torch's own).
- **Memory**: ``PeakMemory`` measures one step (peak RSS sampled on the CPU, peak allocation on
  CUDA), ``in_fresh_process`` runs a step where no earlier step's freed memory hides its figure,
  and ``peak_rss_mb`` is the process's all-time peak.
- **Results**: ``write_results(args, name, tables, raw)`` writes ``{"benchmark", "command",
  "provenance": {commit, torch, python, device, machine, date}, "tables": [...], "raw": ...}``.
  A table is ``{"title", "columns", "rows", "notes"}``; ``docs/results.md`` is generated from
  the files in ``benchmarks/results/`` (``docs/hooks.py``), so no figure is typed by hand.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: where the results files the docs are generated from are kept
RESULTS = ROOT / "benchmarks" / "results"
#: the development checkout's data folder, used when SWAPFW_DATA is unset
FALLBACK_DATA = ROOT.parent / "shared" / "data"


# --- data ----------------------------------------------------------------------------------------


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


# --- options -------------------------------------------------------------------------------------


def parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark has: ``--out`` and ``--threads``."""
    made = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    made.add_argument("--out", default=None, help="write the results as JSON here (benchmarks/results/NAME.json "
                                                  "is what docs/results.md is generated from)")
    made.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    return made


def set_threads(threads: int | None) -> int:
    """Set torch's thread count where one is given; the count in use."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


# --- memory --------------------------------------------------------------------------------------


class PeakMemory:
    """``with PeakMemory(device) as peak: step()``, then ``peak.mb``: the memory one step needed.

    On CUDA: peak allocated GPU memory above what was allocated before the step. On the CPU: the
    peak resident memory sampled (every 0.5 ms, Linux /proc/self/statm) during the step above the
    resident memory before it; ``ru_maxrss`` cannot say this, as it keeps the process's all-time
    peak. Memory the allocator kept from earlier steps and reuses does not show, so in a process
    that has run other steps the CPU figure is a lower bound; ``in_fresh_process`` gives the full one.
    """

    def __init__(self, device: str = "cpu"):
        self.cuda = str(device).startswith("cuda")
        self.mb = 0.0

    def __enter__(self) -> "PeakMemory":
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            self._before = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            return self
        self._before = self._peak = rss_bytes()
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._done.is_set():
            self._peak = max(self._peak, rss_bytes())
            time.sleep(0.0005)

    def __exit__(self, *exc) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            self.mb = (torch.cuda.max_memory_allocated() - self._before) / 2**20
            return
        self._done.set()
        self._sampler.join()
        self.mb = (max(self._peak, rss_bytes()) - self._before) / 2**20


def rss_bytes() -> int:
    """This process's resident memory now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def in_fresh_process(step, *args):
    """``step(*args)`` in a new (spawned) process: a memory figure no earlier step's freed memory hides."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(step, *args).result()


# --- results -------------------------------------------------------------------------------------


def provenance(device: str = "cpu") -> dict:
    """What produced a result: the commit (and whether the tree had changes), torch, Python, the
    device and the machine, and when."""
    import torch

    import swapfw

    def git(*args) -> str:
        try:
            return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    if str(device).startswith("cuda") and torch.cuda.is_available():
        device_name = torch.cuda.get_device_name(torch.device(device))
    else:
        device_name = _cpu_name()
    return {"commit": git("rev-parse", "--short=10", "HEAD") or "unknown", "dirty": dirty,
            "swapfw": swapfw.__version__, "torch": torch.__version__, "python": platform.python_version(),
            "device": str(device), "device_name": device_name, "threads": torch.get_num_threads(),
            "machine": {"cpu": _cpu_name(), "cores": os.cpu_count(), "memory_gb": _memory_gb(),
                        "platform": platform.platform()},
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def table(title: str, columns: list[str], rows: list[list], notes: list[str] | None = None) -> dict:
    """One table of a results file, as the docs render it."""
    return {"title": title, "columns": list(columns), "rows": [list(r) for r in rows], "notes": list(notes or [])}


def write_results(args: argparse.Namespace, name: str, tables: list[dict], raw=None, device: str = "cpu",
                  summary: str = "") -> None:
    """Write the results to ``args.out`` (if given) with their provenance; nothing otherwise."""
    if not getattr(args, "out", None):
        return
    command = " ".join(["python", os.path.relpath(sys.argv[0], ROOT) if Path(sys.argv[0]).is_absolute()
                        else sys.argv[0], *sys.argv[1:]])
    document = {"benchmark": name, "summary": summary, "command": command, "provenance": provenance(device),
                "tables": tables, "raw": raw}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(document, indent=1, default=_jsonable) + "\n")
    print(f"results written to {args.out}", file=sys.stderr)


def _jsonable(value):
    if hasattr(value, "item"):  # numpy and torch scalars
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)
