"""The packed, streaming counter must equal the naive float-matrix reference exactly."""

import pytest
import torch
import torch.nn as nn

import nets

from swapfw.patterns.engine import DistinctCodes, SamplePartition, binarise, naive_counts, pack_samples, positive
from swapfw.scoring.network import prepare
from swapfw.patterns.probe import Probe

SAMPLE_SIZES = [1, 2, 7, 8, 9, 16, 24, 25, 31, 33, 63, 64, 65, 100, 128, 129, 256]


def reference(network, inputs):
    """Collect every tapped value, binarise it and count with torch.unique on the float matrix."""
    kept = []

    def sink(index, value):
        kept.append(binarise(network.binding.binarisers[index], value, inputs.shape[0]))

    with torch.no_grad():
        Probe(network.ir, network.binding.points).run(inputs, sink)
    return naive_counts(kept, inputs.shape[0])


def random_bits(samples, values, seed, duplicates=True):
    g = torch.Generator().manual_seed(seed)
    bits = torch.rand(samples, values, generator=g) > 0.5
    if duplicates and values > 4:  # force repeated columns and rows so distinctness matters
        bits[:, values // 2:] = bits[:, : values - values // 2].clone()
        bits[samples // 2:] = bits[: samples - samples // 2].clone()
        bits[:, 0] = False
        bits[:, 1] = True
    return bits


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_positive_is_greater_than_zero_on_every_number(dtype, device):
    """The binarisers' fast ``> 0`` must give the same bits, edge values included."""
    info = torch.finfo(dtype)
    special = torch.tensor([0.0, -0.0, info.tiny, -info.tiny, info.tiny / 4, -info.tiny / 4, info.max, -info.max,
                            float("inf"), float("-inf"), 1.0, -1.0], dtype=dtype)
    noise = torch.randn(16, 4099, generator=torch.Generator().manual_seed(3)).to(dtype)
    for value in (special, noise, torch.relu(noise), noise.t(), noise[:, ::3]):  # also non-contiguous views
        value = value.to(device)
        assert positive(value).dtype == torch.bool
        assert torch.equal(positive(value), value > 0)


@pytest.mark.parametrize("samples", SAMPLE_SIZES)
def test_counters_match_torch_unique_on_random_bits(samples, device):
    bits = random_bits(samples, 3000, seed=samples).to(device)
    expected_swap, expected_a = naive_counts([bits], samples)
    codes = DistinctCodes(samples, bits.device)
    partition = SamplePartition(samples, bits.device)
    for chunk in torch.split(bits, 700, dim=1):  # several "sites", duplicates across them
        codes.add(pack_samples(chunk))
        partition.add(chunk)
    assert codes.count() == expected_swap
    assert partition.count() == expected_a


def test_pack_is_injective_on_distinct_columns():
    samples = 70
    eye = torch.eye(samples, dtype=torch.bool)  # column j has only sample j set
    codes = pack_samples(eye)
    assert codes.shape == (samples, 2)
    assert torch.unique(codes, dim=0).shape[0] == samples


NETWORKS = {
    "relu": lambda: nets.ModuleActNet(nn.ReLU),
    "relu6": lambda: nets.ModuleActNet(nn.ReLU6),
    "leaky": lambda: nets.ModuleActNet(lambda: nn.LeakyReLU(0.1)),
    "prelu": lambda: nets.ModuleActNet(nn.PReLU),
    "hardswish": lambda: nets.ModuleActNet(nn.Hardswish),
    "gelu": lambda: nets.ModuleActNet(nn.GELU),
    "silu_decomposed": lambda: nets.FunctionalNet("silu_decomposed"),
    "gelu_erf": lambda: nets.FunctionalNet("gelu_erf"),
    "clamp": lambda: nets.FunctionalNet("clamp"),
    "residual": nets.Residual,
    "untraceable": nets.Untraceable,
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize("samples", [1, 7, 16, 64, 65, 256])
def test_engine_equals_naive_reference(name, samples, device):
    network = prepare(NETWORKS[name](), input_shape=(3, 8, 8), seed=samples, device=device)
    inputs = torch.randn(samples, 3, 8, 8, generator=torch.Generator().manual_seed(1)).to(device)
    counts = network.count(inputs)
    swap, standard = reference(network, inputs)
    assert counts.swap == swap
    assert counts.standard_patterns == standard
    sites = 3 if name == "residual" else 2
    assert counts.values == sites * 8 * 8 * 8  # each site: 8 channels x 8 x 8, counted once
    assert len(network.ir.sites) == sites


def test_engine_on_torchvision_resnet_equals_reference(device):
    torchvision = pytest.importorskip("torchvision")
    network = prepare(torchvision.models.resnet18(num_classes=10), input_shape=(3, 32, 32), seed=0, device=device)
    inputs = torch.randn(33, 3, 32, 32, generator=torch.Generator().manual_seed(0)).to(device)
    counts = network.count(inputs)
    assert (counts.swap, counts.standard_patterns) == reference(network, inputs)
    assert 0 < counts.swap <= counts.values


def test_same_seed_same_score_and_other_seed_differs(device):
    inputs = torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(0)).to(device)
    a = prepare(nets.ModuleActNet(), seed=3, device=device).count(inputs)
    b = prepare(nets.ModuleActNet(), seed=3, device=device).count(inputs)
    c = prepare(nets.ModuleActNet(), seed=4, device=device).count(inputs)
    assert a.swap == b.swap and a.standard_patterns == b.standard_patterns
    assert a.swap != c.swap


def test_swap_counts_distinct_not_values():
    """A network whose every channel is a copy of one channel has far fewer patterns than values."""
    net = nets.ModuleActNet(nn.ReLU, width=4)
    network = prepare(net, input_shape=(3, 8, 8), seed=0)
    with torch.no_grad():  # make every output channel of conv 1 identical
        w = net.b1[0].weight
        w.copy_(w[:1].expand_as(w))
    inputs = torch.randn(16, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    counts = network.count(inputs)
    assert counts.swap == reference(network, inputs)[0]
    assert counts.swap < counts.values


def test_merging_in_rounds_gives_the_same_count(monkeypatch):
    """Codes wait and are sorted in rounds on big models; the count must not depend on the rounds."""
    import swapfw.patterns.engine as engine

    bits = random_bits(64, 5000, seed=5)
    expected = naive_counts([bits], 64)[0]
    monkeypatch.setattr(engine, "MERGE_EVERY", 300)
    codes = DistinctCodes(64, bits.device)
    for chunk in torch.split(bits, 250, dim=1):
        codes.add(pack_samples(chunk))
    assert codes.count() == expected
