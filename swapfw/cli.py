"""The ``swapfw`` command: thin click wrappers over the library API."""

from __future__ import annotations

import json
import os
import sys

import click

from .errors import SwapfwError, is_out_of_memory


def _shape(text: str | None):
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected C,H,W integers, got {text!r}") from None


@click.group()
@click.version_option(package_name="swapfw")
def cli():
    """Training-free neural architecture search around SWAP-Score."""


@cli.command()
@click.argument("model")
@click.option("--data", default="gaussian", show_default=True,
              help="gaussian | cifar10:PATH (folder or .npz) | images:DIR | tensor:FILE.npy")
@click.option("--batch", default=16, show_default=True, help="Samples S in the mini-batch.")
@click.option("--input-shape", default=None, help="C,H,W per sample (default: the model's, else 3,32,32).")
@click.option("--seed", default=0, show_default=True, help="Seeds the weights and the batch.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1 ...")
@click.option("--init", "init", type=click.Choice(["random", "keep"]), default="random", show_default=True,
              help="random: the paper's N(0,1) init, BatchNorm on batch statistics; keep: the file's weights, eval mode.")
@click.option("--mu", default=None, help="Regularisation centre, parameters in millions.")
@click.option("--sigma", default=None, help="Regularisation width, in millions squared.")
@click.option("--binariser", default=None, help="Use this binariser for every site it handles.")
@click.option("--proxy", "proxies", multiple=True, help="Also compute this proxy plugin (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def score(model, data, batch, input_shape, seed, device, init, mu, sigma, binariser, proxies, fmt):
    """Score MODEL: an .onnx file, package.module:callable, or SPACE:ARCH."""
    from .score import score as run

    result = run(model, data=data, batch=batch, input_shape=_shape(input_shape), seed=seed, device=device,
                 init=init, mu=mu, sigma=sigma, binariser=binariser, proxies=tuple(proxies))
    if fmt == "json":
        click.echo(json.dumps(result.to_dict()))
        return
    if result.note:
        click.echo(f"note: {result.note}", err=True)
    rows = [("model", result.source), ("SWAP", result.swap),
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


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def plugins(fmt):
    """List every plugin by kind, with the distribution that provides it."""
    from .plugins import KINDS, get_registry

    registry = get_registry()
    listing = {kind: [{"name": e.name, "plugin": e.plugin, "distribution": e.distribution,
                       "description": getattr(e.obj, "description", "")}
                      for e in (registry.entry(kind, n) for n in registry.names(kind))] for kind in KINDS}
    broken = [{"plugin": b.plugin, "distribution": b.distribution, "error": b.error} for b in registry.broken]
    if fmt == "json":
        click.echo(json.dumps({**listing, "broken": broken}))
        return
    for kind, items in listing.items():
        click.echo(f"{kind}:")
        for item in items or [{"name": "(none installed)", "distribution": "", "description": ""}]:
            click.echo(f"  {item['name']:<14} {item['distribution']:<22} {item['description']}")
    for item in broken:
        click.echo(f"broken plugin {item['plugin']} ({item['distribution']}): {item['error']}", err=True)


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
        if is_out_of_memory(exc):
            click.echo("error: out of memory: lower --batch or the input size", err=True)
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            click.echo(f"error: {type(exc).__name__}: {first} (set SWAPFW_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)
