"""Every bundled space works end to end: search it, export what was found, score the export."""

import json

import pytest
from click.testing import CliRunner

from swapfw.cli import cli
from swapfw.studies.search import SearchSettings, search

SPACES = {  # reduced builds keep the test fast; the exact networks are checked in each space's tests
    "nb201": {"channels": 4, "cells": 1},
    "nb101": {"channels": 16, "stacks": 1, "cells": 1},
    "darts": {"channels": 8, "layers": 5},
    "transnas-micro": {"task": "class_scene"},
    "transnas-macro": {"task": "class_object"},
}
SHAPES = {"transnas-micro": (3, 64, 64), "transnas-macro": (3, 64, 64)}


@pytest.mark.parametrize("space", sorted(SPACES))
def test_search_then_export_then_score(space, tmp_path):
    options = SPACES[space]
    shape = SHAPES.get(space)
    report = search(SearchSettings(space=space, proxy="swap", population=4, cycles=2, sample_size=2, mutations=2,
                                   build_options=dict(options), input_shape=shape, cache="", seed=1))
    assert report["evaluations"] >= 4 and len(report["history"]) == 2
    arch = report["best"]["arch"]
    out = tmp_path / "found.onnx"
    args = ["export", f"{space}:{arch}", str(out)]
    for key, value in options.items():
        args += ["--space-option", f"{key}={value}"]
    if shape:
        args += ["--input-shape", ",".join(map(str, shape))]
    exported = CliRunner().invoke(cli, args)
    assert exported.exit_code == 0, exported.output
    scored = CliRunner().invoke(cli, ["score", str(out), "--format", "json"])
    assert scored.exit_code == 0, scored.output
    result = json.loads(scored.stdout)
    # the exporter drops branches that never reach the output, and their parameters with them
    assert 0 < result["params"] <= report["best"]["params"] and result["swap"] > 0
