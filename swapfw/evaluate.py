"""Score architectures of one space under one protocol, through the score cache.

Shared by ``correlate`` and ``search``: the settings object needs ``space``, ``data``,
``batch``, ``repeats``, ``build_options``, ``input_shape``, ``binariser`` and ``device``.
Derived proxies (``derived_from``) are not scored here: their parts are, and the caller
combines them once it knows mu and sigma (see ``swapfw.proxies``).
"""

from __future__ import annotations

import json
import time

from .data import load_batch
from .errors import SwapfwError
from .importers import space_input_shape
from .network import prepare
from .plugins import get_registry
from .proxies import needs_targets, proxy_plan
from .scoring import run_proxy


def protocol_key(settings) -> str:
    """Every setting besides space/arch/proxy/data/batch/seed that changes a score."""
    return json.dumps({"repeats": settings.repeats, "build": settings.build_options, "binariser": settings.binariser,
                       "input_shape": list(settings.input_shape or ()), "device": settings.device}, sort_keys=True)


class NoCache:
    def get(self, key):
        return None

    def put(self, key, value):
        pass

    def commit(self):
        pass

    def close(self):
        pass


class Scorer:
    """Measured proxy values per architecture for one seed; counts what it computed and reused."""

    def __init__(self, settings, proxies: list[str], seed: int, cache):
        space = get_registry().get("spaces", settings.space)
        self.settings, self.seed, self.cache = settings, seed, cache
        self.measured, self.derived = proxy_plan(proxies)
        self.shape = tuple(settings.input_shape or space_input_shape(space, settings.build_options))
        self.batch = load_batch(settings.data, settings.batch, self.shape, seed)
        self.protocol = protocol_key(settings)
        unlabelled = needs_targets(self.measured) if self.batch.targets is None else []
        if unlabelled:
            raise SwapfwError(f"{', '.join(unlabelled)} need labelled data: use --data cifar10:PATH "
                              f"(the {self.batch.source} batch has no labels)")
        self.seconds: dict[str, float] = {}
        self.cached = self.computed = 0

    def _key(self, arch: str, proxy: str) -> tuple:
        s = self.settings
        return (s.space, arch, proxy, self.batch.source, s.batch, self.seed, self.protocol)

    def measure(self, arch: str) -> dict[str, float]:
        """Cached values where present; otherwise build the network once and run what is missing."""
        values = {p: self.cache.get(self._key(arch, p)) for p in self.measured}
        missing = [p for p, v in values.items() if v is None]
        self.cached += len(self.measured) - len(missing)
        if missing:
            s = self.settings
            network = prepare(f"{s.space}:{arch}", input_shape=self.shape, seed=self.seed, device=s.device,
                              binariser=s.binariser, build_options=s.build_options, settings={"repeats": s.repeats})
            for proxy in missing:
                tick = time.perf_counter()
                values[proxy] = run_proxy(proxy, network, self.batch, self.seed)
                self.seconds[proxy] = self.seconds.get(proxy, 0.0) + time.perf_counter() - tick
                self.cache.put(self._key(arch, proxy), values[proxy])
            self.cache.commit()
            self.computed += len(missing)
        return values
