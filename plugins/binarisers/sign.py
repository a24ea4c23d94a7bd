"""``sign``: a value is 1 where its pre-activation value is > 0.

For smooth activations (GELU, SiLU) there is no exact kink; the sign of the input is the
region the activation is in. Chosen by default for GELU and SiLU sites; ``--binariser sign``
applies it to any activation.
"""

from swapfw import hookimpl
from swapfw.plugin_api import ACTIVATIONS
from swapfw.plugin_api import positive


class PreActivationSign:
    name = "sign"
    description = "pre-activation value > 0 (smooth activations)"
    tap = "input"
    handles = frozenset(ACTIVATIONS)
    default_for = frozenset({"gelu", "silu"})

    def binarise(self, value):
        return positive(value)


@hookimpl
def register_binarisers(register):
    register(PreActivationSign())
