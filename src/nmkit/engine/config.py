"""Experiment configs: one YAML file per experiment, merged over these defaults."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from nmkit.errors import InputError

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "model": {"name": None},
    "data": {"batch_size": 32, "num_workers": 0},
    "optim": {"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4, "momentum": 0.9, "scheduler": "none"},
    "trainer": {
        "max_epochs": 10,
        "accelerator": "auto",
        "devices": 1,
        "strategy": "auto",
        "precision": "32-true",
        "log_every_n_steps": 10,
        "limit_train_batches": None,
        "limit_val_batches": None,
    },
}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``override`` merged into it, recursively."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: str | Path, data: str | Path | None = None) -> dict[str, Any]:
    """Read a YAML experiment config and merge it over :data:`DEFAULTS`; ``data`` overrides ``data.root``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "config file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise InputError(path, f"is not valid YAML ({str(err).splitlines()[0]})") from err
    if not isinstance(raw, dict):
        raise InputError(path, "must be a YAML mapping with at least 'workflow' and 'model'")
    config = merge(DEFAULTS, raw)
    if not config.get("workflow"):
        raise InputError(path, "has no 'workflow' key (e.g. workflow: qc)")
    if not config["model"].get("name"):
        raise InputError(path, "has no 'model: name:' entry")
    if data is not None:
        config["data"]["root"] = str(data)
        config["data"].pop("phantom", None)
    config["source"] = str(path)
    return config
