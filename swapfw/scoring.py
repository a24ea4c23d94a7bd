"""The library's main call: ``swapfw.score(model, ...)`` -> SWAP, regularised SWAP, |A|, size."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch

from .data import Batch, load_batch
from .engine import PatternCounter, PatternCounts
from .errors import SwapfwError, is_out_of_memory
from .network import Network, prepare
from .plugins import call
from .proxies import proxy_entry
from .regularise import parse_mu_sigma, resolve_mu_sigma, size_factor
from .weights import initialise


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


def count_patterns(network: Network, inputs: torch.Tensor) -> PatternCounts:
    """One forward pass of ``inputs`` through the network, counting patterns as values appear."""
    counter = PatternCounter(network.binding.binarisers, inputs.shape[0], network.device)
    try:
        with torch.no_grad():
            output = network.probe.run(inputs.to(network.device), counter)
    except Exception as exc:
        if is_out_of_memory(exc):
            raise SwapfwError(f"out of memory scoring a batch of {inputs.shape[0]} on {network.device}: "
                              "lower --batch") from None
        raise
    _check_finite(output)
    return counter.result()


def output_is_finite(output) -> bool:
    """False where a float tensor of the model's output (or of its tuple) holds inf or NaN."""
    tensors = output if isinstance(output, (tuple, list)) else [output]
    return not any(isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all())
                   for t in tensors)


def _check_finite(output) -> None:
    """Overflow turns patterns into noise: refuse to return a number built on inf or NaN."""
    if not output_is_finite(output):
        raise SwapfwError("the network's output holds inf or NaN: its activations overflowed, so no "
                          "pattern count would be meaningful (try --init keep, or a model with normalisation)")


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
    counts = count_patterns(network, inputs.inputs)
    params = network.ir.params
    regswap = counts.swap * size_factor(params, mu, sigma) if mu is not None else None
    extra = {name: run_proxy(name, network, inputs, seed) for name in proxies}
    note = "; ".join(filter(None, [network.ir.note, saturation_note([counts.swap], batch)]))
    return ScoreResult(
        swap=counts.swap, regswap=regswap, standard_patterns=counts.standard_patterns,
        params=params, flops=network.ir.flops, activation_sites=len(network.ir.sites),
        values=counts.values, samples=counts.samples, binarisers=network.binding.by_kind,
        unhandled_sites=network.binding.unhandled, seconds=time.perf_counter() - start, seed=seed,
        mu=mu, sigma=sigma, input_shape=network.input_shape, data=inputs.source, device=str(network.device),
        init=init, source=network.loaded.source, note=note, proxies=extra)


SATURATION = 0.9  # SWAP above this share of its ceiling 2^S no longer separates networks well


def saturation_note(swaps: list[float], samples: int) -> str:
    """A warning when SWAP scores approach 2^S, the number of distinct S-bit patterns there are."""
    ceiling = 2.0 ** samples
    top = max(swaps, default=0.0)
    if samples >= 64 or top < SATURATION * ceiling:
        return ""
    return (f"SWAP reaches {top:,.0f} of its ceiling 2^{samples} = {ceiling:,.0f} distinct patterns: "
            f"networks this large saturate at S = {samples}, raise --batch")


@dataclass
class PatternSummary:
    """Pattern counts averaged over ``repeats`` re-initialisations (exact integers for one)."""

    swap: float
    standard_patterns: float
    values: int


def measure_patterns(network: Network, inputs: torch.Tensor, *, seed: int, repeats: int = 1) -> PatternSummary:
    """SWAP and |A| averaged over re-initialisations; shared by every proxy on the same batch.

    Repeat r draws its weights from seed ``seed`` for r = 0 (so one repeat equals plain
    scoring) and from a seed derived from (seed, r) after that.
    """
    key = (id(inputs), seed, repeats)
    if key in network.memo:
        return network.memo[key][1]
    if repeats < 1:
        raise SwapfwError(f"--repeats must be at least 1, got {repeats}")
    if repeats > 1 and network.settings.get("init") == "keep":
        raise SwapfwError("--repeats re-initialises the weights; it cannot be combined with --init keep")
    counts = []
    for r in range(repeats):
        if network.settings.get("init", "random") == "random":
            initialise(network.loaded.module, "random", seed if r == 0 else hash((seed, r)) & 0x7FFFFFFF)
        counts.append(count_patterns(network, inputs))
    summary = PatternSummary(sum(c.swap for c in counts) / repeats,
                             sum(c.standard_patterns for c in counts) / repeats, counts[0].values)
    network.memo[key] = (inputs, summary)  # keep inputs alive so its id is not reused
    return summary


def run_proxy(name: str, network: Network, batch: Batch, seed: int) -> float:
    """Run a proxy plugin by name; its failure is reported with its name, never a traceback.

    A derived proxy (``derived_from``) combines the values of the proxies it names; a
    population-level one has no value for a single network.
    """
    entry = proxy_entry(name)
    if getattr(entry.obj, "population", False):
        raise SwapfwError(f"proxy {name!r} ranks architectures against each other: use it in correlate")
    parts = getattr(entry.obj, "derived_from", None)
    if parts:
        values = {part: run_proxy(part, network, batch, seed) for part in parts}
        value = call(entry, "combine", values, network.settings)
    else:
        value = call(entry, "score", network, batch, seed=seed)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SwapfwError(f"proxy {name!r} returned {value!r}, not a number") from None
