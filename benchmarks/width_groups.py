"""Width groups: Torch-Pruning (what the model space uses) against hand-written propagation on the fx graph.

    python benchmarks/width_groups.py [MODEL ...] [--threads 1] [--out FILE]

For each model, the channel groups the model space records with Torch-Pruning's DependencyGraph
and those of a union-find propagation over the same fx graph (the alternative we did not ship:
conv/linear outputs open a group, depthwise convs, norms and shape-keeping ops pass it on,
add/mul/sub/div unite groups, concatenation joins them, anything else freezes its channels).
Each partition is compared as sets of the conv/linear layers whose output channels a group
holds, with the seconds each analysis took (TP s*: with the probe that shrinks the groups once,
and one at a time where that fails, which the union-find column does not do). A MODEL picks the
models whose name contains it (default: all).
"""

from __future__ import annotations

import math
import operator
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from common import parser, publish, set_threads, table, tracked

HERE = Path(__file__).resolve().parent
_ELEMENTWISE = {operator.add, operator.mul, operator.sub, operator.truediv, torch.add, torch.mul, torch.sub, torch.div,
                operator.iadd, operator.imul}


class UnionFind:
    def __init__(self):
        self.parent, self.frozen = {}, set()

    def new(self) -> int:
        gid = len(self.parent)
        self.parent[gid] = gid
        return gid

    def find(self, gid: int) -> int:
        while self.parent[gid] != gid:
            self.parent[gid] = self.parent[self.parent[gid]]
            gid = self.parent[gid]
        return gid

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[b] = a
            if b in self.frozen:
                self.frozen.add(a)

    def freeze(self, layouts) -> None:
        for layout in layouts:
            for gid, _ in layout or ():
                self.frozen.add(self.find(gid))


def _type(graph_module, node) -> str:
    if node.op == "call_module":
        return type(graph_module.get_submodule(node.target)).__name__
    return getattr(node.target, "__name__", str(node.target))


def fx_partition(graph_module, example) -> set[frozenset[str]]:
    """Groups by propagation: each value's channels are a list of (group, size) segments."""
    from swapfw_plugins.spaces.model_space.source import shapes

    found = shapes(graph_module, example)
    uf, layout, producers = UnionFind(), {}, {}
    for node in graph_module.graph.nodes:
        shape = found.get(node)
        ins = [a for a in node.all_input_nodes if a in layout]
        if node.op == "output":
            uf.freeze(layout.get(a) for a in node.all_input_nodes)
            continue
        if node.op == "placeholder" or shape is None or len(shape) < 2:
            if node.op == "placeholder":
                layout[node] = [(uf.new(), shape[1])]
                uf.freeze([layout[node]])
            else:
                uf.freeze(layout[a] for a in ins)
            continue
        module = graph_module.get_submodule(node.target) if node.op == "call_module" else None
        kind = _type(graph_module, node)
        if isinstance(module, (nn.Conv2d, nn.Linear)) and ins:
            depthwise = isinstance(module, nn.Conv2d) and module.groups == module.in_channels == module.out_channels > 1
            if depthwise:
                layout[node] = layout[ins[0]]
            elif isinstance(module, nn.Conv2d) and module.groups > 1:
                uf.freeze([layout[ins[0]]])
                layout[node] = [(uf.new(), shape[1])]
                uf.freeze([layout[node]])
                continue
            else:
                layout[node] = [(uf.new(), shape[1])]
            for gid, _ in layout[node]:
                producers.setdefault(gid, set()).add(node.target)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm) and ins:
            layout[node] = layout[ins[0]]
        elif module is not None and any(True for _ in module.parameters()):
            uf.freeze(layout[a] for a in ins)
            layout[node] = [(uf.new(), shape[1])]
            uf.freeze([layout[node]])
        elif kind in ("cat", "OnnxConcat") and ins and all(a in layout for a in ins):
            layout[node] = [seg for a in ins for seg in layout[a]]
        elif (node.target in _ELEMENTWISE or kind == "OnnxBinaryMathOperation") and ins:
            full = [a for a in ins if found.get(a) is not None and len(found[a]) == len(shape)
                    and found[a][1] == shape[1]]
            if not full:
                uf.freeze(layout[a] for a in ins)
                layout[node] = [(uf.new(), shape[1])]
                uf.freeze([layout[node]])
                continue
            for other in full[1:]:
                if [s for _, s in layout[other]] == [s for _, s in layout[full[0]]]:
                    for (a, _), (b, _) in zip(layout[full[0]], layout[other]):
                        uf.union(a, b)
                else:
                    uf.freeze([layout[full[0]], layout[other]])
            layout[node] = layout[full[0]]
        elif len(ins) == 1 and tuple(found.get(ins[0], ())[:2]) == tuple(shape[:2]):
            layout[node] = layout[ins[0]]  # activations, pooling, dropout, spatial reductions
        elif len(ins) == 1 and len(shape) == 2 \
                and sum(s for _, s in layout[ins[0]]) * math.prod(found[ins[0]][2:]) == shape[1]:
            layout[node] = layout[ins[0]]  # flatten (N, C, H, W) -> (N, C*H*W): channel-major
        else:
            uf.freeze(layout[a] for a in ins)
            layout[node] = [(uf.new(), shape[1])]
            uf.freeze([layout[node]])
    groups: dict[int, set[str]] = {}
    for gid, names in producers.items():
        root = uf.find(gid)
        if root not in uf.frozen:
            groups.setdefault(root, set()).update(names)
    return {frozenset(v) for v in groups.values()}


def models(work: Path) -> dict:
    import torchvision

    def onnx(name, factory):
        path = work / f"{name}.onnx"
        if not path.exists():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(factory().eval(), (torch.randn(1, 3, 32, 32),), str(path), dynamo=False,
                                  opset_version=13, input_names=["x"], output_names=["y"],
                                  dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
        return str(path)

    def timm_effnet():
        import timm

        return timm.create_model("efficientnet_b0", pretrained=False, num_classes=10)

    return {
        "resnet18": lambda: "model_search:resnet18",
        "mobilenet_v2": lambda: "model_search:mobilenet_v2",
        "squeezenet1_1 (concat)": lambda: "torchvision.models:squeezenet1_1",
        "shufflenet_v2_x0_5 (shuffle)": lambda: "torchvision.models:shufflenet_v2_x0_5",
        "resnet18.onnx": lambda: onnx("resnet18", torchvision.models.resnet18),
        "shufflenet_v2_x0_5.onnx": lambda: onnx("shufflenet_v2_x0_5", torchvision.models.shufflenet_v2_x0_5),
        "efficientnet_b0.onnx (SE)": lambda: onnx("efficientnet_b0", timm_effnet),
    }


def main() -> None:
    from swapfw.graph.ir import build_ir
    from swapfw_plugins.spaces.model_space.source import load_template
    from swapfw_plugins.spaces.model_space.width import find_groups

    options = parser(__doc__, threads=1)
    options.add_argument("models", nargs="*", help="models whose name contains one of these (default: all)")
    args = options.parse_args()
    set_threads(args.threads)
    sys.path.insert(0, str(HERE))
    work = Path("/tmp/swapfw_width_groups")
    work.mkdir(exist_ok=True)
    import torch_pruning  # noqa: F401  (imported once, outside the timings)

    rows = []
    chosen = {name: make for name, make in models(work).items()
              if not args.models or any(w in name for w in args.models)}
    for name, make in tracked(chosen.items(), "models", every=0):
        template = load_template(make(), None)
        ir = build_ir(template.graph_module, template.example)
        tick = time.perf_counter()
        groups, _ = find_groups(template, ir, 0.25)
        tp_s = time.perf_counter() - tick
        tp = {frozenset(g.producers) for g in groups}
        tick = time.perf_counter()
        fx = fx_partition(template.graph_module, template.example)
        fx_s = time.perf_counter() - tick
        verdict = "same" if tp == fx else f"differ: {len(tp - fx)} only TP, {len(fx - tp)} only fx"
        rows.append([name, len(tp), round(tp_s, 2), len(fx), round(fx_s, 2), verdict])
    made = table("Width groups: Torch-Pruning (what the model space uses) against a union-find propagation on the fx "
                 "graph", ["model", "TP groups", "TP s*", "fx groups", "fx s", "partition"], rows,
                 ["TP s*: with the probe that shrinks the groups once, and one at a time where that fails (the "
                  "union-find column does not do this)", f"{set_threads(None)} torch thread(s)"])
    publish(args, "width_groups", [made], doc=__doc__)


if __name__ == "__main__":
    main()
