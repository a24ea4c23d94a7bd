"""Proxies as predictor features: fitted on n labelled architectures, how well do they rank the rest?

    python benchmarks/predictor_study.py [--out FILE]                    # every development split
    python benchmarks/predictor_study.py --splits nb101,darts --sizes 10,20,50 --repeats 5
    python benchmarks/predictor_study.py --archs 150                      # at most 150 of each split

For each development split (never NB201's test columns): every architecture is scored once with
the proxies (the space's default protocol, seed 0, through the score cache). Then, for each n and
repeat, n architectures are drawn as the labelled ones and the rest are held out; on the rest the
table reports Spearman's rho of

- ``learned``: the ranking the ``learned`` selection of a search uses (a weighted sum of the
  proxies and the space's architecture features, min-max normalised over the split), its weights
  fitted to the n labels by the same Bayesian optimisation (``selection.fit_weights``);
- ``gp``: a Gaussian-process regression (scikit-learn) on the same normalised columns;
- ``best proxy``: the single proxy with the highest rho on the n labelled ones;
- each proxy alone (what needs no labels), and params.

The mean and std over the repeats. Scores go through the score cache, so a killed run resumes
and a rerun prints at once. Needs ``dev/`` under ``SWAPFW_DATA``.
"""

from __future__ import annotations

import statistics
import warnings

import numpy as np
from scipy.stats import spearmanr

import swapfw
from common import Progress, need_data, parser, previous_raw, publish, set_threads, table, write_results
from protocol_study import SPLITS
from swapfw.plugins import get_space
from swapfw.studies.selection import fit_weights, normalised
from swapfw.studies.truth import load_truth

PROXIES = "swap,regswap,params,flops,synflow,nwot"
NAME = "predictor_study"


def scores(split: str, proxies: list[str], cache: str | None, most: int | None = None) -> dict:
    """The split's architectures (every one, or ``most`` of them drawn with seed 0) with their proxy
    values and their labels (val accuracy)."""
    space, truth, metric, build, _ = SPLITS[split]
    path = str(need_data(*truth.split("/")))
    count = len(load_truth(path, metric, get_space(space, build)).values)  # every architecture of the split
    count = min(count, most or count)
    result = swapfw.correlate(space=space, truth=path, metric=metric, proxies=proxies, samples=count, seeds=[0],
                              space_options=build, cache=cache, progress=Progress(every=60))
    seed = result.report["per_seed"][0]
    return {"space": space, "build": build, "archs": seed["archs"], "labels": seed["truth"],
            "scores": seed["scores"], "seconds": result.to_dict().get("wall_seconds")}


def _rho(values, labels) -> float:
    rho = spearmanr(values, labels).statistic
    return float(rho) if np.isfinite(rho) else float("nan")


def study(split: str, scored: dict, sizes: list[int], repeats: int) -> list[dict]:
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import Matern, WhiteKernel

    archs, labels = scored["archs"], np.array(scored["labels"], dtype=float)
    pool = {a: {p: scored["scores"][p][i] for p in scored["scores"]} for i, a in enumerate(archs)}
    space = get_space(scored["space"], scored["build"])
    matrix = normalised(archs, pool, getattr(space, "features", None))
    rows = []
    for n in sizes:
        if n + 10 > len(archs):
            continue
        for repeat in range(repeats):
            rng = np.random.default_rng(repeat)
            order = rng.permutation(len(archs))
            labelled, rest = order[:n], order[n:]
            weights = fit_weights(matrix[labelled], labels[labelled], seed=repeat)
            gp = GaussianProcessRegressor(Matern(nu=2.5) + WhiteKernel(), normalize_y=True, random_state=repeat)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gp.fit(matrix[labelled], labels[labelled])
            single = {p: np.array(v, dtype=float) for p, v in scored["scores"].items()}
            chosen = max(single, key=lambda p: np.nan_to_num(_rho(single[p][labelled], labels[labelled]), nan=-2))
            rows.append({"split": split, "n": n, "repeat": repeat,
                         "learned": _rho(matrix[rest] @ weights, labels[rest]),
                         "gp": _rho(gp.predict(matrix[rest]), labels[rest]),
                         "best_proxy": chosen, "best_proxy_rho": _rho(single[chosen][rest], labels[rest]),
                         **{f"rho_{p}": _rho(v[rest], labels[rest]) for p, v in single.items()}})
    return rows


def summary(rows: list[dict], proxies: list[str]) -> dict:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["split"], r["n"]), []).append(r)

    def shown(values) -> str:
        finite = [v for v in values if v is not None and np.isfinite(v)]  # JSON keeps NaN as null
        return f"{statistics.mean(finite):.3f} ± {statistics.pstdev(finite):.3f}" if finite else "-"

    made = []
    for (split, n), found in sorted(groups.items()):
        made.append([split, n, len(found), shown(r["learned"] for r in found), shown(r["gp"] for r in found),
                     shown(r["best_proxy_rho"] for r in found),
                     ", ".join(sorted({r["best_proxy"] for r in found})),
                     *[shown(r[f"rho_{p}"] for r in found) for p in proxies]])
    return table("Spearman's rho on the held-out architectures of each development split, after fitting on n "
                 "labelled ones (mean ± std over repeats)",
                 ["split", "n", "repeats", "learned", "gp", "best proxy", "which", *proxies], made,
                 ["learned: the search's learned ranking, weights fitted to the n labels; gp: a Gaussian process "
                  "on the same columns; best proxy: chosen on the n labelled; the proxy columns need no labels"])


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--splits", default=",".join(s for s in SPLITS if s != "nb201"))
    options.add_argument("--sizes", default="10,20,50,100")
    options.add_argument("--repeats", type=int, default=5)
    options.add_argument("--proxies", default=PROXIES)
    options.add_argument("--cache", default=None, help="score cache (default: swapfw's own)")
    options.add_argument("--archs", type=int, default=None,
                         help="at most this many architectures of each split, drawn with seed 0 (default: all)")
    args = options.parse_args()
    set_threads(args.threads)
    proxies = args.proxies.split(",")
    sizes = [int(n) for n in args.sizes.split(",")]
    raw = previous_raw(args, NAME, {"rows": [], "seconds": {}})
    for split in args.splits.split(","):
        if split not in SPLITS or split == "nb201":
            raise SystemExit(f"unknown split {split!r} (known: {', '.join(s for s in SPLITS if s != 'nb201')})")
        if any(r["split"] == split for r in raw["rows"]):
            continue
        scored = scores(split, proxies, args.cache, args.archs)
        raw["rows"] += study(split, scored, sizes, args.repeats)
        raw["seconds"][split] = scored["seconds"]
        write_results(args, NAME, [], raw, quiet=True)
        print(f"{split} done ({len(scored['archs'])} architectures)", flush=True)
    publish(args, NAME, [summary(raw["rows"], proxies)], raw, doc=__doc__)


if __name__ == "__main__":
    main()
