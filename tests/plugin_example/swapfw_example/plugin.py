"""An example third-party plugin: a proxy, a binariser, and a proxy that always raises."""

from swapfw import hookimpl


class ConvCount:
    name = "conv_count"
    description = "number of convolutions in the IR"
    needs = frozenset()

    def score(self, network, batch, *, seed):
        return sum(1 for _, d in network.ir.graph.nodes(data=True) if d["type"] == "conv")


class Deliberate:
    name = "always_fails"
    description = "raises, to show failures are reported by name"
    needs = frozenset()

    def score(self, network, batch, *, seed):
        raise ValueError("deliberate failure inside the plugin")


class Centred:
    name = "centred"
    description = "post-activation value > its mean over the batch"
    tap = "output"
    handles = frozenset({"relu", "relu6", "gelu", "silu"})
    default_for = frozenset()

    def binarise(self, value):
        return value > value.mean(dim=0, keepdim=True)


@hookimpl
def register_proxies(register):
    register(ConvCount())
    register(Deliberate())


@hookimpl
def register_binarisers(register):
    register(Centred())
