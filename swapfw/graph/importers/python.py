"""Import ``package.module:callable``: a callable that returns an ``nn.Module``."""

from __future__ import annotations

import importlib
import os
import sys

import torch.nn as nn

from ...errors import SwapfwError


def import_object(spec: str):
    """The object ``package.module:name`` names, its package found as ``python -m`` finds one: on
    the import path or in the current directory (after installed packages: a local file never
    shadows one)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise SwapfwError(f"{spec!r} is not of the form package.module:name")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        target = importlib.import_module(module_name)
    except Exception as exc:
        raise SwapfwError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise SwapfwError(f"{module_name!r} has no attribute {attr!r}") from None
    return target


def load_callable(spec: str) -> nn.Module:
    """The module ``package.module:callable`` names (or returns)."""
    target = import_object(spec)
    if isinstance(target, nn.Module):
        return target
    if not callable(target):
        raise SwapfwError(f"{spec} is neither an nn.Module nor callable")
    try:
        model = target()
    except Exception as exc:
        raise SwapfwError(f"calling {spec}() failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(model, nn.Module):
        raise SwapfwError(f"{spec}() returned {type(model).__name__}, not a torch nn.Module")
    return model
