"""Each space's default ranking, chosen on its development splits: every bundled proxy under every
protocol of the space, and calibrated aggregates of the best of them, by Spearman's rho.

    python benchmarks/default_ranking.py --spaces nb101 [--out FILE]
    python benchmarks/default_ranking.py --spaces nb101 --protocols reduced    # one protocol
    python benchmarks/default_ranking.py --spaces darts --archs 150 --seeds 0,1,2 --executor processes
    python benchmarks/default_ranking.py --spaces nb201,nb101,darts --readme    # and the README's table

For each space, each of its named protocols and each of its development splits (NB201: its
``cifar10_val`` column; never a test column), every architecture of the split (or ``--archs`` of
them, drawn per seed) is scored with every candidate: each bundled proxy that scores one network
(population proxies cannot be a per-architecture default, nor those that need labelled images, since
a default scores with no data given; ``--skip`` leaves out the costliest,
whose seconds per architecture are beside the choice in ``proxy_cost``) and regswap with
``auto``. Calibrated aggregates of the ``--top`` best single proxies (every pair and triple) are
then formed from the same values; for the choice they are calibrated against the split's own
architectures (their log quantiles there), which ranks as the aggregate calibrated against the
space's reference sample does up to that sample's difference from the split; the chosen aggregate
is then scored for real, reference sample and all, and its row replaces the estimate. Where the
split is not drawn as the reference sample is (TransNAS micro), estimates run high: after
``--verify`` aggregates (default 3) scored for real without one staying the choice, the choice is
made among the rows measured for real only.

The rule (documented in docs/protocols.md): the candidate with the best mean rho over the space's
splits (each the mean over seeds 0-2), a tie within 0.01 going to the cheaper (seconds per
architecture on this machine, each proxy alone with its network's build, measured without the
cache on five architectures of the space's first split, summed over an aggregate's parts).
Scores go through the score cache: a killed run resumes and a rerun prints at once.
"""

from __future__ import annotations

import itertools
import math
import statistics
import sys

import numpy as np

import swapfw
from common import (ROOT, Progress, need_data, parser, previous_raw, publish, set_threads, spearman, table,
                    write_results)
from protocol_study import SPLITS
from swapfw.plugins import get_registry, get_space
from swapfw.scoring.proxies import needs_targets
from swapfw.studies.truth import load_truth

NAME = "default_ranking"
#: the proxies left out unless asked for: the costliest per architecture in ``proxy_cost``
SKIP = "grasp,vkdnw,vkdnw_single,ntk,linear_regions"
#: a tie: within this much mean rho, the cheaper wins
TIE = 0.01
#: architectures each proxy's cost is measured on, without the cache
COST_ARCHS = 5


def candidates(skip: set[str]) -> list[str]:
    """Every bundled proxy that scores one network alone on the protocol's own input, regswap included
    (one that needs labelled images cannot be a default: a default scores with no data given)."""
    registry = get_registry()
    names = [name for name in registry.names("proxies") if name not in skip
             and not hasattr(registry.get("proxies", name), "configure")
             and not getattr(registry.get("proxies", name), "population", False)]
    return [name for name in names if not needs_targets([name])]


def splits_of(space: str) -> list[str]:
    return [split for split, spec in SPLITS.items() if spec[0] == space]


def scored(split: str, protocol: str, proxies: list[str], seeds: list[int], args) -> dict:
    """Per seed: the architectures, their labels and every proxy's values; seconds per proxy and arch."""
    space, truth, metric, build, _ = SPLITS[split]
    path = str(need_data(*truth.split("/")))
    count = len(load_truth(path, metric, get_space(space, build)).values)
    report = swapfw.correlate(space=space, truth=path, metric=metric, proxies=proxies,
                              samples=min(count, args.archs or count), seeds=seeds, protocol=protocol,
                              space_options=build, cache=args.cache, executor=args.executor, workers=args.workers,
                              threads=args.threads, progress=Progress(every=60))
    return {"runs": [{"seed": run["seed"], "labels": run["truth"], "scores": run["scores"]}
                     for run in report.report["per_seed"]],
            "rho": {p: report.proxies[p]["spearman_mean"] for p in proxies}}


def seconds(split: str, protocol: str, proxies: list[str], args) -> dict[str, float]:
    """Seconds per architecture of each proxy alone (building the network included, as a default
    pays it) on COST_ARCHS of the split, without the cache: a cached value costs nothing, which
    says nothing of what a user pays, and proxies scored together share work (swap and patterns)."""
    space, truth, metric, build, _ = SPLITS[split]
    spent = {}
    for proxy in proxies:
        measured = "swap" if proxy == "regswap" else proxy  # regswap is swap times a factor of its size
        report = swapfw.correlate(space=space, truth=str(need_data(*truth.split("/"))), metric=metric,
                                  proxies=[measured], samples=COST_ARCHS, seeds=[0], protocol=protocol,
                                  space_options=build, no_cache=True, threads=args.threads)
        spent[proxy] = report.proxies[measured]["seconds"] / COST_ARCHS
    return spent


def _log_quantiles(values: list[float]) -> np.ndarray:
    """Each value's log quantile among the others (a value that is not finite: the lowest)."""
    column = np.array([v if math.isfinite(v) else -math.inf for v in values], dtype=float)
    ranks = np.searchsorted(np.sort(column), column, side="right")
    return np.log(ranks / len(column))


def estimated(found: dict, parts: tuple[str, ...]) -> float:
    """An aggregate's rho, calibrated against the split's own architectures (the mean over seeds)."""
    return statistics.mean(
        spearman(list(sum(_log_quantiles(run["scores"][p]) for p in parts)), run["labels"]) for run in found["runs"])


def choose(rows: list[dict]) -> dict:
    """The best mean rho, a tie within TIE going to the cheaper."""
    finite = [r for r in rows if r["mean"] is not None and math.isfinite(r["mean"])]  # JSON keeps NaN as null
    best = max(r["mean"] for r in finite)
    return min((r for r in finite if r["mean"] >= best - TIE), key=lambda r: (r["seconds"], -r["mean"]))


def study_space(space: str, args, raw: dict) -> None:
    proxies = candidates(set(args.skip.split(",")) - {""})
    splits = [s for s in splits_of(space) if not args.splits or s in args.splits.split(",")]
    rows = []
    protocols = [p for p in get_space(space).protocols if not args.protocols or p in args.protocols.split(",")]
    for protocol in protocols:
        found = {}
        for split in splits:  # from the score cache once scored: a rerun or a resumed run is quick
            found[split] = scored(split, protocol, proxies, args.seeds, args)
            print(f"{split} under {protocol} done", flush=True)
        singles = {p: statistics.mean(found[s]["rho"][p] for s in splits) for p in proxies}
        cost = seconds(splits[0], protocol, proxies, args)
        for p in proxies:
            rows.append({"space": space, "protocol": protocol, "proxy": p, "mean": singles[p],
                         "per_split": {s: found[s]["rho"][p] for s in splits}, "seconds": cost[p], "estimated": False})
        best = sorted((p for p in proxies if math.isfinite(singles[p])), key=lambda p: -singles[p])[:args.top]
        for size in (2, 3):
            for parts in itertools.combinations(best, size):
                per = {s: estimated(found[s], parts) for s in splits}
                rows.append({"space": space, "protocol": protocol, "proxy": "calibrated:" + "+".join(parts),
                             "mean": statistics.mean(per.values()), "per_split": per,
                             "seconds": sum(cost[p] for p in parts), "estimated": True})
    # rows of the space's other protocols, from an earlier run, stay candidates: one protocol at a time adds up
    rows += [r for r in raw["rows"] if r["space"] == space and r["protocol"] not in protocols]
    choice, verified = choose(rows), 0
    while choice["estimated"]:  # score the chosen aggregate for real, reference sample and all, and choose again
        if verified == args.verify:  # estimates stayed above what their aggregates measure: real rows only
            choice = choose([r for r in rows if not r["estimated"]])
            break
        real = {s: scored(s, choice["protocol"], [choice["proxy"]], args.seeds, args)["rho"][choice["proxy"]]
                for s in splits}
        choice.update(per_split=real, mean=statistics.mean(real.values()), estimated=False)
        verified += 1
        choice = choose(rows)
    raw["rows"] = [r for r in raw["rows"] if r["space"] != space] + rows
    for protocol in protocols:  # what each protocol's rows were measured with: runs may differ per space
        raw.setdefault("runs", {})[f"{space}/{protocol}"] = {
            "archs": args.archs, "seeds": args.seeds, "candidates": len(proxies),
            "skipped": sorted(set(args.skip.split(",")) - {""}), "command": "python " + " ".join(sys.argv)}
    raw["choice"][space] = choice


def summary(raw: dict) -> list[dict]:
    tables = []
    for space, choice in raw["choice"].items():
        rows = sorted((r for r in raw["rows"] if r["space"] == space), key=_best_first)
        splits = list(rows[0]["per_split"])
        shown = rows[:25]
        tables.append(table(
            f"{space}: candidates for the default ranking by mean Spearman rho over its development splits "
            f"(seeds {','.join(map(str, raw['seeds']))}), best first; chosen: {choice['proxy']} under "
            f"{choice['protocol']}",
            ["proxy", "protocol", *splits, "mean", "s/arch", "calibrated on"],
            [[r["proxy"], r["protocol"], *(round(_number(r["per_split"][s]), 3) for s in splits),
              round(_number(r["mean"]), 3),
              round(r["seconds"], 4), _calibration(r)] for r in shown],
            [f"the best 25 of {len(rows)}; rule: the best mean, a tie within {TIE} to the cheaper; aggregates "
             "estimated with the split as their reference sample",
             *(f"{key}: {run['archs'] or 'all'} architectures per split and seed, proxies left out: "
               f"{', '.join(run['skipped']) or 'none'} ({run['command']})"
               for key, run in raw.get("runs", {}).items() if key.startswith(f"{space}/"))]))
    return tables


def _number(value: float | None) -> float:
    """A rho as read back from JSON, where a NaN (a proxy that cannot rank: constant values) is null."""
    return math.nan if value is None else value


def _best_first(row: dict) -> float:
    """A sort key: the higher mean rho first, a proxy that cannot rank (NaN) last."""
    mean = _number(row["mean"])
    return -mean if math.isfinite(mean) else math.inf


def _calibration(row: dict) -> str:
    if not row["proxy"].startswith("calibrated:"):
        return "-"
    return "the split (estimate)" if row["estimated"] else "reference sample"


#: the README's block of default rankings lies between these lines (``--readme`` rewrites it)
README_BEGIN, README_END = "<!-- default_ranking: begin -->", "<!-- default_ranking: end -->"


def uses_swap(proxy: str) -> bool:
    """Whether a proxy (a calibrated aggregate's parts included) reads SWAP: swap or regswap."""
    return any(part in ("swap", "regswap") for part in proxy.removeprefix("calibrated:").split("+"))


def readme_table(raw: dict) -> str:
    """The README's summary, from the results alone: per space, the default, its mean rho over the
    development splits, swap, regswap and the best single proxy beside it, and the seconds of each."""
    lines = ["| space | default ranking (protocol) | mean rho | SWAP in it | swap | regswap | best single proxy | "
             "s/arch default, swap |", "|---|---|---|---|---|---|---|---|"]
    for space, choice in raw["choice"].items():
        rows = [r for r in raw["rows"] if r["space"] == space]
        mine = {r["proxy"]: r for r in rows if r["protocol"] == choice["protocol"]}
        best = max((r for r in rows if not r["proxy"].startswith("calibrated:") and r["mean"] is not None),
                   key=lambda r: r["mean"])
        lines.append(
            f"| {space} | `{choice['proxy']}` ({choice['protocol']}) | {choice['mean']:.3f} | "
            f"{'yes' if uses_swap(choice['proxy']) else '**no**'} | {mine['swap']['mean']:.3f} | "
            f"{mine['regswap']['mean']:.3f} | {best['proxy']} ({best['protocol']}) {best['mean']:.3f} | "
            f"{choice['seconds']:.3f}, {mine['swap']['seconds']:.3f} |")
    return "\n".join(lines)


def write_readme(raw: dict, path) -> None:
    """Replace the README's block of default rankings with ``readme_table(raw)``."""
    text = path.read_text()
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    path.write_text(f"{head}{README_BEGIN}\n{readme_table(raw)}\n{README_END}{tail}")


def main() -> None:
    options = parser(__doc__, threads=1)
    options.add_argument("--spaces", default="nb101")
    options.add_argument("--splits", default=None, help="only these splits of the spaces (default: all)")
    options.add_argument("--protocols", default=None, help="only these protocols of the spaces (default: all)")
    options.add_argument("--seeds", default="0,1,2")
    options.add_argument("--archs", type=int, default=None, help="at most this many per split and seed")
    options.add_argument("--skip", default=SKIP, help="proxies left out (comma-separated)")
    options.add_argument("--verify", type=int, default=3,
                         help="aggregates scored for real against the reference sample, at most (default: 3)")
    options.add_argument("--top", type=int, default=5, help="single proxies whose pairs and triples are tried")
    options.add_argument("--cache", default=None, help="score cache (default: swapfw's own)")
    options.add_argument("--executor", default="local")
    options.add_argument("--workers", type=int, default=None)
    options.add_argument("--readme", action="store_true", help="rewrite the README's table of default rankings")
    args = options.parse_args()
    set_threads(args.threads)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    raw = previous_raw(args, NAME, {"rows": [], "choice": {}, "seeds": args.seeds})
    for space in args.spaces.split(","):
        if not splits_of(space):
            raise SystemExit(f"no development split of space {space!r} (known: "
                             f"{', '.join(sorted({s[0] for s in SPLITS.values()}))})")
        study_space(space, args, raw)
        write_results(args, NAME, summary(raw), raw, quiet=True)
    publish(args, NAME, summary(raw), raw, doc=__doc__)
    if args.readme:  # after the results are written, so that their provenance is the tree as it ran
        write_readme(raw, ROOT / "README.md")


if __name__ == "__main__":
    main()
