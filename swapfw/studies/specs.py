"""Declarative experiment specs (TOML): each ``[[correlate]]`` table is one ``swapfw correlate`` run.

Keys are the correlate options with underscores (``space``, ``truth``, ``metric``, ``proxies``,
``samples``, ``seeds``, ``data``, ``batch``, ``repeats``, ``space_options``, ``input_shape``,
``mu``, ``sigma``, ``binariser``, ``device``, ``arch_column``) plus optional ``plot`` and
``save`` paths. An optional ``[report]`` table names where the comparison table across all
runs goes: ``table`` (CSV), ``json`` and ``heatmap`` (PNG). Paths are taken relative to the
directory swapfw runs in; ``$SWAPFW_DATA`` (or ``${SWAPFW_DATA}``) in a value stands for the folder
that holds the benchmark data (docs/data.md), so one spec runs on every machine.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from pathlib import Path

from ..errors import SwapfwError
from .correlate import CorrelateSettings

_OUTPUTS = ("plot", "save")
_RENAMED = {"space_options": "build_options"}
REPORT_KEYS = ("table", "json", "heatmap")
#: the environment variable naming the folder of the benchmark data
DATA_VARIABLE = "SWAPFW_DATA"
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def _read(path: str) -> dict:
    file = Path(path)
    if not file.is_file():
        raise SwapfwError(f"spec {path} does not exist")
    try:
        return tomllib.loads(file.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SwapfwError(f"spec {path} is not valid TOML: {exc}") from None


def load_spec(path: str) -> list[tuple[CorrelateSettings, dict]]:
    tables = _read(path).get("correlate")
    if not isinstance(tables, list) or not tables:
        raise SwapfwError(f"spec {path} has no [[correlate]] table")
    return [_settings(table, path, i) for i, table in enumerate(tables, start=1)]


def load_report(path: str) -> dict:
    """The spec's ``[report]`` table: where the comparison table across its runs is written."""
    report = _read(path).get("report", {})
    unknown = set(report) - set(REPORT_KEYS)
    if unknown:
        raise SwapfwError(f"spec {path}, [report]: unknown key {sorted(unknown)[0]!r} (use {', '.join(REPORT_KEYS)})")
    return report


def expand(value, path: str):
    """``$NAME``/``${NAME}`` in a string replaced by the environment variable; an unset one is an error."""
    if not isinstance(value, str):
        return value

    def variable(match):
        name = match.group(1) or match.group(2)
        if name not in os.environ:
            hint = " (the folder holding the benchmark data: see docs/data.md)" if name == DATA_VARIABLE else ""
            raise SwapfwError(f"spec {path} uses ${name}, which is not set{hint}")
        return os.environ[name]

    return _VARIABLE.sub(variable, value)


def override(settings: CorrelateSettings, protocol: dict | None = None, *, samples: int | None = None,
             seeds: list[int] | None = None, proxies: list[str] | None = None) -> CorrelateSettings:
    """The run with the given values in place of the spec's; build options merge key by key."""
    changes = dict(protocol or {})
    if "build_options" in changes:
        changes["build_options"] = {**settings.build_options, **changes["build_options"]}
    for name, value in (("samples", samples), ("seeds", seeds), ("proxies", proxies)):
        if value is not None:
            changes[name] = list(value) if name != "samples" else value
    return dataclasses.replace(settings, **changes)


def _settings(table: dict, path: str, index: int) -> tuple[CorrelateSettings, dict]:
    known = {f.name for f in dataclasses.fields(CorrelateSettings)}
    options, outputs = {}, {}
    for key, value in table.items():
        value = expand(value, path)
        if key in _OUTPUTS:
            outputs[key] = value
            continue
        name = _RENAMED.get(key, key)
        if name not in known:
            raise SwapfwError(f"spec {path}, correlate #{index}: unknown key {key!r}")
        options[name] = value
    if isinstance(options.get("proxies"), str):
        options["proxies"] = [p for p in options["proxies"].split(",") if p]
    if "input_shape" in options:
        options["input_shape"] = tuple(options["input_shape"])
    missing = [k for k in ("space", "truth", "metric", "proxies") if k not in options]
    if missing:
        raise SwapfwError(f"spec {path}, correlate #{index}: missing {', '.join(missing)}")
    return CorrelateSettings(**options), outputs
