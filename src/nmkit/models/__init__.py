"""Model registry and generic architectures; workflows register their named models."""

from nmkit.models.registry import create_model, list_models, register_model
from nmkit.models.weights import load_weights, read_state_dict

__all__ = ["create_model", "list_models", "register_model", "load_weights", "read_state_dict"]
from nmkit.models.bundle import (  # noqa: E402
    as_model, load_bundle, load_model, resolve_model_path, save_bundle, shipped_catalogue, shipped_model,
    shipped_models)
from nmkit.models.finetune import freeze, init_from  # noqa: E402

__all__ += ["as_model", "freeze", "init_from", "load_bundle", "load_model", "resolve_model_path",
            "save_bundle", "shipped_catalogue", "shipped_model", "shipped_models"]
