"""Scoring protocols (named presets per space), the image-like input, and the encodings users bring."""

import json
import math
from collections import Counter

import pytest
import torch
import torch.nn as nn

from conftest import data_rows
from swapfw.cli import main
from swapfw.errors import SwapfwError
from swapfw.plugins import get
from swapfw.scoring import presets
from swapfw.scoring.data import load_batch
from swapfw.scoring.network import prepare
from swapfw import score
from swapfw.studies.encodings import convert, detect, from_arch, to_arch
from swapfw.studies.evaluate import ScoringSettings, protocol_key, resolve

NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"

# --- the SWAP authors' DARTS scoring network, as pym1024/SWAP's Network(3, 10, 1, genotype) builds it -------

# The first five genotypes of the DARTS development split. For each, what the authors' code builds
# (read off their module list): parameters, nn.ReLU modules, sample-wise values V of those ReLUs
# at 3x32x32, and its Conv2d layers as (in, out, kernel, stride, padding, dilation, groups): count.
_PAIRS = [
    [("skip_connect", 1), ("dil_conv_3x3", 0), ("max_pool_3x3", 2), ("dil_conv_5x5", 1), ("skip_connect", 3),
     ("none", 2), ("sep_conv_3x3", 0), ("sep_conv_5x5", 4)],
    [("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 0), ("dil_conv_5x5", 3),
     ("dil_conv_5x5", 1), ("dil_conv_5x5", 2), ("dil_conv_3x3", 2)],
    [("dil_conv_3x3", 0), ("avg_pool_3x3", 0), ("sep_conv_5x5", 0), ("dil_conv_5x5", 1), ("skip_connect", 0),
     ("dil_conv_3x3", 3), ("dil_conv_5x5", 3), ("max_pool_3x3", 1)],
    [("avg_pool_3x3", 1), ("sep_conv_5x5", 0), ("none", 2), ("avg_pool_3x3", 0), ("dil_conv_5x5", 1),
     ("sep_conv_5x5", 0), ("skip_connect", 4), ("none", 0)],
    [("max_pool_3x3", 1), ("avg_pool_3x3", 0), ("dil_conv_3x3", 0), ("avg_pool_3x3", 2), ("skip_connect", 0),
     ("max_pool_3x3", 2), ("sep_conv_5x5", 2), ("none", 0)],
]
AUTHORS_NETWORK = [
    (1258, 9, 35328, {(3, 6, 1, 1, 0, 1, 1): 2, (6, 3, 1, 2, 0, 1, 1): 2, (6, 6, 1, 1, 0, 1, 1): 6,
                      (6, 6, 3, 1, 1, 1, 6): 1, (6, 6, 3, 2, 1, 1, 6): 1, (6, 6, 3, 2, 2, 2, 6): 1,
                      (6, 6, 5, 1, 2, 1, 6): 2, (6, 6, 5, 2, 4, 2, 6): 1}),
    (2002, 12, 39936, {(3, 6, 1, 1, 0, 1, 1): 2, (6, 6, 1, 1, 0, 1, 1): 10, (6, 6, 3, 1, 1, 1, 6): 1,
                       (6, 6, 3, 1, 2, 2, 6): 1, (6, 6, 3, 2, 1, 1, 6): 1, (6, 6, 5, 1, 2, 1, 6): 2,
                       (6, 6, 5, 1, 4, 2, 6): 2, (6, 6, 5, 2, 2, 1, 6): 2, (6, 6, 5, 2, 4, 2, 6): 1}),
    (1354, 9, 35328, {(3, 6, 1, 1, 0, 1, 1): 2, (6, 3, 1, 2, 0, 1, 1): 2, (6, 6, 1, 1, 0, 1, 1): 6,
                      (6, 6, 3, 1, 2, 2, 6): 1, (6, 6, 3, 2, 2, 2, 6): 1, (6, 6, 5, 1, 2, 1, 6): 1,
                      (6, 6, 5, 1, 4, 2, 6): 1, (6, 6, 5, 2, 2, 1, 6): 1, (6, 6, 5, 2, 4, 2, 6): 1}),
    (1300, 7, 27648, {(3, 6, 1, 1, 0, 1, 1): 2, (6, 6, 1, 1, 0, 1, 1): 5, (6, 6, 5, 1, 2, 1, 6): 2,
                      (6, 6, 5, 2, 2, 1, 6): 2, (6, 6, 5, 2, 4, 2, 6): 1}),
    (856, 6, 21504, {(3, 6, 1, 1, 0, 1, 1): 2, (6, 3, 1, 2, 0, 1, 1): 2, (6, 6, 1, 1, 0, 1, 1): 3,
                     (6, 6, 3, 2, 2, 2, 6): 1, (6, 6, 5, 1, 2, 1, 6): 2}),
]


def _genotype(pairs) -> str:
    return f"Genotype(normal={pairs!r}, normal_concat=[2, 3, 4, 5], reduce={pairs!r}, reduce_concat=[2, 3, 4, 5])"


@pytest.mark.parametrize("pairs, expected", list(zip(_PAIRS, AUTHORS_NETWORK)))
def test_darts_paper_protocol_builds_the_authors_scoring_network(pairs, expected):
    params, relus, values, convs = expected
    chosen = presets.resolve(get("spaces", "darts"), "paper")
    network = prepare(f"darts:{_genotype(pairs)}", build_options=chosen.build_options)
    module = network.module
    found = Counter((m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0], m.dilation[0],
                     m.groups) for m in module.modules() if isinstance(m, nn.Conv2d))
    assert sum(p.numel() for p in module.parameters()) == params
    assert sum(isinstance(m, nn.ReLU) for m in module.modules()) == relus == len(network.ir.sites)
    assert dict(found) == convs
    assert network.count(load_batch("imagelike", 16, (3, 32, 32), 0).inputs).values == values
    assert chosen.batch == 16 and chosen.size_options == {"channels": 36, "layers": 20}


def test_a_cell_that_reads_the_image_needs_no_stem_and_only_cifar_inputs():
    space = get("spaces", "darts")
    with pytest.raises(SwapfwError, match="stem=0 is for 32x32"):
        space.build(_genotype(_PAIRS[0]), stem=0, dataset="imagenet", channels=4)
    with pytest.raises(SwapfwError, match="stem must be 0"):
        space.build(_genotype(_PAIRS[0]), stem=2)


# --- presets and how options override them ---------------------------------------------------------------


def test_every_bundled_space_declares_protocols_with_its_default_first():
    for name in ("nb201", "nb101", "darts", "transnas-micro", "transnas-macro"):
        space = get("spaces", name)
        known = presets.presets(space)
        assert known and presets.default_name(space) == next(iter(space.protocols))
        for preset in known.values():
            assert preset.description and preset.batch >= 1 and preset.repeats >= 1


def test_options_override_one_field_and_size_options_follow_the_rules():
    space = get("spaces", "darts")
    chosen = presets.resolve(space, "paper", batch=32, build_options={"channels": 4, "classes": 100})
    assert chosen.batch == 32 and chosen.repeats == presets.presets(space)["paper"].repeats
    assert chosen.build_options == {"channels": 4, "layers": 1, "stem": 0, "classes": 100}
    # classes is not a scoring-network choice of the protocol, so it applies to the sized network too
    assert chosen.size_options == {"channels": 36, "layers": 20, "classes": 100}
    assert presets.resolve(space, "benchmark").size_options is None  # sized = scored
    with pytest.raises(SwapfwError, match="no protocol 'fast'.*known: reduced, paper"):
        presets.resolve(space, "fast")


def test_a_space_without_protocols_gets_the_default_one():
    class Bare:
        name = "bare"

    chosen = presets.resolve(Bare())
    assert (chosen.name, chosen.batch, chosen.repeats, chosen.data, chosen.size_options) == \
        ("default", 16, 1, "gaussian", None)


def test_resolving_settings_is_idempotent_and_the_cache_key_records_the_protocol():
    settings = resolve(ScoringSettings(space="nb201", protocol="tiny", batch=8))
    assert resolve(settings) == settings
    assert (settings.data, settings.batch, settings.repeats) == ("imagelike", 8, 4)
    other = resolve(ScoringSettings(space="nb201", protocol="small", batch=8))
    assert protocol_key(settings) != protocol_key(other)
    assert json.loads(protocol_key(settings))["protocol"] == "tiny"


def test_params_and_regswap_describe_the_trained_network_not_the_proxy():
    tiny = score(f"nb201:{NB201}", protocol="tiny", repeats=1, mu=1.0, sigma=1.0)
    full = score(f"nb201:{NB201}", protocol="benchmark", batch=16, mu=1.0, sigma=1.0)
    benchmark = sum(p.numel() for p in get("spaces", "nb201").build(NB201).parameters())  # C=16, N=5
    assert tiny.params == full.params == benchmark
    assert tiny.flops == full.flops
    assert tiny.values < full.values / 10  # the scored network is far smaller
    assert tiny.regswap == pytest.approx(tiny.swap * math.exp(-(benchmark / 1e6 - 1.0) ** 2))


def test_the_sized_network_leaves_the_global_random_state_alone():
    """It is built for real (its default initialisers draw): nothing a user draws next may change."""
    chosen = presets.resolve(get("spaces", "darts"), "paper")
    network = prepare(f"darts:{_genotype(_PAIRS[0])}", build_options=chosen.build_options,
                      size_options=chosen.size_options)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    assert network.sized_params > 10 * sum(p.numel() for p in network.loaded.module.parameters())  # C=36, 20 cells
    assert network.sized_ir.flops > 0
    assert torch.equal(torch.rand(3), expected)


def test_repeats_average_over_initialisations():
    one = score(f"nb201:{NB201}", protocol="tiny", repeats=1)
    four = score(f"nb201:{NB201}", protocol="tiny")
    assert four.repeats == 4 and one.swap == int(one.swap)
    assert four.swap != one.swap and abs(four.swap - one.swap) < 0.5 * one.swap


def test_protocol_is_for_space_models_only():
    with pytest.raises(SwapfwError, match="applies to SPACE:ARCH models"):
        score("torchvision.models:resnet18", protocol="tiny")


def test_the_cli_lists_and_takes_protocols(capsys):
    main(["protocols", "darts"])
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("reduced") and "(default)" in out.splitlines()[0]
    assert any(line.startswith("paper") for line in out.splitlines())
    main(["score", f"nb201:{NB201}", "--protocol", "small", "--repeats", "2", "--format", "json"])
    result = json.loads(capsys.readouterr().out)
    assert (result["protocol"], result["repeats"], result["data"]) == ("small", 2, "imagelike")
    with pytest.raises(SystemExit):
        main(["score", f"nb201:{NB201}", "--protocol", "nope"])
    assert capsys.readouterr().err.startswith("error: space 'nb201' has no protocol 'nope'")


def test_search_and_correlate_record_the_resolved_protocol(tmp_path, write_truth):
    from swapfw.studies.correlate import CorrelateSettings, correlate
    from swapfw.studies.search import SearchSettings, search

    truth, _ = write_truth(tmp_path / "t.csv", 8, 3, acc=lambda i, _: i)
    report = correlate(CorrelateSettings(space="nb201", truth=str(truth), metric="acc", proxies=["swap", "params"],
                                         samples=8, protocol="tiny", repeats=1, cache=""))
    assert (report["protocol"], report["repeats"], report["data"], report["size_options"]) == ("tiny", 1, "imagelike", {})
    found = search(SearchSettings(space="nb201", protocol="tiny", repeats=1, population=4, cycles=1, sample_size=2,
                                  mutations=1, cache="", proxy="swap"), checkpoint=str(tmp_path / "c.json"))
    assert found["protocol"] == "tiny"
    saved = json.loads((tmp_path / "c.json").read_text())["settings"]
    assert (saved["protocol"], saved["batch"], saved["build_options"]) == ("tiny", 16, {"channels": 3, "cells": 1})


# --- the image-like input -----------------------------------------------------------------------------------


def test_imagelike_data_is_deterministic_standardised_and_smooth():
    x = load_batch("imagelike", 16, (3, 32, 32), 0).inputs
    assert torch.equal(x, load_batch("imagelike", 16, (3, 32, 32), 0).inputs)
    assert not torch.equal(x, load_batch("imagelike", 16, (3, 32, 32), 1).inputs)
    assert x.mean(dim=(0, 2, 3)).abs().max() < 1e-5 and (x.std(dim=(0, 2, 3)) - 1).abs().max() < 1e-3
    neighbours = torch.corrcoef(torch.stack([x[..., :-1].flatten(), x[..., 1:].flatten()]))[0, 1]
    channels = torch.corrcoef(torch.stack([x[:, 0].flatten(), x[:, 1].flatten()]))[0, 1]
    assert neighbours > 0.8 and channels > 0.8  # white noise: both about 0
    with pytest.raises(SwapfwError, match="C x H x W images"):
        load_batch("imagelike", 4, (10,), 0)
    with pytest.raises(SwapfwError, match="takes no argument"):
        load_batch("imagelike:x", 4, (3, 8, 8), 0)


def test_the_default_nb201_protocol_does_not_saturate():
    result = score("nb201:|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
                   "nor_conv_3x3~2|")
    assert result.swap < 0.5 * 2 ** result.samples and result.note == ""


# --- encodings -----------------------------------------------------------------------------------------------


def _rows(name):
    return data_rows(*name.split("/"))


def test_nb201_index_and_naslib_op_indices_match_the_published_tables():
    space = get("spaces", "nb201")
    for row in _rows("nb201/nb201.csv")[::97]:
        assert to_arch(space, row["index"], "index") == space.canonical(row["arch_str"])
        assert from_arch(space, row["arch_str"], "index") == row["index"]
    for row in _rows("nb201/suite_zero_proxies.csv")[::13]:  # NAS-Bench-Suite-Zero writes NASLib's tuples as digits
        assert to_arch(space, row["naslib_op_tuple"], "naslib") == space.canonical(row["arch_str"])
        digits = "".join(c for c in from_arch(space, row["arch_str"], "naslib") if c.isdigit())
        assert digits == row["naslib_op_tuple"]


def test_darts_genotypes_round_trip_through_nas_bench_301_configurations():
    space = get("spaces", "darts")
    for row in _rows("dev/nb301_cifar10.csv")[:40]:
        config = json.loads(space.encode(row["arch"], "nb301"))
        assert len(config) == 22 and all(k.startswith("NetworkSelectorDatasetInfo:darts:") for k in config)
        assert to_arch(space, json.dumps({**config, "OtherHyperparameter": 1}), "nb301") == space.canonical(row["arch"])
    with pytest.raises(SwapfwError, match="two distinct inputs per node"):
        space.encode(_rows("dev/darts_cifar10.csv")[0]["arch"], "nb301")  # reads one node twice


def test_transnas_naslib_op_indices_round_trip():
    for name, rows in (("transnas-micro", _rows("dev/transnas_micro_class_object.csv")),
                       ("transnas-macro", _rows("dev/transnas_macro_class_object.csv"))):
        space = get("spaces", name)
        for row in rows[:30]:
            assert convert(space, convert(space, row["arch"], "naslib"), "arch") == space.canonical(row["arch"])
    assert convert(get("spaces", "transnas-macro"), "(4, 1, 4, 1, 4, 0)", "arch") == "64-41414-basic"
    assert convert(get("spaces", "transnas-micro"), "64-41414-1_32_233", "naslib") == "(1, 3, 2, 2, 3, 3)"


def test_nb101_module_hashes_are_isomorphism_invariant_and_one_way():
    space = get("spaces", "nb101")
    rows = _rows("dev/nb101_cifar10.csv")
    hashes = {space.encode(r["arch"], "hash") for r in rows}
    canonical = {space.canonical(r["arch"]) for r in rows}
    assert len(hashes) == len(canonical)
    assert all(len(h) == 32 for h in hashes)
    with pytest.raises(SwapfwError, match="cannot be turned back"):
        to_arch(space, next(iter(hashes)), "hash")


def test_ambiguous_values_ask_for_their_encoding(capsys):
    space = get("spaces", "nb201")
    assert detect(space, "43") == "index" and detect(space, "000043") == "naslib"
    with pytest.raises(SwapfwError, match="no nb201 architecture in any encoding"):
        detect(space, "hello")
    main(["convert", "nb201", "000043", "--to", "index"])
    assert capsys.readouterr().out.strip().isdigit()


def test_truth_tables_in_another_encoding(tmp_path):
    from swapfw.studies.truth import load_truth

    space = get("spaces", "nb201")
    table = tmp_path / "by_index.csv"
    table.write_text("arch,acc\n0,1.0\n1,2.0\n")
    truth = load_truth(str(table), "acc", space, arch_format="index")
    assert list(truth.values) == [convert(space, "0", "arch", "index"), convert(space, "1", "arch", "index")]
    with pytest.raises(SwapfwError, match="by_index.csv:2: .*no encoding 'hash'"):
        load_truth(str(table), "acc", space, arch_format="hash")
