"""MeCo, AZ-NAS (components and aggregation), VKDNW and rank_agg: hand-checkable facts."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import nets
from swapfw import plugins
from swapfw.scoring.data import Batch, load_batch
from swapfw.errors import SwapfwError
from swapfw.scoring.fresh import fresh_for
from swapfw.scoring.network import prepare
from swapfw.scoring.proxies import run_proxy
from swapfw_plugins.proxies import az_nas, meco, rank_agg, vkdnw
from swapfw_plugins.proxies.ranking import parse_parts, rank_aggregate

NB201_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
IDENTITY_CELL = "|skip_connect~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
PER_NETWORK = ("meco", "az_expressivity", "az_progressivity", "az_trainability", "vkdnw")


@pytest.fixture
def recent(temporary_plugin):
    """The four plugin modules, registered from code unless their entry points already load them."""
    known = set(plugins.names("proxies"))
    for module, proxy in ((meco, "meco"), (az_nas, "az_nas"), (vkdnw, "vkdnw"), (rank_agg, "rank_agg")):
        if proxy not in known:
            temporary_plugin(module, name=f"test_recent_{proxy}")


def gaussian(samples=8, seed=0):
    return load_batch("gaussian", samples, (3, 32, 32), seed)


# --- rank aggregation ----------------------------------------------------------------------------

def test_rank_aggregate_sums_log_ranks_over_n():
    got = rank_aggregate([[1.0, 2.0, 3.0], [30.0, 20.0, 10.0]])
    want = [math.log(1 / 3) + math.log(3 / 3), 2 * math.log(2 / 3), math.log(3 / 3) + math.log(1 / 3)]
    assert got == pytest.approx(want)


def test_rank_aggregate_ties_share_the_average_rank():
    assert rank_aggregate([[5.0, 5.0, 1.0]]) == pytest.approx([math.log(2.5 / 3)] * 2 + [math.log(1 / 3)])


def test_nan_in_any_part_gives_nan_and_leaves_the_others_ranks_alone():
    with_nan = rank_aggregate([[1.0, math.nan, 3.0, 2.0], [4.0, 1.0, 2.0, 3.0]])
    without = rank_aggregate([[1.0, 3.0, 2.0], [4.0, 2.0, 3.0]])
    assert math.isnan(with_nan[1])
    assert [with_nan[0], with_nan[2], with_nan[3]] == pytest.approx(without)
    assert with_nan[0] == pytest.approx(math.log(1 / 3) + math.log(3 / 3))  # N counts the complete ones


def test_minus_infinity_ranks_last_and_none_counts_as_missing():
    got = rank_aggregate([[-math.inf, 0.0, 1.0, None]])
    assert got[:3] == pytest.approx([math.log(1 / 3), math.log(2 / 3), 0.0]) and math.isnan(got[3])


def test_rank_aggregate_refuses_ragged_or_empty_input():
    with pytest.raises(SwapfwError):
        rank_aggregate([[1.0, 2.0], [1.0]])
    with pytest.raises(SwapfwError):
        rank_aggregate([])


def test_configure_names_the_parts():
    proxy = rank_agg.RankAggregate().configure("regswap+flops")
    assert proxy.name == "rank_agg:regswap+flops" and proxy.derived_from == ("regswap", "flops")
    assert proxy.population is True
    values = {"regswap": [3.0, 1.0, 2.0], "flops": [1.0, 2.0, 3.0]}
    assert proxy.combine_population(values, {}) == pytest.approx(rank_aggregate([values["regswap"], values["flops"]]))


@pytest.mark.parametrize("argument", ["", "  ", "a++b", "+a", "a+", "a+a", "a b+c"])
def test_configure_refuses_bad_arguments(argument):
    with pytest.raises(SwapfwError):
        rank_agg.RankAggregate().configure(argument)


def test_parse_parts_strips_spaces_around_names():
    assert parse_parts(" swap + flops ", "rank_agg") == ("swap", "flops")


def test_unconfigured_rank_agg_says_how_to_use_it():
    with pytest.raises(SwapfwError, match="rank_agg:"):
        rank_agg.RankAggregate().combine_population({}, {})


def test_az_nas_aggregates_its_four_components():
    proxy = az_nas.AzNas()
    assert proxy.population and proxy.derived_from == az_nas.COMPONENTS
    values = {"az_expressivity": [1.0, 2.0], "az_progressivity": [2.0, 1.0],
              "az_trainability": [-math.inf, 0.0], "az_complexity": [5.0, 6.0]}
    assert proxy.combine_population(values, {}) == pytest.approx([3 * math.log(0.5), math.log(0.5)])


# --- MeCo ------------------------------------------------------------------------------------------

def test_min_correlation_eigenvalue_of_two_channels_is_one_minus_abs_r():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(50, generator=gen)
    feature = torch.stack([x, 0.6 * x + torch.randn(50, generator=gen)])
    r = np.corrcoef(feature.numpy())[0, 1]
    assert meco.min_correlation_eigenvalue(feature) == pytest.approx(1 - abs(r))


def test_min_correlation_eigenvalue_matches_numpy_and_zeroes_constant_channels():
    feature = torch.randn(5, 7, 3, generator=torch.Generator().manual_seed(1))
    want = np.linalg.eigvalsh(np.corrcoef(feature.reshape(5, -1).numpy())).min()
    assert meco.min_correlation_eigenvalue(feature) == pytest.approx(want)
    feature[2] = 3.0  # a constant channel: its row and column become 0, so 0 is an eigenvalue
    assert meco.min_correlation_eigenvalue(feature) == pytest.approx(0.0, abs=1e-12)


def test_meco_sums_over_every_module_of_one_sample():
    x = torch.tensor([1.0, -1.0, 1.0, -1.0, 2.0, 0.0])
    y = torch.tensor([1.0, 1.0, -1.0, -1.0, 0.5, 0.0])
    sample = torch.stack([x, y]).reshape(1, 2, 2, 3)
    other = torch.randn(3, 2, 2, 3)
    r = np.corrcoef(np.stack([x.numpy(), y.numpy()]))[0, 1]
    model = nn.Sequential(nn.Identity())  # two modules (the Sequential and the Identity), one output
    assert meco.meco_of(model, torch.cat([sample, other])) == pytest.approx(2 * (1 - abs(r)))


def test_meco_reads_only_the_first_sample(recent):
    network = prepare(nets.small_relu())
    first = gaussian(4, seed=0)
    mixed = torch.cat([first.inputs[:1], gaussian(4, seed=9).inputs[1:]])
    assert run_proxy("meco", network, first, 0) == run_proxy("meco", network, Batch(mixed, None, "gaussian"), 0)


# --- AZ-NAS components -----------------------------------------------------------------------------

def test_nb201_blocks_are_the_seventeen_cells_and_features_add_the_stem():
    network = prepare("nb201:" + NB201_ARCH)
    model = network.loaded.module
    assert az_nas.blocks(model) == list(model.cells)
    features = az_nas.block_features(model, gaussian(2).inputs)
    assert len(features) == 18 and features[0].shape[1] == 16 and features[-1].shape[1] == 64


def test_spectral_entropy_of_white_channels_is_log_c_and_of_a_constant_is_zero():
    signs = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0], [1.0, -1.0, -1.0, 1.0]])
    feature = signs[1:].T.reshape(4, 3, 1, 1)  # 4 positions, 3 zero-mean orthogonal channels
    assert az_nas.spectral_entropy(feature) == pytest.approx(math.log(3), abs=1e-6)
    assert az_nas.spectral_entropy(torch.ones(2, 3, 4, 4)) == 0.0


def test_az_components_are_finite_on_nb201(recent):
    network = prepare("nb201:" + NB201_ARCH)
    batch = gaussian(16)
    for name in ("az_expressivity", "az_progressivity", "az_trainability"):
        assert math.isfinite(run_proxy(name, network, batch, 0)), name
    assert run_proxy("az_complexity", network, batch, 0) == network.ir.flops


def test_an_identity_cell_makes_trainability_minus_infinity(recent):
    network = prepare("nb201:" + IDENTITY_CELL)
    assert run_proxy("az_trainability", network, gaussian(4), 0) == -math.inf


def test_residual_net_without_blocks_falls_back_to_conv_outputs(recent):
    network = prepare(nets.Residual())
    assert az_nas.blocks(network.loaded.module) == []
    features = az_nas.block_features(network.loaded.module, gaussian(2).inputs)
    assert len(features) == 3  # the three conv outputs; the image itself is not a feature
    assert math.isfinite(run_proxy("az_trainability", network, gaussian(4), 0))


def test_kaiming_reinit_is_skipped_under_init_keep():
    network = prepare(nets.small_relu(), init="keep")
    model = fresh_for(az_nas.Expressivity(), network, 3)
    original = network.loaded.module.state_dict()
    assert all(torch.equal(original[k].cpu(), v.cpu()) for k, v in model.state_dict().items())


# --- VKDNW ----------------------------------------------------------------------------------------

def test_fisher_of_a_linear_model_by_hand():
    torch.manual_seed(0)
    model = nn.Linear(2, 3)
    x = torch.randn(5, 2)
    got = vkdnw.fisher_sum(model, x, ["weight", "bias"])
    # d logit_k / d W[0,0] = x_0 [k == 0], d logit_k / d b[0] = [k == 0]: F_n = C_00 [[x0^2, x0], [x0, 1]]
    p = torch.softmax(model(x).detach().double(), 1) * (1 - vkdnw.SMOOTHING) + vkdnw.SMOOTHING / 3
    c00 = p[:, 0] * (1 - p[:, 0])
    x0 = x[:, 0].double()
    want = torch.stack([torch.stack([(c00 * x0 * x0).sum(), (c00 * x0).sum()]),
                        torch.stack([(c00 * x0).sum(), c00.sum()])])
    assert torch.allclose(got, want, atol=1e-6)


def test_decile_entropy_of_a_flat_spectrum_is_log_nine():
    assert vkdnw.decile_entropy(torch.full((40,), 2.5)) == pytest.approx(math.log(9), abs=1e-6)
    assert vkdnw.decile_entropy(torch.zeros(10)) == 0.0


def test_chosen_parameters_spread_evenly_and_keep_the_ends():
    names = [f"p{i}" for i in range(300)]
    chosen = vkdnw.chosen_parameters(names)
    assert len(chosen) == vkdnw.MAX_WEIGHTS and chosen[0] == "p0" and chosen[-1] == "p299"
    assert vkdnw.chosen_parameters(names[:5]) == names[:5]


def test_vkdnw_single_adds_the_parameter_tensor_count(recent):
    network = prepare(nets.small_relu())
    batch = gaussian(8)
    count = run_proxy("param_tensors", network, batch, 0)
    assert count == len(list(network.loaded.module.parameters()))
    assert run_proxy("vkdnw_single", network, batch, 0) == pytest.approx(count + run_proxy("vkdnw", network, batch, 0))


def test_vkdnw_is_nan_when_the_logits_overflow(recent):
    assert math.isnan(run_proxy("vkdnw", prepare(nets.overflowing()), gaussian(4), 0))


# --- every per-network metric ----------------------------------------------------------------------

@pytest.mark.parametrize("name", PER_NETWORK)
def test_same_seed_same_value_other_seed_other_value(recent, name):
    network = prepare(nets.small_relu())
    batch = gaussian(8)
    first = run_proxy(name, network, batch, 0)
    network.memo.clear()
    assert run_proxy(name, network, batch, 0) == first
    network.memo.clear()
    assert run_proxy(name, network, batch, 1) != first


def test_scoring_leaves_the_original_module_untouched(recent):
    network = prepare("nb201:" + NB201_ARCH)
    module = network.loaded.module
    before = {k: v.clone() for k, v in module.state_dict().items()}
    modes = [m.training for m in module.modules()]
    grads = [p.grad for p in module.parameters()]
    batch = gaussian(4)
    for name in ("meco", "az_expressivity", "az_trainability"):
        run_proxy(name, network, batch, 0)
    after = module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert modes == [m.training for m in module.modules()]
    assert all(g is None for g in grads) and all(p.grad is None for p in module.parameters())


def test_labels_are_not_needed(recent):
    for name in PER_NETWORK + ("az_complexity", "param_tensors"):
        proxy = plugins.get("proxies", name)
        assert "targets" not in proxy.needs


def test_meco_on_real_images(recent, cifar_npz):
    batch = load_batch(f"cifar10:{cifar_npz}", 2, (3, 32, 32), 0)
    assert math.isfinite(run_proxy("meco", prepare("nb201:" + NB201_ARCH), batch, 0))


def test_meco_runs_where_one_sample_reaches_a_one_by_one_batchnorm():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.BatchNorm2d(4),
                          nn.Flatten(), nn.Linear(4, 2))
    network = prepare(model, input_shape=(3, 8, 8))
    value = run_proxy("meco", network, Batch(torch.randn(4, 3, 8, 8), None, "random"), 0)
    assert math.isfinite(value)
