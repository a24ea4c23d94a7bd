"""Score-vs-ground-truth scatter per proxy (the paper's Fig. 16/17); matplotlib is optional."""

from __future__ import annotations

import math

from ..errors import SwapfwError


#: a spread above this many orders of magnitude (positive values) gets a log axis
LOG_DECADES = 2
#: values whose range exceeds this many interquartile ranges (a few outliers flatten the rest) are ranked
OUTLIER_SPAN = 50


def _axis(values: list[float]) -> tuple[list[float], str]:
    """What to draw a proxy's values on: ``linear``; ``log`` where positive values span orders of
    magnitude (synflow's 1e9 beside 1e3); ``rank`` where a few outliers flatten the others and a log
    cannot help (Spearman is a correlation of ranks, so the rank axis shows what it measures)."""
    finite = sorted(v for v in values if math.isfinite(v))
    if len(finite) < 4:
        return values, "linear"
    low, high = finite[0], finite[-1]
    if low > 0 and math.log10(high / low) > LOG_DECADES:
        return values, "log"
    spread = finite[(3 * len(finite)) // 4] - finite[len(finite) // 4]
    if spread > 0 and (high - low) / spread > OUTLIER_SPAN:
        order = {v: rank for rank, v in enumerate(finite)}
        return [order[v] if math.isfinite(v) else math.nan for v in values], "rank"
    return values, "linear"


def scatter(report: dict, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SwapfwError("--plot needs matplotlib: pip install 'swapfw[plot]'") from None
    first = report["per_seed"][0]
    names = list(first["scores"])
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        summary = report["proxies"][name]
        xs, axis = _axis(first["scores"][name])
        ax.scatter(xs, first["truth"], s=4, alpha=0.5)
        ax.set_title(f"{name}  rho={summary['spearman_mean']:.3f}", fontsize=10)
        ax.set_xlabel(f"rank of {name}" if axis == "rank" else f"{name} (log)" if axis == "log" else name)
        if axis == "log":
            ax.set_xscale("log")
        ax.set_ylabel(report["metric"])
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"{report['space']}: {report['samples']} archs, seed {first['seed']}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
