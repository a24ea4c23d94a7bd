"""Deployment budgets and objectives: every constraint holds, rejections are not counted, Pareto
fronts are non-dominated, latency is measured and cached, and impossible requests fail first."""

import gc
import json
import re

import pytest
import torch
import torch.nn as nn
from click.testing import CliRunner

from swapfw import hookimpl
from swapfw.cli import cli, main
from swapfw.graph.importers import space_params
from swapfw.plugins import get_space
from swapfw.scoring.costs import median_milliseconds, peak_memory_bytes, sized_ir
from swapfw.studies.budgets import pareto_front
from swapfw.studies.search import SearchSettings, search

SMALL = {"channels": 4, "cells": 1}


def settings(tmp_path, **kw):
    base = dict(space="nb201", proxy="swap", population=6, sample_size=3, mutations=2, budget=24,
                build_options=dict(SMALL), cache=str(tmp_path / "c.sqlite"), protocol="benchmark", batch=16,
                data="gaussian", latency_threads=1, latency_options={"runs": "3", "warmup": "1", "seconds": "0"})
    base.update(kw)
    return SearchSettings(**base)


def scored(checkpoint) -> list[str]:
    """Every architecture the search scored, from its checkpoint."""
    return list(json.loads(checkpoint.read_text())["seen"])


def flops(arch: str) -> int:
    return sized_ir(f"nb201:{arch}", SMALL).flops


def memory_mb(arch: str, batch: int = 1) -> float:
    space = get_space("nb201")
    return peak_memory_bytes(lambda: space.build(arch, **SMALL), (3, 32, 32), batch) / 2 ** 20


@pytest.mark.parametrize("quantity, limit, measure", [
    ("max_params", 11_000, lambda a: space_params("nb201", a, SMALL)),
    ("max_flops", 1.45e6, flops),
    ("max_memory_mb", 0.166, memory_mb),
])
def test_every_architecture_a_constrained_search_scores_is_within_its_budget(tmp_path, quantity, limit, measure):
    """The median of a sample of NB201 is the budget: about half are turned away, never scored and
    never counted, and the budget of 24 distinct architectures is still spent on ones within it."""
    checkpoint = tmp_path / "run.json"
    report = search(settings(tmp_path, **{quantity: limit}), checkpoint=str(checkpoint))
    archs = scored(checkpoint)
    assert len(archs) == 24 and report["evaluations"] + report["cached"] == 24
    assert all(measure(a) <= limit for a in archs)
    assert report["rejected"] > 0 and report["budgets"] == {quantity: limit}
    assert measure(report["best"]["arch"]) <= limit
    unconstrained = search(settings(tmp_path, budget=24), checkpoint=str(tmp_path / "free.json"))
    assert any(measure(a) > limit for a in scored(tmp_path / "free.json"))  # the budget did bite
    assert "rejected" not in unconstrained


def test_a_latency_budget_holds_and_each_latency_is_measured_once(tmp_path):
    calls = []

    class Counted:
        name = "counted"
        description = "ms = params / 1e4, counting its calls"
        measures_here = False

        def open(self, space, options, *, device, batch, threads, build, input_shape):
            def measure(arch):
                calls.append(arch)
                return sum(p.numel() for p in build(arch).parameters()) / 1e4
            return measure

    class Plugin:
        @hookimpl
        def register_latency_meters(self, register):
            register(Counted())

    from swapfw import plugins

    plugins.register_plugin(Plugin(), name="counted-latency")
    try:
        first = search(settings(tmp_path, latency_runtime="counted", max_latency_ms=1.1))
        measured = len(calls)
        again = search(settings(tmp_path, latency_runtime="counted", max_latency_ms=1.1))
    finally:
        plugins.unregister_plugin("counted-latency")
    assert first["best"]["costs"]["latency"] <= 1.1 and first["rejected"] > 0
    assert len(set(calls)) == measured  # each architecture timed once
    assert len(calls) == measured and again["best"] == first["best"]  # the rerun took every latency from the cache
    assert first["latency"]["runtime"] == "counted" and first["latency"]["machine"] == Counted.description


def test_torch_latency_is_a_median_and_says_what_measured_it(tmp_path):
    report = search(settings(tmp_path, budget=6, max_latency_ms=1e4))
    latency = report["latency"]
    assert latency["runtime"] == "torch" and latency["device"] == "cpu" and latency["threads"] == 1
    assert "cores" in latency["machine"] and latency["batch"] == 1
    assert 0 < report["best"]["costs"]["latency"] < 1e4



def test_latency_is_the_median_of_timed_runs_after_warm_up(monkeypatch):
    """On a scripted clock: two warm-up runs (they outlast the warm-up time), then three timed ones."""
    from swapfw.scoring import costs

    clock, durations, calls = [0.0], iter([0.5, 0.5, 0.005, 0.001, 0.003]), []
    monkeypatch.setattr(costs.time, "perf_counter", lambda: clock[0])

    def run():
        calls.append(1)
        clock[0] += next(durations)

    assert median_milliseconds(run, warmup=2, runs=3) == pytest.approx(3.0) and len(calls) == 5
    clock[0], durations = 0.0, iter([0.06] * 4 + [0.002])  # short warm-up runs go on for WARMUP_SECONDS (0.2 s)
    calls.clear()
    assert median_milliseconds(run, warmup=1, runs=1) == pytest.approx(2.0) and len(calls) == 5
    clock[0], durations = 0.0, iter([0.05] * 4 + [0.001])  # one timed run asked, four taken: they span 0.2 s
    calls.clear()
    assert median_milliseconds(run, warmup=0, runs=1, seconds=0.2) == pytest.approx(50.0) and len(calls) == 4
    assert gc.isenabled()


def test_onnxruntime_measures_the_exported_network(tmp_path):
    pytest.importorskip("onnxruntime")
    report = search(settings(tmp_path, budget=6, latency_runtime="onnxruntime", objectives=["proxy", "latency"],
                             searcher="random"))
    assert report["latency"]["runtime"] == "onnxruntime"
    assert all(m["objectives"]["latency"] > 0 for m in report["front"])


def test_peak_memory_counts_weights_input_and_the_most_activations_alive_at_once():
    net = lambda: nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))  # noqa: E731
    weights = (10 * 20 + 20 + 20 * 5 + 5) * 4
    # input 4x10, first output 4x20 and its ReLU 4x20 alive together, then the second output 4x5
    assert peak_memory_bytes(net, (10,), 4) == weights + (40 + 80 + 80) * 4
    inplace = lambda: nn.Sequential(nn.Linear(10, 20), nn.ReLU(inplace=True), nn.Linear(20, 5))  # noqa: E731
    assert peak_memory_bytes(inplace, (10,), 4) == weights + (40 + 80 + 20) * 4
    assert peak_memory_bytes(net, (10,), 8) > peak_memory_bytes(net, (10,), 4)


def test_a_pareto_front_is_every_non_dominated_architecture(tmp_path):
    report = search(settings(tmp_path, objectives=["proxy", "params"], budget=30))
    assert report["searcher"] == "nsga2"  # the multi-objective searcher, where none is named
    front, rows = report["front"], report["scored_objectives"]
    assert len(rows) == 30 and 1 <= len(front) <= 30

    def dominates(a, b):
        better = a["proxy"] >= b["proxy"] and a["params"] <= b["params"]
        return better and (a["proxy"] > b["proxy"] or a["params"] < b["params"])

    members = [m["objectives"] for m in front]
    assert not any(dominates(r, m) for r in rows for m in members)
    assert all(any(dominates(m, r) or m == r for m in members) for r in rows)  # the rest is dominated
    assert [m["params"] for m in members] == sorted(m["params"] for m in members)
    assert pareto_front({"a": {"proxy": 1, "latency": 2}, "b": {"proxy": 2, "latency": 1},
                         "c": {"proxy": 2, "latency": 3}}, ["proxy", "latency"]) == [
        {"arch": "b", "objectives": {"proxy": 2, "latency": 1}}]


def test_a_single_objective_searcher_gives_the_front_of_what_it_scored(tmp_path):
    report = search(settings(tmp_path, searcher="swap-nas", objectives=["proxy", "flops"], max_params=11_000))
    assert report["searcher"] == "swap-nas" and report["front"]
    assert all(space_params("nb201", m["arch"], SMALL) <= 11_000 for m in report["front"])


def test_a_resumed_constrained_search_gives_the_same_answer(tmp_path):
    checkpoint = tmp_path / "run.json"
    whole = search(settings(tmp_path, cache="", max_flops=1.45e6, budget=18))
    from swapfw.studies import search as search_module

    original, calls = search_module.Checkpoint.save, []

    def dying(self, *args, **kw):
        original(self, *args, **kw)
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt

    search_module.Checkpoint.save = dying
    try:
        with pytest.raises(KeyboardInterrupt):
            search(settings(tmp_path, cache="", max_flops=1.45e6, budget=18), checkpoint=str(checkpoint))
    finally:
        search_module.Checkpoint.save = original
    resumed = search(settings(tmp_path, cache="", max_flops=1.45e6, budget=18), checkpoint=str(checkpoint))
    assert resumed["best"] == whole["best"] and resumed["rejected"] == whole["rejected"]
    assert resumed["history"] == whole["history"]


ARGS = ["search", "--space", "nb201", "--space-option", "channels=4", "--space-option", "cells=1", "--protocol",
        "benchmark", "--proxy", "swap", "--data", "gaussian", "--batch", "16", "--budget", "12", "--population", "6",
        "--no-cache"]


def run(*args):
    return CliRunner().invoke(cli, [*ARGS, *args])


def run_main(capsys, *args):
    """Through ``main`` as the console script runs it: errors become one line."""
    with pytest.raises(SystemExit) as stop:
        main([*ARGS, *args])
    captured = capsys.readouterr()
    return stop.value.code, captured.err


@pytest.mark.parametrize("args, message", [
    (["--max-params", "10"], r"no architecture of nb201 found within --max-params 10: the smallest of 32 sampled and 64 mutations has params \d"),
    (["--max-flops", "1", "--max-params", "1e9"], r"within --max-flops 1:"),
    (["--objectives", "proxy,speed"], r"unknown objective 'speed' \(known: proxy, params, flops, latency, memory\)"),
    (["--objectives", "proxy"], r"two or more distinct objectives"),
    (["--max-memory-mb", "-1"], r"--max-memory-mb must be a positive number"),
    (["--latency-runtime", "nosuch", "--max-latency-ms", "5"], r"unknown latency meter 'nosuch'"),
    (["--latency-option", "runz=3", "--max-latency-ms", "5"], r"latency meter torch has no option 'runz'"),
    (["--latency-option", "seconds=-1", "--max-latency-ms", "5"],
     r"latency needs runs >= 1, warmup >= 0 and seconds >= 0"),
    (["--plot", "x.png"], r"--plot draws the Pareto front of a search with --objectives"),
])
def test_impossible_requests_fail_in_one_line_before_any_work(args, message, monkeypatch, capsys):
    from swapfw.studies import evaluate

    def never(*a, **kw):
        raise AssertionError("scored before refusing")

    monkeypatch.setattr(evaluate.Scorer, "measure_many", never)
    code, err = run_main(capsys, *args)
    lines = err.strip().splitlines()
    assert code in (1, 2) and len(lines) == 1 and lines[0].startswith("error: "), err
    assert re.search(message, lines[0]), lines[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_an_absent_latency_device_is_named(capsys):
    code, err = run_main(capsys, "--max-latency-ms", "5", "--latency-device", "cuda")
    assert code == 1
    assert err.strip() == "error: --latency-device cuda asked for, but torch sees no CUDA device on this machine"


def test_the_cli_prints_budgets_rejections_and_the_front_and_plots_it(tmp_path):
    plot = tmp_path / "front.png"
    result = run("--max-flops", "1.45e6", "--objectives", "proxy,flops", "--plot", str(plot))
    assert result.exit_code == 0, result.output
    assert "budgets        --max-flops 1,450,000" in result.output
    assert "candidates over budget (not scored, not counted)" in result.output
    assert "Pareto front:" in result.output
    assert plot.read_bytes()[:4] == b"\x89PNG"
    data = json.loads(run("--max-flops", "1.45e6", "--objectives", "proxy,flops", "--format", "json").stdout)
    assert set(data["front"][0]) == {"arch", "objectives"} and set(data["front"][0]["objectives"]) == {"proxy", "flops"}
    assert isinstance(data["rejected"], int)


def test_a_search_that_meets_no_architecture_within_budget_says_so(monkeypatch, capsys):
    """Where the feasible architectures are too rare for the searcher to meet (here: the check before
    the search is switched off, and no architecture has 10 parameters), one line, not a crash."""
    from swapfw.studies import budgets

    monkeypatch.setattr(budgets.Costs, "check_feasible", lambda self, seed: None)
    code, err = run_main(capsys, "--max-params", "10", "--budget", "6", "--cycles", "2")
    assert code == 1 and "Traceback" not in err
    assert re.fullmatch(r"error: no architecture within the budgets was met: \d+ candidates turned away \(e\.g\. "
                        r"params [\d,]+ > --max-params 10\); loosen a budget", err.strip().splitlines()[-1]), err
