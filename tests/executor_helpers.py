"""Proxy plugins that misbehave on purpose, for the executor tests (registered from code).

They read their target from the environment, which worker processes and a local Ray
instance inherit from the test process.
"""

import os
import signal

from swapfw import hookimpl


def _target() -> str:
    return os.environ.get("SWAPFW_TEST_TARGET") or "\0"  # never matches when unset


class _OnTarget:
    """Works like ``params`` everywhere but on the target architecture, where it misbehaves."""

    needs = frozenset()

    def score(self, network, batch, *, seed):
        if network.loaded.source.endswith(_target()):
            self.misbehave()
        return float(network.sized_params)


class DiesOnce(_OnTarget):
    """Kills the process it runs in the first time it meets the target."""

    name = "dies_once"

    def misbehave(self):
        marker = os.environ["SWAPFW_TEST_MARKER"]
        if not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)


class AlwaysFails(_OnTarget):
    name = "always_fails"

    def misbehave(self):
        raise RuntimeError("broken on purpose")


class RunsOutOfMemory(_OnTarget):
    """Fails as torch does when an allocation fails."""

    name = "runs_out_of_memory"

    def misbehave(self):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")


@hookimpl
def register_proxies(register):
    register(DiesOnce())
    register(AlwaysFails())
    register(RunsOutOfMemory())
