"""Calibrated aggregation: each part's quantile against a fixed reference sample of the space, so one
architecture has one score in score, correlate and search."""

import math

import pytest

from swapfw.errors import SwapfwError
from swapfw.plugins import get
from swapfw.studies.correlate import CorrelateSettings, correlate
from swapfw.studies.reference import REFERENCE_SEED, reference_archs
from swapfw.studies.search import SearchSettings, search
from swapfw_plugins.proxies import calibrated
from swapfw_plugins.proxies.calibrated import CalibratedAggregate, quantile

PROTOCOL = dict(protocol="benchmark", build_options={"channels": 4, "cells": 1}, batch=8, data="gaussian")


@pytest.fixture
def small_reference(monkeypatch):
    monkeypatch.setattr(CalibratedAggregate, "reference", 12)
    return 12


def test_quantiles_are_mid_ranks_strictly_inside_zero_and_one():
    reference = [1.0, 2.0, 2.0, 3.0]
    assert quantile(0.0, reference) == pytest.approx(0.5 / 5)
    assert quantile(2.0, reference) == pytest.approx((1 + 1 + 0.5) / 5)
    assert quantile(9.0, reference) == pytest.approx(4.5 / 5)
    assert all(0 < quantile(v, reference) < 1 for v in (-1e9, 1.5, 1e9))


def test_the_reference_sample_is_fixed_and_drawn_from_the_space_alone():
    space = get("spaces", "nb201")
    assert reference_archs(space, 5) == [space.canonical(a) for a in space.sample(5, REFERENCE_SEED)]


def test_one_architecture_has_one_score_in_correlate_score_and_search(small_reference, tmp_path, write_truth):
    truth, archs = write_truth(tmp_path / "t.csv", 6, 11, acc=lambda i, _: i)
    cache = str(tmp_path / "cache.sqlite")
    name = "calibrated:swap+params"
    report = correlate(CorrelateSettings(space="nb201", truth=str(truth), metric="acc", proxies=[name, "swap", "params"],
                                         samples=6, seeds=[0], cache=cache, **PROTOCOL))
    scores = report["per_seed"][0]["scores"]
    by_arch = dict(zip(report["per_seed"][0]["archs"], scores[name]))
    # recompute one value by hand from the reference sample's values
    reference = correlate(CorrelateSettings(space="nb201", truth=str(truth), metric="acc", proxies=["swap", "params"],
                                            samples=6, seeds=[0], cache=cache, **PROTOCOL))
    assert reference["cached_values"] == 12  # the six archs came from the cache; the reference too, below
    from swapfw.running.executors import ExecutorSpec, open_pool
    from swapfw.studies.cache import ScoreCache
    from swapfw.studies.evaluate import Scorer, ScoringSettings

    with open_pool(ExecutorSpec()) as pool:
        scorer = Scorer(ScoringSettings(space="nb201", **PROTOCOL), ["swap", "params"], 0, ScoreCache(cache), pool)
        values, computed = scorer.measure_many(reference_archs(get("spaces", "nb201"), 12))
    assert not computed  # measured once, by the first correlate, and cached
    swaps = sorted(v["swap"] for v in values.values())
    params = sorted(v["params"] for v in values.values())
    arch = report["per_seed"][0]["archs"][0]
    i = 0
    expected = math.log(quantile(scores["swap"][i], swaps)) + math.log(quantile(scores["params"][i], params))
    assert by_arch[arch] == pytest.approx(expected)

    from swapfw import score

    options = {k: v for k, v in PROTOCOL.items() if k != "build_options"}
    single = score(f"nb201:{arch}", proxies=(name,), space_options=PROTOCOL["build_options"], **options)
    assert single.proxies[name] == pytest.approx(by_arch[arch])

    found = search(SearchSettings(space="nb201", proxy=name, population=4, cycles=2, sample_size=2, mutations=2,
                                  cache=cache, **PROTOCOL))
    assert math.isfinite(found["best"]["score"]) and found["best"]["score"] < 0  # a sum of log quantiles


def test_calibrated_needs_its_parts_and_no_nested_calibration(small_reference, tmp_path, write_truth):
    with pytest.raises(SwapfwError, match="calibrated:ARG|takes an argument"):
        from swapfw.scoring.proxies import proxy_entry
        proxy_entry("calibrated")
    truth, _ = write_truth(tmp_path / "t.csv", 4, 1, acc=lambda i, _: i)
    with pytest.raises(SwapfwError, match="calibrated itself"):
        correlate(CorrelateSettings(space="nb201", truth=str(truth), metric="acc",
                                    proxies=["calibrated:swap+calibrated:params"], samples=4, cache="", **PROTOCOL))


def test_the_reference_is_scored_once_whatever_the_run_seed(small_reference, tmp_path, write_truth, monkeypatch):
    """Every seed's run compares with the same reference values: scored with REFERENCE_SEED, cached once."""
    from swapfw.studies import reference

    truth, _ = write_truth(tmp_path / "t.csv", 5, 7, acc=lambda i, _: i)
    cache = str(tmp_path / "cache.sqlite")
    seen = []
    measure = reference.measure

    def spy(*args, **kwargs):
        values = measure(*args, **kwargs)
        seen.append(values)
        return values

    monkeypatch.setattr(reference, "measure", spy)
    for seed in (0, 3):
        correlate(CorrelateSettings(space="nb201", truth=str(truth), metric="acc", proxies=["calibrated:swap+params"],
                                    samples=5, seeds=[seed], cache=cache, **{**PROTOCOL, "batch": 16}))
    assert len(seen) == 2 and seen[0] == seen[1]
    swaps = seen[0]["calibrated:swap+params"]["swap"]
    assert len(swaps) == 12 and len(set(swaps)) > 1
