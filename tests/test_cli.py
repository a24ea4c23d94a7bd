"""The CLI through click's runner: output formats and a one-line error for every bad input."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from swapfw.cli import cli, main


def run(*args):
    return CliRunner().invoke(cli, list(args))


def run_main(capsys, *args):
    """Through ``main`` as the console script runs it: errors become one line and exit 1."""
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    captured = capsys.readouterr()
    return stop.value.code, captured.out, captured.err


def test_score_json_has_every_field():
    result = run("score", "nets:small_relu", "--format", "json", "--batch", "8", "--mu", "0.01", "--sigma", "0.02")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    for key in ("swap", "regswap", "standard_patterns", "params", "flops", "activation_sites", "values",
                "samples", "binarisers", "seconds"):
        assert key in out
    assert isinstance(out["swap"], int) and out["samples"] == 8 and out["activation_sites"] == 2
    assert out["values"] == 2 * 8 * 32 * 32 and out["binarisers"] == {"relu": "relu"}
    theta = out["params"] / 1e6
    assert out["regswap"] == pytest.approx(out["swap"] * np.exp(-((theta - 0.01) ** 2) / 0.02))


def test_score_table_is_readable():
    result = run("score", "nets:small_relu", "--batch", "4")
    assert result.exit_code == 0
    assert "SWAP" in result.output and "activation sites" in result.output


def test_same_seed_same_json_score():
    a = json.loads(run("score", "nets:small_relu", "--format", "json", "--seed", "5").output)
    b = json.loads(run("score", "nets:small_relu", "--format", "json", "--seed", "5").output)
    assert (a["swap"], a["standard_patterns"]) == (b["swap"], b["standard_patterns"])


def _write_truncated_onnx(path):
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    data = helper.make_model(graph).SerializeToString()
    path.write_bytes(data[: len(data) // 2])


BAD_INPUTS = {
    "missing file": (["score", "{tmp}/absent.onnx"], "absent.onnx"),
    "directory": (["score", "{tmp}"], "{tmp}"),
    "not onnx": (["score", "{tmp}/notes.onnx"], "not an ONNX"),
    "truncated onnx": (["score", "{tmp}/cut.onnx"], "cut.onnx"),
    "bad callable": (["score", "nets:does_not_exist"], "has no attribute 'does_not_exist'"),
    "unknown module": (["score", "no_such_pkg.models:net"], "cannot import 'no_such_pkg.models'"),
    "not a module": (["score", "json:dumps"], "failed"),
    "no activation": (["score", "nets:no_activation"], "no activation to score"),
    "only tanh": (["score", "nets:tanh_net"], "tanh x1"),
    "unknown binariser": (["score", "nets:small_relu", "--binariser", "nope"], "unknown binariser 'nope'"),
    "unknown data": (["score", "nets:small_relu", "--data", "mnist"], "unknown data source"),
    "missing cifar": (["score", "nets:small_relu", "--data", "cifar10:{tmp}/none"], "no CIFAR-10 data"),
    "bad npy": (["score", "nets:small_relu", "--data", "tensor:{tmp}/wrong.npy"], "must be a float32"),
    "mu without sigma": (["score", "nets:small_relu", "--mu", "1"], "needs both --mu and --sigma"),
    "bad mu": (["score", "nets:small_relu", "--mu", "big", "--sigma", "1"], "number or 'auto'"),
    "auto without space": (["score", "nets:small_relu", "--mu", "auto", "--sigma", "auto"], "search space"),
    "zero batch": (["score", "nets:small_relu", "--batch", "0"], "at least 1"),
    "bad shape for model": (["score", "nets:small_relu", "--input-shape", "1,8,8"], "does not run on an input"),
    "no cuda": (["score", "nets:small_relu", "--device", "cuda"], "CUDA"),
    "out of memory": (["score", "nets:memory_hog", "--batch", "64"], "out of memory scoring a batch of 64"),
    "overflow": (["score", "nets:overflowing"], "inf or NaN"),
    "typo in a build option": (["score", "nb201:|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|",
                                "--space-option", "chanels=8"],
                               "space 'nb201' has no build option 'chanels'; its options: classes, channels, cells"),
    "typo in a search's build option": (["search", "--space", "nb101", "--population", "4", "--sample-size", "2",
                                         "--cycles", "1", "--no-cache", "--space-option", "stack=2"],
                                        "space 'nb101' has no build option 'stack'"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_1(case, tmp_path, capsys):
    if case == "no cuda" and torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    (tmp_path / "notes.onnx").write_text("this is not a model\n")
    _write_truncated_onnx(tmp_path / "cut.onnx")
    np.save(tmp_path / "wrong.npy", np.zeros((4, 3, 8, 8), dtype=np.float64))
    args, expected = BAD_INPUTS[case]
    code, out, err = run_main(capsys, *[a.format(tmp=tmp_path) for a in args])
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expected.format(tmp=tmp_path) in lines[0]
    assert "Traceback" not in err and out == ""


def test_bad_input_shape_syntax_is_a_usage_error(capsys):
    code, _, err = run_main(capsys, "score", "nets:small_relu", "--input-shape", "3x32x32")
    assert code == 2 and "C,H,W" in err
