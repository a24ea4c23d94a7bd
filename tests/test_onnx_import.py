"""swapfw.graph.importers.onnx.load_onnx on real exporter output, hand-built graphs and bad input."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torchvision = pytest.importorskip("torchvision")

from onnx import TensorProto, helper  # noqa: E402

import swapfw  # noqa: E402
from swapfw.errors import SwapfwError  # noqa: E402
from swapfw.graph.importers.onnx import load_onnx  # noqa: E402

# torch.onnx export warnings (TracerWarning, deprecations, ...) are noise here.
pytestmark = pytest.mark.filterwarnings("ignore")

H = W = 32
MODELS = {
    "resnet18": torchvision.models.resnet18,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
    "squeezenet1_1": torchvision.models.squeezenet1_1,
    "shufflenet_v2_x0_5": torchvision.models.shufflenet_v2_x0_5,
    "efficientnet_b0": torchvision.models.efficientnet_b0,
}
SETTINGS = ["legacy11", "legacy13", "legacy16", "legacy18", "dynamo18"]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _calibrated(name: str) -> torch.nn.Module:
    """Random weights, BatchNorm statistics set from one batch so outputs are O(1), not ~1e-20."""
    torch.manual_seed(0)
    model = MODELS[name]()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, H, W))
    return model.eval()


def _export(model: torch.nn.Module, example: torch.Tensor, path, setting: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if setting.startswith("dynamo"):
            pytest.importorskip("onnxscript")
            # torch.export specialises a batch of 1 to a constant on older torch (2.9): export at 2.
            example = example.expand(2, *example.shape[1:]).contiguous()
            try:
                torch.onnx.export(
                    model, (example,), str(path), dynamo=True, opset_version=int(setting[6:]),
                    input_names=["input"], dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False,
                )
            except Exception as exc:  # the exporter's limit, not ours (torch 2.9 on shufflenet)
                if "Constraints violated" not in str(exc):
                    raise
                pytest.skip(f"torch {torch.__version__}'s dynamo exporter cannot keep this model's batch dynamic")
        else:
            torch.onnx.export(
                model, (example,), str(path), dynamo=False, opset_version=int(setting[6:]),
                input_names=["input"], output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            )


def _ort(path, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def _torch(module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = module(torch.from_numpy(x))
    return (out[0] if isinstance(out, (tuple, list)) else out).numpy()


def _save(nodes, inputs, outputs, path, inits=(), opsets=(("", 13),)) -> str:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    model.ir_version = 8
    onnx.save(model, str(path))
    return str(path)


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _one_line_error(path) -> str:
    with pytest.raises(SwapfwError) as info:
        load_onnx(path)
    msg = str(info.value)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg


# --------------------------------------------------------------------------------------------
# real exporter output
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_models():
    cache: dict[str, torch.nn.Module] = {}

    def get(name):
        if name not in cache:
            cache[name] = _calibrated(name)
        return cache[name]

    return get


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("name", list(MODELS))
def test_torchvision_models_match_onnxruntime(name, setting, torch_models, tmp_path):
    path = tmp_path / f"{name}_{setting}.onnx"
    _export(torch_models(name), torch.randn(1, 3, H, W), path, setting)

    imported = load_onnx(path)
    module, shape = imported.module, imported.input.shape
    assert isinstance(module, torch.fx.GraphModule)
    assert shape == (3, H, W)

    x = np.random.RandomState(0).randn(3, 3, H, W).astype(np.float32)  # batch 3: not the export's batch
    ref = _ort(path, x)
    out = _torch(module, x)
    assert out.shape == ref.shape == (3, 1000)
    scale = float(np.abs(ref).max())
    assert scale > 1e-2  # calibrated: a real comparison, not of ~0 against ~0
    # float32 summation order differs between runtimes; eager torch is as far from onnxruntime.
    np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-4 * max(1.0, scale))


def test_gelu_keeps_erf_node(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 4)).eval()
    path = tmp_path / "gelu13.onnx"
    _export(model, torch.randn(1, 8), path, "legacy13")
    assert "Erf" in {n.op_type for n in onnx.load(str(path)).graph.node}

    imported = load_onnx(path)
    module, shape = imported.module, imported.input.shape
    assert shape == (8,)
    has_erf = any(type(m).__name__ == "OnnxErf" for m in module.modules()) or any(
        n.op == "call_function" and n.target is torch.erf for n in module.graph.nodes
    )
    assert has_erf
    x = np.random.RandomState(1).randn(3, 8).astype(np.float32)
    np.testing.assert_allclose(_torch(module, x), _ort(path, x), rtol=1e-3, atol=1e-5)


ACTIVATION_OPS = {"Relu", "Clip", "LeakyRelu", "PRelu", "HardSigmoid", "HardSwish", "Sigmoid", "Erf", "Mul",
                  "Add", "Div", "Gelu", "BatchNormalization"}


class _Activations(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.acts = torch.nn.ModuleList([
            torch.nn.ReLU(), torch.nn.ReLU6(), torch.nn.LeakyReLU(0.1), torch.nn.PReLU(8), torch.nn.Hardsigmoid(),
            torch.nn.Hardswish(), torch.nn.Sigmoid(), torch.nn.GELU(), torch.nn.SiLU(),
        ])

    def forward(self, x):
        x = self.bn(self.conv(x))
        for act in self.acts:
            x = act(x)
        return x


@pytest.mark.parametrize("setting", ["legacy13", "legacy18", "dynamo18"])
def test_normalisation_keeps_activation_nodes(setting, tmp_path):
    """No fusion: every activation / BatchNormalization node of the file survives normalisation."""
    from collections import Counter

    from swapfw.graph.importers.onnx import _normalise

    path = tmp_path / f"acts_{setting}.onnx"
    model = _Activations().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if setting.startswith("legacy"):  # keep BatchNormalization in the file (no exporter folding)
            torch.onnx.export(model, (torch.randn(1, 3, 8, 8),), str(path), dynamo=False,
                              opset_version=int(setting[6:]), do_constant_folding=False,
                              training=torch.onnx.TrainingMode.PRESERVE, input_names=["input"],
                              output_names=["output"], dynamic_axes={"input": {0: "b"}, "output": {0: "b"}})
        else:
            _export(model, torch.randn(1, 3, 8, 8), path, setting)
    before = Counter(n.op_type for n in onnx.load(str(path)).graph.node if n.op_type in ACTIVATION_OPS)
    after = Counter(n.op_type for n in _normalise(onnx.load(str(path))).graph.node if n.op_type in ACTIVATION_OPS)
    assert after == before
    assert before["Erf"] == 1

    module = load_onnx(path).module
    x = np.random.RandomState(3).randn(2, 3, 8, 8).astype(np.float32)
    np.testing.assert_allclose(_torch(module, x), _ort(path, x), rtol=1e-3, atol=1e-5)


# --------------------------------------------------------------------------------------------
# hand-built graphs
# --------------------------------------------------------------------------------------------


def test_hand_built_gemm_relu_gemm(tmp_path):
    rng = np.random.RandomState(0)
    inits = [
        onnx.numpy_helper.from_array(rng.randn(16, 10).astype(np.float32), "w1"),
        onnx.numpy_helper.from_array(rng.randn(16).astype(np.float32), "b1"),
        onnx.numpy_helper.from_array(rng.randn(4, 16).astype(np.float32), "w2"),
        onnx.numpy_helper.from_array(rng.randn(4).astype(np.float32), "b2"),
    ]
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1),
    ]
    path = _save(nodes, [_vi("x", ["N", 10])], [_vi("y", ["N", 4])], tmp_path / "mlp.onnx", inits)

    imported = load_onnx(path)
    module, shape = imported.module, imported.input.shape
    assert shape == (10,)
    assert any(isinstance(m, torch.nn.ReLU) for m in module.modules())
    x = rng.randn(5, 10).astype(np.float32)
    np.testing.assert_allclose(_torch(module, x), _ort(path, x), rtol=1e-4, atol=1e-5)


def test_symbolic_dims_become_none(tmp_path):
    path = _save([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", ["N", 3, "h", 7])],
                 [_vi("y", ["N", 3, "h", 7])], tmp_path / "sym.onnx")
    assert load_onnx(path).input.shape == (3, None, 7)


def test_added_opset18_20_converters(tmp_path):
    """Split-18 (num_outputs, uneven), Reduce*-18 (axes input, negative axes), Gelu-20 (tanh)."""
    consts = [
        onnx.numpy_helper.from_array(np.array([1], dtype=np.int64), "axes1"),
        onnx.numpy_helper.from_array(np.array([-1, 1], dtype=np.int64), "axes_neg"),
        onnx.numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3),  # 7 -> 3, 3, 1
        helper.make_node("ReduceMax", ["a", "axes1"], ["ma"], keepdims=1),
        helper.make_node("ReduceMean", ["b", "axes1"], ["mb"], keepdims=1),
        helper.make_node("Gelu", ["c"], ["gc"], approximate="tanh"),
        helper.make_node("Concat", ["ma", "mb", "gc"], ["y0"], axis=1),  # (N, 3)
        helper.make_node("Unsqueeze", ["y0", "axes1"], ["y1"]),  # (N, 1, 3)
        helper.make_node("ReduceProd", ["y1", "axes_neg"], ["p"], keepdims=0),  # (N,)
        helper.make_node("ReduceL2", ["y1"], ["l2"], keepdims=1),  # no axes: all -> (1, 1, 1)
        helper.make_node("Add", ["p", "l2"], ["y2"]),  # (1, 1, N)
        helper.make_node("Reshape", ["y2", "shape"], ["y"]),  # (1, N)
    ]
    path = _save(nodes, [_vi("x", ["N", 7])], [_vi("y", [1, "N"])], tmp_path / "new_ops.onnx",
                 consts, opsets=(("", 20),))
    module = load_onnx(path).module
    x = np.random.RandomState(2).randn(4, 7).astype(np.float32)
    np.testing.assert_allclose(_torch(module, x), _ort(path, x), rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------------
# bad input: one-line SwapfwError naming the problem
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_onnx(tmp_path_factory):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()
    path = tmp_path_factory.mktemp("small") / "small.onnx"
    _export(model, torch.randn(1, 3, 8, 8), path, "legacy13")
    return path


def test_missing_file(tmp_path):
    msg = _one_line_error(tmp_path / "nope.onnx")
    assert "not found" in msg and "nope.onnx" in msg


def test_directory(tmp_path):
    assert "directory" in _one_line_error(tmp_path)


def test_text_file(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("this is not a model\n")
    assert "not an ONNX file" in _one_line_error(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    assert "not an ONNX file" in _one_line_error(path)


@pytest.mark.parametrize("what", ["state_dict", "module"])
def test_pytorch_checkpoint(what, tmp_path):
    path = tmp_path / "model.pt"
    model = torch.nn.Linear(2, 2)
    torch.save(model.state_dict() if what == "state_dict" else model, path)
    msg = _one_line_error(path)
    assert "neither ONNX nor TorchScript" in msg and "torch.jit.save" in msg


def test_torchscript_file_scores(tmp_path):
    """TorchScript (torch.jit.script or trace) goes through its ONNX export."""
    path = tmp_path / "model.pt"
    torch.jit.script(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())).save(str(path))
    result = swapfw.score(str(path), input_shape=(4,))
    assert result.activation_sites == 1 and result.values == 8 and 1 <= result.swap <= 8


def test_truncated_file(small_onnx, tmp_path):
    data = small_onnx.read_bytes()
    path = tmp_path / "half.onnx"
    path.write_bytes(data[: len(data) // 2])
    assert "truncated" in _one_line_error(path)


def test_dangling_tensor(tmp_path):
    path = _save([helper.make_node("Relu", ["ghost"], ["y"])], [_vi("x", ["N", 2])], [_vi("y", ["N", 2])],
                 tmp_path / "dangling.onnx")
    msg = _one_line_error(path)
    assert "truncated or corrupt" in msg and "ghost" in msg


def test_missing_external_data(tmp_path):
    pytest.importorskip("onnxscript")
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU()).eval()
    path = tmp_path / "ext.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 64),), str(path), dynamo=True, external_data=True, verbose=False)
    load_onnx(path)  # loads with its .data file next to it
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(str(path), moved / "ext.onnx")
    assert "external" in _one_line_error(moved / "ext.onnx")


def test_unsupported_op(tmp_path):
    path = _save([helper.make_node("Det", ["x"], ["y"])], [_vi("x", ["N", 3, 3])], [_vi("y", ["N"])],
                 tmp_path / "det.onnx")
    msg = _one_line_error(path)
    assert "unsupported" in msg and "Det" in msg and "opset 13" in msg


def test_custom_domain_op(tmp_path):
    path = _save([helper.make_node("FancyAct", ["x"], ["y"], domain="com.example")], [_vi("x", ["N", 4])],
                 [_vi("y", ["N", 4])], tmp_path / "custom.onnx", opsets=(("", 13), ("com.example", 1)))
    msg = _one_line_error(path)
    assert "FancyAct" in msg and "com.example" in msg


def test_zero_inputs(tmp_path):
    const = helper.make_tensor("c", TensorProto.FLOAT, [2], [1.0, -1.0])
    path = _save([helper.make_node("Relu", ["c"], ["y"])], [], [_vi("y", [2])], tmp_path / "zero.onnx", [const])
    assert "no inputs" in _one_line_error(path)


def test_two_inputs(tmp_path):
    path = _save([helper.make_node("Add", ["a", "b"], ["y"])], [_vi("a", ["N", 2]), _vi("b", ["N", 2])],
                 [_vi("y", ["N", 2])], tmp_path / "two.onnx")
    msg = _one_line_error(path)
    assert "2 inputs" in msg and "cannot fill 'b'" in msg
