"""One tiny real training run through the engine: checkpoints, CSV log, bundle, resume, seed, DDP."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import torch
import yaml

from nmkit.engine.config import DEFAULTS, merge
from nmkit.engine.train import train
from nmkit.models import load_bundle

TINY = {
    "workflow": "qc", "seed": 3,
    "model": {"name": "qc-compact", "width": 4, "stages": 2},
    "data": {"phantom": {"n": 24, "shape": [32, 32], "counts": 200, "diameters": [6, 10]}, "batch_size": 8},
    "trainer": {"max_epochs": 1, "progress_bar": False},
}


def tiny_config() -> dict:
    return merge(DEFAULTS, TINY)


def test_train_writes_run_and_resumes(tmp_path):
    bundle = train(tiny_config(), tmp_path / "run")
    run = tmp_path / "run"
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "checkpoints" / "best.ckpt").is_file()
    rows = list(csv.DictReader((run / "logs" / "metrics.csv").open()))
    assert any(r.get("val_auc") for r in rows)
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["name"] == "qc-compact"
    model, info = load_bundle(bundle)
    assert info["config"]["seed"] == 3 and "val_auc" in info["final_metrics"]
    train(tiny_config(), run, resume=True, max_epochs=2)
    _, info = load_bundle(bundle)
    assert info["epochs"] == 2


def test_same_seed_same_weights(tmp_path):
    a, _ = load_bundle(train(tiny_config(), tmp_path / "a"))
    b, _ = load_bundle(train(tiny_config(), tmp_path / "b"))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_ddp_two_processes_on_cpu(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    nmkit = Path(sys.executable).with_name("nmkit")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([str(nmkit), "train", str(config), "--out", str(tmp_path / "ddp"), "--devices", "2",
                          "--strategy", "ddp"], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "world_size=2" in (run.stdout + run.stderr) or "MEMBER: 2/2" in (run.stdout + run.stderr)
    assert (tmp_path / "ddp" / "model.pt").is_file()


def test_lightning_cloud_logger_advert_is_not_shown(caplog):
    import logging

    import lightning as L

    import nmkit.engine.train  # noqa: F401  (installs the filter)

    with caplog.at_level(logging.INFO, logger="lightning.pytorch.utilities.rank_zero"):
        L.Trainer(logger=False, enable_progress_bar=False, enable_checkpointing=False, accelerator="cpu")
    messages = [r.getMessage() for r in caplog.records]
    assert any("GPU available" in m for m in messages) and not any("Tip" in m for m in messages)
