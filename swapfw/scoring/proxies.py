"""Proxies by name: plain, parametrised (``NAME:ARG``), derived and population-level.

- A plain proxy scores one network (``score(network, batch, seed=...)``).
- A derived proxy (``derived_from``) combines other proxies' values of the same network
  (``combine(values, settings)``), e.g. regswap = swap x f(params).
- A population-level proxy (``population = True``) also has ``derived_from``, but combines its
  parts across all scored architectures (``combine_population(columns, settings)``): rank
  aggregation needs the others to rank against, so it exists in ``correlate``, not for one model.
- A parametrised proxy has ``configure(argument)`` and is named ``NAME:ARG``, e.g.
  ``rank_agg:regswap+flops``.
``all`` names every registered proxy that takes no argument; ``default`` stands for the space's
default ranking (``default_proxy``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from .. import contracts
from ..errors import PluginFailure, SwapfwError
from ..plugins import Entry, call, get_registry


def proxy_entry(name: str) -> Entry:
    """The registry entry for ``name``; ``NAME:ARG`` configures the plugin NAME with ARG."""
    base, sep, argument = name.partition(":")
    entry = get_registry().entry("proxies", base)
    configure = getattr(entry.obj, "configure", None)
    if not sep:
        if configure is not None:
            raise SwapfwError(f"proxy {base!r} takes an argument: {base}:ARG")
        return entry
    if configure is None:
        raise SwapfwError(f"proxy {base!r} takes no argument (got {name!r})")
    configured = call(entry, "configure", argument)
    problems = contracts.check(contracts.protocol_for("proxies", configured, configured=True), configured)
    if problems:
        raise SwapfwError(f"proxy {name!r} ({entry.distribution}): its configured object {'; '.join(problems)}")
    return dataclasses.replace(entry, name=name, obj=configured)


def expand(names: list[str]) -> list[str]:
    """``all`` replaced by every argument-free proxy, duplicates dropped, order kept."""
    out: list[str] = []
    for name in names:
        if name == "all":
            registry = get_registry()
            more = [n for n in registry.names("proxies") if not hasattr(registry.get("proxies", n), "configure")]
        else:
            more = [name]
        out += [n for n in more if n not in out]
    return out


#: the name that stands for a space's default ranking wherever a proxy is named
DEFAULT = "default"


def default_proxy(space) -> str:
    """The proxy ``space`` ranks with when the user names none (its ``default_proxy``, chosen on
    its development splits), else the proxy that declares itself the default."""
    return getattr(space, "default_proxy", None) or get_registry().default("proxies")


def resolve_default(names: list[str], space) -> list[str]:
    """``names`` with ``default`` replaced by what it stands for on ``space``, duplicates dropped."""
    resolved = [default_proxy(space) if name == DEFAULT else name for name in names]
    return list(dict.fromkeys(resolved))


#: the roles whose proxies ``correlate`` compares when the user names none (after ``default``)
HEADLINE_ROLES = ("swap_score", "regularised_swap", "parameter_count", "flop_count")


def headline_proxies() -> list[str]:
    """The proxies of the headline roles, in that order."""
    return [role_proxy(role) for role in HEADLINE_ROLES]


def role_proxy(role: str) -> str:
    """The proxy that plays ``role`` (``swapfw.contracts.ROLES``): the core reads values by role, never by name."""
    return get_registry().role(role)


def is_population(name: str) -> bool:
    return bool(getattr(proxy_entry(name).obj, "population", False))


def parts_of(name: str) -> tuple[str, ...]:
    return tuple(getattr(proxy_entry(name).obj, "derived_from", None) or ())


def proxy_plan(names: list[str]) -> tuple[list[str], list[str]]:
    """Measured proxies (every leaf), and derived ones in an order where parts come first."""
    measured: list[str] = []
    derived: list[str] = []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in trail:
            raise SwapfwError(f"proxy {name!r} is derived from itself ({' -> '.join(trail + (name,))})")
        parts = parts_of(name)
        if not parts:
            if name not in measured:
                measured.append(name)
            return
        for part in parts:
            visit(part, trail + (name,))
        if name not in derived:
            derived.append(name)

    for name in names:
        visit(name, ())
    return measured, derived


def reference_size(name: str) -> int | None:
    """How many architectures of the space a calibrated proxy is measured against (None: it is not)."""
    return getattr(proxy_entry(name).obj, "reference", None)


def calibrated(derived: list[str]) -> list[str]:
    """The proxies among ``derived`` that need a reference sample of the space."""
    return [name for name in derived if reference_size(name)]


def needs_regularisation(names: list[str]) -> bool:
    """True where a proxy among ``names`` or their parts reads mu and sigma (``needs`` regularisation)."""
    measured, derived = proxy_plan(names)
    return any("regularisation" in (getattr(proxy_entry(n).obj, "needs", None) or ()) for n in measured + derived)


@dataclass
class Derivation:
    """What derived proxies read besides their parts: mu and sigma (numbers or None) and, per
    calibrated proxy, each part's sorted values over the space's reference sample. Made once per
    run by ``swapfw.studies.reference.derivation``, the same way for score, correlate and search."""

    mu: float | None = None
    sigma: float | None = None
    references: dict = field(default_factory=dict)

    def settings(self, name: str, entry: Entry) -> dict:
        """The ``settings`` a derived proxy's ``combine`` gets."""
        settings = {"mu": self.mu, "sigma": self.sigma}
        if getattr(entry.obj, "reference", None):
            if name not in self.references:
                raise SwapfwError(f"proxy {name!r} compares each part with a reference sample of the space, which was "
                                  "not measured: score it through swapfw.score, correlate or search")
            settings["reference"] = self.references[name]
        return settings


def combine(name: str, values: dict, derivation: Derivation) -> float:
    """A per-network derived proxy's value from its parts' values; NaN where a part is not finite."""
    entry = proxy_entry(name)
    parts = {p: values[p] for p in entry.obj.derived_from}
    if any(not math.isfinite(v) for v in parts.values()):
        return math.nan
    return float(call(entry, "combine", parts, derivation.settings(name, entry)))


def derive(values: dict, derived: list[str], derivation: Derivation) -> dict:
    """One network's values with its per-network derived proxies added, parts first."""
    out = dict(values)
    for name in derived:
        out[name] = combine(name, out, derivation)
    return out


def combine_columns(name: str, columns: dict[str, list[float]], derivation: Derivation) -> list[float]:
    """A derived proxy over many architectures: per network, or across them for population proxies."""
    entry = proxy_entry(name)
    parts = {p: columns[p] for p in entry.obj.derived_from}
    if getattr(entry.obj, "population", False):
        out = [float(v) for v in call(entry, "combine_population", parts,
                                      {"mu": derivation.mu, "sigma": derivation.sigma})]
        if len(out) != len(next(iter(parts.values()))):
            raise SwapfwError(f"proxy {name!r} returned {len(out)} values for "
                              f"{len(next(iter(parts.values())))} architectures")
        return out
    rows = range(len(next(iter(parts.values()))))
    return [combine(name, {p: parts[p][i] for p in parts}, derivation) for i in rows]


def needs_targets(names: list[str]) -> list[str]:
    """The measured proxies among ``names`` that need labelled data."""
    return [n for n in names if "targets" in getattr(proxy_entry(n).obj, "needs", ())]


def run_proxy(name: str, network, batch, seed: int) -> float:
    """Run a proxy plugin by name on one network; its failure is reported with its name, never a traceback.

    A derived proxy (``derived_from``) combines the values of the proxies it names; a
    population-level one has no value for a single network.
    """
    entry = proxy_entry(name)
    if getattr(entry.obj, "population", False):
        raise SwapfwError(f"proxy {name!r} ranks architectures against each other: use it in correlate")
    parts = getattr(entry.obj, "derived_from", None)
    if parts:
        values = {part: run_proxy(part, network, batch, seed) for part in parts}
        derivation = network.settings.get("derivation") or Derivation()
        settings = {k: v for k, v in network.settings.items() if k != "derivation"}
        value = call(entry, "combine", values, {**settings, **derivation.settings(name, entry)})
    else:
        try:
            value = call(entry, "score", network, batch, seed=seed)
        except PluginFailure as exc:
            group = network.loaded.fixed_batch
            if group is None or group == len(batch.inputs):
                raise
            raise SwapfwError(f"{exc}; this model takes exactly {group} sample(s) a call (an ONNX file whose "
                              f"fixed batch could not be made symbolic): only activation patterns are "
                              f"counted a group at a time, other proxies need --batch {group}") from None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SwapfwError(f"proxy {name!r} returned {value!r}, not a number") from None


