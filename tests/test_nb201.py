"""The nb201 search space: strings, the official index order, the exact benchmark network, operators."""

import itertools
import json
import random

import pytest
import torch

import swapfw
from swapfw.cli import cli, main
from swapfw.errors import SwapfwError
from swapfw.testing import check_space
from swapfw_plugins.spaces.nb201 import OPS, Cell, NB201Space
from conftest import data_rows

CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
SMALL = "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|avg_pool_3x3~0|skip_connect~1|nor_conv_1x1~2|"

space = NB201Space()


def read_csv(name):
    return data_rows("nb201", name)


def params(module):
    return sum(p.numel() for p in module.parameters())


def differing_edges(a, b):
    return [k for k, (x, y) in enumerate(zip(space.parse(a), space.parse(b))) if x != y]


# --- strings and order -----------------------------------------------------------------------


def test_registered_through_the_entry_point():
    assert "nb201" in swapfw.list_plugins("spaces")
    assert isinstance(swapfw.get_plugin("spaces", "nb201"), NB201Space)


def test_parse_gives_ops_in_edge_order():
    assert space.parse(EXAMPLE) == ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3",
                                    "skip_connect", "nor_conv_3x3", "skip_connect")
    assert space.format(space.parse(EXAMPLE)) == EXAMPLE
    assert space.canonical(f"  {EXAMPLE}\n") == EXAMPLE


def test_every_published_string_round_trips():
    rows = read_csv("nb201.csv")
    assert len(rows) == 15_625
    for row in rows:
        ops = space.parse(row["arch_str"])
        assert len(ops) == 6 and set(ops) <= set(OPS)
        assert space.format(ops) == row["arch_str"] == space.canonical(row["arch_str"])


def test_enumerate_is_the_official_index_order():
    rows = read_csv("nb201.csv")
    assert [int(row["index"]) for row in rows] == list(range(15_625))
    assert space.enumerate() == [row["arch_str"] for row in rows]


def test_enumerate_covers_the_space_once():
    archs = space.enumerate()
    assert len(archs) == len(set(archs)) == 15_625
    assert set(archs) == {space.format(ops) for ops in itertools.product(OPS, repeat=6)}
    # positions the benchmark's own generator checks, and the brief's example at index 1
    assert archs[0] == "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    assert archs[1] == EXAMPLE
    assert archs[9] == "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    assert archs[123] == "|avg_pool_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"


BAD_STRINGS = {
    "empty": ("", "empty"),
    "two nodes": ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|", "2 '+'-separated nodes"),
    "four nodes": (EXAMPLE + "+|none~0|none~1|none~2|none~3|", "4 '+'-separated nodes"),
    "wrong input index": (EXAMPLE.replace("avg_pool_3x3~1", "avg_pool_3x3~2"), "must read from node 1"),
    "unknown op": (EXAMPLE.replace("avg_pool_3x3", "max_pool_3x3"), "unknown op 'max_pool_3x3'"),
    "missing bars": (EXAMPLE.strip("|"), "not enclosed in | bars"),
    "missing input": (EXAMPLE.replace("avg_pool_3x3~1", "avg_pool_3x3"), "lacks ~INPUT"),
    "too many inputs": (EXAMPLE.replace("|+|skip", "|none~2|+|skip"), "node 2 has 3 inputs"),
    "line break inside": (EXAMPLE.replace("~1|+", "~1|\n+"), "not enclosed in | bars"),
    "not a string": (None, "not a string"),
}


@pytest.mark.parametrize("arch, reason", BAD_STRINGS.values(), ids=BAD_STRINGS.keys())
def test_bad_strings_give_one_line_errors(arch, reason):
    with pytest.raises(SwapfwError) as info:
        space.parse(arch)
    message = str(info.value)
    assert "\n" not in message and reason in message
    assert "|OP~0|+|OP~0|OP~1|+|OP~0|OP~1|OP~2|" in message


def test_format_refuses_bad_ops():
    with pytest.raises(SwapfwError):
        space.format(("none",) * 5)
    with pytest.raises(SwapfwError):
        space.format(("none",) * 5 + ("conv",))


# --- the network -----------------------------------------------------------------------------


def test_all_conv3x3_has_the_published_size():
    assert params(space.build(ALL_CONV3)) == 1_531_546  # 1.531546 M, the space's largest on CIFAR-10


def test_sizes_match_suite_zero():
    """Published params are every trainable tensor (conv, affine BN, linear + bias) in millions."""
    rows = read_csv("suite_zero_proxies.csv")
    for dataset, classes in CLASSES.items():
        mine = [row for row in rows if row["dataset"] == dataset]
        assert len(mine) == 1386
        for row in random.Random(dataset).sample(mine, 40):
            decimals = len(row["params"].partition(".")[2])
            count = params(space.build(row["arch_str"], classes=classes))
            assert f"{count / 1e6:.{decimals}f}" == row["params"], (dataset, row["arch_str"])


def test_count_params_gives_the_published_sizes():
    rows = [row for row in read_csv("suite_zero_proxies.csv") if row["dataset"] == "cifar100"]
    for row in random.Random(1).sample(rows, 10):
        decimals = len(row["params"].partition(".")[2])
        assert f"{space.count_params(row['arch_str'], classes=100) / 1e6:.{decimals}f}" == row["params"]


#: build options the kit runs on: the benchmark network, the tiny protocol's, and one with other classes
BUILDS = ({}, {"channels": 3, "cells": 1}, {"channels": 8, "cells": 2, "classes": 120})


@pytest.mark.parametrize("options", BUILDS, ids=["benchmark", "tiny", "classes"])
def test_conforms_to_the_kit(options):
    """Sampling, canonical strings, operators, round trips, encodings, builds and their sizes."""
    check_space(space, build_options=options)


def test_count_params_without_building_equals_the_built_network():
    assert space.count_params(ALL_CONV3) == 1_531_546
    for arch in [EXAMPLE, SMALL, ALL_CONV3]:  # every op between them; the kit counts sampled ones
        for options in BUILDS:
            assert space.count_params(arch, **options) == params(space.build(arch, **options)), (arch, options)
    for bad in ({"classes": 0}, {"channels": 2.5}, {"cells": True}):
        with pytest.raises(SwapfwError, match=next(iter(bad))):
            space.count_params(EXAMPLE, **bad)


def test_cell_sums_incoming_edges_and_none_adds_nothing():
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(Cell(("skip_connect",) * 6, 4)(x), 4 * x)  # n1 = x, n2 = 2x, n3 = x + x + 2x
    assert torch.equal(Cell(("none",) * 6, 4)(x), torch.zeros_like(x))
    assert torch.equal(Cell(("skip_connect", "none", "skip_connect", "none", "none", "skip_connect"), 4)(x), x)


@pytest.mark.parametrize("size, classes", [(32, 10), (16, 120)])
def test_network_runs_and_traces(size, classes):
    net = space.build(EXAMPLE, classes=classes).eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        out = net(x)
        traced = torch.fx.symbolic_trace(net)
        assert out.shape == (2, classes)
        assert torch.allclose(traced(x), out)


def test_build_refuses_bad_options():
    with pytest.raises(SwapfwError, match="classes"):
        space.build(EXAMPLE, classes=0)


def test_score_through_the_space():
    import swapfw.scoring.score  # noqa: F401  (importing the module must not shadow the function)

    result = swapfw.score(f"nb201:{SMALL}", batch=8)
    assert result.activation_sites > 0 and result.swap > 0
    assert result.params == params(space.build(SMALL))


# --- operators -------------------------------------------------------------------------------


def test_sample_covers_the_space_and_refuses_impossible_counts():
    assert space.sample(200, seed=3) != space.sample(200, seed=4)
    assert sorted(space.sample(15_625, seed=0)) == sorted(space.enumerate())
    for count in (0, 15_626):
        with pytest.raises(SwapfwError):
            space.sample(count, seed=0)


def test_mutate_op_changes_one_edge():
    rng = random.Random(0)
    for arch in space.sample(100, seed=1):
        child = space.mutate(arch, rng)
        assert len(differing_edges(arch, child)) == 1


def test_mutate_connectivity_toggles_none():
    rng = random.Random(0)
    for arch in space.sample(100, seed=2):
        child = space.mutate(arch, rng, kind="connectivity")
        (edge,) = differing_edges(arch, child)
        pair = (space.parse(arch)[edge], space.parse(child)[edge])
        assert pair.count("none") == 1
    with pytest.raises(SwapfwError):
        space.mutate(EXAMPLE, rng, kind="width")


def test_crossover_takes_each_edge_from_a_parent():
    rng = random.Random(0)
    archs = space.sample(100, seed=5)
    mixed = False
    for a, b in zip(archs[::2], archs[1::2]):
        c, d = space.crossover(a, b, rng)
        for pa, pb, pc, pd in zip(*(space.parse(s) for s in (a, b, c, d))):
            assert sorted((pc, pd)) == sorted((pa, pb))
        mixed |= c not in (a, b)
    assert mixed


# --- the command line ------------------------------------------------------------------------


def test_cli_scores_an_nb201_arch():
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["score", f"nb201:{SMALL}", "--format", "json", "--batch", "4"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["params"] == params(space.build(SMALL)) and out["activation_sites"] > 0


def test_cli_bad_arch_is_one_line_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["score", "nb201:|nor_conv_3x3~0|+|bogus~0|none~1|"])
    err = capsys.readouterr().err
    assert stop.value.code == 1
    assert err.startswith("error: bad NB201 architecture") and err.count("\n") == 1
