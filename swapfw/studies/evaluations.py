"""Real evaluations a search spends: each architecture paid for once, failures recorded, not fatal.

An evaluator plugin (``contracts.Evaluator``) measures one architecture (trains it, or looks a
trained result up) and says what that cost. ``Evaluations`` keeps every result in the score
cache, keyed by the evaluator, its options, the space and the options it builds with, the
architecture, the seed and who computed it, so a rerun or a resumed search never pays for an
architecture twice.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

from ..errors import EvaluationFailed, PluginFailure, SwapfwError, is_out_of_memory
from ..plugins import call, check_options, get_registry
from ..version import __version__


@dataclass
class Evaluated:
    """One architecture's evaluation: its value (None where it failed, with the reason) and cost."""

    arch: str
    value: float | None
    cost: float
    error: str | None = None
    cached: bool = False  # paid for by an earlier run (the score cache) or before a restart

    def to_dict(self) -> dict:
        return asdict(self)


class Evaluations:
    """``evaluations(arch)`` -> ``Evaluated``; each architecture measured at most once."""

    def __init__(self, name: str, options: dict, space_name: str, space, seed: int, device: str, cache,
                 build_options: dict | None = None):
        registry = get_registry()
        self.entry = registry.entry("evaluators", name)
        self.name, self.options, self.cache = name, {k: str(v) for k, v in options.items()}, cache
        self.simulated = bool(getattr(self.entry.obj, "simulated", False))
        check_options(self.entry, self.options)

        def build(arch: str):
            return space.build(arch, **(build_options or {}))

        self.measure = call(self.entry, "open", space, dict(self.options), seed=seed, device=device, build=build)
        who = f"swapfw {__version__}; {self.entry.distribution}"
        built = f" {json.dumps(build_options, sort_keys=True, default=str)}" if build_options else ""
        self.key = (f"{name} {json.dumps(self.options, sort_keys=True)}", space_name + built, seed, who)
        self.done: dict[str, Evaluated] = {}
        self.restored: dict[str, Evaluated] = {}

    def restore(self, rows: list[dict]) -> None:
        """Results a checkpoint kept: met again, they are not paid for again."""
        self.restored = {row["arch"]: Evaluated(**{**row, "cached": True}) for row in rows}

    def __call__(self, arch: str) -> Evaluated:
        if arch in self.done:
            return self.done[arch]
        if arch in self.restored:
            self.done[arch] = self.restored.pop(arch)
            return self.done[arch]
        key = (self.key[0], self.key[1], arch, self.key[2], self.key[3])
        stored = self.cache.get_evaluation(key)
        if stored is not None:
            value, cost, error = stored
            result = Evaluated(arch, value, cost, error, cached=True)
        else:
            result = self._measure(arch)
            self.cache.put_evaluation(key, (result.value, result.cost, result.error))
            self.cache.commit()
        self.done[arch] = result
        return result

    def _measure(self, arch: str) -> Evaluated:
        try:
            value, seconds = self.measure(arch)
        except EvaluationFailed as exc:
            return Evaluated(arch, None, float(getattr(exc, "seconds", 0.0)), str(exc))
        except SwapfwError:
            raise
        except Exception as exc:
            if is_out_of_memory(exc):
                return Evaluated(arch, None, 0.0, "out of memory: " + str(exc).strip().splitlines()[0][:200])
            raise PluginFailure(f"{self.entry.name} ({self.entry.distribution})", exc) from exc
        value, seconds = float(value), float(seconds)
        if not math.isfinite(value):
            return Evaluated(arch, None, seconds, f"the evaluator returned {value}")
        return Evaluated(arch, value, seconds)

    @property
    def results(self) -> list[Evaluated]:
        """This run's evaluations in the order the search asked for them."""
        return list(self.done.values())

    def kept(self) -> list[Evaluated]:
        """What a checkpoint keeps: this run's evaluations and those restored but not met again yet."""
        return [*self.done.values(), *self.restored.values()]

    def best(self) -> Evaluated | None:
        """The highest value, the first of equals (None: nothing evaluated successfully)."""
        good = [r for r in self.done.values() if r.value is not None]
        return max(good, key=lambda r: r.value) if good else None

    def cost(self) -> dict:
        """What the evaluations cost: seconds in all (including those found in the cache, which an earlier
        run paid), seconds paid by this run, and whether the seconds are recorded, not spent."""
        return {"seconds": round(sum(r.cost for r in self.done.values()), 2),
                "paid_now": round(sum(r.cost for r in self.done.values() if not r.cached), 2),
                "simulated": self.simulated}
