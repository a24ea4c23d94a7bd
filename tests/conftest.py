import csv
import os
import sys
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))  # tests/nets.py is importable as `nets`, also by `swapfw score nets:...`
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))

#: the benchmark data: SWAPFW_DATA where it is set, else the development checkout's ../shared/data
#: (the tests' fallback; the library itself has none)
SHARED_DATA = Path(os.environ.get("SWAPFW_DATA") or TESTS.parent.parent / "shared" / "data")
os.environ["SWAPFW_DATA"] = str(SHARED_DATA)  # specs name their tables as ${SWAPFW_DATA}/...


def data_file(*parts: str) -> Path:
    """A file of the benchmark data, or the test skipped saying where it was looked for."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (set SWAPFW_DATA to the benchmark data folder; ../shared/data is the fallback)")
    return path


def data_rows(*parts: str) -> list[dict]:
    """The rows of a CSV of the benchmark data, or the test skipped (``data_file``)."""
    with data_file(*parts).open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def cifar_npz():
    return data_file("cifar10", "test.npz")


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    """Engine tests run on the CPU always and on CUDA where a GPU is present."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    return request.param


@pytest.fixture
def temporary_plugin():
    """Register plugin objects from code for one test; they are gone afterwards."""
    from swapfw import plugins

    names = []

    def register(obj, name):
        names.append(name)
        plugins.register_plugin(obj, name=name)

    yield register
    for name in names:
        plugins.unregister_plugin(name)


@pytest.fixture(scope="session")
def write_truth():
    """``write_truth(path, count, seed, **columns)``: a ground-truth CSV of ``count`` NB201 architectures
    sampled with ``seed``, one column per keyword, each a function (index, arch) -> value.

    Returns the path and the canonical architectures, in row order.
    """
    from swapfw.plugins import get

    def write(path, count: int, seed: int, **columns):
        space = get("spaces", "nb201")
        archs = [space.canonical(a) for a in space.sample(count, seed)]
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["arch", *columns])
            writer.writerows([arch, *(value(i, arch) for value in columns.values())] for i, arch in enumerate(archs))
        return path, archs

    return write
