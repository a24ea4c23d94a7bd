"""User-facing errors: one line, no traceback, non-zero exit."""


class SwapfwError(Exception):
    """An error the user can act on; the CLI prints its message alone and exits with 1."""


class OptionError(SwapfwError):
    """An option value of the wrong form (``--input-shape 3x32x32``): a usage error, exit status 2."""


class EvaluationFailed(SwapfwError):
    """One architecture's real evaluation failed (a NaN loss, out of memory): an evaluator raises it
    with the reason, and the search records a failed evaluation and goes on."""


class PluginFailure(SwapfwError):
    """A plugin raised; carries the plugin's name so the user knows whom to blame."""

    def __init__(self, plugin: str, exc: BaseException):
        self.plugin = plugin
        self.original = exc
        super().__init__(f"plugin {plugin!r} failed: {type(exc).__name__}: {exc}")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CPU and CUDA allocation failures, whatever exception type torch used."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "out of memory" in text or "can't allocate memory" in text


def error_line(exc: BaseException) -> str:
    """An exception as one line: a SwapfwError's message, else its type and first line; OOM said plainly."""
    if is_out_of_memory(getattr(exc, "original", exc)):  # a PluginFailure wraps what the plugin raised
        return "out of memory: lower --batch or the input size"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, SwapfwError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
