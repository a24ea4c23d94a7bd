"""Plugins are written against one public surface, and the core names none of them.

A bundled plugin imports from ``swapfw`` and ``swapfw.plugin_api`` only, as a third party's
would; the core never names a bundled plugin (what it reads by meaning, a proxy declares as its
role; the defaults are declared by the plugins); a plugin chooses what loads and a value's cache
key names who computed it.
"""

import ast
import os
from pathlib import Path

import pytest

import swapfw
from swapfw import hookimpl, plugins
from swapfw.errors import SwapfwError

CORE = Path(swapfw.__file__).parent
BUNDLED = CORE.parent / "plugins"


def _swapfw_imports(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules |= {a.name for a in node.names}
    return {m for m in modules if m == "swapfw" or m.startswith("swapfw.")}


def test_bundled_plugins_import_only_swapfw_and_its_plugin_api():
    found = {}
    for path in sorted(BUNDLED.rglob("*.py")):
        for module in _swapfw_imports(path):
            found.setdefault(module, []).append(str(path.relative_to(BUNDLED)))
    assert set(found) <= {"swapfw", "swapfw.plugin_api"}, {m: f for m, f in found.items()
                                                          if m not in ("swapfw", "swapfw.plugin_api")}


def test_the_plugin_api_exports_what_it_lists_and_says_its_version():
    from swapfw import plugin_api

    missing = [name for name in plugin_api.__all__ if not hasattr(plugin_api, name)]
    assert not missing
    major, minor = plugin_api.PLUGIN_API_VERSION.split(".")
    assert major.isdigit() and minor.isdigit()


#: bundled plugin names that are also words of the core's own vocabulary, each with what it means there
VOCABULARY = {
    "random": "the paper's weight initialisation (--init random)",
    "relu": "an activation site kind (swapfw.graph.ops)",
    "model": "a model source, the word (messages, option metavars)",
    "params": "a report field and an IR node attribute (parameter count)",
    "flops": "a report field and an IR node attribute (multiply-accumulates)",
    "patterns": "what a proxy may declare it needs (contracts.NEEDS)",
    "table": "an output format (--format table) and a spec's comparison table",
    "torch": "an export format (swapfw export --format torch: TorchScript), besides the latency meter",
    "train": "a BatchNorm mode (a proxy's bn: train)",
}


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_the_core_names_no_bundled_plugin():
    registry = plugins.get_registry()
    bundled = {name for kind in plugins.KINDS for name in registry.names(kind)
               if registry.entry(kind, name).distribution.startswith("swapfw ")}
    named = [f"{path.relative_to(CORE)}:{line} {value!r}" for path in sorted(CORE.rglob("*.py"))
             for line, value in _string_constants(path) if value in bundled - set(VOCABULARY)]
    assert not named, "the core names bundled plugins: " + "; ".join(named)


def test_what_the_core_reads_by_meaning_is_declared_by_the_plugins():
    from swapfw.contracts import ROLES

    registry = plugins.get_registry()
    assert set(registry.roles) == set(ROLES)  # every role has its proxy
    for kind in ("proxies", "searchers", "executors"):
        assert registry.entry(kind, registry.default(kind)).distribution.startswith("swapfw ")


class _Claims:
    """A plugin whose proxy claims a role and a default the bundled plugins hold already."""

    name = "usurper"
    needs = frozenset()
    role = "swap_score"
    default = True

    def score(self, network, batch, *, seed):
        return 0.0

    @hookimpl
    def register_proxies(self, register):
        register(self)


class _UnknownRole(_Claims):
    name = "dreamer"
    role = "happiness"
    default = False


def test_a_second_claim_to_a_role_or_a_default_makes_that_object_broken(temporary_plugin):
    temporary_plugin(_Claims(), "claims")
    temporary_plugin(_UnknownRole(), "unknown_role")
    registry = plugins.get_registry()
    errors = " | ".join(b.error for b in registry.broken)
    assert "plays the role 'swap_score', which 'swap' plays already" in errors
    assert "declares itself the default proxy, which 'regswap' is already" in errors
    assert "role 'happiness' is none of the roles the core reads" in errors
    assert registry.role("swap_score") == "swap" and registry.default("proxies") == "regswap"
    assert "usurper" not in registry.names("proxies")


def test_without_a_default_the_user_is_told_to_name_one(monkeypatch):
    registry = plugins.get_registry()
    monkeypatch.setattr(registry, "defaults", {})
    with pytest.raises(SwapfwError, match="no installed searcher declares itself the default .* name one"):
        registry.default("searchers")


# --- choosing what loads ---------------------------------------------------------------------------


@pytest.fixture
def selection():
    """Set SWAPFW_LOAD_PLUGINS for one test; the registry reloads before and after."""
    def choose(names):
        plugins.select(names)
        return plugins.get_registry()

    yield choose
    plugins.select(None)


def test_load_plugins_takes_entry_point_names_and_skips_no_names(selection):
    registry = selection("binariser_relu,proxy_swap")
    assert registry.names("binarisers") == ["relu"] and set(registry.names("proxies")) == {"swap", "patterns",
                                                                                           "regswap"}
    registry = selection("no:space_darts,no:proxy_zen")
    assert "darts" not in registry.names("spaces") and "nb201" in registry.names("spaces")
    assert "zen" not in registry.names("proxies") and "swap" in registry.names("proxies")


def test_load_plugins_takes_distribution_names_and_names_a_name_that_is_none(selection):
    registry = selection("swapfw")
    assert "nb201" in registry.names("spaces") and not registry.broken
    registry = selection("swapfw,not-installed")
    assert any(b.plugin == "not-installed" and "no installed plugin or distribution has this name" in b.error
               for b in registry.broken)


def test_the_load_plugins_option_reaches_every_command(capsys, selection):
    from swapfw.cli import main

    try:
        main(["--load-plugins", "binariser_relu", "plugins", "--format", "json"])
    finally:
        selection(None)
    out = capsys.readouterr().out
    assert '"relu"' in out and '"nb201"' not in out
    assert os.environ.get(plugins.LOAD_VARIABLE) is None


def test_a_worker_loads_what_the_driver_loads(selection):
    """The selection and the code-registered plugins travel with every task (no executor carries them)."""
    selection("swapfw")
    state = plugins.worker_state()
    plugins.select(None)
    plugins.adopt_worker_state(state)
    assert os.environ[plugins.LOAD_VARIABLE] == "swapfw"


# --- who computed a value -------------------------------------------------------------------------


def test_a_cached_value_names_the_distributions_that_computed_it(monkeypatch):
    from dataclasses import replace

    from swapfw.studies.evaluate import ScoringSettings, provenance

    settings = ScoringSettings(space="nb201")
    before = provenance(settings, "swap")
    assert before.startswith(f"swapfw {swapfw.__version__}; swapfw ") and before.count("swapfw") == 3
    registry = plugins.get_registry()
    entry = registry.entries["proxies"]["swap"]
    monkeypatch.setitem(registry.entries["proxies"], "swap", replace(entry, distribution="swapfw-fork 9.9"))
    assert provenance(settings, "swap") != before and "swapfw-fork 9.9" in provenance(settings, "swap")
