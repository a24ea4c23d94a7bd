"""Plugins load through the ``swapfw`` entry-point group, bundled and third-party alike."""

import json
import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from swapfw import hookimpl, plugins
from swapfw.errors import SwapfwError

EXAMPLE = Path(__file__).parent / "plugin_example"


def test_bundled_plugins_come_from_entry_points_of_the_swapfw_distribution():
    registry = plugins.get_registry()
    assert {"relu", "sign"} <= set(registry.names("binarisers"))
    assert {"swap", "patterns", "params", "flops"} <= set(registry.names("proxies"))
    entry = registry.entry("binarisers", "relu")
    assert entry.distribution.startswith("swapfw ")
    assert entry.plugin == "binariser_relu"  # the entry point's name, not a hard-coded import


def test_core_never_imports_bundled_plugins_by_name():
    core = Path(plugins.__file__).parent
    for source in core.rglob("*.py"):
        text = source.read_text()
        assert not re.search(r"(from|import)\s+swapfw_plugins", text), source
        assert "importlib.import_module(\"swapfw_plugins" not in text, source


def test_unknown_plugin_names_the_known_ones():
    with pytest.raises(SwapfwError, match=r"unknown binariser 'nope' \(known: .*relu.*sign"):
        plugins.get("binarisers", "nope")


class _RaisesWhileRegistering:
    @hookimpl
    def register_proxies(self, register):
        raise RuntimeError("cannot register today")


class _RegistersOne:
    name = "one"
    needs = frozenset()

    def score(self, network, batch, *, seed):
        return 1.0

    @hookimpl
    def register_proxies(self, register):
        register(self)


def test_a_plugin_that_raises_is_recorded_by_name_and_others_still_load(temporary_plugin):
    temporary_plugin(_RaisesWhileRegistering(), "grumpy")
    temporary_plugin(_RegistersOne(), "fine")
    registry = plugins.get_registry()
    assert "one" in registry.names("proxies")
    broken = {b.plugin: b.error for b in registry.broken}
    assert broken["grumpy"] == "RuntimeError: cannot register today"
    assert "swap" in registry.names("proxies")
    plugins.unregister_plugin("grumpy")
    assert not plugins.get_registry().broken


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """Build and install tests/plugin_example into a private target folder, as pip would for a user."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("src") / "plugin_example"
    shutil.copytree(EXAMPLE, source)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(source)], check=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target), env.get("PYTHONPATH", "")])
    return env


def swapfw_cli(env, *args):
    return subprocess.run([sys.executable, "-m", "swapfw", *args], env=env, capture_output=True, text=True)


def test_third_party_plugins_are_listed_with_their_distribution(installed_example):
    out = swapfw_cli(installed_example, "plugins", "--format", "json")
    assert out.returncode == 0, out.stderr
    listing = json.loads(out.stdout)
    proxies = {p["name"]: p["distribution"] for p in listing["proxies"]}
    binarisers = {b["name"]: b["distribution"] for b in listing["binarisers"]}
    assert proxies["conv_count"] == "swapfw-example 0.1.0"
    assert binarisers["centred"] == "swapfw-example 0.1.0"
    assert proxies["swap"].startswith("swapfw ")
    broken = {b["plugin"]: b["error"] for b in listing["broken"]}
    assert broken["example_broken_import"] == "ImportError: this plugin is broken on purpose"
    table = swapfw_cli(installed_example, "plugins")
    assert "conv_count" in table.stdout and "centred" in table.stdout
    assert "broken plugin example_broken_import" in table.stderr and "Traceback" not in table.stderr


def test_third_party_proxy_and_binariser_work_from_the_cli(installed_example):
    base = ["score", "nets:small_relu", "--format", "json", "--batch", "8"]
    plain = json.loads(swapfw_cli(installed_example, *base).stdout)
    out = swapfw_cli(installed_example, *base, "--proxy", "conv_count", "--binariser", "centred")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["proxies"] == {"conv_count": 2.0}
    assert result["binarisers"] == {"relu": "centred"}
    assert result["swap"] != plain["swap"]  # a different binarisation gives a different count


def test_a_proxy_that_raises_is_reported_by_name_without_traceback(installed_example):
    out = swapfw_cli(installed_example, "score", "nets:small_relu", "--proxy", "always_fails")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "error: plugin 'always_fails (swapfw-example 0.1.0)' failed: ValueError: deliberate failure inside the plugin"]


class _HalfSpace:
    """A space that lacks ``crossover`` and whose ``sample`` takes no seed."""

    name = "half"
    description = "half a search space"
    input_shape = (3, 8, 8)

    def canonical(self, arch):
        return arch

    def build(self, arch, **options):
        raise NotImplementedError

    def sample(self, count):
        return []

    def mutate(self, arch, rng, kind="op"):
        return arch


class _TextNeeds:
    name = "text_needs"
    needs = "patterns"  # a string, not a collection of strings

    def score(self, network, batch, *, seed):
        return 0.0


class _MixedPlugin:
    @hookimpl
    def register_spaces(self, register):
        register(_HalfSpace())

    @hookimpl
    def register_proxies(self, register):
        register(_TextNeeds())
        register(_RegistersOne())


def test_registration_checks_each_object_against_its_contract(temporary_plugin):
    temporary_plugin(_MixedPlugin(), "mixed")
    registry = plugins.get_registry()
    errors = [b.error for b in registry.broken if b.plugin == "mixed"]
    assert any("search space 'half' (Space)" in e and "lacks method crossover(a, b, rng)" in e
               and "sample cannot be called as sample(count, seed)" in e for e in errors), errors
    assert any("proxy 'text_needs' (Proxy): attribute needs should be a collection of strings" in e for e in errors)
    assert "half" not in registry.names("spaces") and "text_needs" not in registry.names("proxies")
    assert "one" in registry.names("proxies")  # the plugin's conforming object still registers


def test_contract_members_all_have_a_docstring():
    from swapfw import contracts

    for protocol in (contracts.Space, contracts.Proxy, contracts.DerivedProxy, contracts.PopulationProxy,
                     contracts.ParametrisedProxy, contracts.Searcher, contracts.Binariser, contracts.Executor,
                     contracts.Pool):
        for name, _, _, doc in contracts.members(protocol):
            assert doc, f"{protocol.__name__}.{name} has no docstring"


def test_every_bundled_plugin_conforms(capsys):
    from swapfw.cli import main

    main(["plugins", "--check"])  # exits (status 1) only when a plugin is broken
    out = capsys.readouterr().out
    assert "swap" in out and "0 broken" in out and "Space" in out and "Searcher" in out


def test_check_names_the_missing_member_of_a_third_party_plugin(installed_example):
    out = swapfw_cli(installed_example, "plugins", "--check")
    assert out.returncode == 1
    assert ("broken plugin example (swapfw-example 0.1.0): searcher 'no_run' (Searcher): lacks method "
            "run(space, evaluate, settings, rng, on_cycle)") in out.stderr
    assert re.search(r"tiny-mlp\s+Space\s+ok", out.stdout) and re.search(r"hill-climb\s+Searcher\s+ok", out.stdout)
    assert re.search(r"threads\s+Executor\s+ok", out.stdout)


def test_a_third_party_space_searcher_and_executor_work_from_the_cli(installed_example, tmp_path):
    scored = swapfw_cli(installed_example, "score", "tiny-mlp:16-32", "--format", "json")
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["params"] == 192 * 16 + 16 + 16 * 32 + 32 + 32 * 10 + 10
    found = swapfw_cli(installed_example, "search", "--space", "tiny-mlp", "--searcher", "hill-climb", "--proxy", "swap",
                       "--population", "1", "--sample-size", "1", "--cycles", "3", "--mutations", "3",
                       "--executor", "threads", "--workers", "2", "--no-cache", "--format", "json")
    assert found.returncode == 0, found.stderr
    report = json.loads(found.stdout)
    assert report["executor"] == {"name": "threads", "workers": 2}
    assert 2 <= report["evaluations"] <= 10 and len(report["history"]) == 3
    assert report["history"] == sorted(report["history"])  # hill climbing never goes down
    truth = tmp_path / "truth.csv"
    archs = ["4-4", "4-32", "8-8", "16-4", "16-16", "32-8", "32-32"]
    def size(arch):
        first, second = map(int, arch.split("-"))
        return 192 * first + first + first * second + second + second * 10 + 10

    truth.write_text("arch,size\n" + "".join(f"{a},{size(a)}\n" for a in archs))
    correlated = swapfw_cli(installed_example, "correlate", "--space", "tiny-mlp", "--truth", str(truth),
                            "--metric", "size", "--proxies", "params,swap", "--samples", "7", "--executor", "threads",
                            "--no-cache", "--format", "json")
    assert correlated.returncode == 0, correlated.stderr
    assert json.loads(correlated.stdout)["proxies"]["params"]["spearman_mean"] == pytest.approx(1.0)
    spent = swapfw_cli(installed_example, "search", "--space", "tiny-mlp", "--proxy", "swap", "--population", "4",
                       "--sample-size", "2", "--budget", "8", "--evaluator", "smallest", "--evaluator-option",
                       "scale=1000", "--evaluations", "3", "--no-cache", "--format", "json")
    assert spent.returncode == 0, spent.stderr
    report = json.loads(spent.stdout)
    assert len(report["evaluated"]) == 3 and report["best"]["value"] == max(r["value"] for r in report["evaluated"])
    assert report["best"]["value"] == pytest.approx(-size(report["best"]["arch"]) / 1000)
    # a latency table for another device: the budget holds and the report names the table, not this machine
    every = [f"{a}-{b}" for a in (4, 8, 16, 32) for b in (4, 8, 16, 32)]
    table = tmp_path / "latency.csv"
    table.write_text("arch,ms\n" + "".join(f"{a},{size(a) / 1000}\n" for a in every))
    limited = swapfw_cli(installed_example, "search", "--space", "tiny-mlp", "--proxy", "params", "--population", "4",
                         "--sample-size", "2", "--budget", "6", "--latency-runtime", "latency-table", "--latency-option",
                         f"table={table}", "--max-latency-ms", "2", "--no-cache", "--format", "json")
    assert limited.returncode == 0, limited.stderr
    report = json.loads(limited.stdout)
    assert report["best"]["costs"]["latency"] == size(report["best"]["arch"]) / 1000 <= 2
    assert report["latency"]["runtime"] == "latency-table" and "another device" in report["latency"]["machine"]
    assert report["rejected"] >= 1


def test_a_space_refuses_build_options_its_build_does_not_take():
    """A typo in --space-option is named before anything is built, with the options there are;
    a build taking **options (DARTS, the model space) checks its own."""
    with pytest.raises(SwapfwError, match=r"space 'transnas-micro' has no build option 'tsk'; its options: task, "):
        plugins.get_space("transnas-micro", {"tsk": "autoencoder"})
    with pytest.raises(SwapfwError, match=r"no build option 'cell', 'chanels'; its options: classes, channels, cells"):
        plugins.get_space("nb201", {"chanels": 8, "cell": 2})
    assert plugins.get_space("nb201", {"channels": 8, "cells": 2}) is plugins.get("spaces", "nb201")
    # darts' build takes **unknown and refuses what it does not know itself (tests/test_darts.py)
    assert plugins.get_space("darts", {"cells": 5}) is plugins.get("spaces", "darts")
