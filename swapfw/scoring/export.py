"""Write a model (typically a searched ``SPACE:ARCH``) to a file that trains elsewhere and scores back.

``onnx``: the TorchScript exporter at opset 17 with a dynamic batch axis and **no constant
folding**, so every BatchNormalization stays its own node (folded into the convolutions, nothing
would normalise a randomly re-initialised network: its score changes, or its activations
overflow). Initializers stay graph inputs, because otherwise the exporter merges weights that
happen to be equal (every BatchNorm starts at 1 and 0), which a training framework would then tie.
``torch``: a TorchScript module (``torch.jit.trace``), loadable with ``torch.jit.load`` without
swapfw installed. Weights are the network's default PyTorch initialisation.

Both record how the space scores the network (``graph.exported``; the protocol from ``presets``):
``swapfw score FILE`` then takes the protocol's data, batch, repeats and input shape, and gives
the score the space gives.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import torch

from ..errors import SwapfwError
from ..graph import exported
from ..graph.importers import load_model, parse_space_model, resolve_input_shape
from ..version import __version__

FORMATS = ("onnx", "torch")
#: file suffixes of each format: one that names the other format is an error
SUFFIXES = {"onnx": (".onnx",), "torch": (".pt", ".pth", ".ts", ".torchscript")}
OPSET = 17


def file_format(out: str, fmt: str | None) -> str:
    """The format to write: ``fmt``, checked against the suffix of ``out``; else the suffix's."""
    if fmt is not None and fmt not in FORMATS:
        raise SwapfwError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    suffix = Path(out).suffix.lower()
    named = next((f for f, suffixes in SUFFIXES.items() if suffix in suffixes), None)
    if fmt is None:
        return named or "onnx"
    if named is not None and named != fmt:
        raise SwapfwError(f"{out}: a {suffix} file is {named}, not {fmt} (name it "
                          f"{Path(out).with_suffix(SUFFIXES[fmt][0]).name}, or drop --format)")
    return fmt


def export(model: str, fmt: str | None, out: str, *, build_options: dict | None = None, input_shape=None) -> dict:
    fmt = file_format(out, fmt)
    loaded = load_model(model, build_options)
    shape = resolve_input_shape(loaded.input_shape, input_shape, loaded.default_shape)
    module = loaded.module.eval()
    record = {"model": model if isinstance(model, str) else type(model).__name__, "swapfw": __version__,
              **_scoring(model, loaded, build_options), "input_shape": list(shape)}
    example = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "onnx":
                torch.onnx.export(module, (example,), out, dynamo=False, opset_version=OPSET, do_constant_folding=False,
                                  input_names=["input"], output_names=["output"], keep_initializers_as_inputs=True,
                                  dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
                exported.write_onnx(out, record)
            else:
                torch.jit.trace(module, example).save(out, _extra_files=exported.torchscript_files(record))
    except OSError as exc:
        raise SwapfwError(f"cannot write {out}: {exc.strerror or exc}") from None
    return {"model": record["model"], "format": fmt, "path": out, "input_shape": list(shape),
            "params": sum(p.numel() for p in module.parameters()),
            "recorded": {k: record[k] for k in exported.FIELDS if k in record}}


def _scoring(model, loaded, build_options: dict | None) -> dict:
    """How the space scores the exported network: the first of its protocols whose scoring network
    is the one built here (its data, batch and repeats); nothing for a model from outside a space."""
    from ..plugins import call, get_registry
    from . import presets

    in_space = parse_space_model(model)
    if in_space is None or loaded.space is None:
        return {}
    built, shown = dict(build_options or {}), repr(loaded.module)
    entry = replace(get_registry().entry("spaces", in_space[0]), obj=loaded.space)
    for name in presets.presets(loaded.space):
        chosen = presets.resolve(loaded.space, name, build_options=built)
        if chosen.build_options != built:  # the same network under other spellings (defaults named)?
            try:
                with torch.device("meta"):
                    if repr(call(entry, "build", in_space[1], **chosen.build_options)) != shown:
                        continue
            except SwapfwError:
                continue
        return {"protocol": name, "data": chosen.data, "batch": chosen.batch, "repeats": chosen.repeats}
    return {}
