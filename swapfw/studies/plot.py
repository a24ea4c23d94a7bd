"""Score-vs-ground-truth scatter per proxy (the paper's Fig. 16/17); matplotlib is optional."""

from __future__ import annotations

import math

from ..errors import SwapfwError


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
        ax.scatter(first["scores"][name], first["truth"], s=4, alpha=0.5)
        ax.set_title(f"{name}  rho={summary['spearman_mean']:.3f}", fontsize=10)
        ax.set_xlabel(name)
        ax.set_ylabel(report["metric"])
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"{report['space']}: {report['samples']} archs, seed {first['seed']}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
