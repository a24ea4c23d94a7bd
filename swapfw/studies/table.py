"""The comparison table across correlate runs: proxies x ground-truth metrics (the paper's Fig. 4).

Rows are proxies, columns the runs' metrics, each cell the Spearman mean over seeds; rows are
sorted by their mean over the columns, best first, rows with a missing column after the rest. Written as CSV or JSON, or drawn as a heatmap.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from ..errors import SwapfwError


def comparison(summaries: list[dict]) -> dict:
    """``{"columns": [...], "rows": [{"proxy", "spearman": {column: rho}, "mean", "not_finite"}]}``."""
    columns = _columns(summaries)
    proxies: list[str] = []
    for summary in summaries:
        proxies += [p for p in summary["proxies"] if p not in proxies]
    rows = []
    for proxy in proxies:
        cells = {c: s["proxies"].get(proxy, {}).get("spearman_mean", math.nan) for c, s in zip(columns, summaries)}
        finite = [v for v in cells.values() if math.isfinite(v)]
        rows.append({"proxy": proxy, "spearman": cells,
                     "mean": sum(finite) / len(finite) if finite else math.nan,
                     "not_finite": sum(s["proxies"].get(proxy, {}).get("not_finite", 0) for s in summaries)})
    rows.sort(key=_order)
    return {"columns": columns, "rows": rows}


def _order(row: dict) -> tuple:
    """Complete rows first (a mean over fewer columns is not comparable), then by mean, best first."""
    missing = sum(not math.isfinite(v) for v in row["spearman"].values())
    return (missing > 0, -row["mean"] if math.isfinite(row["mean"]) else math.inf)


def _columns(summaries: list[dict]) -> list[str]:
    """Each run's metric; qualified by its space, or by its truth file, where that is needed to tell runs apart."""
    for label in (lambda s: s["metric"], lambda s: f"{s['space']}:{s['metric']}",
                  lambda s: f"{Path(s.get('truth', '')).stem}:{s['metric']}"):
        columns = [label(s) for s in summaries]
        if len(set(columns)) == len(columns):
            return columns
    return [f"{i}:{s['metric']}" for i, s in enumerate(summaries, start=1)]


def write_csv(table: dict, path: str) -> None:
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["proxy", *table["columns"], "mean", "not_finite"])
        for row in table["rows"]:
            out.writerow([row["proxy"], *(_fmt(row["spearman"][c]) for c in table["columns"]), _fmt(row["mean"]),
                          row["not_finite"]])


def write_json(table: dict, path: str) -> None:
    with open(path, "w") as fh:
        json.dump(table, fh, indent=1)


def _fmt(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.4f}"


def heatmap(table: dict, path: str, title: str = "") -> None:
    """A proxies x metrics heatmap of Spearman's rho, annotated, best proxy on top."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SwapfwError("a heatmap needs matplotlib: pip install 'swapfw[plot]'") from None
    columns, rows = table["columns"], table["rows"]
    grid = [[row["spearman"][c] for c in columns] for row in rows]
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(columns), 0.8 + 0.38 * len(rows)))
    image = ax.imshow([[v if math.isfinite(v) else float("nan") for v in line] for line in grid],
                      cmap="viridis", vmin=-1.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right", fontsize=9)
    ax.set_yticks(range(len(rows)), [r["proxy"] for r in rows], fontsize=9)
    for i, line in enumerate(grid):
        for j, value in enumerate(line):
            text = f"{value:.2f}" if math.isfinite(value) else "n/a"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if value < 0.5 else "black")
    fig.colorbar(image, ax=ax, label="Spearman rho")
    fig.subplots_adjust(left=min(0.6, 0.1 + 0.012 * max(len(r["proxy"]) for r in rows)))
    if title:
        ax.set_title(title, fontsize=10)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
