"""Every stored score stays bit-identical: the same commands' JSON before and after a change.

Runs a fixed set of ``swapfw`` commands (scores on every bundled space and on torch modules,
small correlations on NB201 and the development splits, small searches, protocols, encodings)
and compares what they print, timing fields aside. Three ways to use it:

    python benchmarks/same_values.py against HEAD~3        # the commands at REV and here, compared
    python benchmarks/same_values.py run --out now.json     # record what this checkout prints
    python benchmarks/same_values.py compare before.json now.json

``against`` checks REV out into a temporary git worktree and runs the same commands with that
tree first on the import path (so ``swapfw`` and the bundled plugins come from it; the installed
distribution's entry points name the plugin modules). A value that differs is a failure (exit
status 1); a field only one side has is listed, not failed. ``EXPECTED`` names the differences a
change made on purpose, each with its reason. Needs the benchmark data (``SWAPFW_DATA``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, data_path, need_data

NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
DARTS = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), "
         "('skip_connect', 0), ('dil_conv_3x3', 2), ('sep_conv_5x5', 0), ('max_pool_3x3', 1)], normal_concat=[2, 3, 4, 5], "
         "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), "
         "('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])")
NB101 = ('{"matrix":[[0,1,1,0,0,0,0],[0,0,0,1,0,0,0],[0,0,0,0,1,0,0],[0,0,0,0,0,1,0],[0,0,0,0,0,0,1],'
         '[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]],"ops":["input","conv3x3-bn-relu","conv1x1-bn-relu","maxpool3x3",'
         '"conv3x3-bn-relu","conv3x3-bn-relu","output"]}')
#: fields that measure time or memory, not values
IGNORED = {"seconds", "wall_seconds", "memory", "build_seconds"}
#: differences made on purpose: (command name, field path prefix) -> why
EXPECTED = {
    ("correlate-nb201-auto", "mu"): "issue 26: correlate's auto mu/sigma come from the space's reference sample "
                                    "(as score and search), no longer from each seed's sampled architectures",
    ("correlate-nb201-auto", "sigma"): "the same",
    ("correlate-nb201-auto", "proxies.regswap"): "the same: regswap follows mu/sigma",
}


def commands() -> dict[str, list[str]]:
    """Name -> swapfw arguments. Every one prints JSON but ``convert``."""
    nb201, cifar = str(data_path("nb201", "nb201.csv")), f"cifar10:{data_path('cifar10', 'test.npz')}"
    dev = data_path("dev")
    cheap = ["--no-cache", "--format", "json"]
    return {
        "score-nb201-auto": ["score", f"nb201:{NB201}", "--mu", "auto", "--sigma", "auto", "--format", "json"],
        "score-nb201-benchmark": ["score", f"nb201:{NB201}", "--protocol", "benchmark", "--data", cifar, "--batch", "32",
                                  "--proxy", "synflow", "--proxy", "nwot", "--proxy", "jacov", "--proxy", "zen",
                                  "--format", "json"],
        "score-darts": ["score", f"darts:{DARTS}", "--mu", "auto", "--sigma", "auto", "--format", "json"],
        "score-nb101": ["score", f"nb101:{NB101}", "--mu", "auto", "--sigma", "auto", "--format", "json"],
        "score-transnas-micro": ["score", "transnas-micro:64-41414-1_32_233", "--mu", "auto", "--sigma", "auto",
                                 "--format", "json"],
        "score-transnas-macro": ["score", "transnas-macro:64-341111-basic", "--format", "json"],
        "score-module": ["score", "nets:resnet18_c10", "--proxy", "synflow", "--mu", "11", "--sigma", "11",
                         "--format", "json"],
        "score-mlp": ["score", "nets:mlp", "--input-shape", "3,8,8", "--proxy", "synflow", "--proxy", "nwot", "--format", "json"],
        "correlate-nb201": ["correlate", "--space", "nb201", "--truth", nb201, "--metric", "cifar10_val", "--samples",
                            "16", "--seeds", "0,1", "--proxies", "swap,regswap,params,flops,synflow,nwot,zen,meco",
                            "--mu", "1.0", "--sigma", "1.0", *cheap],
        "correlate-nb201-auto": ["correlate", "--space", "nb201", "--truth", nb201, "--metric", "cifar10_val",
                                 "--samples", "16", "--proxies", "swap,regswap,params", *cheap],
        "correlate-nb101": ["correlate", "--space", "nb101", "--truth", str(dev / "nb101_cifar10.csv"), "--metric",
                            "val_accuracy", "--samples", "6", "--proxies", "swap,regswap,params,flops", "--mu", "5",
                            "--sigma", "5", *cheap],
        "correlate-darts": ["correlate", "--space", "darts", "--truth", str(dev / "darts_cifar10.csv"), "--metric",
                            "val_accuracy", "--samples", "5", "--proxies", "swap,params,regswap", "--mu", "1",
                            "--sigma", "1", *cheap],
        "correlate-transnas-micro": ["correlate", "--space", "transnas-micro", "--truth",
                                     str(dev / "transnas_micro_class_object.csv"), "--metric", "val_metric",
                                     "--samples", "5", "--proxies", "swap,params", *cheap],
        "correlate-transnas-macro": ["correlate", "--space", "transnas-macro", "--truth",
                                     str(dev / "transnas_macro_jigsaw.csv"), "--metric", "val_metric",
                                     "--samples", "5", "--proxies", "swap,params", "--space-option", "task=jigsaw",
                                     *cheap],
        "search-nb201": ["search", "--space", "nb201", "--proxy", "regswap", "--budget", "14", "--population", "6",
                         "--sample-size", "3", *cheap],
        "search-darts": ["search", "--space", "darts", "--proxy", "swap", "--budget", "6", "--population", "4",
                         "--sample-size", "2", *cheap],
        "protocols-nb201": ["protocols", "nb201", "--format", "json"],
        "convert-nb201": ["convert", "nb201", "1234", "--to", "arch"],
    }


def record(python: str, path_first: str | None) -> dict:
    """What each command prints, parsed, with ``path_first`` ahead on the import path."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [path_first, str(ROOT / "tests"),
                                                                     os.environ.get("PYTHONPATH")])))
    out = {}
    for name, args in commands().items():
        print(f"  {name}", file=sys.stderr, flush=True)
        done = subprocess.run([python, "-m", "swapfw", *args], capture_output=True, text=True, env=env,
                              cwd=tempfile.gettempdir())  # not the checkout: ``-m`` puts the cwd first on the path
        if done.returncode:
            out[name] = {"error": done.stderr.strip().splitlines()[-1:]}
            continue
        text = done.stdout.strip()
        try:
            out[name] = json.loads(text)
        except ValueError:
            out[name] = {"text": text}
    return out


def differences(a, b, path: str = "") -> tuple[list[str], list[str]]:
    """(values that differ, fields only one side has), timing fields aside."""
    differ, only = [], []
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key in IGNORED:
                continue
            where = f"{path}.{key}" if path else key
            if key not in a or key not in b:
                only.append(f"{where} ({'after' if key in b else 'before'} only)")
                continue
            d, o = differences(a[key], b[key], where)
            differ += d
            only += o
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            d, o = differences(x, y, f"{path}[{i}]")
            differ += d
            only += o
    elif not _same(a, b):
        differ.append(f"{path}: {a!r} -> {b!r}")
    return differ, only


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b)


def compare(before: dict, after: dict) -> int:
    failed = 0
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            print(f"{name}: only {'after' if name in after else 'before'}")
            continue
        errors = [f"{side}: {value['error']}" for side, value in (("before", before[name]), ("after", after[name]))
                  if isinstance(value, dict) and "error" in value]
        if errors:
            print(f"{name}: failed to run ({'; '.join(map(str, errors))})")
            failed += 1
            continue
        differ, only = differences(before[name], after[name])
        expected = [d for d in differ if any(name == n and d.startswith(p) for n, p in EXPECTED)]
        unexpected = [d for d in differ if d not in expected]
        verdict = "same values" if not unexpected else f"{len(unexpected)} values differ"
        print(f"{name}: {verdict}" + (f" ({len(expected)} differ as expected)" if expected else "")
              + (f"; fields on one side: {', '.join(only)}" if only else ""))
        for line in unexpected[:10]:
            print(f"    {line}")
        failed += bool(unexpected)
    for (name, field), why in EXPECTED.items():
        print(f"expected: {name} {field}: {why}")
    return 1 if failed else 0


def against(rev: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tree, path = Path(tmp) / "tree", Path(tmp) / "path"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True,
                       capture_output=True)
        try:
            path.mkdir()
            (path / "swapfw").symlink_to(tree / "swapfw")
            (path / "swapfw_plugins").symlink_to(tree / "plugins")
            print(f"commands at {rev}:", file=sys.stderr)
            before = record(sys.executable, str(path))
            print("commands here:", file=sys.stderr)
            after = record(sys.executable, None)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
    return compare(before, after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("against", help="compare with a git revision").add_argument("rev")
    run = sub.add_parser("run", help="record this checkout's output")
    run.add_argument("--out", required=True)
    both = sub.add_parser("compare", help="compare two recordings")
    both.add_argument("before")
    both.add_argument("after")
    args = parser.parse_args()
    if args.what == "compare":
        sys.exit(compare(json.loads(Path(args.before).read_text()), json.loads(Path(args.after).read_text())))
    need_data("nb201", "nb201.csv")
    if args.what == "run":
        Path(args.out).write_text(json.dumps(record(sys.executable, None), indent=1))
    else:
        sys.exit(against(args.rev))


if __name__ == "__main__":
    main()
