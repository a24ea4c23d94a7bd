"""Input mini-batches: ``gaussian``, ``imagelike``, ``cifar10:PATH``, ``images:DIR``, ``tensor:FILE.npy``,
``tokens:VOCAB[,LENGTH]``.

Every source picks its S samples with the seed, so the same seed gives the same batch.
``imagelike`` needs no files: Gaussian fields with the power spectrum and the colour-channel
correlation of small natural images, so that, like real images and unlike white noise,
neighbouring pixels and channels agree (white noise makes every sample unlike every other at
every pixel, which drives SWAP towards its 2^S ceiling on large networks).
"""

from __future__ import annotations

import contextlib
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import SwapfwError

CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


@dataclass
class Batch:
    inputs: torch.Tensor  # float32 (S, C, H, W), or int64 (S, L) token ids
    targets: torch.Tensor | None  # int64 (S,) where the source has labels
    source: str


def load_batch(spec: str, samples: int, shape: tuple[int, ...], seed: int) -> Batch:
    """The mini-batch named by ``spec`` with ``samples`` items of per-sample ``shape``."""
    if samples < 1:
        raise SwapfwError(f"--batch must be at least 1, got {samples}")
    kind, _, arg = spec.partition(":")
    loaders = {"gaussian": _gaussian, "imagelike": _imagelike, "cifar10": _cifar10, "images": _images,
               "tensor": _tensor, "tokens": _tokens}
    if kind not in loaders:
        raise SwapfwError(f"unknown data source {spec!r} (use gaussian, imagelike, cifar10:PATH, images:DIR, "
                          "tensor:FILE.npy or tokens:VOCAB[,LENGTH])")
    if kind in ("gaussian", "imagelike") and arg:
        raise SwapfwError(f"data source {kind!r} takes no argument, got {spec!r}")
    if kind == "tokens" and not arg:
        raise SwapfwError("data source 'tokens' needs the vocabulary size: tokens:VOCAB[,LENGTH]")
    if kind not in ("gaussian", "imagelike") and not arg:
        raise SwapfwError(f"data source {kind!r} needs a path: {kind}:PATH")
    with _one_thread():
        return loaders[kind](arg, samples, tuple(shape), seed)


@contextlib.contextmanager
def _one_thread():
    """Make a batch on one thread: FFTs and reductions split their work by the thread count, so a
    batch made on two threads can differ in the last bit from one made on one, and a sign near
    zero then flips a pattern bit (the same seed must give the same batch in every process)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _gaussian(_arg: str, samples: int, shape: tuple, seed: int) -> Batch:
    return Batch(torch.randn((samples, *shape), generator=_generator(seed)), None, "gaussian")


#: power ~ 1/f^SPECTRUM_EXPONENT: the slope of CIFAR-10's radial power spectrum is -3.1
#: (2,000 test images, 0.03 < f < 0.45 cycles/pixel); natural images at full size are near -2
SPECTRUM_EXPONENT = 3.0
#: share of each colour channel's variance common to all three: CIFAR-10's R-G correlation is 0.93
LUMINANCE_SHARE = 0.93
#: share of the pixel variance in each image's own mean (brightness, colour cast): 0.30 in CIFAR-10
OFFSET_SHARE = 0.30


def _imagelike(_arg: str, samples: int, shape: tuple, seed: int) -> Batch:
    """Zero-mean fields with a 1/f^3 power spectrum over the last two dims plus a per-image offset,
    channels sharing most of their variance, each channel standardised over the batch like a
    normalised dataset. All four numbers are statistics of CIFAR-10 images (above); with them the
    pixel autocorrelation at distances 1, 2 and 4 is 0.93, 0.84, 0.68 (CIFAR-10: 0.93, 0.84, 0.70)."""
    if len(shape) != 3:
        raise SwapfwError(f"imagelike data makes C x H x W images; the model takes samples of shape {shape}: "
                          "use --data gaussian or tensor:FILE.npy")
    channels, height, width = shape
    generator = _generator(seed)
    fy = torch.fft.fftfreq(height).view(-1, 1)
    fx = torch.fft.rfftfreq(width).view(1, -1)
    radius = torch.sqrt(fy ** 2 + fx ** 2)
    radius[0, 0] = 1.0
    amplitude = radius.pow(-SPECTRUM_EXPONENT / 2)
    amplitude[0, 0] = 0.0  # the image's mean is the offset below

    def shared(count_shape: tuple, draw) -> torch.Tensor:
        """Luminance common to the channels plus a little of each channel's own."""
        return LUMINANCE_SHARE ** 0.5 * draw((samples, 1, *count_shape)) + \
            (1 - LUMINANCE_SHARE) ** 0.5 * draw((samples, channels, *count_shape))

    def field(size):
        noise = torch.randn(size, generator=generator)
        return torch.fft.irfft2(torch.fft.rfft2(noise) * amplitude, s=(height, width))

    fields = shared((height, width), field)
    offsets = shared((1, 1), lambda size: torch.randn(size, generator=generator))
    x = (1 - OFFSET_SHARE) ** 0.5 * fields / fields.std().clamp_min(1e-12) + OFFSET_SHARE ** 0.5 * offsets
    x = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-12)
    return Batch(x.contiguous(), None, "imagelike")


def _pick(available: int, samples: int, seed: int, what: str) -> torch.Tensor:
    if available < samples:
        raise SwapfwError(f"{what} holds {available} samples, fewer than --batch {samples}")
    return torch.randperm(available, generator=_generator(seed))[:samples]


def _normalise(images: torch.Tensor, shape: tuple, mean, std) -> torch.Tensor:
    """uint8 NCHW -> float, resized to ``shape`` and normalised per channel."""
    if shape[0] != 3:
        raise SwapfwError(f"the model takes {shape[0]} input channels; RGB images have 3 (use --data gaussian or tensor:)")
    x = images.float() / 255.0
    if tuple(x.shape[2:]) != tuple(shape[1:]):
        x = F.interpolate(x, size=tuple(shape[1:]), mode="bilinear", align_corners=False)
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    return ((x - m) / s).contiguous()


def _cifar10(arg: str, samples: int, shape: tuple, seed: int) -> Batch:
    images, labels = _read_cifar10(Path(arg))
    index = _pick(len(images), samples, seed, f"CIFAR-10 at {arg}")
    x = torch.from_numpy(images[index.numpy()]).permute(0, 3, 1, 2)
    y = torch.from_numpy(np.asarray(labels)[index.numpy()].astype(np.int64))
    return Batch(_normalise(x, shape, CIFAR10_MEAN, CIFAR10_STD), y, f"cifar10:{arg}")


def _read_cifar10(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """NHWC uint8 images and labels from an .npz (x, y) or the official cifar-10-batches-py folder."""
    if path.is_file() and path.suffix == ".npz":
        with np.load(path) as data:
            if "x" not in data or "y" not in data:
                raise SwapfwError(f"{path} must hold arrays 'x' (N,32,32,3 uint8) and 'y'")
            x, y = data["x"], data["y"]
        if x.ndim != 4 or x.shape[-1] != 3 or x.dtype != np.uint8:
            raise SwapfwError(f"{path}: 'x' must be uint8 NHWC with 3 channels, got {x.dtype} {x.shape}")
        return x, y
    batch = path / "test_batch" if path.is_dir() else path
    if not batch.is_file():
        raise SwapfwError(f"no CIFAR-10 data at {path} (want an .npz or a cifar-10-batches-py folder)")
    try:
        with open(batch, "rb") as fh:
            entry = pickle.load(fh, encoding="latin1")
        x = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return np.ascontiguousarray(x), np.asarray(entry["labels"])
    except Exception as exc:
        raise SwapfwError(f"{batch} is not a CIFAR-10 python batch: {type(exc).__name__}: {exc}") from None


def _images(arg: str, samples: int, shape: tuple, seed: int) -> Batch:
    folder = Path(arg)
    if not folder.is_dir():
        raise SwapfwError(f"images: {arg} is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    index = _pick(len(files), samples, seed, f"folder {arg}")
    x = torch.from_numpy(np.stack([_read_image(files[i], shape) for i in index.tolist()])).permute(0, 3, 1, 2)
    return Batch(_normalise(x, shape, IMAGENET_MEAN, IMAGENET_STD), None, f"images:{arg}")


def token_spec(spec: str) -> tuple[int, int | None]:
    """(vocabulary, length or None) of ``tokens:VOCAB[,LENGTH]``."""
    parts = spec.partition(":")[2].split(",")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (1, 2) or any(n < 1 for n in numbers):
        raise SwapfwError(f"{spec!r}: want tokens:VOCAB[,LENGTH] with positive integers")
    return numbers[0], (numbers[1] if len(numbers) == 2 else None)


def _tokens(arg: str, samples: int, shape: tuple, seed: int) -> Batch:
    """Token ids drawn uniformly below the vocabulary size: what an embedding table is indexed with."""
    vocab, length = token_spec(f"tokens:{arg}")
    if len(shape) != 1 or (length is not None and shape[0] != length):
        raise SwapfwError(f"tokens:{arg} makes sequences of {length or 'L'} ids; the model takes samples of shape {shape}")
    ids = torch.randint(0, vocab, (samples, *shape), generator=_generator(seed), dtype=torch.int64)
    return Batch(ids, None, f"tokens:{vocab},{shape[0]}")


def _tensor(arg: str, samples: int, shape: tuple, seed: int) -> Batch:
    try:
        array = np.load(arg, allow_pickle=False)
    except Exception as exc:
        raise SwapfwError(f"cannot read {arg} as a .npy array: {type(exc).__name__}: {exc}") from None
    if array.dtype != np.float32 or array.ndim != 1 + len(shape):
        raise SwapfwError(f"{arg} must be a float32 N x {' x '.join(map(str, shape))} array, "
                          f"got {array.dtype} {array.shape}")
    if tuple(array.shape[1:]) != tuple(shape):
        raise SwapfwError(f"{arg} holds samples of shape {array.shape[1:]}, the model takes {tuple(shape)}")
    if array.shape[0] < samples:
        raise SwapfwError(f"{arg} holds {array.shape[0]} samples, fewer than --batch {samples}")
    return Batch(torch.from_numpy(np.ascontiguousarray(array[:samples])), None, f"tensor:{arg}")


def labelled_images(spec: str, shape: tuple, train: int, val: int):
    """``((x, y), (x_val, y_val))``: labelled, normalised images of ``shape`` for training and for
    validating, disjoint, taken per class in file order (the first ``train``/classes of each class
    train, the next ``val``/classes validate, so the end of each class stays free for a test) from
    ``cifar10:PATH`` or ``images:DIR`` (one subfolder per class)."""
    kind, _, arg = spec.partition(":")
    if kind == "cifar10" and arg:
        images, labels = _read_cifar10(Path(arg))
        x, y = torch.from_numpy(images).permute(0, 3, 1, 2), torch.from_numpy(np.asarray(labels).astype(np.int64))
        mean, std = CIFAR10_MEAN, CIFAR10_STD
    elif kind == "images" and arg:
        x, y = _class_folders(Path(arg), shape)
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    else:
        raise SwapfwError(f"training data {spec!r}: want cifar10:PATH or images:DIR (one folder per class)")
    classes = sorted(set(y.tolist()))
    first, last = [], []
    for c in classes:
        index = torch.nonzero(y == c).flatten()
        take, keep = max(1, train // len(classes)), max(1, val // len(classes))
        if len(index) < take + keep:
            raise SwapfwError(f"{spec}: class {c} has {len(index)} images, fewer than the {take} training and "
                              f"{keep} validation images wanted of each class (lower subset= or val=)")
        first.append(index[:take])
        last.append(index[take:take + keep])
    first, last = torch.cat(first), torch.cat(last)
    x = _normalise(x, shape, mean, std)
    return (x[first], y[first]), (x[last], y[last])


def _read_image(file: Path, shape: tuple) -> np.ndarray:
    """One image file as uint8 HWC RGB, resized to ``shape``'s height and width."""
    from PIL import Image

    try:
        with Image.open(file) as img:
            return np.asarray(img.convert("RGB").resize((shape[2], shape[1]), Image.BILINEAR))
    except Exception as exc:
        raise SwapfwError(f"cannot read image {file}: {exc}") from None


def _class_folders(folder: Path, shape: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 NCHW images resized to ``shape`` and their labels, one label per subfolder of ``folder``."""
    if not folder.is_dir():
        raise SwapfwError(f"images: {folder} is not a folder")
    classes = sorted(p for p in folder.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise SwapfwError(f"images: {folder} needs one subfolder per class (found {len(classes)})")
    arrays, labels = [], []
    for label, sub in enumerate(classes):
        for file in sorted(p for p in sub.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
            arrays.append(_read_image(file, shape))
            labels.append(label)
    if not arrays:
        raise SwapfwError(f"images: no images under {folder}")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2), torch.tensor(labels, dtype=torch.int64)
