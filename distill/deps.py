"""Lazy imports of optional dependencies with an install hint."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingDependency(ImportError):
    """An optional dependency of the training recipe is not installed."""


def require(module: str, extra: str = "train") -> ModuleType:
    """Import a module or fail with the pip command that installs it.

    Raises:
        MissingDependency: the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(f"{module} is needed here: pip install 'radlabel[{extra}]'") from exc
