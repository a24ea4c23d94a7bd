"""Evaluators and searches that spend real evaluations: the bundled three, the cache that never
pays twice, checkpoints, failures recorded, the CLI's JSON."""

import csv
import json
import sys
import zlib

import numpy as np
import pytest

import swapfw
from swapfw.errors import SwapfwError
from swapfw.plugins import get, get_space
from swapfw.testing import check_evaluator

from test_cli import run, run_main

SMALL = {"channels": 4, "cells": 1}
NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def made_up(arch: str) -> float:
    """A value per architecture that no proxy knows: the table's 'accuracy'."""
    return 50 + zlib.crc32(arch.encode()) % 5000 / 100


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """Every NB201 architecture with a made-up value and cost, as a benchmark's table is laid out."""
    path = tmp_path_factory.mktemp("table") / "nb201_fidelity.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["index", "arch_str", "val_acc", "seconds"])
        for i, arch in enumerate(get_space("nb201").enumerate()):
            writer.writerow([i, arch, made_up(arch), 100 + i % 7])
    return path


def table_options(path) -> dict:
    return {"table": str(path), "metric": "val_acc", "cost": "seconds"}


@pytest.fixture
def images(tmp_path):
    """A labelled CIFAR-10-shaped .npz: 10 classes of 12 random images each."""
    rng = np.random.default_rng(0)
    path = tmp_path / "images.npz"
    np.savez(path, x=rng.integers(0, 255, (120, 32, 32, 3), dtype=np.uint8), y=np.repeat(np.arange(10), 12))
    return f"cifar10:{path}"


@pytest.fixture
def counted(tmp_path, monkeypatch):
    """A user's module ``myeval`` whose ``score(model)`` counts its calls in a file."""
    (tmp_path / "myeval.py").write_text(
        "import pathlib\n"
        "from swapfw.plugin_api import EvaluationFailed\n"
        f"CALLS = pathlib.Path({str(tmp_path / 'calls.txt')!r})\n"
        "FAIL_AFTER = None\n"
        "def score(model):\n"
        "    calls = int(CALLS.read_text()) if CALLS.exists() else 0\n"
        "    if FAIL_AFTER is not None and calls >= FAIL_AFTER:\n"
        "        raise RuntimeError('killed')\n"
        "    CALLS.write_text(str(calls + 1))\n"
        "    return float(sum(p.numel() for p in model.parameters()))\n"
        "def params_or_fail(model):\n"
        "    n = sum(p.numel() for p in model.parameters())\n"
        "    if n % 2:\n"
        "        raise EvaluationFailed('odd parameter count')\n"
        "    return float(n)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("myeval", None)
    yield tmp_path / "calls.txt"
    sys.modules.pop("myeval", None)


def search(tmp_path, **kw):
    base = dict(space="nb201", proxy="regswap", population=6, budget=24, mu=0.02, sigma=0.02,
                space_options=SMALL, protocol="benchmark", batch=16, data="gaussian", cache=str(tmp_path / "c.sqlite"))
    return swapfw.search(**{**base, **kw}).to_dict()


# --- the bundled evaluators through the conformance kit ---------------------------------------------


def test_table_conforms_and_reads_the_table(table):
    space = get_space("nb201")
    found = check_evaluator(get("evaluators", "table"), space, table_options(table), archs=[NB201])
    assert found[0][0] == pytest.approx(made_up(space.canonical(NB201)))


def test_table_errors_are_one_line(table, tmp_path):
    space, evaluator = get_space("nb201"), get("evaluators", "table")
    with pytest.raises(SwapfwError, match="needs --evaluator-option metric"):
        evaluator.open(space, {"table": str(table)}, seed=0, device="cpu", build=None)
    with pytest.raises(SwapfwError, match="no column 'acc'"):
        evaluator.open(space, {"table": str(table), "metric": "acc"}, seed=0, device="cpu", build=None)
    partial = tmp_path / "partial.csv"
    partial.write_text("arch_str,val_acc\n" + f"{NB201},90\n")
    measure = evaluator.open(space, {"table": str(partial), "metric": "val_acc"}, seed=0, device="cpu", build=None)
    assert measure(NB201) == (90.0, 0.0)
    other = space.sample(1, 3)[0]
    with pytest.raises(SwapfwError, match=f"architecture {other.replace('|', '.')} has no row"):
        measure(other)


def test_train_conforms_and_fails_cleanly_on_a_nan_loss(images):
    space = get_space("nb201")
    evaluator = get("evaluators", "train")
    options = {"data": images, "epochs": "1", "steps": "2", "subset": "60", "val": "40", "batch": "16"}
    found = check_evaluator(evaluator, space, options, archs=[NB201], build_options=SMALL)
    assert 0 <= found[0][0] <= 100 and found[0][1] > 0
    from swapfw.plugin_api import EvaluationFailed

    measure = evaluator.open(space, {**options, "lr": "1e30"}, seed=0, device="cpu",
                             build=lambda arch: space.build(arch, **SMALL))
    with pytest.raises(EvaluationFailed, match="loss became"):
        measure(NB201)


def test_train_refuses_bad_options(images):
    space, evaluator = get_space("nb201"), get("evaluators", "train")
    with pytest.raises(SwapfwError, match="needs --evaluator-option data="):
        evaluator.open(space, {}, seed=0, device="cpu", build=None)
    with pytest.raises(SwapfwError, match="epochs='many' is not a number"):
        evaluator.open(space, {"data": images, "epochs": "many"}, seed=0, device="cpu", build=None)
    with pytest.raises(SwapfwError, match="fewer than"):
        evaluator.open(space, {"data": images, "subset": "1000"}, seed=0, device="cpu", build=None)


def test_callable_conforms(counted):
    space = get_space("nb201")
    found = check_evaluator(get("evaluators", "callable"), space, {"function": "myeval:score"}, archs=[NB201],
                            build_options=SMALL)
    assert found[0][0] == sum(p.numel() for p in space.build(NB201, **SMALL).parameters())


# --- searches that spend evaluations ---------------------------------------------------------------


def test_a_search_answers_with_the_best_evaluated_architecture(table, tmp_path):
    report = search(tmp_path, evaluator="table", evaluator_options=table_options(table), evaluations=5)
    values = {r["arch"]: r["value"] for r in report["evaluated"]}
    assert len(values) == 5 and all(v == pytest.approx(made_up(a)) for a, v in values.items())
    assert report["best"]["arch"] == max(values, key=values.get) and report["best"]["value"] == max(values.values())
    assert report["evaluated"][0]["arch"] == report["proxy_best"]["arch"]  # the climb starts from the proxy's best
    assert report["selection"] == "climb" and report["evaluation_cost"]["simulated"] is True
    assert report["evaluation_cost"]["seconds"] == pytest.approx(sum(r["cost"] for r in report["evaluated"]))


def test_top_spends_the_evaluations_on_the_proxys_best(table, tmp_path):
    report = search(tmp_path, evaluator="table", evaluator_options=table_options(table), evaluations=4,
                    selection="top")
    assert report["evaluated"][0]["arch"] == report["proxy_best"]["arch"]
    scores = [r["score"] for r in report["evaluated"]]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("selection", ["learned", "climb"])
def test_a_selection_is_deterministic_for_a_seed(table, tmp_path, selection):
    first = search(tmp_path, evaluator="table", evaluator_options=table_options(table), evaluations=6, seed=1,
                   selection=selection)
    again = search(tmp_path, evaluator="table", evaluator_options=table_options(table), evaluations=6, seed=1,
                   selection=selection, cache="")
    assert [r["arch"] for r in first["evaluated"]] == [r["arch"] for r in again["evaluated"]]


def _edges_apart(a: str, b: str) -> int:
    space = get_space("nb201")
    return sum(x != y for x, y in zip(space.parse(a), space.parse(b)))


def test_climb_climbs_from_the_proxys_best_through_neighbours(table, tmp_path):
    from swapfw.studies.selection import CLIMB_START

    report = search(tmp_path, evaluator="table", evaluator_options=table_options(table), evaluations=8,
                    selection="climb")
    evaluated = [r["arch"] for r in report["evaluated"]]
    top = search(tmp_path, evaluator="table", evaluator_options=table_options(table), evaluations=CLIMB_START,
                 selection="top")
    assert evaluated[:CLIMB_START] == [r["arch"] for r in top["evaluated"]]
    assert len(set(evaluated)) == 8
    for i, arch in enumerate(evaluated[CLIMB_START:], CLIMB_START):  # each a one-edge step from one before it
        assert min(_edges_apart(arch, before) for before in evaluated[:i]) == 1
    assert report["proxy_best"] == top["proxy_best"]  # the climb's neighbours never change the proxy's answer
    assert report["neighbours_scored"] >= 0


def test_a_climb_measures_the_spaces_climb_proxy_beside_the_search_proxy(table, tmp_path):
    """NB201 declares climb_proxy = synflow, which is no part of its search proxy here: a climb scores
    it too (into the cache, with the search's), a search selecting ``top`` does not."""
    import sqlite3

    climb_proxy = get_space("nb201").climb_proxy
    measured = {}
    for selection in ("top", "climb"):
        cache = tmp_path / f"{selection}.sqlite"
        search(tmp_path, evaluator="table", evaluator_options=table_options(table), evaluations=4,
               selection=selection, cache=str(cache))
        with sqlite3.connect(cache) as db:
            measured[selection] = {p for (p,) in db.execute("SELECT DISTINCT proxy FROM scores")}
    assert climb_proxy in measured["climb"] and climb_proxy not in measured["top"]
    assert "swap" in measured["top"]


def test_climb_reaches_the_top_where_its_proxy_orders_neighbours_rightly():
    """On a landscape the climb's proxy orders exactly (value = 3x3 convolutions), the climb from a
    poor start reaches the best architecture, one edge per evaluation."""
    from swapfw.studies.selection import select

    space = get_space("nb201")
    convs = lambda arch: float(space.parse(arch).count("nor_conv_3x3"))  # noqa: E731
    pool = {arch: {"p": -convs(arch)} for arch in space.sample(40, 0)}  # the search's proxy: wrong way round
    pool = {arch: {"p": v["p"], "order": 0.0} for arch, v in pool.items()}
    evaluated = []

    def evaluate(arch):
        evaluated.append(arch)
        return convs(arch)

    class Space:
        climb_proxy = "order"
        canonical, mutate = space.canonical, space.mutate

    select("climb", pool, "p", Space(), 12, evaluate, 0, lambda archs: {a: {"order": convs(a)} for a in archs})
    assert max(map(convs, evaluated)) == 6.0


def test_the_cache_never_pays_twice(counted, tmp_path):
    options = {"function": "myeval:score"}
    first = search(tmp_path, evaluator="callable", evaluator_options=options, evaluations=3, selection="top")
    assert int(counted.read_text()) == 3 and not any(r["cached"] for r in first["evaluated"])
    again = search(tmp_path, evaluator="callable", evaluator_options=options, evaluations=3, selection="top")
    assert int(counted.read_text()) == 3 and all(r["cached"] for r in again["evaluated"])
    assert again["evaluation_cost"]["paid_now"] == 0 and again["best"] == first["best"]


def test_the_cache_keeps_apart_what_different_build_options_built(counted, tmp_path):
    """One architecture built at two widths is two networks: the second is measured, not read back."""
    from swapfw.studies.cache import ScoreCache
    from swapfw.studies.evaluations import Evaluations

    cache, space = ScoreCache(str(tmp_path / "c.sqlite")), get_space("nb201")
    made = lambda build: Evaluations("callable", {"function": "myeval:score"}, "nb201", space, 0, "cpu",  # noqa: E731
                                     cache, build)
    narrow, wide = made(SMALL)(NB201), made({**SMALL, "channels": 8})(NB201)
    assert int(counted.read_text()) == 2 and not wide.cached and wide.value > narrow.value
    assert made(SMALL)(NB201).cached and int(counted.read_text()) == 2


def test_a_killed_search_resumes_without_paying_again(counted, tmp_path):
    import myeval

    checkpoint = str(tmp_path / "run.json")
    options = {"function": "myeval:score"}
    myeval.FAIL_AFTER = 2  # the third evaluation 'kills' the run
    with pytest.raises(SwapfwError, match="killed"):
        search(tmp_path, evaluator="callable", evaluator_options=options, evaluations=4, selection="top",
               cache="", checkpoint=checkpoint)
    assert len(json.loads(open(checkpoint).read())["evaluated"]) == 2
    myeval.FAIL_AFTER = None
    resumed = search(tmp_path, evaluator="callable", evaluator_options=options, evaluations=4, selection="top",
                     cache="", checkpoint=checkpoint)
    assert int(counted.read_text()) == 4  # two before the kill, two after
    assert [r["cached"] for r in resumed["evaluated"]] == [True, True, False, False]
    whole = search(tmp_path, evaluator="callable", evaluator_options=options, evaluations=4, selection="top", cache="")
    assert [r["arch"] for r in whole["evaluated"]] == [r["arch"] for r in resumed["evaluated"]]


def test_a_killed_climb_resumes_without_paying_again(counted, tmp_path):
    import myeval

    checkpoint = str(tmp_path / "run.json")
    options = {"function": "myeval:score"}
    myeval.FAIL_AFTER = 4
    with pytest.raises(SwapfwError, match="killed"):
        search(tmp_path, evaluator="callable", evaluator_options=options, evaluations=6, selection="climb",
               cache="", checkpoint=checkpoint)
    myeval.FAIL_AFTER = None
    resumed = search(tmp_path, evaluator="callable", evaluator_options=options, evaluations=6, selection="climb",
                     cache="", checkpoint=checkpoint)
    assert int(counted.read_text()) == 6 and [r["cached"] for r in resumed["evaluated"]] == [True] * 4 + [False] * 2
    whole = search(tmp_path, evaluator="callable", evaluator_options=options, evaluations=6, selection="climb",
                   cache="")
    assert [r["arch"] for r in whole["evaluated"]] == [r["arch"] for r in resumed["evaluated"]]


def test_a_failed_evaluation_is_recorded_not_fatal(counted, tmp_path):
    report = search(tmp_path, evaluator="callable", evaluator_options={"function": "myeval:params_or_fail"},
                    evaluations=6, selection="top")
    failed = [r for r in report["evaluated"] if r["error"]]
    assert all(r["value"] is None and r["error"] == "odd parameter count" for r in failed)
    if len(failed) < 6:
        assert report["best"]["value"] % 2 == 0
    else:
        assert "no evaluation succeeded" in " ".join(report["notes"])


def test_the_command_line(table, tmp_path, capsys):
    base = ["search", "--space", "nb201", "--proxy", "regswap", "--population", "6", "--budget", "20", "--mu", "0.02",
            "--sigma", "0.02", "--space-option", "channels=4", "--space-option", "cells=1", "--protocol",
            "benchmark", "--data", "gaussian", "--batch", "16", "--cache", str(tmp_path / "c.sqlite")]
    result = run(*base, "--evaluator", "table", "--evaluator-option", f"table={table}", "--evaluator-option",
                 "metric=val_acc", "--evaluator-option", "cost=seconds", "--evaluations", "3", "--format", "json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and {"best", "proxy_best", "evaluated", "evaluation_cost"} <= set(report)
    assert all(set(r) >= {"arch", "value", "cost"} for r in report["evaluated"])
    result = run(*base, "--evaluator", "table", "--evaluator-option", f"table={table}", "--evaluator-option",
                 "metric=val_acc", "--evaluations", "3")
    assert result.exit_code == 0 and "evaluation cost" in result.stdout and "simulated" in result.stdout
    code, out, err = run_main(capsys, *base, "--evaluator", "table", "--evaluations", "3")
    assert code == 1 and err.strip() == "error: evaluator table needs --evaluator-option table=..."
    code, out, err = run_main(capsys, *base, "--evaluator", "table", "--evaluator-option", "colour=red",
                              "--evaluations", "3")
    assert code == 1 and err.strip().startswith("error: evaluator table has no option 'colour' (its options: table,")
    code, out, err = run_main(capsys, *base, "--evaluations", "3")
    assert code == 1 and "--evaluator and --evaluations go together" in err and len(err.strip().splitlines()) == 1


def test_own_model_finalists_are_trained(images, tmp_path):
    report = swapfw.search(space="model", space_options={"source": "nets:mlp", "input_shape": "3,8,8"},
                           proxy="regswap", mu=0.01, sigma=0.01, population=4, sample_size=2, budget=8, batch=8, cache="",
                           evaluator="train", evaluations=2,
                           evaluator_options={"data": images, "epochs": "1", "subset": "60", "val": "40"}).to_dict()
    assert len(report["evaluated"]) == 2 and all(0 <= r["value"] <= 100 for r in report["evaluated"])
    assert report["evaluation_cost"]["simulated"] is False and report["evaluation_cost"]["seconds"] > 0


def test_a_size_target_given_keeps_the_candidates_within_it(table, tmp_path):
    space = get_space("nb201")
    mu, sigma = 0.012, 0.003 ** 2
    report = search(tmp_path, evaluator="table", evaluator_options=table_options(table), evaluations=4, mu=mu,
                    sigma=sigma)
    sizes = [space.count_params(r["arch"], **SMALL) / 1e6 for r in report["evaluated"]]
    assert sizes and all((size - mu) ** 2 <= sigma for size in sizes)


def test_a_climb_under_a_budget_evaluates_only_architectures_within_it(table, tmp_path):
    """The climb's neighbours keep to the budgets as the search's own candidates do."""
    from swapfw.scoring.costs import sized_ir

    report = search(tmp_path, evaluator="table", evaluator_options=table_options(table), evaluations=8,
                    selection="climb", max_flops=1.45e6)
    flops = {r["arch"]: sized_ir(f"nb201:{r['arch']}", SMALL).flops for r in report["evaluated"]}
    assert len(flops) == 8 and all(f <= 1.45e6 for f in flops.values())
    assert report["best"]["costs"]["flops"] <= 1.45e6 and report["rejected"] > 0
