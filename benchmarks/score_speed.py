"""SWAP-Score time against a plain forward pass of the same network and batch (the floor).

    python benchmarks/score_speed.py [--batch 64] [--device cpu] [--repeats 5] [--networks NAME,...] [--out FILE]

Prints, per network, the median seconds of a ``torch.no_grad`` forward pass and of a full
SWAP count (the same forward with taps, binarising, packing and distinct counting), and
their ratio. Both run the same module in the same mode (BatchNorm on batch statistics).
Memory: the peak each needs above the prepared network (``common.PeakMemory``: peak GPU memory on
CUDA, the peak resident memory sampled during the step on the CPU), each step in a fresh process
on the CPU so that no earlier step's freed memory hides its need.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torchvision

from common import PeakMemory, in_fresh_process, median_seconds, parser, publish, set_threads, table, tracked
from swapfw.scoring.network import prepare


class ReluConvBn(nn.Sequential):
    def __init__(self, c):
        super().__init__(nn.ReLU(), nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))


class DenseCell(nn.Module):
    """A NAS-Bench-201-style cell with every edge ReLU-Conv3x3-BN: 4 nodes, 6 edges."""

    def __init__(self, c):
        super().__init__()
        self.edges = nn.ModuleList(ReluConvBn(c) for _ in range(6))

    def forward(self, x):
        n1 = self.edges[0](x)
        n2 = self.edges[1](x) + self.edges[2](n1)
        return self.edges[3](x) + self.edges[4](n1) + self.edges[5](n2)


class CellNet(nn.Module):
    """Stem, 3 stages of 5 cells (C = 16, 32, 64) with strided residual reductions, as NB201's largest cell."""

    def __init__(self, c=16, cells=5, classes=10):
        super().__init__()
        layers = [nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)]
        for stage in range(3):
            if stage:
                layers.append(nn.Sequential(nn.ReLU(), nn.Conv2d(c, 2 * c, 3, 2, 1, bias=False), nn.BatchNorm2d(2 * c)))
                c *= 2
            layers += [DenseCell(c) for _ in range(cells)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes))

    def forward(self, x):
        return self.head(self.body(x))


NETWORKS = {
    "cellnet-c16-n5": lambda: CellNet(),
    "resnet18": lambda: torchvision.models.resnet18(num_classes=10),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(num_classes=10),
    "vgg11_bn": lambda: torchvision.models.vgg11_bn(num_classes=10),
}


def _prepared(name: str, batch: int, size: int, device: str):
    network = prepare(NETWORKS[name](), input_shape=(3, size, size), seed=0, device=device)
    inputs = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)
    module = network.module

    def forward():
        with torch.no_grad():
            module(inputs)

    return network, inputs, forward


def peak_mb_above_prepared(name: str, step: str, batch: int, size: int, device: str, threads: int) -> float:
    """Memory one ``forward`` or ``swap`` step needs above the prepared network and its batch."""
    set_threads(threads)
    network, inputs, forward = _prepared(name, batch, size, device)
    with PeakMemory(device) as peak:
        forward() if step == "forward" else network.count(inputs)
    return peak.mb


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--batch", type=int, default=64)
    options.add_argument("--size", type=int, default=32)
    options.add_argument("--device", default="cpu")
    options.add_argument("--repeats", type=int, default=5)
    options.add_argument("--networks", default=",".join(NETWORKS))
    args = options.parse_args()
    threads = set_threads(args.threads)
    cuda = args.device.startswith("cuda")
    memory = "peak GPU MB" if cuda else "peak RSS MB"
    print(f"torch {torch.__version__}, device {args.device}, threads {threads}, "
          f"batch {args.batch}, input 3x{args.size}x{args.size}")
    rows, raw = [], []
    for name in tracked(args.networks.split(","), "networks", every=0):
        network, inputs, forward = _prepared(name, args.batch, args.size, args.device)
        counts = network.count(inputs)
        t_forward = median_seconds(forward, args.repeats, args.device)
        t_swap = median_seconds(lambda: network.count(inputs), args.repeats, args.device)
        step_args = (args.batch, args.size, args.device, threads)
        run = (lambda step, *a: step(*a)) if cuda else in_fresh_process
        peaks = [run(peak_mb_above_prepared, name, step, *step_args) for step in ("forward", "swap")]
        rows.append([name, counts.values, counts.swap, round(t_forward, 4), round(t_swap, 4),
                     round(t_swap / t_forward, 2), round(peaks[0]), round(peaks[1])])
        raw.append({"network": name, "values": counts.values, "swap": counts.swap, "forward_seconds": t_forward,
                    "swap_seconds": t_swap, "forward_peak_mb": peaks[0], "swap_peak_mb": peaks[1]})
    result = table(f"SWAP count against a plain forward pass (the floor), batch {args.batch}, "
                   f"3x{args.size}x{args.size}, device {args.device}",
                   ["network", "values V", "SWAP", "forward s", "SWAP s", "SWAP / forward",
                    f"forward {memory}", f"SWAP {memory}"], rows,
                   [f"median of {args.repeats} runs after one untimed run; {threads} torch thread(s)",
                    "memory: the peak a step needs above the prepared network and its batch"
                    + ("" if cuda else ", sampled on the CPU, each step in a fresh process"),
                    "the first count also builds the tapped copy of the fx graph and the engine's buffers"])
    publish(args, "score_speed", [result], raw, device=args.device, doc=__doc__)


if __name__ == "__main__":
    main()
