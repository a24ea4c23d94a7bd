"""Say what a wait is for: a step that may take seconds says so once it has taken ``AFTER`` seconds.

Steps that have no progress to count (binding a model space to its source, importing a large ONNX
file) run inside ``announced(label)``; a listener (the ``swapfw`` command adds one that writes a
line to stderr) hears the label if the step is still running after ``AFTER`` seconds, so quick
steps stay silent. A library caller adds its own with ``listen`` or hears nothing.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable

#: seconds a step runs before it is announced
AFTER = 2.0

_listeners: list[Callable[[str], None]] = []


def listen(listener: Callable[[str], None]) -> None:
    """Hear every announced step's label (one line each)."""
    if listener not in _listeners:
        _listeners.append(listener)


@contextlib.contextmanager
def announced(label: str):
    """Run the block; if it takes longer than ``AFTER`` seconds, tell the listeners ``label``."""
    if not _listeners:
        yield
        return
    timer = threading.Timer(AFTER, lambda: [listener(label) for listener in list(_listeners)])
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
