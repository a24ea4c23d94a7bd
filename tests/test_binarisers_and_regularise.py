"""Binariser choice per site kind, overrides, and the size regulariser f(theta)."""

import math

import pytest
import torch
import torch.nn as nn

import nets
from swapfw.errors import SwapfwError
from swapfw.hookspecs import hookimpl
from swapfw.scoring.network import prepare
from swapfw.scoring.regularise import auto_mu_sigma, size_factor
from swapfw import score

class BinariserPlugin:
    """A plugin object registering one binariser."""

    def __init__(self, binariser):
        self.binariser = binariser

    @hookimpl
    def register_binarisers(self, register):
        register(self.binariser)


INPUTS = torch.randn(32, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def swap_of(model, binariser=None, seed=0):
    network = prepare(model, input_shape=(3, 8, 8), seed=seed, binariser=binariser)
    return network, network.count(INPUTS).swap


def test_piecewise_linear_sites_default_to_relu_and_smooth_to_sign():
    assert prepare(nets.ModuleActNet(nn.ReLU6), input_shape=(3, 8, 8)).binding.by_kind == {"relu6": "relu"}
    assert prepare(nets.ModuleActNet(nn.GELU), input_shape=(3, 8, 8)).binding.by_kind == {"gelu": "sign"}
    assert prepare(nets.FunctionalNet("silu_decomposed"), input_shape=(3, 8, 8)).binding.by_kind == {"silu": "sign"}


def test_sign_reads_the_pre_activation_value_and_relu_the_post_activation_value():
    network = prepare(nets.ModuleActNet(nn.GELU), input_shape=(3, 8, 8))
    graph = network.ir.graph
    assert all(graph.nodes[p.node]["type"] == "batchnorm" for p in network.binding.points)
    relu_bound = prepare(nets.ModuleActNet(nn.GELU), input_shape=(3, 8, 8), binariser="relu")
    assert all(relu_bound.ir.graph.nodes[p.node]["type"] == "gelu" for p in relu_bound.binding.points)


def test_for_relu_pre_and_post_activation_signs_agree():
    _, by_relu = swap_of(nets.ModuleActNet(nn.ReLU))
    _, by_sign = swap_of(nets.ModuleActNet(nn.ReLU), binariser="sign")
    assert by_relu == by_sign


def test_prelu_with_negative_slope_differs_between_post_and_pre_activation():
    def model():
        net = nets.ModuleActNet(nn.PReLU)
        with torch.no_grad():
            net.a1.weight.fill_(-0.5)
            net.a2.weight.fill_(-0.5)
        return net

    _, post = swap_of(model())
    _, pre = swap_of(model(), binariser="sign")
    assert post < pre  # post-activation > 0 almost everywhere: few distinct patterns


def test_override_that_handles_nothing_is_an_error(temporary_plugin):
    class OnlyTanh:
        name, tap, handles, default_for = "only_tanh", "output", frozenset({"tanh"}), frozenset()

        def binarise(self, value):
            return value > 0

    temporary_plugin(BinariserPlugin(OnlyTanh()), "only-tanh")
    with pytest.raises(SwapfwError, match="handles none of this model's activations"):
        prepare(nets.ModuleActNet(nn.ReLU), input_shape=(3, 8, 8), binariser="only_tanh").binding


def test_size_factor_is_the_papers_gaussian_in_millions():
    assert size_factor(1_500_000, 1.5, 2.0) == 1.0
    assert size_factor(2_000_000, 1.0, 4.0) == pytest.approx(math.exp(-0.25))
    assert size_factor(3_000_000, 1.0, 1.0) < size_factor(2_000_000, 1.0, 1.0)
    with pytest.raises(SwapfwError):
        size_factor(1, 1.0, 0.0)


def test_regswap_prefers_the_model_near_mu():
    small = score(nets.ModuleActNet(width=4), input_shape=(3, 8, 8), mu=0.0, sigma=1e-6)
    assert small.regswap < small.swap
    centred = score(nets.ModuleActNet(width=4), input_shape=(3, 8, 8), mu=small.params / 1e6, sigma=1e-6)
    assert centred.regswap == centred.swap


def test_auto_mu_sigma_uses_sizes_only():
    assert auto_mu_sigma([1_000_000, 3_000_000, 2_000_000]) == (3.0, 9.0)
    with pytest.raises(SwapfwError):
        auto_mu_sigma([])


def test_random_init_is_seeded_and_scale_safe_without_normalisation():
    from swapfw.scoring.weights import initialise

    def plain():
        return nn.Sequential(*[m for _ in range(30) for m in (nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())])

    a, b = initialise(plain(), "random", 3), initialise(plain(), "random", 3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with torch.no_grad():  # 30 unnormalised N(0,1) layers would grow ~17x each: He scaling keeps it finite
        out = a(torch.randn(2, 8, 8, 8))
    assert torch.isfinite(out).all() and out.abs().max() < 1e6
    with_bn = initialise(nets.ModuleActNet(), "random", 3)
    assert with_bn.b1[0].weight.std() > 0.5  # N(0, 1), the paper's init, where BatchNorm follows
    assert with_bn.b1[1].training and not with_bn.training


def _drawn_as_the_paper_draws(module, seed):
    """What random init gave before weights were filled in place: float32 N(0, 1) drawn apart, then copied."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(m.weight.shape, generator=generator).to(m.weight.dtype)
            for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_random_init_draws_the_same_weights_in_place_as_drawn_apart(dtype):
    from swapfw.scoring.weights import initialise

    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8, 5),
                          nn.Conv2d(5, 5, 3)).to(dtype)
    model[5].weight.data = model[5].weight.data.to(memory_format=torch.channels_last)  # not contiguous
    initialise(model, "random", 11)
    drawn = [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert all(torch.equal(w, e) for w, e in zip(drawn, _drawn_as_the_paper_draws(model, 11)))
    assert not model[5].weight.is_contiguous()


def test_random_init_follows_a_float64_default_dtype_as_before():
    from swapfw.scoring.weights import initialise

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).float()
        initialise(model, "random", 2)
        expected = torch.randn(model[0].weight.shape, generator=torch.Generator().manual_seed(2)).float()
    finally:
        torch.set_default_dtype(previous)
    assert torch.equal(model[0].weight, expected)


@pytest.mark.parametrize("behaviour, message", [
    ("raise", "plugin 'binariser flaky' failed: RuntimeError: binariser broke"),
    ("float", "binariser 'flaky' must return a bool tensor"),
])
def test_a_misbehaving_binariser_is_named(behaviour, message, temporary_plugin):
    class Flaky:
        name, tap, handles, default_for = "flaky", "output", frozenset({"relu"}), frozenset()

        def binarise(self, value):
            if behaviour == "raise":
                raise RuntimeError("binariser broke")
            return value.float()

    temporary_plugin(BinariserPlugin(Flaky()), "flaky-plugin")
    with pytest.raises(SwapfwError, match=message):
        score(nets.ModuleActNet(), input_shape=(3, 8, 8), binariser="flaky")
