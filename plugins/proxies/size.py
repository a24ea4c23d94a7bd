"""Size proxies from the IR: ``params`` (parameter count) and ``flops`` (multiply-adds per sample)."""

from swapfw import hookimpl


class Params:
    name = "params"
    description = "parameter count"
    needs = frozenset()

    def score(self, network, batch, *, seed):
        return network.ir.params


class Flops:
    name = "flops"
    description = "multiply-accumulates of one sample (conv, linear, matmul)"
    needs = frozenset()

    def score(self, network, batch, *, seed):
        return network.ir.flops


@hookimpl
def register_proxies(register):
    register(Params())
    register(Flops())
