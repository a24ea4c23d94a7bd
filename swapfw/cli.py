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


def _api():
    from . import api

    return api


def _echo_json(result) -> None:
    click.echo(json.dumps(result.to_dict()))


@click.group()
@click.version_option(package_name="swapfw")
@click.option("--load-plugins", default=None, metavar="NAMES",
              help="Load only these plugins (entry-point or distribution names, comma-separated; no:NAME skips "
                   "one). Same as SWAPFW_LOAD_PLUGINS.")
def cli(load_plugins):
    """Training-free neural architecture search around SWAP-Score."""
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
@click.option("--proxies", "--proxy", "proxies", multiple=True,
              help="Also compute these proxy plugins (comma-separated, or the option repeated).")
@click.option("--space-option", "space_options", multiple=True, metavar="KEY=VALUE",
              help="Build option of a SPACE:ARCH model, e.g. classes=100 (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def score(model, fmt, **options):
    """Score MODEL: an .onnx file, package.module:callable, or SPACE:ARCH."""
    result = _api().score(model, **options)
    if fmt == "json":
        return _echo_json(result)
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
    click.echo(f"{summary['space']}  {summary['metric']}  {summary['samples']} archs x seeds "
               f"{','.join(map(str, summary['seeds']))}  data {summary['data']}  batch {summary['batch']}")
    width = max([12] + [len(name) for name in summary["proxies"]])
    click.echo(f"{'proxy':<{width}} {'spearman':>16} {'kendall':>16} {'seconds':>9} {'not finite':>10}")

    def rank(item):  # best first, undefined correlations last
        rho = item[1]["spearman_mean"]
        return -rho if math.isfinite(rho) else math.inf

    for name, r in sorted(summary["proxies"].items(), key=rank):
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
              help="Encoding of that column: arch (the space's string) or one of the space's formats "
                   "(swapfw space-info SPACE lists them).")
@click.option("--proxies", default=None,
              help="Comma-separated proxies; 'all' for every installed one; rank_agg:A+B ranks several together "
                   "[default: the headline ones: swap, regularised, params and flops].")
@click.option("--samples", default=1000, show_default=True, help="Architectures drawn per seed.")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds.")
@protocol_options()
@click.option("--plot", default=None, help="Write a score-vs-truth scatter PNG (needs matplotlib).")
@click.option("--save", default=None, help="Write the full report, with every score, as JSON.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def correlate(fmt, **options):
    """Spearman and Kendall correlation of proxies with a ground-truth metric."""
    with _progress() as progress:
        result = _api().correlate(**options, progress=progress)
    _echo_json(result) if fmt == "json" else _print_correlation(result.to_dict())


@cli.command()
@click.option("--space", required=True, help="Search-space plugin, e.g. nb201.")
@click.option("--searcher", default=None, help="Searcher plugin [default: the one marked default in swapfw plugins].")
@click.option("--proxy", default=None,
              help="The proxy that scores architectures [default: the space's search proxy, else the default proxy].")
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
def search(fmt, **options):
    """Search a space with a searcher plugin, scoring architectures with a proxy."""
    with _progress() as progress:
        report = _api().search(**options, progress=progress).to_dict()
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
@click.option("--format", "format", type=click.Choice(["onnx", "torch"]), default="onnx", show_default=True)
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
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def space_info(space, space_options, fmt):
    """What varies in SPACE: its choice points and size (where the space describes itself), else its form."""
    info = _api().space_info(space, space_options=space_options).to_dict()
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
            click.echo("  ".join(f"{c:<{n}}" for c, n in zip(columns, sizes)))
            for row in value:
                click.echo("  ".join(f"{str(row[c]):<{n}}" for c, n in zip(columns, sizes)).rstrip())
        elif isinstance(value, list) and key not in scalars:
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
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
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
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
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
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def convert(space, value, fmt, **options):
    """Convert VALUE, an architecture of SPACE, between encodings (benchmark index, NASLib op indices,
    NB101 module hash, NB301 configuration...)."""
    result = _api().convert(space, value, **options)
    _echo_json(result) if fmt == "json" else click.echo(result["result"])


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
        sys.exit(2 if isinstance(exc, OptionError) else 1)
    except Exception as exc:
        if os.environ.get("SWAPFW_DEBUG"):
            raise
        hint = "" if is_out_of_memory(exc) else " (set SWAPFW_DEBUG=1 for the traceback)"
        click.echo(f"error: {error_line(exc)}{hint}", err=True)
        sys.exit(1)
