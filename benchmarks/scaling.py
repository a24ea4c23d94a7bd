"""Throughput (architectures per second) of each executor with 1 and 2 workers, on this machine.

    python benchmarks/scaling.py [--archs 40] [--proxies swap,regswap] [--batch 32] [--device cpu]
        [--data cifar10:PATH] [--modes local,processes:1,processes:2,ray:1,ray:2] [--out FILE]

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
put N workers on the GPU(s), which is how small networks fill one. The floor, last: a plain
``torch.no_grad`` forward of each of the same networks and batch in this process (one untimed
pass first; ``--floor-archs N``: the first N of them), as if scoring cost nothing beyond it.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from common import forward_seconds, parser, publish, set_threads, table
from swapfw.plugins import get
from swapfw.running.executors import ExecutorSpec, cores, open_pool
from swapfw.scoring.data import load_batch
from swapfw.scoring.network import prepare
from swapfw.scoring.presets import resolve
from swapfw.scoring.proxies import expand
from swapfw.studies.cache import ScoreCache
from swapfw.studies.evaluate import NoCache, Scorer, ScoringSettings


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
                # a key as the Scorer makes it: space, arch, proxy, data, batch, seed, protocol, provenance
                cache.put(("nb201", f"arch{i}", proxy, "gaussian", 32, 0, "{}", "swapfw"), 1.0)
            cache.commit()
        cost = (time.perf_counter() - tick) / results
        cache.close()
    return cost


def floor(archs: list[str], protocol: ScoringSettings, seed: int) -> dict:
    """Plain forward passes of the same networks and batch in this process, as a row of the table."""
    space = get("spaces", "nb201")
    preset = resolve(space, protocol.protocol, batch=protocol.batch, data=protocol.data)
    inputs = load_batch(preset.data, preset.batch, space.input_shape, seed).inputs.to(protocol.device)
    seconds = []
    for arch in archs:
        network = prepare(f"nb201:{arch}", seed=seed, device=protocol.device, build_options=preset.build_options)
        seconds.append(forward_seconds(network.loaded.module, inputs, protocol.device))
    return {"mode": "plain forward (floor)", "workers": 1, "archs": len(archs), "seconds": round(sum(seconds), 2),
            "archs_per_second": round(len(archs) / sum(seconds), 3),
            "task_seconds": round(statistics.mean(seconds), 4)}


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--archs", type=int, default=40)
    options.add_argument("--proxies", default="swap,regswap")
    options.add_argument("--batch", type=int, default=32)
    options.add_argument("--data", default="gaussian")
    options.add_argument("--device", default="cpu")
    options.add_argument("--seed", type=int, default=0)
    options.add_argument("--modes", default="local,processes:1,processes:2,ray:1,ray:2")
    options.add_argument("--floor-archs", type=int, default=None, help="time the floor on the first N (default: all)")
    args = options.parse_args()
    threads = set_threads(args.threads)
    space = get("spaces", "nb201")
    archs = [space.canonical(a) for a in space.sample(args.archs + 4, args.seed)]
    warm, archs = archs[:4], archs[4:]  # the warm-up tasks are other architectures than the timed ones
    proxies = expand([p for p in args.proxies.split(",") if p])
    cuda = args.device.startswith("cuda")
    protocol = ScoringSettings("nb201", args.data, args.batch, 1, device=args.device, protocol="benchmark")
    print(f"{len(archs)} NB201 archs, proxies {','.join(proxies)}, batch {args.batch} {args.data}, "
          f"{cores()} cores, device {args.device}", flush=True)
    rows = []
    for mode in args.modes.split(","):
        rows.append(measure(mode, warm, archs, proxies, protocol, args.seed))
        print(f"{mode}: {rows[-1]['archs_per_second']} archs/s", flush=True)
    rows.append(floor(archs[:args.floor_archs], protocol, args.seed))
    store = driver_cost(proxies)
    base = rows[0]["archs_per_second"]
    result = table(
        f"Executors scoring {len(archs)} NB201 architectures (C=16, N=5), proxies {','.join(proxies)}, batch "
        f"{args.batch} {args.data}, no cache, {cores()} cores, device {args.device}",
        ["mode", "workers", "start s", "score s", "archs/s", "speed-up", "task s", "of it build", "overhead s",
         "peak MB"] + (["GPU MB"] if cuda else []),
        [[row["mode"], row["workers"], row.get("start_seconds"), None if "archs" in row else row["seconds"],
          row["archs_per_second"],
          round(row["archs_per_second"] / base, 2), row["task_seconds"], row.get("build_seconds"),
          row.get("overhead_seconds"), None if "peak_process_rss_mb" not in row else round(row["peak_process_rss_mb"])]
         + ([None if "peak_task_gpu_mb" not in row else round(row["peak_task_gpu_mb"])] if cuda else [])
         for row in rows],
        ["start s: open the pool and start each worker (imports, plugins); task s: one task where it runs (build, "
         "proxies); overhead s: wall x workers / archs - task", "speed-up: against the first mode listed; peak MB: "
         "the peak resident memory of a process that scored (local: this process, its imports included)",
         f"plain forward (floor): a torch.no_grad forward of each of the same networks and batch "
         f"({len(archs[:args.floor_archs])} of them), this process, {threads} thread(s)",
         f"driver: storing one result in the score cache takes {store * 1000:.2f} ms, so the driver takes at most "
         f"{1 / store:.0f} results/s from any cluster"])
    publish(args, "scaling", [result], {"archs": len(archs), "proxies": proxies, "batch": args.batch,
                                        "data": args.data, "cores": cores(), "rows": rows,
                                        "driver_store_seconds": store}, device=args.device, doc=__doc__)


if __name__ == "__main__":
    main()
