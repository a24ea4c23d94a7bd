"""Why SWAP ranks NAS-Bench-301 weakly: which of a DARTS genotype's two cells its score sees, and
which one the trained accuracy follows.

    python benchmarks/cell_study.py [--out FILE]
    python benchmarks/cell_study.py --protocols reduced --archs 100 --seeds 0

A DARTS genotype has a normal and a reduction cell; on NAS-Bench-301 they differ (the DARTS set's
genotypes have both cells equal). For every architecture of the NB301 development split, three
networks are scored with swap and params under each ``--protocols`` of the darts space: the genotype as it is, the genotype with its normal cell in both
places ("normal cell only") and with its reduction cell in both places ("reduction cell only").
Spearman's rho of each with the split's ``val_accuracy`` says which cell carries the score's
ranking, and which cell the accuracy follows (every architecture of the split by default, so the
three variants score the same genotypes); the saturation column is the share of networks whose
pattern count is within 10 % of 2^S, where SWAP can no longer separate them. Scores go through the
score cache (a killed run resumes); ``benchmarks/figures.py`` draws the table. Needs
``dev/nb301_cifar10.csv`` under ``SWAPFW_DATA``.
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

import swapfw
from common import Progress, need_data, parser, previous_raw, publish, set_threads, table, write_results
from swapfw.plugins import get_space
from swapfw.studies.truth import load_truth

NAME = "cell_study"
#: variant -> the genotype it scores, from the NB301 genotype
VARIANTS = {
    "as it is": lambda g: g,
    "normal cell only": lambda g: g._replace(reduce=g.normal),
    "reduction cell only": lambda g: g._replace(normal=g.reduce),
}
PROXIES = ("swap", "params")


def variant_table(source: Path, variant: str, folder: Path) -> Path:
    """The split with each genotype replaced by its variant, labels unchanged (one CSV per variant)."""
    space = get_space("darts")
    path = folder / f"nb301_{variant.replace(' ', '_')}.csv"
    with open(source, newline="") as f, open(path, "w", newline="") as out:
        rows = csv.DictReader(f)
        writer = csv.DictWriter(out, fieldnames=rows.fieldnames)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "arch": space.format(VARIANTS[variant](space.parse(row["arch"])))})
    return path


def run(protocol: str, variant: str, source: Path, folder: Path, args) -> dict:
    path = variant_table(source, variant, folder)
    count = len(load_truth(str(source), "val_accuracy", get_space("darts")).values)
    report = swapfw.correlate(space="darts", truth=str(path), metric="val_accuracy", proxies=list(PROXIES),
                              samples=min(count, args.archs or count), seeds=args.seeds, protocol=protocol,
                              cache=args.cache, threads=args.threads, progress=Progress(every=60))
    ceiling = 2 ** report.batch
    counts = [v for run in report.report["per_seed"] for v in run["scores"]["swap"]]
    saturated = sum(v >= 0.9 * ceiling for v in counts) / len(counts)
    return {"protocol": protocol, "variant": variant, "seeds": args.seeds, "archs": report.samples,
            "batch": report.batch, **{f"rho_{p}": report.proxies[p]["spearman_mean"] for p in PROXIES},
            "saturated": saturated}


def tables(rows: list[dict]) -> list[dict]:
    return [table("NB301 development split: Spearman rho with val_accuracy of each cell scored alone (mean over seeds)",
                  ["protocol", "variant", "archs", "seeds", "swap", "params", "saturated"],
                  [[r["protocol"], r["variant"], r["archs"], ",".join(map(str, r["seeds"])), round(r["rho_swap"], 3),
                    round(r["rho_params"], 3), round(r["saturated"], 3)] for r in rows],
                  ["normal/reduction cell only: the genotype with that cell in both places; saturated: the share of "
                   "networks whose swap is within 10 % of 2^S"])]


def main() -> None:
    options = parser(__doc__, threads=1)
    options.add_argument("--protocols", default="reduced,paper")
    options.add_argument("--seeds", default="0,1,2")
    options.add_argument("--archs", type=int, default=None, help="at most this many per seed (default: all)")
    options.add_argument("--cache", default=None, help="score cache (default: swapfw's own)")
    args = options.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    set_threads(args.threads)
    source = need_data("dev", "nb301_cifar10.csv")
    rows = previous_raw(args, NAME, [])
    with tempfile.TemporaryDirectory() as folder:
        for protocol in args.protocols.split(","):
            for variant in VARIANTS:
                row = run(protocol, variant, source, Path(folder), args)
                print(f"{protocol}, {variant}: swap {row['rho_swap']:.3f}, params {row['rho_params']:.3f}",
                      file=sys.stderr, flush=True)
                rows = [r for r in rows if (r["protocol"], r["variant"]) != (protocol, variant)] + [row]
                write_results(args, NAME, tables(rows), rows, quiet=True)
    publish(args, NAME, tables(rows), rows, doc=__doc__)


if __name__ == "__main__":
    main()
