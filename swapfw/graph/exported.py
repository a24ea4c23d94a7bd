"""What swapfw's exports record, so that ``swapfw score FILE`` scores a file as its space scored it.

An export writes one JSON record into the file: the model it came from, the protocol whose
scoring network is the exported network (where one is), and the input shape, data, batch and
repeats a score of it takes. ONNX keeps it in ``metadata_props`` under ``swapfw``; TorchScript
in the extra file ``swapfw.json``. ``score`` uses every recorded field the user does not give
and says so in its note; a file without a record scores with the usual defaults.
"""

from __future__ import annotations

import json
import os

KEY = "swapfw"  # ONNX metadata_props key
EXTRA_FILE = "swapfw.json"  # TorchScript extra file
#: the fields a score reads back (besides ``model``, shown in its note)
FIELDS = ("protocol", "input_shape", "data", "batch", "repeats")


def write_onnx(path: str, record: dict) -> None:
    """Add ``record`` to the ONNX file at ``path`` (rewritten in place)."""
    import onnx

    model = onnx.load(path, load_external_data=False)
    kept = [p for p in model.metadata_props if p.key != KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key=KEY, value=json.dumps(record))
    onnx.save(model, path)


def read_onnx(model) -> dict:
    """The record in an ``onnx.ModelProto`` (empty if it has none, or an unreadable one)."""
    for prop in model.metadata_props:
        if prop.key == KEY:
            return _valid(prop.value)
    return {}


def torchscript_files(record: dict) -> dict:
    """``_extra_files`` for ``torch.jit.save``."""
    return {EXTRA_FILE: json.dumps(record)}


def read_torchscript(path: str | os.PathLike):
    """``(module, record)`` of a TorchScript file (``torch.jit.load`` on the CPU)."""
    import torch

    extra = {EXTRA_FILE: ""}
    module = torch.jit.load(os.fspath(path), map_location="cpu", _extra_files=extra)
    raw = extra[EXTRA_FILE]
    return module, _valid(raw.decode() if isinstance(raw, bytes) else raw)


def _valid(text: str) -> dict:
    """A record's known fields, each of the right type; anything else is ignored (a file swapfw did
    not write could carry a ``swapfw`` key of its own)."""
    try:
        raw = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    record = {}
    if isinstance(raw.get("model"), str):
        record["model"] = raw["model"]
    if isinstance(raw.get("protocol"), str):
        record["protocol"] = raw["protocol"]
    shape = raw.get("input_shape")
    if isinstance(shape, list) and shape and all(isinstance(d, int) and d > 0 for d in shape):
        record["input_shape"] = tuple(shape)
    if isinstance(raw.get("data"), str):
        record["data"] = raw["data"]
    for name in ("batch", "repeats"):
        if isinstance(raw.get(name), int) and raw[name] >= 1:
            record[name] = raw[name]
    return record


def describe(record: dict) -> str:
    """One line for a score's note: what the file's record set."""
    parts = [f"{record['data']} data" if "data" in record else "",
             f"batch {record['batch']}" if "batch" in record else "",
             f"{record['repeats']} repeat{'s' if record['repeats'] != 1 else ''}" if "repeats" in record else "",
             "input " + ",".join(map(str, record["input_shape"])) if "input_shape" in record else ""]
    model = record.get("model", "")
    origin = f" of {model if len(model) <= 60 else model[:57] + '...'}" if model else ""
    protocol = f", protocol {record['protocol']}" if "protocol" in record else ""
    return f"scored as recorded in the file by swapfw export{origin}{protocol}: {', '.join(p for p in parts if p)}"
