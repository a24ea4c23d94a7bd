"""SWAP counted by onnxruntime on an ONNX file as it is: an independent check of an import.

The file is run unchanged (opset, fixed batch and all), with the values that feed its activations
exposed as extra outputs; they are binarised by the rule swapfw's default binarisers use
(piecewise-linear activations: post-activation value > 0; GELU and SiLU: pre-activation value
> 0) and counted with numpy. Nothing here goes through onnx2torch, onnxslim or the IR, so equal
counts say the import computes what the file computes, at every activation. Needs onnxruntime.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: ops whose output is a site read post-activation (swapfw's ``relu`` binariser; Clip where min is 0)
_POST = {"Relu", "LeakyRelu", "PRelu", "HardSigmoid", "HardSwish"}
#: ops whose input is a site read pre-activation (swapfw's ``sign`` binariser; SiLU and Erf-GELU too)
_PRE = {"Gelu"}


@dataclass
class ReferenceCounts:
    swap: int
    standard_patterns: int
    values: int
    sites: int


def reference_patterns(path: str | Path, inputs: dict[str, np.ndarray], group: int | None = None) -> ReferenceCounts:
    """Patterns of the samples in ``inputs`` (name -> array, samples first) run through the file by
    onnxruntime, ``group`` samples a call where the file fixes its batch."""
    values = reference_values(path, inputs, group)
    samples = len(next(iter(inputs.values())))
    bits = np.concatenate([(v > 0).reshape(samples, -1) for v in values.values()], axis=1)
    return ReferenceCounts(_distinct_columns(bits), _distinct_rows(bits), bits.shape[1], len(values))


def reference_values(path: str | Path, inputs: dict[str, np.ndarray], group: int | None = None) -> dict[str, np.ndarray]:
    """The value every site reads (tensor name -> array, samples first), in graph order; a value two
    sites read is listed once, as swapfw's binding taps it once."""
    import onnx

    model = onnx.load(str(path))
    names = list(dict.fromkeys(_taps(model)))
    for name in names:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = _session(model)
    samples = len(next(iter(inputs.values())))
    step = group or samples
    runs = [session.run(names, {k: v[i:i + step] for k, v in inputs.items()}) for i in range(0, samples, step)]
    return {name: np.concatenate([run[j] for run in runs]) for j, name in enumerate(names)}


def _session(model):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _distinct_columns(bits: np.ndarray) -> int:
    """Distinct S-bit vectors among the value columns."""
    packed = np.packbits(bits, axis=0)  # (ceil(S/8), V)
    codes = np.ascontiguousarray(packed.T).view(np.dtype((np.void, packed.shape[0])))
    return int(np.unique(codes).size)


def _distinct_rows(bits: np.ndarray) -> int:
    """Distinct whole-network patterns among the samples."""
    return len({row.tobytes() for row in np.packbits(bits, axis=1)})


def _taps(model) -> list[str]:
    """The tensor every site swapfw's default binarisers read, in graph order (both read value > 0)."""
    from .onnx_batch import constants

    consts = constants(model)
    producer = {o: n for n in model.graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for x in node.input:
            consumers.setdefault(x, []).append(node)

    def gates(node, x) -> object | None:
        """The Mul of ``x`` by ``node``'s output, if there is one (x * sigmoid(x), x * hardsigmoid(x))."""
        for user in consumers.get(node.output[0], []):
            if user.op_type == "Mul" and x in user.input:
                return user
        return None

    taps = []
    for node in model.graph.node:
        op = node.op_type
        if op in ("Sigmoid", "HardSigmoid") and (mul := gates(node, node.input[0])) is not None:
            taps.append(node.input[0] if op == "Sigmoid" else mul.output[0])  # SiLU: pre; Hardswish: post
        elif op in _POST or (op == "Clip" and _clip_min(node, consts) == 0):
            taps.append(node.output[0])
        elif op in _PRE:
            taps.append(node.input[0])
        elif op == "Erf":  # GELU as x * 0.5 * (1 + erf(x / sqrt 2)): the site is x
            scaled = producer.get(node.input[0])
            if scaled is not None and scaled.op_type in ("Div", "Mul"):
                data = [x for x in scaled.input if x not in consts]
                if len(data) == 1:
                    taps.append(data[0])
    return taps


def _clip_min(node, consts) -> float | None:
    for a in node.attribute:
        if a.name == "min":
            return a.f
    if len(node.input) > 1 and node.input[1] in consts:
        return float(consts[node.input[1]].reshape(-1)[0])
    return None
