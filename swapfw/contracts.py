"""What a plugin of each kind must provide: the plugin author's reference.

One ``typing.Protocol`` per plugin kind, each member with a one-line docstring. A plugin
object registers through a hook of ``swapfw.hookspecs``; registration checks it against its
protocol here (``check``), so a missing member or one of the wrong type makes the plugin
*broken* in ``swapfw plugins``, with the member named, instead of failing in the middle of a
run. Members marked ``Optional[...]`` (attributes) or ``@optional`` (methods) may be left out;
the core uses them when present. ``swapfw plugins --check`` prints the check for every
installed plugin. ``docs/writing-plugins.md`` has a worked example of every kind.

What the core hands a plugin (``network``, ``batch``, ``settings``, ``spec``, ``task``), and
every helper a plugin may use, is in ``swapfw.plugin_api``: the one module besides ``swapfw``
that a plugin imports.
"""

from __future__ import annotations

import inspect
import random
import types
import typing
from collections.abc import Collection, Iterator
from typing import Any, Callable, Optional, Protocol

__all__ = ["Space", "Proxy", "DerivedProxy", "PopulationProxy", "ParametrisedProxy", "Searcher", "Binariser",
           "Executor", "Pool", "Evaluator", "LatencyMeter", "ROLES", "NEEDS", "optional", "check", "protocol_for", "members"]

#: what the core reads a proxy's value as, where a proxy declares ``role``; one proxy a role
ROLES = {
    "swap_score": "the SWAP-Score: score's swap, and what saturation notes read",
    "standard_patterns": "|A|, the distinct whole-network patterns: score's standard_patterns",
    "regularised_swap": "SWAP times the size factor: score's regswap, with --mu/--sigma",
    "parameter_count": "the sized network's parameter count: score's params, a search's best params, the sizes "
                       "--mu/--sigma auto read where a space cannot count them",
    "flop_count": "multiply-accumulates per sample of the sized network: score's flops",
}
#: what a proxy may declare it reads (``needs``)
NEEDS = {
    "patterns": "activation patterns (the engine)",
    "gradients": "gradients of a loss",
    "targets": "labelled data (--data cifar10:PATH)",
    "regularisation": "mu and sigma (settings['mu'], settings['sigma']); --mu/--sigma auto are resolved first",
}


def optional(method: Callable) -> Callable:
    """Mark a protocol method as optional: a plugin may leave it out."""
    method.__swapfw_optional__ = True
    return method


# --- search spaces ---------------------------------------------------------------------------


class Space(Protocol):
    """A search space: architectures as strings, and the network each one builds."""

    name: str
    """Short name: ``--space NAME`` and the ``NAME:ARCH`` model syntax."""
    description: Optional[str]
    """One line for ``swapfw plugins``."""
    input_shape: tuple
    """Per-sample input shape of its networks, e.g. ``(3, 32, 32)``."""

    def canonical(self, arch: str) -> str:
        """The one string of every spelling (and isomorphic form) of ``arch``; raises SwapfwError if bad."""

    def build(self, arch: str, **options) -> Any:
        """A freshly initialised ``torch.nn.Module`` for ``arch``; ``options`` come from ``--space-option``."""

    def sample(self, count: int, seed: int) -> list:
        """``count`` distinct canonical architectures, the same for the same seed."""

    def mutate(self, arch: str, rng: random.Random, kind: str = "op") -> str:
        """A neighbour of ``arch`` that differs from it; ``kind`` is ``op`` or ``connectivity``."""

    def crossover(self, a: str, b: str, rng: random.Random) -> tuple:
        """Two children that mix parents ``a`` and ``b``."""

    @optional
    def parse(self, arch: str) -> Any:
        """The string as the space's own structure (ops, genotype...); raises SwapfwError if bad."""

    @optional
    def format(self, parsed: Any) -> str:
        """Inverse of ``parse``."""

    @optional
    def enumerate(self) -> list:
        """Every architecture, where the space is small enough to list (NB201: 15,625)."""

    @optional
    def input_shape_for(self, **options) -> tuple:
        """The input shape a build with ``options`` expects, where it depends on them (DARTS on ImageNet)."""

    @optional
    def count_params(self, arch: str, **options) -> int:
        """The parameter count ``build(arch, **options)`` would have, without building it: ``params`` and
        the regulariser read it for every architecture a search meets, on the trained-size network."""

    @optional
    def encode(self, arch: str, fmt: str) -> str:
        """``arch`` in another encoding users have (one of ``formats``: a benchmark index, NASLib's op indices...)."""

    @optional
    def decode(self, value: str, fmt: str) -> str:
        """The space's string for ``value`` given in encoding ``fmt``; raises SwapfwError if it is not one."""

    formats: Optional[Collection]
    """The encodings ``encode``/``decode`` know (``swapfw convert``, ``--arch-format``)."""
    data_note: Optional[str]
    """A caveat ``correlate`` prints with every report on this space (e.g. which images stand in)."""
    protocols: Optional[dict]
    """Named scoring protocols, name -> ``swapfw.scoring.presets.Preset``, the default first (``--protocol``)."""
    default_proxy: Optional[str]
    """The space's default ranking (a proxy, or a ``calibrated:`` aggregate) under its default
    protocol: what ``correlate``, ``search`` and ``score --proxy default`` use where the user names
    none, chosen on the space's development splits (``benchmarks/default_ranking.py``); absent: the
    proxy that declares itself the default."""
    climb_proxy: Optional[str]
    """The proxy that orders a climb's neighbours in a search that spends real evaluations with
    ``--selection climb`` (the search measures it beside its own proxy), chosen on a validation
    column; absent: the search's proxy."""
    module_activations: Optional[bool]
    """True where every activation of the space's networks is an ``nn.Module``: the scorer then
    reads them through module hooks and skips torch.fx (trace, shape propagation, the tapped copy),
    the larger part of an architecture's cost, and records the IR during the first pattern count
    instead of a forward pass of its own; absent: False."""

    @optional
    def bind(self, options: dict) -> "Space":
        """The space for these build options, where its architectures depend on them (a model-derived
        space); the core calls it before any other method and still passes the options to build."""

    @optional
    def describe(self) -> dict:
        """What varies in this space, for people (``swapfw space-info``): JSON-serialisable facts."""

    @optional
    def features(self, arch: str) -> dict:
        """Numbers that describe ``arch`` (name -> value, the same names for every architecture: how
        often each operation occurs, say), which a search spending real evaluations may learn from
        beside the proxies."""

    @optional
    def changes(self, arch: str) -> list[dict]:
        """``arch`` as changes from the space's original model, one row a changed choice point (id,
        kind, location, original, chosen), for ``swapfw space-info SPACE --arch ARCH``."""


# --- proxies ---------------------------------------------------------------------------------


class Proxy(Protocol):
    """A training-free metric: a network and a batch in, one float out (higher ranks higher)."""

    name: str
    """Name on the command line (``--proxies NAME``)."""
    description: Optional[str]
    """One line for ``swapfw plugins``."""
    needs: Collection
    """What it reads: any of ``NEEDS`` (``patterns``, ``gradients``, ``targets``, ``regularisation``)."""

    def score(self, network: Any, batch: Any, *, seed: int) -> float:
        """The value for one network (``plugin_api.Network``) on one ``plugin_api.Batch``; NaN if it overflows."""

    role: Optional[str]
    """What the core reads its value as, one of ``ROLES`` (one proxy a role): ``swap_score``, ``parameter_count``..."""
    default: Optional[bool]
    """True: the proxy ``search`` scores with where neither the user nor the space names one (one proxy)."""

    init: Optional[str]
    """Initialisation of its fresh copy (``swapfw.scoring.fresh``): default, kaiming or paper."""
    bn: Optional[str]
    """BatchNorm mode of its fresh copy: train, eval or none."""
    precision: Optional[str]
    """float32 or float64."""


class DerivedProxy(Protocol):
    """A proxy computed from other proxies' values of the same network (regswap = swap x f(params))."""

    name: str
    """Name on the command line."""
    description: Optional[str]
    """One line for ``swapfw plugins``."""
    derived_from: tuple
    """The proxies whose values it combines; the core measures them first."""

    def combine(self, values: dict, settings: dict) -> float:
        """``values[part]`` -> this proxy's value; ``settings`` holds ``mu`` and ``sigma`` (and ``reference``)."""

    needs: Optional[Collection]
    """As a proxy's; ``regularisation`` where ``combine`` reads ``mu`` and ``sigma``."""
    reference: Optional[int]
    """Calibration, a capability: compare each part with this many architectures of the space, sampled
    with a fixed seed. The core scores them under the same protocol (once, through the score cache)
    and passes ``settings["reference"][part]``, each part's values over them, sorted."""
    role: Optional[str]
    """As a proxy's (``regularised_swap``: regswap)."""
    default: Optional[bool]
    """As a proxy's."""


class PopulationProxy(Protocol):
    """A proxy that ranks architectures against each other (rank aggregation): no value for one network."""

    name: str
    """Name on the command line."""
    description: Optional[str]
    """One line for ``swapfw plugins``."""
    population: bool
    """True: the core only uses it over many scored architectures (``correlate``)."""
    derived_from: tuple
    """The proxies whose values it combines."""

    def combine_population(self, values: dict, settings: dict) -> list:
        """``values[part][i]`` over the scored architectures -> one value per architecture."""


class ParametrisedProxy(Protocol):
    """A proxy that takes an argument, named ``NAME:ARG`` (``rank_agg:regswap+flops``)."""

    name: str
    """Name before the colon."""
    description: Optional[str]
    """One line for ``swapfw plugins``."""

    def configure(self, argument: str) -> Any:
        """The proxy for ``NAME:argument``: an object meeting one of the other proxy protocols."""


# --- searchers, binarisers, executors --------------------------------------------------------


class Searcher(Protocol):
    """A search strategy over any space, through the space's operators and a scoring function."""

    name: str
    """Name on the command line (``--searcher NAME``)."""
    description: Optional[str]
    """One line for ``swapfw plugins``."""

    def run(self, space: Space, evaluate: Callable, settings: Any, rng: random.Random,
            on_cycle: Callable) -> tuple:
        """Search and return ``(arch, score)``.

        ``evaluate(archs) -> scores`` scores a list at once (send a cycle's offspring together so an
        executor runs them in parallel); it de-duplicates, caches and may raise ``BudgetSpent``,
        which the core catches. ``evaluate.known(arch)`` says whether an architecture is scored
        already (propose new ones: the budget counts distinct architectures) and
        ``evaluate.remaining`` how many the budget still allows (None: no budget). ``settings`` is
        ``plugin_api.SearchSettings`` (population, cycles, sample_size, mutations, crossover_prob,
        seed, budget...); ``cycles`` None means: until the budget is spent. Draw randomness only
        from ``rng`` so a checkpointed run replays exactly. Call ``on_cycle(best_score)`` once per
        cycle: it drives the progress bar and the checkpoint.

        Under deployment budgets (``--max-flops`` ...) an architecture over one scores ``-inf``
        without being counted, and ``known`` is then True. ``evaluate.objectives(archs)`` gives
        each architecture's ``settings.objectives`` (``{"proxy": score, "latency": ms, ...}``,
        None where over a budget or failed), counted as ``evaluate`` counts.
        """

    default: Optional[bool]
    """True: the searcher ``search`` runs where the user names none (one searcher)."""
    multi_objective: Optional[bool]
    """True: it searches for a Pareto front of ``settings.objectives`` through ``evaluate.objectives``;
    the searcher used with ``--objectives`` and no ``--searcher`` (where it is the only one)."""


class Binariser(Protocol):
    """Turns an activation site's values into sample-wise bits (Definition 3.2 and variants)."""

    name: str
    """Name on the command line (``--binariser NAME``)."""
    description: Optional[str]
    """One line for ``swapfw plugins``."""
    tap: str
    """``output`` (the post-activation value) or ``input`` (the pre-activation value)."""
    handles: Collection
    """Site kinds it can serve (``relu``, ``gelu``...; see ``swapfw.graph.ops.ACTIVATIONS``)."""

    def binarise(self, value: Any) -> Any:
        """An ``(S, ...)`` tensor -> a bool tensor of the same shape."""

    default_for: Optional[Collection]
    """Site kinds it serves when the user names no binariser."""


class Pool(Protocol):
    """What an executor's ``open`` returns: runs tasks, nothing else (retries and cache are the driver's)."""

    workers: int
    """Tasks that run at once."""

    def run(self, tasks: list) -> Iterator:
        """Yield ``(index, outcome)`` as tasks finish: what ``plugin_api.run_task(task)`` returned where
        it ran, or a one-line error string if the task never came back. A task carries everything it
        needs (the plugins the driver loaded included), so any process with swapfw installed can run it."""

    def close(self) -> None:
        """Release workers; called however the run ends."""


class Executor(Protocol):
    """Where scoring tasks run: this process, worker processes, a cluster."""

    name: str
    """Name on the command line (``--executor NAME``)."""
    description: Optional[str]
    """One line for ``swapfw plugins``."""

    def open(self, spec: Any) -> Pool:
        """A ``Pool`` for ``spec`` (``plugin_api.ExecutorSpec``: workers, address, device, and ``threads``:
        the torch threads each task runs with, which the pool sets where its tasks run)."""

    default: Optional[bool]
    """True: the executor used where the user names none (one executor)."""


# --- evaluators ------------------------------------------------------------------------------


class Evaluator(Protocol):
    """A costly, real evaluation of one architecture (training it, or looking a trained result up):
    what a search spends, a few times, where proxies cannot decide."""

    name: str
    """Name on the command line (``--evaluator NAME``)."""
    description: Optional[str]
    """One line for ``swapfw plugins``."""

    def open(self, space: Space, options: dict, *, seed: int, device: str, build: Callable) -> Callable:
        """A function ``measure(arch) -> (value, seconds)`` for architectures of ``space``: higher values
        are better, ``seconds`` what the evaluation cost. ``options`` are the ``--evaluator-option``
        strings; a bad one raises SwapfwError here, before anything is paid for. ``build(arch)`` is a
        freshly initialised network as the user's space options make it; ``device`` the search's.
        An architecture that cannot be evaluated (a NaN loss, out of memory) raises
        ``plugin_api.EvaluationFailed`` with the reason: the search records it and goes on."""

    options: Optional[dict]
    """Option name -> one line of help; where given, the core refuses any other option in one line
    before ``open`` (absent: ``open`` checks its options itself)."""
    simulated: Optional[bool]
    """True where ``seconds`` are costs recorded elsewhere (a table of trained results), not spent here."""


# --- latency meters --------------------------------------------------------------------------


class LatencyMeter(Protocol):
    """How long an architecture's network takes to run one batch where it will be deployed: measured
    on a device with a runtime (``--latency-runtime NAME``), or read from a table or a predictor, so
    a search for a phone can run on a workstation."""

    name: str
    """Name on the command line (``--latency-runtime NAME``)."""
    description: Optional[str]
    """One line for ``swapfw plugins``."""

    def open(self, space: Space, options: dict, *, device: str, batch: int, threads: Optional[int], build: Callable,
             input_shape: tuple) -> Callable:
        """A function ``measure(arch) -> milliseconds`` (one batch of ``batch`` samples of ``input_shape``).
        ``device`` is ``--latency-device`` (checked to exist here when ``measures_here``), ``threads``
        the intra-op threads (None: the runtime's own choice), ``build(arch)`` the sized network as
        the user's space options make it, ``options`` the ``--latency-option`` strings; a bad one
        raises SwapfwError here, before any measurement."""

    options: Optional[dict]
    """Option name -> one line of help; where given, the core refuses any other option before ``open``."""
    measures_here: Optional[bool]
    """False for a table or a predictor: its figures describe another machine, which its ``description``
    names (absent or True: it times the network on this machine's ``device``)."""
    default: Optional[bool]
    """True: the meter used where the user names none (one meter)."""


#: the protocol each kind's objects are checked against (proxies: see ``protocol_for``)
KIND_PROTOCOLS: dict[str, type] = {"spaces": Space, "proxies": Proxy, "searchers": Searcher,
                                   "binarisers": Binariser, "executors": Executor,
                                   "evaluators": Evaluator, "latency_meters": LatencyMeter}


# --- the check -------------------------------------------------------------------------------


def protocol_for(kind: str, obj: Any, configured: bool = False) -> type:
    """The protocol an object of ``kind`` must meet; a proxy's depends on what it declares
    (``configured``: the object a parametrised proxy's ``configure`` returned)."""
    if kind != "proxies":
        return KIND_PROTOCOLS[kind]
    if hasattr(obj, "configure") and not configured:
        return ParametrisedProxy
    if getattr(obj, "population", False):
        return PopulationProxy
    if hasattr(obj, "derived_from"):
        return DerivedProxy
    return Proxy


def members(protocol: type) -> list[tuple[str, Any, bool, str]]:
    """``(name, annotation or function, optional, doc)`` of each member, in declaration order."""
    out = []
    hints = typing.get_type_hints(protocol)
    docs = _attribute_docs(protocol)
    for name, hint in hints.items():
        is_optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)
        out.append((name, hint, is_optional, docs.get(name, "")))
    for name, value in vars(protocol).items():
        if inspect.isfunction(value) and not name.startswith("_"):
            out.append((name, value, getattr(value, "__swapfw_optional__", False), inspect.getdoc(value) or ""))
    return out


def check(protocol: type, obj: Any) -> list[str]:
    """What ``obj`` lacks or has wrong against ``protocol``, one line per member (empty: it conforms)."""
    problems = []
    for name, spec, is_optional, _ in members(protocol):
        if not hasattr(obj, name):
            if not is_optional:
                what = f"method {name}{_shown_signature(spec)}" if inspect.isfunction(spec) else f"attribute {name}"
                problems.append(f"lacks {what}")
            continue
        value = getattr(obj, name)
        if inspect.isfunction(spec):
            problem = _check_method(name, spec, value)
        else:
            problem = _check_attribute(name, spec, value)
        if problem:
            problems.append(problem)
    return problems


def _check_attribute(name: str, hint: Any, value: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
        if value is None:
            return ""
    base = typing.get_origin(hint) or hint
    if base is Collection:
        if isinstance(value, (str, bytes)) or not isinstance(value, (set, frozenset, tuple, list)) \
                or not all(isinstance(v, str) for v in value):
            return f"attribute {name} should be a collection of strings, not {value!r}"
        return ""
    if base is Any or not isinstance(base, type):
        return ""
    if base is int and isinstance(value, bool) or not isinstance(value, base):
        return f"attribute {name} should be {base.__name__}, not {type(value).__name__}"
    if base is str and not value and name == "name":
        return "attribute name is empty"
    return ""


def _check_method(name: str, spec: Callable, value: Any) -> str:
    if not callable(value):
        return f"{name} should be a method {name}{_shown_signature(spec)}, not {type(value).__name__}"
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):  # builtins without a signature: nothing more to check
        return ""
    expected = inspect.signature(spec)
    params = [p for p in expected.parameters.values() if p.name != "self"]
    positional = [None] * sum(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty for p in params)
    keywords = {p.name: None for p in params if p.kind is p.KEYWORD_ONLY}
    try:
        signature.bind(*positional, **keywords)
    except TypeError:
        return f"{name} cannot be called as {name}{_shown_signature(spec)} (it is {name}{signature})"
    return ""


def _shown_signature(spec: Callable) -> str:
    """``(network, batch, *, seed)``: the parameters without ``self`` or annotations."""
    params = [p.replace(annotation=p.empty) for p in inspect.signature(spec).parameters.values() if p.name != "self"]
    return str(inspect.Signature(params))


def _attribute_docs(protocol: type) -> dict[str, str]:
    """The string literal under each annotated attribute (the convention Sphinx reads)."""
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(protocol)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body = tree.body[0].body
    docs = {}
    for node, after in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr) \
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
            docs[node.target.id] = after.value.value.strip()
    return docs
