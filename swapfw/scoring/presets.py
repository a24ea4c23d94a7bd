"""Scoring protocols: the named presets a space declares, and how a user's options override them.

A protocol fixes everything a score depends on besides the architecture and the seed: the
scoring network (``build``: width, cells, stem...), the input (``data``, ``batch`` S and
``input_shape``), how many re-initialisations the pattern scores average (``repeats``), and
which network's parameter count the size regulariser and ``params``/``flops`` report
(``size_build``: the network the user will train; a small proxy network's own size means
nothing for mu and sigma). A space lists its protocols in ``protocols`` (name -> ``Preset``),
the first one being its default; a space that lists none has one, ``default``.

``--space-option``, ``--data``, ``--batch``, ``--repeats`` and ``--input-shape`` each override
one field of the chosen protocol. A space option the protocol does not set for its scoring
network (``classes``, ``task``...) applies to the sized network too; one it does set
(``channels``, ``layers``...) changes the scoring network only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..errors import SwapfwError


@dataclass(frozen=True)
class Preset:
    """A named scoring protocol, as a space declares it."""

    description: str
    build: dict = field(default_factory=dict)  # build options of the scoring network
    size_build: dict | None = None  # build options of the sized network; None: the scoring network itself
    batch: int = 16
    repeats: int = 1
    data: str = "gaussian"  # the input when the user gives no --data
    input_shape: tuple[int, ...] | None = None  # None: the space's (input_shape_for the build options)


#: the protocol of a space that declares none
DEFAULT = Preset("the space's default network, 16 Gaussian samples, one initialisation")


@dataclass(frozen=True)
class Resolved:
    """A protocol with the user's overrides applied: what a score's cache key records."""

    name: str
    build_options: dict
    size_options: dict | None  # None: size the scoring network
    batch: int
    repeats: int
    data: str
    input_shape: tuple[int, ...] | None

    def key(self) -> dict:
        """The fields that change a value, JSON-ready (``size_options`` only where it differs)."""
        return {"protocol": self.name, "build": self.build_options, "size": self.size_options,
                "repeats": self.repeats, "input_shape": list(self.input_shape or ())}


def presets(space) -> dict[str, Preset]:
    """The space's protocols by name, its default first; ``{"default": DEFAULT}`` if it declares none."""
    declared = getattr(space, "protocols", None) or {"default": DEFAULT}
    for name, preset in declared.items():
        if not isinstance(preset, Preset):
            raise SwapfwError(f"space {space.name!r} declares protocol {name!r} as a {type(preset).__name__}, "
                              "not a swapfw.scoring.presets.Preset")
    return dict(declared)


def default_name(space) -> str:
    return next(iter(presets(space)))


def resolve(space, name: str | None = None, *, build_options: dict | None = None, batch: int | None = None,
            repeats: int | None = None, data: str | None = None, input_shape=None) -> Resolved:
    """Protocol ``name`` (default: the space's first) with each given option replacing its field."""
    known = presets(space)
    name = name or next(iter(known))
    if name not in known:
        raise SwapfwError(f"space {space.name!r} has no protocol {name!r} (known: {', '.join(known)}; "
                          f"see swapfw protocols {space.name})")
    preset = known[name]
    user = dict(build_options or {})
    build = {**preset.build, **user}
    size = None
    if preset.size_build is not None:
        size = {**preset.size_build, **{k: v for k, v in user.items() if k not in preset.build}}
        if size == build:
            size = None
    return Resolved(name, build, size, preset.batch if batch is None else batch,
                    preset.repeats if repeats is None else repeats, preset.data if data is None else data,
                    tuple(input_shape) if input_shape is not None else preset.input_shape)


def describe(preset) -> str:
    """One line: the fields a user can override, as options (a ``Preset`` or its fields as a dict)."""
    fields = preset if isinstance(preset, dict) else dataclasses.asdict(preset)
    parts = [f"--batch {fields['batch']}", f"--repeats {fields['repeats']}", f"--data {fields['data']}"]
    parts += [f"--space-option {k}={v}" for k, v in fields["build"].items()]
    if fields["size_build"] is not None:
        built = ", ".join(f"{k}={v}" for k, v in fields["size_build"].items()) or "the default build options"
        parts.append(f"params, flops and regularisation of the network built with {built}")
    return ", ".join(parts)
