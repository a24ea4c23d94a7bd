"""``relu``: a value is 1 where its post-activation value is > 0 (the paper's Definition 3.2).

Exact for ReLU networks, and equally for ReLU6, Clip(min=0), LeakyReLU, PReLU, Hardswish and
Hardsigmoid, all piecewise linear with their kink where the output leaves 0.
"""

from swapfw import hookimpl
from swapfw.plugin_api import ACTIVATIONS, PIECEWISE_LINEAR
from swapfw.plugin_api import positive


class PostActivationPositive:
    name = "relu"
    description = "post-activation value > 0 (Definition 3.2)"
    tap = "output"
    handles = frozenset(ACTIVATIONS)
    default_for = frozenset(PIECEWISE_LINEAR)

    def binarise(self, value):
        return positive(value)


@hookimpl
def register_binarisers(register):
    register(PostActivationPositive())
