"""``train(config)``: one Lightning run with checkpoints, resume, CSV log, progress bar and seed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from nmkit.models import save_bundle


def _workflow(key: str):
    from nmkit.workflows import get_workflow

    return get_workflow(key)


def build_trainer(config: dict[str, Any], out_dir: Path, devices: int | None = None,
                  strategy: str | None = None, max_epochs: int | None = None,
                  monitor: tuple[str, str] = ("val_loss", "min")) -> L.Trainer:
    """A Lightning Trainer from the config's ``trainer`` section; CLI values override it."""
    t = dict(config["trainer"])
    if devices is not None:
        t["devices"] = devices
    if strategy is not None:
        t["strategy"] = strategy
    if max_epochs is not None:
        t["max_epochs"] = max_epochs
    accelerator = t["accelerator"]
    if accelerator == "auto" and not torch.cuda.is_available():
        accelerator = "cpu"
    checkpoint = ModelCheckpoint(dirpath=out_dir / "checkpoints", filename="best", monitor=monitor[0],
                                 mode=monitor[1], save_last=True)
    return L.Trainer(
        default_root_dir=out_dir, max_epochs=int(t["max_epochs"]), accelerator=accelerator,
        devices=t["devices"], strategy=t["strategy"], precision=t["precision"],
        logger=CSVLogger(out_dir, name="logs", version=""), callbacks=[checkpoint],
        log_every_n_steps=int(t["log_every_n_steps"]), deterministic="warn",
        limit_train_batches=t.get("limit_train_batches"), limit_val_batches=t.get("limit_val_batches"),
        enable_progress_bar=bool(t.get("progress_bar", True)), enable_model_summary=False,
    )


def train(config: dict[str, Any], out_dir: str | Path, devices: int | None = None, strategy: str | None = None,
          resume: bool = False, max_epochs: int | None = None) -> Path:
    """Train the experiment ``config`` into ``out_dir``; return the path of the exported ``model.pt``.

    ``out_dir`` receives ``config.yaml`` (the plan as run), ``checkpoints/{best,last}.ckpt``,
    ``logs/metrics.csv`` and ``model.pt`` (best weights as an nmkit bundle). ``resume`` continues
    from ``checkpoints/last.ckpt``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    workflow = _workflow(config["workflow"])
    L.seed_everything(int(config["seed"]), workers=True, verbose=False)
    task = workflow.build_task(config)
    datamodule = workflow.build_datamodule(config)
    trainer = build_trainer(config, out_dir, devices, strategy, max_epochs, workflow.MONITOR)
    if trainer.is_global_zero:
        (out_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    last = out_dir / "checkpoints" / "last.ckpt"
    trainer.fit(task, datamodule=datamodule, ckpt_path=str(last) if resume and last.is_file() else None)
    bundle = out_dir / "model.pt"
    if trainer.is_global_zero:
        best = trainer.checkpoint_callback.best_model_path
        if best:
            state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
            task.load_state_dict(state)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        info = {"config": config, "best_checkpoint": best, "final_metrics": metrics,
                "epochs": trainer.current_epoch}
        save_bundle(bundle, config["model"]["name"], _model_kwargs(config), task.model, info)
        (out_dir / "train_summary.json").write_text(json.dumps(info | {"config": None}, indent=2, default=str))
    return bundle


def _model_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config["model"].items() if k != "name"}
