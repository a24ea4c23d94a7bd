"""The transnas-micro and transnas-macro search spaces: strings, the benchmark's networks, operators."""

import itertools
import math
import random

import pytest
import torch
import torch.nn as nn

import swapfw
from swapfw.errors import SwapfwError
from swapfw.testing import check_space
import swapfw_plugins.spaces.transnas as transnas
from swapfw_plugins.spaces.transnas import (MICRO_OPS, TASKS, FactorizedReduce, MicroCell, TransNASMacroSpace,
                                             TransNASMicroSpace, Zero)

from conftest import data_rows

micro, macro = TransNASMicroSpace(), TransNASMacroSpace()
README_MICRO = "64-41414-1_02_333"  # the benchmark README's examples
README_MACRO = "64-1234-basic"
API_INDEX_1 = "64-2311-basic"  # api.index2arch(1) in the benchmark README


@pytest.fixture(scope="module", autouse=True)
def registered():
    """Register the plugin from code unless its entry point already did."""
    from swapfw import plugins

    if "transnas-micro" in swapfw.list_plugins("spaces"):
        yield
        return
    plugins.register_plugin(transnas, name="space_transnas_test")
    yield
    plugins.unregister_plugin("space_transnas_test")


def params(module):
    return sum(p.numel() for p in module.parameters())


def dev_archs(space, task):
    return [row["arch"] for row in data_rows("dev", f"transnas_{space}_{task}.csv")]


# --- strings ---------------------------------------------------------------------------------


def test_both_spaces_are_registered():
    assert {"transnas-micro", "transnas-macro"} <= set(swapfw.list_plugins("spaces"))
    assert isinstance(swapfw.get_plugin("spaces", "transnas-micro"), TransNASMicroSpace)
    assert isinstance(swapfw.get_plugin("spaces", "transnas-macro"), TransNASMacroSpace)


def test_micro_parse_gives_ops_in_edge_order():
    # README: node1 = skip(n0); node2 = none(n0) + conv1x1(n1); node3 = conv3x3 of n0, n1, n2
    assert micro.parse(README_MICRO) == ("skip_connect", "none", "conv1x1", "conv3x3", "conv3x3", "conv3x3")
    assert micro.format(micro.parse(README_MICRO)) == README_MICRO
    assert micro.format([1, 0, 2, 3, 3, 3]) == README_MICRO
    assert micro.canonical(f"  {README_MICRO}\n") == README_MICRO


def test_macro_parse_gives_stage_digits():
    assert macro.parse(README_MACRO) == (1, 2, 3, 4)
    assert macro.format((2, 3, 1, 1)) == API_INDEX_1
    assert macro.canonical(f" {API_INDEX_1} ") == API_INDEX_1
    assert [macro.ops[d - 1] for d in macro.parse(README_MACRO)] == [
        "plain", "double_channels", "stride2", "double_channels_stride2"]


@pytest.mark.parametrize("task", list(TASKS))
def test_every_dev_arch_parses_and_is_canonical(task):
    for name, space in (("micro", micro), ("macro", macro)):
        archs = dev_archs(name, task)
        assert len(archs) > 600
        for arch in archs:
            space.parse(arch)
            assert space.canonical(arch) == arch
        assert set(archs) <= set(space.enumerate())


def test_enumerate_sizes_are_the_benchmarks():
    assert len(micro.enumerate()) == len(set(micro.enumerate())) == 4096
    assert micro.enumerate()[0] == "64-41414-0_00_000" and micro.enumerate()[-1] == "64-41414-3_33_333"
    archs = macro.enumerate()
    assert len(archs) == len(set(archs)) == 3256  # 'macro' contains 3256 architectures (README)
    lengths = [len(macro.parse(a)) for a in archs]
    assert sorted(set(lengths)) == [4, 5, 6]
    assert README_MACRO in archs and API_INDEX_1 in archs
    assert all(macro.canonical(a) == a for a in archs[::37])


def test_macro_limits_are_the_ones_that_give_3256():
    """Of all ranges of downsamplings and doublings over 4-6 stages, two give the README's 3,256:
    ours, and the swapped one (1-3 downsamplings, 1-4 doublings) that the dev data rules out."""
    histogram = {}
    for n in (4, 5, 6):
        for d in itertools.product((1, 2, 3, 4), repeat=n):
            key = (sum(x > 2 for x in d), sum(x % 2 == 0 for x in d))
            histogram[key] = histogram.get(key, 0) + 1
    ranges = [(lo, hi) for lo in range(7) for hi in range(lo, 7)]
    hits = [(down, double) for down in ranges for double in ranges
            if sum(c for (a, b), c in histogram.items()
                   if down[0] <= a <= down[1] and double[0] <= b <= double[1]) == 3256]
    assert hits == [((1, 3), (1, 4)), ((1, 4), (1, 3))]


def test_dev_macro_archs_reach_the_limits():
    archs = {a for task in TASKS for a in dev_archs("macro", task)}
    digits = [macro.parse(a) for a in archs]
    assert max(sum(x > 2 for x in d) for d in digits) == 4  # so not the swapped ranges
    assert max(sum(x % 2 == 0 for x in d) for d in digits) == 3
    assert {len(d) for d in digits} == {4, 5, 6}


MICRO_BAD = {
    "empty": ("", "empty"),
    "not a string": (None, "not a string"),
    "macro string": (README_MACRO, "use transnas-macro"),
    "other width": ("32-41414-1_02_333", "base width is '32'"),
    "other skeleton": ("64-41441-1_02_333", "skeleton is '41441'"),
    "two nodes": ("64-41414-1_02", "2 '_'-separated nodes"),
    "short node": ("64-41414-1_0_333", "node 2 has 1 inputs"),
    "long node": ("64-41414-1_02_3333", "node 3 has 4 inputs"),
    "bad op": ("64-41414-1_04_333", "op '4' is not one of"),
    "extra field": ("64-41414-1_02_333-basic", "4 '-'-separated fields"),
    "space inside": ("64-41414-1_02 _333", "white space"),
    "line break inside": ("64-41414-1_02\n_333", "white space"),
}


@pytest.mark.parametrize("arch, reason", MICRO_BAD.values(), ids=MICRO_BAD.keys())
def test_bad_micro_strings_give_one_line_errors(arch, reason):
    with pytest.raises(SwapfwError) as info:
        micro.parse(arch)
    message = str(info.value)
    assert "\n" not in message and reason in message and "64-41414-A_BC_DEF" in message
    with pytest.raises(SwapfwError):
        micro.build(arch)


MACRO_BAD = {
    "empty": ("  ", "empty"),
    "micro string": (README_MICRO, "use transnas-micro"),
    "other cell": ("64-1234-bottleneck", "not 'basic'"),
    "other width": ("128-1234-basic", "base width is '128'"),
    "bad digit": ("64-1254-basic", "not a string of digits 1-4"),
    "no digits": ("64--basic", "not a string of digits 1-4"),
    "too short": ("64-234-basic", "3 stages"),
    "too long": ("64-1234111-basic", "7 stages"),
    "no downsampling": ("64-2121-basic", "downsamples 0 times"),
    "five downsamplings": ("64-343431-basic", "downsamples 5 times"),
    "no doubling": ("64-3131-basic", "doubles the width 0 times"),
    "four doublings": ("64-424211-basic", "doubles the width 4 times"),
}


@pytest.mark.parametrize("arch, reason", MACRO_BAD.values(), ids=MACRO_BAD.keys())
def test_bad_macro_strings_give_one_line_errors(arch, reason):
    with pytest.raises(SwapfwError) as info:
        macro.parse(arch)
    message = str(info.value)
    assert "\n" not in message and reason in message and "64-D...D-basic" in message


def test_format_refuses_what_is_not_in_the_space():
    for ops in (("none",) * 5, ("none",) * 5 + ("conv5x5",), (0, 1, 2, 3, 4, 0)):
        with pytest.raises(SwapfwError):
            micro.format(ops)
    for digits in ((1, 2, 3), (2, 2, 2, 2, 3), (1, 2, 3, 5), ("1", 2, 3, 4)):
        with pytest.raises(SwapfwError):
            macro.format(digits)


# --- the networks ----------------------------------------------------------------------------


def _relu_conv_bn(cin, cout, k):
    return cin * cout * k * k + 2 * cout


def _micro_edge(op, cin, cout, stride):
    if op == 0 or (op == 1 and stride == 1 and cin == cout):
        return 0
    if op == 1:  # FactorizedReduce: two 1x1 convs to cout/2 each, BN
        return cin * cout + 2 * cout
    return _relu_conv_bn(cin, cout, 1 if op == 2 else 3)


def _micro_cell(ops, cin, cout, stride):
    sources = (0, 0, 1, 0, 1, 2)
    return sum(_micro_edge(op, cin, cout, stride) if s == 0 else _micro_edge(op, cout, cout, 1)
               for op, s in zip(ops, sources))


def _basic_block(cin, cout, stride):
    shortcut = cin * cout + 2 * cout if stride != 1 or cin != cout else 0
    return _relu_conv_bn(cin, cout, 3) + _relu_conv_bn(cout, cout, 3) + shortcut


def reference_params(skeleton, cell, task, classes=None):
    """Parameter count worked out by hand from the benchmark's lib/models (not from our modules)."""
    total = 3 * 32 * 9 + 2 * 32 + _relu_conv_bn(32, 64, 3)  # stem
    width = 64
    for digit in skeleton:
        out, stride = (2 * width if digit % 2 == 0 else width), (2 if digit > 2 else 1)
        if cell is None:
            total += _basic_block(width, out, stride) + _basic_block(out, out, 1)
        else:
            total += _micro_cell(cell, width, out, stride) + _micro_cell(cell, out, out, 1)
        width = out
    if task == "autoencoder":
        up = 2 + sum(d > 2 for d in skeleton)
        def conv(cin, cout, bn=True):  # 3x3 conv or deconv with bias, BN where the layer has one
            return cin * cout * 9 + cout + (2 * cout if bn else 0)

        assert 2 <= up <= 6
        chain = [(width, 1024), (1024, 1024), (1024, 512), (512, 512), (512, 256), (256, 128), (128, 64),
                 (64, 64), (64, 32), (32, 32), (32, 16), (16, 32), (32, 16)]
        return total + sum(conv(i, o) for i, o in chain) + conv(16, 3, bn=False)
    classes = classes or TASKS[task]
    features = width * 9 if task == "jigsaw" else width
    return total + features * classes + classes


def test_hand_counted_sizes_of_known_archs():
    """Worked by hand from the benchmark's code: all-conv3x3 cell encoder 41,411,616 params,
    plus the 512 x 75 + 75 object head."""
    net = micro.build("64-41414-3_33_333")
    assert params(net.encoder) == 41_411_616
    assert params(net) == 41_411_616 + 512 * 75 + 75
    assert params(micro.build("64-41414-0_00_000").encoder) == 19_488  # stem only: every cell computes zeros
    # README_MACRO: widths 64, 128, 128 (stride 2), 256 (stride 2); by hand 147,968 + 525,568 + 607,488 + 2,099,712
    stages = (_basic_block(64, 64, 1) * 2 + _basic_block(64, 128, 1) + _basic_block(128, 128, 1)
              + _basic_block(128, 128, 2) + _basic_block(128, 128, 1) + _basic_block(128, 256, 2)
              + _basic_block(256, 256, 1))
    assert params(macro.build(README_MACRO).encoder) == 19_488 + stages == 3_400_224


@pytest.mark.parametrize("task", list(TASKS))
def test_sizes_match_the_hand_count(task):
    rng = random.Random(task)
    for arch in rng.sample(micro.enumerate(), 4) + ["64-41414-1_11_111"]:
        cell = tuple(MICRO_OPS.index(op) for op in micro.parse(arch))
        assert params(micro.build(arch, task=task)) == reference_params((4, 1, 4, 1, 4), cell, task), arch
    for arch in rng.sample(macro.enumerate(), 4):
        assert params(macro.build(arch, task=task)) == reference_params(macro.parse(arch), None, task), arch


@pytest.mark.parametrize("task", list(TASKS))
def test_count_params_without_building_equals_the_hand_count_and_the_build(task):
    rng = random.Random(task + "count")
    for arch in rng.sample(micro.enumerate(), 6) + ["64-41414-0_00_000", "64-41414-3_33_333"]:
        cell = tuple(MICRO_OPS.index(op) for op in micro.parse(arch))
        assert micro.count_params(arch, task=task) == reference_params((4, 1, 4, 1, 4), cell, task), arch
        assert micro.count_params(arch, task=task, channels=8) == params(micro.build(arch, task=task, channels=8))
    for arch in rng.sample(macro.enumerate(), 6):
        assert macro.count_params(arch, task=task) == reference_params(macro.parse(arch), None, task), arch
        assert macro.count_params(arch, task=task, channels=6) == params(macro.build(arch, task=task, channels=6))


def test_count_params_refuses_what_build_refuses():
    for options, match in (({"task": "segmentsemantic"}, "task must be one of"), ({"classes": 0}, "positive"),
                           ({"task": "autoencoder", "classes": 10}, "no classes"), ({"channels": 1}, "at least 2")):
        with pytest.raises(SwapfwError, match=match):
            micro.count_params(README_MICRO, **options)
    assert macro.count_params(README_MACRO, task="class_scene", classes=63) == reference_params(
        (1, 2, 3, 4), None, "class_scene", 63)


def test_classes_option_and_its_errors():
    net = macro.build(README_MACRO, task="class_scene", classes=63)  # NASLib's head
    assert net.fc.out_features == 63 and params(net) == reference_params((1, 2, 3, 4), None, "class_scene", 63)
    assert micro.build(README_MICRO).fc.out_features == 75
    assert micro.build(README_MICRO, task="jigsaw").fc.out_features == 1000
    for options, match in (({"task": "segmentsemantic"}, "task must be one of"), ({"classes": 0}, "positive"),
                           ({"classes": True}, "positive"), ({"task": "autoencoder", "classes": 10}, "no classes")):
        with pytest.raises(SwapfwError, match=match):
            micro.build(README_MICRO, **options)


def test_cell_wiring_and_zero_shapes():
    x = torch.randn(2, 8, 9, 9)
    skips = ("skip_connect",) * 6
    assert torch.equal(MicroCell(skips, 8, 8, 1)(x), 4 * x)  # n1 = x, n2 = 2x, n3 = x + x + 2x
    assert torch.equal(MicroCell(("none",) * 6, 8, 8, 1)(x), torch.zeros_like(x))
    reduced = MicroCell(("none",) * 6, 8, 16, 2)(x)
    assert reduced.shape == (2, 16, 5, 5) and not reduced.any()  # benchmark: (H + 1) // 2 on odd sizes
    assert Zero(2, 16)(x).shape == FactorizedReduce(8, 16, 2)(x).shape == nn.Conv2d(8, 16, 3, 2, 1)(x).shape
    assert FactorizedReduce(8, 15, 2)(x).shape == (2, 15, 5, 5)  # an odd width splits 7 + 8
    conv3 = MicroCell(("conv3x3",) * 6, 8, 16, 2)
    assert [[type(m).__name__ for m in e] for e in conv3.edges] == [["ReLU", "Conv2d", "BatchNorm2d"]] * 6
    assert [e[1].stride for e in conv3.edges] == [(2, 2), (2, 2), (1, 1), (2, 2), (1, 1), (1, 1)]
    assert [type(e).__name__ for e in MicroCell(skips, 8, 16, 2).edges] == [
        "FactorizedReduce", "FactorizedReduce", "Identity", "FactorizedReduce", "Identity", "Identity"]


@pytest.mark.parametrize("task, size, shape", [("class_object", 64, (75,)), ("class_scene", 64, (47,)),
                                               ("jigsaw", 96, (1000,)), ("autoencoder", 64, (3, 64, 64))])
def test_forward_shapes_and_tracing(task, size, shape):
    for space, arch in ((micro, README_MICRO), (macro, "64-343412-basic"), (macro, "64-3211-basic")):
        net = space.build(arch, task=task).eval()
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            out = net(x)
            assert out.shape == (2, *shape)
            assert torch.allclose(torch.fx.symbolic_trace(net)(x), out)


@pytest.mark.parametrize("arch, size", [("64-41414-2_02_333", 64), ("64-343412-basic", 64), ("64-3211-basic", 40)])
def test_autoencoder_reconstructs_the_input_size(arch, size):
    space = micro if "_" in arch else macro
    net = space.build(arch, task="autoencoder").eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, size, size))
    assert out.shape == (1, 3, size, size) and out.abs().max() <= 1  # tanh output, like the image
    ups = sum(isinstance(m, nn.ConvTranspose2d) for m in net.decoder.modules())
    downs = sum(d > 2 for d in (space.parse(arch) if space is macro else (4, 1, 4, 1, 4)))
    assert ups == 2 + downs


def test_decoder_upsamplings_follow_the_benchmark_formula():
    """The benchmark: int(log2(256 / w)), w the encoder's height for a 224 input (56, halved per downsampling)."""
    for downs in range(5):
        width = 56
        for _ in range(downs):
            width //= 2
        assert int(math.log2(256 / width)) == 2 + downs


def test_jigsaw_runs_the_encoder_on_each_grid_cell():
    net = macro.build(README_MACRO, task="jigsaw").eval()
    seen = []
    net.encoder.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape)))
    with torch.no_grad():
        net(torch.randn(2, 3, 192, 193))
    assert seen == [(2, 3, 64, 64)] * 9  # the benchmark's 64x64 tiles


def test_prepare_finds_activation_sites():
    from swapfw.graph.ir import build_ir
    from swapfw.scoring.network import prepare

    for source, options, size in (("transnas-micro:64-41414-1_02_333", {}, 64),
                                  ("transnas-macro:64-1234-basic", {"task": "jigsaw"}, 48),
                                  ("transnas-macro:64-3211-basic", {"task": "autoencoder"}, 32)):
        network = prepare(source, input_shape=(3, size, size), build_options=options)
        kinds = network.ir.activation_types()
        assert not network.ir.traced and kinds.get("relu", 0) > 0  # module_activations: module hooks
        assert network.ir.params == params(network.module)
        traced = build_ir(network.module, torch.randn(2, 3, size, size), trace=True)
        assert (traced.activation_types(), traced.flops) == (kinds, network.ir.flops)
        if options.get("task") == "jigsaw":
            assert kinds["relu"] % 9 == 0  # the encoder's sites, once per tile
        if options.get("task") == "autoencoder":
            assert kinds["leaky_relu"] == 13 and kinds["tanh"] == 1


def test_score_through_the_spaces():
    result = swapfw.score("transnas-micro:64-41414-1_02_333", batch=8, input_shape=(3, 64, 64))
    assert result.activation_sites > 0 and result.swap > 0
    assert result.params == params(micro.build("64-41414-1_02_333"))


# --- operators -------------------------------------------------------------------------------


#: (space, build options, input shape) the kit runs on: narrow networks of every task at small sizes
KIT = [(micro, {"channels": 8}, (3, 64, 64)), (micro, {"channels": 8, "task": "autoencoder"}, (3, 64, 64)),
       (macro, {"channels": 8, "task": "jigsaw"}, (3, 96, 96)),
       (macro, {"channels": 8, "task": "class_scene", "classes": 63}, (3, 64, 64))]


@pytest.mark.parametrize("space, options, shape", KIT, ids=["micro", "micro-autoencoder", "macro-jigsaw",
                                                            "macro-scene"])
def test_conforms_to_the_kit(space, options, shape):
    """Sampling, canonical strings, operators, round trips, NASLib encodings, builds and their sizes."""
    check_space(space, build_options=options, input_shape=shape)


@pytest.mark.parametrize("space, size", [(micro, 4096), (macro, 3256)])
def test_sample_covers_the_space_and_refuses_impossible_counts(space, size):
    assert space.sample(300, seed=3) != space.sample(300, seed=4)
    assert sorted(space.sample(size, seed=0)) == sorted(space.enumerate())
    for count in (0, size + 1, 2.0):
        with pytest.raises(SwapfwError):
            space.sample(count, seed=0)


def differing_edges(a, b):
    return [k for k, (x, y) in enumerate(zip(micro.parse(a), micro.parse(b))) if x != y]


def test_micro_mutations():
    rng = random.Random(0)
    for arch in micro.sample(100, seed=1):
        assert len(differing_edges(arch, micro.mutate(arch, rng))) == 1
        child = micro.mutate(arch, rng, kind="connectivity")
        (edge,) = differing_edges(arch, child)
        assert (micro.parse(arch)[edge], micro.parse(child)[edge]).count("none") == 1
    with pytest.raises(SwapfwError):
        micro.mutate(README_MICRO, rng, kind="width")


def test_macro_mutations_stay_in_the_space():
    rng = random.Random(0)
    space = set(macro.enumerate())
    lengths_changed = 0
    for arch in macro.enumerate():
        a = macro.parse(arch)
        child = macro.mutate(arch, rng)
        b = macro.parse(child)
        assert child in space and len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1
        child = macro.mutate(arch, rng, kind="connectivity")
        b = macro.parse(child)
        assert child in space and child != arch
        if len(b) != len(a):
            assert abs(len(a) - len(b)) == 1
            lengths_changed += 1
        else:  # the fallback: two stages swap places
            assert sorted(a) == sorted(b) and sum(x != y for x, y in zip(a, b)) == 2
    assert lengths_changed > 3000
    with pytest.raises(SwapfwError):
        macro.mutate(README_MACRO, rng, kind="width")


def test_crossover_gives_valid_children():
    rng = random.Random(0)
    archs = micro.sample(100, seed=5)
    mixed = False
    for a, b in zip(archs[::2], archs[1::2]):
        c, d = micro.crossover(a, b, rng)
        for pa, pb, pc, pd in zip(*(micro.parse(s) for s in (a, b, c, d))):
            assert sorted((pc, pd)) == sorted((pa, pb))
        mixed |= c not in (a, b)
    assert mixed
    space = set(macro.enumerate())
    archs = macro.sample(200, seed=5)
    mixed = 0
    for a, b in zip(archs[::2], archs[1::2]):
        c, d = macro.crossover(a, b, rng)
        assert c in space and d in space
        pa, pb, pc, pd = (macro.parse(s) for s in (a, b, c, d))
        assert sorted(pa + pb) == sorted(pc + pd)  # one-point crossover keeps the stages
        mixed += {c, d} != {a, b}
    assert mixed > 80


def test_cli_bad_arch_is_one_line_error(capsys):
    from swapfw.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["score", "transnas-macro:64-3131-basic"])
    err = capsys.readouterr().err
    assert stop.value.code == 1
    assert err.startswith("error: bad TransNAS-Bench-101 macro architecture") and err.count("\n") == 1


def test_canonical_merges_nothing_even_the_one_exact_equivalence():
    assert len({micro.canonical(a) for a in micro.enumerate()}) == 4096
    assert len({macro.canonical(a) for a in macro.enumerate()}) == 3256
    # edge 2->3 none: node 2 is dead and edge 1->2 none/skip are both parameter-free, so the nets agree
    a, b = micro.build("64-41414-3_21_330").eval(), micro.build("64-41414-3_20_330").eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(a(x), b(x)) and params(a) == params(b)
    assert micro.canonical("64-41414-3_21_330") != micro.canonical("64-41414-3_20_330")  # the benchmark lists both
