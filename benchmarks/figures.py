"""The docs' figures, drawn from the benchmarks' results alone (``benchmarks/results/*.json``), so that a
figure shows what a JSON file holds and nothing typed by hand.

    python benchmarks/figures.py                 # every figure whose results file exists
    python benchmarks/figures.py --only cell_study --into /tmp

Each figure is ``docs/figures/NAME.png`` (``--into`` another folder), NAME its results file:

- ``default_ranking``: per space and development split, Spearman's rho of swap, regswap, params, the
  best other single proxy and the space's default ranking, under the default's protocol.
- ``mu_sigma_rules``: per development split, regularised SWAP under the earlier ``auto`` rule (mu =
  sigma = the largest size) and today's (sigma = mu^2), beside swap and params alone.
- ``cell_study``: NB301, each DARTS cell scored alone, per protocol.

Needs matplotlib (``pip install -e '.[plot]'``).
"""

from __future__ import annotations

import argparse
import json
import sys

from common import RESULTS, ROOT

FIGURES = ROOT / "docs" / "figures"


def _bars(ax, groups: list[str], series: list[tuple[str, list[float]]]) -> None:
    """Grouped bars: one group per label in ``groups``, one bar per (label, values) in ``series``."""
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series):
        ax.bar([k + (i - (len(series) - 1) / 2) * width for k in range(len(groups))],
               [v if v is not None else 0.0 for v in values], width, label=label)
    ax.set_xticks(range(len(groups)), groups, fontsize=7, rotation=20, ha="right")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_ylabel("Spearman rho", fontsize=8)


def default_ranking(raw: dict, plt):
    spaces = list(raw["choice"])
    fig, axes = plt.subplots(len(spaces), 1, figsize=(11, 2.6 * len(spaces)), squeeze=False)
    for ax, space in zip(axes[:, 0], spaces):
        choice = raw["choice"][space]
        mine = {r["proxy"]: r for r in raw["rows"] if r["space"] == space and r["protocol"] == choice["protocol"]}
        others = [r for name, r in mine.items() if not name.startswith("calibrated:") and r["mean"] is not None
                  and name not in ("swap", "regswap", "params")]
        best = max(others, key=lambda r: r["mean"])
        splits = list(choice["per_split"])
        _bars(ax, [s.replace("_", " ") for s in splits],
              [(name, [mine[name]["per_split"][s] for s in splits]) for name in ("swap", "regswap", "params")]
              + [(f"best other: {best['proxy']}", [best["per_split"][s] for s in splits]),
                 (f"default: {choice['proxy']}", [choice["per_split"][s] for s in splits])])
        ax.set_title(f"{space} under {choice['protocol']} (development splits, mean over seeds)", fontsize=9)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def mu_sigma_rules(raw: dict, plt):
    splits = list(raw)
    fig, ax = plt.subplots(figsize=(12, 3.6))
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    series = [("regswap, mu = sigma = largest (earlier auto)", "largest"),
              ("regswap, sigma = mu^2 (auto)", "largest, sigma=largest^2"), ("swap", "swap"), ("params", "params")]
    _bars(ax, [s.replace("_", " ") for s in splits],
          [(label, [mean(raw[s]["rho"][rule]) for s in splits]) for label, rule in series])
    ax.set_title("Regularised SWAP under two mu/sigma rules from sizes alone, per development split", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def cell_study(rows: list[dict], plt):
    protocols = sorted({r["protocol"] for r in rows})
    fig, axes = plt.subplots(1, len(protocols), figsize=(4.6 * len(protocols), 3.4), squeeze=False, sharey=True)
    for ax, protocol in zip(axes[0], protocols):
        shown = [r for r in rows if r["protocol"] == protocol]
        _bars(ax, [r["variant"] for r in shown],
              [("swap", [r["rho_swap"] for r in shown]), ("params", [r["rho_params"] for r in shown])])
        ax.set_title(f"NB301 val_accuracy, darts protocol {protocol}", fontsize=9)
        ax.legend(fontsize=7)
    return fig


def budget_search(raw: dict, plt):
    """resnet18's front of SWAP and CPU latency beside uniform width scaling; NB201 under half its FLOPs."""
    panels = [p for p in ("front", "flops") if p in raw]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        part = raw[panel]
        if panel == "front":
            ax.scatter([r["latency"] for r in part["scored"]], [r["proxy"] for r in part["scored"]], s=9, c="0.7",
                       label=f"scored within budget ({len(part['scored'])})")
            ax.plot([m["objectives"]["latency"] for m in part["front"]], [m["objectives"]["proxy"] for m in part["front"]],
                    "o-", c="tab:red", drawstyle="steps-post", label=f"Pareto front ({len(part['front'])})")
            if "uniform" in part:
                ax.scatter([part["uniform"]["latency"]], [part["uniform"]["swap"]], marker="s", c="tab:blue",
                           label=f"uniform width x{part['uniform']['ratio']}")
            ax.set_xlabel(f"latency (ms, {part['latency']['runtime']} on {part['latency']['device']}, batch "
                          f"{part['latency']['batch']})")
            ax.set_ylabel("SWAP")
            ax.set_title("resnet18 in the model space: SWAP against latency", fontsize=9)
        else:
            seeds = sorted(part["seeds"], key=int)
            ax.plot(seeds, [part["seeds"][s]["proxy_test"] for s in seeds], "o", c="0.5", label="proxy only")
            ax.plot(seeds, [part["seeds"][s]["test"] for s in seeds], "o", c="tab:red", label="20 evaluations")
            ax.axhline(part["best_under_test"], c="k", lw=1, label="best under the budget")
            ax.axhline(part["best_under_test"] - 0.5, c="k", lw=1, ls=":", label="0.5 below it")
            ax.set_xlabel("seed")
            ax.set_ylabel("cifar10_test of the answer")
            ax.set_title(f"NB201 under --max-flops {part['limit']:,.0f} (50 % of the largest)", fontsize=9)
        ax.legend(fontsize=7)
    return fig


DRAWN = {"default_ranking": default_ranking, "mu_sigma_rules": mu_sigma_rules, "cell_study": cell_study,
         "budget_search": budget_search}


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    options.add_argument("--only", default=None, help=f"comma-separated, of: {', '.join(DRAWN)}")
    options.add_argument("--into", default=str(FIGURES), help="the folder the PNG files go to")
    args = options.parse_args()
    try:
        import matplotlib
    except ImportError:
        sys.exit("figures need matplotlib: pip install -e '.[plot]'")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from pathlib import Path

    names = args.only.split(",") if args.only else list(DRAWN)
    unknown = sorted(set(names) - set(DRAWN))
    if unknown:
        sys.exit(f"no figure {', '.join(unknown)} (known: {', '.join(DRAWN)})")
    Path(args.into).mkdir(parents=True, exist_ok=True)
    for name in names:
        source = RESULTS / f"{name}.json"
        if not source.exists():
            print(f"{name}: skipped, {source} is absent (run the benchmark with --out)", file=sys.stderr)
            continue
        fig = DRAWN[name](json.loads(source.read_text())["raw"], plt)
        fig.tight_layout()
        path = Path(args.into) / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
