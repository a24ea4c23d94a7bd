"""Search under a deployment budget: do budgets hold, is latency repeatable, and what does a budgeted search find?

    python benchmarks/budget_search.py --threads 1 --out benchmarks/results/budget_search.json
    python benchmarks/budget_search.py --parts latency,front --threads 1       # a part at a time

Four parts (``--parts``), each kept in ``--out`` as it ends (a killed run resumes):

- ``latency``: 30 NB201 architectures (sampled, seed 0; the sized network, batch 1, one thread),
  each timed by the ``torch`` and ``onnxruntime`` meters (the median of at least 30 runs
  spanning at least 0.25 s, after warm-up) in two separate passes: Spearman's rho between the
  passes; and one network (the sample's median in FLOPs) measured 10 times: the spread of those
  medians ((max - min) / median, the target's reading) and their standard deviation.
- ``constraints``: 5 seeds of a search under each budget, on NB201 (params, FLOPs, memory at the
  sample median; latency at its median) and on the model space (resnet18: params at 40 % of the
  original's, latency at the median of a sample); every architecture each search scored is
  checked against the budget (params, FLOPs, memory counted again; latency as measured).
- ``flops``: NB201 under a FLOPs budget of 50 % of the space's largest (FLOPs of every
  architecture from their per-edge sums, checked exactly against the IR on 100), 10 seeds: the
  proxy's answer and the answer after 20 evaluations of 12-epoch validation accuracy
  (``nb201_hp12.csv``), looked up afterwards in ``nb201.csv`` beside the best architecture under the
  budget in the whole table (cifar10_test; no search reads it).
- ``front``: resnet18 in the model space, ``--objectives proxy,latency`` with ``swap`` and ``nsga2``
  (``--front-budget`` architectures, 300 by default; CPU latency at batch 1, one thread): the
  Pareto front, its span in latency, and its fastest member against uniform width scaling at the
  same SWAP (the keep-ratio bisected to it), the two timed again in turn, 7 times each, their
  medians compared.

Needs ``nb201/nb201.csv`` and ``nb201/nb201_hp12.csv`` under ``SWAPFW_DATA`` for ``flops``.
"""

from __future__ import annotations

import csv
import itertools
import json
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

import swapfw
from common import need_data, parser, previous_raw, publish, set_threads, spearman, table, write_results
from swapfw.graph.importers import space_params
from swapfw.plugins import get_space
from swapfw.scoring.costs import MB, peak_memory_bytes, sized_ir
from swapfw.studies.budgets import Latency
from swapfw.studies.evaluate import NoCache, resolve
from swapfw.studies.search import SearchSettings

NAME = "budget_search"
PARTS = ("latency", "constraints", "flops", "front")
RESNET = {"source": "torchvision.models:resnet18"}
#: times the fastest member and the uniform variant are measured again, in turn (their medians compared)
ALTERNATIONS = 7
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def meter(space: str, runtime: str, threads: int, **options) -> Latency:
    """The search's own latency measurement, without a cache (every call times again)."""
    settings = resolve(SearchSettings(space=space, latency_runtime=runtime, latency_threads=threads,
                                      build_options=options))
    return Latency(settings, NoCache())


# --- latency -------------------------------------------------------------------------------------


def latency_part(args) -> dict:
    space = get_space("nb201")
    archs = space.sample(30, 0)
    flops = {a: sized_ir(f"nb201:{a}", {}).flops for a in archs}
    middle = sorted(archs, key=flops.get)[len(archs) // 2]
    out = {}
    for runtime in ("torch", "onnxruntime"):
        measure = meter("nb201", runtime, args.threads)
        first = [measure(a) for a in archs]
        second = [measure(a) for a in archs]
        repeats = [measure(middle) for _ in range(10)]
        out[runtime] = {"first": first, "second": second, "repeats": repeats, "machine": measure.measured_by,
                        "rho": spearman(first, second),
                        "spread": (max(repeats) - min(repeats)) / statistics.median(repeats),
                        "rho_flops": spearman(first, [flops[a] for a in archs])}
        print(f"latency {runtime}: rho {out[runtime]['rho']:.3f}, spread {out[runtime]['spread']:.1%}", flush=True)
    out["archs"], out["middle"] = archs, middle
    return out


def latency_table(raw: dict) -> dict:
    rows = []
    for runtime in ("torch", "onnxruntime"):
        r = raw[runtime]
        rows.append([runtime, round(r["rho"], 3), round(100 * r["spread"], 1),
                     round(100 * statistics.stdev(r["repeats"]) / statistics.median(r["repeats"]), 1),
                     round(statistics.median(r["repeats"]), 3), round(min(r["first"]), 3),
                     round(max(r["first"]), 3), round(r["rho_flops"], 3), r["machine"]])
    return table("Latency measured on this machine: 30 NB201 architectures (benchmark network, batch 1, one "
                 "thread), two separate passes; one network measured 10 times",
                 ["runtime", "rho between passes", "spread of 10 medians %", "their sd %", "median ms",
                  "fastest ms", "slowest ms", "rho with FLOPs", "machine"], rows,
                 ["targets: rho >= 0.9 between the passes, spread <= 5 % on a quiet machine; each latency is the "
                  "median of at least 30 timed runs spanning at least 0.25 s, after warm-up"])


# --- constraints ---------------------------------------------------------------------------------


def nb201_limits() -> dict:
    """Each budget at the median of 30 sampled NB201 architectures' (sized network, batch 1)."""
    space = get_space("nb201")
    archs = space.sample(30, 1)
    measure = meter("nb201", "torch", 1)
    return {"max_params": float(statistics.median(space_params("nb201", a, {}) for a in archs)),
            "max_flops": float(statistics.median(sized_ir(f"nb201:{a}", {}).flops for a in archs)),
            "max_memory_mb": statistics.median(_memory("nb201", a, {}) for a in archs),
            "max_latency_ms": statistics.median(measure(a) for a in archs)}


def resnet_limits() -> dict:
    space = get_space("model", RESNET)
    archs = space.sample(20, 1)
    measure = meter("model", "torch", 1, **RESNET)
    original = space_params("model", space.canonical(space.original), RESNET)
    return {"max_params": float(round(0.4 * original)), "max_latency_ms": statistics.median(measure(a) for a in archs)}


def _memory(space_name: str, arch: str, options: dict) -> float:
    space = get_space(space_name, options)
    return peak_memory_bytes(lambda: space.build(arch, **options), tuple(space.input_shape), 1) / MB


def _recount(space_name: str, quantity: str, arch: str, options: dict, recorded: dict) -> float:
    """A scored architecture's cost counted again (latency: as the search measured it)."""
    if quantity == "max_params":
        return space_params(space_name, arch, options)
    if quantity == "max_flops":
        return sized_ir(f"{space_name}:{arch}", options).flops
    if quantity == "max_memory_mb":
        return _memory(space_name, arch, options)
    return recorded[arch]["latency"]


def constraints_part(args, raw: dict, save) -> dict:
    for space_name, options, limits in (("nb201", {}, raw.get("nb201_limits")), ("model", RESNET,
                                                                                 raw.get("model_limits"))):
        if limits is None:
            limits = nb201_limits() if space_name == "nb201" else resnet_limits()
            raw[f"{space_name}_limits"] = limits
        for (quantity, limit), seed in itertools.product(limits.items(), range(5)):
            key = f"{space_name} {quantity} {seed}"
            if key in raw.get("runs", {}):
                continue
            with tempfile.TemporaryDirectory() as folder:
                checkpoint = Path(folder) / "run.json"
                found = swapfw.search(space=space_name, space_options=options, budget=40 if space_name == "nb201"
                                      else 24, seed=seed, cache=args.cache, latency_threads=1,
                                      checkpoint=str(checkpoint), **{quantity: limit}).to_dict()
                state = json.loads(checkpoint.read_text())
            scored = list(state["seen"])
            values = [_recount(space_name, quantity, a, options, state["costs"]) for a in scored]
            raw.setdefault("runs", {})[key] = {"limit": limit, "scored": len(scored), "rejected": found["rejected"],
                                               "over": sum(v > limit for v in values), "largest": max(values),
                                               "best": found["best"]["arch"], "best_cost": found["best"]["costs"]}
            save()
            print(f"{key}: {len(scored)} scored, {found['rejected']} rejected, "
                  f"{raw['runs'][key]['over']} over", flush=True)
    return raw


def constraints_table(raw: dict) -> dict:
    rows = []
    for space_name in ("nb201", "model"):
        for quantity, limit in raw[f"{space_name}_limits"].items():
            runs = [raw["runs"][f"{space_name} {quantity} {seed}"] for seed in range(5)]
            rows.append([space_name if space_name == "nb201" else "model (resnet18)", quantity, round(limit, 4),
                         len(runs), sum(r["scored"] for r in runs), sum(r["rejected"] for r in runs),
                         sum(r["over"] for r in runs), round(max(r["largest"] for r in runs), 4)])
    return table("Budgets hold: every architecture 5 searches per budget scored, checked against it",
                 ["space", "budget", "limit", "seeds", "scored", "rejected", "over budget", "largest scored"], rows,
                 ["params, FLOPs and memory counted again for every scored architecture; latency as the search "
                  "measured it (torch, CPU, batch 1, one thread); limits at the median of a sample, so about half "
                  "the candidates are turned away; resnet18's params at 40 % of the original's"])


# --- FLOPs budget on NB201 -----------------------------------------------------------------------


def all_flops() -> tuple[dict, list]:
    """FLOPs of every NB201 architecture as sums over its edges (a cell's edges all see the same
    shapes), fitted on the IR's count of 40 and checked exactly on 100 others."""
    space = get_space("nb201")
    every = list(space.enumerate())
    counts = lambda arch: [space.parse(arch).count(op) for op in NB201_OPS[1:]] + [1]  # noqa: E731
    fit = space.sample(40, 11)
    weights, *_ = np.linalg.lstsq(np.array([counts(a) for a in fit], float),
                                  np.array([sized_ir(f"nb201:{a}", {}).flops for a in fit], float), rcond=None)
    weights = np.round(weights)
    flops = {a: int(np.dot(counts(a), weights)) for a in every}
    checked = space.sample(100, 12)
    wrong = [a for a in checked if flops[a] != sized_ir(f"nb201:{a}", {}).flops]
    if wrong:
        raise SystemExit(f"NB201 FLOPs are not per-edge sums here ({len(wrong)} of 100 differ, e.g. {wrong[0]})")
    return flops, checked


def flops_part(args, raw: dict, save) -> dict:
    hp12, bench = need_data("nb201", "nb201_hp12.csv"), need_data("nb201", "nb201.csv")
    flops, checked = all_flops()
    largest = max(flops.values())
    limit = 0.5 * largest
    with open(bench, newline="") as fh:
        test = {r["arch_str"]: float(r["cifar10_test"]) for r in csv.DictReader(fh)}
    space = get_space("nb201")
    within = [a for a in test if flops[space.canonical(a)] <= limit]
    best = max(within, key=test.get)
    raw.update(limit=limit, largest=largest, checked=len(checked), within=len(within), best_under=best,
               best_under_test=test[best], best_overall=max(test.values()))
    evaluator = {"table": str(hp12), "metric": "cifar10_val_12ep", "cost": "train_seconds_12ep"}
    for seed in range(10):
        if str(seed) in raw.setdefault("seeds", {}):
            continue
        found = swapfw.search(space="nb201", budget=300, seed=seed, cache=args.cache, max_flops=limit,
                              evaluator="table", evaluator_options=evaluator, evaluations=20).to_dict()
        answer, proxy = found["best"]["arch"], found["proxy_best"]["arch"]
        raw["seeds"][str(seed)] = {"arch": answer, "flops": flops[space.canonical(answer)], "test": test[answer],
                                   "proxy_arch": proxy, "proxy_flops": flops[space.canonical(proxy)],
                                   "proxy_test": test[proxy], "rejected": found["rejected"],
                                   "seconds": found["seconds"],
                                   "evaluation_seconds": found["evaluation_cost"]["seconds"]}
        save()
        print(f"flops seed {seed}: {test[answer]:.2f} (proxy's {test[proxy]:.2f}), best under budget "
              f"{test[best]:.2f}", flush=True)
    return raw


def flops_table(raw: dict) -> dict:
    seeds = list(raw["seeds"].values())
    rows = []
    for label, key, flop in (("proxy only", "proxy_test", "proxy_flops"), ("20 evaluations (climb)", "test", "flops")):
        tests = [s[key] for s in seeds]
        rows.append([label, len(seeds), round(statistics.mean(tests), 2), round(statistics.pstdev(tests), 2),
                     round(min(tests), 2), round(raw["best_under_test"] - statistics.mean(tests), 2),
                     max(s[flop] for s in seeds), round(statistics.mean(s["rejected"] for s in seeds))])
    return table(f"NB201 under --max-flops {raw['limit']:,.0f} (50 % of the largest, {raw['largest']:,}): "
                 f"{raw['within']:,} of 15,625 architectures within it; the best of them {raw['best_under_test']:.2f} "
                 f"cifar10_test (the best overall {raw['best_overall']:.2f})",
                 ["answer", "seeds", "cifar10_test", "std", "min", "below the best under budget", "largest FLOPs",
                  "rejected"], rows,
                 ["swapfw search --space nb201 --budget 300 --max-flops LIMIT, default proxy; the evaluations: "
                  "12-epoch CIFAR-10 validation (nb201_hp12.csv, simulated cost); target: within 0.5 points of "
                  "the best under budget", f"FLOPs of every architecture as per-edge sums, checked exactly against "
                                           f"the IR on {raw['checked']} architectures"])


# --- resnet18's front ----------------------------------------------------------------------------


def front_part(args, raw: dict, save) -> dict:
    if "front" not in raw:
        found = swapfw.search(space="model", space_options=RESNET, proxy="swap", objectives="proxy,latency",
                              budget=args.front_budget, population=20, seed=0, cache=args.cache,
                              latency_threads=1).to_dict()
        raw["budget"] = args.front_budget
        raw.update(front=found["front"], scored=found["scored_objectives"], latency=found["latency"],
                   seconds=found["seconds"])
        save()
    fastest = raw["front"][0]
    space = get_space("model", RESNET)
    count = sum(p.kind == "width" for p in space.points)
    settings = resolve(SearchSettings(space="model", build_options=RESNET, latency_threads=1))
    measure = Latency(replace(settings, latency_runtime=raw["latency"]["runtime"]), NoCache())

    def uniform_swap(ratio: float) -> tuple[str, float]:
        arch = space.canonical(f"w:{ratio}*{count}")
        return arch, swapfw.score(f"model:{arch}", space_options=RESNET, cache=args.cache).swap

    lo, hi = 0.05, 1.0  # the slimmest uniform keep-ratio whose SWAP reaches the fastest member's
    target = fastest["objectives"]["proxy"]
    for _ in range(10):
        mid = round((lo + hi) / 2, 3)
        if uniform_swap(mid)[1] >= target:
            hi = mid
        else:
            lo = mid
    arch, swap = uniform_swap(hi)
    pairs = [(measure(arch), measure(fastest["arch"])) for _ in range(ALTERNATIONS)]  # side by side, in turn
    raw["uniform"] = {"ratio": hi, "arch": arch, "swap": swap, "pairs": pairs,
                      "latency": statistics.median(p[0] for p in pairs),
                      "fastest_again": statistics.median(p[1] for p in pairs)}
    return raw


def front_table(raw: dict) -> dict:
    front, uniform = raw["front"], raw["uniform"]
    latencies = [m["objectives"]["latency"] for m in front]
    return table(f"resnet18 (model space): the Pareto front of SWAP and CPU latency (nsga2, budget "
                 f"{raw.get('budget', 120)}, batch 1, one thread)",
                 ["members", "fastest ms", "slowest ms", "span", "fastest's SWAP", "uniform ratio at that SWAP",
                  "uniform's SWAP", "uniform ms", "fastest ms (timed again)"],
                 [[len(front), round(min(latencies), 3), round(max(latencies), 3),
                   round(max(latencies) / min(latencies), 2), front[0]["objectives"]["proxy"], uniform["ratio"],
                   uniform["swap"], round(uniform["latency"], 3), round(uniform["fastest_again"], 3)]],
                 ["targets: >= 5 members spanning >= 2x in latency; the fastest member faster than uniform width "
                  "scaling at the same SWAP (the slimmest uniform keep-ratio reaching it, bisected); both timed "
                  f"again {ALTERNATIONS} times in turn, the medians in the last two columns. Machine: "
                  f"{raw['latency']['machine']}"])


def main() -> None:
    options = parser(__doc__, threads=1)
    options.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    options.add_argument("--cache", default=None, help="score cache (default: swapfw's own)")
    options.add_argument("--front-budget", type=int, default=300, help="architectures the front's search scores")
    args = options.parse_args()
    set_threads(args.threads)
    raw = previous_raw(args, NAME, {})

    def save() -> None:
        write_results(args, NAME, [], raw, quiet=True)

    for part in args.parts.split(","):
        if part not in PARTS:
            raise SystemExit(f"unknown part {part!r} (parts: {', '.join(PARTS)})")
        if part == "latency" and "latency" not in raw:
            raw["latency"] = latency_part(args)
        elif part != "latency":
            made = {"constraints": constraints_part, "flops": flops_part, "front": front_part}[part]
            made(args, raw.setdefault(part, {}), save)
        save()
    makers = {"latency": latency_table, "constraints": constraints_table, "flops": flops_table, "front": front_table}
    publish(args, NAME, [makers[p](raw[p]) for p in PARTS if p in raw], raw, doc=__doc__)


if __name__ == "__main__":
    main()
