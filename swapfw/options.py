"""Option values as a command line or a Python call gives them, made into one form.

The CLI hands over text (``classes=100``, ``3,32,32``, ``swap,params``); the Python API takes
the same text or the values themselves (a dict, a tuple, a list). Both go through these
functions, so ``swapfw correlate --proxies swap,params`` and ``swapfw.correlate(proxies=["swap",
"params"])`` mean one thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .errors import OptionError


def names(value, option: str = "--proxies") -> list[str] | None:
    """A comma list (``"swap,params"``) or a list of names -> a list, empty items dropped; None stays None."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    if not all(isinstance(item, str) for item in items):
        raise OptionError(f"{option} takes names, got {value!r}")
    out = []
    for item in items:  # a repeated option's values may themselves be comma lists
        out += [part.strip() for part in item.split(",") if part.strip()]
    return out


def integers(value, option: str = "--seeds") -> list[int] | None:
    """``"0,1,2"`` or ``[0, 1, 2]`` -> [0, 1, 2]; None stays None."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value) if isinstance(value, Iterable) else [value]
    try:
        return [_integer(item) for item in items if not (isinstance(item, str) and not item.strip())]
    except (TypeError, ValueError):
        raise OptionError(f"{option} takes comma-separated integers, got {value!r}") from None


def _integer(item) -> int:
    if isinstance(item, bool) or (isinstance(item, float) and not item.is_integer()):
        raise ValueError(item)
    return int(item)


def shape(value, option: str = "--input-shape") -> tuple[int, ...] | None:
    """``"3,32,32"`` or ``(3, 32, 32)`` -> (3, 32, 32); None stays None."""
    if value is None:
        return None
    try:
        dims = tuple(_integer(d) for d in (value.split(",") if isinstance(value, str) else value))
    except (TypeError, ValueError):
        raise OptionError(f"{option} takes C,H,W integers, got {value!r}") from None
    if not dims:
        raise OptionError(f"{option} takes C,H,W integers, got {value!r}")
    return dims


def space_options(value, option: str = "--space-option") -> dict:
    """``{"classes": 100}``, or ``["classes=100", ...]`` as the command line gives them -> a dict.

    Text values read as an int or a float where they are one, as strings otherwise."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        value = [value]
    out = {}
    for pair in value:
        key, sep, text = str(pair).partition("=")
        if not sep or not key:
            raise OptionError(f"{option} takes KEY=VALUE, got {pair!r}")
        out[key] = number_or_text(text)
    return out


def number_or_text(text: str):
    """``"100"`` -> 100, ``"0.5"`` -> 0.5, anything else as it is."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text
