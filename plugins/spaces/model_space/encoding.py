"""The architecture string: one token per choice point, grouped by kind, in the IR's topological order.

    w:1,.5,.75*3|k:7,3*16|d:1,0,1*3|a:relu*17

``w`` width keep-ratios (any number in (0, 1]; sampling draws from the ``ratios`` option),
``k`` kernel sizes, ``d`` residual blocks kept (1) or dropped (0), ``a`` activations. ``TOKEN*N``
repeats a token N times. A kind left out keeps the original's values, so ``w:.5*12`` is the
original at half width. The canonical form writes every kind the space has, numbers in their
shortest form (``.5``, ``1``), activation aliases by their name (``swish`` -> ``silu``), runs as
``TOKEN*N``, and the points inside dropped blocks at the original's value (they change nothing).
"""

from __future__ import annotations

from swapfw import SwapfwError
from swapfw.plugin_api import bad_arch

from .choices import KINDS, LETTERS, ChoicePoint

ALIASES = {"swish": "silu", "hswish": "hardswish", "hard_swish": "hardswish", "relu_6": "relu6"}
_KIND_OF = {letter: kind for kind, letter in LETTERS.items()}
_SHOWN = {"width": "RATIO", "kernel": "KERNEL", "depth": "0|1", "activation": "ACTIVATION"}


def form(points: list[ChoicePoint]) -> str:
    """The expected shape of a string of this space, e.g. ``w:RATIO x12|k:KERNEL x17``."""
    counts = {kind: sum(p.kind == kind for p in points) for kind in KINDS}
    return "|".join(f"{LETTERS[k]}:{_SHOWN[k]} x{n}" for k, n in counts.items() if n)


def ratio_text(value: float) -> str:
    """Shortest spelling of a keep-ratio: 1, .5, .25, .333."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text[1:] if text.startswith("0.") else text


def token_text(point: ChoicePoint, value) -> str:
    return ratio_text(value) if point.kind == "width" else str(value)


def format_values(points: list[ChoicePoint], values: list) -> str:
    """Values -> the string, runs of equal tokens written ``TOKEN*N``."""
    parts = []
    for kind in KINDS:
        tokens = [token_text(p, v) for p, v in zip(points, values) if p.kind == kind]
        if not tokens:
            continue
        runs: list[list] = []
        for token in tokens:
            if runs and runs[-1][0] == token:
                runs[-1][1] += 1
            else:
                runs.append([token, 1])
        parts.append(f"{LETTERS[kind]}:" + ",".join(t if n == 1 else f"{t}*{n}" for t, n in runs))
    return "|".join(parts)


def parse_values(text, points: list[ChoicePoint]) -> list:
    """The string -> one value per point (kinds left out: the original's); SwapfwError if bad."""
    def bad(reason: str) -> SwapfwError:
        return bad_arch("model", text, reason, f"{form(points)} (TOKEN*N repeats a token)", limit=100)

    if not isinstance(text, str) or not text.strip():
        raise bad("it is empty")
    values = [p.default for p in points]
    seen = set()
    for part in text.strip().split("|"):
        letter, sep, body = part.strip().partition(":")
        kind = _KIND_OF.get(letter.strip())
        if not sep or kind is None:
            raise bad(f"{part!r} is not KIND:TOKENS with KIND one of {', '.join(LETTERS.values())}")
        if kind in seen:
            raise bad(f"{letter} appears twice")
        seen.add(kind)
        where = [i for i, p in enumerate(points) if p.kind == kind]
        if not where:
            raise bad(f"this model has no {kind} choice point")
        tokens = _expand(body, bad)
        if len(tokens) != len(where):
            raise bad(f"{letter} has {len(tokens)} tokens, the model has {len(where)} {kind} choice points")
        for i, token in zip(where, tokens):
            values[i] = _value(points[i], token, bad)
    return values


def _expand(body: str, bad) -> list[str]:
    tokens = []
    for item in body.split(","):
        token, star, count = item.strip().partition("*")
        if not token:
            raise bad(f"empty token in {body!r}")
        if star:
            if not count.strip().isdigit() or int(count) < 1:
                raise bad(f"{item.strip()!r}: the count after * must be a positive integer")
            tokens += [token.strip()] * int(count)
        else:
            tokens.append(token.strip())
    return tokens


def _value(point: ChoicePoint, token: str, bad):
    if point.kind == "width":
        try:
            ratio = round(float(token), 3)
        except ValueError:
            raise bad(f"width ratio {token!r} is not a number") from None
        if not 0 < ratio <= 1:
            raise bad(f"width ratio {token} is not in (0, 1]")
        return ratio
    if point.kind == "activation":
        name = ALIASES.get(token.lower(), token.lower())
        if name not in point.options:
            raise bad(f"activation {token!r} at {point.location} is not one of {', '.join(point.options)}")
        return name
    try:
        number = int(token)
    except ValueError:
        raise bad(f"{point.kind} token {token!r} is not an integer") from None
    if number not in point.options:
        shown = ", ".join(map(str, point.options))
        raise bad(f"{point.kind} {number} at {point.location} is not one of {shown}")
    return number
