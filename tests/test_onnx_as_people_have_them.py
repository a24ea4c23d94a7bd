"""ONNX files as model zoos and deployment pipelines write them: a fixed batch, old opsets, ops
onnx2torch refuses in some form, token-id inputs with companions, and a subset of the corpus of
real architectures (timm, transformers, torchvision) from ``benchmarks/onnx_corpus.py``."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import swapfw  # noqa: E402
from swapfw.errors import SwapfwError  # noqa: E402
from swapfw.graph.importers.onnx import load_onnx  # noqa: E402
from swapfw.graph.importers.onnx_batch import constants, fixed_batch  # noqa: E402
from swapfw.graph.importers.onnx_inputs import sample_feeds  # noqa: E402
from swapfw.graph.importers.onnx_reference import reference_patterns  # noqa: E402
from swapfw.scoring.data import load_batch  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parent.parent


def _export(model, example, path, opset=13, names=("input",), dynamic=False):
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        axes = {n: {0: "batch"} for n in names} if dynamic else None
        torch.onnx.export(model.eval(), example, str(path), dynamo=False, opset_version=opset,
                          input_names=list(names), dynamic_axes=axes)
    return path


def _ort(path, feeds):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]).run(None, feeds)


def _same_as_onnxruntime(path, samples=16, seed=0):
    """swapfw's --init keep count equals onnxruntime's on the file as it is, the samples run as
    the file takes them."""
    result = swapfw.score(str(path), init="keep", batch=samples, seed=seed)
    x = load_batch(result.data, samples, tuple(result.input_shape), seed).inputs.numpy()
    model = onnx.load(str(path))
    reference = reference_patterns(path, sample_feeds(model, x), group=fixed_batch(model))
    assert (result.swap, result.standard_patterns, result.values) == \
        (reference.swap, reference.standard_patterns, reference.values)
    return result


class SmallCNN(nn.Module):
    """A conv net that flattens with ``view(x.size(0), -1)``: a fixed-batch export writes [1, N]."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(8 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 10))

    def forward(self, x):
        x = self.features(x)
        return self.head(x.view(x.size(0), -1))


class ClassToken(nn.Module):
    """A class token expanded to the batch and concatenated: a fixed-batch export carries the 1."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Conv2d(3, 16, 4, stride=4)
        self.token = nn.Parameter(torch.randn(1, 1, 16))
        self.mlp = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 16))

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.mlp(x)[:, 0]


# --------------------------------------------------------------------------------------------
# a fixed batch
# --------------------------------------------------------------------------------------------


def test_a_fixed_batch_of_one_with_a_reshape_to_1_n_scores_16_samples_as_its_dynamic_twin(tmp_path):
    torch.manual_seed(0)
    model = SmallCNN()
    fixed = _export(model, torch.randn(1, 3, 16, 16), tmp_path / "fixed.onnx")
    dynamic = _export(model, torch.randn(2, 3, 16, 16), tmp_path / "dynamic.onnx", dynamic=True)
    shapes = [v.tolist() for v in constants(onnx.load(str(fixed))).values() if v.dtype == np.int64]
    assert [1, -1] in shapes or [1, 512] in shapes  # the exporter did write the batch into a Reshape
    result = _same_as_onnxruntime(fixed)
    assert "made symbolic" in result.note
    assert result.swap == swapfw.score(str(dynamic), init="keep", batch=16).swap


def test_a_class_token_expanded_to_a_fixed_batch_is_freed_and_exact(tmp_path):
    torch.manual_seed(0)
    path = _export(ClassToken(), torch.randn(1, 3, 16, 16), tmp_path / "token.onnx")
    result = _same_as_onnxruntime(path)
    assert "made symbolic" in result.note and result.values == 17 * 32  # 16 patches + the token, 32 GELUs


def _folded(tmp_path, batch):
    """x (B, 4, 8) -> Reshape (4B, 8) -> MatMul -> Relu -> Reshape (B, 4, 8): the batch hides in a dim."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 8)).astype(np.float32), "w"),
             numpy_helper.from_array(np.array([4 * batch, 8], dtype=np.int64), "to_2d"),
             numpy_helper.from_array(np.array([batch, 4, 8], dtype=np.int64), "to_3d")]
    nodes = [helper.make_node("Reshape", ["x", "to_2d"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["h"]),
             helper.make_node("Relu", ["h"], ["r"]), helper.make_node("Reshape", ["r", "to_3d"], ["y"])]
    graph = helper.make_graph(nodes, "folded", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4, 8])], inits)
    path = tmp_path / f"folded{batch}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


@pytest.mark.parametrize("batch", [1, 2])
def test_a_batch_folded_into_another_dim_runs_the_samples_as_the_file_takes_them(tmp_path, batch):
    """No rewrite can free a batch folded into another dim: the samples go through the file B at a
    time, and the count is still onnxruntime's."""
    path = _folded(tmp_path, batch)
    assert load_onnx(path).fixed_batch == batch
    result = _same_as_onnxruntime(path)
    assert f"{batch} at a time" in result.note and result.values == 32


def test_a_proxy_that_runs_the_whole_batch_says_the_file_takes_one_sample_a_call(tmp_path):
    with pytest.raises(SwapfwError, match="takes exactly 1 sample"):
        swapfw.score(str(_folded(tmp_path, 1)), proxies=("nwot",))


def test_a_fixed_batch_of_two_cannot_score_an_odd_batch(tmp_path):
    with pytest.raises(SwapfwError, match="multiple of 2"):
        swapfw.score(str(_folded(tmp_path, 2)), batch=3)


# --------------------------------------------------------------------------------------------
# old opsets and the ops onnx2torch refuses in some form
# --------------------------------------------------------------------------------------------


def test_an_opset_7_file_is_converted_and_says_from_what(tmp_path):
    torch.manual_seed(0)
    path = _export(SmallCNN(), torch.randn(1, 3, 16, 16), tmp_path / "op7.onnx", opset=7)
    result = _same_as_onnxruntime(path)
    assert "opset 7 converted to 13" in result.note


def test_an_opset_9_upsample_is_converted_to_resize(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2), nn.Conv2d(4, 4, 3),
                          nn.ReLU())
    path = _export(model, torch.randn(1, 3, 8, 8), tmp_path / "up9.onnx", opset=9)
    assert "Upsample" in {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "opset 9 converted to 13" in _same_as_onnxruntime(path).note


def _single_node_file(tmp_path, node, x_shape, y_shape, opset, inits=()):
    graph = helper.make_graph([node], "one", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)], list(inits))
    path = tmp_path / f"{node.op_type}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), str(path))
    return path


def _matches_onnxruntime(path, x):
    module = load_onnx(path).module
    with torch.no_grad():
        ours = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, _ort(path, {"x": x})[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool_with_asymmetric_pads(tmp_path, count_include_pad):
    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1],
                            count_include_pad=count_include_pad)
    path = _single_node_file(tmp_path, node, ["N", 2, 8, 8], ["N", 2, 4, 4], 11)
    _matches_onnxruntime(path, np.random.default_rng(0).standard_normal((2, 2, 8, 8)).astype(np.float32))


@pytest.mark.parametrize("axis", [0, 2, -1])
def test_flatten_on_an_axis_other_than_one(tmp_path, axis):
    node = helper.make_node("Flatten", ["x"], ["y"], axis=axis)
    path = _single_node_file(tmp_path, node, [2, 3, 4], None, 13)
    _matches_onnxruntime(path, np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32))


def test_reduce_with_axes_computed_at_run_time(tmp_path):
    """ReduceMean-18 whose axes come from the graph (Shape -> Slice), not a constant."""
    inits = [numpy_helper.from_array(np.array([-1], dtype=np.int64), "last")]
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Size", ["s"], ["rank"]),
             helper.make_node("Add", ["rank", "last"], ["axis"]),
             helper.make_node("ReduceMean", ["x", "axis"], ["y"], keepdims=1)]
    graph = helper.make_graph(nodes, "reduce", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "reduce.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    _matches_onnxruntime(path, np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32))


def test_pad_18_with_an_axes_input(tmp_path):
    inits = [numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "pads"),
             numpy_helper.from_array(np.array(0.5, dtype=np.float32), "value"),
             numpy_helper.from_array(np.array([-1], dtype=np.int64), "axes")]
    node = helper.make_node("Pad", ["x", "pads", "value", "axes"], ["y"], mode="constant")
    path = _single_node_file(tmp_path, node, [2, 3, 4], [2, 3, 7], 18, inits)
    _matches_onnxruntime(path, np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32))


def test_resize_18(tmp_path):
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    resize = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest")
    path = _single_node_file(tmp_path, resize, [1, 2, 3, 3], [1, 2, 6, 6], 18, [scales])
    _matches_onnxruntime(path, np.random.default_rng(0).standard_normal((1, 2, 3, 3)).astype(np.float32))


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter_nd_18_with_every_reduction(tmp_path, reduction):
    inits = [numpy_helper.from_array(np.array([[0, 1], [2, -1], [0, 1]], dtype=np.int64), "at"),
             numpy_helper.from_array(np.array([1.5, -2.0, 3.0], dtype=np.float32), "new")]
    if reduction == "none":
        inits[0] = numpy_helper.from_array(np.array([[0, 1], [2, -1]], dtype=np.int64), "at")
        inits[1] = numpy_helper.from_array(np.array([1.5, -2.0], dtype=np.float32), "new")
    scatter = helper.make_node("ScatterND", ["x", "at", "new"], ["y"], reduction=reduction)
    path = _single_node_file(tmp_path, scatter, [3, 4], [3, 4], 18, inits)
    _matches_onnxruntime(path, np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))


def test_an_unsupported_op_names_the_op_and_its_opset_on_one_line(tmp_path):
    node = helper.make_node("DFT", ["x"], ["y"])
    path = _single_node_file(tmp_path, node, [1, 8, 1], None, 17)
    with pytest.raises(SwapfwError) as info:
        load_onnx(path)
    assert "DFT (opset 17)" in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------------------------
# token ids
# --------------------------------------------------------------------------------------------


class TinyEncoder(nn.Module):
    """Token ids (and optionally a mask) -> an embedding, a LayerNorm, an MLP with GELU."""

    def __init__(self, vocab=50):
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.position = nn.Parameter(torch.randn(1, 8, 16))
        self.norm = nn.LayerNorm(16)
        self.mlp = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 16))

    def forward(self, ids, attention_mask=None):
        x = self.norm(self.embed(ids) + self.position[:, :ids.shape[1]])
        if attention_mask is not None:
            x = x * attention_mask.unsqueeze(-1).to(x.dtype)
        return self.mlp(x)


class WithMask(TinyEncoder):
    def forward(self, input_ids, attention_mask):  # noqa: D102 - two inputs, as exports have them
        return super().forward(input_ids, attention_mask)


def test_token_ids_get_integer_samples_below_the_embedding_size(tmp_path):
    torch.manual_seed(0)
    path = _export(TinyEncoder(), torch.randint(0, 50, (1, 8)), tmp_path / "ids.onnx", names=("input_ids",))
    result = _same_as_onnxruntime(path)
    assert result.data == "tokens:50,8" and result.input_shape == (8,)
    assert swapfw.score(str(path), data="tokens:20").data == "tokens:20,8"
    with pytest.raises(SwapfwError, match="token ids: use --data tokens"):
        swapfw.score(str(path), data="gaussian")
    with pytest.raises(SwapfwError, match="50 rows"):
        swapfw.score(str(path), data="tokens:51")


def test_a_symbolic_sequence_length_takes_the_length_in_tokens_spec(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "ids_dyn.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(TinyEncoder().eval(), torch.randint(0, 50, (2, 8)), str(path), dynamo=False,
                          opset_version=13, input_names=["input_ids"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}})
    assert swapfw.score(str(path), data="tokens:50,6").input_shape == (6,)


def test_an_attention_mask_is_bound_to_ones_and_a_stray_input_is_named(tmp_path):
    torch.manual_seed(0)
    ids = torch.randint(0, 50, (1, 8))
    path = _export(WithMask(), (ids, torch.ones_like(ids)), tmp_path / "mask.onnx", names=("input_ids", "attention_mask"))
    result = swapfw.score(str(path), init="keep")
    assert "'attention_mask' bound to a mask of ones" in result.note
    x = load_batch(result.data, 16, (8,), 0).inputs.numpy()
    feeds = sample_feeds(onnx.load(str(path)), x)
    assert set(feeds) == {"input_ids", "attention_mask"} and (feeds["attention_mask"] == 1).all()
    reference = reference_patterns(path, feeds, group=1)
    assert result.swap == reference.swap
    stray = _export(WithMask(), (ids, torch.ones_like(ids)), tmp_path / "stray.onnx", names=("input_ids", "extra"))
    with pytest.raises(SwapfwError, match="cannot fill 'extra'"):
        load_onnx(stray)


def test_the_cli_gives_a_one_line_error_for_a_float_source_on_token_ids(tmp_path, capsys):
    from swapfw.cli import main

    path = _export(TinyEncoder(), torch.randint(0, 50, (1, 8)), tmp_path / "ids.onnx", names=("input_ids",))
    with pytest.raises(SystemExit) as exit_:
        main(["score", str(path), "--data", "imagelike"])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 1 and "Traceback" not in err
    assert err.startswith("error: ") and "tokens:VOCAB" in err and len(err.splitlines()) == 1


# --------------------------------------------------------------------------------------------
# the corpus of real architectures (a fast subset of benchmarks/onnx_corpus.py)
# --------------------------------------------------------------------------------------------


def _corpus():
    spec = importlib.util.spec_from_file_location("onnx_corpus", ROOT / "benchmarks" / "onnx_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SUBSET = [
    ("timm_mobilenetv3_small_100", "legacy", 13, "fixed"),  # hardswish, squeeze-excitation
    ("timm_convnext_atto", "legacy", 17, "fixed"),  # GELU as an Erf chain, LayerNorm
    ("timm_vit_tiny_eager", "legacy", 9, "fixed"),  # attention written out at opset 9, class token
    ("hf_bert_mask", "legacy", 17, "fixed"),  # token ids + attention mask, fixed batch
    ("tv_resnet18", "legacy", 7, "fixed"),  # opset 7
    ("hf_vit", "dynamo", 18, "dynamic"),  # the dynamo exporter
    ("zoo_inception_v1", "zoo", 9, "fixed"),  # the model zoo's file: IR 3, asymmetric AveragePool pads
]


@pytest.mark.parametrize("name,exporter,opset,batch", SUBSET)
def test_a_corpus_file_imports_and_counts_what_onnxruntime_counts(tmp_path, name, exporter, opset, batch):
    if name.startswith("timm"):
        pytest.importorskip("timm")
    if name.startswith("hf"):
        pytest.importorskip("transformers")
    if exporter == "dynamo":
        pytest.importorskip("onnxscript")
    corpus = _corpus()
    builder, spec = next((b, s) for n, b, s, *_ in corpus.jobs([name]))
    path = tmp_path / corpus.file_name(name, exporter, opset, batch)
    refused = (corpus.zoo_file(path, name) if exporter == "zoo"
               else corpus.export(path, builder, spec, exporter, opset, batch))
    if refused:
        pytest.skip(f"this torch's exporter refuses it: {refused}")
    result = corpus.measure(path)
    assert "error" not in result, result.get("error")
    assert result["match"], result
    assert result["swap_random"] > 0
