"""`swapfw correlate`, the ground-truth loader, the score cache and specs, on a small NB201 setup."""

import json
import sqlite3

import pytest
from click.testing import CliRunner

from swapfw.studies.cache import ScoreCache
from swapfw.cli import cli, main
from swapfw.studies.correlate import CorrelateSettings, correlate
from swapfw.errors import SwapfwError
from swapfw.plugins import get

SMALL = {"channels": 4, "cells": 1}  # a reduced scoring network keeps these tests fast


@pytest.fixture(scope="module")
def table(tmp_path_factory, write_truth):
    """A truth table over 40 NB201 archs; the metric is the cell's convolution weight per channel pair."""
    space = get("spaces", "nb201")
    path, _ = write_truth(tmp_path_factory.mktemp("truth") / "truth.csv", 40, 123,
                          convs=lambda i, arch: sum({"nor_conv_3x3": 9, "nor_conv_1x1": 1}.get(op, 0)
                                                    for op in space.parse(arch)),
                          text=lambda i, arch: "x")
    return path


def settings(table, tmp_path, **kw):
    base = dict(space="nb201", truth=str(table), metric="convs", proxies=["swap", "regswap", "params", "flops"],
                samples=12, seeds=[0, 1], data="gaussian", batch=16, build_options=dict(SMALL),
                cache=str(tmp_path / "cache.sqlite"))
    base.update(kw)
    return CorrelateSettings(**base)


def test_report_has_every_field_and_sizes_rank_with_convolutions(table, tmp_path):
    report = correlate(settings(table, tmp_path))
    assert report["space"] == "nb201" and report["metric"] == "convs" and report["seeds"] == [0, 1]
    for name in ("swap", "regswap", "params", "flops"):
        entry = report["proxies"][name]
        assert set(entry) >= {"spearman_mean", "spearman_std", "kendall_mean", "kendall_std", "seconds"}
        assert -1 <= entry["spearman_mean"] <= 1
    assert report["proxies"]["params"]["spearman_mean"] > 0.95  # parameters grow with the cell's conv weights
    first = report["per_seed"][0]
    assert len(first["archs"]) == 12 and len(set(first["archs"])) == 12
    # auto mu = the largest size of the space's reference sample, sigma = mu^2, from sizes alone (as score and search)
    from swapfw.studies import reference
    from swapfw.studies.correlate import CorrelateSettings

    sizes = reference.sizes(CorrelateSettings(space="nb201", truth=str(table), metric="convs", build_options=SMALL),
                            None, None)
    assert first["mu"] == max(sizes) / 1e6 == report["per_seed"][1]["mu"]
    assert first["sigma"] == pytest.approx(first["mu"] ** 2)


def test_rerun_reuses_the_cache_and_gives_identical_results(table, tmp_path):
    first = correlate(settings(table, tmp_path))
    second = correlate(settings(table, tmp_path))
    assert first["cached_values"] == 0
    assert second["cached_values"] == 2 * 12 * 3  # swap, params, flops for 12 archs x 2 seeds
    assert second["per_seed"][0]["scores"] == first["per_seed"][0]["scores"]
    assert second["proxies"]["swap"]["seconds"] == 0


def test_an_interrupted_run_resumes_from_the_cache(table, tmp_path):
    calls = []

    def stop_after_five(n, total, label):
        calls.append(n)
        if len(calls) == 6:  # progress(0) once the work starts, then one an architecture
            raise KeyboardInterrupt
        assert total == 12 and label == "nb201 vs convs"

    with pytest.raises(KeyboardInterrupt):
        correlate(settings(table, tmp_path, seeds=[0]), progress=stop_after_five)
    resumed = correlate(settings(table, tmp_path, seeds=[0]))
    assert resumed["cached_values"] == 5 * 3


def test_a_corrupt_cache_is_reported_and_rebuilt(table, tmp_path, capsys):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    report = correlate(settings(table, tmp_path, seeds=[0], samples=4))
    assert report["proxies"]["params"]["spearman_mean"] == report["proxies"]["params"]["spearman_mean"]
    assert "unreadable" in capsys.readouterr().err
    assert list(tmp_path.glob("cache.sqlite.corrupt-*"))
    assert sqlite3.connect(path).execute("SELECT count(*) FROM scores").fetchone()[0] == 4 * 3


def test_cache_keys_separate_protocols(tmp_path):
    cache = ScoreCache(tmp_path / "c.sqlite")
    who = "swapfw 0.1.0; swapfw 0.1.0; swapfw 0.1.0"
    key = ("nb201", "a", "swap", "gaussian", 16, 0, "{}", who)
    cache.put(key, 5.0)
    cache.put(key[:-2] + ('{"repeats": 2}', who), 6.0)
    cache.put(("nb201", "a", "nan", "gaussian", 16, 0, "{}", who), float("nan"))
    assert cache.get(key) == 5.0 and cache.get(key[:-2] + ('{"repeats": 2}', who)) == 6.0
    assert cache.get(("nb201", "a", "nan", "gaussian", 16, 0, "{}", who)) != cache.get(key)
    assert cache.get(("nb201", "b", "swap", "gaussian", 16, 0, "{}", who)) is None
    assert cache.get(key[:-1] + ("swapfw 0.1.0; my-proxies 2.0; swapfw 0.1.0",)) is None  # another proxy version


@pytest.mark.parametrize("change, message", [
    ({"truth": "/nonexistent/t.csv"}, "does not exist"),
    ({"metric": "accuracy"}, "no column 'accuracy' (columns: arch, convs, text)"),
    ({"metric": "text"}, "not a number"),
    ({"arch_column": "name"}, "no architecture column name"),
    ({"samples": 41}, "between 1 and the 40"),
    ({"proxies": ["nope"]}, "unknown proxy 'nope'"),
])
def test_bad_settings_are_one_line_errors(table, tmp_path, change, message):
    with pytest.raises(SwapfwError) as err:
        correlate(settings(table, tmp_path, **change))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_unparsable_architecture_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("arch,acc\n|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|,1\n|conv~0|+|,2\n")
    with pytest.raises(SwapfwError, match=r"bad.csv:3: "):
        correlate(settings(bad, tmp_path, metric="acc"))


def test_cli_json_and_progress_on_stderr(table, tmp_path):
    result = CliRunner().invoke(cli, [
        "correlate", "--space", "nb201", "--truth", str(table), "--metric", "convs", "--proxies", "swap,params",
        "--samples", "6", "--seeds", "0", "--batch", "8", "--space-option", "channels=4",
        "--space-option", "cells=1", "--cache", str(tmp_path / "c.sqlite"), "--format", "json",
        "--save", str(tmp_path / "full.json")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) >= {"space", "metric", "samples", "seeds", "proxies"}
    assert "per_seed" not in summary
    assert len(json.loads((tmp_path / "full.json").read_text())["per_seed"][0]["archs"]) == 6


def test_cli_bad_truth_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["correlate", "--space", "nb201", "--truth", str(tmp_path / "none.csv"), "--metric", "m", "--no-cache"])
    assert stop.value.code == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"error: ground-truth file {tmp_path / 'none.csv'} does not exist"]


def test_spec_runs_every_correlate_table(table, tmp_path):
    spec = tmp_path / "small.toml"
    spec.write_text(f"""
[[correlate]]
space = "nb201"
truth = "{table}"
metric = "convs"
proxies = ["params", "swap"]
samples = 6
seeds = [0]
batch = 8
space_options = {{ channels = 4, cells = 1 }}

[[correlate]]
space = "nb201"
truth = "{table}"
metric = "convs"
proxies = "params"
samples = 5
seeds = [1, 2]
space_options = {{ channels = 4, cells = 1, classes = 100 }}
""")
    result = CliRunner().invoke(cli, ["run", str(spec), "--format", "json", "--cache", str(tmp_path / "c.sqlite")])
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)["runs"]
    assert [r["samples"] for r in runs] == [6, 5] and runs[1]["seeds"] == [1, 2]
    assert runs[1]["build_options"]["classes"] == 100


def test_spec_errors(tmp_path):
    from swapfw.studies.specs import load_spec

    bad = tmp_path / "bad.toml"
    bad.write_text("[[correlate]]\nspace = 'nb201'\ncolour = 'red'\n")
    with pytest.raises(SwapfwError, match="unknown key 'colour'"):
        load_spec(str(bad))
    bad.write_text("[[correlate]\n")
    with pytest.raises(SwapfwError, match="not valid TOML"):
        load_spec(str(bad))


def test_a_spec_names_its_data_through_swapfw_data(tmp_path, monkeypatch):
    """Specs name their tables as ${SWAPFW_DATA}/...: one spec runs on every machine; unset is one line."""
    from pathlib import Path

    from swapfw.studies.specs import load_spec

    spec = tmp_path / "s.toml"
    spec.write_text('[[correlate]]\nspace = "nb201"\ntruth = "${SWAPFW_DATA}/nb201/nb201.csv"\nmetric = "m"\n'
                    'proxies = "swap"\ndata = "cifar10:$SWAPFW_DATA/cifar10/test.npz"\n')
    monkeypatch.setenv("SWAPFW_DATA", "/data/here")
    (settings, _), = load_spec(str(spec))
    assert settings.truth == "/data/here/nb201/nb201.csv" and settings.data == "cifar10:/data/here/cifar10/test.npz"
    monkeypatch.delenv("SWAPFW_DATA")
    with pytest.raises(SwapfwError, match=r"uses \$SWAPFW_DATA, which is not set .*docs/data.md"):
        load_spec(str(spec))
    for bundled in sorted((Path(__file__).parents[1] / "specs").glob("*.toml")):  # the bundled specs read it too
        monkeypatch.setenv("SWAPFW_DATA", "/data/here")
        assert all(s.truth.startswith("/data/here/") for s, _ in load_spec(str(bundled))), bundled


def test_plot_writes_a_png(table, tmp_path):
    pytest.importorskip("matplotlib")
    from swapfw.studies.plot import scatter

    report = correlate(settings(table, tmp_path, seeds=[0], samples=6))
    scatter(report, str(tmp_path / "fig.png"))
    assert (tmp_path / "fig.png").read_bytes()[:4] == b"\x89PNG"


def test_a_space_network_takes_another_resolution(table, tmp_path):
    """ImageNet16-120 networks score 16x16 inputs: the space's 32x32 is a default, not a constraint."""
    report = correlate(settings(table, tmp_path, seeds=[0], samples=5, input_shape=(3, 16, 16),
                                build_options={"channels": 4, "cells": 1, "classes": 120}))
    assert report["proxies"]["params"]["spearman_mean"] > 0.5


def test_score_with_auto_mu_sigma_samples_the_space(monkeypatch):
    import swapfw
    import swapfw.scoring.regularise as regularise
    from swapfw.studies import reference

    monkeypatch.setattr(reference, "AUTO_SAMPLES", 15)
    space = get("spaces", "nb201")
    sizes = [sum(p.numel() for p in space.build(a, **SMALL).parameters()) for a in space.sample(15, 0)]
    arch = space.sample(1, 7)[0]
    result = swapfw.score(f"nb201:{arch}", mu="auto", sigma="auto", space_options=SMALL, protocol="benchmark")
    assert result.mu == max(sizes) / 1e6 and result.sigma == pytest.approx(result.mu ** 2)
    assert result.regswap == pytest.approx(result.swap * regularise.size_factor(result.params, result.mu, result.sigma))


def test_cli_table_lists_proxies_best_first(table, tmp_path):
    result = CliRunner().invoke(cli, [
        "correlate", "--space", "nb201", "--truth", str(table), "--metric", "convs", "--proxies", "swap,params,flops",
        "--samples", "8", "--seeds", "0", "--space-option", "channels=4", "--space-option", "cells=1",
        "--cache", str(tmp_path / "c.sqlite")])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.split(" ")[0] in ("swap", "params", "flops")]
    rhos = [float(line.split()[1]) for line in lines]
    assert len(rhos) == 3 and rhos == sorted(rhos, reverse=True)


def test_rows_naming_the_same_network_are_averaged_and_reported(tmp_path):
    from swapfw.studies.truth import load_truth

    space = get("spaces", "nb201")
    a, b = space.sample(2, 3)
    path = tmp_path / "dup.csv"
    path.write_text(f"arch,acc\n{a},90\n{b},80\n {a} ,92\n")  # the same arch, written differently
    truth = load_truth(str(path), "acc", space)
    assert truth.values == {space.canonical(a): 91.0, space.canonical(b): 80.0} and truth.merged == 1


def test_a_space_can_give_its_input_shape_per_build(tmp_path):
    from swapfw.graph.importers import space_input_shape

    darts = get("spaces", "darts")
    assert space_input_shape(darts, {"dataset": "imagenet"}) == (3, 224, 224)
    assert space_input_shape(darts, {}) == (3, 32, 32)
    assert space_input_shape(get("spaces", "nb201"), {"classes": 100}) == (3, 32, 32)


def test_sizes_from_meta_builds_equal_real_parameter_counts(monkeypatch):
    """A space that cannot count its networks is sized by building them on the meta device."""
    from swapfw.graph.importers import space_params

    space = get("spaces", "nb201")
    monkeypatch.delattr(type(space), "count_params")
    real = [sum(p.numel() for p in space.build(a, **SMALL).parameters()) for a in space.sample(5, 9)]
    assert [space_params("nb201", a, SMALL) for a in space.sample(5, 9)] == real
