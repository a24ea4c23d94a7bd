"""How long a search takes end to end, against the floor of plain forward passes of what it scored.

    python benchmarks/search_speed.py [--space darts] [--population 50] [--cycles 100] [--device cpu]
        [--executor processes] [--workers N] [--out FILE]

Runs ``swapfw.search`` twice on one fresh score cache (a temporary file unless ``--cache``): first
a small search (``--warm-population``, one cycle) that pays the one-off costs (opening the pool
and starting its workers, the 1,000 reference sizes of ``--mu auto``, scored once per cache),
timed apart; then the search itself (seed 1), which pays its own pool's start-up again but no
reference. Prints each one's seconds, the architectures it scored (computed and from the cache),
archs/s and the most memory a scoring process (resident) and a task (GPU) needed, from the
search's report. The floor, timed first in this process (settled as every scoring process is): a
plain ``torch.no_grad`` forward of the protocol's scoring network on its batch (R passes where the
protocol re-initialises R times, one untimed pass first), the mean over ``--floor-archs`` sampled
architectures, times the architectures the search computed.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import swapfw
from common import Progress, forward_seconds, parser, publish, set_threads, settle, table
from swapfw.plugins import get
from swapfw.scoring.data import load_batch
from swapfw.scoring.network import prepare
from swapfw.scoring.presets import resolve


def floor_seconds(space_name: str, protocol: str | None, data: str | None, batch: int | None, device: str,
                  count: int, seed: int) -> float:
    """Mean seconds of the protocol's plain forward passes (R of them) over ``count`` sampled architectures."""
    space = get("spaces", space_name)
    preset = resolve(space, protocol, batch=batch, data=data)
    inputs = load_batch(preset.data, preset.batch, preset.input_shape or space.input_shape, seed).inputs.to(device)
    seconds = []
    for arch in space.sample(count, seed):
        network = prepare(f"{space_name}:{arch}", seed=seed, device=device, build_options=preset.build_options)
        seconds.append(forward_seconds(network.loaded.module, inputs, device, passes=preset.repeats))
    return statistics.mean(seconds)


def main() -> None:
    options = parser(__doc__, settle=True)
    options.add_argument("--space", default="darts")
    options.add_argument("--searcher", default=None, help="default: the searcher marked default")
    options.add_argument("--proxy", default=None, help="default: the space's search proxy, else the default proxy")
    options.add_argument("--population", type=int, default=50)
    options.add_argument("--cycles", type=int, default=100)
    options.add_argument("--warm-population", type=int, default=6, help="population of the first, small search")
    options.add_argument("--protocol", default=None, help="the space's scoring protocol (default: its default)")
    options.add_argument("--data", default=None, help="default: the protocol's")
    options.add_argument("--batch", type=int, default=None, help="default: the protocol's")
    options.add_argument("--device", default="cpu")
    options.add_argument("--executor", default=None, help="default: the executor marked default (this process)")
    options.add_argument("--workers", type=int, default=None)
    options.add_argument("--cache", default=None, help="score cache (default: a fresh temporary file)")
    options.add_argument("--floor-archs", type=int, default=10, help="architectures the floor's forward is timed on")
    args = options.parse_args()
    threads = set_threads(args.threads)
    settled = settle(args)
    floor = floor_seconds(args.space, args.protocol, args.data, args.batch, args.device, args.floor_archs, 0)
    shared = dict(space=args.space, searcher=args.searcher, proxy=args.proxy, protocol=args.protocol, data=args.data,
                  batch=args.batch, device=args.device, executor=args.executor, workers=args.workers,
                  threads=args.threads, progress=Progress(every=30))
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        cache = args.cache or str(Path(folder) / "scores.sqlite")
        for label, population, cycles, seed in (("first, small search (one-off costs)", args.warm_population, 1, 0),
                                                ("the search", args.population, args.cycles, 1)):
            tick = time.perf_counter()
            report = swapfw.search(population=population, cycles=cycles, seed=seed, cache=cache, **shared)
            runs.append({"label": label, "population": population, "cycles": cycles, "seed": seed,
                         "wall_seconds": time.perf_counter() - tick, **report.to_dict()})
    last = runs[-1]
    print(f"{args.space}: {last['searcher']} with {last['proxy']}, protocol {last['protocol']}, device {args.device}, "
          f"executor {last['executor']['name']} ({last['executor']['workers']} worker(s)), {threads} thread(s) here, "
          f"process settled: {settled}")
    rows = []
    for run in runs:
        scored = run["evaluations"] + run["cached"]
        rows.append([run["label"], run["population"], run["cycles"], run["evaluations"], run["cached"],
                     round(run["wall_seconds"], 1), round(scored / run["wall_seconds"], 2),
                     round(floor * run["evaluations"], 1), round(run["wall_seconds"] / (floor * run["evaluations"]), 1)
                     if run["evaluations"] else None, round(run["memory"]["peak_process_rss_mb"]),
                     round(run["memory"]["peak_task_gpu_mb"])])
    made = table(
        f"A search end to end: {args.space}, {last['searcher']} with {last['proxy']}, protocol {last['protocol']}, "
        f"device {args.device}, executor {last['executor']['name']} ({last['executor']['workers']} worker(s))",
        ["search", "population", "cycles", "computed", "from the cache", "wall s", "archs/s", "floor s",
         "wall / floor", "peak process RSS MB", "peak task GPU MB"], rows,
        [f"floor: a plain forward of the scoring network on its batch (the protocol's R passes), {floor:.4f} s, the "
         f"mean over {args.floor_archs} sampled architectures, times the architectures computed; timed here on "
         f"{threads} thread(s), process settled: {settled}",
         "the first search pays the pool's start-up and the reference sizes of --mu auto (once per cache); the "
         "second pays its own pool's start-up"])
    publish(args, "search_speed", [made], {"runs": runs, "floor_seconds_per_arch": floor}, device=args.device,
            doc=__doc__)


if __name__ == "__main__":
    main()
