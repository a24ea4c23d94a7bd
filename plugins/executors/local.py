"""``local``: every task in this process, one after another (the default)."""

import torch

from swapfw import hookimpl
from swapfw.plugin_api import run_task


class LocalPool:
    workers = 1

    def __init__(self, spec):
        self.previous = torch.get_num_threads()
        if spec.threads:
            torch.set_num_threads(spec.threads)

    def run(self, tasks):
        for index, task in enumerate(tasks):
            yield index, run_task(task)

    def close(self) -> None:
        torch.set_num_threads(self.previous)


class Local:
    name = "local"
    description = "in this process, one task after another"
    default = True
    open = LocalPool  # open(spec) -> a pool


@hookimpl
def register_executors(register):
    register(Local())
