"""Zero-cost proxies (plugins/proxies/zerocost.py): hand-computed cases, invariances, protocol."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import nets
from swapfw.scoring.data import Batch, load_batch
from swapfw.errors import SwapfwError
from swapfw.scoring.network import prepare
from swapfw.scoring.proxies import run_proxy
from swapfw_plugins.proxies import zerocost

ALL = [p.name for p in zerocost.PROXIES]
LABELLED = ["grad_norm", "snip", "grasp", "fisher", "plain", "epe_nas"]
K = zerocost.JACOV_K


@pytest.fixture
def zc(temporary_plugin):
    """The plugin through the registry: its entry point where installed, else registered from code."""
    from swapfw.plugins import get_registry

    if "grad_norm" not in get_registry().names("proxies"):
        temporary_plugin(zerocost, "zerocost_test")


def labelled_batch(samples=8, shape=(3, 8, 8), classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn((samples, *shape), generator=g)
    return Batch(inputs, torch.randint(0, classes, (samples,), generator=g), "test")


def positive_batch(samples=6, classes=3, targets=None):
    """Inputs of the one-layer model: positive, so its ReLU passes them unchanged."""
    batch = labelled_batch(samples, (4,), classes)
    return Batch(batch.inputs.abs() + 0.1, batch.targets if targets is None else targets, "positive")


def kept(module, shape):
    """A network whose weights are the module's own (fresh copies keep them)."""
    return prepare(module, input_shape=shape, init="keep")


class OneLinear(nn.Module):
    """One linear layer; the ReLU on its (positive) inputs is an identity that gives prepare a site."""

    def __init__(self, fin=4, fout=3):
        super().__init__()
        self.fc, self.act = nn.Linear(fin, fout), nn.ReLU()

    def forward(self, x):
        return self.fc(self.act(x))


class Exploding(nets.ModuleActNet):
    """Overflows in float64 too (the float32 Overflowing net is finite in synflow's float64)."""

    def forward(self, x):
        return super().forward(x) * 1e200 * 1e200


class Hog(OneLinear):
    """Fails to allocate above two samples: the gradient metrics must split the batch."""

    def forward(self, x):
        if x.shape[0] > 2:
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")
        return super().forward(x)


# --- protocol -----------------------------------------------------------------------------------


def test_attributes_declared():
    for proxy in zerocost.PROXIES:
        assert proxy.init in ("default", "paper") and proxy.bn in ("train", "eval", "none")
        assert proxy.precision in ("float32", "float64") and isinstance(proxy.needs, frozenset)
        assert ("targets" in proxy.needs) == (proxy.name in LABELLED)
    assert zerocost.Synflow.bn == "none" and zerocost.Synflow.precision == "float64"


def test_same_seed_same_value_and_original_untouched(zc):
    net = prepare(nets.small_relu(), input_shape=(3, 8, 8))
    before = {k: v.clone() for k, v in net.loaded.module.state_dict().items()}
    batch = labelled_batch()
    first = {name: run_proxy(name, net, batch, 0) for name in ALL}
    second = {name: run_proxy(name, net, batch, 0) for name in ALL}
    for name in ALL:
        assert math.isfinite(first[name]), name
        assert first[name] == second[name], name
    after = net.loaded.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in net.loaded.module.parameters())
    assert net.ir.module.graph.owning_module is net.ir.module  # nwot's probe works on a copied graph
    assert run_proxy("snip", net, batch, 1) != first["snip"]  # the seed re-initialises


def test_registered_with_descriptions(zc):
    from swapfw.plugins import get_registry

    names = get_registry().names("proxies")
    for proxy in zerocost.PROXIES:
        assert proxy.name in names and proxy.description


@pytest.mark.parametrize("name", LABELLED)
def test_clear_error_without_labels(zc, name):
    net = prepare(nets.small_relu(), input_shape=(3, 8, 8))
    batch = load_batch("gaussian", 4, (3, 8, 8), 0)
    with pytest.raises(SwapfwError, match="labelled data"):
        run_proxy(name, net, batch, 0)


@pytest.mark.parametrize("name", ["grad_norm", "snip", "grasp", "fisher", "plain", "synflow", "jacov", "epe_nas"])
def test_nan_on_overflow(zc, name):
    net = prepare(Exploding(), input_shape=(3, 8, 8))
    assert math.isnan(run_proxy(name, net, labelled_batch(), 0))


# --- gradient metrics by hand on one linear layer ---------------------------------------------


def hand_gradient(module, batch):
    w = module.fc.weight
    loss = F.cross_entropy(module(batch.inputs), batch.targets)
    (g,) = torch.autograd.grad(loss, [w])
    return w.detach(), g


def test_gradient_metrics_by_hand(zc):
    torch.manual_seed(3)
    module = OneLinear()
    batch = positive_batch()
    w, g = hand_gradient(module, batch)
    net = kept(module, (4,))
    assert run_proxy("grad_norm", net, batch, 0) == pytest.approx(float(g.norm()), rel=1e-5)
    assert run_proxy("snip", net, batch, 0) == pytest.approx(float((g * w).abs().sum()), rel=1e-5)
    assert run_proxy("plain", net, batch, 0) == pytest.approx(float((g * w).sum()), rel=1e-5, abs=1e-7)
    assert run_proxy("l2_norm", net, batch, 0) == pytest.approx(float(w.norm()), rel=1e-6)


def test_grasp_is_minus_weight_times_hessian_gradient(zc):
    torch.manual_seed(4)
    module = OneLinear()
    batch = positive_batch()
    w0, b = module.fc.weight.detach().clone(), module.fc.bias.detach()

    def loss_of(w):
        return F.cross_entropy(F.linear(batch.inputs, w, b), batch.targets)

    w = w0.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss_of(w), [w])
    _, hg = torch.autograd.functional.hvp(loss_of, w0, g.detach())
    expected = float(-(w0 * hg).sum())
    assert run_proxy("grasp", kept(module, (4,)), batch, 0) == pytest.approx(expected, rel=1e-4)


def test_fisher_by_hand(zc):
    torch.manual_seed(5)
    module = OneLinear()
    batch = positive_batch()
    z = module(batch.inputs)
    (gz,) = torch.autograd.grad(F.cross_entropy(z, batch.targets), [z])
    per_channel = 0.5 * (z.detach() * gz).pow(2).mean(0)
    net = kept(module, (4,))
    assert run_proxy("fisher", net, batch, 0) == pytest.approx(float(per_channel.sum()) * 4, rel=1e-5)  # fan-in 4
    flat = zerocost.Fisher()
    flat.fan_in_weighted = False
    assert flat.score(net, batch, seed=0) == pytest.approx(float(per_channel.sum()), rel=1e-5)


@pytest.mark.parametrize("name", ["grad_norm", "snip", "plain", "grasp", "fisher"])
def test_split_batch_gives_whole_batch_value(zc, name):
    """Out of memory at 6 samples: the parts' gradients still add up to the whole batch's."""
    torch.manual_seed(6)
    whole, hog = OneLinear(), Hog()
    hog.load_state_dict(whole.state_dict())
    batch = positive_batch()
    expected = run_proxy(name, kept(whole, (4,)), batch, 0)
    assert run_proxy(name, kept(hog, (4,)), batch, 0) == pytest.approx(expected, rel=1e-5, abs=1e-8)


# --- synflow --------------------------------------------------------------------------------------


class Chain(nn.Module):
    """Bias-free conv-ReLU-conv-ReLU-linear: a chain, so each layer carries every path."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(2, 3, 3, bias=False), nn.Conv2d(3, 2, 3, bias=False)
        self.fc = nn.Linear(2 * 2 * 2, 3, bias=False)

    def forward(self, x):
        return self.fc(F.relu(self.c2(F.relu(self.c1(x)))).flatten(1))


def test_synflow_ignores_batch_values_and_size(zc):
    net = prepare(nets.small_relu(), input_shape=(3, 8, 8))
    a = run_proxy("synflow", net, load_batch("gaussian", 4, (3, 8, 8), 0), 0)
    b = run_proxy("synflow", net, load_batch("gaussian", 9, (3, 8, 8), 7), 0)
    assert a > 0 and a == b


def test_synflow_of_a_chain_is_depth_times_output(zc):
    """Each layer's Σ θ ∂R/∂θ equals R (R is linear in each layer), so synflow = 3 R."""
    torch.manual_seed(7)
    module = Chain()
    with torch.no_grad():
        ones = torch.ones(1, 2, 6, 6, dtype=torch.float64)
        r = F.linear(F.conv2d(F.conv2d(ones, module.c1.weight.double().abs()), module.c2.weight.double().abs())
                     .flatten(1), module.fc.weight.double().abs()).sum()
    batch = load_batch("gaussian", 2, (2, 6, 6), 0)
    assert run_proxy("synflow", kept(module, (2, 6, 6)), batch, 0) == pytest.approx(3 * float(r), rel=1e-12)


def test_synflow_scales_with_a_layer(zc):
    torch.manual_seed(8)
    module = Chain()
    batch = load_batch("gaussian", 2, (2, 6, 6), 0)
    base = run_proxy("synflow", kept(module, (2, 6, 6)), batch, 0)
    with torch.no_grad():
        module.c2.weight.mul_(-2.0)  # the sign is dropped; the magnitude scales every path
    assert run_proxy("synflow", kept(module, (2, 6, 6)), batch, 0) == pytest.approx(2.0 * base, rel=1e-12)


def test_synflow_removes_batchnorm(zc):
    torch.manual_seed(9)
    with_bn = nets.ModuleActNet()
    without = nets.ModuleActNet()
    without.load_state_dict(with_bn.state_dict())
    without.b1[1], without.b2[1] = nn.Identity(), nn.Identity()
    batch = load_batch("gaussian", 2, (3, 8, 8), 0)
    assert run_proxy("synflow", kept(with_bn, (3, 8, 8)), batch, 0) == run_proxy(
        "synflow", kept(without, (3, 8, 8)), batch, 0)


# --- nwot -----------------------------------------------------------------------------------------

W3 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
# pre-activations (1,1,2) (-1,1,0) (1,-2,-1): codes 111, 010, 100; each pair agrees on one unit
X3 = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [1.0, -2.0]])
HAND_LOGDET = math.log(20.0)  # det [[3,1,1],[1,3,1],[1,1,3]] = 20


class CodeNet(nn.Module):
    def __init__(self, form):
        super().__init__()
        self.form, self.fc, self.act = form, nn.Linear(2, 3, bias=False), nn.ReLU()
        with torch.no_grad():
            self.fc.weight.copy_(W3)

    def forward(self, x):
        z = self.fc(x)
        if self.form == "module":
            return self.act(z)
        if self.form == "functional":
            return F.relu(z)
        if self.form == "twice":  # a second ReLU site with the same codes: K doubles
            return self.act(F.relu(z))
        if z.sum() > -1e9:  # data-dependent: fx cannot trace it, the IR falls back to hooks
            return self.act(z)
        return z


@pytest.mark.parametrize("form", ["module", "functional", "untraceable"])
def test_nwot_hand_kernel(zc, form):
    net = kept(CodeNet(form), (2,))
    assert net.ir.traced == (form != "untraceable")
    assert run_proxy("nwot", net, Batch(X3, None, "hand"), 0) == pytest.approx(HAND_LOGDET, rel=1e-9)


def test_nwot_sums_kernels_over_sites(zc):
    net = kept(CodeNet("twice"), (2,))
    assert len(net.ir.sites) == 2
    assert run_proxy("nwot", net, Batch(X3, None, "hand"), 0) == pytest.approx(HAND_LOGDET + 3 * math.log(2), rel=1e-9)


def test_nwot_sums_over_relus_and_nan_when_singular(zc):
    net = prepare(nets.Residual(), input_shape=(3, 8, 8))
    batch = load_batch("gaussian", 6, (3, 8, 8), 0)
    value = run_proxy("nwot", net, batch, 0)
    assert math.isfinite(value)
    twin = Batch(torch.cat([batch.inputs[:5], batch.inputs[:1]]), None, "twin")  # two equal rows in K
    assert math.isnan(run_proxy("nwot", net, twin, 0))


def test_nwot_needs_relus(zc):
    net = prepare(nets.tanh_net(), input_shape=(3, 8, 8), binariser="sign")
    with pytest.raises(SwapfwError, match="ReLU"):
        run_proxy("nwot", net, load_batch("gaussian", 4, (3, 8, 8), 0), 0)


# --- jacov and epe_nas ----------------------------------------------------------------------------


def test_jacov_identity_correlation():
    rows = [[1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]  # zero-mean, orthogonal: corr = I
    expected = -3 * (math.log(1 + K) + 1 / (1 + K))
    assert zerocost.jacov_score(np.array(rows, dtype=float)) == pytest.approx(expected, rel=1e-9)


def test_jacov_of_a_linear_model(zc):
    """Every sample's Jacobian is W's column sums: all correlations 1, eigenvalues S and 0s."""
    torch.manual_seed(10)
    s = 5
    batch = Batch(positive_batch(s).inputs, None, "x")
    expected = -(math.log(s + K) + 1 / (s + K)) - (s - 1) * (math.log(K) + 1 / K)
    assert run_proxy("jacov", kept(OneLinear(), (4,)), batch, 0) == pytest.approx(expected, rel=1e-6)


def test_epe_nas_of_a_linear_model(zc):
    """All Jacobians equal: a class of n samples has n² correlations of 1, one sample counts once."""
    torch.manual_seed(11)
    targets = torch.tensor([0, 0, 1, 2, 2, 2])
    batch = positive_batch(targets=targets)
    expected = (4 + 1 + 9) * math.log(1 + K)
    assert run_proxy("epe_nas", kept(OneLinear(), (4,)), batch, 0) == pytest.approx(expected, rel=1e-6)


def test_nb201_cifar_values_finite(zc, cifar_npz):
    net = prepare("nb201:|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
                  build_options={"channels": 8, "cells": 1})
    batch = load_batch(f"cifar10:{cifar_npz}", 16, (3, 32, 32), 0)
    for name in ALL:
        assert math.isfinite(run_proxy(name, net, batch, 0)), name
