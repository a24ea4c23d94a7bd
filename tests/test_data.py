"""Mini-batch sources: every one seeded, sized and checked."""

import numpy as np
import pytest
import torch

from swapfw.scoring.data import load_batch
from swapfw.errors import SwapfwError


def test_gaussian_is_seeded():
    a, b = load_batch("gaussian", 4, (3, 8, 8), 1), load_batch("gaussian", 4, (3, 8, 8), 1)
    assert torch.equal(a.inputs, b.inputs) and a.inputs.shape == (4, 3, 8, 8)
    assert not torch.equal(a.inputs, load_batch("gaussian", 4, (3, 8, 8), 2).inputs)


@pytest.mark.parametrize("source", ["gaussian", "imagelike"])
def test_a_batch_is_the_same_whatever_the_thread_count(source):
    """FFTs and reductions split by thread count: the batch is made on one thread, so every worker
    (one thread or many) scores the same inputs; the caller's thread count is left as it was."""
    previous = torch.get_num_threads()
    try:
        batches = []
        for threads in (2, 1, 2):
            torch.set_num_threads(threads)
            batches.append(load_batch(source, 16, (3, 32, 32), 0).inputs)
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(previous)
    assert all(torch.equal(batches[0], b) for b in batches[1:])


def test_real_cifar10_npz_is_normalised_and_labelled(cifar_npz):
    batch = load_batch(f"cifar10:{cifar_npz}", 64, (3, 32, 32), 0)
    assert batch.inputs.shape == (64, 3, 32, 32) and batch.targets.shape == (64,)
    assert abs(float(batch.inputs.mean())) < 0.5 and 0.5 < float(batch.inputs.std()) < 1.5
    with np.load(cifar_npz) as data:
        index = torch.randperm(len(data["y"]), generator=torch.Generator().manual_seed(0))[:64]
        assert torch.equal(batch.targets, torch.from_numpy(data["y"][index.numpy()].astype(np.int64)))
    resized = load_batch(f"cifar10:{cifar_npz}", 4, (3, 16, 16), 0)
    assert resized.inputs.shape == (4, 3, 16, 16)


def test_official_cifar10_python_folder(tmp_path):
    import pickle

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    data = rng.integers(0, 255, size=(20, 3072), dtype=np.uint8)
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({"data": data, "labels": list(range(20))}, fh)
    batch = load_batch(f"cifar10:{folder}", 5, (3, 32, 32), 0)
    assert batch.inputs.shape == (5, 3, 32, 32) and sorted(batch.targets.tolist()) == sorted(set(batch.targets.tolist()))


def test_images_folder(tmp_path):
    from PIL import Image

    for i in range(6):
        Image.fromarray(np.full((40, 50, 3), i * 40, dtype=np.uint8)).save(tmp_path / f"{i}.png")
    batch = load_batch(f"images:{tmp_path}", 4, (3, 32, 32), 0)
    assert batch.inputs.shape == (4, 3, 32, 32)
    with pytest.raises(SwapfwError, match="fewer than --batch 10"):
        load_batch(f"images:{tmp_path}", 10, (3, 32, 32), 0)


def test_tensor_file_is_used_as_is(tmp_path):
    array = np.random.default_rng(0).standard_normal((5, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", array)
    batch = load_batch(f"tensor:{tmp_path / 'x.npy'}", 3, (3, 8, 8), 0)
    assert np.array_equal(batch.inputs.numpy(), array[:3])
    with pytest.raises(SwapfwError, match="the model takes"):
        load_batch(f"tensor:{tmp_path / 'x.npy'}", 3, (3, 16, 16), 0)
