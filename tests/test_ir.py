"""The IR: one networkx graph per model, activation sites in every form, params and FLOPs."""

import networkx as nx
import pytest
import torch
import torch.nn as nn

import nets
from swapfw.errors import SwapfwError
from swapfw.graph.ir import build_ir
from swapfw.scoring.network import prepare

EXAMPLE = torch.randn(2, 3, 8, 8)


@pytest.mark.parametrize("act, kind", [
    (nn.ReLU, "relu"), (nn.ReLU6, "relu6"), (nn.LeakyReLU, "leaky_relu"), (nn.PReLU, "prelu"),
    (nn.Hardswish, "hardswish"), (nn.Hardsigmoid, "hardsigmoid"), (nn.GELU, "gelu"), (nn.SiLU, "silu"),
    (lambda: nn.Hardtanh(0.0, 6.0), "relu6"), (lambda: nn.Hardtanh(0.0, 1.0), "clip"),
])
def test_module_activations_are_sites(act, kind):
    ir = build_ir(nets.ModuleActNet(act), EXAMPLE)
    assert [s.kind for s in ir.sites] == [kind, kind]
    assert ir.traced


@pytest.mark.parametrize("form, kind", [
    ("relu", "relu"), ("method_relu", "relu"), ("clamp", "clip"), ("silu_decomposed", "silu"),
    ("gelu_erf", "gelu"), ("hardswish_decomposed", "hardswish"),
])
def test_functional_and_decomposed_activations_are_one_site_each(form, kind):
    ir = build_ir(nets.FunctionalNet(form), EXAMPLE)
    assert [s.kind for s in ir.sites] == [kind, kind]
    for site in ir.sites:  # the site's input is the BatchNorm output that feeds it
        assert ir.graph.nodes[site.input]["type"] == "batchnorm"


def test_decomposed_gelu_covers_its_nodes_and_ends_at_the_last_multiply():
    ir = build_ir(nets.FunctionalNet("gelu_erf"), EXAMPLE)
    site = ir.sites[0]
    types = [ir.graph.nodes[n]["type"] for n in site.nodes]
    assert "erf" in types and types.count("mul") >= 2
    assert ir.graph.nodes[site.output]["type"] == "mul"
    assert all(ir.graph.nodes[n]["type"] != "sigmoid" for n in site.nodes)


def test_clamp_with_other_bounds_is_not_a_relu_site():
    class ClampNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return torch.clamp(self.conv(x), min=-1, max=1).relu()

    ir = build_ir(ClampNet(), EXAMPLE)
    assert [s.kind for s in ir.sites] == ["relu"]


def test_ir_is_a_dag_with_shapes_params_and_flops():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18(num_classes=10)
    ir = build_ir(model, torch.randn(2, 3, 32, 32))
    assert isinstance(ir.graph, nx.DiGraph) and nx.is_directed_acyclic_graph(ir.graph)
    assert ir.params == sum(p.numel() for p in model.parameters()) == 11_181_642
    assert sum(d["params"] for _, d in ir.graph.nodes(data=True)) == ir.params
    # conv1: 64 x 16 x 16 outputs, each 3 x 7 x 7 MACs
    conv1 = next(d for _, d in ir.graph.nodes(data=True) if d["attrs"].get("module") == "conv1")
    assert conv1["flops"] == 64 * 16 * 16 * 3 * 7 * 7
    assert conv1["shape"] == (2, 64, 16, 16)
    assert ir.flops == sum(d["flops"] for _, d in ir.graph.nodes(data=True))
    assert len(ir.sites) == 17


def test_flops_of_a_linear_and_grouped_conv():
    model = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, groups=2), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 5 * 5, 7))
    ir = build_ir(model, torch.randn(2, 4, 5, 5))
    assert ir.flops == 8 * 5 * 5 * (2 * 3 * 3) + 7 * 200
    assert ir.params == (8 * 2 * 9 + 8) + (200 * 7 + 7)


def test_untraceable_model_falls_back_to_hooks_and_says_so():
    ir = build_ir(nets.Untraceable(), EXAMPLE)
    assert not ir.traced
    assert "could not trace" in ir.note and "module hooks" in ir.note
    assert [s.kind for s in ir.sites] == ["relu", "relu"]


def test_no_activation_error_names_the_ops():
    with pytest.raises(SwapfwError, match="no activation to score.*conv"):
        prepare(nets.NoActivation(), input_shape=(3, 8, 8)).binding


def test_only_unhandled_activations_error_names_them():
    with pytest.raises(SwapfwError, match="tanh x1.*--binariser"):
        prepare(nets.TanhNet(), input_shape=(3, 8, 8)).binding


@pytest.mark.parametrize("space_name", ["nb201", "darts", "nb101", "transnas-micro", "transnas-macro"])
def test_a_space_with_module_activations_scores_the_same_through_module_hooks(space_name):
    """``module_activations`` skips torch.fx; the sites, FLOPs, parameters and SWAP must be those
    the traced network gives, architecture by architecture (default protocol's network too)."""
    from swapfw.graph.importers import load_model, space_input_shape
    from swapfw.patterns.binding import bind
    from swapfw.patterns.count import count_patterns
    from swapfw.patterns.probe import Probe
    from swapfw.plugins import get, get_registry
    from swapfw.scoring.presets import resolve
    from swapfw.scoring.weights import initialise

    space = get("spaces", space_name)
    assert space.module_activations
    small = resolve(space, None).build_options or None
    for options in (None, small):
        for arch in space.sample(3, 7):
            module = load_model(f"{space_name}:{arch}", options).module
            initialise(module, "random", 0)
            shape = space_input_shape(space, options)
            example = torch.randn((2, *shape), generator=torch.Generator().manual_seed(0))
            batch = torch.randn((8, *shape), generator=torch.Generator().manual_seed(1))
            traced, hooked = build_ir(module, example), build_ir(module, example, trace=False)
            assert traced.traced and not hooked.traced and hooked.note == ""
            assert [s.kind for s in traced.sites] == [s.kind for s in hooked.sites]
            assert (traced.flops, traced.params) == (hooked.flops, hooked.params)
            counts = []
            for ir in (traced, hooked):
                binding = bind(ir, get_registry())
                counts.append(count_patterns(Probe(ir, binding.points), binding.binarisers, batch, torch.device("cpu")))
            assert (counts[0].swap, counts[0].values) == (counts[1].swap, counts[1].values)


@pytest.mark.parametrize("space_name", ["nb201", "darts", "nb101", "transnas-micro", "transnas-macro"])
@pytest.mark.parametrize("binariser", [None, "sign"])
def test_the_first_count_records_the_ir_and_counts_what_the_ir_built_apart_gives(space_name, binariser):
    """On the hook route the first count also records the IR (no forward pass of its own): its
    sites, FLOPs and parameters, and every count of that pass, equal those of an IR built by its
    own pass and a probe bound to it; ``sign`` reads each site's input (pre-hooks), ``relu`` its output."""
    from swapfw.patterns.binding import KindRule, bind
    from swapfw.patterns.count import count_patterns, count_recording_ir
    from swapfw.patterns.probe import Probe
    from swapfw.plugins import get, get_registry
    from swapfw.scoring.presets import resolve

    space = get("spaces", space_name)
    options = resolve(space, None).build_options or None
    for arch in space.sample(2, 11):
        network = prepare(f"{space_name}:{arch}", build_options=options, binariser=binariser)
        assert network.built_ir is None  # nothing ran yet
        batch = torch.randn((8, *network.input_shape), generator=torch.Generator().manual_seed(1))
        apart = build_ir(network.loaded.module, network.example, trace=False)
        binding = bind(apart, get_registry(), binariser)
        expected = count_patterns(Probe(apart, binding.points), binding.binarisers, batch, torch.device("cpu"))
        first = network.count(batch)
        assert network.built_ir is None and network.recorded is not None  # the graph waits until asked for
        recorded = network.ir
        assert network.built_ir is recorded and not recorded.traced
        assert list(recorded.graph.nodes) == list(apart.graph.nodes)
        assert recorded.sites == apart.sites and (recorded.flops, recorded.params) == (apart.flops, apart.params)
        assert network.binding.points == binding.points
        assert (first.swap, first.standard_patterns, first.values, first.per_tap) == \
            (expected.swap, expected.standard_patterns, expected.values, expected.per_tap)
        again = network.count(batch)  # later counts go through the probe bound to the recorded IR
        assert (again.swap, again.per_tap) == (first.swap, first.per_tap)
        _, _, points = count_recording_ir(network.loaded.module, KindRule(get_registry(), binariser), batch,
                                          torch.device("cpu"))
        assert points == binding.points  # the pass numbers its taps in the order bind gives the sites


def test_scoring_a_space_network_runs_its_forward_once():
    """prepare + the first count: one pass of the model, the count's (the IR needs none of its own)."""
    network = prepare("nb201:|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|",
                      build_options={"cells": 1})
    calls = []
    network.loaded.module.register_forward_pre_hook(lambda mod, inputs: calls.append(inputs[0].shape[0]))
    network.count(torch.randn((16, *network.input_shape)))
    assert calls == [16]


def test_a_space_network_that_does_not_run_on_the_input_says_so_in_one_line():
    network = prepare("nb201:|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|",
                      input_shape=(5, 32, 32))
    with pytest.raises(SwapfwError, match=r"does not run on an input of shape \(16, 5, 32, 32\): RuntimeError"):
        network.count(torch.randn((16, 5, 32, 32)))
