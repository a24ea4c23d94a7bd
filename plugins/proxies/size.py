"""Size proxies from the IR: ``params`` (parameter count) and ``flops`` (multiply-adds per sample).

Both describe the network the protocol sizes (``network.sized_params``, ``network.sized_ir``): the one the user trains,
which is the scored network unless a protocol scores a smaller proxy of it.
"""

from swapfw import hookimpl


class Params:
    name = "params"
    description = "parameter count"
    needs = frozenset()
    role = "parameter_count"

    def score(self, network, batch, *, seed):
        return network.sized_params


class Flops:
    name = "flops"
    description = "multiply-accumulates of one sample (conv, linear, matmul)"
    needs = frozenset()
    role = "flop_count"

    def score(self, network, batch, *, seed):
        return network.sized_ir.flops


@hookimpl
def register_proxies(register):
    register(Params())
    register(Flops())
