"""The config schema: one pydantic model per section, so a misspelled key or a wrong type stops a run before it
starts, with one sentence naming the key and the nearest valid one.

The engine owns the shared sections (``model``, ``optim``, ``trainer`` and the common ``data`` keys); a workflow
says what else it takes in its own ``config.py``: a ``Config`` subclass of :class:`ExperimentConfig` with its
``data`` section (a :class:`DataSection` subclass) and any sections of its own (e.g. pet's ``gan``).
``model`` keys other than ``name``, ``init`` and ``freeze`` are the model builder's arguments, checked against
its signature.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nmkit.errors import InputError


class Section(BaseModel):
    """A config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class ModelSection(BaseModel):
    """``model``: a registered name, fine-tuning options, and the builder's own arguments (checked separately)."""

    model_config = ConfigDict(extra="allow")
    name: str
    init: str | None = None
    freeze: Literal["encoder"] | None = None


class DataSection(Section):
    """The ``data`` keys every workflow shares: where the data is, or phantoms made in memory, and the split."""

    root: str | None = None
    phantom: dict[str, Any] | None = None
    batch_size: int = Field(32, ge=1)
    num_workers: int = Field(0, ge=0)
    val_fraction: float = Field(0.2, ge=0, lt=1)
    test_fraction: float = Field(0.0, ge=0, lt=1)
    split: list[float] | None = None
    augment: bool = True
    folds: int | None = Field(None, ge=2)
    fold: int | None = Field(None, ge=0)


class OptimSection(Section):
    name: Literal["sgd", "adam", "adamw", "adagrad"] = "adamw"
    lr: float = Field(1e-3, ge=0)
    weight_decay: float = Field(1e-4, ge=0)
    momentum: float = Field(0.9, ge=0)
    scheduler: Literal["none", "cosine", "step"] = "none"
    step_size: int | None = Field(None, ge=1)
    gamma: float | None = Field(None, gt=0)


class TrainerSection(Section):
    max_epochs: int = Field(10, ge=1)
    accelerator: str = "auto"
    devices: int | str | list[int] = 1
    strategy: str = "auto"
    precision: str | int = "32-true"
    log_every_n_steps: int = Field(10, ge=1)
    limit_train_batches: int | float | None = None
    limit_val_batches: int | float | None = None
    progress_bar: bool = True


class ExperimentConfig(Section):
    """A whole experiment config; a workflow's ``Config`` narrows ``data`` and adds its own sections."""

    workflow: str
    seed: int = 0
    model: ModelSection
    data: DataSection = DataSection()
    optim: OptimSection = OptimSection()
    trainer: TrainerSection = TrainerSection()
    source: str | None = None


def phantom_keys(spec: type, *extra: str):
    """A validator for ``data.phantom``: keys must be fields of the phantom ``spec`` dataclass or ``extra``."""
    valid = [f.name for f in dataclasses.fields(spec)] + list(extra)

    def check(value: dict[str, Any] | list[dict[str, Any]] | None) -> dict[str, Any] | list[dict[str, Any]] | None:
        for one in value if isinstance(value, list) else [value or {}]:  # one spec, or a list of specs mixed
            for key in one:
                if key not in valid:
                    raise ValueError(_unknown(key, valid))
        return value

    return field_validator("phantom")(classmethod(lambda cls, value: check(value)))


def _unknown(key: str, valid: list[str]) -> str:
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"unknown key {key!r}" + (f" (did you mean {near[0]!r}?)" if near else f" (valid: {', '.join(valid)})")


def _location(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


def _sentence(error: dict[str, Any], model: type[BaseModel]) -> str:
    loc = tuple(error["loc"])
    where = _location(loc)
    if error["type"] == "extra_forbidden":
        section = model
        for part in loc[:-1]:
            section = _section_model(section, part)
        valid = list(section.model_fields) if section else []
        return f"{where}: {_unknown(str(loc[-1]), valid)}"
    if error["type"] == "missing":
        return f"{where} is missing"
    message = error["msg"].removeprefix("Value error, ").split(", unable")[0]
    if error["type"] == "value_error" and message.startswith("unknown key"):
        return f"{where}: {message}"
    return f"{where}: {message}, not {error.get('input')!r}"


def _section_model(model: type[BaseModel] | None, name: Any) -> type[BaseModel] | None:
    field = model.model_fields.get(str(name)) if model else None
    annotation = getattr(field, "annotation", None)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def workflow_config(workflow: str) -> type[ExperimentConfig]:
    """The workflow's ``Config`` (from ``nmkit.workflows.<key>.config``), else the shared one."""
    try:
        module = importlib.import_module(f"nmkit.workflows.{workflow}.config")
    except ModuleNotFoundError:
        return ExperimentConfig
    return getattr(module, "Config", ExperimentConfig)


def validate_config(config: dict[str, Any], source: str | Path | None = None) -> None:
    """InputError (one sentence per problem, joined) for an unknown workflow, section, key, model name or model
    argument, or a value of the wrong type."""
    from nmkit.models import list_models
    from nmkit.workflows import KEYS

    workflow = config.get("workflow")
    if workflow not in KEYS:
        raise InputError(source, f"workflow: {_unknown(str(workflow), list(KEYS))}".replace("key", "workflow"))
    schema = workflow_config(workflow)
    try:
        schema.model_validate(config)
    except ValidationError as err:
        problems = [_sentence(e, schema) for e in err.errors()]
        raise InputError(source, "; ".join(problems)) from None
    _check_model(config["model"], workflow, list_models(), source)


def _check_model(model: dict[str, Any], workflow: str, known: list[str], source) -> None:
    from nmkit.models.registry import _BUILDERS

    name = model["name"]
    if name not in known:
        own = [n for n in known if n.startswith(f"{workflow}-")] or known
        near = difflib.get_close_matches(name, own, n=1, cutoff=0.5)
        hint = f"did you mean {near[0]!r}?" if near else f"{workflow} models: {', '.join(own)}"
        raise InputError(source, f"model.name: unknown model {name!r} ({hint})")
    parameters = inspect.signature(_BUILDERS[name]).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    for key in model:
        if key not in ("name", "init", "freeze") and key not in parameters:
            valid = ["name", "init", "freeze", *parameters]
            raise InputError(source, f"model.{key}: {_unknown(key, valid)} for model {name}")
