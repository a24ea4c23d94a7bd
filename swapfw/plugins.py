"""The one PluginManager: loads every entry point of group ``swapfw``, bundled or not.

Bundled plugins (package ``swapfw_plugins``) are listed in swapfw's own
``[project.entry-points.swapfw]`` table, so they load exactly as a third-party
package's do. A plugin that fails to import or to register is recorded as broken,
named, and skipped: it never takes the process down. Every registered object is checked
against its kind's protocol in ``swapfw.contracts``; one that does not conform is broken too,
with the member named, and its plugin's other objects still register.

Which entry points load is the user's choice: ``SWAPFW_LOAD_PLUGINS`` (or ``swapfw
--load-plugins``, or ``select``) lists entry-point or distribution names to load, and ``no:NAME``
ones to skip, as ``llm``'s ``LLM_LOAD_PLUGINS`` and pytest's ``-p no:NAME`` do. A plugin may
declare itself its kind's ``default`` and a proxy the ``role`` the core reads it as
(``swapfw.contracts.ROLES``); each is held by one object at most, so the core names no plugin.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import os
import re
import types
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import contracts, hookspecs
from .errors import PluginFailure, SwapfwError
from .waits import announced

GROUP = "swapfw"
#: the environment variable that selects which entry points load (unset: all of them)
LOAD_VARIABLE = "SWAPFW_LOAD_PLUGINS"

#: plugin kind -> the hook that registers objects of that kind
KINDS = {
    "spaces": "register_spaces",
    "proxies": "register_proxies",
    "searchers": "register_searchers",
    "binarisers": "register_binarisers",
    "executors": "register_executors",
    "evaluators": "register_evaluators",
    "latency_meters": "register_latency_meters",
}

SINGULAR = {"spaces": "search space", "proxies": "proxy", "searchers": "searcher", "binarisers": "binariser",
            "executors": "executor", "evaluators": "evaluator",
            "latency_meters": "latency meter"}


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
    defaults: dict[str, str] = field(default_factory=dict)  # kind -> the name of the object that declared itself default
    roles: dict[str, str] = field(default_factory=dict)  # proxy role -> the name of the proxy that plays it

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

    def default(self, kind: str) -> str:
        """The name of the object of ``kind`` the core uses where the user names none."""
        try:
            return self.defaults[kind]
        except KeyError:
            raise SwapfwError(f"no installed {SINGULAR[kind]} declares itself the default "
                              f"(installed: {', '.join(self.names(kind)) or 'none'}): name one") from None

    def role(self, role: str) -> str:
        """The name of the proxy that plays ``role`` (``swapfw.contracts.ROLES``)."""
        try:
            return self.roles[role]
        except KeyError:
            raise SwapfwError(f"no installed proxy plays the role {role!r} (is the swapfw distribution's "
                              f"own plugins excluded by {LOAD_VARIABLE}?)") from None


def check_options(entry: Entry, options: dict) -> None:
    """Refuse, in one line, an option ``entry``'s object does not declare (its ``options``; an object
    that declares none checks its own)."""
    known = getattr(entry.obj, "options", None)
    unknown = sorted(set(options) - set(known)) if known is not None else []
    if unknown:
        raise SwapfwError(f"{SINGULAR[entry.kind]} {entry.name} has no option {unknown[0]!r} "
                          f"(its options: {', '.join(known) or 'none'})")


_registry: Registry | None = None
_extra: list[tuple[object, str]] = []


def _distribution_label(ep: importlib.metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "unknown"


def _normalised(name: str) -> str:
    """A distribution or entry-point name as PyPI compares them (case and ``-_.`` ignored)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def selection() -> tuple[set[str] | None, set[str]]:
    """(names to load, or None for all; names to skip), from ``SWAPFW_LOAD_PLUGINS``."""
    text = os.environ.get(LOAD_VARIABLE)
    if text is None:
        return None, set()
    names = [n.strip() for n in text.split(",") if n.strip()]
    skip = {_normalised(n[3:]) for n in names if n.startswith("no:")}
    load = {_normalised(n) for n in names if not n.startswith("no:")}
    return (load if load or not skip else None), skip


def select(names: str | list[str] | None) -> None:
    """Load only these entry-point or distribution names (``no:NAME`` skips one; None: every plugin)
    from now on, in this process and in the workers it starts."""
    if names is None:
        os.environ.pop(LOAD_VARIABLE, None)
    else:
        os.environ[LOAD_VARIABLE] = names if isinstance(names, str) else ",".join(names)
    reset()


def _chosen(ep: importlib.metadata.EntryPoint, load: set[str] | None, skip: set[str]) -> bool:
    dist = getattr(ep, "dist", None)
    names = {_normalised(ep.name)} | ({_normalised(dist.name)} if dist is not None else set())
    return not (names & skip) and (load is None or bool(names & load))


def _load_entry_points(pm: pluggy.PluginManager, broken: list[Broken]) -> dict[str, str]:
    """Register each selected entry point's module; returns plugin name -> distribution label."""
    origins: dict[str, str] = {}
    load, skip = selection()
    found = sorted(importlib.metadata.entry_points(group=GROUP), key=lambda e: e.name)
    known = {_normalised(ep.name) for ep in found} | {_normalised(ep.dist.name) for ep in found
                                                        if getattr(ep, "dist", None) is not None}
    for name in sorted((load or set()) | skip):
        if name not in known:
            broken.append(Broken(name, LOAD_VARIABLE, "no installed plugin or distribution has this name "
                                                      f"(installed: {', '.join(sorted(known))})"))
    for ep in found:
        label = _distribution_label(ep)
        if pm.has_plugin(ep.name) or not _chosen(ep, load, skip):
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
                problems = contracts.check(contracts.protocol_for(_kind, obj), obj) + _claims(registry, _kind, obj)
                if problems:  # the plugin's other objects still register
                    registry.broken.append(Broken(_plugin, _dist, f"{SINGULAR[_kind]} {name!r} "
                                                                  f"({contracts.protocol_for(_kind, obj).__name__}): "
                                                                  + "; ".join(problems)))
                    return
                registry.entries[_kind][name] = Entry(_kind, name, obj, _plugin, _dist)
                if getattr(obj, "default", False):
                    registry.defaults[_kind] = name
                if _kind == "proxies" and getattr(obj, "role", None):
                    registry.roles[obj.role] = name

            try:
                impl.function(register=register)
            except Exception as exc:
                registry.broken.append(Broken(plugin, dist, f"{type(exc).__name__}: {exc}"))


def _claims(registry: Registry, kind: str, obj: Any) -> list[str]:
    """A default or a role another object holds already, or a role the core does not know."""
    problems = []
    if kind == "proxies" and getattr(obj, "name", None) in ("all", "default"):
        problems.append(f"the name {obj.name!r} is reserved: it stands for other proxies")
    if getattr(obj, "default", False) and kind in registry.defaults:
        problems.append(f"declares itself the default {SINGULAR[kind]}, which {registry.defaults[kind]!r} is already")
    role = getattr(obj, "role", None) if kind == "proxies" else None
    if role is not None and role not in contracts.ROLES:
        problems.append(f"role {role!r} is none of the roles the core reads ({', '.join(contracts.ROLES)})")
    elif role is not None and role in registry.roles:
        problems.append(f"plays the role {role!r}, which {registry.roles[role]!r} plays already")
    return problems


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


def worker_state() -> tuple:
    """What a process running this one's tasks needs to load the same plugins: the selection
    (``SWAPFW_LOAD_PLUGINS``) and the plugins registered from code, modules sent by name since
    modules do not pickle. Every task carries it, so no executor has to."""
    extras = tuple((_ModuleName(obj.__name__) if isinstance(obj, types.ModuleType) else obj, name)
                   for obj, name in _extra)
    return os.environ.get(LOAD_VARIABLE), extras


def adopt_worker_state(state: tuple) -> None:
    """In a worker: load what ``worker_state`` said the driver loads (nothing happens where it does already)."""
    if not state:
        return
    selected, extras = state
    if selected != os.environ.get(LOAD_VARIABLE):
        select(selected)
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
        shown = ", ".join(f"{k}={v}" for k, v in options.items())
        with announced(f"preparing space {name} ({shown}): analysing its source, once per process"):
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
