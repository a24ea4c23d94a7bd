"""Count a network's activation patterns in one forward pass, and say when the count saturates.

SWAP counts distinct S-bit vectors, so it can never exceed 2^S; ``saturation_note`` warns when
scores come near that ceiling, where every large network scores alike.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Callable

import torch
import torch.nn as nn

from ..errors import SwapfwError, is_out_of_memory
from ..graph.ir import LeafRecorder, ModelIR, output_tensors, run_error
from ..graph.ops import activation_kind
from .binding import KindRule
from .engine import PatternCounter, PatternCounts
from .probe import Probe, TapPoint, TapsFoundWhileRunning, run_with_module_taps


def count_patterns(probe: Probe, binarisers: list, inputs: torch.Tensor, device: torch.device,
                   group: int | None = None) -> PatternCounts:
    """One forward pass of ``inputs`` through the instrumented model, counting patterns as values appear.

    ``group``: the model takes exactly this many samples a call (an ONNX file with a fixed batch);
    the samples then run ``group`` at a time and each site's values are joined before counting.
    """
    counter = PatternCounter(binarisers, inputs.shape[0], device)
    with torch.no_grad(), _out_of_memory_as_error(inputs, device):
        if group is None or group == inputs.shape[0]:
            output = probe.run(inputs.to(device), counter)
        else:
            output = _grouped(probe, inputs.to(device), counter, group)
    _check_finite(output)
    return counter.result()


def count_recording_ir(module: nn.Module, rule: KindRule, inputs: torch.Tensor,
                       device: torch.device) -> tuple[PatternCounts, Callable[[], ModelIR], list[TapPoint]]:
    """The first count of a model described by module hooks, with its IR recorded by the same pass.

    Every call of each activation module that ``rule`` gives a binariser is tapped as it happens,
    so no forward pass is spent finding the sites first. Returns the counts, a function that makes
    the IR of that pass (when asked: a run that scores SWAP alone never needs the graph), and the
    tap points in the order the counts number them (``bind`` on that IR gives the same points).
    """
    recorder = LeafRecorder(module)
    choices = {}
    for leaf in recorder.leaves:
        kind = activation_kind(leaf.type, leaf.attrs)
        binariser = rule(kind) if kind is not None else None
        if binariser is not None:
            choices[leaf.path] = (binariser, "value" if binariser.tap == "output" else "input")
    taps = TapsFoundWhileRunning(choices)
    counter = PatternCounter(taps.binarisers, inputs.shape[0], device)
    tapped = [(leaf.path, leaf.module) for leaf in recorder.leaves if leaf.path in choices]
    batch = inputs.to(device)
    with torch.no_grad(), _out_of_memory_as_error(inputs, device):
        try:
            with recorder:
                output = run_with_module_taps(module, tapped, taps, counter, batch)
        except Exception as exc:  # a model that does not run says so in one line, as building its IR would
            if isinstance(exc, SwapfwError) or is_out_of_memory(exc):
                raise
            raise run_error(exc, batch) from None
    _check_finite(output)
    return counter.result(), functools.partial(recorder.ir, tuple(batch.shape[1:])), taps.points


@contextlib.contextmanager
def _out_of_memory_as_error(inputs: torch.Tensor, device: torch.device):
    try:
        yield
    except Exception as exc:
        if is_out_of_memory(exc):
            raise SwapfwError(f"out of memory scoring a batch of {inputs.shape[0]} on {device}: "
                              "lower --batch") from None
        raise


def _grouped(probe: Probe, inputs: torch.Tensor, counter: PatternCounter, group: int):
    """Run ``inputs`` ``group`` samples at a time; hand each site its values for all samples."""
    if inputs.shape[0] % group:
        raise SwapfwError(f"the model takes exactly {group} samples at a time (its batch is fixed): "
                          f"give a --batch that is a multiple of {group}")
    runs, outputs = [], []
    for start in range(0, inputs.shape[0], group):
        calls: list[tuple[int, torch.Tensor]] = []
        outputs.append(probe.run(inputs[start:start + group], lambda i, v: calls.append((i, v.clone()))))
        runs.append(calls)
    for parts in zip(*runs):  # the k-th tap of every run: the same value for other samples
        # a file may fold its fixed batch into another dim (a Reshape to (4B, 8)): the batch is the
        # outermost factor of every value, so each run's values split into its B samples
        counter(parts[0][0], torch.cat([value.reshape(group, -1) for _, value in parts]))
    return outputs


def output_is_finite(output) -> bool:
    """False where a float tensor of the model's output (however nested) holds inf or NaN."""
    return not any(t.is_floating_point() and not bool(torch.isfinite(t).all()) for t in output_tensors(output))


def _check_finite(output) -> None:
    """Overflow turns patterns into noise: refuse to return a number built on inf or NaN."""
    if not output_is_finite(output):
        raise SwapfwError("the network's output holds inf or NaN: its activations overflowed, so no "
                          "pattern count would be meaningful (a network with no normalisation, e.g. an ONNX export that "
                          "folded BatchNorm into its convolutions, overflows under random weights: try --init keep, "
                          "or export without folding)")


SATURATION = 0.9  # SWAP above this share of its ceiling 2^S no longer separates networks well


def saturation_note(swaps: list[float], samples: int) -> str:
    """A warning when SWAP scores approach 2^S, the number of distinct S-bit patterns there are."""
    ceiling = 2.0 ** samples
    top = max(swaps, default=0.0)
    if samples >= 64 or top < SATURATION * ceiling:
        return ""
    return (f"SWAP reaches {top:,.0f} of its ceiling 2^{samples} = {ceiling:,.0f} distinct patterns: "
            f"networks this large saturate at S = {samples}, raise --batch")
