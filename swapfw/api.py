"""The public Python API: one function per command, the command's options as keyword arguments.

``swapfw.score``, ``correlate``, ``search``, ``convert``, ``export``, ``protocols``,
``space_info``, ``run_spec`` (``swapfw run``) and ``plugin_info`` (``swapfw plugins``) take the
options of their command with dashes as underscores (``--space-option`` -> ``space_options``, a
dict or ``KEY=VALUE`` strings; ``--input-shape`` -> ``input_shape``, a tuple or ``"C,H,W"``; a
comma list as a list or the same comma text) and return a result whose ``to_dict()`` is exactly
what the command prints with ``--format json``. The ``swapfw`` command parses options, calls
these and formats what they return: nothing else.

Long calls take ``progress``: a callable ``progress(advance, total, label)``, called with
``advance`` 0 once the settings are accepted and then as the work advances.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

from . import options as opt
from .errors import OptionError, SwapfwError

__all__ = ["score", "correlate", "search", "convert", "export", "protocols", "space_info", "run_spec",
           "plugin_info", "Result", "CorrelationResult", "SearchResult", "SpecResult"]


class Result(Mapping):
    """A command's answer: its fields as keys or attributes; ``to_dict()`` is exactly what the
    command prints with ``--format json`` (a fresh, JSON-ready copy)."""

    def __init__(self, data: dict):
        self._data = data

    def to_dict(self) -> dict:
        return json.loads(json.dumps(self._data))

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name):
        try:
            return self.__dict__["_data"][name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r} (fields: {', '.join(self._data)})") \
                from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._data)})"


class CorrelationResult(Result):
    """``correlate``'s summary; ``report`` also holds every architecture's scores (``per_seed``),
    what ``--save`` writes and ``--plot`` draws."""

    def __init__(self, report: dict):
        super().__init__({k: v for k, v in report.items() if k != "per_seed"})
        self.__dict__["report"] = report

    def save(self, path: str) -> None:
        """Write the full report, every score included, as JSON."""
        with open(path, "w") as fh:
            json.dump(self.report, fh)

    def plot(self, path: str) -> None:
        """Draw each proxy's scores against the truth (a PNG; needs matplotlib)."""
        from .studies.plot import scatter

        scatter(self.report, path)


class SearchResult(Result):
    """``search``'s report: the best architecture, its score and size, what the search cost (and,
    with objectives, the Pareto ``front``)."""

    def plot(self, path: str) -> None:
        """Draw the Pareto front over every architecture scored within budget (a search with objectives)."""
        from .studies.budgets import plot_front

        if "front" not in self._data:
            raise OptionError("--plot draws the Pareto front of a search with --objectives")
        plot_front(self._data, path)


class SpecResult(Result):
    """``run_spec``'s report: every run's correlation summary and, across them, the comparison table."""


# --- scoring one model -------------------------------------------------------------------------


def score(model, *, protocol: str | None = None, data: str | None = None, batch: int | None = None,
          repeats: int | None = None, input_shape=None, seed: int = 0, device: str = "cpu", init: str = "random",
          mu=None, sigma=None, binariser: str | None = None, proxies=(), space_options=None, cache: str | None = None,
          threads: int | None = None, progress=None):
    """Score MODEL (an .onnx path, ``package.module:callable``, ``SPACE:ARCH`` or an ``nn.Module``):
    SWAP, |A|, size and FLOPs, regularised SWAP with ``mu``/``sigma`` (numbers, or ``"auto"`` for a
    SPACE:ARCH model), and any ``proxies``. Returns a ``ScoreResult``; ``progress`` shows the reference work
    ``auto`` and calibrated proxies need (once per space and protocol, then kept in ``cache``, a score
    cache file); ``threads``: torch threads for this call."""
    from .running.process import torch_threads
    from .scoring.proxies import DEFAULT, default_proxy, resolve_default
    from .scoring.score import score as score_model

    build_options, shape = opt.space_options(space_options), opt.shape(input_shape)
    requested = tuple(opt.names(proxies, "--proxy") or ())
    space = _space_of(model, build_options) if DEFAULT in requested else None
    proxies = tuple(resolve_default(list(requested), space))
    if threads is not None and threads < 1:
        raise OptionError(f"--threads must be at least 1, got {threads}")
    with torch_threads(threads):
        derivation = _score_derivation(model, proxies, mu, sigma, protocol=protocol, data=data, batch=batch,
                                       repeats=repeats, build_options=build_options, input_shape=shape,
                                       binariser=binariser, device=device, progress=progress, cache=cache,
                                       threads=threads)
        result = score_model(model, data=data, batch=batch, input_shape=shape, seed=seed, device=device, init=init,
                             derivation=derivation, binariser=binariser, proxies=proxies,
                             build_options=build_options, protocol=protocol, repeats=repeats)
    if DEFAULT in requested:  # reported under the name asked for, with what it stood for
        result.default = default_proxy(space)
        result.proxies = {name: result.proxies[result.default if name == DEFAULT else name] for name in requested}
    return result


def _space_of(model, build_options):
    """The space of a SPACE:ARCH model, None for any other: where ``default`` finds its ranking
    (without a space, the proxy that declares itself the default)."""
    from .graph.importers import parse_space_model
    from .plugins import get_space

    in_space = parse_space_model(model)
    return get_space(in_space[0], build_options) if in_space else None


def _score_derivation(model, proxies: tuple[str, ...], mu, sigma, progress=None, cache=None, threads=None,
                      **scoring):
    """What the derived proxies of one score read, made as ``correlate`` and ``search`` make it: mu and
    sigma (``auto`` from the space's reference sizes) and calibrated proxies' reference samples."""
    from .graph.importers import parse_space_model
    from .plugins import get_space
    from .running.executors import ExecutorSpec, open_pool
    from .scoring.proxies import Derivation, calibrated, proxy_plan, role_proxy
    from .scoring.regularise import parse_mu_sigma
    from .studies import reference
    from .studies.cache import ScoreCache
    from .studies.evaluate import NoCache, ScoringSettings

    mu, sigma = parse_mu_sigma(mu), parse_mu_sigma(sigma)
    if (mu is None) != (sigma is None):
        raise SwapfwError("regularised SWAP needs both --mu and --sigma")
    names = list(proxies) + ([role_proxy("regularised_swap")] if mu is not None else [])
    in_space = parse_space_model(model)
    needs_reference = calibrated(proxy_plan(names)[1])
    if in_space is None:
        if "auto" in (mu, sigma):
            raise SwapfwError("--mu/--sigma auto derive from a search space's sampled sizes: score a SPACE:ARCH "
                              "model, or give numbers")
        if needs_reference:
            raise SwapfwError(f"proxy {needs_reference[0]!r} compares a network with a reference sample of its "
                              "search space: score a SPACE:ARCH model")
        return Derivation(mu, sigma)
    if "auto" not in (mu, sigma) and not needs_reference:
        return Derivation(mu, sigma)
    settings = ScoringSettings(space=in_space[0], **scoring)
    counted = hasattr(get_space(settings.space, settings.build_options), "count_params")
    cache = ScoreCache(cache) if needs_reference or not counted else NoCache()
    try:
        with open_pool(ExecutorSpec(device=settings.device, threads=threads)) as pool:
            return reference.derivation(settings, names, mu, sigma, cache, pool, progress)
    finally:
        cache.close()


# --- studies of many architectures ---------------------------------------------------------------


def _scoring_settings(*, protocol, data, batch, repeats, space_options, input_shape, mu, sigma, binariser, device,
                      cache, no_cache) -> dict:
    """The options that fix how architectures are scored, as settings fields (None: the protocol's)."""
    fields = {"protocol": protocol, "data": data, "batch": batch, "repeats": repeats,
              "build_options": opt.space_options(space_options) if space_options is not None else None,
              "input_shape": opt.shape(input_shape), "mu": mu, "sigma": sigma, "binariser": binariser,
              "device": device, "cache": "" if no_cache else cache}
    return {k: v for k, v in fields.items() if v is not None}


def _executor(executor, workers, threads, ray_address):
    from .running.executors import ExecutorSpec

    return ExecutorSpec(name=executor, workers=workers, threads=threads, address=ray_address)


def correlate(*, space: str, truth: str, metric: str, proxies=None, samples: int = 1000, seeds=(0,),
              arch_column: str | None = None, arch_format: str = "arch", protocol: str | None = None,
              data: str | None = None, batch: int | None = None, repeats: int | None = None, space_options=None,
              input_shape=None, mu="auto", sigma="auto", binariser: str | None = None, device: str = "cpu",
              cache: str | None = None, no_cache: bool = False, executor: str | None = None,
              workers: int | None = None, threads: int | None = None, ray_address: str | None = None,
              plot: str | None = None, save: str | None = None, progress=None) -> CorrelationResult:
    """Spearman and Kendall correlation of ``proxies`` (default: the space's default ranking, under
    the name ``default``, and the headline ones, swap, regswap, params, flops) with the ``metric``
    column of the ground-truth CSV ``truth``, over ``samples``
    architectures per seed. ``save`` writes every score as JSON, ``plot`` a scatter PNG."""
    from .studies.correlate import CorrelateSettings

    settings = CorrelateSettings(
        space=space, truth=truth, metric=metric, proxies=opt.names(proxies), samples=samples,
        seeds=opt.integers(seeds), arch_column=arch_column, arch_format=arch_format,
        **_scoring_settings(protocol=protocol, data=data, batch=batch, repeats=repeats, space_options=space_options,
                            input_shape=input_shape, mu=mu, sigma=sigma, binariser=binariser, device=device,
                            cache=cache, no_cache=no_cache))
    return _correlate(settings, _executor(executor, workers, threads, ray_address), progress, plot, save)


def _correlate(settings, executor, progress, plot, save) -> CorrelationResult:
    from .studies.correlate import Correlation

    result = CorrelationResult(Correlation(settings).run(progress=progress, executor=executor))
    if save:
        result.save(save)
    if plot:
        result.plot(plot)
    return result


def search(*, space: str, searcher: str | None = None, proxy: str | None = None, population: int = 20,
           cycles: int | None = None, sample_size: int = 5, mutations: int = 4, crossover_prob: float = 0.5,
           seed: int = 0, protocol: str | None = None, data: str | None = None, batch: int | None = None,
           repeats: int | None = None, space_options=None, input_shape=None, mu="auto", sigma="auto",
           binariser: str | None = None, device: str = "cpu", cache: str | None = None, no_cache: bool = False,
           executor: str | None = None, workers: int | None = None, threads: int | None = None,
           ray_address: str | None = None, truth: str | None = None, metric: str | None = None,
           arch_column: str | None = None, arch_format: str = "arch", checkpoint: str | None = None,
           budget: int | None = None, evaluator: str | None = None, evaluator_options=None,
           evaluations: int | None = None, selection: str | None = None, max_params: float | None = None,
           max_flops: float | None = None, max_latency_ms: float | None = None, max_memory_mb: float | None = None,
           objectives=None, latency_runtime: str | None = None, latency_device: str | None = None,
           latency_batch: int = 1, latency_threads: int | None = None, latency_options=None,
           latency_input_shape=None, progress=None) -> SearchResult:
    """Search ``space`` with a searcher plugin (default: the one that declares itself so), scoring with
    ``proxy`` (default: the space's search proxy, else the default proxy). ``cycles`` None: as many
    as ``budget`` allows, or 50 without a budget. ``truth``/``metric`` look the best architecture up
    afterwards; ``checkpoint`` saves every cycle and resumes a run killed before it ended.
    ``evaluator`` (with ``evaluator_options``) then spends ``evaluations`` real evaluations on the
    architectures the proxy scored, chosen by ``selection``; the answer is the best evaluated one.
    ``max_params``/``max_flops``/``max_latency_ms``/``max_memory_mb`` turn away candidates over budget
    before they are scored (``rejected``); ``objectives`` (e.g. ``"proxy,latency"``) make the answer
    a Pareto ``front``; latency is measured by ``latency_runtime`` on ``latency_device``."""
    from .studies.search import SearchSettings
    from .studies.search import search as run_search

    if (truth is None) != (metric is None):
        raise OptionError("--truth and --metric go together")
    settings = SearchSettings(
        space=space, searcher=searcher, proxy=proxy, population=population, cycles=cycles, sample_size=sample_size,
        mutations=mutations, crossover_prob=crossover_prob, seed=seed, budget=budget, evaluator=evaluator,
        evaluator_options={k: str(v) for k, v in opt.space_options(evaluator_options, "--evaluator-option").items()},
        evaluations=evaluations, selection=selection, max_params=max_params, max_flops=max_flops,
        max_latency_ms=max_latency_ms, max_memory_mb=max_memory_mb, objectives=opt.names(objectives, "--objectives"),
        latency_runtime=latency_runtime, latency_device=latency_device, latency_batch=latency_batch,
        latency_threads=latency_threads, latency_input_shape=opt.shape(latency_input_shape, "--latency-input-shape"),
        latency_options={k: str(v) for k, v in opt.space_options(latency_options, "--latency-option").items()},
        **_scoring_settings(protocol=protocol, data=data, batch=batch, repeats=repeats, space_options=space_options,
                            input_shape=input_shape, mu=mu, sigma=sigma, binariser=binariser, device=device,
                            cache=cache, no_cache=no_cache))
    report = run_search(settings, progress=progress, truth=(truth, metric, arch_column, arch_format) if truth else None,
                        checkpoint=checkpoint, executor=_executor(executor, workers, threads, ray_address))
    return SearchResult(report)


def run_spec(spec: str, *, samples: int | None = None, seeds=None, proxies=None, protocol: str | None = None,
             data: str | None = None, batch: int | None = None, repeats: int | None = None, space_options=None,
             input_shape=None, mu=None, sigma=None, binariser: str | None = None, device: str | None = None,
             cache: str | None = None, no_cache: bool = False, executor: str | None = None,
             workers: int | None = None, threads: int | None = None, ray_address: str | None = None,
             table: str | None = None, table_json: str | None = None, heatmap: str | None = None,
             progress=None) -> SpecResult:
    """Run every ``[[correlate]]`` table of the TOML ``spec`` in order (``swapfw run``). A given
    option replaces that setting in every run; the comparison table across the runs goes to
    ``table`` (CSV), ``table_json`` and ``heatmap`` (PNG), or where the spec's ``[report]`` says."""
    from .studies import table as tables
    from .studies.specs import load_report, load_spec, override

    runs, report = load_spec(spec), load_report(spec)
    protocol_fields = _scoring_settings(protocol=protocol, data=data, batch=batch, repeats=repeats,
                                        space_options=space_options, input_shape=input_shape, mu=mu, sigma=sigma,
                                        binariser=binariser, device=device, cache=cache, no_cache=no_cache)
    executor_spec = _executor(executor, workers, threads, ray_address)
    summaries = []
    for settings, outputs in runs:
        settings = override(settings, protocol_fields, samples=samples, seeds=opt.integers(seeds),
                            proxies=opt.names(proxies))
        summaries.append(_correlate(settings, executor_spec, progress, outputs.get("plot"), outputs.get("save")))
    data_out = {"spec": spec, "runs": [s.to_dict() for s in summaries]}
    outputs = {"table": table or report.get("table"), "json": table_json or report.get("json"),
               "heatmap": heatmap or report.get("heatmap")}
    if len(summaries) > 1 or any(outputs.values()):
        comparison = tables.comparison(data_out["runs"])
        if outputs["table"]:
            tables.write_csv(comparison, outputs["table"])
        if outputs["json"]:
            tables.write_json(comparison, outputs["json"])
        if outputs["heatmap"]:
            tables.heatmap(comparison, outputs["heatmap"], spec)
        data_out["comparison"] = comparison
    return SpecResult(data_out)


# --- spaces, encodings, files --------------------------------------------------------------------


def convert(space: str, value: str, *, to: str = "arch", from_: str | None = None) -> Result:
    """``value``, an architecture of ``space``, in encoding ``to`` (``arch``, the space's own string,
    or one of its ``formats``: a benchmark index, NASLib's op indices...); ``from_`` is the encoding
    ``value`` is in (``--from``; default: the one it reads in)."""
    from .plugins import get
    from .studies.encodings import convert as run_convert, detect

    bound = get("spaces", space)
    source = from_ or detect(bound, value)
    return Result({"space": space, "value": value, "from": source, "to": to,
                   "result": run_convert(bound, value, to, source)})


def export(model, out: str, *, format: str | None = None, space_options=None, input_shape=None) -> Result:
    """Write ``model`` (e.g. a found ``SPACE:ARCH``) to ``out`` as ONNX or TorchScript (``format``; default
    from the suffix), BatchNorm kept and how its space scores it recorded, so ``score(out)`` gives the
    space's score."""
    from .scoring.export import export as run_export

    return Result(run_export(model, format, out, build_options=opt.space_options(space_options),
                             input_shape=opt.shape(input_shape)))


def protocols(space: str) -> Result:
    """The scoring protocols of ``space`` (``--protocol NAME``), its default first, with their fields."""
    from .plugins import get
    from .scoring.presets import presets

    return Result({name: {"description": p.description, "build": p.build, "size_build": p.size_build,
                          "batch": p.batch, "repeats": p.repeats, "data": p.data,
                          "input_shape": list(p.input_shape) if p.input_shape else None}
                   for name, p in presets(get("spaces", space)).items()})


def space_info(space: str, *, space_options=None, arch: str | None = None) -> Result:
    """What varies in ``space`` (its ``describe()``, where it describes itself, else its form) and the
    encodings it converts (``formats``); with ``arch``, that architecture as changes from the space's
    original model (a space with ``changes``, such as ``model``) and its size."""
    from .graph.importers import space_params
    from .plugins import call, get_registry, get_space
    from .studies.encodings import formats

    options = opt.space_options(space_options)
    bound = get_space(space, options)
    if arch is not None:
        if not hasattr(bound, "changes"):
            raise SwapfwError(f"space {space!r} has no original model to list changes from: its architectures "
                              "are their own description (swapfw space-info SPACE shows the form)")
        entry = dataclasses.replace(get_registry().entry("spaces", space), obj=bound)
        canonical = call(entry, "canonical", arch)
        changes = call(entry, "changes", canonical)
        return Result({"space": space, "arch": canonical, "changed": len(changes),
                       "params": space_params(space, canonical, options), "changes": changes})
    if hasattr(bound, "describe"):
        info = dict(bound.describe())
    else:
        info = {"space": bound.name, "description": getattr(bound, "description", "") or "",
                "input_shape": list(bound.input_shape), "example": bound.sample(1, 0)[0]}
    info.setdefault("formats", formats(bound))
    return Result(info)


def plugin_info(*, check: bool = False) -> Result:
    """Every plugin object by kind, with the distribution that provides it, what it declares (a
    default, a proxy's role) and, with ``check``, its verdict against ``swapfw.contracts``; plugins
    that failed to load under ``broken``."""
    from .contracts import check as conforms
    from .contracts import protocol_for
    from .plugins import KINDS, get_registry

    registry = get_registry()
    listing = {}
    for kind in KINDS:
        items = []
        for name in registry.names(kind):
            entry = registry.entry(kind, name)
            item = {"name": name, "plugin": entry.plugin, "distribution": entry.distribution,
                    "description": getattr(entry.obj, "description", "") or "",
                    "default": registry.defaults.get(kind) == name}
            if kind == "proxies":
                item["role"] = getattr(entry.obj, "role", None)
            if check:
                item["protocol"] = protocol_for(kind, entry.obj).__name__
                item["problems"] = conforms(protocol_for(kind, entry.obj), entry.obj)
            items.append(item)
        listing[kind] = items
    broken = [{"plugin": b.plugin, "distribution": b.distribution, "error": b.error} for b in registry.broken]
    return Result({**listing, "broken": broken})

