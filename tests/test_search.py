"""Searchers through `swapfw search`: determinism, budgets, cache reuse, truth looked up afterwards."""

import csv
import json
import re

import pytest
from click.testing import CliRunner

from swapfw.cli import cli, main
from swapfw.errors import SwapfwError
from swapfw.plugins import get
from swapfw.studies.search import SearchSettings, search

SMALL = {"channels": 4, "cells": 1}


def settings(tmp_path, **kw):
    base = dict(space="nb201", proxy="regswap", population=6, cycles=4, sample_size=3, mutations=2, mu=0.02, sigma=0.02,
                build_options=dict(SMALL), cache=str(tmp_path / "c.sqlite"), protocol="benchmark", batch=16,
                data="gaussian")
    base.update(kw)
    return SearchSettings(**base)


@pytest.mark.parametrize("searcher", ["swap-nas", "aging-evolution", "random"])
def test_every_searcher_reports_and_is_deterministic(searcher, tmp_path):
    first = search(settings(tmp_path, searcher=searcher, cache=""))
    again = search(settings(tmp_path, searcher=searcher, cache=""))
    assert first["best"] == again["best"] and first["history"] == again["history"]
    assert len(first["history"]) == 4
    assert first["history"] == sorted(first["history"])  # the population's best never gets worse
    assert first["best"]["score"] == first["history"][-1]
    budget = 6 + 4 * 2 + (4 * 2 if searcher == "swap-nas" else 0)  # crossover children count too
    assert 1 <= first["evaluations"] + first["repeated"] <= budget
    space = get("spaces", "nb201")
    assert first["best"]["params"] == sum(p.numel() for p in space.build(first["best"]["arch"], **SMALL).parameters())


def test_swap_nas_keeps_the_best_it_has_seen(tmp_path):
    report = search(settings(tmp_path, cycles=6, cache=""))
    space = get("spaces", "nb201")
    from swapfw.studies.evaluate import NoCache, Scorer
    from swapfw.running.executors import ExecutorSpec, open_pool
    from swapfw.scoring.proxies import Derivation, combine

    with open_pool(ExecutorSpec()) as pool:
        scorer = Scorer(settings(tmp_path, cache=""), ["regswap"], 0, NoCache(), pool)
        initial = [combine("regswap", scorer.measure(space.canonical(a)), Derivation(0.02, 0.02))
                   for a in space.sample(6, 0)]
    assert report["best"]["score"] >= max(initial)


def test_cached_scores_are_reused_not_recomputed(tmp_path):
    first = search(settings(tmp_path))
    second = search(settings(tmp_path))
    assert first["evaluations"] > 0 and second["evaluations"] == 0
    assert second["cached"] == first["evaluations"] and second["best"] == first["best"]


def test_truth_is_looked_up_after_the_search(tmp_path):
    space = get("spaces", "nb201")
    table = tmp_path / "truth.csv"
    with open(table, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["arch", "acc"])
        for i, arch in enumerate(space.enumerate()):
            writer.writerow([arch, i % 97])
    report = search(settings(tmp_path), truth=(str(table), "acc", None))
    assert report["truth"] == {"metric": "acc", "value": space.enumerate().index(report["best"]["arch"]) % 97}


def test_bad_settings(tmp_path):
    with pytest.raises(SwapfwError, match="sample-size cannot exceed"):
        search(settings(tmp_path, sample_size=7))
    with pytest.raises(SwapfwError, match="unknown searcher 'nope'"):
        search(settings(tmp_path, searcher="nope"))
    with pytest.raises(SwapfwError, match="crossover-prob"):
        search(settings(tmp_path, crossover_prob=2.0))


def test_cli_json(tmp_path):
    result = CliRunner().invoke(cli, ["search", "--space", "nb201", "--proxy", "regswap", "--population", "5", "--cycles", "3",
                                      "--sample-size", "2", "--mutations", "2", "--mu", "0.02", "--sigma", "0.02",
                                      "--space-option", "channels=4", "--space-option", "cells=1",
                                      "--cache", str(tmp_path / "c.sqlite"), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= {"best", "evaluations", "seconds", "history"}
    assert set(report["best"]) >= {"arch", "score", "params"} and len(report["history"]) == 3
    assert report["memory"]["peak_process_rss_mb"] > 100 and report["memory"]["peak_task_gpu_mb"] == 0


def test_cli_text_says_what_a_worker_needed(tmp_path):
    args = ["search", "--space", "nb201", "--proxy", "swap", "--population", "3", "--cycles", "1", "--sample-size", "2",
            "--mutations", "1", "--space-option", "channels=4", "--space-option", "cells=1"]
    first = CliRunner().invoke(cli, args + ["--cache", str(tmp_path / "c.sqlite")])
    assert first.exit_code == 0, first.output
    assert re.search(r"^memory: a scoring process peaked at [\d,]+ MB resident$", first.stdout, re.M)
    served = CliRunner().invoke(cli, args + ["--cache", str(tmp_path / "c.sqlite")])  # all from the cache
    assert served.exit_code == 0 and "memory:" not in served.stdout


def test_cli_truth_without_metric_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["search", "--space", "nb201", "--truth", "x.csv"])
    assert stop.value.code == 2 and "--truth and --metric go together" in capsys.readouterr().err


def test_a_killed_search_resumes_from_its_checkpoint_to_the_same_result(tmp_path):
    reference = search(settings(tmp_path, cycles=6, cache=""))
    ticks = []

    def kill_after_three(n, total, label):
        ticks.append(n)
        if len(ticks) == 4:  # progress(0) once the settings are accepted, then one a cycle
            raise KeyboardInterrupt
        assert total == 6 and label == "swap-nas on nb201"

    path = str(tmp_path / "search.json")
    with pytest.raises(KeyboardInterrupt):
        search(settings(tmp_path, cycles=6, cache=""), progress=kill_after_three, checkpoint=path)
    assert ticks == [0, 1, 1, 1]
    resumed = search(settings(tmp_path, cycles=6, cache=""), checkpoint=path)
    for key in ("best", "history", "evaluations", "cached", "repeated"):
        assert resumed[key] == reference[key], key


def test_a_checkpoint_of_other_settings_is_refused(tmp_path):
    path = str(tmp_path / "search.json")
    search(settings(tmp_path, cache=""), checkpoint=path)
    with pytest.raises(SwapfwError, match="other settings"):
        search(settings(tmp_path, cache="", seed=1), checkpoint=path)


@pytest.mark.parametrize("fmt", ["onnx", "torch"])
def test_export_writes_a_file_that_loads_back(fmt, tmp_path):
    import torch

    space = get("spaces", "nb201")
    arch = space.sample(1, 5)[0]
    out = tmp_path / f"net.{'onnx' if fmt == 'onnx' else 'pt'}"
    result = CliRunner().invoke(cli, ["export", f"nb201:{arch}", str(out), "--format", fmt,
                                      "--space-option", "channels=4", "--space-option", "cells=1"])
    assert result.exit_code == 0, result.output
    params = sum(p.numel() for p in space.build(arch, **SMALL).parameters())
    assert f"{params:,} params" in result.stdout
    if fmt == "onnx":  # the exported network imports back and is scored like any ONNX file
        scored = json.loads(CliRunner().invoke(cli, ["score", str(out), "--format", "json"]).stdout)
        assert scored["activation_sites"] > 0 and scored["input_shape"] == [3, 32, 32]
    else:
        loaded = torch.jit.load(str(out))
        assert loaded(torch.randn(3, 3, 32, 32)).shape == (3, 10)


def test_export_to_an_unwritable_path_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["export", "nb201:|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", str(tmp_path / "no" / "x.onnx")])
    err = capsys.readouterr().err
    assert stop.value.code == 1 and len(err.strip().splitlines()) == 1 and err.startswith("error:")


def test_exported_onnx_computes_the_same_function(tmp_path):
    import torch

    from swapfw.scoring.export import export
    from swapfw.graph.importers.onnx import load_onnx

    space = get("spaces", "nb201")
    network = space.build(space.sample(1, 5)[0], **SMALL).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so eval mode is really exercised
        for module in network.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    export(network, "onnx", str(tmp_path / "net.onnx"))
    loaded = load_onnx(tmp_path / "net.onnx")
    imported, shape = loaded.module, loaded.input.shape
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(imported(x), network(x), rtol=1e-4, atol=1e-5)
    assert shape == (3, 32, 32)


@pytest.mark.parametrize("searcher", ["swap-nas", "aging-evolution", "random"])
def test_a_budget_stops_every_searcher_at_that_many_distinct_architectures(searcher, tmp_path):
    report = search(settings(tmp_path, searcher=searcher, cycles=50, budget=9, cache=""))
    assert report["evaluations"] + report["cached"] == 9
    assert report["best"]["score"] >= max(report["history"] or [float("-inf")])


def test_auto_mu_sigma_reads_the_reference_sizes_through_the_score_cache(tmp_path, monkeypatch):
    """--mu/--sigma auto on a space with no ``count_params``: the sized parameter counts of the reference
    sample, as `score` derives them, kept in the score cache so that the next search reads them
    instead of building 1,000 networks (a space that counts is counted directly: test_darts)."""
    import sqlite3

    import swapfw
    from swapfw.studies import reference
    from swapfw.studies.reference import reference_archs

    monkeypatch.setattr(reference, "AUTO_SAMPLES", 12)
    space = get("spaces", "nb201")
    monkeypatch.delattr(type(space), "count_params")  # as a space that cannot count without building
    archs = reference_archs(space, 12)
    sizes = [sum(p.numel() for p in space.build(a, **SMALL).parameters()) for a in archs]
    first = search(settings(tmp_path, mu="auto", sigma="auto", seed=3))
    assert first["mu"] == max(sizes) / 1e6 and first["sigma"] == pytest.approx(first["mu"] ** 2)
    assert swapfw.score(f"nb201:{archs[0]}", mu="auto", sigma="auto", space_options=SMALL, protocol="benchmark").mu \
        == first["mu"]
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        assert db.execute("SELECT count(*) FROM scores WHERE proxy='params' AND seed=0").fetchone()[0] == len(set(archs))
        db.execute("UPDATE scores SET value=4.5e6 WHERE proxy='params' AND seed=0 AND arch=?", (archs[0],))
    assert search(settings(tmp_path, mu="auto", sigma="auto", seed=3))["mu"] == 4.5


def test_without_a_proxy_or_with_default_search_takes_the_spaces_default_else_regswap(tmp_path, monkeypatch):
    from swapfw.plugins import get_space
    from swapfw.scoring.proxies import is_population, proxy_plan

    space = type(get_space("nb201", {}))
    declared = space.default_proxy
    measured, _ = proxy_plan([declared])
    assert measured and all(get("proxies", leaf) for leaf in measured)  # proxies the registry has
    assert not is_population(declared)
    monkeypatch.setattr(space, "default_proxy", "swap")
    assert search(settings(tmp_path, proxy=None))["proxy"] == "swap"
    assert search(settings(tmp_path, proxy="default"))["proxy"] == "swap"
    monkeypatch.delattr(space, "default_proxy")
    assert search(settings(tmp_path, proxy=None))["proxy"] == "regswap"


def test_a_spent_neighbourhood_walks_further_for_a_new_architecture():
    """A converged elitist population has scored every neighbour of its best: the offspring must come
    from further away, or a search bounded by its budget would spend nothing and never end."""
    import random

    from swapfw_plugins.searchers.evolution import _fresh_mutation

    space = get("spaces", "nb201")
    parent = space.sample(1, 5)[0]
    distance = lambda arch: sum(a != b for a, b in zip(space.parse(arch), space.parse(parent)))

    class Evaluated:  # the parent and every single-op neighbour are scored
        def known(self, arch):
            return distance(arch) <= 1

    rng, taken = random.Random(0), set()
    children = [_fresh_mutation(space, parent, rng, Evaluated(), taken) for _ in range(4)]
    assert all(distance(c) >= 2 for c in children) and len(set(children)) == 4


def test_a_search_that_meets_nothing_new_stops_and_says_so(tmp_path, monkeypatch):
    import swapfw.studies.search as search_module

    space = type(get("spaces", "nb201"))
    monkeypatch.setattr(space, "mutate", lambda self, arch, rng, kind="op": arch)
    monkeypatch.setattr(space, "crossover", lambda self, a, b, rng: (a, b))
    monkeypatch.setattr(search_module, "STALLED_CYCLES", 5)
    report = search(settings(tmp_path, cycles=None, budget=40))
    assert report["evaluations"] + report["cached"] == 6  # the initial population, then nothing new
    assert len(report["history"]) == 1 + 5  # the first cycle met the population
    assert any("met no new architecture in 5 cycles: stopped after 6 of the budget's 40" in n for n in report["notes"])
