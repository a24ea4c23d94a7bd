"""The library's main call: ``swapfw.score(model, ...)`` -> SWAP, regularised SWAP, |A|, size.

Every number comes from a proxy plugin (``swap``, ``patterns``, ``regswap``...) run on the
prepared network, so a score here and the same proxy in ``correlate`` or ``search`` are one
definition.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from ..errors import SwapfwError
from ..patterns.count import saturation_note
from .data import load_batch
from .network import measure_patterns, prepare
from .proxies import combine, run_proxy
from .regularise import parse_mu_sigma, resolve_mu_sigma


@dataclass
class ScoreResult:
    swap: int
    regswap: float | None
    standard_patterns: int
    params: int
    flops: int
    activation_sites: int
    values: int
    samples: int
    binarisers: dict[str, str]
    unhandled_sites: dict[str, int]
    seconds: float
    seed: int
    mu: float | None = None
    sigma: float | None = None
    input_shape: tuple[int, ...] = ()
    data: str = "gaussian"
    device: str = "cpu"
    init: str = "random"
    source: str = ""
    note: str = ""
    proxies: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["input_shape"] = list(self.input_shape)
        return out


def score(model, *, data: str = "gaussian", batch: int = 16, input_shape=None, seed: int = 0,
          device: str = "cpu", init: str = "random", mu=None, sigma=None, binariser: str | None = None,
          proxies: tuple[str, ...] = (), build_options: dict | None = None) -> ScoreResult:
    """Score a model: an .onnx path, ``package.module:callable``, ``SPACE:ARCH`` or an nn.Module."""
    start = time.perf_counter()
    mu, sigma = parse_mu_sigma(mu), parse_mu_sigma(sigma)
    if (mu is None) != (sigma is None):
        raise SwapfwError("regularised SWAP needs both --mu and --sigma")
    network = prepare(model, input_shape=input_shape, init=init, seed=seed, device=device, binariser=binariser,
                      build_options=build_options)
    mu, sigma = resolve_mu_sigma(mu, sigma, network.loaded.space, build_options)
    network.settings.update(mu=mu, sigma=sigma)
    inputs = load_batch(data, batch, network.input_shape, seed)
    counts = measure_patterns(network, inputs.inputs, seed=seed)
    params = network.ir.params
    regswap = combine("regswap", {"swap": counts.swap, "params": params}, mu, sigma) if mu is not None else None
    extra = {name: run_proxy(name, network, inputs, seed) for name in proxies}
    note = "; ".join(filter(None, [network.ir.note, saturation_note([counts.swap], batch)]))
    return ScoreResult(
        swap=int(counts.swap), regswap=regswap, standard_patterns=int(counts.standard_patterns),
        params=params, flops=network.ir.flops, activation_sites=len(network.ir.sites),
        values=counts.values, samples=int(inputs.inputs.shape[0]), binarisers=network.binding.by_kind,
        unhandled_sites=network.binding.unhandled, seconds=time.perf_counter() - start, seed=seed,
        mu=mu, sigma=sigma, input_shape=network.input_shape, data=inputs.source, device=str(network.device),
        init=init, source=network.loaded.source, note=note, proxies=extra)
