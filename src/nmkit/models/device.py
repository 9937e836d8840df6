"""Where models run: ``nmkit --device cpu|cuda|auto`` (or NMKIT_DEVICE) for every command that runs a model.

A loaded model is moved to the device and given hooks that move its inputs there and its outputs back to the CPU,
so the workflows' NumPy-in, NumPy-out inference code runs unchanged on a GPU.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nmkit.errors import InputError

CHOICES = ("cpu", "cuda", "auto")
_device = torch.device("cpu")


def set_device(name: str) -> torch.device:
    """Choose the device for every model loaded from now on; InputError for an unknown or absent device."""
    global _device
    name = (name or "cpu").strip().lower()
    if name not in CHOICES and not name.startswith("cuda:"):
        raise InputError("--device", f"must be one of {', '.join(CHOICES)} (or cuda:N), not {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError("--device", f"{name} was asked for, but this machine has no CUDA GPU that torch can use")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise InputError("--device", f"{name} was asked for, but this machine has {torch.cuda.device_count()} GPU(s)")
    _device = torch.device(name)
    return _device


def current_device() -> torch.device:
    return _device


def on_device(model: nn.Module) -> nn.Module:
    """``model`` on the chosen device, taking and giving CPU tensors (unchanged on the CPU)."""
    if _device.type == "cpu":
        return model
    model.to(_device)
    model.register_forward_pre_hook(lambda _m, args: tuple(_to(a, _device) for a in args))
    model.register_forward_hook(lambda _m, _args, output: _to(output, torch.device("cpu")))
    return model


def _to(value: Any, device: torch.device) -> Any:
    if torch.is_tensor(value):
        return value.to(device)
    if isinstance(value, (tuple, list)):
        return type(value)(_to(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _to(v, device) for k, v in value.items()}
    return value
