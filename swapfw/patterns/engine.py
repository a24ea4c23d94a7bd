"""Count sample-wise activation patterns without ever building the float V x S matrix.

For each activation site the probe hands over the tapped tensor (S, ...); the site's
binariser turns it into booleans; the S bits of every value are packed into machine words
on the tensor's own device; the codes are made distinct site by site and merged into one
running set. SWAP (Definitions 3.2-3.3) is the size of that set. The paper's standard
pattern count |A| (Definition 3.1), the number of distinct whole-network patterns among the
S samples, is kept alongside by refining a partition of the samples site by site.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import PluginFailure, SwapfwError

#: Up to this many samples the codes index a presence table (2**S booleans) instead of sorting.
TABLE_MAX_SAMPLES = 24
#: Values packed at a time: keeps the intermediate bytes and words in cache.
PACK_BLOCK = 1 << 16
#: Sort waiting codes into the distinct set once this many wait (and more than it holds).
MERGE_EVERY = 1 << 22


def positive(value: torch.Tensor) -> torch.Tensor:
    """``value > 0`` as a bool tensor. On the CPU as ``clamp_min(0).bool()``, about three times
    faster: torch's comparison kernel writing bools is not vectorised there, while clamping and
    the cast are. The same bits for every number (-0.0, subnormals and infinities included); NaN,
    which ``> 0`` calls False and this True, never reaches a score (outputs holding NaN are
    refused). On a GPU the comparison is one kernel, two would be slower."""
    return value.clamp_min(0).bool() if value.device.type == "cpu" else value > 0


def pack_samples(bits: torch.Tensor) -> torch.Tensor:
    """Pack bits (S, V) bool into codes: (V,) int64 for S <= 64, else (V, ceil(S/64)) int64.

    Bit j of word w holds sample 64*w + j, so for S <= 24 a code is below 2**S. Two values get
    equal codes iff their bit vectors over the S samples are equal. Values are packed in blocks
    that stay in cache; each block takes two multiply-and-sum steps (bits -> bytes -> words).
    """
    samples, values = bits.shape
    device = bits.device
    nbytes = -(-samples // 8)
    words = -(-nbytes // 8)
    if nbytes * 8 != samples:
        bits = torch.cat([bits, bits.new_zeros(nbytes * 8 - samples, values)])
    bit_weights, byte_shifts = _pack_constants(device)
    planes = bits.view(torch.uint8)
    codes = torch.empty(words, values, dtype=torch.int64, device=device)
    for start in range(0, values, PACK_BLOCK):
        block = planes[:, start:start + PACK_BLOCK]
        width = block.shape[1]
        packed = (block.reshape(nbytes, 8, width) * bit_weights).sum(1, dtype=torch.uint8)
        for word in range(words):  # up to 8 bytes -> one int64; only the bytes that exist
            rows = packed[8 * word:8 * word + 8]
            codes[word, start:start + width] = (rows.to(torch.int64) << byte_shifts[:rows.shape[0]]).sum(0)
    return codes[0] if words == 1 else codes.t().contiguous()


@functools.lru_cache(maxsize=None)
def _pack_constants(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """2**k per bit of a byte, 8*k per byte of a word: made once per device, not once per site."""
    bit_weights = torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8, device=device).view(1, 8, 1)
    byte_shifts = (torch.arange(8, dtype=torch.int64, device=device) * 8).view(8, 1)
    return bit_weights, byte_shifts


class DistinctCodes:
    """A running set of distinct sample-wise codes, fed site by site.

    S <= 24: the codes index a presence table of 2**S booleans. Larger S: codes wait in a
    buffer and are sorted and de-duplicated together once the buffer outgrows the distinct
    set (one sort of many codes is far cheaper than one per site); on the CPU numpy's sort
    does this, on other devices torch's.
    """

    def __init__(self, samples: int, device: torch.device):
        self.samples, self.device = samples, device
        self._table = (torch.zeros(1 << samples, dtype=torch.bool, device=device)
                       if samples <= TABLE_MAX_SAMPLES else None)
        self._ones = torch.ones(0, dtype=torch.bool, device=device)
        self._distinct = None  # sorted distinct codes so far
        self._pending: list[torch.Tensor] = []
        self._pending_rows = 0

    def add(self, codes: torch.Tensor) -> None:
        if self._table is not None:  # scatter from a ones source: several times faster than table[codes] = True
            if self._ones.shape[0] < codes.shape[0]:
                self._ones = torch.ones(codes.shape[0], dtype=torch.bool, device=self.device)
            self._table.scatter_(0, codes, self._ones[:codes.shape[0]])
            return
        self._pending.append(codes)
        self._pending_rows += codes.shape[0]
        known = 0 if self._distinct is None else self._distinct.shape[0]
        if self._pending_rows >= max(MERGE_EVERY, known):
            self._merge()

    def _known(self) -> torch.Tensor | None:
        """The distinct set and the waiting codes in one tensor (None when nothing came yet)."""
        parts = ([] if self._distinct is None else [self._distinct]) + self._pending
        if not parts:
            return None
        return torch.cat(parts) if len(parts) > 1 else parts[0]

    def _merge(self) -> None:
        if not self._pending:
            return
        self._distinct = _sorted_distinct(self._known())
        self._pending, self._pending_rows = [], 0

    def count(self) -> int:
        if self._table is not None:
            return int(self._table.sum())
        codes = self._known()
        if codes is None:
            return 0
        if codes.dim() == 1 and codes.device.type == "cpu":  # count without building the set
            ordered = np.sort(codes.numpy())
            return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1
        return int(_sorted_distinct(codes).shape[0])


def _sorted_distinct(codes: torch.Tensor) -> torch.Tensor:
    """Distinct codes (rows, for multi-word codes) in sorted order."""
    if codes.dim() == 2:
        return torch.unique(codes, dim=0)
    if codes.device.type == "cpu":  # numpy's sort is about twice as fast as torch's here
        ordered = np.sort(codes.numpy())
        keep = np.empty(ordered.shape[0], dtype=bool)
        keep[:1] = True
        np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
        return torch.from_numpy(ordered[keep])
    return torch.unique(codes)


class SamplePartition:
    """Groups samples whose binary patterns agree on every value seen so far (Definition 3.1)."""

    def __init__(self, samples: int, device: torch.device):
        self.samples = samples
        self.labels = torch.zeros(samples, dtype=torch.int64, device=device)
        self.groups = 1

    def add(self, bits: torch.Tensor) -> None:
        if self.groups == self.samples:  # every sample already has its own pattern
            return
        rows = bits.view(torch.uint8)
        width = rows.shape[1]
        if width % 8:
            rows = torch.cat([rows, rows.new_zeros(rows.shape[0], 8 - width % 8)], dim=1)
        words = rows.view(torch.int64)  # 8 values per word: fewer columns to compare
        _, site_labels = torch.unique(words, dim=0, return_inverse=True)
        keys = self.labels * self.samples + site_labels
        _, self.labels = torch.unique(keys, return_inverse=True)
        self.groups = int(self.labels.max()) + 1

    def count(self) -> int:
        return self.groups


@dataclass
class PatternCounts:
    swap: int
    standard_patterns: int
    values: int
    samples: int
    per_tap: list[int] = field(default_factory=list)  # values contributed by each tap point


class PatternCounter:
    """The sink the probe feeds: binarise, pack and count, one tap point at a time.

    Small sites are gathered into one (S, PACK_BLOCK) buffer and packed together: a pack
    costs a handful of tensor operations whatever its width, so many narrow sites (a
    MobileNet at 32x32) would otherwise spend more on dispatch than on data.
    """

    def __init__(self, binarisers: list, samples: int, device: torch.device):
        self.binarisers = binarisers  # one per tap; the list may grow while the model runs
        self.samples = samples
        self.codes = DistinctCodes(samples, device)
        self.partition = SamplePartition(samples, device)
        self.per_tap: list[int] = []
        self._buffer = torch.empty(samples, PACK_BLOCK, dtype=torch.bool, device=device)
        self._filled = 0

    def __call__(self, index: int, value: torch.Tensor) -> None:
        bits = binarise(self.binarisers[index], value, self.samples)
        width = bits.shape[1]
        if index >= len(self.per_tap):
            self.per_tap.extend([0] * (index + 1 - len(self.per_tap)))
        self.per_tap[index] += width
        self.partition.add(bits)
        if width >= PACK_BLOCK // 2:
            self.codes.add(pack_samples(bits))
            return
        if self._filled + width > PACK_BLOCK:
            self._flush()
        self._buffer[:, self._filled:self._filled + width] = bits
        self._filled += width

    def _flush(self) -> None:
        if self._filled:
            self.codes.add(pack_samples(self._buffer[:, :self._filled]))
            self._filled = 0

    def result(self) -> PatternCounts:
        self._flush()
        per_tap = self.per_tap + [0] * (len(self.binarisers) - len(self.per_tap))
        return PatternCounts(self.codes.count(), self.partition.count(), sum(per_tap), self.samples, per_tap)


def binarise(binariser, value: torch.Tensor, samples: int) -> torch.Tensor:
    """Apply a binariser and check its contract: a bool tensor of the value's shape, (S, V) out."""
    if value.dim() == 0 or value.shape[0] != samples:
        raise SwapfwError(f"an activation of shape {tuple(value.shape)} has no batch axis of {samples}")
    try:
        with torch.no_grad():
            bits = binariser.binarise(value.detach())
    except Exception as exc:
        raise PluginFailure(f"binariser {binariser.name}", exc) from exc
    if not isinstance(bits, torch.Tensor) or bits.dtype != torch.bool or bits.shape != value.shape:
        raise SwapfwError(f"binariser {binariser.name!r} must return a bool tensor of shape "
                          f"{tuple(value.shape)}, got {getattr(bits, 'dtype', type(bits))} "
                          f"{tuple(getattr(bits, 'shape', ()))}")
    return bits.reshape(samples, -1)


def naive_counts(values: list[torch.Tensor], samples: int) -> tuple[int, int]:
    """Reference SWAP and |A| from the float V x S matrix, as the authors' code computes them."""
    matrix = torch.cat([v.reshape(samples, -1).float() for v in values], dim=1)
    swap = torch.unique(matrix.t(), dim=0).shape[0]
    standard = torch.unique(matrix, dim=0).shape[0]
    return swap, standard
