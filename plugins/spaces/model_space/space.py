"""The ``model`` space bound to one source model: analysed once, then sampled, mutated and built.

``bind(options)`` loads and traces the model, builds its graph IR, and finds the choice points
(``choices``, ``width``); everything else works on the list of points and one value per point.
"""

from __future__ import annotations

import math
import random
import warnings

from swapfw import SwapfwError
from swapfw.plugin_api import check_mutation_kind, check_sample_count, uniform_crossover

from . import choices, encoding, variant
from .choices import ACTIVATIONS, DEFAULT_KINDS, KERNELS, KINDS, RATIOS
from .source import load_template
from .width import find_groups

OPTIONS = ("source", "input_shape", "ratios", "kernels", "activations", "kinds")
NEEDS_SOURCE = ("the model space needs --space-option source=PATH.onnx or source=package.module:callable "
                "(the model to derive variants from)")


def _list(name: str, value, parse) -> tuple:
    """A ``+``-separated option (``ratios=0.25+0.5+1``), or one value."""
    items = [x for x in str(value).split("+") if x.strip()]
    try:
        out = tuple(parse(x.strip()) for x in items)
    except (ValueError, KeyError):
        out = ()
    if not out:
        raise SwapfwError(f"model space option {name}={value!r} is not a +-separated list of valid values")
    return out


def _ratio(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise ValueError(text)
    return round(value, 3)


def _kernel(text: str) -> int:
    value = int(text)
    if value < 1 or value % 2 == 0:
        raise ValueError(text)
    return value


def _activation(text: str) -> str:
    name = encoding.ALIASES.get(text.lower(), text.lower())
    if name not in ACTIVATIONS:
        raise ValueError(text)
    return name


def _kind(text: str) -> str:
    if text not in KINDS:
        raise ValueError(text)
    return text


def _shape(value) -> tuple[int, ...]:
    try:
        shape = tuple(int(x) for x in str(value).replace("x", ",").split(",") if x.strip())
    except ValueError:
        shape = ()
    if not shape or any(d < 1 for d in shape):
        raise SwapfwError(f"model space option input_shape={value!r} is not C,H,W (positive integers)")
    return shape


def bind(options: dict) -> "ModelSpace":
    """The space of variants of ``options['source']``; a SwapfwError names what is wrong."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise SwapfwError(f"unknown model space option {unknown[0]!r} (known: {', '.join(OPTIONS)})")
    source = options.get("source")
    if not isinstance(source, str) or not source:
        raise SwapfwError(NEEDS_SOURCE)
    config = {
        "ratios": _list("ratios", options.get("ratios", "+".join(map(str, RATIOS))), _ratio),
        "kernels": _list("kernels", options.get("kernels", "+".join(map(str, KERNELS))), _kernel),
        "activations": _list("activations", options.get("activations", "+".join(ACTIVATIONS)), _activation),
        "kinds": _list("kinds", options.get("kinds", "+".join(DEFAULT_KINDS)), _kind),
    }
    shape = _shape(options["input_shape"]) if "input_shape" in options else None
    with warnings.catch_warnings():  # the analysis runs the model a few times; its warnings are not news
        warnings.simplefilter("ignore")
        return ModelSpace(source, load_template(source, shape), config)


class ModelSpace:
    """Variants of one model: every architecture is one value per choice point."""

    name = "model"
    description = "variants of your own ONNX or torch model: widths, kernel sizes, depth, activations"

    def __init__(self, source: str, template, config: dict):
        from swapfw.plugin_api import build_ir

        self.source, self.template, self.config = source, template, config
        self.input_shape = template.input_shape
        ir = build_ir(template.graph_module, template.example)
        self.notes: list[str] = []
        found: dict[str, list] = {}
        if "width" in config["kinds"]:
            groups, notes = find_groups(template, ir, min(config["ratios"]))
            self.notes += notes
            found["width"] = choices.width_points(template.graph_module, ir, groups, config["ratios"])
        if "kernel" in config["kinds"]:
            found["kernel"] = choices.kernel_points(template.graph_module, ir, config["kernels"])
        if "depth" in config["kinds"]:
            found["depth"] = choices.depth_points(ir)
        if "activation" in config["kinds"]:
            found["activation"] = choices.activation_points(ir, config["activations"])
        self.points = [p for kind in KINDS for p in found.get(kind, [])]
        if not self.points:
            raise SwapfwError(f"no choice point in {source}: " + "; ".join(self._why_none(found)))
        self.params = sum(p.numel() for p in template.graph_module.parameters())
        self.original = encoding.format_values(self.points, [p.default for p in self.points])
        if template.hidden:
            self.notes.append("activations inside layers kept whole by the tracer (e.g. timm BatchNormAct2d) are "
                              "scored but are not choice points")

    def _why_none(self, found: dict) -> list[str]:
        why = {"width": "no channel group may change", "kernel": "no square odd spatial Conv2d of 3x3 or more",
               "depth": "no residual block whose input and output shapes agree",
               "activation": f"no {'/'.join(self.config['activations'])} activation site"}
        out = []
        for kind in KINDS:
            if kind not in found:
                out.append(f"{kind} not looked for (kinds option)")
                continue
            failed = [n.partition(": ")[2] for n in self.notes if n.startswith(f"{kind}:")]
            out.append(f"{kind}: {failed[-1] if failed else why[kind]}")
        return out

    # --- strings ------------------------------------------------------------------------------

    def parse(self, arch: str) -> dict:
        """{kind: [value per point, in order]}."""
        values = self._values(arch)
        return {kind: [v for p, v in zip(self.points, values) if p.kind == kind] for kind in KINDS
                if any(p.kind == kind for p in self.points)}

    def format(self, parsed: dict) -> str:
        """Inverse of parse (a kind left out keeps the original's values)."""
        parts = [f"{choices.LETTERS[kind]}:" + ",".join(map(str, values)) for kind, values in parsed.items()]
        return self.canonical("|".join(parts))

    def canonical(self, arch: str) -> str:
        """Normalised spellings, runs as TOKEN*N, points inside dropped blocks at the original's value."""
        return encoding.format_values(self.points, self._values(arch))

    def _values(self, arch: str) -> list:
        return self._settle(encoding.parse_values(arch, self.points))

    def _settle(self, values: list) -> list:
        dead = choices.dead(self.points, values)
        return [p.default if d else v for p, v, d in zip(self.points, values, dead)]

    # --- building -----------------------------------------------------------------------------

    def build(self, arch: str, **options):
        """The variant, freshly initialised; build options (source, ...) were used by bind and are ignored."""
        return variant.build(self.template.graph_module, self.points, self._values(arch), self.template.hidden)

    # --- search operators ---------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Distinct strings (points inside dropped blocks counted as if they mattered: an upper bound)."""
        return math.prod(len(p.options) for p in self.points)

    def sample(self, count: int, seed: int) -> list[str]:
        """``count`` distinct architectures, each point's value uniform over its options."""
        check_sample_count("model space", count, self.size)
        rng, found = random.Random(seed), {}
        for _ in range(50 * count + 100):
            arch = encoding.format_values(self.points, self._settle([rng.choice(p.options) for p in self.points]))
            found.setdefault(arch, None)
            if len(found) == count:
                return list(found)
        raise SwapfwError(f"model space: could not draw {count} distinct architectures (it has few live choices)")

    def mutate(self, arch: str, rng: random.Random, kind: str = "op") -> str:
        """One live point takes another of its options. ``connectivity`` drops or restores a block
        (where there is one), ``op`` changes a width, kernel or activation."""
        check_mutation_kind("model space", kind)
        values = self._values(arch)
        live = [i for i, d in enumerate(choices.dead(self.points, values)) if not d]
        wanted = [i for i in live if (self.points[i].kind == "depth") == (kind == "connectivity")] or live
        i = rng.choice(wanted)
        values[i] = rng.choice([o for o in self.points[i].options if o != values[i]])
        return encoding.format_values(self.points, self._settle(values))

    def crossover(self, a: str, b: str, rng: random.Random) -> tuple[str, str]:
        """Uniform crossover: each point's value from one parent or the other."""
        first, second = uniform_crossover(self._values(a), self._values(b), rng)
        return (encoding.format_values(self.points, self._settle(first)),
                encoding.format_values(self.points, self._settle(second)))

    # --- for people ---------------------------------------------------------------------------

    def changes(self, arch: str) -> list[dict]:
        """The variant as changes from the original: a row per choice point whose value differs (points
        inside a dropped block are gone with it, so they are not listed)."""
        values = self._values(arch)
        rows = []
        for i, (point, value) in enumerate(zip(self.points, values)):
            if value == point.default:
                continue
            shown = encoding.token_text(point, value)
            if point.kind == "depth":
                shown += " (block dropped)" if value == 0 else " (block kept)"
            rows.append({"id": self._point_id(i), "kind": point.kind, "location": point.location,
                         "original": encoding.token_text(point, point.default), "chosen": shown})
        return rows

    def _point_id(self, index: int) -> str:
        """``w0``, ``k3``...: the point's letter and its place among the points of its kind."""
        point = self.points[index]
        return f"{choices.LETTERS[point.kind]}{sum(q.kind == point.kind for q in self.points[:index])}"

    def describe(self) -> dict:
        """Source, size, the original's string and every choice point (kind, location, options)."""
        counts = {kind: sum(p.kind == kind for p in self.points) for kind in KINDS}
        points = [{"id": self._point_id(i), "kind": p.kind, "location": p.location,
                   "options": " ".join(encoding.token_text(p, o) for o in p.options),
                   "original": encoding.token_text(p, p.default)} for i, p in enumerate(self.points)]
        return {"space": self.name, "source": self.source, "input_shape": list(self.input_shape),
                "params": self.params, "params_millions": round(self.params / 1e6, 4),
                "choice_points": sum(counts.values()), "per_kind": {k: n for k, n in counts.items() if n},
                "size": self.size, "form": encoding.form(self.points), "original": self.original,
                "size_target": f"--mu F*{self.params / 1e6:.4g} (millions) for a fraction F of the original's "
                               f"parameters, e.g. --mu {0.4 * self.params / 1e6:.4g} for 40 %",
                "points": points, "notes": self.notes}
