"""Proxy plugins that misbehave on purpose, for the executor tests (registered from code).

They read their target from the environment, which worker processes and a local Ray
instance inherit from the test process.
"""

import os
import signal

from swapfw import hookimpl


def _target() -> str:
    return os.environ.get("SWAPFW_TEST_TARGET") or "\0"  # never matches when unset


class DiesOnce:
    """Kills the process it runs in the first time it meets the target architecture."""

    name = "dies_once"
    needs = frozenset()

    def score(self, network, batch, *, seed):
        marker = os.environ["SWAPFW_TEST_MARKER"]
        if network.loaded.source.endswith(_target()) and not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return float(network.ir.params)


class AlwaysFails:
    """Raises on the target architecture, every time; works elsewhere."""

    name = "always_fails"
    needs = frozenset()

    def score(self, network, batch, *, seed):
        if network.loaded.source.endswith(_target()):
            raise RuntimeError("broken on purpose")
        return float(network.ir.params)


class RunsOutOfMemory:
    """Fails on the target architecture as torch does when an allocation fails."""

    name = "runs_out_of_memory"
    needs = frozenset()

    def score(self, network, batch, *, seed):
        if network.loaded.source.endswith(_target()):
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return float(network.ir.params)


@hookimpl
def register_proxies(register):
    register(DiesOnce())
    register(AlwaysFails())
    register(RunsOutOfMemory())
