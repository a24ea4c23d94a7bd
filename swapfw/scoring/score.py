"""One model scored: SWAP, regularised SWAP, |A|, size, and any proxies asked for.

Every number comes from a proxy plugin run on the prepared network, chosen by the role it
declares (``swapfw.contracts.ROLES``), so a score here and the same proxy in ``correlate`` or
``search`` are one definition. ``swapfw.score`` (``swapfw.api``) resolves ``--mu/--sigma auto``
and calibrated proxies' reference samples first (``swapfw.studies.reference.derivation``) and
hands them in as a ``Derivation``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch.nn as nn

from ..errors import SwapfwError
from ..graph import exported
from ..patterns.count import saturation_note
from . import presets
from .data import load_batch, token_spec
from ..graph.importers import parse_space_model
from ..plugins import get_registry
from .network import measure_patterns, prepare
from .proxies import Derivation, role_proxy, run_proxy


#: samples a model outside a search space is scored on, where neither the user nor its file says
DEFAULT_BATCH = 16
#: layers that normalise what a convolution computes
NORMALISATION = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


@dataclass
class ScoreResult:
    swap: float  # an integer count; the mean over re-initialisations when repeats > 1
    regswap: float | None
    standard_patterns: float
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
    default: str | None = None  # what the proxy name ``default`` stood for, where it was asked for
    protocol: str | None = None  # the space's protocol a SPACE:ARCH model was scored under
    repeats: int = 1
    #: build options of the network SWAP, |A|, sites and V describe (a SPACE:ARCH model's)
    scored_network: dict = field(default_factory=dict)
    #: build options of the network params, FLOPs and regularised SWAP describe; None: the scored one
    sized_network: dict | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["input_shape"] = list(self.input_shape)
        return out

    def __getitem__(self, key: str):
        """Fields by name too, as every other command's result."""
        return self.to_dict()[key]


def score(model, *, data: str | None = None, batch: int | None = None, input_shape=None, seed: int = 0,
          device: str = "cpu", init: str = "random", derivation: Derivation | None = None,
          binariser: str | None = None, proxies: tuple[str, ...] = (), build_options: dict | None = None,
          protocol: str | None = None, repeats: int | None = None) -> ScoreResult:
    """Score a model: an .onnx path, ``package.module:callable``, ``SPACE:ARCH`` or an nn.Module.

    A ``SPACE:ARCH`` model is scored under one of its space's protocols (``protocol``, default
    the space's first); ``data``, ``batch``, ``repeats``, ``input_shape`` and ``build_options``
    override its fields. Other models default to 16 Gaussian samples and one initialisation.
    ``derivation``: mu and sigma as numbers (regularised SWAP where both are given) and the
    reference samples of calibrated proxies.
    """
    start = time.perf_counter()
    derivation = derivation or Derivation()
    if (derivation.mu is None) != (derivation.sigma is None):
        raise SwapfwError("regularised SWAP needs both --mu and --sigma")
    in_space = parse_space_model(model)
    if in_space is not None:
        space = get_registry().get("spaces", in_space[0])
        chosen = presets.resolve(space, protocol, build_options=build_options, batch=batch, repeats=repeats,
                                 data=data, input_shape=input_shape)
        build_options, size_options = chosen.build_options, chosen.size_options
        data, batch, repeats, input_shape = chosen.data, chosen.batch, chosen.repeats, chosen.input_shape
        protocol = chosen.name
    else:
        if protocol is not None:
            raise SwapfwError("--protocol names a search space's scoring protocol: it applies to SPACE:ARCH models")
        size_options = None
        if input_shape is None and data and data.startswith("tokens:") and token_spec(data)[1]:
            input_shape = (token_spec(data)[1],)
    settings = {"repeats": repeats, "mu": derivation.mu, "sigma": derivation.sigma, "derivation": derivation}
    network = prepare(model, input_shape=input_shape, init=init, seed=seed, device=device, binariser=binariser,
                      build_options=build_options, size_options=size_options, settings=settings,
                      ids=(data or "").startswith("tokens"))
    notes = [*network.loaded.notes]
    if in_space is None:  # a file swapfw exported scores as its space did, where the user says nothing else
        recorded, given = network.loaded.recorded, {"data": data, "batch": batch, "repeats": repeats}
        taken = {k: recorded[k] for k in given if given[k] is None and k in recorded}
        if taken:
            notes.append(exported.describe({**{k: recorded[k] for k in ("model", "protocol") if k in recorded},
                                            **taken}))
        data = taken.get("data", data)
        batch = taken.get("batch", DEFAULT_BATCH) if batch is None else batch
        repeats = taken.get("repeats", 1) if repeats is None else repeats
        network.settings["repeats"] = repeats
        notes.append(normalisation_note(network.loaded.module, init))
    data = data_for(network.loaded, data)
    inputs = load_batch(data, batch, network.input_shape, seed)

    def value(role: str) -> float:
        return run_proxy(role_proxy(role), network, inputs, seed)

    swap, patterns = value("swap_score"), value("standard_patterns")
    flops, params = int(value("flop_count")), int(value("parameter_count"))
    regswap = value("regularised_swap") if derivation.mu is not None else None
    extra = {name: run_proxy(name, network, inputs, seed) for name in proxies}
    note = "; ".join(filter(None, [*notes, network.ir.note, saturation_note([swap], batch)]))
    return ScoreResult(
        swap=swap if repeats > 1 else int(swap), regswap=regswap,
        standard_patterns=patterns if repeats > 1 else int(patterns),
        params=params, flops=flops, activation_sites=len(network.ir.sites),
        values=measure_patterns(network, inputs.inputs, seed=seed, repeats=repeats).values, samples=int(inputs.inputs.shape[0]), binarisers=network.binding.by_kind,
        unhandled_sites=network.binding.unhandled, seconds=time.perf_counter() - start, seed=seed,
        mu=derivation.mu, sigma=derivation.sigma, input_shape=network.input_shape, data=inputs.source,
        device=str(network.device), init=init, source=network.loaded.source, note=note, proxies=extra,
        protocol=protocol, repeats=repeats, scored_network=dict(build_options or {}),
        sized_network=None if size_options is None else dict(size_options))


def normalisation_note(module, init: str) -> str:
    """A warning for a convolutional network with no normalisation layer scored under random weights:
    typically an export folded its BatchNorm into the convolutions, so nothing normalises the fresh
    weights and the score is not the original network's (or its activations overflow)."""
    if init == "keep":
        return ""
    layers = list(module.modules())
    convs = sum(isinstance(m, nn.modules.conv._ConvNd) for m in layers)
    norms = sum(isinstance(m, NORMALISATION) for m in layers)
    if convs < 4 or norms * 10 >= convs:
        return ""
    return (f"{convs} convolutions and {norms or 'no'} normalisation layer{'s' if norms != 1 else ''}: where an export "
            "folded BatchNorm into the convolutions (torch.onnx.export does by default), random weights leave "
            "nothing normalised and the score is not the original network's; score with --init keep, or export "
            "with do_constant_folding=False (swapfw export does)")


def data_for(loaded, data: str | None) -> str:
    """The data source for a model: token ids for a model that takes them (vocabulary from the model
    where the user names none), Gaussian samples for others; a source of the wrong kind is an error."""
    kind = (data or "").partition(":")[0]
    if not loaded.takes_ids:
        if kind == "tokens":
            raise SwapfwError(f"--data {data}: token ids are for a model whose input is integer ids; "
                              f"this model takes {loaded.input_dtype} inputs")
        return data or "gaussian"
    if data is not None and kind != "tokens":
        raise SwapfwError(f"the model's input is {loaded.input_dtype} token ids: use --data tokens:VOCAB[,LENGTH], "
                          f"not {data}")
    if data is None or data == "tokens":
        if loaded.vocab is None:
            raise SwapfwError("the model's input is token ids and its graph does not say the vocabulary size: "
                              "give --data tokens:VOCAB[,LENGTH]")
        return f"tokens:{loaded.vocab}"
    vocab = token_spec(data)[0]
    if loaded.vocab is not None and vocab > loaded.vocab:
        raise SwapfwError(f"--data {data}: ids up to {vocab - 1}, but the model's embedding has {loaded.vocab} rows")
    return data
