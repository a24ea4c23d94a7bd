"""Import a TorchScript file (``torch.jit.save``, as ``swapfw export --format torch`` writes).

torch.fx cannot trace a ScriptModule, so the module goes through its ONNX export (no constant
folding: BatchNorm stays a layer) and the ONNX importer; the score's note says so. The input
shape is the one the user asks for, else what swapfw's export recorded, else the default.
"""

from __future__ import annotations

import os
import tempfile
import warnings
import zipfile

import torch

from ...errors import SwapfwError
from ..exported import read_torchscript
from .onnx import OnnxImport, load_onnx


def is_torchscript(path: str) -> bool:
    """A zip holding TorchScript code (a ``torch.save`` checkpoint is a zip without it)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def load_torchscript(path: str, input_shape=None, default_shape=(3, 32, 32)) -> OnnxImport:
    try:
        module, recorded = read_torchscript(path)
    except Exception as exc:  # torch's own message, one line
        raise SwapfwError(f"{path}: cannot load as TorchScript ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:200]})") from None
    shape = tuple(input_shape or recorded.get("input_shape") or default_shape)
    example = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = os.path.join(tmp, "model.onnx")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(module.eval(), (example,), onnx_path, dynamo=False, opset_version=17,
                                  do_constant_folding=False, input_names=["input"], output_names=["output"],
                                  dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        except Exception as exc:
            raise SwapfwError(f"{path}: cannot run the TorchScript module on input {','.join(map(str, shape))} "
                              f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
                              "give its --input-shape") from None
        imported = load_onnx(onnx_path)
    imported.notes.insert(0, "a TorchScript file: scored through its ONNX export")
    imported.recorded = recorded
    return imported
