"""A settled process (heap reuse, frozen GC) must score exactly as an untouched one.

Each case runs in a fresh interpreter: settling is once per process and process-wide.
"""

import json
import os
import subprocess
import sys

import pytest

ARCHS = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|",
         "|nor_conv_1x1~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"]

SCRIPT = """
import gc, json, sys
from swapfw.running.tasks import Task, run_task
from swapfw.running.process import settle_process
before = gc.get_freeze_count()
results = [run_task(Task("nb201", arch, ("swap", "params", "synflow"), "gaussian", 16, 0, (3, 32, 32),
                         build_options=(("cells", 1),))) for arch in json.loads(sys.argv[1])]
print(json.dumps({"values": [r.values for r in results], "errors": [r.errors for r in results],
                  "settled": settle_process(), "frozen": gc.get_freeze_count() > before}))
"""


def _run(env_extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "SWAPFW_SETTLE"}
    env.update(env_extra, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(ARCHS)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings exist on Linux only")
def test_a_settled_process_scores_bit_for_bit_as_an_untouched_one():
    settled, untouched = _run({}), _run({"SWAPFW_SETTLE": "0"})
    assert settled["errors"] == [{}, {}] and untouched["errors"] == [{}, {}]
    assert settled["values"] == untouched["values"]
    assert settled["values"][0]["swap"] != settled["values"][1]["swap"]  # two different networks were scored
    assert settled["frozen"] and not untouched["frozen"]  # run_task settled its process; SWAPFW_SETTLE=0 did not
    assert untouched["settled"] == {"malloc": False, "gc_frozen": False}
    import ctypes
    glibc = hasattr(ctypes.CDLL(None), "gnu_get_libc_version")
    assert settled["settled"] == {"malloc": glibc, "gc_frozen": True}


def test_malloc_settings_a_user_gave_are_left_alone():
    mine = _run({"MALLOC_ARENA_MAX": "2"})
    assert mine["settled"] == {"malloc": False, "gc_frozen": True} and mine["errors"] == [{}, {}]
