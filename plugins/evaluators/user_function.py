"""``callable``: a user's ``package.module:function(model) -> float`` evaluates each architecture.

The function gets the freshly built network (``space.build(arch, **build options)``) and returns
a value to maximise (its own training and validation, a latency measurement negated...); the cost
is the wall-clock seconds it took. Raising ``plugin_api.EvaluationFailed`` records a failure.
"""

import time

from swapfw import SwapfwError, hookimpl
from swapfw.plugin_api import import_object


class CallableEvaluator:
    name = "callable"
    description = "your own function(model) -> float (function=package.module:name): wall-clock cost"
    options = {"function": "package.module:function taking the built network, returning a float (required)"}

    def open(self, space, options, *, seed, device, build):
        if not options.get("function"):
            raise SwapfwError("evaluator callable needs --evaluator-option function=package.module:function")
        function = import_object(options["function"])
        if not callable(function):
            raise SwapfwError(f"{options['function']} is not callable")

        def measure(arch):
            model = build(arch)
            start = time.perf_counter()
            value = function(model)
            return float(value), time.perf_counter() - start

        return measure


@hookimpl
def register_evaluators(register):
    register(CallableEvaluator())
