"""``train(config)``: one Lightning run with checkpoints, resume, CSV log, progress bar and seed.

Own data (``data.root`` holding dataset.csv) is checked before the run folder exists; the run folder then gets
``split.csv``, and the bundle records the dataset's sha256 and that of every training image. ``model.init``
starts the network from a shipped model, a bundle or a local weights file; ``model.freeze: encoder`` freezes
its encoder. ``train_folds`` runs K-fold cross-validation on patient-level folds.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import statistics
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

import nmkit
from nmkit.atomic import atomic_path
from nmkit.errors import InputError
from nmkit.models import freeze, init_from, save_bundle

FINE_TUNING_KEYS = ("init", "freeze")
# torch 2.10+ deprecates constructing pytree LeafSpec; Lightning 2.6.6 (the latest) still does in
# lightning/pytorch/utilities/_pytree.py on every step. Harmless for us, and nothing we can change: ignore exactly
# that message from that module, only while fitting. Remove when Lightning stops using LeafSpec.
LEAFSPEC_WARNING = dict(action="ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                        category=FutureWarning, module=r"lightning\.pytorch\.utilities\._pytree")


def _no_advert(record: logging.LogRecord) -> bool:
    """Lightning 2.6 logs a tip to install a cloud logger on every Trainer; nmkit runs offline: drop that line only."""
    return not str(record.msg).startswith("💡 Tip")


logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_no_advert)


def _workflow(key: str):
    from nmkit.workflows import get_workflow

    return get_workflow(key)


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer deletes an existing metrics.csv when it starts; this one continues it."""

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if path.is_file():
            with path.open(newline="") as handle:
                self.metrics_keys = list(csv.DictReader(handle).fieldnames or [])


class AppendingCSVLogger(CSVLogger):
    """Lightning's CSVLogger, but a resumed run appends to logs/metrics.csv instead of starting it again."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


def build_trainer(config: dict[str, Any], out_dir: Path, devices: int | None = None,
                  strategy: str | None = None, max_epochs: int | None = None,
                  monitor: tuple[str, str] = ("val_loss", "min"), resume: bool = False) -> L.Trainer:
    """A Lightning Trainer from the config's ``trainer`` section; CLI values override it.

    ``checkpoints/best.ckpt`` follows the monitored metric; ``checkpoints/last.ckpt`` is written after every
    epoch, so a resume continues where the run stopped, appending to ``logs/metrics.csv`` (a new run starts it).
    """
    t = dict(config["trainer"])
    if devices is not None:
        t["devices"] = devices
    if strategy is not None:
        t["strategy"] = strategy
    if max_epochs is not None:
        t["max_epochs"] = max_epochs
    metrics = out_dir / "logs" / "metrics.csv"
    if not resume:
        metrics.unlink(missing_ok=True)
    # flushed every step, so a killed run keeps the rows of its finished epochs
    logger = AppendingCSVLogger(out_dir, name="logs", version="", flush_logs_every_n_steps=1)
    accelerator = t["accelerator"]
    if accelerator == "auto" and not torch.cuda.is_available():
        accelerator = "cpu"
    best = ModelCheckpoint(dirpath=out_dir / "checkpoints", filename="best", monitor=monitor[0], mode=monitor[1],
                           enable_version_counter=False)
    last = ModelCheckpoint(dirpath=out_dir / "checkpoints", filename="last", monitor=None, save_top_k=1,
                           every_n_epochs=1, enable_version_counter=False)
    return L.Trainer(
        default_root_dir=out_dir, max_epochs=int(t["max_epochs"]), accelerator=accelerator,
        devices=t["devices"], strategy=t["strategy"], precision=t["precision"],
        logger=logger, callbacks=[best, last],
        log_every_n_steps=int(t["log_every_n_steps"]), deterministic="warn",
        limit_train_batches=t.get("limit_train_batches"), limit_val_batches=t.get("limit_val_batches"),
        enable_progress_bar=bool(t.get("progress_bar", True)), enable_model_summary=False,
    )


def own_dataset(config: dict[str, Any]):
    """The config's own-data set (data.root holding dataset.csv) with its splits, checked: every problem raises
    one DatasetError before anything is written; None for phantoms and synth folders."""
    from nmkit.datasets import assign_splits, check_dataset, is_own_data, read_table

    root = config["data"].get("root")
    if not root or not is_own_data(root):
        return None
    workflow = _workflow(config["workflow"])
    if hasattr(workflow, "dataset_spec"):  # the spec depends on the config (rds: data.label_column), or the
        spec = workflow.dataset_spec(config["data"])  # workflow reads this dataset.csv its own way (None)
        if spec is None:
            return None
    else:
        spec = getattr(workflow, "DATASET", None)
    if spec is None:
        raise InputError(root, f"the {config['workflow']} workflow does not read own-data folders (dataset.csv) yet")
    dataset = read_table(root, spec)
    if not dataset.problems:
        assign_splits(dataset, config["data"], int(config["seed"]))
    check_dataset(root, spec, needs=("train", "val"), dataset=dataset).raise_for_errors()
    return dataset


def build_network_task(config: dict[str, Any], workflow, log=print):
    """The workflow's task, its network started from ``model.init`` and frozen per ``model.freeze``."""
    model = config["model"]
    task = workflow.build_task(config | {"model": {k: v for k, v in model.items() if k not in FINE_TUNING_KEYS}})
    if model.get("init"):
        loaded, total = init_from(task.model, model["init"])
        log(f"model.init: loaded {loaded} of {total} tensors from {model['init']}")
    if model.get("freeze"):
        log(f"model.freeze: {freeze(task.model, model['freeze'])} parameter tensors frozen ({model['freeze']})")
    return task


def portable_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config as a bundle records it: no machine paths (the config file's and data folder's names only)."""
    out = copy.deepcopy(config)
    if out.get("source"):
        out["source"] = Path(out["source"]).name
    if out["data"].get("root"):
        out["data"]["root"] = Path(out["data"]["root"]).name
    return out


def train(config: dict[str, Any], out_dir: str | Path, devices: int | None = None, strategy: str | None = None,
          resume: bool = False, max_epochs: int | None = None, log=print) -> Path:
    """Train the experiment ``config`` into ``out_dir``; return the path of the exported ``model.pt``.

    ``out_dir`` receives ``config.yaml`` (the plan as run), ``checkpoints/{best,last}.ckpt``,
    ``logs/metrics.csv``, ``split.csv`` (own data) and ``model.pt`` (best weights as an nmkit bundle).
    ``resume`` continues from ``checkpoints/last.ckpt`` and appends to the log.
    """
    out_dir = Path(out_dir)
    workflow = _workflow(config["workflow"])
    dataset = own_dataset(config)
    L.seed_everything(int(config["seed"]), workers=True, verbose=False)
    task = build_network_task(config, workflow, log)
    datamodule = workflow.build_datamodule(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = build_trainer(config, out_dir, devices, strategy, max_epochs, workflow.MONITOR, resume)
    if trainer.is_global_zero:
        (out_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        if dataset is not None:
            from nmkit.datasets import write_split_csv

            write_split_csv(dataset, out_dir / "split.csv")
    last = out_dir / "checkpoints" / "last.ckpt"
    with warnings.catch_warnings():
        warnings.filterwarnings(**LEAFSPEC_WARNING)
        trainer.fit(task, datamodule=datamodule, ckpt_path=str(last) if resume and last.is_file() else None)
    bundle = out_dir / "model.pt"
    if trainer.is_global_zero:
        best = trainer.checkpoint_callback.best_model_path
        if best:
            state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
            task.load_state_dict(state)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        info = {"nmkit_version": nmkit.__version__, "config": portable_config(config), "final_metrics": metrics,
                "epochs": trainer.current_epoch, "dataset": _dataset_record(dataset)}
        save_bundle(bundle, config["model"]["name"], _model_kwargs(config), task.model, info)
        summary = info | {"config": None, "best_checkpoint": best}
        (out_dir / "train_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return bundle


def _dataset_record(dataset) -> dict[str, Any] | None:
    if dataset is None:
        return None
    from nmkit.datasets import training_hashes

    counts = {s: len(dataset.items(dataset.rows_in(s))) for s in ("train", "val", "test")}
    return {"manifest_sha256": dataset.manifest_sha256(), "items": counts,
            "training_sha256": training_hashes(dataset)}


def train_folds(config: dict[str, Any], out_dir: str | Path, folds: int, max_epochs: int | None = None,
                log=print) -> dict[str, Any]:
    """K-fold cross-validation on patient-level folds of an own-data set: one run per fold in
    ``out_dir/fold-K``, then the mean and sd of each validation metric (``out_dir/folds.json``)."""
    if folds < 2:
        raise InputError("--folds", f"needs at least 2 folds, not {folds}")
    if own_dataset(config) is None:
        raise InputError(config["data"].get("root") or "data.root", "--folds needs an own-data folder (dataset.csv)")
    out_dir = Path(out_dir)
    runs = []
    for fold in range(folds):
        fold_config = copy.deepcopy(config)
        fold_config["data"] |= {"folds": folds, "fold": fold}
        log(f"fold {fold + 1} of {folds}")
        train(fold_config, out_dir / f"fold-{fold}", max_epochs=max_epochs, log=log)
        summary = json.loads((out_dir / f"fold-{fold}" / "train_summary.json").read_text())
        runs.append({k: v for k, v in summary["final_metrics"].items() if k.startswith("val_")})
    names = sorted(set.intersection(*(set(r) for r in runs)))
    result = {"folds": folds, "runs": runs,
              "mean": {k: statistics.fmean(r[k] for r in runs) for k in names},
              "sd": {k: statistics.stdev(r[k] for r in runs) for k in names}}
    with atomic_path(out_dir / "folds.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2))
    return result


def _model_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config["model"].items() if k != "name" and k not in FINE_TUNING_KEYS}
