"""Loading weights from a local file: the only way pretrained weights enter nmkit."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from nmkit.errors import InputError


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The model state dict stored in ``path`` (a plain state dict, an nmkit bundle or a Lightning checkpoint)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "weights file not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the user's input problem
        raise InputError(path, f"cannot be read as PyTorch weights ({type(err).__name__})") from err
    if isinstance(blob, dict) and "state_dict" in blob:
        blob = blob["state_dict"]
    if not isinstance(blob, dict):
        raise InputError(path, "does not hold a state dict")
    # Lightning prefixes the wrapped network's parameters with "model.".
    if blob and all(k.startswith("model.") for k in blob):
        blob = {k.removeprefix("model."): v for k, v in blob.items()}
    return blob


def load_weights(model: nn.Module, path: str | Path, strict: bool = True) -> nn.Module:
    """Load weights from a local file into ``model``; a clear error when they do not fit."""
    state = read_state_dict(path)
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise InputError(path, f"weights do not fit this model ({first})") from err
    return model
