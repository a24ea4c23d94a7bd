"""Activation sites survive ONNX export and import, and `--init keep` scores what onnxruntime runs."""

import json
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn

import nets
from swapfw.cli import cli
from swapfw.scoring.network import prepare

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


def test_fresh_process_scores_a_dynamo_export(tmp_path):
    """The default exporter's opset-18 ops need swapfw's extra converters from the first call on."""
    import subprocess
    import sys

    pytest.importorskip("onnxscript")
    model = nets.ModuleActNet(nn.ReLU).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(2, 3, 16, 16),), str(tmp_path / "d.onnx"), dynamo=True,
                          dynamic_shapes={"x": {0: torch.export.Dim("N")}}, verbose=False)
    out = subprocess.run([sys.executable, "-m", "swapfw", "score", str(tmp_path / "d.onnx"), "--format", "json"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["activation_sites"] == 2 and result["input_shape"] == [3, 16, 16] and result["swap"] > 0


def _gemm_relu(path, dims):
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((3, 8)).astype(np.float32), "w2")
    nodes = [helper.make_node("Gemm", ["x", "w1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [w1, w2])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def test_hand_built_gemm_relu_scores_and_symbolic_dims_need_input_shape(tmp_path, capsys):
    from swapfw.cli import main

    fixed = _gemm_relu(tmp_path / "fixed.onnx", ["N", 4])
    result = json.loads(CliRunner_invoke("score", str(fixed), "--format", "json", "--batch", "32"))
    assert result["activation_sites"] == 1 and result["values"] == 8 and result["params"] == 8 * 4 + 3 * 8
    assert result["flops"] == 8 * 4 + 3 * 8 and 1 <= result["swap"] <= 8

    symbolic = _gemm_relu(tmp_path / "symbolic.onnx", ["N", "F"])
    for args, message in [([], "symbolic dims: give --input-shape"), (["--input-shape", "5"], None)]:
        with pytest.raises(SystemExit) as stop:
            main(["score", str(symbolic), *args])
        err = capsys.readouterr().err
        assert stop.value.code == 1 and len(err.strip().splitlines()) == 1
        if message:
            assert message in err
    assert json.loads(CliRunner_invoke("score", str(symbolic), "--input-shape", "4", "--format", "json"))["values"] == 8
    with pytest.raises(SystemExit):
        main(["score", str(fixed), "--input-shape", "5"])
    assert "--input-shape 5 does not match the model's input 4" in capsys.readouterr().err


def test_onnx_matmul_weights_count_as_parameters(tmp_path):
    """onnx2torch keeps a MatMul's initializer as a buffer; it is still a weight of the model."""
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 8), dtype=np.float32), "w")
    bias = numpy_helper.from_array(np.full(8, 0.1, dtype=np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["h"]),
             helper.make_node("Relu", ["h"], ["y"])]
    graph = helper.make_graph(nodes, "mm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])], [weight, bias])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(tmp_path / "mm.onnx"))
    result = json.loads(CliRunner_invoke("score", str(tmp_path / "mm.onnx"), "--format", "json"))
    assert result["params"] == 4 * 8 + 8 and result["flops"] == 4 * 8
