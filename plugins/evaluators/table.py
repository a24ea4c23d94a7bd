"""``table``: an architecture's trained result looked up in a CSV, at the cost the table records.

What a benchmark's cheap fidelity (NAS-Bench-201 after 12 epochs) is to a search: a real
evaluation whose cost is simulated. Reading the table once, it answers every architecture of
the space that has a row; one without a row is a one-line error naming it.
"""

from swapfw import SwapfwError, hookimpl
from swapfw.plugin_api import load_table


class TableEvaluator:
    name = "table"
    description = "looks an architecture's value up in a CSV (table=, metric=, cost=): simulated cost"
    simulated = True
    options = {
        "table": "the CSV file (required)",
        "metric": "the column to maximise (required)",
        "cost": "the column of seconds each row's value cost (absent: 0)",
        "arch-column": "the architecture column (default: arch or arch_str)",
        "arch-format": "the encoding that column uses (default: the space's own string)",
    }

    def open(self, space, options, *, seed, device, build):
        for needed in ("table", "metric"):
            if not options.get(needed):
                raise SwapfwError(f"evaluator table needs --evaluator-option {needed}=...")
        fmt = options.get("arch-format") or "arch"
        column = options.get("arch-column")
        values = load_table(options["table"], options["metric"], space, column, fmt).values
        costs = (load_table(options["table"], options["cost"], space, column, fmt).values
                 if options.get("cost") else None)

        def measure(arch):
            key = space.canonical(arch)
            if key not in values:
                raise SwapfwError(f"architecture {arch} has no row in {options['table']}")
            return values[key], (costs.get(key, 0.0) if costs else 0.0)

        return measure


@hookimpl
def register_evaluators(register):
    register(TableEvaluator())
