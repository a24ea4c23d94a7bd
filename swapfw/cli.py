"""The ``swapfw`` command: thin click wrappers over the library API."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys

import click

from .errors import SwapfwError, error_line, is_out_of_memory


def _shape(text: str | None):
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected C,H,W integers, got {text!r}") from None


def _options(pairs) -> dict:
    """KEY=VALUE pairs -> dict, values as int or float where they read as one."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}")
        for kind in (int, float):
            try:
                value = kind(value)
                break
            except ValueError:
                continue
        options[key] = value
    return options


@click.group()
@click.version_option(package_name="swapfw")
def cli():
    """Training-free neural architecture search around SWAP-Score."""


@cli.command()
@click.argument("model")
@click.option("--protocol", default=None,
              help="A SPACE:ARCH model's scoring protocol (swapfw protocols SPACE lists them; default: the space's).")
@click.option("--data", default=None,
              help="gaussian | imagelike | cifar10:PATH (folder or .npz) | images:DIR | tensor:FILE.npy | tokens:VOCAB[,LENGTH] "
                   "(default: the protocol's; gaussian for other models).")
@click.option("--batch", default=None, type=int, help="Samples S in the mini-batch (default: the protocol's, else 16).")
@click.option("--repeats", default=None, type=int,
              help="Average SWAP over N re-initialisations (default: the protocol's, else 1).")
@click.option("--input-shape", default=None, help="C,H,W per sample (default: the model's, else 3,32,32).")
@click.option("--seed", default=0, show_default=True, help="Seeds the weights and the batch.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1 ...")
@click.option("--init", "init", type=click.Choice(["random", "keep"]), default="random", show_default=True,
              help="random: the paper's N(0,1) init, BatchNorm on batch statistics; keep: the file's weights, eval mode.")
@click.option("--mu", default=None, help="Regularisation centre, parameters in millions, or auto.")
@click.option("--sigma", default=None, help="Regularisation width, in millions squared, or auto.")
@click.option("--binariser", default=None, help="Use this binariser for every site it handles.")
@click.option("--proxy", "proxies", multiple=True, help="Also compute this proxy plugin (repeatable).")
@click.option("--space-option", "space_options", multiple=True, metavar="KEY=VALUE",
              help="Build option of a SPACE:ARCH model, e.g. classes=100 (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def score(model, protocol, data, batch, repeats, input_shape, seed, device, init, mu, sigma, binariser, proxies,
          space_options, fmt):
    """Score MODEL: an .onnx file, package.module:callable, or SPACE:ARCH."""
    from .scoring.score import score as score_model
    from .studies import reference  # noqa: F401  (measures calibrated proxies' reference samples)

    result = score_model(model, data=data, batch=batch, input_shape=_shape(input_shape), seed=seed, device=device,
                         init=init, mu=mu, sigma=sigma, binariser=binariser, proxies=tuple(proxies),
                         build_options=_options(space_options), protocol=protocol, repeats=repeats)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict()))
        return
    if result.note:
        click.echo(f"note: {result.note}", err=True)
    rows = [("model", result.source)] + ([("protocol", result.protocol)] if result.protocol else []) + [
            ("SWAP", result.swap if result.repeats == 1 else f"{result.swap:.1f} (mean of {result.repeats})"),
            ("regularised SWAP", "-" if result.regswap is None else f"{result.regswap:.2f}"),
            ("standard patterns |A|", result.standard_patterns), ("params", f"{result.params:,}"),
            ("FLOPs (MACs/sample)", f"{result.flops:,}"), ("activation sites", result.activation_sites),
            ("values V", f"{result.values:,}"), ("samples S", result.samples),
            ("binarisers", ", ".join(f"{k}->{v}" for k, v in sorted(result.binarisers.items()))),
            ("data", result.data), ("seconds", f"{result.seconds:.3f}")]
    if result.unhandled_sites:
        rows.append(("not scored", ", ".join(f"{k} x{n}" for k, n in sorted(result.unhandled_sites.items()))))
    rows += [(f"proxy {k}", v) for k, v in result.proxies.items()]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from None


def _protocol_option_list(for_spec: bool) -> list:
    """The options that fix how architectures are scored, and where: one definition each.

    ``for_spec``: the options of ``run``, where each replaces the value of every run in the
    spec and, when absent, leaves the spec's value alone.
    """
    def default(value):
        return None if for_spec else value

    keep = " Default: the spec's." if for_spec else ""
    shown = not for_spec
    return [
        click.option("--protocol", default=None,
                     help="The space's scoring protocol (swapfw protocols SPACE lists them)." +
                          (keep or " Default: the space's first.")),
        click.option("--data", default=None,
                     help="Input batch: gaussian | imagelike | cifar10:PATH (folder or .npz) | images:DIR | "
                          "tensor:FILE.npy." + (keep or " Default: the protocol's.")),
        click.option("--batch", default=None, type=int,
                     help="Samples S in the mini-batch." + (keep or " Default: the protocol's.")),
        click.option("--repeats", default=None, type=int,
                     help="Average SWAP over N re-initialisations." + (keep or " Default: the protocol's.")),
        click.option("--space-option", "space_options", multiple=True, metavar="KEY=VALUE",
                     help="Build option of the scoring network, e.g. classes=100, channels=8, cells=1 (repeatable)."),
        click.option("--input-shape", default=None, help="C,H,W per sample (default: the space's)."),
        click.option("--mu", default=default("auto"), show_default=shown,
                     help="Regularisation centre, parameters in millions, or auto (from sampled sizes)." + keep),
        click.option("--sigma", default=default("auto"), show_default=shown,
                     help="Regularisation width, in millions squared, or auto." + keep),
        click.option("--binariser", default=None, help="Use this binariser for every site it handles."),
        click.option("--device", default=default("cpu"), show_default=shown, help="cpu, cuda, cuda:1 ..." + keep),
        click.option("--cache", default=None, help="Score cache file (default: ~/.cache/swapfw/scores.sqlite)."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the score cache."),
        click.option("--executor", default="local", show_default=True,
                     help="Where scoring tasks run: local, processes, ray, or an executor plugin."),
        click.option("--workers", default=None, type=int,
                     help="Tasks at once (processes: default one per core, or per GPU with --device cuda; "
                          "ray: CPUs of the local instance it starts)."),
        click.option("--threads", default=None, type=int,
                     help="Torch threads per task (processes: default cores / workers; ray: 1). The same count "
                          "gives bit-identical values on every executor."),
        click.option("--ray-address", "address", default=None,
                     help="Join this Ray cluster (ray start --head prints it) instead of starting one here."),
    ]


def protocol_options(for_spec: bool = False):
    """Add the scoring-protocol and executor options shared by ``correlate``, ``search`` and ``run``.

    The command receives them as keyword arguments; ``protocol_settings`` turns them into
    settings fields and ``executor_spec`` into an ``ExecutorSpec``.
    """
    def decorate(command):
        for option in reversed(_protocol_option_list(for_spec)):
            command = option(command)
        return command

    return decorate


def protocol_settings(options: dict) -> dict:
    """The protocol options given as settings fields (``CorrelateSettings``, ``SearchSettings``);
    options left at None (``run``: not given) are left out."""
    fields = {"protocol": options["protocol"], "data": options["data"], "batch": options["batch"],
              "repeats": options["repeats"],
              "build_options": _options(options["space_options"]), "input_shape": _shape(options["input_shape"]),
              "mu": options["mu"], "sigma": options["sigma"], "binariser": options["binariser"],
              "device": options["device"], "cache": "" if options["no_cache"] else options["cache"]}
    return {k: v for k, v in fields.items() if v is not None}


def executor_spec(options: dict):
    """Where the scoring runs (never what it gives): the executor options as an ``ExecutorSpec``."""
    from .running.executors import ExecutorSpec

    return ExecutorSpec(name=options["executor"], workers=options["workers"], threads=options["threads"],
                        address=options["address"])

def _correlate_with_progress(settings, executor) -> dict:
    from .studies.correlate import Correlation

    job = Correlation(settings)  # bad settings fail here, before the bar is drawn
    with click.progressbar(length=job.total, label=f"{settings.space} vs {settings.metric}", file=sys.stderr) as bar:
        return job.run(progress=bar.update, executor=executor)


@contextlib.contextmanager
def _progress_from_first_step(length: int, label: str):
    """A progress bar drawn at the first step, so that settings refused before any work (a typo in
    --space-option, a tournament larger than the population) print their one error line alone."""
    with contextlib.ExitStack() as stack:
        bar = None

        def update(steps: int) -> None:
            nonlocal bar
            if bar is None:
                bar = stack.enter_context(click.progressbar(length=length, label=label, file=sys.stderr))
            bar.update(steps)

        yield update


def _finish(report: dict, plot: str | None, save: str | None) -> dict:
    """Write the optional files; return the summary (the report without per-architecture scores)."""
    if save:
        with open(save, "w") as fh:
            json.dump(report, fh)
    if plot:
        from .studies.plot import scatter

        scatter(report, plot)
    return {k: v for k, v in report.items() if k != "per_seed"}


def _print_correlation(summary: dict) -> None:
    click.echo(f"{summary['space']}  {summary['metric']}  {summary['samples']} archs x seeds "
               f"{','.join(map(str, summary['seeds']))}  data {summary['data']}  batch {summary['batch']}")
    width = max([12] + [len(name) for name in summary["proxies"]])
    click.echo(f"{'proxy':<{width}} {'spearman':>16} {'kendall':>16} {'seconds':>9} {'not finite':>10}")
    def rank(item):  # best first, undefined correlations last
        rho = item[1]["spearman_mean"]
        return -rho if math.isfinite(rho) else math.inf

    rows = sorted(summary["proxies"].items(), key=rank)
    for name, r in rows:
        click.echo(f"{name:<{width}} {r['spearman_mean']:>8.3f} ± {r['spearman_std']:.3f} "
                   f"{r['kendall_mean']:>8.3f} ± {r['kendall_std']:.3f} {r['seconds']:>9.1f} {r['not_finite']:>10}")
    _print_memory(summary)
    for note in summary["notes"]:
        click.echo(f"note: {note}")


def _print_memory(report: dict) -> None:
    """What one worker needed, where anything was scored (a run served by the cache scores nothing)."""
    memory = report.get("memory", {})
    if memory.get("peak_process_rss_mb"):
        gpu = memory.get("peak_task_gpu_mb")
        click.echo(f"memory: a scoring process peaked at {memory['peak_process_rss_mb']:,.0f} MB resident"
                   + (f", a task at {gpu:,.0f} MB of GPU memory" if gpu else ""))


@cli.command()
@click.option("--space", required=True, help="Search-space plugin, e.g. nb201.")
@click.option("--truth", required=True, help="CSV with an architecture column and metric columns.")
@click.option("--metric", required=True, help="The ground-truth column to correlate with.")
@click.option("--arch-column", default=None, help="Architecture column (default: arch, else arch_str).")
@click.option("--arch-format", default="arch", show_default=True,
              help="Encoding of that column: arch (the space's string) or one of swapfw convert's formats "
                   "(nb201: index, naslib; nb101: hash; darts: nb301; transnas: naslib).")
@click.option("--proxies", default="swap,regswap,params,flops", show_default=True,
              help="Comma-separated proxies; 'all' for every installed one; rank_agg:A+B ranks several together.")
@click.option("--samples", default=1000, show_default=True, help="Architectures drawn per seed.")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds.")
@protocol_options()
@click.option("--plot", default=None, help="Write a score-vs-truth scatter PNG (needs matplotlib).")
@click.option("--save", default=None, help="Write the full report, with every score, as JSON.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def correlate(space, truth, metric, arch_column, arch_format, proxies, samples, seeds, plot, save, fmt, **options):
    """Spearman and Kendall correlation of proxies with a ground-truth metric."""
    from .studies.correlate import CorrelateSettings

    settings = CorrelateSettings(space=space, truth=truth, metric=metric, proxies=[p for p in proxies.split(",") if p],
                                 samples=samples, seeds=_ints(seeds), arch_column=arch_column, arch_format=arch_format,
                                 **protocol_settings(options))
    report = _correlate_with_progress(settings, executor_spec(options))
    summary = _finish(report, plot, save)
    click.echo(json.dumps(summary)) if fmt == "json" else _print_correlation(summary)


@cli.command()
@click.option("--space", required=True, help="Search-space plugin, e.g. nb201.")
@click.option("--searcher", default="swap-nas", show_default=True, help="swap-nas, aging-evolution, random, ...")
@click.option("--proxy", default=None,
              help="The proxy that scores architectures [default: the space's search proxy, else regswap].")
@click.option("--population", default=20, show_default=True)
@click.option("--cycles", default=None, type=int,
              help="Cycles of the searcher (default 50, or as many as --budget allows when a budget is given).")
@click.option("--sample-size", default=5, show_default=True, help="Tournament size.")
@click.option("--mutations", default=4, show_default=True, help="Offspring per cycle.")
@click.option("--crossover-prob", default=0.5, show_default=True)
@click.option("--seed", default=0, show_default=True)
@protocol_options()
@click.option("--truth", default=None, help="Look the best architecture up in this CSV afterwards.")
@click.option("--metric", default=None, help="The --truth column to report.")
@click.option("--arch-column", default=None)
@click.option("--arch-format", default="arch", show_default=True, help="Encoding of the --truth architectures.")
@click.option("--checkpoint", default=None, help="Save the search after every cycle; rerun with it to resume.")
@click.option("--budget", default=None, type=int, help="Stop after this many distinct architectures are scored.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def search(space, searcher, proxy, population, cycles, sample_size, mutations, crossover_prob, seed, truth, metric,
           arch_column, arch_format, checkpoint, budget, fmt, **options):
    """Search a space with a searcher plugin, scoring architectures with a proxy."""
    from .studies.search import SearchSettings
    from .studies.search import search as run_search

    if (truth is None) != (metric is None):
        raise click.BadParameter("--truth and --metric go together")
    if cycles is None and budget is None:
        cycles = 50
    settings = SearchSettings(
        space=space, searcher=searcher, proxy=proxy, population=population, cycles=cycles, sample_size=sample_size,
        mutations=mutations, crossover_prob=crossover_prob, seed=seed, budget=budget, **protocol_settings(options))
    with _progress_from_first_step(cycles or budget, f"{searcher} on {space}") as progress:
        report = run_search(settings, progress=progress, truth=(truth, metric, arch_column, arch_format) if truth else None,
                            checkpoint=checkpoint, executor=executor_spec(options))
    if fmt == "json":
        click.echo(json.dumps(report))
        return
    best = report["best"]
    click.echo(f"best      {best['arch']}")
    click.echo(f"score     {best['score']:.4g} ({report['proxy']})   params {best['params']:,}")
    click.echo(f"proxy evaluations {report['evaluations']}, from the cache {report['cached']}, "
               f"repeats {report['repeated']}, {report['seconds']} s")
    _print_memory(report)
    if "truth" in report:
        click.echo(f"{report['truth']['metric']}  {report['truth']['value']}")
    for note in report["notes"]:
        click.echo(f"note: {note}", err=True)


@cli.command()
@click.argument("model")
@click.argument("out")
@click.option("--format", "fmt", type=click.Choice(["onnx", "torch"]), default="onnx", show_default=True)
@click.option("--space-option", "space_options", multiple=True, metavar="KEY=VALUE",
              help="Build option, e.g. classes=100 (default: the benchmark network).")
@click.option("--input-shape", default=None, help="C,H,W per sample (default: the model's).")
def export(model, out, fmt, space_options, input_shape):
    """Write MODEL (e.g. a found SPACE:ARCH) to OUT as ONNX or TorchScript, to train elsewhere."""
    from .graph.export import export as run_export

    info = run_export(model, fmt, out, build_options=_options(space_options), input_shape=_shape(input_shape))
    click.echo(f"wrote {info['path']} ({info['format']}, {info['params']:,} params, input {info['input_shape']})")


@cli.command("space-info")
@click.argument("space")
@click.option("--space-option", "space_options", multiple=True, metavar="KEY=VALUE",
              help="Build option, e.g. source=mynet.onnx for the model space (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def space_info(space, space_options, fmt):
    """What varies in SPACE: its choice points and size (where the space describes itself), else its form."""
    from .plugins import get_space

    bound = get_space(space, _options(space_options))
    if hasattr(bound, "describe"):
        info = bound.describe()
    else:
        info = {"space": bound.name, "description": getattr(bound, "description", "") or "",
                "input_shape": list(bound.input_shape), "example": bound.sample(1, 0)[0]}
    if fmt == "json":
        click.echo(json.dumps(info))
        return
    scalars = {k: v for k, v in info.items() if not isinstance(v, (list, dict)) or k == "input_shape"}
    width = max(len(k) for k in scalars)
    for key, value in scalars.items():
        shown = ",".join(map(str, value)) if isinstance(value, list) else value
        if isinstance(value, int) and not isinstance(value, bool):
            shown = f"{value:,}" if value < 10**15 else f"{value:.3g}"
        click.echo(f"{key:<{width}}  {shown}")
    for key, value in info.items():
        if isinstance(value, dict):
            click.echo(f"{key:<{width}}  " + ", ".join(f"{k} {v}" for k, v in value.items()))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            columns = list(value[0])
            sizes = [max(len(c), *(len(str(row[c])) for row in value)) for c in columns]
            click.echo("  ".join(f"{c:<{n}}" for c, n in zip(columns, sizes)))
            for row in value:
                click.echo("  ".join(f"{str(row[c]):<{n}}" for c, n in zip(columns, sizes)).rstrip())
        elif isinstance(value, list) and key != "input_shape":
            for item in value:
                click.echo(f"{key.rstrip('s')}: {item}")


@cli.command()
@click.argument("spec", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--samples", default=None, type=int, help="Override every run's architectures per seed.")
@click.option("--seeds", default=None, help="Override every run's seeds (comma-separated).")
@click.option("--proxies", default=None, help="Override every run's proxies (comma-separated; 'all').")
@protocol_options(for_spec=True)
@click.option("--table", default=None, help="Write the proxies x metrics Spearman table as CSV.")
@click.option("--table-json", default=None, help="Write that table as JSON.")
@click.option("--heatmap", default=None, help="Draw that table as a heatmap PNG (needs matplotlib).")
def run(spec, fmt, samples, seeds, proxies, table, table_json, heatmap, **options):
    """Run a declarative experiment spec (TOML): every [[correlate]] table in it, in order.

    A protocol option given here replaces that setting in every run of the spec.
    """
    from .studies.specs import load_report, load_spec

    runs, report = load_spec(spec), load_report(spec)
    summaries = []
    for settings, outputs in runs:
        _override(settings, protocol_settings(options), samples=samples, seeds=seeds, proxies=proxies)
        result = _correlate_with_progress(settings, executor_spec(options))
        summary = _finish(result, outputs.get("plot"), outputs.get("save"))
        summaries.append(summary)
        if fmt == "table":
            _print_correlation(summary)
    outputs = {"table": table or report.get("table"), "json": table_json or report.get("json"),
               "heatmap": heatmap or report.get("heatmap")}
    if len(summaries) > 1 or any(outputs.values()):
        _write_comparison(summaries, outputs, spec, fmt)
    if fmt == "json":
        click.echo(json.dumps({"spec": spec, "runs": summaries}))


def _override(settings, protocol: dict, *, samples, seeds, proxies) -> None:
    """Command-line values replace the spec's, for every run in it; build options merge key by key."""
    for name, value in protocol.items():
        if name == "build_options":
            value = {**settings.build_options, **value}
        setattr(settings, name, value)
    if samples is not None:
        settings.samples = samples
    if seeds is not None:
        settings.seeds = _ints(seeds)
    if proxies is not None:
        settings.proxies = [p for p in proxies.split(",") if p]


def _write_comparison(summaries: list[dict], outputs: dict, title: str, fmt: str) -> None:
    from .studies import table as tables

    comparison = tables.comparison(summaries)
    if outputs["table"]:
        tables.write_csv(comparison, outputs["table"])
    if outputs["json"]:
        tables.write_json(comparison, outputs["json"])
    if outputs["heatmap"]:
        tables.heatmap(comparison, outputs["heatmap"], title)
    if fmt == "table":
        _print_comparison(comparison)


def _print_comparison(comparison: dict) -> None:
    columns = comparison["columns"]
    width = max([12] + [len(row["proxy"]) + 2 for row in comparison["rows"]])
    cell = max([16] + [len(c) + 2 for c in columns])
    click.echo("Spearman by metric, sorted by mean")
    click.echo(f"{'proxy':<{width}}" + "".join(f"{c:>{cell}}" for c in columns) + f"{'mean':>9}{'not finite':>12}")
    for row in comparison["rows"]:
        cells = "".join(f"{row['spearman'][c]:>{cell}.3f}" for c in columns)
        click.echo(f"{row['proxy']:<{width}}{cells}{row['mean']:>9.3f}{row['not_finite']:>12}")


@cli.command()
@click.option("--check", is_flag=True, help="Check every plugin object against its protocol in swapfw.contracts.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def plugins(check, fmt):
    """List every plugin by kind, with the distribution that provides it."""
    from .contracts import check as conforms
    from .contracts import protocol_for
    from .plugins import KINDS, get_registry

    registry = get_registry()
    listing = {kind: [{"name": e.name, "plugin": e.plugin, "distribution": e.distribution,
                       "description": getattr(e.obj, "description", "")}
                      for e in (registry.entry(kind, n) for n in registry.names(kind))] for kind in KINDS}
    broken = [{"plugin": b.plugin, "distribution": b.distribution, "error": b.error} for b in registry.broken]
    if check:
        for kind, items in listing.items():
            for item in items:
                obj = registry.get(kind, item["name"])
                item["protocol"] = protocol_for(kind, obj).__name__
                item["problems"] = conforms(protocol_for(kind, obj), obj)
    if fmt == "json":
        click.echo(json.dumps({**listing, "broken": broken}))
        return
    width = max([14] + [len(item["name"]) for items in listing.values() for item in items])
    for kind, items in listing.items():
        click.echo(f"{kind}:")
        for item in items or [{"name": "(none installed)", "distribution": "", "description": ""}]:
            if check and "protocol" in item:
                verdict = "ok" if not item["problems"] else "; ".join(item["problems"])
                click.echo(f"  {item['name']:<{width}} {item['protocol']:<17} {verdict}")
            else:
                click.echo(f"  {item['name']:<{width}} {item['distribution']:<14} {item['description']}")
    for item in broken:
        click.echo(f"broken plugin {item['plugin']} ({item['distribution']}): {item['error']}", err=True)
    if check:
        ok = sum(1 for items in listing.values() for item in items if not item["problems"])
        click.echo(f"{ok} plugin objects conform to swapfw.contracts; {len(broken)} broken")
        if broken:
            sys.exit(1)


@cli.command()
@click.argument("space")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def protocols(space, fmt):
    """List the scoring protocols of SPACE (--protocol NAME), its default first."""
    from .plugins import get
    from .scoring.presets import describe, presets

    known = presets(get("spaces", space))
    if fmt == "json":
        click.echo(json.dumps({name: {"description": p.description, "build": p.build, "size_build": p.size_build,
                                      "batch": p.batch, "repeats": p.repeats, "data": p.data,
                                      "input_shape": list(p.input_shape) if p.input_shape else None}
                               for name, p in known.items()}))
        return
    width = max(len(name) for name in known)
    for i, (name, preset) in enumerate(known.items()):
        click.echo(f"{name:<{width}}  {preset.description}{'  (default)' if i == 0 else ''}")
        click.echo(f"{'':<{width}}  {describe(preset)}")


@cli.command()
@click.argument("space")
@click.argument("value")
@click.option("--to", "target", default="arch", show_default=True,
              help="The encoding to write: arch (the space's string) or one of the space's formats.")
@click.option("--from", "source", default=None, help="The encoding VALUE is in (default: the one it reads in).")
def convert(space, value, target, source):
    """Convert VALUE, an architecture of SPACE, between encodings (benchmark index, NASLib op indices,
    NB101 module hash, NB301 configuration...)."""
    from .plugins import get
    from .studies.encodings import convert as run_convert

    click.echo(run_convert(get("spaces", space), value, target, source))


def main(argv=None):
    """Entry point: a SwapfwError or any failure becomes one line on stderr and exit status 1."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SwapfwError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("SWAPFW_DEBUG"):
            raise
        hint = "" if is_out_of_memory(exc) else " (set SWAPFW_DEBUG=1 for the traceback)"
        click.echo(f"error: {error_line(exc)}{hint}", err=True)
        sys.exit(1)
