"""The Python API mirrors the CLI (same options, the same JSON), and one architecture has one
regularised SWAP whichever command scores it."""

import json
import math

import pytest
from click.testing import CliRunner

import swapfw
from swapfw.cli import cli

from conftest import data_file

SMALL = {"channels": 4, "cells": 1}
#: fields that time or size the run, not its values
TIMING = {"seconds", "wall_seconds", "memory"}


def _values(report):
    """The report without its timing fields, at any depth."""
    if isinstance(report, dict):
        return {k: _values(v) for k, v in report.items() if k not in TIMING}
    if isinstance(report, list):
        return [_values(v) for v in report]
    return report


def _cli_json(*args):
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def table(tmp_path, write_truth):
    path, _ = write_truth(tmp_path / "truth.csv", 10, seed=4, acc=lambda i, arch: (i * 37) % 11)
    return path


def test_correlate_from_python_prints_what_the_cli_prints(table, tmp_path):
    result = swapfw.correlate(space="nb201", truth=str(table), metric="acc", proxies=["swap", "params"], samples=4,
                              seeds=[0, 1], space_options=SMALL, cache=str(tmp_path / "a.sqlite"))
    printed = _cli_json("correlate", "--space", "nb201", "--truth", str(table), "--metric", "acc", "--proxies",
                        "swap,params", "--samples", "4", "--seeds", "0,1", "--space-option", "channels=4",
                        "--space-option", "cells=1", "--cache", str(tmp_path / "b.sqlite"))
    assert _values(result.to_dict()) == _values(printed)
    assert result.proxies["swap"] == result["proxies"]["swap"] and len(result.report["per_seed"]) == 2


def test_search_from_python_prints_what_the_cli_prints(tmp_path):
    result = swapfw.search(space="nb201", proxy="swap", population=4, sample_size=2, budget=8, seed=2,
                           space_options={"channels": 4, "cells": 1}, no_cache=True)
    printed = _cli_json("search", "--space", "nb201", "--proxy", "swap", "--population", "4", "--sample-size", "2",
                        "--budget", "8", "--seed", "2", "--space-option", "channels=4", "--space-option", "cells=1",
                        "--no-cache")
    assert _values(result.to_dict()) == _values(printed)
    assert result.searcher == "swap-nas" and result.executor["name"] == "local"  # the declared defaults


def test_every_command_has_its_function_and_its_json():
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    assert _values(swapfw.score(f"nb201:{arch}", space_options=SMALL).to_dict()) == \
        _values(_cli_json("score", f"nb201:{arch}", "--space-option", "channels=4", "--space-option", "cells=1"))
    assert swapfw.protocols("nb201").to_dict() == _cli_json("protocols", "nb201")
    assert swapfw.space_info("nb201").to_dict() == _cli_json("space-info", "nb201")
    converted = swapfw.convert("nb201", "1234", to="arch")
    assert converted.to_dict() == _cli_json("convert", "nb201", "1234") and converted["from"] == "index"
    listed = swapfw.plugin_info().to_dict()
    assert listed == _cli_json("plugins") and any(p["default"] for p in listed["searchers"])


def test_option_values_take_python_values_or_the_command_line_text(table, tmp_path):
    as_text = swapfw.correlate(space="nb201", truth=str(table), metric="acc", proxies="swap,params", samples=5,
                               seeds="0", space_options=["channels=4", "cells=1"], input_shape="3,16,16",
                               no_cache=True)
    as_values = swapfw.correlate(space="nb201", truth=str(table), metric="acc", proxies=["swap", "params"], samples=5,
                                 seeds=[0], space_options=SMALL, input_shape=(3, 16, 16), no_cache=True)
    assert _values(as_text.to_dict()) == _values(as_values.to_dict())
    with pytest.raises(swapfw.SwapfwError, match="--space-option takes KEY=VALUE"):
        swapfw.score("nb201:" + "x", space_options=["channels"])


def test_one_architecture_has_one_regswap_in_score_correlate_and_search(tmp_path, write_truth):
    """Same protocol, data and seed: score --mu auto, correlate --save and search agree exactly."""
    found = swapfw.search(space="nb201", proxy="regswap", population=5, sample_size=2, budget=5, seed=0,
                          no_cache=True).to_dict()["best"]
    scored = swapfw.score(f"nb201:{found['arch']}", mu="auto", sigma="auto", seed=0)
    path, archs = write_truth(tmp_path / "t.csv", 4, seed=11, acc=lambda i, arch: i)
    with open(path, "a") as fh:
        fh.write(f"{found['arch']},9\n")
    saved = tmp_path / "saved.json"
    swapfw.correlate(space="nb201", truth=str(path), metric="acc", proxies=["regswap"], samples=5, seeds=[0],
                     no_cache=True, save=str(saved))
    report = json.loads(saved.read_text())["per_seed"][0]
    in_correlate = report["scores"]["regswap"][report["archs"].index(found["arch"])]
    assert math.isfinite(found["score"]) and found["score"] == scored.regswap == in_correlate
    assert report["mu"] == scored.mu and report["sigma"] == scored.sigma


def test_the_issues_example_runs():
    truth = data_file("nb201", "nb201.csv")
    proxies = swapfw.correlate(space="nb201", truth=str(truth), metric="cifar10_val", proxies=["swap", "params"],
                               samples=12, seeds=[0], no_cache=True).to_dict()["proxies"]
    assert set(proxies) == {"swap", "params"} and all(-1 <= p["spearman_mean"] <= 1 for p in proxies.values())
