"""A trained model as one self-describing file: registry name, builder arguments, weights, card."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nmkit.atomic import atomic_path
from nmkit.errors import InputError
from nmkit.metrics.calibration import set_temperature
from nmkit.models.device import on_device
from nmkit.models.registry import create_model


def save_bundle(path: str | Path, model_name: str, model_kwargs: dict[str, Any], model: nn.Module,
                info: dict[str, Any] | None = None) -> Path:
    """Save ``model`` with what is needed to rebuild it; ``info`` holds plain metadata (config, metrics)."""
    blob = {"format": "nmkit-model-1", "model_name": model_name, "model_kwargs": dict(model_kwargs),
            "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
            "info": info or {}}
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)
    return Path(path)


def load_bundle(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model saved by :func:`save_bundle` (in eval mode) and return it with its info."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "model file not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001
        raise InputError(path, f"cannot be read as an nmkit model ({type(err).__name__})") from err
    if not isinstance(blob, dict) or blob.get("format") != "nmkit-model-1":
        raise InputError(path, "is not an nmkit model bundle (train one with `nmkit train CONFIG`)")
    model = create_model(blob["model_name"], **blob["model_kwargs"])
    model.load_state_dict(blob["state_dict"])
    model = on_device(model.eval())
    info = dict(blob.get("info", {}))
    info.setdefault("model_name", blob["model_name"])
    if info.get("temperature"):  # calibrated on a validation set (nmkit.metrics.calibration)
        set_temperature(model, float(info["temperature"]))
    return model, info


def shipped_model(package: str, filename: str) -> Path:
    """The path of a model shipped inside ``package`` (in its ``default_model/`` folder)."""
    return Path(str(resources.files(package) / "default_model" / filename))


def shipped_models() -> dict[str, Path]:
    """Every model shipped with nmkit, by name (the file's stem, e.g. ``qc-default``)."""
    root = Path(str(resources.files("nmkit.workflows")))
    return {p.stem: p for p in sorted(root.glob("*/default_model/*.pt")) if not p.name.endswith(".ood.pt")}


def resolve_model_path(model: str | Path, what: str = "--model") -> Path:
    """The bundle file for a path, or for a shipped model's name; InputError (naming ``what``) when it is neither."""
    path = Path(model)
    if path.is_file():
        return path
    shipped = shipped_models()
    if str(model) in shipped:
        return shipped[str(model)]
    raise InputError(model, f"is neither a model file nor a shipped model ({what}; shipped: {', '.join(shipped)})")


def shipped_catalogue() -> list[dict[str, Any]]:
    """Each shipped model: name, workflow, sha256, nmkit version, training data and final validation metrics."""
    import hashlib

    rows = []
    for name, path in shipped_models().items():
        blob = torch.load(path, map_location="cpu", weights_only=True)
        info = blob.get("info", {})
        data = (info.get("config") or {}).get("data") or {}
        if data.get("root"):
            source = f"folder {Path(data['root']).name}"
        elif data.get("phantom"):  # one phantom spec, or a list of them (mixed phantom styles)
            specs = data["phantom"] if isinstance(data["phantom"], list) else [data["phantom"]]
            source = f"{sum(int(spec.get('n', 0)) for spec in specs) or '?'} phantoms made in memory"
        else:
            source = None
        rows.append({"name": name, "workflow": path.parent.parent.name, "model": blob.get("model_name"),
                     "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                     "nmkit_version": info.get("nmkit_version"), "training_data": source,
                     "metrics": {k: round(float(v), 4) for k, v in (info.get("final_metrics") or {}).items()
                                 if k.startswith("val_")}})
    return rows


def load_model(path: str | Path | None, shipped: Path | None = None, what: str = "", train: str = "",
               ) -> tuple[nn.Module, dict[str, Any]]:
    """The bundle at ``path`` (a file or a shipped model's name), else the ``shipped`` default;
    ``info["model_path"]`` says which was loaded and ``info["model_id"]`` names it for results that leave this machine
    (registry name, file name, sha256; no path).

    With neither, an InputError says no default ``what`` model is shipped yet and how to ``train`` one.
    """
    if path is None and (shipped is None or not shipped.is_file()):
        raise InputError("--model", f"no default {what} model is shipped yet; pass --model PATH (train one with "
                                    f"`{train}`)")
    chosen = resolve_model_path(path) if path is not None else shipped
    model, info = load_bundle(chosen)
    info["model_path"] = str(chosen)
    info["model_sha256"] = hashlib.sha256(chosen.read_bytes()).hexdigest()
    info["model_id"] = f"{info['model_name']} ({chosen.name}, sha256:{info['model_sha256']})"
    return model, info


def as_model(model: Any, info: dict[str, Any] | None, loader: Callable[[Any], tuple[nn.Module, dict[str, Any]]],
             ) -> tuple[nn.Module, dict[str, Any]]:
    """What ``analyze(model=...)`` was given, as (network, info): None (the shipped default), a bundle path or a
    shipped model's name (through the workflow's ``loader``), a (network, info) pair as loaders return, or a
    network."""
    if model is None or isinstance(model, (str, Path)):
        return loader(None if model is None else resolve_model_path(model))
    if isinstance(model, tuple) and len(model) == 2 and isinstance(model[0], nn.Module):
        return model[0], dict(model[1] or {})
    if isinstance(model, nn.Module):
        return model, dict(info or {})
    raise InputError(None, f"model must be a path, a shipped model's name, a loaded bundle or a torch module, "
                           f"not a {type(model).__name__}")
