"""Activation sites survive ONNX export and import, and `--init keep` scores what onnxruntime runs."""

import json
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import nets
from swapfw.cli import cli
from swapfw.network import prepare

onnx = pytest.importorskip("onnx")


class Clamp03(nn.Module):
    def forward(self, x):
        return torch.clamp(x, 0.0, 3.0)


class SiLUByHand(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


def export(model, path, opset, shape=(1, 3, 8, 8)):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.randn(*shape),), str(path), opset_version=opset, dynamo=False,
                          input_names=["input"], dynamic_axes={"input": {0: "N"}})
    return path


@pytest.mark.parametrize("act, opset, kind", [
    (nn.ReLU, 13, "relu"), (nn.ReLU6, 11, "relu6"), (Clamp03, 13, "clip"), (lambda: nn.LeakyReLU(0.1), 13, "leaky_relu"),
    (nn.PReLU, 13, "prelu"), (nn.Hardswish, 13, "hardswish"), (nn.Hardswish, 14, "hardswish"),
    (nn.Hardsigmoid, 13, "hardsigmoid"), (nn.GELU, 13, "gelu"), (nn.GELU, 17, "gelu"), (nn.SiLU, 13, "silu"),
    (SiLUByHand, 13, "silu"),
])
def test_exported_activation_is_found_as_one_site_per_use(act, opset, kind, tmp_path):
    path = export(nets.ModuleActNet(act), tmp_path / "m.onnx", opset)
    network = prepare(str(path), seed=0)
    assert [s.kind for s in network.ir.sites] == [kind, kind]


def _with_activation_outputs(path, out_path, network):
    """The same ONNX graph with every tapped value exposed as a graph output."""
    model = onnx.load(str(path))
    produced = {o for node in model.graph.node for o in node.output}
    exposed = []
    for node in model.graph.node:
        if node.op_type == "Relu":
            exposed.append(node.output[0])
    for name in exposed:
        assert name in produced
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    onnx.save(model, str(out_path))
    return exposed


def test_init_keep_equals_swap_computed_from_onnxruntime_activations(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = nets.ModuleActNet(nn.ReLU, width=6).eval()
    with torch.no_grad():  # give BatchNorm non-trivial running statistics
        for bn in (model.b1[1], model.b2[1]):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    path = export(model, tmp_path / "m.onnx", 13, shape=(1, 3, 16, 16))
    batch = np.random.default_rng(0).standard_normal((24, 3, 16, 16)).astype(np.float32)
    np.save(tmp_path / "x.npy", batch)

    exposed = _with_activation_outputs(path, tmp_path / "exposed.onnx", None)
    session = ort.InferenceSession(str(tmp_path / "exposed.onnx"), providers=["CPUExecutionProvider"])
    outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input": batch})))
    matrix = np.concatenate([outputs[name].reshape(24, -1) > 0 for name in exposed], axis=1)
    expected_swap = len(np.unique(matrix.T, axis=0))
    expected_a = len(np.unique(matrix, axis=0))

    result = json.loads(CliRunner_invoke("score", str(path), "--init", "keep", "--data", f"tensor:{tmp_path / 'x.npy'}",
                                         "--batch", "24", "--format", "json"))
    assert result["swap"] == expected_swap
    assert result["standard_patterns"] == expected_a
    assert result["values"] == matrix.shape[1]


def CliRunner_invoke(*args):
    from click.testing import CliRunner

    out = CliRunner().invoke(cli, list(args))
    assert out.exit_code == 0, out.output
    return out.output
