"""An example third-party plugin with one object of every kind, and two that fail on purpose.

- proxy ``conv_count`` and binariser ``centred``;
- search space ``tiny-mlp``: MLPs with two hidden layers of 4, 8, 16 or 32 units (16 architectures);
- searcher ``hill-climb``: move to the best of a few mutated neighbours while it improves;
- executor ``threads``: tasks on a thread pool in this process;
- evaluator ``smallest``: minus the built network's parameter count (a real, if cheap, evaluation);
- latency meter ``latency-table``: milliseconds looked up in a CSV (``arch,ms``) measured on another
  device, as a HW-NAS-Bench table would give them;
- ``always_fails`` (a proxy that raises) and ``no_run`` (a searcher without ``run``, so the
  registry lists it as broken, naming the member).
"""

import csv
import itertools
import random
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

import torch.nn as nn

from swapfw import SwapfwError, hookimpl

# --- a proxy and a binariser ------------------------------------------------------------------


class ConvCount:
    name = "conv_count"
    description = "number of convolutions in the IR"
    needs = frozenset()

    def score(self, network, batch, *, seed):
        return sum(1 for _, d in network.ir.graph.nodes(data=True) if d["type"] == "conv")


class Deliberate:
    name = "always_fails"
    description = "raises, to show failures are reported by name"
    needs = frozenset()

    def score(self, network, batch, *, seed):
        raise ValueError("deliberate failure inside the plugin")


class Centred:
    name = "centred"
    description = "post-activation value > its mean over the batch"
    tap = "output"
    handles = frozenset({"relu", "relu6", "gelu", "silu"})
    default_for = frozenset()

    def binarise(self, value):
        return value > value.mean(dim=0, keepdim=True)


# --- a search space ---------------------------------------------------------------------------

WIDTHS = (4, 8, 16, 32)


class TinyMlp:
    """``W1-W2``: Flatten, Linear(192, W1), ReLU, Linear(W1, W2), ReLU, Linear(W2, 10) on 3x8x8 inputs."""

    name = "tiny-mlp"
    description = "two-hidden-layer MLPs, widths 4/8/16/32 (16 archs)"
    input_shape = (3, 8, 8)

    def parse(self, arch):
        try:
            widths = tuple(int(w) for w in arch.strip().split("-"))
        except (AttributeError, ValueError):
            widths = ()
        if len(widths) != 2 or any(w not in WIDTHS for w in widths):
            raise SwapfwError(f"bad tiny-mlp architecture {arch!r}: expected W1-W2 with W in {WIDTHS}")
        return widths

    def format(self, widths):
        return "-".join(map(str, widths))

    def canonical(self, arch):
        return self.format(self.parse(arch))

    def build(self, arch, *, classes=10):
        first, second = self.parse(arch)
        return nn.Sequential(nn.Flatten(), nn.Linear(192, first), nn.ReLU(), nn.Linear(first, second), nn.ReLU(),
                             nn.Linear(second, classes))

    def enumerate(self):
        return [self.format(w) for w in itertools.product(WIDTHS, repeat=2)]

    def sample(self, count, seed):
        everything = self.enumerate()
        if not 1 <= count <= len(everything):
            raise SwapfwError(f"tiny-mlp can sample 1 to {len(everything)} architectures, not {count}")
        return random.Random(seed).sample(everything, count)

    def mutate(self, arch, rng, kind="op"):
        widths = list(self.parse(arch))
        layer = rng.randrange(2)
        widths[layer] = rng.choice([w for w in WIDTHS if w != widths[layer]])
        return self.format(widths)

    def crossover(self, a, b, rng):
        (a1, a2), (b1, b2) = self.parse(a), self.parse(b)
        return self.format((a1, b2)), self.format((b1, a2))


# --- a searcher -------------------------------------------------------------------------------


class HillClimb:
    """Start from one sampled architecture; each cycle score ``mutations`` neighbours at once and
    move to the best of them if it beats the current one. Without ``cycles`` it climbs until the
    budget is spent (``evaluate`` raises BudgetSpent, which ends the run)."""

    name = "hill-climb"
    description = "greedy local search over mutated neighbours"

    def run(self, space, evaluate, settings, rng, on_cycle):
        current = space.sample(1, settings.seed)[0]
        best = (current, evaluate([current])[0])
        for _ in range(settings.cycles) if settings.cycles is not None else itertools.count():
            neighbours = [space.mutate(best[0], rng, kind="op") for _ in range(settings.mutations)]
            best = max([best, *zip(neighbours, evaluate(neighbours))], key=lambda m: m[1])
            on_cycle(best[1])
        return best


class NoRun:
    name = "no_run"
    description = "a searcher that forgot its run method"


# --- an executor ------------------------------------------------------------------------------


class ThreadPool:
    """Tasks on threads of this process, one at a time: building a task's network traces it with
    torch.fx, which patches torch globally while it traces, so two tasks must not build at once
    (``swapfw.testing.check_executor`` catches a pool that lets them). A real executor spreads
    tasks over processes or machines instead."""

    _turn = threading.Lock()

    def __init__(self, spec):
        from swapfw.plugin_api import run_task

        self.workers = spec.workers or 2
        self._run_task = run_task
        self._pool = ThreadPoolExecutor(self.workers)

    def _run_one(self, task):
        with self._turn:
            return self._run_task(task)

    def run(self, tasks):
        futures = {self._pool.submit(self._run_one, task): index for index, task in enumerate(tasks)}
        for future in as_completed(futures):
            yield futures[future], future.result()

    def close(self):
        self._pool.shutdown(cancel_futures=True)


class Threads:
    name = "threads"
    description = "a thread pool in this process"
    open = ThreadPool


# --- an evaluator -----------------------------------------------------------------------------


class Smallest:
    name = "smallest"
    description = "minus the parameter count of the built network"
    options = {"scale": "divide the value by this (1)"}

    def open(self, space, options, *, seed, device, build):  # options: only those declared reach it
        scale = float(options.get("scale", 1))

        def measure(arch):
            return -sum(p.numel() for p in build(arch).parameters()) / scale, 0.001

        return measure


# --- a latency meter -------------------------------------------------------------------------


class LatencyTable:
    name = "latency-table"
    description = "milliseconds from a CSV of arch,ms measured on another device (table=PATH)"
    options = {"table": "a CSV with the columns arch and ms (required)"}
    measures_here = False

    def open(self, space, options, *, device, batch, threads, build, input_shape):
        if not options.get("table"):
            raise SwapfwError("latency-table needs --latency-option table=PATH")
        try:
            with open(options["table"], newline="") as fh:
                rows = {space.canonical(row["arch"]): float(row["ms"]) for row in csv.DictReader(fh)}
        except OSError as exc:
            raise SwapfwError(f"cannot read {options['table']}: {exc.strerror}") from None

        def measure(arch):
            if arch not in rows:
                raise SwapfwError(f"{arch} is not in {options['table']}")
            return rows[arch]

        return measure


# --- registration -----------------------------------------------------------------------------


@hookimpl
def register_proxies(register):
    register(ConvCount())
    register(Deliberate())


@hookimpl
def register_binarisers(register):
    register(Centred())


@hookimpl
def register_spaces(register):
    register(TinyMlp())


@hookimpl
def register_searchers(register):
    register(NoRun())
    register(HillClimb())


@hookimpl
def register_executors(register):
    register(Threads())


@hookimpl
def register_evaluators(register):
    register(Smallest())


@hookimpl
def register_latency_meters(register):
    register(LatencyTable())
