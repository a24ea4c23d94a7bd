"""The conformance kit: what swapfw relies on in a plugin, checked in a test (pytest's ``pytester`` spirit).

A plugin package's own tests call one check per object::

    from swapfw.testing import check_space, check_proxy, check_searcher

    def test_my_space_conforms():
        check_space(MySpace(), build_options={"channels": 4})

Each check goes through the contract (``swapfw.contracts``) and then uses the object the way the
core does, on small inputs, collecting every problem it meets: it raises one ``AssertionError``
that lists them all, one line each, or returns what it made (the sampled architectures, the
proxy's value...). ``swapfw``'s own tests run the same checks on every bundled plugin. Nothing
here needs pytest.

- ``check_space``: sampling, canonical strings, mutation, crossover, encodings, the built network;
- ``check_proxy``: a value for a small network, the same for the same seed, weights left alone;
- ``check_searcher``: a search over ``TinySpace`` with a made-up score, cycles and budgets;
- ``check_binariser``: bits of the value's shape, deterministic;
- ``check_executor``: a pool that runs real tasks and gives ``run_task``'s values;
- ``check_evaluator``: a value and a cost for real architectures, the same for the same seed, and
  declared options (or a one-line error for an unknown option before anything is evaluated).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import math
import random
import zlib
from dataclasses import replace
from typing import Any

import torch
import torch.nn as nn

from . import contracts, plugins
from .errors import SwapfwError, error_line
from .graph.ops import ACTIVATIONS
from .hookspecs import hookimpl
from .running.executors import ExecutorSpec
from .running.process import torch_threads
from .running.tasks import Task, TaskResult, run_task
from .scoring.data import Batch, load_batch
from .scoring.network import prepare
from .scoring.presets import Preset
from .scoring.proxies import run_proxy
from .studies.search import STALLED_CYCLES, BudgetSpent, SearchSettings

__all__ = ["check_space", "check_proxy", "check_searcher", "check_binariser", "check_executor", "check_evaluator",
           "check_latency_meter",
           "TinySpace", "small_network", "made_up_score"]

#: what ``check_space`` feeds ``canonical`` and expects a one-line SwapfwError for
GARBAGE = ("", "  ", "not an architecture %%", None, 12345)


# --- reporting ---------------------------------------------------------------------------------


class _Report:
    """The problems one check finds: every one is listed, not only the first (a plugin author fixes
    them in one go), in one AssertionError that pytest shows as it is."""

    def __init__(self, title: str):
        self.title, self.problems = title, []

    def fail(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def expect(self, ok: bool, problem: str) -> bool:
        if not ok:
            self.fail(problem)
        return ok

    @contextlib.contextmanager
    def step(self, what: str):
        """An exception inside is a problem named after ``what``; the checks after it still run."""
        try:
            yield
        except _Stop:
            pass
        except Exception as exc:
            self.fail(f"{what} raised {error_line(exc)}")

    def contract(self, protocol: type, obj: Any) -> bool:
        """The contract's problems, each one a problem; True where it holds."""
        problems = contracts.check(protocol, obj)
        for problem in problems:
            self.fail(f"contract {protocol.__name__}: {problem}")
        return not problems

    def done(self) -> None:
        if self.problems:
            raise AssertionError(f"{self.title} fails {len(self.problems)} check(s) of swapfw.testing:\n"
                                 + "\n".join(f"  - {p}" for p in self.problems))


class _Stop(BaseException):
    """Ends a run the kit has seen enough of (a searcher that will not stop): not an Exception, so
    a plugin's ``except Exception`` does not swallow it."""


def _title(kind: str, obj: Any) -> str:
    return f"{kind} {getattr(obj, 'name', type(obj).__name__)!r}"


def _shown(value: Any, limit: int = 100) -> str:
    """``repr(value)`` on one line, cut to ``limit`` characters."""
    return _cut(repr(value), limit)


def _cut(text: str, limit: int = 100) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN (a proxy may give NaN, the same NaN each time)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@contextlib.contextmanager
def _global_random_state(seed: int):
    """Python's and torch's global random state set from ``seed``, restored afterwards: two runs under
    different seeds that differ read the global state, which a plugin must not (the core never seeds it)."""
    python, torch_state = random.getstate(), torch.random.get_rng_state()
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(python)
        torch.random.set_rng_state(torch_state)


# --- spaces ------------------------------------------------------------------------------------


def check_space(space, *, samples: int = 6, seed: int = 0, build_options: dict | None = None,
                input_shape: tuple | None = None, forward: bool = True, builds: int = 3) -> list[str]:
    """Check a search space; returns the ``samples`` architectures it sampled with ``seed``.

    What a search and the score cache rely on: ``sample`` gives distinct canonical strings, the
    same for the same seed; ``canonical`` is idempotent and refuses garbage with a one-line
    SwapfwError; ``mutate`` (both kinds; a space may refuse one with SwapfwError) and
    ``crossover`` give canonical strings, the same for the same rng, a mutation never its parent;
    ``parse``/``format`` and ``encode``/``decode`` round trip (an encoding may refuse what it
    cannot express, a one-way one its decoding); ``describe`` is JSON; ``protocols`` are Presets.
    The first ``builds`` architectures are built with ``build_options``, sized by ``count_params``
    where the space counts, and with ``forward`` run on 2 samples of ``input_shape`` (else the
    space's own). A space with ``bind`` is bound to ``build_options`` first, as the core does.
    """
    report = _Report(_title("search space", space))
    options = dict(build_options or {})
    if not report.contract(contracts.Space, space):
        report.done()
    if hasattr(space, "bind"):
        with report.step(f"bind({_shown(options)})"):
            space = space.bind(options)
        if not report.contract(contracts.Space, space):
            report.done()
    archs = _check_sample(report, space, samples, seed)
    _check_canonical(report, space, archs)
    _check_mutate(report, space, archs, seed)
    _check_crossover(report, space, archs, seed)
    _check_encodings(report, space, archs)
    _check_build(report, space, archs[:builds], options, input_shape, forward, seed)
    _check_facts(report, space, archs)
    report.done()
    return archs


def _check_sample(report: _Report, space, samples: int, seed: int) -> list[str]:
    call = f"sample({samples}, {seed})"
    archs: list = []
    with report.step(call):
        archs = space.sample(samples, seed)
        if not report.expect(isinstance(archs, (list, tuple)) and all(isinstance(a, str) for a in archs),
                             f"{call} should give a list of strings, gave {_shown(archs)}"):
            return []
        archs = list(archs)
        report.expect(len(archs) == samples, f"{call} gave {len(archs)} architectures, not {samples}")
        report.expect(len(set(archs)) == len(archs), f"{call} gave the same architecture twice")
        report.expect(list(space.sample(samples, seed)) == archs, f"{call} gave another list the second time")
    return archs


def _check_canonical(report: _Report, space, archs: list[str]) -> None:
    for arch in archs:
        why = _not_canonical(space, arch)
        report.expect(why is None, f"sample gave {_shown(arch)}, {why}")
        try:  # another spelling, where the space reads one: its canonical string is canonical too
            spelled = space.canonical(f" {arch} ")
        except Exception as exc:
            report.expect(isinstance(exc, SwapfwError), f"canonical({_shown(f' {arch} ')}) raised {error_line(exc)}, "
                                                        "not a SwapfwError")
            continue
        report.expect(_not_canonical(space, spelled) is None, f"canonical is not idempotent on {_shown(f' {arch} ')}")
    for garbage in GARBAGE:
        try:
            got = space.canonical(garbage)
        except SwapfwError as exc:
            report.expect("\n" not in str(exc), f"canonical({garbage!r})'s error is not one line: {_cut(str(exc))}")
        except Exception as exc:
            report.fail(f"canonical({garbage!r}) raised {error_line(exc)}, not a SwapfwError")
        else:
            report.fail(f"canonical({garbage!r}) accepted it (gave {_shown(got)}): it should raise SwapfwError")


def _not_canonical(space, arch: str) -> str | None:
    """Why ``arch`` is not one of the space's canonical strings, or None where it is."""
    try:
        canonical = space.canonical(arch)
    except SwapfwError as exc:
        return f"which canonical refuses ({_cut(error_line(exc), 80)})"
    return None if canonical == arch else f"which is not canonical (canonical gives {_shown(canonical)})"


def _check_mutate(report: _Report, space, archs: list[str], seed: int) -> None:
    refused = {kind: 0 for kind in ("op", "connectivity")}
    for i, arch in enumerate(archs):
        for kind in refused:
            call = f"mutate({_shown(arch)}, rng, {kind!r})"
            with report.step(call):
                try:
                    child = space.mutate(arch, random.Random(seed + i), kind)
                except SwapfwError:  # a space may have no such mutation (of this architecture)
                    refused[kind] += 1
                    continue
                if not report.expect(isinstance(child, str), f"{call} gave {_shown(child)}, not a string"):
                    continue
                why = _not_canonical(space, child)
                report.expect(why is None, f"{call} gave {_shown(child)}, {why}")
                report.expect(child != arch, f"{call} returned its parent: a mutation must differ from it")
                report.expect(space.mutate(arch, random.Random(seed + i), kind) == child,
                              f"{call} gave another child for the same rng seed")
    report.expect(not archs or min(refused.values()) < len(archs),
                  "mutate refused every architecture, in both kinds: a search could not move")


def _check_crossover(report: _Report, space, archs: list[str], seed: int) -> None:
    for i, (a, b) in enumerate(zip(archs[::2], archs[1::2])):
        call = f"crossover({_shown(a, 40)}, {_shown(b, 40)}, rng)"
        with report.step(call):
            children = space.crossover(a, b, random.Random(seed + i))
            if not report.expect(isinstance(children, (tuple, list)) and len(children) == 2
                                 and all(isinstance(c, str) for c in children),
                                 f"{call} should give two strings, gave {_shown(children)}"):
                continue
            for child in children:
                why = _not_canonical(space, child)
                report.expect(why is None, f"{call} gave {_shown(child)}, {why}")
            report.expect(tuple(space.crossover(a, b, random.Random(seed + i))) == tuple(children),
                          f"{call} gave other children for the same rng seed")


def _check_encodings(report: _Report, space, archs: list[str]) -> None:
    if hasattr(space, "parse") and hasattr(space, "format"):
        for arch in archs:
            with report.step(f"format(parse({_shown(arch)}))"):
                back = space.format(space.parse(arch))
                report.expect(back == arch, f"format(parse({_shown(arch)})) gave {_shown(back)}, not the string")
    for fmt in getattr(space, "formats", None) or ():
        for arch in archs:
            call = f"encode({_shown(arch)}, {fmt!r})"
            with report.step(call):
                try:
                    value = space.encode(arch, fmt)
                except SwapfwError:  # an encoding of part of the space (NAS-Bench-301 has no 'none' edge)
                    continue
                if not report.expect(isinstance(value, str), f"{call} gave {_shown(value)}, not a string"):
                    continue
                try:
                    back = space.decode(value, fmt)
                except SwapfwError:  # a one-way encoding (a hash) says so in a SwapfwError
                    continue
                report.expect(space.canonical(back) == arch,
                              f"decode({_shown(value)}, {fmt!r}) gave {_shown(back)}, not {_shown(arch)}")


def _space_shape(space, options: dict, given) -> tuple:
    if given is not None:
        return tuple(given)
    shape_for = getattr(space, "input_shape_for", None)
    return tuple(shape_for(**options) if shape_for else space.input_shape)


def _check_build(report: _Report, space, archs: list[str], options: dict, input_shape, forward: bool,
                 seed: int) -> None:
    shape = None
    with report.step(f"input_shape_for({_shown(options)})"):
        shape = _space_shape(space, options, input_shape)
    for arch in archs:
        call = f"build({_shown(arch)}, **{_shown(options)})"
        with report.step(call):
            module = space.build(arch, **options)
            if not report.expect(isinstance(module, nn.Module), f"{call} gave a {type(module).__name__}, "
                                                                "not a torch.nn.Module"):
                continue
            built = sum(p.numel() for p in module.parameters())
            if hasattr(space, "count_params"):
                counted = space.count_params(arch, **options)
                report.expect(counted == built, f"count_params({_shown(arch)}) is {counted}, the built network "
                                                f"has {built} parameters")
            if forward and shape is not None:
                x = torch.randn((2, *shape), generator=torch.Generator().manual_seed(seed))
                with torch.no_grad():
                    out = module.eval()(x)
                report.expect(all(torch.isfinite(t).all() for t in _tensors(out)),
                              f"{call}'s network gave non-finite outputs on 2 samples of shape {shape}")


def _tensors(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        return [t for item in out for t in _tensors(item)]
    return []


def _check_facts(report: _Report, space, archs: list[str]) -> None:
    if hasattr(space, "describe"):
        with report.step("describe()"):
            json.dumps(space.describe())
    for name, preset in (getattr(space, "protocols", None) or {}).items():
        report.expect(isinstance(preset, Preset), f"protocol {name!r} is a {type(preset).__name__}, "
                                                  "not a swapfw.plugin_api.Preset")
    if hasattr(space, "features"):
        with report.step("features(arch)"):
            rows = [space.features(arch) for arch in archs]
            report.expect(all(isinstance(r, dict) for r in rows), "features(arch) should return a dict name -> number")
            report.expect(len({tuple(sorted(r)) for r in rows}) <= 1, "features(arch) names other features for "
                                                                     "other architectures (want the same names)")
            report.expect(all(math.isfinite(float(v)) for r in rows for v in r.values()),
                          "features(arch) gave a value that is not a finite number")
    if hasattr(space, "enumerate"):
        with report.step("enumerate()"):
            everything = list(space.enumerate())
            report.expect(len(set(everything)) == len(everything), "enumerate() lists an architecture twice")
            report.expect(set(archs) <= set(everything), "enumerate() lacks architectures that sample gave")
            for arch in everything[:5]:
                why = _not_canonical(space, arch)
                report.expect(why is None, f"enumerate() gave {_shown(arch)}, {why}")


# --- proxies -----------------------------------------------------------------------------------


def small_network(classes: int = 10) -> nn.Module:
    """Conv-BN-ReLU twice, pooling, a linear head: the network ``check_proxy`` scores by default."""
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes))


def check_proxy(proxy, model: nn.Module | None = None, *, input_shape: tuple = (3, 32, 32), batch: int = 8,
                seed: int = 0, argument: str | None = None) -> float | list:
    """Check a proxy; returns its value for ``model`` (default: ``small_network()``).

    A per-network proxy is scored as the core scores it (``swapfw.prepare``, a gaussian batch,
    labelled where it ``needs`` targets), twice, in different global random states: a number
    (NaN allowed), the same both times, and the network's weights and buffers as they were
    (BatchNorm's running statistics aside: the core's own pattern count moves them, and every
    fresh copy resets them). A derived proxy combines made-up parts, and its parts measured
    through the registry where they are registered; a population one combines made-up columns.
    A parametrised proxy is checked as configured with ``argument``.
    """
    report = _Report(_title("proxy", proxy))
    protocol = contracts.protocol_for("proxies", proxy)
    if not report.contract(protocol, proxy):
        report.done()
    if protocol is contracts.ParametrisedProxy:
        if argument is None:
            report.done()
            return math.nan
        with report.step(f"configure({argument!r})"):
            proxy = proxy.configure(argument)
            protocol = contracts.protocol_for("proxies", proxy, configured=True)
            report.contract(protocol, proxy)
        report.done()
    unknown = set(getattr(proxy, "needs", None) or ()) - set(contracts.NEEDS)
    report.expect(not unknown, f"needs {sorted(unknown)}, which the core does not know "
                               f"(known: {', '.join(contracts.NEEDS)})")
    model = model if model is not None else small_network()
    if protocol is contracts.PopulationProxy:
        value = _check_population(report, proxy)
    elif protocol is contracts.DerivedProxy:
        value = _check_derived(report, proxy, model, input_shape, batch, seed)
    else:
        value = _check_scored(report, proxy, model, input_shape, batch, seed)
    report.done()
    return value


def _prepared(model: nn.Module, proxy, input_shape: tuple, batch: int, seed: int):
    """The network and batch the core would hand the proxy: ``swapfw.prepare`` of a copy of
    ``model``, a gaussian batch, with labels where the proxy needs targets."""
    network = prepare(copy.deepcopy(model), input_shape=input_shape, seed=seed)
    data = load_batch("gaussian", batch, tuple(input_shape), seed)
    if "targets" in (getattr(proxy, "needs", None) or ()):
        with torch.no_grad():  # labels below the output width, read from a copy (BN statistics untouched)
            classes = copy.deepcopy(model).eval()(data.inputs[:1]).shape[-1]
        targets = torch.randint(0, classes, (batch,), generator=torch.Generator().manual_seed(seed))
        data = Batch(data.inputs, targets, "swapfw.testing labelled gaussian")
    return network, data


#: buffers the core itself leaves as scratch: a pattern count runs the shared network in train mode,
#: and every fresh copy (``plugin_api.fresh_for``) resets them
_BN_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")


def _state(network) -> list[torch.Tensor]:
    """Copies of the weights and buffers a proxy must leave as they are (BatchNorm statistics aside)."""
    tensors = {}
    for root in (network.module, network.loaded.module):
        for module in root.modules():
            scratch = _BN_STATISTICS if isinstance(module, nn.modules.batchnorm._BatchNorm) else ()
            buffers = (b for name, b in module.named_buffers(recurse=False) if name not in scratch)
            tensors.update((id(t), t) for t in itertools.chain(module.parameters(recurse=False), buffers))
    return [t.detach().clone() for t in tensors.values()]


def _check_scored(report: _Report, proxy, model, input_shape, batch, seed) -> float:
    values = []
    for state_seed in (1, 2):
        with report.step(f"score(network, batch, seed={seed})"), _global_random_state(state_seed):
            network, data = _prepared(model, proxy, input_shape, batch, seed)
            before = _state(network)
            value = proxy.score(network, data, seed=seed)
            try:
                values.append(float(value))
            except (TypeError, ValueError):
                report.fail(f"score gave {_shown(value)}, not a number")
                return math.nan
            after = _state(network)
            report.expect(len(before) == len(after) and all(torch.equal(a, b) for a, b in zip(before, after)),
                          "score changed the network's weights or buffers: score a copy (plugin_api.fresh_for)")
    if len(values) == 2:
        report.expect(_same(*values), f"score gave {values[0]!r}, then {values[1]!r} for the same seed "
                                      "(draw randomness from the seed, not the global random state)")
    return values[0] if values else math.nan


def _made_up_settings(proxy, parts: dict) -> dict:
    """``combine``'s settings: mu, sigma, and a reference sample per part where the proxy reads one."""
    settings = {"mu": 1.0, "sigma": 1.0}
    if getattr(proxy, "reference", None):
        settings["reference"] = {p: sorted([v / 2, v, 2 * v, v - 1, v + 1]) for p, v in parts.items()}
    return settings


def _combined(report: _Report, proxy, parts: dict) -> float:
    settings = _made_up_settings(proxy, parts)
    kept = copy.deepcopy((parts, settings))
    first = proxy.combine(parts, settings)
    report.expect(_same_tree((parts, settings), kept), "combine changed the values or settings it was given")
    try:
        first = float(first)
    except (TypeError, ValueError):
        report.fail(f"combine gave {_shown(first)}, not a number")
        return math.nan
    report.expect(_same(float(proxy.combine(dict(parts), _made_up_settings(proxy, parts))), first),
                  "combine gave another value for the same values")
    return first


def _same_tree(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_tree(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_tree(x, y) for x, y in zip(a, b))
    return _same(a, b)


def _check_derived(report: _Report, proxy, model, input_shape, batch, seed) -> float:
    parts = tuple(proxy.derived_from)
    report.expect(bool(parts), "derived_from names no proxy")
    made_up = {part: float(100 + 10 * i) for i, part in enumerate(parts)}
    with report.step(f"combine({_shown(made_up)}, settings)"):
        _combined(report, proxy, made_up)
    registered = set(plugins.names("proxies"))
    if not parts or not set(parts) <= registered:
        return math.nan
    value = math.nan
    with report.step("combine of its parts measured on a network"):
        network, data = _prepared(model, proxy, input_shape, batch, seed)
        measured = {part: run_proxy(part, network, data, seed) for part in parts}
        value = _combined(report, proxy, measured)
    return value


def _check_population(report: _Report, proxy) -> list:
    columns = {part: [float((7 * i + 3 * k) % 5) for i in range(6)] for k, part in enumerate(proxy.derived_from)}
    call = f"combine_population({_shown(columns)}, settings)"
    values: list = []
    with report.step(call):
        kept = copy.deepcopy(columns)
        values = proxy.combine_population(columns, {"mu": 1.0, "sigma": 1.0})
        report.expect(_same_tree(columns, kept), "combine_population changed the values it was given")
        if report.expect(isinstance(values, (list, tuple)) and len(values) == 6,
                         f"{call} should give one value per architecture (6), gave {_shown(values)}"):
            values = [float(v) for v in values]
            again = [float(v) for v in proxy.combine_population(copy.deepcopy(kept), {"mu": 1.0, "sigma": 1.0})]
            report.expect(_same_tree(values, again), f"{call} gave other values the second time")
    return values


# --- searchers ---------------------------------------------------------------------------------


class TinySpace:
    """``A-B-C``, three digits 0-7: 512 architectures, each an MLP on 3x4x4 inputs whose hidden
    widths grow with the digits. Small enough to search and score in a test."""

    name = "swapfw-testing-tiny"
    description = "the conformance kit's space: 512 tiny MLPs"
    input_shape = (3, 4, 4)
    DIGITS = 8

    def canonical(self, arch: str) -> str:
        return "-".join(map(str, self._digits(arch)))

    def _digits(self, arch) -> tuple[int, ...]:
        parts = arch.strip().split("-") if isinstance(arch, str) else []
        if len(parts) != 3 or not all(p.isdigit() and int(p) < self.DIGITS for p in parts):
            raise SwapfwError(f"bad {self.name} architecture {_shown(arch)}: expected A-B-C with digits 0-7")
        return tuple(int(p) for p in parts)

    def build(self, arch: str, *, classes: int = 10) -> nn.Module:
        a, b, c = self._digits(arch)
        return nn.Sequential(nn.Flatten(), nn.Linear(48, 2 + a), nn.ReLU(), nn.Linear(2 + a, 2 + b), nn.ReLU(),
                             nn.Linear(2 + b, 2 + c), nn.ReLU(), nn.Linear(2 + c, classes))

    def sample(self, count: int, seed: int) -> list[str]:
        size = self.DIGITS ** 3
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= size:
            raise SwapfwError(f"{self.name} can sample 1 to {size} architectures, not {count!r}")
        return [self._arch(n) for n in random.Random(seed).sample(range(size), count)]

    def _arch(self, number: int) -> str:
        return f"{number // 64}-{number // 8 % 8}-{number % 8}"

    def mutate(self, arch: str, rng: random.Random, kind: str = "op") -> str:
        digits = list(self._digits(arch))
        i = rng.randrange(3)
        digits[i] = rng.choice([d for d in range(self.DIGITS) if d != digits[i]])
        return "-".join(map(str, digits))

    def crossover(self, a: str, b: str, rng: random.Random) -> tuple[str, str]:
        x, y = self._digits(a), self._digits(b)
        swap = [rng.random() < 0.5 for _ in x]
        return ("-".join(str(q if s else p) for p, q, s in zip(x, y, swap)),
                "-".join(str(p if s else q) for p, q, s in zip(x, y, swap)))

    def enumerate(self) -> list[str]:
        return [self._arch(n) for n in range(self.DIGITS ** 3)]


def made_up_score(arch: str) -> float:
    """A score for any architecture string, the same in every process: what ``check_searcher`` scores with."""
    return (zlib.crc32(arch.encode()) % 100_003) / 100_003


class _Evaluate:
    """What the core hands a searcher as ``evaluate`` (``swapfw.studies.search.Evaluator``), scoring
    with ``made_up_score``: de-duplicated by canonical string, counted, BudgetSpent when the budget of
    distinct architectures is spent; it records every call, and stops a searcher that goes on."""

    #: calls after which a run that has not ended is stopped (it would never end)
    LIMIT = 10_000

    def __init__(self, report: _Report, space, budget: int | None):
        self.report, self.space, self.budget = report, space, budget
        self.scores: dict[str, float] = {}
        self.calls: list[list[str]] = []
        self.spent = False

    def known(self, arch: str) -> bool:
        return self.space.canonical(arch) in self.scores

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else max(0, self.budget - len(self.scores))

    def __call__(self, archs) -> list[float]:
        if self.spent:
            self.report.fail("run called evaluate again after it raised BudgetSpent: let BudgetSpent end the run")
            raise _Stop
        if len(self.calls) >= self.LIMIT:
            self.report.fail(f"run called evaluate {self.LIMIT:,} times without ending")
            raise _Stop
        archs = list(archs)
        self.calls.append(archs)
        canonical = [self.space.canonical(a) for a in archs]
        new = [a for a in dict.fromkeys(canonical) if a not in self.scores]
        room = len(new) if self.budget is None else max(0, self.budget - len(self.scores))
        for arch in new[:room]:
            self.scores[arch] = made_up_score(arch)
        if room < len(new):
            self.spent = True
            raise BudgetSpent
        return [self.scores[a] for a in canonical]

    def objectives(self, archs) -> list[dict]:
        """The proxy's made-up score and a made-up cost (``params``: the length of the canonical string)."""
        return [{"proxy": score, "params": len(self.space.canonical(a))} for a, score in zip(archs, self(archs))]


def check_searcher(searcher, *, budget: int = 20, cycles: int = 3, seed: int = 0, space=None,
                   population: int = 6, sample_size: int = 3, mutations: int = 3) -> tuple[str, float]:
    """Check a searcher on ``space`` (default: ``TinySpace()``); returns what its cycles run found.

    Three runs: ``cycles`` cycles twice, in different global random states (the same calls and
    result: randomness from ``rng`` only), then no cycle limit and a ``budget`` of distinct
    architectures (it must end: by letting BudgetSpent through, or by returning).
    """
    report = _Report(_title("searcher", searcher))
    if not report.contract(contracts.Searcher, searcher):
        report.done()
    space = space if space is not None else TinySpace()
    settings = SearchSettings(space=getattr(space, "name", "space"), population=population, cycles=cycles,
                              sample_size=sample_size, mutations=mutations, seed=seed, cache="",
                              objectives=["proxy", "params"] if getattr(searcher, "multi_objective", False) else None)
    runs = []
    for state_seed in (1, 2):
        evaluate, history = _Evaluate(report, space, None), []
        found = None
        with report.step(f"run(space, evaluate, settings with cycles={cycles}, rng, on_cycle)"), \
                _global_random_state(state_seed):
            found = searcher.run(space, evaluate, settings, random.Random(seed), history.append)
            _check_found(report, space, evaluate, found)
            report.expect(len(history) == cycles, f"run called on_cycle {len(history)} times in {cycles} cycles "
                                                  "(once per cycle)")
            report.expect(all(isinstance(s, (int, float)) for s in history),
                          f"on_cycle got {_shown(history)}, not best scores")
        runs.append((evaluate.calls, history, found))
    if len(runs) == 2 and runs[0][2] is not None:
        report.expect(runs[0] == runs[1], "two runs with the same seed made different choices (draw randomness "
                                          "from rng only, never from the global random state)")
    _check_budget(report, searcher, space, settings, budget)
    report.done()
    return runs[0][2]


def _check_found(report: _Report, space, evaluate: _Evaluate, found) -> None:
    if not report.expect(isinstance(found, (tuple, list)) and len(found) == 2, f"run returned {_shown(found)}, "
                                                                              "not (arch, score)"):
        return
    arch, score = found
    canonical = space.canonical(arch)
    if report.expect(canonical in evaluate.scores, f"run returned {_shown(arch)}, which it never evaluated"):
        report.expect(_same(float(score), evaluate.scores[canonical]),
                      f"run returned score {score!r} for {_shown(arch)}, evaluate gave {evaluate.scores[canonical]!r}")


def _check_budget(report: _Report, searcher, space, settings, budget: int) -> None:
    """No cycle limit, a budget: the run ends by BudgetSpent or a return, as the core's search expects."""
    evaluate = _Evaluate(report, space, budget)
    state = {"cycles": 0, "met": 0, "idle": 0, "after": 0}

    def on_cycle(best_score) -> None:  # the core's stall rule: no new architecture for many cycles ends it
        state["cycles"] += 1
        state["idle"] = 0 if len(evaluate.scores) > state["met"] else state["idle"] + 1
        state["met"] = len(evaluate.scores)
        if evaluate.spent:
            state["after"] += 1
            if state["after"] > 1:
                report.fail("run went on cycling after evaluate raised BudgetSpent")
                raise _Stop
        if state["idle"] >= STALLED_CYCLES:
            raise _Stop  # the core ends such a run (Stalled); not a fault of the searcher

    call = f"run(space, evaluate, settings with cycles=None and budget={budget}, rng, on_cycle)"
    with report.step(call):
        try:
            found = searcher.run(space, evaluate, replace(settings, cycles=None, budget=budget),
                                 random.Random(settings.seed), on_cycle)
        except BudgetSpent:
            return
        if not evaluate.spent:  # it stopped by itself: what it returns must be what it scored
            _check_found(report, space, evaluate, found)


# --- binarisers --------------------------------------------------------------------------------


def check_binariser(binariser, *, shape: tuple = (8, 4, 5, 5), seed: int = 0) -> torch.Tensor:
    """Check a binariser; returns its bits for a random tensor of ``shape`` (samples first)."""
    report = _Report(_title("binariser", binariser))
    if not report.contract(contracts.Binariser, binariser):
        report.done()
    report.expect(getattr(binariser, "tap", None) in ("output", "input"),
                  f"tap is {getattr(binariser, 'tap', None)!r}, not 'output' or 'input'")
    unknown = set(binariser.handles) - set(ACTIVATIONS)
    report.expect(not unknown, f"handles {sorted(unknown)}, which are not activation kinds the core knows")
    bits = None
    for value_shape in (tuple(shape), tuple(shape[:2])):
        call = f"binarise(a tensor of shape {value_shape})"
        with report.step(call):
            value = torch.randn(value_shape, generator=torch.Generator().manual_seed(seed))
            kept = value.clone()
            out = binariser.binarise(value)
            report.expect(torch.equal(value, kept), f"{call} changed its input")
            if not report.expect(isinstance(out, torch.Tensor) and out.dtype == torch.bool and out.shape == value.shape,
                                 f"{call} gave {_described(out)}, not a bool tensor of shape {value_shape}"):
                continue
            report.expect(torch.equal(binariser.binarise(kept.clone()), out), f"{call} gave other bits the second time")
            bits = out if bits is None else bits
    report.done()
    return bits


def _described(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


# --- executors ---------------------------------------------------------------------------------


class _TinySpacePlugin:
    """Registers ``TinySpace`` from code, as a user's notebook would: tasks carry it to workers."""

    @hookimpl
    def register_spaces(self, register):
        register(TinySpace())


#: the name ``check_executor`` registers ``TinySpace`` under, for the length of the check
KIT_PLUGIN = "swapfw-testing-kit"


@contextlib.contextmanager
def _tiny_space_registered():
    added = TinySpace.name not in plugins.names("spaces")
    if added:
        plugins.register_plugin(_TinySpacePlugin(), name=KIT_PLUGIN)
    try:
        yield
    finally:
        if added:
            plugins.unregister_plugin(KIT_PLUGIN)


def _task_proxies() -> tuple[str, ...]:
    """The per-network proxies that play a role (SWAP, |A|, size, FLOPs: what every install scores)."""
    registry = plugins.get_registry()
    return tuple(sorted(name for name in set(registry.roles.values())
                        if contracts.protocol_for("proxies", registry.get("proxies", name)) is contracts.Proxy))


def _tasks(count: int, seed: int) -> list[Task]:
    archs, proxies = TinySpace().sample(count, seed), _task_proxies()
    return [Task(space=TinySpace.name, arch=arch, proxies=proxies, data="gaussian", batch=8, seed=seed,
                 input_shape=TinySpace.input_shape, plugins=plugins.worker_state()) for arch in archs]


def _local_results(tasks: list[Task]) -> list[TaskResult]:
    with torch_threads(1):
        return [run_task(task) for task in tasks]


def check_executor(executor, *, workers: int = 2, tasks: int = 4, seed: int = 0) -> dict:
    """Check an executor; returns ``{index: TaskResult}`` from its pool.

    It opens a pool for ``ExecutorSpec(workers=workers, threads=1)``, runs ``tasks`` tasks on
    ``TinySpace`` (registered from code for the check, so the tasks must carry it) and closes it;
    every index comes back once, with the values ``run_task`` gives in this process.
    """
    report = _Report(_title("executor", executor))
    if not report.contract(contracts.Executor, executor):
        report.done()
    results: dict = {}
    with _tiny_space_registered():
        work = _tasks(tasks, seed)
        expected = _local_results(work)
        report.expect(all(not r.errors for r in expected), f"the kit's own tasks failed here: "
                                                          f"{[r.errors for r in expected if r.errors][:1]}")
        spec = ExecutorSpec(name=getattr(executor, "name", None), workers=workers, threads=1)
        pool = None
        with report.step(f"open({spec})"):
            pool = executor.open(spec)
        if pool is not None and report.contract(contracts.Pool, pool):
            with report.step(f"pool.run({len(work)} tasks)"):
                try:
                    for index, outcome in pool.run(list(work)):
                        if not report.expect(isinstance(index, int) and 0 <= index < len(work),
                                             f"pool.run yielded index {_shown(index)}, not one of 0..{len(work) - 1}"):
                            continue
                        report.expect(index not in results, f"pool.run yielded index {index} twice")
                        results[index] = outcome
                finally:
                    with report.step("pool.close()"):
                        pool.close()
            missing = sorted(set(range(len(work))) - set(results))
            report.expect(not missing, f"pool.run never yielded the tasks {missing}")
            for index, outcome in sorted(results.items()):
                if not report.expect(isinstance(outcome, TaskResult),
                                     f"task {index} came back as {_shown(outcome)}, not a TaskResult"):
                    continue
                report.expect(not outcome.errors, f"task {index} failed: {outcome.errors}")
                report.expect(_same_tree(outcome.values, expected[index].values),
                              f"task {index} gave {outcome.values}, run_task here gives {expected[index].values}")
        elif pool is not None:
            with report.step("pool.close()"):
                getattr(pool, "close", lambda: None)()
    report.done()
    return results


# --- evaluators ----------------------------------------------------------------------------------


def _check_options(report: _Report, declared: dict | None, options: dict, opened) -> None:
    """Options a plugin declares are one line of help each and cover ``options``; a plugin that declares
    none refuses an unknown one in ``opened(options)`` with a one-line SwapfwError naming it."""
    if declared is not None:  # the core refuses any other option before open
        report.expect(all(isinstance(k, str) and isinstance(v, str) for k, v in declared.items()),
                      "options should map each option's name to one line of help (strings)")
        report.expect(set(options) <= set(declared), f"options {sorted(set(options) - set(declared))} are not declared "
                                                     "in its options")
        return
    try:
        opened({**options, "no-such-option": "1"})
        report.fail("open() accepted an unknown option 'no-such-option' (raise SwapfwError naming it, or "
                    "declare options)")
    except SwapfwError as exc:
        report.expect("\n" not in str(exc) and "no-such-option" in str(exc),
                      f"the unknown option's error should be one line naming it, got {_cut(str(exc))!r}")
    except Exception as exc:
        report.fail(f"an unknown option raised {error_line(exc)}, not a SwapfwError")


def check_evaluator(evaluator, space, options: dict, *, archs: list[str] | None = None, seed: int = 0,
                    build_options: dict | None = None) -> list[tuple[float, float]]:
    """Check an evaluator on architectures of ``space`` (default: two it samples) with ``options``
    (its ``--evaluator-option``s); returns ``(value, seconds)`` per architecture."""
    report = _Report(_title("evaluator", evaluator))
    if not report.contract(contracts.Evaluator, evaluator):
        report.done()
    archs = archs or space.sample(2, seed)

    def build(arch: str):
        return space.build(arch, **(build_options or {}))

    def opened():
        return evaluator.open(space, dict(options), seed=seed, device="cpu", build=build)

    _check_options(report, getattr(evaluator, "options", None), options,
                   lambda given: evaluator.open(space, given, seed=seed, device="cpu", build=build))
    results = []
    with report.step("open(space, options, seed=..., device='cpu', build=...)"):
        measure = opened()
        for arch in archs:
            with report.step(f"measure({_shown(arch)})"):
                got = measure(arch)
                if not report.expect(isinstance(got, tuple) and len(got) == 2,
                                     f"measure({_shown(arch)}) gave {_described(got)}, not (value, seconds)"):
                    continue
                value, seconds = float(got[0]), float(got[1])
                report.expect(math.isfinite(value), f"measure({_shown(arch)}) gave the value {value}")
                report.expect(math.isfinite(seconds) and seconds >= 0,
                              f"measure({_shown(arch)}) gave the cost {seconds} s (want seconds >= 0)")
                results.append((value, seconds))
        if results and archs:
            again = opened()(archs[0])
            report.expect(float(again[0]) == results[0][0],
                          f"measure({_shown(archs[0])}) gave {again[0]} with the same seed, {results[0][0]} before")
    report.done()
    return results


# --- latency meters ------------------------------------------------------------------------------


def check_latency_meter(meter, space, options: dict | None = None, *, archs: list[str] | None = None,
                        batch: int = 1, threads: int | None = 1, build_options: dict | None = None) -> list[float]:
    """Check a latency meter on architectures of ``space`` (default: two it samples) with ``options``
    (its ``--latency-option``s); returns the milliseconds of each. A meter that measures here is run
    on the CPU."""
    report = _Report(_title("latency meter", meter))
    if not report.contract(contracts.LatencyMeter, meter):
        report.done()
    archs = archs or space.sample(2, 0)
    options = dict(options or {})
    shape = tuple(getattr(space, "input_shape", (3, 32, 32)))

    def opened(given: dict):
        return meter.open(space, given, device="cpu", batch=batch, threads=threads,
                          build=lambda arch: space.build(arch, **(build_options or {})), input_shape=shape)

    _check_options(report, getattr(meter, "options", None), options, opened)
    results = []
    with report.step("open(space, options, device='cpu', batch=..., threads=..., build=..., input_shape=...)"):
        measure = opened(options)
        for arch in archs:
            with report.step(f"measure({_shown(arch)})"):
                got = measure(arch)
                if report.expect(isinstance(got, (int, float)) and not isinstance(got, bool),
                                 f"measure({_shown(arch)}) gave {_described(got)}, not milliseconds"):
                    report.expect(math.isfinite(got) and got >= 0, f"measure({_shown(arch)}) gave {got} ms")
                    results.append(float(got))
    report.done()
    return results
