"""The ``swapfw`` command: parse options, call ``swapfw.api``, format what it returns.

Every command is one API function with the same options (``swapfw.api``); nothing here
computes a value, so the CLI and Python agree by construction.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys

import click

from .errors import OptionError, SwapfwError, error_line, is_out_of_memory
from .studies.selection import DEFAULT_SELECTION, SELECTIONS


def _api():
    from . import api

    return api


def _say_waiting(label: str) -> None:
    """A step that takes seconds, said on stderr (one line, as the progress bars)."""
    click.echo(f"{label}...", err=True)


def _save_json(result, path: str) -> None:
    try:
        with open(path, "w") as fh:
            json.dump(result.to_dict(), fh)
    except OSError as exc:
        raise SwapfwError(f"cannot write {path}: {exc.strerror or exc}") from None


def _echo_json(result) -> None:
    click.echo(json.dumps(result.to_dict()))


#: every command's --format: a table for people, or JSON (the API's ``to_dict()``) for programs
format_option = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
                             show_default=True, help="table, or json: exactly what the Python API's to_dict() returns.")


def proxy_option(help_text: str, single: bool = False):
    """``--proxy``, the one spelling on every command: repeatable, each value also a comma list
    (``--proxies`` is kept, hidden, for scripts written before)."""
    def decorate(command):
        command = click.option("--proxies", "proxies_old", multiple=True, hidden=True)(command)
        return click.option("--proxy", "proxy", multiple=True, metavar="NAME[,NAME...]", help=help_text)(command)
    return decorate


def _proxies(options: dict) -> list[str] | None:
    """The --proxy values (and the hidden --proxies), one list; None where none was given."""
    values = [v for v in (*options.pop("proxy", ()), *options.pop("proxies_old", ())) for v in v.split(",") if v]
    return values or None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="swapfw")
@click.option("--load-plugins", default=None, metavar="NAMES",
              help="Load only these plugins (entry-point or distribution names, comma-separated; no:NAME skips "
                   "one). Same as SWAPFW_LOAD_PLUGINS.")
def cli(load_plugins):
    """Training-free neural architecture search around SWAP-Score."""
    from .waits import listen

    listen(_say_waiting)
    if load_plugins is not None:
        from .plugins import select

        select(load_plugins)


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
@proxy_option("Also compute these proxies (swapfw plugins lists them; repeatable, or comma-separated).")
@click.option("--space-option", "space_options", multiple=True, metavar="KEY=VALUE",
              help="Build option of a SPACE:ARCH model, e.g. classes=100 (repeatable).")
@format_option
@click.option("--cache", default=None,
              help="Score cache for the reference work --mu/--sigma auto and calibrated proxies need "
                   "(default: ~/.cache/swapfw/scores.sqlite).")
@click.option("--threads", default=None, type=int, help="Torch threads (default: torch's own choice).")
@click.option("--save", default=None, help="Also write the result, as --format json prints it, to this file.")
def score(model, fmt, save, **options):
    """Score MODEL: an .onnx or TorchScript file, package.module:callable, or SPACE:ARCH."""
    with _progress() as progress:
        result = _api().score(model, proxies=_proxies(options) or (), **options, progress=progress)
    if save:
        _save_json(result, save)
    if fmt == "json":
        return _echo_json(result)
    if result.note:
        click.echo(f"note: {result.note}", err=True)
    _print_rows(_score_rows(result))


def _score_rows(result) -> list[tuple[str, object]]:
    """The score as a table that says what was scored: the input, the protocol, and which network
    each figure describes where a protocol scores a smaller network than the one it sizes."""
    def network(options: dict) -> str:
        return ", ".join(f"{k}={v}" for k, v in options.items()) or "the default build"

    sized = result.sized_network is not None
    weights = "the model's own (--init keep)" if result.init == "keep" else f"random, seed {result.seed}"
    rows = [("model", result.source)]
    if result.protocol:
        rows.append(("protocol", result.protocol))
    rows += [("input", f"{result.samples} samples x {','.join(map(str, result.input_shape))}, {result.data}"),
             ("weights", weights + (f", mean of {result.repeats} initialisations" if result.repeats > 1 else ""))]
    if sized:
        rows.append(("scored network", f"{network(result.scored_network)} (SWAP, |A|, sites, V)"))
    rows += [("SWAP", result.swap if result.repeats == 1 else f"{result.swap:.1f}"),
             ("standard patterns |A|", result.standard_patterns), ("activation sites", result.activation_sites),
             ("values V", f"{result.values:,}"),
             ("binarisers", ", ".join(f"{k}->{v}" for k, v in sorted(result.binarisers.items())))]
    if result.unhandled_sites:
        rows.append(("not scored", ", ".join(f"{k} x{n}" for k, n in sorted(result.unhandled_sites.items()))))
    if sized:
        rows.append(("sized network", f"{network(result.sized_network)} (params, FLOPs, regularisation)"))
    rows += [("params", f"{result.params:,}"), ("FLOPs (MACs/sample)", f"{result.flops:,}"),
             ("regularised SWAP", "- (give --mu and --sigma)" if result.regswap is None else
              f"{result.regswap:.2f} (mu {result.mu:.4g}, sigma {result.sigma:.4g})")]
    rows += [(f"proxy {k}" + (f" ({result.default})" if k == "default" else ""), v) for k, v in result.proxies.items()]
    rows.append(("time", f"{result.seconds:.2f} s"))
    return rows


def _print_rows(rows) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")


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
        click.option("--executor", default=None,
                     help="Where scoring tasks run: an executor plugin (swapfw plugins lists them; default: the one "
                          "marked default, this process)."),
        click.option("--workers", default=None, type=int,
                     help="Tasks at once (processes: default one per core, or per GPU with --device cuda; "
                          "ray: CPUs of the local instance it starts)."),
        click.option("--threads", default=None, type=int,
                     help="Torch threads per task (processes: default cores / workers; ray: 1). The same count "
                          "gives bit-identical values on every executor."),
        click.option("--ray-address", "ray_address", default=None,
                     help="Join this Ray cluster (ray start --head prints it) instead of starting one here."),
    ]


def protocol_options(for_spec: bool = False):
    """Add the scoring-protocol and executor options shared by ``correlate``, ``search`` and ``run``;
    the command passes them on to the API function as they are."""
    def decorate(command):
        for option in reversed(_protocol_option_list(for_spec)):
            command = option(command)
        return command

    return decorate


@contextlib.contextmanager
def _progress():
    """``progress(advance, total, label)`` for the API: a bar per label, drawn at its first step, so
    that settings refused before any work print their one error line alone."""
    with contextlib.ExitStack() as stack:
        bars = {}

        def update(advance: int, total: int, label: str) -> None:
            if label not in bars:
                bars[label] = stack.enter_context(click.progressbar(length=total, label=label, file=sys.stderr))
            bars[label].update(advance)

        yield update


def _print_correlation(summary: dict) -> None:
    """The header says what was scored (protocol, input, repeats, mu/sigma); one row a proxy, with the
    architectures it correlated over (n) and its scoring time; a spread only over several seeds."""
    seeds = summary["seeds"]
    mus = sorted({m for m in summary["mu"] if m is not None})
    regularised = (f"  mu {', '.join(f'{m:.4g}' for m in mus)} sigma "
                   f"{', '.join(f'{s:.4g}' for s in sorted({s for s in summary['sigma'] if s is not None}))}"
                   if mus else "")
    click.echo(f"{summary['space']} vs {summary['metric']}: {summary['samples']} archs x seed{'s' if len(seeds) > 1 else ''} "
               f"{','.join(map(str, seeds))}  protocol {summary['protocol'] or '-'}: {summary['batch']} samples of "
               f"{summary['data']}, {summary['repeats']} initialisation{'s' if summary['repeats'] != 1 else ''}"
               + regularised)
    spread = len(seeds) > 1
    width = max([12] + [len(name) for name in summary["proxies"]])
    column = 16 if spread else 8
    click.echo(f"{'proxy':<{width}} {'spearman':>{column}} {'kendall':>{column}} {'n':>6} {'time (s)':>9}")

    def rank(item):  # best first, undefined correlations last
        rho = item[1]["spearman_mean"]
        return -rho if math.isfinite(rho) else math.inf

    def shown(mean: float, std: float) -> str:
        return f"{mean:>8.3f} ± {std:.3f}" if spread else f"{mean:>8.3f}"

    for name, r in sorted(summary["proxies"].items(), key=rank):
        click.echo(f"{name:<{width}} {shown(r['spearman_mean'], r['spearman_std'])} "
                   f"{shown(r['kendall_mean'], r['kendall_std'])} {r['n']:>6} {r['seconds']:>9.1f}")
    if summary.get("default"):
        click.echo(f"default: {summary['default']} (the space's default ranking)")
    _print_memory(summary)


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
              help="Encoding of that column: arch (the space's string) or one of the space's formats "
                   "(swapfw space-info SPACE lists them).")
@proxy_option("Proxies to correlate (repeatable, or comma-separated); 'all' for every installed one; "
              "'default' for the space's default ranking; rank_agg:A+B ranks several together "
              "[default: default, swap, regularised SWAP, params and flops].")
@click.option("--samples", default=1000, show_default=True, help="Architectures drawn per seed.")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds.")
@protocol_options()
@click.option("--plot", default=None, help="Write a score-vs-truth scatter PNG (needs matplotlib).")
@click.option("--save", default=None, help="Write the full report, with every score, as JSON.")
@format_option
def correlate(fmt, **options):
    """Spearman and Kendall correlation of proxies with a ground-truth metric."""
    proxies = _proxies(options)
    with _progress() as progress:
        result = _api().correlate(proxies=proxies, **options, progress=progress)
    _echo_json(result) if fmt == "json" else _print_correlation(result.to_dict())


@cli.command()
@click.option("--space", required=True, help="Search-space plugin, e.g. nb201.")
@click.option("--searcher", default=None, help="Searcher plugin [default: the one marked default in swapfw plugins].")
@proxy_option("The proxy that ranks architectures, one (calibrated:A+B combines several) [default: the "
              "space's search proxy, else the default proxy].")
@click.option("--population", default=20, show_default=True, help="Architectures the evolution keeps.")
@click.option("--cycles", default=None, type=int,
              help="Cycles of the searcher (default 50, or as many as --budget allows when a budget is given).")
@click.option("--sample-size", default=5, show_default=True, help="Tournament size.")
@click.option("--mutations", default=4, show_default=True, help="Offspring per cycle.")
@click.option("--crossover-prob", default=0.5, show_default=True,
              help="Chance that an offspring comes from crossing two parents rather than mutating one.")
@click.option("--seed", default=0, show_default=True, help="Seeds the searcher and the weights.")
@protocol_options()
@click.option("--truth", default=None, help="Look the best architecture up in this CSV afterwards.")
@click.option("--metric", default=None, help="The --truth column to report.")
@click.option("--arch-column", default=None, help="The --truth column of architectures (default: arch, else arch_str).")
@click.option("--arch-format", default="arch", show_default=True, help="Encoding of the --truth architectures.")
@click.option("--checkpoint", default=None, help="Save the search after every cycle; rerun with it to resume.")
@click.option("--budget", default=None, type=int, help="Stop after this many distinct architectures are scored.")
@click.option("--evaluator", default=None,
              help="A real evaluation (evaluator plugin: table, train, callable) to spend --evaluations of on the "
                   "architectures the proxy scored; the answer is then the best evaluated one.")
@click.option("--evaluator-option", "evaluator_options", multiple=True, metavar="KEY=VALUE",
              help="An option of the evaluator (repeatable), e.g. table=nb201_hp12.csv, metric=..., data=cifar10:PATH.")
@click.option("--evaluations", default=None, type=int, help="How many real evaluations to spend (with --evaluator).")
@click.option("--selection", default=None, type=click.Choice(list(SELECTIONS)),
              help=f"Which architectures get them: {'; '.join(f'{k}: {v}' for k, v in SELECTIONS.items())} "
                   f"[default: {DEFAULT_SELECTION}].")
@click.option("--max-params", type=float, default=None,
              help="Budget: at most this many parameters (as score reports params).")
@click.option("--max-flops", type=float, default=None,
              help="Budget: at most this many multiply-accumulates per sample (as score reports flops).")
@click.option("--max-latency-ms", type=float, default=None,
              help="Budget: at most this latency per batch, measured by --latency-runtime on --latency-device.")
@click.option("--max-memory-mb", type=float, default=None,
              help="Budget: at most this peak inference memory at --latency-batch (weights and live activations).")
@click.option("--objectives", default=None,
              help="Answer with the Pareto front of these (two or more of proxy, params, flops, latency, memory), "
                   "e.g. proxy,latency.")
@click.option("--latency-runtime", default=None,
              help="Latency meter: torch, onnxruntime, or a plugin's table or predictor [default: torch].")
@click.option("--latency-device", default=None, help="cpu or cuda: where latency is measured [default: --device].")
@click.option("--latency-batch", default=1, show_default=True, help="Samples per timed inference (and for memory).")
@click.option("--latency-threads", default=None, type=int, help="Threads the runtime may use [default: its own].")
@click.option("--latency-input-shape", default=None,
              help="C,H,W per sample for latency and memory [default: the sized network's, as score uses].")
@click.option("--latency-option", "latency_options", multiple=True, metavar="KEY=VALUE",
              help="An option of the latency meter (repeatable), e.g. runs=50, warmup=10.")
@click.option("--plot", default=None, help="With --objectives: draw the Pareto front to this PNG.")
@click.option("--save", default=None, help="Also write the report, as --format json prints it, to this file.")
@format_option
def search(fmt, save, plot, **options):
    """Search a space with a searcher plugin, scoring architectures with a proxy."""
    proxies = _proxies(options)
    if proxies and len(proxies) > 1:
        raise OptionError(f"search ranks by one proxy, got {len(proxies)} ({', '.join(proxies)}): combine them "
                          f"as one, e.g. --proxy calibrated:{'+'.join(proxies)}")
    with _progress() as progress:
        if plot and not options.get("objectives"):
            raise OptionError("--plot draws the Pareto front of a search with --objectives")
        result = _api().search(proxy=proxies[0] if proxies else None, **options, progress=progress)
    if save:
        _save_json(result, save)
    if plot:
        result.plot(plot)
    report = result.to_dict()
    if fmt == "json":
        click.echo(json.dumps(report))
        return
    best = report["best"]
    rows = [("best", best["arch"]), ("score", f"{best['score']:.4g} by {report['proxy']}"),
            ("which is", report["proxy_means"] or "-"), ("params", f"{best['params']:,}"),
            ("architectures", f"{report['evaluations']} scored now, {report['cached']} found in the score cache, "
                              f"{report['repeated']} proposed again (not rescored)"),
            ("time", f"{report['seconds']} s")]
    if report["mu"] is not None:
        rows.insert(3, ("mu, sigma", f"{report['mu']:.4g}, {report['sigma']:.4g}"))
    if "evaluated" in report:
        rows[1:1] = [("evaluated", f"{best['value']:.4g} by {report['evaluator']}" if "value" in best else "-")]
        proxy_best = report["proxy_best"]
        cost = report["evaluation_cost"]
        rows += [("proxy's best", f"{proxy_best['arch']} ({proxy_best['score']:.4g})"),
                 ("evaluations", f"{len(report['evaluated'])} by {report['selection']}, "
                                 f"{sum(r['error'] is not None for r in report['evaluated'])} failed, "
                                 f"{sum(r['cached'] for r in report['evaluated'])} found in the cache"
                                 + (f"; {report['neighbours_scored']} neighbours scored for the climb"
                                    if report.get("neighbours_scored") else "")),
                 ("evaluation cost", f"{cost['seconds']:,.0f} s" + (" (simulated: recorded by the table)"
                                                                     if cost["simulated"] else ""))]
    if "truth" in report:
        rows.append((report["truth"]["metric"], report["truth"]["value"]))
        if "proxy_best_value" in report["truth"]:
            rows.append((f"{report['truth']['metric']} of the proxy's best", report["truth"]["proxy_best_value"]))
    rows += _deployment_rows(report)
    _print_rows(rows)
    if "front" in report:
        _print_front(report)
    _print_memory(report)
    for note in report["notes"]:
        click.echo(f"note: {note}", err=True)


def _deployment_rows(report: dict) -> list[tuple[str, str]]:
    """The budgets, what they turned away, the best one's costs and who measured latency."""
    from .studies.budgets import shown as cost

    rows = []
    if "budgets" in report:
        counted = {"max_params", "max_flops"}  # counts with separators; latency and memory as given
        rows.append(("budgets", ", ".join(f"--{k.replace('_', '-')} " + (f"{v:,.0f}" if k in counted else f"{v:g}")
                                          for k, v in report["budgets"].items())))
        rows.append(("rejected", f"{report['rejected']} candidates over budget (not scored, not counted)"))
    if report["best"].get("costs"):
        rows.append(("costs", ", ".join(f"{q} {cost(q, v)}" for q, v in report["best"]["costs"].items())))
    if "latency" in report:
        lat = report["latency"]
        rows.append(("latency by", f"{lat['runtime']} on {lat['device']} ({lat['machine']}), batch {lat['batch']} "
                                   f"x {','.join(map(str, lat['input_shape']))}, "
                                   f"{lat['threads']} thread{'s' if lat['threads'] != 1 else ''}"))
    return rows


def _print_front(report: dict) -> None:
    from .studies.budgets import shown as cost

    objectives = report["objectives"]
    click.echo(f"Pareto front: {len(report['front'])} of {len(report['scored_objectives'])} scored within budget")
    table = [[m["arch"], *(f"{m['objectives'][o]:.4g}" if o == "proxy" else cost(o, m["objectives"][o])
                           for o in objectives)] for m in report["front"]]
    header = ["arch", *objectives]
    sizes = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(header)]
    for row in [header, *table]:
        click.echo("  ".join(f"{c:<{n}}" for c, n in zip(row, sizes)).rstrip())


@cli.command()
@click.argument("model")
@click.argument("out")
@click.option("--format", "format", type=click.Choice(["onnx", "torch"]), default=None,
              help="onnx or torch (TorchScript); default: from OUT's suffix (.onnx; .pt, .pth, .ts), else onnx.")
@click.option("--space-option", "space_options", multiple=True, metavar="KEY=VALUE",
              help="Build option, e.g. classes=100 (default: the benchmark network).")
@click.option("--input-shape", default=None, help="C,H,W per sample (default: the model's).")
def export(model, out, **options):
    """Write MODEL (e.g. a found SPACE:ARCH) to OUT as ONNX or TorchScript, to train elsewhere."""
    info = _api().export(model, out, **options)
    click.echo(f"wrote {info['path']} ({info['format']}, {info['params']:,} params, input {info['input_shape']})")


@cli.command("space-info")
@click.argument("space")
@click.option("--space-option", "space_options", multiple=True, metavar="KEY=VALUE",
              help="Build option, e.g. source=mynet.onnx for the model space (repeatable).")
@format_option
@click.option("--arch", default=None,
              help="Show this architecture as changes from the original model (the model space), with its size.")
def space_info(space, space_options, fmt, arch):
    """What varies in SPACE: its choice points and size (where the space describes itself), else its form."""
    info = _api().space_info(space, space_options=space_options, arch=arch).to_dict()
    if fmt == "json":
        click.echo(json.dumps(info))
        return
    scalars = {k: v for k, v in info.items() if not isinstance(v, (list, dict)) or k in ("input_shape", "formats")}
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
            click.echo("  ".join(f"{c:<{n}}" for c, n in zip(columns, sizes)).rstrip())
            for row in value:
                click.echo("  ".join(f"{str(row[c]):<{n}}" for c, n in zip(columns, sizes)).rstrip())
        elif isinstance(value, list) and key not in scalars:
            for item in value:
                click.echo(f"{key.rstrip('s')}: {item}")


@cli.command()
@click.argument("spec", type=click.Path())
@format_option
@click.option("--samples", default=None, type=int, help="Override every run's architectures per seed.")
@click.option("--seeds", default=None, help="Override every run's seeds (comma-separated).")
@click.option("--proxies", default=None, help="Override every run's proxies (comma-separated; 'all').")
@protocol_options(for_spec=True)
@click.option("--table", default=None, help="Write the proxies x metrics Spearman table as CSV.")
@click.option("--table-json", default=None, help="Write that table as JSON.")
@click.option("--heatmap", default=None, help="Draw that table as a heatmap PNG (needs matplotlib).")
def run(spec, fmt, **options):
    """Run a declarative experiment spec (TOML): every [[correlate]] table in it, in order.

    A protocol option given here replaces that setting in every run of the spec.
    """
    with _progress() as progress:
        result = _api().run_spec(spec, **options, progress=progress).to_dict()
    if fmt == "json":
        click.echo(json.dumps(result))
        return
    for summary in result["runs"]:
        _print_correlation(summary)
    if "comparison" in result:
        _print_comparison(result["comparison"])


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
@format_option
def plugins(check, fmt):
    """List every plugin by kind, with the distribution that provides it."""
    info = _api().plugin_info(check=check).to_dict()
    broken = info.pop("broken")
    if fmt == "json":
        click.echo(json.dumps({**info, "broken": broken}))
    else:
        width = max([14] + [len(item["name"]) for items in info.values() for item in items])
        for kind, items in info.items():
            click.echo(f"{kind}:")
            for item in items or [{"name": "(none installed)", "distribution": "", "description": ""}]:
                if check and "protocol" in item:
                    verdict = "ok" if not item["problems"] else "; ".join(item["problems"])
                    click.echo(f"  {item['name']:<{width}} {item['protocol']:<17} {verdict}")
                else:
                    marks = " ".join(filter(None, ["(default)" if item.get("default") else "",
                                                   f"(role {item['role']})" if item.get("role") else ""]))
                    click.echo(f"  {item['name']:<{width}} {item['distribution']:<14} {item['description']}"
                               + (f"  {marks}" if marks else ""))
        for item in broken:
            click.echo(f"broken plugin {item['plugin']} ({item['distribution']}): {item['error']}", err=True)
    if check:
        if fmt == "table":
            ok = sum(1 for items in info.values() for item in items if not item["problems"])
            click.echo(f"{ok} plugin objects conform to swapfw.contracts; {len(broken)} broken")
        if broken:
            sys.exit(1)


@cli.command()
@click.argument("space")
@format_option
def protocols(space, fmt):
    """List the scoring protocols of SPACE (--protocol NAME), its default first."""
    from .scoring.presets import describe

    known = _api().protocols(space).to_dict()
    if fmt == "json":
        click.echo(json.dumps(known))
        return
    width = max(len(name) for name in known)
    for i, (name, fields) in enumerate(known.items()):
        click.echo(f"{name:<{width}}  {fields['description']}{'  (default)' if i == 0 else ''}")
        click.echo(f"{'':<{width}}  {describe(fields)}")


@cli.command()
@click.argument("space")
@click.argument("value")
@click.option("--to", "to", default="arch", show_default=True,
              help="The encoding to write: arch (the space's string) or one of the space's formats.")
@click.option("--from", "from_", default=None, help="The encoding VALUE is in (default: the one it reads in).")
@format_option
def convert(space, value, fmt, **options):
    """Convert VALUE, an architecture of SPACE, between encodings (benchmark index, NASLib op indices,
    NB101 module hash, NB301 configuration...)."""
    result = _api().convert(space, value, **options)
    _echo_json(result) if fmt == "json" else click.echo(result["result"])


def main(argv=None):
    """Entry point: a SwapfwError or any failure becomes one line on stderr and exit status 1."""
    try:
        cli.main(args=argv, prog_name="swapfw", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:  # click's usage errors, in swapfw's one format
        command = getattr(getattr(exc, "ctx", None), "command_path", None)
        hint = f" (see {command} --help)" if isinstance(exc, click.UsageError) and command else ""
        click.echo(f"error: {' '.join(exc.format_message().split())}{hint}", err=True)
        sys.exit(exc.exit_code)
    except SwapfwError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2 if isinstance(exc, OptionError) else 1)
    except Exception as exc:
        if os.environ.get("SWAPFW_DEBUG"):
            raise
        hint = "" if is_out_of_memory(exc) else " (set SWAPFW_DEBUG=1 for the traceback)"
        click.echo(f"error: {error_line(exc)}{hint}", err=True)
        sys.exit(1)
