"""The model space: choice points of real models, variants that build, run and export, the string's
operators, size control in a search, and a one-line error for every bad input."""

import json
import random
import warnings

import pytest
import torch

from swapfw import SwapfwError, plugins
from swapfw.plugins import get_space
from swapfw.testing import check_space

RESNET = "nets:resnet18_c10"
MOBILENET = "nets:mobilenet_v2_c10"
#: every kind, so these tests see the activation points the default leaves out
ALL_KINDS = "width+kernel+depth+activation"
MLP = {"source": "nets:mlp", "input_shape": "3,8,8", "kinds": ALL_KINDS}


def space(source, **options):
    return get_space("model", {"source": source, "kinds": ALL_KINDS, **options})


def kinds(bound) -> dict:
    return bound.describe()["per_kind"]


def points(bound, kind) -> list:
    return [p for p in bound.points if p.kind == kind]


@pytest.fixture(scope="module")
def resnet():
    return space(RESNET)


@pytest.fixture(scope="module")
def mobilenet():
    return space(MOBILENET)


@pytest.fixture(scope="module")
def onnx_resnet(tmp_path_factory):
    """A resnet18 exported to ONNX here, as a user would."""
    from nets import resnet18_c10

    path = tmp_path_factory.mktemp("onnx") / "resnet18.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(resnet18_c10().eval(), (torch.randn(1, 3, 32, 32),), str(path), dynamo=False,
                          opset_version=13, input_names=["x"], output_names=["y"])
    return space(str(path))


# --- choice points ------------------------------------------------------------------------------


def test_resnet18_choice_points(resnet):
    assert kinds(resnet) == {"width": 12, "kernel": 17, "depth": 5, "activation": 17}
    groups = {p.detail.producers for p in points(resnet, "width")}
    # the residual additions tie each stage's stem/downsample and every block's second conv
    assert ("conv1", "layer1.0.conv2", "layer1.1.conv2") in groups
    assert ("layer2.0.conv2", "layer2.0.downsample.0", "layer2.1.conv2") in groups
    assert ("layer1.0.conv1",) in groups  # a block's inner width is its own group
    assert not any("fc" in p for g in groups for p in g)  # the classifier's output width never varies
    kernels = {p.key: p for p in points(resnet, "kernel")}
    assert kernels["conv1"].default == 7 and kernels["layer1.0.conv1"].options == (3, 5, 7)
    assert "downsample.0" not in " ".join(kernels)  # 1x1 convolutions are not spatial
    # the blocks with a downsampling shortcut change shape, so they are not droppable
    assert len(points(resnet, "depth")) == 5
    assert resnet.original == "w:1*12|k:7,3*16|d:1*5|a:relu*17"


def test_mobilenet_v2_choice_points(mobilenet):
    assert kinds(mobilenet) == {"width": 25, "kernel": 18, "depth": 10, "activation": 35}
    depthwise = [p for p in points(mobilenet, "kernel") if "depthwise" in p.location]
    assert len(depthwise) == 17
    expand = next(p.detail for p in points(mobilenet, "width") if p.key == "features.2.conv.0.0")
    pruned = {name for name, _, _ in expand.items}
    # expansion conv, its BN, the depthwise conv and BN, and the projection's input change together
    assert {"features.2.conv.0.0", "features.2.conv.0.1", "features.2.conv.1.0", "features.2.conv.1.1",
            "features.2.conv.2"} <= pruned


def test_an_onnx_export_has_the_torch_models_choice_points(onnx_resnet, resnet):
    assert kinds(onnx_resnet) == kinds(resnet)
    torch_groups = sorted(p.detail.channels for p in points(resnet, "width"))
    assert sorted(p.detail.channels for p in points(onnx_resnet, "width")) == torch_groups


def test_a_plain_mlp_has_widths_and_no_kernel_or_depth():
    mlp = get_space("model", MLP)
    assert kinds(mlp) == {"width": 2, "activation": 2}
    assert [p.detail.channels for p in points(mlp, "width")] == [64, 32]  # the 10 logits are not a choice


def test_kinds_option_restricts_the_choice_kinds():
    mlp = get_space("model", {**MLP, "kinds": "width"})
    assert kinds(mlp) == {"width": 2} and mlp.original == "w:1*2"


def test_channel_shuffle_does_not_hang_torch_pruning_and_its_channels_are_frozen():
    shuffle = space("torchvision.models:shufflenet_v2_x0_5")
    assert len(points(shuffle, "width")) > 0
    assert any("channel-mixing reshapes" in note for note in shuffle.notes)
    x = torch.randn(2, *shuffle.input_shape)
    for arch in shuffle.sample(2, 0):
        with torch.no_grad():
            assert shuffle.build(arch)(x).shape == (2, 1000)


def test_an_onnx_channel_shuffle_is_cut_before_torch_pruning_sees_it(tmp_path):
    """Torch-Pruning never returns on this graph when it sees the shuffle (reshape, transpose, reshape)."""
    import torchvision

    path = tmp_path / "shufflenet.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(torchvision.models.shufflenet_v2_x0_5(num_classes=10).eval(), (torch.randn(1, 3, 32, 32),),
                          str(path), dynamo=False, opset_version=13, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    shuffle = space(str(path))
    assert len(points(shuffle, "width")) == 18
    with torch.no_grad():
        assert shuffle.build(shuffle.sample(1, 0)[0])(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_a_hanging_analysis_is_interrupted():
    from swapfw_plugins.spaces.model_space.width import Timeout, within

    def forever():
        while True:
            try:
                sum(range(100))
            except:  # noqa: E722 (Torch-Pruning has bare excepts; the watchdog must get through them)
                pass

    with pytest.raises(Timeout):
        within(0.2, forever)
    assert within(5.0, lambda: 3) == 3


# --- variants -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet", "mobilenet", "onnx_resnet"])
def test_sampled_variants_build_run_and_keep_the_output_shape(name, request):
    bound = request.getfixturevalue(name)
    x = torch.randn(2, *bound.input_shape)
    original = bound.build(bound.original)
    with torch.no_grad():
        expected = original(x).shape
    for arch in bound.sample(4, 1):
        with torch.no_grad():
            assert bound.build(arch)(x).shape == expected, arch


def test_the_original_architecture_is_the_source_model(resnet):
    from nets import resnet18_c10

    built = resnet.build(resnet.original)
    assert [tuple(p.shape) for p in built.parameters()] == [tuple(p.shape) for p in resnet18_c10().parameters()]


def test_width_ratios_shrink_exactly_the_groups_channels(resnet):
    arch = resnet.canonical("w:.5*12")
    built = dict(resnet.build(arch).named_modules())
    assert built["conv1"].out_channels == 32 and built["layer4.1.conv1"].out_channels == 256
    assert built["fc"].in_features == 256 and built["fc"].out_features == 10


def test_kernel_depth_and_activation_edits(resnet):
    arch = resnet.canonical("k:5*17|d:0,1*4|a:silu,relu*16")
    built = resnet.build(arch)
    modules = dict(built.named_modules())
    assert modules["layer1.1.conv1"].kernel_size == (5, 5) and modules["layer1.1.conv1"].padding == (2, 2)
    assert "layer1.0.conv1" not in modules  # the dropped block's layers are gone
    assert sum(isinstance(m, torch.nn.SiLU) for m in built.modules()) == 1
    with torch.no_grad():
        assert built(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("name", ["resnet", "mobilenet", "onnx_resnet"])
def test_sampled_variants_export_to_onnx_that_score_reads_back(name, request, tmp_path):
    from swapfw.scoring.export import export
    from swapfw.scoring.score import score

    bound = request.getfixturevalue(name)
    for i, arch in enumerate(bound.sample(2, 3)):
        out = tmp_path / f"variant{i}.onnx"
        info = export(f"model:{arch}", "onnx", str(out), build_options={"source": bound.source, "kinds": ALL_KINDS})
        result = score(str(out), batch=4)
        assert result.swap > 0 and result.params == pytest.approx(info["params"], rel=0.01)


# --- the string and the operators ---------------------------------------------------------------


def test_canonical_normalises_spellings(resnet):
    long = "w:" + ",".join(["0.5"] * 12) + "|k:7," + ",".join(["3"] * 16) + "|d:1,1,1,1,1|a:" + ",".join(["RELU"] * 17)
    assert resnet.canonical(long) == "w:.5*12|k:7,3*16|d:1*5|a:relu*17"
    assert resnet.canonical("w:.5*12") == resnet.canonical(long)  # kinds left out keep the original's values
    assert resnet.canonical("a:swish*17").endswith("a:silu*17")
    arch = resnet.sample(1, 0)[0]
    assert resnet.canonical(arch) == arch and resnet.canonical(resnet.canonical(arch)) == arch


def test_points_inside_a_dropped_block_take_the_original_value(resnet):
    # block 0 is layer1.0: its inner width group (w1), kernels (k1, k2) and first activation go back to 1/3/relu
    dropped = resnet.canonical("w:1,.25,1*10|k:7,5,5,3*14|d:0,1*4|a:relu,gelu,relu*15")
    assert dropped == resnet.canonical("d:0,1*4")
    kept = resnet.canonical("w:1,.25,1*10|d:1*5")
    assert kept != resnet.canonical("d:1*5")


def test_the_bound_resnet_space_conforms_to_the_kit(resnet):
    """Sampling, canonical strings, operators (both kinds: the resnet has blocks to drop), round
    trips, describe, and variants that build and run."""
    assert resnet.sample(8, 6) != check_space(resnet, samples=8, builds=2)


def test_the_plugin_binds_and_conforms_to_the_kit():
    """As the core uses it: bound to its build options first (an MLP: no kernel or depth point)."""
    check_space(plugins.get("spaces", "model"), samples=4, build_options=MLP)


def test_crossover_takes_each_value_from_a_parent(resnet):
    a, b = resnet.sample(2, 9)
    one, two = resnet.crossover(a, b, random.Random(1))
    assert resnet.canonical(one) == one and resnet.canonical(two) == two
    values = list(zip(*[resnet._values(x) for x in (a, b, one)]))
    assert all(c in (x, y) for x, y, c in values)


def test_connectivity_mutation_drops_or_restores_a_block(resnet):
    rng = random.Random(3)
    child = resnet.parse(resnet.mutate(resnet.original, rng, "connectivity"))
    assert child["depth"].count(0) == 1


# --- size control ---------------------------------------------------------------------------------


def test_a_smaller_mu_finds_a_smaller_network():
    from swapfw.studies.search import SearchSettings, search

    found = {}
    for mu in (1.5, 6.0):  # millions; its width variants have 0.7 to 11.2 M parameters
        settings = SearchSettings(space="model", build_options={"source": "nets:resnet18_c10", "kinds": "width"},
                                  input_shape=(3, 16, 16), batch=8, mu=mu, sigma=2.0, population=8, cycles=3,
                                  sample_size=3, mutations=2, cache="")
        found[mu] = search(settings)["best"]["params"]
    assert found[1.5] < 3e6 < found[6.0]


# --- bad input ------------------------------------------------------------------------------------


def test_a_model_with_no_choice_point_is_a_one_line_error():
    with pytest.raises(SwapfwError) as error:
        get_space("model", {"source": "nets:linear_only", "input_shape": "3,8,8"})
    message = str(error.value)
    assert "no choice point" in message and "\n" not in message
    for kind in ("width", "kernel", "depth", "activation"):
        assert kind in message


@pytest.mark.parametrize("options, expected", [
    ({}, "needs --space-option source="),
    ({"source": "nets:mlp", "input_shape": "3,8,8", "widths": "0.5"}, "unknown model space option 'widths'"),
    ({"source": "nets:mlp", "input_shape": "3,8,8", "ratios": "0.5+2"}, "ratios="),
    ({"source": "nets:mlp", "input_shape": "3,8,8", "kinds": "width+colour"}, "kinds="),
    ({"source": "nets:untraceable_net"}, "torch.fx cannot trace"),
])
def test_bad_options_are_one_line_errors(options, expected):
    with pytest.raises(SwapfwError) as error:
        get_space("model", options)
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_an_onnx_file_that_does_not_import_is_a_one_line_error(tmp_path, capsys):
    from swapfw.cli import main

    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07not really onnx")
    with pytest.raises(SystemExit) as stop:
        main(["space-info", "model", "--space-option", f"source={bad}"])
    err = capsys.readouterr().err
    assert stop.value.code == 1 and err.startswith("error: ") and err.count("\n") == 1 and "ONNX" in err


@pytest.mark.parametrize("arch, expected", [
    ("w:.5*11", "w has 11 tokens, the model has 12 width"),
    ("w:1.5*12", "not in (0, 1]"),
    ("k:4*17", "kernel 4"),
    ("a:tanh*17", "activation 'tanh'"),
    ("x:1", "KIND:TOKENS"),
])
def test_bad_architectures_are_one_line_errors(resnet, arch, expected):
    with pytest.raises(SwapfwError) as error:
        resnet.canonical(arch)
    assert expected in str(error.value) and "\n" not in str(error.value)


# --- the CLI ----------------------------------------------------------------------------------------


def test_space_info_lists_the_choice_points(capsys):
    from swapfw.cli import main

    main(["space-info", "model", "--space-option", "source=nets:mlp", "--space-option", "input_shape=3,8,8",
          "--format", "json"])
    assert [p["kind"] for p in json.loads(capsys.readouterr().out)["points"]] == ["width", "width"]  # the default kinds
    main(["space-info", "model", "--space-option", "source=nets:mlp", "--space-option", "input_shape=3,8,8",
          "--space-option", f"kinds={ALL_KINDS}", "--format", "json"])
    info = json.loads(capsys.readouterr().out)
    assert info["choice_points"] == 4 and info["params"] == 3 * 64 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    assert [p["kind"] for p in info["points"]] == ["width", "width", "activation", "activation"]
    main(["space-info", "model", "--space-option", "source=nets:mlp", "--space-option", "input_shape=3,8,8",
          "--space-option", f"kinds={ALL_KINDS}"])
    table = capsys.readouterr().out
    assert "original" in table and "w0" in table and "size_target" in table


def test_space_info_of_a_space_without_describe(capsys):
    from swapfw.cli import main

    main(["space-info", "nb201"])
    assert "example" in capsys.readouterr().out


def test_get_space_analyses_a_model_once_per_options():
    assert get_space("model", MLP) is get_space("model", dict(MLP))
    assert get_space("model", MLP) is not get_space("model", {**MLP, "ratios": "0.5+1"})


def test_a_variant_reads_as_changes_from_the_original():
    """space-info --arch: one row per changed choice point, a dropped block named, its size beside."""
    import swapfw

    options = {"source": "torchvision.models:resnet18"}
    info = swapfw.space_info("model", space_options=options).to_dict()
    widths = info["per_kind"]["width"]
    arch = f"w:.5,1*{widths - 1}|d:1,0,1*{info['per_kind']['depth'] - 2}"
    changed = swapfw.space_info("model", space_options=options, arch=arch).to_dict()
    rows = {row["id"]: row for row in changed["changes"]}
    assert set(rows) == {"w0", "d1"} and changed["changed"] == 2
    assert rows["w0"]["original"] == "1" and rows["w0"]["chosen"] == ".5" and rows["w0"]["kind"] == "width"
    assert rows["d1"]["chosen"] == "0 (block dropped)" and "layer1" in rows["d1"]["location"]
    assert changed["params"] < info["params"]
    assert swapfw.space_info("model", space_options=options, arch=info["original"])["changes"] == []
    with pytest.raises(swapfw.SwapfwError, match="no original model"):
        swapfw.space_info("nb201", arch="|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def test_a_variant_with_dropped_blocks_trains():
    """resnet18's ReLUs work in place; once a block is dropped, one would overwrite the value the
    previous one's backward pass needs. The variant must train, as an exported one would."""
    from swapfw.plugins import get_space

    space = get_space("model", {"source": "torchvision.models:resnet18"})
    depth = space.describe()["per_kind"]["depth"]
    network = space.build("d:1,0,1,0" + ",1" * (depth - 4))
    network.train()
    network(torch.randn(4, 3, 32, 32)).sum().backward()
    assert all(p.grad is not None for p in network.parameters() if p.requires_grad)


def test_the_default_kinds_keep_the_activations():
    """Chosen on benchmarks/model_search.py --kinds: widths, kernels and depth vary; activations only
    with kinds=...activation."""
    default = get_space("model", {"source": RESNET})
    assert kinds(default) == {"width": 12, "kernel": 17, "depth": 5}
    assert default.describe()["original"] == "w:1*12|k:7,3*16|d:1*5"
