"""What every benchmark shares: the data folder, threads, peak memory, and results as JSON.

- **Data**: the benchmark tables live where ``SWAPFW_DATA`` points (``docs/data.md`` says what
  each holds and where it comes from publicly); in a development checkout with ``../shared/data``
  beside it, that folder is used when the variable is unset. ``need_data`` exits with one line
  saying what is missing.
- **Options**: ``parser(doc)`` gives every script ``--out FILE`` (write the results as JSON) and
  ``--threads N`` (torch threads; default: torch's own, or the script's own default), and with
  ``settle=True`` ``--unsettled``; ``settle(args)`` settles the process as ``run_task`` does.
- **Timing**: ``forward_seconds`` is the floor every speed figure is compared with (plain
  ``torch.no_grad`` forward passes of the same network and batch), ``median_seconds`` the median
  of repeats, ``synchronize`` waits for a GPU; ``Progress``/``tracked`` show long work on stderr.
- **Memory**: ``PeakMemory`` measures one step (peak RSS sampled on the CPU, peak allocation on
  CUDA), ``in_fresh_process`` runs a step where no earlier step's freed memory hides its figure,
  and ``peak_rss_mb`` is the process's all-time peak.
- **Results**: ``write_results(args, name, tables, raw)`` writes ``{"benchmark", "summary", "command",
  "provenance": {commit, torch, python, device, machine, date}, "tables": [...], "raw": ...}`` as
  strict JSON (a NaN is written as null). A table is ``{"title", "columns", "rows", "notes"}``;
  ``docs/results.md`` is generated from the files in ``benchmarks/results/`` (``docs/hooks.py``),
  so no figure is typed by hand. ``show(table)`` prints one as text, so what a script prints is
  what it records; ``publish`` does both at the end of a run, with the script docstring's first
  paragraph as the summary; ``previous_raw(args, name)`` is what an earlier run wrote to
  ``--out`` (a killed run resumes from it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shlex
import statistics
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
    """The folder holding the benchmark data: ``SWAPFW_DATA`` (made absolute, so that the score
    cache, which keys data by its text, sees one path from any folder), else the development
    checkout's."""
    if os.environ.get("SWAPFW_DATA"):
        return Path(os.environ["SWAPFW_DATA"]).expanduser().absolute()
    return FALLBACK_DATA


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


def cifar10_data() -> str:
    """The labelled CIFAR-10 images as a ``--data`` source (``cifar10:PATH``), or exit if absent."""
    return f"cifar10:{need_data('cifar10', 'test.npz')}"


# --- options -------------------------------------------------------------------------------------


def parser(doc: str, threads: int | None = None, settle: bool = False) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark has: ``--out`` and ``--threads``
    (default ``threads``: None is torch's own), and with ``settle`` ``--unsettled``."""
    made = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    made.add_argument("--out", default=None, help="write the results as JSON here (benchmarks/results/NAME.json "
                                                  "is what docs/results.md is generated from)")
    own = str(threads) if threads else "torch's own"
    made.add_argument("--threads", type=int, default=threads, help=f"torch threads (default: {own})")
    if settle:
        made.add_argument("--unsettled", action="store_true",
                          help="leave malloc and the GC at their defaults (default: settled, as run_task does)")
    return made


def set_threads(threads: int | None) -> int:
    """Set torch's thread count where one is given; the count in use."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def settle(args: argparse.Namespace) -> str:
    """Settle this process as ``run_task`` settles every scoring process (heap reuse, a frozen GC)
    unless ``--unsettled``; what was done, as words (``no`` for nothing)."""
    from swapfw.running.process import settle_process

    done = {} if getattr(args, "unsettled", False) else settle_process()
    return ", ".join(k for k, v in done.items() if v) or "no"


# --- timing and progress -------------------------------------------------------------------------


def synchronize(device: str = "cpu") -> None:
    """Wait for the GPU's queued work (nothing on the CPU), so that a timing covers it."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def median_seconds(step, repeats: int, device: str = "cpu") -> float:
    """The median seconds of ``step()`` over ``repeats`` calls, after one untimed call."""
    step()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_seconds(module, inputs, device: str = "cpu", passes: int = 1, warm: bool = True) -> float:
    """The floor: seconds of ``passes`` plain ``torch.no_grad`` forward passes of ``module`` on
    ``inputs``, after one untimed pass (``warm``), in the mode the module is in."""
    import torch

    with torch.no_grad():
        if warm:
            module(inputs)
        synchronize(device)
        start = time.perf_counter()
        for _ in range(passes):
            module(inputs)
        synchronize(device)
    return time.perf_counter() - start


class Progress:
    """Long work shows progress on stderr: a line at the start, then at most one every ``every``
    seconds and one at the end, with the count, the time spent and an estimate of what is left.

    ``progress(n)`` after n more items; it is also the ``progress`` callable ``swapfw.correlate`` and
    ``swapfw.search`` take (``progress(advance, total, label)``; advance 0 starts a new piece of work).
    """

    def __init__(self, label: str = "", total: int | None = None, every: float = 10.0):
        self.label, self.total, self.every = label, total, every
        self.done, self.start, self.shown = 0, time.perf_counter(), 0.0

    def __call__(self, advance: int = 1, total: int | None = None, label: str | None = None) -> None:
        if advance == 0 and total is not None:  # the API's signal that a new piece of work starts
            self.done, self.start, self.shown = 0, time.perf_counter(), 0.0
        self.total = total if total is not None else self.total
        self.label = label or self.label
        self.done += advance
        now = time.perf_counter()
        end = self.total is not None and self.done >= self.total
        if advance == 0 or end or now - self.shown >= self.every:
            self.shown = now
            spent = now - self.start
            left = (f", about {spent / self.done * (self.total - self.done):.0f} s left"
                    if self.total and 0 < self.done < self.total else "")
            of = f"/{self.total}" if self.total is not None else ""
            print(f"{self.label}: {self.done}{of} ({spent:.0f} s{left})", file=sys.stderr, flush=True)


def tracked(items, label: str, every: float = 10.0):
    """``items`` one by one, showing progress (``Progress``) as each is done."""
    items = list(items)
    progress = Progress(label, len(items), every)
    progress(0, len(items))
    for item in items:
        yield item
        progress(1)


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
    """What produced a result: the commit (and whether the tree had changes outside the results
    files), torch, Python, the device and the machine, and when."""
    import torch

    import swapfw

    def git(*args) -> str:
        try:
            return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    # results files are what runs write (a resumed run rewrites its own as it goes), not what produced them
    dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)benchmarks/results"))
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


def spearman(values, labels) -> float:
    """Spearman's rho over the pairs where both are finite; NaN for fewer than three pairs or
    constant values."""
    from scipy.stats import spearmanr

    pairs = [(v, t) for v, t in zip(values, labels) if math.isfinite(v) and math.isfinite(t)]
    if len(pairs) < 3 or len({v for v, _ in pairs}) < 2:
        return math.nan
    return float(spearmanr(*zip(*pairs)).statistic)


def table(title: str, columns: list[str], rows: list[list], notes: list[str] | None = None) -> dict:
    """One table of a results file, as the docs render it."""
    return {"title": title, "columns": list(columns), "rows": [list(r) for r in rows], "notes": list(notes or [])}


def show(made: dict) -> None:
    """Print one table as aligned text (its title, columns, rows and notes): what a script prints
    is what it records."""
    cells = [[_text(v) for v in row] for row in made["rows"]]
    numeric = [any(isinstance(row[i], (int, float)) and not isinstance(row[i], bool) for row in made["rows"])
               for i in range(len(made["columns"]))]
    widths = [max(len(c) for c in column) for column in zip(made["columns"], *cells)]

    def line(values):
        return "  ".join(v.rjust(w) if right else v.ljust(w) for v, w, right in zip(values, widths, numeric)).rstrip()

    if made.get("title"):
        print(f"\n{made['title']}")
    print(line(made["columns"]))
    for row in cells:
        print(line(row))
    for note in made.get("notes") or []:
        print(f"  note: {note}")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


def previous_raw(args: argparse.Namespace, name: str, default=None):
    """The ``raw`` an earlier run of benchmark ``name`` wrote to ``args.out``, else ``default``:
    how a killed run resumes (the results file is rewritten as the work advances)."""
    path = Path(args.out) if getattr(args, "out", None) else None
    if path is None or not path.exists():
        return default
    document = json.loads(path.read_text())
    if document.get("benchmark") != name:
        sys.exit(f"{path} holds results of {document.get('benchmark')!r}, not {name!r}: give another --out")
    return document.get("raw", default)


def publish(args: argparse.Namespace, name: str, tables: list[dict], raw=None, device: str = "cpu",
            doc: str = "") -> None:
    """The end of every benchmark: print its tables (``show``) and write them to ``--out``
    (``write_results``), the first paragraph of the script's docstring ``doc`` as the summary."""
    for made in tables:
        show(made)
    summary = " ".join(doc.strip().split("\n\n")[0].split())
    write_results(args, name, tables, raw, device=device, summary=summary)


def write_results(args: argparse.Namespace, name: str, tables: list[dict], raw=None, device: str = "cpu",
                  summary: str = "", quiet: bool = False) -> None:
    """Write the results to ``args.out`` (if given) with their provenance; nothing otherwise.
    ``quiet``: say nothing (a results file rewritten as the work advances)."""
    if not getattr(args, "out", None):
        return
    command = shlex.join(["python", os.path.relpath(sys.argv[0], ROOT) if Path(sys.argv[0]).is_absolute()
                          else sys.argv[0], *sys.argv[1:]])  # quoted: it runs again as it is
    document = {"benchmark": name, "summary": summary, "command": command, "provenance": provenance(device),
                "tables": tables, "raw": raw}
    text = json.dumps(_finite(json.loads(json.dumps(document, default=_jsonable))), indent=1, allow_nan=False)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    if not quiet:
        print(f"results written to {args.out}", file=sys.stderr)


def _finite(value):
    """NaN and infinities as null, so that the file is strict JSON (a NaN rho, a failed score)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _jsonable(value):
    if hasattr(value, "item"):  # numpy and torch scalars
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)
