"""The ``model`` space: variants of a model you bring, searched like any benchmark space.

``--space-option source=mynet.onnx`` (or ``source=package.module:callable``: the same strings
``swapfw score`` takes) names the model; the core binds the space to its options before any
other call (``contracts.Space.bind``), so the model is loaded and analysed once per process.
The choice points (widths, kernel sizes, droppable residual blocks, activations) and the
architecture string are described in ``model_space``; ``swapfw space-info model
--space-option source=...`` lists them.
"""

from __future__ import annotations

import random

from swapfw import SwapfwError, hookimpl


class ModelSpacePlugin:
    """The unbound space: everything but ``bind`` needs a source model first."""

    name = "model"
    description = "variants of your own model (--space-option source=PATH.onnx|package.module:callable)"
    input_shape = (3, 32, 32)

    def bind(self, options: dict):
        """The space of variants of ``options['source']``, analysed now."""
        from .model_space.space import bind

        return bind(options)

    def build(self, arch: str, **options):
        """Binds to ``options`` and builds (the core binds first; this serves direct callers)."""
        return self.bind(options).build(arch)

    def canonical(self, arch: str) -> str:
        raise self._unbound()

    def sample(self, count: int, seed: int) -> list:
        raise self._unbound()

    def mutate(self, arch: str, rng: random.Random, kind: str = "op") -> str:
        raise self._unbound()

    def crossover(self, a: str, b: str, rng: random.Random) -> tuple:
        raise self._unbound()

    @staticmethod
    def _unbound() -> SwapfwError:
        from .model_space.space import NEEDS_SOURCE

        return SwapfwError(NEEDS_SOURCE)


@hookimpl
def register_spaces(register):
    register(ModelSpacePlugin())
