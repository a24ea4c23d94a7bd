"""Activation sites: the values that feed an activation, found by op type and by pattern.

A site has a kind (``relu``, ``gelu``, ...), the node whose value feeds it (``input``) and
the node that holds the activation's result (``output``). Decomposed forms are matched as
one site: GELU as exported by older ONNX opsets (``x * 0.5 * (1 + erf(x / sqrt 2))``), SiLU
as ``x * sigmoid(x)`` and Hardswish as ``x * hardsigmoid(x)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from .ops import activation_kind

_GATED = {"sigmoid": "silu", "hardsigmoid": "hardswish"}


@dataclass(frozen=True)
class Site:
    kind: str
    input: str | None  # node producing the pre-activation value (None: take the module's input)
    output: str  # node producing the post-activation value
    nodes: tuple[str, ...]  # every node the pattern covers


def find_sites(graph: nx.DiGraph) -> list[Site]:
    """All activation sites in topological (execution) order."""
    sites = _gelu_by_erf(graph) + _gated(graph)
    covered = {n for s in sites for n in s.nodes}
    for name, data in graph.nodes(data=True):
        if name in covered:
            continue
        kind = activation_kind(data["type"], data["attrs"])
        if kind is not None:
            sites.append(Site(kind, _value_input(graph, name), name, (name,)))
    order = {n: i for i, n in enumerate(nx.topological_sort(graph))}
    return sorted(sites, key=lambda s: order[s.output])


def _value_inputs(graph: nx.DiGraph, name: str) -> list[str]:
    """Predecessors that carry data, not constants or weights."""
    return [p for p in graph.predecessors(name) if graph.nodes[p]["type"] != "constant"]


def _value_input(graph: nx.DiGraph, name: str) -> str | None:
    if graph.nodes[name].get("op") == "call_module" and "call" in graph.nodes[name]:
        return None  # hook IR: edges are execution order, so the probe reads the module's input
    values = _value_inputs(graph, name)
    return values[0] if values else None


def _single_successor(graph: nx.DiGraph, name: str) -> str | None:
    succ = list(graph.successors(name))
    return succ[0] if len(succ) == 1 else None


def _scaled_of(graph: nx.DiGraph, name: str) -> str | None:
    """If ``name`` is x times or over a constant, return x."""
    if graph.nodes[name]["type"] not in ("mul", "div"):
        return None
    values = _value_inputs(graph, name)
    return values[0] if len(values) == 1 else None


def _gelu_by_erf(graph: nx.DiGraph) -> list[Site]:
    sites = []
    for erf, data in graph.nodes(data=True):
        if data["type"] != "erf":
            continue
        values = _value_inputs(graph, erf)
        x = _scaled_of(graph, values[0]) if len(values) == 1 else None
        add = _single_successor(graph, erf)
        if x is None or add is None or graph.nodes[add]["type"] != "add" or len(_value_inputs(graph, add)) != 1:
            continue
        chain, node, gated = [values[0], erf, add], add, None
        for _ in range(2):  # the x-multiply, possibly preceded by the 0.5-multiply
            node = _single_successor(graph, node)
            if node is None or graph.nodes[node]["type"] != "mul":
                break
            chain.append(node)
            others = [v for v in _value_inputs(graph, node) if v != chain[-2]]
            if others and (others[0] == x or _scaled_of(graph, others[0]) == x):
                gated = node
                if others[0] != x:
                    chain.append(others[0])
                break
        if gated is None:
            continue
        output = gated
        half = _single_successor(graph, gated)
        if half is not None and graph.nodes[half]["type"] == "mul" and len(_value_inputs(graph, half)) == 1:
            output = half
            chain.append(half)
        sites.append(Site("gelu", x, output, tuple(dict.fromkeys(chain))))
    return sites


def _gated(graph: nx.DiGraph) -> list[Site]:
    """x * sigmoid(x) -> silu, x * hardsigmoid(x) -> hardswish."""
    sites = []
    for mul, data in graph.nodes(data=True):
        if data["type"] != "mul":
            continue
        values = _value_inputs(graph, mul)
        if len(values) != 2:
            continue
        for gate, x in (values, values[::-1]):
            kind = _GATED.get(graph.nodes[gate]["type"])
            if kind and _value_inputs(graph, gate) == [x]:
                sites.append(Site(kind, x, mul, (gate, mul)))
                break
    return sites
