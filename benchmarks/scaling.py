"""Throughput (architectures per second) of each executor with 1 and 2 workers, on this machine.

    python benchmarks/scaling.py [--archs 40] [--proxies swap,regswap] [--batch 32] [--device cpu]
        [--data cifar10:PATH] [--modes local,processes:1,processes:2,ray:1,ray:2] [--out scaling.json]

Every mode scores the same NB201 architectures (sampled with --seed) with no cache, through the
same ``Scorer`` that ``correlate`` uses. Printed per mode: the start-up seconds (open the pool,
start each worker with a cheap task on other architectures: imports, plugin loading), the seconds to score the
batch, archs/s, the seconds one task takes where it runs (build the network, run the proxies)
and, of it, the build, and the overhead per task (wall x workers / archs - task: shipping,
scheduling, idle workers at the end). ``local`` runs one task at a time with all of torch's
threads; ``processes:N`` runs N with ``cores // N`` threads each; ``ray:N`` starts a local Ray
instance of N CPUs and runs one single-threaded task per CPU. The per-task cost and the
overheads are what the README's cluster estimate is built from. Memory: the peak resident memory
of a process that scored (a worker's; ``local``: this process's, its own imports included) and,
on CUDA, the most GPU memory one task allocated: with ``--device cuda`` the ``processes:N`` modes
put N workers on the GPU(s), which is how small networks fill one.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from swapfw.studies.cache import ScoreCache
from swapfw.studies.evaluate import NoCache, Scorer, ScoringSettings
from swapfw.running.executors import ExecutorSpec, cores, open_pool
from swapfw.plugins import get
from swapfw.scoring.proxies import expand


def measure(mode: str, warm: list[str], archs: list[str], proxies: list[str], protocol: ScoringSettings, seed: int) -> dict:
    name, _, workers = mode.partition(":")
    spec = ExecutorSpec(name, int(workers) if workers else None, device=protocol.device)
    tick = time.perf_counter()
    with open_pool(spec) as pool:  # start-up: open, then start every worker (imports, plugins) on other archs
        Scorer(protocol, ["params"], seed, NoCache(), pool).measure_many(warm[:2 * pool.workers])
        opened = time.perf_counter() - tick
        scorer = Scorer(protocol, proxies, seed, NoCache(), pool)
        tick = time.perf_counter()
        scorer.measure_many(archs)
        wall = time.perf_counter() - tick
        workers = pool.workers
    task = (sum(scorer.seconds.values()) + scorer.build_seconds) / len(archs)
    return {"mode": mode, "workers": workers, "start_seconds": round(opened, 2), "seconds": round(wall, 2),
            "archs_per_second": round(len(archs) / wall, 3), "task_seconds": round(task, 4),
            "build_seconds": round(scorer.build_seconds / len(archs), 4),
            "overhead_seconds": round(wall * workers / len(archs) - task, 4), "failed": len(scorer.failures),
            **scorer.memory}


def driver_cost(proxies: list[str], results: int = 200) -> float:
    """Seconds the driver spends storing one task's values in the SQLite score cache (it commits each)."""
    with tempfile.TemporaryDirectory() as folder:
        cache = ScoreCache(Path(folder) / "scores.sqlite")
        tick = time.perf_counter()
        for i in range(results):
            for proxy in proxies:
                cache.put(("nb201", f"arch{i}", proxy, "gaussian", 32, 0, "{}"), 1.0)
            cache.commit()
        cost = (time.perf_counter() - tick) / results
        cache.close()
    return cost


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
    cuda = args.device.startswith("cuda")
    protocol = ScoringSettings("nb201", args.data, args.batch, 1, device=args.device, protocol="benchmark")
    print(f"{len(archs)} NB201 archs, proxies {','.join(proxies)}, batch {args.batch} {args.data}, "
          f"{cores()} cores, device {args.device}")
    print(f"{'mode':<13}{'workers':>8}{'start s':>8}{'score s':>9}{'archs/s':>9}{'speed-up':>9}{'task s':>9}"
          f"{'of it build':>12}{'overhead s':>11}{'peak MB':>9}" + (f"{'GPU MB':>8}" if cuda else ""))
    rows, base = [], None
    for mode in args.modes.split(","):
        row = measure(mode, warm, archs, proxies, protocol, args.seed)
        base = base or row["archs_per_second"]
        rows.append(row)
        print(f"{mode:<13}{row['workers']:>8}{row['start_seconds']:>8.2f}{row['seconds']:>9.2f}"
              f"{row['archs_per_second']:>9.3f}{row['archs_per_second'] / base:>9.2f}{row['task_seconds']:>9.4f}"
              f"{row['build_seconds']:>12.4f}{row['overhead_seconds']:>11.4f}{row['peak_process_rss_mb']:>9.0f}"
              + (f"{row['peak_task_gpu_mb']:>8.0f}" if cuda else ""))
    store = driver_cost(proxies)
    print(f"driver: storing one result in the score cache takes {store * 1000:.2f} ms, so the driver takes at most "
          f"{1 / store:.0f} results/s from any cluster")
    if args.out:
        Path(args.out).write_text(json.dumps({"archs": len(archs), "proxies": proxies, "batch": args.batch,
                                              "data": args.data, "cores": cores(), "rows": rows,
                                              "driver_store_seconds": store}))


if __name__ == "__main__":
    main()
