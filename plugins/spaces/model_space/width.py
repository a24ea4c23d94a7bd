"""Width choice points: the channel groups Torch-Pruning (DepGraph) finds, recorded once as plain data.

A group is every channel dimension that must shrink together: a conv's output channels, its
BatchNorm, every consumer's input channels, and all of them tied through residual additions,
multiplications and concatenations (with their offsets). Torch-Pruning's DependencyGraph is built
once, on a throw-away copy of the template; each group is recorded as
``(module name, pruning-function name, [(index, root index)])`` in the original coordinates, so
a variant is pruned by replaying one index selection per (module, side) on its own copy, with
no DependencyGraph (TP prunes in place and its graph cannot follow a copy).

What Torch-Pruning is not shown, and why:

* channel-mixing reshapes (a channel shuffle: reshape, transpose, reshape) are cut out of its
  view, because it raises on them (torch) or never returns (ONNX); the channels on either side
  of a cut are frozen, as are channels that reach the model's output (the classifier's width);
* onnx2torch keeps per-channel constants (a layer scale) as buffers, which TP does not see:
  they are promoted to parameters on the throw-away copy and sliced as buffers on replay.

A watchdog still bounds the analysis (``TIMEOUT``), and every recorded group is tried once at
the smallest ratio before it is offered: a group whose shrinking breaks the model is frozen,
with a note.
"""

from __future__ import annotations

import copy
import ctypes
import math
import operator
import threading
from dataclasses import dataclass, replace

import torch
import torch.fx
import torch.nn as nn

from swapfw.plugin_api import error_line

from .source import Template, get_attr, shapes

#: seconds Torch-Pruning may take to group a model before width choice points are given up
TIMEOUT = 120.0


@dataclass(frozen=True)
class WidthGroup:
    """Channels that change together; ``items`` say where each channel of the root lives in every tensor."""

    channels: int
    root: str  # module whose output channels are the group's
    producers: tuple[str, ...]  # conv/linear modules whose output channels are in the group
    items: tuple[tuple[str, str, tuple[tuple[int, int], ...]], ...]  # (module or tensor, function, (index, root index))


class Timeout(BaseException):
    """Raised into the analysing thread by the watchdog (BaseException: TP's bare excepts must not swallow it)."""


def within(seconds: float, function, *args):
    """``function(*args)``, interrupted with Timeout after ``seconds`` (re-sent until it stops).

    A Timeout sent just as ``function`` returned is caught here rather than in the caller's later code.
    """
    target, done, lock, sent = threading.get_ident(), threading.Event(), threading.Lock(), []

    def watch():
        wait = seconds
        while not done.wait(wait):
            with lock:
                if not done.is_set():
                    sent.append(True)
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(Timeout))
            wait = 0.5

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        return function(*args)
    finally:
        with lock:
            done.set()
        watcher.join()
        if sent:
            _land_late_timeout()


def _land_late_timeout() -> None:
    """Run a few bytecodes so that a Timeout still pending is raised, and dropped, here."""
    try:
        for _ in range(1000):
            pass
    except Timeout:
        pass


def find_groups(template: Template, ir, smallest: float) -> tuple[list[WidthGroup], list[str]]:
    """The prunable channel groups of the template, and notes on what was frozen or failed."""
    try:
        import torch_pruning  # noqa: F401
    except ImportError:
        return [], ["width: torch-pruning is not installed (pip install torch-pruning)"]
    cuts = channel_cuts(ir)
    notes = [f"width: {len(cuts)} channel-mixing reshapes (channel shuffle) cut; channels across them are frozen"] \
        if cuts else []
    try:
        groups, frozen = within(TIMEOUT, _record, template, cuts)
    except Timeout:
        return [], notes + [f"width: Torch-Pruning did not group the model within {TIMEOUT:.0f} s"]
    except Exception as exc:
        return [], notes + [f"width: Torch-Pruning cannot group this model ({error_line(exc)[:200]})"]
    notes += frozen
    groups, broken = probe(template, groups, smallest)
    notes += broken
    order = {n.target: i for i, n in reversed(list(enumerate(template.graph_module.graph.nodes)))
             if n.op == "call_module"}
    first = len(order)
    groups = [replace(g, producers=tuple(sorted(g.producers, key=lambda p: order.get(p, first)))) for g in groups]
    groups = [replace(g, root=g.producers[0]) if g.producers else g for g in groups]  # named by its first layer
    return sorted(groups, key=lambda g: order.get(g.root, first)), notes


def channel_cuts(ir) -> list[tuple[str, str]]:
    """(reshape node, its value input) for reshapes that split or merge the channel dim with another.

    Flattening (C, H, W) into one dim keeps channels contiguous and TP follows it; reshapes that
    leave dims 0-1 alone do not touch channels.
    """
    graph, cuts = ir.graph, []
    for name, data in graph.nodes(data=True):
        if data["type"] != "reshape" or not data["shape"]:
            continue
        values = [p for p in graph.predecessors(name) if graph.nodes[p]["type"] != "constant"
                  and graph.nodes[p]["shape"] and len(graph.nodes[p]["shape"]) >= 3]
        if not values:
            continue
        before, after = graph.nodes[values[0]]["shape"], data["shape"]
        flatten = len(after) == 2 and after[0] == before[0] and after[1] == math.prod(before[1:])
        if tuple(after[:2]) != tuple(before[:2]) and not flatten:
            cuts.append((name, values[0]))
    return cuts


def _record(template: Template, cuts: list[tuple[str, str]]) -> tuple[list[WidthGroup], list[str]]:
    """Build TP's DependencyGraph on a prepared copy and record every group that may change."""
    import torch_pruning as tp
    from torch_pruning.pruner import function as pruning

    names = {getattr(pruning, n): n for n in dir(pruning)
             if n.startswith("prune_") and n.endswith(("_out_channels", "_in_channels"))}
    work = copy.deepcopy(template.graph_module)
    constants = channel_constants(work, template.example)
    _promote(work, constants)
    _cut_and_mark_outputs(work, cuts)
    parameters = dict(work.named_parameters())
    with torch.enable_grad():  # TP traces autograd
        graph = tp.DependencyGraph().build_dependency(
            work, example_inputs=template.example, verbose=False,
            unwrapped_parameters=[(parameters[n], d) for n, d in constants.items()])
        found = list(graph.get_all_groups(root_module_types=[nn.Conv2d, nn.Conv1d, nn.Linear]))
    module_names = {m: n for n, m in work.named_modules()}
    groups, skipped = [], []
    for group in found:
        if any(isinstance(item.dep.target.module, tp.ops._OutputOp) for item in group):
            continue  # its channels reach an output: the model's own, or a cut
        root = module_names[group[0].dep.target.module]
        items, producers, unknown = [], [], None
        for item in group:
            target = item.dep.target.module
            pairs = tuple(zip(item.idxs, item.root_idxs))
            if item.dep.target.type == tp.ops.OPTYPE.PARAMETER:
                items.append((graph._param_to_name[target], f"tensor:{item.dep.target.pruning_dim}", pairs))
                continue
            if target not in module_names or not any(True for _ in target.parameters(recurse=False)):
                continue  # TP's placeholders for add/cat/reshape, and layers without weights
            function = names.get(item.dep.handler)
            if function is None:
                unknown = f"{module_names[target]} ({type(target).__name__})"
                break
            if function.endswith("_out_channels") and isinstance(target, (nn.modules.conv._ConvNd, nn.Linear)):
                producers.append(module_names[target])
            items.append((module_names[target], function, pairs))
        if unknown:
            skipped.append(f"width: group of {root} frozen: Torch-Pruning has no recorded pruning function "
                           f"for {unknown}")
            continue
        groups.append(WidthGroup(len(group[0].idxs), root, tuple(dict.fromkeys(producers)), tuple(items)))
    return groups, skipped


def _cut_and_mark_outputs(work: torch.fx.GraphModule, cuts: list[tuple[str, str]]) -> None:
    """Hide each cut from TP (its input detached, and returned as an extra output) and pass every
    output through a multiply, so TP gives it an output node: groups that reach one are frozen."""
    graph = work.graph
    nodes = {n.name: n for n in graph.nodes}
    extras = []
    for name, value in cuts:
        node, source = nodes[name], nodes[value]
        with graph.inserting_before(node):
            detached = graph.call_method("detach", (source,))
        node.replace_input_with(source, detached)
        extras.append(source)
    output = next(n for n in graph.nodes if n.op == "output")
    values = list(output.args[0]) if isinstance(output.args[0], (tuple, list)) else [output.args[0]]
    with graph.inserting_before(output):
        marked = tuple(graph.call_function(operator.mul, (v, 1.0)) for v in values + extras
                       if isinstance(v, torch.fx.Node))
    output.args = (marked,)
    work.recompile()


def channel_constants(graph_module: torch.fx.GraphModule, example: torch.Tensor) -> dict[str, int]:
    """Float buffers (get_attr) combined elementwise with a value whose channel dim (1) they
    broadcast along: {qualified name: their channel dim}. TP sees only parameters."""
    found, out = shapes(graph_module, example), {}
    for node in graph_module.graph.nodes:
        if node.op != "get_attr":
            continue
        value = get_attr(graph_module, node.target)
        if not isinstance(value, torch.Tensor) or isinstance(value, nn.Parameter) \
                or not value.is_floating_point() or value.numel() <= 1:
            continue
        for user in node.users:
            for other in user.all_input_nodes:
                shape = found.get(other) if other is not node else None
                if shape is None or len(shape) < 2:
                    continue
                dim = value.dim() - (len(shape) - 1)  # the constant's dim aligned with the value's dim 1
                if 0 <= dim < value.dim() and value.shape[dim] == shape[1] > 1:
                    out[str(node.target)] = dim
    return out


def _promote(graph_module: torch.fx.GraphModule, constants: dict[str, int]) -> None:
    """Turn constant buffers into parameters (on the throw-away copy TP analyses)."""
    for name in constants:
        owner_name, _, attr = name.rpartition(".")
        owner = graph_module.get_submodule(owner_name) if owner_name else graph_module
        value = getattr(owner, attr)
        owner._buffers.pop(attr, None)
        owner.register_parameter(attr, nn.Parameter(value.detach().clone()))


def keep_counts(groups: list[WidthGroup], ratios) -> list[int]:
    """Channels each group keeps for a keep-ratio: round(r * C), at least one."""
    return [max(1, min(g.channels, round(r * g.channels))) for g, r in zip(groups, ratios)]


def plan(groups: list[WidthGroup], keep: list[int]) -> dict[tuple[str, str], list[int]]:
    """{(module or tensor, function): indices to remove}: group g keeps its first keep[g] channels.

    Indices are in the original coordinates, so a module touched by several groups (a concat's
    consumer) is pruned once, with the union.
    """
    out: dict[tuple[str, str], set[int]] = {}
    for group, k in zip(groups, keep):
        for name, function, pairs in group.items:
            removed = {i for i, r in pairs if r >= k}
            if removed:
                out.setdefault((name, function), set()).update(removed)
    return {key: sorted(v) for key, v in out.items()}


def apply(graph_module: nn.Module, groups: list[WidthGroup], keep: list[int]) -> nn.Module:
    """Prune a copy in place so that group g keeps keep[g] channels."""
    from torch_pruning.pruner import function as pruning

    modules = dict(graph_module.named_modules())
    for (name, function), removed in plan(groups, keep).items():
        if function.startswith("tensor:"):  # a parameter or constant buffer pruned along one dim
            owner_name, _, attr = name.rpartition(".")
            owner = modules[owner_name]
            value = getattr(owner, attr)
            dim = int(function.partition(":")[2]) % value.dim()
            kept = torch.tensor(sorted(set(range(value.shape[dim])) - set(removed)), dtype=torch.long)
            new = torch.index_select(value.data, dim, kept)
            setattr(owner, attr, nn.Parameter(new, value.requires_grad) if isinstance(value, nn.Parameter) else new)
        else:
            getattr(pruning, function)(modules[name], removed)
    return graph_module


def probe(template: Template, groups: list[WidthGroup], ratio: float) -> tuple[list[WidthGroup], list[str]]:
    """Groups whose shrinking to ``ratio`` runs and keeps the output shape; the others frozen, with notes.

    All groups are tried together first (one forward); only if that fails, one at a time.
    """
    if not groups:
        return groups, []
    with torch.no_grad():
        expected = template.graph_module(template.example).shape

    def fails(chosen: list[WidthGroup]) -> str:
        keep = keep_counts(chosen, [ratio] * len(chosen))
        try:
            model = apply(copy.deepcopy(template.graph_module), chosen, keep).eval()
            with torch.no_grad():
                shape = model(template.example).shape
        except Exception as exc:
            return error_line(exc)[:160]
        return "" if shape == expected else f"the output shape becomes {tuple(shape)}"

    if not fails(groups):
        return groups, []
    kept, notes = [], []
    for group in groups:
        problem = fails([group])
        if problem:
            notes.append(f"width: group of {group.root} frozen: shrinking it breaks the model ({problem})")
        else:
            kept.append(group)
    problem = fails(kept)
    if problem:  # each alone runs, together they do not: offer none
        return [], notes + [f"width: the channel groups break the model when shrunk together ({problem})"]
    return kept, notes
