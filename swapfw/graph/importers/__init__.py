"""Model sources -> a torch module: ``.onnx`` files, ``package.module:callable``, ``SPACE:ARCH``.

Also the per-sample input shape a model is scored at: what the source declares, checked
against what the user asks for.
"""

from __future__ import annotations

import copy
import importlib.util
import os
from dataclasses import dataclass, field, replace

import torch
import torch.nn as nn

from ...errors import SwapfwError
from ...waits import announced
from ...plugins import call, get_registry, get_space
from .. import ops
from .onnx_ops import onnx_module_type

ops.register_module_typer(onnx_module_type)  # onnx2torch's classes, named by the importer that makes them

DEFAULT_INPUT_SHAPE = (3, 32, 32)
#: sequence length of token ids where neither the model nor the user fixes it
DEFAULT_SEQUENCE_LENGTH = 32
#: length of a symbolic dim when an importer checks a model on an example
CHECK_LENGTH = 16


@dataclass
class LoadedModel:
    module: nn.Module
    input_shape: tuple[int | None, ...] | None  # per sample; None where the source does not say
    source: str
    origin: str  # "onnx" | "python" | "space" | "module"
    space: object | None = None
    default_shape: tuple[int, ...] | None = None  # used when neither source nor user fixes the shape
    input_dtype: str = "float32"  # "int64" for token ids
    vocab: int | None = None  # token ids are below this, where the source says
    fixed_batch: int | None = None  # the model runs this many samples at a time, never more
    notes: list[str] = field(default_factory=list)  # what the import did: opset converted, inputs bound, ...
    recorded: dict = field(default_factory=dict)  # how swapfw export recorded scoring it (graph.exported)

    @property
    def takes_ids(self) -> bool:
        return self.input_dtype.startswith("int")

    def example(self, shape: tuple[int, ...], seed: int) -> torch.Tensor:
        """A small batch of the kind the model takes, for tracing and shape propagation."""
        return example_inputs(shape, self.fixed_batch or 2, seed, self.input_dtype, self.vocab)


def example_inputs(shape: tuple[int, ...], samples: int, seed: int, dtype: str = "float32",
                   vocab: int | None = None) -> torch.Tensor:
    """Gaussian floats, or token ids below ``vocab`` (0 and 1 where the vocabulary is unknown)."""
    generator = torch.Generator().manual_seed(seed)
    if dtype.startswith("int"):
        return torch.randint(0, vocab or 2, (samples, *shape), generator=generator, dtype=getattr(torch, dtype))
    return torch.randn((samples, *shape), generator=generator)


def parse_space_model(source) -> tuple[str, str] | None:
    """``(space, arch)`` of a ``SPACE:ARCH`` model source; None for a file, ``package.module:callable``
    or a module. The one place that reads the form."""
    if not isinstance(source, str) or source.lower().endswith((".onnx", ".pt", ".pth")) or os.path.exists(source):
        return None
    prefix, sep, arch = source.partition(":")
    return (prefix, arch) if sep and prefix in get_registry().entries["spaces"] else None


def load_model(source: str | nn.Module, build_options: dict | None = None, input_shape=None) -> LoadedModel:
    """Resolve a model source string (or pass an nn.Module through).

    ``build_options`` go to a search space's ``build`` (e.g. classes, channels, cells);
    ``input_shape`` (per sample) is what a TorchScript file is run on to import it.
    """
    if isinstance(source, nn.Module):  # a copy: scoring re-initialises weights, never the caller's
        return _torch_module(copy.deepcopy(source), type(source).__name__, "module")
    if not isinstance(source, str) or not source:
        raise SwapfwError("a model must be an .onnx file, package.module:callable, SPACE:ARCH or an nn.Module")
    if source.lower().endswith(".onnx") or os.path.exists(source):
        from .onnx import load_onnx
        from .torchscript import is_torchscript, load_torchscript

        with announced(f"importing {source}"):
            imported = load_torchscript(source, input_shape) if is_torchscript(source) else load_onnx(source)
        spec = imported.input
        return LoadedModel(imported.module, spec.shape, source, "onnx", input_dtype=spec.dtype, vocab=spec.vocab,
                           fixed_batch=imported.fixed_batch, notes=imported.notes, recorded=imported.recorded)
    in_space = parse_space_model(source)
    if build_options and in_space is None:
        raise SwapfwError(f"build options ({', '.join(build_options)}) apply to SPACE:ARCH models only")
    if in_space is not None:
        name, arch = in_space
        space = get_space(name, build_options)
        module = call(replace(get_registry().entry("spaces", name), obj=space), "build", arch, **(build_options or {}))
        # a space's networks take any resolution (global pooling): its shape is a default, not a constraint
        return LoadedModel(module, None, source, "space", space, space_input_shape(space, build_options))
    if ":" not in source:
        raise SwapfwError(f"{source!r} is not a file, and not of the form package.module:callable or SPACE:ARCH")
    prefix = source.partition(":")[0]
    if "." not in prefix and importlib.util.find_spec(prefix) is None and not os.path.exists(prefix + ".py") \
            and not os.path.isdir(prefix):
        get_registry().get("spaces", prefix)  # neither a space nor a module: the one "unknown search space" error
    from .python import load_callable

    return _torch_module(load_callable(source), source, "python")


def _torch_module(module: nn.Module, source: str, origin: str) -> LoadedModel:
    """A user's torch module; one whose first layer is an embedding takes token ids below its size."""
    vocab = embedding_rows(module)
    if vocab is None:
        return LoadedModel(module, None, source, origin)
    return LoadedModel(module, None, source, origin, default_shape=(DEFAULT_SEQUENCE_LENGTH,), input_dtype="int64",
                       vocab=vocab)


def embedding_rows(module: nn.Module) -> int | None:
    """Rows of the module's first layer where it is an ``nn.Embedding`` (a language model's token
    table, as Hugging Face models and most others register it first); else None."""
    first = next((m for m in module.modules() if not list(m.children()) and list(m.parameters(recurse=False))), None)
    return first.num_embeddings if isinstance(first, nn.Embedding) else None


def take_ids(loaded: LoadedModel) -> None:
    """Feed a torch module token ids (``--data tokens:...`` said so) where its first layer did not."""
    if loaded.origin in ("python", "module") and not loaded.takes_ids:
        loaded.input_dtype, loaded.default_shape = "int64", (DEFAULT_SEQUENCE_LENGTH,)


def space_params(name: str, arch: str, options: dict | None = None, built: nn.Module | None = None) -> int:
    """The parameter count of ``NAME:ARCH`` built with ``options``: the one route every sized count
    takes (``params``, the regulariser, ``--mu auto``'s reference sizes, a search's best).

    ``built``: that network, where it exists already (its parameters are counted). Otherwise the
    space's own count where it has one (``count_params``: no build), else a build on the meta
    device (shapes only: no memory, no initialisation), else a real build where the builder
    cannot run on meta."""
    if built is not None:
        return _params(built)
    options = dict(options or {})
    entry = replace(get_registry().entry("spaces", name), obj=get_space(name, options))
    if hasattr(entry.obj, "count_params"):
        return int(call(entry, "count_params", arch, **options))
    try:
        with torch.device("meta"):
            return _params(entry.obj.build(arch, **options))
    except SwapfwError:
        raise
    except Exception:  # a builder that cannot run on meta: build for real (its own errors named by call)
        return _params(call(entry, "build", arch, **options))


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def space_input_shape(space, build_options: dict | None = None) -> tuple[int, ...]:
    """A space's default per-sample input shape; ``input_shape_for(**options)`` where it depends on
    the build (DARTS for ImageNet takes 224x224, say), else ``input_shape``."""
    shape_for = getattr(space, "input_shape_for", None)
    return tuple(shape_for(**(build_options or {})) if shape_for else space.input_shape)


def resolve_input_shape(declared, requested, default=None, ids: bool = False) -> tuple[int, ...]:
    """The per-sample input shape: what the user asked for, checked against what the model declares.

    ``ids``: the model takes token ids, whose symbolic length defaults to ``DEFAULT_SEQUENCE_LENGTH``."""
    if requested is not None:
        requested = tuple(int(d) for d in requested)
        if any(d < 1 for d in requested):
            raise SwapfwError(f"--input-shape must be positive, got {','.join(map(str, requested))}")
        if declared is not None:
            if len(declared) != len(requested) or any(d is not None and d != r for d, r in zip(declared, requested)):
                shown = ",".join("?" if d is None else str(d) for d in declared)
                raise SwapfwError(f"--input-shape {','.join(map(str, requested))} does not match the model's input {shown}")
        return requested
    if declared is None:
        return tuple(default or DEFAULT_INPUT_SHAPE)
    if any(d is None for d in declared):
        if ids and len(declared) == 1:  # a sequence of token ids of any length
            return (DEFAULT_SEQUENCE_LENGTH,)
        shown = ",".join("?" if d is None else str(d) for d in declared)
        raise SwapfwError(f"the model's input shape {shown} has symbolic dims: give --input-shape "
                          f"{'LENGTH (or --data tokens:VOCAB,LENGTH)' if ids else 'C,H,W'}")
    return tuple(declared)
