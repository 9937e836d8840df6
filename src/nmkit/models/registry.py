"""A decorator registry of named models, as in timm: ``create_model(name)``, ``list_models()``."""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable

from torch import nn

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a builder function under ``name`` (e.g. ``"qc-resnet18"``)."""

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(f"model {name!r} is registered twice")
        _BUILDERS[name] = builder
        return builder

    return decorator


def _load_builtin_models() -> None:
    # Each workflow registers its named models when its models module is imported.
    importlib.import_module("nmkit.workflows").register_all_models()


def list_models(pattern: str = "*") -> list[str]:
    """Names of the registered models matching a shell-style ``pattern``, sorted."""
    _load_builtin_models()
    return sorted(n for n in _BUILDERS if fnmatch.fnmatch(n, pattern))


def create_model(name: str, **kwargs) -> nn.Module:
    """Build the model registered as ``name``; keyword arguments go to its builder.

    Weights start random (``weights=None`` everywhere); load pretrained weights from a local
    file with :func:`nmkit.models.load_weights`.
    """
    _load_builtin_models()
    if name not in _BUILDERS:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[name](**kwargs)
