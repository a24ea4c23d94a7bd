"""The one PluginManager: loads every entry point of group ``swapfw``, bundled or not.

Bundled plugins (package ``swapfw_plugins``) are listed in swapfw's own
``[project.entry-points.swapfw]`` table, so they load exactly as a third-party
package's do. A plugin that fails to import or to register is recorded as broken,
named, and skipped: it never takes the process down. Every registered object is checked
against its kind's protocol in ``swapfw.contracts``; one that does not conform is broken too,
with the member named, and its plugin's other objects still register.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import types
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import contracts, hookspecs
from .errors import PluginFailure, SwapfwError

GROUP = "swapfw"

#: plugin kind -> the hook that registers objects of that kind
KINDS = {
    "spaces": "register_spaces",
    "proxies": "register_proxies",
    "searchers": "register_searchers",
    "binarisers": "register_binarisers",
    "executors": "register_executors",
}

SINGULAR = {"spaces": "search space", "proxies": "proxy", "searchers": "searcher", "binarisers": "binariser",
            "executors": "executor"}


@dataclass
class Entry:
    """One registered object and where it came from."""

    kind: str
    name: str
    obj: Any
    plugin: str
    distribution: str


@dataclass
class Broken:
    """A plugin that could not be loaded or that raised while registering."""

    plugin: str
    distribution: str
    error: str


@dataclass
class Registry:
    """Every plugin object by kind and name, plus the plugins that failed."""

    manager: pluggy.PluginManager
    entries: dict[str, dict[str, Entry]] = field(default_factory=lambda: {k: {} for k in KINDS})
    broken: list[Broken] = field(default_factory=list)

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def entry(self, kind: str, name: str) -> Entry:
        try:
            return self.entries[kind][name]
        except KeyError:
            known = ", ".join(self.names(kind)) or "none installed"
            raise SwapfwError(f"unknown {SINGULAR[kind]} {name!r} (known: {known})") from None

    def get(self, kind: str, name: str) -> Any:
        return self.entry(kind, name).obj

    def all(self, kind: str) -> list[Any]:
        return [self.entries[kind][n].obj for n in self.names(kind)]


_registry: Registry | None = None
_extra: list[tuple[object, str]] = []


def _distribution_label(ep: importlib.metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "unknown"


def _load_entry_points(pm: pluggy.PluginManager, broken: list[Broken]) -> dict[str, str]:
    """Register each entry point's module; returns plugin name -> distribution label."""
    origins: dict[str, str] = {}
    for ep in sorted(importlib.metadata.entry_points(group=GROUP), key=lambda e: e.name):
        label = _distribution_label(ep)
        if pm.has_plugin(ep.name):
            continue
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # a broken plugin must not stop the others
            broken.append(Broken(ep.name, label, f"{type(exc).__name__}: {exc}"))
            continue
        origins[ep.name] = label
    return origins


def _collect(registry: Registry, origins: dict[str, str]) -> None:
    """Call each plugin's register hook separately so one failure stays contained."""
    pm = registry.manager
    for kind, hook_name in KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            plugin = pm.get_name(impl.plugin) or repr(impl.plugin)
            dist = origins.get(plugin, "registered in code")

            def register(obj: Any, _kind=kind, _plugin=plugin, _dist=dist) -> None:
                name = getattr(obj, "name", None)
                if not isinstance(name, str) or not name:
                    raise SwapfwError(f"{SINGULAR[_kind]} {obj!r} has no name")
                taken = registry.entries[_kind].get(name)
                if taken is not None:
                    raise SwapfwError(f"{SINGULAR[_kind]} {name!r} is already registered by {taken.plugin!r}")
                problems = contracts.check(contracts.protocol_for(_kind, obj), obj)
                if problems:  # the plugin's other objects still register
                    registry.broken.append(Broken(_plugin, _dist, f"{SINGULAR[_kind]} {name!r} "
                                                                  f"({contracts.protocol_for(_kind, obj).__name__}): "
                                                                  + "; ".join(problems)))
                    return
                registry.entries[_kind][name] = Entry(_kind, name, obj, _plugin, _dist)

            try:
                impl.function(register=register)
            except Exception as exc:
                registry.broken.append(Broken(plugin, dist, f"{type(exc).__name__}: {exc}"))


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _registry
    if _registry is None:
        pm = pluggy.PluginManager(GROUP)
        pm.add_hookspecs(hookspecs)
        registry = Registry(pm)
        origins = _load_entry_points(pm, registry.broken)
        for obj, name in _extra:
            pm.register(obj, name=name)
        _collect(registry, origins)
        _registry = registry
    return _registry


def register_plugin(obj: object, name: str | None = None) -> None:
    """Register a plugin module or object from code (a notebook, a test) without packaging it."""
    _extra.append((obj, name or getattr(obj, "__name__", repr(obj))))
    reset()


def unregister_plugin(name: str) -> None:
    """Drop a plugin registered from code."""
    _extra[:] = [(obj, n) for obj, n in _extra if n != name]
    reset()


def portable_extras() -> list[tuple[object, str]]:
    """The plugins registered from code, in a form a worker process can unpickle: modules by name."""
    return [(_ModuleName(obj.__name__) if isinstance(obj, types.ModuleType) else obj, name) for obj, name in _extra]


def adopt_extras(extras: list[tuple[object, str]]) -> None:
    """In a worker: register the driver's code-registered plugins it does not have yet."""
    have = {name for _, name in _extra}
    for obj, name in extras:
        if name not in have:
            module = importlib.import_module(obj) if isinstance(obj, _ModuleName) else obj
            register_plugin(module, name)


class _ModuleName(str):
    """A plugin module sent by name, since modules do not pickle."""


def reset() -> None:
    """Forget the registry so the next lookup reloads every plugin."""
    global _registry
    _registry = None
    _bound.clear()


def get_space(name: str, options: dict | None = None) -> Any:
    """The search space ``name``, bound to its build options where it has ``bind``.

    A space whose architectures depend on the build options (a model-derived one) is analysed
    once per process and set of options: bound spaces are kept per (name, options).
    """
    entry = get_registry().entry("spaces", name)
    options = dict(options or {})
    _check_build_options(name, entry.obj, options)
    if not hasattr(entry.obj, "bind"):
        return entry.obj
    key = (name, tuple(sorted((k, repr(v)) for k, v in options.items())))
    if key not in _bound:
        _bound[key] = call(entry, "bind", options)
    return _bound[key]


_bound: dict[tuple, Any] = {}


def _check_build_options(name: str, space: Any, options: dict) -> None:
    """An option ``build`` does not take is a typo: say so in one line before anything is built.
    A ``build`` taking ``**options`` checks its own (or takes anything)."""
    try:
        parameters = list(inspect.signature(space.build).parameters.values())[1:]  # after arch
    except (AttributeError, TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    known = [p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise SwapfwError(f"space {name!r} has no build option {', '.join(map(repr, unknown))}; "
                          f"its options: {', '.join(known) or 'none'}")


def get(kind: str, name: str) -> Any:
    return get_registry().get(kind, name)


def names(kind: str) -> list[str]:
    return get_registry().names(kind)


def call(entry: Entry, method: str, *args, **kwargs) -> Any:
    """Call a plugin object's method; an exception becomes a PluginFailure naming the plugin."""
    try:
        return getattr(entry.obj, method)(*args, **kwargs)
    except SwapfwError:
        raise
    except Exception as exc:
        raise PluginFailure(f"{entry.name} ({entry.distribution})", exc) from exc
