"""One grammar for every command, and outputs that say what was scored (issue 27)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import click

from swapfw.cli import cli
from swapfw.studies.plot import _axis
from test_cli import run, run_main  # the CLI through click's runner, and as the console script

NB201 = "nb201:|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_every_command_and_option_has_help_and_takes_h():
    for name, command in cli.commands.items():
        assert command.help, name
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"{name} {param.opts}"
        result = run(name, "-h")
        assert result.exit_code == 0 and "Usage:" in result.output, name


def test_the_proxy_option_is_spelt_one_way_everywhere():
    for name in ("score", "correlate", "search"):
        visible = {opt for p in cli.commands[name].params if isinstance(p, click.Option) and not p.hidden
                   for opt in p.opts}
        assert "--proxy" in visible and "--proxies" not in visible, name


def test_usage_errors_and_swapfw_errors_look_alike(capsys):
    code, out, err = run_main(capsys, "score", NB201, "--batch", "many")
    assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1
    assert "swapfw score --help" in err
    code, _, err = run_main(capsys, "score", NB201, "--batch", "0")
    assert code in (1, 2) and err.startswith("error: ") and err.count("\n") == 1


def test_an_unknown_space_gets_one_message_from_every_command(capsys):
    messages = []
    for args in (["score", "nb999:abc"], ["search", "--space", "nb999"],
                 ["correlate", "--space", "nb999", "--truth", "t.csv", "--metric", "m"]):
        code, _, err = run_main(capsys, *args)
        assert code == 1
        messages.append(err.strip())
    assert messages[0] == messages[1] == messages[2] and "unknown search space 'nb999'" in messages[0]


def test_search_ranks_by_one_proxy(capsys):
    code, _, err = run_main(capsys, "search", "--space", "nb201", "--proxy", "swap,params")
    assert code == 2 and "calibrated:swap+params" in err


def test_score_repeats_and_commas_the_proxy_option(tmp_path):
    saved = tmp_path / "score.json"
    result = run("score", "nets:small_relu", "--batch", "4", "--proxy", "synflow,params", "--proxy", "nwot",
                 "--save", str(saved), "--threads", "1", "--format", "json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output)["proxies"]) == {"synflow", "params", "nwot"}
    assert json.loads(saved.read_text()) == json.loads(result.output)


def test_the_score_table_says_what_was_scored():
    result = run("score", NB201, "--mu", "1", "--sigma", "1")
    assert result.exit_code == 0, result.output
    rows = dict(line.split(None, 1) if "  " not in line else [p.strip() for p in line.split("  ", 1)]
                for line in result.output.splitlines() if line.strip() and not line.startswith("note"))
    assert rows["protocol"] == "tiny" and rows["input"].startswith("16 samples x 3,32,32")
    assert "mean of 4 initialisations" in rows["weights"]
    assert rows["scored network"].startswith("channels=3, cells=1")
    assert rows["sized network"].startswith("the default build")
    assert "mu 1, sigma 1" in rows["regularised SWAP"] and rows["time"].endswith(" s")


def test_a_torch_module_taking_ids_scores_from_the_folder_that_holds_it(tmp_path):
    (tmp_path / "mynets.py").write_text(
        "import torch.nn as nn\n"
        "class Tiny(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.emb = nn.Embedding(100, 16)\n"
        "        self.mlp = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 4))\n"
        "    def forward(self, ids):\n"
        "        return self.mlp(self.emb(ids)).mean(1)\n"
        "def tiny():\n"
        "    return Tiny()\n")
    script = Path(sys.executable).with_name("swapfw")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for data, vocab in (("tokens:50,8", "tokens:50,8"), (None, "tokens:100,32")):
        args = [str(script), "score", "mynets:tiny", "--format", "json"] + (["--data", data] if data else [])
        done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        assert out["data"] == vocab and out["activation_sites"] == 1 and out["swap"] >= 1


def test_plots_use_log_or_rank_axes_where_values_span_orders():
    spread = [10.0 ** k for k in range(8)]
    assert _axis(spread)[1] == "log"
    outlier = [float(v) for v in range(-20, 20)] + [1e9]
    values, axis = _axis(outlier)
    assert axis == "rank" and values[-1] == len(outlier) - 1
    assert _axis([1.0, 2.0, 3.0, 4.0, 5.0])[1] == "linear"
    assert math.isnan(_axis([1.0, 2.0, float("nan"), 3.0, 1e9, 4.0, 5.0, 6.0])[0][2])


def test_a_step_that_takes_seconds_says_what_it_is(monkeypatch):
    """waits.announced: silent when quick, one line to each listener when slow."""
    import time

    from swapfw import waits

    heard = []
    monkeypatch.setattr(waits, "_listeners", [heard.append])
    monkeypatch.setattr(waits, "AFTER", 0.05)
    with waits.announced("quick"):
        pass
    with waits.announced("binding a space"):
        time.sleep(0.3)
    time.sleep(0.1)
    assert heard == ["binding a space"]
