"""The darts search space (DARTS / NAS-Bench-301): strings, canonical form, the DARTS network, operators."""

import random
from collections import Counter

import pytest
import torch

import swapfw
from swapfw import plugins
from swapfw.cli import main
from swapfw.errors import SwapfwError
from swapfw.scoring.network import prepare
from swapfw.testing import check_space
from swapfw_plugins.spaces import darts
from swapfw_plugins.spaces.darts import CONCAT, NODES, OPS, SAMPLE_OPS, DartsSpace, Genotype
from conftest import data_rows


# quark0/darts cnn/genotypes.py
DARTS_V1 = ("Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), "
            "('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], "
            "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 0), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])")
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
            "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")
# every op, a none edge and a node reading one input twice (as in the SWAP paper's DARTS set)
MIXED = ("Genotype(normal=[('skip_connect', 1), ('dil_conv_3x3', 0), ('max_pool_3x3', 2), ('dil_conv_5x5', 1), "
         "('skip_connect', 3), ('none', 2), ('sep_conv_3x3', 0), ('sep_conv_5x5', 4)], normal_concat=[2, 3, 4, 5], "
         "reduce=[('avg_pool_3x3', 0), ('skip_connect', 1), ('sep_conv_5x5', 0), ('none', 1), ('dil_conv_5x5', 2), "
         "('max_pool_3x3', 2), ('sep_conv_3x3', 4), ('skip_connect', 0)], reduce_concat=[2, 3, 4, 5])")
FORM_HINT = "Genotype(normal=[(OP, INPUT) x 8]"

space = DartsSpace()


@pytest.fixture(scope="module", autouse=True)
def darts_registered():
    """Register the plugin from code unless the entry point already loads it."""
    added = "darts" not in swapfw.list_plugins("spaces")
    if added:
        plugins.register_plugin(darts, name="test-darts")
    yield
    if added:
        plugins.unregister_plugin("test-darts")


def params(module):
    return sum(p.numel() for p in module.parameters())


def read_dev(name):
    return data_rows("dev", name)


def replace_edge(arch, cell, k, edge):
    g = space.parse(arch)
    edges = list(getattr(g, cell))
    edges[k] = edge
    return space.format(g._replace(**{cell: tuple(edges)}))


# --- strings ---------------------------------------------------------------------------------


def test_parse_gives_pairs_in_string_order():
    g = space.parse(DARTS_V2)
    assert g.normal[:2] == (("sep_conv_3x3", 0), ("sep_conv_3x3", 1)) and g.normal[7] == ("dil_conv_3x3", 2)
    assert g.reduce[7] == ("max_pool_3x3", 1) and g.normal_concat == g.reduce_concat == (2, 3, 4, 5)
    assert space.format(g) == DARTS_V2


def test_other_spellings_of_the_same_genotype_parse():
    g = space.parse(DARTS_V2)
    spelled = [
        DARTS_V2.replace("_concat=[2, 3, 4, 5]", "_concat=range(2, 6)"),           # as many genotypes.py write it
        f"Genotype(normal={tuple(g.normal)!r}, normal_concat=(2, 3, 4, 5), "       # tuples
        f"reduce={tuple(g.reduce)!r}, reduce_concat=(2, 3, 4, 5))",
        f"Genotype(normal={[list(e) for e in g.normal]!r}, normal_concat=[2, 3, 4, 5], "  # pairs as lists
        f"reduce={[list(e) for e in g.reduce]!r}, reduce_concat=[2, 3, 4, 5])",
        DARTS_V2.replace(", ", ",\n    "),                                            # line breaks
        f"  Genotype({list(g.normal)!r}, [2, 3, 4, 5], {list(g.reduce)!r}, range(2, 6))\n",  # positional
    ]
    for text in spelled:
        assert space.parse(text) == g, text
        assert space.canonical(text) == space.canonical(DARTS_V2)


def test_every_dev_arch_parses_and_round_trips():
    for name, count in (("nb301_cifar10.csv", 243), ("darts_cifar10.csv", 200)):
        rows = read_dev(name)
        assert len(rows) == count
        canon = set()
        for row in rows:
            g = space.parse(row["arch"])
            assert space.format(g) == row["arch"]
            c = space.canonical(row["arch"])
            assert space.canonical(c) == c and space.parse(c).normal_concat == CONCAT
            canon.add(c)
        assert len(canon) == len(rows)  # no two rows of a split are the same network


def test_dev_splits_have_the_documented_ops():
    nb301 = Counter(op for row in read_dev("nb301_cifar10.csv") for g in [space.parse(row["arch"])]
                    for op, _ in g.normal + g.reduce)
    assert set(nb301) == set(SAMPLE_OPS)  # NAS-Bench-301 has no `none`
    swap_set = [space.parse(row["arch"]) for row in read_dev("darts_cifar10.csv")]
    assert any(op == "none" for g in swap_set for op, _ in g.normal)
    assert all(g.normal == g.reduce for g in swap_set)


BAD_STRINGS = {
    "empty": ("  ", "empty"),
    "not a string": (None, "not a string"),
    "other call": (DARTS_V2.replace("Genotype(", "Genome(", 1), "not a Genotype(...) call"),
    "code": ("__import__('os').system('true')", "not a Genotype(...) call"),
    "code inside": (DARTS_V2.replace("[2, 3, 4, 5]", "__import__('os').getcwd()", 1), "not a literal"),
    "syntax": (DARTS_V2[:-1], "not valid Genotype(...) syntax"),
    "seven pairs": (DARTS_V2.replace("('sep_conv_3x3', 0), ", "", 1), "normal has 7 pairs, needs 8"),
    "unknown op": (DARTS_V2.replace("dil_conv_3x3", "sep_conv_7x7"), "unknown op 'sep_conv_7x7' in normal"),
    "input from a later node": (DARTS_V2.replace("('sep_conv_3x3', 1)", "('sep_conv_3x3', 2)", 1),
                                "feeds node 2, so its input must be a node 0..1, not 2"),
    "negative input": (DARTS_V2.replace("('max_pool_3x3', 0)", "('max_pool_3x3', -1)", 1), "not -1"),
    "boolean input": (DARTS_V2.replace("('max_pool_3x3', 0)", "('max_pool_3x3', False)", 1), "not False"),
    "input as text": (DARTS_V2.replace("('max_pool_3x3', 0)", "('max_pool_3x3', '0')", 1), "not '0'"),
    "triple": (DARTS_V2.replace("('max_pool_3x3', 0)", "('max_pool_3x3', 0, 1)", 1), "not an (op, input) pair"),
    "short concat": (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4]"),
                     "normal_concat is [2, 3, 4]"),
    "short range": (DARTS_V2.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=range(2, 5)"),
                    "reduce_concat is (2, 3, 4)"),
    "missing field": (DARTS_V2.split(", reduce=")[0] + ")", "lacks reduce, reduce_concat"),
    "unknown field": (DARTS_V2[:-1] + ", extra=1)", "unknown field 'extra'"),
    "field twice": (DARTS_V2[:-1] + ", reduce_concat=[2, 3, 4, 5])", "field 'reduce_concat' is given twice"),
    "huge": ("Genotype(" + "[" * 5000 + "]" * 5000 + ")", "characters long"),
}


@pytest.mark.parametrize("arch, reason", BAD_STRINGS.values(), ids=BAD_STRINGS.keys())
def test_bad_strings_give_one_line_errors(arch, reason):
    with pytest.raises(SwapfwError) as info:
        space.parse(arch)
    message = str(info.value)
    assert "\n" not in message and reason in message and FORM_HINT in message
    assert message.startswith("bad DARTS architecture")


def test_format_refuses_bad_genotypes():
    g = space.parse(DARTS_V2)
    with pytest.raises(SwapfwError):
        space.format(g._replace(normal=g.normal[:7]))
    with pytest.raises(SwapfwError):
        space.format(g._replace(reduce=(("conv", 0),) + g.reduce[1:]))
    with pytest.raises(SwapfwError):
        space.format("not a genotype")


# --- canonical -----------------------------------------------------------------------------------


def edge_order(original, canonical):
    """For one cell: the original index of each canonical edge (a none edge matches whatever it reads)."""
    key = lambda e: ("none", 0) if e[0] == "none" else e  # noqa: E731
    order = []
    for k in range(0, 8, 2):
        straight = [key(e) for e in original[k:k + 2]] == list(canonical[k:k + 2])
        order += [k, k + 1] if straight else [k + 1, k]
    return order


def transplant(source_net, target_net, source_arch, target_arch):
    """Copy weights so that each edge of target gets the weights of the same edge of source."""
    gs, gt = space.parse(source_arch), space.parse(target_arch)
    state = source_net.state_dict()
    moved = {}
    for name in target_net.state_dict():
        parts = name.split(".")
        if parts[0] == "cells" and parts[2] == "ops":
            cell = target_net.cells[int(parts[1])]
            cell_type = "reduce" if cell.reduction else "normal"
            order = edge_order(getattr(gs, cell_type), getattr(gt, cell_type))
            parts[3] = str(order[int(parts[3])])
        moved[name] = state[".".join(parts)]
    target_net.load_state_dict(moved)


def test_canonical_builds_the_same_function():
    """The canonical string's network, given the original's weights edge by edge, computes the same logits."""
    x = torch.randn(2, 3, 32, 32)
    for arch in (MIXED, DARTS_V1):
        canon = space.canonical(arch)
        assert canon != arch and space.canonical(canon) == canon
        a = space.build(arch, channels=4, layers=5).eval()
        b = space.build(canon, channels=4, layers=5).eval()
        assert params(a) == params(b)
        transplant(a, b, arch, canon)
        with torch.no_grad():
            assert torch.allclose(a(x), b(x), atol=1e-5)


def test_canonical_merges_edge_order_and_none_inputs():
    g = space.parse(MIXED)
    swapped = g._replace(normal=g.normal[1::-1] + g.normal[2:])
    assert space.canonical(space.format(swapped)) == space.canonical(MIXED)
    # the none edge of node 4 reads node 2; reading node 0, 1 or 3 is the same network
    for source in (0, 1, 3):
        assert space.canonical(replace_edge(MIXED, "normal", 5, ("none", source))) == space.canonical(MIXED)
    c = space.parse(space.canonical(MIXED))
    assert all(op != "none" or source == 0 for op, source in c.normal + c.reduce)
    assert all((a[1], a[0]) <= (b[1], b[0]) for cell in (c.normal, c.reduce) for a, b in zip(cell[::2], cell[1::2]))


def test_canonical_keeps_different_networks_apart():
    base = space.canonical(DARTS_V2)
    g = space.parse(DARTS_V2)
    different = [
        space.format(g._replace(normal=g.reduce, reduce=g.normal)),            # cells swapped
        space.format(g._replace(normal=g.normal[:2] + g.normal[4:6] + g.normal[2:4] + g.normal[6:])),  # nodes 3, 4
        replace_edge(DARTS_V2, "normal", 7, ("dil_conv_3x3", 1)),              # another input
        replace_edge(DARTS_V2, "normal", 7, ("dil_conv_5x5", 2)),              # another op
        replace_edge(DARTS_V2, "reduce", 0, ("avg_pool_3x3", 0)),              # pools differ
        replace_edge(DARTS_V2, "normal", 7, ("none", 2)),                      # none is not skip
    ]
    canon = [space.canonical(a) for a in different]
    assert base not in canon and len(set(canon)) == len(canon)


# --- the network -----------------------------------------------------------------------------


def analytic_params(arch, classes=10, channels=16, layers=8, imagenet=False):
    """Parameter count from the DARTS definitions, written independently of the module code."""
    g = space.parse(arch)
    per_op = {  # c channels; weights + BN affine
        "none": lambda c, s: 0, "max_pool_3x3": lambda c, s: 0, "avg_pool_3x3": lambda c, s: 0,
        "skip_connect": lambda c, s: 0 if s == 1 else c * c + 2 * c,      # FactorizedReduce: 2 x (c x c/2) + BN
        "sep_conv_3x3": lambda c, s: 2 * (9 * c + c * c + 2 * c),
        "sep_conv_5x5": lambda c, s: 2 * (25 * c + c * c + 2 * c),
        "dil_conv_3x3": lambda c, s: 9 * c + c * c + 2 * c, "dil_conv_5x5": lambda c, s: 25 * c + c * c + 2 * c,
    }
    if imagenet:
        half = channels // 2  # stem0: conv 3->C/2, BN, conv C/2->C, BN; stem1: conv C->C, BN
        total = 27 * half + 2 * half + 9 * half * channels + 2 * channels + 9 * channels ** 2 + 2 * channels
        pp = p = c = channels
    else:
        total = 27 * 3 * channels + 2 * 3 * channels
        pp = p = 3 * channels
        c = channels
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        c *= 2 if reduction else 1
        total += pp * c + 2 * c + p * c + 2 * c  # both preprocessings: ReLUConvBN or FactorizedReduce, same size
        for op, source in (g.reduce if reduction else g.normal):
            total += per_op[op](c, 2 if reduction and source < 2 else 1)
        pp, p = p, 4 * c
    return total + p * classes + classes


def test_darts_v2_has_the_published_cifar10_size():
    # DARTS (Liu et al. 2019) Table 1: 3.3M; its train.py reports "param size = 3.349342MB" (auxiliary excluded)
    net = space.build(DARTS_V2, channels=36, layers=20)
    assert params(net) == 3_349_342 == analytic_params(DARTS_V2, channels=36, layers=20)
    assert round(params(net) / 1e6, 1) == 3.3


def test_darts_v2_has_the_published_imagenet_size():
    # DARTS Table 3 (mobile setting, C=48, 14 cells): 4.7M
    net = space.build(DARTS_V2, channels=48, layers=14, dataset="imagenet")
    assert net.classifier.out_features == 1000
    assert params(net) == 4_718_752 == analytic_params(DARTS_V2, 1000, 48, 14, imagenet=True)
    assert round(params(net) / 1e6, 1) == 4.7


def test_sizes_match_the_op_definitions():
    assert params(space.build(DARTS_V1, channels=36, layers=20)) == analytic_params(DARTS_V1, channels=36, layers=20)
    for arch in [MIXED] + space.sample(20, seed=11):
        assert params(space.build(arch)) == analytic_params(arch)
        assert params(space.build(arch, classes=100, channels=8, layers=5)) == analytic_params(arch, 100, 8, 5)
        assert params(space.build(arch, channels=6, layers=4, dataset="imagenet")) == \
            analytic_params(arch, 1000, 6, 4, imagenet=True)


#: build options the kit runs on: the reduced protocol's, the paper's (no stem), other classes, ImageNet
BUILDS = ({}, {"channels": 3, "layers": 1, "stem": 0}, {"classes": 100, "channels": 8, "layers": 5},
          {"channels": 6, "layers": 4, "dataset": "imagenet"})


@pytest.mark.parametrize("options", BUILDS, ids=["reduced", "paper", "classes", "imagenet"])
def test_conforms_to_the_kit(options):
    """Sampling, canonical strings, operators, round trips, the nb301 encoding, builds and their sizes."""
    check_space(space, build_options=options)


def test_sampling_every_op_conforms_to_the_kit():
    """With ``none`` among the sampled ops, mutations introduce it (it reads node 0) and remove it."""
    check_space(DartsSpace(sample_ops=OPS), samples=8, build_options={"channels": 4, "layers": 3})


def test_count_params_without_building_equals_the_built_network():
    assert space.count_params(DARTS_V2, channels=36, layers=20) == 3_349_342
    assert space.count_params(DARTS_V2, channels=48, layers=14, dataset="imagenet") == 4_718_752
    for arch in [MIXED, DARTS_V1] + space.sample(4, seed=5):  # the kit counts other sampled ones
        for options in BUILDS + ({"channels": 36, "layers": 20},):
            assert space.count_params(arch, **options) == params(space.build(arch, **options)), (arch, options)


def test_a_protocol_sizes_the_trained_network_without_building_it():
    network = prepare("darts:" + MIXED, build_options={"channels": 3, "layers": 1, "stem": 0},
                      size_options={"channels": 36, "layers": 20})
    assert network.sized_params == params(space.build(MIXED, channels=36, layers=20))
    assert "_sized" not in network.__dict__  # counted by the space, not built
    assert network.sized_ir.params == network.sized_params  # the FLOPs build agrees


def test_prepare_counts_the_same_parameters_and_finds_relus():
    network = prepare("darts:" + DARTS_V2, build_options={"channels": 36, "layers": 20})
    assert network.ir.params == params(space.build(DARTS_V2, channels=36, layers=20)) == 3_349_342
    assert len(network.ir.sites) > 0 and all(site.kind == "relu" for site in network.ir.sites)
    small = prepare("darts:" + MIXED)
    assert small.ir.params == params(space.build(MIXED))


def test_network_layout():
    net = space.build(DARTS_V2)  # 8 cells, C=16: reductions at cells 2 and 5
    assert [cell.reduction for cell in net.cells] == [i in (2, 5) for i in range(8)]
    assert net.classifier.in_features == 4 * 4 * 16
    assert isinstance(net.cells[3].preprocess0, darts.FactorizedReduce)  # after a reduction
    assert not isinstance(net.cells[2].preprocess0, darts.FactorizedReduce)
    reduce_cell = net.cells[2]
    edges = dict(zip(range(8), reduce_cell.ops))
    assert isinstance(edges[2], torch.nn.Identity)            # skip from node 2: stride 1
    assert isinstance(edges[0], torch.nn.MaxPool2d) and edges[0].stride == 2
    assert params(edges[0]) == 0                                # pools carry no BN at evaluation
    net1 = space.build(MIXED)
    assert isinstance(net1.cells[2].ops[1], darts.FactorizedReduce)  # skip_connect from node 1 in a reduction cell


def test_ops_produce_the_cell_shape():
    x = torch.randn(2, 8, 16, 16)
    for op in OPS:
        assert darts.edge_op(op, 8, 1)(x).shape == (2, 8, 16, 16), op
        assert darts.edge_op(op, 8, 2)(x).shape == (2, 8, 8, 8), op
    assert torch.equal(darts.edge_op("none", 8, 2)(x), torch.zeros(2, 8, 8, 8))


def test_reduced_network_runs_and_traces():
    net = space.build(MIXED, classes=100, channels=8, layers=5).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        out = net(x)
        traced = torch.fx.symbolic_trace(net)
        assert out.shape == (3, 100)
        assert torch.allclose(traced(x), out)


def test_imagenet_network_runs_at_224():
    net = space.build(MIXED, channels=4, layers=3, dataset="imagenet").eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 224, 224)).shape == (1, 1000)
    assert space.input_shape_for(dataset="imagenet") == (3, 224, 224)
    assert space.input_shape_for() == space.input_shape == (3, 32, 32)


BAD_OPTIONS = {
    "classes": ({"classes": 0}, "classes must be a positive integer"),
    "channels": ({"channels": 2.5}, "channels must be a positive integer"),
    "layers": ({"layers": -1}, "layers must be a positive integer"),
    "dataset": ({"dataset": "svhn"}, "dataset must be one of cifar, imagenet"),
    "odd imagenet": ({"dataset": "imagenet", "channels": 5}, "channels must be even"),
    "auxiliary": ({"auxiliary": 1}, "auxiliary=1 is not supported"),
    "drop path": ({"drop_path": 0.2}, "drop_path=0.2 is not supported"),
    "unknown": ({"cells": 5}, "unknown DARTS build option(s) cells"),
}


@pytest.mark.parametrize("options, reason", BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_build_refuses_bad_options(options, reason):
    with pytest.raises(SwapfwError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        space.build(DARTS_V2, **options)


@pytest.mark.parametrize("options, reason", BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_count_params_refuses_what_build_refuses(options, reason):
    with pytest.raises(SwapfwError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        space.count_params(DARTS_V2, **options)


def test_build_accepts_explicit_defaults():
    net = space.build(DARTS_V2, classes=10, channels=16, layers=8, dataset="cifar", auxiliary=0, drop_path=0.0)
    assert params(net) == params(space.build(DARTS_V2))


def test_score_through_the_space():
    result = swapfw.score(f"darts:{MIXED}", batch=4, space_options={"channels": 8, "layers": 5}, protocol="benchmark")
    assert result.activation_sites > 0 and result.swap > 0
    assert result.params == params(space.build(MIXED, channels=8, layers=5))
    # the default protocol scores a proxy network but reports the size of the network one trains
    paper = swapfw.score(f"darts:{MIXED}", batch=4)
    assert paper.params == params(space.build(MIXED, channels=36, layers=20))


def test_cli_bad_arch_is_one_line_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["score", "darts:" + DARTS_V2.replace("sep_conv_3x3", "conv_3x3", 1)])
    err = capsys.readouterr().err
    assert stop.value.code == 1
    assert err.startswith("error: bad DARTS architecture") and err.count("\n") == 1


# --- operators -------------------------------------------------------------------------------


def test_sample_is_the_nb301_space():
    first = space.sample(300, seed=3)
    assert first != space.sample(300, seed=4) and len(set(first)) == 300
    pairs = Counter()
    for arch in first:
        g = space.parse(arch)
        for cell in (g.normal, g.reduce):
            assert all(op in SAMPLE_OPS for op, _ in cell)
            for k, node in enumerate(NODES):
                a, b = cell[2 * k][1], cell[2 * k + 1][1]
                assert a < b < node  # 2 distinct inputs
                pairs[node, a, b] += 1
    assert len(pairs) == 1 + 3 + 6 + 10  # every input pair of every node occurs
    assert space.size == (1 * 3 * 6 * 10 * 7 ** 8) ** 2
    for count in (0, True, space.size + 1):
        with pytest.raises(SwapfwError):
            space.sample(count, seed=0)


def test_sample_ops_option():
    all_ops = DartsSpace(sample_ops=OPS)
    ops = Counter(op for a in all_ops.sample(100, seed=0) for g in [all_ops.parse(a)] for op, _ in g.normal + g.reduce)
    assert set(ops) == set(OPS)
    with pytest.raises(SwapfwError):
        DartsSpace(sample_ops=("conv",))


def node_diff(a, b):
    """(cell, node) positions whose edge multisets differ between two archs."""
    ga, gb = space.parse(space.canonical(a)), space.parse(space.canonical(b))
    return [(cell, k) for cell in ("normal", "reduce") for k in range(4)
            if sorted(getattr(ga, cell)[2 * k:2 * k + 2]) != sorted(getattr(gb, cell)[2 * k:2 * k + 2])]


def test_mutate_op_changes_one_op():
    rng = random.Random(0)
    for arch in space.sample(100, seed=1) + [MIXED]:
        child = space.mutate(arch, rng)
        assert child == space.canonical(child)  # from MIXED too, which is not canonical
        ((cell, k),) = node_diff(arch, child)
        old = space.parse(space.canonical(arch)), space.parse(child)
        ops = [Counter(op for op, _ in getattr(g, cell)[2 * k:2 * k + 2]) for g in old]
        assert sum((ops[0] - ops[1]).values()) == 1
        if arch != MIXED:
            assert all(op != "none" for op, _ in old[1].normal + old[1].reduce)


def test_mutate_connectivity_moves_one_input():
    rng = random.Random(0)
    for arch in space.sample(100, seed=2) + [MIXED]:
        child = space.mutate(arch, rng, kind="connectivity")
        assert child == space.canonical(child)  # from MIXED too, which is not canonical
        ((cell, k),) = node_diff(arch, child)
        parent, kid = space.parse(space.canonical(arch)), space.parse(child)
        assert sorted(op for op, _ in getattr(parent, cell)) == sorted(op for op, _ in getattr(kid, cell))
        if arch != MIXED:  # sampled: inputs stay distinct, so node 2 (reading 0 and 1) never moves
            assert k != 0
            assert all(c[2 * j][1] != c[2 * j + 1][1] for c in (kid.normal, kid.reduce) for j in range(4))
    all_none = space.format(Genotype((("none", 0),) * 8, CONCAT, (("none", 0),) * 8, CONCAT))
    with pytest.raises(SwapfwError, match="no edge whose input can change"):
        space.mutate(all_none, rng, kind="connectivity")
    with pytest.raises(SwapfwError):
        space.mutate(DARTS_V2, rng, kind="width")


def test_crossover_takes_each_node_from_a_parent():
    rng = random.Random(0)
    archs = space.sample(60, seed=5)
    mixed = False
    for a, b in zip(archs[::2], archs[1::2]):
        c, d = space.crossover(a, b, rng)
        ga, gb, gc, gd = (space.parse(s) for s in (a, b, c, d))
        for cell in ("normal", "reduce"):
            for k in range(0, 8, 2):
                nodes = [getattr(g, cell)[k:k + 2] for g in (ga, gb, gc, gd)]
                assert sorted(nodes[2:]) == sorted(nodes[:2])
        mixed |= c not in (a, b)
    assert mixed


def test_auto_mu_sigma_counts_the_reference_sizes_without_tasks(tmp_path, monkeypatch):
    """DARTS counts parameters, so --mu/--sigma auto reads the trained network's sizes of the
    reference sample in the driver (no build, no task, nothing cached), as `score --mu auto` does."""
    import sqlite3

    import swapfw.studies.reference as reference
    from swapfw.studies.reference import reference_archs
    from swapfw.studies.search import SearchSettings, search

    monkeypatch.setattr(reference, "AUTO_SAMPLES", 6)
    trained = {"channels": 36, "layers": 20}
    built = [params(space.build(arch, **trained)) for arch in reference_archs(space, 6)]
    report = search(SearchSettings(space="darts", protocol="paper", proxy="regswap", repeats=1, population=2, cycles=1,
                                   sample_size=1, mutations=1, seed=5, cache=str(tmp_path / "c.sqlite")))
    assert report["mu"] == max(built) / 1e6 and report["sigma"] == pytest.approx(report["mu"] ** 2)
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        rows = dict(db.execute("SELECT seed, count(*) FROM scores WHERE proxy='params' GROUP BY seed").fetchall())
    assert rows.get(0) is None and rows[5] > 0  # the reference sample (seed 0) was never a task; the search's were
    assert reference.sizes(SearchSettings(space="darts", protocol="paper"), cache=None, pool=None) == built
