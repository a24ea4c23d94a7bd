"""How proxies combine: parametrised names, population-level derivation, 'all', labels, the table."""

import csv
import json
import pytest
import torch
from click.testing import CliRunner

from swapfw import hookimpl
from swapfw.cli import cli
from swapfw.studies.correlate import CorrelateSettings, correlate
from swapfw.scoring.data import Batch
from swapfw.errors import SwapfwError
from swapfw.scoring.fresh import fresh_model
from swapfw.scoring.network import prepare
from swapfw.scoring.proxies import expand, proxy_entry, proxy_plan
from swapfw.scoring.proxies import run_proxy
from swapfw.studies.table import comparison, write_csv

SMALL = {"channels": 4, "cells": 1}


class _Ranks:
    """Population proxy: the rank of the sum of its parts (1 = smallest)."""

    name = "ranksum"
    population = True
    needs = frozenset()

    def __init__(self, parts=()):
        self.derived_from = parts

    def configure(self, argument):
        if not argument:
            raise SwapfwError("ranksum needs parts: ranksum:A+B")
        return _Ranks(tuple(argument.split("+")))

    def combine_population(self, values, settings):
        sums = [sum(col[i] for col in values.values()) for i in range(len(next(iter(values.values()))))]
        order = sorted(range(len(sums)), key=sums.__getitem__)
        ranks = [0.0] * len(sums)
        for rank, i in enumerate(order, start=1):
            ranks[i] = float(rank)
        return ranks


class _NeedsLabels:
    name = "labelled"
    needs = frozenset({"targets"})

    def score(self, network, batch, *, seed):
        return float(batch.targets.sum())


class _Plugin:
    @hookimpl
    def register_proxies(self, register):
        register(_Ranks())
        register(_NeedsLabels())


@pytest.fixture
def toy_proxies(temporary_plugin):
    temporary_plugin(_Plugin(), "toy-proxies")


@pytest.fixture(scope="module")
def truth(tmp_path_factory, write_truth):
    return write_truth(tmp_path_factory.mktemp("truth") / "truth.csv", 20, 5, a=lambda i, _: i, b=lambda i, _: -i)[0]


def test_parametrised_names_configure_their_plugin(toy_proxies):
    entry = proxy_entry("ranksum:params+flops")
    assert entry.name == "ranksum:params+flops" and entry.obj.derived_from == ("params", "flops")
    with pytest.raises(SwapfwError, match="takes an argument"):
        proxy_entry("ranksum")
    with pytest.raises(SwapfwError, match="takes no argument"):
        proxy_entry("params:3")
    with pytest.raises(SwapfwError, match="ranksum needs parts"):
        proxy_entry("ranksum:")


def test_plan_measures_leaves_and_orders_derived_parts_first(toy_proxies):
    measured, derived = proxy_plan(["ranksum:regswap+flops"])
    assert set(measured) == {"swap", "params", "flops"}
    assert derived == ["regswap", "ranksum:regswap+flops"]


def test_all_expands_to_every_argument_free_proxy(toy_proxies):
    names = expand(["all", "swap"])
    assert "swap" in names and "labelled" in names and names.count("swap") == 1
    assert "ranksum" not in names


def test_population_proxy_ranks_across_the_sample(toy_proxies, truth, tmp_path):
    report = correlate(CorrelateSettings(space="nb201", truth=str(truth), metric="a",
                                         proxies=["params", "ranksum:params"], samples=10, build_options=SMALL,
                                         cache=""))
    scores = report["per_seed"][0]["scores"]
    ranks, params = scores["ranksum:params"], scores["params"]
    assert sorted(ranks) == [float(r) for r in range(1, 11)]
    assert all(ranks[i] < ranks[j] for i in range(10) for j in range(10) if params[i] < params[j])


def test_population_proxies_have_no_single_network_value(toy_proxies):
    network = prepare("nb201:" + "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", build_options=SMALL)
    batch = Batch(torch.zeros(2, 3, 32, 32), None, "zeros")
    with pytest.raises(SwapfwError, match="use it in correlate"):
        run_proxy("ranksum:params", network, batch, 0)


def test_search_refuses_a_population_proxy(toy_proxies):
    from swapfw.studies.search import SearchSettings, search

    with pytest.raises(SwapfwError, match="ranks architectures against each other"):
        search(SearchSettings(space="nb201", proxy="ranksum:params", cache=""))


def test_a_proxy_needing_labels_fails_before_scoring_on_unlabelled_data(toy_proxies, truth):
    settings = CorrelateSettings(space="nb201", truth=str(truth), metric="a", proxies=["labelled"], samples=4,
                                 build_options=SMALL, cache="")
    with pytest.raises(SwapfwError, match="labelled need labelled data"):
        correlate(settings)


def test_fresh_copies_are_independent_seeded_and_leave_the_original_alone():
    network = prepare("nb201:|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
                      build_options=SMALL)
    before = {k: v.clone() for k, v in network.loaded.module.state_dict().items()}
    a, b, c = fresh_model(network, 3), fresh_model(network, 3), fresh_model(network, 4)
    for p in a.parameters():
        p.data.mul_(5)
    assert all(torch.equal(v, network.loaded.module.state_dict()[k]) for k, v in before.items())
    b2 = fresh_model(network, 3)
    assert all(torch.equal(x, y) for x, y in zip(b.parameters(), b2.parameters()))
    assert not all(torch.equal(x, y) for x, y in zip(b.parameters(), c.parameters()))
    plain = fresh_model(network, 0, bn="none", precision="float64")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())
    assert all(p.dtype == torch.float64 for p in plain.parameters())


def test_comparison_table_sorts_by_mean_and_counts_nan(tmp_path):
    runs = [{"space": "s", "metric": "m1", "proxies": {"x": {"spearman_mean": 0.2, "not_finite": 0},
                                                      "y": {"spearman_mean": 0.8, "not_finite": 2}}},
            {"space": "s", "metric": "m2", "proxies": {"x": {"spearman_mean": 0.4, "not_finite": 1},
                                                      "y": {"spearman_mean": float("nan"), "not_finite": 0}}}]
    table = comparison(runs)
    assert [r["proxy"] for r in table["rows"]] == ["x", "y"]  # y misses a column: listed after complete rows
    assert table["rows"][0]["mean"] == pytest.approx(0.3) and table["rows"][1]["not_finite"] == 2
    write_csv(table, tmp_path / "t.csv")
    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert rows[1]["proxy"] == "y" and rows[1]["m2"] == "" and rows[0]["m1"] == "0.2000"


def test_run_writes_the_comparison_table_and_heatmap(truth, tmp_path):
    pytest.importorskip("matplotlib")
    spec = tmp_path / "fig.toml"
    spec.write_text(f"""
[report]
table = "{tmp_path / 'fig.csv'}"
heatmap = "{tmp_path / 'fig.png'}"

[[correlate]]
space = "nb201"
truth = "{truth}"
metric = "a"
proxies = "params,flops"
samples = 8
space_options = {{ channels = 4, cells = 1 }}

[[correlate]]
space = "nb201"
truth = "{truth}"
metric = "b"
proxies = "params,flops"
samples = 8
space_options = {{ channels = 4, cells = 1 }}
""")
    result = CliRunner().invoke(cli, ["run", str(spec), "--samples", "6", "--seeds", "1",
                                      "--table-json", str(tmp_path / "fig.json"), "--cache", ""])
    assert result.exit_code == 0, result.output
    table = json.loads((tmp_path / "fig.json").read_text())
    assert table["columns"] == ["a", "b"]
    params = next(r for r in table["rows"] if r["proxy"] == "params")
    assert params["spearman"]["a"] == pytest.approx(-params["spearman"]["b"])  # b = -a
    assert (tmp_path / "fig.png").stat().st_size > 1000
    assert "sorted by mean" in result.output
    with open(tmp_path / "fig.csv") as fh:
        assert next(csv.reader(fh)) == ["proxy", "a", "b", "mean", "not_finite"]


def test_a_model_without_activations_still_has_size_metrics_but_no_swap():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 2))
    network = prepare(model, input_shape=(3, 8, 8))
    batch = Batch(torch.randn(4, 3, 8, 8), None, "random")
    assert run_proxy("params", network, batch, 0) == 3 * 4 * 9 + 4 + 144 * 2 + 2
    with pytest.raises(SwapfwError, match="no activation to score"):
        run_proxy("swap", network, batch, 0)


def test_table_columns_tell_runs_apart_by_space_then_by_truth_file():
    def run(space, truth, metric):
        return {"space": space, "truth": truth, "metric": metric, "proxies": {"x": {"spearman_mean": 0.5}}}

    assert comparison([run("a", "t.csv", "m"), run("a", "t.csv", "n")])["columns"] == ["m", "n"]
    assert comparison([run("a", "t.csv", "m"), run("b", "t.csv", "m")])["columns"] == ["a:m", "b:m"]
    assert comparison([run("a", "d/x.csv", "m"), run("a", "d/y.csv", "m")])["columns"] == ["x:m", "y:m"]


def test_swap_near_its_ceiling_is_reported():
    from swapfw.patterns.count import saturation_note

    assert saturation_note([100.0], 8) == ""
    assert "2^8" in saturation_note([250.0], 8) and "--batch" in saturation_note([250.0], 8)
    assert saturation_note([], 8) == "" and saturation_note([2.0 ** 70], 64) == ""


def test_score_says_when_swap_saturates():
    from swapfw import score

    wide = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(64 * 64, 2))
    result = score(wide, batch=4, input_shape=(3, 8, 8))
    assert result.swap > 0.9 * 16 and "ceiling 2^4" in result.note
