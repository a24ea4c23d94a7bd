"""Bind each activation site to a binariser and the tap point that binariser reads.

Every binariser says which site kinds it can serve (``handles``) and which it serves when
the user names none (``default_for``). ``--binariser NAME`` makes NAME serve every site it
handles; other sites keep their default. Sites no binariser serves are left out and
reported; a model left with none is an error that names the activations it does have.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SwapfwError
from ..graph.ir import ModelIR
from ..graph.sites import Site
from ..plugins import Registry
from .probe import TapPoint


@dataclass
class Binding:
    """Which binariser reads which value, per tap point, and what was left out."""

    points: list[TapPoint]
    binarisers: list  # one per tap point
    by_kind: dict[str, str]  # site kind -> binariser name
    unhandled: dict[str, int]  # site kind -> count of sites no binariser serves


class KindRule:
    """Which binariser serves a site of each kind: the forced one where it handles the kind, else
    the kind's default (None: no binariser serves it)."""

    def __init__(self, registry: Registry, override: str | None = None):
        self.override = override
        self.forced = registry.get("binarisers", override) if override else None
        self.defaults = _defaults(registry)

    def __call__(self, kind: str):
        if self.forced is not None and kind in self.forced.handles:
            return self.forced
        return self.defaults.get(kind)


def bind(ir: ModelIR, registry: Registry, override: str | None = None) -> Binding:
    rule = KindRule(registry, override)
    if rule.forced is not None and not any(s.kind in rule.forced.handles for s in ir.sites):
        kinds = ", ".join(sorted(ir.activation_types())) or "none"
        raise SwapfwError(f"binariser {override!r} handles none of this model's activations ({kinds})")
    chosen: dict[TapPoint, object] = {}
    by_kind: dict[str, str] = {}
    unhandled: dict[str, int] = {}
    for site in ir.sites:
        binariser = rule(site.kind)
        if binariser is None:
            unhandled[site.kind] = unhandled.get(site.kind, 0) + 1
            continue
        chosen.setdefault(tap_point(site, binariser), binariser)
        by_kind[site.kind] = binariser.name
    if not chosen:
        raise SwapfwError(_no_site_message(ir, unhandled))
    return Binding(list(chosen), list(chosen.values()), by_kind, unhandled)


def _defaults(registry: Registry) -> dict[str, object]:
    defaults: dict[str, object] = {}
    for binariser in registry.all("binarisers"):
        for kind in getattr(binariser, "default_for", ()):
            defaults.setdefault(kind, binariser)
    return defaults


def tap_point(site: Site, binariser) -> TapPoint:
    """The value a binariser reads at a site: the activation's output, or the value that feeds it."""
    if binariser.tap == "output":
        return TapPoint(site.output)
    return TapPoint(site.input) if site.input is not None else TapPoint(site.output, "input")


def _no_site_message(ir: ModelIR, unhandled: dict[str, int]) -> str:
    if unhandled:
        has = ", ".join(f"{k} x{n}" for k, n in sorted(unhandled.items()))
        return (f"no activation site that a binariser handles by default: the model has {has}; "
                f"choose one with --binariser (e.g. --binariser sign)")
    ops = ir.op_counts()
    shown = ", ".join(f"{k} x{n}" for k, n in sorted(ops.items()) if k not in ("input", "output", "constant"))
    return f"the model has no activation to score (its ops: {shown or 'none'})"
