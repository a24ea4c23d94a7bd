"""MkDocs hook: the parts of the docs that are read from the code and the benchmarks' results.

A page asks for generated Markdown with a marker comment on a line of its own::

    <!-- generated: proxies -->
    <!-- generated: contract Space -->

and ``on_page_markdown`` replaces it before the page is rendered. Every generator reads what
the installed swapfw says about itself (its plugin registry, ``swapfw.contracts``, the
``swapfw`` command's options, ``swapfw.api``, the package docstrings) or the JSON files the
benchmarks write (``benchmarks/results/*.json``), so these parts of the docs cannot drift from
the code and no figure in them is typed by hand. Only mkdocs and swapfw are needed: no GPU, no
data, no other MkDocs plugin. An unknown marker stops the build.

The plugin registry is built with ``SWAPFW_LOAD_PLUGINS=swapfw``: the docs describe the
plugins swapfw ships, whatever else is installed where they are built.
"""

from __future__ import annotations

import ast
import inspect
import json
import math
import re
from pathlib import Path

from mkdocs.exceptions import PluginError

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
RESULTS = ROOT / "benchmarks" / "results"
BENCHMARKS = ROOT / "benchmarks"

MARKER = re.compile(r"^<!--\s*generated:\s*([\w-]+)((?:\s+[^\s>]+)*)\s*-->[ \t]*$", re.MULTILINE)


# --- the hook --------------------------------------------------------------------------------


def on_page_markdown(markdown: str, page, config, files) -> str:
    def generate(match: re.Match) -> str:
        name, args = match.group(1), match.group(2).split()
        if name not in GENERATORS:
            raise PluginError(f"{page.file.src_path}: unknown generated block {name!r} "
                              f"(known: {', '.join(sorted(GENERATORS))})")
        try:
            return GENERATORS[name](*args).rstrip() + "\n"
        except PluginError:
            raise
        except Exception as exc:  # a generator that fails must fail the build, saying where
            raise PluginError(f"{page.file.src_path}: generated block {match.group(0)!r} failed: "
                              f"{type(exc).__name__}: {exc}") from exc

    return MARKER.sub(generate, markdown)


# --- helpers ---------------------------------------------------------------------------------


_registry = None


def registry():
    """swapfw's plugin registry, with swapfw's own plugins only."""
    global _registry
    if _registry is None:
        from swapfw import plugins

        plugins.select("swapfw")
        _registry = plugins.get_registry()
        if _registry.broken:
            raise PluginError("swapfw's own plugins are broken: "
                              + "; ".join(f"{b.plugin}: {b.error}" for b in _registry.broken))
    return _registry


def md(text: str) -> str:
    """A docstring as Markdown: reStructuredText literals as code, and a blank line before a list
    that follows a paragraph directly (Markdown needs one; docstrings do not)."""
    lines = (text or "").replace("``", "`").splitlines()
    out = []
    for line in lines:
        item = re.match(r"\s*[-*] ", line)
        if item and out and out[-1].strip() and not re.match(r"\s*[-*] ", out[-1]) and not out[-1].startswith(" "):
            out.append("")
        out.append(line)
    return "\n".join(out)


def cell(value) -> str:
    """One table cell: no line breaks, pipes escaped."""
    text = " ".join((value if isinstance(value, str) else number(value)).split())
    # a pipe in a code span stays as it is (the table parser skips code spans); elsewhere it is escaped
    parts = text.split("`")
    return "`".join(part if i % 2 else part.replace("|", "\\|") for i, part in enumerate(parts))


def number(value) -> str:
    """A figure as a results file holds it, shown without false precision."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4g}" if abs(value) >= 1e-4 else f"{value:.2e}"
    if isinstance(value, (list, tuple)):
        return ", ".join(number(v) for v in value)
    return str(value)


def table(columns: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def plain_signature(function) -> str:
    """``(a, *, b=1)``: a function's parameters and defaults, without annotations."""
    signature = inspect.signature(function)
    params = [p.replace(annotation=p.empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=params, return_annotation=inspect.Signature.empty))


def first_paragraph(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def blockquote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in md(text).splitlines())


# --- plugins ---------------------------------------------------------------------------------


def proxy_kind(obj) -> str:
    from swapfw import contracts

    protocol = contracts.protocol_for("proxies", obj)
    kind = {"Proxy": "plain", "DerivedProxy": "derived", "PopulationProxy": "population",
            "ParametrisedProxy": "parametrised"}[protocol.__name__]
    if getattr(obj, "reference", None):
        kind += ", calibrated"
    return kind


def gen_proxies() -> str:
    """The table of every proxy swapfw ships, then each one's own documentation."""
    reg = registry()
    rows, sections, modules = [], [], {}
    for name in reg.names("proxies"):
        obj = reg.get("proxies", name)
        needs = ", ".join(sorted(getattr(obj, "needs", None) or ())) or "–"
        role = getattr(obj, "role", None) or "–"
        kind = proxy_kind(obj)
        usage = f"{name}:A+B" if kind.startswith("parametrised") else name
        flags = " (default)" if reg.defaults.get("proxies") == name else ""
        rows.append([f"[`{usage}`](#{name}){flags}", kind, needs, role, obj.description or ""])
        module = type(obj).__module__
        modules.setdefault(module, []).append(name)
        doc = inspect.getdoc(type(obj))
        parts = [f"### `{usage}` {{#{name}}}", "",
                 f"*{kind}* · needs: {needs} · role: {role}"
                 + (f" · built from: {', '.join(f'`{p}`' for p in obj.derived_from)}"
                    if getattr(obj, "derived_from", None) else "")
                 + (f" · reference sample: {obj.reference:,} architectures" if getattr(obj, "reference", None) else "")
                 + flags, "", md(obj.description or "")]
        if doc:
            parts += ["", md(doc)]
        parts += ["", f"Source: `{module.replace('swapfw_plugins', 'plugins').replace('.', '/')}.py`"
                      f" ([notes](#{module.rsplit('.', 1)[-1]}-module))."]
        sections.append("\n".join(parts))
    notes = []
    import importlib

    for module, names in sorted(modules.items()):
        short = module.rsplit(".", 1)[-1]
        doc = inspect.getdoc(importlib.import_module(module)) or ""
        notes.append(f"### `{short}` {{#{short}-module}}\n\nProvides {', '.join(f'`{n}`' for n in names)}.\n\n"
                     + md(doc))
    return "\n\n".join([
        table(["proxy", "kind", "needs", "role", "description"], rows),
        "## Each proxy", *sections,
        "## Notes of each module", "What each module says about the published implementation it follows "
        "and the choices where implementations disagree (its docstring).", *notes])


def gen_plugins(kind: str, detail: str = "") -> str:
    """A table of the plugins of one kind (spaces, searchers, binarisers, executors); with
    ``detailed``, each one's class docstring after it."""
    from swapfw.plugins import KINDS, SINGULAR

    if kind not in KINDS:
        raise PluginError(f"no plugin kind {kind!r} (kinds: {', '.join(KINDS)})")
    reg = registry()
    rows = []
    for name in reg.names(kind):
        obj = reg.get(kind, name)
        extra = []
        if reg.defaults.get(kind) == name:
            extra.append("the default")
        if kind == "binarisers":
            extra.append(f"reads the {obj.tap}")
            extra.append("default for " + (", ".join(sorted(getattr(obj, "default_for", None) or ())) or "no kind"))
        if kind == "searchers" and getattr(obj, "multi_objective", False):
            extra.append("multi-objective: a Pareto front of `--objectives`")
        if kind == "latency_meters" and getattr(obj, "measures_here", True) is False:
            extra.append("figures of another machine")
        if kind == "spaces" and getattr(obj, "default_proxy", None):
            extra.append(f"default ranking `{obj.default_proxy}`")
        rows.append([f"`{name}`", md(obj.description or ""), "; ".join(extra) or "–"])
    out = table([SINGULAR[kind], "description", "notes"], rows)
    if detail == "detailed":
        for name in reg.names(kind):
            doc = inspect.getdoc(type(reg.get(kind, name)))
            if doc:
                out += f"\n\n**`{name}`**: " + md(doc)
    elif detail:
        raise PluginError(f"plugins {kind}: unknown option {detail!r} (use detailed)")
    return out


def gen_protocols() -> str:
    """Every space's scoring protocols (``swapfw protocols SPACE``), the default first."""
    import swapfw

    def options(build: dict | None) -> str:
        if build is None:
            return "the scored network"
        return " ".join(f"`{k}={v}`" for k, v in build.items()) or "the space's defaults"

    parts = []
    for space in registry().names("spaces"):
        rows = []
        for i, (name, p) in enumerate(swapfw.protocols(space).items()):
            rows.append([f"`{name}`" + (" (default)" if i == 0 else ""), md(p["description"]),
                         options(p["build"]), options(p["size_build"]), p["batch"], p["repeats"], p["data"],
                         "×".join(map(str, p["input_shape"])) if p["input_shape"] else "the space's"])
        parts.append(f"**`{space}`**\n\n" + table(["protocol", "description", "scoring network (build options)",
                                                     "sized network", "S", "R", "data", "input"], rows))
    return "\n\n".join(parts)


def gen_formats() -> str:
    """The encodings each space converts (``swapfw convert``, ``--arch-format``)."""
    from swapfw.studies.encodings import formats

    reg = registry()
    rows = []
    for space in reg.names("spaces"):
        others = [f for f in formats(reg.get("spaces", space)) if f != "arch"]
        rows.append([f"`{space}`", ", ".join(f"`{f}`" for f in others) or "–"])
    return table(["space", "encodings besides its own string (`arch`)"], rows)


def gen_roles() -> str:
    from swapfw import contracts

    reg = registry()
    return table(["role", "what the core reads the value as", "played by"],
                 [[f"`{role}`", md(text), f"`{reg.roles[role]}`" if role in reg.roles else "–"]
                  for role, text in contracts.ROLES.items()])


def gen_needs() -> str:
    from swapfw import contracts

    return table(["needs", "meaning"], [[f"`{name}`", md(text)] for name, text in contracts.NEEDS.items()])


def gen_contract(name: str) -> str:
    """The members of one protocol of ``swapfw.contracts``: what a plugin must (or may) provide."""
    from swapfw import contracts

    protocol = getattr(contracts, name, None)
    if not isinstance(protocol, type) or name not in contracts.__all__:
        raise PluginError(f"swapfw.contracts has no protocol {name!r}")
    rows = []
    for member, spec, optional, doc in contracts.members(protocol):
        if inspect.isfunction(spec):
            params = [p.replace(annotation=p.empty, default=p.default)
                      for p in inspect.signature(spec).parameters.values() if p.name != "self"]
            shown = f"`{member}{inspect.Signature(params)}`"
        else:
            shown = f"`{member}`"
        rows.append([shown, "optional" if optional else "required", md(first_paragraph(doc) if inspect.isfunction(spec)
                                                                         else doc)])
    return f"`{name}`: {md(first_paragraph(inspect.getdoc(protocol)))}\n\n" + table(["member", "status", "meaning"], rows)


def gen_plugin_api() -> str:
    """``swapfw.plugin_api``: its version and what it offers each kind of plugin (its docstring)."""
    from swapfw import plugin_api

    doc = md(inspect.getdoc(plugin_api) or "")
    by_kind = doc[doc.index("By kind:"):] if "By kind:" in doc else doc
    names = ", ".join(f"`{n}`" for n in sorted(plugin_api.__all__))
    return (f"`swapfw.plugin_api.PLUGIN_API_VERSION` is **{plugin_api.PLUGIN_API_VERSION}**. {by_kind}\n\n"
            f"Every name it exports: {names}.")


def gen_testing() -> str:
    """The conformance kit: each ``check_*`` of ``swapfw.testing`` with its signature and docstring."""
    from swapfw import testing

    parts = []
    for name in testing.__all__:
        obj = getattr(testing, name)
        if inspect.isfunction(obj):
            parts.append(f"`{name}{plain_signature(obj)}`\n\n: {md(' '.join(inspect.getdoc(obj).split()))}"
                         if inspect.getdoc(obj) else f"`{name}{plain_signature(obj)}`")
        elif inspect.isclass(obj):
            parts.append(f"`{name}`\n\n: {md(' '.join((inspect.getdoc(obj) or '').split()))}")
    return "\n\n".join(parts)


# --- the command line and the Python API ------------------------------------------------------


def gen_options(command: str) -> str:
    """The options of one ``swapfw`` command, as its ``--help`` gives them."""
    import click

    from swapfw.cli import cli

    cmd = cli if command == "swapfw" else cli.commands.get(command)
    if cmd is None:
        raise PluginError(f"swapfw has no command {command!r}")
    ctx = click.Context(cmd, info_name=command)
    rows = []
    for param in cmd.get_params(ctx):
        if isinstance(param, click.Argument) or param.name == "help":
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        rows.append([f"`{names}`", help_text])
    return table(["option", "meaning"], rows)


def wrapped_call(shown: str, function, width: int = 96) -> str:
    """``shown(a, b=1, ...)`` wrapped to lines of at most ``width`` characters."""
    params = plain_signature(function)[1:-1].replace("'", '"').split(", ")
    lines, line = [], f"{shown}("
    for i, param in enumerate(params):
        piece = param + (", " if i < len(params) - 1 else ")")
        if len(line) + len(piece.rstrip()) > width and line.strip():
            lines.append(line.rstrip())
            line = " " * (len(shown) + 1)
        line += piece
    lines.append(line.rstrip() if params != [""] else f"{shown}()")
    return "\n".join(lines)


def gen_api() -> str:
    """Every function of ``swapfw.api`` with its signature and docstring."""
    from swapfw import api

    parts = []
    for name in api.__all__:
        obj = getattr(api, name)
        if not inspect.isfunction(obj):
            continue
        parts.append(f"### `swapfw.{name}`\n\n```python\n{wrapped_call(f'swapfw.{name}', obj)}\n```\n\n"
                     f"{md(inspect.getdoc(obj) or '')}")
    results = []
    for name in api.__all__:
        obj = getattr(api, name)
        if inspect.isclass(obj):
            results.append(f"- `{name}`: {md(first_paragraph(inspect.getdoc(obj)))}")
    return "\n\n".join(parts) + "\n\n### Results\n\n" + "\n".join(results)


# --- layout ------------------------------------------------------------------------------------


def gen_layout() -> str:
    """Every package and module of swapfw and the bundled plugins, with its docstring's first paragraph."""
    import swapfw

    core = Path(swapfw.__file__).resolve().parent
    plugins_dir = ROOT / "plugins"
    rows = []
    for base, label in ((core, "swapfw"), (plugins_dir, "plugins")):
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py"), key=lambda p: (p.parent.relative_to(base).parts, p.name != "__init__.py",
                                                               p.name)):
            rel = path.relative_to(base.parent)
            if "__pycache__" in rel.parts:
                continue
            doc = ast.get_docstring(ast.parse(path.read_text()))
            shown = f"{rel.parent}/" if path.name == "__init__.py" else str(rel)
            if path.name == "__init__.py" and not doc:
                continue
            rows.append([f"`{shown}`", md(first_paragraph(doc)) if doc else "–"])
    return table(["where", "what it is (its docstring's first paragraph)"], rows)


# --- benchmarks and their results ---------------------------------------------------------------


def gen_benchmarks() -> str:
    """Every benchmark script with its docstring's first paragraph, and whether results of it are kept."""
    kept = {p.stem for p in RESULTS.glob("*.json")} if RESULTS.is_dir() else set()
    rows = []
    for path in sorted(BENCHMARKS.glob("*.py")):
        if path.name == "common.py":
            continue
        doc = ast.get_docstring(ast.parse(path.read_text()))
        rows.append([f"`benchmarks/{path.name}`", md(first_paragraph(doc)) or "–",
                     f"[yes](#{path.stem})" if path.stem in kept else "not yet"])
    return table(["script", "what it measures", "results kept"], rows)


def provenance_line(prov: dict) -> str:
    machine = prov.get("machine") or {}
    parts = [f"commit `{prov.get('commit', 'unknown')}`" + (" (with uncommitted changes)" if prov.get("dirty") else ""),
             f"swapfw {prov.get('swapfw', '?')}", f"torch {prov.get('torch', '?')}", f"Python {prov.get('python', '?')}",
             f"device `{prov.get('device', '?')}` ({prov.get('device_name', '?')})",
             f"{prov.get('threads', '?')} torch thread(s)"]
    if machine:
        memory = f", {machine['memory_gb']} GB" if machine.get("memory_gb") else ""
        parts.append(f"machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores{memory}, "
                     f"{machine.get('platform', '?')}")
    parts.append(f"date {prov.get('date', '?')}")
    return "; ".join(parts)


def gen_results() -> str:
    """Each results file of ``benchmarks/results``: its summary, provenance, command and tables, and
    its figure where ``benchmarks/figures.py`` drew one (``docs/figures/NAME.png``)."""
    files = sorted(RESULTS.glob("*.json")) if RESULTS.is_dir() else []
    if not files:
        return ("!!! note \"No results yet\"\n\n"
                "    No results file exists yet: `benchmarks/results/` holds none, so this page has no measured "
                "figures to show. Run a benchmark with `--out benchmarks/results/NAME.json` (the table above "
                "names each one) and rebuild the docs.")
    parts = []
    for path in files:
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise PluginError(f"{path}: not a readable results file ({exc})") from exc
        name = doc.get("benchmark") or path.stem
        section = [f"## {name} {{#{path.stem}}}", ""]
        if doc.get("summary"):
            section += [doc["summary"], ""]
        prov = doc.get("provenance") or {}
        section += [f"*Measured with* {provenance_line(prov)}.", "",
                    f"File: `benchmarks/results/{path.name}`. Command:", "",
                    "```bash", doc.get("command", "?"), "```", ""]
        for tab in doc.get("tables") or []:
            if tab.get("title"):
                section += [f"**{cell(tab['title'])}**", ""]
            section += [table(tab.get("columns") or [], tab.get("rows") or []), ""]
            section += [f"- {md(note)}" for note in tab.get("notes") or []]
            section.append("")
        if (DOCS / "figures" / f"{path.stem}.png").is_file():  # drawn from this file by benchmarks/figures.py
            section += [f"![{name}](figures/{path.stem}.png)", ""]
        parts.append("\n".join(section))
    return "\n\n".join(parts)


GENERATORS = {
    "proxies": gen_proxies,
    "plugins": gen_plugins,
    "protocols": gen_protocols,
    "formats": gen_formats,
    "roles": gen_roles,
    "needs": gen_needs,
    "contract": gen_contract,
    "plugin-api": gen_plugin_api,
    "testing": gen_testing,
    "options": gen_options,
    "api": gen_api,
    "layout": gen_layout,
    "benchmarks": gen_benchmarks,
    "results": gen_results,
}
