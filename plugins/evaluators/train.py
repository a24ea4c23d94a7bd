"""``train``: trains the built network for real on images and reports its validation accuracy.

One standard recipe, the same for every space (it is a fidelity, not a tuned result): SGD with
Nesterov momentum 0.9, learning rate 0.05 on a cosine schedule to zero, weight decay 5e-4, batches
of 128, random crops (4-pixel padding) and horizontal flips. Training images and validation images
are disjoint, taken per class from the same file (the first ``subset``/classes of each class train,
the next ``val``/classes validate; the rest, the end of each class, is left for a test).
Deterministic for a seed on one device. A NaN loss is a failed evaluation, not a crash.
"""

import math
import time

import torch
import torch.nn.functional as F

from swapfw import SwapfwError, hookimpl
from swapfw.plugin_api import EvaluationFailed, labelled_images

DEFAULTS = {"epochs": 3, "steps": 0, "subset": 5000, "val": 1000, "batch": 128, "lr": 0.05}


class TrainEvaluator:
    name = "train"
    description = "trains the network (data=cifar10:PATH or images:DIR, epochs=3): validation accuracy %, wall seconds"
    options = {
        "data": "cifar10:PATH (.npz or cifar-10-batches-py) or images:DIR (one folder per class) (required)",
        "epochs": "passes over the training images (3)",
        "steps": "stop after this many optimiser steps, 0: no limit (0)",
        "subset": "training images, the first of each class in the file (5000)",
        "val": "validation images, the next of each class, apart from the training ones (1000)",
        "batch": "images per step (128)",
        "lr": "peak learning rate (0.05)",
        "device": "cpu, cuda, cuda:N (the search's --device)",
    }

    def open(self, space, options, *, seed, device, build):
        if not options.get("data"):
            raise SwapfwError("evaluator train needs --evaluator-option data=cifar10:PATH or data=images:DIR")
        settings = {name: _number(options, name, default) for name, default in DEFAULTS.items()}
        device = options.get("device") or device
        shape = tuple(space.input_shape)
        (x, y), (xv, yv) = labelled_images(options["data"], shape, int(settings["subset"]), int(settings["val"]))

        def measure(arch):
            start = time.perf_counter()
            torch.manual_seed(seed)
            model = build(arch).to(device)
            accuracy = train_and_validate(model, (x, y), (xv, yv), settings, seed, device)
            return accuracy, time.perf_counter() - start

        return measure


def train_and_validate(model, train, val, settings: dict, seed: int, device: str) -> float:
    """Validation accuracy in percent after the recipe above."""
    (x, y), (xv, yv) = train, val
    batch, epochs = int(settings["batch"]), int(settings["epochs"])
    steps = epochs * math.ceil(len(x) / batch)
    if settings["steps"]:
        steps = min(steps, int(settings["steps"]))
    optimiser = torch.optim.SGD(model.parameters(), lr=settings["lr"], momentum=0.9, nesterov=True, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    step = 0
    while step < steps:
        order = torch.randperm(len(x), generator=generator)
        for begin in range(0, len(x), batch):
            if step >= steps:
                break
            index = order[begin:begin + batch]
            inputs = _augment(x[index], generator)
            loss = F.cross_entropy(model(inputs.to(device)), y[index].to(device))
            if not torch.isfinite(loss):
                raise EvaluationFailed(f"the training loss became {loss.item()} at step {step + 1}")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            step += 1
    model.eval()
    correct = 0
    with torch.no_grad():
        for begin in range(0, len(xv), 500):
            out = model(xv[begin:begin + 500].to(device))
            correct += (out.argmax(1).cpu() == yv[begin:begin + 500]).sum().item()
    return 100.0 * correct / len(xv)


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crops from a 4-pixel zero padding, and horizontal flips."""
    n, c, h, w = images.shape
    padded = F.pad(images, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=generator)
    dx = torch.randint(0, 9, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None].expand(n, c, h, w + 8)
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :].expand(n, c, h, w)
    cropped = padded.gather(2, rows).gather(3, cols)
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], cropped.flip(3), cropped)


def _number(options: dict, name: str, default: float) -> float:
    if name not in options:
        return default
    try:
        value = float(options[name])
    except ValueError:
        raise SwapfwError(f"evaluator train option {name}={options[name]!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and name != "steps"):
        raise SwapfwError(f"evaluator train option {name}={options[name]!r} must be positive")
    return value


@hookimpl
def register_evaluators(register):
    register(TrainEvaluator())
