"""The name ``default``: a space's default ranking wherever a proxy is named (correlate, score,
search), reported under that name with what it stood for."""

import pytest

import swapfw
from swapfw import hookimpl, plugins
from swapfw.plugins import get_space
from swapfw.scoring.proxies import DEFAULT, default_proxy, resolve_default

SMALL = {"channels": 4, "cells": 1}
ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"


@pytest.fixture
def nb201_ranks_by_params(monkeypatch):
    """NB201 declaring a cheap default ranking, so these tests need not score its calibrated one."""
    monkeypatch.setattr(type(get_space("nb201")), "default_proxy", "params")


def test_default_stands_for_the_spaces_declared_ranking_else_the_default_proxy(monkeypatch):
    space = get_space("nb201")
    assert default_proxy(space) == type(space).default_proxy
    assert resolve_default([DEFAULT, "swap", type(space).default_proxy], space) == [type(space).default_proxy, "swap"]
    monkeypatch.delattr(type(space), "default_proxy")
    assert default_proxy(space) == plugins.get_registry().default("proxies") == "regswap"


def test_correlate_reports_default_under_its_name_and_says_what_it_was(nb201_ranks_by_params, tmp_path,
                                                                       write_truth):
    space = get_space("nb201")
    truth, _ = write_truth(tmp_path / "truth.csv", 20, 5,
                           convs=lambda i, arch: space.parse(arch).count("nor_conv_3x3"))
    result = swapfw.correlate(space="nb201", truth=str(truth), metric="convs", proxies="default,params,swap",
                              samples=10, space_options=SMALL, batch=16, data="gaussian", cache="")
    report = result.to_dict()
    assert report["default"] == "params" and list(report["proxies"]) == ["default", "params", "swap"]
    assert report["proxies"]["default"]["spearman_mean"] == report["proxies"]["params"]["spearman_mean"]
    seed = result.report["per_seed"][0]
    assert seed["scores"]["default"] == seed["scores"]["params"]
    named = swapfw.correlate(space="nb201", truth=str(truth), metric="convs", samples=10, space_options=SMALL,
                             batch=16, data="gaussian", cache="").to_dict()
    assert list(named["proxies"]) == ["default", "swap", "regswap", "params", "flops"]  # without --proxy


def test_score_reports_default_and_what_it_stood_for(nb201_ranks_by_params):
    result = swapfw.score(f"nb201:{ARCH}", proxies="default", space_options=SMALL, batch=16, data="gaussian")
    assert result.default == "params" and result.proxies == {"default": result.params}


class _NamedDefault:
    name = "default"
    needs = frozenset()

    def score(self, network, batch, *, seed):
        return 0.0

    @hookimpl
    def register_proxies(self, register):
        register(self)


def test_no_proxy_plugin_may_take_the_name_default(temporary_plugin):
    temporary_plugin(_NamedDefault(), "squatter")
    registry = plugins.get_registry()
    assert any("the name 'default' is reserved" in b.error for b in registry.broken if b.plugin == "squatter")
    assert registry.entries["proxies"].get("default") is None
