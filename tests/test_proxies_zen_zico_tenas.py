"""Proxies zen (Zen-NAS), zico (ZiCo), ntk and linear_regions (TE-NAS)."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import nets
from swapfw import plugins
from swapfw.scoring.data import Batch, load_batch
from swapfw.errors import SwapfwError
from swapfw.scoring.network import prepare
from swapfw.scoring.proxies import run_proxy
from swapfw_plugins.proxies import tenas, zen, zico

NB201 = "nb201:|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|"


@pytest.fixture
def proxies(temporary_plugin):
    """The three modules, registered from code unless an entry point already provides them."""
    known = set(plugins.get_registry().names("proxies"))
    for module, provides in ((zen, "zen"), (zico, "zico"), (tenas, "ntk")):
        if provides not in known:
            temporary_plugin(module, f"test-{module.__name__}")


def gaussian(samples=8, shape=(3, 32, 32), seed=0):
    return load_batch("gaussian", samples, shape, seed)


def labelled(samples=8, shape=(3, 32, 32), seed=0, classes=10):
    batch = gaussian(samples, shape, seed)
    targets = torch.randint(0, classes, (samples,), generator=torch.Generator().manual_seed(seed))
    return Batch(batch.inputs, targets, "test")


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}, [m.training for m in module.modules()]


def assert_unchanged(module, before):
    state, modes = before
    after = module.state_dict()
    assert state.keys() == after.keys()
    for key, value in state.items():
        assert torch.equal(value, after[key]), key
    assert modes == [m.training for m in module.modules()]


class NoPooling(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.act, self.head = nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Linear(4 * 6 * 6, 10)

    def forward(self, x):
        return self.head(self.act(self.conv(x)).flatten(1))


class InputIsFeature(nn.Module):
    """The feature map before the pooling is the input itself: no weights before it, no BN."""

    def __init__(self, channels=3):
        super().__init__()
        self.act, self.head = nn.ReLU(), nn.Linear(channels, 10)

    def forward(self, x):
        return self.head(self.act(x.mean((2, 3))))


class ScaledBatchNorm(nn.Module):
    """x -> conv 1x1 (weight 3) -> BN -> global pooling module -> ReLU -> head."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(1, 1, 1, bias=False), nn.BatchNorm2d(1)
        self.pool, self.act, self.head = nn.AdaptiveAvgPool2d(1), nn.ReLU(), nn.Linear(1, 2)
        with torch.no_grad():
            self.conv.weight.fill_(3.0)

    def forward(self, x):
        return self.head(self.act(self.pool(self.bn(self.conv(x))).flatten(1)))


class UntraceablePooled(nn.Module):
    """torch.fx cannot trace it (data-dependent branch): the IR falls back to module hooks."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.act = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()
        self.pool, self.head = nn.AdaptiveAvgPool2d(1), nn.Linear(8, 10)

    def forward(self, x):
        x = self.act(self.bn(self.conv(x)))
        if x.sum() > 0:
            x = x * 1.0
        return self.head(self.pool(x).flatten(1))


class ReluThenLinear(nn.Module):
    """out = W relu(x): for positive inputs every NTK entry is classes * <x_i, x_j>, whatever W is."""

    def __init__(self, features=6, classes=3):
        super().__init__()
        self.act, self.head = nn.ReLU(), nn.Linear(features, classes, bias=False)

    def forward(self, x):
        return self.head(self.act(x))


class Thresholds(nn.Module):
    """relu(x + 1), relu(x), relu(x - 1) on a scalar: 4 linear regions on the line."""

    def __init__(self):
        super().__init__()
        self.lin, self.act = nn.Linear(1, 3), nn.ReLU()
        with torch.no_grad():
            self.lin.weight.fill_(1.0)
            self.lin.bias.copy_(torch.tensor([1.0, 0.0, -1.0]))

    def forward(self, x):
        return self.act(self.lin(x))


def test_each_proxy_gives_the_same_value_alone_and_after_the_others(proxies):
    batch = labelled(samples=6, shape=(3, 8, 8))
    alone = {name: run_proxy(name, prepare(nets.small_relu(), input_shape=(3, 8, 8)), batch, 0)
             for name in ("zen", "zico", "ntk")}
    shared = prepare(nets.small_relu(), input_shape=(3, 8, 8))
    small_regions(60, 30).score(shared, batch, seed=0)
    for name in ("ntk", "zico", "zen"):
        assert run_proxy(name, shared, batch, 0) == alone[name], name


# --- zen ----------------------------------------------------------------------------------------


def test_zen_is_finite_on_nb201_deterministic_and_leaves_the_module_alone(proxies):
    network = prepare(NB201)
    before = snapshot(network.loaded.module)
    batch = gaussian()
    first = run_proxy("zen", network, batch, 0)
    assert math.isfinite(first)
    assert run_proxy("zen", network, batch, 0) == first
    assert run_proxy("zen", network, batch, 1) != first
    assert_unchanged(network.loaded.module, before)


def test_zen_without_global_pooling_is_a_clear_error(proxies):
    network = prepare(NoPooling(), input_shape=(3, 8, 8))
    with pytest.raises(SwapfwError, match="global average pooling"):
        run_proxy("zen", network, gaussian(4, (3, 8, 8)), 0)


def test_zen_of_the_input_itself_is_log_of_alpha_times_the_expected_l1_norm(proxies):
    # f(x) - f(x + a eps) = -a eps, so the score is log(a * E sum|eps|) = log(a * C*H*W * sqrt(2/pi))
    network = prepare(InputIsFeature(), input_shape=(3, 8, 8))
    value = run_proxy("zen", network, gaussian(64, (3, 8, 8)), 0)
    assert value == pytest.approx(math.log(zen.ALPHA * 3 * 8 * 8 * math.sqrt(2 / math.pi)), abs=0.03)


def test_zen_adds_log_sqrt_running_variance_after_two_momentum_updates(proxies):
    # conv weight 3 on N(0,1): batch variance ~9; two updates with momentum 0.1 from var 1 leave
    # 0.81 + 0.19 * 9. The BN output is normalised, so its change is ~ a * eps as above (one channel).
    network = prepare(ScaledBatchNorm(), input_shape=(1, 8, 8), init="keep")
    value = run_proxy("zen", network, gaussian(64, (1, 8, 8)), 0)
    expected = math.log(zen.ALPHA * 64 * math.sqrt(2 / math.pi)) + 0.5 * math.log(0.81 + 0.19 * 9)
    assert value == pytest.approx(expected, abs=0.05)


def test_zen_ignores_the_running_statistics_the_original_module_carries(proxies):
    network = prepare(NB201)
    batch = gaussian()
    first = run_proxy("zen", network, batch, 0)
    for sub in network.loaded.module.modules():
        if isinstance(sub, nn.BatchNorm2d):
            sub.running_var.fill_(100.0)
    assert run_proxy("zen", network, batch, 0) == first


def test_zen_finds_a_pooling_module_in_a_hook_ir(proxies):
    network = prepare(UntraceablePooled(), input_shape=(3, 8, 8))
    assert not network.ir.traced
    assert math.isfinite(run_proxy("zen", network, gaussian(8, (3, 8, 8)), 0))


# --- zico -----------------------------------------------------------------------------------------


def test_zico_without_labels_is_a_clear_error(proxies):
    network = prepare(nets.small_relu())
    with pytest.raises(SwapfwError, match="labelled data"):
        run_proxy("zico", network, gaussian(), 0)


def test_zico_is_deterministic_and_leaves_the_module_alone(proxies):
    network = prepare(nets.small_relu())
    before = snapshot(network.loaded.module)
    batch = labelled()
    first = run_proxy("zico", network, batch, 0)
    assert math.isfinite(first)
    assert run_proxy("zico", network, batch, 0) == first
    assert_unchanged(network.loaded.module, before)


def test_zico_of_a_zero_linear_layer_matches_the_analytic_gradients(proxies):
    # W = 0: softmax is uniform, so the loss gradient of a half is mean_i (1/c - onehot_i) x_i^T.
    features, classes, samples = 5, 3, 8
    module = ReluThenLinear(features, classes)
    nn.init.zeros_(module.head.weight)
    network = prepare(module, input_shape=(features,), init="keep")
    x = torch.rand(samples, features, generator=torch.Generator().manual_seed(3)) + 0.1
    y = torch.tensor([0, 1, 2, 0, 1, 1, 2, 0])
    value = run_proxy("zico", network, Batch(x, y, "test"), 0)
    halves = []
    for part in (slice(0, 4), slice(4, 8)):
        xs, ys = x[part].double().numpy(), y[part].numpy()
        residual = np.full((len(ys), classes), 1 / classes) - np.eye(classes)[ys]
        halves.append((residual.T @ xs / len(ys)).ravel())
    g1, g2 = halves
    std = np.abs(g1 - g2) / 2
    keep = std > 0
    expected = math.log(np.sum(((np.abs(g1) + np.abs(g2)) / 2)[keep] / std[keep]))
    assert value == pytest.approx(expected, rel=1e-5)


def test_zico_is_nan_when_the_network_overflows(proxies):
    network = prepare(nets.overflowing())
    assert math.isnan(run_proxy("zico", network, labelled(), 0))


# --- ntk ------------------------------------------------------------------------------------------


def test_ntk_is_minus_a_condition_number_deterministic_and_leaves_the_module_alone(proxies):
    network = prepare(nets.small_relu())
    before = snapshot(network.loaded.module)
    batch = gaussian()
    value = run_proxy("ntk", network, batch, 0)
    assert value <= -1.0
    assert run_proxy("ntk", network, batch, 0) == value
    assert_unchanged(network.loaded.module, before)


def test_ntk_of_a_linear_readout_is_the_condition_number_of_the_input_gram_matrix(proxies):
    features, classes, samples = 6, 3, 4
    network = prepare(ReluThenLinear(features, classes), input_shape=(features,))
    x = torch.rand(samples, features, generator=torch.Generator().manual_seed(1)) + 0.1
    value = run_proxy("ntk", network, Batch(x, None, "test"), 0)
    gram = x.double().numpy() @ x.double().numpy().T
    eigenvalues = np.linalg.eigvalsh(gram)
    assert value == pytest.approx(-eigenvalues[-1] / eigenvalues[0], rel=1e-4)


def test_ntk_gram_is_the_same_whatever_the_parameter_blocks():
    model = nets.small_relu()
    x = torch.randn(5, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    out = model(x)
    params = tenas.kernel_parameters(model)
    assert len(tenas.parameter_blocks(params, 5, budget=50)) == len(params)
    whole = tenas.ntk_gram(out, params, budget=1 << 30)
    pieces = tenas.ntk_gram(out, params, budget=50)
    assert torch.allclose(whole, pieces, rtol=1e-10, atol=1e-12)
    assert torch.allclose(whole, whole.T)


def test_ntk_is_nan_when_the_network_overflows(proxies):
    assert math.isnan(run_proxy("ntk", prepare(nets.overflowing()), gaussian(4), 0))


# --- linear_regions -------------------------------------------------------------------------------


def small_regions(samples=200, batch_size=100):
    proxy = tenas.LinearRegions()
    proxy.samples, proxy.batch_size = samples, batch_size
    return proxy


def test_linear_regions_are_between_one_and_the_samples_and_leave_the_module_alone():
    network = prepare(nets.small_relu(), input_shape=(3, 8, 8))
    before = snapshot(network.loaded.module)
    proxy = small_regions()
    value = proxy.score(network, gaussian(4, (3, 8, 8)), seed=0)
    assert 1 <= value <= proxy.samples
    assert proxy.score(network, gaussian(4, (3, 8, 8)), seed=0) == value
    assert_unchanged(network.loaded.module, before)


def test_linear_regions_of_three_thresholds_on_a_line_are_four_across_batches():
    network = prepare(Thresholds(), input_shape=(1,), init="keep")
    for batch_size in (1000, 64):  # the count is the union over the batches
        proxy = small_regions(samples=3000, batch_size=batch_size)
        assert proxy.score(network, gaussian(4, (1,)), seed=0) == 4


def test_linear_regions_is_registered_and_nan_on_overflow(proxies):
    assert "linear_regions" in plugins.get_registry().names("proxies")
    assert math.isnan(small_regions(50, 50).score(prepare(nets.overflowing()), gaussian(4), seed=0))
