"""The conformance kit (``swapfw.testing``): every bundled plugin passes it, the third-party example
does too, and each check catches a plugin that breaks what it checks, naming the problem."""

import random
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from swapfw import SwapfwError, plugins, testing
from swapfw.plugin_api import run_task
from swapfw.studies.search import BudgetSpent

EXAMPLE = Path(__file__).parent / "plugin_example"

#: small builds of every bundled space (their own tests run the kit on more options)
SPACES = {
    "nb201": ({"channels": 4, "cells": 1}, None),
    "nb101": ({"channels": 8, "stacks": 2, "cells": 1}, None),
    "darts": ({"channels": 4, "layers": 3}, None),
    "transnas-micro": ({"channels": 4}, (3, 32, 32)),
    "transnas-macro": ({"channels": 4, "task": "jigsaw"}, (3, 48, 48)),
    "model": ({"source": "nets:mlp", "input_shape": "3,8,8"}, None),
}


def bundled(kind):
    return [name for name in plugins.names(kind)
            if plugins.get_registry().entry(kind, name).distribution.startswith("swapfw ")]


def problems(error) -> list[str]:
    """The problem lines of a kit's AssertionError."""
    return [line[4:] for line in str(error.value).splitlines() if line.startswith("  - ")]


# --- every bundled plugin passes -----------------------------------------------------------------


def test_every_bundled_space_is_covered():
    assert set(bundled("spaces")) == set(SPACES)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_bundled_spaces_pass(name):
    """As the core gets them (``get_space``: the model space bound to its source, once per process)."""
    options, shape = SPACES[name]
    archs = testing.check_space(plugins.get_space(name, options), samples=4, builds=1, build_options=options,
                                input_shape=shape)
    assert len(archs) == 4


@pytest.mark.parametrize("name", bundled("searchers"))
def test_bundled_searchers_pass(name):
    arch, score = testing.check_searcher(plugins.get("searchers", name))
    assert score == testing.made_up_score(arch)


@pytest.mark.parametrize("name", bundled("binarisers"))
def test_bundled_binarisers_pass(name):
    assert testing.check_binariser(plugins.get("binarisers", name)).dtype == torch.bool


@pytest.mark.parametrize("name, argument", [("swap", None), ("params", None), ("synflow", None), ("regswap", None),
                                            ("calibrated", "swap+params"), ("rank_agg", "swap+params")])
def test_bundled_proxies_pass(name, argument):
    value = testing.check_proxy(plugins.get("proxies", name), argument=argument, input_shape=(3, 16, 16), batch=4)
    if name == "params":
        assert value == sum(p.numel() for p in testing.small_network().parameters())


@pytest.mark.parametrize("name", ["local", "processes"])
def test_bundled_executors_pass(name):
    results = testing.check_executor(plugins.get("executors", name), workers=2, tasks=3)
    assert sorted(results) == [0, 1, 2] and all(r.values["params"] > 0 for r in results.values())
    assert testing.TinySpace.name not in plugins.names("spaces")  # registered for the check only


@pytest.mark.parametrize("name", ["torch", "onnxruntime"])
def test_bundled_latency_meters_pass(name):
    pytest.importorskip(name)
    space = plugins.get_space("nb201")
    archs = space.sample(2, 0)
    found = testing.check_latency_meter(plugins.get("latency_meters", name), space, {"runs": "3"}, archs=archs,
                                        build_options={"channels": 4, "cells": 1})
    assert len(found) == 2 and all(ms > 0 for ms in found)


def test_a_latency_meter_that_gives_no_number_is_named():
    class Broken:
        name, description, measures_here = "broken", "gives text", False

        def open(self, space, options, *, device, batch, threads, build, input_shape):
            if options:
                raise testing.SwapfwError(f"no option {next(iter(options))}")
            return lambda arch: "fast"

    with pytest.raises(AssertionError, match=r"gave 'fast'|not milliseconds"):
        testing.check_latency_meter(Broken(), testing.TinySpace())


def test_the_kits_own_space_passes():
    assert testing.check_space(testing.TinySpace(), samples=8) == testing.TinySpace().sample(8, 0)


def test_the_kit_imports_without_pytest():
    import subprocess

    code = "import sys; sys.modules['pytest'] = None; import swapfw.testing"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- the third-party example --------------------------------------------------------------------


@pytest.fixture(scope="module")
def example():
    """tests/plugin_example's plugin module, imported here (test_plugins.py installs it with pip)."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        from swapfw_example import plugin
    finally:
        sys.path.remove(str(EXAMPLE))
    return plugin


def test_the_example_plugins_pass(example):
    assert testing.check_space(example.TinyMlp()) and testing.check_searcher(example.HillClimb())
    assert testing.check_binariser(example.Centred()).dtype == torch.bool
    assert testing.check_proxy(example.ConvCount()) == 2.0  # the kit's small network has two convolutions
    assert len(testing.check_executor(example.Threads(), workers=2, tasks=2)) == 2


def test_the_examples_broken_searcher_fails_its_contract(example):
    with pytest.raises(AssertionError) as error:
        testing.check_searcher(example.NoRun())
    assert problems(error) == ["contract Searcher: lacks method run(space, evaluate, settings, rng, on_cycle)"]


# --- broken spaces -----------------------------------------------------------------------------------


class Tiny(testing.TinySpace):
    name = "broken-tiny"


class ReturnsParent(Tiny):
    def mutate(self, arch, rng, kind="op"):
        return arch


class Unsettled(Tiny):
    """Samples from the global random state and accepts any string."""

    def sample(self, count, seed):
        return random.sample(self.enumerate(), count)

    def canonical(self, arch):
        return arch if isinstance(arch, str) else super().canonical(arch)


class Miscounted(Tiny):
    def count_params(self, arch, **options):
        return 1

    def crossover(self, a, b, rng):
        return a


class NoCrossover:
    name = "half"
    input_shape = (3, 4, 4)

    def canonical(self, arch):
        return arch

    def build(self, arch, **options):
        return nn.Identity()

    def sample(self, count, seed):
        return []

    def mutate(self, arch, rng, kind="op"):
        return arch


def test_a_mutation_that_returns_its_parent_is_named():
    with pytest.raises(AssertionError) as error:
        testing.check_space(ReturnsParent(), samples=2)
    assert str(error.value).startswith("search space 'broken-tiny' fails 4 check(s) of swapfw.testing:")
    assert all("returned its parent" in line for line in problems(error))


def test_unseeded_sampling_and_a_canonical_that_accepts_anything_are_named():
    with pytest.raises(AssertionError) as error:
        testing.check_space(Unsettled(), samples=4, builds=0)
    found = problems(error)
    assert "sample(4, 0) gave another list the second time" in found
    assert "canonical('not an architecture %%') accepted it (gave 'not an architecture %%'): it should raise " \
           "SwapfwError" in found


def test_a_wrong_parameter_count_and_a_bad_crossover_are_named():
    with pytest.raises(AssertionError) as error:
        testing.check_space(Miscounted(), samples=2, builds=1)
    found = problems(error)
    assert any(line.startswith("count_params(") and "the built network has" in line for line in found)
    assert any(line.startswith("crossover(") and "should give two strings" in line for line in found)


def test_a_space_that_breaks_its_contract_is_named_first():
    with pytest.raises(AssertionError) as error:
        testing.check_space(NoCrossover())
    assert problems(error) == ["contract Space: lacks method crossover(a, b, rng)"]


# --- broken proxies --------------------------------------------------------------------------------


class Scribbles:
    """Scales the network's first weight: the next proxy on the same network would see another network."""

    name = "scribbles"
    needs = frozenset()

    def score(self, network, batch, *, seed):
        with torch.no_grad():
            next(network.module.parameters()).mul_(2)
        return 1.0


class Unseeded:
    name = "unseeded"
    needs = frozenset()

    def score(self, network, batch, *, seed):
        return torch.rand(()).item()


class Wordy:
    name = "wordy"
    needs = frozenset({"vibes"})

    def score(self, network, batch, *, seed):
        return "high"


def test_a_proxy_that_changes_the_weights_is_named():
    with pytest.raises(AssertionError) as error:
        testing.check_proxy(Scribbles(), input_shape=(3, 8, 8), batch=2)
    assert problems(error) == ["score changed the network's weights or buffers: score a copy (plugin_api.fresh_for)"]


def test_a_proxy_that_reads_the_global_random_state_is_named():
    with pytest.raises(AssertionError) as error:
        testing.check_proxy(Unseeded(), input_shape=(3, 8, 8), batch=2)
    (line,) = problems(error)
    assert "for the same seed" in line


def test_a_proxy_with_unknown_needs_and_no_number_is_named():
    with pytest.raises(AssertionError) as error:
        testing.check_proxy(Wordy(), input_shape=(3, 8, 8), batch=2)
    found = problems(error)
    assert any(line.startswith("needs ['vibes']") for line in found)
    assert "score gave 'high', not a number" in found


def test_a_proxy_that_needs_targets_gets_labels():
    class Labelled:
        name = "labelled"
        needs = frozenset({"targets"})

        def score(self, network, batch, *, seed):
            assert batch.targets is not None and batch.targets.max() < 10
            return float(batch.targets.sum())

    assert testing.check_proxy(Labelled(), input_shape=(3, 8, 8), batch=4) >= 0


# --- broken searchers ------------------------------------------------------------------------------


class IgnoresBudget:
    """Catches BudgetSpent and goes on sampling."""

    name = "ignores-budget"

    def run(self, space, evaluate, settings, rng, on_cycle):
        best = None
        for _ in range(settings.cycles or 10_000):
            arch = space.sample(1, rng.randrange(10**6))[0]
            try:
                score = evaluate([arch])[0]
            except BudgetSpent:
                continue
            if best is None or score > best[1]:
                best = (arch, score)
            on_cycle(best[1])
        return best


class GlobalRandom:
    """Draws from the global random state, never calls on_cycle, returns an architecture it never scored."""

    name = "global-random"

    def run(self, space, evaluate, settings, rng, on_cycle):
        archs = space.sample(settings.population, random.randrange(1000))
        evaluate(archs)
        return "0-0-0", 1.0


def test_a_searcher_that_ignores_the_budget_is_named():
    with pytest.raises(AssertionError) as error:
        testing.check_searcher(IgnoresBudget())
    assert problems(error) == ["run called evaluate again after it raised BudgetSpent: let BudgetSpent end the run"]


def test_a_searcher_that_reads_the_global_random_state_is_named():
    with pytest.raises(AssertionError) as error:
        testing.check_searcher(GlobalRandom(), cycles=2)
    found = problems(error)
    assert "run called on_cycle 0 times in 2 cycles (once per cycle)" in found
    assert any("different choices" in line for line in found)
    assert any(line.startswith("run returned '0-0-0', which it never evaluated") for line in found) or \
        any("run returned score" in line for line in found)


# --- broken binarisers and executors ------------------------------------------------------------


class Soft:
    name = "soft"
    tap = "middle"
    handles = frozenset({"relu", "wiggle"})

    def binarise(self, value):
        return value.sigmoid()


def test_a_binariser_that_gives_floats_is_named():
    with pytest.raises(AssertionError) as error:
        testing.check_binariser(Soft())
    found = problems(error)
    assert "tap is 'middle', not 'output' or 'input'" in found
    assert "handles ['wiggle'], which are not activation kinds the core knows" in found
    assert "binarise(a tensor of shape (8, 4, 5, 5)) gave a torch.float32 tensor of shape (8, 4, 5, 5), not a bool " \
           "tensor of shape (8, 4, 5, 5)" in found


class DropsOne:
    """A pool that loses the last task and reports the first as an error string."""

    name = "drops-one"

    class Pool:
        workers = 1

        def __init__(self, spec):
            pass

        def run(self, tasks):
            for index, task in enumerate(tasks[:-1]):
                yield index, ("worker died" if index == 0 else run_task(task))

        def close(self):
            DropsOne.closed = True

    def open(self, spec):
        return self.Pool(spec)


def test_an_executor_that_loses_tasks_is_named_and_its_pool_closed():
    DropsOne.closed = False
    with pytest.raises(AssertionError) as error:
        testing.check_executor(DropsOne(), tasks=3)
    assert problems(error) == ["pool.run never yielded the tasks [2]",
                               "task 0 came back as 'worker died', not a TaskResult"]
    assert DropsOne.closed


def test_every_problem_is_listed_not_only_the_first():
    class Spelled(Tiny):
        def mutate(self, arch, rng, kind="op"):
            return f" {super().mutate(arch, rng, kind)} "  # a spelling, not the canonical string

        def crossover(self, a, b, rng):
            return a, b + "-0"  # not an architecture

    with pytest.raises(AssertionError) as error:
        testing.check_space(Spelled(), samples=2, builds=0)
    found = problems(error)
    assert len(found) == 5
    assert all("which is not canonical (canonical gives" in line for line in found[:4])
    assert found[4].startswith("crossover(") and "which canonical refuses (bad broken-tiny architecture" in found[4]


def test_a_space_may_refuse_a_mutation_kind():
    class OpsOnly(Tiny):
        def mutate(self, arch, rng, kind="op"):
            if kind != "op":
                raise SwapfwError("no connectivity here")
            return super().mutate(arch, rng, kind)

    assert len(testing.check_space(OpsOnly(), samples=2, builds=0)) == 2
