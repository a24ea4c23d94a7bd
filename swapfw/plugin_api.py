"""Everything a plugin may use besides ``swapfw`` itself: the plugin author's stable surface.

A plugin imports ``hookimpl`` and ``SwapfwError`` from ``swapfw`` and the rest from here, and
from nowhere else in swapfw: the bundled plugins are held to it (``tests/test_plugin_api.py``),
so anything they need is here, and what is here keeps its name and meaning within a
``PLUGIN_API_VERSION`` (a new name raises the minor number, a change to a name's meaning the
major one). What a plugin of each kind must provide is ``swapfw.contracts``; the conformance kit
that checks it in a test is ``swapfw.testing``.

By kind:

- **proxies**: the network and batch they are handed (``Network``, ``Batch``); their own fresh
  copy of the network (``fresh_for``, ``fresh_model``, ``fresh_probe``, ``batchnorm_eval``); probes
  and tap points (``Probe``, ``TapPoint``); the activation pattern counts (``measure_patterns``);
  loss and batch helpers (``labels``, ``logits``, ``cross_entropy``, ``loss_gradients``,
  ``part_loss``, ``weighted_layers``, ``model_dtype``, ``chunks``, ``fit_in_memory``,
  ``finite_or_nan``, ``output_is_finite``, ``binarise``); the size factor (``size_factor``).
- **spaces**: scoring protocols (``Preset``); the building blocks cell spaces share
  (``swapfw.building_blocks``, re-exported: checks, evolutionary operators, ``EdgeCells`` for a
  cell of one op per edge, parameter counts by parts, the cell ops of the NAS benchmarks); loading a model a space derives from
  (``load_model``, ``resolve_input_shape``, ``build_ir``).
- **searchers**: the settings they are handed (``SearchSettings``).
- **binarisers**: the activation kinds (``ACTIVATIONS``, ``PIECEWISE_LINEAR``) and ``positive``.
- **executors**: the spec they open a pool for (``ExecutorSpec``), the task function to run
  wherever a pool runs its tasks (``run_task``, ``Task``, ``TaskResult``) and ``cores``.
- **evaluators**: ``EvaluationFailed`` (one architecture failed, the search goes on), a CSV of
  trained results (``load_table``: architecture -> value, in any encoding the space converts),
  labelled training and validation images (``labelled_images``), a user's function
  (``import_object``).
- **latency meters**: timing a callable as the bundled meters do (``median_milliseconds``: warm-up,
  then the median of timed runs; ``check_timing``: its counts checked before any work) with a
  thread count (``torch_threads``).
- **all**: ``SwapfwError`` (one line for the user), ``error_line``, ``is_out_of_memory``.
"""

from .building_blocks import (EdgeCells, FactorizedReduce, Zero, bad_arch, check_mutation_kind, check_sample_count,
                              mutate_edge, ops_of_number, part_params, positive_option, relu_conv_bn, shown,
                              uniform_crossover)
from .errors import EvaluationFailed, SwapfwError, error_line, is_out_of_memory
from .graph.importers import load_model, resolve_input_shape
from .graph.importers.python import import_object
from .graph.ir import build_ir
from .graph.ops import ACTIVATIONS, PIECEWISE_LINEAR
from .patterns.count import output_is_finite
from .patterns.engine import binarise, positive
from .patterns.probe import Probe, TapPoint
from .running.executors import ExecutorSpec, cores
from .running.tasks import Task, TaskResult, run_task
from .scoring.data import Batch, labelled_images
from .running.process import torch_threads
from .scoring.costs import check_timing, median_milliseconds
from .scoring.fresh import (batchnorm_eval, chunks, cross_entropy, finite_or_nan, fit_in_memory, fresh_for,
                            fresh_model, fresh_probe, labels, logits, loss_gradients, model_dtype, part_loss,
                            weighted_layers)
from .scoring.network import Network, measure_patterns
from .scoring.presets import Preset
from .scoring.regularise import size_factor
from .studies.search import SearchSettings
from .studies.truth import load_truth as load_table

#: the version of this surface: MAJOR.MINOR (a new name: minor; a changed meaning: major)
PLUGIN_API_VERSION = "1.3"

__all__ = [
    "PLUGIN_API_VERSION", "SwapfwError", "error_line", "is_out_of_memory",
    # proxies
    "Network", "Batch", "fresh_for", "fresh_model", "fresh_probe", "batchnorm_eval", "Probe", "TapPoint",
    "measure_patterns", "labels", "logits", "cross_entropy", "loss_gradients", "part_loss", "weighted_layers",
    "model_dtype", "chunks", "fit_in_memory", "finite_or_nan", "output_is_finite", "binarise", "size_factor",
    # spaces
    "Preset", "check_sample_count", "check_mutation_kind", "mutate_edge", "uniform_crossover", "part_params",
    "positive_option", "bad_arch", "shown", "EdgeCells", "ops_of_number", "Zero", "relu_conv_bn", "FactorizedReduce", "load_model",
    "resolve_input_shape", "build_ir",
    # searchers, binarisers, executors
    "SearchSettings", "ACTIVATIONS", "PIECEWISE_LINEAR", "positive", "ExecutorSpec", "cores", "run_task", "Task",
    "TaskResult",
    # evaluators
    "EvaluationFailed", "load_table", "labelled_images", "import_object",
    # latency meters
    "median_milliseconds", "check_timing", "torch_threads",
]
