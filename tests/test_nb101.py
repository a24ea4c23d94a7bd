"""The nb101 search space: specs, pruning, isomorphism, the exact benchmark network, operators."""

import collections
import itertools
import json
import random

import pytest
import torch

import swapfw
from swapfw import plugins
from swapfw.errors import SwapfwError
from swapfw.testing import check_space
from swapfw_plugins.spaces import nb101
from swapfw_plugins.spaces.nb101 import OPS, Cell, NB101Network, NB101Space, Spec, module_hash, vertex_channels
from conftest import data_rows

C3, C1, MP = OPS

space = NB101Space()


def arch(matrix, ops) -> str:
    return json.dumps({"matrix": matrix, "ops": ops}, separators=(",", ":"))


def params(module):
    return sum(p.numel() for p in module.parameters())


# The README's Inception-like cell as queried in the official colab (NASBench.ipynb), and the spec
# with the metrics the benchmark returned for it: its stored (canonical) member and its size.
INCEPTION_QUERY = arch([[0, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0, 0],
                        [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0] * 7],
                       ["input", C1, C3, C3, C3, MP, "output"])
INCEPTION_STORED = arch([[0, 1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
                         [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0] * 7],
                        ["input", C3, C1, MP, C3, C3, "output"])
# A spec as returned by nasbench.get_metrics_from_hash (module_adjacency / module_operations), with
# 'trainable_parameters': 8555530 -- cited in several public NB101 loaders.
STORED_8555530 = arch([[0, 1, 0, 0, 1, 1, 0], [0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 1], [0, 0, 0, 0, 0, 1, 0],
                       [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0] * 7],
                      ["input", C3, MP, C3, C3, C1, "output"])
SMALL = arch([[0, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", C3, MP, "output"])


@pytest.fixture(scope="module")
def registered():
    """nb101 in the registry: through its entry point once pyproject lists it, else from code."""
    added = "nb101" not in swapfw.list_plugins("spaces")
    if added:
        plugins.register_plugin(nb101, name="space_nb101_test")
    yield
    if added:
        plugins.unregister_plugin("space_nb101_test")


def dev_rows():
    return data_rows("dev", "nb101_cifar10.csv")


# --- strings, pruning, validity --------------------------------------------------------------


def test_parse_prunes_like_model_spec():
    # the dev split's first row: vertices 2, 3, 5 lie on no input -> output path
    raw = arch([[0, 1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 0], [0, 0, 0, 1, 0, 1, 1], [0] * 7,
                [0, 0, 0, 0, 0, 0, 1], [0] * 7, [0] * 7],
               ["input", MP, C1, C3, MP, C1, "output"])
    spec = space.parse(raw)
    assert spec == Spec(((0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 0)), ("input", MP, MP, "output"))
    assert space.format(spec) == arch([list(r) for r in spec.matrix], list(spec.ops))
    assert space.canonical(raw) == space.format(spec)  # a chain has one labelling


def test_parse_accepts_any_json_layout_and_small_matrices():
    loose = '{ "ops" : ["input", "maxpool3x3", "output"],\n  "matrix": [[0, 1, 0], [0, 0, 1], [0, 0, 0]] }'
    assert space.format(space.parse(loose)) == arch([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", MP, "output"])
    assert space.parse(arch([[0, 1], [0, 0]], ["input", "output"])).vertices == 2
    assert space.format(space.parse(SMALL)) == SMALL


def test_limits_apply_after_pruning():
    # 8 vertices, one of them dangling: in the space once pruned (as nasbench's ModelSpec + is_valid)
    matrix = [[0] * 8 for _ in range(8)]
    for i in range(6):
        matrix[i][i + 1] = 1
    matrix[6][7] = 0
    matrix[5][7] = 1  # vertex 6 feeds nothing
    assert space.parse(arch(matrix, ["input"] + [C3] * 6 + ["output"])).vertices == 7


def _too_many_edges():
    matrix = [[0] * 7 for _ in range(7)]
    for i, j in [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (1, 6), (2, 6), (3, 6), (4, 6), (5, 6)]:
        matrix[i][j] = 1
    return arch(matrix, ["input"] + [C3] * 5 + ["output"])


def _chain(n):
    return arch([[int(j == i + 1) for j in range(n)] for i in range(n)], ["input"] + [C3] * (n - 2) + ["output"])


BAD_STRINGS = {
    "empty": ("", "empty"),
    "not a string": (None, "not a string"),
    "a list": ([[0, 1], [0, 0]], "not a string"),
    "not JSON": ("matrix=[[0,1],[0,0]]", "not JSON"),
    "python repr": (SMALL.replace('"', "'"), "not JSON"),
    "JSON list": ("[[0,1],[0,0]]", "JSON list, not an object"),
    "missing ops": ('{"matrix":[[0,1],[0,0]]}', "exactly the keys 'matrix' and 'ops'"),
    "extra key": (SMALL[:-1] + ',"hash":"x"}', "exactly the keys"),
    "not square": (arch([[0, 1, 1], [0, 0]], ["input", C3, "output"]), "must be square"),
    "entry 2": (arch([[0, 2], [0, 0]], ["input", "output"]), "entries must be 0 or 1"),
    "entry true": (arch([[0, True], [0, 0]], ["input", "output"]), "entries must be 0 or 1"),
    "ops too short": (arch([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", "output"]), "'ops' has 2 entries"),
    "first not input": (arch([[0, 1, 1], [0, 0, 1], [0, 0, 0]], [C3, C3, "output"]), "first op must be 'input'"),
    "unknown op": (SMALL.replace(MP, "avgpool3x3"), "unknown op 'avgpool3x3' at vertex 2"),
    "dangling unknown op": (arch([[0, 0, 1], [0, 0, 0], [0, 0, 0]], ["input", "conv5x5", "output"]), "unknown op"),
    "lower triangle": (arch([[0, 1, 0], [0, 0, 1], [1, 0, 0]], ["input", C3, "output"]), "not upper triangular"),
    "self loop": (arch([[0, 1, 0], [0, 1, 1], [0, 0, 0]], ["input", C3, "output"]), "not upper triangular"),
    "disconnected": (arch([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ["input", C3, "output"]), "no path leads"),
    "8 vertices": (_chain(8), "8 vertices after pruning"),
    "10 edges": (_too_many_edges(), "10 edges after pruning"),
    "line break inside": (SMALL.replace(',"ops"', ',\n"ops"').replace("maxpool", "maxpol"), "unknown op"),
}


@pytest.mark.parametrize("text, reason", BAD_STRINGS.values(), ids=BAD_STRINGS.keys())
def test_bad_strings_give_one_line_errors(text, reason):
    for call in (space.parse, space.canonical, space.build):
        with pytest.raises(SwapfwError) as info:
            call(text)
        message = str(info.value)
        assert "\n" not in message and reason in message
        assert message.startswith("bad NB101 architecture") and '"matrix"' in message and "maxpool3x3" in message


def test_format_refuses_what_parse_would_change():
    with pytest.raises(SwapfwError, match="not a pruned"):
        space.format(([[0, 1, 1], [0, 0, 0], [0, 0, 0]], ["input", C3, "output"]))  # vertex 1 feeds nothing
    for bad in [([[0, 1], [0, 0]], ["input", "conv", "output"]), "{}", None]:
        with pytest.raises(SwapfwError, match="not an NB101 spec"):
            space.format(bad)


# --- isomorphism -----------------------------------------------------------------------------


def relabel(spec: Spec, order) -> Spec:
    """``order[new] = old``; the caller keeps it topological."""
    return Spec(tuple(tuple(spec.matrix[a][b] for b in order) for a in order), tuple(spec.ops[v] for v in order))


def topological_orders(spec: Spec):
    n = spec.vertices
    for inner in itertools.permutations(range(1, n - 1)):
        order = (0, *inner, n - 1)
        place = {old: new for new, old in enumerate(order)}
        if all(place[i] < place[j] for i in range(n) for j in range(n) if spec.matrix[i][j]):
            yield order


def test_canonical_is_the_benchmarks_stored_spec():
    # the colab queried INCEPTION_QUERY and the benchmark answered with its stored member
    assert space.canonical(INCEPTION_QUERY) == INCEPTION_STORED
    assert space.canonical(INCEPTION_STORED) == INCEPTION_STORED
    assert space.canonical(STORED_8555530) == STORED_8555530


def test_hand_made_isomorphic_pairs_merge_and_others_do_not():
    parallel = arch([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", C3, MP, "output"])
    swapped = arch([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", MP, C3, "output"])
    assert space.canonical(parallel) == space.canonical(swapped)
    # a branch 0 -> a -> b -> out beside 0 -> c -> out, with c listed first or last
    first = arch([[0, 1, 1, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0] * 5],
                 ["input", C1, C3, MP, "output"])
    last = arch([[0, 1, 0, 1, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0] * 5],
                ["input", C3, MP, C1, "output"])
    assert space.canonical(first) == space.canonical(last)
    # the same two ops in the other order along a chain is a different network
    chain_a = arch([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0] * 4], ["input", C3, C1, "output"])
    chain_b = arch([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0] * 4], ["input", C1, C3, "output"])
    assert space.canonical(chain_a) != space.canonical(chain_b)
    # as is a skip edge input -> output
    assert space.canonical(parallel) != space.canonical(parallel.replace("[0,1,1,0]", "[0,1,1,1]", 1))


def test_relabellings_and_dangling_vertices_keep_the_canonical_form():
    rng = random.Random(0)
    for text in space.sample(150, seed=11):
        spec = space.parse(text)
        orders = list(topological_orders(spec))
        other = relabel(spec, rng.choice(orders))
        assert space.canonical(space.format(other)) == text
        if spec.vertices < 7:  # a vertex fed by the input that feeds nothing is pruned away
            n = spec.vertices
            matrix = [list(row[:-1]) + [0] + [row[-1]] for row in spec.matrix[:-1]]
            matrix.append([0] * (n + 1))
            matrix.append([0] * (n + 1))
            matrix[0][n - 1] = 1
            ops = list(spec.ops[:-1]) + [rng.choice(OPS), "output"]
            assert space.canonical(arch(matrix, ops)) == text


def generation_order(vertices):
    """Every full DAG of ``vertices`` vertices within the limits, with every labelling, in the order
    the benchmark generated them (scripts/generate_graphs.py)."""
    pairs = [(i, j) for j in range(vertices) for i in range(j)]  # bit k is pairs[k]: i + j(j-1)/2
    for bits in range(2 ** len(pairs)):
        matrix = [[0] * vertices for _ in range(vertices)]
        for k, (i, j) in enumerate(pairs):
            matrix[i][j] = (bits >> k) & 1
        full = all(any(row) for row in matrix[:-1]) and all(any(matrix[i][j] for i in range(j))
                                                            for j in range(1, vertices))
        if not full or sum(map(sum, matrix)) > nb101.MAX_EDGES:
            continue
        for labels in itertools.product(range(len(OPS)), repeat=vertices - 2):
            yield Spec(tuple(map(tuple, matrix)), ("input", *(OPS[k] for k in labels), "output"))


def test_canonical_classes_are_the_hash_classes_and_the_first_generated_member():
    """Exhaustively up to 5 vertices: canonical strings merge exactly what the benchmark's hash
    merges, and each is the first member the benchmark's generator met (the one it stored)."""
    by_hash, by_canonical, total = {}, {}, 0
    for vertices in range(2, 6):
        for spec in generation_order(vertices):
            total += 1
            text = space.format(spec)
            canonical = space.canonical(text)
            fingerprint = module_hash(spec)
            if fingerprint not in by_hash:
                by_hash[fingerprint] = canonical
                assert canonical == text  # the first of its class is the stored one
            assert by_hash[fingerprint] == canonical
            by_canonical.setdefault(canonical, fingerprint)
            assert by_canonical[canonical] == fingerprint
    assert len(by_hash) == len(by_canonical) < total


def test_canonical_agrees_with_the_hash_on_large_cells():
    rng = random.Random(1)
    archs = [a for a in space.sample(400, seed=12) if space.parse(a).vertices >= 6]
    assert len(archs) > 50
    hashes = {}
    for text in archs:
        spec = space.parse(text)
        for order in rng.sample(list(topological_orders(spec)), min(3, len(list(topological_orders(spec))))):
            other = relabel(spec, order)
            assert module_hash(other) == module_hash(spec) and space.canonical(space.format(other)) == text
        hashes.setdefault(module_hash(spec), text)
        assert hashes[module_hash(spec)] == text  # distinct canonical strings never share a hash


# --- the network -----------------------------------------------------------------------------


def test_published_parameter_counts():
    """``trainable_parameters`` the benchmark published (conv kernels, BN gamma/beta, dense + bias)."""
    assert params(space.build(INCEPTION_QUERY)) == 2_694_282
    assert params(space.build(INCEPTION_STORED)) == 2_694_282
    assert params(space.build(STORED_8555530)) == 8_555_530


def test_hand_counted_extremes():
    # input -> output only: every cell is one 1x1 projection (+BN); stem 3712, head 5130
    assert params(space.build(arch([[0, 1], [0, 0]], ["input", "output"]))) == 882_570
    # the space's smallest kind of cell: one narrow projection fanned out to 4 max-pools (w/4 channels)
    matrix = [[0] * 7 for _ in range(7)]
    for i, j in [(0, 1), (1, 2), (1, 3), (1, 4), (1, 5), (2, 6), (3, 6), (4, 6), (5, 6)]:
        matrix[i][j] = 1
    small = arch(matrix, ["input"] + [MP] * 5 + ["output"])
    # stem 3712 + 3*(128*32+64) + (128*64+128) + 2*(256*64+128) + (256*128+256) + 2*(512*128+256) + 5130
    assert params(space.build(small)) == 227_274


#: build options the kit runs on: the reduced protocol's network (two stacks) and one with other classes
BUILDS = ({"channels": 16, "stacks": 2, "cells": 1}, {"channels": 8, "stacks": 3, "cells": 2, "classes": 100})


@pytest.mark.parametrize("options", BUILDS, ids=["reduced", "classes"])
def test_conforms_to_the_kit(options):
    """Sampling, canonical strings, operators, round trips, the hash encoding, builds and their sizes."""
    check_space(space, build_options=options)


def test_count_params_without_building_equals_the_built_network():
    assert space.count_params(INCEPTION_QUERY) == space.count_params(INCEPTION_STORED) == 2_694_282
    assert space.count_params(STORED_8555530) == 8_555_530
    assert space.count_params(arch([[0, 1], [0, 0]], ["input", "output"])) == 882_570
    for spec in [SMALL, INCEPTION_QUERY, STORED_8555530] + space.sample(6, 6):
        for options in BUILDS:
            assert space.count_params(spec, **options) == params(space.build(spec, **options)), (spec, options)
    with pytest.raises(SwapfwError, match="stacks"):
        space.count_params(SMALL, stacks=0)
    with pytest.raises(SwapfwError, match="channels >= "):  # the same refusal as build's
        space.count_params(INCEPTION_QUERY, channels=2)


def test_vertex_channels_split_the_output_and_propagate_back():
    matrix = [[0, 1, 1, 1, 0], [0, 0, 0, 1, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0] * 5]
    # vertices 1, 2, 3 feed the output: 43 + 43 + 42; vertex 1 also feeds 3
    assert vertex_channels(64, 128, matrix) == [64, 43, 43, 42, 128]
    chain = [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0] * 4]
    assert vertex_channels(32, 16, chain) == [32, 16, 16, 16]
    with pytest.raises(SwapfwError, match="channels >= 3"):
        vertex_channels(8, 2, matrix)


def test_cell_sums_truncates_and_concatenates():
    spec = Spec(((0, 1, 1, 1, 0), (0, 0, 0, 1, 1), (0, 0, 0, 0, 1), (0, 0, 0, 0, 1), (0,) * 5),
                ("input", MP, MP, MP, "output"))
    cell = Cell(spec, 6, 8).eval()  # 8 = 3 + 3 + 2
    x = torch.randn(2, 6, 5, 5)
    pool = torch.nn.MaxPool2d(3, 1, 1)
    with torch.no_grad():
        v1 = pool(cell.projections["1"](x))
        v2 = pool(cell.projections["2"](x))
        v3 = pool(v1[:, :2] + cell.projections["3"](x))  # vertex 1 (3 channels) truncated to 2
        assert torch.allclose(cell(x), torch.cat([v1, v2, v3], 1))
    skip = Spec(((0, 1, 1), (0, 0, 1), (0, 0, 0)), ("input", MP, "output"))
    cell = Cell(skip, 4, 4).eval()
    with torch.no_grad():
        assert torch.allclose(cell(x[:, :4]), pool(cell.projections["1"](x[:, :4])) + cell.projections["2"](x[:, :4]))


def test_network_layout_and_batchnorm():
    net = space.build(SMALL)
    cells = [m for m in net.cells if isinstance(m, Cell)]
    pools = [m for m in net.cells if isinstance(m, torch.nn.MaxPool2d)]
    assert len(cells) == 9 and len(pools) == 2 and net.classifier.in_features == 512
    assert [c.channels[-1] for c in cells] == [128] * 3 + [256] * 3 + [512] * 3
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(bn.eps == 1e-5 and bn.momentum == pytest.approx(0.003) for bn in bns)
    reduced = space.build(SMALL, classes=100, channels=16, stacks=2, cells=1)
    assert reduced.classifier.out_features == 100 and reduced.classifier.in_features == 32


@pytest.mark.parametrize("size", [32, 30])
def test_reduced_network_runs_and_traces(size):
    net = space.build(INCEPTION_QUERY, channels=16, cells=1).eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        out = net(x)
        traced = torch.fx.symbolic_trace(net)
        assert out.shape == (2, 10)
        assert torch.allclose(traced(x), out)


def test_isomorphic_strings_build_the_same_network():
    # 3 vertices feed the output, so one gets an extra channel: the stored member decides which
    fan = [[0, 1, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0] * 5]
    a = arch(fan, ["input", MP, C3, C1, "output"])
    b = arch(fan, ["input", C3, C1, MP, "output"])
    assert params(NB101Network(space.parse(a))) != params(NB101Network(space.parse(b)))
    assert params(space.build(a)) == params(space.build(b)) == params(NB101Network(space.parse(space.canonical(a))))


def test_build_refuses_bad_options():
    for options, word in [({"classes": 0}, "classes"), ({"channels": "8"}, "channels"), ({"stacks": True}, "stacks"),
                          ({"cells": -1}, "cells")]:
        with pytest.raises(SwapfwError, match=word):
            space.build(SMALL, **options)
    wide = arch([[0, 1, 1, 1, 1, 0]] + [[0] * 5 + [1]] * 4 + [[0] * 6], ["input"] + [C1] * 4 + ["output"])
    with pytest.raises(SwapfwError, match="channels >= 4"):
        space.build(wide, channels=3)
    assert params(space.build(wide, channels=4, cells=1)) > 0


def test_prepare_and_score_through_the_space(registered):
    network = swapfw.scoring.network.prepare(f"nb101:{INCEPTION_QUERY}")  # the full benchmark network
    assert network.ir.params == 2_694_282
    small = swapfw.scoring.network.prepare(f"nb101:{SMALL}", build_options={"channels": 16, "cells": 1})
    assert len(small.binding.points) > 0
    assert small.ir.params == params(space.build(SMALL, channels=16, cells=1))
    result = swapfw.score(f"nb101:{SMALL}", batch=8, space_options={"channels": 16, "cells": 1})
    assert result.activation_sites > 0 and result.swap > 0


# --- the dev split ---------------------------------------------------------------------------


def test_every_dev_arch_parses_and_canonicalises():
    rows = dev_rows()
    assert len(rows) == 100
    groups = collections.defaultdict(list)
    for row in rows:
        spec = space.parse(row["arch"])
        assert 2 <= spec.vertices <= 7 and spec.edges <= 9
        canonical = space.canonical(row["arch"])
        assert space.canonical(canonical) == canonical
        groups[canonical].append(float(row["val_accuracy"]))
    # rows that prune to the same cell are the same benchmark entry: their accuracies differ only
    # by the benchmark's training seed (one of 3 repeats), never by architecture
    assert any(len(accs) > 1 for accs in groups.values())
    assert max(max(accs) - min(accs) for accs in groups.values()) < 1.5


def test_dev_archs_build_within_the_spaces_size_range():
    rows = dev_rows()
    for row in random.Random(0).sample(rows, 5):
        assert 200_000 < params(space.build(row["arch"])) < 50_000_000


# --- operators -------------------------------------------------------------------------------


def test_sample_reaches_every_cell_size_and_refuses_impossible_counts():
    first = space.sample(300, seed=3)
    assert first != space.sample(300, seed=4) and all(space.canonical(a) == a for a in first[::10])
    assert {space.parse(a).vertices for a in first} == set(range(2, 8))
    for count in (0, nb101.SIZE + 1, 2.5):
        with pytest.raises(SwapfwError):
            space.sample(count, seed=0)


def _op_neighbours(text):
    spec = space.parse(text)
    out = set()
    for v in range(1, spec.vertices - 1):
        for op in OPS:
            if op != spec.ops[v]:
                ops = list(spec.ops)
                ops[v] = op
                out.add(space.canonical(space.format((spec.matrix, ops))))
    return out


def test_mutate_op_changes_one_vertex_op():
    rng = random.Random(0)
    for text in space.sample(100, seed=1):
        child = space.mutate(text, rng)
        if space.parse(text).vertices > 2:
            assert child in _op_neighbours(text)
        else:
            assert child != text
    lone = arch([[0, 1], [0, 0]], ["input", "output"])
    assert space.mutate(lone, rng) != space.canonical(lone)  # no op to change: rewires instead


def test_mutate_connectivity_gives_a_different_valid_cell():
    rng = random.Random(0)
    sizes = set()
    for text in space.sample(100, seed=2):
        child = space.mutate(text, rng, kind="connectivity")
        assert child != text
        sizes.add(space.parse(child).vertices - space.parse(text).vertices)
    assert {-1, 0, 1} <= sizes  # flips grow, keep and shrink cells
    with pytest.raises(SwapfwError, match="'op' or 'connectivity'"):
        space.mutate(SMALL, rng, kind="width")


def test_crossover_gives_valid_children_that_mix():
    rng = random.Random(0)
    archs = space.sample(60, seed=5)
    mixed = 0
    for a, b in zip(archs[::2], archs[1::2]):
        c, d = space.crossover(a, b, rng)
        assert space.canonical(c) == c and space.canonical(d) == d  # the kit checks a few; these are many
        mixed += c not in (a, b)
    assert mixed >= 10


# --- the command line ------------------------------------------------------------------------


def test_cli_bad_arch_is_one_line_error(registered, capsys):
    from swapfw.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["score", 'nb101:{"matrix":[[0,1],[0,0]],"ops":["input","outptu"]}'])
    err = capsys.readouterr().err
    assert stop.value.code == 1
    assert err.startswith("error: bad NB101 architecture") and err.count("\n") == 1
