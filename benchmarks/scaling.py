"""Throughput (architectures per second) of each executor with 1 and 2 workers, on this machine.

    python benchmarks/scaling.py [--archs 40] [--proxies swap,regswap] [--batch 32]
        [--data cifar10:PATH] [--modes local,processes:1,processes:2,ray:1,ray:2] [--out scaling.json]

Every mode scores the same NB201 architectures (sampled with --seed) with no cache, through the
same ``Scorer`` that ``correlate`` uses. Printed per mode: the start-up seconds (open the pool and
warm each worker on other architectures: imports, plugin loading), the seconds to score the batch, archs/s, and the compute inside the tasks per arch
(the proxies' own seconds, summed over workers). ``local`` runs one task at a time with all of
torch's threads; ``processes:N`` and ``ray:N`` run N tasks at once with ``cores // N`` threads
each. The per-task cost and the overheads are what the README's cluster estimate is built from.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from swapfw.evaluate import NoCache, Scorer
from swapfw.executors import ExecutorSpec, cores, open_pool
from swapfw.plugins import get
from swapfw.proxies import expand


@dataclass
class Protocol:
    """The settings object ``swapfw.evaluate.Scorer`` reads."""

    space: str = "nb201"
    data: str = "gaussian"
    batch: int = 32
    repeats: int = 1
    build_options: dict = field(default_factory=dict)
    input_shape: tuple | None = None
    binariser: str | None = None
    device: str = "cpu"


def measure(mode: str, warm: list[str], archs: list[str], proxies: list[str], protocol: Protocol, seed: int) -> dict:
    name, _, workers = mode.partition(":")
    spec = ExecutorSpec(name, int(workers) if workers else None, device=protocol.device)
    tick = time.perf_counter()
    with open_pool(spec) as pool:  # start-up: open, then warm every worker (imports, plugins) on other archs
        Scorer(protocol, proxies, seed, NoCache(), pool).measure_many(warm[:2 * pool.workers])
        opened = time.perf_counter() - tick
        scorer = Scorer(protocol, proxies, seed, NoCache(), pool)
        tick = time.perf_counter()
        scorer.measure_many(archs)
        wall = time.perf_counter() - tick
        workers = pool.workers
    compute = sum(scorer.seconds.values())
    return {"mode": mode, "workers": workers, "start_seconds": round(opened, 2), "seconds": round(wall, 2),
            "archs_per_second": round(len(archs) / wall, 3), "proxy_seconds_per_arch": round(compute / len(archs), 4),
            "failed": len(scorer.failures)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=40)
    parser.add_argument("--proxies", default="swap,regswap")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--data", default="gaussian")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", default="local,processes:1,processes:2,ray:1,ray:2")
    parser.add_argument("--out", default=None, help="write the rows as JSON")
    args = parser.parse_args()
    space = get("spaces", "nb201")
    archs = [space.canonical(a) for a in space.sample(args.archs + 4, args.seed)]
    warm, archs = archs[:4], archs[4:]  # the warm-up tasks are other architectures than the timed ones
    proxies = expand([p for p in args.proxies.split(",") if p])
    protocol = Protocol(data=args.data, batch=args.batch, device=args.device)
    print(f"{len(archs)} NB201 archs, proxies {','.join(proxies)}, batch {args.batch} {args.data}, "
          f"{cores()} cores, device {args.device}")
    print(f"{'mode':<13}{'workers':>8}{'start s':>8}{'score s':>9}{'archs/s':>9}{'speed-up':>9}{'proxy s/arch':>13}")
    rows, base = [], None
    for mode in args.modes.split(","):
        row = measure(mode, warm, archs, proxies, protocol, args.seed)
        base = base or row["archs_per_second"]
        rows.append(row)
        print(f"{mode:<13}{row['workers']:>8}{row['start_seconds']:>8.2f}{row['seconds']:>9.2f}"
              f"{row['archs_per_second']:>9.3f}{row['archs_per_second'] / base:>9.2f}{row['proxy_seconds_per_arch']:>13.4f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"archs": len(archs), "proxies": proxies, "batch": args.batch,
                                              "data": args.data, "cores": cores(), "rows": rows}))


if __name__ == "__main__":
    main()
