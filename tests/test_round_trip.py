"""swapfw export -> swapfw score keeps the score: every bundled space and the model space.

An exported network scores, from its file, as its space scores it under the protocol the export
recorded (the file's own note says which); BatchNorm stays a layer. A file an exporter folded
BatchNorm into is named as such instead of scored silently.
"""

import warnings

import onnx
import pytest
import torch

import swapfw
from swapfw.errors import SwapfwError
from swapfw.plugins import get_space

#: a 5 % band: the ONNX route runs onnx2torch's modules, whose initialisation draws differ
TOLERANCE = 0.05

CASES = [  # (space, build options, input shape of the export)
    ("nb201", {}, None),
    ("nb101", {}, None),
    ("darts", {}, None),
    ("transnas-micro", {}, (3, 64, 64)),
    ("transnas-macro", {}, (3, 64, 64)),
    ("model", {"source": "torchvision.models:mobilenet_v2"}, None),
]


@pytest.mark.parametrize("space, options, shape", CASES, ids=[c[0] for c in CASES])
def test_an_exported_network_scores_as_its_space_scored_it(tmp_path, space, options, shape):
    arch = get_space(space, options).sample(1, 3)[0]
    path = str(tmp_path / "net.onnx")
    written = swapfw.export(f"{space}:{arch}", path, space_options=options, input_shape=shape)
    recorded = written["recorded"]
    assert recorded["protocol"] and recorded["input_shape"] == list(written["input_shape"])
    in_space = swapfw.score(f"{space}:{arch}", space_options=options, protocol=recorded["protocol"],
                            input_shape=shape)
    from_file = swapfw.score(path)
    assert from_file["data"] == in_space["data"] and from_file["samples"] == in_space["samples"]
    assert from_file["repeats"] == in_space["repeats"]
    assert abs(from_file["swap"] - in_space["swap"]) <= TOLERANCE * in_space["swap"], (from_file["swap"], in_space["swap"])
    assert from_file["params"] == written["params"]
    assert "scored as recorded in the file" in from_file["note"]
    kinds = {node.op_type for node in onnx.load(path).graph.node}
    assert "BatchNormalization" in kinds


def test_the_users_own_options_win_over_the_record(tmp_path):
    arch = get_space("nb201").sample(1, 0)[0]
    path = str(tmp_path / "net.onnx")
    swapfw.export(f"nb201:{arch}", path)
    result = swapfw.score(path, batch=8, data="gaussian")
    assert result["samples"] == 8 and result["data"].startswith("gaussian")
    assert swapfw.score(path, batch=8, data="gaussian", repeats=1)["note"].count("scored as recorded") == 0


def test_torchscript_exports_score_back(tmp_path):
    arch = get_space("nb201").sample(1, 1)[0]
    onnx_file, script = str(tmp_path / "net.onnx"), str(tmp_path / "net.pt")
    swapfw.export(f"nb201:{arch}", onnx_file)
    assert swapfw.export(f"nb201:{arch}", script)["format"] == "torch"  # from the suffix
    from_script = swapfw.score(script)
    assert from_script["swap"] == swapfw.score(onnx_file)["swap"]
    assert "TorchScript" in from_script["note"]


@pytest.mark.parametrize("name, fmt", [("net.onnx", "torch"), ("net.pt", "onnx")])
def test_a_suffix_that_contradicts_the_format_is_an_error(tmp_path, name, fmt):
    with pytest.raises(SwapfwError, match="not " + fmt):
        swapfw.export("nb201:" + get_space("nb201").sample(1, 0)[0], str(tmp_path / name), format=fmt)
    assert not (tmp_path / name).exists()


def test_a_checkpoint_is_not_taken_for_torchscript(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(SwapfwError, match="torch.jit.save"):
        swapfw.score(str(path))


def _folded_export(module, path, shape=(3, 32, 32)):
    """What torch.onnx.export does by default in eval mode: BatchNorm folded into the convolutions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (torch.randn(1, *shape),), path, dynamo=False)


def test_folded_batchnorm_is_named_in_the_note(tmp_path):
    import torchvision

    path = str(tmp_path / "resnet18.onnx")
    _folded_export(torchvision.models.resnet18(), path)
    assert sum(n.op_type == "BatchNormalization" for n in onnx.load(path).graph.node) == 0
    note = swapfw.score(path)["note"]
    assert "folded BatchNorm" in note and "--init keep" in note
    assert "folded" not in swapfw.score(path, init="keep")["note"]
    assert "folded" not in swapfw.score("torchvision.models:resnet18")["note"]


def test_a_folded_export_that_overflows_says_why(tmp_path):
    from swapfw.graph.importers import load_model

    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    path = str(tmp_path / "nb.onnx")
    _folded_export(load_model("nb201:" + arch).module, path)
    with pytest.raises(SwapfwError, match="folded BatchNorm"):
        swapfw.score(path, batch=32)


def test_scoring_a_module_leaves_its_weights_alone():
    """score re-initialises a copy: the caller's module keeps its weights (so --init keep after a
    random score still scores the module's own)."""
    import torchvision

    module = torchvision.models.resnet18()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    kept = swapfw.score(module, init="keep")["swap"]
    swapfw.score(module)
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert swapfw.score(module, init="keep")["swap"] == kept
