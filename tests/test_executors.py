"""Executors: the same scores wherever tasks run, failures retried once then reported, workers that die."""

import importlib.util
import json
import re
import shutil
import socket
import subprocess

import pytest

import executor_helpers
from swapfw.cli import main
from swapfw.studies.correlate import CorrelateSettings, correlate
from swapfw.errors import SwapfwError
from swapfw.running.executors import ExecutorSpec
from swapfw.studies.search import SearchSettings, search

ARCHS = 48
PROXIES = ["swap", "regswap", "params", "synflow", "jacov", "nwot", "meco"]
NEEDS_RAY = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="Ray is not installed (pip install 'swapfw[ray]')")
PARALLEL = [pytest.param(ExecutorSpec("processes", workers=2, threads=1), id="processes"),
            pytest.param(ExecutorSpec("ray", workers=2, threads=1), id="ray", marks=NEEDS_RAY)]


@pytest.fixture(scope="module")
def truth(tmp_path_factory, write_truth):
    """A truth table of NB201 architectures; the metric only has to be the same for every run."""
    return write_truth(tmp_path_factory.mktemp("truth") / "truth.csv", ARCHS, 7, acc=lambda i, _: (i * 37) % ARCHS)


@pytest.fixture
def small_truth(tmp_path, write_truth):
    return write_truth(tmp_path / "truth.csv", 8, 7, acc=lambda i, _: (i * 37) % 8)


def run(truth, executor, proxies=PROXIES, **kw):
    settings = CorrelateSettings(space="nb201", truth=str(truth[0]), metric="acc", proxies=list(proxies),
                                 samples=kw.pop("samples", ARCHS), cache=kw.pop("cache", ""), **kw)
    return correlate(settings, executor=executor)


@pytest.fixture(scope="module")
def local_report(truth):
    return run(truth, ExecutorSpec("local", threads=1))


@pytest.mark.parametrize("executor", PARALLEL)
def test_every_executor_gives_identical_scores(truth, local_report, executor):
    report = run(truth, executor)
    assert report["executor"] == {"name": executor.name, "workers": 2}
    assert report["failed"] == []
    ours, theirs = report["per_seed"][0], local_report["per_seed"][0]
    assert ours["archs"] == theirs["archs"]
    assert json.dumps(ours["scores"]) == json.dumps(theirs["scores"])  # bit for bit, NaN included
    assert report["proxies"] == {p: {**v, "seconds": report["proxies"][p]["seconds"]}
                                 for p, v in local_report["proxies"].items()}


@pytest.fixture
def helpers(temporary_plugin, monkeypatch, tmp_path):
    temporary_plugin(executor_helpers, "executor_helpers")
    monkeypatch.setenv("SWAPFW_TEST_MARKER", str(tmp_path / "killed"))
    return tmp_path / "killed"


@pytest.mark.parametrize("executor", PARALLEL)
def test_a_killed_worker_is_retried_and_the_run_completes(truth, local_report, helpers, monkeypatch, executor):
    monkeypatch.setenv("SWAPFW_TEST_TARGET", truth[1][5])
    report = run(truth, executor, proxies=["swap", "dies_once"])
    assert helpers.exists()  # a worker really died, on the target
    assert report["failed"] == []
    scores = report["per_seed"][0]["scores"]
    assert scores["swap"] == local_report["per_seed"][0]["scores"]["swap"]  # every result, the killed one too
    assert scores["dies_once"] == local_report["per_seed"][0]["scores"]["params"]


def test_a_task_that_fails_twice_is_reported_and_the_rest_complete(small_truth, helpers, monkeypatch, tmp_path):
    target = small_truth[1][3]
    monkeypatch.setenv("SWAPFW_TEST_TARGET", target)
    cache = str(tmp_path / "scores.sqlite")
    report = run(small_truth, ExecutorSpec("local"), proxies=["always_fails", "params"], samples=8, cache=cache)
    assert [(f["seed"], f["arch"], f["proxy"]) for f in report["failed"]] == [(0, target, "always_fails")]
    assert report["failed"][0]["error"].endswith("RuntimeError: broken on purpose")
    assert report["proxies"]["always_fails"]["not_finite"] == 1 and report["proxies"]["params"]["not_finite"] == 0
    assert any("failed twice" in note for note in report["notes"])
    again = run(small_truth, ExecutorSpec("local"), proxies=["always_fails", "params"], samples=8, cache=cache)
    assert again["cached_values"] == 2 * 8 - 1  # the failure was not cached: the rerun tried it again
    assert len(again["failed"]) == 1


def test_an_out_of_memory_task_is_reported_as_such(small_truth, helpers, monkeypatch):
    monkeypatch.setenv("SWAPFW_TEST_TARGET", small_truth[1][0])
    report = run(small_truth, ExecutorSpec("local"), proxies=["runs_out_of_memory"], samples=8)
    assert [(f["arch"], f["error"]) for f in report["failed"]] == [
        (small_truth[1][0], "out of memory: lower --batch or the input size")]


def test_a_setting_that_fails_every_task_stops_the_run_with_its_error(small_truth):
    with pytest.raises(SwapfwError, match="the first 3 tasks failed, e.g. nb201:.*does not run on an input"):
        run(small_truth, ExecutorSpec("processes", workers=2), proxies=["swap"], input_shape=(3, 1, 1), samples=8)


@pytest.mark.parametrize("searcher", ["swap-nas", "aging-evolution"])
def test_search_is_the_same_on_worker_processes(searcher):
    settings = dict(space="nb201", searcher=searcher, proxy="regswap", population=6, cycles=3, sample_size=3, mutations=3,
                    mu=0.02, sigma=0.02, build_options={"channels": 4, "cells": 1}, cache="")
    local = search(SearchSettings(**settings), executor=ExecutorSpec("local", threads=1))
    spread = search(SearchSettings(**settings), executor=ExecutorSpec("processes", workers=2))
    for key in ("best", "history", "evaluations", "repeated", "failed"):
        assert spread[key] == local[key], key
    assert spread["executor"] == {"name": "processes", "workers": 2}


def test_bad_executor_options_are_one_line_errors(truth, capsys, monkeypatch):
    base = ["correlate", "--space", "nb201", "--truth", str(truth[0]), "--metric", "acc", "--samples", "4",
            "--proxies", "params", "--no-cache"]
    for extra, message in [(["--executor", "threads"], "unknown executor 'threads' (known: local, processes, ray"),
                           (["--executor", "processes", "--workers", "0"], "--workers must be at least 1")]:
        with pytest.raises(SystemExit) as exit:
            main(base + extra)
        assert exit.value.code == 1
        assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"error: {message}")
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(SystemExit):
        main(base + ["--executor", "ray"])
    assert capsys.readouterr().err.strip().endswith("the ray executor needs Ray: pip install 'swapfw[ray]'")


def test_the_cli_spreads_correlate_over_processes(truth, tmp_path, capsys):
    out = tmp_path / "report.json"
    main(["correlate", "--space", "nb201", "--truth", str(truth[0]), "--metric", "acc", "--samples", "6",
          "--proxies", "swap,params", "--no-cache", "--executor", "processes", "--workers", "2", "--save", str(out)])
    report = json.loads(out.read_text())
    assert report["executor"] == {"name": "processes", "workers": 2}
    assert all(v > 0 for v in report["per_seed"][0]["scores"]["swap"])
    # what a worker needs, as its tasks reported it: torch alone is a few hundred MB resident; no GPU here
    assert report["memory"]["peak_process_rss_mb"] > 100 and report["memory"]["peak_task_gpu_mb"] == 0
    assert f"memory: a scoring process peaked at {report['memory']['peak_process_rss_mb']:,.0f} MB resident\n" \
        in capsys.readouterr().out


def test_worker_processes_take_one_gpu_each(monkeypatch):
    """With several GPUs and --device cuda, the n-th worker started takes GPU n mod count."""
    import multiprocessing

    import torch

    from swapfw_plugins.executors import processes

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert processes._gpus("cuda") == 2 and processes._gpus("cuda:1") == 0 and processes._gpus("cpu") == 0
    taken = []
    monkeypatch.setattr(torch.cuda, "set_device", taken.append)
    threads = torch.get_num_threads()
    started = multiprocessing.get_context("spawn").Value("i", 0)
    try:
        for _ in range(3):
            processes._setup_worker(1, started, 2)
    finally:
        torch.set_num_threads(threads)
    assert taken == [0, 1, 0]


@pytest.fixture
def ray_head(monkeypatch):
    """A one-node Ray cluster started with `ray start --head`, as on a real head node."""
    if shutil.which("ray") is None:
        pytest.skip("the ray command is not installed (pip install 'swapfw[ray]')")
    with socket.socket() as probe:
        probe.bind(("", 0))
        port = probe.getsockname()[1]
    started = subprocess.run(["ray", "start", "--head", "--port", str(port), "--num-cpus", "2",
                              "--include-dashboard=false", "--disable-usage-stats"],
                             capture_output=True, text=True, timeout=120)
    address = re.search(r"--address='([^']+)'", started.stdout + started.stderr)
    assert started.returncode == 0 and address, started.stderr[-2000:]
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # Ray 2.59+ protects a cluster started here with a token
    yield address.group(1)
    subprocess.run(["ray", "stop", "--force"], capture_output=True, timeout=120)


def test_ray_joins_a_running_cluster_by_address(ray_head, truth, local_report):
    report = run(truth, ExecutorSpec("ray", threads=1, address=ray_head), samples=ARCHS, proxies=["swap", "params"])
    assert report["executor"] == {"name": "ray", "workers": 2}
    ours, theirs = report["per_seed"][0]["scores"], local_report["per_seed"][0]["scores"]
    assert ours == {"swap": theirs["swap"], "params": theirs["params"]}


@NEEDS_RAY
def test_an_unreachable_ray_cluster_is_a_one_line_error(truth):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SwapfwError, match=f"cannot reach the Ray cluster at 127.0.0.1:{port}"):
        run(truth, ExecutorSpec("ray", address=f"127.0.0.1:{port}"), proxies=["params"], samples=2)
