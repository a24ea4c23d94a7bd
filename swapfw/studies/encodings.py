"""Architectures in the encodings users already have: a benchmark's index, NASLib's op indices,
NAS-Bench-101's module hash, NAS-Bench-301's configuration. A space lists its ``formats`` and
converts with ``encode``/``decode``; ``arch`` is always the space's own string.
"""

from __future__ import annotations

from ..errors import SwapfwError

ARCH = "arch"


def formats(space) -> list[str]:
    """Every encoding of ``space``, its own string (``arch``) first."""
    return [ARCH, *getattr(space, "formats", ())]


def to_arch(space, value: str, fmt: str = ARCH) -> str:
    """The canonical string of ``value`` given in encoding ``fmt``."""
    _known(space, fmt)
    return space.canonical(value if fmt == ARCH else space.decode(value, fmt))


def from_arch(space, arch: str, fmt: str) -> str:
    """``arch`` in encoding ``fmt``."""
    _known(space, fmt)
    canonical = space.canonical(arch)
    return canonical if fmt == ARCH else space.encode(canonical, fmt)


def detect(space, value: str) -> str:
    """The one encoding ``value`` reads in; an error naming them when it reads in none or in several."""
    fits, errors = [], []
    for fmt in formats(space):
        try:
            to_arch(space, value, fmt)
            fits.append(fmt)
        except SwapfwError as exc:
            errors.append(f"{fmt}: {exc}")
    if len(fits) == 1:
        return fits[0]
    if fits:
        raise SwapfwError(f"{value!r} reads as {' and as '.join(fits)} in {space.name}: say which with --from")
    raise SwapfwError(f"{value!r} is no {space.name} architecture in any encoding ({'; '.join(errors)})")


def convert(space, value: str, to: str, source: str | None = None) -> str:
    """``value`` (in encoding ``source``, detected when None) in encoding ``to``."""
    return from_arch(space, to_arch(space, value, source or detect(space, value)), to)


def _known(space, fmt: str) -> None:
    if fmt not in formats(space):
        raise SwapfwError(f"{space.name} has no encoding {fmt!r} (known: {', '.join(formats(space))})")
